"""Time of one training step (batch 64, pulsed update and energy ledger on) on crossbar layers.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_training.py [--threads 2] [--device cpu|cuda]

Cases: a 784->10 crossbar layer and the MNIST MLP 784-256-128-10, with the calibrated HZO
device (20 ns, 3 V pulses, 5 % device-to-device spread) and, for reference, the constant-step
device; update rules: mixed precision, analog SGD with stochastic pulse trains (BL = 31) and
with deterministic pulse counts. "IR" adds the fitted first-order IR-drop model of 256x256
arrays (a = 4.12, b = 0.82, 1 ohm segments, 100 ohm drivers: the quick-start characterisation).
Every step counts its pulses and costs each with a circuit write-energy table and every read
with the read model. Reference (issue 6): IBM aihwkit 1.2 on the same 2-core machines, torch 2
threads: 784->10 pulsed 2.3 ms/step; MLP with a piecewise-step device 2.2 ms/step (SGD) and
5.0 ms/step (mixed precision), without counting pulses or energy.
"""

import argparse
import platform
import time

import torch
from torch import nn

from memcosim.devices import load_device_params
from memcosim.devices.linear_step import LinearStepParams
from memcosim.circuits.models import IRDropModel
from memcosim.training import (AnalogSGD, ArrayConfig, CrossbarSGD, EnergyConfig, EnergyLedger, HZOPulsed, LinearPulsed,
                               MixedPrecision, TileConfig, WriteEnergyTable, convert)

AIHWKIT_MS = {("784-10", "sgd/stochastic"): 2.3, ("784-256-128-10", "sgd/stochastic"): 2.2,
              ("784-256-128-10", "mixed_precision"): 5.0}


def make_tile(device_kind, algorithm, pulse_mode, ir):
    hzo = load_device_params("hzo")
    if device_kind == "hzo":
        dev = HZOPulsed(hzo, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02)
    else:
        dev = LinearPulsed(LinearStepParams(n_states=1000))
    energy = EnergyConfig(write=WriteEnergyTable.from_device(hzo, 3.0, 2e-8))
    wires = dict(ir_drop=IRDropModel(4.12, 0.82), r_wire_ohm=1.0, r_driver_ohm=100.0) if ir else {}
    update = MixedPrecision() if algorithm == "mixed_precision" else AnalogSGD(pulse_mode=pulse_mode)
    return TileConfig(device=dev, update=update, energy=energy, array=ArrayConfig(rows=256, cols=256, **wires))


def time_step(sizes, tile, device, steps):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    ledger = EnergyLedger(device)
    model = convert(nn.Sequential(*layers[:-1]).to(device), tile, ledger=ledger)
    opt = CrossbarSGD(model, lr=0.1, ledger=ledger)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, sizes[0], generator=gen).to(device)
    y = torch.randint(0, sizes[-1], (64,), generator=gen).to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    before = ledger.totals()["pulses"]
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    elapsed = (time.perf_counter() - t0) / steps
    return elapsed * 1e3, (ledger.totals()["pulses"] - before) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads, {args.device}")
    print(f"{'network':<16} {'device':<9} {'update':<16} {'IR':<3} {'ms/step':>8} {'pulses/step':>12} {'aihwkit ms':>10}")
    cases = [("784-10", [784, 10]), ("784-256-128-10", [784, 256, 128, 10])]
    rules = [("mixed_precision", "deterministic"), ("sgd", "stochastic"), ("sgd", "deterministic")]
    for name, sizes in cases:
        for kind in ("hzo", "linear"):
            for algorithm, mode in rules:
                for ir in (False, True):
                    if kind == "linear" and ir:
                        continue
                    ms, pulses = time_step(sizes, make_tile(kind, algorithm, mode, ir), args.device, args.steps)
                    label = algorithm if algorithm == "mixed_precision" else f"sgd/{mode}"
                    ref = AIHWKIT_MS.get((name, label))
                    ref_text = f"{ref:>10.1f}" if ref else f"{'-':>10}"
                    print(f"{name:<16} {kind:<9} {label:<16} {'yes' if ir else 'no':<3} {ms:>8.2f} {pulses:>12.0f} {ref_text}")


if __name__ == "__main__":
    main()
