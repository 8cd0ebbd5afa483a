"""Characterisation of the read path: the read-energy and IR-drop sweeps and their fitted models.

* **read energy** — DC reads (native deck solves, the structured solver above
  :data:`READ_DECK_ABOVE` rows) over input activity x mean conductance x size, fitted to
  :func:`memcosim.circuits.energy_models.read_energy_basis`; one point cross-checked with ngspice.
* **IR-drop** — exact column currents (structured native solver) against the ideal ``G^T V``
  over size x wire resistance x conductance maps, fitted to
  :class:`~memcosim.circuits.models.IRDropModel`, held out at the study's size when that is larger;
  one case cross-checked with ngspice.

Every point is cached by the hash of what was solved (:mod:`memcosim.circuits.point_cache`);
:func:`memcosim.circuits.characterize.fit_models` runs both with the write sweep.
"""

import numpy as np
from scipy import optimize

from memcosim.base.seeding import numpy_rng
from memcosim.circuits import energy_models
from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.circuits.models import IRDropModel, ReadEnergyModel
from memcosim.circuits.native import solve_deck
from memcosim.circuits.ngspice import run_ngspice
from memcosim.circuits.point_cache import cached_point, point_key
from memcosim.netlist import CrossbarSpec, read_deck

__all__ = ["READ_DECK_ABOVE", "IR_FIT_SIZES", "fit_read", "fit_ir_drop"]

IR_FIT_SIZES = (16, 32, 64)
"""Square array sizes (rows) the IR-drop model is fitted and held out on; a study array larger than
these is held out once more at its own size and wire resistance (``validation["study_size"]``)."""


def _read_points(setup):
    """The read sweep's points: ``(size, mean_state, activity, g, v, split)``."""
    rng = numpy_rng(setup.seed, "characterize/read")
    g_lo, g_hi = setup.conductance_window_s()
    points = []
    for size in (8, 16, setup.study_rows):
        for mean_x in (0.2, 0.5, 0.8):
            for activity in (0.25, 0.5, 1.0):
                x = np.clip(mean_x + 0.15 * rng.standard_normal((size, size)), 0, 1)
                g = g_lo + x * (g_hi - g_lo)
                v = np.where(rng.random(size) < activity, setup.read_voltage_v, 0.0)
                if not v.any():
                    v[0] = setup.read_voltage_v
                points.append((size, mean_x, activity, g, v, "validate" if rng.random() < 0.3 else "fit"))
    return points


READ_DECK_ABOVE = 64
"""Read points of arrays up to this many rows are deck solves (:func:`memcosim.circuits.native.solve_deck`);
larger ones the structured solver's (the same circuit; a 1024 x 1024 deck would take gigabytes)."""


def fit_read(setup, cache_dir):
    """The :class:`ReadEnergyModel` of ``setup`` and the rows of its sweep (``(model, rows)``)."""
    rows_out, decks = [], []
    for size, mean_x, activity, g, v, split in _read_points(setup):
        if size <= READ_DECK_ABOVE:
            spec = CrossbarSpec(g, r_wire_ohm=setup.r_wire_ohm, r_driver_ohm=setup.r_driver_ohm)
            deck = read_deck(spec, v)
            decks.append((deck, v))
            key = point_key("read", deck, "native")

            def compute(deck=deck):
                return {"power_w": solve_deck(deck).total_source_power_w}
        else:  # large arrays: the structured solver, no deck text
            key = point_key("read", "crossbar_layers", g.tobytes(), v.tobytes(), setup.r_wire_ohm, setup.r_driver_ohm)

            def compute(g=g, v=v):
                row_v = CrossbarSolver(g, setup.r_wire_ohm, setup.r_driver_ohm).solve(v).row_voltage_v
                return {"power_w": float(np.dot(v, (v - row_v[:, 0]) / setup.r_driver_ohm))}

        res, _ = cached_point(cache_dir, key, compute)
        energy = res["power_w"] * setup.read_width_s
        rows_out.append({"size": size, "mean_state": mean_x, "activity": activity, "split": split,
                         "energy_j": energy, "basis_j": energy_models.read_energy_basis(g, v, setup.read_width_s), "deck_hash": key})
    fit = [r for r in rows_out if r["split"] == "fit"]
    val = [r for r in rows_out if r["split"] == "validate"]
    x = np.array([r["basis_j"] / r["energy_j"] for r in fit])
    coef = float(np.dot(x, np.ones(len(fit))) / np.dot(x, x))
    err = lambda rs: [abs(coef * r["basis_j"] - r["energy_j"]) / r["energy_j"] for r in rs]  # noqa: E731
    spot = rows_out[0]  # cross-check one point with ngspice
    deck, v = decks[0]
    spice = run_ngspice(deck, timeout_s=setup.timeout_s)
    p_spice = -sum(v[i] * spice.source_currents()[f"vrow{i}"] for i in range(len(v)))
    crosscheck = abs(p_spice * setup.read_width_s - spot["energy_j"]) / spot["energy_j"]
    return ReadEnergyModel(
        coefficient=coef,
        read_width_s=setup.read_width_s,
        grid={"sizes": sorted({r["size"] for r in rows_out}), "mean_states": [0.2, 0.5, 0.8], "activities": [0.25, 0.5, 1.0]},
        deck_hashes=tuple(sorted(r["deck_hash"] for r in rows_out)),
        validation={"max_rel_error": float(max(err(val))), "n_fit": len(fit), "n_validate": len(val),
                    "ngspice_crosscheck_rel_diff": crosscheck},
    ), rows_out


def fit_ir_drop(setup, cache_dir):
    """The :class:`IRDropModel` of ``setup`` and its largest held-out case (``(model, case)``)."""
    rng = numpy_rng(setup.seed, "characterize/ir")
    g_lo, g_hi = setup.conductance_window_s()
    cases = []

    def add_case(rows, cols, r_wire, split):
        g = g_lo + rng.random((rows, cols)) * (g_hi - g_lo)
        v = rng.uniform(0, setup.read_voltage_v, rows)
        key = point_key("ir", g.tobytes(), v.tobytes(), r_wire, setup.r_driver_ohm, "crossbar_solver")

        def compute():
            return {"currents_a": CrossbarSolver(g, r_wire, setup.r_driver_ohm).solve(v).column_current_a.tolist()}

        res, _ = cached_point(cache_dir, key, compute)
        cases.append({"size": rows, "r_wire_ohm": r_wire, "g": g, "v": v, "exact": np.array(res["currents_a"]),
                      "split": split, "hash": key})

    for size in IR_FIT_SIZES:
        for r_wire in (1.0, 10.0, 100.0, 1000.0):
            for k in range(2):
                add_case(size, size, r_wire, "validate" if k == 1 else "fit")
    beyond = max(setup.study_rows, setup.study_cols) > max(IR_FIT_SIZES)
    if beyond:  # the study's array, larger than the fit's: held out at its own size and wires
        add_case(setup.study_rows, setup.study_cols, setup.r_wire_ohm, "study")
    full_scale = lambda c: setup.read_voltage_v * g_hi * c["size"]  # noqa: E731

    def residuals(theta, subset):
        out = []
        for c in subset:
            model = IRDropModel(*theta).column_currents_a(c["g"], c["v"], c["r_wire_ohm"], setup.r_driver_ohm)
            out.append((model - c["exact"]) / full_scale(c))
        return np.concatenate(out)

    fit = [c for c in cases if c["split"] == "fit"]
    val = [c for c in cases if c["split"] == "validate"]
    sol = optimize.least_squares(residuals, [1.0, 0.5], args=(fit,), bounds=([0, 0], [10, 10]))
    ideal_err = max(float(np.max(np.abs(c["v"] @ c["g"] - c["exact"]) / full_scale(c))) for c in val)
    study = [c for c in cases if c["split"] == "study"]
    study_check = {} if not study else {"study_size": {
        "rows": setup.study_rows, "cols": setup.study_cols, "r_wire_ohm": setup.r_wire_ohm,
        "max_error_full_scale": float(np.max(np.abs(residuals(sol.x, study)))),
        "uncorrected_max_error_full_scale": float(np.max(np.abs(study[0]["v"] @ study[0]["g"] - study[0]["exact"])
                                                         / full_scale(study[0])))}}
    # cross-check one case with ngspice
    c = next(c for c in cases if c["size"] == 16 and c["r_wire_ohm"] == 1000.0)
    spice = run_ngspice(read_deck(CrossbarSpec(c["g"], r_wire_ohm=c["r_wire_ohm"], r_driver_ohm=setup.r_driver_ohm), c["v"]), timeout_s=setup.timeout_s)
    i_spice = np.array([spice.source_currents()[f"vsns{j}"] for j in range(16)])
    model = IRDropModel(
        a=float(sol.x[0]),
        b=float(sol.x[1]),
        grid={"sizes": list(IR_FIT_SIZES), "r_wire_ohm": [1.0, 10.0, 100.0, 1000.0],
              "solve_hashes": sorted(c["hash"] for c in cases)},
        validation={"max_error_full_scale": float(np.max(np.abs(residuals(sol.x, val)))),
                    "uncorrected_max_error_full_scale": ideal_err, "n_fit": len(fit), "n_validate": len(val),
                    "ngspice_crosscheck_max_rel_diff": float(np.max(np.abs(i_spice - c["exact"]) / np.abs(c["exact"]))),
                    **study_check},
    )
    return model, max(val, key=lambda c: (c["size"], c["r_wire_ohm"]))
