"""LeNet-5 on MNIST on crossbars, memcosim beside IBM aihwkit 1.2: ms per step and accuracy, one run.

The same network (aihwkit's LeNet-5 of its MNIST example: 16 and 32 channels, 5 x 5 kernels,
2 x 2 max pools, 512-128-10, tanh; every convolution and linear layer analog) and the same case on
both sides, batch 64, one epoch of the 60 k MNIST training images, test accuracy on the 10 k:

* ``sgd``: analog SGD with stochastic pulse trains (BL 31, update management), lr 0.1;
* ``mixed_precision``: a digital rank-update accumulator transferred in device steps, lr 0.1;

on a constant-step device (aihwkit's ``ConstantStepDevice`` with every spread and noise 0, 1200
steps across [-0.6, 0.6]; memcosim's linear-step device of 1200 states) with exact converters
(aihwkit ``IOParameters(is_perfect=True)``; memcosim's default ideal reads). memcosim also books
every pulse's energy (the device-level table of the compact HZO model), which aihwkit does not.
Each side's time is the median of its steps after the first 20 (forward, backward, update).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/aihwkit_lenet.py [--cases sgd mixed_precision] [--threads 1]

runs the aihwkit side in its own environment (``../shared/bench/aihwkit/setup.sh``; ``--aihwkit``
or ``$AIHWKIT_PYTHON`` names its python) and then memcosim's, and prints one table with the ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
MNIST = HERE.parents[1] / "shared" / "data" / "mnist"
LR, BATCH, N_STATES, W_BOUND = 0.1, 64, 1200, 0.6


def lenet(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 16, 5), nn.Tanh(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.Tanh(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(512, 128), nn.Tanh(), nn.Linear(128, 10))


def mnist():
    sys.path.insert(0, str(HERE))
    from aihwkit_published_protocol import idx

    def images(name):
        return torch.tensor(idx(MNIST / name), dtype=torch.float32).reshape(-1, 1, 28, 28) / 255

    def labels(name):
        return torch.tensor(idx(MNIST / name), dtype=torch.int64)

    return ((images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")),
            (images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")))


def aihwkit_model(case, seed):
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.optim import AnalogSGD
    from aihwkit.simulator.configs import (ConstantStepDevice, DigitalRankUpdateRPUConfig, IOParameters,
                                           MixedPrecisionCompound, SingleRPUConfig)

    device = ConstantStepDevice(dw_min=2 * W_BOUND / N_STATES, w_min=-W_BOUND, w_max=W_BOUND, dw_min_dtod=0.0,
                                dw_min_std=0.0, w_min_dtod=0.0, w_max_dtod=0.0, up_down_dtod=0.0, construction_seed=seed)
    io = dict(forward=IOParameters(is_perfect=True), backward=IOParameters(is_perfect=True))
    if case == "mixed_precision":
        config = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=device), **io)
    else:
        config = SingleRPUConfig(device=device, **io)
    model = convert_to_analog(lenet(seed), rpu_config=config)
    opt = AnalogSGD(model.parameters(), lr=LR)
    opt.regroup_param_groups(model)
    return model, opt


def memcosim_model(case, seed):
    from memcosim.devices import load_device_params
    from memcosim.devices.linear_step import LinearStepParams
    from memcosim.training import (AnalogSGD, CrossbarSGD, EnergyConfig, LinearPulsed, MixedPrecision, TileConfig,
                                   WriteEnergyTable, attach_ledger, convert)

    energy = EnergyConfig(write=WriteEnergyTable.from_device(load_device_params("hzo"), 3.0, 2e-7))
    rule = MixedPrecision() if case == "mixed_precision" else AnalogSGD(pulse_mode="stochastic")
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=N_STATES), 3.0, 2e-7), update=rule, energy=energy)
    model = convert(lenet(seed), tile, seed=seed)
    ledger = attach_ledger(model)
    return model, CrossbarSGD(model, lr=LR), ledger


def run_side(side, case, seed, threads, epochs):
    torch.set_num_threads(threads)
    (x, y), (xt, yt) = mnist()
    ledger = None
    if side == "aihwkit":
        model, opt = aihwkit_model(case, seed)
    else:
        model, opt, ledger = memcosim_model(case, seed)
    order_gen = torch.Generator().manual_seed(seed)
    times, t_start = [], time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=order_gen)
        for i in range(0, len(y), BATCH):
            batch = order[i:i + BATCH]
            t0 = time.perf_counter()
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xt[i:i + 1000]).argmax(1) == yt[i:i + 1000]).sum()) for i in range(0, len(yt), 1000))
    record = {"side": side, "case": case, "ms_per_step": statistics.median(times[20:]) * 1e3,
              "test_accuracy": correct / len(yt), "wall_s": time.perf_counter() - t_start, "steps": len(times),
              "threads": threads}
    if ledger is not None:
        totals = ledger.totals()
        record["pulses"] = int(totals.pulses)
        record["energy_per_update_j"] = float(totals.array_energy_per_update_j)
    return record


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=("both", "aihwkit", "memcosim"), default="both")
    parser.add_argument("--cases", nargs="+", choices=("sgd", "mixed_precision"), default=["sgd", "mixed_precision"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--aihwkit", default=os.environ.get(
        "AIHWKIT_PYTHON", str(Path.home() / ".cache" / "memcosim-bench" / "aihwkit-venv" / "bin" / "python")))
    args = parser.parse_args()
    if args.side != "both":
        for case in args.cases:
            print(json.dumps(run_side(args.side, case, args.seed, args.threads, args.epochs)), flush=True)
        return
    common = ["--cases", *args.cases, "--threads", str(args.threads), "--epochs", str(args.epochs), "--seed", str(args.seed)]
    out = subprocess.run([args.aihwkit, __file__, "--side", "aihwkit", *common], capture_output=True, text=True,
                         env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    reference = {r["case"]: r for r in map(json.loads, (ln for ln in out.stdout.splitlines() if ln.startswith("{")))}
    if not reference:
        print(f"# aihwkit: not run ({(out.stderr.strip().splitlines() or ['no output'])[-1]})")
    print(f"# LeNet-5 MNIST, batch {BATCH}, {args.epochs} epoch(s), {args.threads} thread(s), torch {torch.__version__}")
    print("| case | memcosim ms/step | aihwkit ms/step | ratio | memcosim test % | aihwkit test % | difference |"
          " memcosim J/update |")
    print("|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        mine, theirs = run_side("memcosim", case, args.seed, args.threads, args.epochs), reference.get(case)
        if theirs is None:
            print(f"| {case} | {mine['ms_per_step']:.1f} | | | {100 * mine['test_accuracy']:.2f} | | | "
                  f"{mine['energy_per_update_j']:.3g} |")
            continue
        print(f"| {case} | {mine['ms_per_step']:.1f} | {theirs['ms_per_step']:.1f} | "
              f"{mine['ms_per_step'] / theirs['ms_per_step']:.2f} | {100 * mine['test_accuracy']:.2f} | "
              f"{100 * theirs['test_accuracy']:.2f} | {100 * (mine['test_accuracy'] - theirs['test_accuracy']):+.2f} | "
              f"{mine['energy_per_update_j']:.3g} |", flush=True)


if __name__ == "__main__":
    main()
