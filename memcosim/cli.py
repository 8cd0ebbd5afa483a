"""The ``memcosim`` command line. Only this module prints; errors become one line, exit 2."""

import argparse
import contextlib
import logging
import sys
from pathlib import Path

from memcosim import __version__
from memcosim.base.errors import ConfigError, MemcosimError, shown

__all__ = ["main"]


def _out_dir(path, what="--out"):
    """Create the output directory ``path``; ConfigError naming it when it cannot be one."""
    out = Path(path)
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{what}: {out} cannot be a directory: {parent} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".memcosim-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot write to {out} ({exc.strerror or exc})") from None
    return out


@contextlib.contextmanager
def _locked_out(path, what="--out"):
    """The output directory, held by this process (a second memcosim on it is refused)."""
    from memcosim.base.lock import DirectoryLock

    out = _out_dir(path, what)
    with DirectoryLock(out, what):
        yield out


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
    from memcosim.devices.calibrate import (calibrate_files, predict_held_out, read_held_out, write_calibration)

    if args.split:
        return _cmd_calibrate_split(args)
    if args.validate and args.model == "mtj":
        raise ConfigError(f"--validate: held-out files can only be predicted by an HZO fit, not --model {args.model}")
    held_out = read_held_out(args.validate, args.files, progress=not args.quiet)  # refused before the fit
    with _locked_out(args.out) as out:
        # the held-out sweeps' pulses count on the device's wake-up timeline (their conductances are not fitted)
        result = calibrate_files(args.files, model=args.model, populations=args.populations,
                                 wake_up=False if args.no_wake_up else None, progress=not args.quiet, history=held_out)
        validation, curves = predict_held_out(result, held_out) if held_out else (None, None)
        written = write_calibration(result, out, version=__version__, plots=not args.no_plots, validation=validation,
                                    validation_curves=curves)
    key = "rmse_ohm" if result.model == "mtj" else "rmse_s"

    def table(files):
        print(f"{'file':<52} {'width (s)':>10} {'points':>6} {'r2':>7} {key:>10}")
        for f in files:
            width = f"{f['pulse_width_s']:.3g}" if "pulse_width_s" in f else "-"
            print(f"{Path(f['path']).name:<52} {width:>10} {f['n_points']:>6} {f['r2']:>7.4f} {f[key]:>10.3g}")

    table(result.files)
    print(f"overall r2 = {result.r2:.4f}; wrote {written['device']}, {written['report']}, {len(written['plots'])} plot(s)")
    if validation:
        print("held out (not fitted):")
        table(validation)
    return 0


def _cmd_calibrate_split(args):
    from memcosim.devices.calibrate import read_series, split_series, write_split

    if args.validate:
        raise ConfigError("--split: the protocol chooses the held-out files; leave out --validate")
    if args.model == "mtj":
        raise ConfigError(f"--split: the protocols predict HZO pulse widths, not --model {args.model}")
    sweeps = read_series(args.files, progress=not args.quiet)
    with _locked_out(args.out) as out:
        for protocol in ("interleaved", "extrapolate") if args.split == "both" else (args.split,):
            rows, curves, skipped = split_series(sweeps, protocol, model=args.model, populations=args.populations,
                                                 wake_up=False if args.no_wake_up else None, progress=not args.quiet)
            written = write_split(rows, curves, out, plots=not args.no_plots)
            print(f"{protocol} ({args.model}): held-out r2 per file")
            print(f"{'device':<16} {'file':<46} {'width (s)':>9} {'fit':>5} {'decades':>7} {'points':>6} {'r2':>7} "
                  f"{'rmse_s':>9}")
            for r in rows:
                print(f"{r['device_id']:<16} {Path(r['path']).name:<46} {r['pulse_width_s']:>9.3g} {r['fold']:>5} "
                      f"{r['decades']:>+7.1f} {r['n_points']:>6} {r['r2']:>7.4f} {r['rmse_s']:>9.3g}")
            print(f"worst held-out r2 {min(r['r2'] for r in rows):.4f}; wrote {written['report']}, "
                  f"{len(written['plots'])} plot(s)")
            for device, widths in skipped.items():
                print(f"skipped {device}: {len(widths)} pulse width(s)")
    return 0


def _study_for_netlist(args):
    from memcosim.config import Study, load_study

    study = load_study(args.study) if args.study else Study()
    overrides = {k: getattr(args, k) for k in ("rows", "cols", "r_wire_ohm", "r_driver_ohm") if getattr(args, k) is not None}
    if args.kind:
        overrides["kind"] = args.kind
    if overrides:
        from memcosim.config import parse_study

        data = study.model_dump()
        for key, value in overrides.items():
            data["device" if key == "kind" else "array"][key] = value
        study = parse_study(data)
    return study


def _cmd_netlist(args):
    from memcosim.build import crossbar_from_study
    from memcosim.netlist import read_deck, write_deck

    from memcosim.budget import check_deck

    study = _study_for_netlist(args)
    check_deck(study.array.rows, study.array.cols, f"netlist {args.mode} deck")
    spec = crossbar_from_study(study)
    if args.mode == "read":
        volts = study.device.read_voltage_v if args.input_v is None else args.input_v
        text = read_deck(spec, [volts] * spec.rows)
    else:
        amplitude = study.device.pulse_amplitude_v if args.amplitude_v is None else args.amplitude_v
        from memcosim.build import pulse_width_s

        width = pulse_width_s(study) if args.width_s is None else args.width_s
        text = write_deck(spec, args.row, args.col, amplitude, width, scheme=study.circuit.write_scheme)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--output: cannot write {args.output} ({exc.strerror or exc})") from None
        print(f"wrote {args.output}: {args.mode} deck, {spec.rows}x{spec.cols} {spec.cell} crossbar, {text.count(chr(10))} lines")
    return 0


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


def _cmd_solve(args):
    import json

    from memcosim.base.errors import SimulationError
    from memcosim.base.files import read_text
    from memcosim.circuits.dc import solve_dc

    text = read_text(args.deck, "deck", error=SimulationError)
    result = solve_dc(text, engine=args.engine, timeout_s=args.timeout_s, deck_dir=Path(args.deck).parent,
                      source=args.deck).to_json()
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(f"{result['engine']}: {len(result['node_voltages'])} nodes, {len(result['source_currents'])} sources, "
              f"P = {result['total_source_power_w']:.6g} W, {result['solve_time_s']:.4g} s")
        for name, value in sorted(result["source_currents"].items()):
            print(f"  i({name}) = {value:.9g} A")
    return 0


def _cmd_characterize(args):
    import time

    from memcosim.build import characterize_setup
    from memcosim.circuits.characterize import characterize
    from memcosim.config import load_study

    study = load_study(args.study)
    t0 = time.perf_counter()
    with _locked_out(args.out) as out:
        report = characterize(characterize_setup(study), out, workers=args.workers, progress=not args.quiet)
    w, r, ir = report["write_energy"], report["read_energy"], report["ir_drop"]
    engines = " + ".join(f"{sum(sizes.values())} {engine}" for engine, sizes in report["engines"]["write"].items())
    print(f"write energy: held-out max error {w['max_rel_error']:.2%} ({w['n_fit']} fit / {w['n_validate']} held-out pulses; "
          f"{engines})")
    for op in ("write", "row", "slot"):
        sizes = report.get(f"{op}_energy", {}).get("by_size", {})
        if sizes:
            print(f"  {op} held out by size: " + ", ".join(f"{n}: {e['max_rel_error']:.2%} ({e['engine']})" for n, e in sizes.items())
                  + (" (refitted at the study's size)" if report[f"{op}_energy"]["refit_at_study_size"] else ""))
    print(f"read energy:  held-out max error {r['max_rel_error']:.2%}")
    print(f"IR-drop:      corrected error {ir['max_error_full_scale']:.3%} of full scale (uncorrected {ir['uncorrected_max_error_full_scale']:.2%})")
    print(f"{'width (s)':>10} {'total (J)':>10} {'selected':>9} {'half-sel':>9} {'wires':>9} {'drivers':>9}")
    for row in w["by_width"]:
        parts = [row[k] / row["sources_j"] for k in ("selected_cell_j", "half_selected_j", "wires_j", "drivers_j")]
        print(f"{row['width_s']:>10.3g} {row['sources_j']:>10.3g} " + " ".join(f"{x:>9.1%}" for x in parts))
    for name, error in (("write energy", w["max_rel_error"]), ("read energy", r["max_rel_error"]), ("IR-drop", ir["max_error_full_scale"])):
        limit = 0.01 if name == "IR-drop" else 0.05
        if error > limit:
            print(f"warning: {name} model error {error:.1%} exceeds {limit:.0%}: its first-order form does not hold for this array")
    print(f"{report['points_simulated']} pulses simulated, {report['points_cached']} from cache, {time.perf_counter() - t0:.1f} s; "
          f"wrote {args.out}/models.json, characterize_report.json, PNGs")
    return 0


def _load_models(study, models_arg, out, quiet):
    """``models.json`` for training: a path, ``none``, or ``auto`` (characterise, cached in OUT/characterize)."""
    from memcosim.base.errors import ConfigError
    from memcosim.circuits.models import CircuitModels

    if models_arg == "none":
        return None
    if models_arg != "auto":
        try:
            return CircuitModels.load(models_arg)
        except ConfigError as exc:
            raise ConfigError(f"--models: {exc}") from None
    from memcosim.api import characterize
    from memcosim.build import uses_circuit_models

    if not uses_circuit_models(study):
        return None
    return characterize(study, Path(out) / "characterize", progress=not quiet)  # the library's call: same models


def _print_training(results):
    print(f"{'epoch':>5} {'loss':>8} {'test acc':>9} {'pulses':>10} {'write (J)':>10} {'read (J)':>10}")
    for e in results["epochs"]:
        print(f"{e['epoch']:>5} {e['train_loss']:>8.4f} {e['test_accuracy']:>9.2%} {e['pulses']:>10} "
              f"{e['write_energy_j']:>10.3g} {e['read_energy_j']:>10.3g}")
    print(f"{results['algorithm']}: test accuracy {results['test_accuracy']:.2%}, energy per update "
          f"{results['energy_per_update_j']:.3g} J, {results['pulses_total']} pulses, total write "
          f"{results['total_write_energy_j']:.3g} J, read {results['total_read_energy_j']:.3g} J")
    for warning in results.get("warnings", []):
        print(f"warning: {warning}")


def _cmd_train(args):
    from memcosim.budget import check_training
    from memcosim.build import train_config
    from memcosim.config import load_study
    from memcosim.run import calibrated_study
    from memcosim.training.trainer import train

    study = load_study(args.study)
    check_training(study)
    with _locked_out(args.out) as out:
        study = calibrated_study(study, out)  # device.calibrate_from, exactly as memcosim run does
        models = _load_models(study, args.models, out, args.quiet)
        config = train_config(study, models, data_dir=args.data_dir, device=args.device)
        results = train(config, out, resume=args.resume, progress=not args.quiet, plots=study.output.plots)
    _print_training(results)
    print(f"wrote {args.out}/results.json")
    return 0


def _display(quiet):
    """The progress display of ``memcosim run``: bars on a terminal, plain lines on stdout otherwise."""
    if quiet:
        return None
    from memcosim.progress import Progress

    bars = sys.stdout.isatty() and sys.stderr.isatty()
    return Progress(bars=bars, file=sys.stderr if bars else sys.stdout)


def _tensorboard_dir(args, out):
    """Where TensorBoard logs go: ``--tensorboard-dir``, else ``OUT/tb`` with ``--tensorboard``; else None."""
    if not (args.tensorboard or args.tensorboard_dir):
        return None
    from memcosim.tblog import require_tensorboard

    require_tensorboard("--tensorboard-dir" if args.tensorboard_dir else "--tensorboard")  # before any work
    return Path(args.tensorboard_dir) if args.tensorboard_dir else Path(out) / "tb"


def _cmd_run(args):
    from memcosim.config import load_study, study_output_dir
    from memcosim.kinds import kind_of
    from memcosim.report import format_table
    from memcosim.run import quickstart_path, run_study

    path = args.study or quickstart_path()
    study = load_study(path)
    out = Path(args.out) if args.out else study_output_dir(study)
    tb = _tensorboard_dir(args, out)
    if not args.study:
        print(f"memcosim run: no study file given, running the built-in quick start ({path})")
    display = _display(args.quiet)
    say = display.write if display is not None else lambda line: print(line, flush=True)

    def on_run(record, done, total):
        res = record["results"]
        values = ", ".join(f"{k}={v}" for k, v in record["values"].items()) or record["run_id"]
        head = kind_of(record).headline(res)
        say(f"[{done}/{total}] {values}: {head} ({record['wall_time_s']:.1f} s)")
        if display is None:  # the display printed each warning when the run met it
            for warning in res.get("warnings", []):
                say(f"[{done}/{total}] warning: {warning}")

    with _locked_out(out, "--out" if args.out else "output.dir"):
        results = run_study(study, out, resume=args.resume, workers=args.workers, scheduler=args.scheduler,
                            progress=display or False, data_dir=args.data_dir, device=args.device, on_run=on_run,
                            tensorboard=tb)
    print()
    for line in format_table(study, results["runs"]):
        print(line)
    print(f"\n{len(results['runs'])} run(s) in {results['elapsed_s']:.1f} s; wrote {out}/results.json, results.csv, report.md and plots"
          + (f"; TensorBoard logs in {tb} (tensorboard --logdir {tb})" if tb else ""))
    return 0


def _cmd_report(args):
    from memcosim.config import parse_study
    from memcosim.report import format_table
    from memcosim.run import rebuild_report

    out = Path(args.dir)
    if not out.is_dir():
        raise ConfigError(f"DIR: {out} is not a directory")
    if not (out / "study.json").is_file():
        raise ConfigError(f"DIR: {out} has no study.json: not an output directory of memcosim run")
    tb = _tensorboard_dir(args, out)
    with _locked_out(out, "DIR"):
        results = rebuild_report(out, tensorboard=tb)
    from memcosim.base.files import read_json

    study = parse_study(read_json(out / "study.json", "study record (study.json)"))
    for line in format_table(study, results["runs"]):
        print(line)
    state = (f"partial: {len(results['runs'])} of {results['runs_total']} run(s) finished" if results["partial"]
             else f"complete: {len(results['runs'])} run(s)")
    print(f"\n{state}; wrote {out}/results.json, results.csv, report.md and plots"
          + (f"; TensorBoard logs in {tb}" if tb else ""))
    return 0


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

    p = sub.add_parser("check", help="report whether Python packages and ngspice work")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("config", help="study files")
    config_sub = p.add_subparsers(dest="config_command", metavar="ACTION", parser_class=_Parser)
    v = config_sub.add_parser("validate", help="validate study TOML files")
    v.add_argument("files", nargs="+", metavar="STUDY.toml")
    v.set_defaults(func=_cmd_config_validate)
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
    p.set_defaults(func=_cmd_netlist)

    p = sub.add_parser("solve", help="solve a DC (.op) deck with the native solver or ngspice")
    p.add_argument("deck", metavar="FILE.cir")
    p.add_argument("--engine", choices=["native", "ngspice"], default="native")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--timeout-s", type=_positive_seconds, default=600.0, dest="timeout_s",
                   help="wall-clock limit of an ngspice run, seconds (finite, > 0)")
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("characterize", help="ngspice sweeps -> fitted energy and IR-drop models (DIR/models.json)")
    p.add_argument("study", metavar="STUDY.toml")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--workers", type=_workers, default=None, help="worker processes (default: up to 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_characterize)

    p = sub.add_parser("train", help="train the study's MLP on crossbars, write DIR/results.json")
    p.add_argument("study", metavar="STUDY.toml")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    p.add_argument("--data-dir", dest="data_dir", help="MNIST IDX directory (overrides training.data_dir)")
    p.add_argument("--models", default="auto", metavar="auto|none|models.json",
                   help="circuit models: characterise (auto, cached in DIR/characterize), none (device-level energy), or a file")
    p.add_argument("--device", choices=["cpu", "cuda"], help="torch device (overrides training.device)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

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
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("report", help="rebuild results and report of a run directory from its finished runs")
    p.add_argument("dir", metavar="DIR", help="an output directory of memcosim run (finished or interrupted)")
    p.add_argument("--tensorboard", action="store_true", help="also rewrite the TensorBoard logs of the finished runs in DIR/tb")
    p.add_argument("--tensorboard-dir", dest="tensorboard_dir", metavar="TB_DIR", help="... in TB_DIR instead of DIR/tb")
    p.set_defaults(func=_cmd_report)

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
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_calibrate)

    from memcosim.dies_cli import add_parsers

    add_parsers(sub, _Parser)  # memcosim dies summarize | generate
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
