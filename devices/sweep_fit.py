"""What every HZO calibration shares: measured sweeps as padded arrays, the device's wake-up
timeline, scores, and the reweighted least-squares fit with a batched Jacobian.

The HZO models (:mod:`~memcosim.devices.calibrate_hzo`, today's NLS populations;
:mod:`~memcosim.devices.calibrate_kinetics`, the field-law model) differ only in how a parameter
vector becomes conductances (a ``simulate(thetas) -> (batch, files, pulses)`` function); the data
layout, the timeline, the weighting and the scoring are this module's, so the two are fitted and
scored the same way.

Timeline: wake-up follows the pulses the film has taken. :func:`device_timeline` places every
sweep of a device -- those fitted and any others known to have been applied (``history``, e.g.
sweeps held out of the fit: their pulse sequences are experimental settings, only their
conductances are held out) -- in measurement order, each counting all its runs
(``PulseSweep.repetitions``); a sweep starts after everything measured before it plus its own
earlier runs (``PulseSweep.recorded_run``).
"""

import logging
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from memcosim.base.errors import CalibrationError
from memcosim.base.memory import check_memory
from memcosim.devices.fit_result import r_squared

__all__ = ["TimelineEntry", "device_timeline", "pulses_before_on", "SweepArrays", "polarity", "least_squares_fit",
           "check_sweeps", "check_jacobian", "check_subsample", "prepared", "SUBSAMPLE_PULSES", "WINDOW_PULSES"]

log = logging.getLogger(__name__)

SUBSAMPLE_PULSES = 2048
"""Sweeps holding more pulses than this are fitted coarse to fine (:func:`least_squares_fit`):
first on windows of about this many pulses (:meth:`SweepArrays.windows`), then refined on all."""

WINDOW_PULSES = 256
"""Consecutive pulses of one window of a long sweep in the coarse fit."""


@dataclass(frozen=True)
class TimelineEntry:
    """One sweep on a device's wake-up timeline."""

    path: str
    """The sweep's file."""
    measured_at: str | None
    """When it was measured (ISO 8601), or None."""
    pulses: int
    """Pulses of all its runs (``n_points * repetitions``)."""
    pulses_before: int
    """Pulses the device took before the recorded run."""

    def to_json(self):
        return {"path": self.path, "measured_at": self.measured_at, "pulses": self.pulses,
                "pulses_before": self.pulses_before}

    @classmethod
    def from_json(cls, data):
        return cls(str(data["path"]), data.get("measured_at"), int(data["pulses"]), int(data["pulses_before"]))


def _runs_before(sweep):
    return getattr(sweep, "recorded_run", 1) - 1


def device_timeline(sweeps, history=()):
    """The wake-up timeline of ``sweeps`` and the other sweeps ``history`` of the same device.

    In measurement order when every sweep has a timestamp, else in the order given (``sweeps``
    then ``history``). Each sweep counts ``n_points * repetitions`` pulses; its recorded run
    starts after the pulses of every sweep before it and its own ``recorded_run - 1`` runs.

    Returns
    -------
    list of TimelineEntry
        In timeline order.
    """
    everything, seen = [], set()
    for s in list(sweeps) + list(history):
        if s.path not in seen:
            seen.add(s.path)
            everything.append(s)
    if all(s.measured_at for s in everything):
        everything.sort(key=lambda s: s.measured_at)
    entries, count = [], 0
    for s in everything:
        runs = getattr(s, "repetitions", 1)
        entries.append(TimelineEntry(s.path, s.measured_at, s.n_points * runs, count + s.n_points * _runs_before(s)))
        count += s.n_points * runs
    return entries


def pulses_before_on(timeline, sweep):
    """Pulses ``sweep`` took before its recorded run on ``timeline`` (a list of TimelineEntry).

    A sweep on the timeline keeps its place; another one is placed after the timeline's sweeps
    measured before it (all of them when a timestamp is missing), plus its own earlier runs.
    """
    for entry in timeline:
        if entry.path == sweep.path:
            return entry.pulses_before
    own = sweep.n_points * _runs_before(sweep)
    if sweep.measured_at and all(e.measured_at for e in timeline):
        return own + sum(e.pulses for e in timeline if e.measured_at < sweep.measured_at)
    return own + sum(e.pulses for e in timeline)


def check_jacobian(jacobian):
    """Refuse an unknown Jacobian option (before any work)."""
    if jacobian not in ("batched", "2-point"):
        raise CalibrationError(f"jacobian: must be 'batched' or '2-point', got {jacobian!r}")


def check_subsample(subsample_pulses):
    """Refuse a ``subsample_pulses`` that is neither None nor a positive integer (before any work)."""
    if subsample_pulses is not None and not (isinstance(subsample_pulses, int) and subsample_pulses >= 1):
        raise CalibrationError(f"subsample_pulses: must be None or an integer >= 1, got {subsample_pulses!r}")


def check_sweeps(sweeps, what="calibrate"):
    """Refuse no sweeps, or a sweep whose conductance never changes (nothing to fit or score)."""
    if not sweeps:
        raise CalibrationError(f"{what}: no input files")
    for s in sweeps:
        if np.ptp(s.conductance_s) <= 1e-9 * np.max(s.conductance_s):
            raise CalibrationError(f"{s.path}: the conductance never changes ({s.conductance_s[0]:g} S on every pulse): "
                                   "there is no switching to fit")


def polarity(sweeps):
    """Sign of the amplitude that raises the conductance, from the data."""
    votes = 0.0
    for s in sweeps:
        dg = np.diff(s.conductance_s)
        votes += float(np.sum(np.sign(s.pulse_amplitude_v[1:]) * dg))
    return 1 if votes > 0 else -1


def prepared(sweeps, history=()):
    """``(polarity, timeline, SweepArrays)`` of sweeps about to be fitted (a warning when they come
    from several devices)."""
    ids = sorted({s.device_id for s in sweeps})
    if len(ids) > 1:
        log.warning("fitting sweeps of several devices jointly: %s", ids)
    timeline = device_timeline(sweeps, history)
    return polarity(sweeps), timeline, SweepArrays(sweeps, [pulses_before_on(timeline, s) for s in sweeps])


class SweepArrays:
    """Sweeps padded into (files, pulses) arrays, with their places on the wake-up timeline.

    A shorter sweep is padded with steps of no pulse (count 0; amplitude and width unused). The
    first read of every sweep is its initial state, not a prediction: ``compared`` leaves it out.
    """

    def __init__(self, sweeps, pulses_before):
        self.sweeps = list(sweeps)
        n_files, length = len(self.sweeps), max(s.n_points for s in self.sweeps)
        self.amp = np.ones((n_files, length))
        self.width = np.ones((n_files, length))
        self.count = np.zeros((n_files, length))
        self.g = np.full((n_files, length), np.nan)
        for i, s in enumerate(self.sweeps):
            self.amp[i, : s.n_points] = s.pulse_amplitude_v
            self.width[i, : s.n_points] = s.pulse_width_s
            self.count[i, : s.n_points] = 1.0
            self.g[i, : s.n_points] = s.conductance_s
        self.compared = ~np.isnan(self.g)
        self.compared[:, 0] = False
        self.scale = np.array([np.nanstd(s.conductance_s) or 1.0 for s in self.sweeps])[:, None]
        self.pulses_before = np.asarray(pulses_before, dtype=float)
        self.file = np.arange(n_files)
        """The sweep of every row (a row is a whole sweep here, a window of one in :meth:`windows`)."""

    @property
    def pulses(self):
        """Measured pulses of all rows (each row's first read included)."""
        return int(self.count.sum())

    def windows(self, max_pulses, window=WINDOW_PULSES):
        """A deterministic subsample of about ``max_pulses`` pulses for a coarse fit, or None when the
        sweeps hold no more than ``max_pulses`` pulses.

        A sweep of at most ``window`` pulses is kept whole; a longer one contributes evenly spaced
        windows of ``window`` consecutive pulses (its first window among them), its share of
        ``max_pulses`` in proportion to its length. A window is a row of the returned arrays: it
        starts, as a sweep does, from its first measured conductance, at its sweep's place on the
        wake-up timeline, and is weighted and scored with its sweep (the sweep's spread; :meth:`r2`
        pools a sweep's windows; :meth:`score` and :meth:`overall_r2` are for whole sweeps only).
        Cost ``O(max_pulses)``.
        """
        lengths = self.count.sum(axis=1).astype(int)
        total = int(lengths.sum())
        if total <= max_pulses:
            return None
        spans = []
        for i, n in enumerate(lengths):
            k = max(1, round(max_pulses * n / total / window)) if n > window else 1
            spans += [(i, int(a), int(min(n, window))) for a in np.round(np.linspace(0, max(0, n - window), k))]
        sub = object.__new__(SweepArrays)  # rows are windows: no __init__ from whole sweeps
        sub.sweeps, sub.file = self.sweeps, np.array([i for i, _, _ in spans])
        shape = (len(spans), max(n for _, _, n in spans))
        sub.amp, sub.width, sub.count, sub.g = np.ones(shape), np.ones(shape), np.zeros(shape), np.full(shape, np.nan)
        for row, (i, a, n) in enumerate(spans):
            for name in ("amp", "width", "count", "g"):
                getattr(sub, name)[row, :n] = getattr(self, name)[i, a : a + n]
        sub.compared = ~np.isnan(sub.g)
        sub.compared[:, 0] = False
        sub.scale, sub.pulses_before = self.scale[sub.file], self.pulses_before[sub.file]
        return sub

    def r2(self, fitted):
        """r^2 of every sweep for fitted conductances (rows, pulses); a sweep's windows are pooled."""
        pooled = lambda a, rows: np.concatenate([a[r, self.compared[r]] for r in rows])  # noqa: E731
        rows = [np.flatnonzero(self.file == i) for i in range(len(self.sweeps))]
        return np.array([r_squared(pooled(self.g, r), pooled(fitted, r)) for r in rows])

    def overall_r2(self, fitted):
        """Pooled over files, each file's points around its own mean (one file: the file's r^2)."""
        m = self.compared
        res = sum(float(np.sum((self.g[i, k] - fitted[i, k]) ** 2)) for i, k in enumerate(m))
        tot = sum(float(np.sum((self.g[i, k] - self.g[i, k].mean()) ** 2)) for i, k in enumerate(m))
        return 1.0 - res / tot

    def score(self, fitted):
        """Per-file scores (``FitResult.files`` entries) and (measured, fitted) curves of ``fitted`` (files, pulses)."""
        files, curves = [], []
        for i, (s, mask) in enumerate(zip(self.sweeps, self.compared)):
            meas, fit = self.g[i, mask], fitted[i, mask]
            files.append({"path": s.path, "device_id": s.device_id, "pulse_width_s": s.nominal_width_s,
                          "n_points": int(mask.sum()), "r2": r_squared(meas, fit),
                          "rmse_s": float(np.sqrt(np.mean((meas - fit) ** 2))),
                          "pulses_before": int(self.pulses_before[i]), "n_pulses": s.n_points,
                          "measured_at": s.measured_at})
            curves.append((self.g[i, : s.n_points], fitted[i, : s.n_points]))
        return files, curves


def _solve(simulate, arrays, theta, weights, nfev, bounds, jacobian, where, bar):
    """One least-squares round from ``theta`` with per-sweep ``weights`` (sweeps, 1): the result and
    the r^2 of every sweep at its optimum."""
    row_weights = weights[arrays.file]

    def residuals(th):
        bar.update(1)
        return (row_weights * (simulate(th[None, :])[0] - arrays.g) / arrays.scale)[arrays.compared]

    def batched_jacobian(th):
        bar.update(1)
        h = 1e-6 * np.maximum(1.0, np.abs(th))
        h = np.where(th + h > bounds[1], -h, h)  # step inwards at a bound
        r = (row_weights * (simulate(np.vstack([th, th + np.diag(h)])) - arrays.g) / arrays.scale)[:, arrays.compared]
        return ((r[1:] - r[0]) / h[:, None]).T

    try:
        result = optimize.least_squares(residuals, theta, jac=batched_jacobian if jacobian == "batched" else "2-point",
                                        bounds=bounds, x_scale="jac", max_nfev=nfev, ftol=1e-10, xtol=1e-10)
    except ValueError as exc:  # non-finite model output at the start or on the way
        raise CalibrationError(f"{where}: the model cannot be fitted to these sweeps ({exc})") from None
    return result, arrays.r2(simulate(result.x[None, :])[0])


def least_squares_fit(simulate, arrays, starts, lower, upper, where, reweight_rounds=5, max_nfev=100,
                      jacobian="batched", progress=False, runs_per_model=1.0, coarse=None, refine_nfev=5):
    """Fit parameter vectors to the sweeps of ``arrays`` by reweighted least squares.

    ``simulate(thetas)`` maps parameter vectors (batch, n) to conductances (batch, files,
    pulses). Each file's residuals are scaled by its own spread; the weights are re-balanced
    ``reweight_rounds - 1`` times towards the worst-fitted files (the acceptance criterion is the
    r^2 of *every* file). ``starts``: one start vector (n,) or several (k, n): the first round runs
    from each and the rounds after it continue from the one whose worst file fits best.
    ``jacobian="batched"``: forward differences in one batched model run; ``"2-point"``: scipy's
    own, one run per parameter.

    Coarse to fine (long sweeps): with ``coarse = (simulate_windows, windows)``, a subsample of
    ``arrays`` (:meth:`SweepArrays.windows`) and its model, every round above runs on the
    windows, and one more round of at most ``refine_nfev`` model runs refines the best of them
    on all pulses, with the last weights (the better of the two on all pulses is returned). The
    cost of a model run is proportional to the pulses it steps, so the fit costs the rounds on
    the windows plus a few runs on everything.

    Returns
    -------
    theta : ndarray
        The parameter vector of the round with the best worst-file r^2.
    result : scipy.optimize.OptimizeResult
        The last round's result.
    """
    check_jacobian(jacobian)
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    n_params, n_compared = starts.shape[1], int(arrays.compared.sum())
    if n_compared < 2 * n_params:
        raise CalibrationError(f"{where}: {n_compared} measured pulse(s) cannot determine the {n_params} parameters "
                               f"of the model; need at least {2 * n_params}")
    # the batched Jacobian holds (parameters + 1) model runs of every pulse, a few arrays each
    check_memory(int(12 * 8 * (n_params + 1) * arrays.g.size * runs_per_model), f"calibration of {arrays.g.size} pulses",
                 "fit fewer or shorter sweeps")
    bounds = (np.asarray(lower, dtype=float), np.asarray(upper, dtype=float))
    rounds = max(1, reweight_rounds)
    fit_simulate, fit_arrays = coarse if coarse is not None else (simulate, arrays)
    from tqdm import tqdm

    total = len(starts) * max_nfev + (rounds - 1) * max(1, max_nfev // 2) + (refine_nfev if coarse is not None else 0)
    stage = f"calibrate, coarse on {fit_arrays.pulses} of {arrays.pulses} pulses" if coarse is not None else "calibrate"
    bar = tqdm(total=total, desc=f"{stage} (model runs)", unit="run", disable=not progress, leave=False)
    solve = lambda theta, weights, nfev: _solve(fit_simulate, fit_arrays, theta, weights, nfev,  # noqa: E731
                                                bounds, jacobian, where, bar)
    try:
        ones = np.ones((len(arrays.sweeps), 1))
        first = [solve(np.clip(start, *bounds), ones, max_nfev) for start in starts]
        scores = [r2.min() if np.all(np.isfinite(r2)) else -np.inf for _, r2 in first]
        result, r2 = first[int(np.argmax(scores))]
        log.info("calibrate: worst-file r2 of each start %s", np.round(scores, 4))
        best, weights = (np.min(r2), result.x.copy()), ones
        for _ in range(rounds - 1):
            spread = np.maximum(1.0 - r2, 1e-6)
            weights = weights * np.sqrt(spread / np.mean(spread))[:, None]
            result, r2 = solve(result.x, weights, max(1, max_nfev // 2))
            log.info("calibrate round: r2 per file %s", np.round(r2, 4))
            if np.min(r2) > best[0]:
                best = (np.min(r2), result.x.copy())
        if coarse is not None:
            bar.set_description(f"calibrate, refining on all {arrays.pulses} pulses (model runs)")
            start_r2 = arrays.r2(simulate(best[1][None, :])[0])
            result, r2 = _solve(simulate, arrays, best[1], weights, refine_nfev, bounds, jacobian, where, bar)
            log.info("calibrate: worst-file r2 on all pulses %.4f coarse, %.4f refined", start_r2.min(), r2.min())
            if not np.min(start_r2) > np.min(r2):
                best = (np.min(r2), result.x.copy())
    finally:
        bar.close()
    return best[1], result
