"""The published protocol as study settings (examples/hzo_published_protocol.toml)."""

import pytest

from memcosim.base.errors import ConfigError
from memcosim.build import published_fit, pulse_width_s, tile_config, train_config
from memcosim.config import load_study, parse_study
from memcosim.devices.piecewise_step import to_aihwkit
from memcosim.training.pulsed_measured import PiecewisePulsed
from tests.conftest import REPO, shared_path

EXAMPLE = REPO / "examples" / "hzo_published_protocol.toml"


def _point(algorithm, name="ID161ZR15000_1_20241024111132_w2e-07.csv", **training):
    data = load_study(EXAMPLE).model_dump(mode="json")
    data["sweep"] = {}
    data["device"]["measured_from"] = [str(shared_path("hzo-lbe247") / name)]
    data["training"].update(algorithm=algorithm, **training)
    data["circuit"]["energy_model"] = "device"
    return parse_study(data)


def test_the_example_is_the_published_grid():
    study = load_study(EXAMPLE)
    assert study.sweep["training.algorithm"] == ["sgd", "symmetry_shift", "mixed_precision"]
    assert len(study.sweep["device.measured_from"]) == 7


def test_each_published_setting_reaches_the_tile():
    mp = tile_config(_point("mixed_precision"))
    fit = published_fit(_point("mixed_precision"))
    assert isinstance(mp.device, PiecewisePulsed) and mp.device.params.up_down_dtod == 0.01
    assert mp.device.params.dw_min_std == 0 and mp.device.params.dw_min_dtod == 0
    assert mp.update.granularity == pytest.approx(fit.granularity / fit.params.granularity())
    assert mp.mapping.weight_scaling_omega == 0 and mp.mapping.reference == "data_mean"
    assert mp.io.split == "even" and mp.io.tile_size == 512 and mp.read.noise_std == 0.06 and mp.read.forward == "ideal"
    sps = tile_config(_point("symmetry_shift"))
    assert sps.update.symmetry_point == "global" and sps.update.bl_management
    assert [train_config(_point(a)).learning_rate for a in ("sgd", "symmetry_shift", "mixed_precision")] == [0.05, 0.1, 0.5]
    assert train_config(_point("sgd")).validation_fraction == 0.2
    assert pulse_width_s(_point("sgd")) == pytest.approx(2e-7)


def test_the_measured_noise_and_spread_are_settings():
    point = _point("sgd")
    noisy = parse_study({**point.model_dump(mode="json"),
                         "device": {**point.model_dump(mode="json")["device"], "write_noise": "measured",
                                    "device_to_device_std": 0.05}})
    p = tile_config(noisy).device.params
    fit = published_fit(point)
    assert p.dw_min_std == pytest.approx(fit.residual_std / fit.params.dw_min) and p.dw_min_std > 0
    assert p.dw_min_dtod == p.w_min_dtod == p.w_max_dtod == 0.05


def test_settings_that_do_not_fit_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="fits one sweep"):  # the two sweeps at 20 ns
        tile_config(_point("sgd", name="ID161ZR15000_*_w2e-08.csv"))
    with pytest.raises(ConfigError, match="'measured' is only for kind = 'measured'"):
        parse_study({"device": {"pulse_width_s": "measured"}})
    with pytest.raises(ConfigError, match="read_noise_std"):
        tile_config(_point("sgd", read_noise_std=0.1))
    hzo = parse_study({"training": {"mp_granularity": "published_fit"}, "circuit": {"energy_model": "device"}})
    with pytest.raises(ConfigError, match="mp_granularity"):
        tile_config(hzo)


def test_an_aihwkit_device_file_trains_end_to_end(tmp_path):
    """A published device exported for aihwkit and read back as kind = 'piecewise_step' trains on the digits."""
    fit = published_fit(_point("sgd"))
    device = tmp_path / "device.json"
    device.write_text(to_aihwkit(fit.params, "json"))
    study = tmp_path / "study.toml"
    study.write_text(f"""name = "pw"
[device]
kind = "piecewise_step"
aihwkit_device = "{device}"
[circuit]
energy_model = "device"
[training]
epochs = 1
algorithm = "symmetry_shift"
symmetry_point = "global"
weight_scaling_omega = 0.0
weight_reference = "data_mean"
validation_fraction = 0.2
io = "aihwkit"
""")
    from memcosim.training.trainer import train

    results = train(train_config(load_study(study)), tmp_path / "out", progress=False, plots=False)
    assert 0 <= results.validation_accuracy <= 1 and results.pulses_total > 0
    assert results.device["model"] == "PiecewisePulsed"
    assert results.device["symmetry_point_w"] == pytest.approx(0.56, abs=0.01)


def test_the_same_study_runs_on_another_series_and_on_a_users_csv(tmp_path):
    """Only measured_from changes: an ID301 sweep, and a plain CSV written from a known device."""
    other = tile_config(_point("sgd", name="ID301XR1000Oct_1_20240919154458_w2e-07.csv"))
    assert isinstance(other.device, PiecewisePulsed) and other.device.width_s == pytest.approx(2e-7)
    import numpy as np

    from memcosim.devices.piecewise_step import PiecewiseStepParams, pulse_response

    truth = PiecewiseStepParams(dw_min=0.04, up_down=0.1, w_min=-1.0, w_max=1.0, piecewise_up=np.linspace(1.6, 0.2, 9),
                                piecewise_down=np.linspace(0.3, 1.5, 9))
    pulses = [1] * 60 + [-1] * 60  # one up sweep, one down sweep, as the LBE247 files
    w = pulse_response(truth, -0.9, pulses)
    csv = tmp_path / "mine.csv"
    csv.write_text("pulse_amplitude_v,pulse_width_s,conductance_s\n" + "".join(
        f"{3.0 * p},1e-6,{1e-7 * (1.2 + wi)}\n" for p, wi in zip(pulses, w)))
    data = _point("mixed_precision").model_dump(mode="json")
    data["device"]["measured_from"] = [str(csv)]
    tile = tile_config(parse_study(data))
    assert tile.device.width_s == 1e-6 and tile.device.source == str(csv)
    fit = published_fit(parse_study(data))
    assert fit.r2 > 0.98 and fit.up_polarity == 1
    assert fit.params.up_down == pytest.approx(truth.up_down, abs=0.1)
