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

from memcosim.base.atomic import atomic_path, write_json_atomic
from memcosim.base.errors import ConfigError, SimulationError
from memcosim.base.files import open_input
from memcosim.base.seeding import stream_seed, torch_generator
from memcosim.training.data import load_dataset
from memcosim.training.conversion import attach_ledger, convert, digital_layers
from memcosim.training.tile import TileConfig
from memcosim.training.ledger import EnergyLedger
from memcosim.training.models import ModelSpec, build_model
from memcosim.training.optim import CrossbarSGD

__all__ = ["TrainConfig", "build_mlp", "train", "evaluate", "fit", "Fit", "save_checkpoint", "load_checkpoint",
           "CHECKPOINT_FORMAT"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "memcosim-checkpoint/1"

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
    """Epoch record fields of the ledger: what this epoch booked, and the running totals."""
    return {
        "updates": after["updates"] - before["updates"],
        "pulses": after["pulses"] - before["pulses"],
        "write_energy_j": after["write_j"] - before["write_j"],
        **{f"write_{c}": after[f"write_{c}"] - before[f"write_{c}"] for c in ("selected_j", "half_selected_j", "wires_drivers_j")},
        "read_energy_j": after["read_j"] - before["read_j"],
        "eval_read_energy_j": after["eval_read_j"] - before["eval_read_j"],
        "eval_tile_energy_j": after["tile"]["inference"]["total_j"] - before["tile"]["inference"]["total_j"],
        "cumulative_write_energy_j": after["write_j"],
        "cumulative_energy_j": after["write_j"] + after["read_j"],
        "cumulative_tile_energy_j": after["tile"]["update"]["total_j"] + after["tile"]["read"]["total_j"],
    }


def save_checkpoint(path, *, fingerprint, epochs, elapsed_s, model, optimizer, scheduler=None, ledger=None):
    """Write the checkpoint of a training run atomically (the one format of every study kind).

    The file holds tensors and plain data only (it loads with ``torch.load(weights_only=True)``):
    ``format``, ``fingerprint`` (the configuration it belongs to), ``epoch`` (epochs done),
    ``elapsed_s``, ``epochs`` (the epoch records), and the ``model``, ``optimizer``, ``scheduler``
    and ``ledger`` state dicts (None where there is none).
    """
    state = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": len(epochs), "elapsed_s": elapsed_s,
             "epochs": epochs, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": None if scheduler is None else scheduler.state_dict(),
             "ledger": None if ledger is None else ledger.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _check_state(state, path):
    """The epoch records and elapsed time of a checkpoint, checked like inputs (:mod:`memcosim.base.records`)."""
    from memcosim.base.records import check_numbers

    records = state["epochs"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"--resume: {path}: epochs: must be a list of epoch records; remove it")
    for k, record in enumerate(records):
        if record.get("epoch") != k + 1:
            raise ConfigError(f"--resume: {path}: epochs[{k}].epoch: must be {k + 1}, got {record.get('epoch')!r}; "
                              "remove it")
    check_numbers({"epochs": records, "elapsed_s": state["elapsed_s"]}, f"--resume: {path}")
    if not isinstance(state["elapsed_s"], (int, float)):
        raise ConfigError(f"--resume: {path}: elapsed_s: must be a number, got {type(state['elapsed_s']).__name__}")


def load_checkpoint(path, fingerprint, model, optimizer, scheduler=None, ledger=None, map_location=None):
    """Restore a :func:`save_checkpoint` file into the given objects; returns ``(epoch records, elapsed_s)``.

    Raises
    ------
    ConfigError
        The file is unreadable, of another format, or belongs to a different configuration.
    """
    try:
        # weights_only=True: the unpickler builds tensors and plain containers only, so a crafted
        # file is refused before any of its code could run (tests/training/test_checkpoint_safety.py);
        # open_input: a regular file within the memory budget (no FIFO, no /dev/zero)
        with open_input(path, "checkpoint", bytes_per_byte=3.0) as (fh, _):
            state = torch.load(fh, map_location=map_location, weights_only=True)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to decode an input file is the user's file, not a bug
        raise ConfigError(f"--resume: cannot read the checkpoint {path} ({_first_line(exc)}); remove it") from None
    if not isinstance(state, dict) or not isinstance(state.get("format"), str) or state["format"] != CHECKPOINT_FORMAT:
        raise ConfigError(f"--resume: {path} is not a {CHECKPOINT_FORMAT} checkpoint; remove it or use another --out")
    missing = [k for k in ("fingerprint", "epochs", "elapsed_s", "model", "optimizer", "scheduler", "ledger") if k not in state]
    if missing:
        raise ConfigError(f"--resume: {path} lacks {', '.join(missing)}; remove it")
    if not isinstance(state["fingerprint"], str) or state["fingerprint"] != fingerprint:
        raise ConfigError(f"--resume: {path} belongs to a different configuration; remove it or use another --out")
    _check_state(state, path)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if ledger is not None:
            ledger.load_state_dict(state["ledger"])
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"--resume: {path} does not fit this run ({_first_line(exc)}); remove it") from None
    return state["epochs"], state["elapsed_s"]


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
        records, elapsed = load_checkpoint(checkpoint, fingerprint, model, optimizer, scheduler, ledger,
                                           map_location=x.device)
        if len(records) > epochs:
            raise ConfigError(f"--resume: {checkpoint}: holds {len(records)} epoch records, this run trains {epochs} "
                              "epochs; remove it")
        log.info("resumed %s at epoch %d", checkpoint, len(records))
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
        total_loss, batches = torch.zeros((), device=x.device), 0
        starts = range(0, n, batch_size)
        n_batches = len(starts)
        if bar:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"{bar} {epoch + 1}/{epochs}", unit="batch", leave=False)
        for k, i in enumerate(starts):
            idx = order[i : i + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(forward(model, x[idx], epoch, k), y[idx])
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if after_step is not None:
                after_step(model)
            total_loss += loss.detach()
            batches += 1
            if on_batch is not None:
                on_batch(epoch, k, n_batches)
        if bar:
            starts.close()
        record = {"epoch": epoch + 1, "train_loss": float(total_loss) / max(batches, 1), "learning_rate": learning_rate}
        if not math.isfinite(record["train_loss"]):
            raise SimulationError(f"training diverged: the loss of epoch {epoch + 1} is {record['train_loss']}; check "
                                  "training.learning_rate against the device step, and the read path's bounds "
                                  "(out_bound, inp_bound) against the outputs' scale")
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
    dict
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
    results = _results(config, run, ledger.totals())
    if config.model != ModelSpec():
        results["model"] = asdict(config.model)
    if config.tile is not None:
        results["digital_layers"] = [f"{name} ({kind})" for name, kind in digital_layers(model)]
    write_json_atomic(out / "results.json", results)
    if plots:
        _plot(results, out / "training.png")
    return results


def _results(config, run, totals):
    epochs = run.epochs
    target_on = "validation_accuracy" if config.validation_fraction > 0 else "test_accuracy"
    reached = [e["epoch"] for e in epochs if e[target_on] >= config.target_accuracy]
    tile = config.tile
    extra = {}
    if config.validation_fraction > 0:
        extra = {"validation_accuracy": epochs[-1]["validation_accuracy"] if epochs else None,
                 "validation_fraction": config.validation_fraction, "target_on": target_on}
    return {**extra,
        "test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
        "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None),
        "algorithm": config.algorithm,
        "pulse_mode": getattr(tile.update, "pulse_mode", None) if tile else None,
        "update_order": getattr(tile.update, "update_order", None) if tile else None,
        "pulse_amplitude_v": tile.device.amplitude_v if tile else None,
        "device": tile.device.describe() if tile else None,
        "pulse_width_s": tile.device.width_s if tile else None,
        "energy_model": tile.write_energy.source if tile else None,
        "update_scheme": tile.energy.scheme if tile else None,
        "epochs_to_target": reached[0] if reached else None,
        "target_accuracy": config.target_accuracy,
        "energy_per_update_j": totals["energy_per_update_j"],
        "total_write_energy_j": totals["write_j"],
        "total_read_energy_j": totals["read_j"],
        "total_energy_j": totals["write_j"] + totals["read_j"],
        "write_energy_split_j": {k: totals[f"write_{k}"] for k in ("selected_j", "half_selected_j", "wires_drivers_j")},
        "pulses_total": totals["pulses"],
        "updates": totals["updates"],
        "per_layer": totals["per_layer"],
        "symmetry_search": {"pulses": totals["calibration_pulses"], "energy_j": totals["calibration_j"]},
        "eval_read_energy_j": totals["eval_read_j"],
        **({"tile": totals["tile"], "io": asdict(tile.io)} if tile is not None and tile.energy.periphery is not None else {}),
        "seed": config.seed,
        "dataset": config.dataset,
        "hidden_sizes": list(config.hidden_sizes),
        "warnings": run.warnings,
        "epochs": epochs,
    }


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [e["epoch"] for e in results["epochs"]]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ep, [100 * e["test_accuracy"] for e in results["epochs"]], "o-", color="C0")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)", color="C0")
    ax2 = ax.twinx()
    ax2.plot(ep, [e["cumulative_energy_j"] for e in results["epochs"]], "s--", color="C1")
    ax2.set_ylabel("cumulative write + read energy (J)", color="C1")
    ax.set_title(f"{results['algorithm']}: {results['test_accuracy']:.2%}, {results['energy_per_update_j']:.3g} J/update")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
