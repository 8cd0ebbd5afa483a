"""Compiled (numba) twins of the training layer's dense per-step operations.

Each function gives its torch original's numbers (a test ties each to it:
tests/training/test_pulse_kernel.py); :mod:`memcosim.training.layers` and the update rules call
them on CPU tensors when :func:`memcosim.training.kernel.enabled`:

* :func:`transfer` — the mixed-precision transfer (:class:`~memcosim.training.rules.MixedPrecision`),
  bit-identical, in one pass; :func:`aihwkit_transfer` — its transfer with a granularity
  (aihwkit's ``MixedPrecisionCompound``), bit-identical;
* :func:`sync` — the weight refresh ``scale (G - G_ref)``, bit-identical;
* :func:`measured_respond` — a measured device's response to signed pulse counts
  (:meth:`~memcosim.training.pulsed_measured.MeasuredPulsed.respond`: symmetry-point searches),
  bit-identical, in one pass; :func:`measured_pulse_at` — the same at a layer's flat indices
  (mixed-precision transfers, aggregated updates), bit-identical, with no gathers;
* :func:`set_bits` — the pulses of a bit-packed train tensor (the periphery's line drivers), exact;
  :func:`count_slots` — the row slots and pulses of counts at indices (the drivers of a transfer), exact;
  :func:`transfer_trains` — a Tiki-Taka transfer's one-hot trains, exact;
  :func:`live_tiles` — the tiles of lines a train drives (the read cache's moved tiles), exact;
* :func:`slots_shared`, :func:`row_operations_shared` — the update-scheme costing of
  :class:`~memcosim.training.schemes.SchemeCosts` (parallel-stochastic slot phases, row
  operations of transfers), summed in another order (rtol 1e-12).

The fitted IR-drop read (:func:`~memcosim.training.read_kernel.ir_drop`,
:class:`~memcosim.training.read_kernel.ReadWeightCache`) is :mod:`memcosim.training.read_kernel`; the
read-energy booking and the operation costs' mean state, :mod:`memcosim.training.booking_kernel`.
"""

import numpy as np

from memcosim.training.bitstreams import LANES
from memcosim.training.kernel import available

__all__ = ["transfer", "aihwkit_transfer", "sync", "slots_shared", "row_operations_shared", "set_bits", "live_tiles",
           "measured_respond", "measured_pulse_at", "count_slots", "transfer_trains"]

if available():
    from numba import njit

    from memcosim.devices.compiled import SCALAR, register_laws
    from memcosim.devices.measured import measured_train
    from memcosim.training.kernel import _popcount

    register_laws()  # measured_train, compiled below

    @njit(inline="always")
    def _measured_one(g, lo, span, n, up, down, pulses, noise, scale_up, scale_down, xi_up, xi_down):
        # one device's conductance after n signed pulses (up pulses n > 0, down pulses n < 0); up,
        # down: each branch's (q_of_x, x_of_q) views, made once per call of the loop (a view made
        # per device costs its reference count)
        f = SCALAR
        x0 = f.clip((g - lo) / span, 0.0, 1.0)
        x = x0
        if n > 0:
            x = measured_train(x0, False, n, up[0], up[1], pulses[0], scale_up, noise[0], xi_up, f)
        elif -n > 0:
            x = measured_train(x0, True, -n, down[0], down[1], pulses[1], scale_down, noise[1], xi_down, f)
        return lo + x * span

    @njit(cache=True)
    def _measured_respond(g, n, lo, hi, curves, pulses, noise, scale, xi, out):
        up, down = (curves[0, 0], curves[0, 1]), (curves[1, 0], curves[1, 1])
        for e in range(g.size):
            out[e] = _measured_one(g[e], lo[e], hi[e] - lo[e], n[e], up, down, pulses, noise, scale[0, e], scale[1, e],
                                   xi[0, e], xi[1, e])

    @njit(cache=True)
    def _measured_pulse_at(g, index, n, lo, span, curves, pulses, noise, scale, xi, g0, g1):
        up, down = (curves[0, 0], curves[0, 1]), (curves[1, 0], curves[1, 1])
        for e in range(index.size):
            i = index[e]
            g0[e] = g[i]
            g1[e] = _measured_one(g[i], lo[i], span[i], n[e], up, down, pulses, noise, scale[0, i], scale[1, i],
                                  xi[0, e], xi[1, e])
            g[i] = g1[e]

    @njit(cache=True)
    def _count_slots(index, n, rows, most):
        # (rows' largest up counts plus largest down counts, summed; pulses), of signed counts n at
        # flat indices (row = index % rows): whole numbers, exact in any order
        most[:] = 0.0
        total = 0.0
        for e in range(index.size):
            c = n[e]
            r = index[e] % rows
            if c > 0:
                most[0, r] = max(most[0, r], c)
            elif c < 0:
                most[1, r] = max(most[1, r], -c)
            total += abs(c)
        slots = 0.0
        for r in range(rows):
            slots += most[0, r] + most[1, r]
        return slots, total

    @njit(inline="always")
    def _first_slots(c, w):
        # word w of a train whose first c slots are set (LANES slots a word)
        return (np.int64(1) << min(max(c - LANES * w, 0), LANES)) - 1

    @njit(cache=True)
    def _transfer_trains(n, cols, bit_length, x_mask, x_sign, d_mask, d_sign):
        # sample t: input cols[t] in its first bit_length slots; output j in its first |n[j, t]| slots,
        # polarity sign(n[j, t]) (the buffers come zeroed)
        k, words = x_mask.shape[0], x_mask.shape[2]
        for t in range(k):
            for w in range(words):
                x_mask[t, cols[t], w] = _first_slots(bit_length, w)
            x_sign[t, cols[t]] = 1
            for j in range(n.shape[0]):
                c = n[j, t]
                count = np.int64(abs(c))
                for w in range(words):
                    d_mask[t, j, w] = _first_slots(count, w)
                d_sign[t, j] = 1 if c > 0 else (-1 if c < 0 else 0)

    @njit(cache=True)
    def _live_tiles(sign, tile):
        batch, lines = sign.shape
        live = np.zeros(lines, dtype=np.bool_)
        for b in range(batch):
            row = sign[b]
            for i in range(lines):  # a 1-D row view: vectorised
                live[i] |= row[i] != 0
        tiles = np.zeros(-(-lines // tile), dtype=np.bool_)
        for i in range(lines):
            tiles[i // tile] |= live[i]
        return tiles

    @njit(cache=True)
    def _set_bits(words):
        total = 0
        for k in range(words.size):
            total += _popcount(words[k])
        return total

    @njit(cache=True)
    def _transfer(acc, grad, lr, eps_w, max_pulses, index, count):
        k = 0
        for e in range(acc.size):
            a = acc[e] - lr * np.float64(grad[e])
            n = min(max(float(np.trunc(a / eps_w)), -max_pulses), max_pulses)
            if n != 0:
                a = a - n * eps_w
                index[k] = e
                count[k] = n
                k += 1
            acc[e] = a
        return k


    @njit(cache=True)
    def _aihwkit_transfer(acc, grad, lr, quantum, granularity, max_pulses, index, count):
        rows, cols = acc.shape
        n = np.empty(cols)
        k = 0
        for j in range(rows):
            row_max = 0.0
            for i in range(cols):
                a = acc[j, i] - lr * np.float64(grad[j, i])
                n[i] = np.trunc(a / quantum)
                acc[j, i] = a - n[i] * quantum
                row_max = max(row_max, abs(n[i]))
            scaled = granularity * row_max > max_pulses
            for i in range(cols):
                if n[i] == 0:
                    continue
                wanted = max_pulses * n[i] / max(row_max, 1.0) if scaled else granularity * n[i]
                c = np.sign(wanted) * np.floor(abs(wanted) + 0.5)
                if c != 0:
                    index[k] = j * cols + i
                    count[k] = c
                    k += 1
        return k

    @njit(cache=True)
    def _sync(weight, g, g_ref, scale):
        for k in range(g.size):
            weight[k] = scale * (g[k] - g_ref[k])


    @njit(inline="always")
    def _sample_phases(mask, sign, b, tile, bit_length, counts):
        # sample b's lines into counts[t, tile, half] (half 0 the positive lines, 1 the negative ones);
        # each set bit visited once (a train has a pulse or two in 31 slots); lanes past the train's
        # length ignored, as the torch original does
        lines, words = mask.shape[1], mask.shape[2]
        for i in range(lines):
            s = sign[b, i]
            if s == 0:
                continue
            half = 0 if s > 0 else 1
            tl = i // tile
            for w in range(words):
                m = mask[b, i, w] & ((np.int64(1) << np.int64(min(32, max(0, bit_length - 32 * w)))) - np.int64(1))
                while m != 0:
                    low = m & -m
                    counts[32 * w + _popcount(low - 1), tl, half] += 1
                    m ^= low

    @njit(cache=True)
    def _slots(x_mask, x_sign, d_mask, d_sign, bit_length, rows, cols, up, down, pair, out):
        # sample by sample, its phase counts in two small arrays (slots x tiles x 2, in L1) that each
        # slot clears after use: counts of the whole batch (800 kB for 784 inputs, allocated and
        # zeroed per call) slowed the rest of the step too (its event loop 2.65 -> 2.2-2.5 ms)
        batch = x_mask.shape[0]
        n_rt, n_ct = -(-x_mask.shape[1] // rows), -(-d_mask.shape[1] // cols)
        r_counts = np.zeros((bit_length, n_rt, 2), dtype=np.int64)
        c_counts = np.zeros((bit_length, n_ct, 2), dtype=np.int64)
        live_r, live_c = np.empty(n_rt, dtype=np.int64), np.empty(n_ct, dtype=np.int64)
        for b in range(batch):
            _sample_phases(x_mask, x_sign, b, rows, bit_length, r_counts)
            _sample_phases(d_mask, d_sign, b, cols, bit_length, c_counts)
            for t in range(bit_length):
                rt, ct = r_counts[t], c_counts[t]
                n_r = 0  # the row tiles that drive a line in this slot, in order (packed without branches)
                for tr in range(n_rt):
                    live_r[n_r] = tr
                    n_r += rt[tr, 0] + rt[tr, 1] != 0
                n_c = 0  # and the column tiles
                for tc in range(n_ct):
                    live_c[n_c] = tc
                    n_c += ct[tc, 0] + ct[tc, 1] != 0
                for r in range(n_r):
                    kp, kn = rt[live_r[r], 0], rt[live_r[r], 1]
                    for q in range(n_c):
                        mp, mn = ct[live_c[q], 0], ct[live_c[q], 1]
                        for c in range(2):  # (+,+) and (-,-) potentiate, (+,-) and (-,+) depress
                            e_up = up[kp, mp, c] + up[kn, mn, c]
                            e_down = down[kp, mn, c] + down[kn, mp, c]
                            out[c] += e_up + e_down
                            if pair:
                                out[c] += down[kp, mp, c] + down[kn, mn, c] + up[kp, mn, c] + up[kn, mp, c]
                rt[:, :] = 0
                ct[:, :] = 0

    @njit(cache=True)
    def _row_operations(index, up, down, n_in, cols, table_up, table_down, pair, out):
        keys = np.empty(index.size, dtype=np.int64)
        for e in range(index.size):
            keys[e] = (index[e] % n_in) * (1 << 32) + index[e] // n_in // cols  # (input row, output tile)
        order = np.argsort(keys, kind="mergesort")
        start = 0
        while start < order.size:
            stop = start
            while stop < order.size and keys[order[stop]] == keys[order[start]]:
                stop += 1
            for counts, table, other in ((up, table_up, table_down), (down, table_down, table_up)):
                s = np.sort(counts[order[start:stop]])[::-1]  # this row's counts, largest first
                for m in range(s.size):
                    rounds = s[m] - (s[m + 1] if m + 1 < s.size else 0.0)  # operations driving m + 1 columns
                    if rounds > 0:
                        for c in range(2):
                            out[c] += rounds * table[m + 1, c]
                            if pair:  # the negative array takes the opposite counts
                                out[c] += rounds * other[m + 1, c]
            start = stop


def measured_respond(g, n, lo, hi, branches):
    """Compiled :meth:`~memcosim.training.pulsed_measured.MeasuredPulsed.respond` (float64 CPU tensors
    broadcast like ``g``): ``branches`` up then down, each ``(q_of_x, x_of_q, pulses_to_cross, noise,
    normal variates or None, step scale)``."""
    import torch

    numel = g.numel()

    def flat(t):  # one value for every device: a view of it (stride 0), not a copy
        t = torch.as_tensor(t, dtype=torch.float64)
        return t.reshape(1).expand(numel) if t.numel() == 1 else t.expand(g.shape).reshape(-1)

    def both(values):  # (2, devices): up then down
        flats = [flat(v) for v in values]
        if all(f.stride(0) == 0 for f in flats):
            return torch.stack([f[:1] for f in flats]).expand(2, numel).numpy()
        return torch.stack(flats).numpy()

    curves = torch.stack([torch.stack([q, x]) for q, x, *_ in branches]).numpy()
    pulses = np.array([float(b[2]) for b in branches])
    noise = np.array([float(b[3]) for b in branches])
    scale = both([b[5] for b in branches])
    xi = both([0.0 if b[4] is None else b[4] for b in branches])
    out = torch.empty(g.numel(), dtype=torch.float64)
    _measured_respond(flat(g).numpy(), flat(n).numpy(), flat(lo).numpy(), flat(hi).numpy(), curves, pulses, noise, scale, xi,
                      out.numpy())
    return out.view(g.shape)


def measured_pulse_at(g, index, n, arrays, params, xi):
    """Compiled :meth:`~memcosim.training.pulsed_measured.MeasuredPulsed.respond` of the devices at
    flat ``index`` (distinct) of ``g`` (float64 CPU, a flat view, updated in place), with no gathers:
    ``arrays`` the per-device ``(g_min, span, step scales (2, devices))`` of
    :meth:`~memcosim.training.pulsed_measured.MeasuredPulsed.event_arrays`, ``params`` its
    :class:`~memcosim.training.hardware_order.EventParams`, ``xi`` ``(2, len(index))`` normal
    variates (up, down). Returns ``(g0, g1)``: those devices' conductances before and after."""
    import torch

    g0, g1 = torch.empty(index.numel(), dtype=torch.float64), torch.empty(index.numel(), dtype=torch.float64)
    lo, span, scale = arrays
    _measured_pulse_at(g.numpy(), index.numpy(), n.to(torch.float64).numpy(), lo.numpy(), span.numpy(),
                       params.curves.numpy(), params.curve_pulses.numpy(), params.curve_noise.numpy(), scale.numpy(),
                       xi.numpy(), g0.numpy(), g1.numpy())
    return g0, g1


def count_slots(index, n, rows):
    """``(row_slots, total)`` of signed pulse counts ``n`` at flat indices ``index`` of a layer of
    ``rows`` inputs (CPU): what :func:`memcosim.training.periphery.count_cost` takes, exact."""
    import torch

    slots, total = _count_slots(index.numpy(), n.to(torch.float64).numpy(), int(rows), np.empty((2, int(rows))))
    return float(slots), float(total)


def transfer_trains(n, cols, n_in):
    """Compiled trains of :func:`memcosim.training.tiki_taka.transfer_streams` (CPU, the same
    integers): ``(x_mask, x_sign, d_mask, d_sign, bit_length)``."""
    import torch

    out, k = n.shape
    n = n.to(torch.float64).contiguous()
    bit_length = max(int(n.abs().max()), 1) if n.numel() else 1
    words = -(-bit_length // LANES)
    x_mask, x_sign = torch.zeros((k, n_in, words), dtype=torch.int64), torch.zeros((k, n_in), dtype=torch.int64)
    d_mask, d_sign = torch.empty((k, out, words), dtype=torch.int64), torch.empty((k, out), dtype=torch.int64)
    _transfer_trains(n.numpy(), cols.to(torch.int64).numpy(), bit_length, x_mask.numpy(), x_sign.numpy(),
                     d_mask.numpy(), d_sign.numpy())
    return x_mask, x_sign, d_mask, d_sign, bit_length


def live_tiles(sign, tile):
    """Which groups of ``tile`` consecutive lines hold a line with a polarity in some sample
    (``sign``: a train's ``(batch, lines)`` int64 polarities, CPU): bool ndarray ``(ceil(lines / tile),)``,
    ``numpy.logical_or.reduceat((sign != 0).any(0), range(0, lines, tile))`` in one pass."""
    return _live_tiles(sign.numpy(), int(tile))


def set_bits(mask):
    """Set bits of a bit-packed train tensor (non-negative int64 words), summed: its pulses, an int."""
    return int(_set_bits(mask.contiguous().view(-1).numpy()))


def slots_shared(streams, costs, pair):
    """Compiled twin of :meth:`memcosim.training.schemes.SchemeCosts.slots_j` (tied by a test)."""
    import torch

    out = np.zeros(2)
    _slots(streams.x_mask.numpy(), streams.x_sign.numpy(), streams.d_mask.numpy(), streams.d_sign.numpy(),
           streams.bit_length, costs.rows, costs.cols, costs.shared_j["up"], costs.shared_j["down"], pair, out)
    return torch.from_numpy(out)


def row_operations_shared(index, up, down, shape, costs, pair):
    """Compiled twin of :meth:`~memcosim.training.schemes.SchemeCosts.row_operations_j` for both
    directions (and, with ``pair``, a differential pair's negative array), from sparse counts.

    ``index``: flat device indices (outputs x inputs); ``up``, ``down``: their float64 counts.
    """
    import torch

    out = np.zeros(2)
    table_up, table_down = costs.shared_j["up"][1], costs.shared_j["down"][1]  # one driven row
    _row_operations(index.numpy(), up.numpy(), down.numpy(), shape[1], costs.cols, table_up, table_down, pair, out)
    return torch.from_numpy(out)


def sync(weight, g, g_ref, scale):
    """``weight = scale (g - g_ref)`` in one pass (float64 arithmetic, stored in the weight's dtype)."""
    _sync(weight.detach().view(-1).numpy(), g.view(-1).numpy(), g_ref.view(-1).numpy(), float(scale))


def aihwkit_transfer(accumulator, grad, lr, quantum, granularity, max_pulses):
    """:meth:`~memcosim.training.rules.MixedPrecision._aihwkit_transfer` compiled, in one pass per row
    (the accumulator updated in place); returns ``(index, n)`` as :func:`transfer`."""
    import torch

    acc = accumulator.numpy()
    index = np.empty(acc.size, dtype=np.int64)
    count = np.empty(acc.size, dtype=np.float64)
    k = _aihwkit_transfer(acc, grad.detach().numpy(), float(lr), float(quantum), float(granularity), float(max_pulses),
                          index, count)
    return torch.from_numpy(index[:k].copy()), torch.from_numpy(count[:k].copy())


def transfer(accumulator, grad, lr, eps_w, max_pulses):
    """Mixed-precision transfer, compiled: ``acc -= lr g``; ``n = trunc(acc / dw)`` clamped to
    ``max_pulses``; ``acc -= n dw``; in one pass (the accumulator is updated in place).

    Returns
    -------
    (index, n)
        Flat indices of the devices with ``n != 0`` (int64) and their signed counts (float64).
    """
    import torch

    acc = accumulator.view(-1).numpy()
    index = np.empty(acc.size, dtype=np.int64)
    count = np.empty(acc.size, dtype=np.float64)
    k = _transfer(acc, grad.detach().reshape(-1).numpy(), float(lr), float(eps_w), float(max_pulses), index, count)
    return torch.from_numpy(index[:k].copy()), torch.from_numpy(count[:k].copy())
