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
starts). Points whose results their kind decides from less than their identity (a float baseline
swept across device settings: :meth:`~memcosim.kinds.StudyKind.result_key`) train once; the others
get a copy of that run's record (``"same_as"`` names it) when it finishes. A run's identity is
the hash of its study point and of the content of every file it
reads (the device.json, the measured files of a calibration, models.json, the MNIST files): a
finished ``run.json`` is kept only while that identity holds, so after an input file changed
the runs that depend on it run again (with a warning naming the file). ``run.json`` is written
atomically, so after any interruption (``kill -9`` included) ``resume=True`` skips finished
runs, continues unfinished ones from their last epoch checkpoint, and the final results equal an
uninterrupted run's. Runs execute inline (``workers=1``), in a local process pool (workers exit
with this process), or on a Dask distributed cluster (``scheduler="tcp://host:port"``).

The work is split by stage: :mod:`memcosim.plan` (run ids, input hashes, characterisations, the
:class:`~memcosim.run_task.RunTask` of every point), :mod:`memcosim.execute` (inline, pool, Dask),
:mod:`memcosim.run_task` (one run, in whatever process), :mod:`memcosim.run_report` (the report
as runs finish, and rebuilt); this module runs them in order.

While a run trains it reports (:mod:`memcosim.watch`): progress events and warnings travel to
this process directly (inline), through a multiprocessing queue (pool) or through Dask's event
stream (:mod:`memcosim.channels`), and feed the display (:class:`memcosim.progress.Progress`)
and the TensorBoard log. The report is rewritten, marked partial, as each run finishes;
:func:`rebuild_report` rebuilds it from the finished runs of a directory (``memcosim report``).
"""

import logging
import time
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.files import read_json
from memcosim.channels import Sink
from memcosim.config import sweep_points
from memcosim.execute import connect, execute
from memcosim.plan import InputHashes, calibrated_study, plan_runs, plan_tasks
from memcosim.run_report import PartialReport, rebuild_report
from memcosim.run_task import RunTask, copied_run, run_one

__all__ = ["run_study", "run_one", "RunTask", "quickstart_path", "plan_runs", "calibrated_study", "rebuild_report"]
# run_one, RunTask, plan_runs, calibrated_study and rebuild_report live in their modules (memcosim.run_task,
# memcosim.plan, memcosim.run_report) and are imported here, the face of a whole study

log = logging.getLogger(__name__)


def quickstart_path():
    """The built-in quick-start study file (package data)."""
    return Path(__file__).parent / "studies" / "quickstart.toml"


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

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers: must be an integer >= 1, got {workers!r}")
    n_points = len(sweep_points(study))
    check_grid(study, n_points, workers)
    display, tb = _displays(progress, tensorboard)
    client = connect(scheduler) if scheduler else None
    sink = Sink(display, tb) if display is not None or tb is not None else None
    try:
        out = Path(out_dir)
        _claim_out(study, out, resume)
        t0 = time.perf_counter()
        hashes = InputHashes(out)
        calibration_inputs = hashes(study.device.calibrate_from, "device.calibrate_from")
        study = calibrated_study(study, out, hashes)
        records, order, copies = {}, [], {}
        channel = sink.channel(workers, client) if sink is not None else None
        tasks = plan_tasks(study, out, records, order, data_dir=data_dir, device=device, workers=workers,
                           progress=bool(progress), hashes=hashes, calibration_inputs=calibration_inputs,
                           events=channel.spec if channel else None, copies=copies)
        report = PartialReport(study, out, n_points, t0)

        def finished(record):
            records[record["run_id"]] = record
            if sink is not None:
                sink.finished(record, len(records))
            if len(records) < n_points:  # the last one is written complete below
                report.write([records[run_id] for run_id in order if run_id in records])
            if on_run is not None:
                on_run(record, len(records), n_points)

        def copy_finished():  # the points that share a finished run's results (plan_tasks' copies)
            for first in [first for first in copies if first in records]:
                for task in copies.pop(first):
                    finished(copied_run(records[first], task))

        for record in execute(tasks, workers, client, channel, n_points, records):
            finished(record)
            copy_finished()
        copy_finished()  # copies of runs finished before they were planned (an earlier session's)
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


def _displays(progress, tensorboard):
    """``(progress display or None, TensorBoard log or None)`` of :func:`run_study`'s arguments."""
    from memcosim.progress import Progress

    tb = None
    if tensorboard is not None:
        from memcosim.tblog import TensorBoardLog

        tb = TensorBoardLog(tensorboard)
    return (Progress() if progress is True else (progress or None)), tb


def _claim_out(study, out, resume):
    """Refuse ``out`` when it holds runs of another study; record the study in ``out/study.json``."""
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
