"""Measured-response devices: a device whose pulse response *is* its measured pulse sweeps.

The published way to train on an experimental synapse (and aihwkit's ``PiecewiseStepDevice``):
for each pulse width, the conductance change the measured device made pulse by pulse becomes
the device's update rule. :func:`from_sweeps` builds one from measured files
(:func:`memcosim.devices.measurements.read_sweep`: plain CSV or LBE247 sweeps):

* the window ``(g_min_s, g_max_s)`` is the range of every conductance read;
* each pulse's direction comes from the data: the amplitude sign whose pulses raise the
  conductance on balance potentiates (LBE247: *negative* pulses potentiate; the builder checks,
  it does not assume);
* per direction, the pulses the device needed to cross each state ``x = (G - g_min) / (g_max -
  g_min)``: every run of consecutive pulses of that direction is made monotone by isotonic
  regression (the smoothing; monotone by construction, so the response can be inverted), an
  interval of states the run crossed in ``m`` pulses counts ``m / width`` pulses per unit state
  there, and runs that cover a state are averaged (the nearest covered value where none does).
  The scatter of the single steps about the monotone fit is the cycle-to-cycle noise; the pulse
  amplitude that crossed each state is kept with it (the LBE247 sweeps raise the amplitude pulse
  by pulse, so a state is reached with a given amplitude, and the ledger costs each pulse at it,
  :meth:`MeasuredDevice.amplitude_of_state`);
* a direction is stored as a *branch*: the state after ``p`` pulses from the window's start,
  ``x(p)``, integrated from the binned steps (``dp = dx / step(x)``), with its inverse, both
  tabulated on uniform grids. ``n`` pulses from state ``x0`` then go to ``x(p(x0) + n)`` in one
  step, exactly as ``n`` single steps of the binned law would (and for any ``n``, which the
  training engines need). A depressing branch is stored in the mirrored state ``1 - x``, so one
  law (:func:`branch_train`) serves both directions.

Device-to-device spread (in the training layer) scales the window ends and each direction's
step, like the compact model's spread (:func:`sample_spread`). Units: siemens, volts, seconds;
states and steps without unit are fractions of the window.
"""

import math
from dataclasses import dataclass, replace

import numpy as np

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.devices.hzo_params import spread_window
from memcosim.devices.prims import NUMPY, jitable

__all__ = ["MeasuredBranch", "MeasuredDevice", "from_sweeps", "from_files", "branch_train", "measured_train", "replay",
           "sample_spread", "with_step_scale", "with_linear_response", "with_added_noise", "MIN_STEPS"]

MIN_STEPS = 8
"""Fewest measured pulses a direction needs."""
_GRID = 257
"""Points of the tabulated branch and its inverse."""
_WIDTH_RTOL = 0.01
"""Files of one device must agree on the pulse width to this relative tolerance."""


@dataclass(frozen=True)
class MeasuredBranch:
    """One direction of a measured response, in its own state coordinate (potentiation: ``x``;
    depression: ``1 - x``), both rising with the pulses."""

    pulses_to_cross: float
    """Pulses that carry a device from one end of the window to the other along this branch."""
    q_of_x: np.ndarray
    """(257,) the fraction of ``pulses_to_cross`` needed to reach each state of a uniform grid on [0, 1]."""
    x_of_q: np.ndarray
    """(257,) the state reached at each fraction of ``pulses_to_cross`` on a uniform grid on [0, 1]."""
    step: np.ndarray
    """(256,) state change of one pulse at the centres of 256 equal state intervals (fraction of the window)."""
    amplitude_v: np.ndarray
    """(256,) magnitude of the pulses that crossed each interval, volts."""
    noise: float
    """Standard deviation of one measured step about the smoothed law (fraction of the window)."""
    points: int
    """Measured pulses of this direction."""
    polarity: int
    """Sign of the pulse amplitudes of this direction in the measured files (+1 or -1)."""

    def step_at(self, y):
        """One pulse's state change at states ``y`` of this branch's coordinate (ndarray)."""
        centres = (np.arange(len(self.step)) + 0.5) / len(self.step)
        return np.interp(y, centres, self.step)

    def amplitude_at(self, y):
        """Pulse amplitude (volts) that reaches states ``y`` of this branch's coordinate."""
        centres = (np.arange(len(self.amplitude_v)) + 0.5) / len(self.amplitude_v)
        return np.interp(y, centres, self.amplitude_v)


@dataclass(frozen=True)
class MeasuredDevice:
    """A device built from measured pulse sweeps of one pulse width (see the module docstring)."""

    sources: tuple
    """The measured files, in the order given."""
    pulse_width_s: float
    """Pulse width of every measured pulse, seconds."""
    g_min_s: float
    """Lowest measured conductance, siemens."""
    g_max_s: float
    """Highest measured conductance, siemens."""
    up: MeasuredBranch
    """Potentiation (conductance rises), in state ``x``."""
    down: MeasuredBranch
    """Depression, in the mirrored state ``1 - x``."""
    g_mean_s: float | None = None
    """Mean of every measured conductance, siemens (the published study's weight zero; None: unknown)."""

    @property
    def span_s(self):
        return self.g_max_s - self.g_min_s

    def steps_at(self, x):
        """``(up, down)`` state change of one pulse at states ``x`` (fractions of the window, both >= 0)."""
        x = np.asarray(x, dtype=float)
        return self.up.step_at(x), self.down.step_at(1.0 - x)

    def symmetry_point_x(self):
        """State where one up and one down pulse cancel (the stable crossing of the two step laws);
        without a crossing, the end the device drifts to."""
        x = np.linspace(0.0, 1.0, 4001)
        up, down = self.steps_at(x)
        diff = up - down  # > 0: alternating pulses push the state up
        falls = np.nonzero((diff[:-1] > 0) & (diff[1:] <= 0))[0]
        if falls.size:
            i = falls[np.argmin(np.abs(x[falls] - 0.5))]
            return float(x[i] + (x[i + 1] - x[i]) * diff[i] / (diff[i] - diff[i + 1]))
        return 1.0 if diff[0] > 0 else 0.0

    def amplitude_of_state(self, x, direction):
        """Magnitude (volts) of the pulse of ``direction`` (``"up"``/``"down"``) that acts at states ``x``:
        the amplitude the measured sweep applied where it passed through that state."""
        x = np.asarray(x, dtype=float)
        return self.up.amplitude_at(x) if direction == "up" else self.down.amplitude_at(1.0 - x)

    def describe(self):
        """A JSON-ready summary (no arrays)."""
        return {"kind": "measured", "sources": list(self.sources), "pulse_width_s": self.pulse_width_s,
                "g_min_s": self.g_min_s, "g_max_s": self.g_max_s,
                **{f"{name}_pulses_to_cross": branch.pulses_to_cross for name, branch in (("up", self.up),
                                                                                       ("down", self.down))},
                **{f"{name}_amplitude_v": [float(branch.amplitude_v.min()), float(branch.amplitude_v.max())]
                   for name, branch in (("up", self.up), ("down", self.down))},
                "up_noise": self.up.noise, "down_noise": self.down.noise, "symmetry_point_x": self.symmetry_point_x()}


@jitable
def branch_train(y0, n, q_of_x, x_of_q, pulses_to_cross, scale, noise, xi, f):
    """State of a branch after a train of ``n >= 0`` pulses from state ``y0`` (branch coordinate).

    ``y(p(y0) + n scale)`` along the tabulated branch (``scale``: the device's step factor), plus
    the cycle-to-cycle noise of ``n`` independent steps, ``noise sqrt(n) xi``, clipped to [0, 1].
    Written once with the primitives ``f`` (:mod:`memcosim.devices.prims`): on tensors, arrays or,
    inside the compiled training kernel, scalars.
    """
    last = q_of_x.shape[0] - 1
    pos = f.clip(y0, 0.0, 1.0) * last
    lo = f.clip(f.index(pos), 0, last - 1)
    frac = pos - lo
    q1 = f.clip(q_of_x[lo] * (1 - frac) + q_of_x[lo + 1] * frac + n * scale / pulses_to_cross, 0.0, 1.0)
    pos1 = q1 * last
    lo1 = f.clip(f.index(pos1), 0, last - 1)
    frac1 = pos1 - lo1
    y1 = x_of_q[lo1] * (1 - frac1) + x_of_q[lo1 + 1] * frac1
    return f.clip(y1 + noise * f.sqrt(n) * xi, 0.0, 1.0)


@jitable
def measured_train(x, down, n, q_of_x, x_of_q, pulses_to_cross, scale, noise, xi, f):
    """A measured device's state ``x`` (fraction of its window) after a train of ``n`` pulses of one
    direction: :func:`branch_train` on the up branch in ``x`` or, when ``down``, on the down branch
    in the mirrored state ``1 - x``. The one place the two directions meet (replay, training
    layers and the hardware-order event loops all call it). The mirror is arithmetic, ``d + (1 - 2 d) x``
    with ``d = 1`` for ``down`` (exactly ``1 - x``, or ``x``): compiled, no branch on the direction, which
    a stochastic update's events take at random (-10 % of the event loop's time)."""
    d = 1.0 if down else 0.0
    s = 1.0 - 2.0 * d
    return d + s * branch_train(d + s * x, n, q_of_x, x_of_q, pulses_to_cross, scale, noise, xi, f)


def _segments(sweeps, g_min, span):
    """Per amplitude sign: the runs of consecutive pulses of that sign, each as (states, |amplitudes|):
    the state before the run's first pulse and after each pulse, and the pulses' magnitudes."""
    out = {1: [], -1: []}
    for sw in sweeps:
        x = (sw.conductance_s - g_min) / span
        sign = np.sign(sw.pulse_amplitude_v)
        k = 1
        while k < len(x):
            end = k
            while end + 1 < len(x) and sign[end + 1] == sign[k]:
                end += 1
            if sign[k] != 0:
                out[int(sign[k])].append((x[k - 1:end + 1], np.abs(sw.pulse_amplitude_v[k:end + 1])))
            k = end + 1
    return out


def _branch(runs, polarity, rising, where):
    """A branch from the measured runs of one direction (see the module docstring).

    Each run is made monotone by isotonic regression; an interval of states it crossed in ``m``
    pulses adds ``m / width`` pulses per unit of state there. Averaged over the runs that cover a
    state (the nearest covered value where none does), integrated and tabulated.
    """
    from scipy.optimize import isotonic_regression

    name = "potentiating" if rising else "depressing"
    grid = np.linspace(0.0, 1.0, _GRID)
    cell = np.diff(grid)
    density, amplitude, cover = np.zeros(_GRID - 1), np.zeros(_GRID - 1), np.zeros(_GRID - 1)
    n_pulses, net, travel, residual = 0, 0.0, 0.0, []
    for states, amps in runs:
        y = states if rising else 1.0 - states
        n_pulses += len(amps)
        net += y[-1] - y[0]
        travel += float(np.abs(np.diff(y)).sum())
        if len(y) < 3:
            continue
        fit = isotonic_regression(y).x
        residual.append(np.diff(y) - np.diff(fit))
        rises = np.nonzero(np.diff(fit) > 0)[0]
        if rises.size == 0:
            continue
        # the states at which the fit rises, and the pulses spent between them
        starts = np.concatenate([[0], rises[:-1] + 1])
        for a, b in zip(starts, rises):
            lo, hi = fit[a], fit[b + 1]
            overlap = np.clip(np.minimum(grid[1:], hi) - np.maximum(grid[:-1], lo), 0.0, None) / cell
            m = b + 1 - a
            density += overlap * m / (hi - lo)
            amplitude += overlap * float(amps[a:b + 1].mean())
            cover += overlap
    if n_pulses < MIN_STEPS:
        raise CalibrationError(f"{where}: only {n_pulses} {name} pulse(s); a measured device needs at least {MIN_STEPS} "
                               "in each direction")
    if not (net > 0 and net >= 0.3 * travel) or not cover.any():
        raise CalibrationError(f"{where}: the {name} pulses move the conductance {net:+.3g} of the window net over "
                               f"{travel:.3g} travelled: the sweep is not monotone enough to invert")
    covered = cover > 1e-9
    centres = 0.5 * (grid[1:] + grid[:-1])
    rho = np.interp(centres, centres[covered], density[covered] / cover[covered])
    amp = np.interp(centres, centres[covered], amplitude[covered] / cover[covered])
    p = np.concatenate([[0.0], np.cumsum(rho * cell)])
    q_of_x = p / p[-1]
    x_of_q = np.interp(grid, q_of_x, grid)
    noise = float(np.sqrt(np.mean(np.concatenate(residual) ** 2))) if residual else 0.0
    return MeasuredBranch(float(p[-1]), q_of_x, x_of_q, 1.0 / rho, amp, noise, n_pulses, polarity)


def from_sweeps(sweeps):
    """A :class:`MeasuredDevice` from measured sweeps of one device at one pulse width.

    Parameters
    ----------
    sweeps : sequence of PulseSweep
        :func:`memcosim.devices.measurements.read_sweep` results (several files are pooled).

    Raises
    ------
    CalibrationError
        No sweeps, widths that differ, a window of zero width, too few pulses in one direction,
        both polarities moving the conductance the same way, or a direction not monotone enough.
    """
    sweeps = list(sweeps)
    if not sweeps:
        raise CalibrationError("measured device: no sweep files given")
    where = ", ".join(sw.path for sw in sweeps)
    width = sweeps[0].nominal_width_s
    for sw in sweeps:
        if abs(sw.nominal_width_s - width) > _WIDTH_RTOL * width:
            raise CalibrationError(f"{sw.path}: pulse width {sw.nominal_width_s:g} s differs from {width:g} s of "
                                   f"{sweeps[0].path}; a measured device is built from sweeps of one width")
    g = np.concatenate([sw.conductance_s for sw in sweeps])
    g_min, g_max = float(g.min()), float(g.max())
    if not g_max > g_min * (1 + 1e-6):
        raise CalibrationError(f"{where}: the conductance never changes ({g_min:g} S): no response to build")
    runs = _segments(sweeps, g_min, g_max - g_min)
    net = {s: sum(float(x[-1] - x[0]) for x, _ in runs[s]) for s in (1, -1)}
    if not net[1] * net[-1] < 0:
        raise CalibrationError(f"{where}: positive and negative pulses move the conductance the same way on balance "
                               f"(net {net[1]:+.3g} and {net[-1]:+.3g} of the window): cannot tell potentiation from "
                               "depression")
    up_sign = 1 if net[1] > 0 else -1
    return MeasuredDevice(tuple(sw.path for sw in sweeps), float(width), g_min, g_max,
                          _branch(runs[up_sign], up_sign, True, where), _branch(runs[-up_sign], -up_sign, False, where),
                          float(g.mean()))


def from_files(paths, pulse_width_s=None):
    """A :class:`MeasuredDevice` from measured files; with ``pulse_width_s``, from those of that width only.

    Raises
    ------
    CalibrationError
        As :func:`from_sweeps`; or no file of ``pulse_width_s`` (the error lists the widths there are).
    """
    from memcosim.devices.measurements import read_sweep

    sweeps = [read_sweep(p) for p in paths]
    if pulse_width_s is not None:
        chosen = [sw for sw in sweeps if abs(sw.nominal_width_s - pulse_width_s) <= _WIDTH_RTOL * pulse_width_s]
        if not chosen:
            widths = sorted({sw.nominal_width_s for sw in sweeps})
            raise CalibrationError(f"device.measured_from: no file with pulse width {pulse_width_s:g} s; the files have "
                                   f"{', '.join(f'{w:g}' for w in widths)} s")
        sweeps = chosen
    return from_sweeps(sweeps)


def _each_branch(device, change):
    """The device with ``change`` (a branch -> branch function) applied to both of its branches."""
    return replace(device, up=change(device.up), down=change(device.down))


def with_step_scale(device, factor):
    """The device with every step scaled by ``factor`` (> 0) and the shape of its response kept:
    each branch crosses the window in ``pulses_to_cross / factor`` pulses, through the same states
    with the same amplitudes and the same scatter per step. A "what if" (a finer or coarser device
    of the same nonlinearity and asymmetry), never a fit.
    """
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and 0 < factor <= 10):
        raise ConfigError(f"device.measured_step_scale: must be in (0, 10], got {factor!r}")
    return _each_branch(device, lambda b: replace(b, pulses_to_cross=b.pulses_to_cross / factor, step=b.step * factor))


def with_linear_response(device):
    """The device with each direction's response made linear: every pulse of a direction moves the
    state by the same step, ``1 / pulses_to_cross`` of the window, so each branch still crosses
    the window in its measured number of pulses (the asymmetry of the two directions, the
    amplitudes and the scatter kept). A "what if" that removes the nonlinearity alone, never a fit.
    """
    grid = np.linspace(0.0, 1.0, _GRID)
    return _each_branch(device, lambda b: replace(b, q_of_x=grid.copy(), x_of_q=grid.copy(),
                                                  step=np.full(len(b.step), 1.0 / b.pulses_to_cross)))


def with_added_noise(device, std):
    """The device with a cycle-to-cycle noise of ``std`` (fraction of the window per pulse, >= 0)
    added in quadrature to each direction's measured scatter."""
    if not (isinstance(std, (int, float)) and math.isfinite(std) and 0 <= std <= 1):
        raise ConfigError(f"device.cycle_to_cycle_std: must be in [0, 1], got {std!r}")
    return _each_branch(device, lambda b: replace(b, noise=math.hypot(b.noise, std)))


def replay(device, conductance_s, amplitudes_v):
    """Conductances (S) after each pulse of a measured sequence, from ``conductance_s``, noise-free.

    A pulse of the potentiating polarity steps the up branch, one of the other polarity the down
    branch (a zero amplitude leaves the device alone). Used to check that a measured device
    reproduces its own sweeps.
    """
    x = (float(conductance_s) - device.g_min_s) / device.span_s
    out = np.empty(len(amplitudes_v))
    for k, a in enumerate(amplitudes_v):
        if a != 0:
            down = np.sign(a) != device.up.polarity
            b = device.down if down else device.up
            x = float(measured_train(np.float64(x), down, 1.0, b.q_of_x, b.x_of_q, b.pulses_to_cross, 1.0, 0.0, 0.0,
                                     NUMPY))
        out[k] = device.g_min_s + x * device.span_s
    return out


def sample_spread(device, shape, device_to_device_std, rng):
    """Per-device spread: window ends and each direction's step scaled by independent lognormal
    factors of sigma ``device_to_device_std`` (``g_max_s`` kept above ``g_min_s``), as the compact
    model's :func:`memcosim.devices.hzo_params.sample_device_params`.

    Returns
    -------
    dict of ndarray
        ``g_min_s``, ``g_max_s``, ``step_scale_up``, ``step_scale_down``, each of ``shape``.
    """
    g_min, g_max, f = spread_window(device.g_min_s, device.g_max_s, shape, device_to_device_std, rng)
    return {"g_min_s": g_min, "g_max_s": g_max, "step_scale_up": f(), "step_scale_down": f()}
