"""A run's identity holds the content of every file it reads; one --out, one run at a time; lazy grids."""

import json
import subprocess
import sys
import time

import pytest

from memcosim.base.memory import BUDGET_ENV
from memcosim.cli import main
from memcosim.config import parse_study
from memcosim.devices.presets import _PRESET_DIR
from memcosim.run import run_study

TINY = {"name": "tiny", "seed": 3, "circuit": {"energy_model": "device"},
        "training": {"dataset": "digits", "hidden_sizes": [8], "epochs": 1, "batch_size": 64},
        "output": {"plots": False}}


def _device(tmp_path, g_max_s=None):
    data = json.loads((_PRESET_DIR / "hzo_default.json").read_text())
    if g_max_s is not None:
        data.setdefault("params", data)["g_max_s"] = g_max_s
    path = tmp_path / "device.json"
    path.write_text(json.dumps(data))
    return path


def _numbers(results):
    return [(r["test_accuracy"], r["array_energy_per_update_j"]) for r in results["runs"]]


def test_a_changed_device_json_runs_again_what_depends_on_it(tmp_path, caplog):
    device = _device(tmp_path)
    study = parse_study({**TINY, "device": {"parameters_file": str(device)}, "sweep": {"seed": [1, 2]}})
    first = run_study(study, tmp_path / "out", progress=False)
    assert set(first["inputs"]) == {"../device.json"}  # relative to the output folder
    again = []
    run_study(study, tmp_path / "out", resume=True, progress=False, on_run=lambda r, d, t: again.append(r))
    assert again == []  # unchanged inputs: finished runs kept
    _device(tmp_path, g_max_s=2 * json.loads((_PRESET_DIR / "hzo_default.json").read_text())["params"]["g_max_s"])
    resumed = run_study(study, tmp_path / "out", resume=True, progress=False)
    assert "../device.json changed since" in caplog.text
    fresh = run_study(study, tmp_path / "fresh", progress=False)
    assert _numbers(resumed) == _numbers(fresh) != _numbers(first)


def _timeless(data):
    """``data`` without its wall-clock times (the one thing two runs of a study may differ in)."""
    if isinstance(data, dict):
        return {k: _timeless(v) for k, v in data.items() if k not in ("elapsed_s", "wall_time_s")}
    return [_timeless(v) for v in data] if isinstance(data, list) else data


def test_the_same_study_in_two_folders_writes_the_same_results(tmp_path):
    device = _device(tmp_path)
    study = parse_study({**TINY, "device": {"parameters_file": str(device)}})
    a, b = (run_study(study, tmp_path / name, progress=False) for name in ("a", "b"))
    assert list(a["inputs"]) == ["../device.json"] and a["inputs"] == b["inputs"]
    first, second = (json.loads((tmp_path / name / "results.json").read_text()) for name in ("a", "b"))
    assert _timeless(first) == _timeless(second)


def test_train_honours_calibrate_from(tmp_path, capsys):
    sys.path.insert(0, str(__import__("tests.conftest").conftest.REPO / "examples"))
    from calibrate_from_csv import write_demo_sweeps

    (csv,) = write_demo_sweeps(tmp_path / "data", widths_s=(2e-6,))
    study = tmp_path / "study.toml"
    study.write_text(f'name = "cal"\n[device]\ncalibrate_from = ["{csv}"]\n[circuit]\nenergy_model = "device"\n'
                     '[training]\nhidden_sizes = [8]\nepochs = 1\n[output]\nplots = false\n')
    assert main(["train", str(study), "--out", str(tmp_path / "t"), "-q", "--models", "none"]) == 0
    calibrated = tmp_path / "t" / "calibrate" / "device.json"
    assert json.loads(calibrated.read_text())["fitted_from"] == [str(csv)]
    by_file = tmp_path / "byfile.toml"
    by_file.write_text(study.read_text().replace(f'calibrate_from = ["{csv}"]', f'parameters_file = "{calibrated}"'))
    assert main(["train", str(by_file), "--out", str(tmp_path / "f"), "-q", "--models", "none"]) == 0
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("t", "f"))
    assert (a["test_accuracy"], a["array_energy_per_update_j"]) == (b["test_accuracy"], b["array_energy_per_update_j"])
    capsys.readouterr()
    csv.unlink()
    assert main(["train", str(study), "--out", str(tmp_path / "m"), "-q", "--models", "none"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device.calibrate_from" in err[0] and str(csv) in err[0]


@pytest.mark.parametrize("victim, content", [("runs/*/run.json", "{"), ("study.json", "[1]"), ("runs/*/run.json", "\xff")])
def test_corrupted_output_folders_are_one_line(tmp_path, capsys, victim, content):
    study = tmp_path / "s.toml"
    study.write_text('name = "c"\n[circuit]\nenergy_model = "device"\n[training]\nhidden_sizes = [8]\nepochs = 1\n'
                     '[output]\nplots = false\n')
    out = tmp_path / "out"
    assert main(["run", str(study), "--out", str(out), "-q"]) == 0
    (path,) = out.glob(victim)
    path.write_bytes(content.encode("latin-1"))
    capsys.readouterr()
    assert main(["run", str(study), "--out", str(out), "-q", "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0] and "Traceback" not in err[0]


def test_two_runs_on_one_out_the_second_says_who_holds_it(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text('name = "lock"\n[circuit]\nenergy_model = "device"\n[training]\nhidden_sizes = [8]\nepochs = 30\n'
                     '[output]\nplots = false\n')
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "memcosim", "run", str(study), "--out", str(out), "-q"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / ".memcosim.lock").exists():
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-m", "memcosim", "run", str(study), "--out", str(out), "-q"],
                                capture_output=True, text=True, timeout=120)
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"in use by memcosim pid {first.pid}" in lines[0] and "since" in lines[0]


def test_a_huge_grid_validates_fast_and_run_folders_appear_when_runs_start(tmp_path, capsys, monkeypatch):
    big = tmp_path / "big.toml"
    big.write_text('[sweep]\nseed = [' + ", ".join(map(str, range(1000))) + ']\n"training.learning_rate" = ['
                   + ", ".join(f"{0.001 * (i + 1):.3f}" for i in range(1000)) + "]\n")
    t0 = time.perf_counter()
    assert main(["config", "validate", str(big)]) == 0
    assert "1000000 run(s)" in capsys.readouterr().out and time.perf_counter() - t0 < 20
    monkeypatch.setenv(BUDGET_ENV, "1")
    assert main(["run", str(big), "--out", str(tmp_path / "never"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "a sweep of 1000000 run(s) with 1 worker(s) needs about" in err and BUDGET_ENV in err
    assert not (tmp_path / "never" / "runs").exists()
    monkeypatch.delenv(BUDGET_ENV)
    seen = []
    study = parse_study({**TINY, "sweep": {"seed": [1, 2, 3]}})
    run_study(study, tmp_path / "lazy", progress=False,
              on_run=lambda r, d, t: seen.append(len(list((tmp_path / "lazy" / "runs").iterdir()))))
    assert seen == [1, 2, 3]
