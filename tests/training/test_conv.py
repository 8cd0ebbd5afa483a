"""Convolutions on crossbars: known answers against nn.functional.conv2d/conv1d, exact pulse counts,
patches as rows of the update batch, every rule, the ledger's count per patch, memory refusal."""

import copy

import pytest
import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.devices.linear_step import LinearStepParams
from memcosim.training import (AnalogSGD, CrossbarConv1d, CrossbarConv2d, CrossbarLinear, CrossbarSGD, EnergyConfig,
                               EnergyLedger, LinearPulsed, MappingConfig, MixedPrecision, SymmetryShift, TikiTaka,
                               TileConfig, WriteEnergyTable, attach_ledger)
from memcosim.training.periphery import PeripheryCosts
from tests.training.loops import train_losses


def ideal_tile(**kw):
    """A device of 200 000 symmetric, noise-free states: the weights are the programmed ones to float32."""
    kw.setdefault("update", MixedPrecision(max_pulses=10**6))
    return TileConfig(device=LinearPulsed(LinearStepParams(n_states=200000)),
                      mapping=MappingConfig(weight_scaling_omega=0.2), **kw)


CASES_2D = [
    dict(in_channels=3, out_channels=4, kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
    dict(in_channels=2, out_channels=5, kernel_size=3, padding="same"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="reflect", bias=False),
    dict(in_channels=1, out_channels=2, kernel_size=5, stride=3),
]


@pytest.mark.parametrize("kw", CASES_2D)
def test_conv2d_on_ideal_devices_is_nn_conv2d(kw):
    torch.manual_seed(0)
    digital = nn.Conv2d(**kw)
    layer = CrossbarConv2d.from_digital(digital, ideal_tile())
    x = torch.rand(3, kw["in_channels"], 11, 9, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    y, ref = layer(x), digital(x2)
    assert y.shape == ref.shape
    assert torch.allclose(y, ref, atol=1e-5)
    g = torch.randn_like(ref)
    (y * g).sum().backward()
    (ref * g).sum().backward()
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)
    # the weight gradient: the outer product summed over the batch and every output position
    assert torch.allclose(layer.weight.grad, digital.weight.grad.reshape(kw["out_channels"], -1), atol=1e-4)
    # rows of the array: input channels x kernel positions, channel-major (aihwkit's mapping)
    assert layer.weight.shape == (kw["out_channels"], kw["in_channels"] * digital.weight[0, 0].numel())
    assert torch.allclose(layer.kernel, digital.weight, atol=1e-6)


def test_conv1d_on_ideal_devices_is_nn_conv1d_and_takes_unbatched_inputs():
    torch.manual_seed(1)
    digital = nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=2)
    layer = CrossbarConv1d.from_digital(digital, ideal_tile())
    x = torch.rand(4, 2, 17)
    assert torch.allclose(layer(x), digital(x), atol=1e-5)
    assert torch.allclose(layer(x[0]), digital(x[0]), atol=1e-5)


def test_exact_pulse_counts_on_a_tiny_layer():
    """Mixed precision on a 1 -> 2 channel 2 x 2 kernel: the pulses are trunc(-lr g / dw) of the
    gradient summed over the batch and positions, each moving its weight by exactly one step."""
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=100)), update=MixedPrecision(max_pulses=1000),
                      energy=EnergyConfig(write=WriteEnergyTable.constant(1e-15)))
    layer = CrossbarConv2d(1, 2, 2, bias=False, tile=tile, initial_weight=torch.full((2, 1, 2, 2), 0.01))
    ledger = attach_ledger(layer)
    x = torch.tensor([[[[1.0, 2.0, 0.0], [0.5, 1.0, 3.0], [2.0, 0.0, 1.0]]]])  # 2 x 2 output positions
    target = torch.tensor([[[[1.0, -2.0], [0.5, 3.0]], [[-1.0, 0.0], [2.0, 1.0]]]])
    (layer(x) * target).sum().backward()
    grad = nn.grad.conv2d_weight(x, (2, 1, 2, 2), target).reshape(2, 4).double()
    assert torch.allclose(layer.weight.grad.double(), grad, atol=1e-6)
    eps = layer.eps_w
    lr = 3.7 * eps / float(grad.abs().max())  # the largest count is 3 pulses
    expected = torch.trunc(-lr * grad / eps)
    assert bool(expected.abs().sum() > 0)
    g0 = layer.conductance_s.clone()
    opt = CrossbarSGD(layer, lr=lr)
    opt.step()
    moved = (layer.conductance_s - g0) / tile.device.step_s()
    assert torch.allclose(moved, expected, atol=1e-9)
    totals = ledger.totals()
    assert totals.pulses == int(expected.abs().sum())
    assert totals.write_j == pytest.approx(1e-15 * totals.pulses, rel=1e-12)
    assert totals.per_layer["conv"].pulses == totals.pulses


def test_every_patch_is_one_read_and_one_row_of_the_stochastic_update():
    """A stochastic update of a convolution equals that of a linear layer of the same devices fed the
    patches as its batch; the ledger counts a read per patch (periphery with unit costs)."""
    costs = PeripheryCosts(dac_j=1.0, read_driver_j=10.0, sense_j=100.0, adc_j=1000.0, write_driver_j=1e4)
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=300)), update=AnalogSGD(bit_length=7),
                      energy=EnergyConfig(write=WriteEnergyTable.constant(1e-15), periphery=costs))
    torch.manual_seed(2)
    conv = CrossbarConv2d(2, 3, 2, stride=1, tile=tile, seed=5, name="layer")
    lin = CrossbarLinear(8, 3, tile=tile, seed=5, name="layer", initial_weight=conv.weight.detach())
    ledgers = attach_ledger(conv, EnergyLedger()), attach_ledger(lin, EnergyLedger())
    x = torch.rand(4, 2, 4, 5)
    target = torch.randn(4, 3, 3, 4)
    (conv(x) * target).sum().backward()
    patches, _ = conv.patches(x)
    (lin.read(patches.reshape(-1, 8)) * target.permute(0, 2, 3, 1).reshape(-1, 3)).sum().backward()
    assert conv.weight.grad is None and lin.weight.grad is None  # stochastic trains need no weight gradient
    assert conv.has_saved() and lin.has_saved()
    for layer in (conv, lin):
        layer.tile.update.step(layer, 0.5)
    assert torch.equal(conv.conductance_s, lin.conductance_s)
    a, b = (led.totals() for led in ledgers)
    assert a.pulses == b.pulses > 0
    patches_n, k, m = 4 * 3 * 4, 8, 3
    read = a.tile.read
    assert read.converters_j == pytest.approx(patches_n * (k * 1.0 + m * 1000.0))
    assert read.sense_j == pytest.approx(patches_n * m * 100.0)
    assert read.drivers_j == pytest.approx(patches_n * k * 10.0)
    assert a.tile == b.tile  # the update's slots: one sample per patch, as the linear layer's batch


@pytest.mark.parametrize("rule", [MixedPrecision(), AnalogSGD(pulse_mode="deterministic", carry_remainder=True),
                                  AnalogSGD(bit_length=15), SymmetryShift(bit_length=15, symmetry_cycles=400),
                                  TikiTaka(bit_length=15, symmetry_cycles=400, n_reads_per_transfer=4)],
                         ids=["mixed_precision", "sgd_deterministic", "sgd_stochastic", "symmetry_shift", "tiki_taka"])
def test_every_rule_trains_a_convolution(rule):
    """Regression onto a known kernel: every rule lowers the loss and books its pulses under the layer."""
    # omega 0.05: the array spans +-1, wide enough for the target kernel (std 0.3) from the 0.05 start
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=400)), update=rule,
                      energy=EnergyConfig(write=WriteEnergyTable.constant(1e-15)),
                      mapping=MappingConfig(weight_scaling_omega=0.05))
    gen = torch.Generator().manual_seed(3)
    truth = torch.randn(2, 1, 3, 3, generator=gen) * 0.3
    layer = CrossbarConv2d(1, 2, 3, bias=False, tile=tile, initial_weight=torch.zeros(2, 1, 3, 3) + 0.05)
    ledger = attach_ledger(layer)
    opt = CrossbarSGD(layer, lr=0.05)
    x_test = torch.rand(16, 1, 6, 6, generator=gen)
    loss = lambda: float(((layer(x_test) - nn.functional.conv2d(x_test, truth)) ** 2).mean().detach())  # noqa: E731
    before = loss()
    for _ in range(60):
        x = torch.rand(8, 1, 6, 6, generator=gen)
        opt.zero_grad()
        ((layer(x) - nn.functional.conv2d(x, truth)) ** 2).mean().backward()
        opt.step()
    assert loss() < 0.5 * before
    assert ledger.totals().per_layer["conv"].pulses > 0


def test_default_tile_trains_with_defaults():
    """``CrossbarConv2d(1, 6, 5)``: the compact HZO device, mixed precision, device-level energy."""
    torch.manual_seed(0)
    net = nn.Sequential(CrossbarConv2d(1, 6, 5), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))
    ledger = attach_ledger(net)
    opt = CrossbarSGD(net, lr=0.5)
    x, y = torch.rand(16, 1, 8, 8), torch.randint(0, 3, (16,))
    losses = train_losses(net, opt, x, y, 30)
    assert losses[-1] < losses[0]
    t = ledger.totals()
    assert t.pulses > 0 and t.write_j > 0 and t.read_j > 0  # costed from the device's own pulse
    assert net[0].tile.write_energy.source == "device"


def test_a_step_over_the_memory_budget_is_refused_with_its_estimate(monkeypatch):
    layer = CrossbarConv2d(3, 8, 3, tile=ideal_tile())
    monkeypatch.setenv("MEMCOSIM_MEMORY_BUDGET_GB", "0.0001")  # 100 kB
    with pytest.raises(ConfigError, match=r"a step of crossbar layer 'conv' on 16 x 900 patches of 27 inputs needs "
                                          r"about .* MB, over the memory budget .*use a smaller batch"):
        layer(torch.rand(16, 3, 32, 32))
    layer(torch.rand(1, 3, 6, 6))  # small enough


def test_bad_geometry_is_a_clear_error():
    with pytest.raises(ConfigError, match="groups"):
        CrossbarConv2d(4, 4, 3, groups=2)
    with pytest.raises(ConfigError, match="kernel_size"):
        CrossbarConv2d(1, 2, 0)
    with pytest.raises(ConfigError, match="padding: 'same' needs stride 1"):
        CrossbarConv2d(1, 2, 3, stride=2, padding="same")
    layer = CrossbarConv2d(1, 2, 5, tile=ideal_tile())
    with pytest.raises(ConfigError, match="smaller than the kernel"):
        layer(torch.rand(1, 1, 3, 3))
    with pytest.raises(ConfigError, match=r"takes \(batch, 1, H, W\)"):
        layer(torch.rand(2, 3, 8, 8))


def test_state_dict_round_trip_restores_the_devices():
    layer = CrossbarConv2d(2, 3, 3, tile=ideal_tile(update=AnalogSGD(bit_length=7)), seed=4)
    twin = CrossbarConv2d(2, 3, 3, tile=ideal_tile(update=AnalogSGD(bit_length=7)), seed=9)
    twin.load_state_dict(copy.deepcopy(layer.state_dict()))
    x = torch.rand(2, 2, 6, 6)
    assert torch.equal(layer(x), twin(x))
