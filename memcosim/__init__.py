"""memcosim: circuit-level co-simulation for training neural networks on memory crossbars.

Pipeline (data flows one way): ``memcosim.devices`` (compact models) -> ``memcosim.netlist``
(SPICE decks) -> ``memcosim.circuits`` (ngspice and the native solver, characterisation) ->
``memcosim.training`` (PyTorch crossbar layers) -> report. This top-level module stays light:
it imports none of the layers.
"""

from importlib.metadata import PackageNotFoundError, version

from memcosim.base.errors import CalibrationError, ConfigError, MemcosimError, NetlistError, SimulationError

try:
    __version__ = version("memcosim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "MemcosimError",
    "ConfigError",
    "NetlistError",
    "SimulationError",
    "CalibrationError",
]
