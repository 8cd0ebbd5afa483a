"""memcosim solve's engines on user decks: nothing executes, nothing wrong is reported."""

import json

import pytest

from memcosim.base.errors import NetlistError, SimulationError
from memcosim.circuits import ngspice
from memcosim.circuits.dc import solve_dc
from memcosim.circuits.native import solve_deck
from memcosim.circuits.screen import screen_dc_deck
from tests.conftest import run_cli

DIVIDER = "divider\nV1 1 0 2\nR1 1 2 1k\nR2 2 0 3k\nI1 2 0 1m\n.op\n.end\n"


@pytest.mark.parametrize("deck, message", [
    ("t\nV1 1 0 1\nR1 1 0 1k\n.control\nshell touch {marker}\n.endc\n.op\n.end\n", r":4: \.control would run ngspice commands"),
    ("*ng_script\nshell touch {marker}\n", "ng_script"),
    ("t\nV1 1 0 1\nshell touch {marker}\n.op\n", r":3: shell would run ngspice commands"),
    ("t\nV1 1 0 1\nR1 1 0 1k\n.tran 1n 10n\n.end\n", r"\.tran: solve computes a DC operating point"),
    ("t\nV1 1 0 1\nR1 1 0 1k\n.meas tran x avg v(1)\n.op\n", r"\.meas"),
    ("t\nV1 1 0 1\nR1 1 0 0\n.op\n", "R1: zero resistance"),
    ("t\nV1 1 0 1\nR1 1 0\n.op\n", r"R1: a resistor needs 'R n1 n2 value'"),
    ("t\nV1 1 0\nR1 1 0 1k\n.op\n", "V1: a source needs a value"),
    ("t\nV1 1 0 1\n.include /etc/passwd\n.op\n", "outside the deck's folder"),
    ("t\nV1 1 0 1\n.lib models.lib tt\n.op\n", r"\.lib is not supported"),
    ("t\nV1 1 0 1\n.exec foo\n.op\n", r"\.exec is not a circuit description card"),
])
def test_refused_decks_name_the_line_and_run_nothing(tmp_path, deck, message):
    marker = tmp_path / "executed"
    text = deck.format(marker=marker)
    with pytest.raises(NetlistError, match=message):
        screen_dc_deck(text, tmp_path, "deck.cir")
    assert not marker.exists()


def test_include_inside_the_folder_is_screened_and_inlined(tmp_path):
    (tmp_path / "load.inc").write_text("R2 1 2 1k\nR3 2 0 1k\n")
    text = screen_dc_deck("t\nV1 1 0 1\n.include load.inc\n.op\n.end\n", tmp_path)
    assert "R3 2 0 1k" in text and ".include" not in text.replace("* included from", "")
    (tmp_path / "evil.inc").write_text(".control\nshell touch x\n.endc\n")
    with pytest.raises(NetlistError, match=r"evil.inc:1: \.control"):
        screen_dc_deck("t\nV1 1 0 1\n.include evil.inc\n.op\n", tmp_path)


@pytest.mark.ngspice
def test_control_block_is_not_executed_through_the_cli(tmp_path):
    marker = tmp_path / "PWNED"
    deck = tmp_path / "deck.cir"
    deck.write_text(f"t\nV1 1 0 1\nR1 1 0 1k\n.control\nshell touch {marker}\n.endc\n.op\n.end\n")
    proc = run_cli("solve", str(deck), "--engine", "ngspice")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not marker.exists()


@pytest.mark.ngspice
def test_engines_agree_and_power_comes_from_the_solution():
    native = solve_dc(DIVIDER, "native")
    spice = solve_dc(DIVIDER, "ngspice", timeout_s=60)
    # node 2: (2 - v2)/1k = v2/3k + 1m  ->  v2 = 0.75 V; V1 gives 1.25 mA, I1 takes 0.75 mW
    assert native.node_voltages["2"] == pytest.approx(0.75, rel=1e-12)
    assert spice.node_voltages["2"] == pytest.approx(0.75, rel=1e-9)
    assert native.total_source_power_w == pytest.approx(2 * 1.25e-3 - 0.75 * 1e-3, rel=1e-12)
    assert spice.total_source_power_w == pytest.approx(native.total_source_power_w, rel=1e-9)


@pytest.mark.parametrize("deck, error, message", [
    ("t\nV1 1 0 1\nR1 1 2 1k\nB1 2 0 I={1/v(2)}\n.op\n", SimulationError, "Kirchhoff's current law at node '2'"),
    ("t\nV1 1 0 1\nR1 1 2 1k\nB1 2 0 I={sqrt(-1-v(2))}\n.op\n", SimulationError, "Kirchhoff's current law"),
    ("t\nV1 1 0 1\nR1 1 0 1e-320\n.op\n", NetlistError, r"\|R\| must lie in \[0.001, 1e\+15\] ohms"),
])
def test_native_refuses_what_it_cannot_solve(deck, error, message):
    with pytest.raises(error, match=message):
        solve_deck(deck)


def test_json_output_is_strict(tmp_path):
    deck = tmp_path / "d.cir"
    deck.write_text(DIVIDER)
    proc = run_cli("solve", str(deck), "--json")
    assert proc.returncode == 0
    result = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert result["total_source_power_w"] == pytest.approx(1.75e-3)
    for bad in ("0", "-1", "nan", "inf"):
        proc = run_cli("solve", str(deck), "--timeout-s", bad)
        assert proc.returncode == 2 and "--timeout-s" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.ngspice
def test_a_given_up_shared_library_falls_back_to_an_ngspice_process(monkeypatch):
    monkeypatch.setattr(ngspice, "_SHARED_BROKEN", ["test"])
    result = ngspice.run_ngspice(DIVIDER.replace("I1 2 0 1m\n", ""), backend="shared", timeout_s=60)
    assert result.backend == "subprocess" and result.node_voltages()["2"] == pytest.approx(1.5)
