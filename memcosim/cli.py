"""The ``memcosim`` command line. Only this module prints; errors become one line, exit 2."""

import argparse
import logging
import sys
from pathlib import Path

from memcosim import __version__
from memcosim.errors import MemcosimError

__all__ = ["main"]


def _cmd_check(args):
    from memcosim.check import environment_report

    items = environment_report()
    width = max(len(i.name) for i in items)
    for item in items:
        mark = "ok  " if item.ok else "FAIL"
        print(f"{mark} {item.name:<{width}}  {item.detail}")
    bad = [i.name for i in items if not i.ok]
    if bad:
        print(f"memcosim check: {len(bad)} problem(s): {', '.join(bad)}")
        return 1
    print("memcosim check: environment ready")
    return 0


def _cmd_config_validate(args):
    from memcosim.config import load_study, sweep_points

    for path in args.files:
        study = load_study(path)
        n_runs = len(sweep_points(study))
        print(
            f"ok {path}: study '{study.name}' seed {study.seed}, {study.device.kind} device, "
            f"{study.array.rows}x{study.array.cols} array, {n_runs} run(s)"
        )
    return 0


def _cmd_calibrate(args):
    from memcosim.devices.calibrate import calibrate_files, write_calibration

    result = calibrate_files(args.files, model=args.model)
    written = write_calibration(result, args.out, version=__version__, plots=not args.no_plots)
    key = "rmse_s" if result.model == "hzo" else "rmse_ohm"
    print(f"{'file':<52} {'width (s)':>10} {'points':>6} {'r2':>7} {key:>10}")
    for f in result.files:
        width = f"{f['pulse_width_s']:.3g}" if "pulse_width_s" in f else "-"
        print(f"{Path(f['path']).name:<52} {width:>10} {f['n_points']:>6} {f['r2']:>7.4f} {f[key]:>10.3g}")
    print(f"overall r2 = {result.r2:.4f}; wrote {written['device']}, {written['report']}, {len(written['plots'])} plot(s)")
    return 0


def build_parser():
    """The argument parser (sub-commands are added by the issues that make them work)."""
    parser = argparse.ArgumentParser(
        prog="memcosim",
        description="Circuit-level co-simulation for training neural networks on memory crossbars.",
    )
    parser.add_argument("--version", action="version", version=f"memcosim {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("check", help="report whether Python packages and ngspice work")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("config", help="study files")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION")
    v = config_sub.add_parser("validate", help="validate study TOML files")
    v.add_argument("files", nargs="+", metavar="STUDY.toml")
    v.set_defaults(func=_cmd_config_validate)
    p = sub.add_parser("calibrate", help="fit a device model to measured data, write DIR/device.json")
    p.add_argument("files", nargs="+", metavar="FILE", help="plain CSV or LBE247 sweeps (HZO); R-V CSV (MTJ)")
    p.add_argument("--model", choices=["hzo", "mtj"], default="hzo")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=_cmd_calibrate)
    return parser


def main(argv=None):
    """Entry point of the ``memcosim`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except MemcosimError as exc:
        print(f"memcosim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memcosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
