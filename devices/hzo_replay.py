"""Measured pulse sweeps replayed through the HZO model, compiled: the calibration's model runs.

:func:`replay_states` steps every candidate parameter set of a
:class:`~memcosim.devices.hzo_params.ParameterBatch` through every file's measured pulse
sequence, as :func:`~memcosim.devices.hzo.apply_pulse_sequence_state` does with numpy, but in
one numba loop over (parameter set x file) with the pulse sequence inside: the law is the same
source (:func:`~memcosim.devices.hzo_switching.nls_switch`,
:func:`~memcosim.devices.hzo_switching.merz_u_lam`, compiled through
:mod:`memcosim.devices.compiled`), the cost is ``O(sets x files x steps x populations)`` law
evaluations with no per-step Python overhead; each (set, file) pair is stepped on its own, in
one thread (the first call of a process compiles it, a few seconds).

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
    sets = state.shape[0]
    out = np.empty((counts.shape[0],) + state.shape)
    _replay(state, np.ascontiguousarray(counts, dtype=float), np.ascontiguousarray(amplitudes_v, dtype=float),
            np.ascontiguousarray(widths_s, dtype=float), _kinetics_table(batch, sets),
            float(batch.potentiation_polarity), out)
    return out


_replay = None

if compiled.available():
    import math

    from numba import njit

    compiled.register_laws()
    _nls_switch, _merz_u_lam, _F = hzo_switching.nls_switch, hzo_switching.merz_u_lam, compiled.SCALAR

    @njit(cache=False)  # scipy's ndtr/ndtri enter as ctypes pointers: compiled once per process (seconds)
    def _replay(state, counts, amps, widths, kin, polarity, out):  # noqa: F811
        sets, files, populations = state.shape
        for pair in range(sets * files):
            b, f = pair // files, pair % files
            x = state[b, f].copy()
            for s in range(counts.shape[0]):
                n = counts[s, f]
                if n > 0:
                    amp = amps[s, f]
                    sign = 1.0 if amp > 0 else (-1.0 if amp < 0 else 0.0)
                    d = 0 if sign == polarity else 1
                    log_v = math.log(abs(amp))
                    log_total = math.log(max(n, 1e-300) * widths[s, f])
                    for q in range(populations):
                        lam = kin[b, q, d, 4]
                        u_lam = _merz_u_lam(kin[b, q, d, 1], log_v, lam, kin[b, q, d, 2], _F)
                        moved = _nls_switch(x[q], float(d), u_lam, lam, lam * kin[b, q, d, 3], kin[b, q, d, 0],
                                            log_total, _F)
                        x[q] = min(max(moved, 0.0), 1.0)
                for q in range(populations):
                    out[s, b, f, q] = x[q]
