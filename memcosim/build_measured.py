"""Study -> the measured device: its files, its step tables, its published fit and the envelope one
characterisation of every measured point spans (re-exported by :mod:`memcosim.build`)."""

import math

import numpy as np

from memcosim.base.errors import ConfigError

__all__ = ["measured_files", "sweep_measured_files", "measured_width", "measured_device", "published_fit",
           "measured_envelope"]


def measured_files(study, patterns=None):
    """The files of ``device.measured_from`` (or of ``patterns``), glob patterns expanded (sorted);
    a pattern matching nothing is an error."""
    from memcosim.build_dies import expand_patterns

    return expand_patterns(study.device.measured_from if patterns is None else patterns, "device.measured_from")


def sweep_measured_files(study):
    """Every measured file any point of ``study`` reads: ``device.measured_from`` and each value a
    sweep gives it (one characterisation spans them all)."""
    files = measured_files(study)
    for patterns in study.sweep.get("device.measured_from", []):
        files += [f for f in measured_files(study, patterns) if f not in files]
    return files


def measured_width(study):
    """The width that selects the measured files (None: every file, which must share one width)."""
    width = study.device.pulse_width_s
    return None if width == "measured" else width


def measured_device(study):
    """The study's :class:`~memcosim.devices.measured.MeasuredDevice`: its files of ``device.pulse_width_s``."""
    from memcosim.devices import measured

    device = measured.from_files(measured_files(study), pulse_width_s=measured_width(study))
    if study.device.measured_shape == "linear":
        device = measured.with_linear_response(device)
    if study.device.cycle_to_cycle_std > 0:
        device = measured.with_added_noise(device, study.device.cycle_to_cycle_std)
    scale = study.device.measured_step_scale
    return device if scale == 1.0 else measured.with_step_scale(device, scale)


_PUBLISHED_FITS = {}
"""Published fits already made in this process, by (path, size, mtime_ns)."""


def published_fit(study):
    """The :class:`~memcosim.devices.published_fit.PublishedFit` of the study's one measured file
    (``device.measured_law = "published_fit"``), fitted once per process and file version."""
    import os

    from memcosim.devices.measurements import read_sweep
    from memcosim.devices.published_fit import fit_sweep

    files = measured_files(study)
    if measured_width(study) is not None:
        files = [f for f in files if abs(read_sweep(f).nominal_width_s - study.device.pulse_width_s)
                 <= 0.01 * study.device.pulse_width_s]
    if len(files) != 1:
        raise ConfigError(f"device.measured_law: 'published_fit' fits one sweep; device.measured_from selects {len(files)} "
                          f"file(s) at this width (sweep measured_from over single files, pulse_width_s = 'measured')")
    stat = os.stat(files[0])
    key = (os.path.abspath(files[0]), stat.st_size, stat.st_mtime_ns)
    if key not in _PUBLISHED_FITS:
        _PUBLISHED_FITS[key] = fit_sweep(read_sweep(files[0]))
    return _PUBLISHED_FITS[key]


def measured_envelope(study, files=None):
    """``(g_min_s, g_max_s, amplitudes_v, widths_s)`` over *all* measured files of the study (every
    width; ``files``: these instead, e.g. :func:`sweep_measured_files`): one characterisation
    serves every point of a sweep. ``amplitudes_v``: the smallest,
    median and largest measured pulse magnitude, outward to 0.1 V; ``widths_s``: every measured
    width (a single one with a decade on each side, so the width law has three points)."""
    from memcosim.devices.measurements import read_sweep

    sweeps = [read_sweep(f) for f in (measured_files(study) if files is None else files)]
    g = np.concatenate([sw.conductance_s for sw in sweeps])
    amps = np.abs(np.concatenate([sw.pulse_amplitude_v for sw in sweeps]))
    amps = amps[amps > 0]
    levels = (max(0.1, math.floor(10 * float(amps.min())) / 10), round(float(np.median(amps)), 1),
              math.ceil(10 * float(amps.max())) / 10)
    widths = sorted({float(f"{sw.nominal_width_s:.6g}") for sw in sweeps})
    if len(widths) < 3:
        widths = sorted({widths[0] / 10, *widths, widths[-1] * 10})
    return float(g.min()), float(g.max()), tuple(sorted(set(levels))), tuple(widths)
