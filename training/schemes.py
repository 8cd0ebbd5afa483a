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
driven lines (a grid, interpolated linearly), per polarity, and against the state of the cells
on the driven lines; the selected cells of the operation stay costed per pulse, at their own
state. A serial pulse is an operation too (one row, one column: the single-cell write model),
so all three schemes cost the cells they do not select the same way: at the mean normalised
state of the layer's array when the update is applied (:meth:`SchemeCosts.at_state`; the
half-selected cells of an operation are the cells of its lines, whose states the ledger does not
follow one by one, and the array's mean is their estimate). Half-selected energy depends
strongly on that state (conduction, and the disturb switching a V/2 pulse does to cells far
from the end it drives them to): tables at a fixed mid state over-costed the parallel schemes by
up to 24 % on the MNIST MLP (docs/update-schemes.md). Arrays are tiles of ``rows x cols``: a layer's ``(outputs, inputs)`` counts
are split into tiles of the physical array (inputs on rows) and every tile runs its own
operations.
"""

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.circuits.energy_models import WRITE_TERM_PART

__all__ = ["UPDATE_SCHEMES", "SCHEME_OPERATION", "parallel_operations", "SchemeCosts", "scheme_energy",
           "slot_phase_counts"]

UPDATE_SCHEMES = ("serial", "row_parallel", "parallel_stochastic")
"""How a tile's update pulses are issued (the write bias schemes are :data:`memcosim.netlist.bias.BIAS_SCHEMES`)."""
SCHEME_OPERATION = {"serial": "cell", "row_parallel": "row", "parallel_stochastic": "slot"}
"""The write operation (:data:`memcosim.circuits.energy_models.OPERATIONS`) whose fitted energy
model costs each update scheme's pulses: one cell, one row operation, one stochastic slot."""
_SHARED = ("half_selected_j", "wires_drivers_j")
_GRID = 33  # grid points per driven-line axis
STATES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Normalised states at which the shared energy is tabulated (interpolated linearly in between)."""


def parallel_operations(scheme):
    """The operations beyond the single cell an update scheme needs characterised: ``()``, ``("row",)`` or ``("slot",)``."""
    operation = SCHEME_OPERATION.get(scheme, "cell")
    return () if operation == "cell" else (operation,)


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
    """Shared energy (J) of one operation of a scheme against the lines it drives, per polarity."""

    scheme: str
    rows: int
    """Array rows (inputs per tile)."""
    cols: int
    """Array columns (outputs per tile)."""
    shared_j: dict
    """``{"up"|"down": ndarray (rows + 1, cols + 1, 2)}``: half-selected and wires/drivers joules of
    an operation driving ``k`` rows and ``m`` columns at ``[k, m]`` (row operations: ``k = 1``;
    serial pulses: ``k = m = 1``); zero where no line is driven. Tabulated at one state of the
    cells (:meth:`at_state` gives the tables at another)."""
    by_state: dict | None = None
    """``{"up"|"down": ndarray (len(STATES), rows + 1, cols + 1, 2)}``: the tables at each of
    :data:`STATES` (None: ``shared_j`` holds at every state)."""

    @classmethod
    def from_model(cls, model, params, amplitude_v, width_s, rows, cols):
        """Tables from a fitted single-cell, row-operation or slot :class:`~memcosim.circuits.models.WriteEnergyModel`.

        The model is evaluated on a grid of driven-line counts (at most 33 per axis) and
        interpolated linearly in between, with every cell at each normalised state of
        :data:`STATES`; ``shared_j`` starts at the middle one (0.5). ``amplitude_v``: volts, or a
        function of the state (:func:`~memcosim.training.ledger.pulse_amplitudes_v`), of which the
        operation takes the rms over the states (its lines serve cells in every state).
        """
        scheme = {operation: name for name, operation in SCHEME_OPERATION.items()}.get(model.operation)
        if scheme is None:
            raise ConfigError(f"update scheme: needs a cell, row-operation or slot energy model, got operation "
                              f"{model.operation!r}")
        row_grid = _grid(rows) if scheme == "parallel_stochastic" else np.array([1])
        col_grid = np.array([1]) if scheme == "serial" else _grid(cols)
        ks = np.arange(1, rows + 1) if scheme == "parallel_stochastic" else np.array([1])
        ms = np.arange(1, cols + 1) if scheme != "serial" else np.array([1])
        from memcosim.training.ledger import pulse_amplitudes_v

        by_state = {}
        for direction, sign in (("up", 1), ("down", -1)):
            # a state-dependent amplitude (measured devices): the shared lines see the rms amplitude
            volts = pulse_amplitudes_v(amplitude_v, np.linspace(0.0, 1.0, 65), direction)
            amp = sign * params.potentiation_polarity * float(np.sqrt(np.mean(volts**2)))
            per_state = []
            driven_rows, driven_cols = np.repeat(row_grid, len(col_grid)), np.tile(col_grid, len(row_grid))
            for x0 in STATES:
                if model.operation == "cell":
                    coarse = np.array([[_shared_parts(model.terms_j(params, amp, width_s, x0, rows, cols))]])
                else:  # every grid point's line voltages solved together
                    parts = _shared_parts(model.terms_many_j(params, amp, width_s, x0, rows, cols, driven_rows, driven_cols))
                    coarse = np.stack(parts, axis=-1).reshape(len(row_grid), len(col_grid), 2)
                full = np.zeros((rows + 1, cols + 1, 2))
                for c in range(2):
                    by_m = np.array([np.interp(ms, col_grid, coarse[a, :, c]) for a in range(len(row_grid))])
                    if len(row_grid) > 1:
                        by_m = np.array([np.interp(ks, row_grid, by_m[:, j]) for j in range(len(ms))]).T
                    full[ks[0]:ks[-1] + 1, ms[0]:ms[-1] + 1, c] = by_m
                per_state.append(full)
            by_state[direction] = np.stack(per_state)
        middle = STATES.index(0.5)
        return cls(scheme, rows, cols, {d: t[middle] for d, t in by_state.items()}, by_state)

    def at_state(self, x):
        """These costs with every cell of the driven lines at normalised state ``x`` (linear
        between the tabulated :data:`STATES`, clipped to [0, 1]); ``self`` without ``by_state``."""
        if self.by_state is None:
            return self
        key = round(min(max(float(x), 0.0), 1.0) * 256)  # 1/256 of the window: far below the model's error
        cache = self.__dict__.setdefault("_at_state", {})
        if key not in cache:
            pos = key / 256 * (len(STATES) - 1)
            lo = min(int(pos), len(STATES) - 2)
            frac = pos - lo
            tables = {d: t[lo] * (1 - frac) + t[lo + 1] * frac for d, t in self.by_state.items()}
            cache[key] = dataclasses.replace(self, shared_j=tables)
        return cache[key]

    def pulses_j(self, up, down):
        """Shared energy (J, ``(2,)``) of serial pulses: ``up`` and ``down`` pulse counts (tensors, summed)."""
        table = {d: self._table(d, up.device)[1, 1] for d in ("up", "down")}
        return up.to(torch.float64).sum() * table["up"] + down.to(torch.float64).sum() * table["down"]

    def _table(self, direction, device):
        return torch.as_tensor(self.shared_j[direction], dtype=torch.float64, device=device)

    def operations_j(self, driven_rows, driven_cols, direction):
        """Shared energy (J, float64 tensor ``(2,)``) of operations driving ``driven_rows`` x ``driven_cols`` lines.

        One entry per operation (integer tensors of one shape); entries with no driven row or
        column cost nothing (that operation is not driven).
        """
        table = self._table(direction, driven_cols.device)
        return table[driven_rows.reshape(-1).long(), driven_cols.reshape(-1).long()].sum(dim=0)

    def slots_j(self, streams, pair=False):
        """Shared energy (J, ``(2,)``) of every phase of every slot of one stochastic update.

        ``streams`` is the update's :class:`~memcosim.training.bitstreams.BitStreams`. In slot
        ``t`` of sample ``b`` each tile drives, per phase, the rows of one input sign and the
        columns of one error sign whose bits are set: (+, +) and (-, -) are up phases, (+, -)
        and (-, +) down phases (:func:`slot_phase_counts`). ``pair``: a differential pair's
        negative array runs the same slots with the opposite polarity.
        """
        rows_pos, rows_neg = slot_phase_counts(streams.x_mask, streams.x_sign, streams.bit_length, self.rows)
        cols_pos, cols_neg = slot_phase_counts(streams.d_mask, streams.d_sign, streams.bit_length, self.cols)
        table = {d: self._table(d, rows_pos.device) for d in ("up", "down")}
        total = torch.zeros(2, dtype=torch.float64, device=rows_pos.device)
        phases = (("up", rows_pos, cols_pos), ("up", rows_neg, cols_neg), ("down", rows_pos, cols_neg),
                  ("down", rows_neg, cols_pos))
        for direction, k, m in phases:
            k4, m4 = k[:, :, None, :], m[:, None, :, :]  # (batch, row tiles, col tiles, slots)
            total += table[direction][k4, m4].sum(dim=(0, 1, 2, 3))
            if pair:
                total += table["down" if direction == "up" else "up"][k4, m4].sum(dim=(0, 1, 2, 3))
        return total

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


def slot_phase_counts(mask, sign, bit_length, tile):
    """Driven lines per tile and slot, split by the lines' polarity.

    Parameters
    ----------
    mask : torch.Tensor (batch, lines, words) int64
        Bit-packed pulse trains (bit ``l`` of word ``w``: slot ``32 w + l``).
    sign : torch.Tensor (batch, lines) int64
        Polarity of each line's pulses.
    bit_length : int
        Slots per train.
    tile : int
        Lines per array tile (the lines are split into tiles of this many, zero-padded).

    Returns
    -------
    (torch.Tensor, torch.Tensor)
        Counts of driven positive and negative lines, int64 ``(batch, tiles, bit_length)``.
    """
    batch, lines, words = mask.shape
    pad = -lines % tile
    pos = torch.nn.functional.pad((sign > 0).to(torch.int64), (0, pad))
    neg = torch.nn.functional.pad((sign < 0).to(torch.int64), (0, pad))
    mask = torch.nn.functional.pad(mask, (0, 0, 0, pad))
    lanes = min(32, bit_length)
    out = torch.zeros((2, batch, (lines + pad) // tile, words, 32), dtype=torch.int64, device=mask.device)
    for lane in range(lanes):  # one bit plane per slot position in a word (at most 32)
        plane = (mask >> lane) & 1  # (batch, lines, words)
        for s, which in enumerate((pos, neg)):
            out[s, ..., lane] = (plane * which[..., None]).reshape(batch, -1, tile, words).sum(dim=2)
    out = out.reshape(2, batch, -1, words * 32)[..., :bit_length]
    return out[0], out[1]


def scheme_energy(models, scheme, params, amplitude_v, width_s, rows, cols):
    """The per-pulse table and the shared operation costs of ``scheme`` from fitted :class:`CircuitModels`.

    ``serial``: the single-cell write model; ``row_parallel`` / ``parallel_stochastic``: the
    row-operation or slot model. Each gives the selected cells' energy per pulse (the table) and
    :class:`SchemeCosts` for the rest (per pulse for ``serial``, per operation otherwise).

    Returns
    -------
    (WriteEnergyTable, SchemeCosts)
    """
    if scheme not in UPDATE_SCHEMES:
        raise ConfigError(f"circuit.update_scheme: got {scheme!r}; allowed: {', '.join(UPDATE_SCHEMES)}")
    key = _tables_key(models, scheme, params, amplitude_v, width_s, rows, cols)
    try:
        hit = _TABLES.get(key)
    except TypeError:  # an unhashable device: computed every time
        return _scheme_energy(models, scheme, params, amplitude_v, width_s, rows, cols)
    if hit is not None:
        _TABLES[key] = _TABLES.pop(key)  # the most recently used is the last to go
        return hit
    tables = _scheme_energy(models, scheme, params, amplitude_v, width_s, rows, cols)
    while len(_TABLES) >= _TABLES_KEPT:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[key] = tables
    return tables


def _tables_key(models, scheme, params, amplitude_v, width_s, rows, cols):
    """What :func:`_scheme_energy` reads, by content: the scheme's fitted model (its JSON), the device,
    the amplitudes it takes at the tabulated states (a state-dependent amplitude is a function) and
    the pulse and array sizes."""
    from memcosim.training.ledger import TABLE_STATES, pulse_amplitudes_v

    model = getattr(models, _SCHEME_MODEL.get(scheme, ""), None)
    grid = np.linspace(0.0, 1.0, TABLE_STATES)
    volts = tuple(pulse_amplitudes_v(amplitude_v, grid, d).tobytes() for d in ("up", "down"))
    fitted = None if model is None else json.dumps(model.to_json(), sort_keys=True)
    return fitted, scheme, params, volts, float(width_s), int(rows), int(cols)


_SCHEME_MODEL = {"serial": "write_energy", "row_parallel": "row_energy", "parallel_stochastic": "slot_energy"}
"""The fitted model (a field of :class:`~memcosim.circuits.models.CircuitModels`) each scheme's tables come from."""

_TABLES = {}
""":func:`scheme_energy`'s recent results, by content: every tile of a network at one pulse (a
Tiki-Taka layer's fast array, a copy of the layer's tile) and the next runs of a study's worker
at that pulse share one computation of their tables (seconds each: 11 s for a 32 x 32 slot model)."""
_TABLES_KEPT = 32
"""Tables kept (least recently used go first; a 32 x 32 slot model's take ~0.2 MB): every pulse width and
scheme of a study's sweep (the measured study: 6 widths x slot and row tables in each worker)."""


def _scheme_energy(models, scheme, params, amplitude_v, width_s, rows, cols):
    from memcosim.training.ledger import WriteEnergyTable

    name = _SCHEME_MODEL[scheme]
    model = getattr(models, name)
    if model is None:
        raise ConfigError(f"models: no {name} for circuit.update_scheme {scheme!r}; characterise the array again "
                          "(memcosim characterize) or set circuit.update_scheme = 'serial'")
    table = WriteEnergyTable.from_circuit_model(model, params, amplitude_v, width_s, rows, cols)
    zero = {part: np.zeros_like(values) for part, values in table.per_pulse_j["up"].items() if part in _SHARED}
    selected = {d: {**table.per_pulse_j[d], **zero} for d in ("up", "down")}
    costs = SchemeCosts.from_model(model, params, amplitude_v, width_s, rows, cols)
    return WriteEnergyTable(selected, table.switching_j_per_dx, f"circuit/{scheme}", table.pulse), costs
