"""One exception family for memcosim.

Every error a user can cause derives from :class:`MemcosimError`; the CLI turns each into a
one-line message and exit code 2. A message is one line always: a value the user gave is shown
by :func:`shown` (``repr`` when it holds a line break or another control character), and
``str()`` of a :class:`MemcosimError` escapes any control character left in its text.
"""

import re

__all__ = [
    "shown",
    "MemcosimError",
    "ConfigError",
    "NetlistError",
    "SimulationError",
    "CalibrationError",
]


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def shown(value):
    """``value`` as text for a one-line message: as given when it is printable, its ``repr`` when it
    holds a line break or another control character (so ``'x\\n.control'`` prints as one line)."""
    text = str(value)
    return repr(text) if _CONTROL.search(text) else text


class MemcosimError(Exception):
    """Base class of every error memcosim raises on purpose; its text is one line (module docstring)."""

    def __str__(self):
        text = super().__str__()
        return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text) if _CONTROL.search(text) \
            else text


class ConfigError(MemcosimError, ValueError):
    """A study file, spec or argument is invalid (names the field, the allowed range, the value)."""


class NetlistError(MemcosimError, ValueError):
    """A netlist cannot be built or parsed (names the element, node or line)."""


class SimulationError(MemcosimError, RuntimeError):
    """A circuit engine failed: missing ngspice, non-convergence, timeout, singular system."""


class CalibrationError(MemcosimError, ValueError):
    """Measured data cannot be read or fitted (names the file and line)."""
