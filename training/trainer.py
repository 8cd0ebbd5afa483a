"""The training loop of every study kind, its checkpoints, and the MLP run (``memcosim train``).

:func:`fit` is the one loop: seeded minibatches, an optimizer (and optional scheduler), an
:class:`~memcosim.training.ledger.EnergyLedger`, per-epoch records and one checkpoint format
(:func:`save_checkpoint`: tensors and plain data, loaded with ``weights_only=True``). A study
kind adds a model and a schedule: :func:`train` runs an MLP on crossbar tiles with
:class:`~memcosim.training.optim.CrossbarSGD`; the MTJ die study
(:func:`memcosim.training.dies.run_dies`) a binary network with Adam and a one-cycle schedule.

A run is deterministic in its seed: the network's initial weights, the devices' spread, the
minibatch order of every epoch and the pulse noise all come from named streams of
``TrainConfig.seed``. Every epoch ends with an atomic checkpoint (``DIR/checkpoint.pt``);
``resume=True`` continues from it and gives the same result as an uninterrupted run.
"""

import dataclasses
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import ConfigError, SimulationError
from memcosim.base.seeding import stream_seed, torch_generator
from memcosim.training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from memcosim.training.data import load_dataset
from memcosim.training.run_results import plot_run, run_results
from memcosim.training.conversion import attach_ledger, convert, digital_layers
from memcosim.training.tile import TileConfig
from memcosim.training.ledger import EnergyLedger
from memcosim.training.models import ModelSpec, build_model
from memcosim.training.optim import CrossbarSGD

__all__ = ["TrainConfig", "build_mlp", "train", "evaluate", "fit", "Fit", "save_checkpoint", "load_checkpoint",
           "CHECKPOINT_FORMAT"]

log = logging.getLogger(__name__)

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class TrainConfig:
    """One training run."""

    tile: TileConfig | None
    """Crossbar tile of every layer; None trains in floating point (the baseline)."""
    dataset: str = "digits"
    data_dir: str | None = None
    hidden_sizes: tuple = (32,)
    activation: str = "relu"
    epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 0.1
    lr_halve_every_epochs: int = 0
    """Halve the learning rate after every this many epochs (0: constant)."""
    target_accuracy: float = 0.95
    seed: int = 0
    device: str = "cpu"
    """torch device: ``cpu`` or ``cuda`` (layers, ledger and pulses all run there)."""
    validation_fraction: float = 0.0
    """Hold out this fraction of the training set (a seeded split) and report its accuracy every
    epoch; ``epochs_to_target`` is then counted on it (the published study: 0.2, 48 k / 12 k)."""
    model: ModelSpec = ModelSpec()
    """The network (:mod:`memcosim.training.models`): the MLP of ``hidden_sizes``, LeNet-5, or the user's own."""

    def __post_init__(self):
        if not isinstance(self.model, ModelSpec):
            raise ConfigError(f"model: must be a ModelSpec, got {type(self.model).__name__}")
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"training.activation: got {self.activation!r}; allowed: {', '.join(_ACTIVATIONS)}")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError(f"training.epochs: must be an integer >= 1, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"training.batch_size: must be an integer >= 1, got {self.batch_size!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"training.learning_rate: must be > 0, got {self.learning_rate!r}")
        if not (isinstance(self.lr_halve_every_epochs, int) and 0 <= self.lr_halve_every_epochs <= 10000):
            raise ConfigError(f"training.lr_halve_every_epochs: must be an integer in [0, 10000], got "
                              f"{self.lr_halve_every_epochs!r}")
        if not (isinstance(self.validation_fraction, (int, float)) and 0 <= self.validation_fraction < 1):
            raise ConfigError(f"training.validation_fraction: must be in [0, 1), got {self.validation_fraction!r}")

    @property
    def algorithm(self):
        return "float" if self.tile is None else self.tile.algorithm

    def fingerprint(self):
        """A short hash of everything that decides the result (checkpoints must match it).

        ``epochs`` is left out: a finished run can be resumed to train longer.
        """
        text = json.dumps({k: v for k, v in _describe(self).items() if k != "epochs"}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


_OMITTED_AT_DEFAULT = ("validation_fraction", "model")
"""Fields added after fingerprints were first taken: left out of the description at their default,
so the runs of every earlier study keep their fingerprints."""


def _describe(config):
    out = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "tile"
           and not (f.name in _OMITTED_AT_DEFAULT and getattr(config, f.name) == f.default)}
    if "model" in out:
        out["model"] = asdict(out["model"])
    if config.tile is not None:
        out["tile"] = config.tile.describe()
    return out


def build_mlp(n_in, hidden_sizes, n_out, activation="sigmoid", seed=0):
    """A floating-point MLP, initialised like ``nn.Linear`` from the stream ``seed``/"init"."""
    gen = torch.Generator()
    gen.manual_seed(stream_seed(seed, "init/mlp"))
    layers, width = [], n_in
    for size in list(hidden_sizes) + [n_out]:
        lin = nn.Linear(width, size)
        with torch.no_grad():
            nn.init.kaiming_uniform_(lin.weight, a=math.sqrt(5), generator=gen)
            nn.init.uniform_(lin.bias, -1 / math.sqrt(width), 1 / math.sqrt(width), generator=gen)
        layers += [lin, _ACTIVATIONS[activation]()]
        width = size
    return nn.Sequential(*layers[:-1])


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


def train(config, out_dir, resume=False, progress=True, plots=True, on_data=None, on_epoch=None, on_batch=None):
    """Train an MLP on crossbars (or in floating point); write results, checkpoints and a plot.

    Parameters
    ----------
    config : TrainConfig
    out_dir : path
        ``results.json``, ``checkpoint.pt`` and ``training.png`` go here.
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` (it must come from the same configuration).
    progress : bool
        Show a progress bar per epoch.
    on_data : callable, optional
        Called once with the loaded :class:`~memcosim.training.data.Dataset` (its classes and
        test set size), before training.
    on_epoch, on_batch : callable, optional
        Passed to :func:`fit` (progress and checks of a run while it trains).

    Returns
    -------
    RunResult
        The results (also in ``out_dir/results.json``); ``warnings`` lists what went wrong
        without stopping the run (epochs that applied no pulses).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: 'cuda' requested but no CUDA device is available")
    data = load_dataset(config.dataset, config.data_dir, config.seed)
    shape = data.image_shape if config.model.takes_images else (data.n_features,)
    train_x, train_y = data.train_x.reshape(-1, *shape).to(device), data.train_y.to(device)
    test_x, test_y = data.test_x.reshape(-1, *shape).to(device), data.test_y.to(device)
    valid = None
    if config.validation_fraction > 0:
        order = torch.randperm(len(train_y), generator=torch_generator(config.seed, "data/validation")).to(device)
        held = int(round(config.validation_fraction * len(train_y)))
        valid = (train_x[order[:held]], train_y[order[:held]])
        train_x, train_y = train_x[order[held:]], train_y[order[held:]]

    def metrics(m, epoch):
        out = {"test_accuracy": evaluate(m, test_x, test_y)}
        if valid is not None:
            out["validation_accuracy"] = evaluate(m, *valid)
        return out

    if on_data is not None:
        on_data(data)

    ledger = EnergyLedger(device)
    model = build_model(config.model, data.image_shape, data.n_classes, config.hidden_sizes, config.activation,
                        config.seed).to(device)
    if config.tile is not None:
        model = convert(model, config.tile, seed=stream_seed(config.seed, "layers"), inplace=True)
        attach_ledger(model, ledger)
        optimizer = CrossbarSGD(model, lr=config.learning_rate)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)
    scheduler = None
    if config.lr_halve_every_epochs:  # the scheduler steps once per minibatch
        batches = math.ceil(len(train_x) / config.batch_size)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_halve_every_epochs * batches, gamma=0.5)
    run = fit(model, optimizer, (train_x, train_y), epochs=config.epochs, batch_size=config.batch_size,
              shuffle=(config.seed, "data/shuffle"), ledger=ledger, scheduler=scheduler,
              evaluate=metrics,
              expect_pulses=config.tile is not None, checkpoint=out / "checkpoint.pt",
              fingerprint=config.fingerprint(), resume=resume, bar="epoch" if progress else None,
              on_epoch=on_epoch, on_batch=on_batch)
    results = run_results(config, run, ledger.totals(), model=asdict(config.model) if config.model != ModelSpec() else None,
                          digital_layers=tuple(f"{name} ({kind})" for name, kind in digital_layers(model))
                          if config.tile is not None else None)
    write_json_atomic(out / "results.json", results.to_json())
    if plots:
        plot_run(results, out / "training.png")
    return results
