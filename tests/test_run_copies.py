"""Points whose results are decided by less than their identity train once: a float baseline swept
across device settings is one run and copies."""

import json

import memcosim.execute
from memcosim.config import parse_study
from memcosim.records import read_run_record
from memcosim.run import run_study

SWEPT = {"name": "copies", "seed": 3, "circuit": {"energy_model": "device"},
         "training": {"dataset": "digits", "hidden_sizes": [8], "epochs": 1, "batch_size": 64},
         "output": {"plots": False},
         "sweep": {"training.algorithm": ["float", "sgd"], "device.pulse_width_s": [2e-8, 2e-6, 2e-4]}}


def _counting(monkeypatch):
    ran = []
    run_one = memcosim.execute.run_one

    def counted(task, emit=None):
        ran.append(task.run_id)
        return run_one(task, emit=emit)

    monkeypatch.setattr(memcosim.execute, "run_one", counted)
    return ran


def _results(record):
    """A run's results without its id, its point and its wall-clock times."""
    def timeless(data):
        if isinstance(data, dict):
            return {k: timeless(v) for k, v in data.items() if k != "elapsed_s"}
        return [timeless(v) for v in data] if isinstance(data, list) else data

    return timeless({k: v for k, v in record.items() if k not in ("run_id", "training.algorithm", "device.pulse_width_s")})


def test_a_float_baseline_across_device_settings_trains_once(tmp_path, monkeypatch):
    ran = _counting(monkeypatch)
    announced = []
    out = tmp_path / "out"
    results = run_study(parse_study(SWEPT), out, progress=False, on_run=lambda r, d, t: announced.append(r["run_id"]))
    floats = [r for r in results["runs"] if r["algorithm"] == "float"]
    assert len(floats) == 3 and len(results["runs"]) == 6
    assert sum("algorithm=float" in run_id for run_id in ran) == 1  # one float run trained
    assert sum("algorithm=sgd" in run_id for run_id in ran) == 3  # points with tiles are never merged
    assert sorted(announced) == sorted(r["run_id"] for r in results["runs"])  # copies are announced like runs
    assert all(_results(r) == _results(floats[0]) for r in floats[1:])
    assert [r["device.pulse_width_s"] for r in floats] == [2e-8, 2e-6, 2e-4]  # each copy keeps its own point
    first = floats[0]["run_id"]
    for r in floats[1:]:
        record = read_run_record(out / "runs" / r["run_id"] / "run.json")  # a copy reads back as a finished run
        assert record["same_as"] == first and record["wall_time_s"] == 0.0
        assert record["values"]["device.pulse_width_s"] == r["device.pulse_width_s"]
        assert json.loads((out / "runs" / r["run_id"] / "results.json").read_text())["test_accuracy"] == r["test_accuracy"]
    # a fresh study without copies (each float point alone) gives the same numbers
    alone = run_study(parse_study({**SWEPT, "sweep": {"training.algorithm": ["float"], "device.pulse_width_s": [2e-4]}}),
                      tmp_path / "alone", progress=False)
    assert _results(alone["runs"][0]) == _results(floats[0])


def test_copies_resume_and_are_made_from_a_run_finished_in_an_earlier_session(tmp_path, monkeypatch):
    out = tmp_path / "out"
    study = parse_study(SWEPT)
    run_study(study, out, progress=False)
    copy = next(p for p in sorted((out / "runs").iterdir()) if "algorithm=float" in p.name and "2e-06" in p.name)
    (copy / "run.json").unlink()  # a copy lost: made again from its finished original, nothing trains
    ran = _counting(monkeypatch)
    again = run_study(study, out, resume=True, progress=False)
    assert ran == []
    assert json.loads((copy / "run.json").read_text())["same_as"].startswith("000_")
    assert len(again["runs"]) == 6
