"""TensorBoard logs of a study: one TensorBoard run per sweep point, curves per epoch.

``memcosim run STUDY --tensorboard`` writes ``OUT/tb/<run>/`` (``--tensorboard-dir TB_DIR``: under
``TB_DIR``); ``tensorboard --logdir OUT/tb`` shows the whole sweep as comparable curves. A run is
named by its index and sweep values (``001_pulse_width_s=2e-06``, :func:`memcosim.progress.run_label`);
its sweep values (and seed) are its hyperparameters, with the final accuracy and energy as
their metrics (the HParams tab).

Scalars of an MLP run, per epoch (step = epoch): ``accuracy/test``, ``loss/train``,
``learning_rate``, ``pulses/epoch``, ``pulses/cumulative``, ``energy/write_j``,
``energy/read_j`` (this epoch), ``energy/write_cumulative_j``, ``energy/read_cumulative_j``,
``energy/total_cumulative_j``, ``energy/per_update_j``. A die study (written when it finishes):
``loss/<stage>`` per epoch, ``die_error/<mode>`` per die (step = die), ``error/software``.

Epochs are written as they end (the writer is in the process that runs the study, fed by the
runs' progress events); when a run finishes its folder is rewritten from its ``run.json``, so
the log of a run interrupted and resumed holds each epoch once. Needs the ``tensorboard``
package (``pip install tensorboard``); without it, asking for the logs is a one-line error.
"""

import shutil
from pathlib import Path

from memcosim.base.errors import ConfigError
from memcosim.progress import run_label

__all__ = ["TensorBoardLog", "require_tensorboard", "epoch_scalars"]


def require_tensorboard(option="--tensorboard"):
    """torch's ``SummaryWriter`` class; ConfigError naming ``option`` when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(f"{option}: TensorBoard logs need the tensorboard package, which is not installed "
                          "(pip install tensorboard)") from None
    return SummaryWriter


def epoch_scalars(record, pulses_before=None):
    """``{tag: value}`` of one MLP epoch record; ``pulses/cumulative`` when ``pulses_before`` is known."""
    out = {"accuracy/test": record.get("test_accuracy"), "loss/train": record.get("train_loss"),
           "learning_rate": record.get("learning_rate"), "pulses/epoch": record.get("pulses"),
           "energy/write_j": record.get("write_energy_j"), "energy/read_j": record.get("read_energy_j"),
           "energy/write_cumulative_j": record.get("cumulative_write_energy_j"),
           "energy/total_cumulative_j": record.get("cumulative_energy_j")}
    if record.get("cumulative_energy_j") is not None and record.get("cumulative_write_energy_j") is not None:
        out["energy/read_cumulative_j"] = record["cumulative_energy_j"] - record["cumulative_write_energy_j"]
    if record.get("updates"):
        out["energy/per_update_j"] = record["write_energy_j"] / record["updates"]
    if pulses_before is not None and record.get("pulses") is not None:
        out["pulses/cumulative"] = pulses_before + record["pulses"]
    return {k: float(v) for k, v in out.items() if v is not None}


def _hparam(value):
    return value if isinstance(value, (bool, int, float, str)) else str(value)


class TensorBoardLog:
    """The TensorBoard log of one study (see the module docstring).

    Parameters
    ----------
    logdir : path
        One sub-folder per run is written here.

    Raises
    ------
    ConfigError
        tensorboard is not installed, or ``logdir`` cannot be made.
    """

    def __init__(self, logdir, option="--tensorboard"):
        self._writer_class = require_tensorboard(option)
        self.dir = Path(logdir)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{option}: cannot make {self.dir} ({exc.strerror or exc})") from None
        self._live = {}  # run_id -> [writer, cumulative pulses or None]

    def run_dir(self, run_id):
        return self.dir / run_label(run_id)

    def epoch(self, run_id, record):
        """Write one epoch of a running MLP run."""
        live = self._live.get(run_id)
        if live is None:
            # purge_step: events at this epoch and later from an interrupted attempt are hidden
            writer = self._writer_class(str(self.run_dir(run_id)), purge_step=record["epoch"])
            live = self._live[run_id] = [writer, 0 if record["epoch"] == 1 else None]
        writer, pulses = live
        for tag, value in epoch_scalars(record, pulses).items():
            writer.add_scalar(tag, value, record["epoch"])
        if pulses is not None:
            live[1] = pulses + record.get("pulses", 0)
        writer.flush()

    def finished(self, record):
        """Write a finished run from its record (``run.json``), replacing what was written live."""
        live = self._live.pop(record["run_id"], None)
        if live is not None:
            live[0].close()
        target = self.run_dir(record["run_id"])
        shutil.rmtree(target, ignore_errors=True)
        res = record["results"]
        with self._writer_class(str(target)) as writer:
            if record.get("kind") == "mtj_dies":
                metrics = self._dies(writer, res)
                step = 0
            else:
                pulses = 0
                for e in res.epochs:
                    for tag, value in epoch_scalars(e, pulses).items():
                        writer.add_scalar(tag, value, e["epoch"])
                    pulses += e.get("pulses", 0)
                metrics = {"final/test_accuracy": res.test_accuracy,
                           "final/array_energy_per_update_j": res.array_energy_per_update_j,
                           "final/total_energy_j": res.total_energy_j}
                step = len(res.epochs)
            self._hparams(writer, record, {k: float(v) for k, v in metrics.items() if v is not None}, step)

    def has_run(self, run_id):
        """Whether ``run_id`` has an event file in the log."""
        return any(self.run_dir(run_id).glob("events.out.tfevents.*"))

    def close(self):
        for writer, _ in self._live.values():
            writer.close()
        self._live.clear()

    @staticmethod
    def _dies(writer, res):
        for stage, losses in res.train_loss.items():
            for epoch, loss in enumerate(losses, 1):
                writer.add_scalar(f"loss/{stage}", loss, epoch)
        writer.add_scalar("error/software", res.software_error, 0)
        metrics = {"final/software_error": res.software_error}
        for mode, summary in res.modes.items():
            for die, error in enumerate(summary.die_errors):
                writer.add_scalar(f"die_error/{mode}", error, die)
            metrics[f"final/{mode}_error_mean"] = summary.mean
        return metrics

    @staticmethod
    def _hparams(writer, record, metrics, step):
        from torch.utils.tensorboard.summary import hparams

        params = {k: _hparam(v) for k, v in record.get("values", {}).items()} or {"run": record["run_id"]}
        params.setdefault("seed", record.get("seed"))
        params = {k: v for k, v in params.items() if v is not None}
        for summary in hparams(params, metrics):
            writer.file_writer.add_summary(summary, step)
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, step)
