"""The switching-kinetics HZO model (devices/hzo_kinetics.py): the field law against its closed
forms, the whole film against the closed form of the power law, and the model as an HZO device."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import special

from memcosim.base.errors import ConfigError
from memcosim.devices import hzo, hzo_energy, load_device_params
from memcosim.devices.hzo_kinetics import (FieldLaw, HZOKineticsParams, family_switched_fraction, log_switching_time,
                                           switched_fraction)

PARAMS = HZOKineticsParams(g_min_s=1e-8, g_max_s=1e-7, law=FieldLaw(exponent=12.0, curvature=0.6, time_spread=1.0),
                           switching_voltage_up_v=0.5, switching_voltage_down_v=0.7, voltage_spread_up=0.3,
                           voltage_spread_down=0.4, tail_fraction=0.2, tail_switching_voltage_up_v=1.5,
                           tail_switching_voltage_down_v=1.2, tail_voltage_spread=0.3)
UP = PARAMS.potentiation_polarity * 2.0


@pytest.mark.parametrize("ratio", [0.3, 1.0, 2.0, 7.0])
def test_law_is_the_power_law_at_zero_curvature_and_merz_at_one(ratio):
    r = math.log(ratio)
    assert log_switching_time(r, 12.0, 0.0) == pytest.approx(12.0 * r, abs=1e-12)
    # n = 1: Merz's law t0 = tau_inf exp(E_a / E), tau_inf = e^-alpha s, V_a = alpha V_s
    assert log_switching_time(r, 12.0, 1.0) == pytest.approx(-12.0 + 12.0 * ratio, rel=1e-12)
    # continuous through n = 0, and the same on arrays and tensors
    assert log_switching_time(r, 12.0, 1e-7) == pytest.approx(12.0 * r, rel=1e-5, abs=1e-9)
    arr = log_switching_time(np.array([r]), 12.0, np.array([0.0, 0.5, 1.0]))
    ten = log_switching_time(torch.tensor([r], dtype=torch.float64), 12.0, torch.tensor([0.0, 0.5, 1.0],
                                                                                         dtype=torch.float64), torch)
    assert np.allclose(arr, ten.numpy(), rtol=1e-12)
    assert arr[1] == pytest.approx(12.0 * (ratio**0.5 - 1) / 0.5, rel=1e-12)


def test_law_at_the_switching_voltage_takes_the_reference_time_and_falls_with_field():
    for n in (0.0, 0.4, 1.0, 2.5):
        assert log_switching_time(0.0, 15.0, n) == 0.0  # t0(V_s) = 1 s
        times = [log_switching_time(math.log(0.5 / v), 15.0, n) for v in (0.2, 0.5, 1.0, 5.0)]
        assert all(a > b for a, b in zip(times, times[1:]))
    assert log_switching_time(math.log(1e6), 15.0, 1.0) == 700.0  # capped: no switching at ~0 V


@pytest.mark.parametrize("n", [0.0, 0.7, 1.5])
@pytest.mark.parametrize("volts", [0.3, 1.0, 3.0])
def test_family_switches_half_at_t0_nothing_at_zero_all_at_infinity(n, volts):
    law = FieldLaw(exponent=10.0, curvature=n, time_spread=1.3)
    t0 = math.exp(log_switching_time(math.log(0.8 / volts), 10.0, n))
    assert family_switched_fraction(t0, volts, 0.8, law) == pytest.approx(0.5, abs=1e-12)
    assert family_switched_fraction(t0 * 1e-12, volts, 0.8, law) < 1e-9
    assert family_switched_fraction(t0 * 1e12, volts, 0.8, law) > 1 - 1e-9
    p = family_switched_fraction(t0 * np.logspace(-6, 6, 40), volts, 0.8, law)
    assert np.all(np.diff(p) >= 0) and np.all(np.diff(p)[10:30] > 0)


def test_film_matches_the_closed_form_of_the_power_law():
    """n = 0: ln t0 is normal with width alpha * sigma_v about alpha ln(V_s / V), so the film switches
    as Phi((ln t - alpha ln(V_s / V)) / sqrt(time_spread^2 + alpha^2 sigma_v^2))."""
    alpha, spread_t, spread_v = 10.0, 0.8, 0.25
    film = HZOKineticsParams(law=FieldLaw(exponent=alpha, curvature=0.0, time_spread=spread_t),
                             switching_voltage_up_v=0.6, voltage_spread_up=spread_v, bins=128)
    t = np.logspace(-9, -1, 25)
    for volts in (0.8, 1.5):
        closed = special.ndtr((np.log(t) - alpha * math.log(0.6 / volts)) / math.hypot(spread_t, alpha * spread_v))
        assert np.max(np.abs(switched_fraction(t, volts, film) - closed)) < 3e-3  # 128 quantile bins


def test_a_pulse_from_the_unswitched_film_follows_the_switched_fraction():
    # the state is kept 1e-9 off the bounds (hzo_switching._EPS), a time 6 time_spreads below t0
    weights = np.array([w for w, _, _ in PARAMS.populations])
    for width, volts in ((2e-6, 3.0), (2e-6, 2.0), (2e-4, 1.0), (2e-2, 0.6)):
        state = np.zeros((1, len(PARAMS.populations)))
        after = hzo.apply_pulses_state(state, 1, PARAMS, PARAMS.potentiation_polarity * volts, width)
        expected = float(switched_fraction(width, volts, PARAMS))
        assert 0.01 < expected < 0.99
        assert float(after[0] @ weights) == pytest.approx(expected, abs=2e-3)


def test_history_composes_pulse_times_and_trains_are_exact():
    state = hzo.state_from_conductance(np.array([3e-8]), PARAMS)
    two = hzo.apply_pulses_state(hzo.apply_pulses_state(state, 1, PARAMS, UP, 1e-6), 1, PARAMS, UP, 3e-6)
    one = hzo.apply_pulses_state(state, 1, PARAMS, UP, 4e-6)
    assert np.allclose(two, one, rtol=1e-9, atol=1e-12)
    x = state
    for _ in range(4):
        x = hzo.apply_pulses_state(x, 1, PARAMS, -UP, 2e-7)
    assert np.allclose(hzo.apply_pulses_state(state, 4, PARAMS, -UP, 2e-7), x, rtol=1e-9, atol=1e-12)


def test_width_dependence_is_derived_longer_and_larger_pulses_switch_more():
    g0 = np.array([5e-8])
    for amp in (UP, -UP):
        by_width = [abs(hzo.apply_pulses(g0, 1, PARAMS, amp, w)[0] - g0[0]) for w in (2e-8, 2e-6, 2e-4)]
        by_volts = [abs(hzo.apply_pulses(g0, 1, PARAMS, amp * s, 2e-6)[0] - g0[0]) for s in (0.5, 1.0, 1.5)]
        assert by_width[0] < by_width[1] < by_width[2] and by_volts[0] < by_volts[1] < by_volts[2]


def test_an_hzo_device_for_training_and_energy():
    g = np.linspace(PARAMS.g_min_s, PARAMS.g_max_s, 7)
    n = np.array([-4, -1, 0, 1, 2, 10, -100])
    a = hzo.pulse_response(g, n, PARAMS, 2.0, 2e-6)
    b = hzo.pulse_response(torch.tensor(g, dtype=torch.float64), torch.tensor(n), PARAMS, 2.0, 2e-6)
    assert np.allclose(a, b.numpy(), rtol=1e-10, atol=0)
    assert np.all((a >= PARAMS.g_min_s) & (a <= PARAMS.g_max_s))
    assert PARAMS.g_min_s < hzo.symmetry_point(PARAMS, 2.0, 2e-6) < PARAMS.g_max_s
    energy = hzo_energy.cell_pulse_energy_j(np.array([3e-8]), PARAMS, UP, 2e-6)
    assert energy.switching_j[0] > 0 and energy.total_j[0] > energy.switching_j[0]
    rng = np.random.default_rng(0)
    dev = hzo.sample_device_params(PARAMS, (5,), 0.1, rng)
    spread = hzo.pulse_response(np.full(5, 5e-8), np.ones(5), PARAMS, 2.0, 2e-6, device_params=dev)
    assert np.ptp(spread) > 0


def test_parameters_round_trip_and_load_as_an_hzo_device(tmp_path):
    again = HZOKineticsParams.from_dict(json.loads(json.dumps(PARAMS.to_dict())))
    assert again == PARAMS and len(again.populations) == PARAMS.bins + PARAMS.tail_bins
    path = tmp_path / "device.json"
    path.write_text(json.dumps({"model": "hzo_kinetics", "params": PARAMS.to_dict()}))
    assert load_device_params("hzo", path) == PARAMS
    with pytest.raises(ConfigError, match="expected hzo or hzo_kinetics"):
        path.write_text(json.dumps({"model": "mtj", "params": {}}))
        load_device_params("hzo", path)


@pytest.mark.parametrize("field, value, match", [
    ({"law": {"exponent": 0.1}}, None, r"field_law.exponent: must be in \[0.5, 300\], got 0.1"),
    ({"law": {"curvature": -1.0}}, None, r"field_law.curvature: must be in \[0, 5\], got -1.0"),
    ({"switching_voltage_up_v": 0.0}, None, r"switching_voltage_up_v: must be in \[0.001, 100\], got 0.0"),
    ({"voltage_spread_down": 9.0}, None, r"voltage_spread_down: must be in \[0, 5\], got 9.0"),
    ({"bins": 0}, None, r"bins: must be an integer in \[1, 128\], got 0"),
    ({"tail_fraction": 1.0}, None, r"tail_fraction: must be in \[0, 0.999\], got 1.0"),
    ({"g_max_s": 1e-9}, None, r"g_max_s: must be > g_min_s"),
    ({"bogus": 1}, None, r"unknown key\(s\) \['bogus'\]"),
])
def test_bad_parameters_are_one_line_errors_naming_the_field(field, value, match):
    with pytest.raises(ConfigError, match=match):
        HZOKineticsParams.from_dict({**field})


@pytest.mark.ngspice
def test_write_deck_costs_the_switching_the_kinetics_law_makes():
    """The write deck's switching conductance of each cell is the switching charge of the state
    change the kinetics model makes at that cell's voltage, and ngspice runs the deck."""
    from memcosim.circuits.energy_split import supply_energies_j
    from memcosim.circuits.ngspice import run_ngspice
    from memcosim.netlist import CrossbarSpec, write_deck
    from memcosim.netlist.hzo_cells import hzo_pulse_cell_values

    spec = CrossbarSpec(np.full((3, 3), 5e-8), cell="hzo", hzo_params=PARAMS, c_wire_f=1e-16)
    v_cell = np.array([[2.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    _, gsw = hzo_pulse_cell_values(spec, v_cell, 2e-6)
    for volts in (2.0, 1.0):
        dx = (hzo.apply_pulses(np.array([5e-8]), 1, PARAMS, volts, 2e-6)[0] - 5e-8) / (PARAMS.g_max_s - PARAMS.g_min_s)
        assert gsw[v_cell == volts] == pytest.approx(hzo.switching_charge_c(PARAMS, dx) / (volts * 2e-6), rel=1e-12)
    assert gsw[0, 0] > gsw[0, 1] > 0 and np.all(gsw[v_cell == 0] == 0)
    totals = [sum(supply_energies_j(run_ngspice(write_deck(spec, 1, 1, UP, w), timeout_s=120), spec).values())
              for w in (2e-8, 2e-4)]
    assert 0 < totals[0] < totals[1]
