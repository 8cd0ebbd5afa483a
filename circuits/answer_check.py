"""Every DC answer checked with memcosim's own reading of the circuit, whichever engine gave it.

:func:`check_answer` takes a screened circuit (:func:`memcosim.circuits.screen.read_circuit`:
every element flattened, as ngspice names it) and an engine's node voltages and branch
currents, and refuses the answer (:class:`~memcosim.base.errors.SimulationError`, one line)
unless:

* every node has a DC path to ground (through R, V, L, E, H, B elements: a node reached only
  through current sources and capacitors has no defined voltage, whatever an engine prints);
* every node voltage and current is finite and physical (|V| <= :data:`V_MAX_V`,
  |I| <= :data:`I_MAX_A`);
* Kirchhoff's current law holds at every node to :data:`KCL_RTOL` of the currents meeting
  there, plus the backward error of a stable solve (:data:`_SOLVE_ROUNDING`) and the rounding of each conductance's voltage difference (each element's current from its own law: ``(va - vb)/R``, a source's value, a B
  expression evaluated at the answer, ``gm * v``, ``gain * i``; branch currents from the answer);
* every voltage-defining element holds its law (V, E, H, L, B ``V=``) to the same tolerance.

It returns the node voltages of the circuit's own nodes only (no engine artefacts), the V
sources' currents and the power every source delivers (V, I, B, E, F, G, H, inside
subcircuits too): ``-(v+ - v-) i`` with ``i`` the current into the + terminal.
"""

import math

import numpy as np

from memcosim.base.errors import SimulationError

__all__ = ["check_answer", "dc_path_check", "V_MAX_V", "I_MAX_A", "KCL_RTOL"]

V_MAX_V = 1e9
"""Largest node voltage reported; beyond it the answer is refused as non-physical."""
I_MAX_A = 1e9
"""Largest element current reported; beyond it the answer is refused as non-physical."""
KCL_RTOL = 1e-6
"""Kirchhoff residual allowed at a node, relative to the sum of the currents' magnitudes there."""
_KCL_ATOL_A = 1e-15
_SOLVE_ROUNDING = 64 * np.finfo(float).eps
"""Backward error of a stable linear solve: its residual at any node may be this times the largest
conductance sum at a node times the largest node voltage (a 1.5-ohm source path beside a 500-Mohm
chain: ~1e-15 A at the chain's nodes, however exactly each engine solved)."""
_ROUNDING = 16 * np.finfo(float).eps
"""Relative rounding of a node voltage: a conductance's current ``g (va - vb)`` is known to
``g * _ROUNDING * (|va| + |vb|)`` only (a tiny resistor between two equal nodes)."""
_BRANCH = frozenset({"v", "e", "h", "l", "bv"})


def _conducts(e):
    if e.kind in ("r", "v", "l", "e", "h", "bv"):
        return True
    if e.kind == "bi":
        a, b = e.nodes
        own = {(a, b), (b, a), (a, "0") if b == "0" else None, (b, "0") if a == "0" else None}
        return any(ref in own for ref in e.expr.voltages)
    return False


def dc_path_check(elements, engine):
    """Refuse a circuit with a node that has no DC path to ground (union-find, O(elements))."""
    parent = {}

    def root(n):
        parent.setdefault(n, n)
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for e in elements:
        for n in e.nodes + (e.control if e.kind in "eg" else ()):
            root(n)
        if _conducts(e):
            parent[root(e.nodes[0])] = root(e.nodes[1])
    ground = root("0")
    floating = [n for n in parent if root(n) != ground]
    if floating:
        touching = [e.name for e in elements if floating[0] in e.nodes][:4]
        raise SimulationError(f"{engine}: node {floating[0]!r} has no DC path to ground (it meets only current "
                              f"sources or capacitors: {', '.join(touching) or 'no element'}); its voltage is undefined")


def check_answer(circuit, voltages, branch, engine):
    """Check an engine's answer; returns ``(node voltages, V source currents, total source power)``.

    Parameters
    ----------
    circuit : Circuit
    voltages : dict
        Node name -> volts (may hold more than the circuit's nodes: they are left out).
    branch : dict
        Element name -> amperes into its + terminal, for every V, E, H, L and B ``V=`` element.
    engine : str
        For messages.
    """
    dc_path_check(circuit.elements, engine)
    missing = [n for n in circuit.nodes if n not in voltages]
    if missing:
        raise SimulationError(f"{engine}: no voltage for node {missing[0]!r} in the solution")
    volts = {n: float(voltages[n]) for n in circuit.nodes}
    _physical(volts, V_MAX_V, "node voltage", "V", engine)
    need = [e.name for e in circuit.elements if e.kind in _BRANCH and e.name not in branch]
    if need:
        raise SimulationError(f"{engine}: no current for {need[0]} in the solution")

    def v(a, b="0"):
        return (0.0 if a == "0" else volts[a]) - (0.0 if b == "0" else volts[b])

    def i(name):
        return float(branch[name])

    def size(a, b="0"):  # the rounding a difference of two node voltages carries, volts
        return _ROUNDING * ((0.0 if a == "0" else abs(volts[a])) + (0.0 if b == "0" else abs(volts[b])))

    leaving, scale, slack, conductance = {}, {}, {}, {}
    currents, power = {}, 0.0
    for e in circuit.elements:
        drop = v(*e.nodes)
        law, rounding = None, 0.0
        if e.kind == "r":
            current = drop / e.value
            rounding = size(*e.nodes) / abs(e.value)
            for node in e.nodes:
                conductance[node] = conductance.get(node, 0.0) + 1.0 / abs(e.value)
        elif e.kind in ("i", "c"):
            current = e.value if e.kind == "i" else 0.0
        elif e.kind == "g":
            current = e.value * v(*e.control)
            rounding = abs(e.value) * size(*e.control)
        elif e.kind == "f":
            current = e.value * i(e.control[0])
        elif e.kind == "bi":
            current = e.expr.evaluate(v, i)
        else:
            current = i(e.name)
            target = {"v": lambda: e.value, "l": lambda: 0.0, "e": lambda: e.value * v(*e.control),
                      "h": lambda: e.value * i(e.control[0]), "bv": lambda: e.expr.evaluate(v, i)}[e.kind]()
            law = (drop, target)
        if not math.isfinite(current) or abs(current) > I_MAX_A:
            raise SimulationError(f"{engine}: the current of {e.name} is {current:.3g} A (|I| <= {I_MAX_A:g} A is "
                                  "physical; a division by zero or a runaway source?)")
        if law is not None and not abs(law[0] - law[1]) <= KCL_RTOL * (abs(law[0]) + abs(law[1])) + 1e-12:
            raise SimulationError(f"{engine}: {e.name} does not hold its law in the solution (voltage {law[0]:.9g} V, "
                                  f"its law gives {law[1]:.9g} V); the answer is refused")
        a, b = e.nodes
        for node, sign in ((a, 1.0), (b, -1.0)):
            leaving[node] = leaving.get(node, 0.0) + sign * current
            scale[node] = scale.get(node, 0.0) + abs(current)
            slack[node] = slack.get(node, 0.0) + rounding
        if e.kind == "v":
            currents[e.name] = float(current)
        if e.kind not in ("r", "c", "l"):
            power -= drop * current
    floor = _KCL_ATOL_A + _SOLVE_ROUNDING * max(conductance.values(), default=0.0) * max(map(abs, volts.values()),
                                                                                         default=0.0)
    for node in circuit.nodes:
        residual = leaving.get(node, 0.0)
        if not abs(residual) <= KCL_RTOL * scale.get(node, 0.0) + slack.get(node, 0.0) + floor:
            touching = [e.name for e in circuit.elements if node in e.nodes][:4]
            raise SimulationError(f"{engine}: the answer breaks Kirchhoff's current law at node {node!r} (residual "
                                  f"{residual:.3g} A of {scale.get(node, 0.0):.3g} A meeting there; elements "
                                  f"{', '.join(touching)}): refused")
    if not abs(power) <= V_MAX_V * I_MAX_A:
        raise SimulationError(f"{engine}: the source power {power:.3g} W is not physical")
    return volts, currents, float(power)


def _physical(values, limit, what, unit, engine):
    bad = [(k, x) for k, x in values.items() if not (np.isfinite(x) and abs(x) <= limit)]
    if bad:
        raise SimulationError(f"{engine}: {what} of {bad[0][0]} is {bad[0][1]:.3g} {unit} (|{unit}| <= {limit:g} "
                              f"{unit} is physical); the answer is refused")
