import os
import re
import subprocess

import numpy as np
import pytest

from memcosim.circuits.energy_split import supply_energies_j
from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import load_device_params
from memcosim.base.errors import ConfigError, NetlistError
from memcosim.netlist import AccessTransistor, CrossbarSpec, Deck, check_topology, read_deck, safe_name, write_deck
from memcosim.netlist.crossbar import wire_segment_resistance_ohm

HOSTILE = "a\n.control\nshell touch pwned\n.endc"


def small_spec(**kw):
    return CrossbarSpec(np.array([[1e-5, 2e-5, 3e-5], [4e-5, 5e-5, 6e-5]]), r_wire_ohm=2.0, **kw)


def test_exact_text_of_a_small_read_deck():
    text = read_deck(CrossbarSpec(np.array([[1e-4]]), r_wire_ohm=1.5, r_driver_ohm=10.0), [0.2])
    assert text == (
        "memcosim read 1x1\n"
        "* memcosim read deck: 1 x 1 linear crossbar 'crossbar'\n"
        "* r_wire_ohm=1.5 c_wire_f=0.0 r_driver_ohm=10.0 sense=virtual_ground access_transistor=no\n"
        "* row drivers\n"
        "VROW0 in0 0 DC 0.2\n"
        "RDRV0 in0 r0_0 10.0\n"
        "* row wires\n"
        "* column wires (the last segment leads to the sense node)\n"
        "RWC0_0 c0_0 out0 1.5\n"
        "* cells\n"
        "RC0_0 r0_0 c0_0 10000.0\n"
        "* column sensing\n"
        "VSNS0 out0 0 DC 0\n"
        ".options reltol=1e-12 abstol=1e-18 vntol=1e-15 gmin=1e-30 itl1=500\n"
        ".op\n"
        ".end\n"
    )


def test_same_spec_same_bytes_and_plain_floats():
    a = read_deck(small_spec(), np.array([0.1, 0.2]))
    b = read_deck(small_spec(), [0.1, 0.2])
    assert a == b
    assert "np.float64" not in a and "float64" not in a


def test_hostile_name_is_inert_and_ngspice_creates_nothing(tmp_path):
    spec = small_spec(name=HOSTILE)
    text = read_deck(spec, [0.1, 0.2])
    lines = text.splitlines()
    assert not any(line.lstrip().lower().startswith((".control", "shell", ".endc")) for line in lines)
    assert any("a .control shell touch pwned .endc" in line and line.startswith("*") for line in lines)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for backend in ("shared", "subprocess"):
            run_ngspice(text, backend=backend, timeout_s=30)
    finally:
        os.chdir(cwd)
    assert not (tmp_path / "pwned").exists()
    deck_path = tmp_path / "deck.cir"
    deck_path.write_text(text)
    subprocess.run(["ngspice", "-b", str(deck_path)], cwd=tmp_path, capture_output=True, timeout=60)
    assert list(tmp_path.iterdir()) == [deck_path]


@pytest.mark.parametrize("name", [HOSTILE, "a b", "x.y", "", "ok;rm", "a" * 65, "r(1)"])
def test_unsafe_names_refused(name):
    with pytest.raises(NetlistError, match="not a safe SPICE name"):
        safe_name(name)
    deck = Deck("t")
    with pytest.raises(NetlistError):
        deck.add(name if name else "", ["a", "0"], 1.0)


def test_deck_refuses_control_lines_duplicates_and_bad_numbers():
    deck = Deck("t\n.control")
    assert "\n" not in deck.title
    deck.add("R1", ["a", "0"], 1.0)
    with pytest.raises(NetlistError, match="duplicate"):
        deck.add("r1", ["a", "0"], 2.0)
    with pytest.raises(NetlistError, match="raw line refused"):
        deck.raw(".control")
    with pytest.raises(NetlistError, match="analysis line refused"):
        deck.analysis("shell rm -rf /")
    with pytest.raises(NetlistError, match="finite"):
        deck.add("R2", ["a", "0"], float("nan"))
    with pytest.raises(NetlistError, match="node of R3"):
        deck.add("R3", ["a\n.endc", "0"], 1.0)


def test_topology_errors_name_the_node():
    with pytest.raises(NetlistError, match="node 'b' has no DC path"):
        check_topology("t\nV1 a 0 1\nR1 a 0 1\nR2 b c 1\nR3 c b 1\n.op\n.end\n")
    with pytest.raises(NetlistError, match="node 'x' is dangling"):
        check_topology("t\nV1 a 0 1\nR1 a 0 1\nR2 a x 1\n.op\n.end\n")
    with pytest.raises(NetlistError, match="duplicate element name"):
        check_topology("t\nV1 a 0 1\nR1 a 0 1\nr1 a 0 1\n.op\n.end\n")
    with pytest.raises(NetlistError, match="node 'b' has no DC path"):
        check_topology("t\nV1 a 0 1\nR1 a 0 1\nC1 a b 1p\nR2 b b2 1\nR3 b2 b 1\n.op\n.end\n")


def test_spec_validation():
    with pytest.raises(NetlistError, match="conductance_s"):
        CrossbarSpec(np.array([[1e-5, -1.0]]))
    with pytest.raises(NetlistError, match="sense"):
        CrossbarSpec(np.ones((2, 2)) * 1e-5, sense="tia")
    with pytest.raises(NetlistError, match="input_v"):
        read_deck(small_spec(), [0.1])
    with pytest.raises(NetlistError, match="outside"):
        write_deck(small_spec(), 5, 0, 1.0, 1e-6)
    with pytest.raises(NetlistError, match="width_m"):
        wire_segment_resistance_ohm(1.7e-8, 100e-9, 0.0, 50e-9)
    assert wire_segment_resistance_ohm(2e-8, 100e-9, 50e-9, 100e-9) == pytest.approx(0.4)


@pytest.mark.ngspice
def test_mtj_decks_with_access_transistors_run_in_ngspice():
    params = load_device_params("mtj")
    states = np.array([[0, 1, 1], [1, 0, 1]])
    spec = CrossbarSpec.from_mtj(states, params, access=AccessTransistor(), r_wire_ohm=1.0)
    text = read_deck(spec, [0.2, 0.2])
    assert "M0_0 r0_0 g0 m0_0 0 nacc" in text and "BC0_1 m0_1 c0_1 I={" in text
    result = run_ngspice(text, backend="subprocess", timeout_s=60)
    currents = result.source_currents()
    assert currents["vsns0"] > currents["vsns2"] > 0  # P column conducts more than AP column
    write = write_deck(spec, 1, 2, 1.2, 10e-9, scheme="v_third")
    assert "VG0 g0 0 DC 0.0" in write and "VG1 g1 0 DC 1.2" in write  # only the selected word line on
    energies = supply_energies_j(run_ngspice(write, backend="subprocess", timeout_s=60), spec)
    assert energies["vrow1"] > 0 and sum(energies.values()) > 0 and set(energies) >= {"vg0", "vg1", "vcol2"}


@pytest.mark.ngspice
def test_hzo_write_deck_energy_rises_with_width():
    params = load_device_params("hzo")
    spec = CrossbarSpec(np.full((3, 3), 5e-8), cell="hzo", hzo_params=params, c_wire_f=1e-16)
    totals = []
    for width in (2e-8, 2e-6, 2e-4):
        text = write_deck(spec, 1, 1, -3.0, width)
        assert ".subckt hzocell a b" in text
        totals.append(sum(supply_energies_j(run_ngspice(text, timeout_s=120), spec).values()))
    assert 0 < totals[0] < totals[1] < totals[2]


@pytest.mark.ngspice
def test_mtj_and_hzo_decks_run_in_ngspice_batch_mode(tmp_path):
    """The generated decks run unmodified in `ngspice -b` without errors (``-r``: the waveforms
    are the output; a deck without ``.print`` or ``.meas`` lines would otherwise not be run)."""
    mtj_spec = CrossbarSpec.from_mtj(np.array([[0, 1], [1, 0]]), load_device_params("mtj"), access=AccessTransistor())
    hzo_spec = CrossbarSpec(np.full((3, 3), 5e-8), cell="hzo", hzo_params=load_device_params("hzo"), c_wire_f=1e-16)
    decks = {
        "mtj_read": read_deck(mtj_spec, [0.2, 0.1]),
        "mtj_write": write_deck(mtj_spec, 0, 1, 1.0, 10e-9),
        "hzo_read": read_deck(hzo_spec, [0.1] * 3),
        "hzo_write": write_deck(hzo_spec, 2, 0, -3.0, 2e-6),
    }
    for name, text in decks.items():
        path = tmp_path / f"{name}.cir"
        path.write_text(text)
        raw = tmp_path / f"{name}.raw"
        proc = subprocess.run(["ngspice", "-b", "-r", str(raw), str(path)], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, (name, output[-800:])
        # ngspice's error messages start a line with "Error"; the batch-mode model listing
        # prints "<<NAN, error = 7>>" for unset noise parameters, which is no error
        assert not re.search(r"^\s*error\b", output, re.IGNORECASE | re.MULTILINE), (name, output[-800:])
        plot = re.search(rb"Plotname:\s*(.*)", raw.read_bytes()).group(1).decode().lower()
        assert plot.startswith("transient" if name.endswith("write") else "operating point"), (name, plot)


def _with_old_meas_lines(text, spec):
    """The deck as it was before the supplies' energies were integrated from the waveforms: one
    ``.meas ... INTEG par(...)`` per supply (ngspice allows 99 of them)."""
    from memcosim.netlist.crossbar import supply_sources

    stop = text.split("\n.tran ")[1].split()[1]
    meas = "".join(f".meas tran e_{name.lower()} INTEG par('-v({node})*i({name})') from=0 to={stop}\n"
                   for name, node in supply_sources(spec))
    return text.replace("\n.end\n", "\n" + meas + ".end\n")


@pytest.mark.ngspice
@pytest.mark.parametrize("width", [2e-8, 2e-6])
def test_supply_energies_equal_the_old_meas_lines(width):
    """Where the per-supply ``.meas`` decks ran, the energies integrated from the saved waveforms
    agree with them: 0.1-0.2 % apart, ngspice's ``par()`` B sources trailing the converged currents."""
    spec = CrossbarSpec(np.full((8, 8), 6e-8), cell="hzo", hzo_params=load_device_params("hzo"), c_wire_f=1e-16)
    text = write_deck(spec, 7, 0, -3.0, width)
    assert "par(" not in text and ".meas" not in text
    old = run_ngspice(_with_old_meas_lines(text, spec), timeout_s=60).measurements
    new = supply_energies_j(run_ngspice(text, timeout_s=60), spec)
    assert set(old) == {f"e_{k}" for k in new}
    assert sum(new.values()) == pytest.approx(sum(old.values()), rel=5e-3)
    assert new["vrow7"] == pytest.approx(old["e_vrow7"], rel=5e-3)


@pytest.mark.ngspice
def test_a_deck_with_more_than_99_supplies_runs_in_ngspice():
    """120 row and column drivers: past the 99 ``par()`` calls the per-supply ``.meas`` lines needed."""
    spec = CrossbarSpec(np.full((110, 10), 6e-8), cell="hzo", hzo_params=load_device_params("hzo"), c_wire_f=1e-16)
    energies = supply_energies_j(run_ngspice(write_deck(spec, 0, 0, -3.0, 2e-8), timeout_s=120), spec)
    assert len(energies) == 120 and energies["vrow0"] > 0 and sum(energies.values()) > 0


def test_a_deck_over_the_memory_budget_is_refused_before_it_is_rendered(monkeypatch):
    monkeypatch.setenv("MEMCOSIM_MEMORY_BUDGET_GB", "0.1")
    spec = CrossbarSpec(np.full((256, 256), 1e-5))  # 256 x 256: about 340 MB to render
    with pytest.raises(ConfigError, match=r"read deck of a 256 x 256 array needs about 3\d\d MB"):
        read_deck(spec, np.zeros(256))
    with pytest.raises(ConfigError, match="pulse deck of a 256 x 256 array needs about"):
        write_deck(spec, 0, 0, 1.0, 1e-6)
