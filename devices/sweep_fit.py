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
           "check_sweeps", "check_jacobian", "prepared"]

log = logging.getLogger(__name__)


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

    def r2(self, fitted):
        """r^2 of every file for fitted conductances (files, pulses)."""
        return np.array([r_squared(self.g[i, m], fitted[i, m]) for i, m in enumerate(self.compared)])

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


def least_squares_fit(simulate, arrays, starts, lower, upper, where, reweight_rounds=5, max_nfev=100,
                      jacobian="batched", progress=False, runs_per_model=1.0):
    """Fit parameter vectors to the sweeps of ``arrays`` by reweighted least squares.

    ``simulate(thetas)`` maps parameter vectors (batch, n) to conductances (batch, files,
    pulses). Each file's residuals are scaled by its own spread; the weights are re-balanced
    ``reweight_rounds - 1`` times towards the worst-fitted files (the acceptance criterion is the
    r^2 of *every* file). ``starts``: one start vector (n,) or several (k, n): the first round runs
    from each and the rounds after it continue from the one whose worst file fits best.
    ``jacobian="batched"``: forward differences in one batched model run; ``"2-point"``: scipy's
    own, one run per parameter.

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
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    rounds = max(1, reweight_rounds)
    from tqdm import tqdm

    bar = tqdm(total=len(starts) * max_nfev + (rounds - 1) * max(1, max_nfev // 2), desc="calibrate (model runs)",
               unit="run", disable=not progress, leave=False)

    def solve(theta, weights, nfev):
        def residuals(th):
            bar.update(1)
            return (weights * (simulate(th[None, :])[0] - arrays.g) / arrays.scale)[arrays.compared]

        def batched_jacobian(th):
            bar.update(1)
            h = 1e-6 * np.maximum(1.0, np.abs(th))
            h = np.where(th + h > upper, -h, h)  # step inwards at a bound
            r = (weights * (simulate(np.vstack([th, th + np.diag(h)])) - arrays.g) / arrays.scale)[:, arrays.compared]
            return ((r[1:] - r[0]) / h[:, None]).T

        try:
            result = optimize.least_squares(residuals, theta, jac=batched_jacobian if jacobian == "batched" else "2-point",
                                            bounds=(lower, upper), x_scale="jac", max_nfev=nfev, ftol=1e-10, xtol=1e-10)
        except ValueError as exc:  # non-finite model output at the start or on the way
            raise CalibrationError(f"{where}: the model cannot be fitted to these sweeps ({exc})") from None
        return result, arrays.r2(simulate(result.x[None, :])[0])

    try:
        ones = np.ones((len(arrays.sweeps), 1))
        first = [solve(np.clip(start, lower, upper), ones, max_nfev) for start in starts]
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
    finally:
        bar.close()
    return best[1], result
