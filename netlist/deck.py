"""SPICE decks as text: elements rendered in declaration order, names made safe.

A :class:`Deck` collects element cards, model cards, analyses and measurements and renders
them deterministically (same calls, same bytes). Everything a user can name passes through
:func:`safe_name` (element and node names: a restricted alphabet, or an error) or
:func:`safe_text` (comments and titles: control characters and line breaks removed), so no
input can become a SPICE control line such as ``.control`` or ``shell``.

Examples
--------
>>> deck = Deck("divider")
>>> deck.add("V1", ["in", "0"], "DC 1.0")
>>> deck.add("R1", ["in", "0"], 1000.0)
>>> deck.analysis(".op")
>>> print(deck.render().splitlines()[-3])
R1 in 0 1000.0
"""

import math
import re

from memcosim.base.errors import NetlistError

__all__ = ["Deck", "safe_name", "safe_text", "spice_number"]

_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_name(name, what="name"):
    """Return ``name`` if it is a safe SPICE identifier, else raise :class:`NetlistError`.

    Safe: 1 to 64 of ``A-Z a-z 0-9 _``. No dots, spaces, line breaks or operators, so a name can
    never start a control line or split a card.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise NetlistError(f"{what}: {name!r} is not a safe SPICE name (1-64 of A-Z a-z 0-9 _)")
    return name


def safe_text(text, limit=200):
    """One line of inert comment text: control characters and line breaks become spaces."""
    cleaned = _CONTROL.sub(" ", str(text)).strip()
    return cleaned[:limit]


def spice_number(value, what="value"):
    """A float as plain SPICE text (``repr`` of a Python float: shortest round-trip form)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NetlistError(f"{what}: not a number: {value!r}") from None
    if not math.isfinite(number):
        raise NetlistError(f"{what}: must be finite, got {number!r}")
    return repr(number)


class Deck:
    """An ordered SPICE deck.

    Parameters
    ----------
    title : str
        First line of the deck (made inert with :func:`safe_text`).
    """

    def __init__(self, title):
        self.title = safe_text(title) or "memcosim deck"
        self._header = []
        self._cards = []
        self._names = set()
        self._tail = []

    def comment(self, text):
        """Add a ``*`` comment line (inert)."""
        self._cards.append("* " + safe_text(text))

    def header(self, text):
        """Add a comment to the header block under the title."""
        self._header.append("* " + safe_text(text))

    def add(self, name, nodes, value):
        """Add an element card ``name node... value``.

        Parameters
        ----------
        name : str
            Element name; its first letter is the SPICE element type (R, C, V, I, B, M, X).
        nodes : sequence of str
            Node names (``0`` is ground).
        value : float or str
            A number (rendered plainly) or the already-rendered rest of the card (only
            built by memcosim from numbers and safe names).

        Raises
        ------
        NetlistError
            Unsafe or duplicate name, unsafe node.
        """
        safe_name(name, "element name")
        key = name.lower()
        if key in self._names:
            raise NetlistError(f"element name: duplicate {name!r}")
        for node in nodes:
            safe_name(node, f"node of {name}")
        text = spice_number(value, f"value of {name}") if isinstance(value, (int, float)) else str(value)
        if "\n" in text or "\r" in text:
            raise NetlistError(f"value of {name}: line break in card text")
        self._names.add(key)
        self._cards.append(" ".join([name, *nodes, text]))

    def raw(self, line):
        """Add a memcosim-built line (model cards, subcircuit lines); one line, no control words."""
        if "\n" in line or "\r" in line or re.match(r"^\s*\.(control|endc)", line, re.IGNORECASE):
            raise NetlistError(f"raw line refused: {line!r}")
        self._cards.append(line)

    def analysis(self, line):
        """Add an analysis or option line (``.op``, ``.tran ...``, ``.options ...``, ``.meas ...``)."""
        if not re.match(r"^\.(op|tran|options|meas|save|print)\b", line, re.IGNORECASE):
            raise NetlistError(f"analysis line refused: {line!r}")
        self.raw(line)

    @property
    def element_names(self):
        return frozenset(self._names)

    def cards(self):
        """The element and model lines, in declaration order."""
        return list(self._cards)

    def render(self):
        """The deck text (ends with ``.end`` and a newline)."""
        return "\n".join([self.title, *self._header, *self._cards, ".end"]) + "\n"
