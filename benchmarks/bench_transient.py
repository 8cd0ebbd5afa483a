"""Native transient engine vs ngspice on the same write, row-operation and slot decks, 8 x 8 to 128 x 128.

Run: .venv/bin/python benchmarks/bench_transient.py [--max-ngspice 128] [--max-native 1024] [--ops write,row,slot]

Prints one table: for each size and pulse, ngspice's and the native engine's wall and CPU times
(ngspice through libngspice in this process, so the CPU time is its own), the largest relative
difference over the energy split (selected cell, half-selected cells, wires, drivers, what the
supplies delivered) and the largest difference of any node voltage at ngspice's time points
(the native waveform interpolated linearly). HZO cells (the calibrated preset) spread over the
conductance window, 1 ohm / 0.1 fF wire segments, 100 ohm drivers, a -3 V pulse of 20 ns
(V/2 scheme); the row operation pulses half the columns of row 0, the slot drives half the rows
and half the columns. Above ``--max-ngspice`` only the native engine runs.
"""

import argparse
import datetime
import platform
import time

import numpy as np

from memcosim.circuits.energy_split import line_pulse_energy_split
from memcosim.circuits.ngspice import run_ngspice
from memcosim.circuits.transient import simulate_pulse
from memcosim.devices import load_device_params
from memcosim.netlist import CrossbarSpec, write_deck
from memcosim.netlist.bias import bias_levels, row_operation_voltages_v, stochastic_slot_voltages_v
from memcosim.netlist.crossbar import row_operation_deck, stochastic_slot_deck

KEYS = ("selected_cell_j", "half_selected_j", "wires_j", "drivers_j", "sources_j")


def case(op, n, amplitude_v, width_s):
    params = load_device_params("hzo")
    g = np.random.default_rng(n).uniform(params.g_min_s, params.g_max_s, (n, n))
    spec = CrossbarSpec(g, cell="hzo", hzo_params=params, c_wire_f=1e-16, r_wire_ohm=1.0, r_driver_ohm=100.0)
    half = range(max(n // 2, 1))
    if op == "write":
        return spec, (lambda: write_deck(spec, n - 1, 0, amplitude_v, width_s)), \
            bias_levels("v_half", amplitude_v).line_voltages_v(n, n, n - 1, 0)
    if op == "row":
        return spec, (lambda: row_operation_deck(spec, 0, half, amplitude_v, width_s)), \
            row_operation_voltages_v("v_half", amplitude_v, n, n, 0, half)
    return spec, (lambda: stochastic_slot_deck(spec, half, half, amplitude_v, width_s)), \
        stochastic_slot_voltages_v(amplitude_v, n, n, half, half)


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-ngspice", type=int, default=128)
    parser.add_argument("--max-native", type=int, default=1024)
    parser.add_argument("--ops", default="write,row,slot")
    parser.add_argument("--sizes", default="8,16,32,64,128,256,512,1024")
    parser.add_argument("--width", type=float, default=2e-8)
    args = parser.parse_args()
    print(f"# memcosim transient benchmark, {datetime.date.today()}, {platform.node()}, "
          f"{platform.processor() or platform.machine()}; HZO, -3 V, {args.width:g} s pulse, V/2")
    print("| N x N | pulse | ngspice wall (s) | ngspice CPU (s) | native wall (s) | native CPU (s) | native steps | "
          "max energy rel diff | worst part | max node dV (mV) | sources (J) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in (int(x) for x in args.sizes.split(",")):
        if n > args.max_native:
            break
        for op in args.ops.split(","):
            spec, make_deck, lines = case(op, n, -3.0, args.width)
            compare = n <= args.max_ngspice
            run, t_nat, c_nat = timed(lambda: simulate_pulse(spec, *lines, args.width, keep_waveforms=compare))
            row = [f"{n}", op, "-", "-", f"{t_nat:.3g}", f"{c_nat:.3g}", f"{run.steps}", "-", "-", "-",
                   f"{run.split['sources_j']:.4g}"]
            if compare:
                spice, t_ng, c_ng = timed(lambda: run_ngspice(make_deck(), backend="shared", timeout_s=36000))
                ref = line_pulse_energy_split(spice, spec, *lines, args.width)
                diffs = {k: abs(run.split[k] - ref[k]) / abs(ref[k]) for k in KEYS}
                worst = max(diffs, key=diffs.get)
                t = spice.vectors["time"]
                dv = max(float(np.max(np.abs(np.interp(t, run.time_s, run.vectors[k]) - spice.vectors[k])))
                         for k in run.vectors if "#" not in k and k != "time")
                row[2:4] = [f"{t_ng:.3g}", f"{c_ng:.3g}"]
                row[7:10] = [f"{diffs[worst]:.1e}", worst[:-2], f"{dv * 1e3:.2f}"]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
