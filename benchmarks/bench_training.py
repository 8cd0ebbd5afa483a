"""Time of one training step (batch 64, pulsed update and energy ledger on), side by side with aihwkit.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_training.py [--threads 1 2] [--repeats 2]
     [--device cpu|cuda] [--aihwkit PYTHON] [--quick]

First runs IBM aihwkit 1.2's timing script (``benchmarks/aihwkit_steps.py``: the cases of
``../shared/bench/aihwkit/steps.py`` and SPS and Tiki-Taka v2, in the virtual environment
``../shared/bench/aihwkit/setup.sh`` builds; ``--aihwkit`` or ``$AIHWKIT_PYTHON`` names its
python, default the setup script's), then memcosim's cases, and
prints one table with both and the ratio. Both time forward + backward + optimizer step of
batches of 64 ``torch.rand`` inputs with random labels, median over the timed steps, learning
rate 0.05. Beside them, the float step of the same network (``torch.optim.SGD``, no crossbar)
and memcosim's ratio to it. "CPU ms": the median CPU time of memcosim's step (all its threads),
steadier than the wall clock on a machine that other work shares. With ``--repeats`` the aihwkit script and memcosim's cases
alternate (each repeat one row per case), so load from other work hits both alike.

``--threads 1 2`` runs every case on each torch thread count and prints a fingerprint of the
result (the conductances and the ledger's totals after the timed steps): equal fingerprints
across thread counts are the same numbers, bit for bit (``memcosim.base.reproducible``).
aihwkit's process inherits ``MKL_CBWR`` (``import memcosim`` sets ``AUTO,STRICT``), so both
sides multiply matrices in the same MKL mode.

memcosim's cases: the 784->10 layer and the MLP 784-256-128-10, with the calibrated HZO device
(3 V / 20 ns pulses, 5 % device-to-device and 2 % cycle-to-cycle spread), the measured device
(ID161ZR15000 at 2 us, from ``../shared/data/hzo-lbe247``; its cases are left out without the
data) and the constant-step device; analog SGD with stochastic pulse trains (BL 31) in hardware
order (the default), aggregated order and deterministic counts, symmetry-point shifting (each
device's own point) and Tiki-Taka v2 (aihwkit's defaults), and mixed precision; "IR": the fitted first-order
IR-drop forward of 256 x 256 arrays (a = 4.12, b = 0.82, 1 ohm segments, 100 ohm drivers).
Every pulse is costed at the state the device is in with a write-energy table, every read with
the read model. aihwkit counts neither pulses nor energy. ``--memory`` adds the peak resident
memory and the largest torch allocation of one step of each case.
"""

import argparse
import hashlib
import os
import platform
import resource
import statistics
import subprocess
import time
from pathlib import Path

import torch
from torch import nn

from memcosim.circuits.models import IRDropModel
from memcosim.devices import load_device_params, measured
from memcosim.devices.linear_step import LinearStepParams
from memcosim.training import (AnalogSGD, ArrayConfig, CrossbarSGD, EnergyConfig, EnergyLedger, HZOPulsed, LinearPulsed,
                               MeasuredPulsed, MixedPrecision, SymmetryShift, TikiTaka, TileConfig, WriteEnergyTable,
                               attach_ledger, convert)

AIHWKIT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "aihwkit"
AIHWKIT_STEPS = Path(__file__).resolve().parent / "aihwkit_steps.py"
MEASURED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hzo-lbe247" / "ID161ZR15000_1_20241024111900_w2e-06.csv"
MLP = [784, 256, 128, 10]
# (network, device, update, order, IR, the aihwkit case it is compared with)
CASES = [
    ("784-10", "hzo", "sgd/stochastic", "hardware", False, ("784-10", "sgd/stochastic")),
    ("784-256-128-10", "hzo", "sgd/stochastic", "hardware", False, ("784-256-128-10", "sgd/stochastic")),
    ("784-256-128-10", "hzo", "mixed_precision", "", True, ("784-256-128-10", "mixed_precision")),
    ("784-10", "linear", "sgd/stochastic", "hardware", False, ("784-10", "sgd/stochastic")),
    ("784-256-128-10", "linear", "sgd/stochastic", "hardware", False, ("784-256-128-10", "sgd/stochastic")),
    ("784-256-128-10", "hzo", "sps", "hardware", False, ("784-256-128-10", "sps")),
    ("784-256-128-10", "hzo", "tiki_taka", "hardware", False, ("784-256-128-10", "tiki_taka")),
    ("784-256-128-10", "measured", "sgd/stochastic", "hardware", False, ("784-256-128-10", "sgd/stochastic")),
    ("784-256-128-10", "measured", "mixed_precision", "", False, ("784-256-128-10", "mixed_precision")),
    ("784-256-128-10", "measured", "tiki_taka", "hardware", False, ("784-256-128-10", "tiki_taka")),
    ("784-10", "hzo", "sgd/stochastic", "aggregated", False, None),
    ("784-256-128-10", "hzo", "sgd/stochastic", "aggregated", False, None),
    ("784-256-128-10", "hzo", "sgd/deterministic", "", False, None),
    ("784-256-128-10", "hzo", "mixed_precision", "", False, None),
]
QUICK = CASES[:3]


def make_tile(device_kind, update, order, ir):
    hzo = load_device_params("hzo")
    if device_kind == "hzo":
        dev = HZOPulsed(hzo, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02)
    elif device_kind == "measured":
        dev = MeasuredPulsed(measured.from_files([MEASURED]), device_to_device_std=0.05)
    else:
        dev = LinearPulsed(LinearStepParams(n_states=1000))
    # the HZO tiles book the write table of their pulse; the linear device's tile derives its own from its pulse
    energy = {}
    if device_kind != "linear":
        energy = {"energy": EnergyConfig(write=WriteEnergyTable.from_device(hzo, dev.amplitude_v, dev.width_s))}
    wires = dict(ir_drop=IRDropModel(4.12, 0.82), r_wire_ohm=1.0, r_driver_ohm=100.0) if ir else {}
    if update == "mixed_precision":
        rule = MixedPrecision()
    elif update == "sps":
        rule = SymmetryShift(update_order=order)
    elif update == "tiki_taka":
        rule = TikiTaka(update_order=order)
    else:
        rule = AnalogSGD(pulse_mode=update.split("/")[1], **({"update_order": order} if order else {}))
    return TileConfig(device=dev, update=rule, array=ArrayConfig(rows=256, cols=256, **wires), **energy)


def time_step(sizes, tile, device, steps, memory=False):
    """Median ms per step (wall clock and this process's CPU time), pulses per step, (with ``memory``)
    the largest torch allocation of a step and the fingerprint of the result; ``tile`` None: the
    float network with ``torch.optim.SGD``."""
    torch.manual_seed(0)  # before the layers: their initial weights are the first draws
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    ledger = EnergyLedger(device)
    if tile is None:
        model = nn.Sequential(*layers[:-1]).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
    else:
        model = convert(nn.Sequential(*layers[:-1]).to(device), tile)
        attach_ledger(model, ledger)
        opt = CrossbarSGD(model, lr=0.05)
    gen = torch.Generator().manual_seed(0)
    xs = torch.rand(steps + 5, 64, sizes[0], generator=gen).to(device)
    ys = torch.randint(0, sizes[-1], (steps + 5, 64), generator=gen).to(device)

    def step(k):
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(xs[k]), ys[k]).backward()
        opt.step()

    for k in range(5):
        step(k)
    before = ledger.totals().pulses
    times, cpu = [], []
    for k in range(5, steps + 5):
        if device == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        step(k)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    digest = hashlib.sha256(repr(ledger.totals().to_json()).encode())
    for value in model.state_dict().values():
        if isinstance(value, torch.Tensor):
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    largest = None
    if memory:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
            step(0)
        largest = max((e.cpu_memory_usage for e in prof.events() if e.cpu_memory_usage > 0), default=0)
    return (statistics.median(times) * 1e3, statistics.median(cpu) * 1e3, (ledger.totals().pulses - before) / steps, largest,
            digest.hexdigest()[:12])


def aihwkit_times(python, threads, steps=60):
    """aihwkit's ms/step by (network, update), from its own script; {} when it cannot run."""
    script = AIHWKIT_STEPS
    if not python or not Path(python).exists() or not script.exists():
        print(f"# aihwkit: not run (python {python!r}; build it with {AIHWKIT_DIR / 'setup.sh'})")
        return {}
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([python, str(script), "--threads", str(threads), "--steps", str(steps)], capture_output=True, text=True, env=env)
    times = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith(("#", "network")):
            times[(parts[0], parts[1])] = float(parts[2])
    if not times:
        print(f"# aihwkit: no timings ({out.stderr.strip().splitlines()[-1:] or 'no output'})")
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="torch thread counts, each in turn")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of aihwkit and memcosim, alternating")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--aihwkit", default=os.environ.get(
        "AIHWKIT_PYTHON", str(Path.home() / ".cache" / "memcosim-bench" / "aihwkit-venv" / "bin" / "python")))
    parser.add_argument("--quick", action="store_true", help="only the three target cases")
    parser.add_argument("--memory", action="store_true", help="peak memory and largest allocation per case")
    args = parser.parse_args()
    from memcosim.base.reproducible import blas_mode

    print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f} at start, torch {torch.__version__}, MKL mode {blas_mode()}, {args.device}, "
          "batch 64")
    memory_cols = f" {'peak RSS MiB':>12} {'largest MiB':>11}" if args.memory else ""
    print(f"| thr | {'network':<15} | {'device':<6} | {'update':<17} | {'order':<10} | IR  | {'ms/step':>7} | "
          f"{'CPU ms':>7} | {'pulses/step':>11} | {'aihwkit ms':>10} | {'ratio':>5} | {'float ms':>8} | {'x float':>7} | "
          f"{'fingerprint':<12} |{memory_cols}")
    print("|---:|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|" + ("---:|---:|" if args.memory else ""))
    fingerprints = {}
    for _ in range(args.repeats):
        for threads in args.threads:
            torch.set_num_threads(threads)
            reference = aihwkit_times(args.aihwkit, threads, args.steps)
            floats = {}
            for name, kind, update, order, ir, ref_case in (QUICK if args.quick else CASES):
                if kind == "measured" and not MEASURED.exists():
                    continue
                sizes = [784, 10] if name == "784-10" else MLP
                if name not in floats:
                    floats[name] = time_step(sizes, None, args.device, args.steps)[0]
                ms, cpu_ms, pulses, largest, digest = time_step(sizes, make_tile(kind, update, order, ir), args.device, args.steps,
                                                        args.memory)
                fingerprints.setdefault((name, kind, update, order, ir), set()).add(digest)
                ref = reference.get(ref_case) if ref_case else None
                ref_text = f"{ref:>10.2f}" if ref else f"{'-':>10}"
                ratio = f"{ms / ref:>5.2f}" if ref else f"{'-':>5}"
                extra = ""
                if args.memory:
                    extra = f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:>12.0f} {largest / 2**20:>11.2f} |"
                print(f"| {threads:>3} | {name:<15} | {kind:<6} | {update:<17} | {order or '-':<10} | "
                      f"{'yes' if ir else 'no ':<3} | {ms:>7.2f} | {cpu_ms:>7.2f} | {pulses:>11.0f} | {ref_text} | {ratio} | "
                      f"{floats[name]:>8.2f} | {ms / floats[name]:>7.2f} | {digest:<12} |{extra}", flush=True)
    differ = [case for case, seen in fingerprints.items() if len(seen) > 1]
    print(f"# load {os.getloadavg()[0]:.2f} at the end; results identical across threads {args.threads} and repeats: "
          + ("yes" if not differ else f"NO ({len(differ)} cases differ: {differ})"))


if __name__ == "__main__":
    main()
