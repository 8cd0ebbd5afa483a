"""Training on crossbars: pulsed updates through device models, with an energy ledger.

* :class:`CrossbarLinear`, :class:`CrossbarConv1d`, :class:`CrossbarConv2d` — drop-ins for
  ``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` whose weights are device conductances (a convolution
  unrolled onto the array); all work with the default tile: ``CrossbarConv2d(1, 6, 5)``.
* :func:`convert` — a copy of any model with its layers on crossbars, through a conversion map
  (``mapping={nn.Linear: CrossbarLinear, ...}``) and per-layer tiles (``tile_for``).
* :class:`TileConfig` — a device with its :class:`PulseConfig` and the sub-configs: update rule
  (:class:`MixedPrecision`, :class:`AnalogSGD`, :class:`SymmetryShift`, :class:`TikiTaka`),
  :class:`MappingConfig`, :class:`ReadConfig`, :class:`ArrayConfig`, :class:`EnergyConfig`;
  ``TileConfig()`` is the default tile.
* :class:`CrossbarSGD` — the optimizer: calls each crossbar layer's update rule.
* :class:`EnergyLedger` — every pulse and read costed with the fitted circuit models;
  :func:`attach_ledger` attaches it.
* :func:`~memcosim.training.trainer.train` (``memcosim train``) — datasets, epochs, checkpoints, results.
"""

from memcosim.training.conv import CrossbarConv1d, CrossbarConv2d
from memcosim.training.conversion import DEFAULT_MAPPING, attach_ledger, convert, crossbar_layers, digital_layers
from memcosim.training.layers import CrossbarLayer, CrossbarLinear
from memcosim.training.ledger import EnergyLedger, WriteEnergyTable
from memcosim.training.optim import CrossbarSGD
from memcosim.training.pulsed import HZOPulsed, LinearPulsed, PulseConfig
from memcosim.training.pulsed_measured import MeasuredPulsed
from memcosim.training.rules import AnalogSGD, MixedPrecision, SymmetryShift, TikiTaka, UpdateRule
from memcosim.training.tile import ArrayConfig, EnergyConfig, MappingConfig, ReadConfig, TileConfig

__all__ = [
    "CrossbarLayer",
    "CrossbarLinear",
    "CrossbarConv1d",
    "CrossbarConv2d",
    "TileConfig",
    "PulseConfig",
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
    "DEFAULT_MAPPING",
    "crossbar_layers",
    "digital_layers",
    "attach_ledger",
    "CrossbarSGD",
    "EnergyLedger",
    "WriteEnergyTable",
    "HZOPulsed",
    "MeasuredPulsed",
    "LinearPulsed",
]
