"""``memcosim run``: a whole study, end to end — characterise, train every sweep point, report.

Layout of an output directory::

    DIR/study.json                 the validated study that was run
    DIR/characterize/<key>/        models.json (+ cache) per distinct circuit setup
    DIR/runs/<run id>/             checkpoint.pt (MLP) or checkpoint/<stage>.pt (die study), one
                                   format (memcosim.training.trainer.save_checkpoint); run.json when finished
    DIR/results.json, results.csv, report.md, *.png

Each sweep point is one run. A finished run's ``run.json`` is written atomically, so after any
interruption (``kill -9`` included) ``resume=True`` skips finished runs, continues unfinished
ones from their last epoch checkpoint, and the final results equal an uninterrupted run's.
Runs execute inline (``workers=1``), in a local process pool, or on a Dask distributed cluster
(``scheduler="tcp://host:port"``).
"""

import hashlib
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from memcosim.base.atomic import write_text_atomic
from memcosim.config import parse_study, sweep_points
from memcosim.base.errors import ConfigError

__all__ = ["run_study", "run_one", "quickstart_path", "plan_runs"]

log = logging.getLogger(__name__)


def quickstart_path():
    """The built-in quick-start study file (package data)."""
    return Path(__file__).parent / "studies" / "quickstart.toml"


def _key(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _run_id(index, values):
    parts = [f"{k.split('.')[-1]}={v}" for k, v in values.items()]
    label = "_".join(parts).replace("/", "-")[:60] or "single"
    safe = "".join(c if c.isalnum() or c in "=._-" else "-" for c in label)
    return f"{index:03d}_{safe}_{_key(values)[:6]}"


def plan_runs(study):
    """``[(run_id, sweep values, point Study)]`` in sweep order."""
    return [(_run_id(i, values), values, point) for i, (values, point) in enumerate(sweep_points(study))]


def _write_json_atomic(path, data):
    write_text_atomic(path, json.dumps(data, indent=2) + "\n")


def run_one(task):
    """Train one sweep point (in any process); writes and returns its ``run.json`` content.

    ``task`` is a plain dict (picklable for process pools and Dask): ``run_id``, ``values``,
    ``study`` (a dict), ``run_dir``, ``models_path`` (or None), ``data_dir``, ``device``.
    """
    import torch

    from memcosim.build import train_config
    from memcosim.training.trainer import train

    torch.set_num_threads(task.get("threads") or torch.get_num_threads())
    point = parse_study(task["study"])
    if point.device.kind == "mtj":
        return _run_dies(task, point)
    from memcosim.circuits.models import CircuitModels

    models = CircuitModels.load(task["models_path"]) if task["models_path"] else None
    config = train_config(point, models, data_dir=task["data_dir"], device=task["device"])
    t0 = time.perf_counter()
    results = train(config, task["run_dir"], resume=True, progress=False, plots=False)
    record = {"run_id": task["run_id"], "values": task["values"], "seed": point.seed,
              "wall_time_s": time.perf_counter() - t0, "results": results}
    _write_json_atomic(Path(task["run_dir"]) / "run.json", record)
    return record


def _run_dies(task, point):
    """One MTJ die study point: every training mode on every die."""
    from memcosim.build import dies_config
    from memcosim.training.dies import run_dies

    t0 = time.perf_counter()
    # finished stages (trained networks, per-die results) survive an interrupted run
    results = run_dies(dies_config(point, data_dir=task["data_dir"]), checkpoint_dir=Path(task["run_dir"]) / "checkpoint")
    record = {"run_id": task["run_id"], "values": task["values"], "seed": point.seed, "kind": "mtj_dies",
              "wall_time_s": time.perf_counter() - t0, "results": results}
    _write_json_atomic(Path(task["run_dir"]) / "run.json", record)
    return record


def _calibrated(study, out):
    """The study with its device calibrated from ``device.calibrate_from`` (once; cached)."""
    files = study.device.calibrate_from
    if not files:
        return study
    from memcosim import __version__
    from memcosim.devices.calibrate import calibrate_files, write_calibration

    target = out / "calibrate"
    device_json = target / "device.json"
    if not device_json.exists():
        log.info("calibrating the device from %d file(s)", len(files))
        write_calibration(calibrate_files(files, model=study.device.kind), target, version=__version__)
    data = study.model_dump(mode="json")
    data["device"].update(parameters_file=str(device_json.resolve()), calibrate_from=[])
    return parse_study(data)


def _characterize_all(points, out, progress):
    """Characterise every distinct circuit setup once; ``{run id: absolute models.json path}``
    for the runs that use circuit models."""
    from memcosim.build import characterize_setup, uses_circuit_models
    from memcosim.circuits.characterize import characterize

    paths = {}
    for run_id, _, point in points:
        if not uses_circuit_models(point):
            continue
        setup = characterize_setup(point)
        target = out / "characterize" / _key(repr(setup))
        if not (target / "models.json").exists():
            log.info("characterising into %s", target)
            characterize(setup, target, progress=progress, plots=True)
        paths[run_id] = str((target / "models.json").resolve())
    return paths


def run_study(study, out_dir, resume=False, workers=1, scheduler=None, progress=True, data_dir=None, device=None,
              on_run=None):
    """Run every sweep point of ``study``; write results and the report.

    Parameters
    ----------
    study : Study
    out_dir : path
    resume : bool
        Keep finished runs and checkpoints of an earlier, interrupted run in ``out_dir``. (The
        same study run again into the same directory keeps them too; a different study there
        is refused.)
    workers : int
        Local worker processes (1: run inline).
    scheduler : str, optional
        Address of a Dask distributed scheduler; runs are submitted there instead.
    data_dir, device : str, optional
        Override ``training.data_dir`` / ``training.device`` of every run.
    on_run : callable, optional
        Called with each finished run's record (the CLI prints progress with it).

    Returns
    -------
    dict
        The content of ``results.json``.
    """
    from memcosim.report import write_report

    out = Path(out_dir)
    runs_dir = out / "runs"
    study_json = study.model_dump(mode="json")
    previous = out / "study.json"
    if runs_dir.exists() and any(runs_dir.iterdir()):
        same = previous.exists() and json.loads(previous.read_text()) == study_json
        if not same:
            raise ConfigError(f"--out: {out} holds runs of a different study; choose another --out")
        if not resume:
            # the same study again: finished runs are deterministic, so keep them
            log.warning("%s already holds runs of this study: keeping finished runs (as --resume)", out)
    runs_dir.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(previous, study_json)

    t0 = time.perf_counter()
    study = _calibrated(study, out)
    points = plan_runs(study)
    models = _characterize_all(points, out, progress)
    records, tasks = {}, []
    for run_id, values, point in points:
        run_dir = runs_dir / run_id
        done = run_dir / "run.json"
        if done.exists():
            records[run_id] = json.loads(done.read_text())
            continue
        run_dir.mkdir(exist_ok=True)
        d = data_dir or point.training.data_dir
        tasks.append({"run_id": run_id, "values": values, "study": point.model_dump(mode="json"),
                      "run_dir": str(run_dir.resolve()), "models_path": models.get(run_id),
                      "data_dir": str(Path(d).resolve()) if d else None, "device": device,
                      "threads": max(1, (os.cpu_count() or 1) // max(workers, 1))})
    log.info("%d runs, %d already finished, %d to run", len(points), len(records), len(tasks))
    for record in _execute(tasks, workers, scheduler, progress):
        records[record["run_id"]] = record
        if on_run is not None:
            on_run(record, len(records), len(points))
    ordered = [records[run_id] for run_id, _, _ in points]
    return write_report(study, ordered, out, time.perf_counter() - t0, plots=study.output.plots)


def _execute(tasks, workers, scheduler, progress):
    """Yield each task's record as it finishes."""
    if not tasks:
        return
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="runs", unit="run", disable=not progress)
    try:
        if scheduler:
            yield from _execute_dask(tasks, scheduler, bar)
        elif workers <= 1:
            for task in tasks:
                yield run_one(task)
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for future in as_completed([pool.submit(run_one, t) for t in tasks]):
                    yield future.result()
                    bar.update(1)
    finally:
        bar.close()


def _execute_dask(tasks, scheduler, bar):
    try:
        from dask.distributed import Client, as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError("--scheduler: dask.distributed is not installed") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"--scheduler: cannot connect to the Dask scheduler at {scheduler} ({exc})") from None
    try:
        futures = client.map(run_one, tasks, pure=False)
        for future in dask_completed(futures):
            yield future.result()
            bar.update(1)
    finally:
        client.close()
