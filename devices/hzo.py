"""Ferroelectric HfO2-ZrO2 (HZO) synapse: nucleation-limited switching with history.

Physics
-------
The conductance follows the switched polarization: with the normalised state
``x = (G - g_min_s) / (g_max_s - g_min_s)`` in [0, 1], potentiation switches domains "up"
(``p_up = x``) and depression switches them back (``p_down = 1 - x``).

Switching follows the nucleation-limited-switching (NLS) picture. With ``L = ln(t / tau_inf_s)``
(the log of the time spent at voltage ``V`` over the Merz prefactor) and Merz's law
``u = (v_act_v / |V|) ** merz_exponent`` (the median ``L`` at which domains switch), the
switched fraction is::

    p(t, V) = Phi((L**lam - u**lam) / (lam * spread)),   lam = spread_shape in (0, 1]

(``L**lam`` read as ``sign(L) |L|**lam``, so times below ``tau_inf_s`` stay in the law)

a Box-Cox interpolation between the two classic NLS limits: ``lam = 1`` is a lognormal
distribution of switching times of width ``spread`` in ln t (Tagantsev et al.); ``lam -> 0`` is
a lognormal distribution of the domains' activation voltages of width
``spread / merz_exponent``, which makes the state a pulse train saturates at depend on its
amplitude. For every ``lam`` no domain switches in zero time or at zero voltage, and ``p``
inverts in closed form.

Two domain populations: a film can hold two families of domains with different kinetics (a
fast-switching and a slow, high-field one; measured HZO sweeps show a steep rise followed by a
long tail that one NLS distribution cannot follow). ``second_population_fraction`` gives the
share ``w2`` of the conductance window held by the second population, with its own kinetics;
each population has its own switched fraction ``x_q`` and ``G = g_min + (g_max - g_min) sum_q
w_q x_q``. A device's *state* is the array of ``x_q`` (last axis); a single-population device's
state is just ``x``. Functions that take a conductance start every population at the same
fraction (a freshly programmed device); the ``*_state`` functions carry the full history.

Wake-up: a pristine film switches only a fraction ``wake_up_initial_fraction`` of its window,
growing towards 1 with field cycling as ``1 - (1 - a0) exp(-N / wake_up_pulses)`` after ``N``
pulses (:func:`active_fraction`). Calibration uses it to follow a series of sweeps measured one
after the other; the training and circuit layers use a woken-up device (``g_max_s`` is the
woken-up window), as arrays are cycled before use.

History: a device in state ``p`` behaves as if it had spent the *equivalent time* ``t_eq`` with
``p(t_eq, V) = p`` at the present pulse's voltage; a pulse of width ``t`` moves it to
``p(t_eq + n t, V)``. So a pulse's conductance change depends on amplitude, width and the present
state; longer or larger pulses switch more; ``n`` identical pulses are applied exactly in one step.
The two directions have their own parameters: potentiation and depression are asymmetric.

Units: volts, seconds, siemens, farads, joules, square metres, C/m^2.

References
----------
A. K. Tagantsev et al., "Non-Kolmogorov-Avrami switching kinetics in ferroelectric thin films",
Phys. Rev. B 66, 214109 (2002). W. J. Merz, Phys. Rev. 95, 690 (1954).
"""

import dataclasses
import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import special

from memcosim.base.errors import ConfigError

__all__ = [
    "SwitchingKinetics",
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
    "pulse_response",
    "pulse_response_state",
    "symmetry_point",
    "pulse_energy_j",
    "switching_charge_c",
    "conduction_scale",
    "read_current_a",
    "cell_current_a",
    "sample_device_params",
]

_EPS = 1e-9  # keeps Phi^-1 finite at the bounds of the state


def _in_range(name, value, low, high):
    """Refuse a value that is not a finite real number in the closed range [low, high]."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and low <= value <= high
    if not ok:
        raise ConfigError(f"{name}: must be in [{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class SwitchingKinetics:
    """NLS switching kinetics of one direction (potentiation or depression)."""

    tau_inf_s: float = 1e-12
    """Merz prefactor: switching time at infinite field, seconds."""
    v_act_v: float = 20.0
    """Median activation voltage of the domains, volts."""
    merz_exponent: float = 1.0
    """Exponent of Merz's law (1 = classic Merz)."""
    spread: float = 3.0
    """Width of the switching distribution (in ln t when ``spread_shape = 1``)."""
    spread_shape: float = 1.0
    """Box-Cox shape in (0, 1]: 1 = lognormal switching times, -> 0 = lognormal activation voltages."""

    def __post_init__(self):
        _in_range("tau_inf_s", self.tau_inf_s, 1e-30, 1.0)
        _in_range("v_act_v", self.v_act_v, 1e-3, 1e4)
        _in_range("merz_exponent", self.merz_exponent, 0.05, 20.0)
        _in_range("spread", self.spread, 1e-4, 100.0)
        _in_range("spread_shape", self.spread_shape, 1e-3, 1.0)


@dataclass(frozen=True)
class HZOParams:
    """One HZO synapse (or the median device of an array)."""

    g_min_s: float = 1.4e-8
    """Lowest conductance (all domains down), read at ``read_voltage_v``, siemens."""
    g_max_s: float = 8.0e-8
    """Highest conductance (all domains up), siemens."""
    potentiation: SwitchingKinetics = SwitchingKinetics()
    """Kinetics of pulses that raise the conductance."""
    depression: SwitchingKinetics = SwitchingKinetics()
    """Kinetics of pulses that lower the conductance."""
    potentiation_polarity: int = -1
    """Sign of the pulse amplitude that potentiates (-1: negative pulses raise G, as measured)."""
    read_voltage_v: float = 0.1
    """Read voltage, volts."""
    conduction_alpha_per_v: float = 1.5
    """Nonlinearity of conduction: ``I(V) = G * sinh(alpha V) / alpha``, 1/V."""
    area_m2: float = 1e-12
    """Device area, square metres."""
    remanent_polarization_c_m2: float = 0.2
    """Remanent polarization P_r, C/m^2 (20 uC/cm^2)."""
    capacitance_f: float = 2.7e-14
    """Linear (dielectric) capacitance of the device, farads."""
    n_domains: int = 0
    """Number of independently switching domains: the state is quantised to ``1/n_domains``
    (0 = continuous)."""
    cycle_to_cycle_std: float = 0.0
    """Relative cycle-to-cycle noise of a pulse's conductance change."""
    second_population_fraction: float = 0.0
    """Share of the conductance window held by a second domain population (0: one population)."""
    second_potentiation: SwitchingKinetics = SwitchingKinetics()
    """Potentiation kinetics of the second population (unused when its fraction is 0)."""
    second_depression: SwitchingKinetics = SwitchingKinetics()
    """Depression kinetics of the second population."""
    wake_up_initial_fraction: float = 1.0
    """Share of the window a pristine film switches (1: no wake-up); see :func:`active_fraction`."""
    wake_up_pulses: float = 1.0
    """Pulses over which wake-up completes (e-folding count)."""

    def __post_init__(self):
        _in_range("g_min_s", self.g_min_s, 1e-15, 1.0)
        _in_range("g_max_s", self.g_max_s, 1e-15, 1.0)
        if not self.g_max_s > self.g_min_s:
            raise ConfigError(f"g_max_s: must be > g_min_s = {self.g_min_s:g}, got {self.g_max_s:g}")
        if self.potentiation_polarity not in (-1, 1):
            raise ConfigError(f"potentiation_polarity: must be -1 or 1, got {self.potentiation_polarity!r}")
        _in_range("read_voltage_v", self.read_voltage_v, 1e-4, 5.0)
        _in_range("conduction_alpha_per_v", self.conduction_alpha_per_v, 1e-6, 50.0)
        _in_range("area_m2", self.area_m2, 1e-20, 1e-2)
        _in_range("remanent_polarization_c_m2", self.remanent_polarization_c_m2, 0.0, 10.0)
        _in_range("capacitance_f", self.capacitance_f, 0.0, 1e-6)
        if not isinstance(self.n_domains, int) or self.n_domains < 0:
            raise ConfigError(f"n_domains: must be an integer >= 0, got {self.n_domains!r}")
        _in_range("cycle_to_cycle_std", self.cycle_to_cycle_std, 0.0, 1.0)
        _in_range("second_population_fraction", self.second_population_fraction, 0.0, 0.999)
        _in_range("wake_up_initial_fraction", self.wake_up_initial_fraction, 1e-3, 1.0)
        _in_range("wake_up_pulses", self.wake_up_pulses, 1e-3, 1e12)

    @property
    def populations(self):
        """``[(share of the window, potentiation kinetics, depression kinetics), ...]``."""
        if self.second_population_fraction == 0:
            return [(1.0, self.potentiation, self.depression)]
        w2 = self.second_population_fraction
        return [(1.0 - w2, self.potentiation, self.depression), (w2, self.second_potentiation, self.second_depression)]

    def to_dict(self):
        """A JSON-ready dict (``HZOParams.from_dict`` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build from :meth:`to_dict` output; unknown keys are an error naming them."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"HZO parameters: unknown key(s) {unknown}; allowed: {sorted(known)}")
        for key in ("potentiation", "depression", "second_potentiation", "second_depression"):
            if key in data and isinstance(data[key], dict):
                data[key] = SwitchingKinetics(**data[key])
        return cls(**data)


@dataclass(frozen=True)
class KineticsArrays:
    """NLS kinetics of one direction in the log form the law steps with, for many devices or
    parameter sets at once.

    Every field is a float or an array (numpy or torch) that broadcasts against the switched
    fractions being stepped (for example shape (batch, 1) against states of shape (batch, files)).
    No checks: build it from a validated :class:`SwitchingKinetics` (:meth:`from_kinetics`) or
    from bounded fit parameters.
    """

    log_tau_inf: object
    """``ln(tau_inf_s / 1 s)``: log of the Merz prefactor."""
    log_v_act: object
    """``ln(v_act_v / 1 V)``: log of the median activation voltage."""
    merz_exponent: object
    """Exponent of Merz's law."""
    spread: object
    """Width of the switching distribution."""
    spread_shape: object
    """Box-Cox shape in (0, 1]."""

    @classmethod
    def from_kinetics(cls, kinetics, v_act_factor=None, xp=np):
        """The log form of ``kinetics``; ``v_act_factor`` (array) scales the activation voltage per device."""
        log_v_act = math.log(kinetics.v_act_v) + (0.0 if v_act_factor is None else xp.log(v_act_factor))
        return cls(math.log(kinetics.tau_inf_s), log_v_act, kinetics.merz_exponent, kinetics.spread,
                   kinetics.spread_shape)


@dataclass(frozen=True)
class ParameterBatch:
    """Many HZO parameter sets stepped together, as arrays (calibration's candidate parameter vectors).

    Takes the place of :class:`HZOParams` in :func:`apply_pulses_state`,
    :func:`apply_pulse_sequence_state`, :func:`state_from_conductance`,
    :func:`conductance_from_state` and :func:`active_fraction`. Every array broadcasts against
    the states' leading axes (e.g. shape (batch, 1) against states of shape
    (batch, files, populations)). A batch is noise-free and continuous (no cycle-to-cycle noise,
    no domain quantisation). No checks: build it from bounded fit parameters.
    """

    g_min_s: object
    """Lowest conductance of each parameter set, siemens."""
    g_max_s: object
    """Highest (woken-up) conductance of each parameter set, siemens."""
    populations: tuple
    """``((share of the window, potentiation KineticsArrays, depression KineticsArrays), ...)``."""
    potentiation_polarity: int
    """Sign of the amplitude that potentiates (-1 or 1), shared by the batch."""
    wake_up_initial_fraction: object = 1.0
    """Share of the window a pristine film switches (see :func:`active_fraction`)."""
    wake_up_pulses: object = 1.0
    """Pulses over which wake-up completes (e-folding count)."""
    cycle_to_cycle_std = 0.0  # class constants, not fields: a batch is noise-free and continuous
    n_domains = 0


def _ops(x):
    """numpy or torch primitives for the arrays given (one code path for both)."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch, torch.special.ndtr, torch.special.ndtri
    return np, special.ndtr, special.ndtri


def _merz_u(log_vact, log_v, kinetics, xp):
    """``(v_act / V) ** merz_exponent`` raised to the Box-Cox power, overflow-safe."""
    growth = kinetics.spread_shape * kinetics.merz_exponent * (log_vact - log_v)
    if isinstance(growth, float):
        return math.exp(min(growth, 300.0))
    return xp.exp(xp.clip(growth, None, 300.0))


def switched_fraction(time_s, voltage_v, kinetics):
    """Fraction of domains switched after ``time_s`` at constant ``|voltage_v|`` from zero.

    Parameters
    ----------
    time_s : array_like
        Accumulated time at the voltage, seconds (> 0).
    voltage_v : array_like
        Pulse voltage (its magnitude is used), volts.
    kinetics : SwitchingKinetics

    Returns
    -------
    ndarray
        Switched fraction in [0, 1].
    """
    lam = kinetics.spread_shape
    v = np.maximum(np.abs(np.asarray(voltage_v, dtype=float)), 1e-12)
    u_lam = _merz_u(math.log(kinetics.v_act_v), np.log(v), kinetics, np)
    big_l = np.log(np.maximum(np.asarray(time_s, dtype=float), 1e-300)) - math.log(kinetics.tau_inf_s)
    return special.ndtr((_signed_pow(big_l, lam, np) - u_lam) / (lam * kinetics.spread))


def _advance(p, voltage_v, total_time_s, kinetics, ops):
    """NLS step in the switched fraction ``p`` of one direction (numpy or torch; ``kinetics``: KineticsArrays)."""
    xp, ndtr, ndtri = ops
    lam, scale = kinetics.spread_shape, kinetics.spread_shape * kinetics.spread
    log_tau = kinetics.log_tau_inf
    p = xp.clip(p, _EPS, 1.0 - _EPS)
    log_v = math.log(voltage_v) if isinstance(voltage_v, (int, float)) else xp.log(voltage_v)
    u_lam = _merz_u(kinetics.log_v_act, log_v, kinetics, xp)
    # equivalent time already spent at this voltage: L_eq^lam = u^lam + lam * spread * z
    big_l_eq = xp.clip(_signed_pow(u_lam + scale * ndtri(p), 1.0 / lam, xp), -1e300, 1e300)
    log_t_new = xp.logaddexp(log_tau + big_l_eq, xp.log(total_time_s))
    return ndtr((_signed_pow(log_t_new - log_tau, lam, xp) - u_lam) / scale)


def _signed_pow(x, power, xp):
    """``sign(x) * |x| ** power``: monotone, so the NLS law inverts for ``t`` below ``tau_inf``."""
    magnitude = xp.exp(xp.clip(power * xp.log(xp.clip(xp.abs(x), 1e-300, None)), None, 690.0))
    return xp.sign(x) * magnitude


def active_fraction(params, pulses_applied):
    """Share of the window a film has woken up to after ``pulses_applied`` pulses of cycling.

    ``1 - (1 - a0) exp(-N / N_wake)`` with ``a0 = wake_up_initial_fraction`` and
    ``N_wake = wake_up_pulses``; ``params`` may be a :class:`ParameterBatch` (arrays broadcast).
    """
    pulses = np.asarray(pulses_applied, dtype=float)
    return 1.0 - (1.0 - params.wake_up_initial_fraction) * np.exp(-pulses / params.wake_up_pulses)


def _stack(parts, xp):
    return np.stack(parts, axis=-1) if xp is np else xp.stack(parts, dim=-1)


def _window(params, device_params, pulses_applied=None):
    """(g_min, switchable span) of the nominal device or of each device in ``device_params``.

    The span is ``g_max - g_min``, times :func:`active_fraction` when ``pulses_applied`` is given.
    """
    dev = device_params or {}
    g_min = dev.get("g_min_s", params.g_min_s)
    span = dev.get("g_max_s", params.g_max_s) - g_min
    if pulses_applied is not None:
        span = span * active_fraction(params, pulses_applied)
    return g_min, span


def state_from_conductance(conductance_s, params, device_params=None, pulses_applied=None):
    """The state (switched fraction of every population, last axis) of a freshly programmed device.

    Every population sits at the same fraction ``(G - g_min) / span``, clipped to [0, 1], with
    ``span = g_max - g_min`` of the woken-up film, or of a film that has taken
    ``pulses_applied`` pulses (wake-up, :func:`active_fraction`). ``params``: HZOParams or
    :class:`ParameterBatch`.
    """
    xp = _ops(conductance_s)[0]
    g_min, span = _window(params, device_params, pulses_applied)
    x = xp.clip((conductance_s - g_min) / span, 0.0, 1.0)
    return _stack([x] * len(params.populations), xp)


def conductance_from_state(state, params, device_params=None, pulses_applied=None):
    """Read conductance (siemens) of devices in ``state`` (populations on the last axis).

    ``G = g_min + span * sum_q w_q x_q``, ``span`` as in :func:`state_from_conductance`.
    """
    g_min, span = _window(params, device_params, pulses_applied)
    x = sum(w * state[..., q] for q, (w, _, _) in enumerate(params.populations))
    return g_min + span * x


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
    if not isinstance(params, (HZOParams, ParameterBatch)):
        raise ConfigError(f"params: must be HZOParams or ParameterBatch, got {type(params).__name__} "
                          "(argument order: state or conductance_s, n_pulses, params, amplitude_v, width_s)")


def _direction_kinetics(params, device_params, up, xp):
    """Per population, the KineticsArrays of one direction (``up``: potentiation)."""
    if isinstance(params, ParameterBatch):
        return [population[1 if up else 2] for population in params.populations]
    nominal = params.potentiation if up else params.depression
    factor = (device_params or {}).get("v_act_up_v" if up else "v_act_down_v")
    if factor is not None:
        factor = factor / nominal.v_act_v  # a device's activation-voltage factor applies to every population
    return [KineticsArrays.from_kinetics(up_k if up else down_k, factor, xp) for _, up_k, down_k in params.populations]


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
    ops = _ops(state)
    xp = ops[0]
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
    kinetics = {up: _direction_kinetics(params, device_params, up, xp) for up in directions}
    new = []
    for q in range(len(params.populations)):
        x = state[..., q]
        moved = {}
        if True in kinetics:  # switching only proceeds: up raises x, down lowers it
            moved[True] = xp.maximum(_advance(x, voltage, total, kinetics[True][q], ops), x)
        if False in kinetics:
            moved[False] = 1.0 - xp.maximum(_advance(1.0 - x, voltage, total, kinetics[False][q], ops), 1.0 - x)
        x_new = moved[up_mask] if len(directions) == 1 else xp.where(up_mask, moved[True], moved[False])
        new.append(_noise_and_domains(x, xp.where(n > 0, x_new, x), n, params, generator, xp))
    return _stack(new, xp)


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
    if rng is not None and params.cycle_to_cycle_std > 0:
        dx = x_new - x
        scale = params.cycle_to_cycle_std / xp.sqrt(xp.clip(n, 1.0, None))
        if xp is np:
            xi = rng.standard_normal(np.shape(dx))
        else:
            xi = xp.randn(dx.shape, generator=rng, dtype=dx.dtype, device=dx.device)
        x_new = x + dx * (1.0 + scale * xi)
    x_new = xp.clip(x_new, 0.0, 1.0)
    if params.n_domains:
        levels = x_new * params.n_domains
        if rng is None:
            levels = xp.round(levels)
        elif xp is np:
            levels = np.floor(levels + rng.random(np.shape(levels)))
        else:
            levels = xp.floor(levels + xp.rand(levels.shape, generator=rng, dtype=levels.dtype, device=levels.device))
        x_new = xp.clip(levels / params.n_domains, 0.0, 1.0)
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
    cost ``O(iterations)``. Two populations switch independently, so each settles into its own
    cycle (found the same way) and the symmetry point is their window-weighted sum.

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
    populations = params.populations
    centre = 0.0
    for q, (share, _, _) in enumerate(populations):
        # the populations switch independently: each settles into its own up/down 2-cycle
        def cycle(x, q=q):
            state = np.full((1, len(populations)), 0.5)
            state[0, q] = x
            x_b = apply_pulses_state(state, 1, params, up_amp, width_s)
            return float(x_b[0, q]), float(apply_pulses_state(x_b, 1, params, -up_amp, width_s)[0, q])

        lo, hi = 0.0, 1.0
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            if cycle(mid)[1] > mid:
                lo = mid
            else:
                hi = mid
        x_a = 0.5 * (lo + hi)
        centre += share * 0.5 * (x_a + cycle(x_a)[0])
    return params.g_min_s + (params.g_max_s - params.g_min_s) * centre


def conduction_scale(params):
    """``v_read / (sinh(alpha v_read) / alpha)`` (dimensionless): the factor that makes the
    conduction law :func:`read_current_a` pass through ``G * v_read`` at the read voltage."""
    alpha = params.conduction_alpha_per_v
    return params.read_voltage_v / (np.sinh(alpha * params.read_voltage_v) / alpha)


def read_current_a(conductance_s, voltage_v, params):
    """Conduction current of a device of read conductance ``conductance_s`` at ``voltage_v``.

    ``I = G * s * sinh(alpha V) / alpha`` with ``s`` = :func:`conduction_scale`, so ``I = G V``
    at the read voltage and the I-V is superlinear above it (odd in V).

    Parameters
    ----------
    conductance_s : array_like
        Read conductance (at ``params.read_voltage_v``), siemens.
    voltage_v : array_like
        Voltage across the device, volts (broadcast against ``conductance_s``).
    params : HZOParams

    Returns
    -------
    ndarray
        Current, amperes.
    """
    alpha = params.conduction_alpha_per_v
    return np.asarray(conductance_s) * conduction_scale(params) * np.sinh(alpha * np.asarray(voltage_v)) / alpha


def cell_current_a(conductance_s, voltage_v, params, switching_conductance_s=0.0):
    """Current through an HZO cell during a write pulse: conduction plus polarization reversal.

    ``I = read_current_a(G, V) + g_sw V``: the write decks model the switching charge ``Q_sw``
    of a pulse of width ``t`` as the conductance ``g_sw = Q_sw / (|V| t)``
    (:func:`memcosim.netlist.crossbar.hzo_write_cell_values`), so it is drawn while the pulse lasts.
    The ``hzocell`` subcircuit of the write decks restates this law in SPICE syntax (a test ties
    the two together).

    Parameters
    ----------
    conductance_s : array_like
        Read conductance, siemens.
    voltage_v : array_like
        Voltage across the cell, volts.
    params : HZOParams
    switching_conductance_s : array_like
        Switching-charge conductance ``g_sw``, siemens (0: no switching).

    Returns
    -------
    ndarray
        Current, amperes.
    """
    return read_current_a(conductance_s, voltage_v, params) + np.asarray(switching_conductance_s) * np.asarray(voltage_v)


def switching_charge_c(params, dx):
    """Polarization-reversal charge of a change ``dx`` of the switched state: ``2 P_r A |dx|``.

    Reversing the polarization of a fraction ``|dx|`` of the film moves the bound charge from
    ``-P_r A`` to ``+P_r A`` over that fraction, so the source supplies ``2 P_r A |dx|``; at a
    pulse of magnitude ``|V|`` it delivers (and the film dissipates) ``|V| * Q``.

    Parameters
    ----------
    params : HZOParams
        Supplies ``remanent_polarization_c_m2`` (C/m^2) and ``area_m2`` (m^2).
    dx : array_like or torch.Tensor
        Change of the normalised switched state ``x = (G - g_min_s) / (g_max_s - g_min_s)``
        (dimensionless, any sign; a window-weighted sum over populations for a two-population
        device), any shape.

    Returns
    -------
    ndarray, float or torch.Tensor
        Switching charge, coulombs (>= 0), shape of ``dx``.
    """
    magnitude = np.abs(np.asarray(dx, dtype=float)) if _ops(dx)[0] is np else dx.abs()
    return 2.0 * params.remanent_polarization_c_m2 * params.area_m2 * magnitude


def pulse_energy_j(conductance_s, n_pulses, params, amplitude_v, width_s):
    """Device-level energy of ``n_pulses`` programming pulses, split by mechanism.

    Parameters
    ----------
    conductance_s : array_like
        Conductance before the pulses, siemens.
    n_pulses : int
        Identical pulses (>= 1).
    params : HZOParams
    amplitude_v, width_s : float
        Signed pulse amplitude (volts) and width (seconds).

    Returns
    -------
    dict of ndarray
        ``switching_j`` (|V| times :func:`switching_charge_c`, the polarization-reversal
        charge drawn from the source), ``capacitive_j`` (C V^2 per pulse: charging the
        dielectric, dissipated on discharge), ``conduction_j`` (V * I(V) * t, leakage during the pulse, evaluated at the
        mean of the conductances before and after) and ``total_j``.
    """
    g0 = np.asarray(conductance_s, dtype=float)
    g1 = apply_pulses(g0, n_pulses, params, amplitude_v, width_s)
    v = abs(amplitude_v)
    switching = v * switching_charge_c(params, (g1 - g0) / (params.g_max_s - params.g_min_s))
    capacitive = np.full_like(g0, n_pulses * params.capacitance_f * v * v)
    current = read_current_a(0.5 * (g0 + g1), v, params)
    conduction = v * current * width_s * n_pulses
    return {
        "switching_j": switching,
        "capacitive_j": capacitive,
        "conduction_j": conduction,
        "total_j": switching + capacitive + conduction,
    }


def sample_device_params(params, shape, device_to_device_std, rng):
    """Per-device parameter arrays with lognormal device-to-device spread.

    ``g_min_s`` and ``g_max_s`` and both activation voltages are scaled by independent
    lognormal factors of sigma ``device_to_device_std`` (``g_max_s`` kept above ``g_min_s``).
    A device's activation-voltage factor applies to both of its domain populations.

    Returns
    -------
    dict of ndarray
        ``g_min_s``, ``g_max_s``, ``v_act_up_v``, ``v_act_down_v``, each of ``shape``.
    """
    if not 0 <= device_to_device_std <= 1:
        raise ConfigError(f"device_to_device_std: must be in [0, 1], got {device_to_device_std!r}")
    f = lambda: np.exp(device_to_device_std * rng.standard_normal(shape))  # noqa: E731
    g_min = params.g_min_s * f()
    g_max = np.maximum(params.g_max_s * f(), g_min * 1.01)
    return {
        "g_min_s": g_min,
        "g_max_s": g_max,
        "v_act_up_v": params.potentiation.v_act_v * f(),
        "v_act_down_v": params.depression.v_act_v * f(),
    }
