"""The fitted first-order IR-drop model as an effective conductance matrix (torch).

The characterised model (:func:`memcosim.circuits.energy_models.ir_drop_currents`) is linear in
the input voltages: every voltage drop it subtracts is a conductance-weighted sum of the ideal
cell currents. So for a tile ``g`` (rows = inputs, columns = outputs) the column currents are
``I = V @ G_eff`` with::

    G_eff = g - a r_drv g * rowsum(g) - b r_wire (g * (g @ M) + g * (K @ g))
    M_mj = min(m, j)              shared row-wire segments of columns m and j
    K_ki = rows - max(k, i)       shared column-wire segments of rows k and i

computed once per weight update instead of once per input vector. A layer larger than the
physical array is split into array-sized tiles whose column currents are summed digitally.
"""

import torch

__all__ = ["effective_conductance"]


def _wire_matrices(rows, cols, device, dtype):
    r = torch.arange(rows, device=device)
    c = torch.arange(cols, device=device)
    m = torch.minimum(c[:, None], c[None, :]).to(dtype)
    k = (rows - torch.maximum(r[:, None], r[None, :])).to(dtype)
    return m, k


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
    m, k = _wire_matrices(rows, cols, g.device, g.dtype)
    row_sum = t.sum(dim=3, keepdim=True)
    drop = a * r_driver_ohm * t * row_sum + b * r_wire_ohm * (t * (t @ m) + t * (k @ t))
    eff = (t - drop).permute(0, 2, 1, 3).reshape(nr * rows, nc * cols)
    return eff[:n_in, :n_out]
