"""Magnetic tunnel junction (1T1MTJ, STT-MRAM-like) compact model.

States: parallel (P, low resistance ``r_p_ohm``) and antiparallel (AP). The AP branch has a
bias-dependent TMR, ``TMR(V) = tmr0 / (1 + (V / v_half_v)^2)``, so its I-V is nonlinear::

    I_AP(V) = V / (r_p_ohm * (1 + TMR(V)))

Spin-transfer switching of a pulse of current ``I`` and width ``t`` (``i = I / Ic0``, ``Ic0``
per direction):

* thermally activated, ``i <= 1``: rate ``k = exp(-delta * (1 - i)) / tau0_s``;
* precessional, ``i > 1``: rate ``k = 1 / tau0_s + (i - 1) / precession_time_s``;

and ``P_switch = 1 - exp(-k t)``. Both regimes give ``k = 1 / tau0_s`` at ``i = 1``, so the
probability is continuous at the boundary and rises with current and width towards 1.

Defects, each at its own rate: shorted (barrier breakdown, ``r_short_ohm``), open
(``r_open_ohm``), stuck in P, stuck in AP. A *defect map* is drawn from a seed; the same seed
always gives the same map. Units: ohms, volts, amperes, seconds, joules.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng
from memcosim.base.typed import JsonRecord

__all__ = [
    "MTJParams",
    "DefectRates",
    "OK",
    "SHORT",
    "OPEN",
    "STUCK_P",
    "STUCK_AP",
    "tmr",
    "resistance_ohm",
    "current_a",
    "switching_probability",
    "sample_devices",
    "defect_map",
    "cell_resistance_ohm",
    "weights_to_states",
    "states_to_weights",
]

P, AP = 0, 1
OK, SHORT, OPEN, STUCK_P, STUCK_AP = 0, 1, 2, 3, 4


def _check(name, value, low, high, open_low=False):
    good = isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value)
    good = good and (low < value if open_low else low <= value) and value <= high
    if not good:
        bracket = "(" if open_low else "["
        raise ConfigError(f"{name}: must be in {bracket}{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class MTJParams(JsonRecord):
    """One MTJ (or the median device of an array); strict JSON (:class:`~memcosim.base.typed.JsonRecord`)."""

    r_p_ohm: float = 5e3
    """Parallel-state resistance, ohms."""
    tmr0: float = 1.5
    """Zero-bias tunnelling magnetoresistance ratio (1.5 = 150 %)."""
    v_half_v: float = 0.5
    """Bias at which the TMR halves, volts."""
    ic0_p_to_ap_a: float = 60e-6
    """Critical switching current P -> AP, amperes."""
    ic0_ap_to_p_a: float = 40e-6
    """Critical switching current AP -> P, amperes."""
    delta: float = 60.0
    """Thermal stability factor E_b / k_B T."""
    tau0_s: float = 1e-9
    """Attempt time, seconds."""
    precession_time_s: float = 2e-10
    """Precessional time scale: rate grows by 1 / precession_time_s per unit of I / Ic0 above 1."""
    r_short_ohm: float = 100.0
    """Resistance of a shorted (broken-down) junction, ohms."""
    r_open_ohm: float = 1e12
    """Resistance of an open cell, ohms."""
    r_p_std: float = 0.0
    """Device-to-device lognormal sigma of r_p_ohm."""
    tmr_std: float = 0.0
    """Device-to-device lognormal sigma of tmr0."""
    ic0_std: float = 0.0
    """Cycle-to-cycle lognormal sigma of the critical currents."""

    def __post_init__(self):
        _check("r_p_ohm", self.r_p_ohm, 0, 1e12, open_low=True)
        _check("tmr0", self.tmr0, 0, 100, open_low=True)
        _check("v_half_v", self.v_half_v, 0, 100, open_low=True)
        _check("ic0_p_to_ap_a", self.ic0_p_to_ap_a, 0, 1, open_low=True)
        _check("ic0_ap_to_p_a", self.ic0_ap_to_p_a, 0, 1, open_low=True)
        _check("delta", self.delta, 0, 1000, open_low=True)
        _check("tau0_s", self.tau0_s, 0, 1, open_low=True)
        _check("precession_time_s", self.precession_time_s, 0, 1, open_low=True)
        _check("r_short_ohm", self.r_short_ohm, 0, 1e12, open_low=True)
        _check("r_open_ohm", self.r_open_ohm, 0, 1e18, open_low=True)
        for name in ("r_p_std", "tmr_std", "ic0_std"):
            _check(name, getattr(self, name), 0, 2)

    def to_dict(self):
        return self.to_json()

    @classmethod
    def from_dict(cls, data):
        """The parameters of ``data`` (a preset's ``params``): the one strict reader, unknown keys and NaN refused."""
        return cls.from_json(data, source="MTJ parameters")


@dataclass(frozen=True)
class DefectRates:
    """Fraction of cells with each defect (independent categories, sum <= 1)."""

    short_rate: float = 0.0
    open_rate: float = 0.0
    stuck_p_rate: float = 0.0
    stuck_ap_rate: float = 0.0

    def __post_init__(self):
        for f in dataclasses.fields(self):
            _check(f.name, getattr(self, f.name), 0.0, 1.0)
        total = self.short_rate + self.open_rate + self.stuck_p_rate + self.stuck_ap_rate
        if total > 1.0:
            raise ConfigError(f"defect rates: sum must be in [0, 1], got {total:g}")


def tmr(voltage_v, params, tmr0=None, v_half_v=None):
    """Bias-dependent TMR ratio ``tmr0 / (1 + (V / v_half_v)^2)`` (dimensionless).

    Parameters
    ----------
    voltage_v : array_like
        Bias across the junction, volts.
    params : MTJParams
    tmr0, v_half_v : array_like, optional
        Override ``params.tmr0`` and ``params.v_half_v`` (per-device arrays from
        :func:`sample_devices`, or a fit's trial values).
    """
    t0 = params.tmr0 if tmr0 is None else np.asarray(tmr0)
    v_half = params.v_half_v if v_half_v is None else np.asarray(v_half_v)
    v = np.asarray(voltage_v, dtype=float)
    return t0 / (1.0 + (v / v_half) ** 2)


def resistance_ohm(state, voltage_v, params, r_p_ohm=None, tmr0=None):
    """Static resistance V / I of a cell in ``state`` (0 = P, 1 = AP) at ``voltage_v``.

    ``r_p_ohm`` and ``tmr0`` override the parameters per device (arrays from
    :func:`sample_devices`).
    """
    r_p = params.r_p_ohm if r_p_ohm is None else np.asarray(r_p_ohm)
    ratio = tmr(voltage_v, params, tmr0=tmr0)
    return np.where(np.asarray(state) == AP, r_p * (1.0 + ratio), r_p * np.ones_like(ratio))


def current_a(state, voltage_v, params):
    """Current through a cell in ``state`` at ``voltage_v`` (odd in V; nonlinear for AP)."""
    return np.asarray(voltage_v, dtype=float) / resistance_ohm(state, voltage_v, params)


def switching_probability(current_a, width_s, params, to_state):
    """Probability that a pulse of ``current_a`` for ``width_s`` switches the cell.

    Parameters
    ----------
    current_a : array_like
        Magnitude of the write current, amperes (>= 0).
    width_s : array_like
        Pulse width, seconds (> 0).
    params : MTJParams
    to_state : {0, 1}
        Target state: 1 (P -> AP, uses ``ic0_p_to_ap_a``) or 0 (AP -> P).

    Returns
    -------
    ndarray
        Probability in [0, 1].
    """
    if to_state not in (P, AP):
        raise ConfigError(f"to_state: must be 0 (P) or 1 (AP), got {to_state!r}")
    width = np.asarray(width_s, dtype=float)
    if np.any(width <= 0):
        raise ConfigError("width_s: must be > 0 seconds")
    ic0 = params.ic0_p_to_ap_a if to_state == AP else params.ic0_ap_to_p_a
    i = np.abs(np.asarray(current_a, dtype=float)) / ic0
    thermal = np.exp(-params.delta * (1.0 - np.minimum(i, 1.0))) / params.tau0_s
    precessional = 1.0 / params.tau0_s + np.maximum(i - 1.0, 0.0) / params.precession_time_s
    rate = np.where(i <= 1.0, thermal, precessional)
    return -np.expm1(-rate * width)


def sample_devices(params, shape, rng):
    """Per-device ``r_p_ohm`` and ``tmr0`` arrays with lognormal device-to-device spread."""
    r_p = params.r_p_ohm * np.exp(params.r_p_std * rng.standard_normal(shape))
    t0 = params.tmr0 * np.exp(params.tmr_std * rng.standard_normal(shape))
    return {"r_p_ohm": r_p, "tmr0": t0}


def defect_map(shape, rates, seed, die=0):
    """The defect code of every cell of one die (``OK``, ``SHORT``, ``OPEN``, ``STUCK_P``, ``STUCK_AP``).

    Parameters
    ----------
    shape : tuple of int
    rates : DefectRates
    seed : int
        Study seed.
    die : int
        Die index; each (seed, die) is its own stream, so the same die always gets the same map.

    Returns
    -------
    ndarray of int8
    """
    u = numpy_rng(seed, f"defects/die{int(die)}").random(shape)
    edges = np.cumsum([rates.short_rate, rates.open_rate, rates.stuck_p_rate, rates.stuck_ap_rate])
    k = np.searchsorted(edges, u, side="right")  # 0..3 inside a defect band, 4 beyond all
    return np.where(k < 4, k + 1, OK).astype(np.int8)


def cell_resistance_ohm(state, defects, voltage_v, params, devices=None):
    """Resistance of every cell given its programmed state and its defect.

    Stuck cells ignore the programmed state; shorts and opens replace the junction.
    """
    state = np.asarray(state)
    defects = np.asarray(defects)
    effective = np.where(defects == STUCK_P, P, np.where(defects == STUCK_AP, AP, state))
    devices = devices or {}
    r = resistance_ohm(effective, voltage_v, params, devices.get("r_p_ohm"), devices.get("tmr0"))
    r = np.where(defects == SHORT, params.r_short_ohm, r)
    return np.where(defects == OPEN, params.r_open_ohm, r)


def weights_to_states(weights, scheme="differential"):
    """Binary weights (+1/-1) to MTJ states.

    ``differential``: a weight is a pair (plus, minus): +1 -> (P, AP), -1 -> (AP, P), so the
    pair's conductance difference has the weight's sign. ``reference``: one MTJ read against a
    reference conductance midway between P and AP: +1 -> P, -1 -> AP.

    Returns
    -------
    ndarray or (ndarray, ndarray)
        States (0 = P, 1 = AP): one array for ``reference``, a pair for ``differential``.
    """
    w = np.asarray(weights)
    if not np.all(np.isin(w, (-1, 1))):
        raise ConfigError("weights: binary weights must be +1 or -1")
    plus = np.where(w > 0, P, AP).astype(np.int8)
    if scheme == "differential":
        return plus, (1 - plus).astype(np.int8)
    if scheme == "reference":
        return plus
    raise ConfigError(f"scheme: must be 'differential' or 'reference', got {scheme!r}")


def states_to_weights(conductance_s, reference_s):
    """Read binary weights back: sign of ``conductance_s - reference_s`` (+1 where equal).

    For a differential pair pass G+ and G-; for the reference scheme pass G and G_ref.
    """
    diff = np.asarray(conductance_s) - np.asarray(reference_s)
    return np.where(diff >= 0, 1, -1).astype(np.int8)
