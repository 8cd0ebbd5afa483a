"""The switching-kinetics HZO model (devices/hzo_kinetics.py) in training: each quantile bin of
switching voltages is a domain population the tile keeps as state; the compiled hardware-order
kernel and the torch path step it alike; the write-energy table costs its pulses."""

import pytest
import torch
from torch import nn

from memcosim.devices import hzo
from memcosim.devices.hzo_kinetics import FieldLaw, HZOKineticsParams
from memcosim.training import (AnalogSGD, CrossbarLinear, CrossbarSGD, EnergyConfig, HZOPulsed, MappingConfig,
                               TileConfig, WriteEnergyTable, attach_ledger, convert, kernel)

KINETICS = HZOKineticsParams(g_min_s=1.5e-8, g_max_s=1.2e-7, law=FieldLaw(exponent=11.0, curvature=0.4, time_spread=1.0),
                             switching_voltage_up_v=0.4, switching_voltage_down_v=0.5, voltage_spread_up=0.3,
                             voltage_spread_down=0.35, tail_fraction=0.2, tail_switching_voltage_up_v=0.9,
                             tail_switching_voltage_down_v=0.8, tail_voltage_spread=0.3, bins=6, tail_bins=3)


def test_the_layer_keeps_one_state_per_bin():
    dev = HZOPulsed(KINETICS, 2.0, 2e-7)
    assert dev.populations == 9
    layer = CrossbarLinear(5, 3, tile=TileConfig(device=dev, update=AnalogSGD(pulse_mode="deterministic")),
                           initial_weight=torch.zeros(3, 5))
    assert layer.conductance_state.shape == (3, 5, 9)
    before = layer.conductance_state.clone()
    for k in range(4):
        layer.weight.grad = torch.full((3, 5), (1.0 if k < 2 else -1.0) * layer.eps_w)
        layer.tile.update.step(layer, 1.0)
        layer.sync_weight()
    assert not torch.equal(before, layer.conductance_state)
    assert torch.allclose(layer.conductance_s, hzo.conductance_from_state(layer.conductance_state, KINETICS), rtol=1e-12)


def _train(path, monkeypatch):
    monkeypatch.setenv("MEMCOSIM_KERNEL", "" if path == "compiled" else "torch")
    dev = HZOPulsed(KINETICS, 2.0, 2e-7, device_to_device_std=0.05, cycle_to_cycle_std=0.05)
    tile = TileConfig(device=dev, update=AnalogSGD(update_order="hardware", bit_length=15),
                      energy=EnergyConfig(write=WriteEnergyTable.from_device(KINETICS, 2.0, 2e-7)),
                      mapping=MappingConfig(mapping="differential"))
    torch.manual_seed(0)
    model = convert(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3)), tile, seed=3)
    ledger = attach_ledger(model)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(16, 6, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    opt = CrossbarSGD(model, lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    state = torch.cat([b.reshape(-1) for name, b in model.named_buffers() if "conductance" in name])
    return state, ledger.totals()


@pytest.mark.skipif(not kernel.available(), reason="numba not importable")
def test_compiled_kernel_equals_the_torch_path(monkeypatch):
    (g_c, t_c), (g_t, t_t) = (_train(path, monkeypatch) for path in ("compiled", "torch"))
    assert t_c.pulses == t_t.pulses > 10
    assert torch.allclose(g_c, g_t, rtol=1e-12, atol=0)
    assert t_c.write_j == pytest.approx(t_t.write_j, rel=1e-12) and t_c.write_j > 0
