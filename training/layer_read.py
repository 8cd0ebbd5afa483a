"""The weight a crossbar layer's array reads: the read path's effective weight, kept between updates.

:class:`ReadWeight` is the part of :class:`~memcosim.training.layers.CrossbarLayer` that turns
its conductances into the weight its forward pass uses (a mixin: it reads the layer's tile,
conductances and version): the ideal read is the programmed weight itself; the fitted IR-drop
read (:func:`memcosim.training.ir_drop.read_path`) is computed once per update, compiled where
the kernel runs (:class:`~memcosim.training.read_kernel.ReadWeightCache`: only the tiles whose
conductances changed, the tiles a dense stochastic update moved without comparing, the tiles of
the driven inputs for a read that needs no input gradient), in torch elsewhere; the exact read
solves every array tile.
"""

import numpy as np
import torch

from memcosim.training import kernel, kernel_ops, read_kernel
from memcosim.training.ir_drop import fitted_read_model, read_path

__all__ = ["ReadWeight"]


class ReadWeight:
    """The read weight of :class:`~memcosim.training.layers.CrossbarLayer` (see the module docstring)."""

    def _read_conductances(self):
        """(G, G_ref) as the array reads them (inputs x outputs is ``.T``): IR-drop included when configured."""
        g, g_ref = self.conductance_s, self.reference_s
        eff = read_path(self.tile, g)
        if eff is None:
            return g, g_ref
        if self.tile.read.forward == "exact" or self.tile.mapping.mapping == "differential":
            return eff(g), eff(g_ref)
        return eff(g), self._reference_read(eff)

    def _reference_read(self, eff):
        """The reference array as ``eff`` reads it: a reference array is programmed once, so its read is computed once."""
        g_ref = self.reference_s
        if self._ref_read is None or self._ref_read[0] is not g_ref or self._ref_read[1] != g_ref._version:
            self._ref_read = (g_ref, g_ref._version, eff(g_ref))
        return self._ref_read[2]

    def forward_weight(self, reads=None):
        """The weight the forward pass sees (IR-drop included), cached between updates.

        ``reads`` (tensor ``(..., in_features)``, or None): the reads about to be made, when they
        need no input gradient; the weight may then be right only in the columns of the inputs
        they drive (the compiled read refreshes those inputs' tiles alone, a Tiki-Taka transfer's
        one column; not kept for later reads): zero inputs add zeros. The compiled read returns its
        cache's own tensor, rewritten in place (its version counted) when a later update is read."""
        array = self.tile.array
        if array.ideal_wires or self.tile.read.forward == "ideal" or (self.tile.read.forward == "model"
                                                                      and array.ir_drop is None):
            return self.weight  # the ideal read is the programmed weight itself
        if self._cached is None or self._cached[0] != self._version:
            model = fitted_read_model(self.tile)
            partial = False  # a weight right in the driven inputs' columns only
            if model is not None and self._compiled_read():
                # compiled, one pass from the conductances to the weight, the tiles no pulse reached kept: the same numbers
                driven = None if reads is None else read_kernel.driven(reads.reshape(-1, self.in_features))
                partial = driven is not None and not bool(driven.all())
                if self._read_weight is None:
                    self._read_weight = read_kernel.ReadWeightCache()
                w = self._read_weight(self.conductance_s, self._reference_read(read_path(self.tile, self.reference_s)),
                                      self.scale_per_s, self.weight.dtype, *model, driven=driven if partial else None,
                                      moved=self._moved, copy=False)  # the cache's own, rewritten (and counted) by its next call
                if not partial:
                    self._moved = None
            else:
                g, g_ref = self._read_conductances()
                w = (self.scale_per_s * (g - g_ref)).to(self.weight.dtype)
            share = self._fast_share()
            if share is not None:
                w = w + share[0] * share[1].forward_weight(reads if partial else None)
            if partial:
                return w  # not kept: a later read may drive other inputs
            self._cached = (self._version, w)
        return self._cached[1]

    def _compiled_read(self):
        """Whether the fitted read runs compiled (:class:`~memcosim.training.read_kernel.ReadWeightCache`)."""
        return (kernel.enabled(self.conductance_s) and self.tile.mapping.mapping != "differential"
                and self.conductance_s.dtype == torch.float64 and self.weight.dtype in (torch.float32, torch.float64))

    def _mark_moved(self, streams):
        """Note the read tiles where a stochastic update's pulsed outputs meet its pulsed inputs (the
        lines of ``streams`` with a polarity) when they are at least half of the tiles: the next compiled read recomputes them
        without comparing or recording conductances (the same numbers, less memory traffic;
        :class:`~memcosim.training.read_kernel.ReadWeightCache`). Such an update (a gradient's) moves
        them again the next step; a sparse one (a transfer's column) is left to the comparison, which
        records what it saw, so a tile it moved once is not recomputed again."""
        model = fitted_read_model(self.tile)
        if model is None or not self._compiled_read():
            return
        n_tr, n_tc, cols_t, rows_t = read_kernel.tile_grid(self.conductance_s.shape, model[4], model[5])
        by_out, by_in = kernel_ops.live_tiles(streams.d_sign, cols_t), kernel_ops.live_tiles(streams.x_sign, rows_t)
        if 2 * int(by_out.sum()) * int(by_in.sum()) < n_tr * n_tc:
            return
        tiles = torch.from_numpy(np.outer(by_out, by_in))
        self._moved = tiles if self._moved is None else self._moved | tiles
