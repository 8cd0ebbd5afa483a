"""The published ferroelectric study's per-file results, and a study's runs beside them.

PaU1570/msc_project (an MSc thesis, IBM aihwkit 1.2) trained the 784-256-128-10 sigmoid MLP on
MNIST on each measured sweep of HZO synapse ID161ZR15000 (LBE247): plain SGD (``results/test50``),
symmetry-point shifting (``results/test56``) and mixed precision (``results/test52``), 25 epochs.
:data:`PUBLISHED` holds their final test accuracies, the epoch mixed precision first reached 95 %
validation accuracy (from each run's ``metrics.csv``) and the symmetry point their plots state
(``results/symmetry_points_alt``). :func:`comparison_markdown` puts a study's runs of the same
files beside them (the report of ``examples/hzo_published_protocol.toml``).
"""

import re

__all__ = ["PUBLISHED", "PUBLISHED_FLOAT_ACCURACY", "file_key", "comparison_rows", "comparison_markdown"]

PUBLISHED_FLOAT_ACCURACY = 0.975
"""The published floating-point accuracy of the same network."""

PUBLISHED = {
    # timestamp of the sweep: (width s, symmetry point, plain SGD, SPS, mixed precision, MP epoch to 95 %)
    "20241024104937": (2e-8, 0.72, 0.103, 0.098, 0.970, 8),
    "20241024110402": (2e-8, 0.36, 0.098, 0.582, 0.969, 8),
    "20241024111132": (2e-7, 0.56, 0.103, 0.808, 0.970, 8),
    "20241024111900": (2e-6, 0.44, 0.104, 0.868, 0.968, 9),
    "20241024112607": (2e-5, 0.17, 0.714, 0.889, 0.966, 9),
    "20241024113236": (2e-4, 0.15, 0.887, 0.890, 0.967, 9),
    "20241024113844": (2e-3, 0.22, 0.136, 0.893, 0.966, 10),
}
"""ID161ZR15000's published results by sweep timestamp (accuracies as fractions)."""

_ALGORITHMS = {"sgd": 2, "symmetry_shift": 3, "mixed_precision": 4}


def file_key(path):
    """The sweep timestamp in a measured file's name (``..._20241024111132_...``), or None."""
    found = re.findall(r"(20\d{12})", str(path))
    return found[-1] if found else None


def _measured_file(row, record):
    files = row.get("device.measured_from")
    if isinstance(files, list) and len(files) == 1:
        return files[0]
    sources = (record["results"].device or {}).get("source")
    return sources


def comparison_rows(rows, records):
    """Per measured file: memcosim's accuracy of each algorithm beside the published one.

    Returns a list of dicts (``file``, ``width_s``, ``symmetry_point``, and per algorithm
    ``{alg}`` / ``{alg}_published`` accuracies, ``mp_epoch`` / ``mp_epoch_published``,
    ``{alg}_array_energy_per_update_j``, ``{alg}_total_energy_j``), files of :data:`PUBLISHED` only.
    """
    table = {}
    for row, rec in zip(rows, records):
        key = file_key(_measured_file(row, rec) or "")
        alg = row.get("algorithm")
        if key not in PUBLISHED or alg not in _ALGORITHMS:
            continue
        ref = PUBLISHED[key]
        entry = table.setdefault(key, {"file": key, "width_s": ref[0], "symmetry_point_published": ref[1]})
        res = rec["results"]
        entry[alg] = res.test_accuracy
        entry[f"{alg}_published"] = ref[_ALGORITHMS[alg]]
        entry[f"{alg}_array_energy_per_update_j"] = res.array_energy_per_update_j
        entry[f"{alg}_total_energy_j"] = res.total_energy_j
        sp = (res.device or {}).get("symmetry_point_w")
        if sp is not None:
            entry["symmetry_point"] = sp
        if alg == "mixed_precision":
            entry["mp_epoch"] = res.epochs_to_target
            entry["mp_epoch_published"] = ref[5]
    return [table[k] for k in sorted(table)]


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}"


def comparison_markdown(rows, records):
    """The per-file comparison as markdown lines (empty when no run is of a published file)."""
    table = comparison_rows(rows, records)
    if not table:
        return []
    lines = ["## Beside the published results (ID161ZR15000, PaU1570/msc_project)", "",
             "Final test accuracy in %, memcosim / published; mixed precision's first epoch at 95 % "
             "(validation when the study holds one out); SP: the global symmetry point in weight units.", "",
             "| file | width (s) | SP | plain SGD | SPS | mixed precision | MP epoch to 95 % |",
             "|---|---|---|---|---|---|---|"]
    for e in table:
        sp = e.get("symmetry_point")
        lines.append(f"| {e['file']} | {e['width_s']:g} | {'-' if sp is None else f'{sp:.2f}'} / "
                     f"{e['symmetry_point_published']:.2f} | {_pct(e.get('sgd'))} / {_pct(e.get('sgd_published'))} | "
                     f"{_pct(e.get('symmetry_shift'))} / {_pct(e.get('symmetry_shift_published'))} | "
                     f"{_pct(e.get('mixed_precision'))} / {_pct(e.get('mixed_precision_published'))} | "
                     f"{e.get('mp_epoch', '-')} / {e.get('mp_epoch_published', '-')} |")
    lines.append("")
    return lines
