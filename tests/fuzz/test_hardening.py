"""Hostile inputs, one family per class of issue 30: every case is refused cleanly (exit 2, one
line naming what was wrong) or answered and checked against an independent answer, within a
watchdog (a read that blocks or a solve that spins fails the case instead of hanging the suite).

Families (the tally at the end of the run counts each):

* ``file-kind``: a FIFO, ``/dev/zero`` or a directory in place of every file memcosim reads;
* ``file-size``: a sparse file far over the memory budget in place of each;
* ``nesting``: TOML and JSON nested thousands deep;
* ``csv``: a cell past the csv module's limit, a line of megabytes, a column named twice, a 3e30 V pulse;
* ``deck``: the deck semantics both engines share or refuse (numbers, ``.end``, continuations,
  braces and ``.param``, the smallest resistor, B expressions, file-reading models, non-ASCII,
  open nodes, runaway sources, every source kind's power), each accepted answer checked against
  exact nodal analysis (tests/fuzz/mna.py);
* ``arguments``: ``--timeout-s 1e20``, ``--input-v nan``, a deck over the budget.
"""

import json
import os
from pathlib import Path

import pytest

from memcosim.base.memory import BUDGET_ENV
from tests.fuzz import mna
from tests.fuzz.conftest import refused, solved

TINY = ('name = "tiny"\n[circuit]\nenergy_model = "device"\n[training]\nhidden_sizes = [8]\nepochs = 1\n'
        '[output]\nplots = false\n')
HZO_CSV = ("pulse_amplitude_v,pulse_width_s,conductance_s\n"
           + "".join(f"{-3 if i < 20 else 3},2e-6,{1e-8 * (1.5 + 0.05 * (i if i < 20 else 40 - i)):.4e}\n" for i in range(40)))
MTJ_CSV = "voltage_v,r_p_ohm,r_ap_ohm\n0.0,5000,12500\n0.1,5000,12300\n0.2,5010,11700\n0.3,5000,11000\n0.4,4990,10300\n"


def _study(tmp, extra="", name="s.toml"):
    path = tmp / name
    path.write_text(TINY + extra)
    return path


def _measured(v, d):
    study = _study(d, f'[device]\nkind = "measured"\nmeasured_from = ["{v}"]\npulse_width_s = 2e-6\n')
    return ["run", study, "--out", d / "o", "-q"]


def _mnist(v, d):
    return ["train", d / "m.toml", "--out", d / "o", "-q", "--models", "none", "--data-dir", d]


# role -> (file name of the victim, command given the victim path and the case folder)
ROLES = {
    "study": ("study.toml", lambda v, d: ["config", "validate", v]),
    "deck": ("deck.cir", lambda v, d: ["solve", v]),
    "include": ("part.inc", lambda v, d: ["solve", _write(d / "top.cir", "t\nV1 a 0 1\n.include part.inc\n.op\n.end\n"),
                                          "--engine", "ngspice"]),
    "hzo-sweep": ("sweep.csv", lambda v, d: ["calibrate", v, "--model", "hzo", "--out", d / "o", "--no-plots", "-q"]),
    "mtj-sweep": ("mtj.csv", lambda v, d: ["calibrate", v, "--model", "mtj", "--out", d / "o", "--no-plots", "-q"]),
    "held-out": ("held.csv", lambda v, d: ["calibrate", _write(d / "fit.csv", HZO_CSV), "--model", "hzo", "--out",
                                            d / "o", "--no-plots", "-q", "--validate", v]),
    "parameters_file": ("device.json", lambda v, d: ["train", _study(d, f'[device]\nparameters_file = "{v}"\n'), "--out",
                                                      d / "o", "-q", "--models", "none"]),
    "models": ("models.json", lambda v, d: ["train", _study(d), "--out", d / "o", "-q", "--models", v]),
    "measured_from": ("m.csv", _measured),
    "converters_file": ("conv.json", lambda v, d: ["train", _study(d, f'[periphery]\nenabled = true\nconverters_file = '
                                                                     f'"{v}"\n'), "--out", d / "o", "-q", "--models",
                                                   "none"]),
    "aihwkit_device": ("dev.txt", lambda v, d: ["train", _study(d, f'[device]\nkind = "piecewise_step"\naihwkit_device = '
                                                                  f'"{v}"\n'), "--out", d / "o", "-q", "--models", "none"]),
    "idx": ("train-images-idx3-ubyte", _mnist),
    "run-record": ("run.json", lambda v, d: ["report", d / "out"]),
    "checkpoint": ("checkpoint.pt", lambda v, d: ["train", _study(d), "--out", d / "o", "-q", "--models", "none",
                                                 "--resume"]),
}


def _write(path, text):
    path.write_text(text)
    return path


def _place(role, d):
    """The victim's path for ``role`` in the case folder ``d`` (and what surrounds it)."""
    name = ROLES[role][0]
    if role == "idx":
        from tests.fuzz.test_corpus import GOOD

        for other, data in GOOD.items():
            (d / other).write_bytes(data)
        (d / name).unlink()
        (d / "m.toml").write_text(TINY.replace("hidden_sizes = [8]", 'hidden_sizes = [8]\ndataset = "mnist"'))
    if role == "run-record":
        (d / "out" / "runs" / "000_single_abc").mkdir(parents=True)
        (d / "out" / "study.json").write_text(json.dumps({"name": "tiny"}))
        return d / "out" / "runs" / "000_single_abc" / name
    if role == "checkpoint":
        (d / "o").mkdir()
        return d / "o" / name
    return d / name


def _make(kind, path):
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
@pytest.mark.parametrize("role", sorted(ROLES))
def test_not_a_regular_file(cli, watchdog, tmp_path, role, kind):
    """Every input path refuses a FIFO, a device and a directory in one line, before reading."""
    victim = _place(role, tmp_path)
    _make(kind, victim)
    code, out, err = cli(*ROLES[role][1](victim, tmp_path))
    if role == "include" and kind == "device":  # the link leads out of the deck's folder: refused for that first
        refused(code, out, err, ".include part.inc", "outside the deck's folder", family="file-kind")
        return
    refused(code, out, err, victim, family="file-kind")
    assert "not a regular file" in err


@pytest.mark.parametrize("role", sorted(set(ROLES) - {"run-record"}))
def test_far_over_the_memory_budget(cli, watchdog, tmp_path, monkeypatch, role):
    """A 4 GB sparse file in place of each input, under a 1 GB budget (the tiny study's training fits
    it): refused before it is read."""
    monkeypatch.setenv(BUDGET_ENV, "1")
    victim = _place(role, tmp_path)
    with open(victim, "wb") as fh:
        fh.truncate(4_000_000_000)
    code, out, err = cli(*ROLES[role][1](victim, tmp_path))
    refused(code, out, err, victim, BUDGET_ENV, family="file-size")


@pytest.mark.parametrize("role, text", [
    ("study", "x = " + "[" * 100_000 + "]" * 100_000 + "\n"),
    ("study", "x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n"),
    ("study", "[sweep]\n" + ".".join(["a"] * 20_000) + " = [1]\n"),
    ("parameters_file", "[" * 100_000 + "]" * 100_000),
    ("models", '{"a": ' * 50_000 + "1" + "}" * 50_000),
    ("run-record", "[" * 100_000 + "]" * 100_000),
])
def test_nesting_bounded_before_parsing(cli, watchdog, tmp_path, role, text):
    victim = _place(role, tmp_path)
    victim.write_text(text)
    refused(*cli(*ROLES[role][1](victim, tmp_path)), victim, "nested deeper than 64", family="nesting")


@pytest.mark.parametrize("role, text, message", [
    ("hzo-sweep", HZO_CSV.replace("2e-6,", '"' + "1" * 200_000 + '",', 1), "not a CSV line (field larger than field limit"),
    ("hzo-sweep", HZO_CSV + "3," * 600_000 + "\n", "line longer than 1048576 characters"),
    ("hzo-sweep", HZO_CSV.replace("conductance_s", "conductance_s,pulse_width_s", 1), "'pulse_width_s' appears twice"),
    ("hzo-sweep", HZO_CSV.replace("3,2e-6", "3e30,2e-6"), "|amplitude| must be at most 100 V, got -3e+30"),
    ("hzo-sweep", HZO_CSV.replace("2e-6", "2_000e-9", 1), "not a number: '2_000e-9'"),
    ("mtj-sweep", MTJ_CSV.replace("r_ap_ohm", "r_ap_ohm,r_p_ohm"), "'r_p_ohm' appears twice"),
    ("mtj-sweep", MTJ_CSV.replace("0.4,", "3e30,"), "|bias| must be at most 100 V"),
    ("held-out", HZO_CSV.replace("2e-6,", "\"" + "2" * 200_000 + "\",", 1), "field larger than field limit"),
])
def test_csv_bounds(cli, watchdog, tmp_path, role, text, message):
    victim = _place(role, tmp_path)
    victim.write_text(text)
    refused(*cli(*ROLES[role][1](victim, tmp_path)), victim, message, family="csv")


def test_a_fit_that_explains_nothing_writes_no_device(cli, watchdog, tmp_path):
    """r^2 = 0 (every TMR the same but the sweep's spread in R_P alone): no device.json."""
    flat = "voltage_v,r_p_ohm,r_ap_ohm\n" + "".join(f"{v / 10},{5000 + 50 * (-1) ** k},{12000 + 120 * (-1) ** k}\n"
                                                   for k, v in enumerate(range(8)))
    victim = _write(tmp_path / "flat.csv", flat)
    code, out, err = cli("calibrate", victim, "--model", "mtj", "--out", tmp_path / "o", "--no-plots", "-q")
    refused(code, out, err, "r^2", family="csv")
    assert not (tmp_path / "o" / "device.json").exists()


# --- decks: both engines share one reading or refuse --------------------------------------

PLAIN = "V1 a 0 2\nR1 a b 1k\nR2 b 0 3k\nI1 b 0 1m\n"  # v(b) = 0.75 V, i(V1) = -1.25 mA, power 1.75 mW
PLAIN_ANSWER = mna.solve(mna.parse("t\n" + PLAIN))

# name -> (deck, expected): expected is "refused" (both engines), or (plain deck whose exact
# answer it must give, engines that may refuse it because they do not model an element)
DECKS = {
    "tiny-series-resistor": ("t\nV1 a 0 1\nR1 a b 1e-15\nR2 b 0 1k\n.op\n", "refused"),
    "zero-resistor-brace": ("t\nV1 a 0 1\nR1 a 0 {0}\n.op\n", "refused"),
    "zero-resistor-param": ("t\n.param r0=0\nV1 a 0 1\nR1 a 0 {r0}\n.op\n", "refused"),
    "zero-resistor-expression": ("t\n.param r0=1k\nV1 a 0 1\nR1 a 0 {r0-1000}\n.op\n", "refused"),
    "current-into-open-node": ("t\nV1 a 0 1\nR1 a 0 1k\nI1 0 b 1m\n.op\n", "refused"),
    "current-into-capacitor": ("t\nV1 a 0 1\nR1 a 0 1k\nI1 0 b 1m\nC1 b 0 1p\n.op\n", "refused"),
    "b-divide-by-zero": ("t\nV1 a 0 1\nR1 a 0 1k\nB1 a 0 I={1/(v(a)-v(a))}\n.op\n", "refused"),
    "b-runaway": ("t\nV1 a 0 1\nR1 a b 1k\nB1 b 0 I={exp(800*v(a))}\n.op\n", "refused"),
    "b-unknown-name": ("t\nV1 a 0 1\nR1 a 0 1k\nB1 a 0 I={c5*v(a)}\n.op\n", "refused"),
    "b-bare-function": ("t\nV1 a 0 1\nR1 a 0 1k\nB1 a 0 I={exp+v(a)}\n.op\n", "refused"),
    "b-thousands-of-terms": ("t\nV1 a 0 1\nR1 a 0 1k\nB1 a 0 I={" + "+".join(["v(a)*1u"] * 5000) + "}\n.op\n", "refused"),
    "b-chained-power": ("t\nV1 a 0 1\nR1 a 0 1k\nB1 a 0 I={1u*2^3^2}\n.op\n", "refused"),
    "underscore-number": ("t\nV1 a 0 1\nR1 a 0 1_000\n.op\n", "refused"),
    "digits-after-suffix": ("t\nV1 a 0 1\nR1 a 0 1k5\n.op\n", "refused"),
    "fortran-exponent": ("t\nV1 a 0 1\nR1 a 0 1d3\n.op\n", "refused"),
    "infinite-number": ("t\nV1 a 0 1\nR1 a 0 1e400\n.op\n", "refused"),
    "card-after-end": ("t\nV1 a 0 1\nR1 a 0 1k\n.op\n.end\nR2 a 0 1k\n", "refused"),
    "continuation-after-title": ("t\n+ R9 a 0 1k\nV1 a 0 1\nR1 a 0 1k\n.op\n", "refused"),
    "options-rshunt": ("t\n.options rshunt=1k\nV1 a 0 1\nR1 a b 1k\nR2 b 0 1k\n.op\n", "refused"),
    "non-ascii-node": ("t\nV1 a 0 1\nR1 a nœud 1k\nR2 nœud 0 1k\n.op\n", "refused"),
    "non-ascii-value": ("t\nV1 a 0 1\nR1 a 0 1µ\n.op\n", "refused"),
    "comma-in-node": ("t\nV1 a 0 1\nR1 a,0 0 1k\n.op\n", "refused"),
    "xspice-filesource": ("t\nV1 a 0 1\nR1 a 0 1k\nA1 %v([b]) src\n.model src filesource (file=\"/dev/zero\")\n"
                          "R2 b 0 1k\n.op\n", "refused"),
    "model-card": ("t\nV1 a 0 1\nR1 a 0 1k\n.model dd d\n.op\n", "refused"),
    "initial-condition": ("t\nV1 a 0 1\nR1 a b 1k\nR2 b 0 1k\n.ic v(b)=0.9\n.op\n", "refused"),
    "floating-f-control": ("t\nV1 a 0 1\nR1 a 0 1k\nF1 b 0 V9 2\nR2 b 0 1k\n.op\n", "refused"),
    "plain": ("t\n" + PLAIN + ".op\n.end\n", ("t\n" + PLAIN, ())),
    "non-ascii-comments": ("tïtle ✓\n* commentaire: µA, Ω\n" + PLAIN.replace("I1 b 0 1m", "I1 b 0 1m ; 1 mA → b")
                           + ".op\n", ("t\n" + PLAIN, ())),
    "spice-numbers": ("t\nV1 a 0 2V\nR1 a b 1kohm\nR2 b 0 3000.\nI1 b 0 1mA\n.op\n", ("t\n" + PLAIN, ())),
    "continuations": ("t\nV1 a 0\n+ 2\nR1 a b\n* a comment between\n+ 1k\nR2 b 0 3k\nI1 b 0 1m\n.op\n", ("t\n" + PLAIN, ())),
    "params-and-braces": ("t\n.param vdd=2 rtop={vdd*500}\nV1 a 0 {vdd}\nR1 a b {rtop}\nR2 b 0 {3*rtop}\n"
                          "I1 b 0 {1m}\n.op\n", ("t\n" + PLAIN, ())),
    "vccs-vcvs": ("t\nV1 a 0 1\nR1 a 0 1k\nE1 c 0 a 0 2\nR2 c 0 1k\nG1 d 0 a 0 1m\nR3 d 0 2k\n.op\n",
                  ("t\nV1 a 0 1\nR1 a 0 1k\nE1 c 0 a 0 2\nR2 c 0 1k\nG1 d 0 a 0 1m\nR3 d 0 2k\n", ("native",))),
    "cccs-ccvs": ("t\nV1 a 0 1\nR1 a 0 1k\nF1 g 0 V1 3\nR6 g 0 1k\nH1 h 0 V1 100\nR7 h 0 1k\n.op\n",
                  ("t\nV1 a 0 1\nR1 a 0 1k\nF1 g 0 V1 3\nR6 g 0 1k\nH1 h 0 V1 100\nR7 h 0 1k\n", ("native",))),
    "inductor-capacitor": ("t\nV1 a 0 1\nR1 a b 1k\nL1 b c 1u\nR2 c 0 1k\nC1 c 0 1p\n.op\n",
                           ("t\nV1 a 0 1\nR1 a b 1k\nL1 b c 1u\nR2 c 0 1k\nC1 c 0 1p\n", ("native",))),
    "sources-in-subcircuits": ("t\n.subckt cell p n\nV1 p m 0.5\nR1 m n 1k\n.ends\n.subckt two p n\nX1 p q cell\n"
                               "R2 q n 2k\n.ends\nVdd a 0 1\nX1 a 0 cell\nX2 a 0 two\n.op\n",
                               ("t\nv.x1.v1 a x1.m 0.5\nr.x1.r1 x1.m 0 1k\nv.x2.x1.v1 a x2.x1.m 0.5\n"
                                "r.x2.x1.r1 x2.x1.m x2.q 1k\nr.x2.r2 x2.q 0 2k\nvdd a 0 1\n", ("native",))),
}


def _expected(plain):
    # mna.parse takes the element kind from the first letter: names like v.x1.v1 keep it
    return mna.solve(mna.parse(plain))


def _check(result, plain, engine):
    volts, currents, power = _expected(plain)
    assert set(result["node_voltages"]) == set(volts), (engine, result["node_voltages"], volts)
    for node, value in volts.items():
        assert result["node_voltages"][node] == pytest.approx(value, rel=1e-9, abs=1e-12), (engine, node)
    assert set(result["source_currents"]) == set(currents), engine
    for name, value in currents.items():
        assert result["source_currents"][name] == pytest.approx(value, rel=1e-9, abs=1e-15), (engine, name)
    assert result["total_source_power_w"] == pytest.approx(power, rel=1e-9, abs=1e-15), engine


def _deck_case(cli, tmp_path, name, engine):
    text, expected = DECKS[name]
    deck = tmp_path / f"{name}.cir"
    deck.write_text(text, encoding="utf-8")
    code, out, err = cli("solve", deck, "--engine", engine, "--json", "--timeout-s", "60")
    if expected == "refused" or (code == 2 and engine in expected[1]):
        refused(code, out, err, family="deck")
        return
    assert code == 0, err
    _check(json.loads(out), expected[0], engine)
    solved(family="deck")


@pytest.mark.parametrize("name", sorted(DECKS))
def test_deck_native(cli, watchdog, tmp_path, name):
    _deck_case(cli, tmp_path, name, "native")


@pytest.mark.ngspice
@pytest.mark.parametrize("name", sorted(DECKS))
def test_deck_ngspice(cli, watchdog, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    _deck_case(cli, tmp_path, name, "ngspice")


@pytest.mark.parametrize("engine", ["native", pytest.param("ngspice", marks=pytest.mark.ngspice)])
def test_b_element_is_a_source_that_absorbs(cli, watchdog, tmp_path, monkeypatch, engine):
    """A B element in R2's place gives PLAIN's voltages; it is counted as a source delivering
    -v(b)^2 / 3k, so the total is what the resistor R1 dissipates."""
    monkeypatch.chdir(tmp_path)
    deck = _write(tmp_path / "b.cir", "t\n" + PLAIN.replace("R2 b 0 3k", "B1 b 0 I={v(b)/3k}") + ".op\n")
    code, out, err = cli("solve", deck, "--engine", engine, "--json", "--timeout-s", "60")
    assert code == 0, err
    result = json.loads(out)
    volts, currents, power = PLAIN_ANSWER
    assert result["node_voltages"] == pytest.approx(volts, rel=1e-9)
    assert result["source_currents"] == pytest.approx(currents, rel=1e-9)
    assert result["total_source_power_w"] == pytest.approx(power - volts["b"] ** 2 / 3e3, rel=1e-9)
    solved(family="deck")


# --- arguments ----------------------------------------------------------------------------

def test_arguments(cli, watchdog, tmp_path, monkeypatch):
    deck = _write(tmp_path / "d.cir", "t\n" + PLAIN + ".op\n")
    refused(*cli("solve", deck, "--timeout-s", "1e20"), "--timeout-s", family="arguments")
    refused(*cli("netlist", "read", "--input-v", "nan", "-o", "-"), "--input-v", "finite", family="arguments")
    monkeypatch.setenv(BUDGET_ENV, "0.001")
    big = _write(tmp_path / "big.cir", "t\nV1 a 0 1\n" + "".join(f"R{k} a 0 1e9\n" for k in range(100_000)) + ".op\n")
    refused(*cli("solve", big), BUDGET_ENV, family="arguments")


def test_reader_names_kind_before_opening(tmp_path, watchdog):
    """open_input refuses a FIFO without opening it (opening a FIFO for reading blocks)."""
    from memcosim.base.errors import ConfigError
    from memcosim.base.files import file_sha256, read_json, read_text

    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    for reader in (read_text, read_json, file_sha256):
        with pytest.raises(ConfigError, match="a FIFO \\(named pipe\\), not a regular file"):
            reader(fifo)
    assert Path(fifo).exists()
