"""Whole-tile periphery: event counts with known answers, and the ledger's split."""

import math

import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.training import kernel, kernel_ops, periphery
from memcosim.training.bitstreams import BitStreams
from memcosim.training.ledger import EnergyLedger
from memcosim.training.periphery import PeripheryCosts
from memcosim.training import attach_ledger

COSTS = PeripheryCosts(dac_j=1.0, read_driver_j=10.0, sense_j=100.0, adc_j=1000.0, adder_j=1e4, write_driver_j=1e5,
                       accumulator_j=1e6, dac_s=1.0, driver_s=2.0, write_driver_s=2.0, sense_s=4.0, adc_s=8.0, adder_s=16.0,
                       accumulator_s=32.0, accumulator_words=10)


def test_read_counts_every_conversion_of_every_tile():
    # 100 inputs x 50 outputs on 32 x 32 arrays: 4 tiles along the inputs, 2 along the outputs
    (drivers, converters, sense, digital), latency = periphery.read_cost(COSTS, 3, 100, 50, 32, 32, columns_per_adc=4)
    inputs, outputs, adds = 3 * 100 * 2, 3 * 50 * 4, 3 * 50 * 3
    assert drivers == inputs * 10.0
    assert converters == inputs * 1.0 + outputs * 1000.0
    assert sense == outputs * 100.0 and digital == adds * 1e4
    # per sample: DAC, driver, read, 32 columns over 8 ADCs = 4 conversions, a 2-level adder tree
    assert latency == 3 * (1 + 2 + 4 + 4 * 8 + 2 * 16)


def test_one_tile_needs_no_adder():
    (_, _, _, digital), latency = periphery.read_cost(COSTS, 1, 10, 3, 32, 32, columns_per_adc=4)
    assert digital == 0 and latency == 1 + 2 + 4 + 3 * 8  # 3 columns on one ADC's share


def test_serial_and_row_parallel_update_counts():
    row = torch.tensor([0, 0, 1, 2])
    up, down = torch.tensor([3, 1, 0, 2]), torch.tensor([0, 0, 4, 0])
    (drivers, *_), latency = periphery.count_update_cost(COSTS, row, up, down, 3, "serial", 5.0)
    assert drivers == 2 * 10 * 1e5 and latency == 10 * (5 + 2)
    (drivers, *_), latency = periphery.count_update_cost(COSTS, row, up, down, 3, "row_parallel", 5.0)
    # rows: 0 needs 3 up slots, 1 needs 4 down, 2 needs 2 up: 9 row pulses; columns: 10 pulses
    assert drivers == (9 + 10) * 1e5 and latency == 9 * (5 + 2)
    (drivers, *_), _ = periphery.count_update_cost(COSTS, row, up, down, 3, "row_parallel", 5.0, arrays=2)
    assert drivers == (9 + 20) * 1e5


@pytest.mark.skipif(not kernel.available(), reason="numba not importable")
def test_compiled_count_slots_give_the_same_update_costs():
    """The counts of a transfer at flat indices (row = index % rows), compiled: the hand case above,
    and random signed counts against count_update_cost, equal to the last bit."""
    index, n = torch.tensor([0, 3, 4, 8]), torch.tensor([3.0, 1.0, -4.0, 2.0])  # rows 0, 0, 1, 2 of a 3-row layer
    assert kernel_ops.count_slots(index, n, 3) == (9.0, 10.0)
    gen = torch.Generator().manual_seed(3)
    index = torch.randperm(784 * 30, generator=gen)[:500].sort().values
    n = torch.randint(-7, 8, (500,), generator=gen).to(torch.float64)
    slots, total = kernel_ops.count_slots(index, n, 784)
    for scheme, row_slots in (("serial", None), ("row_parallel", slots)):
        for arrays in (1, 2):
            (drivers, *_), latency = periphery.count_update_cost(COSTS, index % 784, n.clamp(min=0), (-n).clamp(min=0), 784,
                                                                 scheme, 5.0, arrays)
            (c_drivers, *_), c_latency = periphery.count_cost(COSTS, total, row_slots, 5.0, arrays)
            assert float(drivers) == c_drivers > 0 and float(latency) == c_latency > 0


def test_stochastic_update_counts_line_pulses_and_slots():
    x_mask = torch.tensor([[[0b1011], [0]], [[0b1], [0b11]]])  # 2 samples, 2 rows: 3 + 0 + 1 + 2 pulses
    d_mask = torch.tensor([[[0b111]], [[0]]])  # 1 column: 3 + 0 pulses
    streams = BitStreams(x_mask, torch.sign(x_mask[..., 0]), d_mask, torch.sign(d_mask[..., 0]),
                         torch.tensor(0), bit_length=31)
    (drivers, *_), latency = periphery.stream_update_cost(COSTS, streams, 5.0)
    assert drivers == (6 + 3) * 1e5 and latency == 2 * 31 * (5 + 2)


def test_accumulator_reads_adds_and_writes_every_weight():
    (_, _, _, digital), latency = periphery.accumulator_cost(COSTS, 25)
    assert digital == 25 * 1e6 and latency == math.ceil(25 / 10) * 32


def test_bad_costs_name_the_field():
    with pytest.raises(ConfigError, match="periphery.adc_j"):
        PeripheryCosts(adc_j=-1.0)
    with pytest.raises(ConfigError, match="periphery.accumulator_words"):
        PeripheryCosts(accumulator_words=0)


def test_ledger_keeps_the_array_and_adds_the_tile():
    ledger = EnergyLedger()
    zero = torch.zeros((), dtype=torch.float64)
    ledger.add_pulses("fc", (torch.tensor(1.0, dtype=torch.float64), zero, torch.tensor(0.5, dtype=torch.float64)),
                      torch.tensor(4))
    ledger.add_periphery("update", (2.0, 0.0, 0.0, 3.0), 7.0)
    ledger.add_read(torch.tensor(10.0, dtype=torch.float64), training=False, layer="fc", samples=5)
    ledger.add_periphery("inference", (1.0, 4.0, 5.0, 0.0), 2.5)
    ledger.end_update()
    totals = ledger.totals()
    assert totals.write_j == 1.5 and totals.eval_read_j == 10.0  # array numbers unchanged
    tile = totals.tile
    assert tile.update.total_j == 1.5 + 5.0 and tile.update.digital_j == 3.0
    assert tile.tile_energy_per_update_j == 6.5 and tile.latency_per_update_s == 7.0
    assert tile.inferences == 5 and tile.tile_energy_per_inference_j == pytest.approx(20.0 / 5)
    assert tile.latency_per_inference_s == 0.5
    restored = EnergyLedger()
    restored.load_state_dict(ledger.state_dict())
    assert restored.totals() == totals


def _train(tile, steps=3):
    import copy

    from torch import nn

    from memcosim.training import CrossbarSGD, convert

    torch.manual_seed(0)  # the nn.Linear initialisation
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 40, generator=gen)
    y = (x @ torch.randn(40, 5, generator=gen)).argmax(dim=1)
    ref = nn.Sequential(nn.Linear(40, 12), nn.Sigmoid(), nn.Linear(12, 5))
    ledger = EnergyLedger()
    model = convert(copy.deepcopy(ref), tile, seed=1)
    attach_ledger(model, ledger)
    opt = CrossbarSGD(model, lr=0.5)
    for k in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[16 * k: 16 * k + 16]), y[16 * k: 16 * k + 16]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        model(x[:10])
    return ledger.totals()


@pytest.mark.parametrize("update", ["mixed_precision", "sgd"])
def test_a_layer_books_its_periphery_and_leaves_the_array_as_it_was(update):
    from memcosim.devices import load_device_params
    from memcosim.training import AnalogSGD, ArrayConfig, EnergyConfig, HZOPulsed, MixedPrecision, TileConfig

    rule = MixedPrecision() if update == "mixed_precision" else AnalogSGD()
    array = ArrayConfig(rows=32, cols=8)
    base = TileConfig(device=HZOPulsed(load_device_params("hzo"), 3.0, 2e-7), update=rule, array=array)
    plain = _train(base)
    tile = TileConfig(device=base.device, update=rule, array=array, energy=EnergyConfig(periphery=COSTS))
    full = _train(tile)
    assert plain.pulses > 0
    for key in ("pulses", "write_j", "read_j", "eval_read_j"):
        assert getattr(full, key) == getattr(plain, key)
    t = full.tile
    # 40 -> 12 on 32 x 8 arrays: 2 x 2 tiles; 12 -> 5: 1 x 1; 3 steps of 16 samples, then 10 inferences
    inputs = 16 * 3 * (40 * 2 + 12 * 1)
    assert t.read.drivers_j == inputs * COSTS.read_driver_j
    assert t.read.sense_j == 16 * 3 * (12 * 2 + 5 * 1) * COSTS.sense_j
    assert t.inferences == 10 and t.inference.digital_j == 10 * 12 * 1 * COSTS.adder_j
    assert t.update.drivers_j > 0 and t.update.latency_s > 0
    weights = 3 * (40 * 12 + 12 * 5)
    assert t.update.digital_j == (weights * COSTS.accumulator_j if update == "mixed_precision" else 0)
