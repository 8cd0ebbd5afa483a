"""A study whose device is calibrated with the switching-kinetics model
(``[device] calibrate_model = "hzo_kinetics"``): calibrated, trained and costed like any HZO device."""

import json
import sys

import pytest

from memcosim.cli import main
from memcosim.config import parse_study
from tests.conftest import REPO


@pytest.mark.slow
def test_a_study_calibrates_and_trains_the_kinetics_model(tmp_path):
    sys.path.insert(0, str(REPO / "examples"))
    from calibrate_from_csv import write_demo_sweeps

    files = write_demo_sweeps(tmp_path / "data", widths_s=(2e-8, 2e-6, 2e-4))
    study = tmp_path / "study.toml"
    listed = ", ".join(f'"{f}"' for f in files)
    study.write_text(f'name = "kin"\n[device]\ncalibrate_from = [{listed}]\ncalibrate_model = "hzo_kinetics"\n'
                     'pulse_width_s = 2e-6\n[circuit]\nenergy_model = "device"\n'
                     '[training]\nhidden_sizes = [8]\nepochs = 1\n[output]\nplots = false\n')
    assert main(["train", str(study), "--out", str(tmp_path / "t"), "-q", "--models", "none"]) == 0
    device = json.loads((tmp_path / "t" / "calibrate" / "device.json").read_text())
    assert device["model"] == "hzo_kinetics" and device["params"]["bins"] == 16
    results = json.loads((tmp_path / "t" / "results.json").read_text())
    assert results["pulses_total"] > 0 and results["array_energy_per_update_j"] > 0


@pytest.mark.parametrize("device, match", [
    ({"kind": "mtj", "calibrate_model": "hzo_kinetics"}, "calibrate_model: only for kind = 'hzo' with calibrate_from"),
    ({"calibrate_model": "hzo_kinetics"}, "calibrate_model: only for kind = 'hzo' with calibrate_from"),
    ({"calibrate_model": "kai"}, "calibrate_model"),
])
def test_calibrate_model_is_checked(device, match):
    from memcosim.base.errors import ConfigError

    with pytest.raises((ConfigError, ValueError), match=match):
        parse_study({"name": "x", "device": device})
