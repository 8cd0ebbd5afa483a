import numpy as np
import pytest

from memcosim.circuits.ngspice import run_ngspice
from memcosim.base.errors import SimulationError

pytestmark = pytest.mark.ngspice

DIVIDER = """divider
V1 in 0 DC 2
R1 in mid 1k
R2 mid 0 3k
.op
.end
"""


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
def test_divider_both_backends(backend):
    result = run_ngspice(DIVIDER, backend=backend, timeout_s=30)
    v = result.node_voltages()
    assert v["mid"] == pytest.approx(1.5, rel=1e-12)
    assert result.source_currents()["v1"] == pytest.approx(-0.5e-3, rel=1e-12)


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
def test_transient_and_meas(backend):
    deck = """rc
V1 in 0 PULSE(0 1 0 1n 1n 10u 20u)
R1 in out 1k
C1 out 0 1n
.tran 10n 5u
.meas tran vend FIND v(out) AT=5u
.end
"""
    result = run_ngspice(deck, backend=backend, timeout_s=30)
    t = result.vectors["time"]
    assert t[-1] == pytest.approx(5e-6)
    assert result.measurements["vend"] == pytest.approx(1 - np.exp(-5e-6 / 1e-6), rel=1e-2)


@pytest.mark.parametrize("backend", ["shared", "subprocess"])
@pytest.mark.parametrize(
    "deck, message",
    [
        ("floating\nV1 a 0 1\nR1 a 0 1k\nR2 b c 1k\n.op\n.end\n", "singular matrix"),
        ("nomodel\nV1 a 0 1\nM1 a a 0 0 nosuchmodel\n.op\n.end\n", "ngspice"),
    ],
    ids=["floating-node", "unknown-model"],
)
def test_broken_deck_is_a_clear_error(backend, deck, message):
    with pytest.raises(SimulationError, match=message):
        run_ngspice(deck, backend=backend, timeout_s=30)
    # the engine still works afterwards
    assert run_ngspice(DIVIDER, backend=backend, timeout_s=30).node_voltages()["mid"] == pytest.approx(1.5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        run_ngspice(DIVIDER, backend="hspice")
    with pytest.raises(ValueError, match="timeout_s"):
        run_ngspice(DIVIDER, timeout_s=0)
