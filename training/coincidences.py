"""Where a stochastic update's pulse trains meet (numba): each device's coincidences.

A device (output ``j``, input ``i``) gets a pulse in every slot where both its row's and its
column's trains pulse; its coincidences in a sample are ``popcount(x_mask & d_mask)``. Shared by
the compiled pulses in hardware order (:mod:`memcosim.training.event_kernel`) and the
aggregated count :func:`totals` (twin of
:func:`memcosim.training.bitstreams.coincidence_totals_torch`, tied to it by a test):

* :func:`_active_rows` — per sample, the rows that pulse, packed to the front;
* :func:`_hits` — the active rows a column's train meets, testing each row in a branch-free
  pass: O(active rows) per sample and column;
* :func:`_slot_lists`, :func:`_slot_hits` — the same rows in the same order from per-slot lists
  of each sample's active rows: O(pulses + coincidences) for sparse trains (a stochastic
  update's trains carry a pulse or two in 31 slots; only 4-17 % of the active row x column pairs
  of the measured study coincide); trains of more than :data:`_SLOT_LISTS_BITS` pulses an active
  row get no lists and are tested row by row.
"""

import numpy as np

from memcosim.training.kernel import available

__all__ = ["totals"]

if available():
    from numba import njit

    from memcosim.training.kernel import _popcount

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

    _SLOT_LISTS_BITS = 4
    """Pulses per active row up to which :func:`_slot_lists` lists them (sparse trains: a stochastic
    update's, a pulse or two in 31 slots); denser trains are tested row by row (:func:`_hits`),
    as building the lists would cost more than it saves."""

    @njit(cache=True)
    def _slot_lists(count, masks):
        """Per sample, the active rows (:func:`_active_rows` positions) that pulse in each slot, in row
        order: sample ``b``'s slot ``t`` (bit ``t % 64`` of word ``t // 64``) holds
        ``rows[start[b, t]:start[b, t + 1]]``; empty ``start`` and ``rows`` for trains of more than
        :data:`_SLOT_LISTS_BITS` pulses an active row (:func:`_slot_hits` then tests every row)."""
        batch, words = masks.shape[0], masks.shape[2]
        rows_active, bits = 0, 0
        for b in range(batch):
            rows_active += count[b]
            for k in range(count[b]):
                for w in range(words):
                    bits += _popcount(masks[b, k, w])
        if bits > _SLOT_LISTS_BITS * rows_active:  # dense trains: a column meets most rows, testing each is cheaper
            return np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64)
        bit_length = 64 * words  # every bit a word has: a slot past the train's length is an empty list
        start = np.zeros((batch, bit_length + 1), dtype=np.int64)
        total = 0
        for b in range(batch):  # each slot's size, then the offsets
            for k in range(count[b]):
                for w in range(words):
                    m = masks[b, k, w]
                    while m != 0:
                        low = m & -m
                        start[b, 64 * w + _popcount(low - 1) + 1] += 1
                        m ^= low
            start[b, 0] = total
            for t in range(bit_length):
                total += start[b, t + 1]
                start[b, t + 1] = total
        rows = np.empty(total, dtype=np.int64)
        fill = start[:, :bit_length].copy()
        for b in range(batch):
            for k in range(count[b]):  # rows in order: each slot's list comes out sorted
                for w in range(words):
                    m = masks[b, k, w]
                    while m != 0:
                        low = m & -m
                        t = 64 * w + _popcount(low - 1)
                        rows[fill[b, t]] = k
                        fill[b, t] += 1
                        m ^= low
        return start, rows

    _MERGED_SHARE = 4
    """A column whose slots' lists hold more than ``1 / _MERGED_SHARE`` of a sample's active rows is
    tested row by row (:func:`_hits`): merging and sorting that many would cost more (and the
    insertion sort of :func:`_slot_hits` stays on at most a quarter of the rows)."""

    @njit(inline="always")
    def _slot_hits(masks, count, d_mask, b, j, hit_k, hit_c, start, rows, mark):
        """:func:`_hits` from the slot lists of :func:`_slot_lists`: the same positions and
        coincidences in the same order, found through the slots column ``j``'s train pulses in
        (a train has a pulse or two in 31 slots) rather than by testing every active row. ``mark``:
        zeros, one per input row (left zero)."""
        if start.shape[0] == 0:  # no lists (dense trains)
            return _hits(masks, count, d_mask, b, j, hit_k, hit_c)
        words = masks.shape[2]
        n_slots, found, t_one = 0, 0, 0
        for w in range(words):
            m = d_mask[b, j, w]
            while m != 0:
                low = m & -m
                t_one = 64 * w + _popcount(low - 1)
                n_slots += 1
                found += start[b, t_one + 1] - start[b, t_one]
                m ^= low
        if n_slots == 1:  # one slot: its list, one coincidence each
            for h in range(found):
                hit_k[h] = rows[start[b, t_one] + h]
                hit_c[h] = 1
            return found
        if _MERGED_SHARE * found > count:  # many rows: testing each is cheaper than sorting
            return _hits(masks, count, d_mask, b, j, hit_k, hit_c)
        n = 0
        for w in range(words):  # each row once (its coincidences counted in mark), then in row order
            m = d_mask[b, j, w]
            while m != 0:
                low = m & -m
                t = 64 * w + _popcount(low - 1)
                for e in range(start[b, t], start[b, t + 1]):
                    k = rows[e]
                    if mark[k] == 0:
                        hit_k[n] = k
                        n += 1
                    mark[k] += 1
                m ^= low
        for h in range(1, n):  # insertion sort: a few rows
            k = hit_k[h]
            q = h - 1
            while q >= 0 and hit_k[q] > k:
                hit_k[q + 1] = hit_k[q]
                q -= 1
            hit_k[q + 1] = k
        for h in range(n):
            hit_c[h] = mark[hit_k[h]]
            mark[hit_k[h]] = 0
        return n

    @njit(cache=True)
    def _totals(x_mask, x_sign, d_mask, d_sign, up, down):
        batch, n_in = x_mask.shape[0], x_mask.shape[1]
        n_out = d_mask.shape[1]
        count, index, masks, signs = _active_rows(x_mask, x_sign)
        start, rows = _slot_lists(count, masks)
        hit_k, hit_c, mark = np.empty(n_in, dtype=np.int64), np.empty(n_in, dtype=np.int64), np.zeros(n_in, dtype=np.int64)
        for j in range(n_out):
            for b in range(batch):
                if d_sign[b, j] == 0:
                    continue
                for m in range(_slot_hits(masks, count[b], d_mask, b, j, hit_k, hit_c, start, rows, mark)):
                    k = hit_k[m]
                    i = index[b, k]
                    if signs[b, k] * d_sign[b, j] > 0:
                        up[j, i] += hit_c[m]
                    else:
                        down[j, i] += hit_c[m]



def totals(streams):
    """Compiled twin of :func:`memcosim.training.bitstreams.coincidence_totals_torch`."""
    import torch

    n_out, n_in = streams.shape
    up = np.zeros((n_out, n_in), dtype=np.float64)
    down = np.zeros_like(up)
    _totals(streams.x_mask.numpy(), streams.x_sign.numpy(), streams.d_mask.numpy(), streams.d_sign.numpy(), up, down)
    return torch.from_numpy(up), torch.from_numpy(down)
