"""Read current of one cell: a resistive element in series with an optional access transistor.

In a 1T1R array the junction sits in series with its access NMOS (gate on, source toward the
sense line). At read biases the transistor is in its linear region,
``I = kp (W/L) ((V_gs - V_th) V_ds - V_ds^2 / 2)`` (ngspice level 1, no body effect or
channel-length modulation), so a cell carries the current that satisfies
``I = (V - V_ds) / R = I_mos(V_ds)``: a quadratic in ``V_ds`` solved in closed form (in its
cancellation-free form) in the linear region, or ``I = kp (W/L) V_ov^2 / 2`` once the
transistor saturates; the same operating point ngspice finds for the generated 1T1R decks.
A shorted junction therefore draws at most about ``V / R_on`` instead of ``V / R_short``: the
transistor, not the defect, sets its current.
"""

import numpy as np

from memcosim.base.errors import ConfigError

__all__ = ["series_cell_current_a", "access_on_resistance_ohm"]


def _overdrive_v(access):
    """Gate overdrive ``V_gs - V_th`` of a turned-on access transistor, volts."""
    overdrive = access.gate_on_v - access.vth_v
    if overdrive <= 0:
        raise ConfigError(f"access.gate_on_v: must exceed vth_v = {access.vth_v:g} V to turn the cell on")
    return overdrive


def access_on_resistance_ohm(access):
    """Small-signal on-resistance of an access transistor at ``V_ds -> 0``, ohms."""
    return 1.0 / (access.kp_a_per_v2 * access.width_m / access.length_m * _overdrive_v(access))


def series_cell_current_a(resistance_ohm, voltage_v, access=None):
    """Current (A) through ``resistance_ohm`` (array) at ``voltage_v`` across the cell.

    Parameters
    ----------
    resistance_ohm : array_like
        Element resistance of every cell, ohms (> 0).
    voltage_v : float
        Voltage across the whole cell (element plus transistor), volts (>= 0).
    access : AccessTransistor, optional
        The cell's access NMOS (gate at ``gate_on_v``, source at 0 V); None for a 1R cell.

    Returns
    -------
    ndarray
        Cell current, amperes.
    """
    r = np.asarray(resistance_ohm, dtype=float)
    if np.any(r <= 0) or not np.all(np.isfinite(r)):
        raise ConfigError("resistance_ohm: must be finite and > 0")
    if access is None or voltage_v == 0:
        return voltage_v / r
    if voltage_v < 0:
        raise ConfigError(f"voltage_v: read voltage must be >= 0 with an access transistor, got {voltage_v!r}")
    k = access.kp_a_per_v2 * access.width_m / access.length_m
    vov = _overdrive_v(access)

    g = 1.0 / r
    b = k * vov + g
    vds = 2.0 * voltage_v * g / (b + np.sqrt(np.maximum(b * b - 2.0 * k * voltage_v * g, 0.0)))
    current = (voltage_v - vds) * g
    return np.where(vds <= vov, current, 0.5 * k * vov * vov)  # saturated: the transistor sets the current
