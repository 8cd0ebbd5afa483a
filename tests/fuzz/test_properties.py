"""Property-based tests (hypothesis): mutated study files, decks and measured data are either
refused cleanly (exit 2, one line naming the file) or answered correctly."""

import json
import math
import shutil
import string
import tomllib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from memcosim.config import Study
from tests.fuzz import mna
from tests.fuzz.conftest import refused, solved

FUZZ = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# --- study files ---------------------------------------------------------------------------

_SECTIONS = {name: list(Study.model_fields[name].annotation.model_fields)
             for name in ("device", "array", "circuit", "training", "dies", "output")}
_TOP = ["name", "seed"]

_scalars = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.text(alphabet=string.printable + "éµ\u2603", max_size=12),
    st.sampled_from(["hzo", "mtj", "digits", "mnist", "v_half", "float", "sgd", "exact", "", "default", "../x"]),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=4))


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


@st.composite
def studies(draw):
    """A study as TOML text: known and misspelt keys, values of any type, sometimes a sweep."""
    lines, given_values = [], {}
    for key in draw(st.lists(st.sampled_from(_TOP), unique=True, max_size=2)):
        value = draw(_scalars)
        lines.append(f"{key} = {_toml_value(value)}")
        given_values[(None, key)] = value
    for section in draw(st.lists(st.sampled_from(list(_SECTIONS)), unique=True, max_size=4)):
        lines.append(f"[{section}]")
        keys = _SECTIONS[section] + [k + "x" for k in _SECTIONS[section][:2]]
        for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)):
            value = draw(_values)
            lines.append(f"{key} = {_toml_value(value)}")
            given_values[(section, key)] = value
    if draw(st.booleans()):
        section = draw(st.sampled_from(list(_SECTIONS)))
        key = draw(st.sampled_from(_SECTIONS[section]))
        lines.append(f'[sweep]\n"{section}.{key}" = {_toml_value(draw(st.lists(_scalars, max_size=3)))}')
    return "\n".join(lines) + "\n", given_values


def _same(given, loaded):
    if isinstance(given, list):
        return isinstance(loaded, list) and len(given) == len(loaded) and all(_same(g, v) for g, v in zip(given, loaded))
    if isinstance(given, float) and math.isnan(given):
        return False
    return given == loaded


@FUZZ
@given(case=studies())
def test_mutated_studies_are_refused_or_read_exactly(cli, tmp_path, case):
    text, given_values = case
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("config", "validate", path)
    if code == 2:
        refused(code, out, err, path)
        return
    assert code == 0, err
    from memcosim.config import load_study

    study = load_study(path)
    for (section, key), value in given_values.items():
        loaded = getattr(study if section is None else getattr(study, section), key)
        assert _same(value, loaded), (section, key, value, loaded)
    solved()


_VALID_STUDY = ('name = "fuzz"\nseed = 4\n[device]\nkind = "hzo"\npulse_width_s = 2e-8\n[array]\nrows = 8\ncols = 8\n'
                '[training]\nhidden_sizes = [16]\nepochs = 2\n[sweep]\n"device.pulse_width_s" = [2e-8, 2e-6]\n').encode()


@st.composite
def byte_mutations(draw, base):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 20))]
    return bytes(data)


@FUZZ
@given(data=byte_mutations(_VALID_STUDY))
def test_byte_mutated_study_files(cli, tmp_path, data):
    path = tmp_path / "study.toml"
    path.write_bytes(data)
    code, out, err = cli("config", "validate", path)
    if code == 2:
        refused(code, out, err, path)
        return
    assert code == 0, err
    from memcosim.config import load_study

    # what validated is what the file says: the TOML parsed independently gives the same fields
    raw, study = tomllib.loads(data.decode("utf-8")), load_study(path)
    for section, table in raw.items():
        if isinstance(table, dict) and section != "sweep":
            for key, value in table.items():
                assert _same(value, getattr(getattr(study, section), key)), (section, key)
    solved()


# --- decks ---------------------------------------------------------------------------------

_OHMS = st.floats(min_value=1e-3, max_value=1e9, allow_nan=False)


@st.composite
def networks(draw):
    """A connected resistor network with voltage and current sources, as deck text."""
    n = draw(st.integers(1, 7))
    nodes = ["0"] + [draw(st.sampled_from([f"n{i}", str(i + 1), f"x_{i}"])) for i in range(n)]
    lines = ["random network"]
    for i in range(1, n + 1):  # a spanning tree keeps every node connected to ground
        lines.append(f"R{i} {nodes[i]} {nodes[draw(st.integers(0, i - 1))]} {draw(_OHMS)!r}")
    for k in range(draw(st.integers(0, 6))):
        a, b = draw(st.integers(0, n)), draw(st.integers(0, n))
        if a != b:
            lines.append(f"Rx{k} {nodes[a]} {nodes[b]} {draw(_OHMS)!r}")
    volts = st.floats(min_value=-50, max_value=50, allow_nan=False)
    lines.append(f"V1 {nodes[draw(st.integers(1, n))]} 0 {draw(volts)!r}")
    for k in range(draw(st.integers(0, 2))):
        a, b = draw(st.integers(0, n)), draw(st.integers(0, n))
        if a != b:
            lines.append(f"I{k} {nodes[a]} {nodes[b]} {draw(st.floats(min_value=-1e-2, max_value=1e-2))!r}")
    return "\n".join(lines) + "\n.op\n.end\n"


def _solution_matches(out, text):
    """The solver's JSON against the exact answer, to the precision the conditioning allows."""
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    cards = mna.parse(text)
    volts, currents, power = mna.solve(cards)
    tol = max(1e-9, 1e-13 * mna.conditioning(cards))
    v_scale = max([1.0] + [abs(v) for v in volts.values()])
    i_scale = max([1e-12] + [abs(i) for i in currents.values()] + [abs(c[4]) for c in cards if c[0] == "i"])
    assert set(result["node_voltages"]) == set(volts) and set(result["source_currents"]) == set(currents)
    for name, value in volts.items():
        assert result["node_voltages"][name] == pytest.approx(value, rel=tol, abs=tol * v_scale)
    for name, value in currents.items():
        assert result["source_currents"][name] == pytest.approx(value, rel=tol, abs=tol * i_scale)
    assert result["total_source_power_w"] == pytest.approx(power, rel=tol, abs=tol * v_scale * i_scale)
    solved()


@FUZZ
@given(text=networks())
# a 1.5-ohm source path beside a 128-Mohm chain to a dangling node: a stable solve leaves ~1e-15 A at the
# chain's nodes, which the answer check once refused as a broken Kirchhoff law
@example(text="random network\nR1 n0 0 508435830.0\nR2 n1 n0 1.5\nR3 n2 0 1.05\nR4 n3 0 1.0\nR5 n4 0 1.0\n"
              "R6 n5 n0 127998331.0\nR7 n6 n5 11919707.0\nRx1 n0 n2 106.0\nV1 n1 0 9.0\n.op\n.end\n")
def test_random_networks_solve_to_the_independent_answer(cli, tmp_path, text):
    deck = tmp_path / "net.cir"
    deck.write_text(text)
    code, out, err = cli("solve", deck, "--json")
    if code == 2:  # only a circuit without a unique solution may be refused
        refused(code, out, err)
        with pytest.raises(mna.Singular):
            mna.solve(mna.parse(text))
        return
    assert code == 0, err
    _solution_matches(out, text)


_VALID_DECK = b"mutated\nV1 in 0 2\nR1 in mid 1k\nR2 mid 0 3k\nI1 mid 0 1m\nB1 mid 0 I={v(mid)/10k}\n.op\n.end\n"


@FUZZ
@given(data=byte_mutations(_VALID_DECK))
def test_byte_mutated_decks(cli, tmp_path, data):
    deck = tmp_path / "deck.cir"
    deck.write_bytes(data)
    code, out, err = cli("solve", deck, "--json")
    if code == 2:
        refused(code, out, err)
        return
    assert code == 0, err
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert all(math.isfinite(v) for v in [*result["node_voltages"].values(), *result["source_currents"].values()])
    try:
        cards = mna.parse(data.decode())
    except ValueError:  # not a plain linear deck (a B element survives): finite and strict is what we can check
        solved()
        return
    _solution_matches(out, data.decode())


# --- measured data -------------------------------------------------------------------------

_VALID_CSV = ("pulse_amplitude_v,pulse_width_s,conductance_s\n"
              + "".join(f"{-3 if i < 20 else 3},2e-6,{1e-8 * (1.5 + 0.05 * (i if i < 20 else 40 - i)):.4e}\n" for i in range(40))
              ).encode()


@FUZZ
@given(data=byte_mutations(_VALID_CSV))
def test_byte_mutated_pulse_sweeps_read_or_refused(tmp_path, data):
    from memcosim.base.errors import CalibrationError
    from memcosim.devices.measurements import read_sweep

    path = tmp_path / "sweep.csv"
    path.write_bytes(data)
    try:
        sweep = read_sweep(path)
    except CalibrationError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        refused(2, "", f"memcosim: error: {exc}\n", path)
        return
    # what was read is what the file says, by an independent reading of the rows
    rows = [line.split(",") for line in data.decode("utf-8-sig").splitlines()[1:] if line.strip() and not line.startswith("#")]
    assert sweep.n_points == len(rows)
    assert list(sweep.conductance_s) == [float(r[2]) for r in rows]
    assert all(math.isfinite(g) and g > 0 for g in sweep.conductance_s) and all(0 < w <= 1 for w in sweep.pulse_width_s)
    solved()


_VALID_MTJ = b"voltage_v,r_p_ohm,r_ap_ohm\n0.0,5000,12500\n0.1,5000,12300\n0.2,5010,11700\n0.3,5000,11000\n0.4,4990,10300\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=byte_mutations(_VALID_MTJ))
def test_byte_mutated_mtj_sweeps_calibrate_or_refused(cli, tmp_path, data):
    path = tmp_path / "mtj.csv"
    path.write_bytes(data)
    out_dir = tmp_path / "cal"
    shutil.rmtree(out_dir, ignore_errors=True)  # tmp_path is shared by the examples
    code, out, err = cli("calibrate", path, "--model", "mtj", "--out", out_dir, "--no-plots", "-q")
    if code == 2:
        refused(code, out, err, path)
        assert not (out_dir / "device.json").exists()
        return
    assert code == 0, err
    report = json.loads((out_dir / "fit_report.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert 0 <= report["r2"] <= 1 and all(0 <= f["r2"] <= 1 for f in report["files"])
    solved()
