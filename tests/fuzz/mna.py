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
    """``[(kind, name, a, b, value)]`` of a linear deck, or ValueError."""
    cards = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if not parts or parts[0].startswith("*") or parts[0].lower() in (".op", ".end"):
            continue
        if len(parts) != 4 or parts[0][0].lower() not in "rvi":
            raise ValueError(line)
        cards.append((parts[0][0].lower(), parts[0].lower(), parts[1].lower(), parts[2].lower(), _value(parts[3])))
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
    """``(node voltages, source currents, total power delivered by all sources)`` like ``memcosim solve --json``.

    Raises :class:`Singular` when the circuit has no unique solution.
    """
    if not cards:
        return {}, {}, 0.0
    nodes = sorted({n for _, _, a, b, _ in cards for n in (a, b)} - {"0"})
    index = {n: i for i, n in enumerate(nodes)}
    sources = [c for c in cards if c[0] == "v"]
    size = len(nodes) + len(sources)
    a_mat = [[Fraction(0)] * size for _ in range(size)]
    rhs = [Fraction(0)] * size
    for kind, name, p, q, value in cards:
        i, j, value = index.get(p), index.get(q), Fraction(value)
        if kind == "r":
            g = 1 / value
            for x, y, s in ((i, i, g), (j, j, g), (i, j, -g), (j, i, -g)):
                if x is not None and y is not None:
                    a_mat[x][y] += s
        elif kind == "i":  # current flows from p through the source to q
            if i is not None:
                rhs[i] -= value
            if j is not None:
                rhs[j] += value
    for k, (_, name, p, q, value) in enumerate(sources):
        row = len(nodes) + k
        for node, sign in ((index.get(p), 1), (index.get(q), -1)):
            if node is not None:
                a_mat[row][node] += sign
                a_mat[node][row] += sign
        rhs[row] = Fraction(value)
    x = _exact_solve(a_mat, rhs)
    volts = dict(zip(nodes, x[: len(nodes)]))
    currents = {name: x[len(nodes) + k] for k, (_, name, *_rest) in enumerate(sources)}
    v = lambda n: Fraction(0) if n == "0" else volts[n]  # noqa: E731
    power = -sum((v(p) - v(q)) * currents[name] for _, name, p, q, _ in sources)
    power += sum((v(q) - v(p)) * Fraction(value) for kind, _, p, q, value in cards if kind == "i")  # pushed out into q
    return ({k: float(x) for k, x in volts.items()}, {k: float(x) for k, x in currents.items()}, float(power))


def conditioning(cards):
    """Largest over smallest conductance: a float solver's answer is good to ~1e-16 times this."""
    g = [1 / abs(c[4]) for c in cards if c[0] == "r"]
    return max(g) / min(g) if g else 1.0
