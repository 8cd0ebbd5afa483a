import math

import numpy as np
import pytest
import torch

from memcosim.devices import hzo, hzo_energy, load_device_params
from memcosim.devices.hzo import HZOParams, SwitchingKinetics
from memcosim.base.errors import ConfigError

PARAMS = load_device_params("hzo", "default")
UP = PARAMS.potentiation_polarity * 3.0  # signed amplitude that potentiates


def mid():
    return np.array([0.5 * (PARAMS.g_min_s + PARAMS.g_max_s)])


def test_preset_is_the_calibrated_device():
    assert PARAMS.g_min_s < PARAMS.g_max_s
    assert PARAMS.potentiation_polarity == -1  # measured: negative pulses raise G


@pytest.mark.parametrize("amplitude", [UP, -UP])
def test_longer_pulses_switch_more(amplitude):
    g0 = mid()
    changes = [abs(hzo.apply_pulses(g0, 1, PARAMS, amplitude, w)[0] - g0[0]) for w in (2e-8, 2e-6, 2e-4)]
    assert changes[0] < changes[1] < changes[2]


@pytest.mark.parametrize("sign", [1, -1])
def test_smaller_pulses_switch_less(sign):
    g0 = mid()
    amps = [sign * PARAMS.potentiation_polarity * a for a in (1.0, 2.0, 3.0)]
    changes = [abs(hzo.apply_pulses(g0, 1, PARAMS, a, 2e-6)[0] - g0[0]) for a in amps]
    assert changes[0] < changes[1] < changes[2]


def test_direction_and_bounds():
    g0 = mid()
    assert hzo.apply_pulses(g0, 1, PARAMS, UP, 2e-6)[0] > g0[0]
    assert hzo.apply_pulses(g0, 1, PARAMS, -UP, 2e-6)[0] < g0[0]
    many = hzo.apply_pulses(g0, 10**6, PARAMS, UP, 1e-3)[0]
    assert PARAMS.g_min_s <= many <= PARAMS.g_max_s


def test_n_pulses_equal_repeated_single_pulses():
    g = mid()
    for _ in range(5):
        g = hzo.apply_pulses(g, 1, PARAMS, UP, 2e-7)
    assert hzo.apply_pulses(mid(), 5, PARAMS, UP, 2e-7)[0] == pytest.approx(g[0], rel=1e-9)


def test_state_dependence_saturates():
    low = np.array([PARAMS.g_min_s * 1.05])
    high = np.array([PARAMS.g_max_s * 0.95])
    step_low = hzo.apply_pulses(low, 1, PARAMS, UP, 2e-6)[0] - low[0]
    step_high = hzo.apply_pulses(high, 1, PARAMS, UP, 2e-6)[0] - high[0]
    assert step_low > step_high >= 0


@pytest.mark.parametrize("direction", ["potentiation", "depression"])
def test_switched_fraction_limits(direction):
    kin = getattr(PARAMS, direction)
    assert hzo.switched_fraction(1e-15, 0.5, kin) < 1e-3
    assert hzo.switched_fraction(1.0, 1e-3, kin) < 1e-3  # nothing switches at ~0 V
    assert hzo.switched_fraction(10.0, 6.0, kin) > 0.95
    t = np.logspace(-9, -2, 30)
    assert np.all(np.diff(hzo.switched_fraction(t, 2.0, kin)) >= 0)


@pytest.mark.parametrize("shape", [1.0, 0.3, 0.02])
def test_box_cox_shapes_are_valid_distributions(shape):
    kin = SwitchingKinetics(tau_inf_s=1e-9, v_act_v=3.0, merz_exponent=1.5, spread=0.5, spread_shape=shape)
    v = np.linspace(0.01, 20, 200)
    p = hzo.switched_fraction(1e-6, v, kin)
    assert np.all(np.diff(p) >= 0) and p[0] < 1e-6 and p[-1] > 0.99


@pytest.mark.parametrize("width", [2e-8, 2e-6, 2e-4])
@pytest.mark.parametrize("start", [0.01, 0.99])
def test_alternating_pulses_settle_at_symmetry_point(width, start):
    g_sp = hzo.symmetry_point(PARAMS, 3.0, width)
    span = PARAMS.g_max_s - PARAMS.g_min_s
    assert PARAMS.g_min_s < g_sp < PARAMS.g_max_s
    g = np.array([PARAMS.g_min_s + start * span])
    for _ in range(3000):
        g_up = hzo.apply_pulses(g, 1, PARAMS, UP, width)
        g = hzo.apply_pulses(g_up, 1, PARAMS, -UP, width)
    # the up and the down pulse of the settled cycle cancel, centred on the symmetry point
    assert float(hzo.apply_pulses(hzo.apply_pulses(g, 1, PARAMS, UP, width), 1, PARAMS, -UP, width)[0]) == pytest.approx(g[0], abs=1e-4 * span)
    assert 0.5 * (g[0] + g_up[0]) == pytest.approx(g_sp, abs=0.01 * span)


def test_torch_and_numpy_agree():
    g = np.linspace(PARAMS.g_min_s, PARAMS.g_max_s, 7)
    n = np.array([-4, -1, 0, 1, 2, 10, -100])
    a = hzo.pulse_response(g, n, PARAMS, 3.0, 2e-6)
    b = hzo.pulse_response(torch.tensor(g, dtype=torch.float64), torch.tensor(n), PARAMS, 3.0, 2e-6)
    assert np.allclose(a, b.numpy(), rtol=1e-10, atol=0)
    assert a[2] == g[2]
    assert a[3] > g[3] and a[1] < g[1]


def test_noise_is_seeded_and_domains_quantise():
    noisy = HZOParams(**{**PARAMS.__dict__, "cycle_to_cycle_std": 0.3, "n_domains": 50})
    g = torch.full((1000,), 0.5 * (PARAMS.g_min_s + PARAMS.g_max_s), dtype=torch.float64)
    n = torch.ones(1000)
    a = hzo.pulse_response(g, n, noisy, 3.0, 2e-6, generator=torch.Generator().manual_seed(1))
    b = hzo.pulse_response(g, n, noisy, 3.0, 2e-6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.std() > 0
    x = (a - PARAMS.g_min_s) / (PARAMS.g_max_s - PARAMS.g_min_s) * 50
    assert torch.allclose(x, x.round(), atol=1e-6)


def test_energy_terms_and_width_dependence():
    g = mid()
    e = [hzo_energy.cell_pulse_energy_j(g, PARAMS, UP, w) for w in (2e-8, 2e-6, 2e-4)]
    totals = [float(x.total_j[0]) for x in e]
    assert totals[0] < totals[1] < totals[2]
    assert float(e[0].capacitive_j) == pytest.approx(PARAMS.capacitance_f * 9.0)
    for x in e:
        assert x.total_j[0] == pytest.approx(x.switching_j[0] + x.capacitive_j + x.conduction_j[0])


def test_read_current_linear_at_read_voltage():
    assert hzo.read_current_a(1e-7, PARAMS.read_voltage_v, PARAMS) == pytest.approx(1e-8)
    assert hzo.read_current_a(1e-7, 2.0, PARAMS) > 2e-7  # superlinear conduction


def test_device_to_device_variation():
    dev = hzo.sample_device_params(PARAMS, (100,), 0.1, np.random.default_rng(0))
    assert np.all(dev["g_max_s"] > dev["g_min_s"])
    assert 0.05 < np.std(np.log(dev["g_min_s"])) < 0.15
    g = (dev["g_min_s"] + dev["g_max_s"]) / 2
    out = hzo.apply_pulses(g, 1, PARAMS, UP, 2e-6, device_params=dev)
    assert np.all(out <= dev["g_max_s"]) and np.all(out > g)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"g_min_s": -1.0}, "g_min_s"),
        ({"g_max_s": 1e-9, "g_min_s": 2e-9}, "g_max_s"),
        ({"potentiation_polarity": 0}, "potentiation_polarity"),
        ({"n_domains": -1}, "n_domains"),
        ({"read_voltage_v": math.nan}, "read_voltage_v"),
    ],
)
def test_bad_params(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        HZOParams(**kwargs)


def test_bad_kinetics_and_pulses():
    with pytest.raises(ConfigError, match="spread_shape"):
        SwitchingKinetics(spread_shape=0.0)
    with pytest.raises(ConfigError, match="width_s"):
        hzo.apply_pulses(mid(), 1, PARAMS, UP, 0.0)
    with pytest.raises(ConfigError, match="amplitude_v"):
        hzo.apply_pulses(mid(), 1, PARAMS, 0.0, 1e-6)


def test_round_trip_dict():
    assert HZOParams.from_dict(PARAMS.to_dict()) == PARAMS
    with pytest.raises(ConfigError, match="unknown key"):
        HZOParams.from_dict({**PARAMS.to_dict(), "g_mx_s": 1.0})


TWO = HZOParams(g_min_s=1e-8, g_max_s=1e-7, potentiation=SwitchingKinetics(1e-9, 3.0, 2.0, 2.0, 0.7),
                depression=SwitchingKinetics(1e-8, 2.5, 3.0, 1.5, 0.5), second_population_fraction=0.4,
                second_potentiation=SwitchingKinetics(1e-10, 5.0, 1.5, 3.0, 1.0),
                second_depression=SwitchingKinetics(1e-7, 3.5, 2.0, 2.0, 0.6))


def test_state_round_trip_and_population_shares():
    g = np.linspace(TWO.g_min_s, TWO.g_max_s, 7)
    state = hzo.state_from_conductance(g, TWO)
    assert state.shape == (7, 2) and np.allclose(state[:, 0], state[:, 1])
    assert np.allclose(hzo.conductance_from_state(state, TWO), g, rtol=1e-12)
    # G = g_min + span (w1 x1 + w2 x2)
    assert hzo.conductance_from_state(np.array([1.0, 0.0]), TWO) == pytest.approx(1e-8 + 9e-8 * 0.6)


def test_two_identical_populations_equal_one():
    one = HZOParams(g_min_s=1e-8, g_max_s=1e-7, potentiation=TWO.potentiation, depression=TWO.depression)
    two = HZOParams(g_min_s=1e-8, g_max_s=1e-7, potentiation=TWO.potentiation, depression=TWO.depression,
                    second_population_fraction=0.3, second_potentiation=TWO.potentiation,
                    second_depression=TWO.depression)
    g = np.linspace(2e-8, 9e-8, 5)
    for amp in (-3.0, 2.5):
        assert np.allclose(hzo.apply_pulses(g, 3, one, amp, 2e-7), hzo.apply_pulses(g, 3, two, amp, 2e-7), rtol=1e-12)
    assert hzo.symmetry_point(one, 3.0, 2e-8) == pytest.approx(hzo.symmetry_point(two, 3.0, 2e-8), rel=1e-9)


def test_populations_keep_their_own_history():
    up = TWO.potentiation_polarity * 3.0
    state = hzo.state_from_conductance(np.array([5e-8]), TWO)
    after = hzo.apply_pulses_state(state, 5, TWO, up, 2e-8)
    x = after[0]
    assert x[0] != pytest.approx(x[1])  # different kinetics: different fractions switched
    # the next pulse acts on that state, not on a fresh device of the same conductance
    g_after = hzo.conductance_from_state(after, TWO)
    with_history = hzo.conductance_from_state(hzo.apply_pulses_state(after, 1, TWO, up, 2e-8), TWO)
    fresh = hzo.apply_pulses(g_after, 1, TWO, up, 2e-8)
    assert float(with_history[0]) != pytest.approx(float(fresh[0]), rel=1e-6)
    # n pulses at once equal n single pulses, population by population
    one_by_one = state
    for _ in range(5):
        one_by_one = hzo.apply_pulses_state(one_by_one, 1, TWO, up, 2e-8)
    assert np.allclose(one_by_one, after, rtol=1e-9)


def test_two_population_torch_path_and_symmetry_point():
    g = torch.linspace(2e-8, 9e-8, 6, dtype=torch.float64)
    n = torch.tensor([3.0, -2.0, 0.0, 1.0, -1.0, 4.0], dtype=torch.float64)
    state = hzo.state_from_conductance(g, TWO)
    out = hzo.pulse_response_state(state, n, TWO, 3.0, 2e-7)
    ref = hzo.pulse_response_state(state.numpy(), n.numpy(), TWO, 3.0, 2e-7)
    assert np.allclose(out.numpy(), ref, rtol=1e-10)
    assert torch.equal(out[2], state[2])  # zero pulses: unchanged
    sp = hzo.symmetry_point(TWO, 3.0, 2e-8)
    assert TWO.g_min_s < sp < TWO.g_max_s


def test_wake_up_fraction():
    p = HZOParams(wake_up_initial_fraction=0.4, wake_up_pulses=100.0)
    assert hzo.active_fraction(p, 0) == pytest.approx(0.4)
    assert hzo.active_fraction(p, 100) == pytest.approx(1 - 0.6 / math.e)
    assert hzo.active_fraction(p, 1e6) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="wake_up_initial_fraction"):
        HZOParams(wake_up_initial_fraction=1.5)
    with pytest.raises(ConfigError, match="second_population_fraction"):
        HZOParams(second_population_fraction=-0.1)


def test_switching_charge_is_two_pr_area_per_unit_state():
    p = HZOParams(remanent_polarization_c_m2=0.2, area_m2=1e-12)
    assert hzo.switching_charge_c(p, 0.5) == pytest.approx(2 * 0.2 * 1e-12 * 0.5, rel=1e-15)
    assert np.allclose(hzo.switching_charge_c(p, np.array([-0.25, 0.25])), 1e-13, rtol=1e-15)
    dx = torch.tensor([-0.5, 0.0], dtype=torch.float64)
    assert torch.allclose(hzo.switching_charge_c(p, dx), torch.tensor([2e-13, 0.0], dtype=torch.float64))
    g0 = np.array([3e-8])
    g1 = hzo.apply_pulses(g0, 1, PARAMS, UP, 2e-6)
    e = hzo_energy.cell_pulse_energy_j(g0, PARAMS, UP, 2e-6)
    dx = (g1 - g0) / (PARAMS.g_max_s - PARAMS.g_min_s)
    assert e.switching_j[0] == pytest.approx(abs(UP) * hzo.switching_charge_c(PARAMS, dx)[0], rel=1e-12)


def _batch_of(params_list):
    """A ParameterBatch stacking HZOParams (each field shape (batch, 1))."""
    col = lambda values: np.array(values, dtype=float)[:, None]  # noqa: E731

    def kinetics(pick):
        arrays = [hzo.KineticsArrays.from_kinetics(pick(p)) for p in params_list]
        return hzo.KineticsArrays(*(col([getattr(a, f) for a in arrays]) for f in
                                    ("log_tau_inf", "log_v_act", "merz_exponent", "spread", "spread_shape")))

    shares = col([p.second_population_fraction for p in params_list])
    populations = ((1.0 - shares, kinetics(lambda p: p.potentiation), kinetics(lambda p: p.depression)),
                   (shares, kinetics(lambda p: p.second_potentiation), kinetics(lambda p: p.second_depression)))
    return hzo.ParameterBatch(col([p.g_min_s for p in params_list]), col([p.g_max_s for p in params_list]),
                              populations, params_list[0].potentiation_polarity,
                              col([p.wake_up_initial_fraction for p in params_list]),
                              col([p.wake_up_pulses for p in params_list]))


def test_a_parameter_batch_steps_like_each_parameter_set():
    other = HZOParams(g_min_s=2e-8, g_max_s=9e-8, potentiation=TWO.second_potentiation, depression=TWO.depression,
                      second_population_fraction=0.2, second_potentiation=TWO.potentiation,
                      second_depression=TWO.second_depression, wake_up_initial_fraction=0.5, wake_up_pulses=30.0)
    sets = [TWO, other]
    batch = _batch_of(sets)
    g0 = np.array([3e-8, 5e-8, 8e-8])  # one start per file, shared by the parameter sets
    amps = np.array([[3.0, -2.5, 1.0], [-3.0, -3.0, 2.0], [2.0, 2.5, -1.5], [-2.0, 1.0, 3.0]])  # (steps, files)
    widths = np.array([2e-8, 2e-7, 2e-6])[None, :] * np.ones((4, 1))
    counts = np.array([[1, 1, 0], [1, 2, 1], [0, 1, 1], [1, 1, 1]])
    before = np.array([0.0, 50.0, 120.0])  # pulses each file's film had taken (wake-up)
    state = hzo.state_from_conductance(g0, batch, pulses_applied=before)
    steps = hzo.apply_pulse_sequence_state(state, counts, batch, amps, widths)
    g = hzo.conductance_from_state(steps, batch, pulses_applied=before)
    assert steps.shape == (4, 2, 3, 2) and g.shape == (4, 2, 3)
    for b, params in enumerate(sets):
        for f in range(3):
            s = hzo.state_from_conductance(g0[f : f + 1], params, pulses_applied=before[f])
            for k in range(4):
                s = hzo.apply_pulses_state(s, counts[k, f], params, amps[k, f], widths[k, f])
                assert np.allclose(s[0], steps[k, b, f], rtol=1e-13, atol=0)
                ref = hzo.conductance_from_state(s, params, pulses_applied=before[f])[0]
                assert g[k, b, f] == pytest.approx(ref, rel=1e-13)
    assert np.array_equal(steps[0, :, 2], state[:, 2])  # a count of 0 leaves the state exactly


def test_per_device_pulses_equal_one_pulse_at_a_time():
    g = np.linspace(2e-8, 9e-8, 5)
    amps, widths = np.array([3.0, -3.0, 2.0, -1.0, 2.5]), np.array([2e-8, 2e-6, 2e-7, 2e-4, 2e-8])
    state = hzo.state_from_conductance(g, TWO)
    together = hzo.apply_pulses_state(state, 2, TWO, amps, widths)
    for i in range(5):
        alone = hzo.apply_pulses_state(state[i : i + 1], 2, TWO, float(amps[i]), float(widths[i]))
        assert np.array_equal(together[i], alone[0])
    torch_out = hzo.apply_pulses_state(torch.tensor(state), 2, TWO, torch.tensor(amps), torch.tensor(widths))
    assert np.allclose(torch_out.numpy(), together, rtol=1e-12)
    with pytest.raises(ConfigError, match=r"^amplitude_v: .* got 0.0 \(1 such value"):
        hzo.apply_pulses_state(state, 1, TWO, np.array([3.0, 0.0, 1.0, 1.0, 1.0]), 1e-6)
    with pytest.raises(ConfigError, match=r"^width_s: must be > 0 seconds, got -1e-06"):
        hzo.apply_pulses_state(state, 1, TWO, 3.0, np.full(5, -1e-6))


def test_one_argument_order_and_a_clear_error_for_the_old_one():
    g = mid()
    assert np.array_equal(hzo.apply_pulses(g, 2, PARAMS, UP, 2e-6),
                          hzo.conductance_from_state(hzo.apply_pulses_state(hzo.state_from_conductance(g, PARAMS), 2, PARAMS, UP, 2e-6), PARAMS))
    with pytest.raises(ConfigError, match=r"^params: must be HZO parameters \(HZOParams, HZOKineticsParams\) or ParameterBatch, got float"):
        hzo.apply_pulses(g, UP, 2e-6, 1, PARAMS)  # the old order (amplitude, width, n_pulses, params)
