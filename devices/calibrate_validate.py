"""Held-out validation of an HZO calibration (``memcosim calibrate FILES --validate HELDOUT``).

A fit that reproduces the sweeps it was fitted on says little about pulses it has not seen.
:func:`validate_fit` drives the *fitted* model with the measured pulse sequence of sweeps that
were not in the fit and scores the prediction exactly as the fit scores its own files
(:func:`~memcosim.devices.calibrate_hzo.score_hzo`, the fit's own model stepping and r^2): each
sweep starts from its first measured conductance and every later read is compared.

Wake-up: the fit counts the pulses the film took before each fitted sweep, over the fitted sweeps
in measurement order. A held-out sweep is placed on that same timeline: it has taken the pulses
of the fitted sweeps measured before it (held-out sweeps add none, so a sweep's prediction does
not depend on which other sweeps are held out). A sweep that was itself fitted keeps its place;
a sweep without a timestamp, or any sweep of a fit whose sweeps lack timestamps, is placed after
every fitted sweep.
"""

import logging
import math
from pathlib import Path

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate_hzo import score_hzo
from memcosim.devices.fit_result import FitResult

__all__ = ["validate_fit"]

log = logging.getLogger(__name__)


def _same_file(a, b):
    return Path(a).resolve() == Path(b).resolve()


def _pulses_before(fitted_files, sweep):
    """Pulses the device took before ``sweep`` on the timeline of the fit's ``fitted_files``."""
    for f in fitted_files:
        if _same_file(f["path"], sweep.path):
            return f["pulses_before"]
    if sweep.measured_at and all(f.get("measured_at") for f in fitted_files):
        return sum(f["n_pulses"] for f in fitted_files if f["measured_at"] < sweep.measured_at)
    return sum(f["n_pulses"] for f in fitted_files)


def validate_fit(result, sweeps):
    """Predict measured sweeps with a fitted HZO model and score the prediction.

    Parameters
    ----------
    result : FitResult
        An HZO calibration (:func:`~memcosim.devices.calibrate.calibrate_files` or
        :func:`~memcosim.devices.calibrate_hzo.fit_hzo`); its parameters and the timeline of
        its fitted sweeps (wake-up) are used.
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
    if not isinstance(result, FitResult) or result.model != "hzo":
        got = result.model if isinstance(result, FitResult) else type(result).__name__
        raise CalibrationError(f"validate: only an HZO calibration (FitResult with model 'hzo') can be validated, "
                               f"got {got}")
    if not sweeps:
        raise CalibrationError("validate: no held-out files")
    missing = [f["path"] for f in result.files if "n_pulses" not in f or "pulses_before" not in f]
    if missing:
        raise CalibrationError(f"validate: the fit does not record its sweeps' pulse counts ({missing[0]}); refit it")
    for s in sweeps:
        if np.ptp(s.conductance_s) <= 1e-9 * np.max(s.conductance_s):
            raise CalibrationError(f"{s.path}: the conductance never changes ({s.conductance_s[0]:g} S on every "
                                   "pulse): there is no switching to predict")
    fitted_ids = {str(f.get("device_id")) for f in result.files}
    for s in sweeps:
        if s.device_id not in fitted_ids:
            log.warning("%s: device %s was not among the fitted devices %s", s.path, s.device_id, sorted(fitted_ids))
    files, _ = score_hzo(result.params, sweeps, [_pulses_before(result.files, s) for s in sweeps])
    for f in files:
        if not (math.isfinite(f["r2"]) and math.isfinite(f["rmse_s"])):
            raise CalibrationError(f"{f['path']}: the fitted HZO model gives no finite prediction for this sweep "
                                   f"(r^2 = {f['r2']:.3g})")
    return files
