"""Joint fit of the HZO switching-kinetics model (:mod:`memcosim.devices.hzo_kinetics`) to
measured pulse sweeps of one device.

Every sweep of one device, whatever its pulse width, is fitted with one field law
``ln(t0 / 1 s) = alpha ((V_s / V)**n - 1) / n`` over log-normal distributions of the regions'
switching voltages ``V_s``: the width dependence comes from the law, not from per-width
parameters. The model steps every measured pulse sequence with the package's one pulse step
(:func:`~memcosim.devices.hzo.apply_pulse_sequence_state`), all quantile bins, files and
candidate parameter vectors at once (the bins ride along as an array axis of one population, so
a model run costs a few numpy operations per pulse), from each file's first measured conductance.
Weighting, the batched Jacobian, the wake-up timeline and the scores are those of every HZO fit
(:mod:`memcosim.devices.sweep_fit`).

Parameters (the fit vector, bounded to physical ranges): ``log10 g_min``, ``log10 g_max``;
``ln alpha`` (alpha in [1, 200]), ``n`` in [0, 3], ``ln time_spread`` ([0.1, 6]); the main
family's ``ln V_s`` up and down (V_s in [0.02, 30] V) and their log-normal widths ([0.01, 2]);
with the tail family its ``logit`` share, ``ln V_s`` up and down and width; with wake-up
``logit a0`` and ``log10`` of its pulse count; with ``r_series_ohm="fit"`` the ``log10`` of the
series resistance (0.01 ohm to :data:`~memcosim.devices.hzo_kinetics.R_SERIES_MAX_OHM`, one value
for every width of the device; it acts through ``R_s C`` with the device capacitance given).

The start is read off the data: the voltage at which each sweep's branch is half switched falls
with the pulse width as a power law, ``ln V50 = ln V_s - ln(w) / alpha``; a line through them
gives ``alpha`` and both ``V_s``. The least-squares optimum depends on the law's curvature
``n`` through a rugged landscape, so the first round starts from a few ``n`` (``starts``) and
the reweighting rounds continue from the one whose worst file fits best.
"""

import math

import numpy as np
from scipy import special

from memcosim.base.errors import CalibrationError
from memcosim.devices import hzo
from memcosim.devices.fit_result import FitResult
from memcosim.devices.hzo_kinetics import R_SERIES_MAX_OHM, FieldLaw, HZOKineticsParams, RegionArrays, bin_quantiles
from memcosim.devices.hzo_params import ParameterBatch
from memcosim.devices.hzo_switching import active_fraction, window_conductance, window_fraction
from memcosim.devices.prims import NUMPY
from memcosim.devices.sweep_fit import (SUBSAMPLE_PULSES, SweepArrays, check_jacobian, check_subsample, check_sweeps,
                                        least_squares_fit, prepared)

__all__ = ["fit_hzo_kinetics", "score_kinetics"]


_LN10 = math.log(10.0)
_LAW = [("ln_exponent", math.log(1.0), math.log(200.0)), ("curvature", 0.0, 3.0),
        ("ln_time_spread", math.log(0.1), math.log(6.0))]
_VOLT = (math.log(0.02), math.log(30.0))
_SPREAD = (math.log(0.01), math.log(2.0))
_R_SERIES = (-2.0, math.log10(R_SERIES_MAX_OHM), math.log10(50.0))  # lg ohm: bounds and start (a 50-ohm source)


def _half_voltages(sweeps, sign):
    """``(ln w, ln V50 up, ln V50 down)`` per sweep: the pulse magnitude at which each branch's
    running extreme has covered half of its swing (None where a branch does not move)."""
    rows = []
    for s in sweeps:
        halves = []
        for up in (True, False):
            on = np.sign(s.pulse_amplitude_v) == (sign if up else -sign)
            g, v = s.conductance_s[on], np.abs(s.pulse_amplitude_v[on])
            if len(g) < 3:
                halves.append(None)
                continue
            moved = np.maximum.accumulate(g - g[0] if up else g[0] - g)
            if moved[-1] <= 0:
                halves.append(None)
                continue
            halves.append(math.log(float(v[np.argmax(moved >= 0.5 * moved[-1])])))
        rows.append((math.log(s.nominal_width_s), *halves))
    return rows


def _law_start(sweeps, sign):
    """Start values ``(alpha, ln V_s up, ln V_s down)`` from a line through the half-switching voltages."""
    rows = [r for r in _half_voltages(sweeps, sign) if r[1] is not None and r[2] is not None]
    alpha = 12.0
    if len({r[0] for r in rows}) >= 2:
        # ln V50 = c_dir - ln(w) / alpha, one slope for both directions
        design = np.array([[r[0], 1.0, 0.0] for r in rows] + [[r[0], 0.0, 1.0] for r in rows])
        target = np.array([r[1] for r in rows] + [r[2] for r in rows])
        slope = np.linalg.lstsq(design, target, rcond=None)[0][0]
        if slope < 0:
            alpha = float(np.clip(-1.0 / slope, 3.0, 100.0))
    if not rows:
        return alpha, 0.0, 0.0
    up = float(np.mean([r[1] + r[0] / alpha for r in rows]))
    down = float(np.mean([r[2] + r[0] / alpha for r in rows]))
    return alpha, float(np.clip(up, *_VOLT)), float(np.clip(down, *_VOLT))


class _KineticsProblem:
    """The field-law model stepped through measured sweeps (:class:`~memcosim.devices.sweep_fit.SweepArrays`).

    ``simulate`` runs a batch of parameter vectors at once (the batched Jacobian); the layout of a
    vector is in the module docstring and :attr:`names`.
    """

    def __init__(self, arrays, sign, tail=True, wake_up=True, bins=16, tail_bins=8, series=None):
        # series: None (ideal source), ("fit", C) or (R_s ohm, C farad)
        self.arrays, self.sign, self.tail, self.wake_up, self.series = arrays, sign, tail, wake_up, series
        self.bins, self.tail_bins = bins, tail_bins
        self.z = np.array(bin_quantiles(bins))
        self.z_tail = np.array(bin_quantiles(tail_bins))
        g_lo, g_hi = np.nanmin(arrays.g), np.nanmax(arrays.g)
        alpha, v_up, v_down = _law_start(arrays.sweeps, sign)
        spec = [("lg_g_min", math.log10(g_lo) - 1, math.log10(g_lo), math.log10(g_lo * 0.95)),
                ("lg_g_max", math.log10(g_hi), math.log10(g_hi) + 1, math.log10(g_hi * (1.2 if wake_up else 1.05))),
                (*_LAW[0], math.log(alpha)), (*_LAW[1], 0.5), (*_LAW[2], 0.0),
                ("ln_v_up", *_VOLT, v_up), ("ln_v_down", *_VOLT, v_down),
                ("ln_spread_up", *_SPREAD, math.log(0.4)), ("ln_spread_down", *_SPREAD, math.log(0.4))]
        if tail:
            spec += [("logit_tail", -6.0, 6.0, -1.5), ("ln_tail_v_up", *_VOLT, min(v_up + 0.8, _VOLT[1])),
                     ("ln_tail_v_down", *_VOLT, min(v_down + 0.8, _VOLT[1])), ("ln_tail_spread", *_SPREAD, math.log(0.5))]
        if wake_up:
            spec += [("logit_a0", -6.0, 6.0, -1.0), ("lg_wake_pulses", -1.0, 6.0, 2.5)]
        if series is not None and series[0] == "fit":
            spec += [("lg_r_series", *_R_SERIES)]
        self.names = [row[0] for row in spec]
        self.lower = np.array([row[1] for row in spec])
        self.upper = np.array([row[2] for row in spec])
        self.start = np.clip(np.array([row[3] for row in spec]), self.lower, self.upper)

    def starts(self, curvatures):
        """Start vectors (k, n): the data-driven start with each curvature of ``curvatures``."""
        out = np.tile(self.start, (len(curvatures), 1))
        out[:, self.names.index("curvature")] = curvatures
        return out

    def _columns(self, thetas):
        th = np.atleast_2d(np.asarray(thetas, dtype=float))
        return {name: th[:, i][:, None, None] for i, name in enumerate(self.names)}

    def model(self, thetas):
        """``(g_min, g_max, a0, wake pulses, up RegionArrays, down RegionArrays, bin weights)`` of
        parameter vectors (batch, n), each array (batch, 1, bins)."""
        c = self._columns(thetas)
        law = dict(exponent=np.exp(c["ln_exponent"]), curvature=c["curvature"], spread=np.exp(c["ln_time_spread"]),
                   log_rc_time=self._log_rc_time(c))
        log_up = c["ln_v_up"] + np.exp(c["ln_spread_up"]) * self.z
        log_down = c["ln_v_down"] + np.exp(c["ln_spread_down"]) * self.z
        weights = np.ones_like(log_up) / self.bins
        if self.tail:
            share = special.expit(c["logit_tail"])
            spread = np.exp(c["ln_tail_spread"])
            log_up = np.concatenate([log_up, c["ln_tail_v_up"] + spread * self.z_tail], axis=-1)
            log_down = np.concatenate([log_down, c["ln_tail_v_down"] + spread * self.z_tail], axis=-1)
            weights = np.concatenate([(1.0 - share) * weights,
                                      np.broadcast_to(share / self.tail_bins, share.shape[:2] + (self.tail_bins,))], -1)
        a0, n_wake = (special.expit(c["logit_a0"]), 10.0 ** c["lg_wake_pulses"]) if self.wake_up else (1.0, 1.0)
        return (10.0 ** c["lg_g_min"], 10.0 ** c["lg_g_max"], a0, n_wake, RegionArrays(log_up, **law),
                RegionArrays(log_down, **law), weights)

    def _log_rc_time(self, c):
        """``ln(R_s C / 1 s)`` of the columns ``c`` (None: ideal source)."""
        if self.series is None:
            return None
        r_series, capacitance = self.series
        if r_series == "fit":
            return _LN10 * c["lg_r_series"] + math.log(capacitance)
        return math.log(r_series * capacitance) if r_series > 0 else None

    def r_series_ohm(self, c):
        """The series resistance of the columns ``c`` (0 without), ohms."""
        if self.series is None:
            return 0.0
        return 10.0 ** c["lg_r_series"] if self.series[0] == "fit" else float(self.series[0])

    def simulate(self, thetas):
        """Fitted conductances, shape (batch, files, pulses), for parameter vectors (batch, n)."""
        return self.predict(*self.model(thetas))

    def predict(self, g_min, g_max, a0, n_wake, up, down, weights):
        """Conductances (batch, files, pulses) of the model given as arrays (batch, 1, bins) (see :meth:`model`).

        Every file starts from its first measured conductance with all bins at the same switched
        fraction (a freshly programmed film) and is stepped through its pulses.
        """
        a = self.arrays
        batch = ParameterBatch(g_min_s=g_min, g_max_s=g_max, populations=((1.0, up, down),),
                               potentiation_polarity=self.sign, wake_up_initial_fraction=a0, wake_up_pulses=n_wake)
        span = (g_max - g_min) * (active_fraction(batch, a.pulses_before[None, :, None]) if self.wake_up else 1.0)
        x0 = window_fraction(a.g[None, :, 0:1], g_min, span, NUMPY)  # (batch, files, 1)
        state = np.broadcast_to(x0, x0.shape[:2] + (weights.shape[-1],))[..., None]  # bins x one population
        column = lambda v: v[:, 1:].T[..., None]  # noqa: E731  (pulses - 1, files, 1)
        steps = hzo.apply_pulse_sequence_state(state, column(a.count), batch, column(a.amp), column(a.width))
        x = np.sum(steps[..., 0] * weights[None], axis=-1)  # (pulses - 1, batch, files)
        out = np.empty((x.shape[1],) + a.g.shape)
        out[:, :, 0] = a.g[:, 0]
        out[:, :, 1:] = np.moveaxis(window_conductance(x, g_min[..., 0], span[..., 0]), 0, -1)
        return out

    def params_from(self, theta):
        """The :class:`~memcosim.devices.hzo_kinetics.HZOKineticsParams` of a fitted vector."""
        c = {k: float(v[0, 0, 0]) for k, v in self._columns(theta).items()}
        extra = {}
        if self.tail:
            extra = dict(tail_fraction=float(special.expit(c["logit_tail"])),
                         tail_switching_voltage_up_v=math.exp(c["ln_tail_v_up"]),
                         tail_switching_voltage_down_v=math.exp(c["ln_tail_v_down"]),
                         tail_voltage_spread=math.exp(c["ln_tail_spread"]), tail_bins=self.tail_bins)
        if self.wake_up:
            extra.update(wake_up_initial_fraction=float(special.expit(c["logit_a0"])),
                         wake_up_pulses=10.0 ** c["lg_wake_pulses"])
        if self.series is not None:
            extra.update(r_series_ohm=min(self.r_series_ohm(c), R_SERIES_MAX_OHM), capacitance_f=self.series[1])
        law = FieldLaw(exponent=math.exp(c["ln_exponent"]), curvature=c["curvature"],
                       time_spread=math.exp(c["ln_time_spread"]))
        return HZOKineticsParams(g_min_s=10.0 ** c["lg_g_min"], g_max_s=10.0 ** c["lg_g_max"],
                                 potentiation_polarity=self.sign, law=law,
                                 switching_voltage_up_v=math.exp(c["ln_v_up"]),
                                 switching_voltage_down_v=math.exp(c["ln_v_down"]),
                                 voltage_spread_up=math.exp(c["ln_spread_up"]),
                                 voltage_spread_down=math.exp(c["ln_spread_down"]), bins=self.bins, **extra)


def _arrays_of(params):
    """:meth:`_KineticsProblem.predict`'s arrays (batch 1) of fixed parameters."""
    pops = params.populations
    law = params.law
    stack = lambda k: np.log([[[getattr(p[k], "switching_voltage_v") for p in pops]]])  # noqa: E731
    log_rc = math.log(params.rc_time_s) if params.rc_time_s > 0 else None
    up = RegionArrays(stack(1), law.exponent, law.curvature, law.time_spread, log_rc)
    down = RegionArrays(stack(2), law.exponent, law.curvature, law.time_spread, log_rc)
    weights = np.array([[[p[0] for p in pops]]])
    full = lambda v: np.full((1, 1, 1), v)  # noqa: E731
    return (full(params.g_min_s), full(params.g_max_s), full(params.wake_up_initial_fraction),
            full(params.wake_up_pulses), up, down, weights)


def score_kinetics(params, sweeps, pulses_before):
    """Score fixed kinetics-model parameters on sweeps exactly as :func:`fit_hzo_kinetics` scores its
    files (as :func:`~memcosim.devices.calibrate_hzo.score_hzo` does for today's model).

    Returns
    -------
    files : list of dict
        As ``FitResult.files``.
    curves : list of (ndarray, ndarray)
        Measured and predicted conductance per sweep, siemens.
    """
    if len(pulses_before) != len(sweeps):
        raise CalibrationError(f"pulses_before: need one count per sweep ({len(sweeps)}), got {len(pulses_before)}")
    arrays = SweepArrays(sweeps, pulses_before)
    problem = _KineticsProblem(arrays, params.potentiation_polarity, tail=False,
                               wake_up=params.wake_up_initial_fraction < 1.0)
    return arrays.score(problem.predict(*_arrays_of(params))[0])


def _series(r_series_ohm, capacitance_f):
    """The problem's ``series`` of :func:`fit_hzo_kinetics`'s arguments (checked)."""
    if not (r_series_ohm == "fit" or (isinstance(r_series_ohm, (int, float)) and math.isfinite(r_series_ohm)
                                      and 0.0 <= r_series_ohm <= R_SERIES_MAX_OHM)):
        raise CalibrationError(f"r_series_ohm: must be 'fit' or in [0, {R_SERIES_MAX_OHM:g}] ohm, got {r_series_ohm!r}")
    if r_series_ohm == 0:
        return None
    if not (isinstance(capacitance_f, (int, float)) and math.isfinite(capacitance_f) and 0.0 < capacitance_f <= 1e-6):
        raise CalibrationError(f"capacitance_f: a series resistance acts through the device's capacitance; "
                               f"must be in (0, 1e-6] farad, got {capacitance_f!r}")
    return (r_series_ohm if r_series_ohm == "fit" else float(r_series_ohm)), float(capacitance_f)


def fit_hzo_kinetics(sweeps, tail=True, wake_up=None, bins=16, tail_bins=8, starts=(0.3, 1.5), reweight_rounds=4,
                     max_nfev=100, jacobian="batched", progress=False, history=(), subsample_pulses=SUBSAMPLE_PULSES,
                     r_series_ohm=0.0, capacitance_f=None):
    """Jointly fit the switching-kinetics model to sweeps of one device.

    Parameters
    ----------
    sweeps : list of PulseSweep
        Measured sweeps of one device (any pulse widths).
    tail : bool
        Fit a second family of regions (the tail of high switching voltages).
    wake_up : bool, optional
        Fit the film's wake-up along the device's timeline. Default: when there are two or more sweeps.
    bins, tail_bins : int
        Quantile bins of each family (domain populations of the fitted device).
    starts : sequence of float
        Curvatures ``n`` the fit starts from (the best worst-file r^2 is kept).
    reweight_rounds, max_nfev, jacobian, progress, subsample_pulses
        As :func:`~memcosim.devices.calibrate_hzo.fit_hzo`.
    history : sequence of PulseSweep
        Other sweeps the device took (held out of the fit): their pulses count on the wake-up
        timeline; their conductances are not used.
    r_series_ohm : float or "fit"
        Series resistance of the setup the pulses reach the film through, ohms, in
        ``[0, R_SERIES_MAX_OHM]`` (0: an ideal source, the model without it), or ``"fit"``: one
        value for the device, fitted with the rest.
    capacitance_f : float, optional
        The device's linear capacitance, farads (``(0, 1e-6]``; e.g. ``eps0 eps_r area / thickness``);
        needed with a series resistance, which acts through ``R_s C``.

    Returns
    -------
    FitResult
        ``model`` ``"hzo_kinetics"``, ``params`` an :class:`~memcosim.devices.hzo_kinetics.HZOKineticsParams`.

    Raises
    ------
    CalibrationError
        As :func:`~memcosim.devices.calibrate_hzo.fit_hzo`, or bad ``bins`` / ``starts``.
    """
    check_jacobian(jacobian)
    check_sweeps(sweeps)
    for name, value in (("bins", bins), ("tail_bins", tail_bins)):
        if not (isinstance(value, int) and 1 <= value <= 128):
            raise CalibrationError(f"{name}: must be an integer in [1, 128], got {value!r}")
    starts = tuple(starts)
    if not starts or not all(isinstance(n, (int, float)) and 0.0 <= n <= 3.0 for n in starts):
        raise CalibrationError(f"starts: must be curvatures in [0, 3], got {starts!r}")
    check_subsample(subsample_pulses)
    series = _series(r_series_ohm, capacitance_f)
    sign, timeline, arrays = prepared(sweeps, history)
    wake = len(sweeps) >= 2 if wake_up is None else bool(wake_up)
    problem = _KineticsProblem(arrays, sign, tail, wake, bins, tail_bins, series)
    windows = arrays.windows(subsample_pulses) if subsample_pulses else None
    coarse = None
    if windows is not None:
        coarse = (_KineticsProblem(windows, sign, tail, wake, bins, tail_bins, series).simulate, windows)
    theta, result = least_squares_fit(problem.simulate, arrays, problem.starts(starts), problem.lower, problem.upper,
                                      ", ".join(s.path for s in sweeps), reweight_rounds, max_nfev, jacobian, progress,
                                      runs_per_model=bins + (tail_bins if tail else 0), coarse=coarse)
    fitted = problem.simulate(theta)[0]
    files, curves = arrays.score(fitted)
    return FitResult("hzo_kinetics", problem.params_from(theta), files, arrays.overall_r2(fitted), bool(result.success),
                     result.message, curves, timeline)
