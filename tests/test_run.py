import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from memcosim.config import parse_study
from memcosim.report import pareto_front
from memcosim.run import run_study
from tests.conftest import run_cli

SMALL = {
    "name": "small",
    "seed": 3,
    "device": {"kind": "hzo", "pulse_width_s": 2e-8, "device_to_device_std": 0.05},
    "circuit": {"energy_model": "device"},
    "training": {"dataset": "digits", "hidden_sizes": [16], "epochs": 3, "batch_size": 16, "learning_rate": 0.1,
                 "algorithm": "mixed_precision"},
    "output": {"plots": False},
}


def _strip(results):
    """results.json without wall-clock times."""
    runs = [{k: v for k, v in r.items() if k != "epochs"} | {"epochs": [{k: v for k, v in e.items() if k != "elapsed_s"} for e in r["epochs"]]}
            for r in results["runs"]]
    return {k: v for k, v in results.items() if k not in ("elapsed_s", "runs")} | {"runs": runs}


def _write_study(path, sweep):
    lines = ['name = "small"', "seed = 3", "[device]", 'kind = "hzo"', "pulse_width_s = 2e-8", "device_to_device_std = 0.05",
             "[circuit]", 'energy_model = "device"', "[training]", 'dataset = "digits"', "hidden_sizes = [16]", "epochs = 3",
             "batch_size = 16", "learning_rate = 0.1", "[output]", "plots = false", "[sweep]"]
    lines += [f'"{k}" = {json.dumps(v)}' for k, v in sweep.items()]
    path.write_text("\n".join(lines) + "\n")


def test_pareto_front():
    pts = [(1.0, 0.5), (2.0, 0.9), (1.5, 0.4), (3.0, 0.95), (0.5, 0.2), (2.5, 0.85)]
    assert pareto_front(pts) == [4, 0, 1, 3]


def test_sweep_killed_and_resumed_equals_uninterrupted(tmp_path):
    study = tmp_path / "study.toml"
    _write_study(study, {"training.algorithm": ["mixed_precision", "sgd"], "seed": [3, 4]})
    full = run_cli("run", str(study), "--out", str(tmp_path / "full"), "-q")
    assert full.returncode == 0, full.stderr
    assert "[4/4]" in full.stdout
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "memcosim", "run", str(study), "--out", str(killed), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.glob("runs/*/run.json"))) < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = len(list(killed.glob("runs/*/run.json")))
    assert 1 <= finished < 4, "the kill must land mid-sweep"
    other = tmp_path / "other.toml"
    _write_study(other, {"seed": [7]})
    refused = run_cli("run", str(other), "--out", str(killed), "-q")
    assert refused.returncode == 2 and "different study" in refused.stderr
    resumed = run_cli("run", str(study), "--out", str(killed), "--resume", "-q")
    assert resumed.returncode == 0, resumed.stderr
    # only the missing runs ran again
    assert resumed.stdout.count("/4] ") == 4 - finished
    a = json.loads((tmp_path / "full" / "results.json").read_text())
    b = json.loads((killed / "results.json").read_text())
    assert _strip(a) == _strip(b)
    csv_lines = (killed / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and "test_accuracy" in csv_lines[0] and "array_energy_per_update_j" in csv_lines[0]
    assert "| " in (killed / "report.md").read_text()


def test_two_point_sweep_on_local_dask_cluster(tmp_path):
    from distributed import LocalCluster

    study = parse_study({**SMALL, "sweep": {"device.pulse_width_s": [2e-8, 2e-7]}})
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as cluster:
        results = run_study(study, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    local = run_study(study, tmp_path / "local", progress=False)
    assert [r["pulse_width_s"] for r in results["runs"]] == [2e-8, 2e-7]
    assert _strip(results) == _strip(local)


def test_bad_scheduler_is_one_line(tmp_path):
    study = tmp_path / "study.toml"
    _write_study(study, {"seed": [1]})
    proc = run_cli("run", str(study), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9", "-q", timeout=120)
    assert proc.returncode == 2 and "--scheduler" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.ngspice
@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path, quickstart_point_cache):
    """The README's first command: the built-in quick start with ngspice characterisation (its
    points simulated once for the session by the fixture; the fit and everything after run here)."""
    shutil.copytree(quickstart_point_cache, tmp_path / "characterize" / "cache")
    proc = run_cli("run", "--out", str(tmp_path), "-q", timeout=900)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["device.pulse_width_s"] for r in results["runs"]] == [2e-8, 2e-6, 2e-4]
    for run in results["runs"]:
        assert run["test_accuracy"] > 0.3 and run["array_energy_per_update_j"] > 0 and run["pulses_total"] > 0
    # a pulse of 0.2 ms costs orders of magnitude more than one of 20 ns
    assert results["runs"][2]["array_energy_per_update_j"] > 10 * results["runs"][0]["array_energy_per_update_j"]
    for png in ("accuracy_vs_epoch.png", "energy_per_update_vs_pulse_width.png", "accuracy_vs_energy.png",
                "tile_breakdown.png"):
        assert (tmp_path / png).stat().st_size > 1000
    assert results["versions"]["ngspice"]
    # the whole tile beside the array: more per update, and per inference the converters dominate
    for run in results["runs"]:
        assert run["tile_energy_per_update_j"] > run["array_energy_per_update_j"]
        assert run["inference_converters_j"] > run["inference_array_j"]
    assert "## Whole tile" in (tmp_path / "report.md").read_text()


def test_run_calibrates_the_device_first(tmp_path, hzo_data_dir):
    files = sorted(str(p) for p in hzo_data_dir.glob("ID161ZR15000_*_w2e-0[68].csv"))[:2]
    study = parse_study({**SMALL, "device": {**SMALL["device"], "calibrate_from": files},
                         "training": {**SMALL["training"], "epochs": 1}})
    results = run_study(study, tmp_path, progress=False)
    device = json.loads((tmp_path / "calibrate" / "device.json").read_text())
    assert device["model"] == "hzo" and len(device["fitted_from"]) == 2
    assert (tmp_path / "calibrate" / "fit_report.json").exists()
    assert results["runs"][0]["pulses_total"] > 0


def test_mtj_die_study_through_run_and_report(tmp_path):
    study = parse_study({
        "name": "dies_small", "seed": 2,
        "device": {"kind": "mtj", "short_rate": 0.03, "open_rate": 0.01, "device_to_device_std": 0.05},
        "array": {"rows": 32, "cols": 32, "access_transistor": True},
        "training": {"dataset": "digits", "hidden_sizes": [16], "epochs": 1, "batch_size": 64, "learning_rate": 0.02},
        "dies": {"modes": ["ideal", "statistics_aware"], "recalibration_inputs": 100, "input_pool": 1},
        "sweep": {"array.access_gate_v": [1.2, 0.6], "dies.count": [1, 2]},
        "output": {"plots": True},
    })
    run_study(study, tmp_path / "out", progress=False)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results["runs"]) == 4
    # what the numbers were computed with
    assert results["versions"]["blas_mode"] and results["versions"]["numba"]
    record = json.loads(next((tmp_path / "out" / "runs").glob("*/run.json")).read_text())
    assert record["threads"] >= 1 and record["blas_mode"] == results["versions"]["blas_mode"]
    for run in results["runs"]:
        assert set(run["modes"]) == {"ideal", "statistics_aware", "ideal_recalibrated", "statistics_aware_recalibrated"}
        assert len(run["modes"]["ideal"]["die_errors"]) == run["dies.count"]
        assert run["training_read_energy_j"] > 0 and run["evaluation_read_energy_j"] > 0
        assert run["statistics_aware_read_energy_per_inference_j"] > 0
    # the same die 0 under one or two dies: the headline energy is the ideal network on die 0
    assert results["runs"][0]["read_energy_per_inference_j"] == results["runs"][1]["read_energy_per_inference_j"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "1T1MTJ (word line" in report and "statistics_aware_recalibrated (mean" in report
    assert "array.access_gate_v" in report and "dies.count" in report
    assert "spread of R_P and TMR 0.05 (device.device_to_device_std)" in report and "IR-drop on evaluation: first-order" in report
    assert "hardware_aware (mean" not in report  # modes that did not run get no column
    assert (tmp_path / "out" / "die_errors.png").exists()
