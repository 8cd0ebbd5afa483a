"""The published protocol in IBM aihwkit 1.2 itself, beside memcosim's run of the same settings.

Runs in the environment ``../shared/bench/aihwkit/setup.sh`` builds (aihwkit is never a memcosim
dependency; this script does not import memcosim). It repeats PaU1570/msc_project's protocol for
one measured sweep and one algorithm, step by step as its scripts do:

* the device: ``fit_piecewise.py`` (mean of the two reads, ``2 (G - mean) / (max - min)``, a
  positive amplitude is depression, degree-5 step polynomials, 32 nodes) and aihwkit's
  ``fit_measurements`` (lmfit, Powell) of ``up_down``, ``w_max``, ``w_min``; every noise and
  spread term 0 but ``up_down_dtod`` (aihwkit's default 0.01, as their scripts left it);
* plain SGD: ``SingleRPUConfig`` with default IO and update; symmetry-point shifting: a
  ``ReferenceUnitCell`` whose reference holds the symmetry point of 100 alternating pulses from
  0 (``plot_symmetry_point`` with a mixed-precision tile), the weights offset by it; mixed
  precision: ``DigitalRankUpdateRPUConfig(MixedPrecisionCompound(granularity = the mean |step| at
  0))`` with deterministic-implicit pulses;
* training: MNIST ``ToTensor`` pixels, a seeded 48 k / 12 k split, batch 64, NLLLoss on
  LogSoftmax, SGD at 0.05 / 0.1 / 0.5, StepLR(10, 0.5), ``epochs`` epochs, validation every
  epoch, test at the end.

Usage (one run; prints one JSON line, appends it to ``--out``)::

    py=$(../shared/bench/aihwkit/setup.sh | tail -1)   # + pip install lmfit into that venv
    OPENBLAS_NUM_THREADS=1 $py benchmarks/aihwkit_published_protocol.py FILE.csv --algorithm sgd --epochs 25

``benchmarks/published_side_by_side.py`` prints these records beside memcosim's runs.
"""
import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

LR = {"sgd": 0.05, "symmetry_shift": 0.1, "mixed_precision": 0.5}


def read_sweep(path):
    """(normalised conductance, +1/-1 pulses) as the published ``read_conductance_data``."""
    lines = Path(path).read_text().splitlines()
    rows = [ln.split(",") for ln in lines[7:] if ln.strip()]
    amp = np.array([float(r[2]) for r in rows])
    g = (1 / np.array([float(r[3]) for r in rows]) + 1 / np.array([float(r[4]) for r in rows])) / 2
    g = 2 * (g - g.mean()) / (g.max() - g.min())
    return g, np.array([-1 if v > 0 else 1 for v in amp])


def fit_device(path):
    """The published ``fit_piecewise_device`` (its granularity too)."""
    from aihwkit.simulator.configs import PiecewiseStepDevice
    from aihwkit.utils.fitting import fit_measurements

    g, pulses = read_sweep(path)
    fits = {}
    for sign in (1, -1):
        rows = g[pulses == sign]
        fits[sign] = np.polynomial.polynomial.Polynomial.fit(rows, np.gradient(rows), 5)
    nodes = np.linspace(-1, 1, 32)
    up, down = np.abs(fits[1](nodes)), np.abs(fits[-1](nodes))
    up[-1], down[0] = 0, 0
    gran_up, gran_down = abs(fits[1](0)), abs(fits[-1](0))
    dw_min = min(gran_up, gran_down)
    params = {"dw_min": dw_min, "up_down": (0.0, -0.99, 0.99), "w_max": (1.0, 0.1, 2.0), "w_min": (-1.0, -2.0, -0.1)}
    _, device, _ = fit_measurements(params, pulses, g, PiecewiseStepDevice(construction_seed=2024, piecewise_up=list(up / dw_min),
                                                                           piecewise_down=list(down / dw_min)))
    for name in ("dw_min_dtod", "dw_min_std", "w_min_dtod", "w_max_dtod"):
        setattr(device, name, 0.0)
    device.write_noise_std = 0.0
    device.up_down_dtod = 0.01
    device.construction_seed = 2024
    return device, (gran_up + gran_down) / 2


def symmetry_point(device):
    """``plot_symmetry_point(device, n_steps=0, alternating_pulses=100, w_init=0)`` of the published scripts."""
    from aihwkit.simulator.configs import build_config
    from aihwkit.utils.visualization import compute_pulse_response, get_tile_for_plotting

    tile = get_tile_for_plotting(build_config("mp", device=device), 1, False, noise_free=True, w_init=0)
    direction = np.sign(np.sin(np.pi * (np.arange(100) + 0.5)))
    return float(np.mean(compute_pulse_response(tile, direction, use_forward=True).reshape(-1)[-5:]))


def idx(path):
    with gzip.open(path) as fh:
        data = fh.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist(folder, seed):
    x = torch.tensor(idx(Path(folder) / "train-images-idx3-ubyte.gz"), dtype=torch.float32).reshape(-1, 784) / 255
    y = torch.tensor(idx(Path(folder) / "train-labels-idx1-ubyte.gz"), dtype=torch.int64)
    xt = torch.tensor(idx(Path(folder) / "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).reshape(-1, 784) / 255
    yt = torch.tensor(idx(Path(folder) / "t10k-labels-idx1-ubyte.gz"), dtype=torch.int64)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    return (x[order[12000:]], y[order[12000:]]), (x[order[:12000]], y[order[:12000]]), (xt, yt)


def build(device, granularity, algorithm, io="default"):
    from aihwkit.nn.conversion import convert_to_analog
    from aihwkit.simulator.configs import (DigitalRankUpdateRPUConfig, IOParameters, MixedPrecisionCompound, SingleRPUConfig,
                                           UpdateParameters)
    from aihwkit.simulator.configs.compounds import ReferenceUnitCell
    from aihwkit.simulator.parameters.enums import PulseType

    sp = None
    if algorithm == "mixed_precision":
        config = DigitalRankUpdateRPUConfig(device=MixedPrecisionCompound(device=device, granularity=granularity,
                                                                          construction_seed=2024),
                                            forward=IOParameters(is_perfect=io == "perfect"),
                                            backward=IOParameters(is_perfect=io == "perfect"),
                                            update=UpdateParameters(pulse_type=PulseType.DETERMINISTIC_IMPLICIT))
    else:
        if algorithm == "symmetry_shift":
            sp = symmetry_point(device)
            device = ReferenceUnitCell([device], construction_seed=2024)
        config = SingleRPUConfig(device=device, forward=IOParameters(is_perfect=io == "perfect"),
                                 backward=IOParameters(is_perfect=io == "perfect"), update=UpdateParameters())
    model = nn.Sequential(nn.Linear(784, 256), nn.Sigmoid(), nn.Linear(256, 128), nn.Sigmoid(), nn.Linear(128, 10),
                          nn.LogSoftmax(dim=1))
    model = convert_to_analog(model, rpu_config=config)  # layers over 512 are split into a tile array (mapping)
    if sp is not None:  # the published scripts: reference at SP, then the weights offset by 2 SP on the first device
        model.apply_to_analog_tiles(lambda tile: tile.set_hidden_update_index(1))
        for _, layer in model.named_analog_layers():
            w = layer.get_weights()
            w[0].fill_(sp)
            layer.set_weights(w[0], w[1])
        model.apply_to_analog_tiles(lambda tile: tile.set_hidden_update_index(0))
        for _, layer in model.named_analog_layers():
            w = layer.get_weights()
            layer.set_weights(w[0].add(2 * sp), w[1])
    return model, sp


def accuracy(model, data):
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(data[0][i:i + 1000]).argmax(1) == data[1][i:i + 1000]).sum())
                      for i in range(0, len(data[1]), 1000))
    model.train()
    return correct / len(data[1])


def main():
    from aihwkit.optim import AnalogSGD

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--algorithm", choices=list(LR), required=True)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--mnist", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--io", choices=("default", "perfect"), default="default",
                        help="default: aihwkit's IOParameters() as published; perfect: exact forward and backward (a what-if)")
    parser.add_argument("--bound-gradient", choices=("aihwkit", "straight_through"), default="aihwkit",
                        help="aihwkit: its handle_output_bound (no gradient into a tile's inputs where its output reaches "
                             "0.999 out_bound) as published; straight_through: switched off on every tile (a what-if)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    device, granularity = fit_device(args.file)
    model, sp = build(device, granularity, args.algorithm, args.io)
    if args.bound_gradient == "straight_through":
        for tile in model.analog_tiles():
            tile.handle_output_bound = False
    train, valid, test = mnist(args.mnist, args.seed)
    opt = AnalogSGD(model.parameters(), lr=LR[args.algorithm])
    opt.regroup_param_groups(model)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    gen, loss_fn, records = torch.Generator().manual_seed(args.seed), nn.NLLLoss(), []
    for epoch in range(args.epochs):
        order = torch.randperm(len(train[1]), generator=gen)
        for i in range(0, len(order), 64):
            batch = order[i:i + 64]
            opt.zero_grad()
            loss_fn(model(train[0][batch]), train[1][batch]).backward()
            opt.step()
        scheduler.step()
        records.append({"epoch": epoch + 1, "validation_accuracy": accuracy(model, valid)})
    record = {"file": Path(args.file).name, "algorithm": args.algorithm, "seed": args.seed, "symmetry_point": sp,
              "device": {"dw_min": device.dw_min, "up_down": device.up_down, "w_min": device.w_min, "w_max": device.w_max},
              "granularity": granularity, "test_accuracy": accuracy(model, test), "epochs": records,
              "wall_s": time.perf_counter() - t0, "threads": args.threads, "io": args.io,
              "bound_gradient": args.bound_gradient}
    line = json.dumps(record)
    print(line)
    if args.out:
        with open(args.out, "a") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
