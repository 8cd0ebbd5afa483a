"""``memcosim run``: a whole study, end to end — characterise, train every sweep point, report.

Layout of an output directory::

    DIR/study.json                 the validated study that was run
    DIR/calibrate/                 device.json, fit_report.json and inputs.json (the hashes of the
                                   measured files) when the study has device.calibrate_from
    DIR/characterize/<key>/        models.json (+ cache) per distinct circuit setup
    DIR/runs/<run id>/             identity.json (written when the run starts), checkpoint.pt (MLP) or
                                   checkpoint/<stage>.pt (die study), run.json when finished
    DIR/results.json, results.csv, report.md, *.png
                                   rewritten as each run finishes (``"partial": true`` until all have)
    DIR/tb/<run>/                  TensorBoard logs, with ``tensorboard`` (:mod:`memcosim.tblog`)

Each sweep point is one run; the grid is expanded lazily (a run folder is made when its run
starts). A run's identity is the hash of its study point and of the content of every file it
reads (the device.json, the measured files of a calibration, models.json, the MNIST files): a
finished ``run.json`` is kept only while that identity holds, so after an input file changed
the runs that depend on it run again (with a warning naming the file). ``run.json`` is written
atomically, so after any interruption (``kill -9`` included) ``resume=True`` skips finished
runs, continues unfinished ones from their last epoch checkpoint, and the final results equal an
uninterrupted run's. Runs execute inline (``workers=1``), in a local process pool (workers exit
with this process), or on a Dask distributed cluster (``scheduler="tcp://host:port"``).

While a run trains it reports (:mod:`memcosim.watch`): progress events and warnings travel to
this process directly (inline), through a multiprocessing queue (pool) or through Dask's event
stream (:mod:`memcosim.channels`), and feed the display (:class:`memcosim.progress.Progress`)
and the TensorBoard log. The report is rewritten, marked partial, as each run finishes;
:func:`rebuild_report` rebuilds it from the finished runs of a directory (``memcosim report``).
"""

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import islice
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.files import file_sha256, read_json
from memcosim.base.processes import die_with_parent
from memcosim.channels import Sink, emitter, pool_worker
from memcosim.config import parse_study, sweep_points
from memcosim.records import read_run_record
from memcosim.sections import ModelSection

__all__ = ["run_study", "run_one", "quickstart_path", "plan_runs", "calibrated_study", "rebuild_report"]

log = logging.getLogger(__name__)


def quickstart_path():
    """The built-in quick-start study file (package data)."""
    return Path(__file__).parent / "studies" / "quickstart.toml"


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
    return _with_calibrated_device(study, device_json)


def _with_calibrated_device(study, device_json):
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


def run_one(task, emit=None):
    """Train one sweep point (in any process); writes and returns its ``run.json`` content.

    ``task`` is a plain dict (picklable for process pools and Dask): ``run_id``, ``values``,
    ``study`` (a dict), ``run_dir``, ``models_path`` (or None), ``data_dir``, ``device``,
    ``identity``, ``inputs`` (``{path: sha256}`` of the files the run reads) and ``events``
    (where progress goes from a worker: ``"pool"``, ``"dask:<topic>"`` or None). ``emit``: a
    callable taking each progress event (a dict) in this process, instead of ``events``.
    """
    from memcosim.base.errors import MemcosimError

    try:
        return _run_one(task, emit or emitter(task.get("events")))
    except MemcosimError as exc:  # say which run of a sweep failed (a diverged loss, a bad input)
        raise type(exc)(f"run {task['run_id']}: {exc}") from None


def _run_one(task, emit):
    import torch

    from memcosim.budget import check_training
    from memcosim.watch import RunWatch

    watch = RunWatch(task["run_id"], emit)
    point = parse_study(task["study"])
    check_training(point)
    run_dir = Path(task["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "identity.json", {"identity": task["identity"], "inputs": task["inputs"]})
    torch.set_num_threads(task.get("threads") or torch.get_num_threads())
    t0 = time.perf_counter()
    if point.device.kind == "mtj":
        from memcosim.build import dies_config
        from memcosim.training.dies import run_dies

        cfg = dies_config(point, data_dir=task["data_dir"])
        watch.start_dies(cfg.epochs, cfg.evaluation_dies, cfg.hardware_aware_epochs, cfg.modes)
        # finished stages (trained networks, per-die results) survive an interrupted run
        results = run_dies(cfg, progress=watch.stage, checkpoint_dir=run_dir / "checkpoint")
        extra = {"kind": "mtj_dies"}
    else:
        from memcosim.build import train_config
        from memcosim.circuits.models import CircuitModels
        from memcosim.training.trainer import train

        models = CircuitModels.load(task["models_path"]) if task["models_path"] else None
        config = train_config(point, models, data_dir=task["data_dir"], device=task["device"])
        watch.start_training(config.epochs, config.tile is not None, _energy_warning(point, models))
        with watch.watching():
            results = train(config, run_dir, resume=True, progress=False, plots=False, on_data=watch.data,
                            on_epoch=watch.epoch, on_batch=watch.batch)
        results["warnings"] = watch.finish_training(results)
        if config.tile is not None and config.tile.energy.periphery is not None:
            from memcosim.build_area import study_area

            results["area"] = study_area(point, config.tile.device.amplitude_v)
        extra = {}
    record = {"run_id": task["run_id"], "values": task["values"], "seed": point.seed, **extra,
              "wall_time_s": time.perf_counter() - t0, "identity": task["identity"], "inputs": task["inputs"],
              "results": results}
    write_json_atomic(run_dir / "run.json", record)
    watch.end()
    return record


def _energy_warning(point, models):
    """The warning of a run whose pulses lie outside its characterisation's sweep, or None (every
    pulsed device kind: a measured device's pulses have the amplitudes its sweep applied)."""
    from memcosim.build import PULSED_KINDS, pulsed_device

    if models is None or point.device.kind not in PULSED_KINDS:
        return None
    import numpy as np

    from memcosim.watch import outside_characterisation

    pulsed, _, amplitude = pulsed_device(point)
    if callable(amplitude):
        grid = np.linspace(0.0, 1.0, 65)
        volts = np.concatenate([amplitude(grid, direction) for direction in ("up", "down")])
        amplitudes = [float(volts.min()), float(volts.max())]
    else:
        amplitudes = [amplitude]
    return outside_characterisation(models.write_energy.grid, pulsed.width_s, amplitudes)


def _epochs(point):
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


def _tasks(study, out, records, order, *, data_dir, device, workers, progress, hashes, calibration_inputs, events=None):
    """Yield the task of every unfinished point, lazily; finished ones go into ``records``."""
    from memcosim.build import measured_files, study_operations, sweep_measured_files
    from memcosim.training.data import dataset_files

    models = {}
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
        inputs.update(hashes(dataset_files(point.training.dataset, d), "training.data_dir"))
        point_json = point.model_dump(mode="json")
        if point_json["model"] == ModelSection().model_dump(mode="json"):
            del point_json["model"]  # the default network: the identities of runs from before [model] hold
        identity = hashlib.sha256(json.dumps({"study": point_json, "inputs": inputs}, sort_keys=True).encode()).hexdigest()
        done = run_dir / "run.json"
        if done.exists():
            record = read_run_record(done, _epochs(point))
            if record.get("identity") == identity:
                records[run_id] = record
                continue
            _reset(run_dir, _changed(record.get("inputs", {}), inputs))
        elif (run_dir / "identity.json").exists():
            started = read_json(run_dir / "identity.json", "run identity (identity.json)")
            if started.get("identity") != identity:
                _reset(run_dir, _changed(started.get("inputs", {}), inputs))
        yield {"run_id": run_id, "values": values, "study": point_json, "run_dir": str(run_dir.resolve()),
               "models_path": models_path, "data_dir": d, "device": device, "threads": threads,
               "identity": identity, "inputs": inputs, "events": events}


def run_study(study, out_dir, resume=False, workers=1, scheduler=None, progress=True, data_dir=None, device=None,
              on_run=None, tensorboard=None):
    """Run every sweep point of ``study``; write results and the report.

    Parameters
    ----------
    study : Study
    out_dir : path
    resume : bool
        Keep finished runs and checkpoints of an earlier, interrupted run in ``out_dir``. (The
        same study run again into the same directory keeps them too; a different study there
        is refused.) A finished run whose input files changed since runs again.
    workers : int
        Local worker processes (1: run inline).
    scheduler : str, optional
        Address of a Dask distributed scheduler; runs are submitted there instead.
    progress : bool or Progress
        Show progress: True, a :class:`memcosim.progress.Progress` on stderr (bars on a
        terminal, plain lines elsewhere); or a display of its interface; False: none.
    data_dir, device : str, optional
        Override ``training.data_dir`` / ``training.device`` of every run.
    on_run : callable, optional
        Called with each finished run's record, the runs finished and the total (the CLI
        prints a line with it), after the partial report that holds it is written.
    tensorboard : path, optional
        Write TensorBoard logs of every run under this folder (:mod:`memcosim.tblog`).

    Returns
    -------
    dict
        The content of ``results.json``.

    Raises
    ------
    ConfigError
        A different study in ``out_dir``, an unreachable scheduler, an unreadable input file or
        run record, a sweep whose estimated memory exceeds the budget (:mod:`memcosim.budget`),
        or ``tensorboard`` without the tensorboard package.
    """
    from memcosim.budget import check_grid
    from memcosim.progress import Progress

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers: must be an integer >= 1, got {workers!r}")
    n_points = len(sweep_points(study))
    check_grid(study, n_points, workers)
    tb = None
    if tensorboard is not None:
        from memcosim.tblog import TensorBoardLog

        tb = TensorBoardLog(tensorboard)
    display = Progress() if progress is True else (progress or None)
    client = _connect(scheduler) if scheduler else None
    sink = Sink(display, tb) if display is not None or tb is not None else None
    try:
        out = Path(out_dir)
        runs_dir = out / "runs"
        study_json = study.model_dump(mode="json")
        previous = out / "study.json"
        if runs_dir.exists() and any(runs_dir.iterdir()):
            same = previous.exists() and read_json(previous, "study record (study.json)") == study_json
            if not same:
                raise ConfigError(f"--out: {out} holds runs of a different study; choose another --out")
            if not resume:
                # the same study again: finished runs are deterministic, so keep them
                log.warning("%s already holds runs of this study: keeping finished runs (as --resume)", out)
        runs_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(previous, study_json)

        t0 = time.perf_counter()
        hashes = InputHashes(out)
        calibration_inputs = hashes(study.device.calibrate_from, "device.calibrate_from")
        study = calibrated_study(study, out, hashes)
        records, order = {}, []
        channel = sink.channel(workers, client) if sink is not None else None
        tasks = _tasks(study, out, records, order, data_dir=data_dir, device=device, workers=workers,
                       progress=bool(progress), hashes=hashes, calibration_inputs=calibration_inputs,
                       events=channel.spec if channel else None)
        report = _PartialReport(study, out, n_points, t0)
        for record in _execute(tasks, workers, client, channel, n_points, records):
            records[record["run_id"]] = record
            if sink is not None:
                sink.finished(record, len(records))
            if len(records) < n_points:  # the last one is written complete below
                report.write([records[run_id] for run_id in order if run_id in records])
            if on_run is not None:
                on_run(record, len(records), n_points)
        log.info("%d runs", len(order))
        if tb is not None:  # runs that finished before this call, logged now if they were not then
            for run_id in order:
                if not tb.has_run(run_id):
                    tb.finished(records[run_id])
        return report.write([records[run_id] for run_id in order], final=True)
    finally:
        if sink is not None:
            sink.close()
        if client is not None:
            client.close()


class _PartialReport:
    """Writes the report as runs finish: each time when cheap, less often when plotting is slow.

    A rewrite is skipped while less than ten times its last duration has passed since it (the
    report stays at most ~10 % of a study's time); the final one is always written.
    """

    def __init__(self, study, out, total, t0):
        self.study, self.out, self.total, self.t0 = study, out, total, t0
        self._next = -float("inf")

    def write(self, records, final=False):
        from memcosim.report import write_report

        now = time.perf_counter()
        if not final and now < self._next:
            return None
        results = write_report(self.study, records, self.out, now - self.t0, plots=self.study.output.plots,
                               runs_total=self.total)
        done = time.perf_counter()
        self._next = done + 10 * (done - now)
        return results


def rebuild_report(out_dir, tensorboard=None):
    """Rebuild ``results.json``, ``results.csv``, ``report.md`` and the plots of ``out_dir``.

    From the study it holds (``study.json``) and every finished run (``runs/*/run.json``),
    also after an interruption: the report is marked partial while runs are missing. Its
    ``elapsed_s`` is the runs' own wall time added up.

    Parameters
    ----------
    out_dir : path
        An output directory of :func:`run_study`.
    tensorboard : path, optional
        Also (re)write the TensorBoard log of every finished run there.

    Returns
    -------
    dict
        The content of ``results.json``.

    Raises
    ------
    ConfigError
        ``out_dir`` holds no study, or a run record is unreadable.
    """
    from memcosim.report import write_report

    out = Path(out_dir)
    if not (out / "study.json").is_file():
        raise ConfigError(f"DIR: {out} has no study.json: not an output directory of memcosim run")
    study = parse_study(read_json(out / "study.json", "study record (study.json)"))
    device_json = out / "calibrate" / "device.json"
    if study.device.calibrate_from and device_json.exists():  # as run_study reported it: the calibrated device
        study = _with_calibrated_device(study, device_json)
    found = []
    for path in (out / "runs").glob("*/run.json"):
        index = path.parent.name.split("_", 1)[0]
        found.append((int(index) if index.isdigit() else float("inf"), path.parent.name, path))
    points = sweep_points(study)
    records = [read_run_record(path, _epochs(points[index][1]) if index < len(points) else None)
               for index, _, path in sorted(found)]
    if not records:
        raise ConfigError(f"DIR: no run in {out} has finished yet (no runs/*/run.json): nothing to report")
    if tensorboard is not None:
        from memcosim.tblog import TensorBoardLog

        tb = TensorBoardLog(tensorboard)
        for record in records:
            tb.finished(record)
        tb.close()
    elapsed = sum(rec.get("wall_time_s", 0.0) for rec in records)
    return write_report(study, records, out, elapsed, plots=study.output.plots, runs_total=len(sweep_points(study)))


def _execute(tasks, workers, client, channel, total, records):
    """Yield each task's record as it finishes; at most ``2 * workers`` tasks are submitted at once.

    ``channel``: where the runs' progress events go (None: nowhere).
    """
    sink = channel.sink if channel is not None else None

    class _Counted:  # finished runs found while planning count as finished
        def __iter__(self):
            for task in tasks:
                if sink is not None:
                    sink.study(total, len(records))
                yield task

    if sink is not None:
        sink.study(total, 0)
    try:
        if client is not None:
            yield from _execute_dask(_Counted(), client, channel, window=64)
        elif workers <= 1:
            emit = sink.event if sink is not None else None
            for task in _Counted():
                yield run_one(task, emit=emit)
        else:
            extra = {} if channel is None else {"mp_context": channel.context, "initargs": (channel.queue,)}
            with ProcessPoolExecutor(max_workers=workers, initializer=pool_worker if channel else die_with_parent,
                                     **extra) as pool:
                pending, queue_ = set(), iter(_Counted())
                pending.update(pool.submit(run_one, t) for t in islice(queue_, 2 * workers))
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    if channel is not None:
                        channel.drain()
                    for future in done:
                        yield _delivered(future.result(), channel)
                    pending.update(pool.submit(run_one, t) for t in islice(queue_, len(done)))
        if sink is not None:
            sink.study(total, len(records))
    finally:
        if channel is not None:
            channel.close()


def _delivered(record, channel):
    """A worker's finished run, once its progress events have all come through ``channel`` (they
    travel apart from the result and may arrive behind it)."""
    if channel is not None:
        channel.wait_for_end(record["run_id"])
    return record


def _connect(scheduler):
    """A Dask client of the scheduler at ``scheduler``; ConfigError naming it when there is none."""
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError("--scheduler: dask.distributed is not installed") from None
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler: cannot connect to a Dask scheduler at {scheduler!r} ({exc}); "
                          "expected an address such as tcp://127.0.0.1:8786") from None


def _execute_dask(tasks, client, channel, window):
    from dask.distributed import as_completed as dask_completed

    queue_ = iter(tasks)
    running = dask_completed([client.submit(run_one, t, pure=False) for t in islice(queue_, window)])
    while not running.is_empty():
        if channel is not None:
            channel.drain()
        ready = running.next_batch(block=channel is None)
        if not ready:
            time.sleep(0.2)
            continue
        for future in ready:
            yield _delivered(future.result(), channel)
            for task in islice(queue_, 1):
                running.add(client.submit(run_one, task, pure=False))
