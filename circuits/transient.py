"""Native transient engine for crossbar write pulses: the circuit of a pulse deck, integrated in time.

:func:`simulate_pulse` integrates the same circuit as :func:`memcosim.netlist.crossbar.write_deck`,
:func:`~memcosim.netlist.crossbar.row_operation_deck` and
:func:`~memcosim.netlist.crossbar.stochastic_slot_deck` (without access transistors): trapezoidal
row drivers ``PULSE(0 V 0 rise rise width)`` behind ``r_driver_ohm``, wire segments of
``r_wire_ohm`` with ``c_wire_f`` to ground at every node, column drivers at the columns' ends,
and the cells of :mod:`memcosim.circuits.pulse_cells` — the HZO write cell's conduction,
switching-charge conductance and dielectric capacitance, MTJ cells with their bias-dependent
TMR, or linear resistors — from the device functions the deck's elements restate.

Method: the trapezoidal rule, as ngspice's default, on the nodal equations
``d/dt (C v) + G v + i_cell(v) = s(t)``; each step is solved by Newton iterations whose linear
systems are the crossbar's two-layer system (:class:`~memcosim.circuits.crossbar_layers.CrossbarLayers`,
``O(R C)`` per sweep; its factorisation is kept while the step size holds and the iterations
converge, and refreshed with the cells' current slopes when they slow). The step is controlled by
the local truncation error (third divided difference of every node voltage), bounded by the
deck's ``.tran`` step (:func:`memcosim.netlist.crossbar.pulse_timing`), and lands on every
corner of the pulse. The energies are integrated at the time points exactly as the energy split
of an ngspice run is (:func:`memcosim.circuits.energy_split.split_from_powers`), so the two
engines' numbers mean the same thing.
"""

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from memcosim.base.errors import SimulationError
from memcosim.base.memory import check_memory
from memcosim.circuits import crossbar_layers
from memcosim.circuits.crossbar_layers import CrossbarLayers
from memcosim.circuits.energy_split import dissipated_power_w, selected_cells, split_from_powers, stored_cell_energy_j
from memcosim.circuits.pulse_cells import pulse_cells
from memcosim.netlist.crossbar import pulse_shape, pulse_timing

__all__ = ["PulseRun", "simulate_pulse", "estimate_bytes", "ENGINE_VERSION"]

log = logging.getLogger(__name__)

ENGINE_VERSION = 1
"""Version of the native transient engine; part of the cache key of every point it makes."""


@dataclass(frozen=True)
class PulseRun:
    """What one native transient run produced."""

    split: dict
    """Energy split, joules: the keys of :func:`memcosim.circuits.energy_split.line_pulse_energy_split`."""
    time_s: np.ndarray
    """Accepted time points, seconds."""
    steps: int
    """Accepted steps."""
    rejected: int
    """Steps rejected by the truncation-error test or by Newton, and retried smaller."""
    newton_iterations: int
    sweeps: int
    """Sweeps of the two-layer solver, all steps together."""
    factorisations: int
    """Two-layer factorisations (a new step size, or the cells' slopes refreshed)."""
    elapsed_s: float
    vectors: dict = field(default=None, repr=False)
    """With ``keep_waveforms``: every waveform under ngspice's names (``time``, ``r{i}_{j}``,
    ``c{i}_{j}``, ``in{i}``, ``out{j}``, ``vrow{i}#branch``, ``vcol{j}#branch``)."""


def estimate_bytes(rows, cols, keep_waveforms=False, points=1000):
    """Peak memory (bytes) of :func:`simulate_pulse` on a ``rows x cols`` array. O(1).

    The two-layer solver (:func:`memcosim.circuits.crossbar_layers.estimate_bytes`), about 30
    arrays of ``rows x cols`` floats for the state, its history and the step's temporaries, and
    with ``keep_waveforms`` two node voltages per cell per time point (``points``).
    """
    waves = 2 * 8 * rows * cols * points if keep_waveforms else 0
    return crossbar_layers.estimate_bytes(rows, cols) + 30 * 8 * rows * cols + waves + 20e6


class _Circuit:
    """The nodal equations of a pulse deck without access transistors (row-major ``(R, C)`` arrays)."""

    def __init__(self, spec, v_rows, v_cols, width_s, rise_s):
        self.spec = spec
        self.rows, self.cols = spec.rows, spec.cols
        self.v_rows, self.v_cols = np.asarray(v_rows, float), np.asarray(v_cols, float)
        self.width_s, self.rise_s = width_s, rise_s
        self.g_wire = 1.0 / spec.r_wire_ohm
        self.g_driver = 1.0 / spec.r_driver_ohm
        self.c_wire = spec.c_wire_f
        self.cells = pulse_cells(spec, self.v_rows[:, None] - self.v_cols[None, :], width_s)
        self.c_cell = self.cells.capacitance_f
        self.selected = selected_cells(self.v_rows, self.v_cols)

    def drives(self, t):
        """Row source and column driver voltages at ``t`` (volts)."""
        p = float(pulse_shape(t, self.width_s, self.rise_s))
        return self.v_rows * p, self.v_cols * p

    def static_currents(self, vr, vc, t):
        """Currents leaving each node through wires, drivers and cells (capacitors excluded), amperes."""
        v_in, v_out = self.drives(t)
        gw = self.g_wire
        i_cell = self.cells.current_a(vr - vc)
        fr = i_cell.copy()
        seg = gw * (vr[:, :-1] - vr[:, 1:])
        fr[:, :-1] += seg
        fr[:, 1:] -= seg
        fr[:, 0] += self.g_driver * (vr[:, 0] - v_in)
        fc = -i_cell
        seg = gw * (vc[:-1] - vc[1:])
        fc[:-1] += seg
        fc[1:] -= seg
        fc[-1] += gw * (vc[-1] - v_out)
        return fr, fc

    def charges(self, vr, vc):
        """Capacitor charge seen from each node (wire C to ground, cell C between the layers), coulombs."""
        q_cell = self.c_cell * (vr - vc)
        return self.c_wire * vr + q_cell, self.c_wire * vc - q_cell

    def source_power_w(self, vr, vc, t):
        """Power the supplies deliver at ``t`` (watts)."""
        v_in, v_out = self.drives(t)
        rows = float(np.dot(v_in, self.g_driver * (v_in - vr[:, 0])))
        cols = float(np.dot(v_out, self.g_wire * (v_out - vc[-1])))
        return rows + cols

    def powers(self, vr, vc, t):
        v_in, v_out = self.drives(t)
        p = dissipated_power_w(self.spec, self.cells, self.selected, vr[..., None], vc[..., None], v_in[:, None],
                               v_out[:, None])
        return {k: float(v[0]) for k, v in p.items()}


class _Stepper:
    """Trapezoidal steps with Newton iterations on the two-layer system."""

    def __init__(self, circuit, newton_tol_v, max_newton):
        self.c = circuit
        # factorisations kept by step size (the sizes come from a ladder and recur): all of a
        # small array's, a few of a large one's (each about 15 arrays of rows x cols)
        self._keep = int(min(64, max(4, 2e7 / (circuit.rows * circuit.cols))))
        self.newton_tol_v, self.max_newton = newton_tol_v, max_newton
        self.solvers = {}
        self.factorisations = self.sweeps = self.newton_iterations = 0

    def _factorise(self, alpha, vr, vc):
        c = self.c
        coupling = alpha * c.c_cell + c.cells.slope_s(vr - vc)
        shunt = np.full((c.rows, c.cols), alpha * c.c_wire)
        solver = CrossbarLayers(np.maximum(coupling, 1e-30), c.g_wire, c.g_driver, shunt, shunt)
        self.solvers.pop(alpha, None)
        self.solvers[alpha] = solver
        while len(self.solvers) > self._keep:
            self.solvers.pop(next(iter(self.solvers)))
        self.factorisations += 1
        return solver

    def step(self, state, t1, h, guess, order):
        """Newton on the step from ``state`` = (t0, vr, vc, fr, fc, qr, qc) to ``t1``: the
        trapezoidal rule (``order`` 2) or backward Euler (``order`` 1, the first step after a
        corner of the pulse: it damps the stiff cell-capacitor modes the corner excites, which the
        trapezoidal rule would leave ringing, as ngspice does).

        Returns ``(vr, vc)`` or None when Newton does not converge.
        """
        _, vr0, vc0, fr0, fc0, qr0, qc0 = state
        alpha = (2.0 if order == 2 else 1.0) / h
        vr, vc = guess
        solver = self.solvers.get(alpha) or self._factorise(alpha, vr, vc)
        refreshed = False
        previous = first = math.inf
        for iteration in range(self.max_newton):
            fr, fc = self.c.static_currents(vr, vc, t1)
            qr, qc = self.c.charges(vr, vc)
            rr = alpha * (qr - qr0) + fr
            rc = alpha * (qc - qc0) + fc
            if order == 2:
                rr += fr0
                rc += fc0
            norm = math.sqrt(float(np.square(rr).sum() + np.square(rc).sum()))
            if iteration == 0:
                first = norm
            elif norm <= _RESIDUAL_DROP * first:  # the equations hold to 1e-7 of where Newton started: no solve
                return vr, vc
            dr, dc, sweeps = solver.solve(-rr, -rc, col_guess_v=np.zeros_like(vc), rtol=1e-10)
            self.sweeps += sweeps
            self.newton_iterations += 1
            vr, vc = vr + dr, vc + dc
            change = max(float(np.max(np.abs(dr))), float(np.max(np.abs(dc))))
            if not math.isfinite(change):
                return None
            if change <= self.newton_tol_v:
                return vr, vc
            if change > 0.3 * previous and not refreshed:  # slow contraction: the slopes moved
                solver = self._factorise(alpha, vr, vc)
                refreshed = True
            previous = change
        return None


_RESIDUAL_DROP = 1e-7
"""Newton stops, without another solve, when the step's residual has fallen to this fraction of
its first value (the next update would be as much smaller as the linear solves' tolerance)."""


def _ladder(h, h_max):
    """``h`` rounded down to ``h_max 2^(-k/4)``: step sizes recur, and so do their factorisations."""
    if h >= h_max:
        return h_max
    return h_max * 2.0 ** (-math.ceil(-4 * math.log2(h / h_max)) / 4)


def _third_difference(history):
    """Third divided difference of the node voltages over four time points ``[(t, vr, vc), ...]``."""
    t = [p[0] for p in history]
    out = []
    for layer in (1, 2):
        v = [p[layer] for p in history]
        d1 = [(v[k + 1] - v[k]) / (t[k + 1] - t[k]) for k in range(3)]
        d2 = [(d1[k + 1] - d1[k]) / (t[k + 2] - t[k]) for k in range(2)]
        out.append((d2[1] - d2[0]) / (t[3] - t[0]))
    return out


def simulate_pulse(spec, v_rows, v_cols, width_s, rise_s=None, keep_waveforms=False, lte_tol_v=2e-5, lte_rel=1e-4,
                   newton_tol_v=1e-7, max_newton=12, max_steps=200000):
    """Integrate one write pulse of a crossbar natively.

    Parameters
    ----------
    spec : CrossbarSpec
        The array (``r_wire_ohm`` and ``r_driver_ohm`` > 0; no access transistors).
    v_rows, v_cols : ndarray
        Pulse amplitude of each row driver and each column driver, volts (the nominal line
        voltages of :mod:`memcosim.netlist.bias`).
    width_s : float
        Flat top of the pulse, seconds.
    rise_s : float, optional
        Rise and fall time (default :func:`memcosim.netlist.crossbar.default_rise_s`).
    keep_waveforms : bool
        Keep every node voltage at every time point (:attr:`PulseRun.vectors`; memory!).
    lte_tol_v, lte_rel : float
        Local truncation error allowed per step: ``lte_tol_v + lte_rel |v|`` volts.
    newton_tol_v : float
        Newton stops when no node moves more than this (volts).

    Returns
    -------
    PulseRun

    Raises
    ------
    SimulationError
        A circuit the engine does not model (access transistors, ideal wires or drivers), a step
        that cannot be taken, or a result that is not finite.
    ConfigError
        The estimated memory is over the budget (:func:`estimate_bytes`).
    """
    if spec.access is not None:
        raise SimulationError("native transient: access transistors are not modelled natively; use "
                              "circuit.transient_engine = 'ngspice'")
    if not (spec.r_wire_ohm > 0 and spec.r_driver_ohm > 0):
        raise SimulationError(f"native transient: needs r_wire_ohm > 0 and r_driver_ohm > 0, got {spec.r_wire_ohm!r} and "
                              f"{spec.r_driver_ohm!r}; use circuit.transient_engine = 'ngspice'")
    if not (math.isfinite(width_s) and width_s > 0):
        raise SimulationError(f"width_s: must be > 0 seconds, got {width_s!r}")
    v_rows, v_cols = np.asarray(v_rows, float), np.asarray(v_cols, float)
    if v_rows.shape != (spec.rows,) or v_cols.shape != (spec.cols,):
        raise SimulationError(f"v_rows, v_cols: need shapes ({spec.rows},) and ({spec.cols},), got {v_rows.shape} and "
                              f"{v_cols.shape}")
    rise, stop, h_max = pulse_timing(width_s, rise_s)
    check_memory(estimate_bytes(spec.rows, spec.cols, keep_waveforms, int(4 * stop / h_max)),
                 f"native transient of a {spec.rows} x {spec.cols} array", "use a smaller array")
    t_start = time.perf_counter()
    circuit = _Circuit(spec, v_rows, v_cols, width_s, rise)
    stepper = _Stepper(circuit, newton_tol_v, max_newton)
    breakpoints = [rise, rise + width_s, stop]
    vr = np.zeros((spec.rows, spec.cols))
    vc = np.zeros((spec.rows, spec.cols))
    t = 0.0

    def record(t, vr, vc):
        times.append(t)
        p = circuit.powers(vr, vc, t)
        for key, value in p.items():
            powers[key].append(value)
        source_w.append(circuit.source_power_w(vr, vc, t))
        if keep_waveforms:
            waves.append((vr.copy(), vc.copy()))

    times, source_w, waves = [], [], []
    powers = {"selected_w": [], "others_w": [], "wires_w": [], "drivers_w": []}
    record(t, vr, vc)
    fr, fc = circuit.static_currents(vr, vc, t)
    qr, qc = circuit.charges(vr, vc)
    state = (t, vr, vc, fr, fc, qr, qc)
    history = [(t, vr, vc)]
    steps = rejected = 0
    h = h_max / 128  # each segment starts small (ngspice: tstep / 100) and grows by the error test
    for bp in breakpoints:
        while t < bp * (1 - 1e-12):
            if steps + rejected >= max_steps:
                raise SimulationError(f"native transient: more than {max_steps} steps")
            h = min(h, h_max, bp - t)
            if bp - (t + h) < 1e-3 * h:  # do not leave a sliver before the corner
                h = bp - t
            t1 = bp if math.isclose(t + h, bp, rel_tol=1e-12) else t + h
            if len(history) >= 2:  # linear extrapolation as Newton's start
                (ta, ra, ca), (tb, rb, cb) = history[-2], history[-1]
                w = (t1 - tb) / (tb - ta)
                guess = (rb + w * (rb - ra), cb + w * (cb - ca))
            else:
                guess = (vr, vc)
            order = 1 if len(history) == 1 else 2
            new = stepper.step(state, t1, t1 - t, guess, order)
            if new is None:
                rejected += 1
                h = _ladder(0.25 * (t1 - t), h_max)
                if h < 1e-9 * h_max:
                    raise SimulationError(f"native transient: Newton does not converge at t = {t:.4g} s")
                continue
            factor = 2.0
            if len(history) >= 3:
                d3r, d3c = _third_difference(history[-3:] + [(t1, *new)])
                hh = t1 - t
                lte = max(float(np.max(np.abs(d3r) / (lte_tol_v + lte_rel * np.abs(new[0])))),
                          float(np.max(np.abs(d3c) / (lte_tol_v + lte_rel * np.abs(new[1]))))) * hh**3 / 2
                if lte > 1.0 and hh > 1e-6 * h_max:
                    rejected += 1
                    h = _ladder(hh * max(0.2, 0.8 * lte ** (-1 / 3)), h_max)
                    continue
                factor = min(2.0, max(0.5, 0.8 * lte ** (-1 / 3))) if lte > 0 else 2.0
            vr, vc = new
            h = _ladder((t1 - t) * factor, h_max)
            t = t1
            fr, fc = circuit.static_currents(vr, vc, t)
            qr, qc = circuit.charges(vr, vc)
            state = (t, vr, vc, fr, fc, qr, qc)
            history = (history + [(t, vr, vc)])[-3:]
            record(t, vr, vc)
            steps += 1
        # a corner of the pulse: derivatives jump, so the error estimate restarts from it
        history = [(t, vr, vc)]
        h = h_max / 128
    t_arr = np.array(times)
    power_arrays = {k: np.array(v) for k, v in powers.items()}
    stored = stored_cell_energy_j(circuit.cells, circuit.selected, np.zeros_like(vr), vr - vc)
    split = split_from_powers(t_arr, power_arrays, stored, float(np.trapezoid(np.array(source_w), t_arr)))
    if not all(math.isfinite(v) for v in split.values()):
        raise SimulationError("native transient: an energy is not finite")
    vectors = _vectors(circuit, t_arr, waves) if keep_waveforms else None
    elapsed = time.perf_counter() - t_start
    log.debug("native transient %dx%d: %d steps (%d rejected), %d Newton, %d sweeps, %d factorisations, %.2f s",
              spec.rows, spec.cols, steps, rejected, stepper.newton_iterations, stepper.sweeps, stepper.factorisations, elapsed)
    return PulseRun(split, t_arr, steps, rejected, stepper.newton_iterations, stepper.sweeps, stepper.factorisations,
                    elapsed, vectors)


def _vectors(circuit, t, waves):
    """The kept waveforms under ngspice's vector names."""
    rows, cols = circuit.rows, circuit.cols
    vr = np.stack([w[0] for w in waves], axis=-1)
    vc = np.stack([w[1] for w in waves], axis=-1)
    p = pulse_shape(t, circuit.width_s, circuit.rise_s)
    v_in = circuit.v_rows[:, None] * p
    v_out = circuit.v_cols[:, None] * p
    vectors = {"time": t}
    for i in range(rows):
        vectors[f"in{i}"] = v_in[i]
        vectors[f"vrow{i}#branch"] = -circuit.g_driver * (v_in[i] - vr[i, 0])
        for j in range(cols):
            vectors[f"r{i}_{j}"] = vr[i, j]
            vectors[f"c{i}_{j}"] = vc[i, j]
    for j in range(cols):
        vectors[f"out{j}"] = v_out[j]
        vectors[f"vcol{j}#branch"] = -circuit.g_wire * (v_out[j] - vc[-1, j])
    return vectors
