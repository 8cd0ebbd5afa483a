"""What a training run reports: its results (:class:`RunResult`, :func:`run_results`) and their plot
(:func:`plot_run`)."""

from dataclasses import asdict, dataclass

from memcosim.base.typed import JsonRecord
from memcosim.training.ledger_totals import LayerTotals, TileTotals

__all__ = ["RunResult", "run_results", "plot_run"]

_RENAMED = {"energy_per_update_j": "array_energy_per_update_j"}
_TILE_RENAMED = {"energy_per_update_j": "tile_energy_per_update_j", "energy_per_inference_j": "tile_energy_per_inference_j"}


@dataclass(frozen=True)
class RunResult(JsonRecord):
    """The results of one :func:`~memcosim.training.trainer.train` run (``results.json``, and the
    ``results`` of a study run's ``run.json``): its settings, headline numbers and epoch records.

    Version 1 (the records written before the ledger's totals were typed: no ``format_version``)
    named the array's energy per update ``energy_per_update_j`` and the whole tile's
    ``tile.energy_per_update_j``; it is read as the current layout.
    """

    FORMAT_VERSION = 2
    READS_VERSIONS = (1,)
    UNVERSIONED = 1

    test_accuracy: float | None
    best_test_accuracy: float | None
    algorithm: str
    target_accuracy: float
    epochs_to_target: int | None
    """The first epoch at or above ``target_accuracy`` (on ``target_on``), None: never."""
    array_energy_per_update_j: float
    """The array's write energy per optimizer step (the whole tile's: ``tile``)."""
    total_write_energy_j: float
    total_read_energy_j: float
    total_energy_j: float
    write_energy_split_j: dict[str, float]
    pulses_total: int
    updates: int
    eval_read_energy_j: float
    per_layer: dict[str, LayerTotals]
    symmetry_search: dict
    """``{"pulses", "energy_j"}`` of the symmetry-point search (symmetry-point shifting)."""
    seed: int
    dataset: str
    hidden_sizes: tuple[int, ...]
    epochs: tuple[dict, ...]
    """One record per epoch (:func:`~memcosim.training.loop.fit`)."""
    warnings: tuple[str, ...] = ()
    pulse_mode: str | None = None
    update_order: str | None = None
    pulse_amplitude_v: float | None = None
    device: dict | None = None
    """The pulsed device's description (``PulsedDevice.describe()``); None in floating point."""
    pulse_width_s: float | None = None
    energy_model: str | None = None
    update_scheme: str | None = None
    validation_accuracy: float | None = None
    validation_fraction: float | None = None
    target_on: str | None = None
    tile: TileTotals | None = None
    """The whole tile (a study with a periphery)."""
    io: dict | None = None
    """The read path's resolved settings (a study with a periphery)."""
    model: dict | None = None
    """The network, when not the default MLP."""
    digital_layers: tuple[str, ...] | None = None
    area: dict | None = None
    """The tile's area and the tiles the network needs (:mod:`memcosim.build_area`)."""

    @classmethod
    def migrate(cls, data, version, source, error):
        out = {_RENAMED.get(k, k): v for k, v in data.items()}
        if isinstance(out.get("tile"), dict):
            out["tile"] = {_TILE_RENAMED.get(k, k): v for k, v in out["tile"].items()}
        if isinstance(out.get("per_layer"), dict):
            out["per_layer"] = {name: {_RENAMED.get(k, k): v for k, v in layer.items()} if isinstance(layer, dict) else layer
                                for name, layer in out["per_layer"].items()}
        return out


def run_results(config, run, totals, model=None, digital_layers=None):
    """The :class:`RunResult` of a finished :func:`~memcosim.training.trainer.train` run: its settings,
    its headline numbers from the ledger's ``totals`` (:class:`~memcosim.training.ledger_totals.LedgerTotals`)
    and its epoch records."""
    epochs = run.epochs
    target_on = "validation_accuracy" if config.validation_fraction > 0 else "test_accuracy"
    reached = [e["epoch"] for e in epochs if e[target_on] >= config.target_accuracy]
    tile = config.tile
    extra = {}
    if config.validation_fraction > 0:
        extra = {"validation_accuracy": epochs[-1]["validation_accuracy"] if epochs else None,
                 "validation_fraction": config.validation_fraction, "target_on": target_on}
    if tile is not None:
        extra.update(pulse_mode=getattr(tile.update, "pulse_mode", None), update_order=getattr(tile.update, "update_order", None),
                     pulse_amplitude_v=tile.device.amplitude_v, device=tile.device.describe(),
                     pulse_width_s=tile.device.width_s, energy_model=tile.write_energy.source,
                     update_scheme=tile.energy.scheme)
        if tile.energy.periphery is not None:
            extra.update(tile=totals.tile, io=asdict(tile.io))
    return RunResult(
        **extra,
        test_accuracy=epochs[-1]["test_accuracy"] if epochs else None,
        best_test_accuracy=max((e["test_accuracy"] for e in epochs), default=None),
        algorithm=config.algorithm,
        epochs_to_target=reached[0] if reached else None,
        target_accuracy=config.target_accuracy,
        array_energy_per_update_j=totals.array_energy_per_update_j,
        total_write_energy_j=totals.write_j,
        total_read_energy_j=totals.read_j,
        total_energy_j=totals.write_j + totals.read_j,
        write_energy_split_j=totals.write_split_j,
        pulses_total=totals.pulses,
        updates=totals.updates,
        per_layer=totals.per_layer,
        symmetry_search={"pulses": totals.calibration_pulses, "energy_j": totals.calibration_j},
        eval_read_energy_j=totals.eval_read_j,
        seed=config.seed,
        dataset=config.dataset,
        hidden_sizes=tuple(config.hidden_sizes),
        warnings=tuple(run.warnings),
        epochs=tuple(epochs),
        model=model,
        digital_layers=digital_layers,
    )


def plot_run(results, path):
    """Accuracy and cumulative energy by epoch of one run's :class:`RunResult`, a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [e["epoch"] for e in results.epochs]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ep, [100 * e["test_accuracy"] for e in results.epochs], "o-", color="C0")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)", color="C0")
    ax2 = ax.twinx()
    ax2.plot(ep, [e["cumulative_energy_j"] for e in results.epochs], "s--", color="C1")
    ax2.set_ylabel("cumulative write + read energy (J)", color="C1")
    ax.set_title(f"{results.algorithm}: {results.test_accuracy:.2%}, {results.array_energy_per_update_j:.3g} J/update")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
