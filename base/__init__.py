"""The base every layer may use: one error family, seeded random streams, atomic writes.

``memcosim.base`` imports nothing of memcosim; every layer (devices, netlist, circuits,
training) and the face (CLI, study schema, runner, report) may import it.
"""

from memcosim.base.errors import CalibrationError, ConfigError, MemcosimError, NetlistError, SimulationError

__all__ = ["MemcosimError", "ConfigError", "NetlistError", "SimulationError", "CalibrationError"]
