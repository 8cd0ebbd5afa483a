"""Fit device models to measured data (``memcosim calibrate``): read the files, fit, write.

* HZO pulse sweeps: :func:`~memcosim.devices.calibrate_hzo.fit_hzo` (``model="hzo"``: NLS
  populations, joint fit across widths) or :func:`~memcosim.devices.calibrate_kinetics.fit_hzo_kinetics`
  (``model="hzo_kinetics"``: one field law over a distribution of switching voltages);
* MTJ resistance-voltage sweeps: :func:`~memcosim.devices.calibrate_mtj.fit_mtj`;
* :func:`read_held_out` and :func:`validate_fit` predict held-out HZO sweeps with the fitted
  model (:mod:`memcosim.devices.calibrate_validate`); :func:`split_series` runs the standard
  held-out protocols on a width series (:mod:`memcosim.devices.calibrate_split`);
* :func:`write_calibration` writes ``device.json`` (loaded like a preset), ``fit_report.json``
  and a plot per file.

:class:`FitResult`, :func:`fit_hzo`, :func:`fit_mtj` and :func:`validate_fit` are importable from here.
"""

import math
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate_hzo import fit_hzo
from memcosim.devices.calibrate_kinetics import fit_hzo_kinetics
from memcosim.devices.calibrate_mtj import fit_mtj
from memcosim.devices.calibrate_split import run_split, series_by_device, MIN_WIDTHS
from memcosim.devices.calibrate_validate import predict_held_out, validate_fit
from memcosim.devices.fit_result import FitResult
from memcosim.devices.measurements import read_sweep

__all__ = ["FitResult", "fit_hzo", "fit_hzo_kinetics", "fit_mtj", "validate_fit", "predict_held_out", "MODELS",
           "calibrate_files", "fit_sweeps", "read_held_out", "read_series", "split_series", "write_calibration",
           "write_split"]

MODELS = ("hzo", "hzo_kinetics", "mtj")
"""The models ``memcosim calibrate --model`` fits."""


def fit_sweeps(sweeps, model="hzo", populations=2, wake_up=None, progress=False, history=(), r_series_ohm=0.0,
               capacitance_f=None):
    """Fit an HZO ``model`` (``"hzo"`` or ``"hzo_kinetics"``) to read sweeps and check the fit.

    ``populations`` applies to ``"hzo"``; ``history``: other sweeps of the device whose pulses count
    on the wake-up timeline (held-out ones); ``r_series_ohm`` and ``capacitance_f`` (the setup's
    series resistance, a value or ``"fit"``, and the device capacitance) to ``"hzo_kinetics"``
    (:func:`fit_hzo_kinetics`). Raises as :func:`calibrate_files`.
    """
    if r_series_ohm != 0 and model != "hzo_kinetics":
        raise CalibrationError(f"r_series_ohm: the series resistance is a term of the hzo_kinetics model, "
                               f"not of {model!r}")
    if model == "hzo":
        result = fit_hzo(sweeps, populations=populations, wake_up=wake_up, progress=progress, history=history)
    elif model == "hzo_kinetics":
        result = fit_hzo_kinetics(sweeps, wake_up=wake_up, progress=progress, history=history,
                                  r_series_ohm=r_series_ohm, capacitance_f=capacitance_f)
    else:
        raise CalibrationError(f"model: must be 'hzo' or 'hzo_kinetics' for pulse sweeps, got {model!r}")
    _check_fit(result)
    return result


def calibrate_files(paths, model="hzo", populations=2, wake_up=None, progress=False, history=(), r_series_ohm=0.0,
                    capacitance_f=None):
    """Read measurement files and fit ``model`` (one of :data:`MODELS`; HZO options as in :func:`fit_hzo`,
    ``history``, ``r_series_ohm`` and ``capacitance_f`` as in :func:`fit_sweeps`).

    Raises
    ------
    CalibrationError
        Unreadable or invalid data, or a fit that explains (almost) none of a file (r^2 not a
        number or below :data:`MIN_R2`): that is not a calibration, and no ``device.json`` comes of it.
    """
    if model == "mtj":
        result = fit_mtj(paths)
        _check_fit(result)
        return result
    if model not in MODELS:
        raise CalibrationError(f"model: must be one of {list(MODELS)}, got {model!r}")
    return fit_sweeps([read_sweep(p, progress=progress) for p in paths], model, populations, wake_up, progress, history,
                      r_series_ohm, capacitance_f)


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


def read_series(paths, progress=False):
    """Sweeps of the files and folders ``paths`` (a folder: every ``*.csv`` in it, sorted by name).

    Raises
    ------
    CalibrationError
        A folder without CSV files, or unreadable or invalid data.
    """
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.csv"))
            if not found:
                raise CalibrationError(f"{p}: a folder without *.csv sweep files")
            files += found
        else:
            files.append(p)
    return [read_sweep(f, progress=progress) for f in files]


def split_series(sweeps, protocol, model="hzo", populations=2, wake_up=None, progress=False, r_series_ohm=0.0,
                 capacitance_f=None):
    """Run a held-out protocol (:mod:`memcosim.devices.calibrate_split`) on every device in
    ``sweeps`` with at least :data:`~memcosim.devices.calibrate_split.MIN_WIDTHS` pulse widths
    (``model``, ``populations``, ``wake_up``, ``r_series_ohm`` and ``capacitance_f`` as in
    :func:`fit_sweeps`; a fitted series resistance is fitted once per fold, for all its widths).

    Returns
    -------
    rows : list of dict
        :func:`~memcosim.devices.calibrate_split.run_split` rows of every device (with ``model``
        and ``protocol``).
    curves : dict
        ``{path: (measured, predicted)}`` of every held-out sweep.
    skipped : dict
        ``{device_id: widths}`` of the devices with too few widths.

    Raises
    ------
    CalibrationError
        No device with enough widths, or a fit that fails.
    """
    groups, widths = series_by_device(sweeps)
    skipped = {d: w for d, w in widths.items() if len(w) < MIN_WIDTHS}
    if len(skipped) == len(groups):
        raise CalibrationError(f"split: no device has {MIN_WIDTHS} or more pulse widths "
                               f"({', '.join(f'{d}: {len(w)}' for d, w in widths.items())})")
    rows, curves = [], {}
    for device, series in groups.items():
        if device in skipped:
            continue
        fit = lambda fitted, held: fit_sweeps(fitted, model, populations, wake_up, progress, held,  # noqa: E731
                                              r_series_ohm, capacitance_f)
        device_rows, device_curves = run_split(series, protocol, fit, predict_held_out)
        rows += [{"model": model, "protocol": protocol, **r} for r in device_rows]
        curves.update(device_curves)
    return rows, curves, skipped


def write_split(rows, curves, out_dir, plots=True):
    """Write the rows of :func:`split_series` to ``out_dir/split_<protocol>.json`` and a plot of
    every held-out sweep's predicted against measured trajectory. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    protocol = rows[0]["protocol"]
    report = out / f"split_{protocol}.json"
    write_json_atomic(report, {"protocol": protocol, "model": rows[0]["model"], "held_out": rows})
    written = {"report": str(report), "plots": []}
    if plots:
        for row in rows:
            name = out / f"split_{protocol}_{row['fold']}_{Path(row['path']).stem}.png"
            title = f"held out ({protocol}, fit {row['fold']}): {row['decades']:+.1f} decades"
            written["plots"].append(_plot_curve(*curves[row["path"]], row, title, name, "predicted"))
    return written


def write_calibration(result, out_dir, version="", plots=True, validation=None, validation_curves=None):
    """Write ``device.json``, ``fit_report.json`` and PNG plots into ``out_dir``.

    ``validation`` (the scores of :func:`validate_fit`, optional) is written into
    ``fit_report.json`` under ``"validation"``; with ``validation_curves`` (the curves of
    :func:`predict_held_out`) each held-out sweep gets a plot of its predicted against measured
    trajectory (``heldout_<file>.png``).

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
              "message": result.message, "files": result.files,
              "timeline": [entry.to_json() for entry in result.timeline]}
    if validation is not None:
        report["validation"] = validation
    write_json_atomic(out / "fit_report.json", report)
    write_json_atomic(out / "device.json", device)  # last: its presence means a finished calibration
    written = {"device": str(out / "device.json"), "report": str(out / "fit_report.json"), "plots": []}
    if plots:
        unit = "R_AP (ohm)" if result.model == "mtj" else "conductance (S)"
        written["plots"] = [_plot_curve(*curve, info, "", out / f"fit_{Path(info['path']).stem}.png", "fitted", unit)
                            for info, curve in zip(result.files, result.curves)]
        for info, curve in zip(validation or [], validation_curves or []):
            written["plots"].append(_plot_curve(*curve, info, "held out (not fitted)",
                                                out / f"heldout_{Path(info['path']).stem}.png", "predicted"))
    return written


def _plot_curve(measured, model, info, heading, name, label, unit="conductance (S)"):
    """A PNG of a sweep's measured values against the model's (fitted or predicted); returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(measured, "k.", ms=3, label="measured")
    ax.plot(model, "r-" if label == "fitted" else "b-", lw=1.2, label=label)
    width = info.get("pulse_width_s")
    title = Path(info["path"]).name + (f"  (w = {width:.3g} s)" if width else "")
    ax.set_title(f"{heading + chr(10) if heading else ''}{title}\nr2 = {info['r2']:.4f}", fontsize=8)
    ax.set_xlabel("pulse number")
    ax.set_ylabel(unit)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(name, dpi=90)
    plt.close(fig)
    return str(name)
