"""r_wire_ohm = 0 is ideal wires: the decks short every segment exactly (no hidden 1e-9 ohm)."""

import numpy as np
import pytest

from memcosim.circuits.energy_split import supply_energies_j
from memcosim.circuits.native import solve_deck
from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import load_device_params
from memcosim.netlist import CrossbarSpec, read_deck, write_deck

G = np.array([[1e-5, 2e-5, 3e-5], [4e-5, 5e-5, 6e-5]])
V = np.array([0.2, -0.1])


def test_ideal_wire_segments_are_zero_volt_sources():
    text = read_deck(CrossbarSpec(G, r_wire_ohm=0.0, r_driver_ohm=0.0), V)
    assert "* row wires (ideal: 0 V sources)\n" in text
    assert "VWR0_0 r0_0 r0_1 DC 0\n" in text and "VWC1_2 c1_2 out2 DC 0\n" in text
    assert "RWR" not in text and "RWC" not in text and "1e-09" not in text
    resistive = read_deck(CrossbarSpec(G, r_wire_ohm=2.0), V)
    assert "RWR0_0 r0_0 r0_1 2.0\n" in resistive and "VWR" not in resistive


def test_ideal_wires_give_the_ideal_column_currents():
    text = read_deck(CrossbarSpec(G, r_wire_ohm=0.0, r_driver_ohm=0.0), V)
    currents = solve_deck(text).source_currents
    assert np.allclose([currents[f"vsns{j}"] for j in range(3)], V @ G, rtol=1e-12, atol=1e-18)


@pytest.mark.ngspice
def test_ideal_wire_decks_run_in_ngspice():
    text = read_deck(CrossbarSpec(G, r_wire_ohm=0.0, r_driver_ohm=0.0), V)
    currents = run_ngspice(text, backend="subprocess", timeout_s=60).source_currents()
    assert np.allclose([currents[f"vsns{j}"] for j in range(3)], V @ G, rtol=1e-9, atol=1e-15)
    spec = CrossbarSpec(np.full((2, 2), 5e-8), cell="hzo", hzo_params=load_device_params("hzo"), r_wire_ohm=0.0,
                        c_wire_f=1e-16)
    energies = supply_energies_j(run_ngspice(write_deck(spec, 0, 1, -3.0, 2e-6), backend="subprocess", timeout_s=60), spec)
    assert energies["vrow0"] > 0
