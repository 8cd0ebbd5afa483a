"""Measured pulse sweeps replayed through the HZO model, compiled: the calibration's model runs.

:func:`replay_states` steps every candidate parameter set of a
:class:`~memcosim.devices.hzo_params.ParameterBatch` through every file's measured pulse
sequence, as :func:`~memcosim.devices.hzo.apply_pulse_sequence_state` does with numpy, but in
one numba loop over trajectories with the pulse sequence inside: the law is the same source
(:func:`~memcosim.devices.hzo_switching.nls_switch`,
:func:`~memcosim.devices.hzo_switching.merz_u_lam`, compiled through
:mod:`memcosim.devices.compiled`), with no per-step Python overhead; each trajectory is stepped
on its own, in one thread (the first call of a process compiles it, a few seconds).

A trajectory is one population of one file under one parameter set, and it depends only on its
file, its initial fraction and its population's kinetics: the populations are stepped
independently. Identical trajectories are stepped once (bit for bit the same numbers). A
finite-difference Jacobian perturbs one parameter per set, and a kinetics parameter moves one
population only, so with two populations about 40 % of its trajectories repeat the unperturbed
ones. The cost is ``O(distinct trajectories x steps)`` law evaluations, at most
``sets x files x populations x steps``.

A batch is noise-free and continuous (no cycle-to-cycle noise, no domain quantisation), so a
step is: with ``n > 0`` pulses of signed amplitude ``V`` and width ``t``, each population's
fraction moves by the NLS law in the direction ``sign(V) == potentiation_polarity`` and is
clipped to [0, 1]; with ``n = 0`` it stays.
"""

import numpy as np

from memcosim.devices import compiled
from memcosim.devices import hzo_switching

__all__ = ["available", "replay_states"]

_FIELDS = ("log_tau_inf", "log_v_act", "merz_exponent", "spread", "spread_shape")


def available():
    """True when the compiled replay can run (numba imported)."""
    return compiled.available()


def _kinetics_table(batch, sets):
    """(sets, populations, 2, 5) float64: per set, population and direction (0 up, 1 down) the
    kinetics fields of :data:`_FIELDS`."""
    table = np.empty((sets, len(batch.populations), 2, len(_FIELDS)))
    for q, (_, up, down) in enumerate(batch.populations):
        for d, kinetics in enumerate((up, down)):
            for k, name in enumerate(_FIELDS):
                table[:, q, d, k] = np.broadcast_to(np.asarray(getattr(kinetics, name), dtype=float).reshape(-1), sets)
    return table


def replay_states(state, counts, batch, amplitudes_v, widths_s):
    """States after every step of every file, for every parameter set (the arguments of
    :func:`~memcosim.devices.hzo.apply_pulse_sequence_state`).

    Parameters
    ----------
    state : ndarray, shape (sets, files, populations)
        Initial switched fractions.
    counts : ndarray, shape (steps, files)
        Pulses per step (0: none, e.g. padding).
    batch : ParameterBatch
        ``sets`` parameter sets (each kinetics field of shape (sets, 1) or broadcastable).
    amplitudes_v, widths_s : ndarray, shape (steps, files)
        Each step's signed amplitude (volts) and width (seconds).

    Returns
    -------
    ndarray, shape (steps, sets, files, populations)
        As :func:`~memcosim.devices.hzo.apply_pulse_sequence_state` on the same inputs.
    """
    state = np.ascontiguousarray(state, dtype=float)
    sets, files, populations = state.shape
    kin = _kinetics_table(batch, sets)  # (sets, populations, 2, 5)
    # one row per (set, file, population): its file, initial fraction and kinetics; equal rows step alike
    keys = np.empty((sets, files, populations, 2 + 2 * len(_FIELDS)))
    keys[..., 0] = np.arange(files)[None, :, None]
    keys[..., 1] = state
    keys[..., 2:] = kin.reshape(sets, 1, populations, -1)
    rows = keys.reshape(-1, keys.shape[-1])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True) if sets > 1 else (rows, np.arange(len(rows)))
    out = np.empty((counts.shape[0], len(unique)))
    _replay(np.ascontiguousarray(unique[:, 1]), unique[:, 0].astype(np.int64),
            np.ascontiguousarray(unique[:, 2:].reshape(-1, 2, len(_FIELDS))), np.ascontiguousarray(counts, dtype=float),
            np.ascontiguousarray(amplitudes_v, dtype=float), np.ascontiguousarray(widths_s, dtype=float),
            float(batch.potentiation_polarity), out)
    return out[:, inverse.reshape(-1)].reshape((counts.shape[0],) + state.shape)


_replay = None

if compiled.available():
    import math

    from numba import njit

    compiled.register_laws()
    _nls_switch, _merz_u_lam, _F = hzo_switching.nls_switch, hzo_switching.merz_u_lam, compiled.SCALAR

    @njit(cache=False)  # scipy's ndtr/ndtri enter as ctypes pointers: compiled once per process (seconds)
    def _replay(x0, file, kin, counts, amps, widths, polarity, out):  # noqa: F811
        steps, files = counts.shape
        log_v, log_total, direction = np.empty((steps, files)), np.empty((steps, files)), np.empty((steps, files), np.int64)
        for s in range(steps):  # each step's logs once, shared by every trajectory of its file
            for f in range(files):
                n, amp = counts[s, f], amps[s, f]
                if n > 0:
                    sign = 1.0 if amp > 0 else (-1.0 if amp < 0 else 0.0)
                    direction[s, f] = 0 if sign == polarity else 1
                    log_v[s, f] = math.log(abs(amp))
                    log_total[s, f] = math.log(max(n, 1e-300) * widths[s, f])
        for u in range(x0.shape[0]):  # a trajectory: one population of one file under one parameter set
            f, x = file[u], x0[u]
            for s in range(steps):
                if counts[s, f] > 0:
                    d = direction[s, f]
                    lam = kin[u, d, 4]
                    u_lam = _merz_u_lam(kin[u, d, 1], log_v[s, f], lam, kin[u, d, 2], _F)
                    moved = _nls_switch(x, float(d), u_lam, lam, lam * kin[u, d, 3], kin[u, d, 0], log_total[s, f], _F)
                    x = min(max(moved, 0.0), 1.0)
                out[s, u] = x
