"""Sweep validation cost: one swept field of N values, and a joint grid of two fields (N points).

Run: .venv/bin/python benchmarks/bench_sweep_validation.py [--sizes 1e4,1e5,1e6]

Prints one table: wall and CPU seconds of ``parse_study`` on a study whose sweep is
``device.pulse_width_s`` with N values (each validated alone) and ``array.r_wire_ohm`` x
``array.r_driver_ohm`` with sqrt(N) values each (jointly checked fields: every combination).
CPU time is the fair figure on a shared machine.
"""

import argparse
import datetime
import math
import platform
import time

import numpy as np

from memcosim.config import parse_study


def _time(sweep):
    wall, cpu = time.perf_counter(), time.process_time()
    parse_study({"sweep": sweep})
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e4,1e5,1e6")
    args = parser.parse_args(argv)
    print(f"# {datetime.date.today()} {platform.machine()} python {platform.python_version()}")
    print(f"{'N':>9} {'one list wall s':>16} {'CPU s':>8} {'us/value':>9} {'joint grid wall s':>18} {'CPU s':>8} "
          f"{'us/point':>9}")
    for n in (int(float(x)) for x in args.sizes.split(",")):
        side = int(math.isqrt(n))
        one = _time({"device.pulse_width_s": [float(x) for x in np.linspace(1e-8, 1e-3, n)]})
        joint = _time({"array.r_wire_ohm": [float(x) for x in np.linspace(0.0, 10.0, side)],
                       "array.r_driver_ohm": [float(x) for x in np.linspace(0.0, 100.0, side)]})
        print(f"{n:>9} {one[0]:>16.2f} {one[1]:>8.2f} {1e6 * one[1] / n:>9.2f} {joint[0]:>18.2f} {joint[1]:>8.2f} "
              f"{1e6 * joint[1] / side ** 2:>9.2f}")


if __name__ == "__main__":
    main()
