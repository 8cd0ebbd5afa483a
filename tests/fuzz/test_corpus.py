"""The fuzz corpus (tests/fuzz/corpus): decks, measured-data CSVs and study files, each either
refused cleanly or answered correctly; IDX files, corrupted output folders and bad arguments
made here.

A corpus file named ``ok-*`` must succeed with the independent answer (decks: exact nodal
analysis, tests/fuzz/mna.py; the MTJ sweep: the device that made it); ``bad-*`` must exit 2 with
one line. Add a file to add a case.
"""

import gzip
import json
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from memcosim.base.memory import BUDGET_ENV
from tests.fuzz import mna
from tests.fuzz.conftest import refused, solved

CORPUS = Path(__file__).parent / "corpus"


def _cases(kind):
    return sorted(CORPUS.joinpath(kind).iterdir(), key=lambda p: p.name)


def _check_solution(out, deck_text):
    """The JSON of ``memcosim solve --json`` against the independent dense MNA answer."""
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    volts, currents, power = mna.solve(mna.parse(deck_text))
    assert set(result["node_voltages"]) == set(volts) and set(result["source_currents"]) == set(currents)
    for name, value in volts.items():
        assert result["node_voltages"][name] == pytest.approx(value, rel=1e-9, abs=1e-12)
    for name, value in currents.items():
        assert result["source_currents"][name] == pytest.approx(value, rel=1e-9, abs=1e-15)
    assert result["total_source_power_w"] == pytest.approx(power, rel=1e-9, abs=1e-15)
    solved()


@pytest.mark.parametrize("deck", _cases("decks"), ids=lambda p: p.name)
def test_deck_native(cli, deck, tmp_path):
    code, out, err = cli("solve", deck, "--engine", "native", "--json")
    if deck.name.startswith("ok-"):
        assert code == 0, err
        _check_solution(out, deck.read_text())
    else:
        refused(code, out, err)
    assert not Path("PWNED").exists()


@pytest.mark.ngspice
@pytest.mark.parametrize("name", ["ok-divider.cir", "ok-named-nodes.cir", "bad-control-shell.cir", "bad-ng-script.cir",
                                  "bad-shell-card.cir", "bad-include-outside.cir", "bad-tran.cir", "bad-r-zero.cir"])
def test_deck_ngspice(cli, name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave PWNED here
    deck = CORPUS / "decks" / name
    code, out, err = cli("solve", deck, "--engine", "ngspice", "--json", "--timeout-s", "60")
    if name.startswith("ok-"):
        assert code == 0, err
        _check_solution(out, deck.read_text())
    else:
        refused(code, out, err)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("csv", [p for p in _cases("csv") if p.name.startswith("bad-")], ids=lambda p: p.name)
def test_measured_data_refused(cli, csv, tmp_path):
    model = "mtj" if "-mtj-" in csv.name else "hzo"
    code, out, err = cli("calibrate", csv, "--model", model, "--out", tmp_path / "cal", "--no-plots", "-q")
    refused(code, out, err, csv)
    assert not (tmp_path / "cal" / "device.json").exists()


def test_mtj_fit_gives_back_the_device_that_made_the_data(cli, tmp_path):
    code, out, err = cli("calibrate", CORPUS / "csv" / "ok-mtj-known-device.csv", "--model", "mtj", "--out", tmp_path,
                         "--no-plots", "-q")
    assert code == 0, err
    params = json.loads((tmp_path / "device.json").read_text())["params"]
    assert (params["r_p_ohm"], params["tmr0"], params["v_half_v"]) == pytest.approx((4000.0, 1.2, 0.4), rel=1e-4)
    solved()


@pytest.mark.parametrize("study", _cases("studies"), ids=lambda p: p.name)
def test_study_files(cli, study):
    code, out, err = cli("config", "validate", study)
    if study.name.startswith("ok-"):
        assert code == 0 and out.startswith(f"ok {study}"), err
        solved()
    else:
        refused(code, out, err, study)


# --- MNIST IDX files -----------------------------------------------------------------------


def _idx(dims, data=None, magic=0x08):
    body = bytes(data) if data is not None else bytes(int(np.prod(dims)) if dims else 1)
    return bytes([0, 0, magic, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body


GOOD = {"train-images-idx3-ubyte": _idx((3, 2, 2), range(12)), "train-labels-idx1-ubyte": _idx((3,), [0, 9, 4]),
        "t10k-images-idx3-ubyte": _idx((2, 2, 2), range(8)), "t10k-labels-idx1-ubyte": _idx((2,), [1, 2])}

IDX_CASES = {
    "labels-mismatch": ("train-labels-idx1-ubyte", _idx((2,), [0, 1]), "2 labels for the 3 images"),
    "label-10": ("train-labels-idx1-ubyte", _idx((3,), [0, 10, 1]), "label 10 found"),
    "zero-images": ("train-images-idx3-ubyte", _idx((0, 2, 2)), "holds no images"),
    "images-1d": ("train-images-idx3-ubyte", _idx((12,), range(12)), "expected 3"),
    "labels-2d": ("t10k-labels-idx1-ubyte", _idx((2, 1), [1, 2]), "expected 1"),
    "bad-magic": ("t10k-images-idx3-ubyte", b"\x00\x00\x0d\x03" + bytes(20), "bad magic number"),
    "short-header": ("t10k-images-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00", "header cut short"),
    "short-data": ("t10k-images-idx3-ubyte", _idx((2, 2, 2))[:-3], "file has 5"),
    "long-data": ("t10k-images-idx3-ubyte", _idx((2, 2, 2)) + b"\x00", "file has more"),
    "huge-header": ("train-images-idx3-ubyte", _idx((100000, 1000, 1000), []), "more than the"),
    "other-image-size": ("t10k-images-idx3-ubyte", _idx((2, 3, 3), range(18)), "the training images have"),
    "empty-file": ("train-labels-idx1-ubyte", b"", "bad magic number"),
    "bad-gzip": ("train-labels-idx1-ubyte.gz", b"\x1f\x8bnot gzip", "cannot read IDX file"),
}


def _mnist_dir(tmp_path, replace=None):
    d = tmp_path / "mnist"
    d.mkdir()
    for name, data in GOOD.items():
        (d / name).write_bytes(data)
    if replace:
        name, data = replace
        (d / name).write_bytes(data)
    return d


@pytest.mark.parametrize("case", sorted(IDX_CASES))
def test_idx_files(tmp_path, case):
    from memcosim.base.errors import ConfigError
    from memcosim.training.data import load_mnist

    name, data, match = IDX_CASES[case]
    d = _mnist_dir(tmp_path, (name, data))
    with pytest.raises(ConfigError, match=match) as info:
        load_mnist(d)
    assert str(d / name) in str(info.value) and "\n" not in str(info.value)
    refused(2, "", f"memcosim: error: {info.value}\n", d / name)


def test_idx_good_and_gzipped(tmp_path):
    from memcosim.training.data import load_mnist

    d = _mnist_dir(tmp_path)
    (d / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(GOOD["train-images-idx3-ubyte"]))
    (d / "train-images-idx3-ubyte").unlink()
    data = load_mnist(d)
    assert data.train_x.shape == (3, 4) and data.train_x[1, 3].item() == pytest.approx(7 / 255)
    assert data.train_y.tolist() == [0, 9, 4] and data.test_y.tolist() == [1, 2]
    solved()


def test_idx_through_train_is_one_line(cli, tmp_path):
    d = _mnist_dir(tmp_path, IDX_CASES["label-10"][:2])
    study = tmp_path / "s.toml"
    study.write_text('[training]\ndataset = "mnist"\nepochs = 1\n[circuit]\nenergy_model = "device"\n[output]\nplots = false\n')
    refused(*cli("train", study, "--out", tmp_path / "o", "--data-dir", d, "-q", "--models", "none"),
            d / "train-labels-idx1-ubyte")


# --- corrupted output folders --------------------------------------------------------------

TINY = ('name = "tiny"\n[circuit]\nenergy_model = "device"\n[training]\nhidden_sizes = [8]\nepochs = 1\n'
        '[output]\nplots = false\n')


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished ``memcosim run`` and ``memcosim train`` of a tiny study (copied per test)."""
    from memcosim.cli import main

    root = tmp_path_factory.mktemp("finished")
    (root / "s.toml").write_text(TINY)
    assert main(["run", str(root / "s.toml"), "--out", str(root / "run"), "-q"]) == 0
    assert main(["train", str(root / "s.toml"), "--out", str(root / "train"), "-q", "--models", "none"]) == 0
    return root


CORRUPTIONS = {"truncated": lambda b: b[: len(b) // 2], "empty": lambda b: b"", "latin1": lambda b: b"\xff\xfe" + b,
               "json-list": lambda b: b"[1, 2]", "nan": lambda b: b'{"x": NaN}', "binary": lambda b: bytes(range(256))}


@pytest.mark.parametrize("victim", ["study.json", "runs/*/run.json", "runs/*/identity.json"])
@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupted_run_folder(cli, finished, tmp_path, victim, how):
    out = tmp_path / "run"
    shutil.copytree(finished / "run", out)
    if victim.endswith("identity.json"):  # an unfinished run: its run.json is not there yet
        (run_json,) = out.glob("runs/*/run.json")
        run_json.unlink()
    (path,) = out.glob(victim)
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    refused(*cli("run", finished / "s.toml", "--out", out, "--resume", "-q"), path)


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupted_checkpoint(cli, finished, tmp_path, how):
    out = tmp_path / "train"
    shutil.copytree(finished / "train", out)
    path = out / "checkpoint.pt"
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    refused(*cli("train", finished / "s.toml", "--out", out, "--resume", "-q", "--models", "none"), path)


@pytest.mark.parametrize("content", ["[1, 2]", "{", '{"format_version": 2}', "\xff", '{"device_kind": NaN}'])
def test_bad_models_file(cli, finished, tmp_path, content):
    models = tmp_path / "models.json"
    models.write_bytes(content.encode("latin-1"))
    refused(*cli("train", finished / "s.toml", "--out", tmp_path / "o", "-q", "--models", models), models)


def test_edited_cache_entry_is_recomputed_with_a_warning(tmp_path, caplog):
    from memcosim.circuits.point_cache import cached_point as _cached

    calls = []
    compute = lambda: calls.append(1) or {"energy_j": 1.5e-12}  # noqa: E731
    assert _cached(tmp_path, "k", compute) == ({"energy_j": 1.5e-12}, False)
    assert _cached(tmp_path, "k", compute) == ({"energy_j": 1.5e-12}, True) and len(calls) == 1
    entry = tmp_path / "k.json"
    for edit in (lambda t: t.replace("1.5e-12", "1.5e-09"), lambda t: t[:10], lambda t: '{"energy_j": 1.5e-09}'):
        entry.write_text(edit(entry.read_text()))
        assert _cached(tmp_path, "k", compute) == ({"energy_j": 1.5e-12}, False)
        assert "corrupted or edited" in caplog.text
        caplog.clear()
        solved()


# --- bad argument values -------------------------------------------------------------------

ARGUMENTS = {
    "workers-negative": (["characterize", "{study}", "--out", "{tmp}/o", "--workers", "-1"], "--workers"),
    "workers-zero": (["run", "{study}", "--out", "{tmp}/o", "--workers", "0"], "--workers"),
    "workers-text": (["run", "{study}", "--out", "{tmp}/o", "--workers", "two"], "--workers"),
    "timeout-zero": (["solve", "{deck}", "--timeout-s", "0"], "--timeout-s"),
    "timeout-negative": (["solve", "{deck}", "--timeout-s", "-1"], "--timeout-s"),
    "timeout-nan": (["solve", "{deck}", "--timeout-s", "nan"], "--timeout-s"),
    "timeout-inf": (["solve", "{deck}", "--timeout-s", "inf"], "--timeout-s"),
    "scheduler": (["run", "{study}", "--out", "{tmp}/o", "--scheduler", "notanaddress", "-q"], "--scheduler"),
    "out-is-a-file": (["train", "{study}", "--out", "{study}", "-q", "--models", "none"], "--out"),
    "out-under-a-file": (["run", "{study}", "--out", "{study}/sub", "-q"], "--out"),
    "output-under-a-file": (["netlist", "read", "-o", "{study}/deck.cir"], "--output"),
    "netlist-rows-zero": (["netlist", "read", "--rows", "0", "-o", "-"], "array.rows"),
    "netlist-over-budget": (["netlist", "read", "--rows", "4096", "--cols", "4096", "-o", "-"], BUDGET_ENV),
    "unknown-command": (["frobnicate"], "invalid choice"),
    "no-study": (["config", "validate", "{tmp}/missing.toml"], "no such study file"),
    "data-dir-missing": (["train", "{mnist_study}", "--out", "{tmp}/o", "--data-dir", "{tmp}/nothing", "-q", "--models", "none"],
                         "training.data_dir"),
    "device-json-string": (["train", "{bad_device_study}", "--out", "{tmp}/o", "-q", "--models", "none"], "g_min_s"),
    "sweep-kind-joint": (["run", str(CORPUS / "studies" / "bad-sweep-joint.toml"), "--out", "{tmp}/o", "-q"], "training.forward"),
}


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_bad_arguments(cli, tmp_path, case):
    study = tmp_path / "s.toml"
    study.write_text(TINY)
    (tmp_path / "m.toml").write_text(TINY.replace("hidden_sizes = [8]", 'hidden_sizes = [8]\ndataset = "mnist"'))
    device = tmp_path / "device.json"
    device.write_text(json.dumps({"model": "hzo", "params": {"g_min_s": "1e-8"}}))
    (tmp_path / "d.toml").write_text(TINY + f'[device]\nparameters_file = "{device}"\n')
    args, needle = ARGUMENTS[case]
    subs = {"study": study, "tmp": tmp_path, "deck": CORPUS / "decks" / "ok-divider.cir", "mnist_study": tmp_path / "m.toml",
            "bad_device_study": tmp_path / "d.toml"}
    refused(*cli(*[a.format(**subs) for a in args]), needle)
