"""The HZO switching-kinetics model: one field law over a distribution of activation voltages.

Physics
-------
The film is an ensemble of regions that switch independently, each after a nucleation time
(nucleation-limited switching, Tagantsev et al. 2002). What differs between regions is the
*local field*: the regions' switching voltages are spread log-normally (the inhomogeneous-field
picture of Jo et al. 2007 and Zhukov et al. 2010). Every region obeys one field law, the
median switching time of a region with switching voltage ``V_s`` at a pulse of ``|V|``::

    ln(t0 / 1 s) = alpha * ((V_s / |V|)**n - 1) / n          (n -> 0: alpha * ln(V_s / |V|))

``V_s`` is the voltage that switches the region in 1 s; ``alpha = -d ln t0 / d ln V`` there is
the field-time trade-off; the curvature ``n`` spans the classic laws: ``n = 0`` is a power law
``t0 ~ V**-alpha`` (KAI with a power-law domain-wall velocity, Ishibashi-Orihara), ``n = 1`` is
Merz's law ``t0 = tau_inf exp(E_a / E)`` with ``tau_inf = e**-alpha s`` and ``V_a = alpha V_s``,
larger ``n`` the higher-order nucleation laws. Around ``t0`` the nucleation times of regions of
one local field are log-normal of width ``time_spread`` in ``ln t``, so a region family switches
as ``p(t) = Phi(ln(t / t0) / time_spread)`` -- the NLS law of
:mod:`memcosim.devices.hzo_switching` with ``spread_shape = 1``, which carries the history of each
family exactly (equivalent time at the present voltage) and applies ``n`` identical pulses in
one step. The pulse width therefore enters only through ``ln t`` against the field law: the
width dependence is derived, not fitted per width.

Two families of regions may hold the window: the main one (share ``1 - tail_fraction``) and a
*tail* of regions with higher switching voltages (a second mode of the local fields, e.g. grain
boundaries or pinned regions), with their own median switching voltages and spread but the same
field law. Each family's log-normal distribution of ``V_s`` is discretised at ``bins`` equal-
probability quantiles (midpoints); each bin is one domain population of the device state, so
the training, characterisation and calibration paths step it like any HZO device
(:func:`memcosim.devices.hzo.apply_pulses_state`). Potentiation and depression have their own
switching voltages and spreads (imprint and asymmetry); a region's quantile is the same in both
directions (a region that switches easily one way switches easily back).

Window, conduction, energy, noise and wake-up are those of every HZO film
(:class:`~memcosim.devices.hzo_params.HZOFilm`).

Series resistance (the pulse at the film)
-----------------------------------------
A pulse source drives the device through a series resistance ``R_s`` (the generator's output and
the probe, ``r_series_ohm``), so the film's linear capacitance ``C`` (``capacitance_f``) charges
and discharges with ``tau = R_s C``: a rectangular pulse of amplitude ``V`` and width ``w`` puts
``V_f(t) = V (1 - exp(-t / tau))`` across the film while it lasts and ``V_f(w) exp(-(t - w) / tau)``
after it (:func:`film_voltage_v`). Under the law's own history rule (a region's switching
progress is the reduced time ``integral dt / t0(V_f(t))``, the rule that carries a region from
one pulse voltage to the next), the pulse is worth the *effective time* at the nominal ``|V|``::

    t_eff = t0(V) * integral_0^inf dt / t0(V_f(t)) = tau * integral_L^inf E(u) / (1 - e**-u) du

with ``u = ln(V / V_f)``, ``L = -ln(1 - exp(-w / tau))`` and ``E(u) = t0(V) / t0(V e**-u)``
(:func:`log_effective_time`, 24-point Gauss-Legendre in ``ln u``; ``n`` identical pulses are worth
``n t_eff``). ``R_s = 0`` is the ideal source (``t_eff = w``, the model without this term,
exactly); ``w >> tau`` gives ``t_eff -> w - tau D`` (``D = psi(alpha) + gamma`` for the power
law): long pulses see the nominal voltage. Not modelled: the switching current ``2 P_r A dx/dt``
also flows through ``R_s`` and lowers ``V_f`` further while the film switches (it couples every
region's progress to the others' within a pulse), and the source's rise and fall times.

Units: volts, seconds, siemens; ``alpha``, ``n`` and the spreads are dimensionless.

References
----------
A. K. Tagantsev et al., Phys. Rev. B 66, 214109 (2002) (NLS). J. Y. Jo et al., "Domain switching
kinetics in disordered ferroelectric thin films", Phys. Rev. Lett. 99, 267602 (2007). S. Zhukov
et al., Phys. Rev. B 82, 014109 (2010) (inhomogeneous field mechanism). Y. Ishibashi and
H. Orihara, Integr. Ferroelectr. 9, 57 (1995). W. J. Merz, Phys. Rev. 95, 690 (1954).
"""

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from memcosim.base.errors import ConfigError
from memcosim.devices.hzo_params import HZOFilm, _in_range

__all__ = ["REFERENCE_TIME_S", "R_SERIES_MAX_OHM", "log_switching_time", "film_voltage_v", "log_effective_time",
           "FieldLaw", "RegionKinetics", "RegionArrays", "HZOKineticsParams",
           "bin_quantiles", "family_switched_fraction", "switched_fraction"]

REFERENCE_TIME_S = 1.0
"""The time at which a region's switching voltage is defined, seconds (``t0(V_s) = 1 s``)."""
R_SERIES_MAX_OHM = 5000.0
"""Largest series resistance accepted, ohms (a pulse generator's 50 ohm, a probe, a few kiloohm of line)."""

_CURVATURE_EPS = 1e-9


def log_switching_time(log_v_ratio, exponent, curvature, xp=np):
    """The field law: ``ln(t0 / 1 s)`` of a region at ``ln(V_s / |V|) = log_v_ratio``.

    ``alpha * ((V_s/|V|)**n - 1) / n``, with the power law ``alpha * ln(V_s/|V|)`` at ``n = 0``
    (computed as ``alpha r exprel(n r)``, ``exprel(x) = (e**x - 1) / x``, exact at and near
    ``n = 0``). The one place the law is
    written: every step of the model (training, characterisation, calibration) evaluates it here.

    Parameters
    ----------
    log_v_ratio : float or array_like
        ``ln(V_s / |V|)``: positive below the region's switching voltage.
    exponent : float or array_like
        ``alpha`` (> 0): the field-time trade-off ``-d ln t0 / d ln V`` at ``V_s``.
    curvature : float or array_like
        ``n`` (>= 0): 0 power law, 1 Merz's law.
    xp : numpy or torch

    Returns
    -------
    float or array
        ``ln(t0 / 1 s)``, capped at 700 (no switching in any finite time).
    """
    x = curvature * log_v_ratio
    if isinstance(x, float) and isinstance(log_v_ratio, float):
        return min(exponent * log_v_ratio * float(special.exprel(min(x, 300.0))), 700.0)
    if xp is np:
        return np.minimum(exponent * log_v_ratio * special.exprel(np.minimum(x, 300.0)), 700.0)
    x = xp.clamp(x, max=300.0)
    small = xp.abs(x) < _CURVATURE_EPS
    rel = xp.where(small, 1.0 + 0.5 * x, xp.expm1(x) / xp.where(small, xp.ones_like(x), x))
    return xp.clamp(exponent * log_v_ratio * rel, max=700.0)


_QUAD_X, _QUAD_W = np.polynomial.legendre.leggauss(24)
_FULL_CHARGE = 30.0
"""``w / tau`` beyond which the film is at the nominal voltage to ``e**-30``: the rest of the
pulse is worth its own duration."""
_DECAYED = 46.0
"""``ln`` of the factor by which ``E`` has fallen from its value at the end of the charging where
the quadrature stops (``1e-20``)."""


def film_voltage_v(time_s, amplitude_v, width_s, rc_time_s):
    """Voltage across the film during and after a rectangular pulse through a series resistance.

    ``V (1 - exp(-t / tau))`` for ``0 <= t <= w``, ``V (1 - exp(-w / tau)) exp(-(t - w) / tau)``
    after it (``tau = R_s C``; ``tau = 0``: the pulse itself). Volts; arrays broadcast.
    """
    t = np.asarray(time_s, dtype=float)
    if rc_time_s == 0:
        return np.where((t >= 0) & (t <= width_s), amplitude_v, 0.0)
    peak = -np.expm1(-np.minimum(t, width_s) / rc_time_s)
    return amplitude_v * np.where(t <= width_s, peak, peak * np.exp(-(t - width_s) / rc_time_s))


def _clip(x, low, high, xp):
    return np.clip(x, low, high) if xp is np else xp.clamp(x, min=low, max=high)


def _trailing(value):
    """``value`` (an array) with a trailing axis for the quadrature nodes."""
    return value[..., None]


def log_effective_time(log_width, log_rc_time, log_v_ratio, exponent, curvature, xp=np):
    """``ln(t_eff / 1 s)``: what one rectangular pulse through a series resistance is worth at its
    nominal voltage to regions of ``ln(V_s / |V|) = log_v_ratio`` (module docstring).

    ``t_eff = tau * integral_L^inf E(u) / (1 - e**-u) du`` over ``u = ln(V / V_f)`` (the charging
    phase and the discharge after the pulse), ``L = -ln(1 - exp(-w / tau))``,
    ``E(u) = exp(-(ln t0(V e**-u) - ln t0(V)))`` from :func:`log_switching_time`: 24-point
    Gauss-Legendre in ``ln u`` from ``L`` to where ``E`` has fallen ``e**46`` below ``E(L)``; the part of a
    pulse beyond ``30 tau`` counts at its duration (the film is at ``V (1 - e**-30)``).
    Cost ``O(24)`` per element; within 1e-4 of adaptive quadrature (scipy) in ``ln t_eff``.

    Parameters
    ----------
    log_width, log_rc_time : float or array_like
        ``ln(w / 1 s)`` and ``ln(R_s C / 1 s)``.
    log_v_ratio, exponent, curvature : float or array_like
        As :func:`log_switching_time` (broadcast together with the widths).
    xp : numpy or torch

    Returns
    -------
    float or array
        ``ln(t_eff / 1 s)``; ``t_eff <= w + tau / alpha`` and ``-> w - tau D`` for ``w >> tau``.
    """
    scalar = all(isinstance(v, (int, float)) for v in (log_width, log_rc_time, log_v_ratio, exponent, curvature))
    if scalar:
        xp = np
        log_width, log_rc_time, log_v_ratio = (np.asarray(float(v)) for v in (log_width, log_rc_time, log_v_ratio))
    zero = 0.0 * (log_width + log_rc_time + log_v_ratio + exponent + curvature)  # one shape for every input
    log_width, log_v_ratio, exponent, curvature = (v + zero for v in (log_width, log_v_ratio, exponent, curvature))
    ratio = xp.exp(_clip(log_width - log_rc_time, -690.0, 690.0, xp))
    charged = _clip(ratio, 0.0, _FULL_CHARGE, xp)
    low = -xp.log(-xp.expm1(-charged))  # L = ln(V / V_f(w)) at the end of the charging
    g0 = log_switching_time(log_v_ratio, exponent, curvature, xp)
    # E(u) < E(L) e**-46 beyond r + u = g^-1(g(r + L) + 46), g^-1(y) = ln(1 + n y / alpha) / n (y / alpha at n = 0)
    y = (log_switching_time(log_v_ratio + low, exponent, curvature, xp) + _DECAYED) / exponent
    x = _clip(curvature * y, 0.0, None, xp)
    small = x < 1e-6
    inverse = y * xp.where(small, 1.0 - 0.5 * x, xp.log1p(x) / xp.where(small, 1.0, x))
    high = _clip(inverse - log_v_ratio, 0.0, 200.0, xp)
    v_low = xp.log(low)
    v_high = xp.log(xp.maximum(high, low * 1.001))
    nodes, weights = (np.asarray(a) if xp is np else xp.as_tensor(a, dtype=v_low.dtype, device=v_low.device)
                      for a in (_QUAD_X, _QUAD_W))
    u = xp.exp(_trailing(v_low) + 0.5 * (_trailing(v_high - v_low)) * (nodes + 1.0))
    decay = log_switching_time(_trailing(log_v_ratio) + u, _trailing(exponent), _trailing(curvature), xp)
    integrand = xp.exp(_trailing(g0) - decay) * u / -xp.expm1(-u)
    integral = 0.5 * (v_high - v_low) * (integrand * weights).sum(-1)
    out = log_rc_time + xp.log(integral + _clip(ratio - _FULL_CHARGE, 0.0, None, xp))
    return float(out) if scalar else out


@dataclass(frozen=True)
class FieldLaw:
    """The field law every region obeys (see the module docstring)."""

    exponent: float = 12.0
    """``alpha``: the field-time trade-off ``-d ln t0 / d ln V`` at a region's switching voltage."""
    curvature: float = 0.5
    """``n``: 0 power law (KAI, Ishibashi-Orihara), 1 Merz's law."""
    time_spread: float = 1.0
    """Width (in ``ln t``) of the log-normal nucleation times of regions of one local field."""

    def __post_init__(self):
        _in_range("field_law.exponent", self.exponent, 0.5, 300.0)
        _in_range("field_law.curvature", self.curvature, 0.0, 5.0)
        _in_range("field_law.time_spread", self.time_spread, 1e-3, 20.0)


@dataclass(frozen=True)
class RegionKinetics:
    """The kinetics of one bin of regions in one direction: its switching voltage and the law."""

    switching_voltage_v: float
    """Voltage that switches the bin's median region in 1 s, volts."""
    law: FieldLaw
    """The field law."""
    rc_time_s: float = 0.0
    """``R_s C``: the time constant the film charges with through the series resistance, seconds (0: ideal source)."""

    @property
    def v_act_v(self):
        """The bin's switching voltage (the name the device-to-device spread scales)."""
        return self.switching_voltage_v

    def arrays(self, v_act_factor=None, xp=np):
        """:class:`RegionArrays` of this bin; ``v_act_factor`` (array) scales the switching voltage per device."""
        log_v = math.log(self.switching_voltage_v) + (0.0 if v_act_factor is None else xp.log(v_act_factor))
        log_rc = math.log(self.rc_time_s) if self.rc_time_s > 0 else None
        return RegionArrays(log_v, self.law.exponent, self.law.curvature, self.law.time_spread, log_rc)


@dataclass(frozen=True)
class RegionArrays:
    """The kinetics of bins of regions as arrays (any broadcastable shapes), for many devices,
    bins or parameter sets at once: what :func:`memcosim.devices.hzo.step_constants` takes from a
    population. No checks: build it from validated parameters or bounded fit parameters."""

    log_switching_voltage: object
    """``ln(V_s / 1 V)``."""
    exponent: object
    """``alpha``."""
    curvature: object
    """``n``."""
    spread: object
    """``time_spread``: the NLS width in ``ln t``."""
    log_rc_time: object = None
    """``ln(R_s C / 1 s)`` (:func:`log_effective_time`), or None: an ideal source (the pulse is its width)."""
    spread_shape: ClassVar[float] = 1.0
    """The NLS law of each bin is log-normal in time (Box-Cox shape 1)."""
    log_tau_inf: ClassVar[float] = math.log(REFERENCE_TIME_S)
    """``ln(1 s)``: the law's time unit."""

    def u_lam(self, log_v, xp=np, log_width=None):
        """Median ``ln(t / 1 s)`` of pulses of ``log_width = ln(w / 1 s)`` at which the bin switches at
        ``log_v = ln(|V| / 1 V)``: ``ln t0(V)``, less ``ln(t_eff / w)`` through a series resistance
        (so ``n`` pulses switch as ``n t_eff`` at ``|V|``; the law's history rule is unchanged).

        Raises
        ------
        ConfigError
            A series resistance and no ``log_width`` (the step then depends on the width).
        """
        log_ratio = self.log_switching_voltage - log_v
        log_t0 = log_switching_time(log_ratio, self.exponent, self.curvature, xp)
        if self.log_rc_time is None:
            return log_t0
        if log_width is None:
            raise ConfigError("width_s: a device with a series resistance (r_series_ohm > 0) switches by the pulse's "
                              "width as well as its voltage; give the pulse width")
        log_eff = log_effective_time(log_width, self.log_rc_time, log_ratio, self.exponent, self.curvature, xp)
        return log_t0 - (log_eff - log_width)


@functools.lru_cache(maxsize=64)
def bin_quantiles(bins):
    """The standard-normal quantiles at the midpoints of ``bins`` equal-probability bins (tuple)."""
    return tuple(float(z) for z in special.ndtri((np.arange(bins) + 0.5) / bins))


@dataclass(frozen=True)
class HZOKineticsParams(HZOFilm):
    """An HZO synapse with the switching-kinetics model of this module (window, electrical model,
    noise and wake-up as every :class:`~memcosim.devices.hzo_params.HZOFilm`)."""

    law: FieldLaw = FieldLaw()
    """The field law every region obeys."""
    switching_voltage_up_v: float = 0.5
    """Median voltage that potentiates a region of the main family in 1 s, volts."""
    switching_voltage_down_v: float = 0.5
    """Median voltage that depresses a region of the main family in 1 s, volts."""
    voltage_spread_up: float = 0.4
    """Log-normal width (sigma of ``ln V_s``) of the main family's potentiating switching voltages."""
    voltage_spread_down: float = 0.4
    """Log-normal width of the main family's depressing switching voltages."""
    tail_fraction: float = 0.0
    """Share of the window held by the tail family (0: none)."""
    tail_switching_voltage_up_v: float = 2.0
    """Median potentiating switching voltage (1 s) of the tail family, volts."""
    tail_switching_voltage_down_v: float = 2.0
    """Median depressing switching voltage (1 s) of the tail family, volts."""
    tail_voltage_spread: float = 0.5
    """Log-normal width of the tail family's switching voltages (both directions)."""
    bins: int = 16
    """Quantile bins of the main family (domain populations of the device state)."""
    tail_bins: int = 8
    """Quantile bins of the tail family (unused when ``tail_fraction`` is 0)."""
    r_series_ohm: float = 0.0
    """Series resistance the pulses reach the film through (source and probe), ohms: the film's
    ``capacitance_f`` charges through it (``tau = r_series_ohm * capacitance_f``; module
    docstring). 0: an ideal source, the film sees the nominal pulse. A setup's value (one per
    device, all widths); in an array, the cell's driver and line resistance."""

    _NESTED: ClassVar[dict] = {"law": FieldLaw}

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.law, FieldLaw):
            raise ConfigError(f"law: must be a FieldLaw, got {type(self.law).__name__}")
        for name in ("switching_voltage_up_v", "switching_voltage_down_v", "tail_switching_voltage_up_v",
                     "tail_switching_voltage_down_v"):
            _in_range(name, getattr(self, name), 1e-3, 100.0)
        for name in ("voltage_spread_up", "voltage_spread_down", "tail_voltage_spread"):
            _in_range(name, getattr(self, name), 0.0, 5.0)
        _in_range("tail_fraction", self.tail_fraction, 0.0, 0.999)
        _in_range("r_series_ohm", self.r_series_ohm, 0.0, R_SERIES_MAX_OHM)
        for name in ("bins", "tail_bins"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 1 <= value <= 128):
                raise ConfigError(f"{name}: must be an integer in [1, 128], got {value!r}")

    @property
    def rc_time_s(self):
        """``r_series_ohm * capacitance_f``: the film's charging time constant, seconds."""
        return self.r_series_ohm * self.capacitance_f

    def _family(self, share, v_up, v_down, s_up, s_down, bins):
        tau = self.rc_time_s
        return [(share / bins, RegionKinetics(v_up * math.exp(s_up * z), self.law, tau),
                 RegionKinetics(v_down * math.exp(s_down * z), self.law, tau)) for z in bin_quantiles(bins)]

    @functools.cached_property
    def populations(self):
        """``[(share of the window, potentiation RegionKinetics, depression RegionKinetics), ...]``:
        the quantile bins of the main family, then those of the tail family."""
        main = self._family(1.0 - self.tail_fraction, self.switching_voltage_up_v, self.switching_voltage_down_v,
                            self.voltage_spread_up, self.voltage_spread_down, self.bins)
        if self.tail_fraction == 0:
            return main
        return main + self._family(self.tail_fraction, self.tail_switching_voltage_up_v,
                                   self.tail_switching_voltage_down_v, self.tail_voltage_spread,
                                   self.tail_voltage_spread, self.tail_bins)

    def nominal_v_act_v(self, up):
        return self.switching_voltage_up_v if up else self.switching_voltage_down_v


def family_switched_fraction(time_s, voltage_v, switching_voltage_v, law):
    """Switched fraction of one bin of regions (one local field) after ``time_s`` at ``|voltage_v|``
    from zero: ``Phi(ln(t / t0(V)) / time_spread)`` (so exactly 1/2 at ``t = t0``)."""
    v = np.maximum(np.abs(np.asarray(voltage_v, dtype=float)), 1e-300)
    log_t0 = log_switching_time(math.log(switching_voltage_v) - np.log(v), law.exponent, law.curvature)
    log_t = np.log(np.maximum(np.asarray(time_s, dtype=float), 1e-300))
    return special.ndtr((log_t - log_t0) / law.time_spread)


def switched_fraction(time_s, voltage_v, params, up=True):
    """Switched fraction of the whole film after ``time_s`` at ``|voltage_v|`` from zero: the
    window-weighted sum over the quantile bins of :func:`family_switched_fraction`.

    Parameters
    ----------
    time_s, voltage_v : array_like
        Time at the voltage (seconds, > 0) and the voltage (volts; its magnitude is used), broadcast.
    params : HZOKineticsParams
    up : bool
        Potentiation (True) or depression.
    """
    total = 0.0
    for share, up_k, down_k in params.populations:
        k = up_k if up else down_k
        total = total + share * family_switched_fraction(time_s, voltage_v, k.switching_voltage_v, k.law)
    return total
