"""Ferroelectric HfO2-ZrO2 (HZO) synapse: the pulse API of the NLS model.

Pulses step a device's state (:func:`apply_pulses_state`, written once: training,
characterisation and calibration all step devices through it), the training fast path takes
signed pulse counts (:func:`pulse_response`), :func:`symmetry_point` finds where alternating
pulses settle; :mod:`memcosim.devices.hzo_energy` costs a pulse.

The model is split by job, and every public name is importable from here:

* :mod:`memcosim.devices.hzo_params` — parameters (:class:`HZOParams`, batches, device spread);
* :mod:`memcosim.devices.hzo_switching` — the switching law (physics, references) and the state;
* :mod:`memcosim.devices.hzo_electrical` — conduction and switching charge.

Every function takes either HZO model (an :class:`~memcosim.devices.hzo_params.HZOFilm`):
:class:`HZOParams` (NLS populations) or
:class:`~memcosim.devices.hzo_kinetics.HZOKineticsParams` (a field law over quantile bins of
switching voltages, each bin a population).
"""

import dataclasses
import math
import numbers

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.devices.hzo_electrical import cell_current_a, conduction_scale, read_current_a, switching_charge_c
from memcosim.devices.hzo_params import HZOFilm, HZOParams, KineticsArrays, ParameterBatch, SwitchingKinetics, sample_device_params
from memcosim.devices.hzo_switching import (_ops, _stack, active_fraction, conductance_from_state, nls_switch,
                                            state_from_conductance, switched_fraction)
from memcosim.devices.prims import jitable, prims_for

__all__ = [
    "SwitchingKinetics",
    "HZOFilm",
    "HZOParams",
    "KineticsArrays",
    "ParameterBatch",
    "switched_fraction",
    "active_fraction",
    "state_from_conductance",
    "conductance_from_state",
    "apply_pulses",
    "apply_pulses_state",
    "apply_pulse_sequence_state",
    "step_constants",
    "noisy_state",
    "pulse_response",
    "pulse_response_state",
    "symmetry_point",
    "switching_charge_c",
    "conduction_scale",
    "read_current_a",
    "cell_current_a",
    "sample_device_params",
]


def _is_scalar(value):
    return isinstance(value, numbers.Real)


def _pulse_arrays(amplitude_v, width_s, like, xp):
    """Amplitude and width as given (scalars) or as arrays like ``like``; zero or non-finite
    amplitudes and non-positive widths are refused."""
    checked = []
    for name, value, good, allowed in (
        ("amplitude_v", amplitude_v, lambda v: v != 0, "a finite non-zero voltage (a count of 0 is no pulse)"),
        ("width_s", width_s, lambda v: v > 0, "> 0 seconds"),
    ):
        if _is_scalar(value):
            if not (math.isfinite(value) and good(value)):
                raise ConfigError(f"{name}: must be {allowed}, got {value!r}")
        else:
            value = _as_array(value, like, xp)
            bad = ~(good(value) & xp.isfinite(value))
            if bool(bad.any()):
                raise ConfigError(f"{name}: must be {allowed}, got {value[bad].reshape(-1)[0].item()!r} "
                                  f"({int(bad.sum())} such value(s))")
        checked.append(value)
    return checked


def _check_params(params):
    """A clear error for a call in the old argument order (the pulse functions take the state,
    then ``n_pulses``, then ``params``, then ``amplitude_v`` and ``width_s``)."""
    if not isinstance(params, (HZOFilm, ParameterBatch)):
        raise ConfigError(f"params: must be HZO parameters (HZOParams, HZOKineticsParams) or ParameterBatch, got {type(params).__name__} "
                          "(argument order: state or conductance_s, n_pulses, params, amplitude_v, width_s)")


def _direction_kinetics(params, device_params, up, xp):
    """Per population, the kinetics arrays of one direction (``up``: potentiation): each has
    ``u_lam(log_v, xp)``, ``spread_shape``, ``spread`` and ``log_tau_inf``."""
    if isinstance(params, ParameterBatch):
        return [population[1 if up else 2] for population in params.populations]
    factor = (device_params or {}).get("v_act_up_v" if up else "v_act_down_v")
    if factor is not None:
        # a device's activation-voltage factor applies to every population
        factor = factor / params.nominal_v_act_v(up)
    return [(up_k if up else down_k).arrays(factor, xp) for _, up_k, down_k in params.populations]


def step_constants(params, voltage_v, up, device_params=None, xp=np, width_s=None):
    """The state-independent constants of the NLS step in one direction, per population.

    Parameters
    ----------
    params : HZOParams or ParameterBatch
    voltage_v : float or array_like
        Pulse magnitude, volts (> 0).
    up : bool
        Potentiation (True) or depression.
    device_params : dict, optional
        Per-device arrays (:func:`sample_device_params`): the activation-voltage factors apply.
    xp : numpy or torch
    width_s : float or array_like, optional
        Pulse width, seconds (> 0): needed by a device whose film charges through a series
        resistance (``HZOKineticsParams.r_series_ohm > 0``), where a pulse's worth depends on it.

    Returns
    -------
    list of tuple
        Per population ``(u_lam, lam, scale, log_tau)``, the arguments of
        :func:`~memcosim.devices.hzo_switching.nls_switch` before ``log_total_time``: ``u_lam``
        ``(v_act / V) ** merz_exponent`` to the Box-Cox power (an array with device spread),
        ``lam = spread_shape``, ``scale = spread_shape * spread``, ``log_tau = ln tau_inf_s``.
    """
    log_v = math.log(voltage_v) if _is_scalar(voltage_v) else xp.log(voltage_v)
    log_w = None if width_s is None else math.log(width_s) if _is_scalar(width_s) else xp.log(width_s)
    return [_constants(k, log_v, xp, log_w) for k in _direction_kinetics(params, device_params, up, xp)]


def _as_array(value, like, xp):
    if xp is np:
        return np.asarray(value, dtype=float)
    return xp.as_tensor(value, dtype=like.dtype, device=like.device)


def apply_pulses_state(state, n_pulses, params, amplitude_v, width_s, generator=None, device_params=None):
    """States after ``n_pulses`` identical pulses: every population switches on its own.

    The one NLS pulse step of the package: training, characterisation and calibration all step
    devices through it. Amplitude, width and count may differ per device, and ``params`` may be
    a whole :class:`ParameterBatch` (calibration steps every candidate parameter vector together).

    Parameters
    ----------
    state : ndarray or torch.Tensor, shape (..., populations)
        Switched fraction of each population (:func:`state_from_conductance`).
    n_pulses : int or array_like
        Identical pulses per device (>= 0; 0 leaves a device unchanged).
    params : HZOParams or ParameterBatch
    amplitude_v : float or array_like
        Signed pulse amplitude at each device, volts (finite, non-zero; broadcast against
        ``state[..., 0]``). Its sign and ``params.potentiation_polarity`` decide the direction.
    width_s : float or array_like
        Pulse width, seconds (> 0; broadcast likewise).
    generator, device_params
        As in :func:`apply_pulses`; a device's activation-voltage factor applies to both populations.

    Returns
    -------
    Same type and shape as ``state``
    """
    xp = _ops(state)[0]
    _check_params(params)
    amplitude, width = _pulse_arrays(amplitude_v, width_s, state, xp)
    n = _as_array(n_pulses, state, xp)
    total = xp.clip(n, 1e-300, None) * width
    polarity = params.potentiation_polarity
    if _is_scalar(amplitude):
        voltage, up_mask = abs(amplitude), bool(np.sign(amplitude) == polarity)
        directions = (up_mask,)
    else:
        voltage, up_mask = xp.abs(amplitude), xp.sign(amplitude) == polarity
        directions = (True, False)
    f = prims_for(state)
    log_total = xp.log(total)
    if xp is np and len(directions) == 2:
        # numpy, both directions at once: each device's kinetics chosen first, the law evaluated once
        down = np.where(up_mask, 0.0, 1.0)
        log_v = np.log(voltage)
        selected = zip(_direction_kinetics(params, device_params, True, np),
                       _direction_kinetics(params, device_params, False, np))
        constants = [_constants(_select(up_mask, k_up, k_down), log_v, np, np.log(width)) for k_up, k_down in selected]
        moved = [nls_switch(state[..., q], down, *constants[q], log_total, f) for q in range(len(constants))]
    else:
        constants = {up: step_constants(params, voltage, up, device_params, xp, width) for up in directions}
        moved = []
        for q in range(len(params.populations)):
            step = {up: nls_switch(state[..., q], 0.0 if up else 1.0, *constants[up][q], log_total, f)
                    for up in constants}  # switching only proceeds: up raises x, down lowers it
            moved.append(step[up_mask] if len(directions) == 1 else xp.where(up_mask, step[True], step[False]))
    new = [_noise_and_domains(state[..., q], xp.where(n > 0, x_new, state[..., q]), n, params, generator, xp)
           for q, x_new in enumerate(moved)]
    return _stack(new, xp)


def _select(mask, up, down):
    """The kinetics arrays of ``up`` where ``mask`` holds, else of ``down`` (same class; numpy; a
    field that is None in both stays None)."""
    pick = lambda a, b: None if a is None and b is None else np.where(mask, a, b)  # noqa: E731
    return type(up)(**{field.name: pick(getattr(up, field.name), getattr(down, field.name))
                       for field in dataclasses.fields(up)})


def _constants(kinetics, log_v, xp, log_width=None):
    """``(u_lam, lam, scale, log_tau)`` of one population's kinetics arrays at ``log_v = ln |V|``
    (and ``log_width = ln(w / 1 s)``, which a series resistance needs)."""
    lam = kinetics.spread_shape
    return kinetics.u_lam(log_v, xp, log_width), lam, lam * kinetics.spread, kinetics.log_tau_inf


def apply_pulse_sequence_state(state, n_pulses, params, amplitudes_v, widths_s, generator=None, device_params=None):
    """States along a sequence of pulse steps (a measured sweep replayed, for example).

    Step ``k`` applies ``n_pulses[k]`` pulses of ``amplitudes_v[k]`` and ``widths_s[k]`` through
    :func:`apply_pulses_state`; cost ``O(steps * devices)``.

    Parameters
    ----------
    state : ndarray or torch.Tensor, shape (..., populations)
        Initial state.
    n_pulses : int or array_like, shape (steps, ...)
        Pulses of each step per device (0: no pulse, e.g. the padding of a shorter sequence); a
        scalar applies that count at every step.
    params : HZOParams or ParameterBatch
    amplitudes_v, widths_s : array_like, shape (steps, ...)
        Signed amplitude (volts) and width (seconds) of each step, each step's slice broadcast
        against ``state[..., 0]``.
    generator, device_params
        As in :func:`apply_pulses`.

    Returns
    -------
    Same type as ``state``, shape (steps,) + state.shape
        The state after every step.
    """
    xp = _ops(state)[0]
    states = []
    for k in range(len(amplitudes_v)):
        count = n_pulses[k] if np.ndim(n_pulses) else n_pulses
        state = apply_pulses_state(state, count, params, amplitudes_v[k], widths_s[k], generator, device_params)
        states.append(state)
    return np.stack(states) if xp is np else xp.stack(states)


def apply_pulses(conductance_s, n_pulses, params, amplitude_v, width_s, generator=None, device_params=None):
    """Conductances after ``n_pulses`` identical pulses (numpy or torch, vectorised).

    Parameters
    ----------
    conductance_s : ndarray or torch.Tensor
        Present read conductances, siemens; any shape. Every population starts at the same
        fraction (a freshly programmed device; :func:`apply_pulses_state` carries the history).
    n_pulses : int or array_like
        Pulses per device (>= 0; broadcast against ``conductance_s``).
    params : HZOParams
    amplitude_v : float or array_like
        Signed pulse amplitude at the device, volts; its sign and
        ``params.potentiation_polarity`` decide the direction.
    width_s : float or array_like
        Pulse width, seconds (> 0).
    generator : numpy.random.Generator or torch.Generator, optional
        Source of cycle-to-cycle noise and stochastic rounding to domains; none without it.
    device_params : dict, optional
        Per-device arrays from :func:`sample_device_params` (same type as ``conductance_s``)
        overriding ``g_min_s``, ``g_max_s`` and the activation voltages.

    Returns
    -------
    Same type as ``conductance_s``
        New conductances in [g_min_s, g_max_s].
    """
    _check_params(params)
    state = state_from_conductance(conductance_s, params, device_params)
    state = apply_pulses_state(state, n_pulses, params, amplitude_v, width_s, generator, device_params)
    return conductance_from_state(state, params, device_params)


def _noise_and_domains(x, x_new, n, params, rng, xp):
    """Cycle-to-cycle noise and domain quantisation (:func:`noisy_state`), variates drawn from ``rng``."""
    xi, r = 0.0, 0.5  # without a random source: no noise, round to the nearest domain level
    if rng is not None and params.cycle_to_cycle_std > 0:
        xi = rng.standard_normal(np.shape(x_new)) if xp is np else xp.randn(
            x_new.shape, generator=rng, dtype=x_new.dtype, device=x_new.device)
    if rng is not None and params.n_domains:
        r = rng.random(np.shape(x_new)) if xp is np else xp.rand(
            x_new.shape, generator=rng, dtype=x_new.dtype, device=x_new.device)
    c2c = params.cycle_to_cycle_std if rng is not None else 0.0
    return noisy_state(x, x_new, n, c2c, params.n_domains, xi, r, prims_for(x))


@jitable
def noisy_state(x, x_new, n, c2c_std, n_domains, xi, r, f):
    """A pulse train's state change ``x -> x_new`` with cycle-to-cycle noise and domain quantisation.

    The change is scaled by ``1 + c2c_std / sqrt(n) * xi`` (``n`` pulses, ``xi`` standard normal),
    clipped to [0, 1], then, with ``n_domains`` > 0, rounded to a level ``k / n_domains`` as
    ``floor(levels + r)``: ``r`` uniform in [0, 1) rounds stochastically, ``r = 1/2`` to the
    nearest level. Written once with the primitives ``f`` (:mod:`memcosim.devices.prims`) for
    numpy, torch and the compiled training kernel.
    """
    if c2c_std > 0:
        x_new = x + (x_new - x) * (1.0 + c2c_std / f.sqrt(f.clip(n, 1.0, math.inf)) * xi)
    x_new = f.clip(x_new, 0.0, 1.0)
    if n_domains > 0:
        x_new = f.clip(f.floor(x_new * n_domains + r) / n_domains, 0.0, 1.0)
    return x_new


def pulse_response_state(state, n_pulses, params, amplitude_v, width_s, generator=None, device_params=None):
    """Training fast path on states: signed pulse counts -> new states (torch or numpy).

    Parameters
    ----------
    state : torch.Tensor or ndarray, shape (..., populations)
    n_pulses : torch.Tensor or ndarray, shape (...)
        Signed pulse count per device: positive potentiates, negative depresses.
    params, amplitude_v, width_s, generator, device_params
        As in :func:`pulse_response`.
    """
    if not amplitude_v > 0:
        raise ConfigError(f"amplitude_v: must be > 0, got {amplitude_v!r}")
    xp = _ops(state)[0]
    up_amp = params.potentiation_polarity * amplitude_v
    up = apply_pulses_state(state, xp.clip(n_pulses, 0, None), params, up_amp, width_s, generator, device_params)
    down = apply_pulses_state(state, xp.clip(-n_pulses, 0, None), params, -up_amp, width_s, generator, device_params)
    n = n_pulses[..., None]
    return xp.where(n > 0, up, xp.where(n < 0, down, state))


def pulse_response(conductance_s, n_pulses, params, amplitude_v, width_s, generator=None, device_params=None):
    """Training fast path: signed pulse counts -> new conductances (torch or numpy).

    Positive counts potentiate, negative counts depress, both with pulses of magnitude
    ``amplitude_v`` and width ``width_s``. Every population starts at the same fraction (see
    :func:`pulse_response_state` for devices with a history).

    Parameters
    ----------
    conductance_s : torch.Tensor or ndarray
        Present conductances, siemens.
    n_pulses : torch.Tensor or ndarray
        Signed pulse count per device, same shape.
    params : HZOParams
    amplitude_v : float
        Pulse magnitude, volts (> 0).
    width_s : float
        Pulse width, seconds.
    generator : torch.Generator or numpy.random.Generator, optional
    device_params : dict, optional
        Per-device parameter arrays (see :func:`apply_pulses`).

    Returns
    -------
    Same type as ``conductance_s``
    """
    state = state_from_conductance(conductance_s, params, device_params)
    state = pulse_response_state(state, n_pulses, params, amplitude_v, width_s, generator, device_params)
    return conductance_from_state(state, params, device_params)


def symmetry_point(params, amplitude_v, width_s, iterations=60):
    """The conductance that alternating up/down pulses settle at.

    Alternating one potentiating and one depressing pulse drives a device into a 2-cycle
    ``G_a -> up(G_a) = G_b -> down(G_b) = G_a``: there an up pulse and a down pulse cancel.
    The symmetry point is the centre ``(G_a + G_b) / 2`` of that cycle; for small steps it is
    the root of ``dG_up(G) + dG_down(G) = 0``. ``G_a`` is found by bisection on
    ``down(up(G)) - G``, which falls from >= 0 at ``g_min_s`` to <= 0 at ``g_max_s``;
    cost ``O(iterations)``. Populations switch independently, so each settles into its own
    cycle (all bisected together) and the symmetry point is their window-weighted sum.

    Parameters
    ----------
    params : HZOParams
    amplitude_v : float
        Pulse magnitude, volts.
    width_s : float
        Pulse width, seconds.

    Returns
    -------
    float
        Symmetry-point conductance, siemens, strictly between g_min_s and g_max_s.
    """
    up_amp = params.potentiation_polarity * abs(amplitude_v)
    shares = np.array([share for share, _, _ in params.populations])

    def cycle(x):
        # the populations switch independently: each settles into its own up/down 2-cycle, all
        # bisected together (one state vector, one population per entry)
        x_b = apply_pulses_state(x[None, :], 1, params, up_amp, width_s)
        return x_b[0], apply_pulses_state(x_b, 1, params, -up_amp, width_s)[0]

    lo, hi = np.zeros(len(shares)), np.ones(len(shares))
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        rises = cycle(mid)[1] > mid
        lo, hi = np.where(rises, mid, lo), np.where(rises, hi, mid)
    x_a = 0.5 * (lo + hi)
    centre = float(np.sum(shares * 0.5 * (x_a + cycle(x_a)[0])))
    return params.g_min_s + (params.g_max_s - params.g_min_s) * centre
