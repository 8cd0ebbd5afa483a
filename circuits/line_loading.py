"""The cells' DC voltages of a write pulse under its lines' drops, and the conduction energies at them.

The decks' topology (:mod:`memcosim.netlist.crossbar`): each row is fed through its driver at
column 0 and each column from below its last row; every wire segment is one resistance. Cells
load their lines, the lines' drops lower the cells' voltages: :func:`conduction_terms` solves that
fixed point for one pulse, :func:`conduction_terms_many` for many pulses at once (each with its own
stopping test, the same numbers); the write-energy models' conduction and Joule terms
(:mod:`memcosim.circuits.energy_models`) come from it.
"""

import numpy as np

from memcosim.base.errors import SimulationError
from memcosim.devices.pulse_energy import conduction_energy_j

__all__ = ["conduction_terms", "conduction_terms_many", "fed_line_drops_v", "LOADED_LINE_GROUPS"]


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


def fed_line_drops_v(cell_current_a, r_wire_ohm, lead_segment, axis=-1):
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
"""Largest number of line groups per run of equal line voltage in :func:`conduction_terms`: lines
are solved position by position, cells in blocks of neighbouring lines (exact up to 32 lines per run)."""

_BATCH_CELLS = 1 << 18
"""Elements of the largest temporary of :func:`conduction_terms_many`'s batched solve (pulses times
row groups times columns, or times rows times column groups): 2 MB an array."""


def conduction_terms(current_of, v_rows, v_cols, r_driver_ohm, width_s, selected=None, r_wire_ohm=0.0, line_g_s=None):
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
    many = conduction_terms_many(current_of, v_rows[None], v_cols[None], r_driver_ohm, width_s,
                                 None if selected is None else np.asarray(selected)[None], r_wire_ohm, line_g_s)
    return tuple(float(x[0]) for x in many)


def conduction_terms_many(current_of, v_rows, v_cols, r_driver_ohm, width_s, selected=None, r_wire_ohm=0.0, line_g_s=None):
    """:func:`conduction_terms` of ``B`` pulses on one array: ``v_rows`` (B, rows), ``v_cols`` (B,
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

    def groups(line):
        key = line.tobytes()
        if key not in runs:
            runs[key] = _runs(line, LOADED_LINE_GROUPS)
        return runs[key]

    for b in range(len(v_rows)):
        rs, cs = groups(v_rows[b]), groups(v_cols[b])
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
    (:func:`memcosim.netlist.hzo_cells.switching_conductances_s`), so pulses whose levels come within
    2e-12 V of one another's are evaluated one at a time."""
    levels = np.unique(np.round(nominal, 12))
    if len(levels) < 2 or float(np.min(np.diff(levels))) > 2e-12:
        return law(nominal)
    return np.stack([law(one) for one in nominal])


def _solve_grouped(current_of, v_rows, v_cols, row_start, row_size, col_start, col_size, r_driver_ohm, width_s, selected,
                   r_wire_ohm, line_g_s):
    """The fixed-point solve and energies of :func:`conduction_terms_many` for pulses sharing one grouping."""
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
        d_row, seg_row = fed_line_drops_v(along_rows, r_wire_ohm, lead_segment=False, axis=2)
        d_col, seg_col = fed_line_drops_v(along_cols[:, ::-1], r_wire_ohm, lead_segment=True, axis=1)  # fed from below
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
