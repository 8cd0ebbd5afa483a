"""The published study's device from a measured sweep (PaU1570/msc_project's fit_piecewise.py + aihwkit's fit)."""

import numpy as np
import pytest

from memcosim.base.errors import CalibrationError
from memcosim.devices.measurements import read_sweep
from memcosim.devices.published_fit import PUBLISHED_UP_DOWN_DTOD, fit_sweep, normalise
from tests.conftest import shared_path

NAME = "ID161ZR15000_1_20241024111132_w2e-07.csv"

# What the published run fitted to this file: PaU1570/msc_project results/test52/aihwkit/
# pulsedAmplitudeSweep_DCIV[_ID161ZR15000(1)]20241024111132/RPU_Config.txt (dw_min, up_down,
# w_max, w_min, the first node factors and MixedPrecisionCompound.granularity).
PUBLISHED = {"dw_min": 0.04959934501765167, "up_down": 0.03592576721602003, "w_max": 1.0041335256210158,
             "w_min": -1.003029513748404, "granularity": 0.07717195237837207,
             "piecewise_up": [0.5643507061130908, 0.11576306162848886, 0.30211547337376704],
             "piecewise_down": [0.0, 0.13615319465844516, 0.07104343596362701]}


@pytest.fixture(scope="module")
def sweep():
    return read_sweep(shared_path("hzo-lbe247", NAME))


@pytest.fixture(scope="module")
def fit(sweep):
    return fit_sweep(sweep)


def test_the_fit_reproduces_the_published_device(fit):
    p = fit.params
    # the smooth step law is deterministic: the same numbers to rounding
    assert p.dw_min == pytest.approx(PUBLISHED["dw_min"], rel=1e-9)
    assert fit.granularity == pytest.approx(PUBLISHED["granularity"], rel=1e-9)
    np.testing.assert_allclose(p.piecewise_up[:3], PUBLISHED["piecewise_up"], rtol=1e-9)
    np.testing.assert_allclose(p.piecewise_down[:3], PUBLISHED["piecewise_down"], atol=1e-12, rtol=1e-9)
    assert p.piecewise_up[-1] == 0 and p.piecewise_down[0] == 0
    # the free parameters come from a Powell search on aihwkit's float32 simulation there, float64 here
    for key in ("up_down", "w_max", "w_min"):
        assert getattr(p, key) == pytest.approx(PUBLISHED[key], abs=2e-3), key
    assert p.up_down_dtod == PUBLISHED_UP_DOWN_DTOD and p.dw_min_std == 0 and p.dw_min_dtod == 0
    assert fit.r2 > 0.99


def test_normalisation_is_centred_on_the_mean_with_half_the_range_as_unit(fit, sweep):
    gn, directions, up, centre, unit = normalise(sweep)
    g = sweep.mean_conductance_s
    assert gn.mean() == pytest.approx(0.0, abs=1e-12) and gn.max() - gn.min() == pytest.approx(2.0)
    assert centre == pytest.approx(g.mean()) and unit == pytest.approx((g.max() - g.min()) / 2)
    assert up == -1  # LBE247: negative pulses potentiate (the published code's assumption)
    np.testing.assert_array_equal(directions == 1, sweep.pulse_amplitude_v < 0)
    np.testing.assert_allclose(fit.conductance_s(gn), g)


def test_a_flat_sweep_is_refused(tmp_path):
    path = tmp_path / "flat.csv"
    path.write_text("pulse_amplitude_v,pulse_width_s,conductance_s\n" + "".join(
        f"{a},1e-6,1e-6\n" for a in [1, 1, 1, -1, -1, -1] * 3))
    with pytest.raises(CalibrationError, match="never changes"):
        fit_sweep(read_sweep(path))
