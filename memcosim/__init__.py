"""memcosim: circuit-level co-simulation for training neural networks on memory crossbars.

Pipeline (data flows one way): ``memcosim.devices`` (compact models) -> ``memcosim.netlist``
(SPICE decks) -> ``memcosim.circuits`` (ngspice and the native solver, characterisation) ->
``memcosim.training`` (PyTorch crossbar layers) -> the face (CLI, study files, runner, report).
``memcosim.base`` (errors, seeded streams, atomic writes) sits under every layer.

The library API (:mod:`memcosim.api`) is reachable from here — ``memcosim.load_study``,
``memcosim.characterize``, ``memcosim.tile_config``, ``memcosim.train`` — and imported only
when first used, so ``import memcosim.devices`` stays light.
"""

from importlib.metadata import PackageNotFoundError, version

from memcosim.base.errors import CalibrationError, ConfigError, MemcosimError, NetlistError, SimulationError
from memcosim.base.reproducible import request_strict_blas

request_strict_blas()  # before torch's first matrix product: GEMMs independent of the thread count

try:
    __version__ = version("memcosim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

_API = ("load_study", "parse_study", "characterize", "tile_config", "train_config", "train")

__all__ = ["__version__", "MemcosimError", "ConfigError", "NetlistError", "SimulationError", "CalibrationError", *_API]


def __getattr__(name):
    if name in _API:
        from memcosim import api

        return getattr(api, name)
    raise AttributeError(f"module 'memcosim' has no attribute {name!r}")
