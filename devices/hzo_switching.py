"""The HZO switching law: nucleation-limited switching with history, and the device state.

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
fraction (a freshly programmed device); the ``*_state`` functions of :mod:`memcosim.devices.hzo`
carry the full history.

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

import math

import numpy as np
from scipy import special

from memcosim.devices.prims import NUMPY, PYTHON, jitable, prims_for

__all__ = ["switched_fraction", "active_fraction", "state_from_conductance", "conductance_from_state", "nls_advance",
           "nls_switch", "merz_u_lam", "window_fraction", "window_conductance"]

_EPS = 1e-9  # keeps Phi^-1 finite at the bounds of the state


def _ops(x):
    """numpy or torch primitives for the arrays given (one code path for both)."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch, torch.special.ndtr, torch.special.ndtri
    return np, special.ndtr, special.ndtri


def _merz_u(log_vact, log_v, kinetics, xp):
    """``(v_act / V) ** merz_exponent`` raised to the Box-Cox power, overflow-safe (:func:`merz_u_lam`)."""
    lam, n = kinetics.spread_shape, kinetics.merz_exponent
    scalar = all(isinstance(v, float) for v in (log_vact, log_v, lam, n))
    f = PYTHON if scalar else (NUMPY if xp is np else prims_for(lam * n * (log_vact - log_v)))
    return merz_u_lam(log_vact, log_v, lam, n, f)


@jitable
def merz_u_lam(log_vact, log_v, lam, merz_exponent, f):
    """Merz's law to the Box-Cox power: ``((v_act / V) ** merz_exponent) ** lam``, as
    ``exp(lam merz_exponent (ln v_act - ln V))`` with the exponent capped at 300 (no overflow).

    ``log_vact``, ``log_v``: ``ln(v_act_v / 1 V)`` and ``ln(|V| / 1 V)``; ``lam`` the spread shape."""
    return f.exp(f.clip(lam * merz_exponent * (log_vact - log_v), -math.inf, 300.0))


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
    return special.ndtr((_signed_pow(big_l, lam, NUMPY) - u_lam) / (lam * kinetics.spread))


@jitable
def nls_advance(p, u_lam, lam, scale, log_tau, log_total_time, f):
    """The NLS step of one direction from the switched fraction ``p`` (the state-dependent part of the law).

    Written once with the primitives ``f`` (:mod:`memcosim.devices.prims`): vectorised on numpy
    arrays and torch tensors, compiled on scalars inside the training pulse kernel.

    Parameters
    ----------
    p : array_like
        Switched fraction of this direction before the pulses.
    u_lam : array_like
        ``(v_act / V) ** merz_exponent`` raised to the Box-Cox power (:func:`_merz_u`).
    lam, scale : array_like
        ``spread_shape`` and ``spread_shape * spread``.
    log_tau : array_like
        ``ln(tau_inf_s / 1 s)``.
    log_total_time : array_like
        ``ln`` of the pulses' total time ``n * width_s`` (seconds).
    f : Prims
    """
    p = f.clip(p, _EPS, 1.0 - _EPS)
    # equivalent time already spent at this voltage: L_eq^lam = u^lam + lam * spread * z
    big_l_eq = f.clip(_signed_pow(u_lam + scale * f.ndtri(p), 1.0 / lam, f), -1e300, 1e300)
    log_t_new = f.logaddexp(log_tau + big_l_eq, log_total_time)
    return f.ndtr((_signed_pow(log_t_new - log_tau, lam, f) - u_lam) / scale)


@jitable
def nls_switch(x, down, u_lam, lam, scale, log_tau, log_total_time, f):
    """Switched state ``x`` after a pulse train of one direction: up raises ``x``, down lowers it.

    Potentiation switches ``p_up = x``, depression ``p_down = 1 - x`` (``down`` = 0 or 1, a
    number or an array); switching only proceeds. Other arguments as in :func:`nls_advance`.
    """
    y = down + (1.0 - 2.0 * down) * x
    y_new = f.maximum(nls_advance(y, u_lam, lam, scale, log_tau, log_total_time, f), y)
    return down + (1.0 - 2.0 * down) * y_new


@jitable
def _signed_pow(x, power, f):
    """``sign(x) * |x| ** power``: monotone, so the NLS law inverts for ``t`` below ``tau_inf``."""
    magnitude = f.exp(f.clip(power * f.log(f.clip(f.abs(x), 1e-300, math.inf)), -math.inf, 690.0))
    return f.sign(x) * magnitude


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
    x = window_fraction(conductance_s, g_min, span, prims_for(conductance_s))
    return _stack([x] * len(params.populations), xp)


def conductance_from_state(state, params, device_params=None, pulses_applied=None):
    """Read conductance (siemens) of devices in ``state`` (populations on the last axis).

    ``G = g_min + span * sum_q w_q x_q``, ``span`` as in :func:`state_from_conductance`.
    """
    g_min, span = _window(params, device_params, pulses_applied)
    x = sum(w * state[..., q] for q, (w, _, _) in enumerate(params.populations))
    return window_conductance(x, g_min, span)


@jitable
def window_fraction(conductance_s, g_min_s, span_s, f):
    """Switched fraction ``(G - g_min) / span`` of a freshly programmed device, clipped to [0, 1]."""
    return f.clip((conductance_s - g_min_s) / span_s, 0.0, 1.0)


@jitable
def window_conductance(x, g_min_s, span_s):
    """Read conductance ``g_min + span * x`` of the window-weighted switched fraction ``x``, siemens."""
    return g_min_s + span_s * x

