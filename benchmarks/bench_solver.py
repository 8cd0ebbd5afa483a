"""Native solver vs ngspice on the same crossbar read decks; native alone up to 1024 x 1024.

Run: .venv/bin/python benchmarks/bench_solver.py [--max-ngspice 128] [--max-native 1024]

Prints one table. "native deck" = parse + solve of the deck text (general MNA path);
"native struct" = the structured crossbar solver (factor + one solve) from arrays, wall and CPU
time (the best of three: the machine is shared), with its sweeps;
"ngspice" = ngspice 39 through libngspice (PySpice), the same deck; max rel diff compares
every node voltage and source current of native deck vs ngspice. IR-drop: 1 ohm segments and
10-100 uS cells ("light"), 10 ohm segments ("heavy").
"""

import argparse
import datetime
import platform
import time

import numpy as np

from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.circuits.native import solve_deck
from memcosim.circuits.ngspice import run_ngspice
from memcosim.netlist import CrossbarSpec, read_deck


def max_rel_diff(native, spice):
    ref = {**spice.node_voltages(), **{k + "#branch": v for k, v in spice.source_currents().items()}}
    ours = {**native.node_voltages, **{k + "#branch": v for k, v in native.source_currents.items()}}
    worst = 0.0
    for key, value in ours.items():
        scale = max(abs(ref[key]), 1e-12 if "#" not in key else 1e-15)
        worst = max(worst, abs(value - ref[key]) / scale)
    return worst


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-ngspice", type=int, default=128)
    parser.add_argument("--max-native", type=int, default=1024)
    args = parser.parse_args()
    print(f"# memcosim solver benchmark, {datetime.date.today()}, {platform.node()}, {platform.processor() or platform.machine()}")
    print("| N x N | r_wire | native deck (s) | native struct (s) | struct CPU (s) | sweeps | ngspice (s) | speed-up deck | "
          "speed-up struct | max rel diff |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in (16, 32, 64, 96, 128, 256, 512, 1024):
        if n > args.max_native:
            break
        for r_wire, label in ((1.0, "1 (light)"), (10.0, "10 (heavy)")):
            if n < 1024 and r_wire == 10.0 and n not in (256, 512):
                continue
            g = rng.uniform(1e-5, 1e-4, (n, n))
            v = rng.uniform(0.0, 0.2, n)
            t_struct = c_struct = float("inf")
            for _ in range(3):
                t0, c0 = time.perf_counter(), time.process_time()
                sol = CrossbarSolver(g, r_wire, 100.0).solve(v)
                t_struct = min(t_struct, time.perf_counter() - t0)
                c_struct = min(c_struct, time.process_time() - c0)
            t_deck = native = text = None
            if n <= 256:
                text = read_deck(CrossbarSpec(g, r_wire_ohm=r_wire), v)
                native = solve_deck(text)
                t_deck = native.solve_time_s
            t_ng = diff = None
            if text is not None and n <= args.max_ngspice:
                t0 = time.perf_counter()
                spice = run_ngspice(text, backend="shared", timeout_s=600)
                t_ng = time.perf_counter() - t0
                diff = max_rel_diff(native, spice)
            fmt = lambda x, f="{:.3g}": "-" if x is None else f.format(x)  # noqa: E731
            print(
                f"| {n} | {label} | {fmt(t_deck)} | {t_struct:.3g} | {c_struct:.3g} | {sol.iterations[0]} | {fmt(t_ng)} | "
                f"{fmt(t_ng / t_deck if t_ng and t_deck else None, '{:.0f}x')} | "
                f"{fmt(t_ng / t_struct if t_ng else None, '{:.0f}x')} | {fmt(diff, '{:.1e}')} |",
                flush=True,
            )
    # many input vectors against one factorisation
    n = 256
    solver = CrossbarSolver(rng.uniform(1e-5, 1e-4, (n, n)), 1.0, 100.0)
    batch = rng.uniform(0, 0.2, (64, n))
    t0 = time.perf_counter()
    solver.solve(batch)
    print(f"\n64 input vectors on one factorised 256 x 256 array: {(time.perf_counter() - t0) / 64 * 1e3:.1f} ms per vector")


if __name__ == "__main__":
    main()
