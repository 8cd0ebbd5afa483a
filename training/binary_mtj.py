"""A binary two-layer network on differential 1T1MTJ pairs, read through one die's circuit.

The network
-----------
Two binary layers, ``inputs -> hidden -> 10``; every weight is a differential pair of MTJs
(``+1 -> (P, AP)``, ``-1 -> (AP, P)``, :func:`memcosim.devices.mtj.weights_to_states`), so the
network holds ``2 (inputs hidden + hidden 10)`` junctions. Images are average-pooled ``pool x
pool`` and thresholded to binary read voltages (0 or ``v_read``, :func:`binarize_inputs`).
Hidden units are comparators (sign of the differential column current against a per-neuron
threshold, trained through a batch normalisation that folds into the threshold); the output is
the largest differential current. Straight-through estimators carry gradients through both signs.

A die
-----
A die is a die map (:mod:`memcosim.devices.mtj_maps`): every junction's resistance at the read
voltage after programming P and after programming AP, measured or drawn by the generator
(:func:`memcosim.devices.mtj_defects.generate_die`: defects, their spatial structure, the spread
of R_P and TMR). The network occupies the die's grid from its top-left corner, layer after layer
(:func:`layer_blocks`): layer ``k`` (``n_in x n_out`` weights) is a block of ``n_in`` rows (its
inputs) and ``2 n_out`` columns, the plus cells of its outputs then their minus cells. Each
cell's read current is its junction in series with the access transistor
(:func:`memcosim.circuits.cell_read.series_cell_current_a`, checked against ngspice); the array
adds the IR-drop of its wires and drivers (:mod:`memcosim.training.ir_drop`); the sense amplifier
optionally clamps each column's current and adds its offset (drawn per die from the seed). Cell
currents are linear in the programmed sign, ``I_cell = c0 + b c1``, so one die is two tensors per
layer and gradients flow through it.

Reads
-----
With a :class:`~memcosim.training.ledger.EnergyLedger` attached (``net.ledger``), every read of
a die is booked with the read-energy law
(:func:`memcosim.circuits.energy_models.read_energy_basis`, ``t sum_i V_i^2 sum_j g_ij`` over
both cells of every pair, the ideal DC energy: wires and drivers are not costed): as a training
read while the network is in training mode, as an evaluation read otherwise. Reads of the ideal
network (no die) are software and cost nothing.
"""

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, torch_generator
from memcosim.circuits.cell_read import series_cell_current_a
from memcosim.circuits.energy_models import read_energy_basis
from memcosim.devices import mtj
from memcosim.training import periphery
from memcosim.training.ir_drop import effective_conductance, exact_effective_conductance

__all__ = ["DieCircuit", "BinaryMTJNet", "die_layers", "layer_blocks", "die_grid", "check_map_size", "recalibrate", "binarize_inputs", "mtj_count"]


@dataclass(frozen=True)
class DieCircuit:
    """How a die's array is built and read."""

    params: mtj.MTJParams
    """The median junction (its read window is the network's unit of current); its ``r_p_std`` and
    ``tmr_std`` are the cell-to-cell spread the generator draws dies with."""
    access: object = None
    """AccessTransistor of the 1T1MTJ cells, or None (1R cells: a short is ``1 / r_short_ohm``)."""
    read_voltage_v: float = 0.1
    read_width_s: float = 1e-8
    """Duration of one read, seconds (the read energy is booked per read of this width)."""
    r_wire_ohm: float = 0.0
    r_driver_ohm: float = 0.0
    ir_a: float = 1.0
    """First-order IR-drop coefficients (1, 1 = the analytic first order)."""
    ir_b: float = 1.0
    array_rows: int = 256
    array_cols: int = 256
    sense_clamp_a: float | None = None
    """Column current limit of the sense amplifier, amperes (None: unclamped)."""
    ir_model: str = "first_order"
    """IR-drop of a die when *evaluating* on it: ``first_order`` (the fitted model, also what
    training differentiates through) or ``exact`` (every tile solved by the native nodal solver)."""
    sense_offset_a: float = 0.0
    """Input-referred offset of each comparator / sense amplifier, amperes (Gaussian sigma;
    every die draws its own). It is what makes a small read margin cost accuracy."""
    periphery: tuple | None = None
    """``(hidden layer, output layer)`` :class:`~memcosim.training.periphery.PeripheryCosts` of a
    read (binary inputs: row drivers, no DACs; the hidden layer's converter is its comparator, the
    output layer's an ADC; ``sense_j`` is the differential pair's two column front ends). None:
    the array alone is costed."""

    def __post_init__(self):
        if self.ir_model not in ("first_order", "exact"):
            raise ConfigError(f"dies.ir_model: must be 'first_order' or 'exact', got {self.ir_model!r}")
        if self.ir_model == "exact" and not (self.r_wire_ohm > 0 and self.r_driver_ohm > 0):
            raise ConfigError("dies.ir_model: 'exact' die evaluation needs array.r_wire_ohm > 0 and "
                              "array.r_driver_ohm > 0 (the nodal solve of the wires)")
        if not (math.isfinite(self.read_width_s) and self.read_width_s > 0):
            raise ConfigError(f"read_width_s: must be > 0 seconds, got {self.read_width_s!r}")


def mtj_count(n_in, hidden, n_out=10):
    """Junctions of the differential two-layer network."""
    return 2 * (n_in * hidden + hidden * n_out)


def binarize_inputs(x, pool, threshold=0.5):
    """Average-pool square images ``pool x pool`` and threshold (0/1 float tensor)."""
    side = int(round(math.sqrt(x.shape[1])))
    img = x.reshape(-1, 1, side, side)
    if pool > 1:
        img = nn.functional.avg_pool2d(img, pool)
    return (img.reshape(len(x), -1) > threshold).float()


def _cell_conductance(r_ohm, circuit):
    """Read conductance (current / V) of junctions of resistance ``r_ohm`` behind their access transistors, siemens."""
    return series_cell_current_a(r_ohm, circuit.read_voltage_v, circuit.access) / circuit.read_voltage_v


def layer_blocks(shapes):
    """``(row0, col0, rows, cols)`` of every layer's block in the die grid (module docstring)."""
    blocks, col = [], 0
    for n_in, n_out in shapes:
        blocks.append((0, col, n_in, 2 * n_out))
        col += 2 * n_out
    return blocks


def die_grid(shapes):
    """``(rows, cols)`` of the die grid the network needs."""
    return max(n_in for n_in, _ in shapes), sum(2 * n_out for _, n_out in shapes)


def _describe(shapes):
    return "; ".join(f"layer {k + 1}: {rows} x {cols} at rows {r0}-{r0 + rows - 1}, columns {c0}-{c0 + cols - 1}"
                     for k, (r0, c0, rows, cols) in enumerate(layer_blocks(shapes)))


def check_map_size(die_map, shapes):
    """ConfigError unless ``die_map`` covers the grid the network of ``shapes`` needs (one line)."""
    need = die_grid(shapes)
    rows, cols = die_map.shape
    if rows < need[0] or cols < need[1]:
        raise ConfigError(f"{die_map.source or 'die map'}: die {die_map.die} is {rows} x {cols} cells; the network needs "
                          f"{need[0]} x {need[1]} ({_describe(shapes)})")


def die_layers(shapes, circuit, die_map, seed=0):
    """Per-layer ``(c0, c1)`` conductance tensors of one die: ``G+ - G- = c0 + b c1``, plus arrays.

    Parameters
    ----------
    shapes : list of (inputs, outputs)
    circuit : DieCircuit
    die_map : DieMap
        The die, with resistances (:func:`memcosim.devices.mtj_defects.with_resistances` gives a
        map of states its junctions); it must cover :func:`die_grid` (larger is fine: the rest is
        unused).
    seed : int
        The sense amplifiers' offsets (when the circuit has them) come from ``seed`` and the die's label.

    Returns
    -------
    list of dict
        Per layer: ``p_if_pos``, ``p_if_neg``, ``m_if_pos``, ``m_if_neg`` (float32, (inputs,
        outputs)): the read conductance of the plus and minus cell when the weight is +1 or -1;
        ``offset_a`` (outputs,): the sense amplifiers' offsets, when the circuit has them.
    """
    check_map_size(die_map, shapes)
    if not die_map.has_resistances:
        raise ConfigError(f"{die_map.source or 'die map'}: die {die_map.die} has states only; give it its junctions first")
    out = []
    rng = numpy_rng(seed, f"dies/die{die_map.die}/offsets")
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    for (n_in, n_out), (r0, c0, rows, cols) in zip(shapes, layer_blocks(shapes)):
        block = np.s_[r0 : r0 + rows, c0 : c0 + cols]
        g_p = _cell_conductance(die_map.r_p_ohm[block], circuit)
        g_ap = _cell_conductance(die_map.r_ap_ohm[block], circuit)
        plus_p, plus_ap = g_p[:, :n_out], g_ap[:, :n_out]
        minus_p, minus_ap = g_p[:, n_out:], g_ap[:, n_out:]
        # weight +1: plus cell P, minus cell AP; weight -1: plus AP, minus P
        layer = {"p_if_pos": t(plus_p), "p_if_neg": t(plus_ap), "m_if_pos": t(minus_ap), "m_if_neg": t(minus_p)}
        if circuit.sense_offset_a > 0:
            layer["offset_a"] = t(circuit.sense_offset_a * rng.standard_normal(n_out))
        out.append(layer)
    return out


def _nominal_window(circuit):
    """(G_P, G_AP) of a defect-free nominal cell at the read voltage, siemens."""
    r = mtj.resistance_ohm(np.array([mtj.P, mtj.AP]), circuit.read_voltage_v, circuit.params)
    g = _cell_conductance(r, circuit)
    return float(g[0]), float(g[1])


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class BinaryMTJNet(nn.Module):
    """Two binary layers on differential MTJ pairs (see module docstring).

    Parameters
    ----------
    n_in, hidden, n_out : int
    circuit : DieCircuit
    seed : int
        Initial latent weights come from the stream ``seed``/"dies/init".
    ledger : EnergyLedger, optional
        Books every read of a die (module docstring).

    Shape
    -----
    Input ``(batch, n_in)`` of 0/1 floats; output ``(batch, n_out)`` logits.
    """

    def __init__(self, n_in, hidden, n_out, circuit, seed=0, ledger=None):
        super().__init__()
        gen = torch_generator(seed, "dies/init")
        self.w1 = nn.Parameter(torch.empty(n_in, hidden).uniform_(-1, 1, generator=gen))
        self.w2 = nn.Parameter(torch.empty(hidden, n_out).uniform_(-1, 1, generator=gen))
        self.bn = nn.BatchNorm1d(hidden)
        self.out_scale = nn.Parameter(torch.tensor(1.0))
        self.circuit = circuit
        self.ledger = ledger
        g_p, g_ap = _nominal_window(circuit)
        self.g_unit = (g_p - g_ap)  # conductance difference of one ideal +1 weight, siemens

    def shapes(self):
        return [tuple(self.w1.shape), tuple(self.w2.shape)]

    def clone(self):
        """A deep copy that books its reads into the same ledger."""
        return copy.deepcopy(self, {id(self.ledger): self.ledger})

    def _book_read(self, v, b, die_layer, layer):
        """Book the read energy of inputs ``v`` (batch, rows) on the cells programmed to signs ``b``
        (``layer``: 0 hidden, 1 output), and its periphery when the circuit has one."""
        on = b.detach() > 0
        g = torch.cat([torch.where(on, die_layer["p_if_pos"], die_layer["p_if_neg"]),
                       torch.where(on, die_layer["m_if_pos"], die_layer["m_if_neg"])], dim=1)
        energy = read_energy_basis(g.double(), v.detach().double(), self.circuit.read_width_s)
        name = ("hidden", "output")[layer]
        self.ledger.add_read(energy, training=self.training, layer=name, samples=len(v))
        c = self.circuit
        if c.periphery is not None:
            active = (v.detach() != 0).sum(dtype=torch.float64)  # binary inputs: a row's driver fires when it reads
            self.ledger.add_periphery("read" if self.training else "inference", *periphery.binary_read_cost(
                c.periphery[layer], active, len(v), b.shape[0], b.shape[1], c.array_rows, c.array_cols // 2))

    def _layer(self, v, w, die_layer):
        """Differential column currents (A) of binary weights ``sign(w)`` for read voltages ``v``."""
        b = _SignSTE.apply(w)
        if die_layer is None:
            return v @ (b * self.g_unit)
        if self.ledger is not None:
            self._book_read(v, b, die_layer, 0 if w is self.w1 else 1)
        c = self.circuit
        # G = pos * G_if_pos + (1 - pos) * G_if_neg, written through b for the straight-through gradient
        half = 0.5 * (b + 1.0)
        g_plus = die_layer["p_if_neg"] + half * (die_layer["p_if_pos"] - die_layer["p_if_neg"])
        g_minus = die_layer["m_if_neg"] + half * (die_layer["m_if_pos"] - die_layer["m_if_neg"])
        if c.r_wire_ohm > 0 or c.r_driver_ohm > 0:
            # plus and minus columns share the row wires: one array per layer tile
            both = torch.cat([g_plus, g_minus], dim=1)
            if c.ir_model == "exact" and not torch.is_grad_enabled():
                both = exact_effective_conductance(both, c.r_wire_ohm, c.r_driver_ohm, c.array_rows, c.array_cols)
            else:
                both = effective_conductance(both, c.r_wire_ohm, c.r_driver_ohm, c.ir_a, c.ir_b, c.array_rows,
                                             c.array_cols)
            g_plus, g_minus = both[:, : g_plus.shape[1]], both[:, g_plus.shape[1] :]
        i_plus, i_minus = v @ g_plus, v @ g_minus
        if c.sense_clamp_a is not None:
            i_plus = torch.clamp(i_plus, max=c.sense_clamp_a)
            i_minus = torch.clamp(i_minus, max=c.sense_clamp_a)
        if "offset_a" in die_layer:
            return i_plus - i_minus + die_layer["offset_a"]
        return i_plus - i_minus

    def hidden(self, x, die=None):
        """Comparator outputs (0/1) of the hidden layer for binary inputs ``x``."""
        scale = self.circuit.read_voltage_v * self.g_unit
        z = self._layer(x * self.circuit.read_voltage_v, self.w1, die[0] if die else None) / scale
        return 0.5 * (_SignSTE.apply(self.bn(z)) + 1.0)

    def forward(self, x, die=None):
        """Logits for binary inputs ``x`` (0/1); ``die``: a :func:`die_layers` list or None (ideal)."""
        h = self.hidden(x, die)  # the comparators' 0/1 outputs drive the second layer
        scale = self.circuit.read_voltage_v * self.g_unit
        y = self._layer(h * self.circuit.read_voltage_v, self.w2, die[1] if die else None) / scale
        return y * self.out_scale / math.sqrt(self.w2.shape[0])

    def clip_(self):
        """Keep the latent weights in [-1, 1] (after every optimizer step)."""
        with torch.no_grad():
            self.w1.clamp_(-1, 1)
            self.w2.clamp_(-1, 1)


@torch.no_grad()
def recalibrate(net, die, x):
    """A copy of ``net`` whose comparator thresholds are re-measured on ``die`` from inputs ``x``.

    The calibration reads are booked (as training reads) in the network's ledger.
    """
    trimmed = net.clone()
    trimmed.bn.reset_running_stats()
    trimmed.bn.momentum = None  # cumulative average over the calibration batch
    trimmed.train()
    trimmed.hidden(x, die)
    return trimmed.eval()
