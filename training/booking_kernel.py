"""Compiled (numba) sums of the ledger's bookings, each added in a fixed order on any machine.

* :func:`read_energy_basis` — a forward read's energy (the read-energy law,
  :func:`memcosim.circuits.energy_models.read_energy_basis`, of reads scaled to the read voltage
  at their peak) in one pass, with no voltage tensor;
* :func:`input_sums` — each input row's conductances summed over the outputs (what that law takes);
* :func:`total` — a tensor's sum (the mean state the update scheme's operation costs are taken at);
* :func:`write_energy_split` — the write energy of signed pulse counts moving conductances, up
  pulses and down pulses apart (the write-energy law,
  :func:`memcosim.training.ledger.write_energy_terms`, per device; the pulses applied at
  indices: mixed-precision transfers, aggregated updates).

torch adds these in BLAS's or its reduction's order (a matrix-vector product, cascade sums), which
may change with the CPU's vector extensions; these add element ``i`` into lane ``i % 8`` (the lanes
vectorise), the lanes in order, then the reads in order, so every machine and thread count gives
the same number; they equal the torch expressions to rounding (rtol 1e-12:
tests/training/test_booking_kernels.py; each direction of :func:`write_energy_split` equals
:func:`total` of the law's terms of that direction's devices exactly). Energies only: nothing here
feeds back into training.
"""

import numpy as np

from memcosim.training.kernel import available

__all__ = ["read_energy_basis", "input_sums", "total", "write_energy_split"]

if available():
    from numba import njit

    from memcosim.devices.compiled import SCALAR, register_laws
    from memcosim.training import ledger as _ledger
    from memcosim.training.kernel import _row_abs_max

    register_laws()  # the write-energy law, compiled below

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
    def _write_energy_split(g0, g1, n, x_lo, x_span, table, switching, out):
        # out[d] = (selected, half-selected, wires and drivers (J), pulses, devices) of direction d
        # (0: n > 0, up; 1: n < 0, down): each direction's terms in index order, added by _lane_sum
        f = SCALAR
        terms = np.empty((2, 3, g0.size))
        seen = np.zeros(2, dtype=np.int64)
        pulses = np.zeros(2)
        for e in range(g0.size):
            if n[e] == 0:
                continue
            d = 0 if n[e] > 0 else 1
            count = abs(n[e])
            x0, x1 = (g0[e] - x_lo) / x_span, (g1[e] - x_lo) / x_span
            selected, half, wires = _ledger.write_energy_terms(table[d], switching[d], x0, x1, count, f)
            k = seen[d]
            terms[d, 0, k], terms[d, 1, k], terms[d, 2, k] = selected, half, wires
            seen[d] += 1
            pulses[d] += count
        for d in range(2):
            for c in range(3):
                out[d, c] = _lane_sum(terms[d, c, :seen[d]])
            out[d, 3] = pulses[d]
            out[d, 4] = seen[d]

    @njit(cache=True)
    def _input_sums(g, out):
        # out[i] = sum over outputs j of g[j, i], in output order (whole rows at a time: vectorised)
        out[:] = 0.0
        for j in range(g.shape[0]):
            row = g[j]
            for i in range(g.shape[1]):
                out[i] += row[i]

    @njit(cache=True)
    def _input_sums_at(g, driven, out):
        # _input_sums in the inputs where driven is set (the same additions), zero elsewhere
        out[:] = 0.0
        for i in range(g.shape[1]):
            if driven[i]:
                for j in range(g.shape[0]):
                    out[i] += g[j, i]


def read_energy_basis(x, voltage_v, row_sums_s, read_width_s):
    """``t sum_b sum_i v_bi^2 s_i`` (joules, a Python float): the read-energy law's basis for the reads
    ``x`` (reads x inputs, CPU), each scaled to ``voltage_v`` (volts) at its peak, ``v_bi = voltage_v
    x_bi / max_i |x_bi|``, with ``row_sums_s`` (inputs,) each input row's conductances summed
    (siemens, :func:`input_sums`) and ``t = read_width_s`` (seconds)."""
    x = x.detach().contiguous()
    return float(read_width_s) * _read_energy_sum(x.numpy(), float(voltage_v), row_sums_s.contiguous().numpy())


def input_sums(g, inputs=None):
    """``g.sum(0)`` of ``g`` (outputs x inputs, float64, CPU; siemens): each input's conductances over
    the outputs, added in output order. ``inputs`` (bool, one flag an input): only those inputs'
    sums (the same numbers), zero elsewhere."""
    import torch

    out = torch.empty(g.shape[1], dtype=torch.float64)
    if inputs is None:
        _input_sums(g.contiguous().numpy(), out.numpy())
    else:
        _input_sums_at(g.contiguous().numpy(), inputs.numpy(), out.numpy())
    return out


def total(values):
    """The sum of every element of ``values`` (float64, CPU), a Python float."""
    return float(_total(values.contiguous().view(-1).numpy()))


def write_energy_split(g0, g1, n, write_energy, g_min_s, span_s):
    """The write energy of signed pulse counts ``n`` moving conductances ``g0 -> g1`` (siemens),
    booked per direction: ``[(energies, pulses) of the up pulses (n > 0), (energies, pulses) of
    the down pulses]``, each ``energies`` the three categories' joules (Python floats), ``pulses``
    an int, or None for a direction no device took.

    Each device's terms are the write-energy law (``write_energy``: the tile's
    :class:`~memcosim.training.ledger.WriteEnergyTable`) at the normalised states
    ``(G - g_min_s) / span_s``; ``g0``, ``g1``, ``n``: float64 CPU tensors of the same length.
    """
    table, switching = write_energy.directions("cpu")
    out = np.empty((2, 5))
    _write_energy_split(g0.contiguous().view(-1).numpy(), g1.contiguous().view(-1).numpy(),
                        n.contiguous().view(-1).numpy(), float(g_min_s), float(span_s), table.numpy(),
                        switching.numpy(), out)
    return [(tuple(row[:3].tolist()), int(row[3])) if row[4] > 0 else None for row in out]
