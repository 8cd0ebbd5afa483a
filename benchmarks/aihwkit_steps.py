"""aihwkit 1.2 training-step times for every case of ``bench_training.py`` (run in aihwkit's own venv).

Run: OPENBLAS_NUM_THREADS=1 $AIHWKIT_PYTHON benchmarks/aihwkit_steps.py [--threads N] [--steps 60]
(``../shared/bench/aihwkit/setup.sh`` builds that venv; ``bench_training.py`` runs this script
itself). The three cases of ``../shared/bench/aihwkit/steps.py`` with the same protocol (batch 64
of ``torch.rand`` inputs and random labels, forward + backward + pulsed update, lr 0.05, median
ms over the steps after the first 10), and the two rules it lacks:

* ``sps``: analog SGD on a ``ReferenceUnitCell`` (the weight is G - G_ref, only G is pulsed):
  how aihwkit runs symmetry-point shifting (the published protocol's SPS);
* ``tiki_taka``: Tiki-Taka v2 (``build_config("ttv2", ...)``: ``ChoppedTransferCompound`` with no
  chopper), aihwkit's defaults.

SoftBounds devices for the MLP, ConstantStep for 784->10, as ``steps.py``. aihwkit counts no
energy and, on CPU, no pulses.
"""
import argparse
import statistics
import time

import torch
from aihwkit.nn import AnalogLinear, AnalogSequential
from aihwkit.optim import AnalogSGD
from aihwkit.simulator.configs import (ConstantStepDevice, DigitalRankUpdateRPUConfig, MixedPrecisionCompound,
                                       SingleRPUConfig, SoftBoundsDevice, UnitCellRPUConfig, build_config)
from aihwkit.simulator.configs.devices import ReferenceUnitCell
from torch import nn


def mlp(cfg):
    return AnalogSequential(AnalogLinear(784, 256, rpu_config=cfg), nn.ReLU(),
                            AnalogLinear(256, 128, rpu_config=cfg), nn.ReLU(),
                            AnalogLinear(128, 10, rpu_config=cfg))


CASES = [
    ("784-10", "sgd/stochastic", lambda: AnalogLinear(784, 10, rpu_config=SingleRPUConfig(device=ConstantStepDevice()))),
    ("784-256-128-10", "sgd/stochastic", lambda: mlp(SingleRPUConfig(device=SoftBoundsDevice()))),
    ("784-256-128-10", "mixed_precision",
     lambda: mlp(DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=SoftBoundsDevice())))),
    ("784-256-128-10", "sps",
     lambda: mlp(UnitCellRPUConfig(device=ReferenceUnitCell(unit_cell_devices=[SoftBoundsDevice(), SoftBoundsDevice()])))),
    ("784-256-128-10", "tiki_taka", lambda: mlp(build_config("ttv2", SoftBoundsDevice()))),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    x_all = torch.rand(64 * args.steps, 784)
    y_all = torch.randint(0, 10, (64 * args.steps,))
    print(f"# aihwkit, torch {torch.__version__}, {args.threads} threads, batch 64")
    print(f"{'network':<16} {'update':<16} {'ms/step':>8}")
    for name, rule, make in CASES:
        model = make()
        opt = AnalogSGD(model.parameters(), lr=0.05)
        opt.regroup_param_groups(model)
        times = []
        for step in range(args.steps):
            xb, yb = x_all[step * 64:(step + 1) * 64], y_all[step * 64:(step + 1) * 64]
            t0 = time.perf_counter()
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        print(f"{name:<16} {rule:<16} {statistics.median(times[10:]) * 1e3:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
