"""Where the energy of a transient write went: selected cell, half-selected cells, wires, drivers.

:func:`energy_split` integrates every element's ``v * i`` over ngspice's waveforms of a write
deck (:func:`memcosim.netlist.write_deck`) and checks the sum against what the sources delivered
(:func:`supply_energies_j`: ``-integral v i dt`` of every supply, from the same waveforms).
Characterisation (:mod:`memcosim.circuits.characterize`) fits
its write-energy model to these numbers.
"""

import numpy as np

from memcosim.circuits.pulse_cells import pulse_cells
from memcosim.netlist.bias import bias_levels
from memcosim.netlist.crossbar import supply_sources

__all__ = ["energy_split", "line_pulse_energy_split", "supply_energies_j", "selected_cells", "dissipated_power_w",
           "stored_cell_energy_j", "split_from_powers", "SPLIT_VERSION"]

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
    vr = np.stack([[vec[f"r{i}_{j}"] for j in range(C)] for i in range(R)])
    vc = np.stack([[vec[f"c{i}_{j}"] for j in range(C)] for i in range(R)])
    v_out = np.stack([vec[f"out{j}"] for j in range(C)])
    v_in = np.stack([vec[f"in{i}"] for i in range(R)]) if spec.r_driver_ohm > 0 else vr[:, 0]
    # MTJ cells below an access transistor: the junction sits between m{i}_{j} and the column
    top = np.stack([[vec[f"m{i}_{j}"] for j in range(C)] for i in range(R)]) if spec.access else vr
    cells = pulse_cells(spec, v_rows[:, None] - v_cols[None, :], width_s)
    powers = dissipated_power_w(spec, cells, selected_cells(v_rows, v_cols), vr, vc, v_in, v_out, top)
    cell_start, cell_end = top[..., 0] - vc[..., 0], top[..., -1] - vc[..., -1]
    sources = float(sum(supply_energies_j(result, spec).values()))
    return split_from_powers(t, powers, stored_cell_energy_j(cells, selected_cells(v_rows, v_cols), cell_start, cell_end),
                             sources, bool(spec.access))


def selected_cells(v_rows, v_cols):
    """Cells at the full pulse of nominal line voltages ``v_rows``/``v_cols``: a boolean (rows, cols) mask."""
    nominal = np.abs(v_rows[:, None] - v_cols[None, :])
    return nominal >= (1 - 1e-9) * nominal.max()


def dissipated_power_w(spec, cells, selected, vr, vc, v_in, v_out, v_top=None):
    """Power dissipated at each time point in the selected cells, the other cells, the wires and the drivers.

    Parameters
    ----------
    spec : CrossbarSpec
    cells : PulseCells
    selected : ndarray of bool, shape (rows, cols)
    vr, vc : ndarray, shape (rows, cols, T)
        Row-layer and column-layer node voltages, volts.
    v_in : ndarray (rows, T)
        Row driver source voltages (the row's first node when ``r_driver_ohm == 0``), volts.
    v_out : ndarray (cols, T)
        Column driver voltages, volts.
    v_top : ndarray (rows, cols, T), optional
        The cells' upper terminals (below an access transistor), default ``vr``.

    Returns
    -------
    dict
        ``selected_w``, ``others_w``, ``wires_w``, ``drivers_w``: arrays of shape (T,), watts.
    """
    v_cell = (vr if v_top is None else v_top) - vc
    p_cell = v_cell * cells.current_a(v_cell)
    chosen = p_cell[selected].sum(axis=0)
    below = np.concatenate([vc[1:], v_out[None]], axis=0)
    wires = (np.sum((vr[:, :-1] - vr[:, 1:]) ** 2, axis=(0, 1)) + np.sum((vc - below) ** 2, axis=(0, 1))) / spec.r_wire_ohm
    drivers = np.sum((v_in - vr[:, 0]) ** 2, axis=0) / spec.r_driver_ohm if spec.r_driver_ohm > 0 else np.zeros_like(wires)
    return {"selected_w": chosen, "others_w": p_cell.sum(axis=(0, 1)) - chosen, "wires_w": wires, "drivers_w": drivers}


def stored_cell_energy_j(cells, selected, v_cell_start, v_cell_end):
    """Energy the cells' capacitance took up between two instants, ``C/2 (v_end^2 - v_start^2)``:
    ``(selected cells, other cells)`` in joules (exact, whatever the waveform between)."""
    stored = 0.5 * cells.capacitance_f * (v_cell_end**2 - v_cell_start**2)
    chosen = float(stored[selected].sum())
    return chosen, float(stored.sum()) - chosen


def split_from_powers(t, powers, stored, sources_j, access=False):
    """The energy split of :func:`line_pulse_energy_split` from the power at each time point.

    Integrates :func:`dissipated_power_w` by the trapezoidal rule over ``t`` (seconds), adds the
    cells' stored energy ``stored`` (:func:`stored_cell_energy_j`), and balances against what the
    supplies delivered (``sources_j``).
    """
    integ = lambda y: float(np.trapezoid(y, t))  # noqa: E731
    selected = integ(powers["selected_w"]) + stored[0]
    half = integ(powers["others_w"]) + stored[1]
    wires, drivers = integ(powers["wires_w"]), integ(powers["drivers_w"])
    rest = sources_j - (selected + half + wires + drivers)
    split = {"selected_cell_j": selected, "half_selected_j": half, "wires_j": wires, "drivers_j": drivers,
             "sources_j": sources_j}
    if access:  # what the access transistors dissipate is what the sources gave beyond the rest
        return {**split, "access_transistors_j": rest, "balance_j": 0.0}
    return {**split, "balance_j": rest}
