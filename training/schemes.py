"""What an update costs under the scheme that programs it: serial, row-parallel or parallel stochastic.

The ledger books every pulse's *selected-cell* energy at the state the cell is in
(:class:`~memcosim.training.ledger.WriteEnergyTable`). What the other cells and the lines cost
depends on how the pulses are grouped into circuit operations:

* ``serial`` — one operation per pulse: every pulse pays its half-selected cells and the
  charging of every line (the single-cell write model, :attr:`CircuitModels.write_energy`);
* ``row_parallel`` — a row operation pulses, at once, every column of one array row that still
  needs a pulse in that direction: a device with ``n`` pulses takes part in ``n`` successive row
  operations, and the ``r``-th operation of a row drives ``m_r = #{j: n_ij >= r}`` columns
  (:attr:`CircuitModels.row_energy`);
* ``parallel_stochastic`` — a slot of a Gokmen–Vlasov update drives ``k`` rows at +V/2 and ``m``
  columns at -V/2 at once; the signs of the bit streams split every slot into (at most) four
  phases of one polarity each — rows of positive input with columns of positive error, and so on
  — and a phase with no driven row or no driven column is not driven
  (:attr:`CircuitModels.slot_energy`).

:class:`SchemeCosts` tabulates, from the fitted model of the scheme's operation, the energy of
one operation that is *shared* — half-selected cells, wires and drivers — against the number of
driven lines (a grid, interpolated linearly), per polarity; the selected cells of the operation
stay costed per pulse. Arrays are tiles of ``rows x cols``: a layer's ``(outputs, inputs)`` counts
are split into tiles of the physical array (inputs on rows) and every tile runs its own
operations.
"""

from dataclasses import dataclass

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.circuits.energy_models import WRITE_TERM_PART

__all__ = ["SCHEMES", "SchemeCosts"]

SCHEMES = ("serial", "row_parallel", "parallel_stochastic")
_SHARED = ("half_selected_j", "wires_drivers_j")
_GRID = 33  # grid points per driven-line axis


def _grid(n):
    return np.unique(np.round(np.linspace(1, n, min(n, _GRID))).astype(int))


def _shared_parts(terms):
    """``(half_selected_j, wires_drivers_j)`` of one operation's terms (the selected cells excluded)."""
    parts = {"half_selected": 0.0, "wires_drivers": 0.0}
    for name, value in terms.items():
        part = WRITE_TERM_PART[name]
        if part != "selected":
            parts[part] += value
    return parts["half_selected"], parts["wires_drivers"]


@dataclass(frozen=True)
class SchemeCosts:
    """Shared energy (J) of one operation of a parallel scheme against the lines it drives, per polarity."""

    scheme: str
    rows: int
    """Array rows (inputs per tile)."""
    cols: int
    """Array columns (outputs per tile)."""
    shared_j: dict
    """``{"up"|"down": ndarray (rows + 1, cols + 1, 2)}``: half-selected and wires/drivers joules of
    an operation driving ``k`` rows and ``m`` columns at ``[k, m]`` (row operations: ``k = 1``);
    zero where no line is driven."""

    @classmethod
    def from_model(cls, model, params, amplitude_v, width_s, rows, cols, x0=0.5):
        """Tables from a fitted row-operation or slot :class:`~memcosim.circuits.models.WriteEnergyModel`.

        The model is evaluated on a grid of driven-line counts (at most 33 per axis) and
        interpolated linearly in between; every cell at normalised state ``x0`` (the state of the
        cells a pulse does not select enters only through their small half-select terms).
        """
        scheme = {"row": "row_parallel", "slot": "parallel_stochastic"}.get(model.operation)
        if scheme is None:
            raise ConfigError(f"update scheme: needs a row-operation or slot energy model, got operation {model.operation!r}")
        row_grid = np.array([1]) if scheme == "row_parallel" else _grid(rows)
        col_grid = _grid(cols)
        ks = np.arange(1, rows + 1) if scheme == "parallel_stochastic" else np.array([1])
        shared = {}
        for direction, sign in (("up", 1), ("down", -1)):
            amp = sign * params.potentiation_polarity * amplitude_v
            coarse = np.array([[_shared_parts(model.terms_j(params, amp, width_s, x0, rows, cols, int(k), int(m)))
                                for m in col_grid] for k in row_grid])  # (len(row_grid), len(col_grid), 2)
            full = np.zeros((rows + 1, cols + 1, 2))
            for c in range(2):
                by_m = np.array([np.interp(np.arange(1, cols + 1), col_grid, coarse[a, :, c]) for a in range(len(row_grid))])
                if len(row_grid) > 1:
                    by_m = np.array([np.interp(ks, row_grid, by_m[:, j]) for j in range(cols)]).T
                full[ks[0]:ks[-1] + 1, 1:, c] = by_m
            shared[direction] = full
        return cls(scheme, rows, cols, shared)

    def _table(self, direction, device):
        return torch.as_tensor(self.shared_j[direction], dtype=torch.float64, device=device)

    def operations_j(self, driven_rows, driven_cols, direction):
        """Shared energy (J, float64 tensor ``(2,)``) of operations driving ``driven_rows`` x ``driven_cols`` lines.

        One entry per operation (integer tensors of one shape); entries with no driven row or
        column cost nothing (that operation is not driven).
        """
        table = self._table(direction, driven_cols.device)
        return table[driven_rows.reshape(-1).long(), driven_cols.reshape(-1).long()].sum(dim=0)

    def row_operations_j(self, n, direction):
        """Shared energy (J, ``(2,)``) of the row operations that apply pulse counts ``n`` in one direction.

        ``n`` (outputs, inputs), >= 0, in a layer's weight layout (inputs are array rows). In
        every tile row the ``r``-th operation pulses the ``m_r`` columns that still need a pulse;
        with the row's counts sorted, ``s_1 >= s_2 >= ...``, exactly ``s_m - s_(m+1)``
        operations drive ``m`` columns, so no loop over rounds (and no host synchronisation).
        """
        table = self._table(direction, n.device)[1]  # (cols + 1, 2): one driven row
        n_out, n_in = n.shape
        t = torch.nn.functional.pad(n.T.to(torch.float64), (0, -n_out % self.cols, 0, -n_in % self.rows))
        tiles = t.reshape(t.shape[0] // self.rows, self.rows, t.shape[1] // self.cols, self.cols)
        s = torch.sort(tiles, dim=3, descending=True).values
        rounds = s - torch.nn.functional.pad(s[..., 1:], (0, 1))  # operations that drive exactly m columns
        return (rounds.reshape(-1, self.cols) @ table[1:]).sum(dim=0)
