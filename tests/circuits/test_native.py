import json

import numpy as np
import pytest

from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.circuits.native import solve_deck
from memcosim.circuits.ngspice import run_ngspice
from memcosim.circuits.spice_parser import parse_deck, parse_value
from memcosim.devices import load_device_params, mtj
from memcosim.base.errors import NetlistError, SimulationError
from memcosim.netlist import CrossbarSpec, read_deck
from tests.conftest import run_cli


def assert_agree(text, rel=1e-9):
    native = solve_deck(text)
    spice = run_ngspice(text, timeout_s=120)
    voltages, currents = spice.node_voltages(), spice.source_currents()
    assert set(native.node_voltages) <= set(voltages)
    scale_v = max(abs(x) for x in voltages.values())
    for node, value in native.node_voltages.items():
        assert value == pytest.approx(voltages[node], rel=rel, abs=rel * scale_v * 1e-3), node
    scale_i = max(abs(x) for x in currents.values())
    for name, value in native.source_currents.items():
        assert value == pytest.approx(currents[name], rel=rel, abs=rel * scale_i * 1e-3), name
    return native


@pytest.mark.parametrize("value, expected", [("1k", 1e3), ("2.2MEG", 2.2e6), ("10uF", 1e-5), ("1e-3", 1e-3), ("5p", 5e-12), ("3Mil", 3 * 25.4e-6), (".5m", 5e-4), ("7T", 7e12), ("-2g", -2e9), ("4F", 4e-15), ("1n", 1e-9)])
def test_si_suffixes(value, expected):
    assert parse_value(value) == pytest.approx(expected)


def test_parser_features_and_plain_deck_from_elsewhere():
    text = """Plain resistive deck written by hand
* a comment line
.title ignored
.options reltol=1e-6
VIN In 0 DC 5 ; inline comment
R1 in MID 1K $ another comment
R2 mid GND
+ 1k
I1 0 mid 1m
.save all
.print dc v(mid)
.op
.END
"""
    deck = parse_deck(text)
    assert deck.analysis == "op" and len(deck.elements) == 4
    result = solve_deck(text)
    # v(mid): (5/1k + 1m) / (2/1k) = 3 V
    assert result.node_voltages["mid"] == pytest.approx(3.0, rel=1e-12)
    assert result.source_currents["vin"] == pytest.approx(-2e-3, rel=1e-12)
    assert result.total_source_power_w == pytest.approx(5 * 2e-3 + 3.0 * 1e-3, rel=1e-12)


@pytest.mark.parametrize(
    "card, match",
    [
        ("C1 a 0 1p", r"line 3: element 'C1' \(C\) is not supported"),
        ("M1 a a 0 0 nmos", r"line 3: element 'M1' \(M\)"),
        (".tran 1n 1u", r"line 3: .tran is not supported"),
        ("V2 a 0 PULSE(0 1 0 1n 1n 1u 2u)", "line 3: V2: only DC values"),
        ("R2 a 0 abc", "line 3: not a SPICE number"),
        ("R2 a 0 0", "line 3: R2: zero resistance"),
        ("B1 a 0 V=1", r"line 3: B1: only current B sources"),
        ("B1 a 0 I={V(b)*2}", "supports B expressions of V"),
        ("B1 a 0 I={__import__('os')}", "line 3"),
        ("B1 a 0 I={atan(V(a))}", "unknown name 'atan'"),
        ("B1 a 0 I={exp+V(a)}", "function 'exp' used without arguments"),
        ("B1 a 0 I={c5*V(a)}", "unknown name 'c5'"),
        ("B1 a 0 I={" + "+".join(["V(a)"] * 3000) + "}", "more than 2000 terms"),
        ("B1 a 0 I={" + "+".join(["V(a)"] * 100) + "}", "nested deeper than 60 levels"),
        ("R2 a 0 1_000", "not a SPICE number: '1_000'"),
        ("R2 a 0 {0}", "R2: zero resistance"),
        ("R2 a 0 1e-15", r"\|R\| must lie in"),
        (".options rshunt=1e9", ".options rshunt is refused"),
        ("R2 a b 1k\n.end\nR3 b 0 1k", "card after .end"),
        (".control", "line 3: .control is not supported"),
        ("R1 a 0 5", "duplicate element name"),
    ],
)
def test_unsupported_input_names_the_line(card, match):
    text = f"t\nR1 a 0 1k\n{card}\nV1 a 0 1\n.op\n.end\n"
    with pytest.raises(NetlistError, match=match):
        solve_deck(text)


def test_floating_node_is_a_clear_error():
    with pytest.raises(SimulationError, match="singular"):
        solve_deck("t\nV1 a 0 1\nR1 a 0 1k\nR2 b c 1k\n.op\n.end\n")


@pytest.mark.ngspice
def test_floating_source_full_mna_matches_ngspice():
    assert_agree("floating\nV1 a b 1\nR1 a 0 1k\nR2 b 0 2k\nR3 a b 3k\nI1 0 b 0.5m\n.op\n.end\n")


@pytest.mark.ngspice
@pytest.mark.parametrize("sense", ["virtual_ground", "resistor"])
@pytest.mark.parametrize("shape", [(1, 1), (4, 7), (12, 12)])
def test_linear_crossbar_matches_ngspice(shape, sense):
    rng = np.random.default_rng(sum(shape))
    spec = CrossbarSpec(rng.uniform(1e-6, 1e-4, shape), r_wire_ohm=3.0, sense=sense)
    assert_agree(read_deck(spec, rng.uniform(-0.3, 0.3, shape[0])))


@pytest.mark.ngspice
@pytest.mark.parametrize("r_wire", [0.5, 50.0])
def test_nonlinear_mtj_crossbar_matches_ngspice(r_wire):
    rng = np.random.default_rng(3)
    params = load_device_params("mtj")
    states = rng.integers(0, 2, (10, 8))
    defects = mtj.defect_map((10, 8), mtj.DefectRates(short_rate=0.05, open_rate=0.05, stuck_ap_rate=0.05), seed=2)
    spec = CrossbarSpec.from_mtj(states, params, defects, r_wire_ohm=r_wire)
    result = assert_agree(read_deck(spec, rng.uniform(-0.8, 0.8, 10)))
    assert result.newton_iterations >= 2


def test_structured_solver_equals_deck_solve():
    rng = np.random.default_rng(5)
    g = rng.uniform(1e-5, 1e-3, (9, 13))
    v = rng.uniform(-0.2, 0.2, (3, 9))
    solver = CrossbarSolver(g, 20.0, 50.0)  # heavy IR-drop
    batch = solver.solve(v)
    for k in range(3):
        ref = solve_deck(read_deck(CrossbarSpec(g, r_wire_ohm=20.0, r_driver_ohm=50.0), v[k]))
        expected = np.array([ref.source_currents[f"vsns{j}"] for j in range(13)])
        assert np.allclose(batch.column_current_a[k], expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
    ideal = v[0] @ g  # no wire resistance: G^T V
    assert np.all(np.abs(batch.column_current_a[0]) < np.abs(ideal) * 1.5)


def test_structured_solver_bad_input():
    with pytest.raises(SimulationError, match="r_wire_ohm"):
        CrossbarSolver(np.ones((2, 2)) * 1e-5, 0.0, 10.0)
    with pytest.raises(SimulationError, match="input_v"):
        CrossbarSolver(np.ones((2, 2)) * 1e-5, 1.0, 10.0).solve([1.0, 2.0, 3.0])



@pytest.mark.ngspice
def test_cli_netlist_and_solve_json_both_engines(tmp_path):
    deck = tmp_path / "r.cir"
    proc = run_cli("netlist", "read", "--kind", "mtj", "--rows", "5", "--cols", "4", "-o", str(deck))
    assert proc.returncode == 0, proc.stderr
    outs = {}
    for engine in ("native", "ngspice"):
        proc = run_cli("solve", str(deck), "--engine", engine, "--json")
        assert proc.returncode == 0, proc.stderr
        outs[engine] = json.loads(proc.stdout)
        assert set(outs[engine]) == {"engine", "node_voltages", "source_currents", "total_source_power_w", "solve_time_s"}
    for name, value in outs["ngspice"]["source_currents"].items():
        assert outs["native"]["source_currents"][name] == pytest.approx(value, rel=1e-9, abs=1e-18)
    assert outs["native"]["total_source_power_w"] == pytest.approx(outs["ngspice"]["total_source_power_w"], rel=1e-9)
    assert outs["native"]["source_currents"]["vrow0"] < 0  # current into the + terminal


def test_cli_solve_unsupported_deck_exit_2(tmp_path):
    deck = tmp_path / "w.cir"
    assert run_cli("netlist", "write", "--rows", "2", "--cols", "2", "-o", str(deck)).returncode == 0
    proc = run_cli("solve", str(deck))
    assert proc.returncode == 2 and "not supported by the native engine" in proc.stderr
    assert proc.stderr.count("\n") == 1
