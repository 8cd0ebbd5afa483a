"""Planning a study's runs: their ids, their input hashes, their characterisations and their tasks.

Each sweep point becomes a :class:`~memcosim.run_task.RunTask` (:func:`plan_tasks`, lazily: a run
folder is made when its run starts). A run's identity is the hash of its study point, of the
content of every file it reads (:class:`InputHashes`, keyed by the path relative to the output
folder) and of what its settings resolve to (:func:`run_identity`); a finished ``run.json`` is
kept only while that identity holds.
"""

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.files import file_sha256, read_json
from memcosim.config import parse_study, sweep_points
from memcosim.records import read_run_record
from memcosim.run_task import RunTask
from memcosim.sections_tile import ModelSection

__all__ = ["plan_runs", "plan_tasks", "InputHashes", "calibrated_study", "with_calibrated_device", "expected_epochs"]

log = logging.getLogger(__name__)


def _key(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _value_text(value):
    """A swept value as a run id shows it: a list of files by their names (``measured_from``)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "+".join(Path(v).stem for v in value)
    return str(value)


def _run_id(index, values):
    parts = [f"{k.split('.')[-1]}={_value_text(v)}" for k, v in values.items()]
    label = "_".join(parts).replace("/", "-")[:60] or "single"
    safe = "".join(c if c.isalnum() or c in "=._-" else "-" for c in label)
    return f"{index:03d}_{safe}_{_key(values)[:6]}"


def plan_runs(study):
    """``(run_id, sweep values, point Study)`` in sweep order, built one at a time (a generator)."""
    return ((_run_id(i, values), values, point) for i, (values, point) in enumerate(sweep_points(study)))


class InputHashes:
    """SHA-256 of input files, each read once per study run, keyed by the path relative to the output
    folder ``out`` (``characterize/<key>/models.json``, ``../data/mnist/...``): the same study run in
    two folders records the same inputs. Missing files are named."""

    def __init__(self, out):
        self._out = Path(out).resolve()
        self._seen = {}

    def __call__(self, paths, what):
        found = {}
        for path in paths:
            key = Path(os.path.relpath(Path(path).resolve(), self._out)).as_posix()
            if key not in self._seen:
                self._seen[key] = file_sha256(path, what)
            found[key] = self._seen[key]
        return found


def calibrated_study(study, out, hashes=None):
    """The study with its device calibrated from ``device.calibrate_from`` into ``OUT/calibrate``.

    The calibration is kept while the measured files are unchanged (``calibrate/inputs.json``
    holds their SHA-256); a changed file is recalibrated, with a warning naming it. Returns the
    study unchanged when it has no ``calibrate_from``.
    """
    files = study.device.calibrate_from
    if not files:
        return study
    from memcosim import __version__
    from memcosim.devices.calibrate import calibrate_files, write_calibration

    hashes = hashes or InputHashes(out)
    target = Path(out) / "calibrate"
    device_json, stamp = target / "device.json", target / "inputs.json"
    model = study.device.calibrate_model if study.device.kind == "hzo" else study.device.kind
    wanted = {"model": model, "files": hashes(files, "device.calibrate_from")}
    done = device_json.exists() and stamp.exists()
    previous = read_json(stamp, "calibration record") if done else None
    if previous != wanted:
        if done:
            changed = _changed((previous or {}).get("files", {}), wanted["files"])
            log.warning("calibrating again: %s", changed)
        log.info("calibrating the device from %d file(s)", len(files))
        stamp.unlink(missing_ok=True)
        write_calibration(calibrate_files(files, model=model), target, version=__version__)
        write_json_atomic(stamp, wanted)
    return with_calibrated_device(study, device_json)


def with_calibrated_device(study, device_json):
    """The study whose device is the calibrated ``device_json`` (and nothing left to calibrate)."""
    data = study.model_dump(mode="json")
    data["device"].update(parameters_file=str(device_json.resolve()), calibrate_from=[])
    data["device"].pop("calibrate_model", None)  # nothing left to calibrate (device.json names its model)
    return parse_study(data)


def _changed(before, after):
    """What differs between two ``{path: sha256}`` maps, in words."""
    edited = [p for p in after if p in before and before[p] != after[p]]
    if edited:
        return f"{edited[0]} changed since (sha256 {before[edited[0]][:12]} -> {after[edited[0]][:12]})"
    added = [p for p in after if p not in before]
    removed = [p for p in before if p not in after]
    if added or removed:
        return f"its input files changed ({', '.join(added + removed)})"
    return "it was written without input hashes (an older memcosim)"


def expected_epochs(point):
    """The epoch records a finished run of ``point`` may hold (None: a die study's are not counted)."""
    return None if point.device.kind == "mtj" else point.training.epochs


def _reset(run_dir, why):
    """Remove what an earlier run of ``run_dir`` left (its inputs changed)."""
    log.warning("running %s again: %s", run_dir.name, why)
    shutil.rmtree(run_dir, ignore_errors=True)


def _models_path(point, out, progress, paths, operations=None, measured=None):
    """The models.json of a point that trains with circuit models (characterised once per setup), or None.

    ``operations``: the parallel write operations of the whole study (a sweep over algorithms
    shares one characterisation of every operation its points need); ``measured``: every
    measured file of the study (a sweep over measured files shares one characterisation too).
    """
    from memcosim.build import characterize_setup, uses_circuit_models

    if not uses_circuit_models(point):
        return None
    setup = characterize_setup(point, operations=operations, measured=measured)
    key = _key(repr(setup))
    if key not in paths:
        target = out / "characterize" / key
        if not (target / "models.json").exists():
            from memcosim.circuits.characterize import characterize

            log.info("characterising into %s", target)
            # one point cache for the study: setups that differ only in array size share their small decks
            characterize(setup, target, progress=progress, plots=True, cache_dir=out / "characterize" / "cache")
        paths[key] = str((target / "models.json").resolve())
    return paths[key]


def run_identity(point, point_json, inputs):
    """SHA-256 of what decides a run's result: its study point (``point_json``, its
    ``model_dump(mode="json")``), the content of its ``inputs`` and what its settings resolve to
    in this memcosim: a training point's read path (the resolved
    :class:`~memcosim.training.io_config.IOConfig`), so a run is redone when the meaning of its
    settings changes, not only their text."""
    from memcosim.kinds import TRAINING, kind_for

    described = {"study": dict(point_json), "inputs": inputs}
    if described["study"].get("model") == ModelSection().model_dump(mode="json"):
        del described["study"]["model"]  # the default network: the identities of runs from before [model] hold
    if kind_for(point) is TRAINING:
        from memcosim.build_periphery import io_config

        described["io"] = dataclasses.asdict(io_config(point))
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def plan_tasks(study, out, records, order, *, data_dir, device, workers, progress, hashes, calibration_inputs, events=None,
               copies=None):
    """Yield the task of every unfinished point, lazily; finished ones go into ``records``.

    ``copies`` (a dict): an unfinished point whose results equal an earlier point's (their kind's
    ``result_key``: a float baseline swept across device settings) is not yielded but added to
    ``copies[that point's run id]``, for the runner to copy once that run has finished
    (:func:`~memcosim.run_task.copied_run`). Without it every point is yielded.
    """
    from memcosim.build import measured_files, study_operations, sweep_measured_files
    from memcosim.kinds import kind_for
    from memcosim.training.data import dataset_files

    models, first_of = {}, {}  # first_of: result key -> the run id of the first point with it
    operations = study_operations(study)
    measured = sweep_measured_files(study) if "device.measured_from" in study.sweep else None
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    for run_id, values, point in plan_runs(study):
        order.append(run_id)
        run_dir = out / "runs" / run_id
        models_path = _models_path(point, out, progress, models, operations, measured)
        d = data_dir or point.training.data_dir
        d = str(Path(d).resolve()) if d else None
        inputs = dict(calibration_inputs)
        if point.device.parameters_file:
            inputs.update(hashes([point.device.parameters_file], "device.parameters_file"))
        if point.device.kind == "measured":
            inputs.update(hashes(measured_files(point), "device.measured_from"))
        if point.device.kind == "mtj" and point.dies.maps is not None:
            from memcosim.build_dies import die_map_files

            inputs.update(hashes(die_map_files(point), "dies.maps"))
        if point.periphery.enabled and point.periphery.converters_file:
            inputs.update(hashes([point.periphery.converters_file], "periphery.converters_file"))
        if models_path:
            inputs.update(hashes([models_path], "circuit models"))
        data_inputs = hashes(dataset_files(point.training.dataset, d), "training.data_dir")
        inputs.update(data_inputs)
        point_json = point.model_dump(mode="json")
        identity = run_identity(point, point_json, inputs)
        task = RunTask(run_id=run_id, values=values, study=point_json, run_dir=str(run_dir.resolve()),
                       models_path=models_path, data_dir=d, device=device, threads=threads, identity=identity,
                       inputs=inputs, events=events)
        key = kind_for(point).result_key(point, task, data_inputs) if copies is not None else None
        first = first_of.setdefault(key, run_id) if key is not None else run_id
        done = run_dir / "run.json"
        if done.exists():
            record = read_run_record(done, expected_epochs(point))
            if record.get("identity") == identity:
                records[run_id] = record
                continue
            _reset(run_dir, _changed(record.get("inputs", {}), inputs))
        elif (run_dir / "identity.json").exists():
            started = read_json(run_dir / "identity.json", "run identity (identity.json)")
            if started.get("identity") != identity:
                _reset(run_dir, _changed(started.get("inputs", {}), inputs))
        if first != run_id:
            copies.setdefault(first, []).append(task)
            continue
        yield task
