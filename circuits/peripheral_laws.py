"""The laws of the tile periphery, one function each (used by the fit and by the fitted models of
:mod:`memcosim.circuits.peripheral_models`, whose docstring lists them with their formulas)."""

import math

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.base.typed import check_number
from memcosim.netlist.peripherals import driver_chain, integrator_feedback_c_f

__all__ = ["line_load", "settling_time_s", "driver_energy_terms_j", "driver_delay_terms_s", "integrator_charge_c",
           "integrator_energy_terms_j", "integrator_step_current_a", "integrator_settling_terms_s"]

_LN100 = math.log(100.0)


def line_load(rows_or_cols, c_wire_f, r_wire_ohm, c_cell_f):
    """Capacitance and resistance of a line of ``rows_or_cols`` cells: ``(n (c_wire + c_cell), n r_wire)``.

    Parameters
    ----------
    rows_or_cols : int
        Cells on the line (>= 1).
    c_wire_f : float
        Wire capacitance of one segment (one cell pitch), farads (>= 0).
    r_wire_ohm : float
        Wire resistance of one segment, ohms (>= 0).
    c_cell_f : float
        Capacitance one cell adds to the line, farads (>= 0).

    Returns
    -------
    (float, float)
        ``(C_F, R_ohm)``.
    """
    if isinstance(rows_or_cols, bool) or not isinstance(rows_or_cols, (int, np.integer)) or rows_or_cols < 1:
        raise ConfigError(f"rows_or_cols: must be an integer >= 1, got {rows_or_cols!r}")
    for name, value in (("c_wire_f", c_wire_f), ("r_wire_ohm", r_wire_ohm), ("c_cell_f", c_cell_f)):
        check_number(name, value, 0.0)
    n = int(rows_or_cols)
    return n * (float(c_wire_f) + float(c_cell_f)), n * float(r_wire_ohm)




def settling_time_s(time_s, signal, end_s, tolerance=0.01):
    """Time (s) at or before ``end_s`` after which ``signal`` stays within ``tolerance`` of its value
    at ``end_s``: the last crossing of the band, linearly interpolated between samples (0 when never outside)."""
    time_s, signal = np.asarray(time_s, float), np.asarray(signal, float)
    final = float(np.interp(end_s, time_s, signal))
    excess = np.abs(signal - final) - tolerance * abs(final)
    outside = np.flatnonzero((excess > 0) & (time_s <= end_s))
    if outside.size == 0:
        return 0.0
    k = int(outside[-1])
    if k + 1 == time_s.size or time_s[k + 1] > end_s:
        return float(time_s[k])
    return float(time_s[k] + (time_s[k + 1] - time_s[k]) * excess[k] / (excess[k] - excess[k + 1]))


def _short_circuit_shape_v(process, v):
    """Veendrick's short-circuit shape ``(V - V_tn - |V_tp|)^3 / (V - V_tn)^2``, volts (0 below ``V_tn + |V_tp|``)."""
    over = max(v - process.vth_n_v + process.vth_p_v, 0.0)
    return over ** 3 / (v - process.vth_n_v) ** 2


def driver_energy_terms_j(process, taper, load_c_f, v):
    """Basis of the driver energy per pulse (J): ``[C_load V^2, C_chain V^2, C_chain V g(V)]``."""
    c_chain = driver_chain(process, load_c_f, taper).switched_c_f()
    return np.array([load_c_f * v * v, c_chain * v * v, c_chain * v * _short_circuit_shape_v(process, v)])


def driver_delay_terms_s(process, taper, load_c_f, load_r_ohm):
    """Basis of the driver's 50 % delay to the far end at ``process.vdd_v`` (s):
    ``[(N - 1) tau_stage, R_last (C_load + C_d,last), R_line C_load]``.

    ``tau_stage = R_unit (C_in(taper) + C_d(1))`` is the Elmore delay of every inner stage (a
    stage ``taper`` times larger than its driver); ``R`` are NMOS on-resistances at ``vdd_v``.
    """
    chain = driver_chain(process, load_c_f, taper)
    tau_stage = process.nmos_on_resistance_ohm(1.0) * (process.inverter_input_c_f(taper) + process.inverter_drain_c_f(1.0))
    last = chain.last_stage_resistance_ohm() * (load_c_f + process.inverter_drain_c_f(chain.sizes[-1]))
    return np.array([(chain.n_stages - 1) * tau_stage, last, load_r_ohm * load_c_f])


def integrator_charge_c(opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Charge integrated in ``read_time_s`` (C): ``t G V / (1 + G / (C_f w_u))``."""
    c_f = integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read)
    return read_time_s * column_g_s * v_read / (1.0 + column_g_s / (c_f * 2 * math.pi * opamp.gbw_hz))


def integrator_energy_terms_j(process, opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Basis of the integrator's supply energy per read (J): ``[V_dd I_bias t, V_dd Q]``."""
    q = integrator_charge_c(opamp, column_c_f, column_g_s, read_time_s, v_read)
    return np.array([process.vdd_v * opamp.bias_current_a * read_time_s, process.vdd_v * q])


def integrator_step_current_a(opamp, column_c_f, column_g_s, read_time_s, v_read, time_s):
    """Output current (A) of the integrator ``time_s`` seconds after an ideal read step (closed form).

    The op-amp ``A(s) = A0 / (1 + s / w_p)``, ``w_p = w_u / A0``, holds the column node ``v``
    against ``G (V - v) = s C_col v + s C_f (1 + A) v``; the output current ``s C_f (1 + A) v`` is

    ``I(s) = G V C_f (s + z) / ((C_col + C_f) s^2 + (G + (C_col + C_f (1 + A0)) w_p) s + G w_p)``, ``z = (1 + A0) w_p``:

    a fast pole (about ``(G + C_f w_u) / (C_col + C_f)``, the loop) and a slow one (about
    ``G w_p / (G + C_f w_u)``: with a finite DC gain the feedback capacitor leaks, so the current
    droops during the read). ``I(0) = G V C_f / (C_col + C_f)``.
    """
    c_f = integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read)
    w_p = 2 * math.pi * opamp.gbw_hz / opamp.dc_gain
    z = (1.0 + opamp.dc_gain) * w_p
    a2, a1, a0 = column_c_f + c_f, column_g_s + (column_c_f + c_f * (1.0 + opamp.dc_gain)) * w_p, column_g_s * w_p
    q = -0.5 * (a1 + math.sqrt(a1 * a1 - 4.0 * a2 * a0))  # real roots; q keeps the small one exact
    fast, slow = q / a2, a0 / q
    t = np.asarray(time_s, float)
    scale = column_g_s * v_read * c_f / (a2 * (fast - slow))
    return scale * ((fast + z) * np.exp(fast * t) - (slow + z) * np.exp(slow * t))


def integrator_settling_terms_s(opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Basis of the integrator's 1 % settling time (s): ``[t_1%, 1 / w_u]``.

    ``t_1%`` is :func:`settling_time_s` of :func:`integrator_step_current_a` on 4097 points of the
    read (the band is relative to the current at the end of the read, as measured); ``1 / w_u``
    carries the read pulse's edge. Cost: O(4097).
    """
    time = np.linspace(0.0, read_time_s, 4097)
    current = integrator_step_current_a(opamp, column_c_f, column_g_s, read_time_s, v_read, time)
    return np.array([settling_time_s(time, current, read_time_s), 1.0 / (2 * math.pi * opamp.gbw_hz)])


def _sense_resistor_settling_terms_s(column_c_f, column_g_s, r_sense_ohm):
    r_par = 1.0 / (column_g_s + 1.0 / r_sense_ohm)
    return np.array([_LN100 * column_c_f * r_par, 1e-12])


def _comparator_energy_terms_j(process, load_c_f):
    return np.array([load_c_f * process.vdd_v ** 2, 1e-15])


def _comparator_time_terms_s(process, delta_v):
    return np.array([1e-12, 1e-12 * math.log(process.vdd_v / abs(delta_v))])
