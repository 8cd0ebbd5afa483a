"""Fit of the MTJ model to resistance-voltage sweeps.

A sweep (CSV ``voltage_v,r_p_ohm,r_ap_ohm``) gives ``r_p_ohm`` (the median parallel resistance)
and ``tmr0`` and ``v_half_v`` of the bias-dependent TMR (:func:`memcosim.devices.mtj.tmr`).
"""

import dataclasses
import math
from pathlib import Path

import numpy as np
from scipy import optimize

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.base.files import csv_header, read_text
from memcosim.devices import mtj
from memcosim.devices.fit_result import FitResult, r_squared

__all__ = ["fit_mtj"]


_MAX_BIAS_V = 100.0
"""Largest read bias accepted in an R-V sweep, volts (an MTJ breaks down near one volt)."""


def _read_mtj_sweep(path):
    path = Path(path)
    lines = read_text(path, "MTJ sweep", error=CalibrationError, encoding="utf-8-sig").splitlines()
    rows = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.startswith("#")]
    if not rows:
        raise CalibrationError(f"{path}: empty file")
    header = csv_header(rows[0][1].split(","), f"{path}:{rows[0][0]}", CalibrationError)
    need = ["voltage_v", "r_p_ohm", "r_ap_ohm"]
    missing = [c for c in need if c not in header]
    if missing:
        raise CalibrationError(f"{path}:{rows[0][0]}: missing column(s) {missing}; need {','.join(need)}")
    data = []
    for line_no, line in rows[1:]:
        cells = line.split(",")
        try:
            values = [float(cells[header.index(c)]) for c in need]
        except (ValueError, IndexError):
            raise CalibrationError(f"{path}:{line_no}: not numeric or too few cells: {line!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise CalibrationError(f"{path}:{line_no}: not finite: {line!r}")
        if values[1] <= 0 or values[2] <= 0:
            raise CalibrationError(f"{path}:{line_no}: resistance must be > 0")
        if abs(values[0]) > _MAX_BIAS_V:
            raise CalibrationError(f"{path}:{line_no}: column 'voltage_v': |bias| must be at most {_MAX_BIAS_V:g} V, got "
                                   f"{values[0]:g}")
        if values[2] <= values[1]:
            raise CalibrationError(f"{path}:{line_no}: r_ap_ohm = {values[2]:g} must exceed r_p_ohm = {values[1]:g} "
                                   "(the antiparallel state of an MTJ has the higher resistance: TMR > 0)")
        data.append(values)
    if len(data) < 2:
        raise CalibrationError(f"{path}: only {len(data)} data row(s); need at least 2")
    return np.array(data)


def fit_mtj(paths):
    """Fit ``r_p_ohm``, ``tmr0``, ``v_half_v`` to R-V sweeps (``voltage_v,r_p_ohm,r_ap_ohm``)."""
    per_file = [_read_mtj_sweep(p) for p in paths]
    data = np.vstack(per_file)
    v, r_p, r_ap = data.T
    ratio = r_ap / r_p - 1.0
    names = ", ".join(str(p) for p in paths)
    try:
        base = mtj.MTJParams(r_p_ohm=float(np.median(r_p)))
    except ConfigError as exc:
        raise CalibrationError(f"{names}: outside the MTJ model's range ({exc})") from None

    def residuals(theta):
        tmr0, v_half = np.exp(theta)
        return mtj.tmr(v, base, tmr0=tmr0, v_half_v=v_half) - ratio

    # tmr0 and v_half_v within the ranges MTJParams accepts (a flat TMR drives v_half_v upwards)
    lower, upper = np.log([1e-6, 1e-6]), np.log([100.0, 100.0])
    start = np.clip([math.log(max(ratio.max(), 1e-3)), math.log(0.5)], lower, upper)
    fit = optimize.least_squares(residuals, start, bounds=(lower, upper))
    tmr0, v_half = (float(x) for x in np.exp(fit.x))
    params = dataclasses.replace(base, tmr0=tmr0, v_half_v=v_half)
    fitted_ap = mtj.resistance_ohm(mtj.AP, v, params)
    files = []
    for p, d in zip(paths, per_file):
        f_ap = mtj.resistance_ohm(mtj.AP, d[:, 0], params)
        files.append(
            {"path": str(p), "n_points": len(d), "r2": r_squared(d[:, 2], f_ap), "rmse_ohm": float(np.sqrt(np.mean((d[:, 2] - f_ap) ** 2)))}
        )
    return FitResult("mtj", params, files, r_squared(r_ap, fitted_ap), bool(fit.success), fit.message, [(r_ap, fitted_ap)])
