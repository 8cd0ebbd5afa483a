"""Any PyTorch model on crossbars: a conversion map, per-layer tiles, and the ledger.

:func:`convert` walks a model's ``named_children()`` (as aihwkit's ``convert_to_analog``) and
replaces every module that is an instance of a key of the conversion map by the crossbar layer
the map names, programmed to the module's present weights (``from_digital``). Subclasses match
(an ``nn.Linear`` subclass becomes a :class:`CrossbarLinear`); the most specific key wins. Each
layer may have its own tile (``tile_for(name, module)``; None leaves that layer digital). What
stays digital — layers the map does not name, ones ``tile_for`` declined, convolutions with
``groups > 1`` — is listed in one log line and by :func:`digital_layers`.

:func:`attach_ledger` is the one way a model's crossbar layers get an
:class:`~memcosim.training.ledger.EnergyLedger`; :class:`~memcosim.training.optim.CrossbarSGD`
counts an update in the ledgers of the layers it steps.
"""

import copy
import logging

from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.training.conv import CrossbarConv1d, CrossbarConv2d
from memcosim.training.layers import CrossbarLayer, CrossbarLinear
from memcosim.training.ledger import EnergyLedger
from memcosim.training.tile import TileConfig

__all__ = ["DEFAULT_MAPPING", "convert", "crossbar_layers", "digital_layers", "attach_ledger"]

log = logging.getLogger(__name__)

DEFAULT_MAPPING = {nn.Linear: CrossbarLinear, nn.Conv1d: CrossbarConv1d, nn.Conv2d: CrossbarConv2d}
"""The conversion map :func:`convert` uses by default: digital module type -> crossbar layer class."""


def crossbar_layers(model):
    """The :class:`CrossbarLayer` modules of ``model`` in definition order (Tiki-Taka's fast arrays included)."""
    return [m for m in model.modules() if isinstance(m, CrossbarLayer)]


def digital_layers(model):
    """``[(name, type name)]`` of the modules of ``model`` that hold their own parameters and are not on
    crossbars (a crossbar layer's digital bias is part of it)."""
    out, inside = [], set()
    for name, module in model.named_modules():
        if isinstance(module, CrossbarLayer):
            inside.update(id(m) for m in module.modules())
            continue
        if id(module) in inside:
            continue
        if any(True for _ in module.parameters(recurse=False)):
            out.append((name or type(module).__name__, type(module).__name__))
    return out


def attach_ledger(model, ledger=None):
    """Make every crossbar layer of ``model`` book its pulses, reads and periphery in ``ledger``.

    The one way to attach a ledger: pulses the layers made when they were programmed (the
    symmetry-point search) are booked in it too, and :class:`~memcosim.training.optim.CrossbarSGD`
    counts each step as one update in it.

    Parameters
    ----------
    model : nn.Module
    ledger : EnergyLedger, optional
        Default: a new one, on the device of the model's first crossbar layer.

    Returns
    -------
    EnergyLedger
    """
    layers = crossbar_layers(model)
    if ledger is None:
        ledger = EnergyLedger(layers[0].weight.device if layers else "cpu")
    if not isinstance(ledger, EnergyLedger):
        raise ConfigError(f"ledger: must be an EnergyLedger, got {type(ledger).__name__}")
    for layer in layers:
        layer.ledger = ledger
    return ledger


def _target(module, mapping):
    """The crossbar class of the most specific type of ``module`` in ``mapping`` (None: not mapped)."""
    for kind in type(module).__mro__:
        if kind in mapping:
            return mapping[kind]
    return None


def _why_digital(module):
    """Why a mapped module cannot go on crossbars (None: it can)."""
    if getattr(module, "groups", 1) != 1:
        return f"groups = {module.groups}"
    return None


def convert(model, tile=None, seed=0, *, mapping=None, tile_for=None, inplace=False):
    """A copy of ``model`` with its linear and convolution layers on crossbars.

    Parameters
    ----------
    model : nn.Module
    tile : TileConfig, optional
        The tile of every converted layer (default ``TileConfig()``).
    seed : int
        Seed of the layers' random streams (device spread, initial states, pulse noise); each
        layer's streams are named by its module path.
    mapping : dict, optional
        ``{digital type: crossbar class}`` (default :data:`DEFAULT_MAPPING`: ``nn.Linear``,
        ``nn.Conv1d``, ``nn.Conv2d``). A module is converted when it is an instance of a key
        (the most specific key of its type's MRO wins); the class's ``from_digital(module, tile,
        seed=, name=)`` builds the layer.
    tile_for : callable, optional
        ``tile_for(name, module) -> TileConfig or None``: each layer's own tile (None: leave it
        digital); default: ``tile`` for every layer.
    inplace : bool
        Convert ``model`` itself instead of a deep copy (as aihwkit's ``convert_to_analog``).

    Returns
    -------
    nn.Module
        The converted copy (``model`` itself with ``inplace=True``). :func:`digital_layers`
        lists what stayed digital.

    Examples
    --------
    >>> net = convert(nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10)))
    >>> [type(m).__name__ for m in net]
    ['CrossbarConv2d', 'Flatten', 'CrossbarLinear']
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model: convert takes an nn.Module, got {type(model).__name__}")
    mapping = DEFAULT_MAPPING if mapping is None else mapping
    if not isinstance(mapping, dict) or not all(isinstance(k, type) and hasattr(v, "from_digital")
                                                for k, v in mapping.items()):
        raise ConfigError("mapping: a dict {nn.Module subclass: crossbar layer class with from_digital}, got "
                          f"{mapping!r}")
    tile = TileConfig() if tile is None else tile
    if not isinstance(tile, TileConfig):
        raise ConfigError(f"tile: must be a TileConfig, got {type(tile).__name__}")
    if tile_for is not None and not callable(tile_for):
        raise ConfigError(f"tile_for: a function (name, module) -> TileConfig or None, got {type(tile_for).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    declined = {}

    def converted(name, module):
        target = _target(module, mapping)
        if target is None:
            return None
        why = _why_digital(module)
        if why is not None:
            declined[name] = why
            return None
        layer_tile = tile if tile_for is None else tile_for(name, module)
        if layer_tile is None:
            declined[name] = "tile_for gave None"
            return None
        if not isinstance(layer_tile, TileConfig):
            raise ConfigError(f"tile_for: must return a TileConfig or None, got {type(layer_tile).__name__} for {name!r}")
        return target.from_digital(module, layer_tile, seed=seed, name=name)

    root = converted(type(model).__name__.lower(), model)
    if root is not None:
        return root
    for path, module in list(model.named_modules()):
        if isinstance(module, CrossbarLayer):
            continue
        for child_name, child in list(module.named_children()):
            full = f"{path}.{child_name}" if path else child_name
            layer = converted(full, child)
            if layer is not None:
                setattr(module, child_name, layer)
    digital = [f"{name} ({kind}{': ' + declined[name] if name in declined else ''})"
               for name, kind in digital_layers(model)]
    if digital:
        log.info("convert: left digital: %s", ", ".join(digital))
    return model
