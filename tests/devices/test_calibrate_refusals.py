"""Data that no fit can explain is refused with the file (and line) named, never written as a result."""

import json
import math

import pytest

from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate import _check_fit, calibrate_files, write_calibration
from memcosim.devices.fit_result import FitResult
from memcosim.devices.mtj import MTJParams

HZO_HEADER = "pulse_amplitude_v,pulse_width_s,conductance_s\n"


def _write(tmp_path, name, text, mode="w"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("text, match", [
    ("voltage_v,r_p_ohm,r_ap_ohm\n0.1,5000,4000\n0.2,5000,3900\n", r":2: r_ap_ohm = 4000 must exceed r_p_ohm"),
    ("voltage_v,r_p_ohm,r_ap_ohm\n0.1,5000,nan\n0.2,5000,9000\n", r":2: not finite"),
    ("voltage_v,r_p_ohm,r_ap_ohm\n0.1,inf,9000\n0.2,5000,9000\n", r":2: not finite"),
    (b"voltage_v,r_p_ohm,r_ap_ohm\n0.1,5000,\xff\xfe\n", "not utf-8"),
], ids=["ap-below-p", "nan", "inf", "not-utf8"])
def test_mtj_data_no_model_explains(tmp_path, text, match):
    path = _write(tmp_path, "mtj.csv", text)
    with pytest.raises(CalibrationError, match=match) as info:
        calibrate_files([path], model="mtj")
    assert str(path) in str(info.value)


@pytest.mark.parametrize("rows, match", [
    ("0,1e-6,1e-8\n-3,1e-6,2e-8\n3,1e-6,1.5e-8\n", r":2: column 'pulse_amplitude_v': 0 V is no pulse"),
    ("-3,1e10,1e-8\n-3,1e10,2e-8\n3,1e10,1.5e-8\n", r":2: column 'pulse_width_s': must be in \(0, 1\] s"),
    ("-3,1e-6,1e-8\n-3,1e-6,1e-8\n3,1e-6,1e-8\n3,1e-6,1e-8\n", "the conductance never changes"),
    ("-3,1e-6,1e-8\n-3,1e-6,2e-8\n", "cannot determine the"),
], ids=["zero-amplitude", "huge-width", "constant", "two-rows"])
def test_hzo_data_no_model_explains(tmp_path, rows, match):
    path = _write(tmp_path, "hzo.csv", HZO_HEADER + rows)
    with pytest.raises(CalibrationError, match=match) as info:
        calibrate_files([path], model="hzo", populations=1)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("r2", [float("nan"), -3.1])
def test_a_fit_with_r2_nan_or_negative_is_an_error_naming_the_file(r2):
    result = FitResult("mtj", MTJParams(), [{"path": "data/a.csv", "r2": r2}], r2, True, "ok")
    with pytest.raises(CalibrationError, match=r"data/a.csv: the mtj model does not fit this data \(r\^2 = "):
        _check_fit(result)


def test_calibration_files_are_strict_json(tmp_path):
    path = _write(tmp_path, "mtj.csv", "voltage_v,r_p_ohm,r_ap_ohm\n0.0,5000,12500\n0.3,5000,11000\n0.5,5010,9900\n")
    result = calibrate_files([path], model="mtj")
    write_calibration(result, tmp_path / "out", plots=False)
    for name in ("device.json", "fit_report.json"):
        text = (tmp_path / "out" / name).read_text()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"{name} holds {c}"))
    assert math.isfinite(json.loads((tmp_path / "out" / "fit_report.json").read_text())["r2"])
