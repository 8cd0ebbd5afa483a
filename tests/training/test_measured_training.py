"""A measured-response device in a training layer: its pulse response and a layer that learns on it."""

from pathlib import Path

import numpy as np
import pytest
import torch

from memcosim.devices import measured
from memcosim.devices.measurements import read_sweep
from memcosim.training import ArrayConfig, CrossbarLinear, EnergyConfig, EnergyLedger, MappingConfig, MixedPrecision, TileConfig
from memcosim.training.pulsed_measured import MeasuredPulsed
from memcosim.training import attach_ledger

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "hzo-lbe247"


@pytest.fixture(scope="module")
def device():
    return measured.from_sweeps([read_sweep(sorted(DATA.glob("ID161ZR15000_*w2e-06.csv"))[0])])


def test_a_count_of_pulses_is_the_measured_response(device):
    model = MeasuredPulsed(device)
    g0 = torch.full((3,), device.g_min_s + 0.3 * device.span_s, dtype=torch.float64)
    n = torch.tensor([5.0, -5.0, 0.0], dtype=torch.float64)
    g1 = model.respond(g0, n, {}, None)
    amp_up, amp_down = -1.0, 1.0  # LBE247: negative pulses potentiate
    assert float(g1[0]) == pytest.approx(measured.replay(device, float(g0[0]), [amp_up] * 5)[-1], rel=1e-3)
    assert float(g1[1]) == pytest.approx(measured.replay(device, float(g0[1]), [amp_down] * 5)[-1], rel=1e-3)
    assert float(g1[2]) == float(g0[2])
    lo, hi = model.window_s()
    assert device.g_min_s <= lo < model.symmetry_point_s() < hi <= device.g_max_s
    assert model.step_s() > 0 and 0.2 < model.amplitude_v < 5.0


def test_spread_and_noise_come_from_the_seed(device):
    model = MeasuredPulsed(device, device_to_device_std=0.1)
    spread = model.sample((4, 5), np.random.default_rng(1), "cpu", torch.float64)
    assert set(spread) == {"g_min_s", "g_max_s", "step_scale_up", "step_scale_down"}
    g = torch.full((4, 5), device.g_min_s + 0.5 * device.span_s, dtype=torch.float64)
    n = torch.full((4, 5), 3.0, dtype=torch.float64)
    a = model.respond(g, n, spread, torch.Generator().manual_seed(3))
    b = model.respond(g, n, spread, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and bool(torch.isfinite(a).all()) and a.std() > 0


def test_mixed_precision_learns_a_linear_map_on_the_measured_device(device):
    torch.manual_seed(0)
    tile = TileConfig(device=MeasuredPulsed(device), update=MixedPrecision(), mapping=MappingConfig(),
                      array=ArrayConfig(rows=8, cols=4), energy=EnergyConfig())
    # the weight range is set by the initial weights (their largest magnitude maps onto the window)
    layer = CrossbarLinear(8, 4, tile=tile, initial_weight=torch.randn(4, 8) * 0.3)
    attach_ledger(layer, EnergyLedger())
    target = torch.randn(4, 8) * 0.3
    x = torch.randn(256, 8)
    y = x @ target.T
    from memcosim.training.optim import CrossbarSGD

    opt = CrossbarSGD(layer, lr=0.05)
    losses = []
    for step in range(200):
        batch = slice(32 * (step % 8), 32 * (step % 8) + 32)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(layer(x[batch]), y[batch])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-20:]) < 0.05 * np.mean(losses[:20])
    assert layer.ledger.totals().pulses > 0
