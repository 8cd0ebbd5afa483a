"""The compiled pulses in hardware order (numba): every device's trains, sample after sample.

:func:`apply_events` is the twin of :func:`memcosim.training.hardware_order.apply_events_torch`
(the same result: tests/training/test_pulse_kernel.py, test_measured_kernel.py): for each
device, samples in order; at a coincidence, the device law (HZO, constant step, measured
branch or piecewise step, the very functions of :mod:`memcosim.devices`, compiled from their
source through :func:`memcosim.devices.prims.jitable`) and the write energy
(:func:`memcosim.training.ledger.write_energy_terms`) at the state the device is in, and each
device's up and down coincidences on the way (the counts the tile's operation costs book, so
the hardware order needs no :func:`memcosim.training.coincidences.totals` pass).

The device laws run on scalar primitives (:data:`memcosim.devices.compiled.SCALAR`): ``ndtr`` and
``ndtri`` are scipy's own C functions, so the compiled law matches the numpy law to the last bit
and the torch law to rounding. Cost O(pulses) plus O(events x device law): each sample's
active rows are listed per slot once (:func:`memcosim.training.coincidences._slot_lists`), and the rows
a column's train meets are read from the lists of the slots it pulses in
(:func:`memcosim.training.coincidences._slot_hits`; a train pulses in a slot or two of 31), so only
those rows are visited; a row's events are
gathered across samples in chunks (``_CHUNK``) whose device lines are prefetched together before
the events run in order (a layer's per-device arrays live in L3 or memory: 256 -> 128 layer of
the measured study, 1.45 -> 0.88 ms a step). The rows of the weight run on as many threads as
torch uses (:func:`memcosim.training.kernel._parallel`); per-row energy sums are added in row
order, so every thread count gives the same numbers.
"""

import numpy as np

from memcosim.training.kernel import _blocks, _parallel, available

__all__ = ["apply_events"]

if available():
    from numba import njit, prange

    from memcosim.devices import hzo_switching as _hzo_switching
    from memcosim.devices import linear_step as _linear  # noqa: F401
    from memcosim.devices import measured as _measured  # noqa: F401  (branch_train, measured_train: registered below)
    from memcosim.devices import piecewise_step as _piecewise
    from memcosim.devices.compiled import SCALAR, register_laws
    from memcosim.training import hardware_order as _order
    from memcosim.training import ledger as _ledger  # noqa: F401
    from memcosim.training.coincidences import _active_rows, _slot_hits, _slot_lists
    from memcosim.training.kernel import _hash, _prefetch, _uniform

    register_laws()  # the laws of every module imported so far: the device modules above included

    _CHUNK = 32
    """Events gathered (across samples, in order) before their devices' lines are prefetched together
    and the events applied: the device arrays of a large layer live in L3 or memory, and one
    event's law alone cannot hide a miss."""

    def _events_loop(x_mask, x_sign, d_mask, d_sign, noise_key, kind, g, state, g_min, span, u_lam, lam, scale, log_tau,
                weights, width_s, c2c_std, n_domains, step, asymmetry, g_lo, g_hi, curves, curve_pulses, curve_noise,
                x_lo, x_span, table, switching, acc, counting, up, down, blocks):
        batch, n_in = x_mask.shape[0], x_mask.shape[1]
        n_out = d_mask.shape[1]
        arrays = g.shape[0]
        n_dev = n_out * n_in
        pops = weights.shape[0]
        f = SCALAR
        active, index, masks, signs = _active_rows(x_mask, x_sign)
        slot_start, slot_rows = _slot_lists(active, masks)
        per_device = kind != 1  # g_min, span and u_lam hold a value per device (else one per array)
        blocks = max(1, min(n_out, blocks))
        for blk in prange(blocks):  # columns in blocks (kernel._blocks), each block's scratch allocated once:
            # an allocation per column cost an update of 128 outputs 0.1 ms; columns are independent
            hit_k, hit_c = np.empty(n_in, dtype=np.int64), np.empty(n_in, dtype=np.int64)
            mark = np.zeros(n_in, dtype=np.int64)
            # each direction's tables as views made once: a view made per event (curves[d, 0]) costs
            # its reference count, a fifth of the loop; an event picks its direction's by a branch
            q_up, x_up, q_down, x_down = curves[0, 0], curves[0, 1], curves[1, 0], curves[1, 1]
            table_up, table_down = table[0], table[1]
            ev_b, ev_k, ev_c = (np.empty(_CHUNK + n_in, dtype=np.int64), np.empty(_CHUNK + n_in, dtype=np.int64),
                                np.empty(_CHUNK + n_in, dtype=np.int64))
            for j in range(blk * n_out // blocks, (blk + 1) * n_out // blocks):
                n_ev = 0
                for b_next in range(batch):
                    if d_sign[b_next, j] != 0:
                        for m in range(_slot_hits(masks, active[b_next], d_mask, b_next, j, hit_k, hit_c, slot_start, slot_rows,
                                                mark)):
                            ev_b[n_ev], ev_k[n_ev], ev_c[n_ev] = b_next, hit_k[m], hit_c[m]
                            n_ev += 1
                    if n_ev < _CHUNK and b_next < batch - 1:
                        continue
                    for ev in range(n_ev):  # the lines these events will read, requested together
                        dev = j * n_in + index[ev_b[ev], ev_k[ev]]
                        d = 0 if signs[ev_b[ev], ev_k[ev]] * d_sign[ev_b[ev], j] > 0 else 1
                        for a in range(arrays):
                            _prefetch(g, a * n_dev + dev)
                            if per_device:
                                _prefetch(g_min, a * n_dev + dev)
                                _prefetch(span, a * n_dev + dev)
                                for q in range(pops):
                                    _prefetch(u_lam, ((a * 2 + (d if a == 0 else 1 - d)) * pops + q) * n_dev + dev)
                            if pops > 1:
                                for q in range(pops):
                                    _prefetch(state, (a * n_dev + dev) * pops + q)
                    for ev in range(n_ev):  # then the events, in the order found: sample after sample
                        b, k, c = ev_b[ev], ev_k[ev], ev_c[ev]
                        i = index[b, k]
                        dev = j * n_in + i
                        count = float(c)
                        if counting:  # the totals, counted here rather than in a second pass
                            if signs[b, k] * d_sign[b, j] > 0:
                                up[j, i] += count
                            else:
                                down[j, i] += count
                        for a in range(arrays):
                            sign = signs[b, k] * d_sign[b, j] * (1 - 2 * a)
                            d = 0 if sign > 0 else 1
                            counter = ((b * arrays + a) * n_dev + dev) * 4
                            g0 = g[a, dev]
                            if kind == 0:
                                fresh = _hzo_switching.window_fraction(g0, g_min[a, dev], span[a, dev], f)
                                x_sum = 0.0
                                for q in range(pops):
                                    x = state[a, dev, q] if pops > 1 else fresh
                                    xi = f.ndtri(_uniform(noise_key, counter + 2 * q)) if c2c_std > 0 else 0.0
                                    r = _uniform(noise_key, counter + 2 * q + 1) if n_domains > 0 else 0.5
                                    x_new = _order.hzo_population_step(x, float(d), count, u_lam[a, d, q, dev], lam[d, q],
                                                                       scale[d, q], log_tau[d, q], width_s, c2c_std,
                                                                       n_domains, xi, r, f)
                                    if pops > 1:
                                        state[a, dev, q] = x_new
                                    x_sum += weights[q] * x_new
                                g1 = _hzo_switching.window_conductance(x_sum, g_min[a, dev], span[a, dev])
                            elif kind == 2:
                                x = _hzo_switching.window_fraction(g0, g_min[a, dev], span[a, dev], f)
                                xi = f.ndtri(_uniform(noise_key, counter)) if curve_noise[d] > 0 else 0.0
                                if d == 0:
                                    x = _order.measured_train(x, False, count, q_up, x_up, curve_pulses[0], u_lam[a, 0, 0, dev],
                                                              curve_noise[0], xi, f)
                                else:
                                    x = _order.measured_train(x, True, count, q_down, x_down, curve_pulses[1],
                                                              u_lam[a, 1, 0, dev], curve_noise[1], xi, f)
                                g1 = _hzo_switching.window_conductance(x, g_min[a, dev], span[a, dev])
                            elif kind == 3:
                                x = _hzo_switching.window_fraction(g0, g_min[a, dev], span[a, dev], f)
                                pw_step = u_lam[a, d, 0, dev] * (1.0 - 2.0 * d)
                                base = _hash(noise_key, counter)
                                curve = q_up if d == 0 else q_down
                                for pulse in range(c):
                                    pw_noise = c2c_std * f.ndtri(_uniform(base, pulse)) if c2c_std > 0 else 0.0
                                    x = _piecewise.piecewise_step(x, curve, pw_step, pw_noise, f)
                                g1 = _hzo_switching.window_conductance(x, g_min[a, dev], span[a, dev])
                            else:
                                xi = f.ndtri(_uniform(noise_key, counter)) if c2c_std > 0 else 0.0
                                g1 = _linear.step_response(g0, float(sign) * count, step, asymmetry, c2c_std, g_lo, g_hi,
                                                           xi, f)
                            g[a, dev] = g1
                            x0_e, x1_e = (g0 - x_lo) / x_span, (g1 - x_lo) / x_span
                            if d == 0:
                                e = _ledger.write_energy_terms(table_up, switching[0], x0_e, x1_e, count, f)
                            else:
                                e = _ledger.write_energy_terms(table_down, switching[1], x0_e, x1_e, count, f)
                            acc[j, 0] += e[0]
                            acc[j, 1] += e[1]
                            acc[j, 2] += e[2]
                            acc[j, 3] += c
                    n_ev = 0

    # one thread, or the threads torch uses (rows of the weight in parallel); the loop calls scipy's
    # ndtr/ndtri through ctypes pointers, so it is compiled per process (~4 s)
    _events = {False: njit(_events_loop), True: njit(parallel=True)(_events_loop)}


_CONSTANTS = {}  # the numpy views of a layer's event constants, by the identity of their objects


def _constants(arrays, params, energy):
    """``(g_min, span, u_lam, params, energy)`` as the compiled loop takes them: numpy views of the
    tensors, made once per set of constants (a layer's :func:`~memcosim.training.hardware_order.event_setup`)
    and dropped when its ``params`` is collected."""
    key = (id(arrays.g_min), id(arrays.span), id(arrays.u_lam), id(params), id(energy))
    hit = _CONSTANTS.get(key)
    if hit is None:
        import weakref
        from types import SimpleNamespace

        fields = {name: getattr(params, name) for name in params.__dataclass_fields__}
        hit = (arrays.g_min.numpy(), arrays.span.numpy(), arrays.u_lam.numpy(),
               SimpleNamespace(**{k: v.numpy() if hasattr(v, "numpy") else v for k, v in fields.items()}),
               SimpleNamespace(x_lo=energy.x_lo, x_span=energy.x_span, table=energy.table.numpy(),
                               switching=energy.switching.numpy()))
        _CONSTANTS[key] = hit
        weakref.finalize(params, _CONSTANTS.pop, key, None)  # the ids are the layer's while its params live
    return hit


def apply_events(streams, arrays, params, energy, counts=True):
    """Compiled twin of :func:`memcosim.training.hardware_order.apply_events_torch` (CPU tensors).

    Steps ``arrays`` (:class:`~memcosim.training.hardware_order.DeviceArrays`) in place and
    returns the :class:`~memcosim.training.hardware_order.Booked` energies and pulses (Python numbers) and (with
    ``counts``) coincidences.
    """
    import torch

    from memcosim.training.hardware_order import Booked

    n_out, n_in = streams.shape
    acc = np.zeros((n_out, 4), dtype=np.float64)
    shape = (n_out, n_in) if counts else (0, 0)  # no counts wanted: no (out, in) buffers to clear
    up, down = np.zeros(shape, dtype=np.float64), np.zeros(shape, dtype=np.float64)
    g_min, span, u_lam, p, e = _constants(arrays, params, energy)
    parallel = _parallel()
    _events[parallel](streams.x_mask.numpy(), streams.x_sign.numpy(), streams.d_mask.numpy(), streams.d_sign.numpy(),
            int(streams.noise_key), p.kind, arrays.g.numpy(), arrays.state.numpy(), g_min, span, u_lam, p.lam, p.scale,
            p.log_tau, p.weights, p.width_s, p.c2c_std, p.n_domains, p.step, p.asymmetry, p.g_lo, p.g_hi, p.curves,
            p.curve_pulses, p.curve_noise, e.x_lo, e.x_span, e.table, e.switching, acc, counts, up, down,
            _blocks(parallel))
    selected, half, lines, pulses = acc.sum(axis=0).tolist()  # per-row partial sums, added in row order
    up, down = (torch.from_numpy(up), torch.from_numpy(down)) if counts else (None, None)
    return Booked(selected, half, lines, int(pulses), up, down)  # Python numbers: no tensor for the CPU ledger to read
