"""Training runs: an MLP on crossbars, per-epoch metrics, checkpoints, results and a plot.

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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from memcosim.base.atomic import atomic_path, write_text_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.seeding import stream_seed, torch_generator
from memcosim.training.data import load_dataset
from memcosim.training.layers import TileConfig, convert
from memcosim.training.ledger import EnergyLedger
from memcosim.training.optim import CrossbarSGD

__all__ = ["TrainConfig", "build_mlp", "train", "evaluate"]

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
    target_accuracy: float = 0.95
    seed: int = 0
    device: str = "cpu"
    """torch device: ``cpu`` or ``cuda`` (layers, ledger and pulses all run there)."""

    def __post_init__(self):
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"training.activation: got {self.activation!r}; allowed: {', '.join(_ACTIVATIONS)}")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ConfigError(f"training.epochs: must be an integer >= 1, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"training.batch_size: must be an integer >= 1, got {self.batch_size!r}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"training.learning_rate: must be > 0, got {self.learning_rate!r}")

    @property
    def algorithm(self):
        return "float" if self.tile is None else self.tile.algorithm

    def fingerprint(self):
        """A short hash of everything that decides the result (checkpoints must match it).

        ``epochs`` is left out: a finished run can be resumed to train longer.
        """
        text = json.dumps({k: v for k, v in _describe(self).items() if k != "epochs"}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _describe(config):
    out = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "tile"}
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


def train(config, out_dir, resume=False, progress=True, plots=True):
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

    Returns
    -------
    dict
        The results (also in ``out_dir/results.json``).
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device(config.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("training.device: 'cuda' requested but no CUDA device is available")
    data = load_dataset(config.dataset, config.data_dir, config.seed)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    test_x, test_y = data.test_x.to(device), data.test_y.to(device)

    ledger = EnergyLedger(device)
    model = build_mlp(data.n_features, config.hidden_sizes, data.n_classes, config.activation, config.seed).to(device)
    if config.tile is not None:
        model = convert(model, config.tile, seed=stream_seed(config.seed, "layers"), ledger=ledger, inplace=True)
        optimizer = CrossbarSGD(model, lr=config.learning_rate, ledger=ledger)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate)

    epochs, start, elapsed = [], 0, 0.0
    ckpt_path = out / "checkpoint.pt"
    fingerprint = config.fingerprint()
    if resume and ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt["fingerprint"] != fingerprint:
            raise ConfigError(f"--resume: {ckpt_path} belongs to a different configuration; remove it or use another --out")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        ledger.load_state_dict(ckpt["ledger"])
        epochs, start, elapsed = ckpt["epochs"], ckpt["epoch"], ckpt["elapsed_s"]
        log.info("resumed %s at epoch %d", out, start)
    calibration = ledger.totals()
    loss_fn = nn.CrossEntropyLoss()
    n = len(train_y)
    for epoch in range(start, config.epochs):
        t0 = time.perf_counter()
        before = ledger.totals()
        order = torch.randperm(n, generator=torch_generator(config.seed, f"data/shuffle/{epoch}")).to(device)
        total_loss, batches = torch.zeros((), device=device), 0
        bar = tqdm(range(0, n, config.batch_size), desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress,
                   unit="batch", leave=False)
        for i in bar:
            idx = order[i : i + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(train_x[idx]), train_y[idx])
            loss.backward()
            optimizer.step()
            total_loss += loss.detach()
            batches += 1
        bar.close()
        accuracy = evaluate(model, test_x, test_y)
        after = ledger.totals()
        elapsed += time.perf_counter() - t0
        epochs.append({
            "epoch": epoch + 1,
            "train_loss": float(total_loss) / max(batches, 1),
            "test_accuracy": accuracy,
            "updates": after["updates"] - before["updates"],
            "pulses": after["pulses"] - before["pulses"],
            "write_energy_j": after["write_j"] - before["write_j"],
            "write_selected_j": after["write_selected_j"] - before["write_selected_j"],
            "write_half_selected_j": after["write_half_selected_j"] - before["write_half_selected_j"],
            "write_wires_drivers_j": after["write_wires_drivers_j"] - before["write_wires_drivers_j"],
            "read_energy_j": after["read_j"] - before["read_j"],
            "cumulative_write_energy_j": after["write_j"],
            "cumulative_energy_j": after["write_j"] + after["read_j"],
            "elapsed_s": elapsed,
        })
        log.info("epoch %d: loss %.4f, test accuracy %.4f", epoch + 1, epochs[-1]["train_loss"], accuracy)
        with atomic_path(ckpt_path) as tmp:
            torch.save({"fingerprint": fingerprint, "epoch": epoch + 1, "elapsed_s": elapsed, "epochs": epochs,
                        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "ledger": ledger.state_dict()},
                       tmp)
    results = _results(config, epochs, ledger.totals(), calibration)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    if plots:
        _plot(results, out / "training.png")
    return results


def _results(config, epochs, totals, calibration):
    reached = [e["epoch"] for e in epochs if e["test_accuracy"] >= config.target_accuracy]
    tile = config.tile
    return {
        "test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
        "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None),
        "algorithm": config.algorithm,
        "pulse_mode": getattr(tile.update, "pulse_mode", None) if tile else None,
        "pulse_amplitude_v": tile.device.amplitude_v if tile else None,
        "pulse_width_s": tile.device.width_s if tile else None,
        "energy_model": tile.energy.write.source if tile else None,
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
        "symmetry_search": {"pulses": calibration["calibration_pulses"], "energy_j": calibration["calibration_j"]},
        "eval_read_energy_j": totals["eval_read_j"],
        "seed": config.seed,
        "dataset": config.dataset,
        "hidden_sizes": list(config.hidden_sizes),
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
