"""Line charging on the edges of a pulse, against closed forms: the slow-ramp sum over the wire
segments, the lumped driver law, and the C V^2 / 2 of a step."""

import numpy as np
import pytest

from memcosim.circuits.line_charging import line_charging_j, ramp_loss_factor


def test_ramp_loss_factor_limits():
    assert ramp_loss_factor(1e6) == pytest.approx(1e-6, rel=1e-5)  # slow: tau / t_rise
    assert ramp_loss_factor(1e-7) == pytest.approx(0.5, rel=1e-6)  # a step: half of C V^2
    u = np.logspace(-6, 6, 200)
    f = ramp_loss_factor(u)
    assert np.all(np.diff(f) < 0) and np.all((f > 0) & (f <= 0.5))
    assert float(ramp_loss_factor(1e-4 * (1 - 1e-9))) == pytest.approx(float(ramp_loss_factor(1e-4 * (1 + 1e-9))), rel=1e-6)


def test_slow_edges_dissipate_the_driver_and_segment_currents():
    """One row of n cells (the columns at 0 V), slow ramp: each row segment carries the charge of the
    cells beyond it, and each cell's charge leaves through its column's one segment to the sense
    end, so the loss per edge is (R_d n^2 + r sum_k k^2 + n r) (c V)^2 / t_rise."""
    n, c, v, r_d, r_w, t = 16, 20e-15, 2.0, 100.0, 5.0, 1e-6
    expected = (r_d * n**2 + r_w * sum(k**2 for k in range(1, n)) + n * r_w) * (c * v) ** 2 / t
    got = line_charging_j(np.array([v]), np.zeros(n), c, 0.0, r_d, r_w, t)
    assert got == pytest.approx(2 * expected, rel=1e-4)  # two edges
    # ideal wires: the lumped law of earlier versions, 2 R_d Q^2 / t_rise
    assert line_charging_j(np.array([v]), np.zeros(n), c, 0.0, r_d, 0.0, t) == pytest.approx(2 * r_d * (n * c * v) ** 2 / t, rel=1e-4)


def test_a_step_dissipates_half_of_c_v_squared_per_edge():
    """A row charged by a step through its driver (the columns' segments so small that their own
    time constants stay far below the edge) loses C V^2 / 2 per edge."""
    n, c, v = 32, 20e-15, 1.5
    got = line_charging_j(np.array([v]), np.zeros(n), c, 1e-16, 100.0, 1e-9, 1e-18)
    assert got == pytest.approx(2 * 0.5 * n * (c + 1e-16) * v**2, rel=1e-3)
    # each side is charged with its crossing lines ideal: where both sides are slow to a step,
    # both count the cells' C V^2 / 2 (an over-estimate the fitted coefficient takes up)
    both = line_charging_j(np.array([v]), np.zeros(n), c, 0.0, 100.0, 1.0, 1e-18)
    assert both == pytest.approx(2 * 2 * 0.5 * n * c * v**2, rel=1e-3)


def test_lines_that_move_with_their_crossings_cost_nothing():
    """V/2 everywhere: the cells see no voltage, only the wire capacitance is charged."""
    v_rows, v_cols = np.full(8, 1.5), np.full(8, 1.5)
    assert line_charging_j(v_rows, v_cols, 20e-15, 0.0, 100.0, 1.0, 1e-9) == pytest.approx(0.0, abs=1e-30)
    assert line_charging_j(v_rows, v_cols, 20e-15, 1e-16, 100.0, 1.0, 1e-9) > 0


def test_a_drivers_own_energy_leaves_the_lines_charge_to_the_array():
    from types import SimpleNamespace

    from memcosim.circuits.line_charging import driver_own_energy_j, line_charge_j

    assert line_charge_j(2e-13, 1.5) == pytest.approx(2e-13 * 2.25, rel=1e-15)
    assert line_charge_j(2e-13, -1.5, share=0.5) == pytest.approx(1e-13 * 2.25, rel=1e-15)
    models = SimpleNamespace(driver=SimpleNamespace(load_coefficient=0.9),
                             driver_energy_j=lambda c, r, v: 1.2 * c * v * v + 1e-15)
    assert driver_own_energy_j(models, 2e-13, 50.0, 1.0) == pytest.approx(0.3 * 2e-13 + 1e-15, rel=1e-12)
    models.driver_energy_j = lambda c, r, v: 0.5 * c * v * v  # a fit below its own load term: never negative
    assert driver_own_energy_j(models, 2e-13, 50.0, 1.0) == 0.0
