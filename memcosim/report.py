"""Study report: ``results.json``, ``results.csv``, ``report.md`` and PNG plots from finished runs.

Every file is written atomically, so a reader (or an interrupted study) never sees half of one.
While runs of the study are missing the report is *partial*: ``results.json`` says
``"partial": true`` (and ``runs_total``), ``report.md`` opens with how many runs finished.
"""

import csv
import json
import platform
from pathlib import Path

from memcosim.base.atomic import atomic_path, write_json_atomic, write_png_atomic, write_text_atomic
from memcosim.base.files import read_json
from memcosim.report_area import area_fields, area_markdown
from memcosim.report_tile import tile_fields, tile_markdown, tile_plot

__all__ = ["write_report", "pareto_front", "summary_rows", "format_table"]

_COLUMNS = ["test_accuracy", "energy_per_update_j", "epochs_to_target", "total_energy_j", "total_write_energy_j",
            "total_read_energy_j", "pulses_total", "algorithm", "pulse_width_s", "pulse_amplitude_v", "update_scheme"]


def pareto_front(points):
    """Indices of the non-dominated ``(energy, accuracy)`` points (less energy, more accuracy), by energy."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


_DIE_MODES = ("ideal", "hardware_aware", "statistics_aware", "ideal_recalibrated", "statistics_aware_recalibrated",
              "ideal_mapped", "statistics_aware_mapped")


def summary_rows(records):
    """One flat dict per run: run id, sweep values, the headline metrics and the seed."""
    rows = []
    for rec in records:
        res = rec["results"]
        row = {"run_id": rec["run_id"], **rec["values"]}
        if rec.get("kind") == "mtj_dies":
            row.update({"software_error": res["software_error"], "mtj_count": res["mtj_count"],
                        "read_energy_per_inference_j": res["read_energy_per_inference_j"]})
            for mode in _DIE_MODES:
                if mode in res["modes"]:
                    m = res["modes"][mode]
                    row.update({f"{mode}_error_mean": m["mean"], f"{mode}_error_std": m["std"],
                                f"{mode}_error_min": m["min"], f"{mode}_error_max": m["max"],
                                f"{mode}_read_energy_per_inference_j": m["read_energy_per_inference_j"]})
                    if "tile_energy_per_inference_j" in m:
                        row[f"{mode}_tile_energy_per_inference_j"] = m["tile_energy_per_inference_j"]
            if "tile" in res:
                row.update({"tile_energy_per_inference_j": res["tile_energy_per_inference_j"],
                            "tile_latency_per_inference_s": res["tile"]["latency_per_inference_s"]})
            row.update({"training_read_energy_j": res["read_energy_j"]["training"],
                        "evaluation_read_energy_j": res["read_energy_j"]["evaluation"]})
        else:
            row.update({k: res.get(k) for k in _COLUMNS})
            if res.get("validation_accuracy") is not None:  # a study that holds out a validation set
                row["validation_accuracy"] = res["validation_accuracy"]
            row.update({f"write_{part}": value for part, value in (res.get("write_energy_split_j") or {}).items()})
            row.update(tile_fields(res))
            row.update(area_fields(res))
        row["seed"] = rec["seed"]
        rows.append(row)
    return rows


def _versions(out):
    import numpy
    import scipy
    import torch

    from memcosim import __version__

    versions = {"memcosim": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                "scipy": scipy.__version__, "torch": torch.__version__}
    for models in sorted(Path(out, "characterize").glob("*/models.json")):
        versions["ngspice"] = read_json(models, "circuit models file").get("ngspice_version")
    return versions


def write_report(study, records, out_dir, elapsed_s, plots=True, runs_total=None):
    """Write the study's results and report; returns the ``results.json`` content.

    ``runs_total``: the runs of the whole study; with fewer ``records`` the report is marked
    partial (module docstring). Default: the records are the whole study.
    """
    out = Path(out_dir)
    runs_total = len(records) if runs_total is None else runs_total
    rows = summary_rows(records)
    detail = lambda rec: ({"epochs": rec["results"]["epochs"], "warnings": rec["results"].get("warnings", [])}  # noqa: E731
                          if "epochs" in rec["results"] else {"modes": rec["results"]["modes"]})
    inputs = {path: digest for rec in records for path, digest in sorted(rec.get("inputs", {}).items())}
    results = {"study": study.name, "seed": study.seed, "sweep": study.sweep, "versions": _versions(out),
               "inputs": inputs, "elapsed_s": elapsed_s, "partial": len(records) < runs_total, "runs_total": runs_total,
               "runs": [{**row, **detail(rec)} for row, rec in zip(rows, records)]}
    if "training.algorithm" in study.sweep and ({"device.pulse_width_s", "device.measured_from"} & set(study.sweep)):
        # the published HZO study's claims
        from memcosim.claims import evaluate_claims

        mlp = [(row, rec) for row, rec in zip(rows, records) if rec.get("kind") != "mtj_dies"]
        results["claims"] = evaluate_claims([r for r, _ in mlp], [rec for _, rec in mlp])
    write_json_atomic(out / "results.json", results)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "results.csv") as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    figures = []
    if plots:  # a sweep over device.kind holds MLP runs and die studies: each kind its own plots
        dies = [i for i, rec in enumerate(records) if rec.get("kind") == "mtj_dies"]
        mlp = [i for i in range(len(records)) if i not in set(dies)]
        for kept, plot in ((mlp, _plots), (dies, _die_plot)):
            if kept:
                figures += plot(study, [rows[i] for i in kept], [records[i] for i in kept], out)
    published = []
    if study.device.kind == "measured":  # the runs of the published study's files beside its results
        from memcosim.published import comparison_markdown

        published = comparison_markdown(rows, records)
    write_text_atomic(out / "report.md", _markdown(study, rows, results, figures, published))
    return results


def format_table(study, rows):
    """The summary table as aligned text lines (the CLI prints it; report.md embeds it).

    A sweep over ``device.kind`` gets two tables: the MLP runs, then the die studies.
    """
    sweep = list(study.sweep)
    dies = [row for row in rows if "software_error" in row]
    mlp = [row for row in rows if "software_error" not in row]
    if dies and mlp:
        return _mlp_table(sweep, mlp) + [""] + _die_table(sweep, dies)
    return _die_table(sweep, dies) if dies else _mlp_table(sweep, mlp)


def _mlp_table(sweep, rows):
    tiled = any("tile_energy_per_update_j" in row for row in rows)
    valid = any("validation_accuracy" in row for row in rows)
    head = sweep + ["accuracy"] + (["validation"] if valid else []) + ["J/update", "epochs to target", "total J", "pulses"]
    lines = [head + (["J/update tile", "J/inference tile"] if tiled else [])]
    for row in rows:
        ept = row["epochs_to_target"]
        tile = ([_fmt(row.get("tile_energy_per_update_j")), _fmt(row.get("tile_energy_per_inference_j"))] if tiled
                else [])
        validation = [f"{row['validation_accuracy']:.2%}" if "validation_accuracy" in row else "-"] if valid else []
        lines.append([_fmt(row[k]) for k in sweep] + [f"{row['test_accuracy']:.2%}"] + validation + [
            f"{row['energy_per_update_j']:.3g}", "-" if ept is None else str(ept),
            f"{row['total_energy_j']:.3g}", str(row["pulses_total"])] + tile)
    return _align(lines)


def _die_table(sweep, rows):
    modes = [m for m in _DIE_MODES if any(f"{m}_error_mean" in row for row in rows)]
    tiled = any("tile_energy_per_inference_j" in row for row in rows)
    head = sweep + ["software error"] + [f"{m} (mean ± std, min-max)" for m in modes] + ["J/inference"]
    lines = [head + (["J/inference tile"] if tiled else [])]
    for row in rows:
        cells = [_fmt(row[k]) for k in sweep] + [f"{row['software_error']:.2%}"]
        for m in modes:
            if f"{m}_error_mean" in row:
                cells.append(f"{row[f'{m}_error_mean']:.2%} ± {row[f'{m}_error_std']:.2%}, "
                             f"{row[f'{m}_error_min']:.2%}-{row[f'{m}_error_max']:.2%}")
            else:
                cells.append("-")
        tile = [f"{row['tile_energy_per_inference_j']:.3g}" if "tile_energy_per_inference_j" in row else "-"] if tiled else []
        lines.append(cells + [f"{row['read_energy_per_inference_j']:.3g}"] + tile)
    return _align(lines)


def _align(lines):
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [" | ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines]


def _fmt(value):
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "+".join(Path(v).stem for v in value)  # measured files by their names
    if isinstance(value, dict):  # a section's fields swept together
        return " ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _markdown(study, rows, results, figures, published=()):
    t = study.training
    d = study.device
    table = format_table(study, rows)
    a = study.array
    sweep_line = f"- Sweep: {json.dumps(study.sweep) if study.sweep else 'none'}"
    if d.kind == "mtj":
        what = _die_header(study) + [sweep_line, "",
                "Errors are misclassification rates on the test images, per die. J/inference: the DC read energy",
                f"(t V^2 sum g, one {study.circuit.read_pulse_width_s:g} s read per layer) of one test inference of the "
                "ideal network on die 0;",
                "results.csv also has it per mode (mean over the dies) and the ledger's training and evaluation reads.", ""]
    else:
        width = "their own" if d.pulse_width_s == "measured" else f"{d.pulse_width_s:g} s"
        if d.kind == "measured":
            law = ("the published study's piecewise-step fit of each file" if d.measured_law == "published_fit"
                   else "memcosim's step tables")
            noise = "none" if d.write_noise == "none" else "the measured scatter"
            device = [f"- Device: measured HZO response from `{'`, `'.join(d.measured_from)}` (each run: the files of its "
                      f"pulse width, {width} here; step law: {law}), pulses at the amplitude the measured sweep applied at the "
                      f"device's state and costed at it; cycle-to-cycle noise: {noise}"
                      f"{f' plus {d.cycle_to_cycle_std:g} in quadrature' if d.cycle_to_cycle_std else ''}; electrical model "
                      f"of preset `{d.parameters_file or d.preset}` with the measured window; device-to-device spread "
                      f"{d.device_to_device_std:g}"]
        else:
            source = d.aihwkit_device if d.kind == "piecewise_step" else d.parameters_file or d.preset
            device = [f"- Device: {d.kind} (`{source}`), pulses {d.pulse_amplitude_v:g} V x "
                      f"{width}, device-to-device spread {d.device_to_device_std:g}, cycle-to-cycle "
                      f"{d.cycle_to_cycle_std:g}"]
        what = [*device,
                f"- Array: {a.rows} x {a.cols}, wire segment {a.r_wire_ohm:g} ohm, "
                f"driver {a.r_driver_ohm:g} ohm, write scheme {study.circuit.write_scheme}, update scheme "
                f"{study.circuit.update_scheme} (auto: row-parallel transfers, parallel stochastic slots)",
                f"- Training: {t.dataset}, MLP hidden {t.hidden_sizes} ({t.activation}), {t.epochs} epochs, batch {t.batch_size}, "
                f"learning rate {t.learning_rate:g}, {t.algorithm} ({t.pulse_mode} pulses, {t.update_order} order, for analog SGD), "
                f"target accuracy {t.target_accuracy:.0%}",
                sweep_line, "",
                "Energy per update: mean write energy of one optimizer step over the whole network, every pulse costed",
                "with the ngspice-fitted write-energy model at the cell's state; total energy adds the reads.", ""]
    partial = []
    if results.get("partial"):
        partial = [f"**Partial: {len(rows)} of {results['runs_total']} run(s) finished.** The study is still running or "
                   "was stopped; this report is rewritten as runs finish (`memcosim run ... --resume` finishes the "
                   "study, `memcosim report DIR` rebuilds the report from the runs that finished).", ""]
    md = [f"# memcosim study `{study.name}`", "", *partial,
          f"{len(rows)} run(s), seed {study.seed}, {results['elapsed_s']:.1f} s.", "",
          "## What was run", "", *what,
          "## Results", "", "```", *table, "```", ""]
    md += published
    if "claims" in results:
        from memcosim.claims import claims_markdown

        md += ["## Claims of the published ferroelectric study", "",
               "Each claim tested as `memcosim/claims.py` states it, on this study's runs.", "",
               *claims_markdown(results["claims"]), ""]
    md += tile_markdown(rows, lambda row: _label(row, list(study.sweep)))
    md += area_markdown(rows, lambda row: _label(row, list(study.sweep)))
    if d.kind == "mtj":
        from memcosim.report_dies import energy_lines

        md += energy_lines(rows, lambda row: _label(row, list(study.sweep)), _DIE_MODES)
    warned = [(run["run_id"], w) for run in results["runs"] for w in run.get("warnings", [])]
    if warned:
        md += ["## Warnings", ""] + [f"- `{run_id}`: {w}" for run_id, w in warned] + [""]
    if figures:
        md += ["## Plots", ""] + [f"![{name}]({name})" for name in figures] + [""]
    md += ["## Versions", ""] + [f"- {k}: {v}" for k, v in results["versions"].items()] + [""]
    md += ["Seeds: every random draw derives from the study seed "
           f"{study.seed} through named streams (`memcosim.base.seeding`); per-run seeds: "
           + ", ".join(sorted({str(r['seed']) for r in rows})), ""]
    return "\n".join(md)


def _die_header(study):
    """The "what was run" lines of a die study."""
    from memcosim.build import device_params

    t, d, a, dies = study.training, study.device, study.array, study.dies
    cell = (f"1T1MTJ (word line {a.access_gate_v:g} V, access width {a.access_width_m * 1e9:g} nm)"
            if a.access_transistor else "1R (no access transistor)")
    if d.device_to_device_std > 0:
        spread = f"spread of R_P and TMR {d.device_to_device_std:g} (device.device_to_device_std)"
    else:
        p = device_params(study)
        spread = f"spread of R_P {p.r_p_std:g}, TMR {p.tmr_std:g} (the device's own)"
    trim = f"; threshold trim from {dies.recalibration_inputs} unlabeled inputs" if dies.recalibration_inputs else ""
    return [f"- Device: mtj (`{d.parameters_file or d.preset}`), read {d.read_voltage_v:g} V, {spread}; defect rates "
            f"short {d.short_rate:g}, open {d.open_rate:g}, stuck-P {d.stuck_p_rate:g}, stuck-AP {d.stuck_ap_rate:g}",
            f"- Array: {cell}, {a.rows} x {a.cols} sub-arrays, wire segment {a.r_wire_ohm:g} ohm, driver "
            f"{a.r_driver_ohm:g} ohm, comparator offset sigma {study.circuit.sense_offset_a:g} A; IR-drop on evaluation: "
            f"{dies.ir_model.replace('_', '-')}",
            f"- Network: binary {t.hidden_sizes} hidden comparators on differential MTJ pairs, {t.dataset} pooled "
            f"{dies.input_pool}x{dies.input_pool} and thresholded at {dies.input_threshold:g}; {t.epochs} epochs, batch "
            f"{t.batch_size}, peak learning rate {t.learning_rate:g} (Adam, one-cycle)",
            f"- Dies: {f'maps `{dies.maps}`' if dies.maps else f'{dies.count} generated'}; modes {', '.join(dies.modes)} "
            f"(hardware-aware: {dies.hardware_aware_epochs} epoch(s) of per-die fine-tuning){trim}; "
            f"{dies.dies_per_step} die(s) per statistics-aware step"
            + "".join(f"; {name}" for name, on in (("defect-aware pair programming", dies.program_pairs),
                                                   ("fault-tolerant mapping", dies.fault_tolerant_mapping)) if on)]


def _label(row, sweep):
    return ", ".join(f"{k.split('.')[-1]}={_fmt(row[k])}" for k in sweep) or row["run_id"]


def _save(fig, ax, xlabel, ylabel, path, names, legend_size=7):
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    write_png_atomic(fig, path)  # rewritten while a study runs: never half a PNG
    plt.close(fig)
    names.append(path.name)


def _plots(study, rows, records, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweep = list(study.sweep)
    names = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for row, rec in zip(rows, records):
        ep = rec["results"]["epochs"]
        ax.plot([e["epoch"] for e in ep], [100 * e["test_accuracy"] for e in ep], "o-", label=_label(row, sweep))
    _save(fig, ax, "epoch", "test accuracy (%)", out / "accuracy_vs_epoch.png", names)

    pulsed = [r for r in rows if r["pulse_width_s"] and r["energy_per_update_j"]]
    if pulsed:
        fig, ax = plt.subplots(figsize=(6, 4))
        for alg in sorted({r["algorithm"] for r in pulsed}):
            pts = sorted((r["pulse_width_s"], r["energy_per_update_j"]) for r in pulsed if r["algorithm"] == alg)
            ax.loglog([p[0] for p in pts], [p[1] for p in pts], "o-", label=alg)
        _save(fig, ax, "pulse width (s)", "energy per update (J)", out / "energy_per_update_vs_pulse_width.png", names, 8)

    if tile_plot(rows, lambda row: _label(row, sweep), out / "tile_breakdown.png"):
        names.append("tile_breakdown.png")
    # the Pareto plot in whole-tile energy when every run has a periphery
    tiled = all("tile_total_training_j" in row for row in rows)
    cumulative, total = (("cumulative_tile_energy_j", "tile_total_training_j") if tiled
                         else ("cumulative_energy_j", "total_energy_j"))
    fig, ax = plt.subplots(figsize=(6, 4))
    finals = []
    for row, rec in zip(rows, records):
        ep = rec["results"]["epochs"]
        ax.plot([max(e[cumulative], 1e-30) for e in ep], [100 * e["test_accuracy"] for e in ep], ".-", alpha=0.6,
                label=_label(row, sweep))
        finals.append((max(row[total], 1e-30), 100 * row["test_accuracy"]))
    front = pareto_front(finals)
    ax.plot([finals[i][0] for i in front], [finals[i][1] for i in front], "k--", lw=1.5, label="Pareto front")
    ax.scatter([finals[i][0] for i in front], [finals[i][1] for i in front], s=60, facecolors="none", edgecolors="k")
    if any(f[0] > 1e-30 for f in finals):
        ax.set_xscale("log")
    _save(fig, ax, f"cumulative training energy, {'whole tile' if tiled else 'array'} (J)", "test accuracy (%)",
          out / "accuracy_vs_energy.png", names)
    return names


def _die_plot(study, rows, records, out):
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
        for m, mode in enumerate(_DIE_MODES):
            if mode not in rec["results"]["modes"]:
                continue
            errs = 100 * np.asarray(rec["results"]["modes"][mode]["die_errors"])
            jitter = np.random.default_rng(0).uniform(-0.15, 0.15, len(errs))  # fixed seed: same plot every time
            ax.scatter(x + jitter, errs, s=12, color=f"C{m}", alpha=0.7, label=None if mode in shown else mode)
            shown.add(mode)
            ax.plot([x - 0.3, x + 0.3], [errs.mean()] * 2, color="k", lw=1.5)
            x += 1
        # one tick per run (the modes are told apart by colour), the software baseline as a dashed segment
        ticks.append(0.5 * (start + x - 1))
        labels.append(_label(row, sweep) if sweep else row["run_id"])
        ax.plot([start - 0.4, x - 0.6], [100 * row["software_error"]] * 2, color="gray", ls="--", lw=1,
                label=None if "baseline" in shown else "software baseline")
        shown.add("baseline")
        x += 0.8
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    _save(fig, ax, "", "misclassification error per die (%)", out / "die_errors.png", names)
    from memcosim.report_dies import worst_die_plot

    for row, rec in zip(rows, records):
        if "worst_die" in rec["results"]:
            names.append(f"worst_die_{row['run_id']}.png")
            worst_die_plot(_label(row, sweep), rec["results"]["worst_die"], out / names[-1])
    return names
