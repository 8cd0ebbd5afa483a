"""Study report: ``results.json``, ``results.csv``, ``report.md`` and PNG plots from finished runs.

Every file is written atomically, so a reader (or an interrupted study) never sees half of one.
While runs of the study are missing the report is *partial*: ``results.json`` says
``"partial": true`` (and ``runs_total``), ``report.md`` opens with how many runs finished.
"""

import csv
import json
import platform
from pathlib import Path

from memcosim.base.atomic import atomic_path, write_json_atomic, write_text_atomic
from memcosim.base.files import read_json
from memcosim.kinds import KINDS, kind_for, kind_of
from memcosim.report_plots import pareto_front
from memcosim.report_tables import label

__all__ = ["write_report", "pareto_front", "summary_rows", "format_table"]


def _by_kind(rows):
    """``(kind, indices of its rows)`` of every study kind among ``rows``, in :data:`~memcosim.kinds.KINDS` order
    (a sweep over ``device.kind`` holds training runs and die studies: each kind its own table and plots)."""
    groups = [(kind, [i for i, row in enumerate(rows) if row["kind"] == name]) for name, kind in KINDS.items()]
    return [(kind, kept) for kind, kept in groups if kept]


def summary_rows(records):
    """One flat dict per run: run id, sweep values, the headline metrics and the seed."""
    rows = []
    for rec in records:
        res = rec["results"]
        kind = kind_of(rec)
        row = {"run_id": rec["run_id"], **rec["values"], "kind": kind.name, **kind.row(res)}
        row["seed"] = rec["seed"]
        rows.append(row)
    return rows


def _versions(out):
    import numpy
    import scipy
    import torch

    from memcosim import __version__
    from memcosim.base.reproducible import blas_mode
    from memcosim.training import kernel

    versions = {"memcosim": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                "scipy": scipy.__version__, "torch": torch.__version__,
                "numba": kernel.numba.__version__ if kernel.available() else None, "blas_mode": blas_mode()}
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
    inputs = {path: digest for rec in records for path, digest in sorted(rec.get("inputs", {}).items())}
    results = {"study": study.name, "seed": study.seed, "sweep": study.sweep, "versions": _versions(out),
               "inputs": inputs, "elapsed_s": elapsed_s, "partial": len(records) < runs_total, "runs_total": runs_total,
               "runs": [{**row, **kind_of(rec).detail(rec["results"])} for row, rec in zip(rows, records)]}
    if "training.algorithm" in study.sweep and ({"device.pulse_width_s", "device.measured_from"} & set(study.sweep)):
        # the published HZO study's claims
        from memcosim.claims import evaluate_claims

        trained = [(row, rec) for row, rec in zip(rows, records) if row["kind"] == "training"]
        results["claims"] = evaluate_claims([r for r, _ in trained], [rec for _, rec in trained])
    write_json_atomic(out / "results.json", results)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with atomic_path(out / "results.csv") as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    figures = []
    if plots:
        for kind, kept in _by_kind(rows):
            figures += kind.plots(study, [rows[i] for i in kept], [records[i] for i in kept], out)
    published = []
    if study.device.kind == "measured":  # the runs of the published study's files beside its results
        from memcosim.published import comparison_markdown

        published = comparison_markdown(rows, records)
    write_text_atomic(out / "report.md", _markdown(study, rows, results, figures, published))
    return results


def format_table(study, rows):
    """The summary table as aligned text lines (the CLI prints it; report.md embeds it).

    A sweep over ``device.kind`` gets a table per study kind: the training runs, then the die studies.
    """
    sweep, lines = list(study.sweep), []
    for kind, kept in _by_kind(rows):
        lines += ([""] if lines else []) + kind.table(sweep, [rows[i] for i in kept])
    return lines


def _markdown(study, rows, results, figures, published=()):
    table = format_table(study, rows)
    sweep_line = f"- Sweep: {json.dumps(study.sweep) if study.sweep else 'none'}"
    what = kind_for(study).describe(study, sweep_line)
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
    for kind, kept in _by_kind(rows):
        md += kind.notes([rows[i] for i in kept], lambda row: label(row, list(study.sweep)))
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


