"""Characterisation: ngspice/native sweeps -> fitted behavioural models with validation error.

Three sweeps, each point cached by the hash of what was simulated (deck text and engine
version), run in worker processes with a progress bar:

* **write energy** — transient write decks of HZO or MTJ (1T1MTJ) arrays (ngspice) over pulse amplitude x width x initial
  state x array size x selected-cell position. From the node waveforms the energy is split
  into selected cell, half-selected cells, wires and drivers; the split is checked against the
  energy the sources delivered (integrated from the same waveforms).
* **read energy** — DC reads (native engine) over input activity x mean conductance x size.
* **IR-drop** — exact column currents (structured native solver) against the ideal ``G^T V``
  over size x wire resistance x conductance maps; a subset is cross-checked with ngspice.

Points are split deterministically into fit and held-out validation sets; every model stores
its parameters, the grid, the ngspice version, the hashes of the decks used and its error on
the held-out points.
"""

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize

from memcosim.circuits import crossbar_layers, energy_models, transient
from memcosim.circuits.characterize_report import CharacterizeReport
from memcosim.circuits.characterize_plots import plot_characterization
from memcosim.circuits.characterize_read import READ_DECK_ABOVE, fit_ir_drop, fit_read
from memcosim.circuits.characterize_sizes import engine_summary, fit_across_sizes, point_records
from memcosim.circuits.pulse_engine import pulse_split, transient_engine
from memcosim.circuits.models import CircuitModels, WriteEnergyModel
from memcosim.base.atomic import write_json_atomic
from memcosim.base.memory import check_memory
from memcosim.base.processes import die_with_parent
from memcosim.circuits.ngspice import ngspice_version
from memcosim.devices import mtj
from memcosim.base.errors import ConfigError
from memcosim.devices.hzo import HZOFilm
from memcosim.netlist import CrossbarSpec, bias_levels, write_deck
from memcosim.netlist.size import deck_bytes
from memcosim.base.seeding import numpy_rng

__all__ = ["CharacterizeSetup", "Characterization", "characterize", "fit_models", "write_characterization", "simulate_write_point", "mtj_setup_defaults", "estimate_bytes"]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class CharacterizeSetup:
    """What is characterised: the device, the wiring and the sweep grids."""

    device_params: object
    """HZOParams or MTJParams: the family decides the write decks and the energy basis."""
    r_wire_ohm: float = 1.0
    r_driver_ohm: float = 100.0
    c_wire_f: float = 1e-16
    scheme: str = "v_half"
    read_voltage_v: float = 0.1
    read_width_s: float = 1e-8
    seed: int = 0
    study_rows: int = 32
    study_cols: int = 32
    amplitudes_v: tuple = (2.5, 3.0, 3.5)
    widths_s: tuple = (2e-8, 2e-7, 2e-6, 2e-5, 2e-4)
    initial_states: tuple = (0.25, 0.75)
    sizes: tuple = (8, 16)
    access: object = None
    """AccessTransistor of 1T1R cells (MTJ arrays), or None."""
    timeout_s: float = 600.0
    operations: tuple = ()
    """Parallel write operations to characterise besides the single-cell write: ``row`` (row
    operations, row-parallel programming) and/or ``slot`` (parallel stochastic-update slots),
    see :mod:`memcosim.circuits.characterize_operations`."""
    transient_engine: str = "auto"
    """Engine of the pulse points: ``ngspice``, ``native`` or ``auto`` (ngspice up to
    ``native_above`` rows, native above); see :mod:`memcosim.circuits.pulse_engine`."""
    native_above: int = 32
    """``auto``: arrays with more rows than this are simulated natively."""

    holdout_sizes: tuple = ()
    """Array sizes (square) whose pulses are simulated only to check the fitted size law
    (:mod:`memcosim.circuits.characterize_sizes`), besides the study's own."""

    def validation_sizes(self):
        """The held-out array sizes, ascending: the study's and those of ``holdout_sizes`` not fitted."""
        return sorted({self.study_rows} | (set(self.holdout_sizes) - set(self.sizes)))

    def engine_for(self, size):
        """The engine that simulates a ``size x size`` array's pulses (``ngspice`` or ``native``)."""
        return transient_engine(self.transient_engine, self.native_above, size)

    @property
    def kind(self):
        return "hzo" if isinstance(self.device_params, HZOFilm) else "mtj"

    def conductance_window_s(self):
        """(lowest, highest) read conductance of a cell, siemens."""
        p = self.device_params
        if self.kind == "hzo":
            return p.g_min_s, p.g_max_s
        return 1.0 / float(mtj.resistance_ohm(1, 0.0, p)), 1.0 / p.r_p_ohm


def mtj_setup_defaults(params, **kw):
    """A setup with MTJ-typical write pulses: 0.6-1.0 V, 5-100 ns, from P and from AP."""
    kw = {"amplitudes_v": (0.6, 0.8, 1.0), "widths_s": (5e-9, 1e-8, 2e-8, 5e-8, 1e-7), "initial_states": (0.0, 1.0), **kw}
    return CharacterizeSetup(device_params=params, **kw)


def estimate_bytes(setup, workers):
    """Estimated peak memory (bytes) of :func:`characterize` with ``workers`` processes.

    The largest array simulated is ``max(sizes, study_rows)`` square: each worker renders its
    pulse deck (:func:`memcosim.netlist.size.deck_bytes`), ngspice holds its transient and the energy
    split stacks its waveforms (~60 kB per cell; measured 73 kB at 32 x 32 with 543 time points,
    ngspice's own 23 kB at 64 x 64), or the native engine integrates it
    (:func:`memcosim.circuits.transient.estimate_bytes`); the main process solves the read
    points (~5 kB per cell as decks, the structured solver above 64 x 64).
    """
    n = max(*setup.sizes, *setup.holdout_sizes, setup.study_rows, setup.study_cols)
    if setup.engine_for(n) == "ngspice":
        per_worker = 300e6 + deck_bytes(n, n) + 60000 * n * n
    else:
        per_worker = 300e6 + transient.estimate_bytes(n, n)
    reads = 5000 * n * n if n <= READ_DECK_ABOVE else crossbar_layers.estimate_bytes(n, n)
    return 300e6 + reads + workers * per_worker


def _write_spec(setup, point):
    p = setup.device_params
    n = point["size"]
    common = dict(r_wire_ohm=setup.r_wire_ohm, c_wire_f=setup.c_wire_f, r_driver_ohm=setup.r_driver_ohm, name="characterize")
    if setup.kind == "mtj":
        states = np.full((n, n), int(round(point["x0"])))
        return CrossbarSpec.from_mtj(states, p, access=setup.access, **common)
    g0 = p.g_min_s + point["x0"] * (p.g_max_s - p.g_min_s)
    return CrossbarSpec(np.full((n, n), g0), cell="hzo", hzo_params=p, **common)


def _selected(point):
    n = point["size"]
    return (n - 1, 0) if point["position"] == "near" else (0, n - 1)


def simulate_write_point(setup, point, cache_dir):
    """Simulate (or load from cache) one write point; returns its energy split, deck hash and engine."""
    spec = _write_spec(setup, point)
    row, col = _selected(point)
    amplitude, width = point["amplitude_v"], point["width_s"]
    v_rows, v_cols = bias_levels(setup.scheme, amplitude).line_voltages_v(spec.rows, spec.cols, row, col)
    engine = setup.engine_for(point["size"])
    split, key, hit = pulse_split(engine, spec, v_rows, v_cols, width,
                                  lambda: write_deck(spec, row, col, amplitude, width, scheme=setup.scheme), cache_dir,
                                  "write", setup.timeout_s)
    return {**point, **split, "deck_hash": key, "cached": hit, "engine": engine}


def _write_task(args):
    return simulate_write_point(*args)


def write_grid(setup):
    """The write sweep: fit points on the grid, held-out points in between, on the study's array and
    on the held-out sizes (:meth:`CharacterizeSetup.validation_sizes`)."""
    points = []
    rng = numpy_rng(setup.seed, "characterize/split")
    for amp in setup.amplitudes_v:
        for sign in (-1.0, 1.0):
            for width in setup.widths_s:
                for x0 in setup.initial_states:
                    for size in setup.sizes:
                        for position in ("near", "far"):
                            held = amp == setup.amplitudes_v[len(setup.amplitudes_v) // 2] or rng.random() < 0.15
                            points.append({"amplitude_v": sign * amp, "width_s": width, "x0": x0, "size": size,
                                           "position": position, "split": "validate" if held else "fit"})
    mid = setup.amplitudes_v[len(setup.amplitudes_v) // 2]
    for size in setup.validation_sizes():
        for sign in (-1.0, 1.0):
            for width in (setup.widths_s[0], setup.widths_s[len(setup.widths_s) // 2], setup.widths_s[-1]):
                points.append({"amplitude_v": sign * mid, "width_s": width, "x0": 0.5, "size": size,
                               "position": "near", "split": "validate"})
    return points


def fit_energy_basis(basis, results):
    """Non-negative least squares of measured energies over a physical basis, and the errors.

    ``basis(r)`` gives the basis terms (J) of result ``r``; ``r["sources_j"]`` is what ngspice
    measured and ``r["split"]`` says whether ``r`` is fitted or held out. Residuals are relative
    (energies span decades); a term that never reaches 1e-4 of a point's energy cannot be
    fitted, only amplified, and keeps a zero coefficient.

    Returns
    -------
    (coefficients, fit points, held-out points, fit relative errors, held-out relative errors)
    """
    fit = [r for r in results if r["split"] == "fit"]
    val = [r for r in results if r["split"] == "validate"]
    a = np.array([basis(r) / r["sources_j"] for r in fit])
    active = a.max(axis=0) > 1e-4
    coef = np.zeros(a.shape[1])
    coef[active], _ = optimize.nnls(a[:, active], np.ones(len(fit)))
    rel = lambda rs: [abs(np.dot(coef, basis(r)) - r["sources_j"]) / abs(r["sources_j"]) for r in rs]  # noqa: E731
    return coef, fit, val, rel(fit), rel(val)


def _fit_write(setup, results):
    def basis(r):
        n = r["size"]
        return energy_models.write_energy_basis(setup.device_params, r["amplitude_v"], r["width_s"], r["x0"], n, n,
                                                setup.c_wire_f, setup.scheme, setup.r_driver_ohm, setup.r_wire_ohm)

    return fitted_write_model(setup, basis, results, lambda sizes: {
        "amplitudes_v": list(setup.amplitudes_v), "widths_s": list(setup.widths_s),
        "initial_states": list(setup.initial_states), "sizes": sizes["fit_sizes"], "positions": ["near", "far"]})


def fitted_write_model(setup, basis, results, grid, operation=None, extra_validation=None):
    """Fit ``basis`` (a result -> its energy terms) across sizes and wrap the coefficients as a
    :class:`WriteEnergyModel` (the write sweep and the row/slot operations share this).

    ``grid(sizes)`` gives the model's grid from the fit's size split; ``extra_validation(val,
    val_err)`` adds held-out errors of its own after the mean error."""
    coef, fit, val, fit_err, val_err, sizes = fit_across_sizes(fit_energy_basis, basis, results, setup.study_rows)
    extra = extra_validation(val, val_err) if extra_validation is not None else {}
    return WriteEnergyModel(
        device_kind=setup.kind,
        coefficients=dict(zip(energy_models.write_terms(setup.kind), coef.tolist())),
        scheme=setup.scheme,
        c_wire_f=setup.c_wire_f,
        r_driver_ohm=setup.r_driver_ohm,
        r_wire_ohm=setup.r_wire_ohm,
        **({} if operation is None else {"operation": operation}),
        grid=grid(sizes),
        deck_hashes=tuple(sorted(r["deck_hash"] for r in results)),
        validation={"max_rel_error": float(max(val_err)), "mean_rel_error": float(np.mean(val_err)), **extra,
                    "n_fit": len(fit), "n_validate": len(val), "fit_max_rel_error": float(max(fit_err)), **sizes},
    )


def characterize(setup, out_dir, workers=None, progress=True, plots=True, cache_dir=None):
    """Run the three sweeps, fit the models, write ``models.json``, the report and PNGs.

    ``cache_dir``: where simulated points are cached (default ``out_dir/cache``); points are keyed
    by what was simulated, so characterisations of different setups can share one.

    Returns
    -------
    CharacterizeReport
        The report (also written to ``out_dir/characterize_report.json``).
    """
    out = Path(out_dir)
    fitted = fit_models(setup, out / "cache" if cache_dir is None else cache_dir, workers=workers, progress=progress)
    write_characterization(fitted, out, plots=plots)
    return fitted.report


@dataclass(frozen=True)
class Characterization:
    """What :func:`fit_models` returns: the fitted models, their report, and what the plots draw."""

    setup: object
    models: CircuitModels
    report: CharacterizeReport
    results: list = field(repr=False)
    heat_case: object = field(repr=False)


def fit_models(setup, cache_dir, workers=None, progress=True):
    """Run the three sweeps (every point cached in ``cache_dir`` by its deck's hash) and fit the models,
    in memory: nothing but the cache is written (:func:`write_characterization` writes the rest).

    Returns
    -------
    Characterization
    """
    if setup.kind == "mtj" and setup.access is not None:
        raise ConfigError(
            "array.access_transistor: write-energy characterisation of 1T1MTJ arrays is not supported yet "
            "(the energy basis has no access-transistor I-V); use access_transistor = false"
        )
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers: must be an integer >= 1, got {workers!r}")
    workers = workers or min(2, os.cpu_count() or 1)
    n = max(setup.study_rows, setup.study_cols)
    check_memory(estimate_bytes(setup, workers), f"characterisation of a {n} x {n} array with {workers} worker(s)",
                 "use a smaller array.rows / array.cols, fewer --workers, or circuit.energy_model = 'device'")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    from memcosim.circuits import characterize_operations as parallel

    unknown = [op for op in setup.operations if op not in ("row", "slot")]
    if unknown:
        raise ConfigError(f"operations: allowed: 'row', 'slot'; got {unknown}")
    points = write_grid(setup)
    operation_points = {op: parallel.operation_grid(setup, op) for op in setup.operations}
    from tqdm import tqdm

    total = len(points) + sum(len(p) for p in operation_points.values())
    bar = tqdm(total=total, desc="write-energy sweep", disable=not progress, unit="deck")
    results, operation_results = [], {op: [] for op in operation_points}
    # the workers exit when this process does (kill -9 included): no orphan blocked on a pipe
    with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent) as pool:
        for res in pool.map(_write_task, [(setup, p, str(cache)) for p in points], chunksize=4):
            results.append(res)
            bar.update(1)
        for op, op_points in operation_points.items():
            for res in pool.map(parallel._operation_task, [(setup, p, str(cache)) for p in op_points], chunksize=4):
                operation_results[op].append(res)
                bar.update(1)
    bar.close()
    write_model = _fit_write(setup, results)
    operation_models = {op: parallel.fit_operation(setup, op, rs) for op, rs in operation_results.items()}
    read_model, _ = fit_read(setup, cache)
    ir_model, heat_case = fit_ir_drop(setup, cache)
    version = ngspice_version()
    models = CircuitModels(device_kind=setup.kind, device=setup.device_params.to_dict(), write_energy=write_model,
                           read_energy=read_model, ir_drop=ir_model, ngspice_version=version,
                           row_energy=operation_models.get("row"), slot_energy=operation_models.get("slot"))
    summary = _width_summary(setup, results)
    report = CharacterizeReport(
        write_energy={**write_model.validation,
                      "max_energy_balance_rel": float(max(abs(r["balance_j"]) / abs(r["sources_j"]) for r in results)),
                      "by_width": summary},
        **{f"{op}_energy": dict(model.validation) for op, model in operation_models.items()},
        read_energy=dict(read_model.validation),
        ir_drop=dict(ir_model.validation),
        engines={"write": engine_summary(results), **{op: engine_summary(rs) for op, rs in operation_results.items()}},
        points={"write": point_records(results, ("amplitude_v", "width_s", "x0", "size", "position")),
                **{op: point_records(rs, ("amplitude_v", "width_s", "x0", "size", "rows_driven", "cols_driven"))
                   for op, rs in operation_results.items()}},
        points_simulated=sum(not r["cached"] for rs in [results, *operation_results.values()] for r in rs),
        points_cached=sum(r["cached"] for rs in [results, *operation_results.values()] for r in rs),
        ngspice_version=version,
    )
    return Characterization(setup, models, report, results, heat_case)


def write_characterization(fitted, out_dir, plots=True):
    """Write ``models.json``, ``characterize_report.json`` and (``plots``) the PNGs of a :func:`fit_models` result."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fitted.models.save(out / "models.json")
    write_json_atomic(out / "characterize_report.json", fitted.report.to_json())
    if plots:
        plot_characterization(fitted.setup, fitted.results, fitted.heat_case, out)


def _width_summary(setup, results):
    """Energy and its split at each width for the study-size validation points."""
    rows = [r for r in results if r["size"] == setup.study_rows and r["amplitude_v"] < 0 and r["x0"] == 0.5 and r["position"] == "near"]
    keys = ("amplitude_v", "width_s", "sources_j", "selected_cell_j", "half_selected_j", "wires_j", "drivers_j")
    summary = []
    for r in sorted(rows, key=lambda r: r["width_s"]):
        summary.append({k: r[k] for k in keys + (("access_transistors_j",) if "access_transistors_j" in r else ())})
    return summary
