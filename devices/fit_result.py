"""The outcome of a device calibration (:mod:`memcosim.devices.calibrate`), shared by the HZO and MTJ fits."""

from dataclasses import dataclass, field

import numpy as np

__all__ = ["FitResult", "r_squared"]


@dataclass(frozen=True)
class FitResult:
    """Outcome of a calibration.

    Attributes
    ----------
    model : str
        ``"hzo"`` or ``"mtj"``.
    params : HZOParams or MTJParams
    files : list of dict
        Per input file: ``path``, ``pulse_width_s``, ``n_points``, ``r2``, ``rmse_s``
        (``rmse_ohm`` for MTJ); HZO also ``device_id``, ``pulses_before`` and ``n_pulses`` (the
        wake-up timeline: pulses before the sweep, rows of the sweep) and ``measured_at``.
    r2 : float
        Overall r^2 (pooled over all compared points).
    success : bool
    message : str
    curves : list of (ndarray, ndarray)
        Measured and fitted values per file, for plots.
    timeline : list of TimelineEntry
        HZO: every sweep the fit placed on the device's wake-up timeline (fitted and history),
        in order (:func:`~memcosim.devices.sweep_fit.device_timeline`); held-out sweeps are
        placed on it (:func:`~memcosim.devices.calibrate_validate.validate_fit`).
    """

    model: str
    params: object
    files: list
    r2: float
    success: bool
    message: str
    curves: list = field(default_factory=list, repr=False)
    timeline: list = field(default_factory=list, repr=False)


def r_squared(measured, fitted):
    """Coefficient of determination ``1 - SS_res / SS_tot`` of ``fitted`` against ``measured``
    (nan for constant data)."""
    ss_res = float(np.sum((fitted - measured) ** 2))
    ss_tot = float(np.sum((measured - measured.mean()) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
