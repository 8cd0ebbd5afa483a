"""Fast exact DC solves of large linear crossbars, built from arrays (no deck text).

The model is the same circuit as :func:`memcosim.netlist.read_deck` with linear cells and a
virtual-ground read-out: row drivers are Norton equivalents (``r_driver_ohm > 0`` required),
each column's last wire segment leads to a 0 V sense node. Its nodal system is the crossbar's
two-layer system of :class:`~memcosim.circuits.crossbar_layers.CrossbarLayers` (the cells couple
the layers, no shunts): one sparse LU for small arrays, line relaxation with a coarse-grid
correction for large ones. A :class:`CrossbarSolver` factorises once and solves many input vectors.
"""

import math

import numpy as np

from memcosim.base.errors import SimulationError
from memcosim.base.memory import check_memory
from memcosim.circuits import crossbar_layers
from memcosim.circuits.crossbar_layers import CrossbarLayers

__all__ = ["CrossbarSolver", "CrossbarSolution"]


class CrossbarSolution:
    """Column currents (A, into the virtual ground) and node voltages of one or more reads."""

    def __init__(self, column_current_a, row_voltage_v, col_voltage_v, iterations):
        self.column_current_a = column_current_a
        self.row_voltage_v = row_voltage_v
        self.col_voltage_v = col_voltage_v
        self.iterations = iterations


class CrossbarSolver:
    """Factorise a linear crossbar once; solve it for many row input vectors.

    Parameters
    ----------
    conductance_s : ndarray, shape (rows, cols)
        Cell conductances, siemens (> 0).
    r_wire_ohm : float
        Wire segment resistance, ohms (> 0).
    r_driver_ohm : float
        Row driver output resistance, ohms (> 0).
    rtol : float
        Relative residual at which the sweeps stop (default 1e-12: currents to ~1e-12 relative).

    Raises
    ------
    SimulationError
        Bad conductances or resistances.
    ConfigError
        The estimated memory (:func:`memcosim.circuits.crossbar_layers.estimate_bytes`) is over
        the budget.

    Notes
    -----
    Cost per solve: ``O(R C)`` per sweep (two line solves and a coarse-grid correction); 5 to 7
    sweeps at 1024 x 1024 whether the IR-drop is light (1 ohm wires, 10-100 uS cells) or heavy
    (10 ohm wires), see ``benchmarks/bench_solver.py``.
    """

    def __init__(self, conductance_s, r_wire_ohm, r_driver_ohm, rtol=1e-12, maxiter=500):
        g = np.asarray(conductance_s, dtype=float)
        if g.ndim != 2 or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise SimulationError("conductance_s: must be a 2-D array of finite conductances > 0")
        for name, value in (("r_wire_ohm", r_wire_ohm), ("r_driver_ohm", r_driver_ohm)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SimulationError(f"{name}: the structured solver needs a finite resistance > 0 ohms, got {value!r}")
        self.rows, self.cols = g.shape
        check_memory(crossbar_layers.estimate_bytes(self.rows, self.cols),
                     f"IR-drop solve of a {self.rows} x {self.cols} array", "use a smaller array")
        self.g_wire = 1.0 / r_wire_ohm
        self.g_drv = 1.0 / r_driver_ohm
        self.rtol, self.maxiter = rtol, maxiter
        self._layers = CrossbarLayers(g, self.g_wire, self.g_drv)

    def solve(self, input_v):
        """Solve for row inputs ``input_v`` of shape (rows,) or (batch, rows).

        Returns
        -------
        CrossbarSolution
            ``column_current_a`` of shape (cols,) or (batch, cols); ``iterations`` the sweeps of each read.
        """
        v_in = np.atleast_2d(np.asarray(input_v, dtype=float))
        if v_in.ndim != 2 or v_in.shape[1] != self.rows or not np.all(np.isfinite(v_in)):
            raise SimulationError(f"input_v: must hold {self.rows} finite voltages per read, got shape {np.shape(input_v)}")
        currents, rows_v, cols_v, iters = [], [], [], []
        zero = np.zeros((self.rows, self.cols))
        for vec in v_in:
            b = zero.copy()
            b[:, 0] = self.g_drv * vec  # driver injections at j = 0 of each row
            x_row, x_col, sweeps = self._layers.solve(b, zero, rtol=self.rtol, maxiter=self.maxiter)
            currents.append(self.g_wire * x_col[-1])
            rows_v.append(x_row)
            cols_v.append(x_col)
            iters.append(sweeps)
        squeeze = np.ndim(input_v) == 1
        pick = (lambda a: a[0]) if squeeze else np.array
        return CrossbarSolution(pick(currents), pick(rows_v), pick(cols_v), iters)
