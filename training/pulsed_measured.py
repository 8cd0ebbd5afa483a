"""Pulsed devices taken from measurements: a measured response (:class:`MeasuredPulsed`) and
aihwkit's piecewise-step device fitted or imported (:class:`PiecewisePulsed`), each a
:class:`~memcosim.training.pulsed.PulsedDevice` a tile programs like any other.
"""

import math

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.devices.hzo import HZOParams
from memcosim.training import kernel, kernel_ops
from memcosim.training.hardware_order import MEASURED, PIECEWISE, EventParams
from memcosim.training.pulsed import PulseConfig, PulsedDevice, soft_window

__all__ = ["MeasuredPulsed", "PiecewisePulsed"]


class MeasuredPulsed(PulsedDevice):
    """A measured-response device (:class:`memcosim.devices.measured.MeasuredDevice`) in training.

    The pulse of each state has the amplitude the measured sweep applied there (the energy ledger
    costs it so, :meth:`amplitude_of_state`); ``amplitude_v`` is only a label (the mean over the
    window). Pulses in hardware order (``update_order = "hardware"``) run each sample's train along
    the device's branch (kind ``MEASURED`` of :mod:`memcosim.training.hardware_order`, compiled or torch).
    """

    responds_compiled_at = True

    def __init__(self, device, device_to_device_std=0.0, noise_scale=1.0, electrical=None):
        from memcosim.devices.measured import MeasuredDevice

        if not isinstance(device, MeasuredDevice):
            raise ConfigError(f"device: must be a MeasuredDevice, got {type(device).__name__}")
        if not (math.isfinite(noise_scale) and 0 <= noise_scale <= 10):
            raise ConfigError(f"noise_scale: must be in [0, 10], got {noise_scale!r}")
        self.params = device
        grid = np.linspace(0.0, 1.0, 65)
        mean = float(0.5 * (device.amplitude_of_state(grid, "up").mean() + device.amplitude_of_state(grid, "down").mean()))
        self.pulse = PulseConfig(mean, device.pulse_width_s, self.amplitude_of_state)
        self.electrical = _electrical_in_window(electrical, device.g_min_s, device.g_max_s)
        self.device_to_device_std, self.noise_scale = float(device_to_device_std), float(noise_scale)
        self._tables = {}

    def with_pulse(self, pulse):
        raise ConfigError("pulse: a measured device is programmed with the pulses it was measured with "
                          f"({self.width_s:g} s; choose its files with device.pulse_width_s)")

    def amplitude_of_state(self, x, direction):
        """Pulse magnitude (V) at normalised states ``x`` for ``direction`` ``"up"``/``"down"``."""
        return self.params.amplitude_of_state(x, direction)

    def describe(self):
        return {"model": type(self).__name__, **self.params.describe(),
                "pulse_amplitude": "the amplitude the measured sweep applied at the device's state (up_amplitude_v, "
                                   "down_amplitude_v: its range), costed at it",
                "device_to_device_std": self.device_to_device_std, "noise_scale": self.noise_scale}

    def sample(self, shape, rng, device, dtype):
        if self.device_to_device_std <= 0:
            return {}
        from memcosim.devices.measured import sample_spread

        arrays = sample_spread(self.params, shape, self.device_to_device_std, rng)
        return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in arrays.items()}

    def _branch_tables(self, where, dtype):
        key = (str(where), dtype)
        if key not in self._tables:
            self._tables[key] = {name: (torch.as_tensor(b.q_of_x, dtype=dtype, device=where),
                                        torch.as_tensor(b.x_of_q, dtype=dtype, device=where), b.pulses_to_cross, b.noise)
                                 for name, b in (("up", self.params.up), ("down", self.params.down))}
        return self._tables[key]

    def respond(self, g, n_pulses, dev, generator):
        from memcosim.devices.measured import measured_train
        from memcosim.devices.prims import torch_prims

        f = torch_prims()
        lo, hi = self.bounds(dev or {}, g)
        n = n_pulses.to(g.dtype)
        tables = self._branch_tables(g.device, g.dtype)
        branches = []  # up, then down: (q_of_x, x_of_q, pulses to cross, noise, normal variates or None, step scale)
        for name in ("up", "down"):
            q_of_x, x_of_q, pulses, noise = tables[name]
            noise = noise * self.noise_scale if generator is not None else 0.0
            xi = torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device) if noise > 0 else None
            branches.append((q_of_x, x_of_q, pulses, noise, xi, (dev or {}).get(f"step_scale_{name}", 1.0)))
        if kernel.enabled(g) and g.dtype == torch.float64:  # compiled, one pass: the same numbers
            return kernel_ops.measured_respond(g, n, lo, hi, branches)
        x0 = ((g - lo) / (hi - lo)).clamp(0.0, 1.0)
        out = x0
        for down, (q_of_x, x_of_q, pulses, noise, xi, scale) in enumerate(branches):
            count = (-n if down else n).clamp(min=0)
            x1 = measured_train(x0, bool(down), count, q_of_x, x_of_q, pulses, scale, noise, 0.0 if xi is None else xi, f)
            out = torch.where(count > 0, x1, out)
        return lo + out * (hi - lo)

    def respond_at(self, g, index, n_pulses, dev, generator, states=None, events=None):
        """:meth:`PulsedDevice.respond_at`; with ``events`` (a flat float64 CPU ``g``), compiled in one
        pass with no gathers: the same draws from ``generator`` and the same numbers."""
        if events is None:
            return super().respond_at(g, index, n_pulses, dev, generator, states)
        (params, g_min, span, u_lam, _), array = events
        xi = torch.zeros((2, index.numel()), dtype=torch.float64)
        for d, noise in enumerate(params.curve_noise.tolist()):  # up, then down: respond's draws
            if noise > 0:
                xi[d] = torch.randn(index.shape, generator=generator, dtype=torch.float64)
        out = kernel_ops.measured_pulse_at(g, index, n_pulses, (g_min[array], span[array], u_lam[array, :, 0]), params, xi)
        # written through a numpy view: count the write, as torch's indexed write does (what is kept
        # of an array while it is unchanged, the reference's read sums, checks the count)
        torch.autograd.graph.increment_version(g)
        return out

    def event_params(self, device):
        f64, branches = torch.float64, (self.params.up, self.params.down)
        curves = torch.tensor(np.array([[b.q_of_x, b.x_of_q] for b in branches]), dtype=f64, device=device)
        unused = torch.zeros((2, 1), dtype=f64, device=device)  # the HZO constants
        return EventParams(MEASURED, unused, unused, unused, torch.ones(1, dtype=f64, device=device), self.width_s,
                           curves=curves, curve_pulses=torch.tensor([b.pulses_to_cross for b in branches], dtype=f64,
                                                                    device=device),
                           curve_noise=torch.tensor([b.noise * self.noise_scale for b in branches], dtype=f64,
                                                    device=device))

    def event_arrays(self, spread, numel, device):
        f64 = torch.float64
        flat = {k: v.reshape(-1).to(f64) for k, v in spread.items()}
        lo, hi = self.bounds(flat, torch.zeros(numel, dtype=f64, device=device))
        scale = [flat.get(f"step_scale_{name}", torch.ones(numel, dtype=f64, device=device)) for name in ("up", "down")]
        return lo.to(f64), (hi - lo).to(f64), torch.stack(scale)[:, None, :].contiguous()

    def symmetry_point_s(self):
        p = self.params
        return p.g_min_s + p.symmetry_point_x() * p.span_s

    def normalisation(self):
        p = self.params
        centre = p.g_mean_s if p.g_mean_s is not None else 0.5 * (p.g_min_s + p.g_max_s)
        return centre, 0.5 * p.span_s

    def step_s(self):
        up, down = self.params.steps_at(self.params.symmetry_point_x())
        return float(0.5 * (up + down) * self.params.span_s)

    def window_s(self, step_ratio=0.25):
        p = self.params
        x = np.linspace(0.0, 1.0, 2001)
        up, down = p.steps_at(x)
        x_lo, x_hi = soft_window(x, up, down, step_ratio * self.step_s() / p.span_s, p.symmetry_point_x())
        return p.g_min_s + x_lo * p.span_s, p.g_min_s + x_hi * p.span_s


class PiecewisePulsed(PulsedDevice):
    """aihwkit's piecewise-step device in training, its weight unit anchored to conductances.

    A device's conductance is ``g_centre_s + w g_unit_s`` for its weight ``w`` in aihwkit's units,
    so the bounds ``[w_min, w_max]`` are the conductance window and, with unscaled weights
    (``weight_scaling_omega = 0``), the network weight *is* ``w`` minus the reference's. Pulses
    are single steps of :func:`memcosim.devices.piecewise_step.piecewise_step` (a train of ``n``
    is ``n`` steps, each at the state the previous one left); the nominal step is aihwkit's
    weight granularity. ``amplitude_v`` is a volts value or a function ``(x, direction)`` of the
    normalised state (the measured sweep's amplitude at each state), which the energy tables
    take; :attr:`amplitude_v` reads its mean.
    """

    def __init__(self, params, g_centre_s, g_unit_s, width_s, amplitude_v, granularity=None, source=None, electrical=None):
        from memcosim.devices.piecewise_step import PiecewiseStepParams

        if not isinstance(params, PiecewiseStepParams):
            raise ConfigError(f"params: must be PiecewiseStepParams, got {type(params).__name__}")
        for name, value in (("g_unit_s", g_unit_s), ("width_s", width_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name}: must be > 0, got {value!r}")
        if not (math.isfinite(g_centre_s) and g_centre_s + params.w_min * g_unit_s > 0):
            raise ConfigError(f"g_centre_s: the conductance of w_min must be > 0 siemens, got {g_centre_s!r} + "
                              f"{params.w_min!r} x {g_unit_s!r}")
        self.params, self.g_centre_s, self.g_unit_s = params, float(g_centre_s), float(g_unit_s)
        if callable(amplitude_v):
            grid = np.linspace(0.0, 1.0, 65)
            mean = float(0.5 * (np.mean(amplitude_v(grid, "up")) + np.mean(amplitude_v(grid, "down"))))
            self.pulse = PulseConfig(mean, float(width_s), amplitude_v)
        else:
            self.pulse = PulseConfig(float(amplitude_v), float(width_s))
        self.granularity = params.granularity() if granularity is None else float(granularity)
        self.source = source
        self.electrical = _electrical_in_window(electrical, self.g_min_s, self.g_max_s)
        self._tables = {}

    def amplitude_of_state(self, x, direction):
        """Pulse magnitude (V) at normalised states ``x`` (``pulse.amplitude_of_state``, or the one amplitude)."""
        if self.pulse.amplitude_of_state is None:
            return np.full(np.shape(x), self.pulse.amplitude_v)
        return self.pulse.amplitude_of_state(x, direction)

    @property
    def g_min_s(self):
        return self.g_centre_s + self.params.w_min * self.g_unit_s

    @property
    def g_max_s(self):
        return self.g_centre_s + self.params.w_max * self.g_unit_s

    @property
    def spread(self):
        from memcosim.devices.piecewise_step import SPREAD_FIELDS

        return any(getattr(self.params, name) > 0 for name in SPREAD_FIELDS)

    def describe(self):
        p = self.params
        return {"model": type(self).__name__, "dw_min": p.dw_min, "up_down": p.up_down, "w_min": p.w_min, "w_max": p.w_max,
                "nodes": len(p.piecewise_up), "dw_min_std": p.dw_min_std, "dw_min_dtod": p.dw_min_dtod,
                "w_min_dtod": p.w_min_dtod, "w_max_dtod": p.w_max_dtod, "up_down_dtod": p.up_down_dtod,
                "g_centre_s": self.g_centre_s, "g_unit_s": self.g_unit_s, "pulse_width_s": self.width_s,
                "pulse_amplitude_v": self.amplitude_v, "granularity": self.granularity, "source": self.source,
                "symmetry_point_w": (self.alternating_symmetry_point_s() - self.g_centre_s) / self.g_unit_s}

    def normalisation(self):
        return self.g_centre_s, self.g_unit_s

    def sample(self, shape, rng, device, dtype):
        if not self.spread:
            return {}
        from memcosim.devices.piecewise_step import sample_spread

        d = sample_spread(self.params, shape, rng)
        arrays = {"g_min_s": self.g_centre_s + d["w_min"] * self.g_unit_s,
                  "g_max_s": self.g_centre_s + d["w_max"] * self.g_unit_s,
                  "scale_up": d["scale_up"], "scale_down": d["scale_down"]}
        return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in arrays.items()}

    def _steps(self, dev):
        """Per-device step scales as fractions of each device's own window: ``(up, down)``."""
        p = self.params
        up, down = dev.get("scale_up", p.scale_up), dev.get("scale_down", p.scale_down)
        if "g_min_s" in dev:
            span_w = (dev["g_max_s"] - dev["g_min_s"]) / self.g_unit_s
        else:
            span_w = p.w_max - p.w_min
        return up / span_w, down / span_w

    def _table(self, direction, where, dtype):
        key = (direction, str(where), dtype)
        if key not in self._tables:
            values = self.params.piecewise_up if direction == "up" else self.params.piecewise_down
            self._tables[key] = torch.tensor(values, dtype=dtype, device=where)
        return self._tables[key]

    def respond(self, g, n_pulses, dev, generator):
        from memcosim.devices.piecewise_step import piecewise_step
        from memcosim.devices.prims import torch_prims

        f, dev = torch_prims(), dev or {}
        lo, hi = self.bounds(dev, g)
        x = ((g - lo) / (hi - lo)).clamp(0.0, 1.0)
        n = n_pulses.to(g.dtype)
        up, down = self._steps(dev)
        std = self.params.dw_min_std if generator is not None else 0.0
        for direction, count, step in (("up", n.clamp(min=0), up), ("down", (-n).clamp(min=0), down)):
            most = int(count.max()) if count.numel() else 0
            table = self._table(direction, g.device, g.dtype)
            sign = 1.0 if direction == "up" else -1.0
            for k in range(most):
                noise = std * torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device) if std > 0 else 0.0
                x = torch.where(count > k, piecewise_step(x, table, sign * step, noise, f), x)
        return lo + x * (hi - lo)

    def symmetry_point_s(self):
        from memcosim.devices.piecewise_step import published_symmetry_point

        return self.g_centre_s + published_symmetry_point(self.params) * self.g_unit_s

    def step_s(self):
        return self.params.granularity() * self.g_unit_s

    def window_s(self, step_ratio=0.25):
        from memcosim.devices.piecewise_step import piecewise_step
        from memcosim.devices.prims import NUMPY

        p = self.params
        span = p.w_max - p.w_min
        x = np.linspace(0.0, 1.0, 2001)
        up = (piecewise_step(x, np.array(p.piecewise_up), p.scale_up / span, 0.0, NUMPY) - x) * span
        down = (x - piecewise_step(x, np.array(p.piecewise_down), -p.scale_down / span, 0.0, NUMPY)) * span
        w = p.w_min + x * span
        sp = (self.symmetry_point_s() - self.g_centre_s) / self.g_unit_s
        lo, hi = soft_window(w, up, down, step_ratio * p.granularity(), sp)
        return self.g_centre_s + lo * self.g_unit_s, self.g_centre_s + hi * self.g_unit_s

    def event_params(self, device):
        f64, p = torch.float64, self.params
        curves = torch.zeros((2, 2, len(p.piecewise_up)), dtype=f64, device=device)
        curves[0, 0] = torch.tensor(p.piecewise_up, dtype=f64)
        curves[1, 0] = torch.tensor(p.piecewise_down, dtype=f64)
        unused = torch.zeros((2, 1), dtype=f64, device=device)
        return EventParams(PIECEWISE, unused, unused, unused, torch.ones(1, dtype=f64, device=device), self.width_s,
                           c2c_std=p.dw_min_std, curves=curves)

    def event_arrays(self, spread, numel, device):
        f64 = torch.float64
        flat = {k: v.reshape(-1).to(f64) for k, v in spread.items()}
        lo, hi = self.bounds(flat, torch.zeros(numel, dtype=f64, device=device))
        up, down = self._steps(flat)
        steps = [torch.as_tensor(s, dtype=f64, device=device).expand(numel) for s in (up, down)]
        return lo.to(f64), (hi - lo).to(f64), torch.stack(steps)[:, None, :].contiguous()


def _electrical_in_window(electrical, g_min_s, g_max_s):
    """The HZO parameters that cost a device's pulses, in its conductance window (default: the
    ``default`` preset's electrical model)."""
    import dataclasses

    if electrical is None:
        from memcosim.devices import load_device_params

        electrical = load_device_params("hzo")
    if not isinstance(electrical, HZOParams):
        raise ConfigError(f"electrical: must be HZOParams (the model that costs the pulses), got {type(electrical).__name__}")
    return dataclasses.replace(electrical, g_min_s=g_min_s, g_max_s=g_max_s)
