"""The fuzz corpus (tests/fuzz/corpus): decks, measured-data CSVs and study files, each either
refused cleanly or answered correctly; IDX files, corrupted output folders and bad arguments
made here.

A corpus file named ``ok-*`` must succeed with the independent answer (decks: exact nodal
analysis, tests/fuzz/mna.py; the MTJ sweep: the device that made it); ``bad-*`` must exit 2 with
one line. Add a file to add a case.
"""

import gzip
import json
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


def _both_engines(text, deck_dir):
    from memcosim.base.errors import MemcosimError
    from memcosim.circuits.dc import solve_dc

    answers = {}
    for engine in ("native", "ngspice"):
        try:
            answers[engine] = solve_dc(text, engine, timeout_s=60, deck_dir=deck_dir)
        except MemcosimError as exc:
            assert "\n" not in str(exc), exc
            answers[engine] = None
    return answers["native"], answers["ngspice"]


def _agree(native, spice, name):
    assert set(native.node_voltages) == set(spice.node_voltages), name
    assert set(native.source_currents) == set(spice.source_currents), name
    v_scale = max([1.0] + [abs(v) for v in native.node_voltages.values()])
    i_scale = max([1e-12] + [abs(i) for i in native.source_currents.values()])
    for node, value in native.node_voltages.items():
        assert spice.node_voltages[node] == pytest.approx(value, rel=1e-9, abs=1e-12 * v_scale), (name, node)
    for source, value in native.source_currents.items():
        assert spice.source_currents[source] == pytest.approx(value, rel=1e-9, abs=1e-12 * i_scale), (name, source)
    assert spice.total_source_power_w == pytest.approx(native.total_source_power_w, rel=1e-9,
                                                        abs=1e-12 * v_scale * i_scale), name


@pytest.mark.ngspice
def test_engines_agree_on_every_deck_both_accept(watchdog):
    """Every deck of the corpus and of the hardening families: the engines give the same answer
    (1e-9 relative) or at least one refuses it in one line."""
    from tests.fuzz.conftest import FAMILIES
    from tests.fuzz.test_hardening import DECKS

    decks = {p.name: (p.read_bytes(), p.parent) for p in _cases("decks")}
    decks.update({name: (text.encode(), None) for name, (text, _) in DECKS.items()})
    for name, (data, folder) in sorted(decks.items()):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # the CLI refuses it before either engine (tests above)
        native, spice = _both_engines(text, folder)
        if native is not None and spice is not None:
            _agree(native, spice, name)
            FAMILIES["engines"]["solved"] += 1
        else:
            FAMILIES["engines"]["refused"] += 1
    assert FAMILIES["engines"]["solved"] >= 10


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


def _epochs_galore(rec):
    rec["results"]["epochs"] = [dict(rec["results"]["epochs"][0], epoch=k + 1) for k in range(50)]


RUN_EDITS = {  # a finished run.json edited: (edit, the key the refusal names)
    "accuracy-3.5": (lambda r: r["results"].update(test_accuracy=3.5), "results.test_accuracy"),
    "negative-energy": (lambda r: r["results"].update(total_energy_j=-2e-10), "results.total_energy_j"),
    "epoch-accuracy": (lambda r: r["results"]["epochs"][0].update(test_accuracy=-0.5), "test_accuracy"),
    "epochs-galore": (_epochs_galore, "holds 50 epoch records, its study point trains 1 epochs"),
    "epoch-number": (lambda r: r["results"]["epochs"][0].update(epoch=7), "results.epochs[0].epoch: must be 1"),
    "accuracy-text": (lambda r: r["results"].update(test_accuracy="0.9"), "results.test_accuracy: must be a number in [0, 1], got '0.9'"),
    "pulses-bool": (lambda r: r["results"].update(pulses_total=True), "results.pulses_total: must be an integer >= 0, got True"),
    "pulses-float": (lambda r: r["results"].update(pulses_total=2.5), "results.pulses_total: must be an integer >= 0, got 2.5"),
    "no-results": (lambda r: r.pop("results"), "results: missing"),
    "inputs-numbers": (lambda r: r.update(inputs={"a": 1}), "inputs: must map"),
    "wall-time-negative": (lambda r: r.update(wall_time_s=-1.0), "wall_time_s: must be a number >= 0"),
}


@pytest.mark.parametrize("command", ["report", "resume"])
@pytest.mark.parametrize("edit", sorted(RUN_EDITS))
def test_edited_run_record(cli, finished, tmp_path, edit, command):
    """An edited run.json is refused on --resume and by memcosim report, naming the file and key."""
    out = tmp_path / "run"
    shutil.copytree(finished / "run", out)
    (path,) = out.glob("runs/*/run.json")
    record = json.loads(path.read_text())
    change, needle = RUN_EDITS[edit]
    change(record)
    path.write_text(json.dumps(record))
    args = ("report", out) if command == "report" else ("run", finished / "s.toml", "--out", out, "--resume", "-q")
    refused(*cli(*args), path, needle, family="read-back")


def _checkpoint_edits():
    def epochs(state, value):
        state["epochs"] = value

    return {
        "accuracy-3.5": lambda s: s["epochs"][0].update(test_accuracy=3.5),
        "energy-negative": lambda s: s["epochs"][0].update(write_energy_j=-1.0),
        "epochs-tensor": lambda s: epochs(s, __import__("torch").tensor([1.0, 2.0])),
        "epochs-galore": lambda s: epochs(s, [dict(s["epochs"][0], epoch=k + 1) for k in range(5)]),
        "epoch-text": lambda s: s["epochs"][0].update(epoch="1"),
        "elapsed-text": lambda s: s.update(elapsed_s="long"),
        "fingerprint-tensor": lambda s: s.update(fingerprint=__import__("torch").zeros(3)),
        "format-number": lambda s: s.update(format=1),
    }


CHECKPOINT_EDITS = _checkpoint_edits()


@pytest.mark.parametrize("edit", sorted(CHECKPOINT_EDITS))
def test_checkpoint_with_the_wrong_types(cli, finished, tmp_path, edit):
    """A checkpoint that still loads with weights_only but holds wrong types or ranges: one line."""
    import torch

    out = tmp_path / "train"
    shutil.copytree(finished / "train", out)
    path = out / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    CHECKPOINT_EDITS[edit](state)
    torch.save(state, path)
    refused(*cli("train", finished / "s.toml", "--out", out, "--resume", "-q", "--models", "none"), path,
            family="read-back")


def test_swapped_cache_entries_are_recomputed(tmp_path, caplog):
    """Two valid entries swapped: each checksum holds for its content but not for the other key."""
    from memcosim.circuits.point_cache import cached_point as _cached

    for key, energy in (("k1", 1e-12), ("k2", 2e-12)):
        _cached(tmp_path, key, lambda energy=energy: {"energy_j": energy})
    a, b = (tmp_path / "k1.json").read_bytes(), (tmp_path / "k2.json").read_bytes()
    (tmp_path / "k1.json").write_bytes(b)
    (tmp_path / "k2.json").write_bytes(a)
    assert _cached(tmp_path, "k1", lambda: {"energy_j": 1e-12}) == ({"energy_j": 1e-12}, False)
    assert "another key's entry" in caplog.text
    assert _cached(tmp_path, "k1", lambda: pytest.fail("recomputed twice")) == ({"energy_j": 1e-12}, True)
    solved(family="read-back")


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
