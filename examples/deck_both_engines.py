"""One crossbar read deck solved by ngspice and by memcosim's native nodal solver, side by side.

    .venv/bin/python examples/deck_both_engines.py [--rows 16 --cols 16 --r-wire-ohm 1]

Builds a read deck (row drivers, wire segments, cells, 0 V ammeters on the columns) from a
crossbar spec with random conductances, writes it to a file ngspice runs unmodified, solves it
with both engines and prints the largest relative difference of the column currents.
"""

import argparse
import time

import numpy as np

from memcosim.circuits import run_ngspice, solve_deck
from memcosim.netlist import CrossbarSpec, read_deck


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--cols", type=int, default=16)
    parser.add_argument("--r-wire-ohm", type=float, default=1.0)
    parser.add_argument("--deck", default=None, help="also write the deck to this file")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    conductance_s = rng.uniform(1e-6, 1e-5, (args.rows, args.cols))
    input_v = rng.uniform(0.0, 0.2, args.rows)
    spec = CrossbarSpec(conductance_s, r_wire_ohm=args.r_wire_ohm, r_driver_ohm=100.0, name="example")
    deck = read_deck(spec, input_v)
    if args.deck:
        with open(args.deck, "w") as f:
            f.write(deck)

    t0 = time.perf_counter()
    native = solve_deck(deck)
    t_native = time.perf_counter() - t0
    t0 = time.perf_counter()
    spice = run_ngspice(deck, timeout_s=120)
    t_spice = time.perf_counter() - t0
    names = [f"vsns{j}" for j in range(args.cols)]
    i_native = np.array([native.source_currents[n] for n in names])
    i_spice = np.array([spice.source_currents()[n] for n in names])
    diff = float(np.max(np.abs(i_native - i_spice) / np.abs(i_spice)))
    print(f"{args.rows} x {args.cols} read deck: native {t_native * 1e3:.1f} ms, ngspice {t_spice * 1e3:.1f} ms, "
          f"largest relative difference of the column currents {diff:.2e}")
    return diff


if __name__ == "__main__":
    main()
