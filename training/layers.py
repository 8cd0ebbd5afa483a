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

``scale`` maps half the device's *usable* window — where a pulse still moves it by a good
fraction of its nominal step in both directions (:meth:`PulsedDevice.window_s`) — to
``weight_max`` (the initial weights' largest magnitude divided by ``weight_scaling_omega``). Forward: the read model — the fitted
IR-drop model of the physical array (:mod:`memcosim.training.ir_drop`) and Gaussian read noise —
or ``forward = "exact"``: every array tile solved with the native circuit solver (its exact
effective conductances, rebuilt once per weight update), read through the tile's DACs and ADCs
when it has them (:mod:`memcosim.training.io_precision`). Backward is autograd on the effective
weights (straight through the non-idealities), through the backward converters when set. Updates
are pulses: the tile's update rule (:mod:`memcosim.training.rules`) turns a gradient into signed
pulse counts and :meth:`CrossbarLinear.apply_pulses` applies them. What each read, pulse and
operation costs is booked by :class:`~memcosim.training.layer_booking.EnergyBooking`.
"""

import math
import warnings

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed
from memcosim.training import kernel, kernel_ops, periphery
from memcosim.training.hardware_order import DeviceArrays, EnergyArrays, apply_events_torch
from memcosim.training.ir_drop import effective_conductance, exact_effective_conductance
from memcosim.training.io_precision import converted_linear
from memcosim.training.layer_booking import EnergyBooking
from memcosim.training.tile import TileConfig

__all__ = ["CrossbarLayer", "CrossbarLinear"]

_SYMMETRY_BLOCK = 4
"""Symmetry-point search: up/down pairs per block (a device is tested for convergence after each)."""
_SYMMETRY_TOLERANCE = 0.25
"""Symmetry-point search: a device stops when it is within this fraction of its own step of its symmetry point."""
_SYMMETRY_CONFIRM = 3
"""Symmetry-point search: consecutive blocks a device must pass the test in (a slow second mode, such as a
second domain population, shows up as a drift that no longer contracts once the fast one has settled)."""


class CrossbarLayer(EnergyBooking, nn.Module):
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
        g_lo, g_hi = model.window_s(mapping.window_step_ratio)
        if mapping.weight_scaling_omega == 0:  # unscaled: the weight is the normalised conductance
            self.weight_max = 1.0
            self.scale_per_s = 1.0 / model.normalisation()[1]
        else:
            w_max = float(weight.abs().max()) / mapping.weight_scaling_omega if weight.numel() else 1.0
            self.weight_max = max(w_max, 1e-12)
            self.scale_per_s = self.weight_max / ((g_hi - g_lo) / 2)  # weight per siemens
        lo, hi = model.bounds(self._spread, torch.zeros(shape, dtype=f64, device=where))
        w = weight.to(f64)
        rule = self.tile.update
        if mapping.mapping == "differential":
            centre = torch.full(shape, 0.5 * (g_lo + g_hi), dtype=f64, device=where)
            lo_r, hi_r = model.bounds(self._spread_ref, centre)
            g = torch.clamp(centre + w / (2 * self.scale_per_s), lo, hi)
            g_ref = torch.clamp(centre - w / (2 * self.scale_per_s), lo_r, hi_r)
        elif rule.needs_own_symmetry_points and getattr(rule, "symmetry_point", "own") == "global":
            g_ref = torch.full(shape, model.alternating_symmetry_point_s(), dtype=f64, device=where)
            g = torch.clamp(g_ref + w / self.scale_per_s, lo, hi)
        elif rule.needs_own_symmetry_points:
            gen = torch.Generator(device=where)
            gen.manual_seed(stream_seed(self._seed, f"{self.name}/as-fabricated"))
            start = lo + torch.rand(shape, generator=gen, dtype=f64, device=where) * (hi - lo)
            g_ref = self.find_symmetry_points(start)
            g = torch.clamp(g_ref + w / self.scale_per_s, lo, hi)
        else:
            ref = {"window_centre": 0.5 * (g_lo + g_hi), "midpoint": 0.5 * (model.g_min_s + model.g_max_s),
                   "data_mean": model.normalisation()[0]}.get(mapping.reference)
            ref = model.symmetry_point_s() if ref is None else ref
            g_ref = torch.full(shape, ref, dtype=f64, device=where)
            g = torch.clamp(g_ref + w / self.scale_per_s, lo, hi)
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
        """Each device's symmetry point, by alternating single up and down pulses (Kim et al., 2019).

        Pairs of one up and one down pulse drive a soft-bounds device toward the conductance where
        its up and down steps cancel. ``_SYMMETRY_BLOCK`` pairs make a block; a device's estimate
        is the mean centre of its up/down cycles over its latest block. After every block, the
        drift ``d`` of the estimate and its ratio ``q`` to the drift before give the distance still
        to go if the approach is geometric (Aitken): ``d q / (1 - q)`` for ``0 < q < 1``, ``d``
        after a reversal, unbounded for ``q >= 1``. A device whose drift and distance to go are
        both under ``_SYMMETRY_TOLERANCE`` of its *own* step (its mean single-pulse move in the
        block) in ``_SYMMETRY_CONFIRM`` consecutive blocks stops receiving pulses and keeps its
        estimate. The search ends when every device has stopped, or after ``symmetry_cycles``
        pairs with a ``RuntimeWarning`` (devices still moving). Pulses are booked in the ledger as
        calibration (not training) pulses.

        Cost: ``O(pairs x devices)``. A soft-bounds device of ``N`` states with its symmetry point
        at ``x_sp`` of the range approaches it with time constant ``N x_sp (1 - x_sp)`` pairs, so
        a stopping rule in fractions of the range (the former one: 0.1 % over a pair) stops it up
        to ``0.001 N x_sp (1 - x_sp)`` of the range short. Limit: a second mode far slower than the
        first (a domain population that starts almost fully switched) whose drift is under the
        tolerance is taken for convergence.

        Returns
        -------
        torch.Tensor
            Each device's symmetry point, siemens.
        """
        model, spread, block = self.tile.device, self._spread, _SYMMETRY_BLOCK
        max_pairs = self.tile.update.symmetry_cycles
        state = model.state_of(g, spread)
        active = torch.ones_like(g, dtype=torch.bool)
        estimate, remaining = g.clone(), torch.full_like(g, math.inf)
        streak = torch.zeros_like(g, dtype=torch.int64)  # consecutive blocks a device has passed the test in
        previous = drift = None  # the latest block's estimate; the drift between the two before
        pairs = 0
        while pairs < max_pairs and bool(active.any()):
            n = active.to(g.dtype)
            centre, step = torch.zeros_like(g), torch.zeros_like(g)
            size = min(block, max_pairs - pairs)
            for _ in range(size):
                s_up = model.respond_state(state, n, spread, self.generator)
                g_up = model.conductance_of(s_up, spread)
                s_new = model.respond_state(s_up, -n, spread, self.generator)
                g_new = model.conductance_of(s_new, spread)
                self._book(g, g_up, n, "up", calibration=True)
                self._book(g_up, g_new, n, "down", calibration=True)
                centre += 0.25 * (g + 2 * g_up + g_new)  # the centres of the up and of the down half-cycle
                step += 0.5 * ((g_up - g).abs() + (g_up - g_new).abs())
                g, state = g_new, s_new
            pairs += size
            centre, step = centre / size, step / size
            estimate = torch.where(active, centre, estimate)
            if drift is not None:
                new_drift = centre - previous
                remaining = torch.where(active, _geometric_tail(drift, new_drift), remaining)
                passed = torch.maximum(new_drift.abs(), remaining) <= _SYMMETRY_TOLERANCE * step
                streak = torch.where(passed, streak + 1, torch.zeros_like(streak))
                active = active & (streak < _SYMMETRY_CONFIRM)
                drift = torch.where(active, new_drift, drift)
            elif previous is not None:
                drift = centre - previous
            previous = torch.where(active, centre, previous) if previous is not None else centre
        if bool(active.any()):
            own = torch.where(active, remaining / torch.clamp(step, min=1e-300), torch.zeros_like(g))
            warnings.warn(f"update.symmetry_cycles: the symmetry-point search of layer {self.name!r} stopped after "
                          f"{max_pairs} up/down pairs with {int(active.sum())} of {active.numel()} devices still "
                          f"moving (up to {float(own.max()):.3g} of their own step from the point they approach); "
                          "raise symmetry_cycles", RuntimeWarning, stacklevel=3)
        return estimate

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
    def _read_conductances(self):
        """(G, G_ref) as the array reads them (inputs x outputs is ``.T``): IR-drop included when configured."""
        array, g, g_ref = self.tile.array, self.conductance_s, self.reference_s
        if self.tile.read.forward == "exact":
            if array.ideal_wires:  # ideal wires: the exact solve is the ideal read
                return g, g_ref
            exact = lambda m: exact_effective_conductance(  # noqa: E731
                m.T, array.r_wire_ohm, array.r_driver_ohm, array.rows, array.cols).T
            return exact(g), exact(g_ref)
        if array.ir_drop is None or array.ideal_wires:
            return g, g_ref
        model = (array.r_wire_ohm, array.r_driver_ohm, array.ir_drop.a, array.ir_drop.b, array.rows, array.cols)
        if kernel.enabled(g):  # compiled, in the (outputs, inputs) layout, float64
            eff = lambda m: kernel_ops.ir_drop(m, *model)  # noqa: E731
        else:  # float32 is ample for a first-order correction of a few per cent, and twice as fast
            eff = lambda m: effective_conductance(m.T.float(), *model).T.to(m.dtype)  # noqa: E731
        if self.tile.mapping.mapping == "differential":
            return eff(g), eff(g_ref)
        # a reference array is programmed once: its read is computed once
        if self._ref_read is None or self._ref_read[0] is not g_ref or self._ref_read[1] != g_ref._version:
            self._ref_read = (g_ref, g_ref._version, eff(g_ref))
        return eff(g), self._ref_read[2]

    def forward_weight(self):
        """The weight the forward pass sees (IR-drop included), cached between updates."""
        array = self.tile.array
        if array.ideal_wires or self.tile.read.forward == "ideal" or (self.tile.read.forward == "model"
                                                                      and array.ir_drop is None):
            return self.weight  # the ideal read is the programmed weight itself
        if self._cached is None or self._cached[0] != self._version:
            g, g_ref = self._read_conductances()
            w = (self.scale_per_s * (g - g_ref)).to(self.weight.dtype)
            share = self._fast_share()
            self._cached = (self._version, w if share is None else w + share[0] * share[1].forward_weight())
        return self._cached[1]

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
        w_read = self.forward_weight()
        w = self.weight if w_read is self.weight else self.weight + (w_read - self.weight).detach()
        if self.tile.io.ideal:
            y = nn.functional.linear(x, w)
            if read.noise_std > 0:
                full_scale = self.weight_max * x.detach().abs().amax(dim=-1, keepdim=True)
                noise = torch.randn(y.shape, generator=self.generator, dtype=y.dtype, device=y.device)
                y = y + (read.noise_std * full_scale * noise).detach()
        else:  # DACs, row tiles and ADCs, forward and backward (:mod:`memcosim.training.io_precision`)
            tiles = self.tile.io.tile_size
            y = converted_linear(x, w, self.tile.io, self.weight_max, rows=tiles or self.tile.array.rows,
                                 cols=tiles or self.tile.array.cols, noise_std=read.noise_std, generator=self.generator)
        if self.training and torch.is_grad_enabled() and self.tile.update.needs_activations:
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

    def take_saved(self):
        """The inputs and output gradients of the last forward/backward (for stochastic updates)."""
        if not isinstance(self._saved, tuple):
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
        params, g_min, span, u_lam, energy = self._event_setup()
        pair = self.tile.mapping.mapping == "differential"
        populations = params.weights.numel()
        n = self.conductance_s.numel()
        if pair:
            g = torch.stack([self.conductance_s.reshape(-1), self.reference_s.reshape(-1)])
        else:
            g = self.conductance_s.view(1, n)
        if populations > 1:
            state = (torch.stack([self.conductance_state.reshape(n, -1), self.reference_state.reshape(n, -1)]) if pair
                     else self.conductance_state.view(1, n, populations))
        else:
            state = torch.zeros((len(g), 1, 1), dtype=torch.float64, device=g.device)
        arrays = DeviceArrays(g, state, g_min, span, u_lam)
        compiled = kernel.enabled(g) if compiled is None else compiled
        booked = (kernel.apply_events if compiled else apply_events_torch)(streams, arrays, params, energy)
        if pair:
            self.conductance_s.view(-1).copy_(g[0])
            self.reference_s.view(-1).copy_(g[1])
            if populations > 1:
                self.conductance_state.view(n, -1).copy_(state[0])
                self.reference_state.view(n, -1).copy_(state[1])
        if self.ledger is not None:
            self.ledger.add_pulses(self.name, booked[:3], booked[3])
            self._book_update_scheme(streams, compiled)
            if self.tile.energy.periphery is not None:
                self.ledger.add_periphery("update", *periphery.stream_update_cost(
                    self.tile.energy.periphery, streams, self.tile.device.width_s, 2 if pair else 1), layer=self.name)

    def _event_setup(self):
        """The device constants of :meth:`apply_pulse_streams`, built once per programming."""
        if self._events is None:
            model, where, n = self.tile.device, self.conductance_s.device, self.conductance_s.numel()
            spreads = [self._spread, self._spread_ref] if self.tile.mapping.mapping == "differential" else [self._spread]
            per_array = [model.event_arrays(spread, n, where) for spread in spreads]
            g_min, span, u_lam = (torch.stack([a[k] for a in per_array]).contiguous() for k in range(3))
            write = self.tile.write_energy
            tables = write.tables(where)
            energy = EnergyArrays(torch.stack([tables["up"], tables["down"]]).contiguous(),
                                  torch.tensor([write.switching_j_per_dx["up"], write.switching_j_per_dx["down"]],
                                               dtype=torch.float64, device=where),
                                  model.g_min_s, model.g_max_s - model.g_min_s)
            self._events = (model.event_params(where), g_min, span, u_lam, energy)
        return self._events

    def apply_pulses_at(self, index, n):
        """Apply signed pulse counts ``n`` to the devices at flat indices ``index`` (others get none)."""
        if index.numel() == 0:
            return
        self._pulse_at("conductance_s", self._spread, index, n)
        if self.tile.mapping.mapping == "differential":
            self._pulse_at("reference_s", self._spread_ref, index, -n)
        if self.ledger is not None and self.tile.energy.periphery is not None:
            self._book_periphery_counts(index, n)
        if self.ledger is not None and self.tile.energy.scheme == "row_parallel":
            if kernel.enabled(n):  # sparse, compiled
                n64 = n.to(torch.float64)
                self._book_shared(kernel_ops.row_operations_shared(index, n64.clamp(min=0), (-n64).clamp(min=0),
                                                               self.conductance_s.shape, self._operation_costs(),
                                                               self.tile.mapping.mapping == "differential"))
                return
            dense = torch.zeros(self.conductance_s.shape, dtype=torch.float64, device=n.device)
            dense.view(-1)[index] = n.to(torch.float64)
            self._book_operations(dense.clamp(min=0), (-dense).clamp(min=0))

    def _pulse(self, buffer, spread, n):
        idx = torch.nonzero(n.reshape(-1), as_tuple=True)[0]
        if idx.numel() == 0:
            return
        self._pulse_at(buffer, spread, idx, n.reshape(-1)[idx])

    def _pulse_at(self, buffer, spread, idx, n_sub):
        g_all = getattr(self, buffer).reshape(-1)
        g0 = g_all[idx]
        sub = {k: v.reshape(-1)[idx] for k, v in spread.items()}
        model = self.tile.device
        if model.populations > 1:
            state_buffer = {"conductance_s": "conductance_state", "reference_s": "reference_state"}[buffer]
            states = getattr(self, state_buffer).reshape(-1, model.populations)
            s1 = model.respond_state(states[idx], n_sub, sub, self.generator)
            states[idx] = s1
            g1 = model.conductance_of(s1, sub)
        else:
            g1 = model.respond(g0, n_sub, sub, self.generator)
        g_all[idx] = g1
        for direction, mask in (("up", n_sub > 0), ("down", n_sub < 0)):
            if bool(mask.any()):
                self._book(g0[mask], g1[mask], n_sub[mask].abs(), direction)
        if self.ledger is not None and self.tile.energy.scheme == "serial" and self.tile.operation_costs is not None:
            self._book_shared(self._operation_costs().pulses_j(n_sub.clamp(min=0), (-n_sub).clamp(min=0)))

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


def _geometric_tail(before, drift):
    """How far a sequence still travels after its latest step ``drift``, the step before being
    ``before``, if it converges geometrically (Aitken): ``|drift| q / (1 - q)`` with
    ``q = drift / before`` in (0, 1); ``|drift|`` after a reversal (``q <= 0``); 0 where neither
    moved; infinite where it does not contract (``q >= 1``, or a move after a standstill)."""
    q = drift / torch.where(before == 0, torch.ones_like(before), before)
    inf = torch.full_like(drift, math.inf)
    tail = torch.where(q <= 0, drift.abs(), torch.where(q < 1, drift.abs() * q / (1 - q), inf))
    tail = torch.where(before == 0, torch.where(drift == 0, torch.zeros_like(drift), inf), tail)
    return tail


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
