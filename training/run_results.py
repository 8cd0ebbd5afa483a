"""What a training run reports: its results (:func:`run_results`) and their plot (:func:`plot_run`)."""

from dataclasses import asdict

__all__ = ["run_results", "plot_run"]


def run_results(config, run, totals):
    """The results of a finished :func:`~memcosim.training.trainer.train` run: its settings, its
    headline numbers from the ledger's ``totals``, and its epoch records (a JSON-ready dict)."""
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


def plot_run(results, path):
    """Accuracy and cumulative energy by epoch of one run's results, a PNG at ``path``."""
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
