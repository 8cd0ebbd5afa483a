"""Crossbar layers: weights stored as device conductances, changed only by programming pulses.

:class:`CrossbarLayer` is a weight matrix on crossbar tiles (``out_features x in_features``:
inputs on the array's rows, outputs on its columns) with everything a tile does: programming,
the read path, pulses and their energy. :class:`CrossbarLinear` is a drop-in for
:class:`torch.nn.Linear` on it; the convolutions of :mod:`memcosim.training.conv` unroll their
kernels onto the same machinery. The weight is read from conductances, ``W = scale * (G - G_ref)``:

* ``mapping = "reference"`` — each weight is one device against a reference device. The
  reference is programmed once: to the nominal mid-range conductance for plain analog SGD and
  mixed precision, or to *each device's own symmetry point* for symmetry-point shifting;
* ``mapping = "differential"`` — a pair ``G+ - G-``, both pulsed (in opposite directions) on
  every update, centred on the nominal symmetry point.

``scale`` maps half the device's *usable* window to ``weight_max``
(:mod:`memcosim.training.programming`). Forward: the read path of :func:`memcosim.training.ir_drop.read_path`
(the fitted IR-drop model, or every array tile solved exactly with ``forward = "exact"``; the
weight it reads is kept between updates by :class:`~memcosim.training.layer_read.ReadWeight`), Gaussian
read noise, the tile's DACs and ADCs when it has them (:mod:`memcosim.training.io_precision`).
Backward is autograd on the effective weights (straight through the non-idealities); an update
made of stochastic trains is formed from the saved inputs and output gradients, so that backward
skips the weight gradient (``weight.grad`` stays None, as in aihwkit's analog tiles). Updates are
pulses: the tile's update rule (:mod:`memcosim.training.rules`) turns a gradient into signed pulse
counts, :meth:`CrossbarLinear.apply_pulses` applies them (stochastic trains in hardware order:
:mod:`memcosim.training.hardware_order`); the reference devices' own symmetry points are searched by
:mod:`memcosim.training.symmetry_search`; :class:`~memcosim.training.layer_booking.EnergyBooking`
books what each read, pulse and operation costs.
"""

import math

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed
from memcosim.base.reproducible import thread_invariant_linear
from memcosim.training import event_kernel, kernel, kernel_ops
from memcosim.training.hardware_order import apply_events_torch, apply_streams, event_setup
from memcosim.training.io_precision import converted_linear
from memcosim.training.layer_booking import EnergyBooking
from memcosim.training.layer_read import ReadWeight
from memcosim.training.programming import programmed_conductances, weight_scale
from memcosim.training.symmetry_search import find_symmetry_points
from memcosim.training.tile import TileConfig

__all__ = ["CrossbarLayer", "CrossbarLinear"]

class CrossbarLayer(ReadWeight, EnergyBooking, nn.Module):
    """A weight matrix ``W (out_features, in_features)`` held by crossbar devices (see the module docstring).

    The base of every crossbar layer: :class:`CrossbarLinear` reads it with a vector per sample,
    the convolutions (:mod:`memcosim.training.conv`) with a patch per output position. Its
    :meth:`read` is the array's matrix-vector product through the tile's read path; a subclass
    adds only how its input becomes the rows of the array and its output leaves the columns.

    Parameters
    ----------
    in_features, out_features : int
        Array rows (inputs) and columns (outputs) of the weight matrix.
    bias : bool
        A digital (floating-point) bias, updated with plain SGD.
    tile : TileConfig, optional
        Device, update rule, read path, array and energy (default ``TileConfig()``: the compact
        HZO device at 3 V x 20 ns, mixed precision, ideal wires, device-level energy).
    seed : int
        Seed of the layer's random streams (device spread, initial states, noise).
    name : str
        Stream and ledger name of the layer.
    initial_weight : torch.Tensor, optional
        Program these weights instead of ``nn.Linear``'s initialisation.

    Attributes
    ----------
    ledger : EnergyLedger or None
        Where the layer books its pulses, reads and periphery events; set it with
        :func:`memcosim.training.attach_ledger`. Pulses of programming (the symmetry-point
        search) made before a ledger is attached are booked into it when it is.
    """

    def __init__(self, in_features, out_features, bias=True, tile=None, *, seed=0, name="crossbar", initial_weight=None,
                 device=None, dtype=None):
        super().__init__()
        tile = TileConfig() if tile is None else tile
        if not isinstance(tile, TileConfig):
            raise ConfigError(f"tile: {type(self).__name__} needs a TileConfig, got {type(tile).__name__}")
        for key, value in (("in_features", in_features), ("out_features", out_features)):
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ConfigError(f"{key}: {type(self).__name__} needs an integer >= 1, got {value!r}")
        self.in_features, self.out_features, self.tile, self.name = in_features, out_features, tile, name
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self._ledger = None
        self._pending_calibration = None
        self._seed = seed
        self.generator = torch.Generator(device=self.weight.device)
        self.generator.manual_seed(stream_seed(seed, f"{name}/pulses"))
        self._version = 0
        self._cached = None
        self._ref_read = None
        self._read_weight = None  # read_kernel.ReadWeightCache of the fitted IR-drop read (compiled path)
        self._moved = None  # the read tiles pulses moved since the last full read (bool; compiled read)
        self._saved = None
        self._events = None
        self._read_sums = None
        self.reset_parameters(initial_weight)

    @property
    def ledger(self):
        """The :class:`~memcosim.training.ledger.EnergyLedger` the layer books in (None: none)."""
        return self._ledger

    @ledger.setter
    def ledger(self, ledger):
        self._ledger = ledger
        if ledger is not None and self._pending_calibration is not None:  # programming before the ledger came
            energies, pulses = self._pending_calibration
            self._pending_calibration = None
            ledger.add_pulses(self.name, energies, pulses, calibration=True)

    # ----- programming ---------------------------------------------------------------------------------------------
    def reset_parameters(self, initial_weight=None):
        """``nn.Linear``'s initialisation (or ``initial_weight``), then program the devices to those weights."""
        gen = torch.Generator(device=self.weight.device)
        gen.manual_seed(stream_seed(self._seed, f"{self.name}/init"))
        with torch.no_grad():
            nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=gen)
            if initial_weight is not None:
                self.weight.copy_(initial_weight)
            if self.bias is not None:
                bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
                nn.init.uniform_(self.bias, -bound, bound, generator=gen)
        self.program(self.weight.detach())

    def program(self, weight):
        """Set up the devices and program them (exactly, program-and-verify) to ``weight``."""
        model, mapping = self.tile.device, self.tile.mapping
        shape = (self.out_features, self.in_features)
        self._events = None
        where, f64 = self.weight.device, torch.float64
        rng = numpy_rng(self._seed, f"{self.name}/devices")
        self._spread = model.sample(shape, rng, where, f64)
        self._spread_ref = model.sample(shape, rng, where, f64) if mapping.mapping == "differential" else {}
        self.weight_max, self.scale_per_s = weight_scale(model, mapping, weight)

        def own_symmetry_points(lo, hi):  # the reference devices' own points, from an as-fabricated start
            gen = torch.Generator(device=where)
            gen.manual_seed(stream_seed(self._seed, f"{self.name}/as-fabricated"))
            return self.find_symmetry_points(lo + torch.rand(shape, generator=gen, dtype=f64, device=where) * (hi - lo))

        g, g_ref = programmed_conductances(model, mapping, self.tile.update, weight.to(f64), self._spread, self._spread_ref,
                                           self.scale_per_s, own_symmetry_points)
        self.register_buffer("conductance_s", g)
        self.register_buffer("reference_s", g_ref)
        if model.populations > 1:
            # devices whose history is more than their conductance (two domain populations)
            self.register_buffer("conductance_state", model.state_of(g, self._spread))
            self.register_buffer("reference_state", model.state_of(g_ref, self._spread_ref))
        self.register_buffer("accumulator", torch.zeros(shape, dtype=f64, device=where))
        self.eps_w = self.scale_per_s * model.step_s() * (2 if mapping.mapping == "differential" else 1)
        self.tile.update.prepare(self)  # what the rule keeps besides the devices (Tiki-Taka: its fast array)
        self.sync_weight()

    def find_symmetry_points(self, g):
        """Each device's symmetry point (siemens) by alternating up and down pulses
        (:func:`memcosim.training.symmetry_search.find_symmetry_points`); the pulses are booked as calibration."""
        return find_symmetry_points(self.tile.device, self._spread, g, self.tile.update.symmetry_cycles, self.generator,
                                    self._write_terms, lambda e, n: self._book_pulses(e, n, calibration=True), self.name)


    def sync_weight(self):
        """Refresh ``weight`` from the conductances after pulses (the optimizer calls it after a step)."""
        with torch.no_grad():
            if kernel.enabled(self.weight) and self.weight.is_contiguous():
                kernel_ops.sync(self.weight, self.conductance_s, self.reference_s, self.scale_per_s)
            else:
                self.weight.copy_((self.scale_per_s * (self.conductance_s - self.reference_s)).to(self.weight.dtype))
            share = self._fast_share()
            if share is not None:
                self.weight.add_(share[0] * share[1].weight)
        self._version += 1

    def _fast_share(self):
        """``(gamma, fast array)`` when the network sees ``W + gamma A`` (Tiki-Taka with ``gamma > 0``,
        :mod:`memcosim.training.tiki_taka`), else None."""
        gamma = getattr(self.tile.update, "gamma", 0.0)
        return (gamma, self._modules["fast"]) if gamma > 0 and "fast" in self._modules else None

    # ----- forward -------------------------------------------------------------------------------------------------
    def read(self, x):
        """``x W^T`` as the array reads it (no bias): ``x (..., in_features) -> (..., out_features)``.

        Every row of ``x`` is one read of the array (a sample of a linear layer, a patch of a
        convolution): each is booked in the ledger (array energy and periphery), goes through
        the IR-drop model and the converters, and, for stochastic pulse trains, is one row of
        the update's bit-stream batch.
        """
        read = self.tile.read
        if self.ledger is not None:
            self._book_read(x.detach())
        # straight-through: values of the read weight, gradients of the programmed weight
        w_read = self.forward_weight(None if torch.is_grad_enabled() and x.requires_grad else x)
        saves = self.training and torch.is_grad_enabled() and self.tile.update.needs_activations
        # an update from the saved activations (stochastic trains) needs no weight gradient: weight.grad stays None
        weight_grad = not saves or self.tile.update.needs_weight_grad
        if self.tile.io.ideal:  # nn.functional.linear, the same numbers on any thread count
            y = thread_invariant_linear(x, self.weight, weight_grad=weight_grad,
                                        values=None if w_read is self.weight else w_read)
            if read.noise_std > 0:
                full_scale = self.weight_max * x.detach().abs().amax(dim=-1, keepdim=True)
                noise = torch.randn(y.shape, generator=self.generator, dtype=y.dtype, device=y.device)
                y = y + (read.noise_std * full_scale * noise).detach()
        else:  # DACs, row tiles and ADCs, forward and backward (:mod:`memcosim.training.io_precision`)
            tiles = self.tile.io.tile_size
            w = self.weight if w_read is self.weight else self.weight + (w_read - self.weight).detach()
            y = converted_linear(x, w, self.tile.io, self.weight_max, rows=tiles or self.tile.array.rows,
                                 cols=tiles or self.tile.array.cols, noise_std=read.noise_std, generator=self.generator,
                                 weight_grad=weight_grad)
        if saves:
            self._saved = x.detach().reshape(-1, self.in_features)
            if y.requires_grad:
                y.register_hook(self._save_grad_output)
        return y

    def forward(self, x):
        """The array's read of ``x`` plus the bias (:meth:`read`)."""
        y = self.read(x)
        return y if self.bias is None else y + self.bias

    def _save_grad_output(self, grad):
        self._saved = (self._saved, grad.detach().reshape(-1, self.out_features))

    def has_saved(self):
        """Whether a forward and backward pass saved inputs and output gradients for an update."""
        return isinstance(self._saved, tuple)

    def take_saved(self):
        """The inputs and output gradients of the last forward/backward (for stochastic updates)."""
        if not self.has_saved():
            raise ConfigError("update.pulse_mode: stochastic updates need a forward and backward pass before the step")
        saved, self._saved = self._saved, None
        return saved

    # ----- update --------------------------------------------------------------------------------------------------
    def apply_pulses(self, n):
        """Apply signed pulse counts ``n`` (weight direction, shape of the weight) and book their energy."""
        if self.tile.mapping.mapping == "differential":
            self._pulse("conductance_s", self._spread, n)
            self._pulse("reference_s", self._spread_ref, -n)
        else:
            self._pulse("conductance_s", self._spread, n)
        self._book_operations(n.clamp(min=0), (-n).clamp(min=0))
        if self.ledger is not None and self.tile.energy.periphery is not None:
            index = torch.nonzero(n.reshape(-1), as_tuple=True)[0]
            self._book_periphery_counts(index, n.reshape(-1)[index])

    def apply_pulse_streams(self, streams, compiled=None):
        """Apply one stochastic update's pulse trains in hardware order and book their energy.

        Sample after sample, each device receives the train of its coincidences of that sample
        at the state the previous trains left it in (:mod:`memcosim.training.hardware_order`);
        a differential pair's negative device gets the opposite train. Every train is costed at
        the state it meets, with no host synchronisation.

        Parameters
        ----------
        streams : BitStreams
            The update's pulse trains (:func:`memcosim.training.bitstreams.draw_streams`).
        compiled : bool, optional
            Run the compiled kernel (default: :func:`memcosim.training.kernel.enabled`) or the
            torch path; both give the same result.
        """
        pair = self.tile.mapping.mapping == "differential"
        buffers = ("conductance_s", "reference_s") if pair else ("conductance_s",)
        states = ("conductance_state", "reference_state") if pair else ("conductance_state",)
        compiled = kernel.enabled(self.conductance_s) if compiled is None else compiled
        booked = apply_streams(streams, [getattr(self, b) for b in buffers], [getattr(self, s, None) for s in states],
                               self._event_setup(), event_kernel.apply_events if compiled else apply_events_torch,
                               counts=self._books_counts())
        if compiled:
            self._mark_moved(streams)
        self._book_streams(streams, booked, compiled)

    def _event_setup(self):
        """The device constants of :meth:`apply_pulse_streams`, built once per programming."""
        if self._events is None:
            spreads = [self._spread, self._spread_ref] if self.tile.mapping.mapping == "differential" else [self._spread]
            self._events = event_setup(self.tile.device, spreads, self.conductance_s.numel(), self.conductance_s.device,
                                       self.tile.write_energy)
        return self._events

    def apply_pulses_at(self, index, n):
        """Apply signed pulse counts ``n`` to the devices at flat indices ``index`` (others get none)."""
        if index.numel() == 0:
            return
        self._pulse_at("conductance_s", self._spread, index, n)
        if self.tile.mapping.mapping == "differential":
            self._pulse_at("reference_s", self._spread_ref, index, -n)
        self._book_pulses_at(index, n)

    def _pulse(self, buffer, spread, n):
        idx = torch.nonzero(n.reshape(-1), as_tuple=True)[0]
        if idx.numel() == 0:
            return
        self._pulse_at(buffer, spread, idx, n.reshape(-1)[idx])

    def _pulse_at(self, buffer, spread, idx, n_sub):
        model = self.tile.device
        states = None
        if model.populations > 1:
            state_buffer = {"conductance_s": "conductance_state", "reference_s": "reference_state"}[buffer]
            states = getattr(self, state_buffer).reshape(-1, model.populations)
        g_all = getattr(self, buffer).reshape(-1)
        g0, g1 = model.respond_at(g_all, idx, n_sub, spread, self.generator, states, self._event_constants(g_all, spread))
        self._book_pulsed_at(g0, g1, n_sub)

    def _event_constants(self, g_all, spread):
        """``(event constants, which array)`` for a device that responds compiled at indices
        (:meth:`~memcosim.training.pulsed.PulsedDevice.respond_at`): when the kernel runs on these
        conductances (flat float64, contiguous) and ``spread`` is one of the layer's arrays; else None."""
        if not (self.tile.device.responds_compiled_at and kernel.enabled(g_all) and g_all.dtype == torch.float64
                and g_all.is_contiguous()):
            return None
        if spread is self._spread:
            return self._event_setup(), 0
        if spread is self._spread_ref and self.tile.mapping.mapping == "differential":
            return self._event_setup(), 1
        return None

    # ----- state ---------------------------------------------------------------------------------------------------
    def get_extra_state(self):
        return {"generator": self.generator.get_state(), "spread": {k: v.cpu() for k, v in self._spread.items()},
                "spread_ref": {k: v.cpu() for k, v in self._spread_ref.items()}, "weight_max": self.weight_max,
                "scale_per_s": self.scale_per_s, "eps_w": self.eps_w}

    def set_extra_state(self, state):
        self.generator.set_state(state["generator"])
        where = self.weight.device
        self._spread = {k: v.to(where) for k, v in state["spread"].items()}
        self._spread_ref = {k: v.to(where) for k, v in state["spread_ref"].items()}
        self.weight_max, self.scale_per_s, self.eps_w = state["weight_max"], state["scale_per_s"], state["eps_w"]
        self._events = None
        self._version += 1

    def _tile_repr(self):
        t = self.tile
        return (f"update={t.update.name}, mapping={t.mapping.mapping}, "
                f"pulse={t.device.amplitude_v:g} V x {t.device.width_s:g} s")

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                + self._tile_repr())


class CrossbarLinear(CrossbarLayer):
    """``y = x W^T + b`` with ``W`` read from crossbar conductances; a drop-in for ``nn.Linear``.

    ``CrossbarLinear(784, 256)`` works with the default tile (:class:`TileConfig`); every
    parameter of :class:`CrossbarLayer` applies.

    Shape
    -----
    - Input: ``(*, in_features)``; every row is one read of the array.
    - Output: ``(*, out_features)``.

    Examples
    --------
    >>> layer = CrossbarLinear(4, 2)
    >>> layer(torch.ones(3, 4)).shape
    torch.Size([3, 2])
    """

    @classmethod
    def from_digital(cls, module, tile=None, *, seed=0, name="linear"):
        """A crossbar layer programmed to ``module``'s present weights, with its bias (an ``nn.Linear``
        or a subclass; as aihwkit's ``AnalogLinear.from_digital``)."""
        if not isinstance(module, nn.Linear):
            raise ConfigError(f"module: CrossbarLinear.from_digital takes an nn.Linear, got {type(module).__name__}")
        layer = cls(module.in_features, module.out_features, module.bias is not None, tile, seed=seed, name=name,
                    initial_weight=module.weight.detach(), device=module.weight.device, dtype=module.weight.dtype)
        with torch.no_grad():
            if module.bias is not None:
                layer.bias.copy_(module.bias)
        return layer
