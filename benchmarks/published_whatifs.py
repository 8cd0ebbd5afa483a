"""From the published protocol to memcosim's physical defaults, one setting at a time.

Starts from ``examples/hzo_published_protocol.toml`` on one measured file and changes exactly one
setting per study (each a study of its own under ``OUT/<change>``, resumable), for the algorithms
the setting concerns, then prints one table per algorithm: the published protocol's accuracy and
what each change does to it (docs/hzo-published.md holds the measured tables).

    .venv/bin/python benchmarks/published_whatifs.py --file ID161ZR15000_1_20241024111132_w2e-07.csv \
        --epochs 12 --workers 2 --out out/whatifs
"""
import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALGORITHMS = ("sgd", "symmetry_shift", "mixed_precision")

CHANGES = {
    # name: (what it does, {field: value}, algorithms it concerns)
    "published": ("the published protocol", {}, ALGORITHMS),
    "own_symmetry_point": ("global SP -> each device's own (found by pulsing)", {"training.symmetry_point": "own"},
                           ("symmetry_shift",)),
    "measured_noise": ("no noise -> the measured scatter", {"device.write_noise": "measured"}, ALGORITHMS),
    "spread_5pc": ("no spread -> 5 % device-to-device", {"device.device_to_device_std": 0.05}, ALGORITHMS),
    "tables": ("smooth published law -> memcosim's step tables",
               {"device.measured_law": "tables", "training.mp_granularity": "device"}, ALGORITHMS),
    "scaled_window_centre": ("unscaled, mean-centred weights -> omega 0.6 around the window centre",
                             {"training.weight_scaling_omega": 0.6, "training.weight_reference": "window_centre"},
                             ALGORITHMS),
    "lr_0.5": ("published learning rates -> 0.5", {"training.learning_rates": {}}, ("sgd", "symmetry_shift")),
    "no_bl_management": ("aihwkit's bit-length management -> fixed BL 31", {"training.bl_management": False},
                         ("sgd", "symmetry_shift")),
    "device_granularity": ("published MP granularity -> one device step", {"training.mp_granularity": "device"},
                           ("mixed_precision",)),
    "ideal_reads": ("aihwkit's default converters -> ideal reads", {"training.io": "ideal"}, ALGORITHMS),
    "differential": ("one device against a reference -> a differential pair", {"training.weight_mapping": "differential"},
                     ("sgd", "mixed_precision")),
}


def study_for(change, file, epochs, out):
    import tomllib

    from memcosim.config import parse_study

    data = tomllib.loads((ROOT / "examples" / "hzo_published_protocol.toml").read_text())
    data["name"] = f"published_{change}"
    data["device"]["measured_from"] = [str(ROOT.parent / "shared" / "data" / "hzo-lbe247" / file)]
    data["training"]["epochs"] = epochs
    data["output"] = {"dir": str(out / change), "plots": False}
    for path, value in CHANGES[change][1].items():
        section, key = path.split(".")
        data[section][key] = value
    data["sweep"] = {"training.algorithm": list(CHANGES[change][2])}
    return parse_study(data)


def main(argv=None):
    from memcosim.run import run_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="ID161ZR15000_1_20241024111132_w2e-07.csv")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--changes", nargs="*", default=list(CHANGES))
    parser.add_argument("--out", default="out/whatifs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    table = {}
    for change in args.changes:
        results = run_study(study_for(change, args.file, args.epochs, out), out / change, resume=True,
                            workers=args.workers, progress=False)
        for run in results["runs"]:
            table[(change, run["algorithm"])] = run
    (out / "whatifs.json").write_text(json.dumps({f"{c}/{a}": {k: r.get(k) for k in (
        "test_accuracy", "validation_accuracy", "epochs_to_target", "energy_per_update_j", "total_energy_j")}
        for (c, a), r in table.items()}, indent=1))
    for alg in ALGORITHMS:
        base = table.get(("published", alg))
        print(f"\n{alg} ({args.file}, {args.epochs} epochs)")
        print(f"{'change':<24} {'test %':>7} {'delta':>7} {'val 95 % at':>12}  what")
        for change in args.changes:
            run = table.get((change, alg))
            if run is None:
                continue
            acc = 100 * run["test_accuracy"]
            delta = "" if base is None or change == "published" else f"{acc - 100 * base['test_accuracy']:+.1f}"
            print(f"{change:<24} {acc:7.2f} {delta:>7} {str(run['epochs_to_target']):>12}  {CHANGES[change][0]}")
    return table


if __name__ == "__main__":
    main()
