"""A measured-response device in hardware order: compiled == torch, a one-sample train is the
aggregated response, and a stochastic-SGD layer trains on it."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from memcosim.devices import load_device_params, measured
from memcosim.training import (AnalogSGD, CrossbarLinear, CrossbarSGD, EnergyConfig, EnergyLedger, MappingConfig,
                               TileConfig, WriteEnergyTable, event_kernel, kernel)
from memcosim.training.bitstreams import coincidence_totals_torch, draw_streams
from memcosim.training.hardware_order import DeviceArrays, EnergyArrays, apply_events_torch
from memcosim.training.pulsed_measured import MeasuredPulsed
from memcosim.training import attach_ledger
from tests.training.test_pulse_kernel import assert_engines_agree, compiled_only
from tests.training.loops import train_losses

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "hzo-lbe247"
WRITE = WriteEnergyTable.from_device(load_device_params("hzo"), 3.0, 2e-8)  # state-dependent, with switching


def measured_tile(model, **kw):
    """A tile of ``model`` costed with the HZO electrical law at the measured device's own pulse."""
    write = WriteEnergyTable.from_device(load_device_params("hzo"), model.amplitude_v, model.width_s)
    return TileConfig(device=model, energy=EnergyConfig(write=write), **kw)


@pytest.fixture(scope="module")
def device():
    return measured.from_files([DATA / "ID161ZR15000_1_20241024111900_w2e-06.csv"])


@compiled_only
@pytest.mark.parametrize("mapping", ["reference", "differential"])
def test_compiled_path_equals_torch_path(device, mapping, monkeypatch):
    """Device spread and cycle-to-cycle noise on: the same conductances, pulses and write energy."""
    totals = assert_engines_agree(lambda: measured_tile(
        MeasuredPulsed(device, device_to_device_std=0.1, noise_scale=2.0),
        update=AnalogSGD(update_order="hardware", bit_length=15), mapping=MappingConfig(mapping=mapping)), monkeypatch)
    assert totals.write_j > 0


@compiled_only
@pytest.mark.parametrize("mapping", ["reference", "differential"])
def test_pulses_at_indices_compiled_equal_torch(device, mapping, monkeypatch):
    """``apply_pulses_at`` (mixed-precision transfers) on both engines (compiled:
    :meth:`MeasuredPulsed.respond_at` with the event constants and :func:`booking_kernel.write_energy_split`): bit-identical conductances (both arrays of a pair), the
    same draws from the layer's generator, the same pulses; the write energy of each direction
    equal to rounding (added in a fixed order)."""
    layers = []
    for engine in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "torch" if engine == "torch" else "")
        tile = measured_tile(MeasuredPulsed(device, device_to_device_std=0.1, noise_scale=2.0),
                             mapping=MappingConfig(mapping=mapping))
        layer = CrossbarLinear(30, 20, tile=tile, seed=7, initial_weight=torch.randn(20, 30,
                                                                                    generator=torch.Generator().manual_seed(1)) * 0.3)
        attach_ledger(layer, EnergyLedger())
        gen = torch.Generator().manual_seed(2)
        x = torch.rand(4, 30, generator=gen)
        for _ in range(3):
            layer(x)  # a read before the pulses: its sums are kept while the arrays are unchanged
            index = torch.randperm(600, generator=gen)[:250].sort().values
            n = torch.randint(-6, 7, (250,), generator=gen).to(torch.float64)
            layer.apply_pulses_at(index, n)
            layer.sync_weight()
        layer(x)  # and after: it sees the arrays the pulses left
        layers.append(layer)
    (c, t) = layers
    assert torch.equal(c.conductance_s, t.conductance_s) and torch.equal(c.reference_s, t.reference_s)
    assert torch.equal(c.generator.get_state(), t.generator.get_state())
    tc, tt = c.ledger.totals(), t.ledger.totals()
    assert tc.pulses == tt.pulses > 1000
    assert tc.write_split_j == pytest.approx(tt.write_split_j, rel=1e-12, abs=0) and tc.write_j > 0
    assert tc.read_j == pytest.approx(tt.read_j, rel=1e-12, abs=0) and tc.read_j > 0  # the reference's sums follow it


@pytest.mark.parametrize("path", ["compiled", "torch"])
def test_one_sample_is_the_aggregated_response(device, path):
    """With one sample each device gets one train of ``n`` pulses: without noise, hardware order is
    ``respond`` with the same signed counts, per device window and step scale (differential pair:
    the second array gets ``-n``)."""
    if path == "compiled" and not kernel.available():
        pytest.skip("numba not importable")
    model = MeasuredPulsed(device, device_to_device_std=0.1, noise_scale=0.0)
    n_out, n_in = 7, 9
    rng = np.random.default_rng(0)
    spreads = [model.sample((n_out, n_in), rng, "cpu", torch.float64) for _ in range(2)]
    gen = torch.Generator().manual_seed(1)
    g0 = []
    for spread in spreads:
        lo, hi = model.bounds(spread, torch.zeros(n_out, n_in, dtype=torch.float64))
        g0.append(lo + torch.rand(n_out, n_in, generator=gen, dtype=torch.float64) * (hi - lo))
    x = torch.rand(1, n_in, generator=gen, dtype=torch.float64) - 0.4
    d = torch.randn(1, n_out, generator=gen, dtype=torch.float64)
    streams = draw_streams(x, d, 1.0, 0.02, 31, torch.Generator().manual_seed(2))
    up, down = coincidence_totals_torch(streams)
    n = up - down
    assert (n > 1).any() and (n < -1).any() and not ((up > 0) & (down > 0)).any()

    per_array = [model.event_arrays(spread, n_out * n_in, "cpu") for spread in spreads]
    g_min, span, u_lam = (torch.stack([a[k] for a in per_array]).contiguous() for k in range(3))
    arrays = DeviceArrays(torch.stack([g.reshape(-1) for g in g0]), torch.zeros((2, 1, 1), dtype=torch.float64),
                          g_min, span, u_lam)
    tables = WRITE.tables("cpu")
    energy = EnergyArrays(torch.stack([tables["up"], tables["down"]]).contiguous(),
                          torch.tensor([WRITE.switching_j_per_dx["up"], WRITE.switching_j_per_dx["down"]],
                                       dtype=torch.float64), model.g_min_s, model.g_max_s - model.g_min_s)
    apply = event_kernel.apply_events if path == "compiled" else apply_events_torch
    booked = apply(streams, arrays, model.event_params("cpu"), energy)

    assert int(booked.pulses) == int(n.abs().sum()) * 2
    assert torch.equal(booked.up, up) and torch.equal(booked.down, down)  # the totals, from the same pass
    for a, sign in ((0, 1.0), (1, -1.0)):
        expected = model.respond(g0[a], sign * n, spreads[a], None)
        assert torch.allclose(arrays.g[a].reshape(n_out, n_in), expected, rtol=1e-13, atol=0)
    assert not torch.equal(arrays.g[0].reshape(n_out, n_in), g0[0])


def test_stochastic_sgd_in_hardware_order_trains_a_layer(device):
    """An AnalogSGD layer in hardware order on the measured device (compiled where numba is, else
    torch): pulses and write energy booked, every device inside its own window, the loss falls."""
    torch.manual_seed(0)
    model = MeasuredPulsed(device, device_to_device_std=0.05)
    tile = measured_tile(model, update=AnalogSGD(update_order="hardware", bit_length=31))
    layer = CrossbarLinear(8, 4, tile=tile, initial_weight=torch.randn(4, 8) * 0.3)
    attach_ledger(layer, EnergyLedger())
    target = torch.randn(4, 8) * 0.3
    x = torch.randn(64, 8)
    y = x @ target.T
    before = layer.conductance_s.clone()
    opt = CrossbarSGD(layer, lr=0.05)
    losses = train_losses(layer, opt, x, y, 30, loss_fn=nn.functional.mse_loss)
    totals = layer.ledger.totals()
    assert totals.pulses > 100 and totals.write_j > 0
    g = layer.conductance_s
    lo, hi = model.bounds(layer._spread, g)
    assert not torch.equal(g, before) and bool(((g >= lo) & (g <= hi)).all())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


@compiled_only
@pytest.mark.parametrize("noise_scale", [0.0, 2.0])
def test_compiled_respond_equals_torch(device, noise_scale, monkeypatch):
    """MeasuredPulsed.respond (transfers, symmetry searches) compiled: the very conductances of the
    torch law, device windows and step scales, both directions, the same normal variates."""
    model = MeasuredPulsed(device, device_to_device_std=0.1, noise_scale=noise_scale)
    spread = model.sample((40, 30), np.random.default_rng(2), "cpu", torch.float64)
    lo, hi = model.bounds(spread, torch.zeros(40, 30, dtype=torch.float64))
    g = lo + torch.rand(40, 30, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * (hi - lo)
    n = torch.randint(-40, 41, (40, 30), generator=torch.Generator().manual_seed(4))
    results = []
    for engine in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "torch" if engine == "torch" else "")
        results.append(model.respond(g, n, spread, torch.Generator().manual_seed(5)))
    assert torch.equal(results[0], results[1])
    assert (results[0] != g)[n != 0].float().mean() > 0.9  # pulses move the devices; no pulse, no move:
    assert torch.allclose(results[0][n == 0], g[n == 0], rtol=1e-12, atol=0)
