"""How a fitted pulse-energy model holds across array sizes, and which engine made each point.

The write, row-operation and slot models are fitted on small arrays (``setup.sizes``, ngspice)
and held out at the study's size and at ``setup.holdout_sizes`` (native above the ngspice size,
:mod:`memcosim.circuits.pulse_engine`). :func:`fit_across_sizes` fits, reports the held-out
error per size, and when the error at the study's size is over :data:`SIZE_LIMIT` fits again
with half of that size's points in the fit (the other half stays held out): the model is then
fitted at the study's size, and the report says so.
"""


__all__ = ["SIZE_LIMIT", "fit_across_sizes", "engine_summary", "point_records"]

SIZE_LIMIT = 0.05
"""Largest held-out relative error at the study's size before the study's size joins the fit."""


def _by_size(points, errors):
    table = {}
    for r, e in zip(points, errors):
        entry = table.setdefault(str(r["size"]), {"n_validate": 0, "max_rel_error": 0.0, "engine": r.get("engine", "ngspice")})
        entry["n_validate"] += 1
        entry["max_rel_error"] = max(entry["max_rel_error"], float(e))
    return dict(sorted(table.items(), key=lambda kv: int(kv[0])))


def fit_across_sizes(fit, basis, results, study_size):
    """Fit ``results`` with ``fit`` (:func:`memcosim.circuits.characterize.fit_energy_basis`) and
    check the size law on the held-out sizes.

    Returns
    -------
    (coefficients, fit points, held-out points, fit errors, held-out errors, size report)
        The size report: ``by_size`` (held-out points, largest relative error and engine per
        array size), ``fit_sizes``, ``refit_at_study_size`` and, after a refit, the held-out
        error at the study's size before it (``study_size_error_before_refit``).
    """
    coef, fitted, held, fit_err, val_err = fit(basis, results)
    by_size = _by_size(held, val_err)
    report = {"by_size": by_size, "fit_sizes": sorted({r["size"] for r in fitted}), "refit_at_study_size": False}
    before = by_size.get(str(study_size), {}).get("max_rel_error", 0.0)
    if before <= SIZE_LIMIT or study_size in report["fit_sizes"]:
        return coef, fitted, held, fit_err, val_err, report
    # the size law does not carry to the study's array: fit there too, every other point
    at_size = [r for r in results if r["size"] == study_size and r["split"] == "validate"]
    moved = {id(r) for r in at_size[::2]}
    again = [{**r, "split": "fit"} if id(r) in moved else r for r in results]
    coef, fitted, held, fit_err, val_err = fit(basis, again)
    report.update(by_size=_by_size(held, val_err), fit_sizes=sorted({r["size"] for r in fitted}), refit_at_study_size=True,
                  study_size_error_before_refit=float(before))
    return coef, fitted, held, fit_err, val_err, report


def engine_summary(results):
    """``{engine: {size: points}}`` of simulated points."""
    out = {}
    for r in results:
        sizes = out.setdefault(r.get("engine", "ngspice"), {})
        sizes[str(r["size"])] = sizes.get(str(r["size"]), 0) + 1
    return {e: dict(sorted(s.items(), key=lambda kv: int(kv[0]))) for e, s in sorted(out.items())}


def point_records(results, keys):
    """One compact record per point: what it was, which engine made it, its energy and split role."""
    return [{**{k: r[k] for k in keys if k in r}, "engine": r.get("engine", "ngspice"), "sources_j": float(r["sources_j"]),
             "split": r["split"]} for r in results]
