"""The linear system of a crossbar's two wire layers, solved by line relaxation and a coarse grid.

Every crossbar solve — a DC read with IR-drop (:class:`~memcosim.circuits.crossbar_solver.CrossbarSolver`)
or one implicit step of a write pulse (:mod:`memcosim.circuits.transient`) — is one symmetric
positive definite system over the row-layer nodes ``r[i, j]`` and the column-layer nodes ``c[i, j]``:

* each row is a chain along ``j`` (conductance ``g_wire`` per segment) driven at ``j = 0`` through
  ``g_driver``; each column a chain along ``i`` whose last segment (``g_wire``) leads to its
  driven end (the sense node or column driver);
* a shunt to ground on every node (``row_shunt_s``, ``col_shunt_s``: wire capacitance over the
  time step in a transient, 0 at DC);
* a coupling ``coupling_s[i, j]`` between ``r[i, j]`` and ``c[i, j]``: the cell's conductance
  (plus its capacitance over the time step).

:class:`CrossbarLayers` solves it by block Gauss-Seidel over the two layers — each layer's
chains are solved exactly (LAPACK ``pttrs`` along the rows, a vectorised Thomas sweep down the
columns, no transposes) — with a Galerkin coarse-grid correction on bilinear hat functions
every ``coarse_spacing`` cells, which removes the smooth error that block Gauss-Seidel alone
leaves (the modes longer than a line's decay length ``sqrt(g_wire / g_cell)``, which made heavy
IR-drop slow). After a sweep the residual is known without a product with the matrix: only the
row equations are off, by ``coupling * (c_new - c_old)``.

Cost: ``O(R C)`` per sweep (one ``pttrs``, one Thomas sweep, a few element-wise products) and a
coarse solve of ``2 (R/H + 1) (C/H + 1)`` unknowns; about 7 sweeps to a relative residual of
1e-12 at 1024 x 1024 with 10 ohm wires and 10-100 uS cells (50 conjugate-gradient iterations
before). Memory: :func:`estimate_bytes`, about 15 arrays of ``R x C`` floats.
"""

import math

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from scipy.sparse.linalg import splu

from memcosim.base.errors import SimulationError

__all__ = ["CrossbarLayers", "estimate_bytes", "hat_interpolation"]


def estimate_bytes(rows, cols, coarse_spacing=16):
    """Peak memory (bytes) of a :class:`CrossbarLayers` of ``rows x cols`` and one solve. O(1).

    About 15 float arrays of ``rows x cols`` (the two layers' factors, the coupling, the
    iterate, right-hand sides and temporaries) and the coarse LU (about 200 numbers per coarse
    unknown, measured at 2 x 65 x 65).
    """
    coarse = 2 * (rows // coarse_spacing + 2) * (cols // coarse_spacing + 2)
    return 15 * 8 * rows * cols + 200 * 8 * coarse + 5e6


def hat_interpolation(n, spacing):
    """Linear interpolation from coarse nodes ``0, H, 2H, ..., n - 1`` to ``n`` fine nodes.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n, K)
        Column ``k`` is the hat function of coarse node ``k`` (1 at the node, linear to 0 at
        its neighbours); rows sum to 1.
    """
    nodes = list(range(0, n, spacing))
    if nodes[-1] != n - 1:
        nodes.append(n - 1)
    nodes = np.array(nodes)
    fine = np.arange(n)
    k = np.clip(np.searchsorted(nodes, fine, side="right") - 1, 0, len(nodes) - 1)
    at_node = nodes[k] == fine
    rows, cols, vals = [fine[at_node]], [k[at_node]], [np.ones(int(at_node.sum()))]
    between = ~at_node
    left = k[between]
    t = (fine[between] - nodes[left]) / (nodes[left + 1] - nodes[left])
    rows += [fine[between], fine[between]]
    cols += [left, left + 1]
    vals += [1.0 - t, t]
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, len(nodes)))


def _chain_laplacian(n, g):
    """Laplacian of a chain of ``n`` nodes with conductance ``g`` between neighbours."""
    if n == 1:
        return sp.csr_matrix((1, 1))
    d = np.full(n, 2.0 * g)
    d[0] = d[-1] = g
    return sp.diags([d, np.full(n - 1, -g), np.full(n - 1, -g)], [0, 1, -1], format="csr")


def _field_operator(pi, pj, field):
    """``P^T diag(field) P`` for ``P = pi (x) pj`` (bilinear hats), built from the 1-D hats.

    With hats the product couples each coarse node to its 8 neighbours; each band is one
    ``U^T field V`` of element-wise products of neighbouring hats (cost ``O(R C)``).
    """
    ki, kj = pi.shape[1], pj.shape[1]
    u = [pi.multiply(pi).tocsc(), pi[:, :-1].multiply(pi[:, 1:]).tocsc()]
    v = [pj.multiply(pj).tocsc(), pj[:, :-1].multiply(pj[:, 1:]).tocsc()]
    band = {}
    for a in (0, 1):
        left = np.asarray((u[a].T @ field))  # (ki - a, C)
        for b in (0, 1):
            band[a, b] = np.asarray((v[b].T @ left.T).T)  # (ki - a, kj - b)
    index = np.arange(ki * kj).reshape(ki, kj)
    rows, cols, vals = [index.ravel()], [index.ravel()], [band[0, 0].ravel()]

    def pair(p, q, values):
        rows.extend([p.ravel(), q.ravel()])
        cols.extend([q.ravel(), p.ravel()])
        vals.extend([values.ravel(), values.ravel()])

    pair(index[:, :-1], index[:, 1:], band[0, 1])
    pair(index[:-1, :], index[1:, :], band[1, 0])
    pair(index[:-1, :-1], index[1:, 1:], band[1, 1])
    pair(index[:-1, 1:], index[1:, :-1], band[1, 1])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(ki * kj, ki * kj))


DIRECT_CELLS = 1024
"""Arrays of at most this many cells are solved by one sparse LU of the whole system (measured:
cheaper than the sweeps' set-up below about 32 x 32)."""


def _direct_factor(g, g_wire, g_driver, shunts):
    """Sparse LU of the whole two-layer matrix (row layer first, both row-major)."""
    rows, cols = g.shape
    n = rows * cols
    index = np.arange(n).reshape(rows, cols)
    diag = np.concatenate([(shunts[0] + g).ravel(), (shunts[1] + g).ravel()])
    a, b, w = [index.ravel(), index[:, :-1].ravel(), n + index[:-1, :].ravel()], \
        [n + index.ravel(), index[:, 1:].ravel(), n + index[1:, :].ravel()], \
        [g.ravel(), np.full(rows * (cols - 1), g_wire), np.full((rows - 1) * cols, g_wire)]
    a, b, w = np.concatenate(a), np.concatenate(b), np.concatenate(w)
    np.add.at(diag, b[len(g.ravel()):], w[len(g.ravel()):])
    np.add.at(diag, a[len(g.ravel()):], w[len(g.ravel()):])
    diag[index[:, 0]] += g_driver
    diag[n + index[-1, :]] += g_wire  # the last column segment to the column's driven end
    matrix = sp.coo_matrix((np.concatenate([diag, -w, -w]), (np.concatenate([np.arange(2 * n), a, b]),
                                                              np.concatenate([np.arange(2 * n), b, a]))),
                           shape=(2 * n, 2 * n)).tocsc()
    try:
        return splu(matrix, permc_spec="MMD_AT_PLUS_A")
    except RuntimeError as exc:
        raise SimulationError(f"crossbar layers: singular matrix ({exc})") from None


class _ColumnChains:
    """LDL^T of the column layer's tridiagonal chains (down axis 0 of an ``R x C`` array),
    solved by a Thomas sweep vectorised across the columns (no transpose)."""

    def __init__(self, diag, g_wire):
        rows = diag.shape[0]
        self.lower = np.zeros_like(diag)
        pivot = np.empty_like(diag)
        pivot[0] = diag[0]
        for i in range(1, rows):
            self.lower[i] = -g_wire / pivot[i - 1]
            pivot[i] = diag[i] + self.lower[i] * g_wire
        if not np.all(pivot > 0):
            raise SimulationError("crossbar layers: column matrix not positive definite")
        self.inv_pivot = 1.0 / pivot
        self._tmp = np.empty(diag.shape[1])

    def solve(self, rhs, overwrite=False):
        """Solve for ``rhs`` (shape R x C); ``overwrite``: in ``rhs``'s own memory."""
        y = rhs if overwrite else np.array(rhs, dtype=float)
        tmp, lower = self._tmp, self.lower
        for i in range(1, y.shape[0]):
            np.multiply(lower[i], y[i - 1], out=tmp)
            np.subtract(y[i], tmp, out=y[i])
        y *= self.inv_pivot
        for i in range(y.shape[0] - 2, -1, -1):
            np.multiply(lower[i + 1], y[i + 1], out=tmp)
            np.subtract(y[i], tmp, out=y[i])
        return y


class CrossbarLayers:
    """Factorise the two-layer system of a crossbar once; solve it for many right-hand sides.

    Parameters
    ----------
    coupling_s : ndarray, shape (rows, cols)
        Conductance between ``r[i, j]`` and ``c[i, j]``, siemens (> 0).
    g_wire_s : float
        Conductance of one wire segment, siemens (> 0).
    g_driver_s : float
        Conductance of each row driver (to the row's first node), siemens (> 0).
    row_shunt_s, col_shunt_s : ndarray (rows, cols), optional
        Conductance of each node to ground, siemens (>= 0; default 0).
    coarse_spacing : int, optional
        Cells between coarse nodes (default: half the lines' decay length
        ``sqrt(g_wire / coupling)``, 4 to 32).

    Notes
    -----
    Right-hand sides are the currents injected at each node (amperes): the driver's
    ``g_driver V_in`` at ``r[i, 0]``, ``g_wire V_out`` at ``c[rows - 1, j]``, and whatever a time
    step or a nonlinear cell adds.
    """

    def __init__(self, coupling_s, g_wire_s, g_driver_s, row_shunt_s=None, col_shunt_s=None, coarse_spacing=None):
        g = np.asarray(coupling_s, dtype=float)
        if g.ndim != 2 or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise SimulationError("coupling_s: must be a 2-D array of finite conductances > 0")
        for name, value in (("g_wire_s", g_wire_s), ("g_driver_s", g_driver_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SimulationError(f"{name}: must be a finite conductance > 0 siemens, got {value!r}")
        rows, cols = g.shape
        shunts = []
        for name, value in (("row_shunt_s", row_shunt_s), ("col_shunt_s", col_shunt_s)):
            s = np.zeros((rows, cols)) if value is None else np.asarray(value, dtype=float)
            if s.shape != (rows, cols) or not np.all(np.isfinite(s)) or np.any(s < 0):
                raise SimulationError(f"{name}: must be a ({rows}, {cols}) array of finite conductances >= 0")
            shunts.append(s)
        self.rows, self.cols = rows, cols
        self.coupling_s = g
        self.g_wire_s, self.g_driver_s = float(g_wire_s), float(g_driver_s)
        if rows * cols <= DIRECT_CELLS:  # small arrays: one sparse LU of the whole system is cheapest
            self._direct = _direct_factor(g, float(g_wire_s), float(g_driver_s), shunts)
            self.coarse_spacing = 0
            return
        self._direct = None
        d_row = shunts[0] + g
        d_row[:, :-1] += g_wire_s
        d_row[:, 1:] += g_wire_s
        d_row[:, 0] += g_driver_s
        off = np.full((rows, cols), -float(g_wire_s))
        off[:, -1] = 0.0
        d, e, info = lapack.dpttrf(d_row.ravel(), off.ravel()[:-1])
        if info != 0:
            raise SimulationError(f"crossbar layers: row matrix not positive definite (pttrf info {info})")
        self._row_factor = (d, e)
        d_col = shunts[1] + g
        d_col[:-1, :] += g_wire_s
        d_col[1:, :] += g_wire_s
        d_col[-1, :] += g_wire_s  # the last segment to the column's driven end
        self._columns = _ColumnChains(d_col, float(g_wire_s))
        if coarse_spacing is None:
            decay = math.sqrt(g_wire_s / float(np.mean(g)))
            coarse_spacing = int(min(32, max(4, decay / 2)))
        self.coarse_spacing = int(coarse_spacing)
        self._coarse_setup(shunts)

    def _coarse_setup(self, shunts):
        rows, cols, h = self.rows, self.cols, self.coarse_spacing
        pi, pj = hat_interpolation(rows, h), hat_interpolation(cols, h)
        # sparse products throughout: no BLAS threads (they stall on a loaded machine)
        self._pi, self._pj = pi, pj
        self._pi_t, self._pj_t = pi.T.tocsr(), pj.T.tocsr()
        g, gw = self.coupling_s, self.g_wire_s
        mi, mj = (pi.T @ pi).tocsr(), (pj.T @ pj).tocsr()
        first = pj[0, :].toarray().ravel()
        last = pi[rows - 1, :].toarray().ravel()
        a_rr = (sp.kron(mi, pj.T @ _chain_laplacian(cols, gw) @ pj) + self.g_driver_s * sp.kron(mi, np.outer(first, first))
                + _field_operator(pi, pj, shunts[0] + g))
        a_cc = (sp.kron(pi.T @ _chain_laplacian(rows, gw) @ pi, mj) + gw * sp.kron(np.outer(last, last), mj)
                + _field_operator(pi, pj, shunts[1] + g))
        a_rc = -_field_operator(pi, pj, g)
        self._n_coarse = a_rr.shape[0]
        try:
            self._coarse = splu(sp.bmat([[a_rr, a_rc], [a_rc, a_cc]], format="csc"), permc_spec="MMD_AT_PLUS_A")
        except RuntimeError as exc:
            raise SimulationError(f"crossbar layers: singular coarse matrix ({exc})") from None

    def _restrict(self, x):
        # the large product first, on x as stored (row-major): no transposed copy of x
        return np.asarray(self._pj_t @ np.ascontiguousarray((self._pi_t @ x).T)).T

    def _prolong(self, e):
        return self._pi @ np.ascontiguousarray(np.asarray(self._pj @ e.T).T)

    def _coarse_correction(self, residual_row, residual_col=None):
        n = self._n_coarse
        rhs = np.concatenate([self._restrict(residual_row).ravel(),
                              np.zeros(n) if residual_col is None else self._restrict(residual_col).ravel()])
        e = self._coarse.solve(rhs)
        ki, kj = self._pi.shape[1], self._pj.shape[1]
        return self._prolong(e[:n].reshape(ki, kj)), self._prolong(e[n:].reshape(ki, kj))

    def solve(self, row_rhs_a, col_rhs_a, col_guess_v=None, rtol=1e-12, maxiter=500):
        """Solve for the node voltages given the currents injected at every node.

        Parameters
        ----------
        row_rhs_a, col_rhs_a : ndarray, shape (rows, cols)
            Current injected into each row-layer and column-layer node, amperes.
        col_guess_v : ndarray (rows, cols), optional
            Starting column-layer voltages (default: the coarse-grid solution).
        rtol : float
            Stop when the residual's norm is below ``rtol`` times the right-hand side's.

        Returns
        -------
        (row_v, col_v, sweeps)
            Node voltages of the two layers (volts, ``rows x cols``) and the sweeps used.

        Raises
        ------
        SimulationError
            No convergence within ``maxiter`` sweeps, or a non-finite result.
        """
        b_row = np.asarray(row_rhs_a, dtype=float)
        b_col = np.asarray(col_rhs_a, dtype=float)
        if self._direct is not None:
            x = self._direct.solve(np.concatenate([b_row.ravel(), b_col.ravel()]))
            if not np.all(np.isfinite(x)):
                raise SimulationError("crossbar layers: the solution is not finite")
            n = self.rows * self.cols
            return x[:n].reshape(self.rows, self.cols), x[n:].reshape(self.rows, self.cols), 1
        scale = math.sqrt(float(np.sum(b_row * b_row) + np.sum(b_col * b_col)))
        if scale == 0.0:
            zero = np.zeros((self.rows, self.cols))
            return zero, zero.copy(), 0
        g = self.coupling_s
        x_col = self._coarse_correction(b_row, b_col)[1] if col_guess_v is None else np.array(col_guess_v, dtype=float)
        d, e = self._row_factor
        rhs = np.empty(self.rows * self.cols)
        rhs_2d = rhs.reshape(self.rows, self.cols)
        residual = np.empty_like(rhs_2d)
        square = np.empty_like(rhs_2d)
        for sweep in range(1, maxiter + 1):
            np.multiply(g, x_col, out=rhs_2d)
            rhs_2d += b_row
            x_row = lapack.dpttrs(d, e, rhs, overwrite_b=1)[0].reshape(self.rows, self.cols)
            col_rhs = g * x_row
            col_rhs += b_col
            new_col = self._columns.solve(col_rhs, overwrite=True)
            np.subtract(new_col, x_col, out=residual)
            residual *= g  # the row equations' residual; the column ones are exact
            x_col = new_col
            norm = math.sqrt(float(np.square(residual, out=square).sum()))  # not BLAS: no threads
            if not math.isfinite(norm):
                raise SimulationError("crossbar layers: the solution is not finite")
            if norm <= rtol * scale:
                return x_row.copy(), x_col, sweep
            x_col += self._coarse_correction(residual)[1]
        raise SimulationError(f"crossbar layers: no convergence in {maxiter} sweeps (residual {norm / scale:.2g} of the "
                              f"right-hand side, asked {rtol:g})")
