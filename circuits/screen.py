"""Screening of user decks before ngspice sees them: nothing in an input file is executed.

ngspice runs ``.control ... .endc`` blocks (and a file whose first line is ``*ng_script``) as
commands — ``shell`` among them — and reads any file a ``.include`` or ``.lib`` names. A deck
given to ``memcosim solve`` is a *circuit*, so :func:`screen_dc_deck` refuses, with a
:class:`~memcosim.base.errors.NetlistError` naming the line:

* control blocks, scripts and command lines (``.control``, ``.endc``, ``*ng_script``, ``shell``,
  and dot cards that are not circuit description: ``.exec``, ``.csparam``, ...);
* ``.lib`` (a library section) and ``.include`` of a file outside the deck's folder; an
  ``.include`` inside it is *inlined* after being screened the same way (at most 8 deep), so
  ngspice never opens a file that was not screened;
* analyses other than ``.op`` (a ``.tran`` deck solved as its t = 0 point would be a wrong
  answer), and ``.meas``;
* resistors of zero or missing value, and V/I sources without a value (ngspice accepts both
  and reports meaningless currents).

Nothing is stripped silently: a deck either passes unchanged (includes inlined) or is refused.
"""

import re
from pathlib import Path

from memcosim.base.errors import NetlistError
from memcosim.circuits.spice_parser import parse_value

__all__ = ["screen_dc_deck"]

_CIRCUIT_CARDS = {".title", ".op", ".end", ".model", ".subckt", ".ends", ".param", ".options", ".option", ".global",
                  ".temp", ".save", ".func", ".print", ".width", ".include", ".inc", ".nodeset", ".ic"}
_ANALYSES = {".tran", ".ac", ".dc", ".noise", ".tf", ".sens", ".pz", ".disto", ".four", ".pss", ".sp", ".meas",
             ".measure"}
_MAX_DEPTH = 8


def screen_dc_deck(text, deck_dir=None, source="deck"):
    """The deck text to run at DC, or :class:`NetlistError` naming the first refused line.

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
    str
        The deck with its includes inlined (otherwise unchanged).
    """
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise NetlistError(f"{source}: empty deck")
    if lines[0].strip().lower().startswith("*ng_script"):
        raise NetlistError(f"{source}:1: '*ng_script' makes the file an ngspice command script; solve takes a circuit")
    base = Path(deck_dir).resolve() if deck_dir is not None else None
    body = _screen_lines(lines[1:], base, source, first_line=2, depth=0)
    return "\n".join([lines[0]] + body) + "\n"


def _screen_lines(lines, base, source, first_line, depth):
    out = []
    for number, raw in enumerate(lines, first_line):
        line = raw.strip()
        words = line.split()
        if not words or line.startswith(("*", ";", "$", "+")):
            out.append(raw)
            continue
        head = words[0].lower()
        where = f"{source}:{number}"
        if head in (".control", ".endc") or head == "shell":
            raise NetlistError(f"{where}: {words[0]} would run ngspice commands; decks given to solve may not contain control blocks")
        if head in (".include", ".inc"):
            out.extend(_inline(words, base, where, depth))
            continue
        if head == ".lib":
            raise NetlistError(f"{where}: .lib is not supported for solve; put the models in the deck or .include a file beside it")
        if head in _ANALYSES:
            raise NetlistError(f"{where}: {words[0]}: solve computes a DC operating point (.op); other analyses are refused")
        if head.startswith(".") and head not in _CIRCUIT_CARDS:
            raise NetlistError(f"{where}: {words[0]} is not a circuit description card; allowed: {', '.join(sorted(_CIRCUIT_CARDS))}")
        if head[0] in "rvi":
            _check_value(words, where)
        out.append(raw)
    return out


def _inline(words, base, where, depth):
    if base is None:
        raise NetlistError(f"{where}: .include needs the deck's folder (give the deck as a file)")
    if len(words) < 2:
        raise NetlistError(f"{where}: .include names no file")
    if depth >= _MAX_DEPTH:
        raise NetlistError(f"{where}: .include nested deeper than {_MAX_DEPTH}")
    target = (base / words[1].strip("'\"")).resolve()
    if not target.is_relative_to(base):
        raise NetlistError(f"{where}: .include {words[1]} is outside the deck's folder {base}; refused")
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NetlistError(f"{where}: cannot read included file {target} ({exc})") from None
    body = _screen_lines(text.splitlines(), base, str(target), first_line=1, depth=depth + 1)
    return [f"* included from {words[1]}"] + body


def _check_value(words, where):
    name = words[0]
    if re.fullmatch(r"[rR]\S*", name):
        if len(words) < 4:
            raise NetlistError(f"{where}: {name}: a resistor needs 'R n1 n2 value'")
        value = words[3][2:] if words[3].lower().startswith("r=") else words[3]
        if not value.startswith("{") and parse_value(value) == 0:
            raise NetlistError(f"{where}: {name}: zero resistance (use a 0 V source for an ideal connection)")
        return
    values = [w for w in words[3:] if w.lower() != "dc"]
    if not values:
        raise NetlistError(f"{where}: {name}: a source needs a value")
