"""The plots of a study's report: each study kind's figures, written atomically (a report is
rewritten while a study runs: never half a PNG)."""

from memcosim.base.atomic import write_png_atomic
from memcosim.report_tables import DIE_MODES, label
from memcosim.report_tile import tile_plot

__all__ = ["pareto_front", "training_plots", "die_plots"]


def pareto_front(points):
    """Indices of the non-dominated ``(energy, accuracy)`` points (less energy, more accuracy), by energy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def save(fig, ax, xlabel, ylabel, path, names, legend_size=7):
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    write_png_atomic(fig, path)  # rewritten while a study runs: never half a PNG
    plt.close(fig)
    names.append(path.name)


def training_plots(study, rows, records, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = list(study.sweep)
    names = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for row, rec in zip(rows, records):
        ep = rec["results"].epochs
        ax.plot([e["epoch"] for e in ep], [100 * e["test_accuracy"] for e in ep], "o-", label=label(row, sweep))
    save(fig, ax, "epoch", "test accuracy (%)", out / "accuracy_vs_epoch.png", names)

    pulsed = [r for r in rows if r["pulse_width_s"] and r["array_energy_per_update_j"]]
    if pulsed:
        fig, ax = plt.subplots(figsize=(6, 4))
        for alg in sorted({r["algorithm"] for r in pulsed}):
            pts = sorted((r["pulse_width_s"], r["array_energy_per_update_j"]) for r in pulsed if r["algorithm"] == alg)
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=alg)
        save(fig, ax, "pulse width (s)", "energy per update (J)", out / "energy_per_update_vs_pulse_width.png", names, 8)

    if tile_plot(rows, lambda row: label(row, sweep), out / "tile_breakdown.png"):
        names.append("tile_breakdown.png")
    # the Pareto plot in whole-tile energy when every run has a periphery
    tiled = all("tile_total_training_j" in row for row in rows)
    cumulative, total = (("cumulative_tile_energy_j", "tile_total_training_j") if tiled
                         else ("cumulative_energy_j", "total_energy_j"))
    fig, ax = plt.subplots(figsize=(6, 4))
    finals = []
    for row, rec in zip(rows, records):
        ep = rec["results"].epochs
        ax.plot([max(e[cumulative], 1e-30) for e in ep], [100 * e["test_accuracy"] for e in ep], ".-", alpha=0.6,
                label=label(row, sweep))
        finals.append((max(row[total], 1e-30), 100 * row["test_accuracy"]))
    front = pareto_front(finals)
    ax.plot([finals[i][0] for i in front], [finals[i][1] for i in front], "k--", lw=1.5, label="Pareto front")
    ax.scatter([finals[i][0] for i in front], [finals[i][1] for i in front], s=60, facecolors="none", edgecolors="k")
    if any(f[0] > 1e-30 for f in finals):
        ax.set_xscale("log")
    save(fig, ax, f"cumulative training energy, {'whole tile' if tiled else 'array'} (J)", "test accuracy (%)",
          out / "accuracy_vs_energy.png", names)
    return names


def die_plots(study, rows, records, out):
    """Strip plot of the misclassification error of every die, per training mode and run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    sweep = list(study.sweep)
    names = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ticks, labels, shown = [], [], set()
    x = 0
    for row, rec in zip(rows, records):
        start = x
        for m, mode in enumerate(DIE_MODES):
            if mode not in rec["results"].modes:
                continue
            errs = 100 * np.asarray(rec["results"].modes[mode].die_errors)
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(errs))  # fixed seed: same plot every time
            ax.scatter(x + jitter, errs, s=12, color=f"C{m}", alpha=0.7, label=None if mode in shown else mode)
            shown.add(mode)
            ax.plot([x - 0.3, x + 0.3], [errs.mean()] * 2, color="k", lw=1.5)
            x += 1
        # one tick per run (the modes are told apart by colour), the software baseline as a dashed segment
        ticks.append(0.5 * (start + x - 1))
        labels.append(label(row, sweep) if sweep else row["run_id"])
        ax.plot([start - 0.4, x - 0.6], [100 * row["software_error"]] * 2, color="gray", ls="--", lw=1,
                label=None if "baseline" in shown else "software baseline")
        shown.add("baseline")
        x += 0.8
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    save(fig, ax, "", "misclassification error per die (%)", out / "die_errors.png", names)
    from memcosim.report_dies import worst_die_plot

    for row, rec in zip(rows, records):
        if rec["results"].worst_die:
            names.append(f"worst_die_{row['run_id']}.png")
            worst_die_plot(label(row, sweep), rec["results"].worst_die, out / names[-1])
    return names
