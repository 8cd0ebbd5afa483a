"""The decks restate the cells' conduction laws in SPICE syntax: tie them to the device functions
(memcosim.devices.hzo.cell_current_a, memcosim.devices.mtj.current_a; rule 11: one law, one
function, the deck tested against it)."""

import re

import numpy as np
import pytest

from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import hzo, load_device_params, mtj
from memcosim.netlist import CrossbarSpec, read_deck, write_deck

PARAMS = load_device_params("hzo")
VOLTS = np.array([-3.0, -1.5, -0.2, 0.1, 0.7, 2.0, 3.5])


def _deck():
    spec = CrossbarSpec(np.array([[3e-8, 5e-8], [7e-8, 4e-8]]), cell="hzo", hzo_params=PARAMS, c_wire_f=1e-16)
    return write_deck(spec, 0, 1, -3.0, 2e-6)


def _subcircuit(text):
    return re.search(r"^\.subckt hzocell.*?^\.ends hzocell$", text, re.MULTILINE | re.DOTALL).group(0)


def _instances(text):
    """(gread, gsw) of every cell instance of the deck."""
    found = re.findall(r"^X\d+_\d+ \S+ \S+ hzocell gread=(\S+) gsw=(\S+)$", text, re.MULTILINE)
    return [(float(a), float(b)) for a, b in found]


def test_the_cell_expression_is_the_device_law():
    text = _deck()
    expression = re.search(r"^bcell a b I=\{(.*)\}$", _subcircuit(text), re.MULTILINE).group(1)
    python = expression.replace("V(a,b)", "v").replace("^", "**")
    cells = _instances(text)
    assert len(cells) == 4 and any(gsw > 0 for _, gsw in cells)  # the selected and half-selected cells switch
    for gread, gsw in cells:
        for v in VOLTS:
            deck_current = eval(python, {"__builtins__": {}}, {"sinh": np.sinh, "gread": gread, "gsw": gsw, "v": v})
            assert deck_current == pytest.approx(float(hzo.cell_current_a(gread, v, PARAMS, gsw)), rel=1e-12)


@pytest.mark.ngspice
def test_ngspice_draws_the_device_law_through_one_cell():
    text = _deck()
    subcircuit = _subcircuit(text)
    for gread, gsw in _instances(text)[:2]:
        for v in VOLTS[[0, 3, 5]].tolist():
            deck = "\n".join(["one hzo cell", subcircuit, f"V1 a 0 DC {v!r}",
                              f"X1 a 0 hzocell gread={gread!r} gsw={gsw!r}",
                              ".options reltol=1e-12 abstol=1e-18 vntol=1e-15", ".op", ".end", ""])
            current = -run_ngspice(deck, backend="subprocess", timeout_s=60).source_currents()["v1"]
            assert current == pytest.approx(float(hzo.cell_current_a(gread, v, PARAMS, gsw)), rel=1e-9)


def test_the_mtj_card_is_the_device_law():
    """The antiparallel MTJ's B element restates mtj.current_a (bias-dependent TMR)."""
    params = load_device_params("mtj")
    text = read_deck(CrossbarSpec.from_mtj(np.array([[0, 1]]), params), [0.2])
    card = re.search(r"^BC0_1 (\S+) (\S+) I=\{(.*)\}$", text, re.MULTILINE)
    a, b, expression = card.groups()
    python = expression.replace(f"V({a},{b})", "v").replace("^", "**")
    for v in VOLTS:
        deck_current = eval(python, {"__builtins__": {}}, {"v": v})
        assert deck_current == pytest.approx(float(mtj.current_a(mtj.AP, v, params)), rel=1e-12)
