"""The two standard held-out protocols of an HZO calibration over a pulse-width series
(``memcosim calibrate SERIES --split interleaved|extrapolate``).

A device model predicts pulse widths it was not fitted on only if its width dependence is right.
Two protocols score that on a series of sweeps of one device at different widths:

* ``interleaved``: the distinct widths in order, every other one fitted and the rest predicted,
  then the other way round (two fits), so every file is predicted once by a fit that saw its
  neighbours in width on both sides (interpolation);
* ``extrapolate``: the three widths a decade apart at the short end (nearest the shortest width
  ``w0``, ``10 w0`` and ``100 w0``) are fitted, every other width is predicted (one fit); a
  prediction is ``log10(w / w_fit_max)`` decades beyond the fitted widths ("measure three pulse
  widths, know the other decades").

Files of one width go together (both fitted or both held out). Each fit places the held-out
sweeps' pulses on the device's wake-up timeline (their pulse sequences are settings of the
experiment; only their conductances are held out), and every held-out sweep is predicted from
its first measured conductance with the fit's own stepping and scored as the fit scores its own
files (:func:`~memcosim.devices.calibrate_validate.predict_held_out`).
"""

import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import CalibrationError

__all__ = ["PROTOCOLS", "MIN_WIDTHS", "SplitFold", "split_folds", "series_by_device", "run_split"]

PROTOCOLS = ("interleaved", "extrapolate")
MIN_WIDTHS = 4
"""Distinct pulse widths a series needs for either protocol."""
_WIDTH_RTOL = 0.01


@dataclass(frozen=True)
class SplitFold:
    """One fit of a protocol: which sweeps are fitted and which are predicted."""

    name: str
    """``"even"``/``"odd"`` (interleaved: which widths are fitted) or ``"short"`` (extrapolate)."""
    fitted: tuple
    """The fitted sweeps (PulseSweep)."""
    held_out: tuple
    """The predicted sweeps."""

    @property
    def fitted_widths_s(self):
        return sorted({s.nominal_width_s for s in self.fitted})


def _widths(sweeps):
    """The distinct nominal widths (seconds, ascending), files within 1 % sharing one."""
    widths = []
    for w in sorted(s.nominal_width_s for s in sweeps):
        if not widths or w > widths[-1] * (1 + _WIDTH_RTOL):
            widths.append(w)
    return widths


def _width_of(sweep, widths):
    return min(widths, key=lambda w: abs(math.log(sweep.nominal_width_s / w)))


def split_folds(sweeps, protocol):
    """The fits of ``protocol`` on a series of one device's sweeps.

    Raises
    ------
    CalibrationError
        An unknown protocol, sweeps of several devices, or fewer than :data:`MIN_WIDTHS` widths.
    """
    if protocol not in PROTOCOLS:
        raise CalibrationError(f"split: must be one of {list(PROTOCOLS)}, got {protocol!r}")
    devices = sorted({s.device_id for s in sweeps})
    if len(devices) != 1:
        raise CalibrationError(f"split: a series is the sweeps of one device, got devices {devices}")
    widths = _widths(sweeps)
    if len(widths) < MIN_WIDTHS:
        raise CalibrationError(f"split: device {devices[0]} has {len(widths)} pulse width(s) "
                               f"({', '.join(f'{w:g}' for w in widths)} s); the protocols need at least {MIN_WIDTHS}")
    if protocol == "interleaved":
        chosen = [("even", set(widths[0::2])), ("odd", set(widths[1::2]))]
    else:
        fitted = []
        for decade in range(3):
            rest = [w for w in widths if w not in fitted]
            fitted.append(min(rest, key=lambda w: abs(math.log10(w / (widths[0] * 10.0**decade)))))
        chosen = [("short", set(fitted))]
    folds = []
    for name, fit_widths in chosen:
        fitted = tuple(s for s in sweeps if _width_of(s, widths) in fit_widths)
        held = tuple(s for s in sweeps if _width_of(s, widths) not in fit_widths)
        folds.append(SplitFold(name, fitted, held))
    return folds


def series_by_device(sweeps):
    """``{device_id: [sweeps]}`` in the order first seen, and ``{device_id: widths}`` of each."""
    groups = {}
    for s in sweeps:
        groups.setdefault(s.device_id, []).append(s)
    return groups, {d: _widths(g) for d, g in groups.items()}


def _decades(width, fitted_widths):
    """Decades beyond the fitted widths (0 inside them; negative below)."""
    if width > fitted_widths[-1] * (1 + _WIDTH_RTOL):
        return math.log10(width / fitted_widths[-1])
    if width < fitted_widths[0] * (1 - _WIDTH_RTOL):
        return math.log10(width / fitted_widths[0])
    return 0.0


def run_split(sweeps, protocol, fit, predict):
    """Run ``protocol`` on a series: fit every fold and predict its held-out sweeps.

    Parameters
    ----------
    sweeps : list of PulseSweep
        One device's series (at least :data:`MIN_WIDTHS` distinct widths).
    protocol : {"interleaved", "extrapolate"}
    fit : callable
        ``fit(fitted_sweeps, history) -> FitResult`` (``history``: the held-out sweeps, whose
        pulses count on the wake-up timeline).
    predict : callable
        ``predict(result, sweeps) -> (files, curves)``, e.g.
        :func:`~memcosim.devices.calibrate_validate.predict_held_out`.

    Returns
    -------
    rows : list of dict
        Per held-out sweep, ordered by width: ``fold``, ``path``, ``device_id``, ``pulse_width_s``,
        ``measured_at``, ``fitted_widths_s``, ``decades`` (beyond the fitted widths; 0 inside),
        ``n_points``, ``r2``, ``rmse_s`` (siemens), ``pulses_before``, the fold's worst in-fit
        r^2 ``fit_r2_min`` and its fitted parameters ``fitted_params`` (the model's ``to_dict``).
    curves : dict
        ``{path: (measured, predicted)}`` conductances (siemens) of every held-out sweep.
    """
    rows, curves = [], {}
    for fold in split_folds(sweeps, protocol):
        result = fit(list(fold.fitted), list(fold.held_out))
        files, predicted = predict(result, list(fold.held_out))
        fitted_widths = fold.fitted_widths_s
        fit_min = float(np.min([f["r2"] for f in result.files]))
        params = result.params.to_dict()
        for f, curve in zip(files, predicted):
            rows.append({"fold": fold.name, **{k: f[k] for k in ("path", "device_id", "pulse_width_s", "measured_at",
                                                                  "n_points", "r2", "rmse_s", "pulses_before")},
                         "fitted_widths_s": fitted_widths, "decades": _decades(f["pulse_width_s"], fitted_widths),
                         "fit_r2_min": fit_min, "fitted_params": params})
            curves[f["path"]] = curve
    rows.sort(key=lambda r: (r["pulse_width_s"], r["measured_at"] or "", r["path"]))
    return rows, curves
