"""Parse SPICE decks (ours and plain resistive decks written by others) for the native solver.

Supported: R, V, I cards with DC values; B current sources ``I={expr}`` whose expression
depends only on the voltage across their own terminals; SI suffixes (f p n u m k meg g t,
any case, trailing unit letters ignored); ``*`` comment lines, ``;`` and ``$`` inline comments,
``+`` continuation lines; ``.title``, ``.op``, ``.options``, ``.save``, ``.print``, ``.end``;
case-insensitive names; node ``0``/``gnd`` as ground. Anything else is a
:class:`~memcosim.base.errors.NetlistError` naming the line, never a wrong answer.
"""

import ast
import re
from dataclasses import dataclass, field

from memcosim.base.errors import NetlistError

__all__ = ["Element", "ParsedDeck", "parse_deck", "parse_value"]

_VALUE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(meg|mil|[fpnumkgt])?[a-z]*$")
_SCALE = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "meg": 1e6, "g": 1e9, "t": 1e12, "mil": 25.4e-6}
_IGNORED = (".options", ".option", ".save", ".print", ".title", ".width")
_FUNCTIONS = {"exp", "sqrt", "sinh", "cosh", "tanh", "log"}


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
    """A SPICE number with an optional SI suffix (``1k``, ``2.2MEG``, ``10uF``, ``1e-3``)."""
    try:
        value = float(text)  # fast path: plain numbers (everything memcosim writes)
        if value == value and abs(value) != float("inf"):
            return value
    except ValueError:
        pass
    match = _VALUE.match(text.strip().lower())
    if not match:
        raise NetlistError(f"line {line_no}: not a SPICE number: {text!r}")
    return float(match.group(1)) * _SCALE.get(match.group(2), 1.0)


def _ground(node):
    return "0" if node in ("0", "gnd") else node


def _logical_lines(text):
    """(line number, text) with comments removed and ``+`` continuations joined."""
    raw_lines = text.splitlines()
    if ";" not in text and "$" not in text and not re.search(r"^\s*\+", text, re.MULTILINE):
        # fast path: no inline comments, no continuations
        stripped = [line.strip() for line in raw_lines]
        return [(1, raw_lines[0].rstrip() if raw_lines else "")] + [
            (k, line) for k, line in enumerate(stripped[1:], 2) if line and line[0] != "*"
        ]
    out = []
    for number, raw in enumerate(raw_lines, 1):
        line = raw.rstrip()
        if number == 1:
            out.append((number, line))  # the title line, whatever it holds
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("*"):
            continue
        if ";" in stripped or "$" in stripped:
            for mark in (";", " $", "\t$"):
                pos = stripped.find(mark)
                if pos >= 0:
                    stripped = stripped[:pos].rstrip()
        if not stripped:
            continue
        if stripped.startswith("+"):
            if len(out) <= 1:
                raise NetlistError(f"line {number}: continuation '+' with no card before it")
            prev_no, prev = out[-1]
            out[-1] = (prev_no, prev + " " + stripped[1:].strip())
        else:
            out.append((number, stripped))
    return out


def _dc_value(parts, line_no, name):
    """Value of a V/I card: ``value`` or ``DC value``; transient/AC specs are errors."""
    rest = parts[3:]
    if not rest:
        raise NetlistError(f"line {line_no}: {name} has no value")
    if rest[0].lower() == "dc":
        rest = rest[1:]
    if len(rest) != 1 or "(" in rest[0]:
        raise NetlistError(
            f"line {line_no}: {name}: only DC values are supported by the native engine, got {' '.join(parts[3:])!r}"
        )
    return parse_value(rest[0], line_no)


class _TemplateCheck(ast.NodeVisitor):
    def __init__(self, line_no):
        self.line_no = line_no

    def generic_visit(self, node):
        allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Name, ast.Load, ast.Call, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
        if not isinstance(node, allowed):
            raise NetlistError(f"line {self.line_no}: unsupported construct in B expression ({type(node).__name__})")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            raise NetlistError(f"line {self.line_no}: B expression calls an unsupported function; allowed: {sorted(_FUNCTIONS)}")
        if isinstance(node, ast.Name) and not (node.id == "_v" or re.fullmatch(r"c\d+", node.id) or node.id in _FUNCTIONS):
            raise NetlistError(f"line {self.line_no}: unknown name {node.id!r} in B expression")
        super().generic_visit(node)


def _b_element(parts, line_no):
    name, a, b = parts[0].lower(), _ground(parts[1].lower()), _ground(parts[2].lower())
    spec = "".join(parts[3:])
    match = re.fullmatch(r"(?i)i=\{?(.+?)\}?", spec)
    if not match:
        raise NetlistError(f"line {line_no}: {parts[0]}: only current B sources 'I={{expr}}' are supported natively")
    expr = match.group(1).lower()

    def voltage(m):
        refs = tuple(_ground(x.strip()) for x in m.group(1).split(","))
        own = (a, b) if b != "0" else (a,)
        if refs not in ((a, b), own):
            raise NetlistError(
                f"line {line_no}: {parts[0]}: the native engine supports B expressions of V({a},{b}) only, got V({m.group(1)})"
            )
        return "_v"

    expr = re.sub(r"v\(([^()]*)\)", voltage, expr)
    constants = []

    def number(m):
        constants.append(float(m.group(0)))
        return f"c{len(constants) - 1}"

    template = re.sub(r"(?<![a-z_0-9.])(\d+\.?\d*|\.\d+)(e[+-]?\d+)?(?![a-z_0-9(])", number, expr).replace("^", "**")
    try:
        tree = ast.parse(template, mode="eval")
    except SyntaxError:
        raise NetlistError(f"line {line_no}: {parts[0]}: cannot parse expression {match.group(1)!r}") from None
    _TemplateCheck(line_no).visit(tree)
    return Element("b", name, (a, b), 0.0, template, tuple(constants), line_no)


def parse_deck(text):
    """Parse deck text into elements.

    Returns
    -------
    ParsedDeck

    Raises
    ------
    NetlistError
        An unsupported element or control line, a malformed card or a duplicate name; the
        message names the line.
    """
    lines = _logical_lines(text)
    if not lines:
        raise NetlistError("empty deck")
    deck = ParsedDeck(title=lines[0][1])
    names = set()
    for line_no, line in lines[1:]:
        parts = line.split()  # original case, for messages
        low = line.lower().split()
        head = low[0]
        if head.startswith("."):
            if head == ".end":
                break
            if head == ".op":
                deck.analysis = "op"
            elif head not in _IGNORED:
                raise NetlistError(f"line {line_no}: {parts[0]} is not supported by the native engine (DC .op decks only)")
            continue
        kind = head[0]
        if kind not in "rvib":
            raise NetlistError(
                f"line {line_no}: element {parts[0]!r} ({kind.upper()}) is not supported by the native engine; use ngspice"
            )
        if head in names:
            raise NetlistError(f"line {line_no}: duplicate element name {parts[0]!r}")
        names.add(head)
        if len(parts) < 4:
            raise NetlistError(f"line {line_no}: {parts[0]} needs two nodes and a value")
        if kind == "b":
            deck.elements.append(_b_element(parts, line_no))
            continue
        nodes = (_ground(low[1]), _ground(low[2]))
        if kind == "r":
            if len(parts) != 4:
                raise NetlistError(f"line {line_no}: {parts[0]}: expected 'R n1 n2 value'")
            value = parse_value(parts[3], line_no)
            if value == 0:
                raise NetlistError(f"line {line_no}: {parts[0]}: zero resistance")
            if not abs(1.0 / value) < float("inf") or abs(value) > 1e300:
                raise NetlistError(f"line {line_no}: {parts[0]}: resistance {parts[3]} is out of floating-point range "
                                   "(|R| must lie in [1e-300, 1e300] ohms)")
        else:
            value = _dc_value(parts, line_no, parts[0])
        deck.elements.append(Element(kind, head, nodes, value, line=line_no))
    return deck
