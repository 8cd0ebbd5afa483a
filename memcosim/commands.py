"""The ``memcosim`` commands (wired in by :mod:`memcosim.cli`): each takes the parsed arguments,
prints what it did and returns the exit code; every error is a :class:`MemcosimError`."""

import contextlib
import os
import sys
from pathlib import Path

from memcosim import __version__
from memcosim.base.errors import ConfigError

__all__ = ["cmd_check", "cmd_config_validate", "cmd_calibrate", "cmd_netlist", "cmd_solve", "cmd_characterize",
           "cmd_train", "cmd_run", "cmd_report", "locked_out"]


def _out_dir(path, what="--out"):
    """Create the output directory ``path``; ConfigError naming it when it cannot be one."""
    out = Path(path)
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise ConfigError(f"{what}: {out} cannot be a directory: {parent} is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".memcosim-write-test-{os.getpid()}"  # per process: two commands racing on one --out
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what}: cannot write to {out} ({exc.strerror or exc})") from None
    return out


@contextlib.contextmanager
def locked_out(path, what="--out"):
    """The output directory, held by this process (a second memcosim on it is refused)."""
    from memcosim.base.lock import DirectoryLock

    out = _out_dir(path, what)
    with DirectoryLock(out, what):
        yield out


def cmd_check(args):
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


def cmd_config_validate(args):
    from memcosim.config import load_study, sweep_points

    for path in args.files:
        study = load_study(path)
        n_runs = len(sweep_points(study))
        print(
            f"ok {path}: study '{study.name}' seed {study.seed}, {study.device.kind} device, "
            f"{study.array.rows}x{study.array.cols} array, {n_runs} run(s)"
        )
    return 0


def cmd_calibrate(args):
    from memcosim.devices.calibrate import (calibrate_files, predict_held_out, read_held_out, write_calibration)

    if args.split:
        return _calibrate_split(args)
    if args.validate and args.model == "mtj":
        raise ConfigError(f"--validate: held-out files can only be predicted by an HZO fit, not --model {args.model}")
    held_out = read_held_out(args.validate, args.files, progress=not args.quiet)  # refused before the fit
    with locked_out(args.out) as out:
        # the held-out sweeps' pulses count on the device's wake-up timeline (their conductances are not fitted)
        result = calibrate_files(args.files, model=args.model, populations=args.populations,
                                 wake_up=False if args.no_wake_up else None, progress=not args.quiet, history=held_out,
                                 r_series_ohm=args.r_series_ohm, capacitance_f=args.capacitance_f)
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


def _calibrate_split(args):
    from memcosim.devices.calibrate import read_series, split_series, write_split

    if args.validate:
        raise ConfigError("--split: the protocol chooses the held-out files; leave out --validate")
    if args.model == "mtj":
        raise ConfigError(f"--split: the protocols predict HZO pulse widths, not --model {args.model}")
    sweeps = read_series(args.files, progress=not args.quiet)
    with locked_out(args.out) as out:
        for protocol in ("interleaved", "extrapolate") if args.split == "both" else (args.split,):
            rows, curves, skipped = split_series(sweeps, protocol, model=args.model, populations=args.populations,
                                                 wake_up=False if args.no_wake_up else None, progress=not args.quiet,
                                                 r_series_ohm=args.r_series_ohm, capacitance_f=args.capacitance_f)
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


def cmd_netlist(args):
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


def cmd_solve(args):
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


def cmd_characterize(args):
    import time

    from memcosim.build import characterize_setup
    from memcosim.circuits.characterize import characterize
    from memcosim.config import load_study

    study = load_study(args.study)
    t0 = time.perf_counter()
    with locked_out(args.out) as out:
        report = characterize(characterize_setup(study), out, workers=args.workers, progress=not args.quiet)
    w, r, ir = report.write_energy, report.read_energy, report.ir_drop
    engines = " + ".join(f"{sum(sizes.values())} {engine}" for engine, sizes in report.engines["write"].items())
    print(f"write energy: held-out max error {w['max_rel_error']:.2%} ({w['n_fit']} fit / {w['n_validate']} held-out pulses; "
          f"{engines})")
    for op in ("write", "row", "slot"):
        sizes = (report.operation(op) or {}).get("by_size", {})
        if sizes:
            print(f"  {op} held out by size: " + ", ".join(f"{n}: {e['max_rel_error']:.2%} ({e['engine']})" for n, e in sizes.items())
                  + (" (refitted at the study's size)" if report.operation(op)["refit_at_study_size"] else ""))
    print(f"read energy:  held-out max error {r['max_rel_error']:.2%}")
    print(f"IR-drop:      corrected error {ir['max_error_full_scale']:.3%} of full scale (uncorrected {ir['uncorrected_max_error_full_scale']:.2%})")
    if "study_size" in ir:
        at = ir["study_size"]
        print(f"  held out at the study's {at['rows']} x {at['cols']}: {at['max_error_full_scale']:.3%} "
              f"(uncorrected {at['uncorrected_max_error_full_scale']:.2%})")
    print(f"{'width (s)':>10} {'total (J)':>10} {'selected':>9} {'half-sel':>9} {'wires':>9} {'drivers':>9}")
    for row in w["by_width"]:
        parts = [row[k] / row["sources_j"] for k in ("selected_cell_j", "half_selected_j", "wires_j", "drivers_j")]
        print(f"{row['width_s']:>10.3g} {row['sources_j']:>10.3g} " + " ".join(f"{x:>9.1%}" for x in parts))
    ir_error = max(ir["max_error_full_scale"], ir.get("study_size", {}).get("max_error_full_scale", 0.0))
    for name, error in (("write energy", w["max_rel_error"]), ("read energy", r["max_rel_error"]), ("IR-drop", ir_error)):
        limit = 0.01 if name == "IR-drop" else 0.05
        if error > limit:
            print(f"warning: {name} model error {error:.1%} exceeds {limit:.0%}: its first-order form does not hold for this array")
    print(f"{report.points_simulated} pulses simulated, {report.points_cached} from cache, {time.perf_counter() - t0:.1f} s; "
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
    for e in results.epochs:
        print(f"{e['epoch']:>5} {e['train_loss']:>8.4f} {e['test_accuracy']:>9.2%} {e['pulses']:>10} "
              f"{e['write_energy_j']:>10.3g} {e['read_energy_j']:>10.3g}")
    print(f"{results.algorithm}: test accuracy {results.test_accuracy:.2%}, energy per update "
          f"{results.array_energy_per_update_j:.3g} J, {results.pulses_total} pulses, total write "
          f"{results.total_write_energy_j:.3g} J, read {results.total_read_energy_j:.3g} J")
    for warning in results.warnings:
        print(f"warning: {warning}")


def cmd_train(args):
    from memcosim.budget import check_training
    from memcosim.build import train_config
    from memcosim.config import load_study
    from memcosim.run import calibrated_study
    from memcosim.training.trainer import train

    study = load_study(args.study)
    check_training(study)
    with locked_out(args.out) as out:
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


def cmd_run(args):
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
        took = f"same as {record['same_as']}" if "same_as" in record else f"{record['wall_time_s']:.1f} s"
        say(f"[{done}/{total}] {values}: {head} ({took})")
        if display is None:  # the display printed each warning when the run met it
            for warning in res.warnings:
                say(f"[{done}/{total}] warning: {warning}")

    with locked_out(out, "--out" if args.out else "output.dir"):
        results = run_study(study, out, resume=args.resume, workers=args.workers, scheduler=args.scheduler,
                            progress=display or False, data_dir=args.data_dir, device=args.device, on_run=on_run,
                            tensorboard=tb)
    print()
    for line in format_table(study, results["runs"]):
        print(line)
    print(f"\n{len(results['runs'])} run(s) in {results['elapsed_s']:.1f} s; wrote {out}/results.json, results.csv, report.md and plots"
          + (f"; TensorBoard logs in {tb} (tensorboard --logdir {tb})" if tb else ""))
    return 0


def cmd_report(args):
    from memcosim.config import parse_study
    from memcosim.report import format_table
    from memcosim.run import rebuild_report

    out = Path(args.dir)
    if not out.is_dir():
        raise ConfigError(f"DIR: {out} is not a directory")
    if not (out / "study.json").is_file():
        raise ConfigError(f"DIR: {out} has no study.json: not an output directory of memcosim run")
    tb = _tensorboard_dir(args, out)
    with locked_out(out, "DIR"):
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
