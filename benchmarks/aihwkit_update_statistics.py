"""One tile's plain-SGD update, memcosim against aihwkit 1.2, in statistics (the 2 ms published device).

The published protocol's 2 ms plain-SGD cell differs between the two simulators (docs/hzo-published.md).
This script isolates the update: a 64 x 32 tile of the 2 ms device (the published fit), weights 0,
fixed batches of inputs in [0, 1] and output gradients, aihwkit's default update (stochastic
compressed pulses, BL 31, update and bit-length management), lr 0.05. It prints, as JSON, the
mean update of one batch over ``--trials`` fresh tiles against the ideal SGD step (slope and
correlation, for the weights the gradient raises and those it lowers) and the weights' mean and
spread after 1, 10, 100 and 400 batches. Run it once per side:

    .venv/bin/python benchmarks/aihwkit_update_statistics.py --side memcosim
    $(../shared/bench/aihwkit/setup.sh | tail -1) benchmarks/aihwkit_update_statistics.py --side aihwkit

(the memcosim side writes the device and the batches to ``--work`` first; the aihwkit side reads them).
"""
import argparse
import json
from pathlib import Path

import numpy as np
import torch

FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "hzo-lbe247" / "ID161ZR15000_1_20241024113844_w0.002.csv"
LR, CHECKPOINTS = 0.05, (1, 10, 100, 400)


def memcosim_side(work):
    import memcosim
    from memcosim.config import sweep_points
    from memcosim.devices.measurements import read_sweep
    from memcosim.devices.piecewise_step import to_aihwkit
    from memcosim.devices.published_fit import fit_sweep
    from memcosim.training import CrossbarLinear, CrossbarSGD

    rng = np.random.default_rng(0)
    np.savez(work / "batches.npz", x=rng.random((400, 64, 64)).astype(np.float32),
             d=(rng.standard_normal((400, 64, 32)) * 0.02).astype(np.float32))
    (work / "device.json").write_text(to_aihwkit(fit_sweep(read_sweep(FILE)).params, "json"))
    study = memcosim.load_study(Path(__file__).resolve().parents[1] / "examples" / "hzo_published_protocol.toml")
    point = next(p for _, p in sweep_points(study) if p.training.algorithm == "sgd" and "113844" in p.device.measured_from[0])
    tile = memcosim.tile_config(point)

    def fresh(seed):
        layer = CrossbarLinear(64, 32, bias=False, tile=tile, seed=seed, initial_weight=torch.zeros(32, 64))
        return layer, CrossbarSGD(layer, lr=LR)

    def update(state, x, d):
        layer, opt = state
        opt.zero_grad()
        layer(x).backward(d)
        opt.step()
        return layer.weight.detach().double().numpy()

    return fresh, update


def aihwkit_side(work):
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.configs import IOParameters, PiecewiseStepDevice, SingleRPUConfig, UpdateParameters

    cfg = json.loads((work / "device.json").read_text())
    cfg.pop("device"), cfg.pop("dw_min_dtod_log_normal", None)

    def fresh(seed):
        device = PiecewiseStepDevice(construction_seed=seed + 1, **cfg)
        device.write_noise_std = 0.0
        torch.manual_seed(seed)
        layer = AnalogLinear(64, 32, bias=False, rpu_config=SingleRPUConfig(
            device=device, forward=IOParameters(), backward=IOParameters(), update=UpdateParameters()))
        layer.set_weights(torch.zeros(32, 64))
        tile = next(layer.analog_tiles())
        tile.set_learning_rate(LR)
        return layer, tile

    def update(state, x, d):
        layer, tile = state
        tile.update(x, d)
        return layer.get_weights()[0].double().numpy()

    return fresh, update


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=("memcosim", "aihwkit"), required=True)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--work", default="out/update_statistics")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fresh, update = (memcosim_side if args.side == "memcosim" else aihwkit_side)(work)
    data = np.load(work / "batches.npz")
    xs, ds = torch.tensor(data["x"]), torch.tensor(data["d"])
    ideal = -LR * (ds[0].T @ xs[0]).double().numpy()
    mean = sum(update(fresh(t), xs[0], ds[0]) for t in range(args.trials)) / args.trials
    out = {"side": args.side, "trials": args.trials, "one_batch": {
        "slope": float((mean * ideal).sum() / (ideal * ideal).sum()),
        "slope_raised": float((mean[ideal > 0] * ideal[ideal > 0]).sum() / (ideal[ideal > 0] ** 2).sum()),
        "slope_lowered": float((mean[ideal < 0] * ideal[ideal < 0]).sum() / (ideal[ideal < 0] ** 2).sum()),
        "corr": float(np.corrcoef(mean.ravel(), ideal.ravel())[0, 1])}, "trajectory": {}}
    state = fresh(0)
    for k in range(len(xs)):
        w = update(state, xs[k], ds[k])
        if k + 1 in CHECKPOINTS:
            out["trajectory"][k + 1] = {"mean": float(w.mean()), "std": float(w.std())}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
