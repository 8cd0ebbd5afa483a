"""``memcosim dies``: summarize die maps, and write the dies a study generates as a die map.

Like :mod:`memcosim.cli` (which wires these sub-commands in), this module prints; every error is
a :class:`~memcosim.base.errors.MemcosimError` that the CLI turns into one line.
"""

from pathlib import Path

from memcosim.base.errors import ConfigError

__all__ = ["add_parsers"]


def _cmd_summarize(args):
    from memcosim.base.atomic import write_json_atomic
    from memcosim.build_dies import expand_patterns
    from memcosim.devices import load_device_params
    from memcosim.devices.mtj_defects import DefectThresholds, classify, estimate_statistics, summarize
    from memcosim.devices.mtj_maps import read_die_maps
    from memcosim.report_dies import summary_lines, summary_plots

    limits = DefectThresholds(args.short_below_ohm, args.open_above_ohm, args.stuck_tmr_below)
    maps = read_die_maps(expand_patterns(args.maps, "MAPS"))
    summaries = [summarize(m, limits) for m in maps]
    junction, stats = estimate_statistics(maps, load_device_params("mtj"), args.read_voltage_v, limits)
    for line in summary_lines(summaries, stats, junction):
        print(line)
    if args.out:
        from memcosim.commands import locked_out

        with locked_out(args.out) as out:
            write_json_atomic(out / "summary.json", {"dies": [s.to_json() for s in summaries],
                                                     "statistics": stats.to_json(), "junction": junction.to_dict(),
                                                     "read_voltage_v": args.read_voltage_v})
            names = summary_plots(summaries, maps, [classify(m, limits) for m in maps], Path(out))
            print(f"wrote {out / 'summary.json'} and {', '.join(names)}")
    return 0


def _cmd_generate(args):
    from memcosim.build import dies_config
    from memcosim.config import load_study
    from memcosim.devices.mtj_maps import write_die_maps
    from memcosim.training.dies import evaluation_maps

    study = load_study(args.study)
    if args.count is not None and args.count < 1:
        raise ConfigError(f"--count: must be a number of dies >= 1, got {args.count!r}")
    if args.count is not None:
        study = study.model_copy(update={"dies": study.dies.model_copy(update={"count": args.count})})
    if study.dies.maps is not None:
        raise ConfigError(f"{args.study}: dies.maps is set: its dies are measured, not generated")
    suffix = Path(args.out).suffix.lower()
    if suffix not in (".csv", ".npz"):
        raise ConfigError(f"--out: a die map file ends .csv or .npz, got {args.out!r}")
    cfg = dies_config(study, data_dir=args.data_dir)
    maps = evaluation_maps(cfg)
    write_die_maps(maps, args.out, states=not args.no_state)
    rows, cols = maps[0].shape
    print(f"wrote {len(maps)} dies of {rows} x {cols} cells to {args.out}")
    return 0


def add_parsers(sub, parser_class):
    """Add ``memcosim dies summarize`` and ``memcosim dies generate`` to the sub-parsers ``sub``."""
    p = sub.add_parser("dies", help="MTJ die maps: summarize measured maps, write a study's generated dies")
    dies_sub = p.add_subparsers(dest="dies_command", metavar="ACTION", parser_class=parser_class)
    s = dies_sub.add_parser("summarize", help="per-die defect counts, R_P and TMR, failed lines and clusters of die maps")
    s.add_argument("maps", nargs="+", metavar="MAPS", help="die map files (CSV or .npz) or glob patterns")
    s.add_argument("--out", metavar="DIR", help="also write DIR/summary.json and plots")
    s.add_argument("--read-voltage-v", type=float, default=0.1, dest="read_voltage_v",
                   help="the voltage the maps were read at (default 0.1 V)")
    s.add_argument("--short-below-ohm", type=float, dest="short_below_ohm", help="R_P below this: shorted (default: per die)")
    s.add_argument("--open-above-ohm", type=float, dest="open_above_ohm", help="R_P above this: open (default: per die)")
    s.add_argument("--stuck-tmr-below", type=float, dest="stuck_tmr_below",
                   help="TMR at the read voltage below this: stuck (default: half the die's median)")
    s.set_defaults(func=_cmd_summarize)
    g = dies_sub.add_parser("generate", help="write the dies a study generates (its seed, rates, structure) as a die map")
    g.add_argument("study", metavar="STUDY.toml")
    g.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.npz")
    g.add_argument("--count", type=int, help="number of dies (default: the study's dies.count)")
    g.add_argument("--no-state", action="store_true", help="write resistances only, as a measurement would")
    g.add_argument("--data-dir", dest="data_dir", help="dataset directory (overrides training.data_dir: the network's size)")
    g.set_defaults(func=_cmd_generate)
