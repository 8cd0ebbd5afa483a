"""SPICE decks of the tile periphery: line drivers, the column read front end and a latch comparator.

Three blocks, each a pure function of frozen specs that returns deck text (same inputs, same
bytes; every deck passes :func:`memcosim.netlist.topology.check_topology`):

* :func:`driver_deck` — a row/column pulse driver: a CMOS inverter chain tapered by ``taper``
  (:func:`driver_chain`) driving a line (resistance and capacitance as an ``segments``-section RC
  ladder) with one pulse; measures the energy drawn from the supplies and the 50 % delay to the
  far end of the line.
* :func:`integrator_deck` / :func:`sense_resistor_deck` — the read front end of one column: a
  virtual-ground integrator (behavioural single-pole op-amp, :class:`OpAmp`) integrating the
  column current onto a feedback capacitor for the read time, or a sense resistor to ground with
  a buffer; measures the supply energy and the settling time of the column.
* :func:`comparator_deck` — a clocked StrongARM latch comparator (level-1 MOSFETs) with a CMOS
  clock buffer; measures the supply energy of one decision (evaluation and precharge) and the
  decision time.

Transistors are ngspice level-1 MOSFETs of one :class:`~memcosim.netlist.cmos.CmosProcess`
(the process, op-amp and driver sizing live in :mod:`memcosim.netlist.cmos`, re-exported here). Their capacitances are
explicit linear capacitors to ground (gate: ``c_gate_f_per_m * W`` on the gate node, drain and
source: ``c_drain_f_per_m * W`` on those nodes unless they are a supply or ground), so the
switched capacitance of a deck is known in closed form (:meth:`DriverChain.switched_c_f`).
"""

import math
from collections import defaultdict

from memcosim.base.errors import NetlistError
from memcosim.netlist.cmos import CmosProcess, DriverChain, OpAmp, _positive, driver_chain
from memcosim.netlist.deck import Deck, safe_text, spice_number
from memcosim.netlist.topology import check_topology

__all__ = [
    "CmosProcess",
    "OpAmp",
    "DriverChain",
    "driver_chain",
    "driver_deck",
    "default_driver_width_s",
    "integrator_feedback_c_f",
    "integrator_deck",
    "sense_resistor_deck",
    "COMPARATOR_WIDTHS",
    "comparator_clock_c_f",
    "comparator_deck",
]


def _models(deck, process):
    p = process
    deck.raw(f".model {p.nmos} nmos level=1 vto={spice_number(p.vth_n_v)} kp={spice_number(p.kp_n_a_per_v2)} "
             f"lambda={spice_number(p.lambda_per_v)}")
    deck.raw(f".model {p.pmos} pmos level=1 vto={spice_number(p.vth_p_v)} kp={spice_number(p.kp_p_a_per_v2)} "
             f"lambda={spice_number(p.lambda_per_v)}")


class _Transistors:
    """MOSFET cards plus the node capacitances they imply (rendered once, after the devices)."""

    def __init__(self, deck, process, rails):
        self.deck, self.process, self.rails = deck, process, set(rails) | {"0"}
        self.node_c_f = defaultdict(float)

    def add(self, name, drain, gate, source, kind, width_units):
        p = self.process
        w = width_units * p.w_min_m
        model, bulk = (p.nmos, "0") if kind == "n" else (p.pmos, source if source in self.rails else "0")
        self.deck.add(name, [drain, gate, source, bulk], f"{model} W={spice_number(w)} L={spice_number(p.l_m)}")
        self.node_c_f[gate] += p.c_gate_f_per_m * w
        for node in (drain, source):
            self.node_c_f[node] += p.c_drain_f_per_m * w

    def inverter(self, tag, a, y, size, supply):
        self.add(f"MN{tag}", y, a, "0", "n", size)
        self.add(f"MP{tag}", y, a, supply, "p", size * self.process.p_to_n_ratio)

    def render_caps(self):
        self.deck.comment("device capacitances (gate and junction, linear, to ground)")
        for node, c in self.node_c_f.items():
            if node not in self.rails and c > 0:
                self.deck.add(f"CPAR_{node}", [node, "0"], c)


def _step(width, edge):
    """The timing half of a single ``PULSE``: no delay, ``edge`` rise and fall, ``width`` flat top (seconds)."""
    return f"0.0 {spice_number(edge)} {spice_number(edge)} {spice_number(width)} 1"


def _finish(deck):
    text = deck.render()
    check_topology(text)
    return text


def driver_deck(process, load_c_f, load_r_ohm, supply_v=None, width_s=None, taper=4.0, segments=4, edge_s=20e-12):
    """A transient deck of one pulse through a tapered driver onto a line (RC ladder).

    Nodes: input ``in`` (ideal pulse), stage outputs ``n1``..``n{N-1}``, driver output ``drv``,
    line nodes ``l1``..``l{segments}`` (far end ``l{segments}``; each section ``R/segments`` in
    series, ``C/segments`` to ground). The last stage has its own supply ``VDDL`` (node ``vddl``),
    the others ``VDDC`` (node ``vddc``), both at ``supply_v``. The input pulse is polarised so the
    line goes 0 -> V -> 0 (one full charge and discharge).

    Measurements (``.meas``): ``e_last_j`` and ``e_chain_j`` — energy drawn from ``VDDL`` and
    ``VDDC`` over the whole pulse, joules; ``tpd_s`` — input 50 % to far-end 50 % on the rising line.

    Parameters
    ----------
    process : CmosProcess
    load_c_f : float
        Line capacitance, farads (> 0).
    load_r_ohm : float
        Line resistance, ohms (>= 0; 0 puts the whole capacitance on ``drv``).
    supply_v : float, optional
        Driver supply and line swing, volts (default ``process.vdd_v``; at least
        :meth:`CmosProcess.min_supply_v`).
    width_s : float, optional
        Pulse width, seconds (default: 20 times the estimated delay, so the line charges fully).
    taper : float
        Stage ratio (:func:`driver_chain`).
    segments : int
        RC sections of the line (1 to 32).
    edge_s : float
        Rise and fall time of the input pulse, seconds.
    """
    chain = driver_chain(process, load_c_f, taper)
    _positive("load_r_ohm", load_r_ohm, allow_zero=True)
    v = process.vdd_v if supply_v is None else _positive("supply_v", supply_v)
    if v < process.min_supply_v():
        raise NetlistError(f"supply_v: must be >= {process.min_supply_v():g} V for {process.name} to switch, got {v!r}")
    if isinstance(segments, bool) or not isinstance(segments, int) or not 1 <= segments <= 32:
        raise NetlistError(f"segments: must be an integer from 1 to 32, got {segments!r}")
    _positive("edge_s", edge_s)
    width = default_driver_width_s(chain, load_r_ohm, v) if width_s is None else _positive("width_s", width_s)
    stop = 2 * edge_s + 2 * width
    deck = Deck(f"memcosim line driver {chain.n_stages} stage(s), load {load_c_f:.3g} F")
    deck.header(f"process={safe_text(process.name, 64)} supply_v={v!r} load_c_f={float(load_c_f)!r} "
                f"load_r_ohm={float(load_r_ohm)!r} taper={float(taper)!r} stages={chain.n_stages} width_s={width!r}")
    _models(deck, process)
    deck.add("VDDL", ["vddl", "0"], f"DC {spice_number(v)}")
    if chain.n_stages > 1:
        deck.add("VDDC", ["vddc", "0"], f"DC {spice_number(v)}")
    lo, hi = (spice_number(v), "0.0") if chain.inverting else ("0.0", spice_number(v))
    deck.add("VIN", ["in", "0"], f"PULSE({lo} {hi} {_step(width, edge_s)})")
    deck.comment("inverter chain (stage k: taper**k unit widths)")
    mos = _Transistors(deck, process, ["vddl", "vddc"])
    for k, size in enumerate(chain.sizes):
        a = "in" if k == 0 else f"n{k}"
        y = "drv" if k == chain.n_stages - 1 else f"n{k + 1}"
        mos.inverter(str(k), a, y, size, "vddl" if k == chain.n_stages - 1 else "vddc")
    mos.render_caps()
    deck.comment(f"line: {segments} RC section(s)" if load_r_ohm > 0 else "line: lumped capacitance (no resistance)")
    far = "drv"
    if load_r_ohm > 0:
        for s in range(segments):
            a, far = far, f"l{s + 1}"
            deck.add(f"RL{s + 1}", [a, far], load_r_ohm / segments)
            deck.add(f"CL{s + 1}", [far, "0"], load_c_f / segments)
    else:
        deck.add("CL1", ["drv", "0"], load_c_f)
    half = spice_number(v / 2)
    deck.analysis(f".tran {spice_number(stop / 2000)} {spice_number(stop)}")
    for name, node, what in (("VDDL", "vddl", "last"), ("VDDC", "vddc", "chain")):
        if name.lower() in deck.element_names:
            deck.analysis(f".meas tran e_{what}_j INTEG par('-v({node})*i({name})') from=0 to={spice_number(stop)}")
    edge = "FALL" if chain.inverting else "RISE"
    deck.analysis(f".meas tran tpd_s TRIG v(in) VAL={half} {edge}=1 TARG v({far}) VAL={half} RISE=1")
    return _finish(deck)


def default_driver_width_s(chain, load_r_ohm, supply_v):
    """A pulse width (seconds) that charges the line fully: 20 times an Elmore estimate of the
    delay (each stage's on-resistance times what it drives, plus the line's ``R C / 2``), at least 100 ps."""
    p = chain.process
    est = 0.0
    for k, size in enumerate(chain.sizes):
        load = chain.load_c_f if k == chain.n_stages - 1 else p.inverter_input_c_f(chain.sizes[k + 1])
        est += p.nmos_on_resistance_ohm(size, supply_v) * (load + p.inverter_drain_c_f(size))
    est += 0.5 * load_r_ohm * chain.load_c_f
    return max(20.0 * est, 100e-12)


def integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read):
    """Feedback capacitance (farads) that the column charge ``G V t`` swings by ``opamp.output_swing_v``."""
    return column_g_s * v_read * read_time_s / opamp.output_swing_v


def _column(deck, column_c_f, column_g_s, read_time_s, v_read, edge_s):
    """The column seen from its sense node: the read voltage through the column's total cell
    conductance onto ``col``, which carries the column capacitance."""
    _positive("column_c_f", column_c_f)
    _positive("column_g_s", column_g_s)
    _positive("read_time_s", read_time_s)
    _positive("v_read", v_read)
    _positive("edge_s", edge_s)
    deck.comment("column: read voltage through the summed cell conductance, column capacitance")
    deck.add("VRD", ["vr", "0"], f"PULSE(0.0 {spice_number(v_read)} {_step(read_time_s, edge_s)})")
    deck.add("RCOL", ["vr", "col"], 1.0 / column_g_s)
    deck.add("CCOL", ["col", "0"], column_c_f)


def _read_supply(deck, process, opamp, stop):
    """The front end's supply ``VDDA`` with the static bias current, the transient, and the
    ``e_supply_j`` / ``e_read_j`` energy measurements (joules) over ``stop`` seconds."""
    deck.add("VDDA", ["vdda", "0"], f"DC {spice_number(process.vdd_v)}")
    deck.add("IBIAS", ["vdda", "0"], f"DC {spice_number(opamp.bias_current_a)}")
    deck.analysis(f".tran {spice_number(stop / 2000)} {spice_number(stop)}")
    deck.analysis(f".meas tran e_supply_j INTEG par('-v(vdda)*i(VDDA)') from=0 to={spice_number(stop)}")
    deck.analysis(f".meas tran e_read_j INTEG par('-v(vr)*i(VRD)') from=0 to={spice_number(stop)}")


def integrator_deck(process, opamp, column_c_f, column_g_s, read_time_s, v_read, edge_s=10e-12):
    """A transient deck of one read through a virtual-ground integrator.

    The column (:func:`_column`) feeds the inverting input ``col`` of a single-pole op-amp
    (``EA`` gain ``dc_gain`` into an RC pole at ``gbw_hz / dc_gain``, ideal buffer ``EB`` through
    the 0 V ammeter ``VOUT`` to ``out``); ``CF`` (:func:`integrator_feedback_c_f`) from ``col``
    to ``out``. The supply ``VDDA`` (``process.vdd_v``) feeds the bias current and, through
    ``BOUT``, the output stage's ``|I_out|``.

    Measurements: ``e_supply_j`` (from ``VDDA``, joules), ``e_read_j`` (from the read source:
    the cells' read energy, counted by the array's read model, joules), ``i_end_a`` (the output
    current ``i(VOUT)`` at the end of the read, amperes; negative: it flows from ``out`` into the
    op-amp). The settling time is read from the ``vout#branch`` waveform
    (:func:`memcosim.circuits.peripheral_models.settling_time_s`).
    """
    c_f = integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read)
    stop = read_time_s + 2 * edge_s
    deck = Deck("memcosim column integrator read")
    deck.header(f"process={safe_text(process.name, 64)} column_c_f={float(column_c_f)!r} column_g_s={float(column_g_s)!r} "
                f"read_time_s={float(read_time_s)!r} v_read={float(v_read)!r} c_feedback_f={c_f!r} "
                f"dc_gain={opamp.dc_gain!r} gbw_hz={opamp.gbw_hz!r} bias_current_a={opamp.bias_current_a!r}")
    _column(deck, column_c_f, column_g_s, read_time_s, v_read, edge_s)
    r_pole = 1000.0
    deck.comment("op-amp: single-pole VCVS, class-B output from the supply, static bias")
    deck.add("EA", ["a", "0", "0", "col"], opamp.dc_gain)
    deck.add("RP", ["a", "p"], r_pole)
    deck.add("CP", ["p", "0"], opamp.dc_gain / (2 * math.pi * opamp.gbw_hz * r_pole))
    deck.add("EB", ["o", "0", "p", "0"], 1.0)
    deck.add("VOUT", ["o", "out"], "DC 0")
    deck.add("CF", ["col", "out"], c_f)
    deck.add("BOUT", ["vdda", "0"], "I={abs(i(VOUT))}")
    _read_supply(deck, process, opamp, stop)
    deck.analysis(f".meas tran i_end_a FIND i(VOUT) AT={spice_number(read_time_s)}")
    return _finish(deck)


def sense_resistor_deck(process, opamp, column_c_f, column_g_s, read_time_s, v_read, r_sense_ohm, edge_s=10e-12):
    """A transient deck of one read through a sense resistor ``RSNS`` from ``col`` to ground.

    The column voltage is buffered by an amplifier whose supply current is ``opamp.bias_current_a``
    (``VDDA``). Measurements: ``e_supply_j``, ``e_read_j`` (joules) and ``tset_s`` (when
    ``v(col)`` first reaches 99 % of its final value ``v_read R_s G / (1 + R_s G)``, seconds).
    """
    _positive("r_sense_ohm", r_sense_ohm)
    stop = read_time_s + 2 * edge_s
    deck = Deck("memcosim column sense-resistor read")
    deck.header(f"process={safe_text(process.name, 64)} column_c_f={float(column_c_f)!r} column_g_s={float(column_g_s)!r} "
                f"read_time_s={float(read_time_s)!r} v_read={float(v_read)!r} r_sense_ohm={float(r_sense_ohm)!r} "
                f"bias_current_a={opamp.bias_current_a!r}")
    _column(deck, column_c_f, column_g_s, read_time_s, v_read, edge_s)
    deck.add("RSNS", ["col", "0"], r_sense_ohm)
    _read_supply(deck, process, opamp, stop)
    final = v_read * r_sense_ohm * column_g_s / (1 + r_sense_ohm * column_g_s)
    deck.analysis(f".meas tran tset_s WHEN v(col)={spice_number(0.99 * final)} RISE=1")
    return _finish(deck)


COMPARATOR_WIDTHS = {"tail": 8.0, "input": 8.0, "latch_n": 4.0, "latch_p": 4.0, "precharge": 2.0}
"""Transistor widths of the StrongARM latch in unit widths (``process.w_min_m``)."""


def comparator_clock_c_f(process):
    """Gate capacitance on the comparator's clock node (tail and four precharge devices), farads."""
    w = COMPARATOR_WIDTHS
    return process.c_gate_f_per_m * process.w_min_m * (w["tail"] + 4 * w["precharge"])


def comparator_deck(process, load_c_f, delta_v, v_cm_v=None, period_s=2e-9, edge_s=20e-12):
    """A transient deck of one decision of a StrongARM latch comparator.

    Clock ``clk`` (from an inverter ``CLKB`` sized for fan-out 4, driven by the ideal ``VCK`` at
    ``ckb``) is low for a quarter period (precharge), high for half (evaluation), low again
    (precharge). Tail ``M0``; input pair ``M1``/``M2`` (gates ``inp``/``inn``, drains ``x``/``y``);
    cross-coupled ``M3``-``M6`` to outputs ``outn``/``outp`` (``load_c_f`` each); precharge
    PMOS ``M7``-``M10`` on ``outp``, ``outn``, ``x``, ``y``. All from ``VDD``.

    Measurements: ``e_supply_j`` (from ``VDD`` over the whole period: clock buffer, evaluation
    and precharge, joules) and ``tdec_s`` (clock 50 % to ``|v(outp) - v(outn)| = vdd / 2``, seconds).

    Parameters
    ----------
    process : CmosProcess
    load_c_f : float
        Capacitance on each output, farads (>= 0).
    delta_v : float
        Input difference ``v(inp) - v(inn)``, volts (non-zero).
    v_cm_v : float, optional
        Input common mode, volts (default ``0.7 * vdd_v``).
    period_s, edge_s : float
        Clock period and edge time, seconds.
    """
    _positive("load_c_f", load_c_f, allow_zero=True)
    if not (isinstance(delta_v, (int, float)) and math.isfinite(delta_v) and delta_v != 0):
        raise NetlistError(f"delta_v: must be a finite non-zero voltage, got {delta_v!r}")
    _positive("period_s", period_s)
    _positive("edge_s", edge_s)
    v = process.vdd_v
    cm = 0.7 * v if v_cm_v is None else _positive("v_cm_v", v_cm_v)
    if abs(delta_v) / 2 >= min(cm, v - cm) or cm >= v:
        raise NetlistError(f"delta_v: inputs {cm!r} +- {abs(delta_v) / 2!r} V must lie inside 0..{v!r} V")
    w = COMPARATOR_WIDTHS
    deck = Deck("memcosim StrongARM latch comparator decision")
    deck.header(f"process={safe_text(process.name, 64)} load_c_f={float(load_c_f)!r} delta_v={float(delta_v)!r} "
                f"v_cm_v={cm!r} period_s={float(period_s)!r}")
    _models(deck, process)
    deck.add("VDD", ["vdd", "0"], f"DC {spice_number(v)}")
    deck.add("VINP", ["inp", "0"], f"DC {spice_number(cm + delta_v / 2)}")
    deck.add("VINN", ["inn", "0"], f"DC {spice_number(cm - delta_v / 2)}")
    quarter = period_s / 4
    deck.add("VCK", ["ckb", "0"], f"PULSE({spice_number(v)} 0.0 {spice_number(quarter)} {spice_number(edge_s)} "
                                  f"{spice_number(edge_s)} {spice_number(2 * quarter - edge_s)} 1)")
    mos = _Transistors(deck, process, ["vdd"])
    clock_size = comparator_clock_c_f(process) / process.inverter_input_c_f(1.0) / 4.0
    mos.inverter("CLK", "ckb", "clk", clock_size, "vdd")
    mos.add("M0", "tail", "clk", "0", "n", w["tail"])
    mos.add("M1", "x", "inp", "tail", "n", w["input"])
    mos.add("M2", "y", "inn", "tail", "n", w["input"])
    mos.add("M3", "outn", "outp", "x", "n", w["latch_n"])
    mos.add("M4", "outp", "outn", "y", "n", w["latch_n"])
    mos.add("M5", "outn", "outp", "vdd", "p", w["latch_p"])
    mos.add("M6", "outp", "outn", "vdd", "p", w["latch_p"])
    for name, node in (("M7", "outp"), ("M8", "outn"), ("M9", "x"), ("M10", "y")):
        mos.add(name, node, "clk", "vdd", "p", w["precharge"])
    mos.render_caps()
    if load_c_f > 0:
        deck.add("CLOADP", ["outp", "0"], load_c_f)
        deck.add("CLOADN", ["outn", "0"], load_c_f)
    deck.add("BDIF", ["dif", "0"], "V={abs(v(outp)-v(outn))}")
    deck.add("RDIF", ["dif", "0"], 1e9)
    stop = spice_number(period_s)
    deck.analysis(f".tran {spice_number(period_s / 4000)} {stop}")
    deck.analysis(f".meas tran e_supply_j INTEG par('-v(vdd)*i(VDD)') from=0 to={stop}")
    deck.analysis(f".meas tran tdec_s TRIG v(clk) VAL={spice_number(v / 2)} RISE=1 TARG v(dif) VAL={spice_number(v / 2)} RISE=1")
    return _finish(deck)
