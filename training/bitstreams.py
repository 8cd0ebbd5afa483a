"""Stochastic pulse trains (Gokmen & Vlasov 2016), bit-packed, from a counter-based random source.

One stochastic update of a layer drives every row ``i`` with a train of ``BL`` slots, a pulse in
each slot with probability ``px_i`` and of polarity ``sign(x_i)``, and every column ``j`` likewise
with ``pd_j`` and ``sign(d_j)`` (``d``: the negative output gradient). Device ``(j, i)`` gets a
pulse of polarity ``sign(x_i d_j)`` in each slot where its row and column pulses coincide. With
update management the probabilities are ``px = c m |x|`` and ``pd = c |d| / m``, ``c =
sqrt(lr / (BL dw))`` and ``m = sqrt(max|d| / max|x|)`` per sample, so the expected count is
``lr |x d| / dw`` (:func:`stream_probabilities`).

The trains are bit masks: word ``w`` of a train holds slots ``32 w`` to ``32 w + 31`` (``(batch,
n, words)`` int64 tensors; a sample's coincidences are ``popcount(x_mask & d_mask)``). Each slot
is an exact Bernoulli draw ``u < p`` with a 53-bit uniform ``u`` (so ``p`` is used to double
precision), taken from a counter-based hash (splitmix64) of a per-step key and the slot's
position: the bits are the same whatever computes them, in whatever order. Bit-sliced: level
``k`` of the hash gives bit ``k`` of the 32 slots' uniforms at once, and a slot is decided at the
first level where its bit differs from ``p``'s. This module computes it with torch (any device;
all 53 levels); :mod:`memcosim.training.kernel` computes the same bits compiled, stopping when
all slots are decided (about 6 levels).

The ``*_torch`` functions here are the reference path; the compiled kernel must give the same
bits and counts (tests/training/test_pulse_kernel.py).
"""

import math
from dataclasses import dataclass

import torch

__all__ = ["BitStreams", "stream_probabilities", "slot_masks", "draw_streams", "coincidences_torch", "coincidence_totals_torch",
           "hash_words_torch", "uniform_from_hash_torch", "stochastic_pulse_counts", "LANES", "LEVELS"]

LANES = 32
"""Slots per mask word."""
LEVELS = 53
"""Bits of a slot's uniform (double precision)."""
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _signed(c):
    return c - (1 << 64) if c >= 1 << 63 else c


@dataclass(frozen=True)
class BitStreams:
    """The row and column pulse trains of one stochastic update of a layer."""

    x_mask: torch.Tensor
    """(batch, inputs, words) int64: bit ``t`` of word ``w`` set when row ``i`` pulses in slot ``32 w + t``."""
    x_sign: torch.Tensor
    """(batch, inputs) int64: polarity of the row pulses (0 where the row is silent)."""
    d_mask: torch.Tensor
    """(batch, outputs, words) int64: the column trains."""
    d_sign: torch.Tensor
    """(batch, outputs) int64: polarity of the column pulses."""
    noise_key: torch.Tensor
    """0-dim int64: key of the devices' pulse noise for this update (cycle-to-cycle, domains)."""
    bit_length: int
    """Slots per train (BL)."""

    @property
    def shape(self):
        """(outputs, inputs): the weight's shape."""
        return self.d_mask.shape[1], self.x_mask.shape[1]


def stream_probabilities(x, d, lr, eps_w, bit_length, bl_management=False):
    """Pulse probabilities of the row and column trains, with update management.

    Parameters
    ----------
    x : torch.Tensor (batch, inputs)
    d : torch.Tensor (batch, outputs)
        Gradient of the loss with respect to the outputs.
    lr, eps_w : float
        Learning rate and one pulse's weight change.
    bit_length : int
    bl_management : bool
        aihwkit's ``update_bl_management`` (with its update management): each sample's trains
        are only ``BL_s = min(ceil(k), bit_length)`` slots long, ``k = lr max|x| max|d| / eps_w``
        its largest expected count, with ``c = sqrt(lr / (BL_s eps_w))``; where ``k > bit_length``
        the column side is scaled by ``bit_length / k`` so the rows never clip (aihwkit's
        ``PulsedUpdateMetaParameter::performUpdateManagement``).

    Returns
    -------
    (px, pd, x_sign, d_sign) or, with ``bl_management``, (px, pd, x_sign, d_sign, lengths)
        float64 probabilities in [0, 1], int64 polarities (``d`` taken as the direction that
        lowers the loss, ``-grad``) and the int64 slots of each sample's trains (0: no pulse).
    """
    x, d = x.to(torch.float64), -d.to(torch.float64)
    x_max = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    d_max = d.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    signs = torch.sign(x).to(torch.int64), torch.sign(d).to(torch.int64)
    if not bl_management:
        c = math.sqrt(lr / (bit_length * eps_w))
        m = torch.sqrt(d_max / x_max)  # update management: balance the two probabilities
        return (c * m * x.abs()).clamp(max=1.0), (c * d.abs() / m).clamp(max=1.0), *signs
    k = lr * x_max * d_max / eps_w
    silent = (x.abs().amax(dim=1, keepdim=True) == 0) | (d.abs().amax(dim=1, keepdim=True) == 0)
    lengths = torch.where(silent, torch.zeros_like(k), torch.ceil(k).clamp(1, bit_length))
    c = torch.sqrt(lr / (eps_w * lengths.clamp_min(1)))
    d_val = torch.where(k > bit_length, d_max * bit_length / k, d_max)
    px = torch.where(silent, torch.zeros_like(x), (c * torch.sqrt(d_val / x_max) * x.abs()).clamp(max=1.0))
    pd = torch.where(silent, torch.zeros_like(d), (c * torch.sqrt(x_max / d_val) * d.abs()).clamp(max=1.0))
    return px, pd, *signs, lengths[:, 0].to(torch.int64)


def slot_masks(lengths, bit_length):
    """(batch, 1, words) int64: the first ``lengths[b]`` slots of each sample's trains set."""
    words = -(-bit_length // LANES)
    start = torch.arange(words, dtype=torch.int64, device=lengths.device) * LANES
    lanes = (lengths[:, None] - start[None, :]).clamp(0, LANES)
    return (((torch.ones_like(lanes) << lanes) - 1))[:, None, :]


def _fixed53(p):
    """``floor(p 2^53)`` as int64: the probability's first 53 bits (``2^53`` for ``p = 1``)."""
    return torch.floor(p * 2.0**LEVELS).to(torch.int64)


def draw_streams(x, d, lr, eps_w, bit_length, generator, masks=None, bl_management=False):
    """The bit-packed pulse trains of one stochastic update.

    Parameters
    ----------
    x, d, lr, eps_w, bit_length, bl_management
        As in :func:`stream_probabilities` (with ``bl_management`` the trains are drawn for
        ``bit_length`` slots and each sample's cut to its own length: the same distribution).
    generator : torch.Generator
        Draws the update's three keys (rows, columns, device noise): one call, no host sync.
    masks : callable, optional
        ``masks(p53, key, bit_length) -> (batch, n, words) int64``; default :func:`masks_torch`
        (the compiled kernel passes its own, with the same bits).

    Returns
    -------
    BitStreams
    """
    px, pd, x_sign, d_sign, *lengths = stream_probabilities(x, d, lr, eps_w, bit_length, bl_management)
    keys = torch.randint(0, 2**62, (3,), generator=generator, dtype=torch.int64, device=px.device)
    masks = masks_torch if masks is None else masks
    x_mask = masks(_fixed53(px), keys[0], bit_length)
    d_mask = masks(_fixed53(pd), keys[1], bit_length)
    if lengths:
        cut = slot_masks(lengths[0], bit_length)
        x_mask, d_mask = x_mask & cut, d_mask & cut
    return BitStreams(x_mask, x_sign * (x_mask != 0).any(-1), d_mask, d_sign * (d_mask != 0).any(-1), keys[2],
                      bit_length)


def _shift_right(z, s):
    """Logical right shift of int64 bit patterns."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def hash_words_torch(key, counter):
    """splitmix64 of ``key + (counter + 1) * golden`` as int64 bit patterns (torch, any device)."""
    z = key + (counter + 1) * _signed(_GOLDEN)
    z = (z ^ _shift_right(z, 30)) * _signed(_MIX1)
    z = (z ^ _shift_right(z, 27)) * _signed(_MIX2)
    return z ^ _shift_right(z, 31)


def uniform_from_hash_torch(h):
    """A uniform in (0, 1) from a hash word: ``(top 53 bits + 1/2) 2^-53``."""
    return (_shift_right(h, 11).to(torch.float64) + 0.5) * 2.0**-LEVELS


def masks_torch(p53, key, bit_length):
    """Bit masks of trains with probabilities ``p53 / 2^53``: all 53 levels, vectorised (torch path).

    The uniform of slot ``t`` of entry ``e`` (``e = b * n + i``) at word ``w`` has bit ``k``
    (``k = 1..53``, most significant first) equal to bit ``t`` of half ``(k - 1) % 2`` of
    ``hash(key, (e * words + w) * 27 + (k - 1) // 2)``.
    """
    batch, n = p53.shape
    words = -(-bit_length // LANES)
    entry = torch.arange(batch * n, dtype=torch.int64, device=p53.device).reshape(batch, n)
    out = []
    for w in range(words):
        lanes = min(LANES, bit_length - LANES * w)
        full = (1 << lanes) - 1
        undecided = torch.full_like(p53, full)
        ones = torch.zeros_like(p53)
        for k in range(1, LEVELS + 1):
            if k % 2:
                h = hash_words_torch(key, (entry * words + w) * 27 + (k - 1) // 2)
            word = _shift_right(h, 32) if k % 2 == 0 else h & 0xFFFFFFFF
            bit = (p53 >> (LEVELS - k)) & 1
            ones = ones | (undecided & ~word & -bit)  # u's bit 0 where p's is 1: u < p
            undecided = undecided & (word ^ (bit - 1))  # undecided while the bits agree
        out.append(torch.where(p53 >= 1 << LEVELS, full, ones))
    return torch.stack(out, dim=-1)


def popcount_torch(v):
    """Set bits of non-negative int64 values below 2^32 (SWAR)."""
    v = v - ((v >> 1) & 0x55555555)
    v = (v & 0x33333333) + ((v >> 2) & 0x33333333)
    v = (v + (v >> 4)) & 0x0F0F0F0F
    return ((v * 0x01010101) & 0xFFFFFFFF) >> 24


def coincidences_torch(streams):
    """Every (sample, device) with coincident pulses, in sample order.

    Returns
    -------
    (b, j, i, n) : int64 tensors
        Sample, output, input and signed pulse count (``sign(x_i d_j)`` times the coincidences)
        of each event; memory O(events + active row-column pairs).
    """
    xb, xi = torch.nonzero(streams.x_sign, as_tuple=True)
    db, dj = torch.nonzero(streams.d_sign, as_tuple=True)
    batch = streams.x_sign.shape[0]
    per_d = torch.bincount(db, minlength=batch)
    start_d = torch.cumsum(per_d, 0) - per_d
    reps = per_d[xb]  # each active row of sample b pairs with every active column of sample b
    x_of = torch.repeat_interleave(torch.arange(xb.numel(), device=xb.device), reps)
    offset = torch.arange(x_of.numel(), device=xb.device) - torch.repeat_interleave(torch.cumsum(reps, 0) - reps, reps)
    d_of = start_d[xb[x_of]] + offset
    b, i, j = xb[x_of], xi[x_of], dj[d_of]
    count = popcount_torch(streams.x_mask[b, i] & streams.d_mask[b, j]).sum(-1)
    hit = count > 0
    b, j, i, count = b[hit], j[hit], i[hit], count[hit]
    return b, j, i, count * streams.x_sign[b, i] * streams.d_sign[b, j]


def coincidence_totals_torch(streams):
    """Up and down pulse counts per device summed over the batch (float64, (outputs, inputs))."""
    out, inp = streams.shape
    _, j, i, n = coincidences_torch(streams)
    flat = j * inp + i
    up = torch.zeros(out * inp, dtype=torch.float64, device=n.device)
    down = torch.zeros_like(up)
    up.index_add_(0, flat, n.clamp(min=0).to(torch.float64))
    down.index_add_(0, flat, (-n).clamp(min=0).to(torch.float64))
    return up.reshape(out, inp), down.reshape(out, inp)


def stochastic_pulse_counts(x, d, lr, eps_w, bit_length, generator):
    """Up and down pulse counts per device from stochastic bit streams (Gokmen & Vlasov 2016), drawn
    with ``torch.rand`` and counted as dense products: the reference the bit-packed trains are tested
    against (within sampling error; it draws other bits).

    Parameters
    ----------
    x : torch.Tensor (batch, inputs)
        Layer inputs of the step.
    d : torch.Tensor (batch, outputs)
        Gradients of the loss with respect to the layer outputs.
    lr, eps_w : float
        Learning rate and one pulse's weight change.
    bit_length : int
        Bits per stream (BL).
    generator : torch.Generator

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Up and down coincidence counts, float64, shape (outputs, inputs), summed over the batch.
    """
    px, pd, sx, sd = stream_probabilities(x, d, lr, eps_w, bit_length)
    b = x.shape[0]
    f32 = torch.float32  # bit counts are small integers: exact in float32, and twice as fast
    rx = (torch.rand((b, bit_length, x.shape[1]), generator=generator, dtype=f32, device=x.device) < px[:, None, :]).to(f32)
    rd = (torch.rand((b, bit_length, d.shape[1]), generator=generator, dtype=f32, device=x.device) < pd[:, None, :]).to(f32)
    sx = (rx * sx.to(f32)[:, None, :]).reshape(b * bit_length, -1)
    sd = (rd * sd.to(f32)[:, None, :]).reshape(b * bit_length, -1)
    net = (sd.T @ sx).to(torch.float64)
    total = (rd.reshape(b * bit_length, -1).T @ rx.reshape(b * bit_length, -1)).to(torch.float64)
    return (total + net) / 2, (total - net) / 2
