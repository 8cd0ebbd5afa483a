"""Compiled (numba) sums of the ledger's bookings, each added in a fixed order on any machine.

* :func:`read_energy_basis` — a forward read's energy (the read-energy law,
  :func:`memcosim.circuits.energy_models.read_energy_basis`, of reads scaled to the read voltage
  at their peak) in one pass, with no voltage tensor;
* :func:`input_sums` — each input row's conductances summed over the outputs (what that law takes);
* :func:`total` — a tensor's sum (the mean state the update scheme's operation costs are taken at).

torch adds these in BLAS's or its reduction's order (a matrix-vector product, cascade sums), which
may change with the CPU's vector extensions; these add element ``i`` into lane ``i % 8`` (the lanes
vectorise), the lanes in order, then the reads in order, so every machine and thread count gives
the same number; they equal the torch expressions to rounding (rtol 1e-12:
tests/training/test_booking_kernels.py). Energies only: nothing here feeds back into training.
"""

import numpy as np

from memcosim.training.kernel import available

__all__ = ["read_energy_basis", "input_sums", "total"]

if available():
    from numba import njit

    from memcosim.training.kernel import _row_abs_max

    @njit(inline="always")
    def _lane_sum(terms):
        # element i into lane i % 8, then the lanes in order
        n = terms.size
        body = n - n % 8
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for i in range(0, body, 8):
            a0 += terms[i]
            a1 += terms[i + 1]
            a2 += terms[i + 2]
            a3 += terms[i + 3]
            a4 += terms[i + 4]
            a5 += terms[i + 5]
            a6 += terms[i + 6]
            a7 += terms[i + 7]
        lanes = [a0, a1, a2, a3, a4, a5, a6, a7]
        for i in range(body, n):
            lanes[i - body] += terms[i]
        out = 0.0
        for k in range(8):
            out += lanes[k]
        return out

    @njit(cache=True)
    def _read_energy_sum(x, voltage_v, row_sums):
        # sum over reads b and inputs i of v_bi^2 s_i, v_bi = voltage_v x_bi / max_i |x_bi| (peak at
        # least 1e-30: a read of zeros costs nothing): each read's terms by _lane_sum, the reads in order
        out = 0.0
        n = x.shape[1]
        terms = np.empty(n)
        for b in range(x.shape[0]):
            xb = x[b]
            peak = max(_row_abs_max(x, b), 1e-30)
            for i in range(n):
                v = voltage_v * np.float64(xb[i]) / peak
                terms[i] = v * v * row_sums[i]
            out += _lane_sum(terms)
        return out

    @njit(cache=True)
    def _total(values):
        return _lane_sum(values)

    @njit(cache=True)
    def _input_sums(g, out):
        # out[i] = sum over outputs j of g[j, i], in output order (whole rows at a time: vectorised)
        out[:] = 0.0
        for j in range(g.shape[0]):
            row = g[j]
            for i in range(g.shape[1]):
                out[i] += row[i]


def read_energy_basis(x, voltage_v, row_sums_s, read_width_s):
    """``t sum_b sum_i v_bi^2 s_i`` (joules, a Python float): the read-energy law's basis for the reads
    ``x`` (reads x inputs, CPU), each scaled to ``voltage_v`` (volts) at its peak, ``v_bi = voltage_v
    x_bi / max_i |x_bi|``, with ``row_sums_s`` (inputs,) each input row's conductances summed
    (siemens, :func:`input_sums`) and ``t = read_width_s`` (seconds)."""
    x = x.detach().contiguous()
    return float(read_width_s) * _read_energy_sum(x.numpy(), float(voltage_v), row_sums_s.contiguous().numpy())


def input_sums(g):
    """``g.sum(0)`` of ``g`` (outputs x inputs, float64, CPU; siemens): each input's conductances over
    the outputs, added in output order."""
    import torch

    out = torch.empty(g.shape[1], dtype=torch.float64)
    _input_sums(g.contiguous().numpy(), out.numpy())
    return out


def total(values):
    """The sum of every element of ``values`` (float64, CPU), a Python float."""
    return float(_total(values.contiguous().view(-1).numpy()))
