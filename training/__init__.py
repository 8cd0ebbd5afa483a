"""Training on crossbars: pulsed updates through device models, with an energy ledger.

* :class:`CrossbarLinear` — drop-in for ``nn.Linear`` whose weights are device conductances;
  :func:`convert` returns a copy of a model with every ``nn.Linear`` swapped.
* :class:`TileConfig` — a device and its sub-configs: update rule (:class:`MixedPrecision`,
  :class:`AnalogSGD`, :class:`SymmetryShift`, :class:`TikiTaka`), :class:`MappingConfig`, :class:`ReadConfig`,
  :class:`ArrayConfig`, :class:`EnergyConfig`.
* :class:`CrossbarSGD` — the optimizer: calls each crossbar layer's update rule.
* :class:`EnergyLedger` — every pulse and read costed with the fitted circuit models.
* :func:`~memcosim.training.trainer.train` (``memcosim train``) — datasets, epochs, checkpoints, results.
"""

from memcosim.training.layers import CrossbarLinear, attach_ledger, convert, crossbar_layers
from memcosim.training.ledger import EnergyLedger, WriteEnergyTable
from memcosim.training.optim import CrossbarSGD
from memcosim.training.pulsed import HZOPulsed, LinearPulsed, MeasuredPulsed, pulsed_device
from memcosim.training.rules import AnalogSGD, MixedPrecision, SymmetryShift, TikiTaka, UpdateRule
from memcosim.training.tile import ArrayConfig, EnergyConfig, MappingConfig, ReadConfig, TileConfig

__all__ = [
    "CrossbarLinear",
    "TileConfig",
    "MappingConfig",
    "ReadConfig",
    "ArrayConfig",
    "EnergyConfig",
    "UpdateRule",
    "MixedPrecision",
    "AnalogSGD",
    "SymmetryShift",
    "TikiTaka",
    "convert",
    "crossbar_layers",
    "attach_ledger",
    "CrossbarSGD",
    "EnergyLedger",
    "WriteEnergyTable",
    "HZOPulsed",
    "MeasuredPulsed",
    "LinearPulsed",
    "pulsed_device",
]
