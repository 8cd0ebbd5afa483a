"""Native DC solver: modified nodal analysis with scipy.sparse, Newton for B elements.

Grounded voltage sources fix their node (Dirichlet); the remaining nodal system of resistors,
current sources and B elements is symmetric positive definite for passive networks and is
solved by sparse LU (Newton iterations when B elements are present, with exact derivatives
by complex-step differentiation). Decks with floating voltage sources fall back to full MNA.
Results follow ngspice's conventions: node names lower-case, source current = current into
the + terminal.
"""

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from memcosim.circuits.spice_expr import NUMPY_FUNCTIONS
from memcosim.circuits.spice_parser import parse_deck
from memcosim.base.errors import SimulationError

__all__ = ["OpResult", "solve_deck", "solve_parsed"]

_H = 1e-30  # complex-step size


@dataclass(frozen=True)
class OpResult:
    """An operating point: ``node_voltages`` (volts), ``source_currents`` (amperes into the +
    terminal), ``total_source_power_w`` (power delivered by all sources: V, I and B), ``solve_time_s``,
    ``newton_iterations``."""

    node_voltages: dict
    source_currents: dict
    total_source_power_w: float
    solve_time_s: float = 0.0
    newton_iterations: int = 0
    engine: str = "native"
    extra: dict = field(default_factory=dict)

    def to_json(self):
        return {
            "engine": self.engine,
            "node_voltages": self.node_voltages,
            "source_currents": self.source_currents,
            "total_source_power_w": self.total_source_power_w,
            "solve_time_s": self.solve_time_s,
        }


class _BGroup:
    """B elements sharing one expression template, evaluated vectorised."""

    def __init__(self, template, elements, index):
        self.a = np.array([index[e.nodes[0]] for e in elements])
        self.b = np.array([index[e.nodes[1]] for e in elements])
        self.c = np.array([e.constants for e in elements], dtype=float).T
        args = ", ".join(["_v"] + [f"_k{k}" for k in range(self.c.shape[0])])
        # the template was checked by memcosim.circuits.spice_expr before it came here
        self.func = eval(f"lambda {args}: {template}", dict(NUMPY_FUNCTIONS))

    def current(self, v_full):
        """The currents in real arithmetic (a square root of a negative number is NaN, not 0)."""
        with np.errstate(all="ignore"):
            return np.broadcast_to(self.func(v_full[self.a] - v_full[self.b], *self.c), self.a.shape)

    def current_and_slope(self, v_full):
        dv = v_full[self.a] - v_full[self.b]
        value = self.func(dv + 1j * _H, *self.c)
        value = np.broadcast_to(value, dv.shape)
        return value.real, value.imag / _H


def _node_order(deck):
    """Non-ground nodes in order of first appearance: keeps the deck's locality, which gives
    the fill-reducing LU ordering a much better start than sorted names."""
    return [n for n in dict.fromkeys(n for e in deck.elements for n in e.nodes) if n != "0"]


def _laplacian(n, pairs_a, pairs_b, g):
    rows = np.concatenate([pairs_a, pairs_b, pairs_a, pairs_b])
    cols = np.concatenate([pairs_a, pairs_b, pairs_b, pairs_a])
    vals = np.concatenate([g, g, -g, -g])
    return sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()


def solve_parsed(deck, max_newton=100):
    """Solve a :class:`~memcosim.circuits.spice_parser.ParsedDeck` at DC.

    Raises
    ------
    SimulationError
        A singular system (a node without a DC path to ground), conflicting sources, or
        Newton iterations that do not converge.
    """
    t0 = time.perf_counter()
    nodes = _node_order(deck)
    index = {n: k for k, n in enumerate(nodes)}
    index["0"] = len(nodes)  # ground sits at the end of the full vector
    n_all = len(nodes) + 1
    res = [e for e in deck.elements if e.kind == "r"]
    vsrc = [e for e in deck.elements if e.kind == "v"]
    isrc = [e for e in deck.elements if e.kind == "i"]
    groups = {}
    for e in deck.elements:
        if e.kind == "b":
            groups.setdefault((e.template, len(e.constants)), []).append(e)
    bgroups = [_BGroup(t, els, index) for (t, _), els in groups.items()]

    g_full = _laplacian(
        n_all,
        np.array([index[e.nodes[0]] for e in res], dtype=int),
        np.array([index[e.nodes[1]] for e in res], dtype=int),
        np.array([1.0 / e.value for e in res]),
    )
    inject = np.zeros(n_all)  # current injected into each node by current sources
    for e in isrc:
        inject[index[e.nodes[0]]] -= e.value
        inject[index[e.nodes[1]]] += e.value

    fixed = {index["0"]: 0.0}
    dirichlet = []
    for e in vsrc:
        p, m = index[e.nodes[0]], index[e.nodes[1]]
        if m == index["0"] and p not in fixed:
            fixed[p] = e.value
            dirichlet.append((e, p, +1))
        elif p == index["0"] and m not in fixed:
            fixed[m] = -e.value
            dirichlet.append((e, m, -1))
        else:
            return _solve_full_mna(deck, t0, max_newton)

    fixed_idx = np.array(sorted(fixed))
    free = np.setdiff1d(np.arange(n_all), fixed_idx)
    v = np.zeros(n_all)
    v[fixed_idx] = [fixed[k] for k in fixed_idx]
    a_ff = g_full[free][:, free].tocsc()
    a_fd = g_full[free][:, fixed_idx]
    rhs0 = inject[free] - a_fd @ v[fixed_idx]
    position = np.full(n_all, -1)
    position[free] = np.arange(len(free))

    iterations = 0
    if not len(free):
        pass  # every node is fixed by a voltage source
    elif not bgroups:
        v[free] = _factor(a_ff).solve(rhs0)
    else:
        for iterations in range(1, max_newton + 1):
            resid = a_ff @ v[free] - rhs0
            rows, cols, vals = [], [], []
            for grp in bgroups:
                cur, slope = grp.current_and_slope(v)
                pa, pb = position[grp.a], position[grp.b]
                np.add.at(resid, pa[pa >= 0], cur[pa >= 0])
                np.add.at(resid, pb[pb >= 0], -cur[pb >= 0])
                for x, y, s in ((pa, pa, 1), (pb, pb, 1), (pa, pb, -1), (pb, pa, -1)):
                    ok = (x >= 0) & (y >= 0)
                    rows.append(x[ok])
                    cols.append(y[ok])
                    vals.append(s * slope[ok])
            jac = a_ff + sp.coo_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=a_ff.shape
            ).tocsc()
            step = _factor(jac).solve(-resid)
            v[free] += step
            if np.max(np.abs(step)) <= 1e-14 * (1.0 + np.max(np.abs(v))):
                break
        else:
            raise SimulationError(f"native: Newton iterations did not converge in {max_newton} steps")

    # currents leaving each node through resistors, B elements and current sources
    leaving = g_full @ v - inject
    magnitude = abs(g_full) @ np.abs(v) + np.abs(inject)  # scale of the currents meeting at each node
    b_power = 0.0
    for grp in bgroups:
        cur = grp.current(v)
        b_power -= float(np.sum((v[grp.a] - v[grp.b]) * cur))
        np.add.at(leaving, grp.a, cur)
        np.add.at(leaving, grp.b, -cur)
        np.add.at(magnitude, grp.a, np.abs(cur))
        np.add.at(magnitude, grp.b, np.abs(cur))
    _check_kcl(deck, nodes, v, leaving[free], magnitude[free], free)
    currents = {e.name: float(-sign * leaving[k]) for e, k, sign in dirichlet}
    return _result(deck, nodes, v, currents, time.perf_counter() - t0, iterations, index, b_power)


def _check_kcl(deck, nodes, v, residual, magnitude, free):
    """Refuse a solution that is not finite or breaks Kirchhoff's current law at a free node."""
    if not np.all(np.isfinite(v)):
        raise SimulationError("native: the solution is not finite (an element value out of floating-point range?)")
    bad = ~(np.abs(residual) <= 1e-6 * magnitude + 1e-15)  # NaN is bad
    if not bad.any():
        return
    worst = int(np.argmax(np.where(bad, np.nan_to_num(np.abs(residual) - 1e-6 * magnitude, nan=np.inf), -np.inf)))
    node = nodes[free[worst]] if free[worst] < len(nodes) else "0"
    touching = [e.name for e in deck.elements if node in e.nodes][:4]
    raise SimulationError(
        f"native: no solution satisfies Kirchhoff's current law at node {node!r} (residual {residual[worst]:.3g} A; "
        f"elements {', '.join(touching)}): the circuit has no DC operating point the solver can find; ngspice may report "
        "non-convergence too")


def _factor(matrix):
    try:
        return splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A")
    except RuntimeError as exc:  # "Factor is exactly singular"
        raise SimulationError(f"native: singular nodal matrix ({exc}): a node has no DC path to ground") from None


def _result(deck, nodes, v, currents, elapsed, iterations, index, b_power=0.0):
    bad = [name for name, i in currents.items() if not np.isfinite(i)]
    if bad:
        raise SimulationError(f"native: the current of {', '.join(bad[:4])} is not finite")
    voltages = {n: float(v[index[n]]) for n in nodes}
    power = b_power  # what the B sources deliver (negative: a B element that models a load absorbs)
    for e in deck.elements:
        if e.kind == "v":
            power += -e.value * currents[e.name]
        elif e.kind == "i":
            power += -(v[index[e.nodes[0]]] - v[index[e.nodes[1]]]) * e.value
    return OpResult(voltages, currents, float(power), elapsed, iterations)


def _solve_full_mna(deck, t0, max_newton):
    """General MNA (node voltages + every voltage-source current) for floating sources."""
    if any(e.kind == "b" for e in deck.elements):
        raise SimulationError("native: B elements with floating voltage sources are not supported; use ngspice")
    nodes = _node_order(deck)
    index = {n: k for k, n in enumerate(nodes)}
    vsrc = [e for e in deck.elements if e.kind == "v"]
    n, m = len(nodes), len(vsrc)
    rows, cols, vals = [], [], []
    rhs = np.zeros(n + m)

    def stamp(r, c, val):
        if r is not None and c is not None:
            rows.append(r)
            cols.append(c)
            vals.append(val)

    for e in deck.elements:
        a, b = (index.get(x) for x in e.nodes)
        if e.kind == "r":
            g = 1.0 / e.value
            stamp(a, a, g), stamp(b, b, g), stamp(a, b, -g), stamp(b, a, -g)
        elif e.kind == "i":
            if a is not None:
                rhs[a] -= e.value
            if b is not None:
                rhs[b] += e.value
    for k, e in enumerate(vsrc):
        a, b = (index.get(x) for x in e.nodes)
        stamp(a, n + k, 1.0), stamp(n + k, a, 1.0)
        stamp(b, n + k, -1.0), stamp(n + k, b, -1.0)
        rhs[n + k] = e.value
    matrix = sp.coo_matrix((vals, (rows, cols)), shape=(n + m, n + m)).tocsc()
    x = _factor(matrix).solve(rhs)
    if not np.all(np.isfinite(x)) or np.max(np.abs(matrix @ x - rhs)) > 1e-9 * (np.max(np.abs(rhs)) + 1e-30) * max(1.0, np.max(np.abs(x))):
        raise SimulationError("native: the nodal system has no finite solution (an element value out of floating-point range?)")
    v = np.append(x[:n], 0.0)
    index["0"] = n
    currents = {e.name: float(x[n + k]) for k, e in enumerate(vsrc)}
    return _result(deck, nodes, v, currents, time.perf_counter() - t0, 0, index)


def solve_deck(text, max_newton=100):
    """Parse and solve a deck; ``solve_time_s`` covers parse and solve.

    Returns
    -------
    OpResult
    """
    t0 = time.perf_counter()
    result = solve_parsed(parse_deck(text), max_newton=max_newton)
    return OpResult(
        result.node_voltages,
        result.source_currents,
        result.total_source_power_w,
        time.perf_counter() - t0,
        result.newton_iterations,
    )
