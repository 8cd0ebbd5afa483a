"""Held-out validation of an HZO calibration (``memcosim calibrate FILES --validate HELDOUT``)
against the real LBE247 sweeps (../shared/data/hzo-lbe247).

One population keeps the fits short (a few seconds); the wake-up timeline is exercised all the same.
"""

import json
import math

import pytest

from memcosim.base.errors import CalibrationError
from memcosim.devices.calibrate import calibrate_files, read_held_out, validate_fit
from memcosim.devices.measurements import read_sweep
from tests.conftest import run_cli, shared_path

SERIES = "ID161ZR15000"
FITTED_WIDTHS = ("2e-07", "2e-05", "0.002")


def _files(data, *widths):
    return [next(data.glob(f"{SERIES}_*_w{w}.csv")) for w in widths]


@pytest.fixture(scope="module")
def fit():
    """One fit on three widths of ID161ZR15000 (200 ns, 20 us, 2 ms) and the data directory."""
    data = shared_path("hzo-lbe247")
    return calibrate_files(_files(data, *FITTED_WIDTHS), populations=1), data


@pytest.mark.slow
def test_validating_a_fitted_sweep_reproduces_the_fit_score(fit):
    result, data = fit
    scores = validate_fit(result, [read_sweep(p) for p in _files(data, *FITTED_WIDTHS)])
    for fitted, validated in zip(result.files, scores):
        assert validated["path"] == fitted["path"]
        assert validated["pulses_before"] == fitted["pulses_before"]
        assert validated["r2"] == pytest.approx(fitted["r2"], abs=1e-9)
        assert validated["rmse_s"] == pytest.approx(fitted["rmse_s"], rel=1e-9)


@pytest.mark.slow
def test_held_out_widths_are_predicted_on_the_fits_timeline(fit):
    result, data = fit
    held_out = _files(data, "2e-06", "0.0002")
    scores = validate_fit(result, [read_sweep(p) for p in held_out])
    assert [s["pulse_width_s"] for s in scores] == [2e-6, 2e-4]
    assert all(math.isfinite(s["r2"]) and s["rmse_s"] > 0 for s in scores)
    # 2 us was measured after the fitted 200 ns sweep, 200 us after the 20 us one: the film has
    # taken both runs of the fitted sweeps measured before it (the LBE247 files hold the second of
    # two runs), no held-out ones, and the first run of its own sequence
    by_width = {f["pulse_width_s"]: f for f in result.files}
    own = [read_sweep(p).n_points for p in held_out]
    assert scores[0]["pulses_before"] == 2 * by_width[2e-7]["n_pulses"] + own[0]
    assert scores[1]["pulses_before"] == 2 * (by_width[2e-7]["n_pulses"] + by_width[2e-5]["n_pulses"]) + own[1]
    # 200 us lies between two fitted widths: an interpolation the model must get right
    assert scores[1]["r2"] > 0.9
    # a sweep's prediction does not depend on which other sweeps are held out
    alone = validate_fit(result, [read_sweep(held_out[1])])
    assert alone[0]["r2"] == scores[1]["r2"]


def test_validate_refuses_a_fitted_file_and_bad_data(hzo_data_dir, tmp_path):
    fitted = _files(hzo_data_dir, "2e-07")
    with pytest.raises(CalibrationError, match="also among the fitted files"):
        read_held_out([str(fitted[0])], fitted)
    bad = tmp_path / "bad.csv"
    bad.write_text("pulse_amplitude_v,pulse_width_s\n1,2\n")
    with pytest.raises(CalibrationError, match="bad.csv:1: missing column"):
        read_held_out([bad], fitted)


@pytest.mark.slow
def test_cli_validate_writes_held_out_scores(hzo_data_dir, tmp_path):
    fitted = _files(hzo_data_dir, "2e-07", "2e-05")
    held_out = _files(hzo_data_dir, "2e-06", "0.0002")
    out = tmp_path / "cal"
    proc = run_cli("calibrate", *map(str, fitted), "--validate", *map(str, held_out), "--populations", "1",
                   "--no-plots", "-q", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "held out (not fitted)" in proc.stdout
    report = json.loads((out / "fit_report.json").read_text())
    assert [v["path"] for v in report["validation"]] == [str(p) for p in held_out]
    assert all(set(v) >= {"pulse_width_s", "n_points", "r2", "rmse_s"} for v in report["validation"])
    assert {f["path"] for f in report["files"]}.isdisjoint(v["path"] for v in report["validation"])
    device = json.loads((out / "device.json").read_text())
    assert device["fitted_from"] == [str(p) for p in fitted]  # held-out files are never fitted


@pytest.mark.parametrize("case", ["overlap", "bad_file", "mtj"])
def test_cli_validate_errors_are_one_line_before_the_fit(hzo_data_dir, tmp_path, case):
    fitted = _files(hzo_data_dir, "2e-07", "2e-05")
    bad = tmp_path / "bad.csv"
    bad.write_text("pulse_amplitude_v,pulse_width_s\n1,2\n")
    held_out, extra, expected = {
        "overlap": (fitted[1], [], f"{fitted[1]}: held out for validation but also among the fitted files"),
        "bad_file": (bad, [], "bad.csv:1: missing column"),
        "mtj": (bad, ["--model", "mtj"], "--validate: held-out files can only be predicted by an HZO fit"),
    }[case]
    out = tmp_path / "cal"
    proc = run_cli("calibrate", *map(str, fitted), "--validate", str(held_out), *extra, "-q", "--out", str(out))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr
    assert not (out / "device.json").exists()
