"""The five claims of the published ferroelectric pulse-width study, checked against a study's runs.

A study that sweeps ``training.algorithm`` and ``device.pulse_width_s`` (e.g.
``examples/hzo_measured_pulse_width.toml``) gets, in ``report.md`` and ``results.json``, one row
per claim: the verdict and the numbers it rests on. The tests are stated here, once:

1. *Shorter pulses lower the energy per update* — for every pulsed algorithm, the energy per
   update at the shortest width is below that at the longest, and (mixed precision) it does not
   fall anywhere as the width grows.
2. *Shorter pulses need more epochs* — mixed precision needs more epochs to reach the target
   accuracy at the shortest width than at the longest (a run that never reaches it counts as
   needing more than the study's epochs).
3. *... but still lower the total training energy, without losing accuracy* — mixed precision's
   energy to the target (cumulative energy at the epoch it is reached; the whole run's energy
   when it is not) is lower at the shortest width than at the longest, and its final accuracy
   there is within 1 point of its best.
4. *Plain analog SGD is clearly worse than mixed precision* — at every width SGD's final
   accuracy is at least 5 points below mixed precision's.
5. *Symmetry-point shifting restores plain SGD* — at every width where SGD stays below 80 %,
   symmetry-point shifting reaches 80 % (the published figures: 80-90.5 %).

A verdict is ``holds``, ``does not hold``, ``partly`` (claim 5: some widths) or ``not measured``
(the study lacks the algorithm or the widths). A width measured on several files (a sweep over
``device.measured_from``) counts with the mean over its files.
"""

__all__ = ["CLAIMS", "evaluate_claims", "claims_markdown"]

CLAIMS = (
    "shorter pulses lower the energy per update",
    "shorter pulses need more epochs to converge",
    "shorter pulses still lower the total training energy, without losing accuracy",
    "plain analog SGD is clearly worse than mixed-precision SGD",
    "symmetry-point shifting restores the accuracy of plain SGD",
)
_FAIL_LINE, _GAP_POINTS, _ACCURACY_POINTS = 0.80, 5.0, 1.0


def _mean(values):
    return sum(values) / len(values)


def _groups(rows, algorithm, records=None):
    """{width: [row, ...]} (with ``records``: [(row, record), ...]) of one algorithm's runs."""
    out = {}
    for i, r in enumerate(rows):
        if r.get("algorithm") == algorithm and r.get("pulse_width_s"):
            out.setdefault(r["pulse_width_s"], []).append(r if records is None else (r, records[i]))
    return out


def _by_width(rows, algorithm, key):
    """{width: the value of ``key``} (the mean over the files of a width)."""
    return {w: _mean([r[key] for r in group]) for w, group in _groups(rows, algorithm).items()}


def _energy_to_target(row, record):
    """Cumulative energy (J) when the run first reached its target accuracy; the run's total when it never did."""
    reached = row.get("epochs_to_target")
    epochs = record["results"].epochs
    return epochs[reached - 1]["cumulative_energy_j"] if reached else row["total_energy_j"]


def _fmt_widths(values, fmt):
    return ", ".join(f"{w:g} s: {fmt(v)}" for w, v in sorted(values.items()))


def _pct(value):
    return f"{100 * value:.1f} %"


def evaluate_claims(rows, records):
    """The five claims against the runs (``summary_rows`` and their records, same order).

    Returns
    -------
    list of dict
        ``{"claim", "verdict", "evidence"}`` per claim, in :data:`CLAIMS` order.
    """
    out = []
    pulsed = sorted({r["algorithm"] for r in rows if r.get("algorithm") not in (None, "float") and r.get("pulse_width_s")})
    mp_energy = _by_width(rows, "mixed_precision", "array_energy_per_update_j")
    # 1
    per_alg = {alg: _by_width(rows, alg, "array_energy_per_update_j") for alg in pulsed}
    per_alg = {alg: e for alg, e in per_alg.items() if len(e) >= 2}
    if per_alg:
        lower = all(e[min(e)] < e[max(e)] for e in per_alg.values())
        widths = sorted(mp_energy)
        monotone = all(mp_energy[a] <= mp_energy[b] for a, b in zip(widths, widths[1:])) if mp_energy else True
        verdict = "holds" if lower and monotone else "does not hold"
        evidence = "; ".join(f"{alg}: {_fmt_widths(e, lambda v: f'{v:.3g} J')}" for alg, e in per_alg.items())
        out.append({"claim": CLAIMS[0], "verdict": verdict, "evidence": evidence})
    else:
        out.append({"claim": CLAIMS[0], "verdict": "not measured", "evidence": "fewer than two widths of a pulsed algorithm"})
    # 2 and 3 (mixed precision)
    mp_rows = _groups(rows, "mixed_precision", records)
    if len(mp_rows) >= 2:
        short, long_ = min(mp_rows), max(mp_rows)
        never = max(len(rec["results"].epochs) for group in mp_rows.values() for _, rec in group) + 1
        need = {w: _mean([r.get("epochs_to_target") or never for r, _ in group]) for w, group in mp_rows.items()}
        out.append({"claim": CLAIMS[1], "verdict": "holds" if need[short] > need[long_] else "does not hold",
                    "evidence": "epochs to target: " + _fmt_widths(need, lambda v: f"{v:g}" if v < never
                                                                   else "not reached")})
        to_target = {w: _mean([_energy_to_target(r, rec) for r, rec in group]) for w, group in mp_rows.items()}
        accuracy = {w: _mean([r["test_accuracy"] for r, _ in group]) for w, group in mp_rows.items()}
        kept = 100 * (max(accuracy.values()) - accuracy[short]) <= _ACCURACY_POINTS
        verdict = "holds" if to_target[short] < to_target[long_] and kept else "does not hold"
        out.append({"claim": CLAIMS[2], "verdict": verdict,
                    "evidence": "energy to target: " + _fmt_widths(to_target, lambda v: f"{v:.3g} J")
                                + "; accuracy: " + _fmt_widths(accuracy, _pct)})
    else:
        for claim in CLAIMS[1:3]:
            out.append({"claim": claim, "verdict": "not measured", "evidence": "mixed precision at fewer than two widths"})
    # 4 and 5
    mp_acc = _by_width(rows, "mixed_precision", "test_accuracy")
    sgd_acc = _by_width(rows, "sgd", "test_accuracy")
    both = sorted(set(mp_acc) & set(sgd_acc))
    if both:
        worse = all(100 * (mp_acc[w] - sgd_acc[w]) >= _GAP_POINTS for w in both)
        out.append({"claim": CLAIMS[3], "verdict": "holds" if worse else "does not hold",
                    "evidence": "; ".join(f"{w:g} s: SGD {_pct(sgd_acc[w])} vs mixed precision {_pct(mp_acc[w])}" for w in both)})
    else:
        out.append({"claim": CLAIMS[3], "verdict": "not measured", "evidence": "no width with both SGD and mixed precision"})
    sps_acc = _by_width(rows, "symmetry_shift", "test_accuracy")
    failing = [w for w in sorted(set(sgd_acc) & set(sps_acc)) if sgd_acc[w] < _FAIL_LINE]
    if failing:
        restored = [w for w in failing if sps_acc[w] >= _FAIL_LINE]
        verdict = "holds" if len(restored) == len(failing) else "partly" if restored else "does not hold"
        out.append({"claim": CLAIMS[4], "verdict": verdict,
                    "evidence": "; ".join(f"{w:g} s: SGD {_pct(sgd_acc[w])} -> shifted {_pct(sps_acc[w])}" for w in failing)})
    else:
        why = "SGD reaches 80 % at every width" if sgd_acc and sps_acc else "no width with both SGD and symmetry shifting"
        out.append({"claim": CLAIMS[4], "verdict": "not measured", "evidence": why})
    return out


def claims_markdown(claims):
    """The claims as a Markdown table (lines)."""
    lines = ["| claim | verdict | numbers |", "|---|---|---|"]
    lines += [f"| {c['claim']} | {c['verdict']} | {c['evidence']} |" for c in claims]
    return lines
