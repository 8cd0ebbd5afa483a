import numpy as np
import pytest

from memcosim.devices.measurements import read_sweep
from memcosim.base.errors import CalibrationError


def test_lbe247_file(hzo_data_dir):
    s = read_sweep(hzo_data_dir / "ID161ZR15000_1_20241024111132_w2e-07.csv")
    assert s.device_id == "ID161ZR15000"
    assert s.nominal_width_s == 2e-7
    assert s.n_points == 159
    assert s.pulse_amplitude_v[0] == pytest.approx(0.441)
    assert s.conductance_s[0] == pytest.approx(1 / 13051150.067)
    assert np.any(s.pulse_amplitude_v < 0) and np.any(s.pulse_amplitude_v > 0)


def test_plain_csv(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("# comment\npulse_amplitude_v,pulse_width_s,conductance_s\n-3,1e-6,1e-8\n-3,1e-6,2e-8\n3,1e-6,1.5e-8\n")
    s = read_sweep(f)
    assert s.n_points == 3 and s.conductance_s[1] == 2e-8 and s.pulse_amplitude_v[2] == 3.0


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("pulse_amplitude_v,conductance_s\n1,2\n", r":1: missing column\(s\) \['pulse_width_s'\]"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,1e-6,abc\n1,1e-6,1e-8\n", r":2: column 'conductance_s': not a number"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,1e-6,1e-8\n", "only one data row"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,1e-6,-1e-8\n1,1e-6,1e-8\n", r":2: column 'conductance_s': must be > 0"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,0,1e-8\n1,1e-6,1e-8\n", r":2: column 'pulse_width_s'"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,1e-6\n", r":2: 2 cells"),
        ("pulse_amplitude_v,pulse_width_s,conductance_s\n1,1e-6,nan\n1,1e-6,1e-8\n", "column 'conductance_s': not a number: 'nan'"),
    ],
    ids=["empty", "missing-column", "non-numeric", "one-point", "negative-conductance", "zero-width", "short-row", "nan"],
)
def test_bad_plain_files_name_file_and_line(tmp_path, text, match):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(CalibrationError, match=match) as info:
        read_sweep(f)
    assert "bad.csv" in str(info.value)


def test_bad_lbe_file_negative_resistance(tmp_path, hzo_data_dir):
    lines = (hzo_data_dir / "ID161ZR15000_1_20241024111132_w2e-07.csv").read_text().splitlines()
    lines[9] = "3,3,0.523,-13103446.468,15356925.666"
    f = tmp_path / "neg.csv"
    f.write_text("\n".join(lines))
    with pytest.raises(CalibrationError, match=r"neg.csv:10: column 'R_low \(ohm\)': resistance must be > 0"):
        read_sweep(f)


def test_missing_file(tmp_path):
    with pytest.raises(CalibrationError, match="x.csv: no such measured sweep"):
        read_sweep(tmp_path / "x.csv")


def test_lbe_timestamp_is_read(hzo_data_dir):
    from memcosim.devices.measurements import read_sweep

    s = read_sweep(hzo_data_dir / "ID301XR1000Oct_1_20240919160542_w2e-08.csv")
    assert s.measured_at == "2024-09-19T16:05:42"


def test_lbe_bad_timestamp_names_the_file(tmp_path, hzo_data_dir):
    from memcosim.devices.measurements import read_sweep
    from memcosim.base.errors import CalibrationError

    src = (hzo_data_dir / "ID301XR1000Oct_1_20240919160542_w2e-08.csv").read_text().splitlines()
    src[1] = "2024/09/19,4pm,LBE247,ID301XR1000Oct"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(src) + "\n")
    with pytest.raises(CalibrationError, match="bad.csv:2: test_date/test_time"):
        read_sweep(bad)
