"""Update rules: how one optimizer step on a crossbar weight becomes programming pulses.

:class:`~memcosim.training.optim.CrossbarSGD` calls ``tile.update.step(layer, lr)`` for every
crossbar layer; the rule reads the layer's gradient (and, for stochastic pulse trains, the
activations and output gradients the layer saved) and hands signed pulse counts to
``layer.apply_pulses``, which steps every device with its pulse response and books the energy.
``dw`` (``layer.eps_w``) is one pulse's weight change at the device's symmetry point.

* :class:`MixedPrecision` — Nandakumar et al. (Front. Neurosci. 14:406, 2020): a float64
  accumulator per weight collects ``-lr g``; when it holds at least one device step,
  ``trunc(acc / dw)`` pulses are applied and subtracted. Pulses of one step are applied at once,
  up and down in the same call (each device gets one signed count).
* :class:`AnalogSGD` — analog SGD: deterministic pulse counts ``round(-lr g / dw)`` or
  stochastic pulse trains (Gokmen & Vlasov, Front. Neurosci. 10:333, 2016) with update
  management; the coincidences of the whole batch are counted, and each device receives its up
  pulses, then its down pulses. The device's asymmetry makes the weights drift toward its
  symmetry point.
* :class:`SymmetryShift` — analog SGD against a reference device programmed to each device's
  own symmetry point (found by alternating up/down pulses when the layer is programmed), so the
  drift pulls weights toward zero instead of toward an offset (Kim et al., 2019).
* :class:`TikiTaka` — Tiki-Taka v2 (Gokmen, Front. Artif. Intell. 4:699148, 2021; aihwkit's
  ``BufferedTransferCompound``): the gradient goes, as analog SGD pulses, to a *fast array* A of
  the same device model (its own devices, each referenced to its own symmetry point); every
  ``transfer_every`` steps ``n_reads_per_transfer`` columns of A are read (a forward read with a
  one-hot input) into a float64 buffer H, and where ``|H|`` reaches ``thres_scale`` device steps
  of the layer's own devices (the slow array C, the weight the network sees) whole pulses go to
  C and H forgets what was transferred. A, H and the counters live in ``layer.fast``
  (:class:`memcosim.training.tiki_taka.FastArray`); docs/training.md lists every deviation from
  aihwkit.
"""

import math
import warnings
from dataclasses import asdict, dataclass
from typing import ClassVar

import torch

from memcosim.base.errors import ConfigError
from memcosim.training import coincidences, kernel, kernel_ops
from memcosim.training.bitstreams import coincidence_totals_torch, draw_streams

__all__ = ["UpdateRule", "MixedPrecision", "AnalogSGD", "SymmetryShift", "TikiTaka", "RULES", "UPDATE_ORDERS"]

UPDATE_ORDERS = ("hardware", "aggregated")
"""The orders stochastic pulse trains are applied in (:attr:`AnalogSGD.update_order`)."""


def _pulses_ok(value):
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10**6


@dataclass(frozen=True)
class UpdateRule:
    """Base class: an update rule the optimizer calls with ``step(layer, lr)``."""

    max_pulses: int = 31
    """Most pulses one device receives in one update."""

    name: ClassVar[str] = ""
    needs_own_symmetry_points: ClassVar[bool] = False
    """The reference of each device is programmed to that device's own symmetry point."""

    def __post_init__(self):
        if not _pulses_ok(self.max_pulses):
            raise ConfigError(f"update.max_pulses: got {self.max_pulses!r}; allowed range [1, 1e6]")

    @property
    def needs_activations(self):
        """Whether the layer must save its inputs and output gradients for :meth:`step`."""
        return False

    @property
    def needs_weight_grad(self):
        """Whether :meth:`step` reads ``layer.weight.grad`` (False: the update comes from the saved
        activations alone, and the layer's backward skips the weight gradient's product)."""
        return True

    def step(self, layer, lr):
        """Turn ``layer.weight.grad`` into pulses on ``layer`` (learning rate ``lr``)."""
        raise NotImplementedError

    def prepare(self, layer):
        """Set up what the rule keeps on ``layer`` besides its devices (called at the end of
        :meth:`~memcosim.training.layers.CrossbarLinear.program`); most rules keep nothing."""

    def describe(self):
        """A JSON-ready description: the rule's name and fields."""
        return {"name": self.name, **asdict(self)}


@dataclass(frozen=True)
class MixedPrecision(UpdateRule):
    """Mixed-precision SGD: a digital accumulator, whole device steps transferred."""

    verify: bool = False
    """After a transfer, read the device back and subtract the weight change it actually made
    from the accumulator (instead of ``n * dw``)."""
    granularity: float | None = None
    """aihwkit's ``MixedPrecisionCompound`` transfer: the accumulator quantum as a multiple of the
    device step ``dw`` (aihwkit's ``granularity`` over the device's weight granularity). ``n =
    trunc(acc / (granularity dw))`` quanta leave the accumulator and the devices of each output row
    get ``round(granularity n)`` pulses, scaled so the row's largest is at most ``max_pulses``
    (its pulsed transfer with update and bit-length management, deterministic-implicit pulses).
    None: memcosim's transfer, ``n = trunc(acc / dw)`` quanta as ``n`` pulses, each device clamped
    to ``max_pulses``."""
    transfer_at: str = "batch_end"
    """When the accumulator goes to the devices. ``batch_end``: after each step's whole gradient
    (memcosim). ``batch_end_from_second``: aihwkit's CUDA tiles
    (``MixedPrecRPUDeviceBaseCuda::doTransfer`` runs before the tile counts the batch, so it skips
    the first batch): after each step's whole gradient but the very first step's, which only
    accumulates (the first transfer carries two batches). ``next_batch_first_sample``: aihwkit's
    CPU tiles (``MixedPrecRPUDeviceBase::doTransfer`` counts samples and transfers after the first
    sample of each batch but the very first): a step adds its first sample's (first input row's)
    gradient, transfers, and keeps the rest of its gradient for the next step, so the devices
    trail the gradient by one batch. Unlike aihwkit, the very first step transfers too (its first
    sample alone rarely fills a quantum)."""

    name: ClassVar[str] = "mixed_precision"
    TRANSFER_TIMES: ClassVar[tuple] = ("batch_end", "batch_end_from_second", "next_batch_first_sample")

    def __post_init__(self):
        super().__post_init__()
        g = self.granularity
        if g is not None and not (isinstance(g, (int, float)) and not isinstance(g, bool) and math.isfinite(g)
                                  and 0 < g <= 1e6):
            raise ConfigError(f"update.granularity: got {g!r}; None or in (0, 1e6] device steps")
        if g is not None and self.verify:
            raise ConfigError("update.granularity: aihwkit's transfer has no verify read; set verify = false")
        if self.transfer_at not in self.TRANSFER_TIMES:
            raise ConfigError(f"update.transfer_at: got {self.transfer_at!r}; allowed: {', '.join(self.TRANSFER_TIMES)}")

    @property
    def needs_activations(self):
        return self.transfer_at == "next_batch_first_sample"

    def prepare(self, layer):
        if self.transfer_at == "batch_end_from_second":  # whether the layer has taken its first step (checkpointed)
            layer.register_buffer("mp_started", torch.zeros((), dtype=torch.bool, device=layer.accumulator.device))

    def step(self, layer, lr):
        grad = layer.weight.grad
        if grad is None:
            return
        layer.book_digital_update(layer.accumulator.numel())
        if self.transfer_at == "batch_end_from_second" and not bool(layer.mp_started):
            layer.mp_started.fill_(True)  # the first step only accumulates
            layer.accumulator -= lr * grad.to(torch.float64)
            return
        rest = None
        if self.transfer_at == "next_batch_first_sample":
            x, g = layer.take_saved()
            first = torch.outer(g[0], x[0]).to(grad.dtype)
            grad, rest = first, grad - first
        self._transfer(layer, lr, grad)
        if rest is not None:  # the rest of the batch waits in the accumulator for the next step's transfer
            layer.accumulator -= lr * rest.to(torch.float64)

    def _transfer(self, layer, lr, grad):
        """Add ``-lr grad`` to the accumulator and transfer what it holds."""
        if self.granularity is not None:
            self._aihwkit_transfer(layer, lr, grad)
            return
        if not self.verify and kernel.enabled(layer.accumulator):  # the same numbers, in one compiled pass
            layer.apply_pulses_at(*kernel_ops.transfer(layer.accumulator, grad, lr, layer.eps_w, self.max_pulses))
            return
        layer.accumulator -= lr * grad.to(torch.float64)
        n = torch.trunc(layer.accumulator / layer.eps_w).clamp(-self.max_pulses, self.max_pulses)
        if self.verify:
            before = layer.conductance_s - layer.reference_s
            layer.apply_pulses(n)
            layer.accumulator -= layer.scale_per_s * (layer.conductance_s - layer.reference_s - before)
        else:
            layer.accumulator -= n * layer.eps_w
            layer.apply_pulses(n)

    def _aihwkit_transfer(self, layer, lr, grad):
        """The transfer of :attr:`granularity` (aihwkit ``MixedPrecRPUDevice::forwardUpdate``)."""
        quantum = self.granularity * layer.eps_w
        acc = layer.accumulator
        if kernel.enabled(acc) and acc.is_contiguous() and grad.is_contiguous():  # the same numbers, compiled
            layer.apply_pulses_at(*kernel_ops.aihwkit_transfer(acc, grad, lr, quantum, self.granularity, self.max_pulses))
            return
        acc -= lr * grad.to(torch.float64)
        n = torch.trunc(acc / quantum)
        acc -= n * quantum
        row_max = n.abs().amax(dim=1, keepdim=True)
        wanted = torch.where(self.granularity * row_max > self.max_pulses,
                             self.max_pulses * n / row_max.clamp_min(1.0), self.granularity * n)
        layer.apply_pulses(torch.sign(wanted) * torch.floor(wanted.abs() + 0.5))  # C's roundf: half away from zero


@dataclass(frozen=True)
class AnalogSGD(UpdateRule):
    """Analog SGD: every step is pulses on the devices themselves (no digital accumulator)."""

    pulse_mode: str = "stochastic"
    """``deterministic`` pulse counts or ``stochastic`` pulse trains (Gokmen & Vlasov)."""
    bit_length: int = 31
    """Stochastic pulse trains: bits per update (BL)."""
    update_order: str = "hardware"
    """Stochastic pulse trains: ``hardware`` — sample after sample, each device receiving the
    train of its coincidences of a sample at the state the previous samples left it in, as a
    crossbar (and aihwkit) applies them; ``aggregated`` — an approximation: the coincidences of
    the whole batch summed per device, then all up pulses, then all down pulses (a nonlinear
    device does not commute, so this moves it differently: see docs/training.md)."""
    carry_remainder: bool = False
    """Deterministic counts: keep the part of ``-lr g / dw`` that did not round to a pulse in the
    layer's accumulator and add it to the next step (off: it is dropped, as a device without
    digital memory would)."""
    bl_management: bool = False
    """Stochastic pulse trains: aihwkit's bit-length management (its default): each sample's
    trains only as long as its largest expected count needs, at most ``bit_length``
    (:func:`memcosim.training.bitstreams.stream_probabilities`)."""

    name: ClassVar[str] = "sgd"

    def __post_init__(self):
        super().__post_init__()
        if self.pulse_mode not in ("deterministic", "stochastic"):
            raise ConfigError(f"update.pulse_mode: got {self.pulse_mode!r}; allowed: deterministic, stochastic")
        if not (isinstance(self.bit_length, int) and 1 <= self.bit_length <= 1024):
            raise ConfigError(f"update.bit_length: got {self.bit_length!r}; allowed range [1, 1024]")
        if self.update_order not in UPDATE_ORDERS:
            raise ConfigError(f"update.update_order: got {self.update_order!r}; allowed: {', '.join(UPDATE_ORDERS)}")
        if not isinstance(self.carry_remainder, bool):
            raise ConfigError(f"update.carry_remainder: got {self.carry_remainder!r}; allowed: true, false")
        if not isinstance(self.bl_management, bool):
            raise ConfigError(f"update.bl_management: got {self.bl_management!r}; allowed: true, false")

    @property
    def needs_activations(self):
        return self.pulse_mode == "stochastic"

    @property
    def needs_weight_grad(self):
        return self.pulse_mode != "stochastic"  # stochastic trains come from the inputs and output gradients

    def step(self, layer, lr):
        grad = layer.weight.grad
        if grad is None and not layer.has_saved():
            return
        self._pulse_gradient(layer, layer, lr, grad)

    def _pulse_gradient(self, source, target, lr, grad):
        """``-lr grad`` of layer ``source`` as pulses on the devices of ``target`` (the layer itself,
        or Tiki-Taka's fast array): deterministic counts, or stochastic trains from the inputs and
        output gradients ``source`` saved, drawn with ``target``'s step and random stream."""
        if self.pulse_mode == "deterministic":
            self._deterministic(target, lr, grad)
            return
        x, d = source.take_saved()
        compiled = kernel.enabled(target.conductance_s)
        streams = (kernel.draw_streams if compiled else draw_streams)(x, d, lr, target.eps_w, self.bit_length,
                                                                      target.generator, bl_management=self.bl_management)
        if self.update_order == "hardware":
            target.apply_pulse_streams(streams, compiled)
            return
        n_up, n_down = (coincidences.totals if compiled else coincidence_totals_torch)(streams)
        target.apply_pulses(n_up)
        target.apply_pulses(-n_down)

    def _deterministic(self, layer, lr, grad):
        """``round(-lr g / dw)`` pulses per device, one signed count each (all of one polarity)."""
        wanted = -lr * grad.to(torch.float64) / layer.eps_w
        if self.carry_remainder:
            wanted = wanted + layer.accumulator / layer.eps_w
        n = torch.round(wanted).clamp(-self.max_pulses, self.max_pulses)
        if self.carry_remainder:
            layer.accumulator.copy_((wanted - n) * layer.eps_w)
        elif not getattr(layer, "_warned_no_pulse", False) and not bool(n.any()) and bool(grad.any()):
            layer._warned_no_pulse = True
            warnings.warn(f"update.pulse_mode: deterministic pulse counts rounded every device of layer {layer.name!r} to "
                          f"0 pulses this step (largest |lr g / dw| = {float(wanted.abs().max()):.3g} < 0.5): it cannot "
                          "learn at this learning rate and device step; use training.pulse_mode = 'stochastic' "
                          "(in Python: AnalogSGD(carry_remainder=True) also keeps the remainder)", RuntimeWarning,
                          stacklevel=3)
        layer.apply_pulses(n)


@dataclass(frozen=True)
class SymmetryShift(AnalogSGD):
    """Analog SGD against references programmed to each device's own symmetry point."""

    symmetry_cycles: int = 10_000
    """Symmetry-point search: most alternating up/down pulse pairs. Each device stops as soon as
    it is within a quarter of its own step of its symmetry point
    (:meth:`~memcosim.training.layers.CrossbarLinear.find_symmetry_points`), so this is a cap, not
    a cost: the calibrated HZO device at 3 V needs 25 (2 us and longer) to 60 (20 ns) pairs per
    device on average, a soft-bounds device of ``N`` states about ``7 N x_sp (1 - x_sp)`` (1400
    for 1000 states, symmetry point at 30 % of the range)."""

    symmetry_point: str = "own"
    """``own``: each device's reference at that device's own symmetry point, found by pulsing it
    when the layer is programmed; ``global``: every reference at the nominal device's symmetry
    point, found once on the noise-free model by alternating single pulses from weight 0 (the
    published study's one point per device series, :meth:`~memcosim.training.pulsed.PulsedDevice.alternating_symmetry_point_s`)."""

    name: ClassVar[str] = "symmetry_shift"
    needs_own_symmetry_points: ClassVar[bool] = True

    def __post_init__(self):
        super().__post_init__()
        if self.symmetry_point not in ("own", "global"):
            raise ConfigError(f"update.symmetry_point: got {self.symmetry_point!r}; allowed: own, global")
        cycles = self.symmetry_cycles
        if not (isinstance(cycles, int) and not isinstance(cycles, bool) and 1 <= cycles <= 10**9):
            raise ConfigError(f"update.symmetry_cycles: got {cycles!r}; allowed range [1, 1e9]")


@dataclass(frozen=True)
class TikiTaka(AnalogSGD):
    """Tiki-Taka v2: gradient pulses on a fast array, buffered transfers to the layer's devices.

    The fields of :class:`AnalogSGD` (pulse mode, bit length, order, ``max_pulses``) apply to the
    gradient pulses on the fast array A; defaults are aihwkit's ``BufferedTransferCompound``.
    """

    transfer_every: int = 1
    """Transfer every this many optimizer steps (minibatches: aihwkit's ``units_in_mbatch``)."""
    n_reads_per_transfer: int = 1
    """Columns of A (inputs) read and transferred per transfer, cycling through the inputs; a
    layer with fewer inputs reads all of them (as aihwkit)."""
    transfer_lr: float = 1.0
    """A read is added to H times ``transfer_lr * lr`` (aihwkit's ``scale_transfer_lr``)."""
    fast_lr: float = 1.0
    """The gradient pulses on A use the learning rate ``fast_lr * lr`` (aihwkit's ``scale_fast_lr``)."""
    thres_scale: float = 1.0
    """A transfer pulses C where ``|H|`` holds at least ``thres_scale`` of C's nominal step ``dw``."""
    transfer_pulses: int = 1
    """Most pulses one device of C receives in one transfer: ``clamp(trunc(H / (thres_scale dw)))``
    (aihwkit's ``transfer_update.desired_bl``, default 1: a sign pulse)."""
    forget_buffer: bool = True
    """After a transfer, H keeps ``momentum`` times its value (true) or loses what was
    transferred, ``(1 - momentum) n thres_scale dw`` (false)."""
    momentum: float = 0.1
    """The fraction of H kept (``forget_buffer``) or of the transferred amount left in H."""
    gamma: float = 0.0
    """The network sees ``C + gamma A`` (0: C alone, Tiki-Taka v2; > 0 also scales the transfer
    learning rate by ``gamma``, as aihwkit)."""
    symmetry_cycles: int = 10_000
    """Symmetry-point search of A's devices: most alternating up/down pulse pairs (a cap: each
    device stops within a quarter of its own step of its symmetry point, as for :class:`SymmetryShift`)."""

    name: ClassVar[str] = "tiki_taka"

    def __post_init__(self):
        super().__post_init__()
        count = lambda v, hi: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= hi  # noqa: E731
        real = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
        checks = [
            ("transfer_every", count(self.transfer_every, 10**6), "allowed range [1, 1e6]"),
            ("n_reads_per_transfer", count(self.n_reads_per_transfer, 10**6), "allowed range [1, 1e6]"),
            ("transfer_lr", real(self.transfer_lr) and 0 < self.transfer_lr <= 1e6, "allowed range (0, 1e6]"),
            ("fast_lr", real(self.fast_lr) and 0 < self.fast_lr <= 1e6, "allowed range (0, 1e6]"),
            ("thres_scale", real(self.thres_scale) and 0 < self.thres_scale <= 1e6, "allowed range (0, 1e6]"),
            ("transfer_pulses", count(self.transfer_pulses, 1024), "allowed range [1, 1024]"),
            ("forget_buffer", isinstance(self.forget_buffer, bool), "allowed: true, false"),
            ("momentum", real(self.momentum) and 0 <= self.momentum <= 1, "allowed range [0, 1]"),
            ("gamma", real(self.gamma) and 0 <= self.gamma <= 1, "allowed range [0, 1]"),
            ("symmetry_cycles", count(self.symmetry_cycles, 10**9), "an integer >= 1"),
        ]
        for key, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"update.{key}: got {getattr(self, key)!r}; {allowed}")

    def prepare(self, layer):
        from memcosim.training.tiki_taka import FastArray  # tiki_taka imports the layers, which import the rules

        layer.fast = FastArray(layer, self)

    def step(self, layer, lr):
        from memcosim.training.tiki_taka import transfer

        grad = layer.weight.grad
        if grad is None and not layer.has_saved():
            return
        fast = layer.fast
        self._pulse_gradient(layer, fast, self.fast_lr * lr, grad)
        fast.sync_weight()
        fast.updates += 1
        if int(fast.updates) % self.transfer_every == 0:
            transfer(layer, self, lr)


RULES = {rule.name: rule for rule in (MixedPrecision, AnalogSGD, SymmetryShift, TikiTaka)}
"""Update rules by name (the study file's ``training.algorithm``)."""
