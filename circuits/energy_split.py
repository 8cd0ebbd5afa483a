"""Where the energy of a transient write went: selected cell, half-selected cells, wires, drivers.

:func:`energy_split` integrates every element's ``v * i`` over ngspice's waveforms of a write
deck (:func:`memcosim.netlist.write_deck`) and checks the sum against what the sources delivered
(:func:`supply_energies_j`: ``-integral v i dt`` of every supply, from the same waveforms).
Characterisation (:mod:`memcosim.circuits.characterize`) fits
its write-energy model to these numbers.
"""

import numpy as np

from memcosim.devices import hzo, mtj
from memcosim.netlist.bias import bias_levels
from memcosim.netlist.crossbar import hzo_pulse_cell_values, supply_sources

__all__ = ["energy_split", "line_pulse_energy_split", "supply_energies_j", "SPLIT_VERSION"]

SPLIT_VERSION = 3
"""Bump when :func:`energy_split` changes: cached splits are then recomputed (3: the supplies'
energy integrated from the saved waveforms instead of ngspice's ``.meas INTEG par()``)."""


def supply_energies_j(result, spec):
    """Energy each supply of a pulse deck delivered, ``{source (lower case): joules}``.

    ``-integral v(node) i(source) dt`` by the trapezoidal rule on the run's time points, for the
    supplies of :func:`memcosim.netlist.crossbar.supply_sources`. (The decks once measured this
    with one ``.meas ... INTEG par(...)`` per supply: ngspice evaluates ``par()`` as a B source a
    step behind the converged currents, 0.1 % off the waveforms it saves, and allows 99 of them.)
    """
    vec = result.vectors
    t = vec["time"]
    return {name.lower(): -float(np.trapezoid(vec[node.lower()] * vec[f"{name.lower()}#branch"], t))
            for name, node in supply_sources(spec)}


def energy_split(result, spec, row, col, amplitude_v, width_s, scheme):
    """Energy (J) dissipated in the selected cell, half-selected cells, wires and drivers.

    Integrates ``v * i`` of every element over the transient waveforms (trapezoidal rule on
    ngspice's time points). ``sources_j`` is what the sources delivered (:func:`supply_energies_j`);
    ``balance_j`` the difference (energy still stored plus integration error).
    """
    v_rows, v_cols = bias_levels(scheme, amplitude_v).line_voltages_v(spec.rows, spec.cols, row, col)
    return line_pulse_energy_split(result, spec, v_rows, v_cols, width_s)


def line_pulse_energy_split(result, spec, v_rows, v_cols, width_s):
    """:func:`energy_split` of any pulse deck with nominal line voltages ``v_rows``/``v_cols`` (volts).

    The *selected* cells are those the nominal voltages put at the full pulse (the written cell,
    the pulsed cells of a row operation, the coincidences of a stochastic slot); every other
    cell's energy is ``half_selected_j``.
    """
    vec = result.vectors
    t = vec["time"]
    R, C = spec.rows, spec.cols
    integ = lambda y: float(np.trapezoid(y, t))  # noqa: E731
    vr = np.stack([[vec[f"r{i}_{j}"] for j in range(C)] for i in range(R)])
    vc = np.stack([[vec[f"c{i}_{j}"] for j in range(C)] for i in range(R)])
    out = np.stack([vec[f"out{j}"] for j in range(C)])
    drivers = 0.0
    if spec.r_driver_ohm > 0:
        for i in range(R):
            drivers += integ((vec[f"in{i}"] - vr[i, 0]) ** 2) / spec.r_driver_ohm
    wires = integ(np.sum((vr[:, :-1] - vr[:, 1:]) ** 2, axis=(0, 1))) / spec.r_wire_ohm
    below = np.concatenate([vc[1:], out[None]], axis=0)
    wires += integ(np.sum((vc - below) ** 2, axis=(0, 1))) / spec.r_wire_ohm
    if spec.cell == "hzo":
        p = spec.hzo_params
        gread, gsw = hzo_pulse_cell_values(spec, v_rows[:, None] - v_cols[None, :], width_s)
        v_cell = vr - vc
        current = hzo.cell_current_a(gread[..., None], v_cell, p, gsw[..., None])
        # capacitive energy exactly: integral of C v dv = C/2 (v_end^2 - v_start^2)
        cell_energy = np.trapezoid(v_cell * current, t, axis=2) + 0.5 * p.capacitance_f * (
            v_cell[..., -1] ** 2 - v_cell[..., 0] ** 2
        )
    else:  # MTJ: junction below the access transistor (if any), I-V from the device model
        top = np.stack([[vec[f"m{i}_{j}"] for j in range(C)] for i in range(R)]) if spec.access else vr
        v_cell = top - vc
        defects = np.zeros((R, C), np.int8) if spec.mtj_defects is None else spec.mtj_defects
        r_cell = mtj.cell_resistance_ohm(spec.mtj_states[..., None], defects[..., None], v_cell, spec.mtj_params)
        cell_energy = np.trapezoid(v_cell * v_cell / r_cell, t, axis=2)
    nominal = np.abs(v_rows[:, None] - v_cols[None, :])
    selected = float(cell_energy[nominal >= (1 - 1e-9) * nominal.max()].sum())
    half = float(cell_energy.sum() - selected)
    sources = float(sum(supply_energies_j(result, spec).values()))
    rest = sources - (selected + half + wires + drivers)
    split = {"selected_cell_j": selected, "half_selected_j": half, "wires_j": wires, "drivers_j": drivers, "sources_j": sources}
    if spec.access:  # what the access transistors dissipate is what the sources gave beyond the rest
        return {**split, "access_transistors_j": rest, "balance_j": 0.0}
    return {**split, "balance_j": rest}
