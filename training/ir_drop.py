"""The fitted first-order IR-drop model as an effective conductance matrix (torch).

The characterised model (:func:`memcosim.circuits.energy_models.ir_drop_currents`) is linear in
the input voltages: every voltage drop it subtracts is a conductance-weighted sum of the ideal
cell currents. So for a tile ``g`` (rows = inputs, columns = outputs) the column currents are
``I = V @ G_eff`` with::

    G_eff = g - a r_drv g * rowsum(g) - b r_wire (g * (g @ M) + g * (K @ g))
    M_mj = min(m, j)              shared row-wire segments of columns m and j
    K_ki = rows - max(k, i)       shared column-wire segments of rows k and i

computed once per weight update instead of once per input vector, in O(rows cols) with
prefix sums (``g @ M`` is a running sum of suffix sums along the row wire, ``K @ g`` a
suffix sum of prefix sums along the column wire) instead of two dense matrix products. A layer
larger than the physical array is split into array-sized tiles whose column currents are summed
digitally.

:func:`exact_effective_conductance` is the same matrix without the first-order approximation:
a tile is a linear circuit, so by superposition its column currents for any input are
``V @ G_exact``, with row ``i`` of ``G_exact`` the column currents of a 1 V input on row ``i``
alone, solved exactly by :class:`~memcosim.circuits.crossbar_solver.CrossbarSolver` (one solve
per row of the tile). A shorted cell that loads its whole row and column is captured exactly.
"""

import numpy as np
import torch

from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.training import kernel, read_kernel

__all__ = ["effective_conductance", "exact_effective_conductance", "read_path", "fitted_read_model"]


def _row_wire_sums(t):
    """``t @ M`` with ``M_mj = min(m, j)`` along the last axis."""
    suffix = t.flip(-1).cumsum(-1).flip(-1)  # sum over k >= s
    out = suffix[..., 1:].cumsum(-1)
    return torch.cat([torch.zeros_like(t[..., :1]), out], dim=-1)


def _col_wire_sums(t):
    """``K @ t`` with ``K_ki = rows - max(k, i)`` along the second-to-last axis."""
    prefix = t.cumsum(-2)  # sum over k <= i'
    return prefix.flip(-2).cumsum(-2).flip(-2)  # sum over i' >= i


def effective_conductance(g, r_wire_ohm, r_driver_ohm, a, b, tile_rows, tile_cols):
    """Effective conductances (S) of ``g`` (inputs x outputs) under first-order IR-drop.

    Parameters
    ----------
    g : torch.Tensor
        Conductances, shape (inputs, outputs), siemens.
    r_wire_ohm, r_driver_ohm : float
        Wire segment and driver resistance, ohms.
    a, b : float
        Fitted coefficients of the driver and wire drops (``models["ir_drop"]``).
    tile_rows, tile_cols : int
        Physical array size; ``g`` is split into tiles of this size (zero-padded).

    Returns
    -------
    torch.Tensor
        Same shape as ``g``; ``V @ result`` are the column currents.
    """
    n_in, n_out = g.shape
    rows, cols = min(tile_rows, n_in), min(tile_cols, n_out)
    pr, pc = -n_in % rows, -n_out % cols
    gp = torch.nn.functional.pad(g, (0, pc, 0, pr))
    nr, nc = gp.shape[0] // rows, gp.shape[1] // cols
    t = gp.reshape(nr, rows, nc, cols).permute(0, 2, 1, 3)  # (nr, nc, rows, cols)
    row_sum = t.sum(dim=3, keepdim=True)
    drop = t * (a * r_driver_ohm * row_sum + b * r_wire_ohm * (_row_wire_sums(t) + _col_wire_sums(t)))
    eff = (t - drop).permute(0, 2, 1, 3).reshape(nr * rows, nc * cols)
    return eff[:n_in, :n_out]


def exact_effective_conductance(g, r_wire_ohm, r_driver_ohm, tile_rows, tile_cols):
    """Exact effective conductances (S) of ``g`` (inputs x outputs): ``V @ result`` = the solved column currents.

    Parameters
    ----------
    g : torch.Tensor
        Cell conductances (linearised at the read voltage), shape (inputs, outputs), siemens (> 0).
    r_wire_ohm, r_driver_ohm : float
        Wire segment and driver resistance, ohms (> 0: the nodal solve needs both).
    tile_rows, tile_cols : int
        Physical array size; every tile is solved as its own circuit.

    Returns
    -------
    torch.Tensor
        Same shape, dtype and device as ``g``.
    """
    g_np = g.detach().cpu().double().numpy()
    out = np.empty_like(g_np)
    n_in, n_out = g_np.shape
    for r in range(0, n_in, tile_rows):
        for c in range(0, n_out, tile_cols):
            tile = g_np[r : r + tile_rows, c : c + tile_cols]
            solution = CrossbarSolver(tile, r_wire_ohm, r_driver_ohm).solve(np.eye(tile.shape[0]))
            out[r : r + tile_rows, c : c + tile_cols] = solution.column_current_a
    return torch.as_tensor(out, dtype=g.dtype, device=g.device)


def read_path(tile, like):
    """``G -> G as the tile's array reads it`` (``(outputs, inputs)`` layout, as a layer holds it), or
    None where the read is ideal (ideal wires, or no IR-drop model).

    ``read.forward = "exact"``: :func:`exact_effective_conductance`; otherwise the fitted model
    (:func:`effective_conductance`), compiled in float64 where the kernel runs on ``like``'s
    device, else in float32 (ample for a first-order correction of a few per cent, and twice as fast).
    """
    array = tile.array
    if tile.read.forward == "exact":
        if array.ideal_wires:  # ideal wires: the exact solve is the ideal read
            return None
        return lambda m: exact_effective_conductance(m.T, array.r_wire_ohm, array.r_driver_ohm, array.rows, array.cols).T
    if array.ir_drop is None or array.ideal_wires:
        return None
    model = fitted_read_model(tile)
    if kernel.enabled(like):  # compiled, in the (outputs, inputs) layout, float64
        return lambda m: read_kernel.ir_drop(m, *model)
    return lambda m: effective_conductance(m.T.float(), *model).T.to(m.dtype)


def fitted_read_model(tile):
    """``(r_wire_ohm, r_driver_ohm, a, b, rows, cols)`` of the tile's fitted IR-drop read (the
    arguments of :func:`effective_conductance` after the conductances), or None where the read is
    not the fitted model (exact, ideal wires, no model)."""
    array = tile.array
    if tile.read.forward == "exact" or array.ir_drop is None or array.ideal_wires:
        return None
    return array.r_wire_ohm, array.r_driver_ohm, array.ir_drop.a, array.ir_drop.b, array.rows, array.cols
