"""An independent DC answer for linear decks (R, V and I cards with plain numbers), written apart
from memcosim's solvers: modified nodal analysis solved exactly in rational arithmetic (every
float is a binary fraction), so the reference has no rounding error of its own."""

import re
from fractions import Fraction

_SCALE = {"t": 1e12, "g": 1e9, "meg": 1e6, "k": 1e3, "m": 1e-3, "u": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}


def _value(text):
    m = re.fullmatch(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(meg|[tgkmunpf])?", text.lower())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _SCALE.get(m.group(2) or "", 1.0)


def parse(text):
    """``[(kind, name, a, b, value, control)]`` of a linear deck (R, V, I; E, G ``n+ n- nc+ nc- gain``;
    F, H ``n+ n- vsource gain``; L and C at DC), or ValueError."""
    cards = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if not parts or parts[0].startswith("*") or parts[0].lower() in (".op", ".end"):
            continue
        kind = parts[0][0].lower()
        sizes = {"e": 6, "g": 6, "f": 5, "h": 5}
        if kind not in "rviefghlc" or len(parts) != sizes.get(kind, 4):
            raise ValueError(line)
        low = [p.lower() for p in parts]
        control = tuple(low[3:5]) if kind in "eg" else (low[3],) if kind in "fh" else ()
        cards.append((kind, low[0], low[1], low[2], _value(parts[-1]), control))
    return cards


class Singular(ValueError):
    """The circuit has no unique DC solution (a floating node, a loop of voltage sources)."""


def _exact_solve(a_mat, rhs):
    n = len(rhs)
    m = [row[:] + [r] for row, r in zip(a_mat, rhs)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if m[r][col] != 0), None)
        if pivot is None:
            raise Singular("singular")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col])]
    return [m[i][n] / m[i][i] for i in range(n)]


def solve(cards):
    """``(node voltages, V source currents, total power delivered by every source)`` like
    ``memcosim solve --json`` (sources: V, I, E, F, G, H; currents into the + terminal).

    Raises :class:`Singular` when the circuit has no unique solution.
    """
    cards = [c if len(c) == 6 else (*c, ()) for c in cards]
    if not cards:
        return {}, {}, 0.0
    nodes = sorted({n for c in cards for n in (c[2], c[3]) + (c[5] if c[0] in "eg" else ())} - {"0"})
    index = {n: i for i, n in enumerate(nodes)}
    branches = [c for c in cards if c[0] in "vehl"]  # elements with a current unknown
    row_of = {c[1]: len(nodes) + k for k, c in enumerate(branches)}
    size = len(nodes) + len(branches)
    a_mat = [[Fraction(0)] * size for _ in range(size)]
    rhs = [Fraction(0)] * size

    def add(r, c, x):
        if r is not None and c is not None:
            a_mat[r][c] += x

    for kind, name, p, q, value, control in cards:
        i, j, value = index.get(p), index.get(q), Fraction(value)
        if kind == "r":
            g = 1 / value
            for x, y, s in ((i, i, g), (j, j, g), (i, j, -g), (j, i, -g)):
                add(x, y, s)
        elif kind == "i":  # current flows from p through the source to q
            if i is not None:
                rhs[i] -= value
            if j is not None:
                rhs[j] += value
        elif kind == "g":  # value * v(control) from p through the source to q
            c, d = index.get(control[0]), index.get(control[1])
            for node, sign in ((i, 1), (j, -1)):
                add(node, c, sign * value)
                add(node, d, -sign * value)
        elif kind == "f":  # value * i(control) from p to q
            for node, sign in ((i, 1), (j, -1)):
                add(node, row_of[control[0]], sign * value)
        elif kind == "c":  # open at DC
            continue
        else:  # v, e, h, l: the branch current (into p) is an unknown; its row is the voltage law
            row = row_of[name]
            for node, sign in ((i, 1), (j, -1)):
                add(node, row, sign)
                add(row, node, sign)
            if kind == "v":
                rhs[row] = value
            elif kind == "e":
                add(row, index.get(control[0]), -value)
                add(row, index.get(control[1]), value)
            elif kind == "h":
                add(row, row_of[control[0]], -value)
    x = _exact_solve(a_mat, rhs)
    volts = dict(zip(nodes, x[: len(nodes)]))
    v = lambda n: Fraction(0) if n == "0" else volts[n]  # noqa: E731
    i_of = {c[1]: x[row_of[c[1]]] for c in branches}
    power = Fraction(0)
    for kind, name, p, q, value, control in cards:
        current = {"i": lambda: Fraction(value), "g": lambda: Fraction(value) * (v(control[0]) - v(control[1])),
                   "f": lambda: Fraction(value) * i_of[control[0]]}.get(kind, lambda: i_of.get(name))()
        if kind in "viefgh":
            power -= (v(p) - v(q)) * current
    currents = {c[1]: float(i_of[c[1]]) for c in cards if c[0] == "v"}
    return {k: float(x) for k, x in volts.items()}, currents, float(power)


def conditioning(cards):
    """Largest over smallest conductance: a float solver's answer is good to ~1e-16 times this."""
    g = [1 / abs(c[4]) for c in cards if c[0] == "r"]
    return max(g) / min(g) if g else 1.0
