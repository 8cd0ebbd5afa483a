"""Energy, latency and area of a tile against its size, from a finished array-size study.

Run: .venv/bin/python examples/plot_array_size.py OUT [--png FILE]

``OUT`` is the output folder of ``memcosim run examples/hzo_array_size.toml --out OUT``; the
figure (default ``OUT/array_size.png``) has four panels against the tile's side: energy per
update and per inference (array alone and whole tile), latency per update and per inference,
area per tile and of the whole network, and test accuracy; one line per update rule. Prints
the table the figure is drawn from.
"""

import argparse
import json
from pathlib import Path


def rows_of(results):
    """``{algorithm: [row, ...]}`` sorted by tile side, from a study's ``results.json``."""
    out = {}
    for run in results["runs"]:
        side = run["array"]["rows"] if isinstance(run.get("array"), dict) else run["array.rows"]
        out.setdefault(run.get("training.algorithm", "run"), []).append({**run, "side": side})
    return {k: sorted(v, key=lambda r: r["side"]) for k, v in out.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--png", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out)
    by_rule = rows_of(json.loads((out / "results.json").read_text()))
    print("| rule | tile | accuracy | J/update array | J/update tile | J/inference array | J/inference tile | "
          "s/update | s/inference | mm^2/tile | tiles | mm^2 network |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rule, rows in by_rule.items():
        for r in rows:
            print(f"| {rule} | {r['side']} | {100 * r['test_accuracy']:.2f} % | {r['array_energy_per_update_j']:.3g} | "
                  f"{r['tile_energy_per_update_j']:.3g} | {r['inference_array_j']:.3g} | "
                  f"{r['tile_energy_per_inference_j']:.3g} | {r['tile_latency_per_update_s']:.3g} | "
                  f"{r['tile_latency_per_inference_s']:.3g} | {r['tile_area_m2'] * 1e6:.4g} | {r['tiles']} | "
                  f"{r['network_area_m2'] * 1e6:.4g} |")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    panels = [
        (axes[0, 0], "energy per update (J)", [("array_energy_per_update_j", "array", ":"), ("tile_energy_per_update_j", "tile", "-")]),
        (axes[0, 1], "energy per inference (J)", [("inference_array_j", "array", ":"),
                                                  ("tile_energy_per_inference_j", "tile", "-")]),
        (axes[1, 0], "latency (s)", [("tile_latency_per_update_s", "per update", "-"),
                                     ("tile_latency_per_inference_s", "per inference", "--")]),
        (axes[1, 1], "area (mm^2)", [("tile_area_m2", "per tile", "-"), ("network_area_m2", "network", "--")]),
    ]
    for ax, ylabel, series in panels:
        for rule, rows in by_rule.items():
            sides = [r["side"] for r in rows]
            for key, what, style in series:
                scale = 1e6 if key.endswith("_m2") else 1.0
                ax.loglog(sides, [r[key] * scale for r in rows], style, marker="o", label=f"{rule}, {what}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("tile side (cells)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    fig.suptitle("HZO tiles from 32 x 32 to 512 x 512: MNIST MLP " + ", ".join(
        f"{rule} {min(100 * r['test_accuracy'] for r in rows):.1f}-{max(100 * r['test_accuracy'] for r in rows):.1f} %"
        for rule, rows in by_rule.items()), fontsize=9)
    fig.tight_layout()
    path = Path(args.png) if args.png else out / "array_size.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
