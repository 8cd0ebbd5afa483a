"""The optimizer over crossbar layers: each step becomes programming pulses.

:class:`CrossbarSGD` is ``torch.optim.SGD`` (no momentum) for every ordinary parameter
(digital biases, layers left in floating point) and, for the weight of each
:class:`~memcosim.training.layers.CrossbarLinear`, calls the layer's update rule
(``tile.update``, :mod:`memcosim.training.rules`): ``rule.step(layer, lr)`` turns the gradient
into pulses, then the layer's weight is refreshed from its conductances. After the step every
ledger the layers book in (:func:`~memcosim.training.conversion.attach_ledger`) counts one update.
"""

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.training.conversion import crossbar_layers

__all__ = ["CrossbarSGD"]


class CrossbarSGD(torch.optim.Optimizer):
    """SGD whose steps on crossbar weights are pulses.

    Parameters
    ----------
    model : nn.Module
        The model (with its :class:`~memcosim.training.layers.CrossbarLinear` layers). The
        optimizer walks its modules at every step to find the crossbar weights, so a deep copy
        or an unpickled model trains like the original (nothing ties a parameter to its layer).
    lr : float
        Learning rate.

    A crossbar layer steps when its weight has a gradient or, for an update made of stochastic
    trains (which needs none, so none is formed), when a forward and backward pass saved its
    inputs and output gradients.
    """

    def __init__(self, model, lr):
        if not isinstance(model, nn.Module):
            raise ConfigError(f"model: CrossbarSGD takes the model (an nn.Module) so it can find its crossbar layers, "
                              f"got {type(model).__name__}; pass the model, not model.parameters()")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ConfigError(f"lr: must be > 0, got {lr!r}")
        super().__init__(model.parameters(), {"lr": lr})
        self.model = model

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        found = crossbar_layers(self.model)
        layers = {id(layer.weight): layer for layer in found}
        for group in self.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                layer = layers.get(id(p))
                if p.grad is None and (layer is None or not layer.has_saved()):
                    continue
                if layer is not None:
                    layer.tile.update.step(layer, lr)
                    layer.sync_weight()
                else:
                    p.add_(p.grad, alpha=-lr)
        for ledger in {id(layer.ledger): layer.ledger for layer in found if layer.ledger is not None}.values():
            ledger.end_update()
        return loss
