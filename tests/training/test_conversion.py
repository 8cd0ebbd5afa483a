"""The conversion map (isinstance matching, per-layer tiles, what stays digital), the default tile,
and the pulse a tile's energies derive from."""

import dataclasses
import logging
import pickle

import pytest
import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.devices import load_device_params
from memcosim.training import (CrossbarConv2d, CrossbarLinear, CrossbarSGD, EnergyConfig, HZOPulsed, PulseConfig,
                               TileConfig, WriteEnergyTable, attach_ledger, convert, digital_layers)
from memcosim.training.models import ModelSpec, build_model, lenet5, step_bytes
from tests.training.loops import train_losses


class MyLinear(nn.Linear):
    """A user's subclass of nn.Linear: converted as one (it was skipped silently before)."""


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 4, 3, groups=1),
                                      nn.Conv2d(4, 4, 3, groups=2))
        self.norm = nn.BatchNorm2d(4)
        self.head = MyLinear(4 * 2 * 2, 5)

    def forward(self, x):
        return self.head(self.norm(self.features(x)).flatten(1))


def test_the_map_converts_subclasses_and_lists_what_stays_digital(caplog):
    torch.manual_seed(0)
    net = Net()
    with caplog.at_level(logging.INFO, logger="memcosim.training.conversion"):
        out = convert(net, TileConfig())
    assert isinstance(out.head, CrossbarLinear) and isinstance(out.features[0], CrossbarConv2d)
    assert isinstance(out.features[2], CrossbarConv2d)
    assert type(out.features[3]) is nn.Conv2d  # groups = 2 cannot be one array
    assert type(net.head) is MyLinear  # a copy: the original is untouched
    assert digital_layers(out) == [("features.3", "Conv2d"), ("norm", "BatchNorm2d")]
    line = [r.getMessage() for r in caplog.records if "left digital" in r.getMessage()]
    assert line == ["convert: left digital: features.3 (Conv2d: groups = 2), norm (BatchNorm2d)"]
    # programmed to the digital weights (the default tile is a 2-population HZO film: within its steps)
    assert torch.allclose(out.features[0].kernel, net.features[0].weight, atol=0.05 * net.features[0].weight.abs().max().item())
    assert torch.equal(out.head.bias, net.head.bias)


def test_a_custom_map_and_per_layer_tiles():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 4 * 4, 3), nn.Linear(3, 2))
    slow = TileConfig(device=HZOPulsed.default(PulseConfig(3.0, 2e-7)))
    out = convert(net, mapping={nn.Linear: CrossbarLinear},
                  tile_for=lambda name, module: None if name == "3" else slow)
    assert type(out[0]) is nn.Conv2d and isinstance(out[2], CrossbarLinear) and type(out[3]) is nn.Linear
    assert out[2].tile.device.width_s == 2e-7
    assert [n for n, _ in digital_layers(out)] == ["0", "3"]
    with pytest.raises(ConfigError, match="tile_for: must return a TileConfig or None, got str for '0'"):
        convert(net, tile_for=lambda name, module: "fast")
    with pytest.raises(ConfigError, match="mapping: a dict"):
        convert(net, mapping={nn.Linear: nn.Linear})


def test_default_tiles_train_and_a_converted_model_pickles():
    torch.manual_seed(1)
    layer = CrossbarLinear(784, 256)  # the default tile: compact HZO, device-level energy, ideal wires
    assert layer.tile.write_energy.source == "device" and layer.tile.write_energy.pulse == (3.0, 2e-8)
    net = convert(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3)))
    ledger = attach_ledger(net)
    opt = CrossbarSGD(net, lr=0.5)
    x, y = torch.rand(8, 1, 8, 8), torch.randint(0, 3, (8,))
    losses = train_losses(net, opt, x, y, 15)
    assert losses[-1] < losses[0] and ledger.totals().updates == 15
    twin = pickle.loads(pickle.dumps(net))
    assert torch.equal(twin(x), net(x))


def test_the_energies_follow_the_devices_pulse():
    tile = TileConfig()
    slower = dataclasses.replace(tile, device=tile.device.with_pulse(PulseConfig(3.0, 2e-7)))
    assert slower.write_energy.pulse == (3.0, 2e-7)
    hzo = load_device_params("hzo")
    assert slower.write_energy.per_pulse_j["up"]["selected_j"].tolist() == \
        WriteEnergyTable.from_device(hzo, 3.0, 2e-7).per_pulse_j["up"]["selected_j"].tolist()
    assert slower.write_energy.per_pulse_j["up"]["selected_j"].mean() != tile.write_energy.per_pulse_j["up"]["selected_j"].mean()
    with pytest.raises(ConfigError, match=r"tile.energy.write: tabulated for 3 V x 2e-08 s pulses, the device is "
                                          r"programmed with 3 V x 2e-07 s"):
        TileConfig(device=slower.device, energy=EnergyConfig(write=WriteEnergyTable.from_device(hzo, 3.0, 2e-8)))
    with pytest.raises(ConfigError, match=r"pulse.width_s: must be > 0, got -1.0"):
        PulseConfig(3.0, -1.0)


def test_lenet5_shapes_and_its_step_memory():
    net = build_model(ModelSpec("lenet5"), (1, 28, 28), 10, (128,), "tanh", seed=0)
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert net[7].in_features == 32 * 4 * 4  # aihwkit's LeNet-5: 512 -> 128 -> 10
    assert torch.equal(build_model(ModelSpec("lenet5"), (1, 28, 28), 10, (128,), "tanh", seed=0)[0].weight,
                       net[0].weight)
    peak = step_bytes(net, (1, 28, 28), 64)
    # the unrolled patches of both convolutions, float32: 64 x 24 x 24 of 25 inputs, 64 x 8 x 8 of 400
    patches = 4 * 64 * (24 * 24 * 25 + 8 * 8 * 400)
    assert 6 * patches < peak < 18 * patches  # a few times the patches (90 MB at batch 64, with the weights' state)
    with pytest.raises(ConfigError, match="model.kernel_size: 9 x 9 kernels"):
        lenet5((1, 8, 8), 10, kernel_size=9)
    with pytest.raises(ConfigError, match="model.kind: got 'resnet'"):
        ModelSpec("resnet")
