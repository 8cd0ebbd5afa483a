import dataclasses

import numpy as np
import pytest

from memcosim.base.errors import ConfigError
from memcosim.devices import load_device_params, mtj
from memcosim.devices.mtj_defects import (DefectThresholds, DieStatistics, classify, estimate_statistics, generate_die,
                                          resolve_thresholds, structure, summarize, with_resistances)
from memcosim.devices.mtj_maps import DieMap

MTJ = dataclasses.replace(load_device_params("mtj"), r_p_std=0.05, tmr_std=0.05)


def test_the_generator_is_seeded_and_draws_its_rates():
    stats = DieStatistics.from_rates(mtj.DefectRates(0.02, 0.01, 0.01, 0.01))
    a, b = generate_die(MTJ, stats, (200, 150), 0.1, 3, 7), generate_die(MTJ, stats, (200, 150), 0.1, 3, 7)
    assert np.array_equal(a.r_p_ohm, b.r_p_ohm) and np.array_equal(a.state, b.state)
    assert not np.array_equal(a.state, generate_die(MTJ, stats, (200, 150), 0.1, 3, 8).state)
    shares = np.bincount(a.state.ravel(), minlength=5)[1:] / a.state.size
    assert np.allclose(shares, [0.02, 0.01, 0.01, 0.01], atol=0.003)
    # a short reads r_short_ohm in both states, a stuck-AP cell its AP resistance in both
    assert np.all(a.r_p_ohm[a.state == mtj.SHORT] == MTJ.r_short_ohm)
    stuck = a.state == mtj.STUCK_AP
    assert np.array_equal(a.r_p_ohm[stuck], a.r_ap_ohm[stuck]) and np.median(a.r_p_ohm[stuck]) > 2 * MTJ.r_p_ohm
    healthy = a.state == mtj.OK
    tmr = a.r_ap_ohm[healthy] / a.r_p_ohm[healthy] - 1
    assert np.median(tmr) == pytest.approx(float(mtj.tmr(0.1, MTJ)), rel=0.01)


def test_classification_recovers_the_generated_defects_and_thresholds_are_settable():
    stats = DieStatistics.from_rates(mtj.DefectRates(0.03, 0.02, 0.02, 0.02))
    die = generate_die(MTJ, stats, (100, 80), 0.1, 1, 0)
    measured = DieMap(0, die.r_p_ohm, die.r_ap_ohm)  # resistances only, as a measurement gives them
    assert np.array_equal(classify(measured), die.state)
    t = resolve_thresholds(measured)
    # derived from the die: at least 2x below the median P junction, 2x above the median AP one
    assert 100 < t.short_below_ohm <= 0.501 * np.median(die.r_p_ohm) and t.open_above_ohm >= 1.998 * np.median(die.r_ap_ohm)
    # a user's threshold wins: no cell reads below 50 ohm, so none is a short
    assert not np.any(classify(measured, DefectThresholds(short_below_ohm=50.0)) == mtj.SHORT)
    # the map's own states win over every threshold
    assert np.array_equal(classify(die, DefectThresholds(short_below_ohm=50.0)), die.state)
    with pytest.raises(ConfigError, match=r"dies.short_below_ohm: must be below dies.open_above_ohm"):
        DefectThresholds(short_below_ohm=1e5, open_above_ohm=1e4)


def test_structure_finds_failed_lines_and_clusters_not_scattered_defects():
    codes = np.zeros((40, 30), np.int8)
    codes[5, :] = mtj.OPEN
    codes[:, 7] = mtj.SHORT
    codes[20:24, 15:18] = mtj.STUCK_P  # 12 cells
    codes[30, 25] = codes[31, 26] = mtj.SHORT  # two scattered neighbours: no cluster
    s = structure(codes)
    assert s["rows"] == {5: mtj.OPEN} and s["cols"] == {7: mtj.SHORT}
    assert len(s["clusters"]) == 1 and len(s["clusters"][0][0]) == 12 and s["clusters"][0][1] == mtj.STUCK_P
    assert not s["mask"][30, 25]
    summary = summarize(DieMap(3, state=codes))
    assert summary.failed_rows == {5: "open"} and summary.clusters == [[12, "stuck_p"]] and summary.r_p_median_ohm is None


def test_estimated_statistics_recover_what_the_generator_drew():
    truth = DieStatistics.from_rates(mtj.DefectRates(0.02, 0.01, 0.01, 0.01), row_fail_rate=0.01, col_fail_rate=0.02,
                                     cluster_rate=2e-4, cluster_radius_cells=2.0, r_p_die_std=0.04, r_short_std=0.2)
    params = dataclasses.replace(MTJ, r_p_ohm=3e3, tmr0=1.2, r_short_ohm=300.0)
    maps = [generate_die(params, truth, (150, 120), 0.2, 9, d) for d in range(20)]
    measured = [DieMap(m.die, m.r_p_ohm, m.r_ap_ohm) for m in maps]
    junction, stats = estimate_statistics(measured, MTJ, 0.2)
    assert junction.r_p_ohm == pytest.approx(3e3, rel=0.03) and junction.tmr0 == pytest.approx(1.2, rel=0.01)
    assert junction.r_p_std == pytest.approx(0.05, rel=0.05) and junction.tmr_std == pytest.approx(0.05, rel=0.05)
    assert junction.r_short_ohm == pytest.approx(300.0, rel=0.05) and stats.r_short_std == pytest.approx(0.2, rel=0.1)
    assert stats.r_p_die_std == pytest.approx(0.04, abs=0.02)
    r = stats.rates
    assert np.allclose([r.short_rate, r.open_rate, r.stuck_p_rate, r.stuck_ap_rate], [0.02, 0.01, 0.01, 0.01], atol=0.002)
    assert stats.row_fail_rate == pytest.approx(0.01, abs=0.006) and stats.col_fail_rate == pytest.approx(0.02, abs=0.01)
    assert stats.cluster_rate == pytest.approx(2e-4, rel=0.35) and stats.cluster_radius_cells == 2.0
    assert DieStatistics.from_json(stats.to_json()) == stats


def test_a_map_of_states_gets_its_junctions_from_the_model():
    codes = np.zeros((30, 20), np.int8)
    codes[3, 4] = mtj.SHORT
    m = with_resistances(codes, MTJ, 0.1, np.random.default_rng(0))
    assert m.r_p_ohm[3, 4] == m.r_ap_ohm[3, 4] == MTJ.r_short_ohm
    healthy = np.log(m.r_p_ohm[codes == 0])
    assert np.exp(np.median(healthy)) == pytest.approx(MTJ.r_p_ohm, rel=0.02) and 0.04 < healthy.std() < 0.06
