"""The crossbar's two-layer system: the sweeps with the coarse grid solve it exactly (against one
sparse LU of the whole matrix and a closed form), whatever the IR-drop or the shunts."""

import numpy as np
import pytest

from memcosim.base.errors import ConfigError, SimulationError
from memcosim.circuits import crossbar_layers
from memcosim.circuits.crossbar_layers import CrossbarLayers, hat_interpolation
from memcosim.circuits.crossbar_solver import CrossbarSolver


def _direct(g, g_wire, g_driver, shunts, b_row, b_col):
    lu = crossbar_layers._direct_factor(g, g_wire, g_driver, shunts)
    n = g.size
    x = lu.solve(np.concatenate([b_row.ravel(), b_col.ravel()]))
    return x[:n].reshape(g.shape), x[n:].reshape(g.shape)


@pytest.mark.parametrize("rows, cols, r_wire, shunt", [(48, 40, 10.0, 0.0), (40, 48, 1.0, 0.0), (64, 33, 1.0, 5e-3),
                                                        (37, 70, 100.0, 1e-6)])
def test_sweeps_equal_one_lu_of_the_whole_system(rows, cols, r_wire, shunt):
    rng = np.random.default_rng(rows + cols)
    g = rng.uniform(1e-5, 1e-4, (rows, cols)) + 0.5 * shunt
    shunts = [np.full((rows, cols), shunt), rng.uniform(0, 2 * shunt, (rows, cols))]
    b_row, b_col = rng.standard_normal((rows, cols)) * 1e-6, rng.standard_normal((rows, cols)) * 1e-6
    layers = CrossbarLayers(g, 1 / r_wire, 0.01, *shunts)
    assert layers.coarse_spacing >= 4 and rows * cols > crossbar_layers.DIRECT_CELLS  # the sweeps, not the LU
    x_row, x_col, sweeps = layers.solve(b_row, b_col)
    ref_row, ref_col = _direct(g, 1 / r_wire, 0.01, shunts, b_row, b_col)
    scale = np.abs(ref_col).max()
    assert np.abs(x_row - ref_row).max() < 1e-9 * scale and np.abs(x_col - ref_col).max() < 1e-9 * scale
    assert 1 <= sweeps <= 12


def test_heavy_ir_drop_converges_in_a_few_sweeps():
    """10 ohm segments, 10-100 uS cells, 128 x 128: the lines' decay length (43 cells) is a third of
    the array, which took block Gauss-Seidel alone about 30 iterations; the coarse grid removes it."""
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-5, 1e-4, (128, 128))
    v = rng.uniform(0, 0.2, 128)
    solution = CrossbarSolver(g, 10.0, 100.0).solve(v)
    assert solution.iterations[0] <= 8
    b = np.zeros((128, 128))
    b[:, 0] = v / 100.0
    _, ref_col = _direct(g, 0.1, 0.01, [np.zeros_like(g)] * 2, b, np.zeros_like(g))
    assert np.allclose(solution.column_current_a, 0.1 * ref_col[-1], rtol=1e-9, atol=0)
    assert np.all(solution.column_current_a < 0.97 * (v @ g))  # heavy: several per cent below G^T V


def test_one_cell_is_a_series_circuit():
    """1 x 1: driver, cell and the column's segment in series (the row has no segment)."""
    solution = CrossbarSolver(np.array([[1e-4]]), 7.0, 100.0).solve([0.3])
    assert solution.column_current_a[0] == pytest.approx(0.3 / (100.0 + 1e4 + 7.0), rel=1e-12)


def test_hat_interpolation():
    p = hat_interpolation(10, 4).toarray()  # coarse nodes 0, 4, 8, 9
    assert p.shape == (10, 4)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(p[[0, 4, 8, 9]], np.eye(4))
    assert p[2, 0] == pytest.approx(0.5) and p[6, 2] == pytest.approx(0.5)


def test_bad_input_and_memory_budget(monkeypatch):
    with pytest.raises(SimulationError, match="coupling_s"):
        CrossbarLayers(np.array([[1e-5, -1.0]]), 1.0, 0.01)
    with pytest.raises(SimulationError, match="g_wire_s"):
        CrossbarLayers(np.full((2, 2), 1e-5), 0.0, 0.01)
    with pytest.raises(SimulationError, match="row_shunt_s"):
        CrossbarLayers(np.full((2, 2), 1e-5), 1.0, 0.01, row_shunt_s=np.full((2, 3), 0.0))
    monkeypatch.setenv("MEMCOSIM_MEMORY_BUDGET_GB", "0.05")
    with pytest.raises(ConfigError, match=r"IR-drop solve of a 4096 x 4096 array needs about 2\.\d+ GB, over the memory budget"):
        CrossbarSolver(np.full((4096, 4096), 1e-5), 1.0, 100.0)
