"""Training on crossbars: pulsed updates through device models, with an energy ledger.

* :class:`CrossbarLinear` — drop-in for ``nn.Linear`` whose weights are device conductances;
  :func:`convert` swaps every ``nn.Linear`` of a model.
* :class:`CrossbarSGD` — analog SGD, mixed-precision SGD and symmetry-point shifting.
* :class:`EnergyLedger` — every pulse and read costed with the fitted circuit models.
* :func:`train` (``memcosim train``) — datasets, epochs, checkpoints, results.
"""

from memcosim.training.layers import CrossbarLinear, TileConfig, attach_ledger, convert, crossbar_layers
from memcosim.training.ledger import EnergyLedger, WriteEnergyTable
from memcosim.training.optim import CrossbarSGD
from memcosim.training.pulsed import HZOPulsed, LinearPulsed, pulsed_device

__all__ = [
    "CrossbarLinear",
    "TileConfig",
    "convert",
    "crossbar_layers",
    "attach_ledger",
    "CrossbarSGD",
    "EnergyLedger",
    "WriteEnergyTable",
    "HZOPulsed",
    "LinearPulsed",
    "pulsed_device",
]
