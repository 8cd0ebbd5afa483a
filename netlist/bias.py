"""Write bias schemes of a crossbar: the voltage on every row and column during one write.

The selected row carries the pulse amplitude ``V`` and the selected column sits at 0 V, so the
selected cell sees ``V``. The unselected lines hold the other cells below the switching
threshold:

* ``v_half`` (V/2): every unselected row and column at ``V/2``; half-selected cells (on the
  selected row or column) see ``V/2``, the others 0 V.
* ``v_third`` (V/3): unselected rows at ``V/3``, unselected columns at ``2V/3``; every
  unselected cell sees ``+-V/3``.

This module is the one place these levels are written; the write decks
(:func:`memcosim.netlist.write_deck`), the HZO write-cell values and the circuit energy models
read them from :func:`bias_levels`.

Examples
--------
>>> levels = bias_levels("v_third", 3.0)
>>> levels.unselected_row_v, levels.unselected_col_v
(1.0, 2.0)
>>> levels.cell_voltages_v(2, 2, 0, 0).tolist()
[[3.0, 1.0], [1.0, -1.0]]
"""

import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.base.typed import JsonRecord

__all__ = ["BIAS_SCHEMES", "BiasLevels", "bias_levels", "row_operation_voltages_v", "stochastic_slot_voltages_v"]

BIAS_SCHEMES = ("v_half", "v_third")
"""The write bias schemes :func:`bias_levels` knows."""


@dataclass(frozen=True)
class BiasLevels(JsonRecord):
    """Line voltages of one write pulse, volts (signed like the pulse amplitude); ``to_json`` /
    ``from_json`` by :class:`~memcosim.base.typed.JsonRecord`."""

    selected_row_v: float
    """Voltage on the selected row (word line), volts: the pulse amplitude."""
    unselected_row_v: float
    """Voltage on every other row, volts."""
    selected_col_v: float
    """Voltage on the selected column (bit line), volts: 0."""
    unselected_col_v: float
    """Voltage on every other column, volts."""

    def line_voltages_v(self, rows, cols, row, col):
        """Row and column voltages of a ``rows`` x ``cols`` array writing cell (``row``, ``col``).

        Returns
        -------
        (ndarray, ndarray)
            Shapes (rows,) and (cols,), volts.
        """
        v_rows = np.where(np.arange(rows) == row, self.selected_row_v, self.unselected_row_v)
        v_cols = np.where(np.arange(cols) == col, self.selected_col_v, self.unselected_col_v)
        return v_rows, v_cols

    def cell_voltages_v(self, rows, cols, row, col):
        """Nominal voltage across every cell (row minus column, wires ideal), shape (rows, cols), volts."""
        v_rows, v_cols = self.line_voltages_v(rows, cols, row, col)
        return v_rows[:, None] - v_cols[None, :]


def bias_levels(scheme, amplitude_v):
    """The line voltages of a write of ``amplitude_v`` under ``scheme``.

    Parameters
    ----------
    scheme : {"v_half", "v_third"}
        Bias scheme (see the module docstring).
    amplitude_v : float
        Signed pulse amplitude on the selected row, volts (finite).

    Returns
    -------
    BiasLevels

    Raises
    ------
    ConfigError
        Unknown ``scheme`` or a non-finite ``amplitude_v``.
    """
    if scheme not in BIAS_SCHEMES:
        raise ConfigError(f"scheme: must be one of {list(BIAS_SCHEMES)}, got {scheme!r}")
    if not (isinstance(amplitude_v, (int, float, np.integer, np.floating)) and math.isfinite(amplitude_v)):
        raise ConfigError(f"amplitude_v: must be a finite voltage, got {amplitude_v!r}")
    v = float(amplitude_v)
    if scheme == "v_half":
        return BiasLevels(selected_row_v=v, unselected_row_v=v / 2, selected_col_v=0.0, unselected_col_v=v / 2)
    return BiasLevels(selected_row_v=v, unselected_row_v=v / 3, selected_col_v=0.0, unselected_col_v=2 * v / 3)


def _members(indices, n, what):
    chosen = np.zeros(n, dtype=bool)
    idx = np.asarray(sorted(set(int(i) for i in indices)), dtype=int)
    if idx.size == 0:
        raise ConfigError(f"{what}: at least one line must be driven")
    if idx.min() < 0 or idx.max() >= n:
        raise ConfigError(f"{what}: indices must lie in [0, {n - 1}], got {idx.min()}..{idx.max()}")
    chosen[idx] = True
    return chosen


def row_operation_voltages_v(scheme, amplitude_v, rows, cols, row, pulsed_cols):
    """Line voltages of one row operation (row-parallel programming), volts.

    The selected ``row`` carries ``amplitude_v``; every column in ``pulsed_cols`` sits at 0 V (its
    cell on the selected row sees the full pulse), every other column at the scheme's inhibit
    level and every other row at the scheme's unselected level (:func:`bias_levels`): with
    ``v_half`` the inhibited cells of the selected row see ``V/2``, with ``v_third`` ``V/3``.

    Returns
    -------
    (ndarray, ndarray)
        Row voltages (rows,) and column voltages (cols,).
    """
    levels = bias_levels(scheme, amplitude_v)
    on_row = _members([row], rows, "row")
    pulsed = _members(pulsed_cols, cols, "pulsed_cols")
    v_rows = np.where(on_row, levels.selected_row_v, levels.unselected_row_v)
    v_cols = np.where(pulsed, levels.selected_col_v, levels.unselected_col_v)
    return v_rows, v_cols


def stochastic_slot_voltages_v(amplitude_v, rows, cols, driven_rows, driven_cols):
    """Line voltages of one time slot of a parallel stochastic update (Gokmen & Vlasov), volts.

    Every row whose bit is set is driven at ``+V/2`` and every column whose bit is set at
    ``-V/2``; all other lines stay at 0 V. A coincidence (driven row and driven column) sees the
    full ``V``, a cell on one driven line ``V/2``, every other cell 0 V. A negative
    ``amplitude_v`` is the other polarity's slot.

    Returns
    -------
    (ndarray, ndarray)
        Row voltages (rows,) and column voltages (cols,).
    """
    if not (isinstance(amplitude_v, (int, float, np.integer, np.floating)) and math.isfinite(amplitude_v) and amplitude_v != 0):
        raise ConfigError(f"amplitude_v: must be a finite non-zero voltage, got {amplitude_v!r}")
    half = float(amplitude_v) / 2
    v_rows = np.where(_members(driven_rows, rows, "driven_rows"), half, 0.0)
    v_cols = np.where(_members(driven_cols, cols, "driven_cols"), -half, 0.0)
    return v_rows, v_cols
