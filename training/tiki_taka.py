"""Tiki-Taka v2's layer-side state: the fast array A, the transfer buffer H, and the transfer.

:class:`~memcosim.training.rules.TikiTaka` (the rule) gives every crossbar layer a
:class:`FastArray` at programming (``layer.fast``, a submodule, so its devices, buffer and
counters are in the layer's ``state_dict``). A is a :class:`CrossbarLinear` of its own (whatever the layer: a convolution's A is its unrolled array): devices of
the layer's model with their own spread (stream ``<layer>/fast``), each referenced to its own
symmetry point found by pulsing it (as symmetry-point shifting) and programmed to it, so A starts
at zero; its weight scale is the layer's. It reads and books like any layer: its gradient pulses
and its transfer reads go into the ledger under ``<layer>/fast``, the transfer pulses on the
layer's devices (C) under ``<layer>``.

:func:`transfer` is one transfer event (aihwkit's ``BufferedTransferRPUDevice::readAndUpdate``):
read ``k`` columns of A with one-hot inputs (A's forward: read noise, IR-drop model and read
energy as configured), add ``transfer_lr * lr`` times the read to H, and where
``n = clamp(trunc(H / (thres_scale dw)), +-transfer_pulses)`` is non-zero pulse C ``n`` times and
forget (``forget_buffer``) or subtract the transfer. In ``hardware`` order the pulses on C are
one pulsed update per column with a one-hot input (a train of ``|n|`` coincidences for each
device of the column), applied and costed under the tile's update scheme like any stochastic
update; in ``aggregated`` order they are signed counts (:meth:`CrossbarLinear.apply_pulses`).
Cost per transfer: O(outputs x inputs) for the read, O(outputs x k) for the rest, and a few host
reads (the counters, whether any pulse is due, the longest train): on CUDA one synchronisation per
transfer.
"""

import dataclasses

import torch

from memcosim.training import kernel, kernel_ops
from memcosim.training.bitstreams import LANES, BitStreams
from memcosim.training.layers import CrossbarLinear
from memcosim.training.rules import SymmetryShift

__all__ = ["FastArray", "transfer", "transfer_streams"]


class FastArray(CrossbarLinear):
    """Tiki-Taka's fast array A of ``layer``, with the transfer buffer and counters.

    Parameters
    ----------
    layer : CrossbarLinear
        The layer (C) whose gradient A receives; A copies its shape, tile, weight scale, seed and
        ledger.
    rule : TikiTaka
        Its pulse settings program A's symmetry-point search.

    Attributes
    ----------
    hidden : torch.Tensor (outputs, inputs), float64
        The transfer buffer H, in weight units.
    updates : torch.Tensor, int64, 0-dim
        Optimizer steps the rule has taken on the layer.
    column : torch.Tensor, int64, 0-dim
        The next column (input) to transfer.
    """

    def __init__(self, layer, rule):
        tile = dataclasses.replace(
            layer.tile, mapping=dataclasses.replace(layer.tile.mapping, mapping="reference"),
            update=SymmetryShift(max_pulses=rule.max_pulses, pulse_mode=rule.pulse_mode, bit_length=rule.bit_length,
                                 update_order=rule.update_order, symmetry_cycles=rule.symmetry_cycles))
        # programmed to the layer's weights first, so that A's weight scale is the layer's
        super().__init__(layer.in_features, layer.out_features, bias=False, tile=tile, seed=layer._seed,
                         name=f"{layer.name}/fast", initial_weight=layer.weight.detach(),
                         device=layer.weight.device, dtype=layer.weight.dtype)
        self.ledger = layer.ledger  # its symmetry-point search is booked there now, or when one is attached
        self.weight.requires_grad_(False)  # A is read and pulsed, never a parameter of the network
        self.weight_max, self.scale_per_s = layer.weight_max, layer.scale_per_s
        self.eps_w = self.scale_per_s * self.tile.device.step_s()
        with torch.no_grad():  # then at zero: each device at its own symmetry point
            self.conductance_s.copy_(self.reference_s)
            if self.tile.device.populations > 1:
                self.conductance_state.copy_(self.tile.device.state_of(self.conductance_s, self._spread))
        self.sync_weight()
        where = layer.weight.device
        self.register_buffer("hidden", torch.zeros(self.conductance_s.shape, dtype=torch.float64, device=where))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64, device=where))
        self.register_buffer("column", torch.zeros((), dtype=torch.int64, device=where))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, Tiki-Taka fast array, "
                f"referenced to its symmetry points")


def transfer(layer, rule, lr):
    """One transfer event from ``layer.fast`` (A) through its buffer H to ``layer``'s devices (C).

    Parameters
    ----------
    layer : CrossbarLinear
        A layer whose update rule is ``rule`` (it has ``layer.fast``).
    rule : TikiTaka
    lr : float
        The optimizer's learning rate of this step.

    Returns
    -------
    torch.Tensor (outputs, k), float64
        The signed pulse counts applied to the ``k`` transferred columns of C.
    """
    fast = layer.fast
    n_in = layer.in_features
    k = min(rule.n_reads_per_transfer, n_in)
    where = fast.hidden.device
    cols = (int(fast.column) + torch.arange(k, device=where)) % n_in
    fast.column.fill_((int(fast.column) + k) % n_in)
    one_hot = torch.zeros((k, n_in), dtype=fast.weight.dtype, device=where)
    one_hot[torch.arange(k, device=where), cols] = 1.0
    with torch.no_grad():
        read = fast(one_hot).to(torch.float64).T  # (outputs, k): A's columns, as the array reads them
    lr_t = rule.transfer_lr * lr * (rule.gamma if rule.gamma > 0 else 1.0)
    threshold = rule.thres_scale * layer.eps_w
    omega = fast.hidden[:, cols] + lr_t * read
    layer.book_digital_update(omega.numel())  # H's transferred columns: read, added to, written
    n = torch.clamp(torch.trunc(omega / threshold), -rule.transfer_pulses, rule.transfer_pulses)
    if rule.forget_buffer:
        fast.hidden[:, cols] = torch.where(n != 0, rule.momentum * omega, omega)
    else:
        fast.hidden[:, cols] = omega - (1.0 - rule.momentum) * n * threshold
    if bool((n != 0).any()):
        if rule.update_order == "hardware":
            layer.apply_pulse_streams(transfer_streams(n, cols, n_in, layer.generator))
        else:
            dense = torch.zeros(layer.conductance_s.shape, dtype=torch.float64, device=where)
            dense[:, cols] = n
            layer.apply_pulses(dense)
    return n


def transfer_streams(n, cols, n_in, generator):
    """The pulse trains of a transfer: one sample per column, a one-hot input, ``|n|`` coincidences.

    Sample ``t`` drives input ``cols[t]`` in every slot and output ``j`` in its first
    ``|n[j, t]|`` slots with polarity ``sign(n[j, t])``, so device ``(j, cols[t])`` receives
    ``n[j, t]`` pulses (aihwkit's transfer: a pulsed update with a one-hot input).

    Parameters
    ----------
    n : torch.Tensor (outputs, k)
        Signed whole pulse counts.
    cols : torch.Tensor (k,), int64
        The inputs of the ``k`` samples.
    n_in : int
        Inputs of the layer.
    generator : torch.Generator
        Draws the key of the devices' pulse noise.

    Returns
    -------
    BitStreams
    """
    out, k = n.shape
    where = n.device
    if kernel.enabled(n):  # one compiled pass, the same trains
        x_mask, x_sign, d_mask, d_sign, bit_length = kernel_ops.transfer_trains(n, cols, n_in)
        key = torch.randint(0, 2**62, (1,), generator=generator, dtype=torch.int64)[0]
        return BitStreams(x_mask, x_sign, d_mask, d_sign, key, bit_length)
    counts = n.abs().to(torch.int64).T  # (k, outputs)
    bit_length = max(int(counts.max()), 1)
    words = -(-bit_length // LANES)
    offsets = LANES * torch.arange(words, dtype=torch.int64, device=where)

    def first_slots(c):  # masks with the first c slots set, (..., words)
        return (torch.ones((), dtype=torch.int64, device=where) << (c[..., None] - offsets).clamp(0, LANES)) - 1

    rows = torch.arange(k, device=where)
    x_mask = torch.zeros((k, n_in, words), dtype=torch.int64, device=where)
    x_mask[rows, cols] = first_slots(torch.full((k,), bit_length, dtype=torch.int64, device=where))
    x_sign = torch.zeros((k, n_in), dtype=torch.int64, device=where)
    x_sign[rows, cols] = 1
    key = torch.randint(0, 2**62, (1,), generator=generator, dtype=torch.int64, device=where)[0]
    d_sign = torch.sign(n.T).to(torch.int64).contiguous()
    return BitStreams(x_mask, x_sign, first_slots(counts).contiguous(), d_sign, key, bit_length)
