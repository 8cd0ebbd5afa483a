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
  (:func:`memcosim.circuits.line_loading.conduction_terms`: every cell's current, the HZO decks' switching element included,
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
from memcosim.devices.pulse_energy import capacitive_energy_j, switching_energy_j
from memcosim.base.errors import ConfigError
from memcosim.base.reproducible import fixed_order_sum
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.circuits import line_loading
from memcosim.circuits.line_charging import line_charging_j
from memcosim.netlist.crossbar import default_rise_s
from memcosim.netlist.hzo_cells import switching_conductances_s

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
    (:func:`memcosim.netlist.hzo_cells.switching_conductances_s` of cells at ``g0_s``)."""
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
        sel, others, driver = line_loading.conduction_terms(mtj_energy.cell_current_of(params, x0), v_rows, v_cols,
                                                            r_driver_ohm, width_s, r_wire_ohm=r_wire_ohm)
        return np.array(
            [sel, others, capacitive_energy_j(n_wire * c_wire_f, v),
             _line_charging(v_rows, v_cols, 0.0, c_wire_f, r_driver_ohm, r_wire_ohm, width_s), driver]
        )
    q_sel = _switch_charge(params, amplitude_v, width_s, x0)
    q_half = _switch_charge(params, np.sign(amplitude_v) * v_half_selected, width_s, x0)
    g0 = _conductance_s(params, x0)
    sel, others, driver = line_loading.conduction_terms(lambda vc: hzo.read_current_a(g0, vc, params), v_rows, v_cols,
                                                        r_driver_ohm, width_s, r_wire_ohm=r_wire_ohm,
                                                        line_g_s=_switching_g_s(params, g0, width_s))
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
    (their line voltages solved together: :func:`memcosim.circuits.line_loading.conduction_terms_many`)."""
    v_rows, v_cols = np.asarray(v_rows, dtype=float), np.asarray(v_cols, dtype=float)
    v_cell = v_rows[:, :, None] - v_cols[:, None, :]
    level = np.abs(v_cell)
    selected = level >= (1 - 1e-9) * level.max(axis=(1, 2))[:, None, None]
    n, rows, cols = v_cell.shape
    # every wire segment of a row (one per column) at the row's voltage, and of a column at the column's
    wire_energy = [float(np.sum(capacitive_energy_j(cols * c_wire_f, v_rows[b])))
                   + float(np.sum(capacitive_energy_j(rows * c_wire_f, v_cols[b]))) for b in range(n)]
    if isinstance(params, mtj.MTJParams):
        sel, others, driver = line_loading.conduction_terms_many(mtj_energy.cell_current_of(params, x0), v_rows, v_cols,
                                                                 r_driver_ohm, width_s, selected, r_wire_ohm=r_wire_ohm)
        charging = [_line_charging(v_rows[b], v_cols[b], 0.0, c_wire_f, r_driver_ohm, r_wire_ohm, width_s) for b in range(n)]
        return dict(zip(_MTJ_TERMS, [sel, others, np.array(wire_energy), np.array(charging), driver]))
    g0 = _conductance_s(params, x0)
    sel, others, driver = line_loading.conduction_terms_many(lambda vc: hzo.read_current_a(g0, vc, params), v_rows, v_cols,
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
    d_row = line_loading.fed_line_drops_v(ideal, r_wire_ohm, lead_segment=False)[0]
    # columns are fed from below their last row (the sense node) through one more segment
    d_col = line_loading.fed_line_drops_v(ideal.T[:, ::-1], r_wire_ohm, lead_segment=True)[0][:, ::-1].T
    v_cell = v[:, None] - a * r_driver_ohm * row_total[:, None] - b * (d_row + d_col)
    return (g * v_cell).sum(axis=0)
