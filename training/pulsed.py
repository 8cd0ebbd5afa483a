"""Device models as seen by a training tile: pulse response, steps and per-device spread.

A :class:`PulsedDevice` binds a device-layer model to the programming pulse a study uses
(amplitude and width), so a tile only asks "apply these signed pulse counts". The model
devices are here, the devices taken from measurements in :mod:`memcosim.training.pulsed_measured`:

* :class:`HZOPulsed` — the HZO NLS model (:func:`memcosim.devices.hzo.pulse_response`), with
  per-device spread of ``g_min_s``, ``g_max_s`` and both activation voltages. A film with two
  domain populations carries a state per device (``populations`` > 1: tiles keep it and step it
  with :meth:`PulsedDevice.respond_state`); its nominal step and usable window are measured
  from freshly programmed states (both populations at the same fraction).
* :class:`LinearPulsed` — the constant-step device (:mod:`memcosim.devices.linear_step`); with
  no asymmetry and no noise it is the ideal device.
* :class:`~memcosim.training.pulsed_measured.MeasuredPulsed` — a measured-response device
  (:mod:`memcosim.devices.measured`): the measured pulse sweeps are the pulse response.
* :class:`~memcosim.training.pulsed_measured.PiecewisePulsed` — aihwkit's piecewise-step device (:mod:`memcosim.devices.piecewise_step`),
  step for step, anchored to conductances (a weight unit is ``g_unit_s`` siemens around
  ``g_centre_s``): imported from an aihwkit config, or fitted to a measured sweep as the
  published study did (:mod:`memcosim.devices.published_fit`).
"""

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from memcosim.devices import hzo, linear_step
from memcosim.devices.hzo import HZOFilm
from memcosim.devices.linear_step import LinearStepParams
from memcosim.base.errors import ConfigError
from memcosim.training.hardware_order import HZO, LINEAR, EventParams

__all__ = ["PulseConfig", "PulsedDevice", "HZOPulsed", "LinearPulsed", "soft_window"]


@dataclass(frozen=True)
class PulseConfig:
    """The programming pulse of a device: the one owner of its amplitude and width.

    A tile's device holds it (``device.pulse``); the pulse response and every energy the tile
    costs (write tables, update-scheme operations, drivers' slots) are derived from it when the
    tile is built, so a device with another pulse gives a tile with its own energies.
    """

    amplitude_v: float
    """Pulse magnitude, volts (with ``amplitude_of_state``: its mean over the states, a label)."""
    width_s: float
    """Pulse width, seconds."""
    amplitude_of_state: Callable | None = None
    """``(x, direction) -> volts`` at normalised states ``x`` (a measured sweep applied each state
    its own amplitude, and its pulses are costed at it); None: ``amplitude_v`` everywhere."""

    def __post_init__(self):
        for name, value in (("amplitude_v", self.amplitude_v), ("width_s", self.width_s)):
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
                raise ConfigError(f"pulse.{name}: must be > 0, got {value!r}")
        if self.amplitude_of_state is not None and not callable(self.amplitude_of_state):
            raise ConfigError(f"pulse.amplitude_of_state: must be a function (x, direction) -> volts or None, got "
                              f"{type(self.amplitude_of_state).__name__}")

    @property
    def volts(self):
        """What the energy tables take: ``amplitude_of_state`` when set, else ``amplitude_v``."""
        return self.amplitude_v if self.amplitude_of_state is None else self.amplitude_of_state


class PulsedDevice:
    """What a tile needs from a device model (subclasses implement it).

    ``pulse`` (:class:`PulseConfig`) owns the programming pulse; ``amplitude_v`` and ``width_s``
    read it. ``electrical`` is the HZO parameter set whose electrical model costs the pulses
    (conduction, capacitance, switching charge; None: the device has none and its pulses cost
    nothing unless the tile is given an energy table).
    """

    params = None
    pulse = None
    electrical = None
    populations = 1
    """Internal state variables per device (an HZO film with two domain populations: 2)."""
    responds_compiled_at = False
    """Whether :meth:`respond_at` runs compiled with the layer's event constants (``events``)."""

    @property
    def amplitude_v(self):
        """Pulse amplitude, volts (``pulse.amplitude_v``)."""
        return self.pulse.amplitude_v

    @property
    def width_s(self):
        """Pulse width, seconds (``pulse.width_s``)."""
        return self.pulse.width_s

    def with_pulse(self, pulse):
        """This device programmed with another :class:`PulseConfig` (a copy; caches dropped)."""
        if not isinstance(pulse, PulseConfig):
            raise ConfigError(f"pulse: must be a PulseConfig, got {type(pulse).__name__}")
        out = copy.copy(self)
        out.pulse = pulse
        if hasattr(out, "_tables"):
            out._tables = {}
        return out

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

    def respond_at(self, g, index, n_pulses, dev, generator, states=None, events=None):
        """:meth:`respond` of the devices at flat ``index`` (int64, distinct) of ``g`` (a flat view of an
        array's conductances, updated in place); the others get no pulse.

        ``dev``: the array's per-device parameters (:meth:`sample`), gathered at ``index`` here;
        ``states`` (``(numel, populations)`` view, with ``populations > 1``): the devices' states,
        updated too; ``events``: ``(setup, array)``, the layer's event constants
        (:func:`~memcosim.training.hardware_order.event_setup`) and which of its arrays ``g`` is,
        for a model that responds compiled at the indices (:class:`MeasuredPulsed`; the same numbers),
        or None. Returns ``(g0, g1)``, those devices' conductances before and after (siemens)."""
        g0 = g[index]
        sub = {k: v.reshape(-1)[index] for k, v in dev.items()}
        if self.populations > 1:
            s1 = self.respond_state(states[index], n_pulses, sub, generator)
            states[index] = s1
            g1 = self.conductance_of(s1, sub)
        else:
            g1 = self.respond(g0, n_pulses, sub, generator)
        g[index] = g1
        return g0, g1

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

    def describe(self):
        """A JSON-ready description of the device and its pulses (results.json)."""
        return {"model": type(self).__name__, "pulse_amplitude_v": self.amplitude_v, "pulse_width_s": self.width_s}

    def alternating_symmetry_point_s(self, pulses=100, last=5):
        """The symmetry point as the published study found it: from weight 0 (the centre of
        :meth:`normalisation`), ``pulses`` alternating single pulses (up first) on the nominal,
        noise-free device; the mean conductance over the last ``last`` (siemens)."""
        f64 = torch.float64
        state = self.state_of(torch.tensor([self.normalisation()[0]], dtype=f64), {})
        trace = []
        for k in range(pulses):
            state = self.respond_state(state, torch.tensor([1.0 if k % 2 == 0 else -1.0], dtype=f64), {}, None)
            trace.append(float(self.conductance_of(state, {})[0]))
        return float(np.mean(trace[-last:]))

    def normalisation(self):
        """``(g_centre_s, g_unit_s)``: the conductance of weight 0 and of one weight unit when weights
        are the normalised conductance (``weight_scaling_omega = 0``): the midpoint of the nominal
        range and half of it (a measured device: the mean of its measured conductances)."""
        return 0.5 * (self.g_min_s + self.g_max_s), 0.5 * (self.g_max_s - self.g_min_s)

    def window_s(self, step_ratio=0.25):
        """The usable conductance window ``(g_lo, g_hi)`` of the nominal device, siemens.

        Around the symmetry point, the range where one pulse still moves the device by at
        least ``step_ratio`` times the nominal step in *both* directions; outside it one
        direction has all but stopped (a saturating device's soft bounds). Weights map onto
        this window.
        """
        return self.g_min_s, self.g_max_s


def soft_window(grid, up, down, limit, symmetry_point):
    """``(lo, hi)`` around ``symmetry_point`` on ``grid`` where one pulse still moves the device by
    at least ``limit`` in both directions (``up``/``down``: one pulse's change at each grid point)."""
    above = (grid >= symmetry_point) & (up < limit)
    below = (grid <= symmetry_point) & (down < limit)
    hi = grid[above].min() if above.any() else grid[-1]
    lo = grid[below].max() if below.any() else grid[0]
    return float(lo), float(hi)


class HZOPulsed(PulsedDevice):
    """The HZO synapse programmed with pulses of ``amplitude_v`` and ``width_s``."""

    def __init__(self, params, amplitude_v=3.0, width_s=2e-8, device_to_device_std=0.0, cycle_to_cycle_std=None, *,
                 pulse=None):
        if not isinstance(params, HZOFilm):
            raise ConfigError(f"params: must be HZO parameters (HZOParams, HZOKineticsParams), got {type(params).__name__}")
        if cycle_to_cycle_std is not None:
            import dataclasses

            params = dataclasses.replace(params, cycle_to_cycle_std=cycle_to_cycle_std)
        if pulse is None:
            if not (isinstance(amplitude_v, (int, float)) and math.isfinite(amplitude_v) and amplitude_v > 0):
                raise ConfigError(f"pulse_amplitude_v: must be > 0 volts, got {amplitude_v!r}")
            if not (isinstance(width_s, (int, float)) and math.isfinite(width_s) and width_s > 0):
                raise ConfigError(f"pulse_width_s: must be > 0 seconds, got {width_s!r}")
            pulse = PulseConfig(float(amplitude_v), float(width_s))
        elif not isinstance(pulse, PulseConfig) or pulse.amplitude_of_state is not None:
            raise ConfigError("pulse: HZOPulsed needs a PulseConfig of one amplitude (no amplitude_of_state)")
        self.params, self.pulse, self.electrical = params, pulse, params
        self.device_to_device_std = float(device_to_device_std)

    @classmethod
    def default(cls, pulse=None):
        """The compact HZO model of the ``default`` preset (``memcosim.devices.load_device_params("hzo")``)
        at 3 V x 20 ns pulses, or at ``pulse``."""
        from memcosim.devices import load_device_params

        return cls(load_device_params("hzo"), pulse=pulse or PulseConfig(3.0, 2e-8))

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
        constants = [hzo.step_constants(self.params, self.amplitude_v, up, width_s=self.width_s)
                     for up in (True, False)]
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
              for c in hzo.step_constants(self.params, self.amplitude_v, up, dev, torch, self.width_s)]
             for up in (True, False)]
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
        return soft_window(g, up, down, step_ratio * self.step_s(), self.symmetry_point_s())


class LinearPulsed(PulsedDevice):
    """The constant-step device (amplitude and width only label the pulses)."""

    def __init__(self, params, amplitude_v=1.0, width_s=1e-8):
        if not isinstance(params, LinearStepParams):
            raise ConfigError(f"params: must be LinearStepParams, got {type(params).__name__}")
        self.params, self.pulse = params, PulseConfig(float(amplitude_v), float(width_s))

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
