"""The ``memcosim`` command line: the parser and the entry point. Only the CLI prints; errors become
one line, exit 2. The commands themselves are :mod:`memcosim.commands` (and :mod:`memcosim.dies_cli`)."""

import argparse
import logging
import sys

from memcosim import __version__
from memcosim.base.errors import MemcosimError, shown
from memcosim.commands import (cmd_calibrate, cmd_characterize, cmd_check, cmd_config_validate, cmd_netlist, cmd_report,
                               cmd_run, cmd_solve, cmd_train)

__all__ = ["main", "build_parser"]


def _positive_seconds(text):
    """argparse type: a finite number of seconds in (0, MAX_TIMEOUT_S]."""
    import argparse
    import math

    from memcosim.circuits.dc import MAX_TIMEOUT_S

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
        raise argparse.ArgumentTypeError(f"must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {text!r}")
    return value


def _finite_volts(text):
    """argparse type: a finite number of volts."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of volts") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number of volts, got {text!r}")
    return value


def _workers(text):
    """argparse type: a number of worker processes >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of worker processes") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line (``memcosim COMMAND: error: ...``), exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():
    """The argument parser (sub-commands are added by the issues that make them work)."""
    parser = _Parser(
        prog="memcosim",
        description="Circuit-level co-simulation for training neural networks on memory crossbars.",
    )
    parser.add_argument("--version", action="version", version=f"memcosim {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_circuit_commands(sub)
    _add_study_commands(sub)
    _add_calibrate(sub)
    from memcosim.dies_cli import add_parsers

    add_parsers(sub, _Parser)  # memcosim dies summarize | generate
    return parser


def _add_circuit_commands(sub):
    """``check``, ``config validate``, ``netlist``, ``solve`` and ``characterize``."""
    p = sub.add_parser("check", help="report whether Python packages and ngspice work")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("config", help="study files")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    v = config_sub.add_parser("validate", help="validate study TOML files")
    v.add_argument("files", nargs="+", metavar="STUDY.toml")
    v.set_defaults(func=cmd_config_validate)
    p = sub.add_parser("netlist", help="write a crossbar SPICE deck (read: .op, write: .tran pulse)")
    p.add_argument("mode", choices=["read", "write"])
    p.add_argument("study", nargs="?", metavar="STUDY.toml", help="study file (default: built-in defaults)")
    p.add_argument("-o", "--output", required=True, metavar="FILE.cir", help="output deck ('-' for stdout)")
    p.add_argument("--kind", choices=["hzo", "mtj"], help="device family")
    p.add_argument("--rows", type=int)
    p.add_argument("--cols", type=int)
    p.add_argument("--r-wire-ohm", type=float, dest="r_wire_ohm")
    p.add_argument("--r-driver-ohm", type=float, dest="r_driver_ohm")
    p.add_argument("--input-v", type=_finite_volts, dest="input_v", help="read: voltage on every row (default device.read_voltage_v)")
    p.add_argument("--row", type=int, default=0, help="write: selected row")
    p.add_argument("--col", type=int, default=0, help="write: selected column")
    p.add_argument("--amplitude-v", type=float, dest="amplitude_v", help="write: signed pulse amplitude")
    p.add_argument("--width-s", type=float, dest="width_s", help="write: pulse width")
    p.set_defaults(func=cmd_netlist)

    p = sub.add_parser("solve", help="solve a DC (.op) deck with the native solver or ngspice")
    p.add_argument("deck", metavar="FILE.cir")
    p.add_argument("--engine", choices=["native", "ngspice"], default="native")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout-s", type=_positive_seconds, default=600.0, dest="timeout_s",
                   help="wall-clock limit of an ngspice run, seconds (finite, > 0)")
    p.set_defaults(func=cmd_solve)

    p = sub.add_parser("characterize", help="ngspice sweeps -> fitted energy and IR-drop models (DIR/models.json)")
    p.add_argument("study", metavar="STUDY.toml")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--workers", type=_workers, default=None, help="worker processes (default: up to 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_characterize)


def _add_study_commands(sub):
    """``train``, ``run`` and ``report``."""
    p = sub.add_parser("train", help="train the study's MLP on crossbars, write DIR/results.json")
    p.add_argument("study", metavar="STUDY.toml")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--data-dir", dest="data_dir", help="MNIST IDX directory (overrides training.data_dir)")
    p.add_argument("--models", default="auto", metavar="auto|none|models.json",
                   help="circuit models: characterise (auto, cached in DIR/characterize), none (device-level energy), or a file")
    p.add_argument("--device", choices=["cpu", "cuda"], help="torch device (overrides training.device)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("run", help="run a whole study: characterise, train every sweep point, report")
    p.add_argument("study", nargs="?", metavar="STUDY.toml", help="study file (default: the built-in quick start)")
    p.add_argument("--out", metavar="DIR", help="output directory (default: output.dir or out/<study name>)")
    p.add_argument("--resume", action="store_true", help="keep finished runs, continue interrupted ones")
    p.add_argument("--workers", type=_workers, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask distributed scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--data-dir", dest="data_dir", help="MNIST IDX directory (overrides training.data_dir)")
    p.add_argument("--device", choices=["cpu", "cuda"], help="torch device (overrides training.device)")
    p.add_argument("--tensorboard", action="store_true",
                   help="write TensorBoard logs of every run into OUT/tb (needs tensorboard installed)")
    p.add_argument("--tensorboard-dir", dest="tensorboard_dir", metavar="TB_DIR",
                   help="write the TensorBoard logs here instead of OUT/tb (implies --tensorboard)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress (bars on a terminal, lines otherwise)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="rebuild results and report of a run directory from its finished runs")
    p.add_argument("dir", metavar="DIR", help="an output directory of memcosim run (finished or interrupted)")
    p.add_argument("--tensorboard", action="store_true", help="also rewrite the TensorBoard logs of the finished runs in DIR/tb")
    p.add_argument("--tensorboard-dir", dest="tensorboard_dir", metavar="TB_DIR", help="... in TB_DIR instead of DIR/tb")
    p.set_defaults(func=cmd_report)


def _r_series(text):
    """``--r-series-ohm``: ``fit`` or a number of ohms (range checked by the fit)."""
    if text == "fit":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be 'fit' or a number of ohms, got {text!r}") from None


def _add_calibrate(sub):
    """``calibrate``."""
    p = sub.add_parser("calibrate", help="fit a device model to measured data, write DIR/device.json")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="plain CSV or LBE247 sweeps (HZO; with --split also folders of them); R-V CSV (MTJ)")
    p.add_argument("--model", choices=["hzo", "hzo_kinetics", "mtj"], default="hzo",
                   help="hzo: NLS domain populations; hzo_kinetics: one field law over a distribution of switching "
                        "voltages (width dependence derived); mtj")
    p.add_argument("--populations", type=int, choices=[1, 2], default=2,
                   help="HZO domain populations of the model (default 2)")
    p.add_argument("--no-wake-up", action="store_true",
                   help="HZO: do not fit wake-up (by default fitted across two or more sweeps, in measurement order)")
    p.add_argument("--validate", nargs="+", default=[], metavar="HELDOUT",
                   help="HZO: predict these sweeps (not fitted) with the fitted model; r2 and rmse per file in "
                        "fit_report.json, a plot of each")
    p.add_argument("--split", choices=["interleaved", "extrapolate", "both"],
                   help="HZO: run a held-out protocol on every device of FILE... with 4 or more pulse widths "
                        "(interleaved: every other width fitted, both ways; extrapolate: three widths a decade apart "
                        "at the short end fitted, the rest predicted); prints the table, writes DIR/split_*.json")
    p.add_argument("--r-series-ohm", type=_r_series, default=0.0, metavar="OHM|fit",
                   help="hzo_kinetics: series resistance the pulses reach the film through (source, probe), or 'fit' "
                        "(one value per device); acts with --capacitance-f (default 0: ideal source)")
    p.add_argument("--capacitance-f", type=float, metavar="F",
                   help="hzo_kinetics: the device's linear capacitance, farads (needed with --r-series-ohm)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_calibrate)


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
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except OSError as exc:  # a file or directory the system refused: the user's to fix
        where = f"{shown(exc.filename)}: " if exc.filename else ""
        print(f"memcosim: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        from memcosim.base.memory import BUDGET_ENV

        print(f"memcosim: error: out of memory; make the study smaller or lower {BUDGET_ENV} so that it is "
              "refused before it starts", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - last resort: a bug, said as one
        if args.verbose:
            import traceback

            traceback.print_exc()
        print(f"memcosim: internal error (a bug in memcosim, please report it): {type(exc).__name__}: {shown(exc)}"
              f"{'' if args.verbose else '; run with -v for the traceback'}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
