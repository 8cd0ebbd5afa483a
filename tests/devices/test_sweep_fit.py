"""Long sweeps are fitted coarse to fine: windows of the sweeps first, then a few model runs on all pulses."""

import logging

import numpy as np
import pytest

from memcosim.base.errors import CalibrationError
from memcosim.devices import hzo, load_device_params
from memcosim.devices.calibrate import fit_hzo
from memcosim.devices.fit_result import r_squared
from memcosim.devices.measurements import PulseSweep
from memcosim.devices.sweep_fit import SweepArrays


def _ramps(n):
    """Amplitude ramps up and down, repeated to ``n`` pulses (volts)."""
    return np.resize(np.concatenate([np.linspace(0.4, 4.0, 50), -np.linspace(0.4, 3.5, 50)]), n)


def _sweep(path, amps, g, width=2e-6):
    return PulseSweep(path, "synthetic", amps, np.full(len(amps), width), np.asarray(g, dtype=float))


def test_windows_are_an_even_deterministic_subsample_of_long_sweeps():
    n = 3000
    long = _sweep("long", _ramps(n), 1e-6 * (2.0 + np.sin(np.arange(n) / 7.0)))
    short = _sweep("short", _ramps(100), 1e-6 * (2.0 + np.cos(np.arange(100) / 5.0)))
    arrays = SweepArrays([long, short], [0.0, 500.0])
    assert arrays.windows(3100) is None  # small enough: fitted whole
    sub = arrays.windows(1024, window=256)
    # the long sweep: round(1024 * 3000 / 3100 / 256) = 4 windows, first to last; the short one whole
    assert list(sub.file) == [0, 0, 0, 0, 1]
    for row, start in enumerate([0, 915, 1829, 2744]):
        for name in ("g", "amp", "width", "count"):
            assert np.array_equal(getattr(sub, name)[row], getattr(arrays, name)[0, start : start + 256])
    assert np.array_equal(sub.g[4, :100], arrays.g[1, :100]) and np.isnan(sub.g[4, 100:]).all()
    assert not sub.count[4, 100:].any()  # padding: no pulses
    assert not sub.compared[:, 0].any()  # every window starts from its first measured conductance
    assert list(sub.pulses_before) == [0.0] * 4 + [500.0] and np.array_equal(sub.scale[:, 0], arrays.scale[[0] * 4 + [1], 0])
    # a sweep's windows are scored together
    fitted = sub.g + 1e-7 * np.cos(np.arange(sub.g.shape[1]))
    r2 = sub.r2(fitted)
    pooled = lambda a: np.concatenate([a[r, sub.compared[r]] for r in range(4)])  # noqa: E731
    assert r2.shape == (2,) and r2[0] == r_squared(pooled(sub.g), pooled(fitted)) and r2[0] < 1.0


def test_a_long_sweep_is_fitted_coarse_to_fine(caplog):
    """A sweep the model itself made, 800 pulses: fitted on two windows (512 pulses), refined on all, r2 ~ 1."""
    true = load_device_params("hzo", "default")
    amps = _ramps(800)
    g = [0.9 * true.g_max_s]
    for a in amps[1:]:
        g.append(float(hzo.apply_pulses(np.array(g[-1]), 1, true, float(a), 2e-6)))
    with caplog.at_level(logging.INFO, logger="memcosim.devices.sweep_fit"):
        fit = fit_hzo([_sweep("synthetic_long", amps, g)], populations=1, reweight_rounds=1, max_nfev=30,
                      subsample_pulses=512)
    assert "on all pulses" in caplog.text  # the refinement ran on the whole sweep
    assert fit.files[0]["n_points"] == 799 and fit.files[0]["r2"] > 0.99


@pytest.mark.parametrize("value", [0, -5, 2.5, "all"])
def test_a_bad_subsample_size_is_one_clear_error(value):
    sweep = _sweep("s", _ramps(100), 1e-6 * (2.0 + np.sin(np.arange(100) / 7.0)))
    with pytest.raises(CalibrationError, match=rf"subsample_pulses: must be None or an integer >= 1, got {value!r}"):
        fit_hzo([sweep], subsample_pulses=value)
