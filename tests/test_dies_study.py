"""Die studies driven by die maps: written by the generator, or by hand; bad maps are one-line errors."""

import json

import numpy as np
import torch

from memcosim.build import dies_config
from memcosim.cli import main
from memcosim.config import load_study
from memcosim.devices import mtj
from memcosim.devices.mtj_maps import read_die_maps
from memcosim.training.binary_mtj import die_layers
from memcosim.training.dies import evaluation_maps, network_shapes, run_dies

STUDY = """name = "{name}"
seed = 4
[device]
kind = "mtj"
device_to_device_std = 0.05
short_rate = 0.03
open_rate = 0.01
stuck_p_rate = 0.01
stuck_ap_rate = 0.01
[array]
rows = 16
cols = 16
r_wire_ohm = 0.1
r_driver_ohm = 2.0
access_gate_v = 0.6
[training]
dataset = "digits"
hidden_sizes = [4]
epochs = 1
batch_size = 64
[dies]
count = 2
modes = {modes}
input_pool = 2
recalibration_inputs = 100
row_fail_rate = 0.05
{extra}
"""


def study_file(tmp_path, name, modes='["ideal", "statistics_aware"]', extra=""):
    path = tmp_path / f"{name}.toml"
    path.write_text(STUDY.format(name=name, modes=modes, extra=extra))
    return path


def test_a_die_study_runs_from_maps_the_generator_wrote(tmp_path, capsys):
    generated = study_file(tmp_path, "generated")
    assert main(["dies", "generate", str(generated), "--out", str(tmp_path / "dies.npz")]) == 0
    assert "wrote 2 dies of 16 x 28 cells" in capsys.readouterr().out
    from_maps = study_file(tmp_path, "from_maps", modes='["ideal", "hardware_aware", "statistics_aware"]',
                           extra=f'maps = "{tmp_path}/dies.*"\nfault_tolerant_mapping = true\nprogram_pairs = true\ndies_per_step = 2')
    cfg, own = dies_config(load_study(from_maps)), dies_config(load_study(generated))
    # the study reads the very dies the generator draws for it (the junction is the maps' measured median)
    shapes = network_shapes(cfg)
    for a, b in zip(evaluation_maps(cfg, shapes), evaluation_maps(own, shapes)):
        assert np.array_equal(a.r_p_ohm, b.r_p_ohm) and np.array_equal(a.state, b.state)
        for x, y in zip(die_layers(shapes, cfg.circuit, a), die_layers(shapes, own.circuit, b)):
            assert all(torch.equal(x[k], y[k]) for k in x)
    assert cfg.circuit.params.r_p_ohm != own.circuit.params.r_p_ohm  # measured, not the preset's 5 kOhm
    assert cfg.statistics.row_fail_rate > 0 and cfg.statistics.rates.short_rate > 0.01
    r = run_dies(cfg)
    assert set(r.modes) == {"ideal", "ideal_recalibrated", "ideal_mapped", "hardware_aware", "statistics_aware",
                               "statistics_aware_recalibrated", "statistics_aware_mapped"}
    assert all(len(m.die_errors) == 2 for m in r.modes.values())
    assert [d["die"] for d in r.dies] == [0, 1] and r.worst_die["mode"] == "statistics_aware_mapped"
    assert len(r.worst_die["defects"]) == sum(n for k, n in r.dies[r.worst_die["die"]]["defects"].items() if k != "ok")


def test_a_die_study_runs_from_a_hand_made_csv(tmp_path):
    lines = ["# two dies measured by hand: 16 rows x 28 columns, states only", "die,row,col,state"]
    for die in (3, 7):
        for row in range(16):
            for col in range(28):
                state = "short" if (row, col) in ((2, 5), (9, 1)) else "open" if die == 7 and row == 4 else "ok"
                lines.append(f"{die},{row},{col},{state}")
    (tmp_path / "hand.csv").write_text("\n".join(lines) + "\n")
    path = study_file(tmp_path, "hand", extra=f'maps = "{tmp_path}/hand.csv"')
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "-q"]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [run["ideal_error_mean"] for run in results["runs"]]  # every mode reported
    record = json.loads(next((tmp_path / "out" / "runs").glob("*/run.json")).read_text())
    res = record["results"]
    assert [d["die"] for d in res["dies"]] == [3, 7]
    assert [d["defects"]["short"] for d in res["dies"]] == [2, 2] and res["dies"][1]["defects"]["open"] == 28
    assert "../hand.csv" in record["inputs"]  # the map's hash, by its path from the output folder: a changed map reruns the study
    report = (tmp_path / "out" / "report.md").read_text()
    assert "maps `" in report and "## Energy per inference" in report
    assert list((tmp_path / "out").glob("worst_die_*.png"))


def test_bad_maps_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("die,row,col,r_p_ohm,r_ap_ohm\n0,0,0,5000,12000\n0,0,0,5000,12000\n")
    assert main(["dies", "summarize", str(tmp_path / "bad.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv:3: die 0 row 0 col 0 is listed twice (first on line 2)" in err
    small = tmp_path / "small.csv"
    small.write_text("die,row,col,state\n" + "".join(f"{d},{r},{c},ok\n" for d in (0, 1) for r in range(4) for c in range(4)))
    path = study_file(tmp_path, "too_small", extra=f'maps = "{small}"')
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "die 0 is 4 x 4 cells; the network needs 16 x 28" in err
    path = study_file(tmp_path, "none", extra=f'maps = "{tmp_path}/nothing*.csv"')
    assert main(["run", str(path), "--out", str(tmp_path / "out2"), "-q"]) == 2
    assert "dies.maps: no file matches" in capsys.readouterr().err


def test_summarize_prints_and_plots_every_die(tmp_path, capsys):
    assert main(["dies", "generate", str(study_file(tmp_path, "g")), "--out", str(tmp_path / "m.csv"), "--count", "3",
                 "--no-state"]) == 0
    assert all(m.state is None for m in read_die_maps([tmp_path / "m.csv"]))
    assert main(["dies", "summarize", str(tmp_path / "m.csv"), "--out", str(tmp_path / "sum")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("die  cells  short"))
    assert lines[head + 1].startswith("0    16x28") and "thresholds (die 0): short below" in out
    assert "all 3 dies, scattered defects: short" in out and "failed rows" in out
    summary = json.loads((tmp_path / "sum" / "summary.json").read_text())
    assert [d["die"] for d in summary["dies"]] == [0, 1, 2] and summary["statistics"]["rates"]["short_rate"] > 0
    assert {p.name for p in (tmp_path / "sum").glob("*.png")} == {"defects_per_die.png", "resistances.png", "die_maps.png"}
    # the classification reproduces the generator's defects: the counts match the maps with states
    assert main(["dies", "generate", str(study_file(tmp_path, "g")), "--out", str(tmp_path / "s.csv"), "--count", "3"]) == 0
    truth = read_die_maps([tmp_path / "s.csv"])
    assert [d["counts"]["short"] for d in summary["dies"]] == [int(np.sum(m.state == mtj.SHORT)) for m in truth]
