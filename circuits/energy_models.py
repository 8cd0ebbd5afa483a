"""Behavioural models fitted to circuit simulations, and how they predict.

Each model is linear in its coefficients over physically motivated basis terms computed from
the device model, so a fit is a non-negative least-squares problem and the coefficients say how
much of each mechanism the circuit adds or takes away (IR-drop, energy returned by capacitors
on the falling edge, half-selected cells).

* Write energy of one pulse (HZO, V/2 or V/3 scheme), joules::

      E = th0 * V I(V) t            selected cell conduction
        + th1 * |V| Q_sw(V, t, x0)  selected cell polarization reversal
        + th2 * n_half v_h I(v_h) t half-selected cells' conduction
        + th3 * n_half Q_sw(v_h, t, x0) v_h   half-selected cells' switching
        + th4 * (C_cell + n_wire C_wire) V^2   capacitive charging
        + th5 * E_lines                       charging every row and column through its driver and
                                                its distributed wire on the two edges
                                                (:func:`memcosim.circuits.line_charging.line_charging_j`:
                                                2 R Q^2 / t_rise for slow edges, C V^2 / 2 for fast ones)

  (+ th6 * the lines' Joule loss, drivers and wire segments, for both families.) The conduction
  and Joule terms are evaluated at the cells' DC voltages under the lines' drops
  (:func:`_conduction_terms`: every cell's current, the HZO decks' switching element included,
  loads its row through the driver and wire and its column through the wire), so a pulse that
  drives many lines of a large array is not costed at its nominal voltages.

* Write energy of one pulse (MTJ): the same conduction terms with the MTJ's own I-V in the
  starting state (``x0`` = 0 for P, 1 for AP), a wire-capacitance term and line charging.

* Read energy of one matrix-vector multiply of width ``t``: ``E = t (th0 sum_i V_i^2 sum_j g_ij)``.
* IR-drop, first order in the wire resistance: every row wire carries the ideal cell currents
  accumulated from its far end, every column wire those accumulated from its top; the voltage
  drops they cause (driver drop scaled by ``a``, wire drops by ``b``) reduce each cell's
  voltage, ``I_j = sum_i g_ij (V_i - a dV_drv_i - b (dV_row_ij + dV_col_ij))``.
"""

import functools

import numpy as np

from memcosim.devices import hzo, mtj, mtj_energy
from memcosim.devices.hzo_energy import pulse_switching_charge_c
from memcosim.devices.pulse_energy import capacitive_energy_j, conduction_energy_j, switching_energy_j
from memcosim.base.errors import ConfigError, SimulationError
from memcosim.base.reproducible import fixed_order_sum
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.circuits.line_charging import line_charging_j
from memcosim.netlist.crossbar import default_rise_s, switching_conductances_s

__all__ = ["write_energy_basis", "write_energy_terms", "read_energy_basis", "ir_drop_currents", "write_terms",
           "WRITE_TERM_PART", "OPERATIONS", "operation_line_voltages_v", "line_pulse_energy_terms",
           "line_pulse_energy_terms_many"]

_HZO_TERMS = [
    "selected_conduction",
    "selected_switching",
    "half_selected_conduction",
    "half_selected_switching",
    "capacitive",
    "line_charging",
    "driver_conduction",
]
_MTJ_TERMS = ["selected_conduction", "half_selected_conduction", "capacitive", "line_charging", "driver_conduction"]

WRITE_TERM_PART = {
    "selected_conduction": "selected",
    "selected_switching": "selected",
    "half_selected_conduction": "half_selected",
    "half_selected_switching": "half_selected",
    "capacitive": "wires_drivers",
    "line_charging": "wires_drivers",
    "driver_conduction": "wires_drivers",
}
"""Where each write-energy term is dissipated: the selected cell, the half-selected (and other
unselected) cells, or the wires and drivers (line and cell charging, driver Joule loss)."""


def _runs(values, max_groups):
    """``(starts, sizes)`` of consecutive groups of ``values``: runs of equal values, each cut into at
    most ``max_groups`` nearly equal chunks (a group never mixes two line voltages)."""
    edges = np.flatnonzero(np.diff(values) != 0) + 1
    length = np.diff(np.r_[0, edges, len(values)])  # each run's length
    chunks = np.minimum(max_groups, length)
    run = np.repeat(np.arange(len(length)), chunks)
    index = np.arange(len(run)) - np.repeat(np.cumsum(chunks) - chunks, chunks)  # the chunk's place in its run
    sizes = length[run] // chunks[run] + (index < length[run] % chunks[run])  # numpy.array_split's sizes
    return np.cumsum(sizes) - sizes, sizes


def _fed_line_drops_v(cell_current_a, r_wire_ohm, lead_segment, axis=-1):
    """Voltage drops (V) along lines fed from index 0 of ``axis`` and the currents of their segments.

    ``cell_current_a``: the current each cell gives its line, positions along ``axis``. Segment
    ``k`` (``k = 1 .. n-1``, between positions ``k - 1`` and ``k``; with ``lead_segment`` also one
    before position 0) carries the currents of every position ``>= k``. Returns ``(drop, segment
    currents)``. (A scan along an outer axis runs vectorised over the inner ones; each element's
    additions are the same in any layout.)
    """
    axis %= cell_current_a.ndim
    beyond = np.flip(np.cumsum(np.flip(cell_current_a, axis), axis=axis), axis)  # k: positions >= k
    if lead_segment:
        return r_wire_ohm * np.cumsum(beyond, axis=axis), beyond
    segments = beyond[(slice(None),) * axis + (slice(1, None),)]
    zero = list(beyond.shape)
    zero[axis] = 1
    return r_wire_ohm * np.concatenate([np.zeros(zero), np.cumsum(segments, axis=axis)], axis=axis), segments


LOADED_LINE_GROUPS = 32
"""Largest number of line groups per run of equal line voltage in :func:`_conduction_terms`: lines
are solved position by position, cells in blocks of neighbouring lines (exact up to 32 lines per run)."""

_BATCH_CELLS = 1 << 18
"""Elements of the largest temporary of :func:`_conduction_terms_many`'s batched solve (pulses times
row groups times columns, or times rows times column groups): 2 MB an array."""


def _conduction_terms(current_of, v_rows, v_cols, r_driver_ohm, width_s, selected=None, r_wire_ohm=0.0, line_g_s=None):
    """Selected-cell and other-cell conduction energies and the lines' Joule loss, at the cells'
    voltages under the lines' drops.

    The decks' topology (:mod:`memcosim.netlist.crossbar`): each row is fed through its driver
    (``r_driver_ohm``) at column 0 and each column from below its last row through one more wire
    segment; every wire segment is ``r_wire_ohm``. The cells' DC voltages solve
    ``v = v_nominal - dV_row(I(v)) - dV_col(I(v))`` by damped fixed-point steps, where ``I`` is the
    conduction law ``current_of`` plus ``line_g_s * v`` (a per-cell conductance drawn on the lines
    but not counted as conduction: the HZO decks' switching element). Rows and columns are grouped
    (:data:`LOADED_LINE_GROUPS` per run of equal line voltage), so a 1024 x 1024 array costs what
    a 64 x 64 one does. ``selected``: boolean cell mask (uniform within each run) or None (cell (0, 0)).

    Returns
    -------
    (selected conduction J, other cells' conduction J, line Joule J: drivers and wires)
    """
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    many = _conduction_terms_many(current_of, v_rows[None], v_cols[None], r_driver_ohm, width_s,
                                  None if selected is None else np.asarray(selected)[None], r_wire_ohm, line_g_s)
    return tuple(float(x[0]) for x in many)


def _conduction_terms_many(current_of, v_rows, v_cols, r_driver_ohm, width_s, selected=None, r_wire_ohm=0.0, line_g_s=None):
    """:func:`_conduction_terms` of ``B`` pulses on one array: ``v_rows`` (B, rows), ``v_cols`` (B,
    cols), ``selected`` (B, rows, cols) or None; ``current_of`` and ``line_g_s`` elementwise.

    Pulses whose lines fall into the same groups are solved together, each with its own damped
    steps and stopping test, every element's arithmetic that of the one-pulse solve (the same
    numbers, a table of a thousand slot pulses in one pass instead of a thousand).

    Returns
    -------
    three ndarrays (B,): selected conduction J, other cells' conduction J, line Joule J
    """
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    out = np.zeros((3, len(v_rows)))
    structures, runs = {}, {}  # runs: each distinct line-voltage vector's groups, found once
    for b in range(len(v_rows)):
        rs, cs = (runs.get(line.tobytes()) or runs.setdefault(line.tobytes(), _runs(line, LOADED_LINE_GROUPS))
                  for line in (v_rows[b], v_cols[b]))
        key = (rs[0].tobytes(), rs[1].tobytes(), cs[0].tobytes(), cs[1].tobytes())
        structures.setdefault(key, (rs, cs, []))[2].append(b)
    for (row_start, row_size), (col_start, col_size), members in structures.values():
        chunk = max(1, _BATCH_CELLS // max(len(row_start) * v_cols.shape[1], v_rows.shape[1] * len(col_start)))
        for first in range(0, len(members), chunk):
            batch = np.asarray(members[first:first + chunk])
            sel = None if selected is None else np.asarray(selected)[batch]
            out[:, batch] = _solve_grouped(current_of, v_rows[batch], v_cols[batch], row_start, row_size, col_start,
                                           col_size, r_driver_ohm, width_s, sel, r_wire_ohm, line_g_s)
    return out[0], out[1], out[2]


def _per_cell(law, nominal):
    """``law`` (the line conductance of cells at their nominal voltages) over a batch of pulses, each
    pulse's values as ``law`` gives them alone: the HZO law matches voltage levels to within 1e-12 V
    (:func:`memcosim.netlist.crossbar.switching_conductances_s`), so pulses whose levels come within
    2e-12 V of one another's are evaluated one at a time."""
    levels = np.unique(np.round(nominal, 12))
    if len(levels) < 2 or float(np.min(np.diff(levels))) > 2e-12:
        return law(nominal)
    return np.stack([law(one) for one in nominal])


def _solve_grouped(current_of, v_rows, v_cols, row_start, row_size, col_start, col_size, r_driver_ohm, width_s, selected,
                   r_wire_ohm, line_g_s):
    """The fixed-point solve and energies of :func:`_conduction_terms_many` for pulses sharing one grouping."""
    nominal = v_rows[:, row_start][:, :, None] - v_cols[:, col_start][:, None, :]  # (B, row groups, col groups)
    weight = np.outer(row_size, col_size).astype(float)
    if selected is None:
        weight_sel = np.zeros_like(nominal)
        weight_sel[:, 0, 0] = 1.0  # cell (0, 0) alone (its row and column are runs of their own in every scheme)
    else:
        weight_sel = selected[:, row_start][:, :, col_start] * weight
    g_line = 0.0 if line_g_s is None else _per_cell(line_g_s, nominal)

    singles = bool((row_size == 1).all() and (col_size == 1).all())  # every line a group: nothing to spread or gather

    def line_state(v):
        i_cell = current_of(v) + g_line * v
        along_rows = i_cell if singles else np.repeat(i_cell, col_size, axis=2)  # (B, row groups, cols): each row's cells
        along_cols = i_cell if singles else np.repeat(i_cell, row_size, axis=1)  # (B, rows, col groups)
        row_total = along_rows.sum(axis=2)
        d_row, seg_row = _fed_line_drops_v(along_rows, r_wire_ohm, lead_segment=False, axis=2)
        d_col, seg_col = _fed_line_drops_v(along_cols[:, ::-1], r_wire_ohm, lead_segment=True, axis=1)  # fed from below
        if singles:  # a sum over one line is that line, a mean over one line too: the same numbers
            drop = r_driver_ohm * row_total[..., None] + d_row + d_col[:, ::-1]
        else:
            drop = (r_driver_ohm * row_total[..., None] + np.add.reduceat(d_row, col_start, axis=2) / col_size
                    + np.add.reduceat(d_col[:, ::-1], row_start, axis=1) / row_size[:, None])
        return drop, row_total, seg_row, seg_col

    n = len(nominal)
    v, relax, last = nominal.copy(), np.ones(n), np.full(n, np.inf)
    scale = np.max(np.abs(nominal), axis=(1, 2))
    scale[scale == 0] = 1.0
    moving = np.ones(n, dtype=bool)
    for _ in range(400):
        step = nominal - line_state(v)[0] - v
        size = np.max(np.abs(step), axis=(1, 2))
        moving &= ~(size <= 1e-10 * scale)
        if not moving.any():
            break
        relax[moving & (size > last)] *= 0.5  # the lines' loop gain is too high for this relaxation: smaller steps
        last[moving] = size[moving]
        v[moving] = v[moving] + relax[moving][:, None, None] * step[moving]
    else:
        raise SimulationError(f"line-loaded cell voltages did not converge ({v_rows.shape[1]} x {v_cols.shape[1]} array, "
                              f"r_wire_ohm={r_wire_ohm!r}, r_driver_ohm={r_driver_ohm!r}): last step "
                              f"{float(np.max(size[moving])):.3g} V")
    _, row_total, seg_row, seg_col = line_state(v)
    energy = conduction_energy_j(v, current_of(v), width_s)
    out = np.empty((3, n))
    for b in range(n):  # each pulse's sums as the one-pulse solve adds them
        chosen_j = float(np.sum(energy[b] * weight_sel[b]))
        lines_j = width_s * (r_driver_ohm * float(np.sum(row_size * row_total[b]**2))
                             + r_wire_ohm * (float(np.sum(row_size[:, None] * seg_row[b]**2))
                                             + float(np.sum(col_size[:, None] * seg_col[b].T**2))))  # (col groups, rows)
        out[:, b] = chosen_j, float(np.sum(energy[b] * weight)) - chosen_j, lines_j
    return out


def write_terms(kind):
    """Names of the write-energy basis terms of a device family."""
    return list(_HZO_TERMS if kind == "hzo" else _MTJ_TERMS)


def _line_charging(v_rows, v_cols, c_cell_f, c_wire_f, r_driver_ohm, r_wire_ohm, width_s):
    """:func:`line_charging_j` of the lines, remembered (the last 4096 line settings): it does not depend on
    the cells' state, so the states of an energy table share one evaluation per pulse."""
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    return _line_charging_of(v_rows.tobytes(), v_cols.tobytes(), float(c_cell_f), float(c_wire_f), float(r_driver_ohm),
                             float(r_wire_ohm), float(width_s))


@functools.lru_cache(maxsize=4096)
def _line_charging_of(v_rows, v_cols, c_cell_f, c_wire_f, r_driver_ohm, r_wire_ohm, width_s):
    return line_charging_j(np.frombuffer(v_rows), np.frombuffer(v_cols), c_cell_f, c_wire_f, r_driver_ohm, r_wire_ohm,
                           default_rise_s(width_s))


def _conductance_s(params, x0):
    """Read conductance (S) of an HZO cell at normalised state ``x0``."""
    return params.g_min_s + x0 * (params.g_max_s - params.g_min_s)


def _switching_g_s(params, g0_s, width_s):
    """The decks' switching element per cell (siemens) as a function of the cells' nominal voltages
    (:func:`memcosim.netlist.crossbar.switching_conductances_s` of cells at ``g0_s``)."""
    return lambda nominal_v: switching_conductances_s(g0_s, params, nominal_v, width_s)


def _switch_charge(params, amplitude_v, width_s, x0):
    """Charge (C) one pulse reverses at a cell starting in state ``x0``."""
    return float(pulse_switching_charge_c(_conductance_s(params, x0), params, amplitude_v, width_s))


def write_energy_basis(params, amplitude_v, width_s, x0, rows, cols, c_wire_f, scheme="v_half", r_driver_ohm=100.0,
                       r_wire_ohm=0.0):
    """Basis terms (joules) of one write pulse of an HZO or MTJ array, in the order of :func:`write_terms`.

    The selected cell is cell (0, 0); the lines are biased by :func:`memcosim.netlist.bias_levels`.
    """
    v = abs(amplitude_v)
    levels = bias_levels(scheme, v)
    v_half_selected = levels.unselected_row_v  # what a half-selected cell sees: V/2 or V/3
    v_rows, v_cols = levels.line_voltages_v(rows, cols, 0, 0)
    n_half = (rows - 1) + (cols - 1)
    n_wire = 2 * rows * cols
    if isinstance(params, mtj.MTJParams):
        sel, others, driver = _conduction_terms(mtj_energy.cell_current_of(params, x0), v_rows, v_cols, r_driver_ohm, width_s,
                                                r_wire_ohm=r_wire_ohm)
        return np.array(
            [sel, others, capacitive_energy_j(n_wire * c_wire_f, v),
             _line_charging(v_rows, v_cols, 0.0, c_wire_f, r_driver_ohm, r_wire_ohm, width_s), driver]
        )
    q_sel = _switch_charge(params, amplitude_v, width_s, x0)
    q_half = _switch_charge(params, np.sign(amplitude_v) * v_half_selected, width_s, x0)
    g0 = _conductance_s(params, x0)
    sel, others, driver = _conduction_terms(lambda vc: hzo.read_current_a(g0, vc, params), v_rows, v_cols, r_driver_ohm, width_s,
                                            r_wire_ohm=r_wire_ohm, line_g_s=_switching_g_s(params, g0, width_s))
    return np.array(
        [
            sel,
            switching_energy_j(v, q_sel),
            others,
            switching_energy_j(v_half_selected, q_half, n_half),
            capacitive_energy_j(params.capacitance_f + n_wire * c_wire_f, v),
            _line_charging(v_rows, v_cols, params.capacitance_f, c_wire_f, r_driver_ohm, r_wire_ohm, width_s),
            driver,
        ]
    )


def write_energy_terms(params, amplitude_v, width_s, x0, rows, cols, c_wire_f, scheme="v_half", r_driver_ohm=100.0,
                       r_wire_ohm=0.0):
    """:func:`write_energy_basis` by name: ``{term: joules}``."""
    kind = "mtj" if isinstance(params, mtj.MTJParams) else "hzo"
    basis = write_energy_basis(params, amplitude_v, width_s, x0, rows, cols, c_wire_f, scheme, r_driver_ohm, r_wire_ohm)
    return dict(zip(write_terms(kind), basis.tolist()))


OPERATIONS = ("cell", "row", "slot")
"""Write operations with a fitted energy model: one cell (serial), one row operation
(row-parallel: ``m`` columns pulsed at once), one slot of a parallel stochastic update
(``k`` rows at +V/2 and ``m`` columns at -V/2)."""


def operation_line_voltages_v(operation, amplitude_v, rows, cols, driven_rows=1, driven_cols=1, scheme="v_half"):
    """Nominal line voltages (volts) of a write operation on the first ``driven_rows`` rows and ``driven_cols`` columns."""
    if operation == "cell":
        return bias_levels(scheme, amplitude_v).line_voltages_v(rows, cols, 0, 0)
    if operation == "row":
        return row_operation_voltages_v(scheme, amplitude_v, rows, cols, 0, range(driven_cols))
    if operation == "slot":
        return stochastic_slot_voltages_v(amplitude_v, rows, cols, range(driven_rows), range(driven_cols))
    raise ConfigError(f"operation: allowed: {', '.join(OPERATIONS)}; got {operation!r}")


def line_pulse_energy_terms(params, v_rows, v_cols, width_s, x0, c_wire_f, r_driver_ohm, r_wire_ohm=0.0):
    """Basis terms (``{name: joules}``, names of :func:`write_terms`) of one pulse with line voltages ``v_rows``/``v_cols``.

    The selected cells are those at the full pulse (largest ``|v_row - v_col|``); every cell
    starts in normalised state ``x0``. Capacitive energy counts every cell and every wire
    segment at its line's voltage; line charging the rows through their drivers.
    """
    many = line_pulse_energy_terms_many(params, np.asarray(v_rows, dtype=float)[None], np.asarray(v_cols, dtype=float)[None],
                                        width_s, x0, c_wire_f, r_driver_ohm, r_wire_ohm)
    return {name: float(values[0]) for name, values in many.items()}


def line_pulse_energy_terms_many(params, v_rows, v_cols, width_s, x0, c_wire_f, r_driver_ohm, r_wire_ohm=0.0):
    """:func:`line_pulse_energy_terms` of ``B`` pulses on one array (``v_rows`` (B, rows), ``v_cols``
    (B, cols), volts): ``{name: ndarray (B,)}`` joules, each pulse's numbers those of the one-pulse call
    (their line voltages solved together: :func:`_conduction_terms_many`)."""
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    v_cell = v_rows[:, :, None] - v_cols[:, None, :]
    level = np.abs(v_cell)
    selected = level >= (1 - 1e-9) * level.max(axis=(1, 2))[:, None, None]
    n, rows, cols = v_cell.shape
    # every wire segment of a row (one per column) at the row's voltage, and of a column at the column's
    wire_energy = [float(np.sum(capacitive_energy_j(cols * c_wire_f, v_rows[b])))
                   + float(np.sum(capacitive_energy_j(rows * c_wire_f, v_cols[b]))) for b in range(n)]
    if isinstance(params, mtj.MTJParams):
        sel, others, driver = _conduction_terms_many(mtj_energy.cell_current_of(params, x0), v_rows, v_cols, r_driver_ohm,
                                                     width_s, selected, r_wire_ohm=r_wire_ohm)
        charging = [_line_charging(v_rows[b], v_cols[b], 0.0, c_wire_f, r_driver_ohm, r_wire_ohm, width_s) for b in range(n)]
        return dict(zip(_MTJ_TERMS, [sel, others, np.array(wire_energy), np.array(charging), driver]))
    g0 = _conductance_s(params, x0)
    sel, others, driver = _conduction_terms_many(lambda vc: hzo.read_current_a(g0, vc, params), v_rows, v_cols,
                                                 r_driver_ohm, width_s, selected, r_wire_ohm=r_wire_ohm,
                                                 line_g_s=_switching_g_s(params, g0, width_s))
    terms = np.empty((len(_HZO_TERMS), n))
    for b in range(n):
        cells, chosen = v_cell[b], selected[b]
        v = float(level[b].max())
        q_sel = _switch_charge(params, float(cells[chosen][0]), width_s, x0)
        disturb = 0.0
        for lv in np.unique(np.round(cells[~chosen], 12)):
            if abs(lv) > 1e-12:
                count = int(np.sum(np.isclose(cells[~chosen], lv, rtol=0, atol=1e-12)))
                disturb += switching_energy_j(lv, _switch_charge(params, float(lv), width_s, x0), count)
        terms[:, b] = [sel[b], switching_energy_j(v, q_sel) * int(chosen.sum()), others[b], float(disturb),
                       float(np.sum(capacitive_energy_j(params.capacitance_f, cells))) + wire_energy[b],
                       _line_charging(v_rows[b], v_cols[b], params.capacitance_f, c_wire_f, r_driver_ohm, r_wire_ohm, width_s),
                       driver[b]]
    return dict(zip(_HZO_TERMS, terms))


def read_energy_basis(conductance_s, input_v, read_width_s):
    """``t * sum_i V_i^2 sum_j g_ij``: the ideal DC energy of reads, joules (the read-energy law).

    Parameters
    ----------
    conductance_s : array (rows, cols)
        Cell conductances of the array (rows are driven, columns sensed), siemens.
    input_v : array (rows,) or (reads, rows)
        Row voltages of one read, or of several reads (summed), volts.
    read_width_s : float
        Duration of one read, seconds.

    Returns
    -------
    float or torch.Tensor
        A float for numpy inputs; a 0-d tensor on the inputs' device for torch tensors (no host
        synchronisation), so training can book reads without leaving the GPU.
    """
    if hasattr(conductance_s, "dim"):  # torch tensors
        return read_width_s * fixed_order_sum((input_v**2) @ conductance_s.sum(dim=1))  # any thread count
    g = np.asarray(conductance_s)
    v = np.asarray(input_v)
    return read_width_s * float(np.sum((v**2) @ g.sum(axis=1)))


def ir_drop_currents(conductance_s, input_v, r_wire_ohm, r_driver_ohm, a, b):
    """Column currents (A) of the first-order line-loading IR-drop model (module docstring)."""
    g = np.asarray(conductance_s)
    v = np.asarray(input_v, dtype=float)
    ideal = g * v[:, None]  # cell currents without IR-drop
    row_total = ideal.sum(axis=1)
    d_row = _fed_line_drops_v(ideal, r_wire_ohm, lead_segment=False)[0]
    # columns are fed from below their last row (the sense node) through one more segment
    d_col = _fed_line_drops_v(ideal.T[:, ::-1], r_wire_ohm, lead_segment=True)[0][:, ::-1].T
    v_cell = v[:, None] - a * r_driver_ohm * row_total[:, None] - b * (d_row + d_col)
    return (g * v_cell).sum(axis=0)
