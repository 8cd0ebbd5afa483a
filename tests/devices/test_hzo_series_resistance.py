"""The series-resistance term of the HZO kinetics model (devices/hzo_kinetics.py): the film voltage
of a rectangular pulse through R_s into C, the effective time it is worth, and R_s recovered by
the calibration (devices/calibrate_kinetics.py)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.devices import hzo
from memcosim.devices.calibrate_kinetics import fit_hzo_kinetics
from memcosim.devices.hzo_kinetics import (FieldLaw, HZOKineticsParams, film_voltage_v, log_effective_time,
                                           log_switching_time)
from memcosim.devices.measurements import PulseSweep

TAU = 2e-8  # 50 ohm x 0.4 nF
LBE = HZOKineticsParams(g_min_s=1e-8, g_max_s=1e-7, law=FieldLaw(exponent=10.0, curvature=0.0, time_spread=0.5),
                        switching_voltage_up_v=0.3, switching_voltage_down_v=0.35, voltage_spread_up=0.2,
                        voltage_spread_down=0.2, bins=4, capacitance_f=4e-10, r_series_ohm=50.0)


def test_film_voltage_charges_and_discharges_with_rc():
    t = np.array([0.0, 1e-8, 2e-8, 3e-8, 4e-8])
    v = film_voltage_v(t, 5.0, 2e-8, TAU)
    assert v[:3] == pytest.approx(5.0 * (1.0 - np.exp(-t[:3] / TAU)), rel=1e-12)
    assert v[3:] == pytest.approx(v[2] * np.exp(-(t[3:] - 2e-8) / TAU), rel=1e-12)
    assert list(film_voltage_v(t, 5.0, 2e-8, 0.0)) == [5.0, 5.0, 5.0, 0.0, 0.0]  # an ideal source: the pulse


def _power_law_two(width_over_tau):
    """``t_eff / tau`` of the power law with alpha = 2 in closed form: the charging
    ``S - 2 (1 - e^-S) + (1 - e^-2S) / 2`` and the discharge ``(1 - e^-S)^2 / 2``."""
    s = width_over_tau
    return s - 2.0 * -math.expm1(-s) + 0.5 * -math.expm1(-2.0 * s) + 0.5 * math.expm1(-s) ** 2


@pytest.mark.parametrize("ratio", [0.05, 0.5, 2.0, 20.0, 29.0, 31.0, 1e4])
def test_effective_time_of_the_power_law_matches_its_closed_forms(ratio):
    got = log_effective_time(math.log(ratio * TAU), math.log(TAU), 0.3, 2.0, 0.0)
    assert got == pytest.approx(math.log(TAU * _power_law_two(ratio)), abs=2e-4)
    # long pulses: t_eff -> w - tau (psi(alpha) + gamma) for any alpha (here alpha = 12)
    if ratio >= 20:
        deficit = special.digamma(12.0) + np.euler_gamma
        long = log_effective_time(math.log(ratio * TAU), math.log(TAU), 0.3, 12.0, 0.0)
        assert long == pytest.approx(math.log(TAU * (ratio - deficit)), abs=2e-4)


@pytest.mark.parametrize("ratio, log_ratio, exponent, curvature", [
    (0.3, -0.5, 12.0, 0.5), (1.0, 0.0, 45.0, 3.0), (3.0, 0.4, 8.0, 1.0), (50.0, -1.0, 45.0, 3.0),
    (300.0, 0.2, 20.0, 1.5)])
def test_effective_time_integrates_the_law_over_the_film_voltage(ratio, log_ratio, exponent, curvature):
    """Against adaptive quadrature of ``t0(V) / t0(V_f(t))`` over the pulse and the discharge after it."""
    width = ratio * TAU
    g0 = log_switching_time(log_ratio, exponent, curvature)

    def rate(t):
        v = film_voltage_v(t, 1.0, width, TAU)
        return math.exp(g0 - log_switching_time(log_ratio - math.log(max(float(v), 1e-300)), exponent, curvature))

    # the rate peaks at the end of the pulse (within ~tau / alpha of it): break points there
    edges = [0.0] + [width - TAU * 10.0**-k for k in range(5) if width - TAU * 10.0**-k > 0] + [width]
    edges += [width + TAU * 10.0**k for k in range(-4, 3)]
    total = sum(integrate.quad(rate, lo, hi, limit=200, epsrel=1e-10)[0] for lo, hi in zip(edges, edges[1:]))
    assert log_effective_time(math.log(width), math.log(TAU), log_ratio, exponent, curvature) == pytest.approx(
        math.log(total), abs=2e-4)


def _g_after(params, width, volts=-2.0, pulses=3):
    state = hzo.state_from_conductance(np.array([params.g_min_s * 1.5]), params)
    return float(hzo.conductance_from_state(hzo.apply_pulses_state(state, pulses, params, volts, width), params)[0])


def test_zero_resistance_is_the_model_without_the_term_and_long_pulses_converge_to_it():
    ideal = HZOKineticsParams(**{**LBE.to_dict(), "law": LBE.law, "r_series_ohm": 0.0})
    assert ideal.populations[0][1].arrays().log_rc_time is None
    assert ideal.populations[0][1].arrays().u_lam(math.log(2.0)) == log_switching_time(
        math.log(ideal.populations[0][1].switching_voltage_v / 2.0), 10.0, 0.0)
    def deviation(r_series_ohm, width):
        tiny = HZOKineticsParams(**{**LBE.to_dict(), "law": LBE.law, "r_series_ohm": r_series_ohm})
        return _g_after(tiny, width) / _g_after(ideal, width) - 1.0

    for width in (2e-8, 2e-6, 2e-3):
        assert abs(deviation(1e-9, width)) < 1e-10
    # a first-order effect of the film's delay RC / width: linear in R (1e-6 ohm: 5.4e-9 at 20 ns)
    assert deviation(1e-6, 2e-8) / deviation(1e-9, 2e-8) == pytest.approx(1e3, rel=1e-2)
    # at 2 ms (1e5 tau) the film sees the pulse; at 20 ns (one tau) it switches far less
    assert _g_after(LBE, 2e-3) == pytest.approx(_g_after(ideal, 2e-3), rel=1e-4)
    assert _g_after(LBE, 2e-8) - LBE.g_min_s * 1.5 < 0.5 * (_g_after(ideal, 2e-8) - LBE.g_min_s * 1.5)


def test_pulse_trains_compose_and_the_torch_twin_agrees():
    state = hzo.state_from_conductance(np.array([2e-8]), LBE)
    once = hzo.apply_pulses_state(state, 4, LBE, -1.5, 5e-8)
    stepped = state
    for _ in range(4):
        stepped = hzo.apply_pulses_state(stepped, 1, LBE, -1.5, 5e-8)
    assert once == pytest.approx(stepped, rel=1e-9)  # n pulses are worth n t_eff
    tensor = hzo.apply_pulses_state(torch.as_tensor(state), 4, LBE, -1.5, 5e-8)
    assert tensor.numpy() == pytest.approx(once, rel=1e-9)
    spread = {"v_act_up_v": np.array([0.3, 0.33])}
    numpy_u = hzo.step_constants(LBE, 1.5, True, spread, np, 5e-8)[0][0]
    factors = {"v_act_up_v": torch.tensor([0.3, 0.33], dtype=torch.float64)}
    torch_u = hzo.step_constants(LBE, 1.5, True, factors, torch, 5e-8)[0][0]
    assert torch_u.numpy() == pytest.approx(numpy_u, rel=1e-12)


def test_series_resistance_needs_the_width_and_is_bounded():
    with pytest.raises(ConfigError, match="width"):
        hzo.step_constants(LBE, 1.5, True)
    with pytest.raises(ConfigError, match=r"r_series_ohm: must be in \[0, 5000\], got -1.0"):
        HZOKineticsParams(r_series_ohm=-1.0)


def _sweep(params, width, n=16):
    amps = np.concatenate([np.linspace(0.3, 4.0, n), -np.linspace(0.3, 4.0, n)])
    state = hzo.state_from_conductance(np.array([0.95 * params.g_max_s]), params)
    g = [float(hzo.conductance_from_state(state, params)[0])]
    for a in amps[1:]:
        state = hzo.apply_pulses_state(state, 1, params, float(a), width)
        g.append(float(hzo.conductance_from_state(state, params)[0]))
    return PulseSweep(f"synthetic_w{width:g}.csv", "synthetic", amps, np.full(len(amps), width), np.array(g), None)


@pytest.mark.slow
def test_series_resistance_is_recovered_from_synthetic_sweeps():
    """Sweeps of a device behind 50 ohm (tau = 20 ns) at 20 ns, 200 ns and 2 us: one R_s for all
    widths comes back with the law, given the capacitance."""
    sweeps = [_sweep(LBE, w) for w in (2e-8, 2e-7, 2e-6)]
    result = fit_hzo_kinetics(sweeps, tail=False, wake_up=False, bins=4, starts=(0.0,), reweight_rounds=1,
                              max_nfev=25, r_series_ohm="fit", capacitance_f=4e-10, subsample_pulses=None)
    assert min(f["r2"] for f in result.files) > 0.999
    assert result.params.r_series_ohm == pytest.approx(50.0, rel=0.1)
    assert result.params.capacitance_f == 4e-10
    assert result.params.law.exponent == pytest.approx(10.0, rel=0.1)
    with pytest.raises(CalibrationError, match="capacitance_f"):
        fit_hzo_kinetics(sweeps, r_series_ohm="fit")
    with pytest.raises(CalibrationError, match="r_series_ohm"):
        fit_hzo_kinetics(sweeps, r_series_ohm=1e5, capacitance_f=4e-10)


def test_cli_refuses_a_series_resistance_where_it_has_no_meaning(tmp_path, capsys):
    from memcosim.cli import main

    sweep = _sweep(LBE, 2e-7, n=4)
    path = tmp_path / "s.csv"
    rows = zip(sweep.pulse_amplitude_v, sweep.pulse_width_s, sweep.conductance_s)
    lines = [f"{float(a)!r},{float(w)!r},{float(g)!r}" for a, w, g in rows]
    path.write_text("\n".join(["pulse_amplitude_v,pulse_width_s,conductance_s", *lines]) + "\n")
    out = str(tmp_path / "out")
    assert main(["calibrate", str(path), "--model", "hzo", "--r-series-ohm", "50", "--capacitance-f", "4e-10",
                 "--out", out]) == 2
    assert "r_series_ohm: the series resistance is a term of the hzo_kinetics model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["calibrate", str(path), "--model", "hzo_kinetics", "--r-series-ohm", "fifty", "--out", out])
    assert "must be 'fit' or a number of ohms, got 'fifty'" in capsys.readouterr().err
