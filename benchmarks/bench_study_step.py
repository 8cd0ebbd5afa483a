"""Time of one training step of a study's own configuration (what a run of the study does per step).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_study_step.py STUDY.toml
     [--set training.algorithm=sgd --set device.pulse_width_s=2e-6] [--steps 200] [--profile]

``bench_training.py`` times bare layers side by side with aihwkit; a study's run does more per
step (the fitted IR-drop forward on its tiles, the update scheme's circuit costing, the
periphery of every read and update). This builds the run exactly as ``memcosim run`` does
(:func:`memcosim.build.train_config` of the study point, the characterised circuit models,
the study's dataset), then times steps on the dataset's first batches on one torch thread:
the setup (conversion, scheme tables, symmetry search), the first 20 steps (numba compiles),
and the median and CPU time of ``--steps`` more. Prints a fingerprint (the first layer's weight
sum and the ledger's write energy) so two commits can be compared for identical numbers, and
with ``--profile`` the 25 costliest functions. Circuit models are characterised once into
``~/.cache/memcosim-bench/study-step/`` (ngspice, minutes) and reused.
"""

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

import torch

import memcosim
from memcosim.build import train_config
from memcosim.training.data import load_dataset
from memcosim.training.trainer import build_training

CACHE = Path.home() / ".cache" / "memcosim-bench" / "study-step"


def _value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a study field for this point (the sweep's values; repeat)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    values = dict(item.split("=", 1) for item in args.set)
    study = memcosim.load_study(args.study).with_values({k: _value(v) for k, v in values.items()})
    models = memcosim.characterize(study, cache_dir=CACHE / "cache") if study.training.algorithm != "float" else None
    config = train_config(study, models)
    data = load_dataset(config.dataset, config.data_dir, config.seed)
    start = time.perf_counter()
    model, optimizer, ledger = build_training(config, data, torch.device("cpu"))  # as memcosim run starts a run
    setup_s = time.perf_counter() - start
    shape = data.image_shape if config.model.takes_images else (data.n_features,)
    x, y = data.train_x.reshape(-1, *shape), data.train_y
    batch = config.batch_size

    def step(k):
        k %= len(y) // batch
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[k * batch:(k + 1) * batch]), y[k * batch:(k + 1) * batch]).backward()
        optimizer.step()

    start = time.perf_counter()
    for k in range(20):
        step(k)
    warm_s = time.perf_counter() - start
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    times, cpu = [], time.process_time()
    for k in range(20, 20 + args.steps):
        t = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - t)
    cpu = time.process_time() - cpu
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    weight = next(model.parameters()).detach().double().sum()
    print(f"{args.study} {values or ''}: setup {setup_s:.1f} s, first 20 steps {warm_s:.1f} s; "
          f"{args.steps} steps: median {1e3 * statistics.median(times):.2f} ms, CPU {1e3 * cpu / args.steps:.2f} ms/step")
    print(f"fingerprint: weight sum {float(weight)!r}, write energy {ledger.totals().write_j!r} J")


if __name__ == "__main__":
    main()
