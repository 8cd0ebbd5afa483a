import numpy as np
import pytest

from memcosim.devices import load_device_params, mtj, mtj_energy
from memcosim.devices.mtj import DefectRates, MTJParams
from memcosim.base.errors import ConfigError

P = load_device_params("mtj", "default")


def test_tmr_at_zero_bias_is_tmr0_and_halves_at_v_half():
    assert mtj.tmr(0.0, P) == pytest.approx(P.tmr0)
    assert mtj.tmr(P.v_half_v, P) == pytest.approx(P.tmr0 / 2)
    assert mtj.resistance_ohm(1, 0.0, P) == pytest.approx(P.r_p_ohm * (1 + P.tmr0))


def test_tmr_overrides_are_the_same_law():
    v = np.array([-0.6, 0.0, 0.3, 0.9])
    other = MTJParams(tmr0=0.8, v_half_v=0.3)
    assert np.array_equal(mtj.tmr(v, P, tmr0=0.8, v_half_v=0.3), mtj.tmr(v, other))
    r_p, t0 = np.array([4e3, 6e3]), np.array([1.0, 2.0])
    r_ap = mtj.resistance_ohm(1, 0.4, P, r_p_ohm=r_p, tmr0=t0)
    assert np.array_equal(r_ap, r_p * (1.0 + mtj.tmr(0.4, P, tmr0=t0)))


def test_ap_branch_nonlinear_and_odd():
    v = np.array([0.1, 0.5, 1.0])
    i_ap = mtj.current_a(1, v, P)
    assert np.all(np.diff(mtj.resistance_ohm(1, v, P)) < 0)  # R_AP falls with bias
    assert np.allclose(mtj.current_a(1, -v, P), -i_ap)
    assert np.allclose(mtj.current_a(0, v, P), v / P.r_p_ohm)


def test_switching_probability_monotone_and_limits():
    currents = np.linspace(0, 3 * P.ic0_p_to_ap_a, 50)
    prob = mtj.switching_probability(currents, 10e-9, P, to_state=1)
    assert np.all(np.diff(prob) >= 0)
    assert prob[0] < 1e-20 and prob[-1] == pytest.approx(1.0)
    widths = np.array([1e-9, 1e-8, 1e-7, 1e-6])
    pw = mtj.switching_probability(0.9 * P.ic0_p_to_ap_a, widths, P, to_state=1)
    assert np.all(np.diff(pw) > 0)
    assert mtj.switching_probability(0.9 * P.ic0_p_to_ap_a, 1e3, P, 1) == pytest.approx(1.0)


def test_switching_continuous_at_critical_current():
    ic = P.ic0_ap_to_p_a
    below = mtj.switching_probability(ic * (1 - 1e-9), 1e-9, P, 0)
    above = mtj.switching_probability(ic * (1 + 1e-9), 1e-9, P, 0)
    assert above == pytest.approx(below, rel=1e-6)


def test_direction_dependent_critical_current():
    i = 50e-6
    assert mtj.switching_probability(i, 5e-9, P, 0) > mtj.switching_probability(i, 5e-9, P, 1)


def test_write_energy_is_conduction_through_the_starting_state():
    # P is ohmic: V^2 t / R_P; AP has the higher resistance, so the same pulse costs less
    e = mtj_energy.cell_pulse_energy_j(P, 0, 0.6, 10e-9)
    assert e == pytest.approx(0.6**2 / P.r_p_ohm * 10e-9, rel=1e-12)
    assert 0 < mtj_energy.cell_pulse_energy_j(P, 1, 0.6, 10e-9) < e
    assert mtj_energy.cell_pulse_energy_j(P, 1, -0.6, 10e-9) == pytest.approx(mtj_energy.cell_pulse_energy_j(P, 1, 0.6, 10e-9))


def test_defect_map_seeded_and_rates():
    rates = DefectRates(short_rate=0.01, open_rate=0.02, stuck_p_rate=0.03, stuck_ap_rate=0.04)
    a = mtj.defect_map((300, 300), rates, seed=7, die=2)
    assert np.array_equal(a, mtj.defect_map((300, 300), rates, seed=7, die=2))
    assert not np.array_equal(a, mtj.defect_map((300, 300), rates, seed=7, die=3))
    freq = np.bincount(a.ravel(), minlength=5) / a.size
    assert freq[mtj.SHORT] == pytest.approx(0.01, abs=0.003)
    assert freq[mtj.STUCK_AP] == pytest.approx(0.04, abs=0.005)
    assert np.all(mtj.defect_map((10, 10), DefectRates(), seed=1) == mtj.OK)


def test_cell_resistance_with_defects():
    state = np.array([0, 1, 0, 1, 0])
    defects = np.array([mtj.OK, mtj.OK, mtj.SHORT, mtj.STUCK_P, mtj.STUCK_AP])
    r = mtj.cell_resistance_ohm(state, defects, 0.1, P)
    assert r[0] == pytest.approx(P.r_p_ohm)
    assert r[2] == P.r_short_ohm
    assert r[3] == pytest.approx(P.r_p_ohm)  # stuck P although programmed AP
    assert r[4] > P.r_p_ohm * 2


def test_binary_weight_mapping_both_ways():
    w = np.array([1, -1, -1, 1])
    plus, minus = mtj.weights_to_states(w, "differential")
    g_plus = 1 / mtj.resistance_ohm(plus, 0.1, P)
    g_minus = 1 / mtj.resistance_ohm(minus, 0.1, P)
    assert np.array_equal(mtj.states_to_weights(g_plus, g_minus), w)
    single = mtj.weights_to_states(w, "reference")
    g = 1 / mtj.resistance_ohm(single, 0.1, P)
    g_ref = 0.5 * (1 / P.r_p_ohm + 1 / mtj.resistance_ohm(1, 0.1, P))
    assert np.array_equal(mtj.states_to_weights(g, g_ref), w)
    with pytest.raises(ConfigError, match="weights"):
        mtj.weights_to_states(np.array([0, 1]))


def test_variation():
    p = MTJParams(r_p_std=0.1, tmr_std=0.05)
    d = mtj.sample_devices(p, (2000,), np.random.default_rng(3))
    assert np.std(np.log(d["r_p_ohm"])) == pytest.approx(0.1, rel=0.1)


@pytest.mark.parametrize("kwargs, field", [({"r_p_ohm": 0}, "r_p_ohm"), ({"tmr0": -1}, "tmr0"), ({"r_p_std": 5}, "r_p_std")])
def test_bad_params(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        MTJParams(**kwargs)


def test_bad_rates():
    with pytest.raises(ConfigError, match="sum"):
        DefectRates(short_rate=0.7, open_rate=0.7)
    with pytest.raises(ConfigError, match="short_rate"):
        DefectRates(short_rate=-0.1)


def test_junction_parameters_and_die_statistics_are_read_by_the_one_strict_reader(tmp_path):
    from memcosim.devices.mtj_die_generator import DieStatistics

    params = MTJParams(r_p_ohm=4e3, r_p_std=0.05)
    assert MTJParams.from_dict(params.to_dict()) == params
    stats = DieStatistics.from_rates(DefectRates(short_rate=0.02), row_fail_rate=0.01)
    assert DieStatistics.from_json(stats.to_json()) == stats
    with pytest.raises(ConfigError, match="^MTJ parameters: tmr: unknown field; known: r_p_ohm, tmr0"):
        MTJParams.from_dict({"tmr": 1.5})
    with pytest.raises(ConfigError, match="^MTJ parameters: delta: must be a finite number, got nan"):
        MTJParams.from_dict({"delta": float("nan")})
    with pytest.raises(ConfigError, match="^s.json: rates.short_rat: unknown field; known: short_rate"):
        DieStatistics.from_json({"rates": {"short_rat": 0.1}}, source="s.json")
    (tmp_path / "j.json").write_text('{"model": "mtj", "params": {"r_p_ohm": 5000.0, "bogus": 1}}')
    with pytest.raises(ConfigError, match="j.json: MTJ parameters: bogus: unknown field"):
        load_device_params("mtj", file=tmp_path / "j.json")
