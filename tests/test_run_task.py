"""The typed pieces of a study run: the task a run is handed and the kind of study a record names."""

import pickle

import pytest

from memcosim.base.errors import ConfigError
from memcosim.config import parse_study
from memcosim.kinds import DIES, TRAINING, kind_for, kind_of
from memcosim.records import check_run_record
from memcosim.run_task import RunTask


def _task():
    return RunTask(run_id="000_seed=1_abcdef", values={"seed": 1}, study={"name": "t", "seed": 1},
                   run_dir="/tmp/out/runs/000_seed=1_abcdef", identity="ab" * 32,
                   inputs={"../device.json": "cd" * 32}, models_path=None, data_dir=None, device="cpu", threads=2,
                   events="pool")


def test_a_run_task_round_trips_through_json_and_pickle():
    task = _task()
    data = task.to_json()
    assert data["format_version"] == 1 and data["inputs"] == {"../device.json": "cd" * 32}
    assert RunTask.from_json(data) == task and pickle.loads(pickle.dumps(task)) == task  # a pool or Dask worker's copy


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["study"].update(seed=float("nan")), "task.json: study.seed: must be a finite number, got nan"),
    (lambda d: d.update(thread=2), "task.json: thread: unknown field; known: run_id, values"),
    (lambda d: d.update(threads="2"), "task.json: threads: must be an integer, got '2'"),
    (lambda d: d["inputs"].update({"x": 1}), "task.json: inputs.x: must be a string, got 1"),
])
def test_a_bad_run_task_is_refused_naming_the_field(edit, message):
    data = _task().to_json()
    edit(data)
    with pytest.raises(ConfigError, match=f"^{message}"):
        RunTask.from_json(data, source="task.json")


def test_the_study_kind_is_a_field_of_the_record_not_a_guess():
    assert kind_for(parse_study({"device": {"kind": "mtj"}})) is DIES
    assert kind_for(parse_study({})) is TRAINING
    assert kind_of({"kind": "mtj_dies"}) is DIES and kind_of({"kind": "training"}) is TRAINING
    assert kind_of({}) is TRAINING  # a record written before every record named its kind
    record = {"run_id": "r", "values": {}, "seed": 1, "wall_time_s": 1.0, "identity": "i", "inputs": {},
              "results": {}, "kind": "cnn"}
    with pytest.raises(ConfigError, match="run.json: kind: must be one of 'training', 'mtj_dies', got 'cnn'"):
        check_run_record(record, "run.json")



def test_the_run_identity_holds_what_the_read_path_resolves_to(monkeypatch):
    import memcosim.build_periphery as build_periphery
    from memcosim.plan import run_identity
    from memcosim.training.io_precision import IOConfig

    point = parse_study({"name": "t", "periphery": {"enabled": True}})
    point_json = point.model_dump(mode="json")
    same = run_identity(point, point_json, {})
    assert run_identity(parse_study({"name": "t", "periphery": {"enabled": True}}), point_json, {}) == same
    # the same study text, read through converters that resolve differently (another memcosim's defaults)
    resolved = build_periphery.io_config(point)
    monkeypatch.setattr(build_periphery, "io_config", lambda study: IOConfig(inp_bits=resolved.inp_bits,
                                                                             out_bits=resolved.out_bits, out_bound=6.0))
    assert run_identity(point, point_json, {}) != same
    dies = parse_study({"name": "t", "device": {"kind": "mtj"}})  # a die study has no read path to resolve
    assert len(run_identity(dies, dies.model_dump(mode="json"), {})) == 64
