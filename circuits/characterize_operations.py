"""Characterisation of the parallel write operations: one row operation and one stochastic-update slot.

How an update is programmed decides what it costs: a serial write pays its half-selected cells
and its line charging for every pulse, a row operation (row-parallel programming, as a
mixed-precision transfer runs on hardware) pays them once for all the columns it pulses, and a
slot of a parallel stochastic update (Gokmen & Vlasov: ``k`` rows at +V/2, ``m`` columns at -V/2)
once for all ``k m`` coincidences. This module simulates such decks in ngspice
(:func:`memcosim.netlist.crossbar.row_operation_deck`,
:func:`memcosim.netlist.crossbar.stochastic_slot_deck`), splits their energy like the single-cell
sweep, and fits a :class:`~memcosim.circuits.models.WriteEnergyModel` with ``operation`` ``row``
or ``slot`` over the physical basis of :func:`memcosim.circuits.energy_models.line_pulse_energy_terms`.

Grid: the setup's array sizes, states and pulse polarities, the lowest and highest amplitude
and the shortest and longest width for the fit, with driven lines from one to the whole array;
held out: the middle amplitude at the middle width (state 0.5) on every size and line count, and
the study's array and the held-out sizes with one and with every line driven.
"""

import numpy as np

from memcosim.circuits import energy_models
from memcosim.circuits.characterize import _write_spec, fitted_write_model
from memcosim.circuits.pulse_engine import pulse_split
from memcosim.netlist.crossbar import row_operation_deck, stochastic_slot_deck

__all__ = ["operation_grid", "simulate_operation_point", "fit_operation"]


def _line_counts(operation, n):
    """(driven rows, driven columns) pairs swept on an ``n x n`` array."""
    half = max(n // 2, 1)
    if operation == "row":
        return sorted({(1, 1), (1, half), (1, n)})
    return sorted({(1, 1), (1, half), (half, half), (n, n)})


def operation_grid(setup, operation):
    """The sweep points of ``operation`` (``row`` or ``slot``); see the module docstring."""
    amps, widths = setup.amplitudes_v, setup.widths_s
    points = []
    for size in setup.sizes:
        for k, m in _line_counts(operation, size):
            for sign in (-1.0, 1.0):
                for amp in (amps[0], amps[-1]):
                    for width in (widths[0], widths[-1]):
                        for x0 in setup.initial_states:
                            points.append({"operation": operation, "amplitude_v": sign * amp, "width_s": width, "x0": x0,
                                           "size": size, "rows_driven": k, "cols_driven": m, "split": "fit"})
                points.append({"operation": operation, "amplitude_v": sign * amps[len(amps) // 2],
                               "width_s": widths[len(widths) // 2], "x0": 0.5, "size": size, "rows_driven": k,
                               "cols_driven": m, "split": "validate"})
    for n in setup.validation_sizes():
        for k, m in ((1, 1), (1, n) if operation == "row" else (n, n)):
            points.append({"operation": operation, "amplitude_v": -amps[len(amps) // 2],
                           "width_s": widths[len(widths) // 2], "x0": 0.5, "size": n, "rows_driven": k, "cols_driven": m,
                           "split": "validate"})
    return points


def _voltages(setup, point):
    n = point["size"]
    return energy_models.operation_line_voltages_v(point["operation"], point["amplitude_v"], n, n, point["rows_driven"],
                                                   point["cols_driven"], setup.scheme)


def simulate_operation_point(setup, point, cache_dir):
    """Simulate (or load from cache) one row-operation or slot point; returns its energy split and engine."""
    spec = _write_spec(setup, point)
    k, m, amplitude, width = point["rows_driven"], point["cols_driven"], point["amplitude_v"], point["width_s"]
    if point["operation"] == "row":
        make_deck = lambda: row_operation_deck(spec, 0, range(m), amplitude, width, scheme=setup.scheme)  # noqa: E731
    else:
        make_deck = lambda: stochastic_slot_deck(spec, range(k), range(m), amplitude, width)  # noqa: E731
    v_rows, v_cols = _voltages(setup, point)
    engine = setup.engine_for(point["size"])
    split, key, hit = pulse_split(engine, spec, v_rows, v_cols, width, make_deck, cache_dir, "operation", setup.timeout_s)
    return {**point, **split, "deck_hash": key, "cached": hit, "engine": engine}


def _operation_task(args):
    return simulate_operation_point(*args)


def fit_operation(setup, operation, results):
    """Non-negative least squares of the relative energies over the line-pulse basis; held-out error."""

    def basis(r):
        v_rows, v_cols = _voltages(setup, r)
        terms = energy_models.line_pulse_energy_terms(setup.device_params, v_rows, v_cols, r["width_s"], r["x0"],
                                                      setup.c_wire_f, setup.r_driver_ohm, setup.r_wire_ohm)
        return np.array([terms[name] for name in energy_models.write_terms(setup.kind)])

    def one_line(val, val_err):
        return {"one_line_max_rel_error": float(max(e for e, r in zip(val_err, val)
                                                    if r["rows_driven"] == 1 and r["cols_driven"] == 1))}

    return fitted_write_model(setup, basis, results, lambda sizes: {
        "sizes": sizes["fit_sizes"], "line_counts": {str(n): _line_counts(operation, n) for n in setup.sizes},
        "amplitudes_v": [setup.amplitudes_v[0], setup.amplitudes_v[-1]],
        "widths_s": [setup.widths_s[0], setup.widths_s[-1]], "initial_states": list(setup.initial_states)},
        operation=operation, extra_validation=one_line)
