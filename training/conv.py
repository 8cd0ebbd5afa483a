"""Convolutions on crossbars: the kernel unrolled onto the array, a patch per read.

A convolution of ``C`` input channels, ``O`` output channels and a kernel of ``k`` positions is
the matrix ``W (O, C k)`` — rows of the array are the input channels times the kernel positions
(channel-major, as ``weight.reshape(O, -1)`` and ``nn.functional.unfold`` order them), columns
the output channels, as aihwkit maps its ``AnalogConv1d/2d``. A layer larger than the physical
array is split into its tiles like any :class:`~memcosim.training.layers.CrossbarLayer`.

The forward pass unfolds the input into patches (one per output position and sample) and reads
the array once per patch through the tile's read path (IR-drop model, DACs and ADCs, read noise,
:meth:`CrossbarLayer.read`); every patch is one read in the ledger (array energy, drivers,
converters, sense). The weight gradient autograd gives is the update's outer product summed over
the batch *and* the output positions; each rule turns it into pulses as for a linear layer:
mixed precision accumulates it, deterministic SGD rounds it, and stochastic pulse trains treat
every patch as one more row of the update's bit-stream batch (``batch x positions`` samples,
applied one after another in hardware order, as aihwkit's pulsed update of a convolution does).

Memory: the unfolded patches ``(batch x positions, C k)`` are the largest thing a step holds;
:func:`conv_step_bytes` estimates a step at a few times them and a layer refuses (with the
estimate) a step over the memory budget (``MEMCOSIM_MEMORY_BUDGET_GB``) before unfolding.
"""

import math

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.memory import check_memory
from memcosim.training.layers import CrossbarLayer

__all__ = ["CrossbarConv1d", "CrossbarConv2d", "conv_step_bytes", "PATCH_COPIES"]

PATCH_COPIES = 6
"""A step holds at most about this many patch matrices' worth of float32 (the unfolded patches, their
contiguous copy kept for the weight gradient, the read energy's float64 copy, the input gradient
before it is folded back, and the stochastic update's bit masks): the factor of :func:`conv_step_bytes`."""


def conv_step_bytes(batch, positions, rows, cols, itemsize=4):
    """Estimated peak bytes of one training step of a crossbar convolution.

    ``PATCH_COPIES`` patch matrices of ``batch x positions`` patches of ``rows`` inputs, plus the
    outputs and their gradients (``batch x positions x cols``, a few copies).
    """
    return PATCH_COPIES * batch * positions * rows * itemsize + 4 * batch * positions * cols * itemsize


def _tuple(value, n, name, low):
    out = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if len(out) != n or not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in out):
        raise ConfigError(f"{name}: an integer >= {low} or {n} of them, got {value!r}")
    return out


class _CrossbarConvNd(CrossbarLayer):
    """The convolution of ``nd`` spatial dimensions (1 or 2) on a :class:`CrossbarLayer`."""

    nd = 0
    _digital = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", tile=None, *, seed=0, name="conv", initial_weight=None, device=None, dtype=None):
        nd, kind = self.nd, type(self).__name__
        for key, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ConfigError(f"{key}: {kind} needs an integer >= 1, got {value!r}")
        if groups != 1:
            raise ConfigError(f"groups: {kind} maps one group onto the array (groups = 1), got {groups!r}")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ConfigError(f"padding_mode: got {padding_mode!r}; allowed: zeros, reflect, replicate, circular")
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size", 1)
        self.stride = _tuple(stride, nd, "stride", 1)
        self.dilation = _tuple(dilation, nd, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ConfigError(f"padding: got {padding!r}; allowed: 'valid', 'same', or integers >= 0")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ConfigError(f"padding: 'same' needs stride 1, got stride {stride!r}")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd, "padding", 0)
        self.in_channels, self.out_channels, self.groups, self.padding_mode = in_channels, out_channels, 1, padding_mode
        rows = in_channels * math.prod(self.kernel_size)
        if initial_weight is not None:
            initial_weight = initial_weight.reshape(out_channels, rows)
        super().__init__(rows, out_channels, bias, tile, seed=seed, name=name, initial_weight=initial_weight,
                         device=device, dtype=dtype)

    @classmethod
    def from_digital(cls, module, tile=None, *, seed=0, name="conv"):
        """A crossbar convolution programmed to ``module``'s present kernel, with its bias and geometry
        (as aihwkit's ``AnalogConv2d.from_digital``)."""
        if not isinstance(module, cls._digital):
            raise ConfigError(f"module: {cls.__name__}.from_digital takes an {cls._digital.__name__}, got "
                              f"{type(module).__name__}")
        layer = cls(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                    module.dilation, module.groups, module.bias is not None, module.padding_mode, tile, seed=seed,
                    name=name, initial_weight=module.weight.detach(), device=module.weight.device,
                    dtype=module.weight.dtype)
        with torch.no_grad():
            if module.bias is not None:
                layer.bias.copy_(module.bias)
        return layer

    @property
    def kernel(self):
        """The weight as a kernel ``(out_channels, in_channels, *kernel_size)`` (a view)."""
        return self.weight.view(self.out_channels, self.in_channels, *self.kernel_size)

    def _pads(self):
        """``nn.functional.pad`` widths (last dimension first) and the padding left to ``unfold``."""
        if self.padding == "valid":
            return None, (0,) * self.nd
        if self.padding == "same":
            pads = []
            for k, d in zip(reversed(self.kernel_size), reversed(self.dilation)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return pads, (0,) * self.nd
        if self.padding_mode != "zeros" and any(self.padding):
            return [p for p in reversed(self.padding) for _ in range(2)], (0,) * self.nd
        return None, self.padding

    def patches(self, x):
        """The unfolded input: ``(batch, positions, in_features)`` patches and the output's spatial shape."""
        pads, padding = self._pads()
        if pads is not None:
            x = nn.functional.pad(x, pads, mode="constant" if self.padding_mode == "zeros" else self.padding_mode)
        if self.nd == 1:  # a 1-D convolution is a 2-D one of height 1
            x = x.unsqueeze(2)
            kernel, dilation, padding, stride = ((1, *self.kernel_size), (1, *self.dilation), (0, *padding),
                                                 (1, *self.stride))
        else:
            kernel, dilation, padding, stride = self.kernel_size, self.dilation, padding, self.stride
        spatial = tuple((size + 2 * p - d * (k - 1) - 1) // s + 1
                        for size, k, d, p, s in zip(x.shape[2:], kernel, dilation, padding, stride))
        if any(n < 1 for n in spatial):
            raise ConfigError(f"input: {tuple(x.shape[2:])} is smaller than the kernel {self.kernel_size} of layer "
                              f"{self.name!r} (dilation {self.dilation}, padding {self.padding})")
        batch, positions = x.shape[0], math.prod(spatial)
        check_memory(conv_step_bytes(batch, positions, self.in_features, self.out_features, x.element_size()),
                     f"a step of crossbar layer {self.name!r} on {batch} x {positions} patches of {self.in_features} "
                     "inputs", "use a smaller batch")
        cols = nn.functional.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)
        # (batch, positions, rows), contiguous: the one copy autograd keeps for the weight gradient
        return cols.transpose(1, 2).contiguous(), spatial[1:] if self.nd == 1 else spatial

    def forward(self, x):
        unbatched = x.dim() == self.nd + 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.dim() != self.nd + 2 or x.shape[1] != self.in_channels:
            raise ConfigError(f"input: {type(self).__name__} {self.name!r} takes (batch, {self.in_channels}, "
                              f"{', '.join('L' * self.nd) if self.nd == 1 else 'H, W'}) inputs, got {tuple(x.shape)}")
        patches, spatial = self.patches(x)
        y = self.read(patches)  # (batch, positions, out_channels): one read of the array per patch
        y = y.transpose(1, 2).reshape(x.shape[0], self.out_channels, *spatial)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, *([1] * self.nd))
        return y.squeeze(0) if unbatched else y

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")
        if any(d != 1 for d in self.dilation):
            text += f", dilation={self.dilation}"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return f"{text}, bias={self.bias is not None}, array={self.in_features} x {self.out_features}, " + self._tile_repr()


class CrossbarConv1d(_CrossbarConvNd):
    """A 1-D convolution on crossbar tiles; a drop-in for ``nn.Conv1d`` (``groups = 1``).

    Shape
    -----
    - Input: ``(N, C_in, L_in)`` or ``(C_in, L_in)``.
    - Output: ``(N, C_out, L_out)``, ``L_out`` as ``nn.Conv1d``'s.
    - ``weight``: ``(C_out, C_in * kernel_size)``, the array (:attr:`kernel` views it as the kernel).
    """

    nd = 1
    _digital = nn.Conv1d


class CrossbarConv2d(_CrossbarConvNd):
    """A 2-D convolution on crossbar tiles; a drop-in for ``nn.Conv2d`` (``groups = 1``).

    ``CrossbarConv2d(1, 6, 5)`` works with the default tile (:class:`~memcosim.training.tile.TileConfig`).

    Shape
    -----
    - Input: ``(N, C_in, H_in, W_in)`` or ``(C_in, H_in, W_in)``.
    - Output: ``(N, C_out, H_out, W_out)``, as ``nn.Conv2d``'s.
    - ``weight``: ``(C_out, C_in * kh * kw)``, the array (:attr:`kernel` views it as the kernel).

    Examples
    --------
    >>> conv = CrossbarConv2d(1, 6, 5)
    >>> conv(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 6, 24, 24])
    """

    nd = 2
    _digital = nn.Conv2d
