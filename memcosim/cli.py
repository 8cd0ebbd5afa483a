"""The ``memcosim`` command line. Only this module prints; errors become one line, exit 2."""

import argparse
import logging
import sys

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
