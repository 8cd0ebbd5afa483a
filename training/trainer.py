"""The MLP / CNN study run (``memcosim train``): its configuration (:class:`TrainConfig`) and :func:`train`.

:func:`train` runs a network on crossbar tiles with :class:`~memcosim.training.optim.CrossbarSGD`
on the one training loop (:func:`memcosim.training.loop.fit`, its checkpoints and ledger).

A run is deterministic in its seed: the network's initial weights, the devices' spread, the
minibatch order of every epoch and the pulse noise all come from named streams of
``TrainConfig.seed``. Every epoch ends with an atomic checkpoint (``DIR/checkpoint.pt``);
``resume=True`` continues from it and gives the same result as an uninterrupted run.
"""

import dataclasses
import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.seeding import stream_seed, torch_generator
from memcosim.training.data import load_dataset
from memcosim.training.loop import evaluate, fit
from memcosim.training.run_results import plot_run, run_results
from memcosim.training.conversion import attach_ledger, convert, digital_layers
from memcosim.training.tile import TileConfig
from memcosim.training.ledger import EnergyLedger
from memcosim.training.models import ModelSpec, build_model
from memcosim.training.optim import CrossbarSGD

__all__ = ["TrainConfig", "build_mlp", "build_training", "train"]

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


def build_training(config, data, device):
    """The model (on crossbars when ``config.tile``), its optimizer and the energy ledger of a run:
    ``(model, optimizer, ledger)``, as :func:`train` starts them (``data``: the loaded
    :class:`~memcosim.training.data.Dataset`)."""
    ledger = EnergyLedger(device)
    model = build_model(config.model, data.image_shape, data.n_classes, config.hidden_sizes, config.activation,
                        config.seed).to(device)
    if config.tile is not None:
        model = convert(model, config.tile, seed=stream_seed(config.seed, "layers"), inplace=True)
        attach_ledger(model, ledger)
        return model, CrossbarSGD(model, lr=config.learning_rate), ledger
    return model, torch.optim.SGD(model.parameters(), lr=config.learning_rate), ledger


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

    model, optimizer, ledger = build_training(config, data, device)
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
