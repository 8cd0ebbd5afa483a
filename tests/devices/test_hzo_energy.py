"""The energy of one HZO pulse: the laws written once (memcosim.devices.pulse_energy,
memcosim.devices.hzo_energy) and the write deck's switching element tied to them."""

import re

import numpy as np
import pytest

from memcosim.devices import hzo, hzo_energy, load_device_params
from memcosim.devices.pulse_energy import capacitive_energy_j, conduction_energy_j, switching_energy_j
from memcosim.netlist import CrossbarSpec, bias_levels, write_deck

PARAMS = load_device_params("hzo")
WIDTH = 2e-6


def test_the_laws_closed_forms():
    assert conduction_energy_j(2.0, 3e-6, 1e-8) == pytest.approx(6e-14, rel=1e-15)
    assert capacitive_energy_j(2e-14, -3.0) == pytest.approx(1.8e-13, rel=1e-15)
    assert switching_energy_j(-3.0, 1e-13, 4) == pytest.approx(1.2e-12, rel=1e-15)


def test_a_pulse_costs_its_three_terms_at_the_cell():
    g0 = np.array([3e-8, 6e-8])
    e = hzo_energy.cell_pulse_energy_j(g0, PARAMS, -3.0, WIDTH)
    q = hzo_energy.pulse_switching_charge_c(g0, PARAMS, -3.0, WIDTH)
    dx = (hzo.apply_pulses(g0, 1, PARAMS, -3.0, WIDTH) - g0) / (PARAMS.g_max_s - PARAMS.g_min_s)
    assert np.allclose(q, 2 * PARAMS.remanent_polarization_c_m2 * PARAMS.area_m2 * np.abs(dx), rtol=1e-12)
    assert np.allclose(e.switching_j, 3.0 * q, rtol=1e-15) and np.all(e.switching_j >= 0)
    assert np.allclose(e.conduction_j, 3.0 * np.abs(hzo.read_current_a(g0, -3.0, PARAMS)) * WIDTH, rtol=1e-12)
    assert e.capacitive_j == pytest.approx(PARAMS.capacitance_f * 9.0, rel=1e-15)
    assert np.allclose(e.total_j, e.conduction_j + e.capacitive_j + e.switching_j, rtol=0)


def test_the_decks_switching_element_draws_the_switching_energy():
    """Each cell's ``gsw`` in the write deck dissipates ``gsw V^2 t = |V| Q``: the switching law."""
    g = np.array([[3e-8, 5e-8, 4e-8], [7e-8, 4e-8, 6e-8]])
    spec = CrossbarSpec(g, cell="hzo", hzo_params=PARAMS, c_wire_f=1e-16)
    text = write_deck(spec, 0, 1, -3.0, WIDTH)
    found = re.findall(r"^X(\d+)_(\d+) \S+ \S+ hzocell gread=(\S+) gsw=(\S+)$", text, re.MULTILINE)
    v_cell = bias_levels("v_half", -3.0).cell_voltages_v(2, 3, 0, 1)
    assert len(found) == 6
    switching = 0
    for i, j, gread, gsw in found:
        v = v_cell[int(i), int(j)]
        law = switching_energy_j(v, hzo_energy.pulse_switching_charge_c(float(gread), PARAMS, v, WIDTH)) if v else 0.0
        assert float(gsw) * v * v * WIDTH == pytest.approx(float(law), rel=1e-9, abs=1e-30)
        switching += float(gsw) > 0
    assert switching >= 1  # the selected cell switches
