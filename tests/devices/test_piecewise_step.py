"""The piecewise-step law (aihwkit's PiecewiseStepDevice): aihwkit's own response, closed forms,
the published symmetry-point finder, and aihwkit's config text in and out."""


import numpy as np
import pytest

from memcosim.base.errors import ConfigError
from memcosim.devices.piecewise_step import (AIHWKIT_DEFAULTS, PiecewiseStepParams, from_aihwkit, published_symmetry_point,
                                             pulse_response, sample_spread, to_aihwkit)

# The weights aihwkit 1.2 computed for this device and pulse sequence (float32), printed by
# benchmarks/aihwkit_piecewise_reference.py in aihwkit's own environment.
AIHWKIT_CONFIG = """SingleRPUConfig(
    device=PiecewiseStepDevice(
        dw_min=0.07,
        dw_min_dtod=0.0,
        dw_min_std=0.0,
        up_down=0.2,
        up_down_dtod=0.0,
        w_max=1.1,
        w_max_dtod=0.0,
        w_min=-0.8,
        w_min_dtod=0.0,
        piecewise_up=[1.5, 1.0, 0.6, 0.2, 0.05],
        piecewise_down=[0.1, 0.5, 0.9, 1.2, 1.6]
    )
)"""
PULSES = [1] * 12 + [-1] * 20 + [1, -1] * 6 + [1] * 40
AIHWKIT_TRACE = [0.1449474, 0.1872452, 0.2270497, 0.2645078, 0.2997579, 0.3329301, 0.3641468, 0.3935234, 0.4211684, 0.4471837, 0.4716655, 0.4947042, 0.4321125, 0.3717346, 0.3134922, 0.2573098, 0.2031144, 0.1508358, 0.1004063, 0.05234499, 0.006550193, -0.03708502, -0.07866248, -0.1182792, -0.1560278, -0.1919961, -0.2262683, -0.2589243, -0.2900403, -0.3196889, -0.3479394, -0.3748576, -0.3011839, -0.330307, -0.259916, -0.2909852, -0.2229903, -0.2558009, -0.18988, -0.224252, -0.1601908, -0.1959628, -0.1335692, -0.1705967, -0.1096984, -0.05238985, 0.001540504, 0.0522918, 0.1000514, 0.1449958, 0.1872908, 0.2270926, 0.2645482, 0.2997959, 0.3329658, 0.3641804, 0.3935551, 0.4211981, 0.4472117, 0.4716919, 0.494729, 0.5164081, 0.5368093, 0.5560079, 0.5740748, 0.5910767, 0.6070764, 0.622133, 0.636302, 0.6500522, 0.6634984, 0.6766474, 0.6895057, 0.7020798, 0.7143759, 0.7264003, 0.7381588, 0.7496573, 0.7609017, 0.7718976, 0.7826504, 0.7931655, 0.8034481, 0.8135035]


def test_the_imported_config_reproduces_aihwkit_step_for_step():
    params = from_aihwkit(AIHWKIT_CONFIG)
    assert params.up_down == 0.2 and params.piecewise_down[-1] == 1.6
    w = pulse_response(params, 0.1, PULSES)
    np.testing.assert_allclose(w, AIHWKIT_TRACE, rtol=0, atol=5e-7)  # aihwkit computes in float32


def test_constant_tables_step_by_dw_min_and_clip_at_the_bounds():
    p = PiecewiseStepParams(dw_min=0.1, up_down=0.5, w_min=-0.3, w_max=0.35, piecewise_up=[1, 1], piecewise_down=[1, 1])
    assert p.scale_up == pytest.approx(0.1) and p.scale_down == pytest.approx(0.05)
    up = pulse_response(p, 0.0, [1] * 5)
    np.testing.assert_allclose(up, [0.1, 0.2, 0.3, 0.35, 0.35])
    down = pulse_response(p, 0.0, [-1] * 8)
    np.testing.assert_allclose(down, [-0.05, -0.1, -0.15, -0.2, -0.25, -0.3, -0.3, -0.3])
    assert p.granularity() == pytest.approx(0.1)


def test_published_finder_returns_the_analytic_symmetry_point_of_a_soft_bounds_device():
    # soft bounds: an up pulse moves x = (w - w_min) / span by a (1 - x), a down pulse by b x; the
    # up and down steps cancel at x* = a / (a + b)
    a, b, w_min, w_max = 0.1, 0.06, -1.0, 1.0  # 50 pairs converge to (1 - a)^50 (1 - b)^50 = 2e-4
    span = w_max - w_min
    nodes = np.linspace(0.0, 1.0, 33)
    p = PiecewiseStepParams(dw_min=1.0, w_min=w_min, w_max=w_max, piecewise_up=a * span * (1 - nodes),
                            piecewise_down=b * span * nodes)
    analytic = w_min + span * a / (a + b)
    assert published_symmetry_point(p) == pytest.approx(analytic, abs=max(a, b) * span)
    # and the exact 2-cycle of the discrete map is where the finder ends up
    x1 = a / (a + b - a * b)
    cycle = [w_min + span * x1, w_min + span * x1 * (1 - b)]
    tail = pulse_response(p, 0.0, np.where(np.arange(100) % 2 == 0, 1, -1))[-2:]
    np.testing.assert_allclose(sorted(tail), sorted(cycle), atol=1e-3)


@pytest.mark.parametrize("fmt", ["python", "json"])
def test_export_then_import_is_the_identity(fmt):
    p = PiecewiseStepParams(dw_min=0.0123456789, up_down=-0.3, w_min=-1.07, w_max=0.99, piecewise_up=[0.3, 1.7, 0.0],
                            piecewise_down=[0.0, 1.1, 2.2], dw_min_std=0.2, dw_min_dtod=0.1, up_down_dtod=0.01,
                            w_min_dtod=0.05, w_max_dtod=0.02, dw_min_dtod_log_normal=True)
    assert from_aihwkit(to_aihwkit(p, fmt)) == p


def test_fields_aihwkit_did_not_print_hold_its_defaults():
    p = from_aihwkit("PiecewiseStepDevice(piecewise_up=[1, 1], piecewise_down=[1, 1], dw_min=0.01)")
    assert p.up_down_dtod == AIHWKIT_DEFAULTS["up_down_dtod"] == 0.01
    assert p.dw_min_dtod == 0.3 and p.w_max == 0.6


@pytest.mark.parametrize("text, says", [
    ("PiecewiseStepDevice(dw_min=__import__('os').getcwd(), piecewise_up=[1], piecewise_down=[1])", "not a literal"),
    ("PiecewiseStepDevice(piecewise_up=[1, 1], piecewise_down=[1, 1], write_noise_std=0.1)", "not modelled"),
    ("PiecewiseStepDevice(piecewise_up=[1, 1], piecewise_down=[1, 1], banana=3)", "unknown"),
    ("PiecewiseStepDevice(piecewise_up=[1, 1], piecewise_down=[1, 1, 1])", "same number of nodes"),
    ("ConstantStepDevice(dw_min=0.1)", "no PiecewiseStepDevice"),
    ("{\"piecewise_up\": [1, NaN], \"piecewise_down\": [1, 1]}", "not valid JSON"),
    ("PiecewiseStepDevice(piecewise_up=[1, 1], piecewise_down=[1, 1], w_min=0.2)", "w_min"),
    ("PiecewiseStepDevice(", "cannot parse"),
])
def test_bad_configs_are_refused_in_one_line(text, says):
    with pytest.raises(ConfigError, match=says) as info:
        from_aihwkit(text)
    assert "\n" not in str(info.value)


def test_spread_is_drawn_as_aihwkit_populates_it():
    p = PiecewiseStepParams(dw_min=0.1, up_down=0.2, piecewise_up=[1, 1], piecewise_down=[1, 1], w_min=-1, w_max=1,
                            dw_min_dtod=0.1, up_down_dtod=0.05, w_min_dtod=0.2, w_max_dtod=0.2)
    d = sample_spread(p, (200, 200), np.random.default_rng(0))
    assert (d["w_min"] <= 0).all() and (d["w_max"] >= 0).all()
    assert np.mean(d["scale_up"]) == pytest.approx(0.1, rel=0.01)  # (1 + gain + r) dw_min, up_bias 0
    assert np.mean(d["scale_down"]) == pytest.approx(0.08, rel=0.01)  # (1 - up_down) dw_min
    assert np.std(d["w_max"]) == pytest.approx(0.2, rel=0.05)
    nominal = sample_spread(PiecewiseStepParams(piecewise_up=[1, 1], piecewise_down=[1, 1]), (3,), np.random.default_rng(0))
    np.testing.assert_allclose(nominal["scale_up"], 0.001)
