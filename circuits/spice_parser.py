"""Read SPICE decks one way for both engines, and parse them for the native solver.

The reading both engines share (:func:`logical_lines`, :func:`parse_value`, :func:`read_params`,
:func:`element_value`, :func:`b_source`), as ngspice reads a deck or refused:

* line 1 is the title; ``*`` lines, ``;`` and `` $`` inline comments are dropped; a ``+`` line
  continues the card before it (a ``+`` right after the title is refused: ngspice would join it
  to the title and drop the card);
* cards are ASCII (the title and comments may hold any text); nothing but comments may follow
  ``.end`` (ngspice reads cards after it, so they are refused rather than ignored);
* numbers are SPICE numbers (:func:`parse_value`: ``1k``, ``2.2MEG``, ``10uF``, ``1e-3``; no
  Python literals such as ``1_000`` or ``inf``);
* ``.param`` names and ``{...}`` values are evaluated here (:mod:`memcosim.circuits.spice_expr`)
  before any check of the value: a ``{0}`` resistor is a zero resistor;
* resistances lie in [:data:`R_MIN_OHM`, :data:`R_MAX_OHM`] in magnitude (ngspice silently turns
  a zero into 1 mOhm, and below it both engines lose the answer to rounding).

The native engine takes R, V, I cards with DC values and B current sources ``I={expr}`` whose
expression depends only on the voltage across their own terminals; ``.title``, ``.op``,
``.options`` (those of :data:`HARMLESS_OPTIONS`), ``.save``, ``.print``, ``.param``, ``.end``;
case-insensitive names; node ``0``/``gnd`` as ground. Anything else is a
:class:`~memcosim.base.errors.NetlistError` naming the line, never a wrong answer.
"""

import re
from dataclasses import dataclass, field

from memcosim.base.errors import NetlistError
from memcosim.circuits.spice_expr import compile_expression, evaluate_constant

__all__ = ["Element", "ParsedDeck", "parse_deck", "parse_value", "logical_lines", "read_params", "element_value",
           "element_value_of", "b_source", "check_options", "check_nodes", "R_MIN_OHM", "R_MAX_OHM", "HARMLESS_OPTIONS"]

R_MIN_OHM = 1e-3
"""Smallest resistance magnitude either engine takes (ngspice's own stand-in for zero)."""
R_MAX_OHM = 1e15
"""Largest resistance magnitude either engine takes."""

HARMLESS_OPTIONS = frozenset({"reltol", "abstol", "vntol", "chgtol", "gmin", "itl1", "itl2", "itl3", "itl4", "itl5",
                              "pivtol", "pivrel", "klu", "sparse", "noacct", "nopage", "noinit", "nomod", "numdgt",
                              "savecurrents", "acct", "list", "node", "opts", "warn", "temp", "tnom"})
"""``.options`` that leave a DC operating point of the decks memcosim solves as it is (tolerances,
output); any other option (``rshunt``, which adds a resistor at every node) is refused."""

_PLAIN = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_VALUE = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)(meg|mil|[fpnumkgt])?[a-z]*\Z")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6, "g": 1e9, "t": 1e12, "mil": 25.4e-6}
_IGNORED = (".options", ".option", ".save", ".print", ".title", ".width", ".param")
_BAD_NODE = re.compile(r"[,(){}=\"'\\]")


@dataclass(slots=True)
class Element:
    """One parsed element card: ``kind`` (r, v, i, b), lower-case name and nodes, and its value
    (ohms, volts, amperes) or, for B sources, the expression template and its constants."""

    kind: str
    name: str
    nodes: tuple
    value: float = 0.0
    template: str = ""
    constants: tuple = ()
    line: int = 0


@dataclass
class ParsedDeck:
    title: str
    elements: list = field(default_factory=list)
    analysis: str = ""


def parse_value(text, line_no=0):
    """A SPICE number with an optional SI suffix (``1k``, ``2.2MEG``, ``10uF``, ``1e-3``), finite.

    As ngspice reads it: letters after the number and its scale are units (``1kohm``); ``a``
    and ``x`` are not scales. Refused (where ngspice would read something else than it shows):
    underscores, ``inf``/``nan``, digits after a scale (``1k5``), a second point, ``1d3``,
    anything non-ASCII. ``line_no``: an int (``line N``) or a location string, for the message.
    """
    where = _at(line_no)
    if _PLAIN.match(text):  # fast path: plain numbers (everything memcosim writes)
        value = float(text)
    else:
        match = _VALUE.match(text.strip().lower())
        if not match or not text.isascii():
            raise NetlistError(f"{_at(where)}: not a SPICE number: {text!r}")
        value = float(match.group(1)) * _SCALE.get(match.group(2), 1.0)
    if value != value or abs(value) == float("inf"):
        raise NetlistError(f"{_at(where)}: {text!r} is out of floating-point range")
    return value


def _ground(node):
    return "0" if node in ("0", "gnd") else node


def _at(where):
    """A location for a message: ``line N`` for a line number, else the location as given."""
    return f"line {where}" if isinstance(where, int) else where


def logical_lines(text, label=None, locations=None):
    """``[(location, text)]`` of the deck's title and cards: comments removed, continuations joined,
    cards up to ``.end``. ``location`` is the line number (an int), or ``"LABEL:N"`` with ``label``;
    ``locations`` (one per raw line) overrides both (a deck with its includes inlined).

    Raises
    ------
    NetlistError
        A ``+`` with no card before it, a non-ASCII card, or a card after ``.end``.
    """
    raw_lines = text.splitlines()
    place = (lambda k: locations[k]) if locations is not None else (lambda k: k + 1) if label is None else \
        (lambda k: f"{label}:{k + 1}")
    fast = (";" not in text and "$" not in text and "\t" not in text and text.isascii()
            and not re.search(r"^\s*\+", text, re.MULTILINE))
    out = [(place(0), raw_lines[0].rstrip())] if raw_lines else []
    for k in range(1, len(raw_lines)):
        stripped = raw_lines[k].strip()
        if not stripped or stripped[0] == "*":
            continue
        if not fast:
            for mark in (";", " $", "\t$"):
                pos = stripped.find(mark)
                if pos >= 0:
                    stripped = stripped[:pos].rstrip()
            if not stripped:
                continue
            if not stripped.isascii():
                bad = next(c for c in stripped if not c.isascii())
                raise NetlistError(f"{_at(place(k))}: non-ASCII character {bad!r} in a card (SPICE cards are ASCII; "
                                   "comments may hold any text)")
            if stripped[0] == "+":
                if len(out) <= 1:
                    raise NetlistError(f"{_at(place(k))}: continuation '+' with no card before it (ngspice would join "
                                       "it to the title line and drop it)")
                out[-1] = (out[-1][0], out[-1][1] + " " + stripped[1:].strip())
                continue
        out.append((place(k), stripped))
    for k in range(1, len(out)):
        if out[k][1][:4].lower() == ".end" and out[k][1].split()[0].lower() == ".end":
            if k + 1 < len(out):
                raise NetlistError(f"{_at(out[k + 1][0])}: card after .end ({out[k + 1][1].split()[0]}); ngspice reads "
                                   "it, so a deck must end at .end")
            return out[:k]
    return out


def read_params(cards):
    """The ``.param`` values (lower-case names -> float) of ``cards``, evaluated in order.

    Raises
    ------
    NetlistError
        A malformed assignment, a name given twice or shadowing a function, an unknown name or a
        non-finite value (the card is named).
    """
    from memcosim.circuits.spice_expr import FUNCTIONS

    params = {}
    for where, card in cards:
        if card[:6].lower() != ".param":
            continue
        rest = card[6:].strip()
        pairs = re.findall(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\{[^{}]*\}|[^\s{}=]+)\s*", rest)
        if not pairs or sum(len(m) for m in re.findall(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(?:\{[^{}]*\}|[^\s{}=]+)\s*",
                                                         rest)) != len(rest):
            raise NetlistError(f"{_at(where)}: .param: expected 'name=value ...', got {rest!r}")
        for name, value in pairs:
            low = name.lower()
            if low in params or low in FUNCTIONS or low in ("v", "i"):
                raise NetlistError(f"{_at(where)}: .param {name} is given twice or is a reserved name")
            params[low] = evaluate_constant(value.strip("{}"), where, params)
    return params


def element_value(token, where, params):
    """A value token: a SPICE number or ``{expression}`` (``.param`` names allowed)."""
    if token[:1] == "{":
        if token[-1:] != "}":
            raise NetlistError(f"{_at(where)}: unclosed brace in {token!r}")
        return evaluate_constant(token[1:-1], where, params)
    return parse_value(token, where)


def check_nodes(parts, count, where):
    """The ``count`` lower-case nodes after the element name (ground as ``"0"``)."""
    nodes = []
    for node in parts[1:1 + count]:
        if _BAD_NODE.search(node):
            raise NetlistError(f"{_at(where)}: {parts[0]}: node name {node!r} holds one of , ( ) {{ }} = or a quote, which "
                               "ngspice reads as separators")
        nodes.append(_ground(node.lower()))
    return tuple(nodes)


def _resistance(parts, where, params):
    if len(parts) != 4:
        raise NetlistError(f"{_at(where)}: {parts[0]}: a resistor needs 'R n1 n2 value', got {' '.join(parts)!r}")
    value = element_value(parts[3], where, params)
    if value == 0:
        raise NetlistError(f"{_at(where)}: {parts[0]}: zero resistance (use a 0 V source for an ideal connection)")
    if not R_MIN_OHM <= abs(value) <= R_MAX_OHM:
        raise NetlistError(f"{_at(where)}: {parts[0]}: resistance {value:g} ohm is out of range (|R| must lie in "
                           f"[{R_MIN_OHM:g}, {R_MAX_OHM:g}] ohms; below it the answer is lost to rounding)")
    return value


def _source_value(parts, where, params):
    rest = parts[3:]
    if rest and rest[0].lower() == "dc":
        rest = rest[1:]
    if not rest:
        raise NetlistError(f"{_at(where)}: {parts[0]}: a source needs a value")
    if len(rest) != 1 or "(" in rest[0]:
        raise NetlistError(f"{_at(where)}: {parts[0]}: only DC values are supported ('{parts[0][0]} n+ n- [DC] value'), "
                           f"got {' '.join(parts[3:])!r}")
    return element_value(rest[0], where, params)


def element_value_of(parts, where, params):
    """The value of an R, V or I card (ohms, volts, amperes), checked (:func:`_resistance`)."""
    if len(parts) < 3:
        raise NetlistError(f"{_at(where)}: {parts[0]} needs two nodes and a value")
    return _resistance(parts, where, params) if parts[0][0] in "rR" else _source_value(parts, where, params)


def b_source(parts, where, params):
    """``(kind, Expression)`` of a B card ``B n+ n- I={expr}`` (kind ``"i"``) or ``V={expr}`` (``"v"``)."""
    spec = "".join(parts[3:])
    match = re.fullmatch(r"(?i)([iv])=(\{.*\}|[^{}]+)", spec)
    if len(parts) < 4 or not match:
        raise NetlistError(f"{_at(where)}: {parts[0]}: expected 'B n+ n- I={{expr}}' or 'V={{expr}}', got {' '.join(parts)!r}")
    body = match.group(2)
    if body.startswith("{"):
        body = body[1:-1]
    return match.group(1).lower(), compile_expression(body, where, params)


def check_options(words, where):
    """Refuse ``.options`` that change a DC answer (any not in :data:`HARMLESS_OPTIONS`)."""
    for word in words[1:]:
        name = word.split("=", 1)[0].lower()
        if name and name not in HARMLESS_OPTIONS:
            raise NetlistError(f"{_at(where)}: .options {name} is refused: it changes the circuit (allowed: "
                               f"{', '.join(sorted(HARMLESS_OPTIONS))})")


def _b_element(parts, where, line_no, params):
    name, (a, b) = parts[0].lower(), check_nodes(parts, 2, where)
    kind, expr = b_source(parts, where, params)
    if kind != "i":
        raise NetlistError(f"{_at(where)}: {parts[0]}: only current B sources 'I={{expr}}' are supported natively")
    if expr.currents or any(ref not in ((a, b), (b, a)) and not (b == "0" and ref == (a, "0")) for ref in expr.voltages):
        raise NetlistError(f"{_at(where)}: {parts[0]}: the native engine supports B expressions of V({a},{b}) only, got "
                           f"{expr.text!r}")
    # one voltage variable: v(a,b) (v(b,a) is its negative)
    template = expr.template
    for k, ref in enumerate(expr.voltages):
        template = re.sub(rf"\b_v{k}\b", "_v" if ref != (b, a) else "(-_v)", template)
    return Element("b", name, (a, b), 0.0, template, expr.constants, line_no)


def parse_deck(text):
    """Parse deck text into elements for the native engine.

    Returns
    -------
    ParsedDeck

    Raises
    ------
    NetlistError
        An unsupported element or control line, a malformed card, a value out of range or a
        duplicate name; the message names the line.
    """
    lines = logical_lines(text)
    if not lines:
        raise NetlistError("empty deck")
    deck = ParsedDeck(title=lines[0][1])
    params = read_params(lines) if ".param" in text.lower() else {}
    names = set()
    for where, line in lines[1:]:
        parts = line.split()  # original case, for messages
        head = parts[0].lower()
        if head[0] == ".":
            if head == ".op":
                deck.analysis = "op"
            elif head in (".options", ".option"):
                check_options(parts, where)
            elif head not in _IGNORED:
                raise NetlistError(f"{_at(where)}: {parts[0]} is not supported by the native engine (DC .op decks only)")
            continue
        kind = head[0]
        if kind not in "rvib":
            raise NetlistError(f"{_at(where)}: element {parts[0]!r} ({kind.upper()}) is not supported by the native engine; "
                               "use ngspice")
        if head in names:
            raise NetlistError(f"{_at(where)}: duplicate element name {parts[0]!r}")
        names.add(head)
        if len(parts) < 4:
            raise NetlistError(f"{_at(where)}: {parts[0]} needs two nodes and a value")
        if kind == "b":
            deck.elements.append(_b_element(parts, where, where, params))
            continue
        nodes = check_nodes(parts, 2, where) if "{" in line or _BAD_NODE.search(line) else \
            (_ground(parts[1].lower()), _ground(parts[2].lower()))
        deck.elements.append(Element(kind, head, nodes, element_value_of(parts, where, params), line=where))
    return deck
