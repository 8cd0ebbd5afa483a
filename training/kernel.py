"""The compiled pulse kernel (numba): bit streams, coincidences and pulses in hardware order.

Three compiled loops, each with a torch twin that gives the same result
(:mod:`memcosim.training.bitstreams`, :mod:`memcosim.training.hardware_order`):

* :func:`masks` — the bit-packed pulse trains, from the same counter-based hash, stopping at the
  level where every slot of a word is decided: every entry of a sample takes the first eight
  levels (four hashes) in one branch-free loop, the few words still undecided (12 %) go on a hash at a time;
* :func:`totals` — each device's up and down coincidences summed over the batch (the
  ``aggregated`` order);
* :func:`apply_events` — pulses in hardware order: for each device, samples in order; at a
  coincidence, the device law (HZO, constant step, measured branch or piecewise step, the very functions of
  :mod:`memcosim.devices`, compiled from their source through
  :func:`memcosim.devices.prims.jitable`) and the write energy
  (:func:`memcosim.training.ledger.write_energy_terms`) at the state the device is in, and each
  device's up and down coincidences on the way (the counts the tile's operation costs book, so
  the hardware order needs no :func:`totals` pass).

The device laws run on scalar primitives (:data:`memcosim.devices.compiled.SCALAR`): ``ndtr`` and ``ndtri`` are scipy's
own C functions, so the compiled law matches the numpy law to the last bit and the torch law to
rounding. Costs: ``masks`` O(entries x levels), ``totals`` and ``apply_events`` O(sum over
samples of active rows x active columns) plus O(events x device law); for each column and sample,
the rows its train meets are found first, in a branch-free pass (:func:`_hits`), and only those
are visited; a row's events are gathered across samples in chunks (``_CHUNK``) whose device
lines are prefetched together before the events run in order (a layer's per-device arrays live
in L3 or memory: 256 -> 128 layer of the measured study, 1.45 -> 0.88 ms a step). The trains (samples)
and the events (rows of the weight) run on as many threads as torch uses, serially when torch
uses one (a sweep worker) or in a forked child of a process whose pool has started
(:func:`_parallel`); per-row energy sums are added in row order, so every thread count gives
the same numbers. On a loaded machine, torch's spinning OpenMP threads and any second pool
fight for the cores (``OMP_WAIT_POLICY=PASSIVE`` or one thread avoids it).
``available()`` says whether numba imported; without it every caller takes the torch path.
The other compiled per-step operations (mixed-precision transfer, weight refresh, IR-drop
forward, update-scheme costing) are in :mod:`memcosim.training.kernel_ops`.
"""

import math
import os

import numpy as np

__all__ = ["available", "enabled", "draw_streams", "masks", "totals", "apply_events", "SCALAR"]

try:
    import numba
    from numba import njit, prange, types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - numba is a dependency; the torch path runs without it
    numba = None


def available():
    """True when the compiled kernel can run (numba imported)."""
    return numba is not None


def enabled(tensor):
    """Whether updates of ``tensor``'s layer run compiled: numba imported, a CPU tensor, and the
    environment variable ``MEMCOSIM_KERNEL`` not set to ``torch`` (which forces the torch path)."""
    return numba is not None and tensor.device.type == "cpu" and os.environ.get("MEMCOSIM_KERNEL", "") != "torch"


if numba is not None:
    from memcosim.devices import hzo_switching as _hzo_switching
    from memcosim.devices import linear_step as _linear  # noqa: F401
    from memcosim.devices import measured as _measured  # noqa: F401  (branch_train, measured_train: registered below)
    from memcosim.devices import piecewise_step as _piecewise
    from memcosim.devices.compiled import SCALAR, register_laws
    from memcosim.training import hardware_order as _order
    from memcosim.training import ledger as _ledger  # noqa: F401

    register_laws()  # the laws of every module imported so far: the device modules above included

    @intrinsic
    def _popcount(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])
        return types.int64(types.int64), codegen

    @intrinsic
    def _prefetch(typingctx, array, flat):
        """Ask the cache for the line of ``array``'s element ``flat`` (C order); no effect on any value."""
        def codegen(context, builder, signature, args):
            from llvmlite import ir
            from numba.core import cgutils

            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(builder.gep(data, [args[1]]), i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return types.void(array, types.int64), codegen

    _CHUNK = 32
    """Events gathered (across samples, in order) before their devices' lines are prefetched together
    and the events applied: the device arrays of a large layer live in L3 or memory, and one
    event's law alone cannot hide a miss."""

    _G, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)

    @njit(inline="always")
    def _hash(key, counter):
        z = np.uint64(key) + (np.uint64(counter) + np.uint64(1)) * _G
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))

    @njit(inline="always")
    def _uniform(key, counter):
        return (float(_hash(key, counter) >> np.uint64(11)) + 0.5) * 2.0**-53

    _FIRST = 4
    """Hashes (two levels each) that every entry takes branch-free: 8 levels decide all 32 lanes of
    a word with probability (1 - 2**-8)**32 = 0.88; the rest continue one hash at a time."""

    @njit(inline="always")
    def _level(word, bit, undecided, ones):
        """One level of ``u < p`` in 32 lanes: ``word`` u's bits, ``bit`` p's (0 or 1)."""
        # a lane with u's bit 0 where p's is 1 is decided u < p; it stays undecided while the bits agree
        return undecided & (word ^ (bit - 1)), ones | (undecided & ~word & -bit)

    @njit(inline="always")
    def _levels(h, p, k, undecided, ones):
        """Levels ``k`` (from hash ``h``'s low half) and ``k + 1`` (its high half); ``k`` odd, at most 51."""
        undecided, ones = _level(np.int64(h & np.uint64(0xFFFFFFFF)), (p >> np.int64(53 - k)) & 1, undecided, ones)
        return _level(np.int64(h >> np.uint64(32)), (p >> np.int64(52 - k)) & 1, undecided, ones)

    def _masks_loop(p53, key, bit_length, out, sign):
        batch, n = p53.shape
        words = out.shape[2]
        one53 = np.int64(1) << np.int64(53)
        for b in prange(batch):
            undecided_of = np.empty(n, dtype=np.int64)
            for w in range(words):
                lanes = min(32, bit_length - 32 * w)
                full = (np.int64(1) << np.int64(lanes)) - np.int64(1)
                for i in range(n):  # the first levels of every entry of the sample, without branches
                    p = p53[b, i]
                    base = ((b * n + i) * words + w) * 27
                    undecided, ones = full, np.int64(0)
                    for h in range(_FIRST):
                        undecided, ones = _levels(_hash(key, base + h), p, 2 * h + 1, undecided, ones)
                    live = (p > 0) & (p < one53)  # p = 0: no pulse; p = 1: every slot
                    out[b, i, w] = ones if live else (full if p >= one53 else 0)
                    undecided_of[i] = undecided if live else 0
                for i in range(n):  # the few entries with lanes still undecided: a hash at a time
                    undecided = undecided_of[i]
                    if undecided == 0:
                        continue
                    p, ones = p53[b, i], out[b, i, w]
                    base = ((b * n + i) * words + w) * 27
                    k = 2 * _FIRST + 1
                    while undecided != 0 and k < 53:
                        undecided, ones = _levels(_hash(key, base + (k - 1) // 2), p, k, undecided, ones)
                        k += 2
                    if undecided != 0:  # level 53, the last bit of p: the low half of hash 26
                        undecided, ones = _level(np.int64(_hash(key, base + 26) & np.uint64(0xFFFFFFFF)), p & 1,
                                                 undecided, ones)
                    out[b, i, w] = ones
            for i in range(n):
                silent = True
                for w in range(words):
                    silent = silent and out[b, i, w] == 0
                if silent:
                    sign[b, i] = 0  # a line whose train has no pulse has no polarity

    @njit(inline="always")
    def _row_abs_max(a, b):
        top = 0.0
        for i in range(a.shape[1]):
            top = max(top, abs(np.float64(a[b, i])))
        return top

    @njit(cache=True)
    def _probabilities(x, d, c, p53x, p53d, sign_x, sign_d):
        """stream_probabilities and _fixed53 of bitstreams.py, the same IEEE operations in the same order."""
        for b in range(x.shape[0]):
            x_max, d_max = _row_abs_max(x, b), _row_abs_max(d, b)
            m = math.sqrt(max(d_max, 1e-30) / max(x_max, 1e-30))
            cm = c * m
            for i in range(x.shape[1]):
                v = np.float64(x[b, i])
                p53x[b, i] = np.int64(math.floor(min(cm * abs(v), 1.0) * 2.0**53))
                sign_x[b, i] = 1 if v > 0 else (-1 if v < 0 else 0)
            for j in range(d.shape[1]):
                v = -np.float64(d[b, j])
                p53d[b, j] = np.int64(math.floor(min(c * abs(v) / m, 1.0) * 2.0**53))
                sign_d[b, j] = 1 if v > 0 else (-1 if v < 0 else 0)

    @njit(cache=True)
    def _probabilities_bl(x, d, lr, eps_w, bit_length, p53x, p53d, sign_x, sign_d, lengths):
        """stream_probabilities of bitstreams.py with bl_management, the same IEEE operations in the same order."""
        for b in range(x.shape[0]):
            x_max, d_max = _row_abs_max(x, b), _row_abs_max(d, b)
            silent = x_max == 0.0 or d_max == 0.0
            x_max, d_max = max(x_max, 1e-30), max(d_max, 1e-30)
            k = lr * x_max * d_max / eps_w
            length = 0.0 if silent else min(max(math.ceil(k), 1.0), float(bit_length))
            c = math.sqrt(lr / (eps_w * max(length, 1.0)))
            d_val = d_max * bit_length / k if k > bit_length else d_max
            fx, fd = c * math.sqrt(d_val / x_max), c * math.sqrt(x_max / d_val)
            lengths[b] = np.int64(length)
            for i in range(x.shape[1]):
                v = np.float64(x[b, i])
                p53x[b, i] = 0 if silent else np.int64(math.floor(min(fx * abs(v), 1.0) * 2.0**53))
                sign_x[b, i] = 1 if v > 0 else (-1 if v < 0 else 0)
            for j in range(d.shape[1]):
                v = -np.float64(d[b, j])
                p53d[b, j] = 0 if silent else np.int64(math.floor(min(fd * abs(v), 1.0) * 2.0**53))
                sign_d[b, j] = 1 if v > 0 else (-1 if v < 0 else 0)

    @njit(cache=True)
    def _cut(mask, sign, lengths):
        """Keep each sample's first ``lengths[b]`` slots; a line left without a pulse loses its polarity."""
        for b in range(mask.shape[0]):
            for i in range(mask.shape[1]):
                any_bit = False
                for w in range(mask.shape[2]):
                    lanes = min(max(lengths[b] - 32 * w, 0), 32)
                    mask[b, i, w] &= (np.int64(1) << np.int64(lanes)) - np.int64(1)
                    any_bit = any_bit or mask[b, i, w] != 0
                if not any_bit:
                    sign[b, i] = 0

    @njit(cache=True)
    def _active_rows(x_mask, x_sign):
        """Per sample, the rows that pulse: indices, masks and polarities, packed to the front."""
        batch, n_in, words = x_mask.shape
        count = np.zeros(batch, dtype=np.int64)
        index = np.empty((batch, n_in), dtype=np.int64)
        masks = np.empty((batch, n_in, words), dtype=np.int64)
        signs = np.empty((batch, n_in), dtype=np.int64)
        for b in range(batch):
            k = 0
            for i in range(n_in):
                if x_sign[b, i] != 0:
                    index[b, k] = i
                    signs[b, k] = x_sign[b, i]
                    for w in range(words):
                        masks[b, k, w] = x_mask[b, i, w]
                    k += 1
            count[b] = k
        return count, index, masks, signs

    @njit(inline="always")
    def _hits(masks, count, d_mask, b, j, hit_k, hit_c):
        """The active rows of sample ``b`` (:func:`_active_rows`) that column ``j``'s train meets: their
        positions ``hit_k`` and coincidences ``hit_c``, in row order, packed without branches; returns
        how many."""
        m = 0
        for k in range(count):
            c = 0
            for w in range(masks.shape[2]):
                c += _popcount(masks[b, k, w] & d_mask[b, j, w])
            hit_k[m] = k
            hit_c[m] = c
            m += c != 0
        return m

    @njit(cache=True)
    def _totals(x_mask, x_sign, d_mask, d_sign, up, down):
        batch, n_in = x_mask.shape[0], x_mask.shape[1]
        n_out = d_mask.shape[1]
        count, index, masks, signs = _active_rows(x_mask, x_sign)
        hit_k, hit_c = np.empty(n_in, dtype=np.int64), np.empty(n_in, dtype=np.int64)
        for j in range(n_out):
            for b in range(batch):
                if d_sign[b, j] == 0:
                    continue
                for m in range(_hits(masks, count[b], d_mask, b, j, hit_k, hit_c)):
                    k = hit_k[m]
                    i = index[b, k]
                    if signs[b, k] * d_sign[b, j] > 0:
                        up[j, i] += hit_c[m]
                    else:
                        down[j, i] += hit_c[m]

    def _events_loop(x_mask, x_sign, d_mask, d_sign, noise_key, kind, g, state, g_min, span, u_lam, lam, scale, log_tau,
                weights, width_s, c2c_std, n_domains, step, asymmetry, g_lo, g_hi, curves, curve_pulses, curve_noise,
                x_lo, x_span, table, switching, acc, counting, up, down):
        batch, n_in = x_mask.shape[0], x_mask.shape[1]
        n_out = d_mask.shape[1]
        arrays = g.shape[0]
        n_dev = n_out * n_in
        pops = weights.shape[0]
        f = SCALAR
        active, index, masks, signs = _active_rows(x_mask, x_sign)
        per_device = kind != 1  # g_min, span and u_lam hold a value per device (else one per array)
        for j in prange(n_out):
            hit_k, hit_c = np.empty(n_in, dtype=np.int64), np.empty(n_in, dtype=np.int64)
            ev_b, ev_k, ev_c = (np.empty(_CHUNK + n_in, dtype=np.int64), np.empty(_CHUNK + n_in, dtype=np.int64),
                                np.empty(_CHUNK + n_in, dtype=np.int64))
            n_ev = 0
            for b_next in range(batch):
                if d_sign[b_next, j] != 0:
                    for m in range(_hits(masks, active[b_next], d_mask, b_next, j, hit_k, hit_c)):
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
                            x = _order.measured_train(x, d == 1, count, curves[d, 0], curves[d, 1], curve_pulses[d],
                                                      u_lam[a, d, 0, dev], curve_noise[d], xi, f)
                            g1 = _hzo_switching.window_conductance(x, g_min[a, dev], span[a, dev])
                        elif kind == 3:
                            x = _hzo_switching.window_fraction(g0, g_min[a, dev], span[a, dev], f)
                            pw_step = u_lam[a, d, 0, dev] * (1.0 - 2.0 * d)
                            base = _hash(noise_key, counter)
                            for pulse in range(c):
                                pw_noise = c2c_std * f.ndtri(_uniform(base, pulse)) if c2c_std > 0 else 0.0
                                x = _piecewise.piecewise_step(x, curves[d, 0], pw_step, pw_noise, f)
                            g1 = _hzo_switching.window_conductance(x, g_min[a, dev], span[a, dev])
                        else:
                            xi = f.ndtri(_uniform(noise_key, counter)) if c2c_std > 0 else 0.0
                            g1 = _linear.step_response(g0, float(sign) * count, step, asymmetry, c2c_std, g_lo, g_hi,
                                                       xi, f)
                        g[a, dev] = g1
                        e = _ledger.write_energy_terms(table[d], switching[d], (g0 - x_lo) / x_span,
                                                       (g1 - x_lo) / x_span, count, f)
                        acc[j, 0] += e[0]
                        acc[j, 1] += e[1]
                        acc[j, 2] += e[2]
                        acc[j, 3] += c
                n_ev = 0



    # one thread, or the threads torch uses (rows of the weight, samples of the trains, in parallel);
    # _events calls scipy's ndtr/ndtri through ctypes pointers, so it is compiled per process (~4 s)
    _masks = {False: njit(cache=True)(_masks_loop), True: njit(parallel=True)(_masks_loop)}
    _events = {False: njit(_events_loop), True: njit(parallel=True)(_events_loop)}

_POOL_PID = []  # the process whose numba thread pool has started


def _parallel():
    """Whether to run the parallel loops, on as many threads as torch uses: torch runs on more than
    one thread, this is the main thread, and no parent process started the pool (GNU OpenMP, numba's
    default layer here, aborts a forked child that runs a parallel loop; a forked sweep worker runs
    the serial loops instead)."""
    import threading

    import torch

    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1 or threading.current_thread() is not threading.main_thread():
        return False
    if _POOL_PID and _POOL_PID[0] != os.getpid():
        return False
    if not _POOL_PID:
        _POOL_PID.append(os.getpid())
    numba.set_num_threads(threads)
    return True


def draw_streams(x, d, lr, eps_w, bit_length, generator, bl_management=False):
    """Compiled twin of :func:`memcosim.training.bitstreams.draw_streams`: the same keys, bits and
    polarities (CPU tensors), probabilities (with ``bl_management``: and each sample's length) and
    trains in compiled loops."""
    import torch

    from memcosim.training.bitstreams import BitStreams

    keys = torch.randint(0, 2**62, (3,), generator=generator, dtype=torch.int64)
    x, d = x.detach().contiguous(), d.detach().contiguous()
    batch, words = x.shape[0], -(-bit_length // 32)
    p53x = np.empty(x.shape, dtype=np.int64)
    p53d = np.empty(d.shape, dtype=np.int64)
    sign_x, sign_d = np.empty(x.shape, dtype=np.int64), np.empty(d.shape, dtype=np.int64)
    lengths = np.empty(batch, dtype=np.int64)
    if bl_management:
        _probabilities_bl(x.numpy(), d.numpy(), float(lr), float(eps_w), bit_length, p53x, p53d, sign_x, sign_d, lengths)
    else:
        _probabilities(x.numpy(), d.numpy(), math.sqrt(lr / (bit_length * eps_w)), p53x, p53d, sign_x, sign_d)
    key_x, key_d, _ = keys.tolist()
    x_mask = np.empty((batch, x.shape[1], words), dtype=np.int64)
    d_mask = np.empty((batch, d.shape[1], words), dtype=np.int64)
    masks_of = _masks[_parallel()]
    masks_of(p53x, key_x, bit_length, x_mask, sign_x)
    masks_of(p53d, key_d, bit_length, d_mask, sign_d)
    if bl_management:
        _cut(x_mask, sign_x, lengths)
        _cut(d_mask, sign_d, lengths)
    return BitStreams(torch.from_numpy(x_mask), torch.from_numpy(sign_x), torch.from_numpy(d_mask), torch.from_numpy(sign_d),
                      keys[2], bit_length)


def masks(p53, key, bit_length):
    """Compiled twin of :func:`memcosim.training.bitstreams.masks_torch` (CPU tensors)."""
    import torch

    words = -(-bit_length // 32)
    out = np.empty(tuple(p53.shape) + (words,), dtype=np.int64)
    _masks[_parallel()](p53.contiguous().numpy(), int(key), bit_length, out, np.ones(tuple(p53.shape), dtype=np.int64))
    return torch.from_numpy(out)


def totals(streams):
    """Compiled twin of :func:`memcosim.training.bitstreams.coincidence_totals_torch`."""
    import torch

    n_out, n_in = streams.shape
    up = np.zeros((n_out, n_in), dtype=np.float64)
    down = np.zeros_like(up)
    _totals(streams.x_mask.numpy(), streams.x_sign.numpy(), streams.d_mask.numpy(), streams.d_sign.numpy(), up, down)
    return torch.from_numpy(up), torch.from_numpy(down)


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
    returns the :class:`~memcosim.training.hardware_order.Booked` energies, pulses and (with
    ``counts``) coincidences.
    """
    import torch

    from memcosim.training.hardware_order import Booked

    n_out, n_in = streams.shape
    acc = np.zeros((n_out, 4), dtype=np.float64)
    shape = (n_out, n_in) if counts else (0, 0)  # no counts wanted: no (out, in) buffers to clear
    up, down = np.zeros(shape, dtype=np.float64), np.zeros(shape, dtype=np.float64)
    g_min, span, u_lam, p, e = _constants(arrays, params, energy)
    _events[_parallel()](streams.x_mask.numpy(), streams.x_sign.numpy(), streams.d_mask.numpy(), streams.d_sign.numpy(),
            int(streams.noise_key), p.kind, arrays.g.numpy(), arrays.state.numpy(), g_min, span, u_lam, p.lam, p.scale,
            p.log_tau, p.weights, p.width_s, p.c2c_std, p.n_domains, p.step, p.asymmetry, p.g_lo, p.g_hi, p.curves,
            p.curve_pulses, p.curve_noise, e.x_lo, e.x_span, e.table, e.switching, acc, counts, up, down)
    total = torch.from_numpy(acc.sum(axis=0))  # per-row partial sums, added in row order
    up, down = (torch.from_numpy(up), torch.from_numpy(down)) if counts else (None, None)
    return Booked(total[0], total[1], total[2], total[3].to(torch.int64), up, down)
