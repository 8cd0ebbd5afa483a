"""Held-out validation of an HZO calibration (``memcosim calibrate FILES --validate HELDOUT``).

A fit that reproduces the sweeps it was fitted on says little about pulses it has not seen.
:func:`validate_fit` drives the *fitted* model with the measured pulse sequence of sweeps that
were not in the fit and scores the prediction exactly as the fit scores its own files
(:func:`~memcosim.devices.calibrate_hzo.score_hzo`, the fit's own model stepping and r^2): each
sweep starts from its first measured conductance and every later read is compared.

Wake-up: the fit records the device's timeline (``FitResult.timeline``: the fitted sweeps and
the ``history`` it was given, e.g. the held-out sweeps, in measurement order, each with all its
runs; :func:`~memcosim.devices.sweep_fit.device_timeline`). A held-out sweep on that timeline
keeps its place; another one has taken the pulses of the timeline's sweeps measured before it (all
of them when a timestamp is missing). Both HZO models (``hzo`` and ``hzo_kinetics``) are predicted
this way, each with its own stepping.
"""

import logging
import math
from pathlib import Path

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate_hzo import score_hzo
from memcosim.devices.calibrate_kinetics import score_kinetics
from memcosim.devices.fit_result import FitResult
from memcosim.devices.sweep_fit import TimelineEntry, pulses_before_on

__all__ = ["validate_fit", "predict_held_out", "HZO_MODELS"]

HZO_MODELS = {"hzo": score_hzo, "hzo_kinetics": score_kinetics}
"""The HZO models a calibration can fit, each with the function that scores fixed parameters on sweeps."""

log = logging.getLogger(__name__)


def _timeline(result):
    """The fit's timeline; for a result without one, its fitted files in their recorded places."""
    if result.timeline:
        return result.timeline
    return [TimelineEntry(str(Path(f["path"]).resolve()), f.get("measured_at"), f["n_pulses"], f["pulses_before"])
            for f in result.files]


def _pulses_before(timeline, sweep):
    resolved = {str(Path(e.path).resolve()): e for e in timeline}
    entry = resolved.get(str(Path(sweep.path).resolve()))
    return entry.pulses_before if entry else pulses_before_on(timeline, sweep)


def validate_fit(result, sweeps):
    """Predict measured sweeps with a fitted HZO model and score the prediction.

    Parameters
    ----------
    result : FitResult
        An HZO calibration of either model (:func:`~memcosim.devices.calibrate.calibrate_files`,
        :func:`~memcosim.devices.calibrate_hzo.fit_hzo`,
        :func:`~memcosim.devices.calibrate_kinetics.fit_hzo_kinetics`); its parameters and its
        wake-up timeline are used.
    sweeps : list of PulseSweep
        Sweeps to predict, normally ones the fit never saw (held out). A sweep that was fitted
        reproduces the fit's own score for it.

    Returns
    -------
    list of dict
        Per sweep, in the order given: ``path``, ``device_id``, ``pulse_width_s`` (the sweep's
        nominal pulse width, seconds), ``n_points`` (reads compared), ``r2``, ``rmse_s``
        (root-mean-square conductance error, siemens), ``pulses_before``, ``n_pulses``,
        ``measured_at``. r^2 below 0 means the prediction is worse than the sweep's mean;
        it is reported, not refused.

    Raises
    ------
    CalibrationError
        ``result`` not an HZO fit, no sweeps, a sweep whose conductance never changes (no r^2),
        a prediction that is not a number, or a fit without the per-file timeline.

    Notes
    -----
    Cost: one model run over the longest sweep, all sweeps stepped together.
    """
    return predict_held_out(result, sweeps)[0]


def predict_held_out(result, sweeps):
    """:func:`validate_fit`'s scores and the predicted trajectories.

    Returns
    -------
    files : list of dict
        As :func:`validate_fit`.
    curves : list of (ndarray, ndarray)
        Measured and predicted conductance (siemens) after every pulse of each sweep.
    """
    if not isinstance(result, FitResult) or result.model not in HZO_MODELS:
        got = result.model if isinstance(result, FitResult) else type(result).__name__
        raise CalibrationError(f"validate: only an HZO calibration (FitResult with model {' or '.join(map(repr, HZO_MODELS))}) "
                               f"can be validated, got {got}")
    if not sweeps:
        raise CalibrationError("validate: no held-out files")
    missing = [f["path"] for f in result.files if "n_pulses" not in f or "pulses_before" not in f]
    if missing and not result.timeline:
        raise CalibrationError(f"validate: the fit does not record its sweeps' pulse counts ({missing[0]}); refit it")
    for s in sweeps:
        if np.ptp(s.conductance_s) <= 1e-9 * np.max(s.conductance_s):
            raise CalibrationError(f"{s.path}: the conductance never changes ({s.conductance_s[0]:g} S on every "
                                   "pulse): there is no switching to predict")
    fitted_ids = {str(f.get("device_id")) for f in result.files}
    for s in sweeps:
        if s.device_id not in fitted_ids:
            log.warning("%s: device %s was not among the fitted devices %s", s.path, s.device_id, sorted(fitted_ids))
    timeline = _timeline(result)
    files, curves = HZO_MODELS[result.model](result.params, sweeps, [_pulses_before(timeline, s) for s in sweeps])
    for f in files:
        if not (math.isfinite(f["r2"]) and math.isfinite(f["rmse_s"])):
            raise CalibrationError(f"{f['path']}: the fitted HZO model gives no finite prediction for this sweep "
                                   f"(r^2 = {f['r2']:.3g})")
    return files, curves
