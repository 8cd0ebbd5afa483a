"""Fit device models to measured data (``memcosim calibrate``): read the files, fit, write.

* HZO pulse sweeps: :func:`~memcosim.devices.calibrate_hzo.fit_hzo` (joint fit across widths);
* MTJ resistance-voltage sweeps: :func:`~memcosim.devices.calibrate_mtj.fit_mtj`;
* :func:`read_held_out` and :func:`validate_fit` predict held-out HZO sweeps with the fitted
  model (:mod:`memcosim.devices.calibrate_validate`);
* :func:`write_calibration` writes ``device.json`` (loaded like a preset), ``fit_report.json``
  and a plot per file.

:class:`FitResult`, :func:`fit_hzo`, :func:`fit_mtj` and :func:`validate_fit` are importable from here.
"""

import math
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate_hzo import fit_hzo
from memcosim.devices.calibrate_mtj import fit_mtj
from memcosim.devices.calibrate_validate import validate_fit
from memcosim.devices.fit_result import FitResult
from memcosim.devices.measurements import read_sweep

__all__ = ["FitResult", "fit_hzo", "fit_mtj", "validate_fit", "calibrate_files", "read_held_out", "write_calibration"]


def calibrate_files(paths, model="hzo", populations=2, wake_up=None, progress=False):
    """Read measurement files and fit ``model`` (``"hzo"`` or ``"mtj"``; HZO options as in :func:`fit_hzo`).

    Raises
    ------
    CalibrationError
        Unreadable or invalid data, or a fit that explains (almost) none of a file (r^2 not a
        number or below :data:`MIN_R2`): that is not a calibration, and no ``device.json`` comes of it.
    """
    if model == "hzo":
        result = fit_hzo([read_sweep(p, progress=progress) for p in paths], populations=populations, wake_up=wake_up,
                         progress=progress)
    elif model == "mtj":
        result = fit_mtj(paths)
    else:
        raise CalibrationError(f"model: must be 'hzo' or 'mtj', got {model!r}")
    _check_fit(result)
    return result


MIN_R2 = 0.1
"""Smallest r^2 (per file and overall) a calibration is written with: below it the model explains
less than a tenth of the data's variation (r^2 = 0: no better than the data's mean)."""


def _check_fit(result):
    """Refuse a fit whose r^2 is not a number or below :data:`MIN_R2` for any file (or overall)."""
    for name, r2 in [(f["path"], f["r2"]) for f in result.files] + [(", ".join(f["path"] for f in result.files), result.r2)]:
        if not (math.isfinite(r2) and r2 >= MIN_R2):
            why = ("the measured values do not vary" if math.isnan(r2) else "worse than the mean of the data" if r2 < 0
                   else f"it explains less than {MIN_R2:.0%} of the data's variation (allowed: r^2 >= {MIN_R2:g})")
            raise CalibrationError(f"{name}: the {result.model} model does not fit this data (r^2 = {r2:.3g}: {why}); "
                                   "check the file's units and columns")


def read_held_out(paths, fitted_paths, progress=False):
    """Read sweeps held out of a fit, for :func:`validate_fit`; call it before fitting.

    Raises
    ------
    CalibrationError
        A file that is also among ``fitted_paths`` (it is not held out), or unreadable or invalid
        data (as for the fitted files).
    """
    for p in paths:
        if any(Path(p).resolve() == Path(f).resolve() for f in fitted_paths):
            raise CalibrationError(f"{p}: held out for validation but also among the fitted files; "
                                   "validate on files the fit has not seen")
    return [read_sweep(p, progress=progress) for p in paths]


def write_calibration(result, out_dir, version="", plots=True, validation=None):
    """Write ``device.json``, ``fit_report.json`` and PNG plots into ``out_dir``.

    ``validation`` (the scores of :func:`validate_fit`, optional) is written into
    ``fit_report.json`` under ``"validation"``.

    Returns
    -------
    dict
        The paths written, by kind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = {"model": result.model, "params": result.params.to_dict(), "memcosim_version": version,
              "fitted_from": [f["path"] for f in result.files]}
    report = {"model": result.model, "r2": result.r2, "success": result.success,
              "message": result.message, "files": result.files}
    if validation is not None:
        report["validation"] = validation
    write_json_atomic(out / "fit_report.json", report)
    write_json_atomic(out / "device.json", device)  # last: its presence means a finished calibration
    written = {"device": str(out / "device.json"), "report": str(out / "fit_report.json"), "plots": []}
    if plots:
        written["plots"] = _plot_fits(result, out)
    return written


def _plot_fits(result, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for info, (measured, fitted) in zip(result.files, result.curves):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(measured, "k.", ms=3, label="measured")
        ax.plot(fitted, "r-", lw=1.2, label="fitted")
        width = info.get("pulse_width_s")
        title = Path(info["path"]).name + (f"  (w = {width:.3g} s)" if width else "")
        ax.set_title(f"{title}\nr2 = {info['r2']:.4f}", fontsize=8)
        ax.set_xlabel("pulse number")
        ax.set_ylabel("conductance (S)" if result.model == "hzo" else "R_AP (ohm)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = out / f"fit_{Path(info['path']).stem}.png"
        fig.savefig(name, dpi=90)
        plt.close(fig)
        paths.append(str(name))
    return paths
