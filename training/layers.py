"""Crossbar layers: weights stored as device conductances, changed only by programming pulses.

:class:`CrossbarLinear` is a drop-in for :class:`torch.nn.Linear`. Its weight is read from
conductances, ``W = scale * (G - G_ref)``:

* ``mapping = "reference"`` — each weight is one device against a reference device. The
  reference is programmed once: to the nominal mid-range conductance for plain analog SGD and
  mixed precision, or to *each device's own symmetry point* for symmetry-point shifting;
* ``mapping = "differential"`` — a pair ``G+ - G-``, both pulsed (in opposite directions) on
  every update, centred on the nominal symmetry point.

``scale`` maps half the device's *usable* window — where a pulse still moves it by a good
fraction of its nominal step in both directions (:meth:`PulsedDevice.window_s`) — to
``weight_max`` (the initial weights' largest magnitude divided by ``weight_scaling_omega``). Forward: the read model — the fitted
IR-drop model of the physical array (:mod:`memcosim.training.ir_drop`) and Gaussian read noise —
or ``forward = "exact"``: every array tile solved with the native circuit solver. Backward is
ordinary autograd on the effective weights (straight through the non-idealities). Updates are
pulses, see :mod:`memcosim.training.optim`.
"""

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed
from memcosim.training.ir_drop import effective_conductance
from memcosim.training.ledger import WriteEnergyTable
from memcosim.training.pulsed import PulsedDevice

__all__ = ["TileConfig", "CrossbarLinear", "convert", "crossbar_layers", "attach_ledger"]

_ALGORITHMS = ("sgd", "mixed_precision", "symmetry_shift")


@dataclass(frozen=True)
class TileConfig:
    """How a layer maps onto crossbar tiles, reads and is updated."""

    device: PulsedDevice
    """The device model with its programming pulse (:func:`memcosim.training.pulsed.pulsed_device`)."""
    algorithm: str = "mixed_precision"
    """``sgd`` (analog SGD), ``mixed_precision`` (Nandakumar et al.) or ``symmetry_shift``."""
    pulse_mode: str = "stochastic"
    """Analog SGD: ``deterministic`` pulse counts or ``stochastic`` pulse trains (Gokmen & Vlasov)."""
    mapping: str = "reference"
    """``reference`` (device against a reference device) or ``differential`` (G+ - G-)."""
    reference: str = "window_centre"
    """``mapping = "reference"`` with ``sgd`` / ``mixed_precision``: the reference holds the centre
    of the nominal device's usable window (``window_centre``), the ``midpoint`` of
    ``[g_min_s, g_max_s]``, or the nominal ``symmetry_point`` of the pulse (``symmetry_shift``
    always finds each device's own symmetry point by pulsing it)."""
    window_step_ratio: float = 0.25
    """The usable window ends where a pulse moves the device by less than this fraction of the
    nominal step (:meth:`PulsedDevice.window_s`); ``weight_max`` maps to its half width."""
    verify: bool = False
    """Mixed precision: after a transfer, read the device back and subtract the weight change it
    actually made from the accumulator (instead of ``n * dw``); the reads are booked."""
    weight_scaling_omega: float = 0.6
    """The largest initial |weight| maps to this fraction of ``weight_max``."""
    max_pulses: int = 31
    """Most pulses one device receives in one update."""
    bit_length: int = 31
    """Stochastic pulse trains: bits per update (BL)."""
    read_noise_std: float = 0.0
    """Gaussian read noise, relative to the full-scale column output."""
    read_voltage_v: float = 0.1
    """Largest input voltage of a read, volts."""
    read_width_s: float = 1e-8
    """Duration of one read, seconds."""
    read_energy_coefficient: float = 1.0
    """Fitted read-energy coefficient (``models["read_energy"]["coefficient"]``)."""
    write_energy: WriteEnergyTable = field(default_factory=WriteEnergyTable.constant)
    """Per-pulse write energy (:class:`memcosim.training.ledger.WriteEnergyTable`)."""
    ir_drop: dict | None = None
    """``{"a": .., "b": ..}`` of the fitted IR-drop model, or None for ideal wires."""
    r_wire_ohm: float = 0.0
    """Wire segment resistance of the physical array, ohms."""
    r_driver_ohm: float = 0.0
    """Row driver resistance, ohms."""
    array_rows: int = 256
    """Physical array rows (inputs per tile)."""
    array_cols: int = 256
    """Physical array columns (outputs per tile)."""
    forward: str = "model"
    """``model`` (fitted IR-drop model) or ``exact`` (native circuit solve per tile, slow)."""
    symmetry_cycles: int = 1000
    """Symmetry-point search: most alternating up/down pulse pairs."""

    def __post_init__(self):
        checks = [
            ("algorithm", self.algorithm in _ALGORITHMS, f"allowed: {', '.join(_ALGORITHMS)}"),
            ("pulse_mode", self.pulse_mode in ("deterministic", "stochastic"), "allowed: deterministic, stochastic"),
            ("mapping", self.mapping in ("reference", "differential"), "allowed: reference, differential"),
            ("forward", self.forward in ("model", "exact"), "allowed: model, exact"),
            ("reference", self.reference in ("window_centre", "midpoint", "symmetry_point"),
             "allowed: window_centre, midpoint, symmetry_point"),
            ("window_step_ratio", 0 < self.window_step_ratio < 1, "allowed range (0, 1)"),
            ("weight_scaling_omega", 0 < self.weight_scaling_omega <= 1, "allowed range (0, 1]"),
            ("max_pulses", isinstance(self.max_pulses, int) and 1 <= self.max_pulses <= 10**6, "allowed range [1, 1e6]"),
            ("bit_length", isinstance(self.bit_length, int) and 1 <= self.bit_length <= 1024, "allowed range [1, 1024]"),
            ("read_noise_std", 0 <= self.read_noise_std <= 1, "allowed range [0, 1]"),
            ("array_rows", isinstance(self.array_rows, int) and self.array_rows >= 1, "an integer >= 1"),
            ("array_cols", isinstance(self.array_cols, int) and self.array_cols >= 1, "an integer >= 1"),
            ("symmetry_cycles", isinstance(self.symmetry_cycles, int) and self.symmetry_cycles >= 1, "an integer >= 1"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"tile.{name}: got {getattr(self, name)!r}; {allowed}")
        if self.algorithm == "symmetry_shift" and self.mapping != "reference":
            raise ConfigError("tile.mapping: symmetry_shift needs mapping = 'reference' (the reference holds the symmetry point)")


class CrossbarLinear(nn.Module):
    """``y = x W^T + b`` with ``W`` read from crossbar conductances; a drop-in for ``nn.Linear``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        A digital (floating-point) bias, updated with plain SGD.
    tile : TileConfig
    seed : int
        Seed of the layer's random streams (device spread, initial states, noise).
    name : str
        Stream and ledger name of the layer.
    initial_weight : torch.Tensor, optional
        Program these weights instead of ``nn.Linear``'s initialisation.
    ledger : EnergyLedger, optional
        Books pulses and reads (the symmetry-point search at programming included).
    """

    def __init__(self, in_features, out_features, bias=True, tile=None, *, seed=0, name="crossbar", initial_weight=None,
                 ledger=None, device=None, dtype=None):
        super().__init__()
        if tile is None:
            raise ConfigError("tile: CrossbarLinear needs a TileConfig")
        self.in_features, self.out_features, self.tile, self.name = in_features, out_features, tile, name
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.ledger = ledger
        self._seed = seed
        dev = self.weight.device
        self.generator = torch.Generator(device=dev)
        self.generator.manual_seed(stream_seed(seed, f"{name}/pulses"))
        self._version = 0
        self._cached = None
        self._ref_read = None
        self._saved = None
        self.reset_parameters(initial_weight)

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
        t, d = self.tile, self.tile.device
        shape = (self.out_features, self.in_features)
        dev = self.weight.device
        f64 = torch.float64
        rng = numpy_rng(self._seed, f"{self.name}/devices")
        self._dev = d.sample(shape, rng, dev, f64)
        self._dev_ref = d.sample(shape, rng, dev, f64) if t.mapping == "differential" else {}
        g_lo, g_hi = d.window_s(t.window_step_ratio)
        w_max = float(weight.abs().max()) / t.weight_scaling_omega if weight.numel() else 1.0
        self.weight_max = max(w_max, 1e-12)
        self.scale_per_s = self.weight_max / ((g_hi - g_lo) / 2)  # weight per siemens
        lo, hi = d.bounds(self._dev, torch.zeros(shape, dtype=f64, device=dev))
        w = weight.to(f64)
        if t.mapping == "differential":
            centre = torch.full(shape, 0.5 * (g_lo + g_hi), dtype=f64, device=dev)
            lo_r, hi_r = d.bounds(self._dev_ref, centre)
            g = torch.clamp(centre + w / (2 * self.scale_per_s), lo, hi)
            g_ref = torch.clamp(centre - w / (2 * self.scale_per_s), lo_r, hi_r)
        elif t.algorithm == "symmetry_shift":
            gen = torch.Generator(device=dev)
            gen.manual_seed(stream_seed(self._seed, f"{self.name}/as-fabricated"))
            start = lo + torch.rand(shape, generator=gen, dtype=f64, device=dev) * (hi - lo)
            g_ref = self.find_symmetry_points(start)
            g = torch.clamp(g_ref + w / self.scale_per_s, lo, hi)
        else:
            ref = {"window_centre": 0.5 * (g_lo + g_hi), "midpoint": 0.5 * (d.g_min_s + d.g_max_s)}.get(t.reference)
            ref = d.symmetry_point_s() if ref is None else ref
            g_ref = torch.full(shape, ref, dtype=f64, device=dev)
            g = torch.clamp(g_ref + w / self.scale_per_s, lo, hi)
        self.register_buffer("conductance_s", g)
        self.register_buffer("reference_s", g_ref)
        if d.populations > 1:
            # devices whose history is more than their conductance (two domain populations)
            self.register_buffer("conductance_state", d.state_of(g, self._dev))
            self.register_buffer("reference_state", d.state_of(g_ref, self._dev_ref))
        self.register_buffer("accumulator", torch.zeros(shape, dtype=f64, device=dev))
        self.eps_w = self.scale_per_s * d.step_s() * (2 if t.mapping == "differential" else 1)
        self._sync_weight()

    def find_symmetry_points(self, g):
        """Each device's symmetry point, by alternating single up and down pulses.

        Pulses are booked in the ledger as calibration (not training) pulses. Stops when no
        device moved by more than 0.1 % of the window over a pair, or after ``symmetry_cycles``.

        Returns
        -------
        torch.Tensor
            The centre of each device's final up/down cycle, siemens.
        """
        d = self.tile.device
        span = d.g_max_s - d.g_min_s
        ones = torch.ones_like(g)
        state = d.state_of(g, self._dev)
        for _ in range(self.tile.symmetry_cycles):
            s_up = d.respond_state(state, ones, self._dev, self.generator)
            s_new = d.respond_state(s_up, -ones, self._dev, self.generator)
            g_up, g_new = d.conductance_of(s_up, self._dev), d.conductance_of(s_new, self._dev)
            self._book(g, g_up, ones, "up", calibration=True)
            self._book(g_up, g_new, ones, "down", calibration=True)
            moved = float((g_new - g).abs().max()) / span
            g, state = g_new, s_new
            if moved < 1e-3:
                break
        return 0.5 * (g + d.conductance_of(d.respond_state(state, ones, self._dev, self.generator), self._dev))

    def _sync_weight(self):
        with torch.no_grad():
            self.weight.copy_((self.scale_per_s * (self.conductance_s - self.reference_s)).to(self.weight.dtype))
        self._version += 1

    # ----- forward -------------------------------------------------------------------------------------------------
    def _read_conductances(self):
        """(G, G_ref) as the array reads them: with the fitted IR-drop model when configured."""
        t = self.tile
        g, g_ref = self.conductance_s, self.reference_s
        if t.ir_drop is None or (t.r_wire_ohm == 0 and t.r_driver_ohm == 0):
            return g, g_ref
        # float32 is ample for a first-order correction of a few per cent, and twice as fast
        eff = lambda m: effective_conductance(  # noqa: E731
            m.T.float(), t.r_wire_ohm, t.r_driver_ohm, t.ir_drop["a"], t.ir_drop["b"], t.array_rows, t.array_cols
        ).T.to(m.dtype)
        if t.mapping == "differential":
            return eff(g), eff(g_ref)
        # a reference array is programmed once: its read is computed once
        if self._ref_read is None or self._ref_read[0] is not g_ref or self._ref_read[1] != g_ref._version:
            self._ref_read = (g_ref, g_ref._version, eff(g_ref))
        return eff(g), self._ref_read[2]

    def forward_weight(self):
        """The weight the forward pass sees (IR-drop included), cached between updates."""
        if self._cached is None or self._cached[0] != self._version:
            g, g_ref = self._read_conductances()
            self._cached = (self._version, (self.scale_per_s * (g - g_ref)).to(self.weight.dtype))
        return self._cached[1]

    def forward(self, x):
        t = self.tile
        if self.ledger is not None:
            self._book_read(x.detach())
        if t.forward == "exact":
            w_read = self.weight.detach()
            y_read = self._exact_output(x.detach())
        else:
            w_read = self.forward_weight()
            y_read = None
        # straight-through: values of the read weight, gradients of the programmed weight
        w = self.weight + (w_read - self.weight).detach()
        y = nn.functional.linear(x, w)
        if y_read is not None:
            y = y + (y_read - y).detach()
        if t.read_noise_std > 0:
            full_scale = self.weight_max * x.detach().abs().amax(dim=-1, keepdim=True)
            noise = torch.randn(y.shape, generator=self.generator, dtype=y.dtype, device=y.device)
            y = y + (t.read_noise_std * full_scale * noise).detach()
        if self.training and torch.is_grad_enabled() and t.pulse_mode == "stochastic" and t.algorithm != "mixed_precision":
            self._saved = x.detach().reshape(-1, self.in_features)
            if y.requires_grad:
                y.register_hook(self._save_grad_output)
        if self.bias is not None:
            y = y + self.bias
        return y

    def _save_grad_output(self, grad):
        self._saved = (self._saved, grad.detach().reshape(-1, self.out_features))

    def _book_read(self, x):
        """Read energy of this forward pass: inputs scaled to ``read_voltage_v`` per sample."""
        t = self.tile
        x2 = x.reshape(-1, self.in_features).to(torch.float64)
        peak = x2.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        v2 = (t.read_voltage_v * x2 / peak) ** 2
        row_g = self.conductance_s.sum(dim=0) + self.reference_s.sum(dim=0)
        self.ledger.add_read(t.read_energy_coefficient * t.read_width_s * (v2 @ row_g).sum(), training=self.training)

    def _exact_output(self, x):
        """Outputs from native circuit solves of every array tile (float64, numpy)."""
        import numpy as np

        from memcosim.circuits.crossbar_solver import CrossbarSolver

        t = self.tile
        x2 = x.reshape(-1, self.in_features).cpu().double().numpy()
        peak = np.maximum(np.abs(x2).max(axis=1, keepdims=True), 1e-30)
        v = t.read_voltage_v * x2 / peak
        out = np.zeros((x2.shape[0], self.out_features))
        r_wire, r_drv = max(t.r_wire_ohm, 1e-6), max(t.r_driver_ohm, 1e-6)
        for matrix, sign in ((self.conductance_s, 1.0), (self.reference_s, -1.0)):
            g = matrix.T.cpu().numpy()  # (inputs, outputs)
            for r0 in range(0, self.in_features, t.array_rows):
                for c0 in range(0, self.out_features, t.array_cols):
                    block = g[r0 : r0 + t.array_rows, c0 : c0 + t.array_cols]
                    cur = CrossbarSolver(block, r_wire, r_drv).solve(v[:, r0 : r0 + t.array_rows]).column_current_a
                    out[:, c0 : c0 + block.shape[1]] += sign * np.atleast_2d(cur)
        y = out * peak / t.read_voltage_v * self.scale_per_s
        return torch.as_tensor(y, dtype=x.dtype, device=x.device).reshape(*x.shape[:-1], self.out_features)

    # ----- update --------------------------------------------------------------------------------------------------
    def pulsed_update(self, lr):
        """Turn this step's gradient into pulses and apply them (called by the optimizer)."""
        t = self.tile
        grad = self.weight.grad
        if grad is None:
            return
        max_n = t.max_pulses
        if t.algorithm == "mixed_precision":
            self.accumulator -= lr * grad.to(torch.float64)
            n = torch.trunc(self.accumulator / self.eps_w).clamp(-max_n, max_n)
            if t.verify:
                before = self.conductance_s - self.reference_s
                self._apply_pulses(n)
                self.accumulator -= self.scale_per_s * (self.conductance_s - self.reference_s - before)
            else:
                self.accumulator -= n * self.eps_w
                self._apply_pulses(n)
        elif t.pulse_mode == "deterministic":
            n = torch.round(-lr * grad.to(torch.float64) / self.eps_w).clamp(-max_n, max_n)
            self._apply_pulses(n)
        else:
            n_up, n_down = self._stochastic_counts(lr)
            self._apply_pulses(n_up)
            self._apply_pulses(-n_down)
        self._sync_weight()

    def _stochastic_counts(self, lr):
        """Coincidences of stochastic row and column bit streams (Gokmen & Vlasov 2016)."""
        t = self.tile
        if not isinstance(self._saved, tuple):
            raise ConfigError("pulse_mode: stochastic updates need a forward and backward pass before the step")
        x, d = self._saved
        self._saved = None
        x, d = x.to(torch.float64), -d.to(torch.float64)  # d: direction that lowers the loss
        bl = t.bit_length
        c = math.sqrt(lr / (bl * self.eps_w))
        x_max = x.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        d_max = d.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
        m = torch.sqrt(d_max / x_max)  # update management: balance the two probabilities
        px = (c * m * x.abs()).clamp(max=1.0)
        pd = (c * d.abs() / m).clamp(max=1.0)
        b = x.shape[0]
        gen = self.generator
        f32 = torch.float32  # bit counts are small integers: exact in float32, and twice as fast
        rx = (torch.rand((b, bl, x.shape[1]), generator=gen, dtype=f32, device=x.device) < px[:, None, :]).to(f32)
        rd = (torch.rand((b, bl, d.shape[1]), generator=gen, dtype=f32, device=x.device) < pd[:, None, :]).to(f32)
        sx = (rx * torch.sign(x).to(f32)[:, None, :]).reshape(b * bl, -1)
        sd = (rd * torch.sign(d).to(f32)[:, None, :]).reshape(b * bl, -1)
        net = (sd.T @ sx).to(torch.float64)
        total = (rd.reshape(b * bl, -1).T @ rx.reshape(b * bl, -1)).to(torch.float64)
        return (total + net) / 2, (total - net) / 2

    def _apply_pulses(self, n):
        """Apply signed pulse counts ``n`` (weight direction) to the devices, book their energy."""
        if self.tile.mapping == "differential":
            self._pulse("conductance_s", self._dev, n)
            self._pulse("reference_s", self._dev_ref, -n)
        else:
            self._pulse("conductance_s", self._dev, n)

    def _pulse(self, buffer, dev, n):
        idx = torch.nonzero(n.reshape(-1), as_tuple=True)[0]
        if idx.numel() == 0:
            return
        g_all = getattr(self, buffer).reshape(-1)
        g0 = g_all[idx]
        n_sub = n.reshape(-1)[idx]
        sub = {k: v.reshape(-1)[idx] for k, v in dev.items()}
        d = self.tile.device
        if d.populations > 1:
            state_buffer = {"conductance_s": "conductance_state", "reference_s": "reference_state"}[buffer]
            states = getattr(self, state_buffer).reshape(-1, d.populations)
            s1 = d.respond_state(states[idx], n_sub, sub, self.generator)
            states[idx] = s1
            g1 = d.conductance_of(s1, sub)
        else:
            g1 = d.respond(g0, n_sub, sub, self.generator)
        g_all[idx] = g1
        for direction, mask in (("up", n_sub > 0), ("down", n_sub < 0)):
            if bool(mask.any()):
                self._book(g0[mask], g1[mask], n_sub[mask].abs(), direction)

    def _book(self, g0, g1, n, direction, calibration=False):
        if self.ledger is None:
            return
        d = self.tile.device
        span = d.g_max_s - d.g_min_s
        x0, x1 = (g0 - d.g_min_s) / span, (g1 - d.g_min_s) / span
        energies = self.tile.write_energy.energy_j(x0, x1, n, direction)
        self.ledger.add_pulses(self.name, energies, n, calibration=calibration)

    # ----- state ---------------------------------------------------------------------------------------------------
    def get_extra_state(self):
        return {"generator": self.generator.get_state(), "dev": {k: v.cpu() for k, v in self._dev.items()},
                "dev_ref": {k: v.cpu() for k, v in self._dev_ref.items()}, "weight_max": self.weight_max,
                "scale_per_s": self.scale_per_s, "eps_w": self.eps_w}

    def set_extra_state(self, state):
        self.generator.set_state(state["generator"])
        dev = self.weight.device
        self._dev = {k: v.to(dev) for k, v in state["dev"].items()}
        self._dev_ref = {k: v.to(dev) for k, v in state["dev_ref"].items()}
        self.weight_max, self.scale_per_s, self.eps_w = state["weight_max"], state["scale_per_s"], state["eps_w"]
        self._version += 1

    def extra_repr(self):
        t = self.tile
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"algorithm={t.algorithm}, mapping={t.mapping}, pulse={t.device.amplitude_v:g} V x {t.device.width_s:g} s")


def crossbar_layers(model):
    """The :class:`CrossbarLinear` modules of ``model`` in definition order."""
    return [m for m in model.modules() if isinstance(m, CrossbarLinear)]


def attach_ledger(model, ledger):
    """Make every crossbar layer of ``model`` book its pulses and reads in ``ledger``."""
    for layer in crossbar_layers(model):
        layer.ledger = ledger
    return ledger


def convert(model, tile, seed=0, ledger=None, inplace=False):
    """A copy of ``model`` with every ``nn.Linear`` replaced by a :class:`CrossbarLinear`.

    The crossbar layer is programmed to the linear layer's present weights and keeps its bias.
    Layers are named by their module path, which also names their random streams; with a
    ``ledger`` they book their pulses in it from the start (symmetry-point search included).

    Parameters
    ----------
    model : nn.Module
    tile : TileConfig
    seed : int
        Seed of the layers' random streams (device spread, initial states, pulse noise).
    ledger : EnergyLedger, optional
    inplace : bool
        Convert ``model`` itself instead of a deep copy (as aihwkit's ``convert_to_analog``).

    Returns
    -------
    nn.Module
        The converted copy (``model`` itself with ``inplace=True``).
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model: convert takes an nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    if type(model) is nn.Linear:
        return _from_linear(model, tile, seed, "linear", ledger)
    for path, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                full = f"{path}.{child_name}" if path else child_name
                setattr(module, child_name, _from_linear(child, tile, seed, full, ledger))
    return model


def _from_linear(linear, tile, seed, name, ledger):
    layer = CrossbarLinear(linear.in_features, linear.out_features, linear.bias is not None, tile, seed=seed, name=name,
                           initial_weight=linear.weight.detach(), ledger=ledger, device=linear.weight.device,
                           dtype=linear.weight.dtype)
    with torch.no_grad():
        if linear.bias is not None:
            layer.bias.copy_(linear.bias)
    return layer
