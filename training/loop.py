"""The one training loop of every study kind (:func:`fit`) and its evaluation (:func:`evaluate`).

:func:`fit`: seeded minibatches, an optimizer (and optional scheduler), an
:class:`~memcosim.training.ledger.EnergyLedger`, per-epoch records and one checkpoint format
(:func:`~memcosim.training.checkpoint.save_checkpoint`: tensors and plain data, loaded with
``weights_only=True``). A study kind adds a model and a schedule: the MLP / CNN run
(:func:`memcosim.training.trainer.train`) and the MTJ die study
(:func:`memcosim.training.dies.run_dies`). Every epoch ends with an atomic checkpoint;
resuming from it gives the same result as an uninterrupted run.
"""

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from memcosim.base.errors import ConfigError, SimulationError
from memcosim.base.seeding import torch_generator
from memcosim.training.checkpoint import load_checkpoint, save_checkpoint

__all__ = ["fit", "Fit", "evaluate"]

log = logging.getLogger(__name__)


@torch.no_grad()
def evaluate(model, x, y, batch_size=1000):
    """Accuracy of ``model`` on ``(x, y)``."""
    model.eval()
    correct = 0
    for i in range(0, len(y), batch_size):
        correct += int((model(x[i : i + batch_size]).argmax(dim=1) == y[i : i + batch_size]).sum())
    model.train()
    return correct / max(len(y), 1)


def _ledger_delta(before, after):
    """Epoch record fields of the ledger: what this epoch booked, and the running totals
    (``before``, ``after``: :class:`~memcosim.training.ledger_totals.LedgerTotals`)."""
    split_before, split_after = before.write_split_j, after.write_split_j
    return {
        "updates": after.updates - before.updates,
        "pulses": after.pulses - before.pulses,
        "write_energy_j": after.write_j - before.write_j,
        **{f"write_{c}": split_after[c] - split_before[c] for c in ("selected_j", "half_selected_j", "wires_drivers_j")},
        "read_energy_j": after.read_j - before.read_j,
        "eval_read_energy_j": after.eval_read_j - before.eval_read_j,
        "eval_tile_energy_j": after.tile.inference.total_j - before.tile.inference.total_j,
        "cumulative_write_energy_j": after.write_j,
        "cumulative_energy_j": after.write_j + after.read_j,
        "cumulative_tile_energy_j": after.tile.update.total_j + after.tile.read.total_j,
    }


@dataclass(frozen=True)
class Fit:
    """What :func:`fit` returns."""

    epochs: list
    """One record per epoch (those restored from the checkpoint included)."""
    warnings: list
    """Plain-text warnings (an epoch that applied no pulses, when pulses were expected)."""


def _no_pulse_warnings(records):
    idle = [r["epoch"] for r in records if r.get("pulses") == 0]
    if not idle:
        return []
    which = "every epoch" if len(idle) == len(records) else "epoch(s) " + ", ".join(map(str, idle))
    return [f"{which} of {len(records)} applied no programming pulses: the crossbar weights did not change. One "
            "device step is larger than the updates added up to (shorten device.pulse_width_s, or raise "
            "training.learning_rate or the number of updates)"]


def _resumed(checkpoint, fingerprint, model, optimizer, scheduler, ledger, epochs, device):
    """``(epoch records, elapsed_s)`` of the checkpoint a run resumes from, restored into the objects."""
    records, elapsed = load_checkpoint(checkpoint, fingerprint, model, optimizer, scheduler, ledger, map_location=device)
    if len(records) > epochs:
        raise ConfigError(f"--resume: {checkpoint}: holds {len(records)} epoch records, this run trains {epochs} "
                          "epochs; remove it")
    log.info("resumed %s at epoch %d", checkpoint, len(records))
    return records, elapsed


@dataclass(frozen=True)
class _Steps:
    """The optimizer steps of one epoch of :func:`fit` (its arguments of the same names)."""

    optimizer: object
    forward: object
    loss_fn: object
    scheduler: object
    after_step: object
    on_batch: object

    def epoch(self, model, x, y, order, batch_size, epoch, bar=None):
        """Step through the minibatches of ``order``; returns the epoch's mean training loss
        (:class:`SimulationError` when it is not finite: the run diverged)."""
        total_loss, batches = torch.zeros((), device=x.device), 0
        starts = range(0, len(y), batch_size)
        n_batches = len(starts)
        if bar:
            from tqdm import tqdm

            starts = tqdm(starts, desc=bar, unit="batch", leave=False)
        for k, i in enumerate(starts):
            idx = order[i : i + batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.forward(model, x[idx], epoch, k), y[idx])
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            if self.after_step is not None:
                self.after_step(model)
            total_loss += loss.detach()
            batches += 1
            if self.on_batch is not None:
                self.on_batch(epoch, k, n_batches)
        if bar:
            starts.close()
        train_loss = float(total_loss) / max(batches, 1)
        if not math.isfinite(train_loss):
            raise SimulationError(f"training diverged: the loss of epoch {epoch + 1} is {train_loss}; check "
                                  "training.learning_rate against the device step, and the read path's bounds "
                                  "(out_bound, inp_bound) against the outputs' scale")
        return train_loss


def fit(model, optimizer, data, *, epochs, batch_size, shuffle, forward=None, loss_fn=None, scheduler=None,
        after_step=None, ledger=None, evaluate=None, expect_pulses=False, checkpoint=None, fingerprint="",
        resume=True, bar=None, on_epoch=None, on_batch=None):
    """Train ``model`` on minibatches for ``epochs`` epochs: the one training loop of every study kind.

    Every epoch: a seeded shuffle, then per minibatch ``zero_grad``, loss, ``backward``,
    ``optimizer.step()``, ``scheduler.step()``, ``after_step(model)``; at its end a record
    (``epoch``, ``train_loss``, what ``evaluate`` returns, the ledger's bookings of the epoch,
    ``elapsed_s``) and, with ``checkpoint``, an atomic checkpoint (:func:`save_checkpoint`).
    Resuming from any epoch's checkpoint gives the same result as an uninterrupted run, as long
    as every random draw comes from seeded streams (the shuffle does: ``shuffle``/epoch).

    Parameters
    ----------
    model : nn.Module
    optimizer : torch.optim.Optimizer
    data : (Tensor, Tensor)
        Training inputs and integer labels, on the model's device.
    epochs, batch_size : int
        Total epochs (a resumed run trains the missing ones) and minibatch size.
    shuffle : (int, str)
        ``(seed, stream)``: epoch ``e``'s order is ``randperm`` from the stream ``stream/e``.
    forward : callable, optional
        ``forward(model, x, epoch, batch) -> logits`` (default ``model(x)``): how a study kind
        runs its model (the die study reads a die per minibatch).
    loss_fn : callable, optional
        Default ``nn.CrossEntropyLoss()``.
    scheduler : LR scheduler, optional
        Stepped after every optimizer step; checkpointed.
    after_step : callable, optional
        ``after_step(model)`` after every optimizer step (e.g. clipping latent weights).
    ledger : EnergyLedger, optional
        Checkpointed; its bookings of each epoch go into the record.
    evaluate : callable, optional
        ``evaluate(model, epoch) -> dict`` of metrics for the record (epoch counts from 1).
    expect_pulses : bool
        The optimizer programs devices: an epoch with no pulse in the ledger is warned about
        (``logging.warning`` once per call, and in :attr:`Fit.warnings`).
    checkpoint : path, optional
        Checkpoint file (written after every epoch).
    fingerprint : str
        Identifies the configuration; a checkpoint of another one is refused.
    resume : bool
        Continue from ``checkpoint`` when it exists (else it is overwritten).
    bar : str, optional
        Show a per-epoch progress bar with this label.
    on_epoch : callable, optional
        Called with each new epoch record (after its checkpoint is written).
    on_batch : callable, optional
        ``on_batch(epoch, batch, n_batches)`` after every optimizer step (``epoch`` and
        ``batch`` count from 0): progress inside an epoch. Neither callback touches the model
        or a random stream.

    Returns
    -------
    Fit
    """
    x, y = data
    records, elapsed = [], 0.0
    if checkpoint is not None and resume and Path(checkpoint).exists():
        records, elapsed = _resumed(checkpoint, fingerprint, model, optimizer, scheduler, ledger, epochs, x.device)
    forward = forward or (lambda m, xb, epoch, batch: m(xb))
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    seed, stream = shuffle
    n, warned = len(y), False
    for epoch in range(len(records), epochs):
        t0 = time.perf_counter()
        before = ledger.totals() if ledger is not None else None
        learning_rate = optimizer.param_groups[0]["lr"]
        model.train()
        order = torch.randperm(n, generator=torch_generator(seed, f"{stream}/{epoch}")).to(x.device)
        steps = _Steps(optimizer, forward, loss_fn, scheduler, after_step, on_batch)
        train_loss = steps.epoch(model, x, y, order, batch_size, epoch, f"{bar} {epoch + 1}/{epochs}" if bar else None)
        record = {"epoch": epoch + 1, "train_loss": train_loss, "learning_rate": learning_rate}
        if evaluate is not None:
            record.update(evaluate(model, epoch + 1))
        if ledger is not None:
            record.update(_ledger_delta(before, ledger.totals()))
        elapsed += time.perf_counter() - t0
        record["elapsed_s"] = elapsed
        records.append(record)
        log.info("epoch %d/%d: %s", epoch + 1, epochs, ", ".join(f"{k} {v:.4g}" for k, v in record.items()
                                                                if k in ("train_loss", "test_accuracy", "pulses")))
        if expect_pulses and record.get("pulses") == 0 and not warned:
            log.warning("epoch %d applied no programming pulses: the crossbar weights did not change", epoch + 1)
            warned = True
        if checkpoint is not None:
            save_checkpoint(checkpoint, fingerprint=fingerprint, epochs=records, elapsed_s=elapsed, model=model,
                            optimizer=optimizer, scheduler=scheduler, ledger=ledger)
        if on_epoch is not None:
            on_epoch(record)
    model.eval()
    return Fit(records, _no_pulse_warnings(records) if expect_pulses else [])
