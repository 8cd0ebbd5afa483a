"""The fitted IR-drop read, compiled (numba): a layer's effective weight from its conductances.

* :func:`ir_drop` — :func:`memcosim.training.ir_drop.effective_conductance` in the layer's
  (outputs, inputs) layout, float64, restated as loops because a numba loop cannot call its
  prefix sums along an axis (tests/training/test_pulse_kernel.py ties it to the torch law);
* :class:`ReadWeightCache` — the weight the fitted read gives a layer, in one pass from the
  conductances, kept between updates: only the tiles whose conductances changed are recomputed
  (a tile's read depends on its own cells only), the tiles a dense stochastic update moved
  without comparing, and for a read that needs no input gradient only the tiles of the inputs
  it drives (:class:`~memcosim.training.layer_read.ReadWeight` calls it);
* :func:`driven` — which inputs a batch of reads drives (those tiles a partial refresh computes).
"""

import math

import numpy as np

from memcosim.training.kernel import available

__all__ = ["ir_drop", "ReadWeightCache", "tile_grid", "driven"]

if available():
    from numba import njit

    from memcosim.training.kernel import _prefetch

    @njit(inline="always")
    def _prefetch_tile(g, i0, j0, r_act, c_act):
        """Request the cache lines of the tile of ``g`` at rows ``j0:j0 + c_act`` (clipped), columns
        ``i0:i0 + r_act`` (one request per 8 elements: a line of float64, half a line of float32)."""
        n_out, n_in = g.shape
        for jj in range(j0, min(j0 + c_act, n_out)):
            for r in range(0, r_act + 7, 8):
                _prefetch(g, jj * n_in + i0 + min(r, r_act - 1))

    @njit(inline="always")
    def _tile_changed(g, seen, i0, j0, r_act, c_act):
        """Whether any conductance of the tile differs from ``seen`` (the values its output was made from)."""
        for jj in range(c_act):
            now, before = g[j0 + jj, i0:i0 + r_act], seen[j0 + jj, i0:i0 + r_act]
            for r in range(r_act):
                if now[r] != before[r]:
                    return True
        return False

    @njit(cache=True)
    def _driven(x, out):
        out[:] = False
        for b in range(x.shape[0]):
            row = x[b]
            for i in range(x.shape[1]):
                out[i] |= row[i] != 0

    @njit(cache=True)
    def _ir_drop(g, r_wire_ohm, r_driver_ohm, a, b, rows, cols, out, ref, scale, weight, seen, driven, moved):
        # with ``weight`` not empty, it gets ``scale (G_eff - ref)`` in its dtype instead of ``out`` G_eff
        # tile by tile; the scans along a tile's rows run over a transposed copy, every column of
        # the tile at once (vectorised), each element's additions in the order of the scalar law.
        # Contiguous loops index 1-D row views (g[j, i0:i1]): LLVM vectorises those, not the same
        # loop over 2-D indices (the layer 256 x 784: 0.95 -> 0.53 ms, the same numbers).
        # With ``seen`` not empty (the conductances the output holds, same shape): a tile whose
        # conductances equal them keeps its output (a tile's read depends on its own cells only);
        # the others are recomputed and their conductances recorded in ``seen``; with ``moved`` not
        # empty (one flag a tile: tile rows over the outputs, tile columns over the inputs), the
        # flagged tiles (pulses moved their devices) are recomputed without comparing or recording
        # and their first cell in ``seen`` set to NaN, which no conductance equals, so a later
        # comparing call recomputes them; with ``driven`` not empty too (one flag an input), the
        # tiles none of whose inputs is driven are left as they are
        n_out, n_in = g.shape
        rows_t, cols_t = min(rows, n_in), min(cols, n_out)
        total = np.empty(rows_t)
        suffix = np.empty(rows_t)
        run = np.empty((rows_t, cols_t))  # run[r, jj]: the row wire's term of cell (j0 + jj, i0 + r)
        t = np.empty((rows_t, cols_t))  # t[r, jj] = g[j0 + jj, i0 + r]
        prefix = np.empty((rows_t, cols_t))  # prefix[r, jj]: sum of t[:r + 1, jj]
        col = np.empty(cols_t)
        for i0 in range(0, n_in, rows_t):
            r_act = min(rows_t, n_in - i0)
            if seen.size and driven.size and not driven[i0:i0 + r_act].any():
                continue
            for j0 in range(0, n_out, cols_t):
                c_act = min(cols_t, n_out - j0)
                if seen.size and not (moved.size and moved[j0 // cols_t, i0 // rows_t]):
                    _prefetch_tile(g, i0, j0 + cols_t, r_act, cols_t)  # the next tile's lines, to compare
                    _prefetch_tile(seen, i0, j0 + cols_t, r_act, cols_t)
                    if not _tile_changed(g, seen, i0, j0, r_act, c_act):
                        continue
                    for jj in range(c_act):
                        seen[j0 + jj, i0:i0 + r_act] = g[j0 + jj, i0:i0 + r_act]
                else:
                    if seen.size:
                        seen[j0, i0] = np.nan  # what this output is made from is not recorded
                    _prefetch_tile(g, i0, j0 + cols_t, r_act, cols_t)  # the next tile's lines
                if weight.size:  # and the lines the next tile's weight reads and writes (-20 % in the study step)
                    _prefetch_tile(ref, i0, j0 + cols_t, r_act, cols_t)
                    _prefetch_tile(weight, i0, j0 + cols_t, r_act, cols_t)
                total[:r_act] = 0.0
                for jj in range(c_act):
                    grow = g[j0 + jj, i0:i0 + r_act]
                    for r in range(r_act):
                        total[r] += grow[r]
                    for r in range(r_act):
                        t[r, jj] = grow[r]
                for r in range(r_act):  # row wire: sum over outputs m of g[m, i] min(m, j), tile-local
                    suffix[r] = total[r]
                    run[r, 0] = 0.0
                for jj in range(1, c_act):
                    grow = g[j0 + jj - 1, i0:i0 + r_act]
                    for r in range(r_act):
                        suffix[r] -= grow[r]
                        run[r, jj] = run[r, jj - 1] + suffix[r]
                # column wire: sum over inputs k of g[j, k] (rows_t - max(k, i)), tile-local, padded rows included
                first = prefix[0, :c_act]
                t0 = t[0, :c_act]
                for jj in range(c_act):
                    first[jj] = 0.0 + t0[jj]
                for r in range(1, r_act):
                    now = prefix[r, :c_act]
                    before = prefix[r - 1, :c_act]
                    tr = t[r, :c_act]
                    for jj in range(c_act):
                        now[jj] = before[jj] + tr[jj]
                last = r_act - 1
                pl = prefix[last, :c_act]
                for jj in range(c_act):
                    col[jj] = pl[jj] * (rows_t - r_act + 1)
                for r in range(last, -1, -1):
                    drive = a * r_driver_ohm * total[r]
                    pr = prefix[r, :c_act]
                    tr = t[r, :c_act]
                    if r < last:
                        for jj in range(c_act):
                            col[jj] += pr[jj]
                    rr = run[r, :c_act]
                    for jj in range(c_act):
                        v = tr[jj]
                        pr[jj] = v - v * (drive + b * r_wire_ohm * (rr[jj] + col[jj]))
                if weight.size:
                    for jj in range(c_act):
                        wrow = weight[j0 + jj, i0:i0 + r_act]
                        rrow = ref[j0 + jj, i0:i0 + r_act]
                        for r in range(r_act):
                            wrow[r] = scale * (prefix[r, jj] - rrow[r])
                else:
                    for jj in range(c_act):
                        orow = out[j0 + jj, i0:i0 + r_act]
                        for r in range(r_act):
                            orow[r] = prefix[r, jj]


def ir_drop(g, r_wire_ohm, r_driver_ohm, a, b, rows, cols):
    """Compiled :func:`memcosim.training.ir_drop.effective_conductance` of ``g`` in the layer's
    (outputs, inputs) layout (no transposes), float64; tied to it by a test (a numba loop cannot
    call its prefix sums along an axis)."""
    import torch

    out = torch.empty_like(g)
    _ir_drop(g.numpy(), float(r_wire_ohm), float(r_driver_ohm), float(a), float(b), int(rows), int(cols), out.numpy(),
             _NONE, 0.0, _NONE, _NONE, _NO_INPUTS, _NO_TILES)
    return out


_NONE = np.empty((0, 0))
_NO_INPUTS = np.empty(0, dtype=np.bool_)
_NO_TILES = np.empty((0, 0), dtype=np.bool_)


def driven(x):
    """Which inputs some read of ``x`` (reads x inputs, CPU) drives: ``x.ne(0).any(0)`` in one pass."""
    import torch

    x = x.detach().contiguous()
    out = torch.empty(x.shape[1], dtype=torch.bool)
    _driven(x.numpy(), out.numpy())
    return out


def tile_grid(shape, rows, cols):
    """``(tile rows, tile columns, outputs a tile, inputs a tile)`` of a layer's weight ``shape``
    ``(outputs, inputs)`` on arrays of ``rows`` inputs x ``cols`` outputs (as :func:`ir_drop` tiles it)."""
    n_out, n_in = shape
    rows_t, cols_t = min(rows, n_in), min(cols, n_out)
    return -(-n_out // cols_t), -(-n_in // rows_t), cols_t, rows_t


class ReadWeightCache:
    """The weight the fitted IR-drop read gives a layer, ``(scale (ir_drop(g) - ref_read)).to(dtype)``
    (``ref_read``: the reference array's read, float64), in one pass with the same IEEE operations,
    so the same numbers; kept between the layer's updates: a call recomputes only the tiles whose
    conductances changed since the last (a mixed-precision transfer or a Tiki-Taka transfer moves
    a few devices; a tile's read depends on its own cells only), the others keep their weight;
    anything else that differs (the reference read, the scale, the read model, the dtype, the
    shape) recomputes every tile, as does a new cache's first call. Holds a float64 copy of the
    conductances and the weight (the layer's size again).

    ``driven`` (bool tensor, one flag an input): a read that drives only those inputs (a Tiki-Taka
    transfer reads one column) needs only their tiles; the tiles of undriven inputs are left
    as they are, stale where their cells changed (the next call that drives them recomputes
    them), so the weight is only right in the driven inputs' columns."""

    def __init__(self):
        self._key = None

    def __call__(self, g, ref_read, scale, dtype, r_wire_ohm, r_driver_ohm, a, b, rows, cols, driven=None, moved=None,
                 copy=True):
        """The weight (a new tensor each call; with ``copy=False`` the cache's own, rewritten in place
        by the next call, whose write bumps its version counter: autograd then refuses a backward
        through a product that saved the old values). ``moved`` (bool tensor of
        shape ``tile_grid(g.shape, rows, cols)[:2]``, or None): tiles in which the caller's pulses
        moved devices; they are recomputed without comparing conductances (the same numbers, half
        the memory traffic)."""
        import torch

        key = (tuple(g.shape), dtype, float(scale), float(r_wire_ohm), float(r_driver_ohm), float(a), float(b),
               int(rows), int(cols))
        if self._key is None or self._key[0] != key or self._key[1] is not ref_read or self._key[2] != ref_read._version:
            self._seen = np.full(tuple(g.shape), np.nan)  # NaN equals nothing: every tile is computed
            self._weight = torch.full(g.shape, math.nan, dtype=dtype)  # a tile never computed reads NaN
            self._key = (key, ref_read, ref_read._version)
            driven = None  # every tile, however few inputs this read drives (an empty weight is no old weight)
        _ir_drop(g.numpy(), float(r_wire_ohm), float(r_driver_ohm), float(a), float(b), int(rows), int(cols), _NONE,
                 ref_read.numpy(), float(scale), self._weight.numpy(), self._seen,
                 _NO_INPUTS if driven is None else driven.numpy(), _NO_TILES if moved is None else moved.numpy())
        if copy:
            return self._weight.clone()
        torch.autograd.graph.increment_version(self._weight)  # written through a numpy view: count the write
        return self._weight
