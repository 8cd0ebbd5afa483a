"""Your own PyTorch model on crossbars: characterise the array, convert, train with a plain loop.

    .venv/bin/python examples/own_model_on_crossbars.py [--study STUDY.toml] [--out out/own_model]

The study file supplies the device (calibrated HZO synapse, pulse), the array (size, wires,
drivers) and the update rule; ngspice characterises the array once (cached in OUT/char), and
every pulse of the loop below is costed with the fitted circuit energy model.
"""

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn

import memcosim
from memcosim.run import quickstart_path
from memcosim.training import CrossbarSGD, TileConfig, attach_ledger, convert


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=str(quickstart_path()), help="study file (default: the built-in quick start)")
    parser.add_argument("--out", default="out/own_model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--pulse-width-s", type=float, default=2e-8, help="programming pulse width (the study's sweeps it)")
    args = parser.parse_args(argv)

    # one point of the study, validated again: a bad width is a one-line error
    study = memcosim.load_study(args.study).with_values({"device.pulse_width_s": args.pulse_width_s})
    models = memcosim.characterize(study, f"{args.out}/char", progress=True)  # cached: a rerun simulates nothing
    tile = TileConfig.from_study(study, models)

    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target)
    split = int(0.8 * len(y))
    torch.manual_seed(study.seed)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))  # any nn.Module with nn.Linear layers
    net = convert(model, tile, seed=study.seed)  # a copy: model itself stays in floating point
    ledger = attach_ledger(net)
    opt = CrossbarSGD(net, lr=study.training.learning_rate)

    order = torch.Generator().manual_seed(study.seed)
    for epoch in range(args.epochs):
        for idx in torch.randperm(split, generator=order).split(study.training.batch_size):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
        with torch.no_grad():
            accuracy = float((net(x[split:]).argmax(dim=1) == y[split:]).float().mean())
        totals = ledger.totals()
        print(f"epoch {epoch + 1}: test accuracy {accuracy:.2%}, {totals.pulses} pulses, "
              f"energy per update {totals.array_energy_per_update_j:.3g} J")
    return accuracy, ledger.totals()


if __name__ == "__main__":
    main()
