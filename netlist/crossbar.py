"""The SPICE decks that read and write a crossbar (specs: :mod:`memcosim.netlist.spec`).

Topology (rows = word lines driven from the left, cols = bit lines sensed at the bottom)::

    VROW{i} -- RDRV{i} -- r{i}_0 -RWR- r{i}_1 -RWR- ... r{i}_{C-1}       row wire of row i
                            |            |
                          cell         cell            (optional access MOSFET M{i}_{j})
                            |            |
                          c{i}_0       c{i}_1   column nodes, linked down the column by RWC
    ... c{R-1}_{j} -RWC- out{j} -- VSNS{j} (0 V ammeter: virtual ground) or RSNS{j} to ground

Cells: a linear resistor (``linear``, ``hzo`` reads), the MTJ's antiparallel branch as a
behavioural current source ``B`` (its bias-dependent TMR makes the I-V nonlinear), and for HZO
writes a subcircuit with the cell's nonlinear conduction, its dielectric capacitance and a
switching-charge conductance, so transient energy is real.
"""

import numpy as np

from memcosim.devices import mtj as mtj_model
from memcosim.base.errors import NetlistError
from memcosim.base.memory import check_memory
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.netlist.deck import Deck, safe_text, spice_number
from memcosim.netlist.hzo_cells import hzo_write_cells
from memcosim.netlist.size import deck_bytes
from memcosim.netlist.spec import AccessTransistor, CrossbarSpec, wire_segment_resistance_ohm
from memcosim.netlist.topology import check_topology

__all__ = [
    "AccessTransistor",
    "CrossbarSpec",
    "wire_segment_resistance_ohm",
    "read_deck",
    "write_deck",
    "row_operation_deck",
    "stochastic_slot_deck",
    "READ_OPTIONS",
    "PULSE_OPTIONS",
    "default_rise_s",
    "supply_sources",
    "pulse_timing",
    "pulse_shape",
]

# Tight tolerances so ngspice's Newton result agrees with an exact solve to ~1e-12.
READ_OPTIONS = ".options reltol=1e-12 abstol=1e-18 vntol=1e-15 gmin=1e-30 itl1=500"


PULSE_OPTIONS = ".options reltol=1e-5 trtol=1"
"""Transient accuracy of the pulse decks. At ngspice's defaults (``reltol=1e-3``, ``trtol=7``) the
energy the supplies deliver — a small net of the cells' charge going in on the rise and coming
back on the fall — was up to 3 % off the energy dissipated (16 x 16, 20 ns); with these it
balances to 2e-4, for about 1.4x the run time (measured on 16 x 16 decks)."""


def _header(deck, spec, what):
    deck.header(f"memcosim {what} deck: {spec.rows} x {spec.cols} {spec.cell} crossbar '{safe_text(spec.name, 80)}'")
    deck.header(
        f"r_wire_ohm={spec.r_wire_ohm!r} c_wire_f={spec.c_wire_f!r} r_driver_ohm={spec.r_driver_ohm!r} "
        f"sense={spec.sense} access_transistor={'yes' if spec.access else 'no'}"
    )


def _segment(deck, name, a, b, r_wire_ohm):
    """One wire segment: a resistor, or for ideal wires (``r_wire_ohm == 0``) a 0 V source, a
    short SPICE accepts that keeps both nodes and the segment's current in the deck."""
    if r_wire_ohm > 0:
        deck.add(f"R{name}", [a, b], r_wire_ohm)
    else:
        deck.add(f"V{name}", [a, b], "DC 0")


def _wires(deck, spec, with_caps):
    R, C = spec.rows, spec.cols
    ideal = " (ideal: 0 V sources)" if spec.r_wire_ohm == 0 else ""
    deck.comment("row wires" + ideal)
    for i in range(R):
        for j in range(C - 1):
            _segment(deck, f"WR{i}_{j}", f"r{i}_{j}", f"r{i}_{j + 1}", spec.r_wire_ohm)
    deck.comment("column wires (the last segment leads to the sense node)" + ideal)
    for j in range(C):
        for i in range(R):
            below = f"c{i + 1}_{j}" if i < R - 1 else f"out{j}"
            _segment(deck, f"WC{i}_{j}", f"c{i}_{j}", below, spec.r_wire_ohm)
    if with_caps and spec.c_wire_f > 0:
        deck.comment("wire capacitance to ground")
        for i in range(R):
            for j in range(C):
                deck.add(f"CWR{i}_{j}", [f"r{i}_{j}", "0"], spec.c_wire_f)
                deck.add(f"CWC{i}_{j}", [f"c{i}_{j}", "0"], spec.c_wire_f)


def _mtj_card(deck, name, a, b, state, defect, params, r_p):
    if defect == mtj_model.SHORT:
        deck.add(f"R{name}", [a, b], params.r_short_ohm)
        return
    if defect == mtj_model.OPEN:
        deck.add(f"R{name}", [a, b], params.r_open_ohm)
        return
    if defect == mtj_model.STUCK_P:
        state = mtj_model.P
    elif defect == mtj_model.STUCK_AP:
        state = mtj_model.AP
    if state == mtj_model.P:
        deck.add(f"R{name}", [a, b], r_p)
        return
    rp, t0, vh = (spice_number(x) for x in (r_p, params.tmr0, params.v_half_v))
    expr = f"V({a},{b})/({rp}*(1+{t0}/(1+(V({a},{b})/{vh})^2)))"
    deck.add(f"B{name}", [a, b], f"I={{{expr}}}")


def _cells(deck, spec, write_cells=None, on_rows=None):
    R, C = spec.rows, spec.cols
    deck.comment("cells" + (" with access transistors" if spec.access else ""))
    if spec.access:
        a = spec.access
        deck.raw(
            f".model nacc nmos level=1 vto={spice_number(a.vth_v)} kp={spice_number(a.kp_a_per_v2)}"
        )
    for i in range(R):
        for j in range(C):
            top = f"r{i}_{j}"
            if spec.access:
                top = f"m{i}_{j}"
                w, l = spice_number(spec.access.width_m), spice_number(spec.access.length_m)
                deck.add(f"M{i}_{j}", [f"r{i}_{j}", f"g{i}", top, "0"], f"nacc W={w} L={l}")
            if write_cells is not None:
                deck.add(f"X{i}_{j}", [top, f"c{i}_{j}"], write_cells(i, j))
            elif spec.cell == "mtj":
                d = 0 if spec.mtj_defects is None else int(spec.mtj_defects[i, j])
                r_p = spec.mtj_params.r_p_ohm
                _mtj_card(deck, f"C{i}_{j}", top, f"c{i}_{j}", int(spec.mtj_states[i, j]), d, spec.mtj_params, r_p)
            else:
                deck.add(f"RC{i}_{j}", [top, f"c{i}_{j}"], 1.0 / spec.conductance_s[i, j])
    if spec.access:
        label = "" if on_rows is None else (" (only the selected row on)" if len(on_rows) == 1 else " (driven rows on)")
        deck.comment("word-line gates" + label)
        for i in range(R):
            on = on_rows is None or i in on_rows
            deck.add(f"VG{i}", [f"g{i}", "0"], f"DC {spice_number(spec.access.gate_on_v if on else 0.0)}")


def _check_size(spec, what):
    """Refuse to render a deck whose estimated memory (:func:`memcosim.netlist.size.deck_bytes`) is over the budget."""
    check_memory(deck_bytes(spec.rows, spec.cols), f"{what} of a {spec.rows} x {spec.cols} array",
                 "use a smaller array or the native engines (circuit.transient_engine = 'native')")


def read_deck(spec, input_v):
    """An operating-point (``.op``) deck: ``input_v`` on the rows, column currents measured.

    Parameters
    ----------
    spec : CrossbarSpec
    input_v : array_like, shape (rows,)
        Row input voltages, volts.

    Returns
    -------
    str
        Deck text; the column currents are the branch currents of ``VSNS{j}`` (virtual ground)
        or ``v(out{j}) / r_sense_ohm``.
    """
    v = np.asarray(input_v, dtype=float)
    if v.shape != (spec.rows,) or not np.all(np.isfinite(v)):
        raise NetlistError(f"input_v: must be {spec.rows} finite voltages, got shape {v.shape}")
    _check_size(spec, "read deck")
    deck = Deck(f"memcosim read {spec.rows}x{spec.cols}")
    _header(deck, spec, "read")
    deck.comment("row drivers")
    for i in range(spec.rows):
        if spec.r_driver_ohm > 0:
            deck.add(f"VROW{i}", [f"in{i}", "0"], f"DC {spice_number(v[i])}")
            deck.add(f"RDRV{i}", [f"in{i}", f"r{i}_0"], spec.r_driver_ohm)
        else:
            deck.add(f"VROW{i}", [f"r{i}_0", "0"], f"DC {spice_number(v[i])}")
    _wires(deck, spec, with_caps=False)
    _cells(deck, spec)
    deck.comment("column sensing")
    for j in range(spec.cols):
        if spec.sense == "virtual_ground":
            deck.add(f"VSNS{j}", [f"out{j}", "0"], "DC 0")
        else:
            deck.add(f"RSNS{j}", [f"out{j}", "0"], spec.r_sense_ohm)
    deck.analysis(READ_OPTIONS)
    deck.analysis(".op")
    text = deck.render()
    check_topology(text)
    return text


def default_rise_s(width_s):
    """Rise and fall time of a write pulse: 1 % of the width, at least 1 ns."""
    return max(0.01 * width_s, 1e-9)


def pulse_timing(width_s, rise_s=None):
    """The time axis of a pulse deck: ``(rise_s, stop_s, max_step_s)``, seconds.

    ``rise_s`` (also the fall time) defaults to :func:`default_rise_s`; the pulse starts at 0,
    its flat top lasts ``width_s`` and the run stops at the end of the fall,
    ``width_s + 2 rise_s``; ``max_step_s = min(rise_s / 5, stop_s / 200)`` is the ``.tran`` step
    (ngspice's largest step) and the native engine's largest step.
    """
    rise = default_rise_s(width_s) if rise_s is None else float(rise_s)
    stop = width_s + 2 * rise
    return rise, stop, min(rise / 5, stop / 200)


def pulse_shape(t_s, width_s, rise_s):
    """The unit trapezoid of ``PULSE(0 1 0 rise rise width)`` at times ``t_s`` (0 to 1)."""
    t = np.asarray(t_s, dtype=float)
    up = np.clip(t / rise_s, 0.0, 1.0)
    down = np.clip((t - rise_s - width_s) / rise_s, 0.0, 1.0)
    return up - down


def _pulse(amplitude, width, rise):
    a, w, r = (spice_number(x) for x in (amplitude, width, rise))
    return f"PULSE(0 {a} 0.0 {r} {r} {w} 1)"


def write_deck(spec, row, col, amplitude_v, width_s, scheme="v_half", rise_s=None):
    """A transient deck that programs cell (``row``, ``col``) with one pulse.

    The line voltages are :func:`memcosim.netlist.bias.bias_levels` of ``scheme``: the selected
    row gets ``amplitude_v`` and the selected column 0 V; with ``v_half`` every other line sits
    at ``amplitude_v / 2``, with ``v_third`` unselected rows at ``V/3`` and unselected columns at
    ``2V/3`` (half-selected cells see ``V/2`` or ``V/3``). With access
    transistors only the selected word line is on. The deck saves every node voltage and
    source current; the energy each supply delivers, ``-integral v i dt`` over the pulse, is
    integrated from them (:func:`supply_sources` names the supplies and their nodes): the deck
    has no ``.meas`` lines, so nothing counts against ngspice's limit of 99 ``par()`` calls and
    the same deck runs at any array size.

    Parameters
    ----------
    spec : CrossbarSpec
    row, col : int
    amplitude_v : float
        Signed pulse amplitude, volts.
    width_s : float
        Pulse width (flat top), seconds.
    scheme : {"v_half", "v_third"}
    rise_s : float, optional
        Rise and fall time, seconds (default: 1 % of the width, at least 1 ns).
    """
    if not (0 <= row < spec.rows and 0 <= col < spec.cols):
        raise NetlistError(f"selected cell ({row}, {col}) outside the {spec.rows} x {spec.cols} array")
    _check_pulse(amplitude_v, width_s)
    v_rows, v_cols = bias_levels(scheme, amplitude_v).line_voltages_v(spec.rows, spec.cols, row, col)
    title = f"memcosim write {spec.rows}x{spec.cols} cell {row},{col}"
    note = f"selected cell ({row}, {col}), amplitude_v={float(amplitude_v)!r}, width_s={float(width_s)!r}, scheme={scheme}"
    return _pulse_deck(spec, v_rows, v_cols, width_s, title, note, {row}, rise_s)


def row_operation_deck(spec, row, pulsed_cols, amplitude_v, width_s, scheme="v_half", rise_s=None):
    """A transient deck of one row operation: row ``row`` at ``amplitude_v``, ``pulsed_cols`` at 0 V.

    Row-parallel programming (as a mixed-precision transfer runs on hardware): every cell of the
    selected row in ``pulsed_cols`` receives the pulse at once; the other columns sit at the
    scheme's inhibit level and the other rows at its unselected level
    (:func:`memcosim.netlist.bias.row_operation_voltages_v`). Sources, wires, cells, drivers and
    the supplies (:func:`supply_sources`) are those of :func:`write_deck`.
    """
    if not 0 <= row < spec.rows:
        raise NetlistError(f"row {row} outside the {spec.rows} x {spec.cols} array")
    _check_pulse(amplitude_v, width_s)
    v_rows, v_cols = row_operation_voltages_v(scheme, amplitude_v, spec.rows, spec.cols, row, pulsed_cols)
    cols = [j for j in range(spec.cols) if v_cols[j] == 0.0]
    title = f"memcosim row operation {spec.rows}x{spec.cols} row {row}, {len(cols)} column(s)"
    note = (f"selected row {row}, pulsed columns {_ranges(cols)}, amplitude_v={float(amplitude_v)!r}, "
            f"width_s={float(width_s)!r}, scheme={scheme}")
    return _pulse_deck(spec, v_rows, v_cols, width_s, title, note, {row}, rise_s)


def stochastic_slot_deck(spec, driven_rows, driven_cols, amplitude_v, width_s, rise_s=None):
    """A transient deck of one time slot of a parallel stochastic update (Gokmen & Vlasov).

    ``driven_rows`` at ``+V/2``, ``driven_cols`` at ``-V/2``, every other line at 0 V
    (:func:`memcosim.netlist.bias.stochastic_slot_voltages_v`): the coincidences see ``V``, the
    other cells of driven lines ``V/2``. With access transistors the driven rows' word lines
    are on. Sources, wires, cells, drivers and the supplies are those of :func:`write_deck`.
    """
    _check_pulse(amplitude_v, width_s)
    v_rows, v_cols = stochastic_slot_voltages_v(amplitude_v, spec.rows, spec.cols, driven_rows, driven_cols)
    rows = [i for i in range(spec.rows) if v_rows[i] != 0.0]
    cols = [j for j in range(spec.cols) if v_cols[j] != 0.0]
    title = f"memcosim stochastic slot {spec.rows}x{spec.cols}, {len(rows)} row(s) x {len(cols)} column(s)"
    note = (f"driven rows {_ranges(rows)} at +V/2, driven columns {_ranges(cols)} at -V/2, "
            f"amplitude_v={float(amplitude_v)!r}, width_s={float(width_s)!r}")
    return _pulse_deck(spec, v_rows, v_cols, width_s, title, note, set(rows), rise_s)


def _ranges(indices):
    """``0-3,7`` for [0, 1, 2, 3, 7]: short, readable index lists in deck headers."""
    parts, start = [], None
    for k, i in enumerate(indices):
        if start is None:
            start = i
        if k + 1 == len(indices) or indices[k + 1] != i + 1:
            parts.append(f"{start}" if start == i else f"{start}-{i}")
            start = None
    return ",".join(parts)


def _check_pulse(amplitude_v, width_s):
    if not (np.isfinite(width_s) and width_s > 0):
        raise NetlistError(f"width_s: must be > 0 seconds, got {width_s!r}")
    if not (np.isfinite(amplitude_v) and amplitude_v != 0):
        raise NetlistError(f"amplitude_v: must be a finite non-zero voltage, got {amplitude_v!r}")


def _pulse_deck(spec, v_rows, v_cols, width_s, title, note, gate_rows, rise_s):
    """The transient deck of one pulse with line voltages ``v_rows``/``v_cols`` (volts)."""
    _check_size(spec, "pulse deck")
    rise, stop, step = pulse_timing(width_s, rise_s)
    deck = Deck(title)
    _header(deck, spec, "write")
    deck.header(note)
    cell_factory = None
    if spec.cell == "hzo":
        cell_factory = hzo_write_cells(deck, spec, v_rows[:, None] - v_cols[None, :], width_s)
    deck.comment("row drivers")
    for i in range(spec.rows):
        amp = float(v_rows[i])
        node = f"in{i}" if spec.r_driver_ohm > 0 else f"r{i}_0"
        deck.add(f"VROW{i}", [node, "0"], _pulse(amp, width_s, rise) if amp != 0.0 else "DC 0")
        if spec.r_driver_ohm > 0:
            deck.add(f"RDRV{i}", [node, f"r{i}_0"], spec.r_driver_ohm)
    _wires(deck, spec, with_caps=True)
    _cells(deck, spec, write_cells=cell_factory, on_rows=gate_rows)
    deck.comment("column drivers")
    for j in range(spec.cols):
        amp = float(v_cols[j])
        if amp == 0.0:
            deck.add(f"VCOL{j}", [f"out{j}", "0"], "DC 0")
        else:
            deck.add(f"VCOL{j}", [f"out{j}", "0"], _pulse(amp, width_s, rise))
    deck.analysis(PULSE_OPTIONS)
    deck.analysis(f".tran {spice_number(step)} {spice_number(stop)}")
    text = deck.render()
    check_topology(text)
    return text


def supply_sources(spec):
    """The supplies of a pulse deck of ``spec`` and the node each drives: ``[(source, node), ...]``.

    Row drivers ``VROW{i}`` (at ``in{i}``, or at ``r{i}_0`` when ``r_driver_ohm == 0``), column
    drivers ``VCOL{j}`` (at ``out{j}``) and, with access transistors, the word-line gates
    ``VG{i}`` (at ``g{i}``), in deck order. The energy a supply delivers is ``-integral v(node)
    i(source) dt`` (``i`` into its + terminal, as ngspice reports it).
    """
    rows = [(f"VROW{i}", f"in{i}" if spec.r_driver_ohm > 0 else f"r{i}_0") for i in range(spec.rows)]
    cols = [(f"VCOL{j}", f"out{j}") for j in range(spec.cols)]
    gates = [(f"VG{i}", f"g{i}") for i in range(spec.rows)] if spec.access else []
    return rows + cols + gates
