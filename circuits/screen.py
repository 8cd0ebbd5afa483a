"""Screening of user decks before either engine sees them: nothing in an input file is executed,
and what runs is what memcosim read.

ngspice runs ``.control ... .endc`` blocks (and a file whose first line is ``*ng_script``) as
commands — ``shell`` among them — and reads any file a ``.include``, ``.lib`` or an XSPICE model
(``filesource``) names. A deck given to ``memcosim solve`` is a *circuit*, so
:func:`read_circuit` refuses, with a :class:`~memcosim.base.errors.NetlistError` naming the line:

* control blocks, scripts and command lines (``.control``, ``.endc``, ``*ng_script``, ``shell``,
  and dot cards that are not circuit description: ``.exec``, ``.csparam``, ...);
* ``.lib`` and ``.include`` of a file outside the deck's folder; an ``.include`` inside it is
  *inlined* after being read like any input (:mod:`memcosim.base.files`: a regular file, at most 8
  deep), so ngspice never opens a file;
* analyses other than ``.op`` and ``.meas``; cards that change the DC answer in ways memcosim
  does not model (``.model``, ``.func``, ``.global``, ``.ic``, ``.nodeset``, ``.options`` other than
  tolerances: :data:`~memcosim.circuits.spice_parser.HARMLESS_OPTIONS`);
* elements other than R, V, I, B, C, L, E, F, G, H (linear forms) and X (subcircuits without
  parameters): every answer is checked against Kirchhoff's laws with memcosim's own reading of
  each element (:mod:`memcosim.circuits.answer_check`), which a diode, a transistor or an XSPICE
  ``A`` device (whose ``filesource`` reads files) would escape;
* what the shared reading refuses (:mod:`memcosim.circuits.spice_parser`): a value ngspice reads
  differently, a zero or out-of-range resistor (also through ``{...}`` or ``.param``), cards after
  ``.end``, a ``+`` after the title, non-ASCII cards, unknown names in expressions.

The deck ngspice runs is written from the cards as read: one line per card (continuations
joined, comments dropped, the title in ASCII), ``{...}`` values of R, V, I, C, L, E, F, G, H cards
replaced by their numbers, ``.op`` added when the deck has no analysis.
"""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from memcosim.base.errors import NetlistError
from memcosim.circuits.spice_parser import (b_source, check_nodes, check_options, element_value, element_value_of,
                                            logical_lines, read_params)

__all__ = ["screen_dc_deck", "read_circuit", "Circuit", "FlatElement"]

_CIRCUIT_CARDS = {".title", ".op", ".end", ".subckt", ".ends", ".param", ".options", ".option", ".temp", ".save",
                  ".print", ".width", ".include", ".inc"}
_ANALYSES = {".tran", ".ac", ".dc", ".noise", ".tf", ".sens", ".pz", ".disto", ".four", ".pss", ".sp", ".meas",
             ".measure"}
_UNMODELLED = {".model": "no element solve takes uses a model", ".func": "memcosim evaluates expressions itself",
               ".global": "subcircuit nodes are flattened by memcosim", ".ic": "it forces node voltages",
               ".nodeset": "it steers ngspice to one of several solutions", ".lib": "it reads library files"}
_ELEMENTS = "rvibclefghx"
_MAX_DEPTH = 8
_MAX_ELEMENTS = 10_000_000


@dataclass(frozen=True)
class FlatElement:
    """One element of the flattened circuit, as ngspice names it (``v1``, ``v.x1.v1``).

    ``kind``: r, v, i, c, l, e, f, g, h, or ``bi``/``bv`` (B current / voltage source);
    ``nodes``: (n+, n-); ``value``: ohms, volts, amperes, gain or transresistance (None for B);
    ``control``: the controlling nodes (E, G) or source name (F, H); ``expr``: a B source's
    :class:`~memcosim.circuits.spice_expr.Expression` with its references renamed like its nodes.
    """

    kind: str
    name: str
    nodes: tuple
    value: float = None
    control: tuple = ()
    expr: object = None
    where: str = ""


@dataclass(frozen=True)
class Circuit:
    """A screened deck: ``text`` (what ngspice runs), ``elements`` (flattened), ``nodes`` (every
    non-ground node, in order of appearance)."""

    text: str
    elements: tuple
    nodes: tuple


def screen_dc_deck(text, deck_dir=None, source="deck"):
    """The deck text ngspice runs at DC (:func:`read_circuit`), or :class:`NetlistError`."""
    return read_circuit(text, deck_dir, source).text


def read_circuit(text, deck_dir=None, source="deck"):
    """Screen, read and flatten a deck (module docstring).

    Parameters
    ----------
    text : str
        The deck (first line: title).
    deck_dir : str or Path, optional
        The folder of the deck file: ``.include`` may name files inside it (they are inlined).
        Without it every ``.include`` is refused.
    source : str
        Name of the deck for messages (its path).

    Returns
    -------
    Circuit
    """
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise NetlistError(f"{source}: empty deck")
    if lines[0].strip().lower().startswith("*ng_script"):
        raise NetlistError(f"{source}:1: '*ng_script' makes the file an ngspice command script; solve takes a circuit")
    base = Path(deck_dir).resolve() if deck_dir is not None else None
    raw, places = [lines[0]], [f"{source}:1"]
    _inline(lines[1:], base, source, 2, 0, raw, places)
    cards = logical_lines("\n".join(raw), locations=places)
    params = read_params(cards)
    top, subckts, out = _scopes(cards, params)
    elements = []
    _flatten(top, "", {}, subckts, elements, 0, params)
    _check_controls(elements)
    nodes = tuple(dict.fromkeys(n for e in elements for n in e.nodes + (e.control if e.kind in "eg" else ()) if n != "0"))
    title = "".join(c if c.isascii() and c.isprintable() else "?" for c in lines[0])
    if not any(card.split()[0].lower() == ".op" for _, card in cards[1:]):
        out.append(".op")
    return Circuit("\n".join([title] + out + [".end"]) + "\n", tuple(elements), nodes)


def _inline(lines, base, source, first_line, depth, raw, places):
    """Append the raw lines (includes inlined, after the checks of any input) and their locations."""
    from memcosim.base.files import read_text

    for number, line in enumerate(lines, first_line):
        where = f"{source}:{number}"
        words = line.split()
        head = words[0].lower() if words else ""
        if head in (".include", ".inc"):
            if base is None:
                raise NetlistError(f"{where}: .include needs the deck's folder (give the deck as a file)")
            if len(words) < 2:
                raise NetlistError(f"{where}: .include names no file")
            if depth >= _MAX_DEPTH:
                raise NetlistError(f"{where}: .include nested deeper than {_MAX_DEPTH}")
            target = (base / words[1].strip("'\"")).resolve()
            if not target.is_relative_to(base):
                raise NetlistError(f"{where}: .include {words[1]} is outside the deck's folder {base}; refused")
            body = read_text(target, f"file included at {where}", error=NetlistError, bytes_per_byte=200.0)
            raw.append(f"* included from {words[1]}")
            places.append(where)
            _inline(body.splitlines(), base, str(target), 1, depth + 1, raw, places)
            continue
        raw.append(line)
        places.append(where)


def _check_card(where, words):
    head = words[0].lower()
    if head in (".control", ".endc") or head == "shell":
        raise NetlistError(f"{where}: {words[0]} would run ngspice commands; decks given to solve may not contain "
                           "control blocks")
    if head in _ANALYSES:
        raise NetlistError(f"{where}: {words[0]}: solve computes a DC operating point (.op); other analyses are refused")
    if head in _UNMODELLED:
        raise NetlistError(f"{where}: {words[0]} is not supported by solve ({_UNMODELLED[head]})")
    if head.startswith("."):
        if head not in _CIRCUIT_CARDS:
            raise NetlistError(f"{where}: {words[0]} is not a circuit description card; allowed: "
                               f"{', '.join(sorted(_CIRCUIT_CARDS))}")
        if head in (".options", ".option"):
            check_options(words, where)
        return
    if head[0] not in _ELEMENTS:
        extra = " (XSPICE devices run code models, and filesource reads files)" if head[0] == "a" else ""
        raise NetlistError(f"{where}: element {words[0]!r} ({head[0].upper()}) is refused: solve checks every answer "
                           f"against its own reading of each element, which it has for R, V, I, B, C, L, E, F, G, H "
                           f"and X only{extra}")


def _scopes(cards, params):
    """``(top-level cards, {subckt name: (ports, cards)}, output lines)``; cards are ``(where, words)``."""
    top, subckts, out, current = [], {}, [], None
    for where, card in cards[1:]:
        words = card.split()
        _check_card(where, words)
        head = words[0].lower()
        if head == ".subckt":
            if current is not None:
                raise NetlistError(f"{where}: .subckt inside .subckt {current[0]}: define subcircuits at the top level")
            if len(words) < 3 or any("=" in w or w.lower() == "params:" for w in words):
                raise NetlistError(f"{where}: .subckt needs 'name node...' (subcircuit parameters are not supported)")
            name = words[1].lower()
            if name in subckts:
                raise NetlistError(f"{where}: subcircuit {words[1]} defined twice")
            current = (name, check_nodes(words[1:], len(words) - 2, where), [])
            out.append(card)
            continue
        if head == ".ends":
            if current is None:
                raise NetlistError(f"{where}: .ends without .subckt")
            subckts[current[0]] = (current[1], current[2])
            current = None
            out.append(card)
            continue
        if head == ".param" and current is not None:
            raise NetlistError(f"{where}: .param inside a subcircuit is not supported; put it at the top level")
        if head[0] != ".":
            words = _numeric(words, where, params)
            card = " ".join(words)
            (current[2] if current is not None else top).append((where, words))
        out.append(card)
    if current is not None:
        raise NetlistError(f"{current[2][0][0] if current[2] else 'deck'}: .subckt {current[0]} has no .ends")
    return top, subckts, out


def _numeric(words, where, params):
    """The card with its ``{...}`` value replaced by the number it evaluates to (R V I C L E F G H)."""
    kind = words[0][0].lower()
    at = {"e": 5, "g": 5, "f": 4, "h": 4}.get(kind, 3 if kind in "rclvi" else None)
    if at is None or len(words) <= at:
        return words
    if kind in "vi" and words[at].lower() == "dc":
        at += 1
    if at < len(words) and words[at].startswith("{"):
        words = list(words)
        words[at] = repr(element_value(words[at], where, params))
    return words


def _flatten(cards, path, ports, subckts, elements, depth, params):
    """Append the elements of ``cards`` (instance ``path``, ``ports``: local -> outer node) to ``elements``."""
    if depth > _MAX_DEPTH:
        raise NetlistError(f"{cards[0][0] if cards else 'deck'}: subcircuits nested deeper than {_MAX_DEPTH}")

    def node(n):
        return "0" if n == "0" else ports.get(n, f"{path}.{n}" if path else n)

    def name(local):
        return f"{local[0]}.{path}.{local}" if path else local

    seen = set()
    for where, words in cards:
        local = words[0].lower()
        if local in seen:
            raise NetlistError(f"{where}: duplicate element name {words[0]!r}")
        seen.add(local)
        kind = local[0]
        if kind == "x":
            if len(words) < 3 or words[-1].lower() not in subckts:
                raise NetlistError(f"{where}: {words[0]}: no subcircuit {words[-1]!r} defined in the deck")
            sub_ports, body = subckts[words[-1].lower()]
            given = check_nodes(words[:-1], len(words) - 2, where)
            if len(given) != len(sub_ports):
                raise NetlistError(f"{where}: {words[0]}: subcircuit {words[-1]} has {len(sub_ports)} nodes, got "
                                   f"{len(given)}")
            _flatten(body, f"{path}.{local}" if path else local, {p: node(g) for p, g in zip(sub_ports, given)},
                     subckts, elements, depth + 1, params)
            continue
        if len(elements) >= _MAX_ELEMENTS:
            raise NetlistError(f"{where}: more than {_MAX_ELEMENTS} elements after flattening the subcircuits")
        elements.append(_element(kind, words, where, node, name, params))


def _element(kind, words, where, node, name, params):
    """One card as a :class:`FlatElement` (nodes and names mapped into the instance)."""
    count = {"e": 4, "g": 4}.get(kind, 2)
    nodes = tuple(node(n) for n in check_nodes(words, count, where))
    if kind == "b":
        sort, expr = b_source(words, where, params)
        expr = dataclasses.replace(expr, voltages=tuple((node(a), node(b)) for a, b in expr.voltages),
                                   currents=tuple(name(c) for c in expr.currents))
        return FlatElement("b" + sort, name(words[0].lower()), nodes, expr=expr, where=where)
    if kind in "rvi":
        return FlatElement(kind, name(words[0].lower()), nodes, element_value_of(words, where, {}), where=where)
    if kind in "cl":
        if len(words) != 4:
            raise NetlistError(f"{where}: {words[0]}: expected '{kind.upper()} n1 n2 value'")
        return FlatElement(kind, name(words[0].lower()), nodes, element_value(words[3], where, {}), where=where)
    if kind in "eg":
        if len(words) != 6:
            raise NetlistError(f"{where}: {words[0]}: only the linear form '{kind.upper()} n+ n- nc+ nc- gain' is "
                               "supported")
        return FlatElement(kind, name(words[0].lower()), nodes[:2], element_value(words[5], where, {}), nodes[2:],
                           where=where)
    if len(words) != 5 or not re.fullmatch(r"[vV]\S*", words[3]):
        raise NetlistError(f"{where}: {words[0]}: only the linear form '{kind.upper()} n+ n- vsource value' is "
                           "supported (controlled by a V source)")
    return FlatElement(kind, name(words[0].lower()), nodes, element_value(words[4], where, {}), (name(words[3].lower()),),
                       where=where)


def _check_controls(elements):
    """F and H sources and ``i()`` in B expressions name a V source of the circuit."""
    sources = {e.name for e in elements if e.kind == "v"}
    for e in elements:
        wanted = e.control if e.kind in "fh" else e.expr.currents if e.expr is not None else ()
        for name in wanted:
            if name not in sources:
                raise NetlistError(f"{e.where}: {e.name}: {name!r} is not a V source of the circuit (F, H and i() "
                                   "take the current of a V source)")
