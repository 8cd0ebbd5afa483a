"""Converter precision of a crossbar read: DAC-quantised inputs, ADC-quantised and clipped outputs.

A read drives each input row through a DAC and digitises each column with an ADC.
:class:`~memcosim.training.io_config.IOConfig` gives their resolutions and ranges; :func:`quantize_input` and
:func:`quantize_output` are the two quantisers; :func:`converted_linear` is the whole read of a
layer, forward and backward (the transposed read that gives ``grad_x = grad_y W``), as
:class:`~memcosim.training.layers.CrossbarLinear` runs it when ``tile.io`` is not ideal.

Semantics (per sample, the last dimension is the feature dimension):

* **DAC.** The input vector is scaled to its absolute maximum (aihwkit's noise management
  ``ABS_MAX``), clipped to ``[-inp_bound, inp_bound]`` of that maximum and rounded to one of
  ``2^inp_bits - 1`` levels (mid-tread: zero is a level), ``step = inp_bound / (2^(inp_bits-1) - 1)``.
* **Array.** A layer wider than the physical array (``rows`` inputs per tile) is read tile by
  tile: each row tile's column outputs are digitised by their own ADCs and summed digitally.
  Read noise (``noise_std``) is added to each tile's column outputs before its ADC.
* **ADC.** The unit of the output is the *full-scale column output* of the read model,
  ``u = weight_max max|x|`` (one cell at the largest weight driven at the sample's full input,
  the unit of ``ReadConfig.noise_std``); a column output is clipped to ``[-out_bound u, out_bound u]``
  and rounded to one of ``2^out_bits - 1`` levels.
* **Backward.** ``grad_x = grad_y W`` is the transposed read: ``grad_y`` through a DAC of
  ``backward_inp_bits`` (scaled to its own absolute maximum), the row outputs (tiles of ``cols``
  columns) through ADCs of ``backward_out_bits`` with the same ``inp_bound`` / ``out_bound``.
  The weight gradient ``grad_y^T x`` is exact (the update is digital or pulsed, not read).
* **Gradients** pass straight through every quantiser and clip (identity); with
  ``bound_gradient = "aihwkit"``, the gradient into a row tile's inputs is zero for every column
  whose final output from that tile (after bound management) reaches ``0.999 out_bound`` in the
  layer's own units (weight times input), aihwkit's ``handle_output_bound`` /
  ``get_forward_out_bound`` (``out_scale out_bound 0.999``, ``out_scale`` 1): a convention of the
  simulator, not a converter's derivative (it masks outputs that bound management has already
  rescaled, and applies with ``is_perfect`` too). The weight's update still sees the whole
  ``grad_y`` (aihwkit stores the unmasked gradient for its update).

Differences from aihwkit's ``IOParameters`` (``inp_res``, ``out_res``, ``inp_bound``,
``out_bound``, ``inp_noise``, ``out_noise``, ``noise_management``, ``bound_management``):

* resolution in bits, ``2^bits - 1`` levels; aihwkit's ``inp_res = 1 / (2^7 - 2)`` is
  ``inp_bits = 7`` here, ``out_res = 1 / (2^9 - 2)`` is ``out_bits = 9`` (same levels). None is an
  ideal converter: no rounding *and no clipping* (aihwkit clips to the bounds whatever the
  resolution);
* noise management is always ``ABS_MAX`` over the whole input vector of the layer (aihwkit: per
  analog tile, with the ``nm_thres`` saturation); ``inp_bound < 1`` plays the role of
  ``nm_thres``: it clips the largest inputs in favour of resolution;
* ``out_bound`` is in units of ``weight_max max|x|`` (aihwkit: of the normalised input times the
  weight, whose ``w_max`` is about 1, so aihwkit's default ``out_bound = 12`` means about the same);
* bound management off by default: clipped outputs stay clipped; ``bound_management =
  "iterative"`` is aihwkit's ``ITERATIVE`` default (a row tile whose output clips is read again
  with its input halved, until nothing clips or the halved input's resolution passes a quarter
  of its range, aihwkit's ``max_bm_res``);
* noise management over the whole input vector of the layer by default; ``noise_management =
  "tile"`` scales each row tile's input to its own largest value (aihwkit's ``ABS_MAX`` per
  analog tile); row tiles are ``rows`` inputs each (``split = "fill"``) or, as aihwkit's mapped
  layers, ``ceil(k / rows)`` tiles of nearly equal size (``split = "even"``);
* no input noise; output noise is ``ReadConfig.noise_std`` (aihwkit's ``out_noise``), drawn per
  row tile when a layer spans several, and ``backward_noise_std`` on the transposed read; an
  input vector that is all zero (a sample's, or a row tile's share of it under ``noise_management
  = "tile"``) is not read: its output is exactly zero, without noise, as aihwkit's noise
  management short-cuts it (``rpu_forward_backward_pass.cpp``: forward without input noise,
  backward always). This matters where zero vectors are common: the transposed read of a
  gradient masked by ``bound_gradient = "aihwkit"``, conv patches of an empty background;
* no stochastic rounding, asymmetry, non-linearity or ``out_scale``;
* the backward pass shares the bounds and has its own resolutions (aihwkit: a whole second
  ``IOParameters``).
"""

import torch
from torch import nn

from memcosim.base.reproducible import thread_invariant_mm
from memcosim.training.io_config import IOConfig  # noqa: F401  (its spec, named here too)

__all__ = ["IOConfig", "quantize_input", "quantize_output", "converted_linear"]

class _StraightThrough(torch.autograd.Function):
    """Mid-tread uniform quantiser with clipping: ``2^bits - 1`` levels on ``[-bound, bound]``; identity gradient."""

    @staticmethod
    def forward(ctx, x, bits, bound):
        top = 2 ** (bits - 1) - 1
        step = bound / top
        return torch.clamp(torch.round(x / step), -top, top) * step

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


def _abs_max(x):
    """Each sample's largest |x| (last dimension, kept), 1 where the sample is all zero."""
    peak = x.detach().abs().amax(dim=-1, keepdim=True)
    return torch.where(peak > 0, peak, torch.ones_like(peak))


def _is_read(x):
    """Whether each input vector (last dimension, kept) is read at all: an all-zero vector is not."""
    return (x.detach() != 0).any(dim=-1, keepdim=True)


def _read_noise(shape_of, read, noise_std, full_scale, generator):
    """Read noise of outputs ``shape_of``: ``noise_std full_scale randn``, zero where ``read``
    (:func:`_is_read` of the inputs, broadcastable) is False."""
    noise = torch.randn(shape_of.shape, generator=generator, dtype=shape_of.dtype, device=shape_of.device)
    return torch.where(read, noise_std * full_scale * noise, torch.zeros_like(noise))


def quantize_input(x, bits, bound=1.0):
    """DAC quantisation: each sample scaled to its largest |x|, clipped to ``bound`` of it, ``2^bits - 1`` levels.

    Parameters
    ----------
    x : torch.Tensor, shape ``(..., features)``
    bits : int or None
        Resolution; None returns ``x`` itself (an ideal DAC).
    bound : float
        Range, a fraction of each sample's largest |x|.

    Returns
    -------
    torch.Tensor
        The DAC's output in the units of ``x``; gradients pass straight through.

    Examples
    --------
    >>> quantize_input(torch.tensor([[1.0, 0.4, -0.2]]), 2)
    tensor([[1., 0., -0.]])
    """
    if bits is None:
        return x
    return _StraightThrough.apply(x, bits, bound * _abs_max(x))


def quantize_output(y, bits, bound, full_scale):
    """ADC quantisation: ``y`` clipped to ``[-bound full_scale, bound full_scale]``, ``2^bits - 1`` levels.

    Parameters
    ----------
    y : torch.Tensor
    bits : int or None
        Resolution; None returns ``y`` itself (an ideal ADC: no rounding, no clipping).
    bound : float
        Range in units of ``full_scale``.
    full_scale : float or torch.Tensor
        The unit of the range, broadcastable to ``y`` (per sample: ``weight_max max|x|``).

    Returns
    -------
    torch.Tensor
        The ADC's output in the units of ``y``; gradients pass straight through.
    """
    if bits is None:
        return y
    return _StraightThrough.apply(y, bits, bound * full_scale)


def _plain_read(x, w, inp_bits, out_bits, io, weight_max, tile_inputs, noise_std=0.0, generator=None):
    """``x W^T`` of ``x (n, k)`` and ``w (m, k)`` through DACs, row tiles of ``tile_inputs`` and ADCs: ``(n, m)``."""
    n, k = x.shape
    xq = quantize_input(x, inp_bits, io.inp_bound)
    tiles = -(-k // tile_inputs)
    if tiles == 1:
        parts = nn.functional.linear(xq, w)[:, None, :]
    else:  # each row tile's column outputs apart: (n, tiles, m)
        pad = tiles * tile_inputs - k
        parts = torch.einsum("ntc,mtc->ntm", nn.functional.pad(xq, (0, pad)).reshape(n, tiles, tile_inputs),
                             nn.functional.pad(w, (0, pad)).reshape(w.shape[0], tiles, tile_inputs))
    full_scale = (weight_max * _abs_max(x))[:, None, :]
    if noise_std > 0:
        parts = parts + _read_noise(parts, _is_read(x)[:, None, :], noise_std, full_scale, generator)
    return quantize_output(parts, out_bits, io.out_bound, full_scale).sum(dim=1)


def _split_sizes(k, tile_inputs, split):
    """Inputs per row tile: ``rows``-sized tiles and a remainder, or aihwkit's even split."""
    tiles = -(-k // tile_inputs)
    if split == "fill":
        return [min(tile_inputs, k - t * tile_inputs) for t in range(tiles)]
    base, extra = divmod(k, tiles)
    return [base + (t < extra) for t in range(tiles)]


def _tiled_read(x, w, inp_bits, out_bits, io, weight_max, tile_inputs, noise_std=0.0, generator=None):
    """``x W^T`` of ``x (n, k)`` and ``w (m, k)`` through DACs, row tiles and ADCs: ``(n, m)`` (module docstring)."""
    if io.plain:
        return _plain_read(x, w, inp_bits, out_bits, io, weight_max, tile_inputs, noise_std, generator)
    return _row_tile_reads(x, w, inp_bits, out_bits, io, weight_max, tile_inputs, noise_std, generator).sum(dim=1)


def _row_tile_reads(x, w, inp_bits, out_bits, io, weight_max, tile_inputs, noise_std=0.0, generator=None):
    """Each row tile's digitised column outputs, ``(n, tiles, m)``, of :func:`_tiled_read`'s read."""
    n, k = x.shape
    sizes = _split_sizes(k, tile_inputs, io.split)
    width = max(sizes)
    index = torch.cat([torch.arange(size) + t * width for t, size in enumerate(sizes)]).to(x.device)
    xt = x.new_zeros((n, len(sizes) * width)).index_copy_(1, index, x).reshape(n, len(sizes), width)
    wt = w.new_zeros((w.shape[0], len(sizes) * width)).index_copy_(1, index, w).reshape(w.shape[0], len(sizes), width)
    scale = _abs_max(xt) if io.noise_management == "tile" else _abs_max(x)[:, None, :]  # (n, tiles, 1)
    top = None if inp_bits is None else 2 ** (inp_bits - 1) - 1
    limit = 2.0 ** 10 if inp_bits is None else 0.25 * (2 ** inp_bits - 2)  # aihwkit's max_bm_res on its inp_res
    read_at_all = (_is_read(xt) if io.noise_management == "tile" else _is_read(x)[:, None, :]) if noise_std > 0 else None

    def read(factor):
        unit = scale * factor
        xq = xt if top is None else _StraightThrough.apply(xt, inp_bits, io.inp_bound * unit)
        parts = torch.einsum("ntc,mtc->ntm", xq, wt)
        full_scale = weight_max * unit
        if noise_std > 0:
            parts = parts + _read_noise(parts, read_at_all, noise_std, full_scale, generator)
        clipped = (parts.detach().abs() >= io.out_bound * full_scale).any(-1, keepdim=True)
        return quantize_output(parts, out_bits, io.out_bound, full_scale), clipped

    out, clipped = read(1.0)
    factor = 1.0
    while io.bound_management == "iterative" and out_bits is not None and bool(clipped.any()) and 2 * factor <= limit:
        factor *= 2
        again, still = read(factor)
        out = torch.where(clipped, again, out)
        clipped = clipped & still
    return out


_AIHWKIT_BOUND_FRACTION = 0.999
"""aihwkit's ``get_forward_out_bound``: an output counts as at the bound from ``0.999 out_bound``."""


def _masked_transposed_read(g, weight, at_bound, io, weight_max, rows, cols, generator):
    """``grad_x`` with each forward row tile's transposed read fed ``grad_y`` zeroed where that
    tile's output was at the bound (aihwkit: every tile of a mapped layer runs its own backward)."""
    sizes = _split_sizes(weight.shape[1], rows, io.split)
    grad_x, start = [], 0
    for t, size in enumerate(sizes):
        g_t = torch.where(at_bound[:, t, :], torch.zeros_like(g), g)
        grad_x.append(_tiled_read(g_t, weight[:, start:start + size].T, io.backward_inp_bits, io.backward_out_bits,
                                  io, weight_max, cols, io.backward_noise_std, generator))
        start += size
    return torch.cat(grad_x, dim=1)


class _ConvertedLinear(torch.autograd.Function):
    """Forward: the quantised read; backward: the quantised transposed read and the exact weight gradient."""

    @staticmethod
    def forward(ctx, x, weight, io, weight_max, rows, cols, noise_std, generator, weight_grad):
        ctx.settings = (io, weight_max, cols, rows)
        ctx.weight_grad = weight_grad
        ctx.generator = generator
        flat = x.reshape(-1, x.shape[-1])
        if io.bound_gradient == "aihwkit":
            parts = _row_tile_reads(flat, weight, io.inp_bits, io.out_bits, io, weight_max, rows, noise_std, generator)
            at_bound = parts.abs() >= _AIHWKIT_BOUND_FRACTION * io.out_bound  # (n, tiles, m)
            y = parts.sum(dim=1)
        else:
            at_bound = None
            y = _tiled_read(flat, weight, io.inp_bits, io.out_bits, io, weight_max, rows, noise_std, generator)
        ctx.save_for_backward(x, weight, at_bound)
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad_y):
        x, weight, at_bound = ctx.saved_tensors
        io, weight_max, cols, rows = ctx.settings
        g = grad_y.reshape(-1, grad_y.shape[-1])
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            if at_bound is not None and bool(at_bound.any()):
                grad_x = _masked_transposed_read(g, weight, at_bound, io, weight_max, rows, cols,
                                                 ctx.generator).reshape(x.shape)
            else:
                grad_x = _tiled_read(g, weight.T, io.backward_inp_bits, io.backward_out_bits, io, weight_max,
                                     cols, io.backward_noise_std, ctx.generator).reshape(x.shape)
        if ctx.needs_input_grad[1] and ctx.weight_grad:
            grad_w = thread_invariant_mm(g.T, x.reshape(-1, x.shape[-1]))  # linear's, on any thread count
        return grad_x, grad_w, None, None, None, None, None, None, None


def converted_linear(x, weight, io, weight_max, *, rows, cols, noise_std=0.0, generator=None, weight_grad=True):
    """``y = x W^T`` read through the tile's DACs, array tiles and ADCs (no bias).

    Parameters
    ----------
    x : torch.Tensor, shape ``(..., in_features)``
    weight : torch.Tensor, shape ``(out_features, in_features)``
        The weight the array holds (as read: IR-drop included).
    io : IOConfig
    weight_max : float
        The largest weight the devices hold; ``weight_max max|x|`` is the ADC's unit.
    rows, cols : int
        Physical array size: inputs per row tile (forward), outputs per column tile (backward).
    noise_std : float
        Gaussian read noise per row tile's column output, in units of ``weight_max max|x|``.
    generator : torch.Generator, optional
        Stream of the read noise.
    weight_grad : bool
        False: no gradient for ``weight`` (as :func:`~memcosim.base.reproducible.thread_invariant_linear`),
        for an update formed from ``x`` and the output gradient.

    Returns
    -------
    torch.Tensor, shape ``(..., out_features)``

    Notes
    -----
    Cost: one matrix product forward and two backward, as ``nn.functional.linear``. With
    ``io.ideal``, one row tile and the same generator state the values equal
    ``linear(x, W) + noise_std weight_max max|x| randn``.
    """
    return _ConvertedLinear.apply(x, weight, io, float(weight_max), rows, cols, float(noise_std), generator,
                                  bool(weight_grad))
