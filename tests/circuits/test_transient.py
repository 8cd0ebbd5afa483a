"""The native transient engine against ngspice on the same pulse decks (8 x 8 to 32 x 32): every
energy of the split within 1 % and every node voltage within 1 mV; and the deck's cell values
tied to the ones the engine uses."""

import re

import numpy as np
import pytest

from memcosim.base.errors import ConfigError, SimulationError
from memcosim.circuits.energy_split import line_pulse_energy_split
from memcosim.circuits.ngspice import run_ngspice
from memcosim.circuits.pulse_cells import pulse_cells
from memcosim.circuits.transient import simulate_pulse
from memcosim.devices import load_device_params
from memcosim.netlist import AccessTransistor, CrossbarSpec, write_deck
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.netlist.crossbar import row_operation_deck, stochastic_slot_deck

HZO = load_device_params("hzo")
MTJ = load_device_params("mtj")


def _spec(kind, n, **kw):
    if kind == "hzo":
        g = np.random.default_rng(n).uniform(HZO.g_min_s, HZO.g_max_s, (n, n))
        return CrossbarSpec(g, cell="hzo", hzo_params=HZO, c_wire_f=1e-16, **kw)
    states = np.random.default_rng(n).integers(0, 2, (n, n))
    return CrossbarSpec.from_mtj(states, MTJ, c_wire_f=1e-16, **kw)


def _case(kind, operation, n, amplitude_v, width_s):
    spec = _spec(kind, n)
    if operation == "write":
        deck = write_deck(spec, n - 1, 0, amplitude_v, width_s)
        lines = bias_levels("v_half", amplitude_v).line_voltages_v(n, n, n - 1, 0)
    elif operation == "row":
        deck = row_operation_deck(spec, 0, range(n // 2), amplitude_v, width_s)
        lines = row_operation_voltages_v("v_half", amplitude_v, n, n, 0, range(n // 2))
    else:
        deck = stochastic_slot_deck(spec, range(n // 2), range(n // 2), amplitude_v, width_s)
        lines = stochastic_slot_voltages_v(amplitude_v, n, n, range(n // 2), range(n // 2))
    return spec, deck, lines


def _compare(spec, deck, lines, width_s):
    spice = run_ngspice(deck, timeout_s=1800)  # a 32 x 32 deck: 7 s of CPU, minutes on a crowded machine
    reference = line_pulse_energy_split(spice, spec, *lines, width_s)
    run = simulate_pulse(spec, *lines, width_s, keep_waveforms=True)
    for key in ("selected_cell_j", "half_selected_j", "wires_j", "drivers_j", "sources_j"):
        assert run.split[key] == pytest.approx(reference[key], rel=0.01), key
    t = spice.vectors["time"]
    nodes = [k for k in run.vectors if "#" not in k and k != "time"]
    worst = max(float(np.max(np.abs(np.interp(t, run.time_s, run.vectors[k]) - spice.vectors[k]))) for k in nodes)
    assert worst < 1e-3
    return run, reference


@pytest.mark.ngspice
@pytest.mark.parametrize("kind, operation, n, amplitude_v, width_s", [
    ("hzo", "write", 8, -3.0, 2e-8),
    ("hzo", "write", 8, 3.0, 2e-4),
    ("mtj", "write", 8, 1.0, 1e-8),
    ("hzo", "row", 16, 3.0, 2e-8),
    ("hzo", "slot", 16, -3.0, 2e-6),
    ("mtj", "slot", 16, -0.8, 5e-9),
])
def test_native_transient_equals_ngspice(kind, operation, n, amplitude_v, width_s):
    run, reference = _compare(*_case(kind, operation, n, amplitude_v, width_s)[:3], width_s)
    assert abs(run.split["balance_j"]) < 0.005 * run.split["sources_j"]  # energy is conserved natively too
    assert run.steps > 50 and run.factorisations >= 1


@pytest.mark.ngspice
@pytest.mark.slow
def test_native_transient_equals_ngspice_at_32():
    _compare(*_case("hzo", "write", 32, -3.0, 2e-8)[:3], 2e-8)


def test_the_deck_cells_are_the_engine_cells():
    """The write deck's per-cell subcircuit values and dielectric capacitance are the ones the
    native engine integrates (both from memcosim.circuits.pulse_cells / the device functions)."""
    spec, deck, lines = _case("hzo", "slot", 4, 3.0, 2e-6)
    cells = pulse_cells(spec, lines[0][:, None] - lines[1][None, :], 2e-6)
    found = re.findall(r"^X(\d+)_(\d+) \S+ \S+ hzocell gread=(\S+) gsw=(\S+)$", deck, re.MULTILINE)
    assert len(found) == 16
    for i, j, gread, gsw in found:
        assert float(gread) == cells.conductance_s[int(i), int(j)] and float(gsw) == cells.switching_conductance_s[int(i), int(j)]
    assert float(re.search(r"^cdiel a b (\S+)$", deck, re.MULTILINE).group(1)) == cells.capacitance_f
    assert np.count_nonzero(cells.switching_conductance_s) == 12  # cells on a driven line see V or V/2


def test_refusals(monkeypatch):
    lines = bias_levels("v_half", 1.0).line_voltages_v(2, 2, 0, 0)
    with pytest.raises(SimulationError, match="access transistors"):
        simulate_pulse(_spec("mtj", 2, access=AccessTransistor()), *lines, 1e-8)
    with pytest.raises(SimulationError, match="r_driver_ohm > 0"):
        simulate_pulse(_spec("hzo", 2, r_driver_ohm=0.0), *lines, 1e-8)
    with pytest.raises(SimulationError, match="v_rows, v_cols"):
        simulate_pulse(_spec("hzo", 2), lines[0][:1], lines[1], 1e-8)
    monkeypatch.setenv("MEMCOSIM_MEMORY_BUDGET_GB", "0.01")
    with pytest.raises(ConfigError, match="native transient of a 512 x 512 array needs about"):
        simulate_pulse(_spec("hzo", 512), *bias_levels("v_half", 3.0).line_voltages_v(512, 512, 0, 0), 2e-8)
