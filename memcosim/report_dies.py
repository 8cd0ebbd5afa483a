"""Die maps and die studies on paper: ``memcosim dies summarize`` and the die study's report parts.

* :func:`summary_lines` / :func:`summary_plots` — per-die defect counts, R_P and TMR of the healthy
  cells, failed lines and clusters of die maps, as text and as PNGs;
* :func:`worst_die_plot` — the defect map of a die study's worst die;
* :func:`energy_lines` — energy per inference (array and whole tile) of every mode, per run.
"""

import math

import numpy as np

from memcosim.base.atomic import write_png_atomic

__all__ = ["summary_lines", "summary_plots", "worst_die_plot", "energy_lines", "KIND_COLOURS"]

_KINDS = ("short", "open", "stuck_p", "stuck_ap")
KIND_COLOURS = {"ok": "#f4f4f4", "short": "#d62728", "open": "#1f77b4", "stuck_p": "#ff7f0e", "stuck_ap": "#2ca02c"}
"""Colour of every cell kind in the map plots."""


def _ohm(value):
    return "-" if value is None else (f"{value / 1e3:.3g} kohm" if 1e3 <= value < 1e6 else f"{value:.3g} ohm")


def _lines_text(lines):
    return ", ".join(f"{i} ({kind})" for i, kind in sorted(lines.items())[:6]) + (" ..." if len(lines) > 6 else "") or "-"


def summary_lines(summaries, statistics=None, junction=None):
    """Text lines of ``memcosim dies summarize``: one per die, then the pooled statistics.

    Parameters
    ----------
    summaries : list of DieSummary
    statistics : DieStatistics, optional
        Measured over all the maps (:func:`memcosim.devices.mtj_defects.estimate_statistics`).
    junction : MTJParams, optional
        The median junction measured with them.
    """
    head = ["die", "cells", "short", "open", "stuck-P", "stuck-AP", "R_P (sigma)", "TMR (sigma)", "failed rows",
            "failed columns", "clusters (cells)"]
    table = [head]
    for s in summaries:
        n = s.rows * s.cols
        table.append([str(s.die), f"{s.rows}x{s.cols}"]
                     + [f"{s.counts[k]} ({100 * s.counts[k] / n:.2g} %)" for k in _KINDS]
                     + [f"{_ohm(s.r_p_median_ohm)} ({s.r_p_sigma:.3f})" if s.r_p_median_ohm else "-",
                        f"{100 * s.tmr_median:.0f} % ({s.tmr_sigma:.3f})" if s.tmr_median else "-",
                        _lines_text(s.failed_rows), _lines_text(s.failed_cols),
                        f"{len(s.clusters)} ({sum(c for c, _ in s.clusters)})"])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    t = summaries[0].thresholds
    lines.append(f"thresholds (die {summaries[0].die}): short below {_ohm(t.short_below_ohm)}, open above "
                 f"{_ohm(t.open_above_ohm)}, stuck when TMR below {t.stuck_tmr_below:.3g}"
                 if t.short_below_ohm else "classification: the maps' own states")
    if statistics is not None:
        r = statistics.rates
        lines.append(f"all {len(summaries)} dies, scattered defects: short {100 * r.short_rate:.3g} %, open "
                     f"{100 * r.open_rate:.3g} %, stuck-P {100 * r.stuck_p_rate:.3g} %, stuck-AP {100 * r.stuck_ap_rate:.3g} %;"
                     f" failed rows {100 * statistics.row_fail_rate:.3g} %, columns {100 * statistics.col_fail_rate:.3g} %;"
                     f" clusters {statistics.cluster_rate:.3g} per cell (radius {statistics.cluster_radius_cells:g} cells)")
    if junction is not None and summaries[0].r_p_median_ohm:
        lines.append(f"median junction: R_P {_ohm(junction.r_p_ohm)} (cell sigma {junction.r_p_std:.3f}, die-to-die "
                     f"{statistics.r_p_die_std:.3f}), TMR sigma {junction.tmr_std:.3f}; short {_ohm(junction.r_short_ohm)}, "
                     f"open {_ohm(junction.r_open_ohm)}")
    return lines


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _map_image(ax, codes, title):
    """Draw one die's defect codes (0-4) with :data:`KIND_COLOURS`."""
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap([KIND_COLOURS[k] for k in ("ok", *_KINDS)])
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=4.5, interpolation="nearest", aspect="auto")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _legend(fig):
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color=KIND_COLOURS[k], label=k) for k in _KINDS], loc="lower center", ncol=4, fontsize=8)


def summary_plots(summaries, maps, codes, out):
    """``defects_per_die.png``, ``resistances.png`` (R_P and TMR of the healthy cells) and
    ``die_maps.png`` (the 12 most defective dies) in ``out``; returns their names."""
    plt = _plt()
    names = []
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(summaries) + 2), 3.8))
    bottom = np.zeros(len(summaries))
    x = np.arange(len(summaries))
    for kind in _KINDS:
        share = np.array([100 * s.counts[kind] / (s.rows * s.cols) for s in summaries])
        ax.bar(x, share, bottom=bottom, color=KIND_COLOURS[kind], label=kind)
        bottom += share
    ax.set_xticks(x, [str(s.die) for s in summaries], fontsize=7, rotation=90 if len(summaries) > 20 else 0)
    ax.set_xlabel("die")
    ax.set_ylabel("defective cells (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_png_atomic(fig, out / "defects_per_die.png")
    plt.close(fig)
    names.append("defects_per_die.png")

    measured = [(m, c) for m, c in zip(maps, codes) if m.has_resistances]
    if measured:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
        healthy = [(m.r_p_ohm[c == 0], m.r_ap_ohm[c == 0]) for m, c in measured]
        r_p = np.concatenate([p for p, _ in healthy])
        tmr = np.concatenate([ap / p - 1.0 for p, ap in healthy])
        every = np.concatenate([m.r_p_ohm.ravel() for m, _ in measured])
        ax1.hist(every, bins=np.logspace(math.log10(every.min()), math.log10(every.max()) + 1e-9, 80), color="0.6",
                 label="every cell")
        ax1.hist(r_p, bins=np.logspace(math.log10(every.min()), math.log10(every.max()) + 1e-9, 80), color="C0",
                 label="healthy")
        t = summaries[0].thresholds
        for value, label in ((t.short_below_ohm, "short below"), (t.open_above_ohm, "open above")):
            if value:
                ax1.axvline(value, color="k", ls="--", lw=1)
        ax1.set_xscale("log")
        ax1.set_yscale("log")
        ax1.set_xlabel("R_P at the read voltage (ohm)")
        ax1.set_ylabel("cells")
        ax1.legend(fontsize=8)
        ax2.hist(100 * tmr, bins=80, color="C1")
        ax2.set_xlabel("TMR of the healthy cells at the read voltage (%)")
        ax2.set_ylabel("cells")
        fig.tight_layout()
        write_png_atomic(fig, out / "resistances.png")
        plt.close(fig)
        names.append("resistances.png")

    worst = sorted(range(len(summaries)), key=lambda i: -sum(summaries[i].counts[k] for k in _KINDS))[:12]
    n = len(worst)
    cols = min(4, n)
    fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(2.6 * cols, 2.3 * math.ceil(n / cols) + 0.5),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), worst):
        ax.axis("on")
        s = summaries[i]
        _map_image(ax, codes[i], f"die {s.die}: {s.rows * s.cols - s.counts['ok']} defects, "
                                 f"{len(s.failed_rows) + len(s.failed_cols)} lines, {len(s.clusters)} clusters")
    _legend(fig)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    write_png_atomic(fig, out / "die_maps.png")
    plt.close(fig)
    names.append("die_maps.png")
    return names


def worst_die_plot(label, worst, path):
    """The defect map of a die study's worst die (``results["worst_die"]``) at ``path``."""
    plt = _plt()
    codes = np.zeros((worst["rows"], worst["cols"]), np.int8)
    for r, c, code in worst["defects"]:
        codes[r, c] = code
    fig, ax = plt.subplots(figsize=(6, 5.5))
    _map_image(ax, codes, f"{label}: die {worst['die']}, {worst['mode']} error {100 * worst['error']:.1f} %, "
                          f"{len(worst['defects'])} defective cells")
    ax.set_xlabel("column (layer 1: plus, minus; then layer 2)")
    ax.set_ylabel("row (input)")
    _legend(fig)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    write_png_atomic(fig, path)
    plt.close(fig)


def energy_lines(rows, label, modes):
    """Markdown lines: energy per test inference of every mode (mean over the dies), array and whole tile."""
    present = [m for m in modes if any(f"{m}_read_energy_per_inference_j" in row for row in rows)]
    if not present:
        return []
    tiled = any(f"{m}_tile_energy_per_inference_j" in row for row in rows for m in present)
    out = ["## Energy per inference", "",
           "Mean over the dies of one test inference, both layers: the array's DC read "
           + ("and the whole tile (array, row drivers, sense, comparators and ADCs)." if tiled else "(no periphery)."), "",
           "| run | mode | array | " + ("whole tile |" if tiled else ""), "|---|---|---:|" + ("---:|" if tiled else "")]
    for row in rows:
        for m in present:
            if f"{m}_read_energy_per_inference_j" in row:
                tile = row.get(f"{m}_tile_energy_per_inference_j")
                out.append(f"| {label(row)} | {m} | {row[f'{m}_read_energy_per_inference_j']:.3g} J | "
                           + (f"{tile:.3g} J |" if tiled and tile is not None else ("- |" if tiled else "")))
    return out + [""]
