"""Decks of a row operation and of a stochastic-update slot: line voltages, and energy that balances in ngspice."""

import numpy as np
import pytest

from memcosim.base.errors import ConfigError
from memcosim.circuits.energy_split import line_pulse_energy_split
from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import load_device_params
from memcosim.netlist import CrossbarSpec
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.netlist.crossbar import row_operation_deck, stochastic_slot_deck

HZO = load_device_params("hzo")


def spec(n=4):
    return CrossbarSpec(np.full((n, n), 6e-8), cell="hzo", hzo_params=HZO, c_wire_f=1e-16)


def test_slot_cells_see_v_at_coincidences_and_v_half_on_driven_lines():
    v_rows, v_cols = stochastic_slot_voltages_v(3.0, 4, 5, [0, 2], [1, 4])
    v_cell = v_rows[:, None] - v_cols[None, :]
    coincide = np.zeros((4, 5), bool)
    coincide[np.ix_([0, 2], [1, 4])] = True
    on_line = np.zeros((4, 5), bool)
    on_line[[0, 2], :] = True
    on_line[:, [1, 4]] = True
    assert np.all(v_cell[coincide] == 3.0)
    assert np.all(np.abs(v_cell[on_line & ~coincide]) == 1.5)
    assert np.all(v_cell[~on_line] == 0.0)
    # one row and one column: the same cell voltages as a serial V/2 write of that cell
    v_rows, v_cols = stochastic_slot_voltages_v(3.0, 4, 5, [2], [3])
    assert np.array_equal(v_rows[:, None] - v_cols[None, :], bias_levels("v_half", 3.0).cell_voltages_v(4, 5, 2, 3))


def test_row_operation_pulses_its_columns_and_inhibits_the_rest():
    v_rows, v_cols = row_operation_voltages_v("v_third", 3.0, 4, 5, 1, [0, 3])
    v_cell = v_rows[:, None] - v_cols[None, :]
    assert v_cell[1, 0] == v_cell[1, 3] == 3.0
    assert np.allclose(np.abs(np.delete(v_cell.ravel(), [5, 8])), 1.0)  # every other cell at V/3
    with pytest.raises(ConfigError, match="pulsed_cols: indices must lie in"):
        row_operation_voltages_v("v_half", 3.0, 4, 5, 1, [7])


@pytest.mark.ngspice
@pytest.mark.parametrize("make", [
    lambda s: (row_operation_deck(s, 1, [0, 2, 3], -3.0, 2e-8), row_operation_voltages_v("v_half", -3.0, 4, 4, 1, [0, 2, 3]), 2e-8),
    lambda s: (stochastic_slot_deck(s, [0, 3], [1, 2], 3.0, 2e-7), stochastic_slot_voltages_v(3.0, 4, 4, [0, 3], [1, 2]), 2e-7),
])
def test_operation_decks_run_and_their_energy_balances(make):
    s = spec()
    deck, (v_rows, v_cols), width = make(s)
    split = line_pulse_energy_split(run_ngspice(deck, timeout_s=60), s, v_rows, v_cols, width)
    assert split["selected_cell_j"] > 0 and split["half_selected_j"] > 0
    assert abs(split["balance_j"]) < 0.08 * split["sources_j"]
