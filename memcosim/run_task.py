"""One run of a study, in whatever process runs it: the :class:`RunTask` it is handed and :func:`run_one`.

A task is planned by :mod:`memcosim.run` (in the study's process) and executed inline, in a
local process pool or on a Dask worker (:mod:`memcosim.execute`); it crosses those boundaries
as a frozen dataclass (picklable) that also reads and writes strict JSON
(:class:`~memcosim.base.typed.JsonRecord`).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from memcosim.base.atomic import write_json_atomic
from memcosim.base.typed import JsonRecord
from memcosim.channels import emitter
from memcosim.config import parse_study
from memcosim.kinds import kind_for

__all__ = ["RunTask", "run_one", "copied_run", "energy_warning"]


@dataclass(frozen=True)
class RunTask(JsonRecord):
    """Everything one run needs, planned once by the study's process."""

    FORMAT_VERSION = 1

    run_id: str
    """``003_pulse_width_s=2e-06_ab12cd``: the index, the sweep values and a hash of them."""
    values: dict
    """The sweep values of this point (``{"device.pulse_width_s": 2e-06}``)."""
    study: dict
    """The validated study point (``Study.model_dump(mode="json")``)."""
    run_dir: str
    """Where the run writes ``identity.json``, its checkpoints and ``run.json``."""
    identity: str
    """SHA-256 of the study point and its inputs: a finished run is kept while it holds."""
    inputs: dict[str, str] = field(default_factory=dict)
    """``{path relative to the output folder: sha256}`` of every file the run reads."""
    models_path: str | None = None
    """The characterised ``models.json`` (None: the device's own energy model or a die study)."""
    data_dir: str | None = None
    """Where the dataset files are (None: the study's or a bundled dataset)."""
    device: str | None = None
    """The torch device (``cpu``, ``cuda``; None: the study's)."""
    threads: int = 0
    """Torch threads of the run (0: torch's default)."""
    events: str | None = None
    """Where a worker sends progress: ``"pool"``, ``"dask:<topic>"`` or None."""


def run_one(task, emit=None):
    """Train one sweep point (in any process); writes its ``run.json`` and returns its content with
    the results as its kind's typed record.

    ``task`` is a :class:`RunTask`. ``emit``: a callable taking each progress event (a dict) in
    this process, instead of ``task.events``.
    """
    from memcosim.base.errors import MemcosimError

    try:
        return _run_one(task, emit or emitter(task.events))
    except MemcosimError as exc:  # say which run of a sweep failed (a diverged loss, a bad input)
        raise type(exc)(f"run {task.run_id}: {exc}") from None


def _run_one(task, emit):
    import torch

    from memcosim.base.reproducible import blas_mode
    from memcosim.budget import check_training
    from memcosim.watch import RunWatch

    watch = RunWatch(task.run_id, emit)
    point = parse_study(task.study)
    check_training(point)
    run_dir = Path(task.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "identity.json", {"identity": task.identity, "inputs": task.inputs})
    torch.set_num_threads(task.threads or torch.get_num_threads())
    t0 = time.perf_counter()
    kind = kind_for(point)
    results = kind.run(point, task, watch, run_dir)
    # what the numbers were computed with: they do not depend on the thread count (base.reproducible),
    # but do on the MKL mode
    record = {"run_id": task.run_id, "values": task.values, "seed": point.seed, "kind": kind.name,
              "wall_time_s": time.perf_counter() - t0, "threads": torch.get_num_threads(), "blas_mode": blas_mode(),
              "identity": task.identity, "inputs": task.inputs, "results": results}
    write_json_atomic(run_dir / "run.json", {**record, "results": results.to_json()})
    watch.end()
    return record


def copied_run(record, task):
    """The run of ``task`` as a copy of the finished run ``record`` whose results it shares (their kind's
    ``result_key`` is equal: :func:`memcosim.plan.plan_tasks`): writes its ``results.json`` and its
    ``run.json`` (its own id, values, identity and inputs; ``"same_as"`` names the run it copies,
    ``wall_time_s`` is 0) and returns its record."""
    copy = {**record, "run_id": task.run_id, "values": task.values, "identity": task.identity, "inputs": task.inputs,
            "wall_time_s": 0.0, "same_as": record.get("same_as", record["run_id"])}
    run_dir = Path(task.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = copy["results"].to_json()
    write_json_atomic(run_dir / "results.json", results)
    write_json_atomic(run_dir / "run.json", {**copy, "results": results})  # last: a run.json is a finished run
    return copy


def energy_warning(point, models):
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
