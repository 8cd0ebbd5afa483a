"""1 and 2 torch threads give bit-identical pulses, weights, accuracies and energies (issue 29)."""

import pytest
import torch
from torch import nn

from memcosim.devices import load_device_params
from memcosim.training import (AnalogSGD, CrossbarSGD, EnergyConfig, EnergyLedger, HZOPulsed, MixedPrecision, TileConfig,
                               WriteEnergyTable, attach_ledger, convert)

HZO = load_device_params("hzo")


def _train(threads, rule, steps=2):
    """A 784-16-10 MLP on crossbars (the GEMM shape that differed), a few steps of batch 64."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        dev = HZOPulsed(HZO, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02)
        tile = TileConfig(device=dev, update=rule, energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-8)))
        torch.manual_seed(0)
        model = convert(nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)), tile)
        ledger = EnergyLedger()
        attach_ledger(model, ledger)
        opt = CrossbarSGD(model, lr=0.5)
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(steps, 64, 784, generator=g), torch.randint(0, 10, (steps, 64), generator=g)
        for k in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[k]), y[k]).backward()
            opt.step()
        with torch.no_grad():
            correct = int((model(x[0]).argmax(1) == y[0]).sum())
        return model, ledger.totals(), correct
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("rule", [AnalogSGD(pulse_mode="stochastic"), MixedPrecision()], ids=["sgd", "mixed_precision"])
def test_one_and_two_threads_give_the_same_numbers(rule):
    (m1, t1, c1), (m2, t2, c2) = _train(1, rule), _train(2, rule)
    assert t1.pulses > 0 and t1 == t2 and c1 == c2
    for (name, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b), name
