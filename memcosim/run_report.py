"""Reporting a study: the report rewritten as runs finish, and rebuilt from a finished or interrupted folder."""

import time
from pathlib import Path

from memcosim.base.errors import ConfigError
from memcosim.base.files import read_json
from memcosim.config import parse_study, sweep_points
from memcosim.plan import expected_epochs, with_calibrated_device
from memcosim.records import read_run_record

__all__ = ["PartialReport", "rebuild_report"]


class PartialReport:
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

    Returns the content of ``results.json``; raises :class:`ConfigError` when ``out_dir`` holds
    no study or a run record is unreadable.
    """
    from memcosim.report import write_report

    out = Path(out_dir)
    if not (out / "study.json").is_file():
        raise ConfigError(f"DIR: {out} has no study.json: not an output directory of memcosim run")
    study = parse_study(read_json(out / "study.json", "study record (study.json)"))
    device_json = out / "calibrate" / "device.json"
    if study.device.calibrate_from and device_json.exists():  # as run_study reported it: the calibrated device
        study = with_calibrated_device(study, device_json)
    found = []
    for path in (out / "runs").glob("*/run.json"):
        index = path.parent.name.split("_", 1)[0]
        found.append((int(index) if index.isdigit() else float("inf"), path.parent.name, path))
    points = sweep_points(study)
    records = [read_run_record(path, expected_epochs(points[index][1]) if index < len(points) else None)
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
