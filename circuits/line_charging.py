"""Energy lost charging a crossbar's lines on the edges of a write pulse: distributed RC lines, any speed.

On each edge every line's cells and wire capacitance take (or give back) charge through the
line's driver and its wire segments. A row is a chain of ``cols`` nodes, driven at node 0
through ``r_driver_ohm`` and linked by ``r_wire_ohm`` segments; a column a chain of ``rows``
nodes whose last segment leads to its driven end. Every node has the cell capacitance to the
crossing line and the wire capacitance to ground. Taking the crossing lines as ideal ramps (the
same ramp, to their own voltages), the chain's response is a sum of decaying modes
(``G phi_k = lambda_k C phi_k``); a ramp of ``t_rise`` seconds that moves the chain's charge by
``beta_k`` in mode ``k`` (C-normalised) dissipates

    beta_k^2 F(lambda_k t_rise),  F(u) = (1/u) [1 - 2 (1 - e^-u)/u + (1 - e^-2u)/(2u)] + (1 - e^-u)^2 / (2 u^2)

in the resistors: ``beta^2 tau / t_rise`` for slow ramps (``R C^2 V^2 / t_rise``, the lumped
law of earlier versions when the wires are ideal) and ``beta^2 / 2`` (``C V^2 / 2``, a step)
for fast ones. A pulse has two edges. Each line is charged with its crossing lines ideal, so a
cell between two lines that are both slow to an edge is counted on both sides (at most twice
its ``C V^2 / 2``); the fitted coefficient of the term takes that up (it fits 1.03 on 8 x 8 and
16 x 16 arrays and holds to 5 % at 256 x 256, docs/circuits.md). Cost: one
``eigh_tridiagonal`` per line length (cached), then one product per distinct line voltage.
"""

import functools

import numpy as np
from scipy.linalg import eigh_tridiagonal

from memcosim.devices.pulse_energy import capacitive_energy_j

__all__ = ["ramp_loss_factor", "line_charging_j", "line_charge_j", "driver_own_energy_j"]


def ramp_loss_factor(u):
    """``F(u)`` of the module docstring: energy lost per ``beta^2`` by a mode of rate ``u = lambda t_rise``."""
    u = np.asarray(u, dtype=float)
    small = u < 1e-4
    us = np.where(small, 1.0, u)
    e1, e2 = -np.expm1(-us), -np.expm1(-2 * us)
    value = (1 / us) * (1 - 2 * e1 / us + e2 / (2 * us)) + e1**2 / (2 * us**2)
    return np.where(small, 0.5 - u / 6, value)


@functools.lru_cache(maxsize=16)
def _modes(n, g_end, g_seg, c_node, end_first):
    """Rates (1/s) and C-orthonormal mode shapes of a chain of ``n`` nodes (``g_seg`` between
    neighbours, ``g_end`` from its driven end, ``c_node`` per node)."""
    if g_seg == np.inf or n == 1:  # ideal wires: one node of the whole line's capacitance
        return np.array([g_end / (n * c_node)]), np.full((n, 1), 1.0 / np.sqrt(n * c_node))
    d = np.full(n, 2 * g_seg)
    d[0] = d[-1] = g_seg
    d[0 if end_first else -1] += g_end
    rates, shapes = eigh_tridiagonal(d / c_node, np.full(n - 1, -g_seg / c_node))
    return rates, shapes / np.sqrt(c_node)


def _lines_j(v_line, v_cross, g_end, g_seg, c_cell_f, c_wire_f, rise_s, end_first):
    n = len(v_cross)
    c_node = c_cell_f + c_wire_f
    if c_node <= 0 or g_end == np.inf:
        return 0.0
    rates, shapes = _modes(n, float(g_end), float(g_seg), float(c_node), end_first)
    factor = ramp_loss_factor(rates * rise_s)
    coupled = c_cell_f * np.asarray(v_cross, dtype=float)  # charge per node from the crossing lines' ramps
    total = 0.0
    for v in np.unique(v_line):
        beta = shapes.T @ (coupled - c_node * v)
        total += int(np.sum(v_line == v)) * float(np.sum(beta**2 * factor))
    return total


def line_charging_j(v_rows, v_cols, c_cell_f, c_wire_f, r_driver_ohm, r_wire_ohm, rise_s):
    """Energy (J) the resistors of every line dissipate on the two edges of one pulse.

    Parameters
    ----------
    v_rows, v_cols : ndarray
        Line voltages of the pulse's flat top, volts.
    c_cell_f, c_wire_f : float
        Capacitance of a cell and of a wire segment, farads.
    r_driver_ohm, r_wire_ohm : float
        Row driver and wire segment resistance, ohms (``r_wire_ohm = 0``: ideal wires, a line is
        one node; ``r_driver_ohm = 0``: ideal row drivers).
    rise_s : float
        Rise (and fall) time of the pulse, seconds.
    """
    g_seg = np.inf if r_wire_ohm == 0 else 1.0 / r_wire_ohm
    g_driver = np.inf if r_driver_ohm == 0 else 1.0 / r_driver_ohm
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    rows = _lines_j(v_rows, v_cols, g_driver, g_seg, c_cell_f, c_wire_f, rise_s, True)
    cols = _lines_j(v_cols, v_rows, g_seg, g_seg, c_cell_f, c_wire_f, rise_s, False)
    return 2.0 * (rows + cols)


def line_charge_j(line_c_f, voltage_v, share=1.0):
    """``share * C V^2`` (J): charging a line of ``line_c_f`` farads to ``voltage_v`` and back once.

    What a line driver's pulse spends on the line itself, ``share`` of it (a fitted driver
    model's ``load_coefficient``); the periphery books it with the array, the driver keeps the rest
    (:func:`driver_own_energy_j`).
    """
    return capacitive_energy_j(share * line_c_f, voltage_v)


def driver_own_energy_j(models, line_c_f, line_r_ohm, voltage_v):
    """A line driver's energy per pulse (J) without the line's own charge (booked with the array).

    ``models``: :class:`~memcosim.circuits.peripheral_models.PeripheralModels` with a driver; its
    energy minus the load term of its fit, :func:`line_charge_j` at ``load_coefficient`` (never
    below 0).
    """
    own = models.driver_energy_j(line_c_f, line_r_ohm, voltage_v)
    return max(0.0, own - line_charge_j(line_c_f, voltage_v, models.driver.load_coefficient))
