"""Device models as seen by a training tile: pulse response, steps and per-device spread.

A :class:`PulsedDevice` binds a device-layer model to the programming pulse a study uses
(amplitude and width), so a tile only asks "apply these signed pulse counts". Both device
families of the training path are here:

* :class:`HZOPulsed` — the HZO NLS model (:func:`memcosim.devices.hzo.pulse_response`), with
  per-device spread of ``g_min_s``, ``g_max_s`` and both activation voltages. A film with two
  domain populations carries a state per device (``populations`` > 1: tiles keep it and step it
  with :meth:`PulsedDevice.respond_state`); its nominal step and usable window are measured
  from freshly programmed states (both populations at the same fraction).
* :class:`LinearPulsed` — the constant-step device (:mod:`memcosim.devices.linear_step`); with
  no asymmetry and no noise it is the ideal device.
"""

import math

import numpy as np
import torch

from memcosim.devices import hzo, linear_step
from memcosim.devices.hzo import HZOParams
from memcosim.devices.linear_step import LinearStepParams
from memcosim.base.errors import ConfigError
from memcosim.training.hardware_order import HZO, LINEAR, EventParams

__all__ = ["PulsedDevice", "HZOPulsed", "LinearPulsed", "pulsed_device"]


class PulsedDevice:
    """What a tile needs from a device model (subclasses implement it)."""

    params = None
    amplitude_v = 0.0
    width_s = 0.0
    populations = 1
    """Internal state variables per device (an HZO film with two domain populations: 2)."""

    @property
    def g_min_s(self):
        return self.params.g_min_s

    @property
    def g_max_s(self):
        return self.params.g_max_s

    def sample(self, shape, rng, device, dtype):
        """Per-device parameter tensors (empty dict: every device is nominal)."""
        return {}

    def respond(self, g, n_pulses, dev, generator):
        """Conductances after signed pulse counts ``n_pulses`` (positive potentiates)."""
        raise NotImplementedError

    def state_of(self, g, dev):
        """Device state (last axis: ``populations``) of freshly programmed conductances ``g``."""
        return g[..., None]

    def conductance_of(self, state, dev):
        """Read conductances of devices in ``state``, siemens."""
        return state[..., 0]

    def respond_state(self, state, n_pulses, dev, generator):
        """States after signed pulse counts (devices whose history is more than their conductance)."""
        return self.respond(state[..., 0], n_pulses, dev, generator)[..., None]

    def bounds(self, dev, g):
        """Per-device (g_min, g_max) tensors broadcast like ``g``."""
        lo = dev.get("g_min_s", torch.full_like(g, self.g_min_s))
        hi = dev.get("g_max_s", torch.full_like(g, self.g_max_s))
        return lo, hi

    def symmetry_point_s(self):
        """Nominal symmetry point, siemens."""
        raise NotImplementedError

    def event_params(self, device):
        """The law's nominal constants for pulses in hardware order
        (:class:`~memcosim.training.hardware_order.EventParams`, tensors on ``device``)."""
        raise ConfigError(f"update.update_order: 'hardware' is not implemented for {type(self).__name__}; use 'aggregated'")

    def event_arrays(self, spread, numel, device):
        """Per-device ``(g_min, span, u_lam)`` for pulses in hardware order: shapes (numel,), (numel,),
        (2, populations, numel) (or size-1 placeholders where the law has no such quantity)."""
        raise ConfigError(f"update.update_order: 'hardware' is not implemented for {type(self).__name__}; use 'aggregated'")

    def step_s(self):
        """Nominal conductance change of one pulse at the symmetry point (mean of up and down), siemens."""
        raise NotImplementedError

    def window_s(self, step_ratio=0.25):
        """The usable conductance window ``(g_lo, g_hi)`` of the nominal device, siemens.

        Around the symmetry point, the range where one pulse still moves the device by at
        least ``step_ratio`` times the nominal step in *both* directions; outside it one
        direction has all but stopped (a saturating device's soft bounds). Weights map onto
        this window.
        """
        return self.g_min_s, self.g_max_s


class HZOPulsed(PulsedDevice):
    """The HZO synapse programmed with pulses of ``amplitude_v`` and ``width_s``."""

    def __init__(self, params, amplitude_v, width_s, device_to_device_std=0.0, cycle_to_cycle_std=None):
        if not isinstance(params, HZOParams):
            raise ConfigError(f"params: must be HZOParams, got {type(params).__name__}")
        if cycle_to_cycle_std is not None:
            import dataclasses

            params = dataclasses.replace(params, cycle_to_cycle_std=cycle_to_cycle_std)
        if not (math.isfinite(amplitude_v) and amplitude_v > 0):
            raise ConfigError(f"pulse_amplitude_v: must be > 0 volts, got {amplitude_v!r}")
        if not (math.isfinite(width_s) and width_s > 0):
            raise ConfigError(f"pulse_width_s: must be > 0 seconds, got {width_s!r}")
        self.params, self.amplitude_v, self.width_s = params, float(amplitude_v), float(width_s)
        self.device_to_device_std = float(device_to_device_std)

    def sample(self, shape, rng, device, dtype):
        if self.device_to_device_std <= 0:
            return {}
        arrays = hzo.sample_device_params(self.params, shape, self.device_to_device_std, rng)
        return {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in arrays.items()}

    @property
    def populations(self):
        return len(self.params.populations)

    def respond(self, g, n_pulses, dev, generator):
        return hzo.pulse_response(g, n_pulses, self.params, self.amplitude_v, self.width_s, generator, dev or None)

    def state_of(self, g, dev):
        return hzo.state_from_conductance(g, self.params, dev or None)

    def conductance_of(self, state, dev):
        return hzo.conductance_from_state(state, self.params, dev or None)

    def respond_state(self, state, n_pulses, dev, generator):
        return hzo.pulse_response_state(state, n_pulses, self.params, self.amplitude_v, self.width_s, generator,
                                        dev or None)

    def symmetry_point_s(self):
        return hzo.symmetry_point(self.params, self.amplitude_v, self.width_s)

    def event_params(self, device):
        constants = [hzo.step_constants(self.params, self.amplitude_v, up) for up in (True, False)]
        table = lambda k: torch.tensor([[c[k] for c in per_pop] for per_pop in constants],  # noqa: E731
                                       dtype=torch.float64, device=device)
        weights = torch.tensor([w for w, _, _ in self.params.populations], dtype=torch.float64, device=device)
        return EventParams(HZO, table(1), table(2), table(3), weights, self.width_s, self.params.cycle_to_cycle_std,
                           self.params.n_domains)

    def event_arrays(self, spread, numel, device):
        f64 = torch.float64
        g = torch.zeros(numel, dtype=f64, device=device)
        lo, hi = self.bounds({k: v.reshape(-1) for k, v in spread.items()}, g)
        dev = {k: v.reshape(-1) for k, v in spread.items()} or None
        u = [[torch.as_tensor(c[0], dtype=f64, device=device).expand(numel)
              for c in hzo.step_constants(self.params, self.amplitude_v, up, dev, torch)] for up in (True, False)]
        return lo.to(f64), (hi - lo).to(f64), torch.stack([torch.stack(per_pop) for per_pop in u]).contiguous()

    def step_s(self):
        g = np.array([self.symmetry_point_s()])
        up = hzo.pulse_response(g, np.ones(1), self.params, self.amplitude_v, self.width_s)
        down = hzo.pulse_response(g, -np.ones(1), self.params, self.amplitude_v, self.width_s)
        return float(0.5 * ((up - g) + (g - down))[0])

    def window_s(self, step_ratio=0.25):
        p = self.params
        g = np.linspace(p.g_min_s, p.g_max_s, 2001)
        ones = np.ones_like(g)
        up = hzo.pulse_response(g, ones, p, self.amplitude_v, self.width_s) - g
        down = g - hzo.pulse_response(g, -ones, p, self.amplitude_v, self.width_s)
        limit = step_ratio * self.step_s()
        sp = self.symmetry_point_s()
        above = (g >= sp) & (up < limit)
        below = (g <= sp) & (down < limit)
        g_hi = g[above].min() if above.any() else p.g_max_s
        g_lo = g[below].max() if below.any() else p.g_min_s
        return float(g_lo), float(g_hi)


class LinearPulsed(PulsedDevice):
    """The constant-step device (amplitude and width only label the pulses)."""

    def __init__(self, params, amplitude_v=1.0, width_s=1e-8):
        if not isinstance(params, LinearStepParams):
            raise ConfigError(f"params: must be LinearStepParams, got {type(params).__name__}")
        self.params, self.amplitude_v, self.width_s = params, float(amplitude_v), float(width_s)

    def respond(self, g, n_pulses, dev, generator):
        return linear_step.pulse_response(g, n_pulses, self.params, generator)

    def symmetry_point_s(self):
        # up and down steps cancel nowhere inside the bounds unless symmetric: the hard bound
        # the device drifts to is its symmetry point
        p = self.params
        if p.asymmetry > 0:
            return p.g_max_s
        if p.asymmetry < 0:
            return p.g_min_s
        return 0.5 * (p.g_min_s + p.g_max_s)

    def step_s(self):
        return linear_step.step_s(self.params)

    def event_params(self, device):
        p = self.params
        one = torch.zeros((2, 1), dtype=torch.float64, device=device)
        return EventParams(LINEAR, one, one, one, torch.ones(1, dtype=torch.float64, device=device), self.width_s,
                           p.cycle_to_cycle_std, 0, linear_step.step_s(p), p.asymmetry, p.g_min_s, p.g_max_s)

    def event_arrays(self, spread, numel, device):
        one = torch.ones(1, dtype=torch.float64, device=device)
        return one, one, torch.ones((2, 1, 1), dtype=torch.float64, device=device)


def pulsed_device(params, amplitude_v, width_s, device_to_device_std=0.0):
    """The :class:`PulsedDevice` for device-layer parameters of either training family."""
    if isinstance(params, HZOParams):
        return HZOPulsed(params, amplitude_v, width_s, device_to_device_std)
    if isinstance(params, LinearStepParams):
        return LinearPulsed(params, amplitude_v, width_s)
    raise ConfigError(f"device: training supports HZO and constant-step devices, got {type(params).__name__}")
