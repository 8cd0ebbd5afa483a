"""One exception family for memcosim.

Every error a user can cause derives from :class:`MemcosimError`; the CLI turns each into a
one-line message and exit code 2.
"""

__all__ = [
    "MemcosimError",
    "ConfigError",
    "NetlistError",
    "SimulationError",
    "CalibrationError",
]


class MemcosimError(Exception):
    """Base class of every error memcosim raises on purpose."""


class ConfigError(MemcosimError, ValueError):
    """A study file, spec or argument is invalid (names the field, the allowed range, the value)."""


class NetlistError(MemcosimError, ValueError):
    """A netlist cannot be built or parsed (names the element, node or line)."""


class SimulationError(MemcosimError, RuntimeError):
    """A circuit engine failed: missing ngspice, non-convergence, timeout, singular system."""


class CalibrationError(MemcosimError, ValueError):
    """Measured data cannot be read or fitted (names the file and line)."""
