"""The whole-tile part of a study report: energy per update and per inference split into the
array and its periphery, latency, and a stacked-bar plot of the split per run
(runs trained with ``[periphery] enabled = true``; :mod:`memcosim.training.periphery`)."""

from memcosim.base.atomic import write_png_atomic

__all__ = ["UPDATE_PARTS", "INFERENCE_PARTS", "tile_fields", "tile_markdown", "tile_plot"]

UPDATE_PARTS = ("array_selected_j", "array_half_selected_j", "array_wires_j", "drivers_j", "converters_j", "sense_j",
                "digital_j")
"""The parts of an update's energy, in the ledger's names (:class:`~memcosim.training.ledger_totals.UpdatePhase`)."""
INFERENCE_PARTS = ("array_j", "drivers_j", "converters_j", "sense_j", "digital_j")
"""The parts of an inference's energy (:class:`~memcosim.training.ledger_totals.ReadPhase`)."""


def tile_fields(tile, updates):
    """Flat report fields of one run's whole ``tile`` (:class:`~memcosim.training.ledger_totals.TileTotals`;
    empty without a periphery: None) over its ``updates``: per update and per inference, the whole
    tile, each part, and the latencies."""
    if tile is None:
        return {}
    per = lambda total, n: total / n if n else 0.0  # noqa: E731
    out = {"tile_energy_per_update_j": tile.tile_energy_per_update_j,
           "tile_latency_per_update_s": tile.latency_per_update_s,
           "tile_energy_per_inference_j": tile.tile_energy_per_inference_j,
           "tile_latency_per_inference_s": tile.latency_per_inference_s,
           "tile_total_training_j": tile.update.total_j + tile.read.total_j}
    out.update({f"update_{part}": per(getattr(tile.update, part), updates) for part in UPDATE_PARTS})
    out.update({f"inference_{part}": per(getattr(tile.inference, part), tile.inferences) for part in INFERENCE_PARTS})
    return out


def tile_markdown(rows, label):
    """The report's "Whole tile" section (a list of lines; empty when no run has a periphery)."""
    tiled = [row for row in rows if "tile_energy_per_update_j" in row]
    if not tiled:
        return []
    head = ["run", "J/update tile", "J/update array", "periphery %", "J/inference tile", "s/update", "s/inference"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in tiled:
        tile_j, array_j = row["tile_energy_per_update_j"], row["array_energy_per_update_j"] or 0.0
        share = 100 * (1 - array_j / tile_j) if tile_j else 0.0
        lines.append(f"| {label(row)} | {tile_j:.3g} | {array_j:.3g} | {share:.1f} | {row['tile_energy_per_inference_j']:.3g} "
                     f"| {row['tile_latency_per_update_s']:.3g} | {row['tile_latency_per_inference_s']:.3g} |")
    return ["## Whole tile", "",
            "Energy per update and per inference (one test sample through the network) of the array with its "
            "periphery: line drivers and sense front ends (ngspice-characterised), DACs, ADCs, adders and the "
            "mixed-precision accumulator (figure-of-merit models); `tile_breakdown.png` splits them. The array-only "
            "numbers above are unchanged. Model and sources: docs/periphery.md.", "", *lines, ""]


def tile_plot(rows, label, path):
    """Stacked bars per run: energy per update and per inference, split into the array's parts and the
    periphery's blocks. Returns True when written (some run has a periphery)."""
    import matplotlib.pyplot as plt
    import numpy as np

    tiled = [row for row in rows if "tile_energy_per_update_j" in row]
    if not tiled:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(max(7.0, 1.2 * len(tiled) + 4), 4.2))
    x = np.arange(len(tiled))
    for ax, phase, parts, title in ((axes[0], "update", UPDATE_PARTS, "per update"),
                                    (axes[1], "inference", INFERENCE_PARTS, "per inference")):
        bottom = np.zeros(len(tiled))
        for part in parts:
            values = np.array([row[f"{phase}_{part}"] for row in tiled])
            ax.bar(x, values, bottom=bottom, label=part.removesuffix("_j").replace("_", " "))
            bottom += values
        ax.set_xticks(x, [label(row) for row in tiled], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(f"energy {title} (J)")
        ax.set_title(f"whole tile, {title}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    write_png_atomic(fig, path)
    plt.close(fig)
    return True
