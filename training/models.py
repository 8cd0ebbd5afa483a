"""The networks a study trains: an MLP, LeNet-5, or a model of the user's own (``module:function``).

:class:`ModelSpec` names the network (a study file's ``[model]`` section); :func:`build_model`
builds it in floating point from the seed, before :func:`~memcosim.training.conversion.convert`
puts its layers on crossbars. An MLP takes the flat feature vectors; every other network takes
the images, ``(batch, *image_shape)``.

* ``mlp`` — ``training.hidden_sizes`` with ``training.activation`` between the layers
  (:func:`~memcosim.training.trainer.build_mlp`, unchanged);
* ``lenet5`` — aihwkit's LeNet-5 of its MNIST example: two convolutions (``channels``, kernel
  ``kernel_size``, stride 1, no padding) each followed by the activation and a 2 x 2 max pool, then
  the fully connected ``hidden_sizes`` and the output layer;
* ``package.module:function`` — ``function(input_shape, n_classes)`` returns any ``nn.Module``
  (imported from the Python path; its initialisation runs under a seeded torch generator).

:func:`step_bytes` estimates the peak memory of a training step of any of them from its shapes
(a forward pass on the ``meta`` device, nothing allocated).
"""

import importlib
import math
import re
from dataclasses import dataclass

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import stream_seed
from memcosim.training.conv import conv_step_bytes

__all__ = ["ModelSpec", "build_model", "lenet5", "step_bytes", "ENTRY_POINT", "BUILTIN"]

BUILTIN = ("mlp", "lenet5")
ENTRY_POINT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
"""``package.module:function``."""

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


@dataclass(frozen=True)
class ModelSpec:
    """Which network a study trains (the ``[model]`` section)."""

    kind: str = "mlp"
    """``mlp``, ``lenet5`` or a Python entry point ``package.module:function``."""
    channels: tuple = (16, 32)
    """``lenet5``: output channels of its two convolutions."""
    kernel_size: int = 5
    """``lenet5``: the side of its square kernels."""

    def __post_init__(self):
        if not (self.kind in BUILTIN or (isinstance(self.kind, str) and ENTRY_POINT.match(self.kind))):
            raise ConfigError(f"model.kind: got {self.kind!r}; allowed: mlp, lenet5, or 'package.module:function'")
        if not (isinstance(self.channels, tuple) and len(self.channels) == 2
                and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in self.channels)):
            raise ConfigError(f"model.channels: two integers >= 1, got {self.channels!r}")
        if not (isinstance(self.kernel_size, int) and not isinstance(self.kernel_size, bool) and self.kernel_size >= 1):
            raise ConfigError(f"model.kernel_size: an integer >= 1, got {self.kernel_size!r}")

    @property
    def takes_images(self):
        """Whether the network takes images ``(batch, *image_shape)`` (every kind but ``mlp``)."""
        return self.kind != "mlp"


def lenet5(image_shape, n_classes, channels=(16, 32), kernel_size=5, hidden_sizes=(128,), activation="tanh"):
    """aihwkit's LeNet-5 (its MNIST example: 16 and 32 channels, 5 x 5 kernels, 512 -> 128 -> 10, tanh).

    Raises
    ------
    ConfigError
        The images are too small for two convolutions and pools of this size.
    """
    c, h, w = image_shape
    act = _ACTIVATIONS[activation]
    side = [h, w]
    for _ in range(2):
        side = [(s - kernel_size + 1) // 2 for s in side]
    if min(side) < 1:
        raise ConfigError(f"model.kernel_size: {kernel_size} x {kernel_size} kernels and two 2 x 2 pools do not fit "
                          f"{h} x {w} images (lenet5 needs MNIST-sized inputs)")
    layers = [nn.Conv2d(c, channels[0], kernel_size), act(), nn.MaxPool2d(2),
              nn.Conv2d(channels[0], channels[1], kernel_size), act(), nn.MaxPool2d(2), nn.Flatten()]
    width = channels[1] * side[0] * side[1]
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), act()]
        width = size
    return nn.Sequential(*layers, nn.Linear(width, n_classes))


def _entry_point(kind):
    module_name, function = kind.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"model.kind: cannot import {module_name!r} ({exc}); it must be on the Python path") from None
    make = getattr(module, function, None)
    if not callable(make):
        raise ConfigError(f"model.kind: {module_name!r} has no function {function!r}")
    return make


def build_model(spec, image_shape, n_classes, hidden_sizes, activation, seed):
    """The floating-point network of ``spec``, initialised from the stream ``seed``/"init/model" (an MLP
    from ``seed``/"init/mlp", as :func:`~memcosim.training.trainer.build_mlp` always did)."""
    if spec.kind == "mlp":
        from memcosim.training.trainer import build_mlp

        return build_mlp(math.prod(image_shape), hidden_sizes, n_classes, activation, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(stream_seed(seed, "init/model"))
        if spec.kind == "lenet5":
            return lenet5(image_shape, n_classes, spec.channels, spec.kernel_size, tuple(hidden_sizes), activation)
        model = _entry_point(spec.kind)(input_shape=tuple(image_shape), n_classes=n_classes)
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model.kind: {spec.kind} returned a {type(model).__name__}, not an nn.Module")
    return model


_BYTES_PER_WEIGHT = 200
"""Latent weights, conductances of both devices, spread, state, gradient, accumulator (as memcosim.budget)."""


def step_bytes(model, input_shape, batch):
    """Estimated peak bytes of a training step of ``model`` on crossbars: every weight's state, and for
    every layer the activations of ``batch`` inputs (a convolution: :func:`conv_step_bytes` of its patches).

    The shapes come from a forward pass on the ``meta`` device (nothing is allocated); ``model``
    itself is not changed.
    """
    import copy

    sizes = []

    def hook(module, args, out):
        x = args[0]
        if isinstance(module, nn.modules.conv._ConvNd):
            rows = module.in_channels // module.groups * math.prod(module.kernel_size)
            sizes.append(conv_step_bytes(x.shape[0], math.prod(out.shape[2:]), rows, module.out_channels))
        elif isinstance(module, nn.Linear):
            sizes.append(6 * 4 * x.numel() + 4 * 4 * out.numel())

    meta = copy.deepcopy(model).to("meta")
    handles = [m.register_forward_hook(hook) for m in meta.modules() if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd))]
    try:
        with torch.no_grad():
            meta(torch.empty((batch, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    weights = sum(p.numel() for p in model.parameters())
    return _BYTES_PER_WEIGHT * weights + sum(sizes)
