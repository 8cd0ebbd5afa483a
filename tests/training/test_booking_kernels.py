"""The compiled bookings of a forward read and of an update's operation costs: each tied to its torch
expression (the read energy and the mean state add in a fixed order, so to rounding; the rest exactly)."""

import pytest
import torch

from memcosim.base.reproducible import fixed_order_sum
from memcosim.circuits.energy_models import read_energy_basis
from memcosim.training import CrossbarLinear, EnergyLedger, WriteEnergyTable, attach_ledger, booking_kernel, kernel, read_kernel

pytestmark = pytest.mark.skipif(not kernel.available(), reason="numba not importable")


def _reads(n_in, dtype=torch.float32):
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(9, n_in, generator=gen, dtype=dtype) - 0.3
    x[x.abs() < 0.2] = 0.0  # zero inputs, as a sparse image has
    x[3] = 0.0  # a read that drives nothing: its peak is 1e-30, its energy 0
    return x


@pytest.mark.parametrize("n_in", [1, 7, 8, 13, 784])
def test_read_energy_basis_is_the_read_energy_law_of_the_scaled_reads(n_in):
    x = _reads(n_in)
    g = torch.rand(5, n_in, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 1e-4
    sums = g.sum(0)
    x64 = x.to(torch.float64)
    volts = 0.2 * x64 / x64.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    expected = float(read_energy_basis(g.T, volts, 1e-8))  # the law in the array's (rows, cols) layout
    got = booking_kernel.read_energy_basis(x, 0.2, sums, 1e-8)
    assert isinstance(got, float) and got > 0
    assert got == pytest.approx(expected, rel=1e-12)
    assert booking_kernel.read_energy_basis(torch.zeros(3, n_in), 0.2, sums, 1e-8) == 0.0


def test_read_energy_basis_adds_in_a_fixed_order():
    """Eight lanes, then the lanes in order, then the reads in order: written out by hand."""
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], [0.5] * 10], dtype=torch.float64)
    s = torch.tensor([1e-3, 1e-16, 1.0, 3e-8, 7.0, 1e-12, 2.0, 5e-5, 1e-9, 3.0], dtype=torch.float64)
    total = 0.0
    for row in x.tolist():
        peak = max(abs(v) for v in row)
        terms = [(0.1 * v / peak) * (0.1 * v / peak) * float(si) for v, si in zip(row, s.tolist())]
        lanes = terms[:8]
        for i, t in enumerate(terms[8:]):
            lanes[i] += t
        acc = 0.0
        for lane in lanes:
            acc += lane
        total += acc
    assert booking_kernel.read_energy_basis(x, 0.1, s, 1.0) == total


def test_input_sums_and_total_are_torchs_sums_to_rounding():
    g = torch.rand(37, 29, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 1e-5
    assert torch.allclose(booking_kernel.input_sums(g), g.sum(0), rtol=1e-13, atol=0)
    big = torch.rand(70001, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert booking_kernel.total(big) == pytest.approx(float(fixed_order_sum(big)), rel=1e-12)
    assert booking_kernel.total(g) == pytest.approx(float(g.sum()), rel=1e-13)
    assert booking_kernel.total(torch.ones(3, dtype=torch.float64)) == 3.0


def test_driven_inputs_are_the_inputs_some_read_drives():
    x = _reads(13)
    x[:, 5] = 0.0
    x[0, 5] = -0.0  # negative zero drives nothing
    x[2, 7] = float("nan")  # a NaN input is not zero (the read then fails where it is checked)
    assert torch.equal(read_kernel.driven(x), x.ne(0).any(0))
    assert not read_kernel.driven(x)[5] and read_kernel.driven(x)[7]
    assert torch.equal(read_kernel.driven(x.T.contiguous().T), x.ne(0).any(0))  # a non-contiguous view


@pytest.mark.parametrize("size", [0, 1, 9, 300])
def test_write_energy_split_is_the_total_of_each_directions_terms(size):
    """Each direction's three energies are :func:`booking_kernel.total` of the write-energy law's
    terms of that direction's devices (in index order) exactly, its pulses the sum of ``|n|``; a
    direction no device took is None; devices with no pulse cost nothing."""
    gen = torch.Generator().manual_seed(6)
    states = torch.linspace(0.0, 1.0, 65, dtype=torch.float64)
    per_pulse = {d: {c: (torch.rand(65, generator=gen, dtype=torch.float64) * 1e-12 + states * 1e-13).numpy()
                     for c in ("selected_j", "half_selected_j", "wires_drivers_j")} for d in ("up", "down")}
    table = WriteEnergyTable(per_pulse, {"up": 3e-13, "down": 5e-13}, "test")
    g_min, span = 1e-6, 4e-5
    g0 = g_min + torch.rand(size, generator=gen, dtype=torch.float64) * span
    n = torch.randint(-5, 6, (size,), generator=gen).to(torch.float64)
    g1 = (g0 + n * 1e-7).clamp(g_min, g_min + span)
    got = booking_kernel.write_energy_split(g0, g1, n, table, g_min, span)
    for (direction, mask), booked in zip((("up", n > 0), ("down", n < 0)), got):
        if not bool(mask.any()):
            assert booked is None
            continue
        terms = table.terms_j((g0[mask] - g_min) / span, (g1[mask] - g_min) / span, n[mask].abs(), direction)
        energies, pulses = booked
        assert energies == tuple(booking_kernel.total(t) for t in terms)
        assert pulses == int(n[mask].abs().sum())
        assert energies == pytest.approx(tuple(float(t.sum()) for t in terms), rel=1e-12)
    assert size < 9 or all(b is not None for b in got)


def test_a_read_of_few_inputs_books_the_energy_of_the_whole_sums():
    """A one-hot read (a Tiki-Taka transfer's) after the conductances moved sums only its driven
    inputs (the same additions, zeros elsewhere): the very energy of the whole sums, and the
    reference's kept sum still follows that array."""
    gen = torch.Generator().manual_seed(7)
    layer = CrossbarLinear(40, 12)
    attach_ledger(layer, EnergyLedger())
    with torch.no_grad():
        layer(torch.rand(5, 40, generator=gen))  # the whole sums, kept
        layer.conductance_s.mul_(1.0 + 0.1 * torch.rand(layer.conductance_s.shape, generator=gen, dtype=torch.float64))
        layer.sync_weight()
        one_hot = torch.zeros(2, 40)
        one_hot[0, 3], one_hot[1, 17] = 1.0, 0.5
        attach_ledger(layer, EnergyLedger())  # a fresh ledger: this read's energy alone
        layer(one_hot)
    got = layer.ledger.totals().read_j
    assert layer._read_sums[0] != layer._version  # the whole sums were not recomputed for it
    read = layer.tile.read
    whole = booking_kernel.input_sums(layer.conductance_s) + booking_kernel.input_sums(layer.reference_s)
    expected = layer.tile.read_energy.coefficient * booking_kernel.read_energy_basis(one_hot, read.voltage_v, whole,
                                                                                     read.width_s)
    assert got == pytest.approx(expected, rel=1e-15, abs=0) and expected > 0
    driven = torch.zeros(40, dtype=torch.bool)
    driven[[3, 17]] = True
    at = booking_kernel.input_sums(layer.conductance_s, driven)
    assert torch.equal(at[driven], booking_kernel.input_sums(layer.conductance_s)[driven])
    assert not bool(at[~driven].any())
