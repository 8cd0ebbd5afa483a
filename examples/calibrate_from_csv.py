"""Calibrate the HZO compact model from measured pulse sweeps in plain CSV, and check it on held-out data.

    .venv/bin/python examples/calibrate_from_csv.py SWEEP.csv [SWEEP.csv ...] [--out out/calibration]
    .venv/bin/python examples/calibrate_from_csv.py --demo out/demo_sweeps

A plain sweep file has the header ``pulse_amplitude_v,pulse_width_s,conductance_s`` and one row
per pulse: the pulse applied and the conductance read after it (siemens), in measurement order;
one file per pulse width; ``#`` lines are comments. All files are fitted *jointly* (one device,
every width). ``--demo DIR`` first writes such files from a known device (the built-in preset
with 1 % read noise), so the fit can be checked against the truth.
"""

import argparse
from pathlib import Path

import numpy as np

from memcosim.devices import apply_pulses, load_device_params
from memcosim.devices.calibrate import calibrate_files, write_calibration


def write_demo_sweeps(out_dir, widths_s=(2e-8, 2e-6, 2e-4), seed=0):
    """Plain CSV sweeps of the preset device: amplitude ramps up, then down with the other polarity."""
    truth = load_device_params("hzo")
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ramp = np.linspace(0.5, 3.5, 31)
    paths = []
    for width in widths_s:
        g = np.array([truth.g_min_s])
        rows = ["pulse_amplitude_v,pulse_width_s,conductance_s"]
        for polarity in (truth.potentiation_polarity, -truth.potentiation_polarity):
            for amplitude in polarity * ramp:
                g = apply_pulses(g, 1, truth, float(amplitude), width)
                measured = float(g[0]) * (1 + 0.01 * rng.standard_normal())
                rows.append(f"{amplitude:.4f},{width:.3e},{measured:.6e}")
        path = out / f"demo_w{width:.0e}.csv"
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="plain CSV (or LBE247) sweep files")
    parser.add_argument("--demo", metavar="DIR", help="write demo sweeps of a known device to DIR and fit those")
    parser.add_argument("--out", default="out/calibration")
    parser.add_argument("--populations", type=int, default=1, choices=(1, 2))
    parser.add_argument("--no-wake-up", action="store_true",
                        help="fit no wake-up (the window does not grow with the pulses taken; --demo implies it)")
    args = parser.parse_args(argv)
    files = write_demo_sweeps(args.demo) if args.demo else [Path(f) for f in args.files]
    if not files:
        parser.error("give sweep files, or --demo DIR")
    wake_up = False if (args.no_wake_up or args.demo) else None  # the demo device has no wake-up
    result = calibrate_files(files, model="hzo", populations=args.populations, wake_up=wake_up)
    write_calibration(result, args.out, plots=False)
    for entry in result.files:
        print(f"{Path(entry['path']).name}: pulse width {entry['pulse_width_s']:.0e} s, r2 = {entry['r2']:.4f}")
    print(f"overall r2 = {result.r2:.4f}; device parameters in {args.out}/device.json "
          "(use it in a study with [device] parameters_file)")
    return result


if __name__ == "__main__":
    main()
