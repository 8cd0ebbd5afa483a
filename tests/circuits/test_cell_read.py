import numpy as np
import pytest

from memcosim.circuits.cell_read import access_on_resistance_ohm, series_cell_current_a
from memcosim.circuits.ngspice import run_ngspice
from memcosim.netlist import AccessTransistor

ACCESS = AccessTransistor()


def test_without_transistor_is_ohms_law():
    r = np.array([100.0, 5e3, 1.25e4])
    assert np.allclose(series_cell_current_a(r, 0.2), 0.2 / r)


def test_limits_and_on_resistance():
    r_on = access_on_resistance_ohm(ACCESS)
    # a large junction: the transistor adds ~R_on in series
    big = series_cell_current_a(np.array([1e6]), 0.1, ACCESS)[0]
    assert big == pytest.approx(0.1 / (1e6 + r_on), rel=1e-3)
    # a short: the transistor alone limits it, far below V / R_short
    short = series_cell_current_a(np.array([100.0]), 0.1, ACCESS)[0]
    assert short < 0.1 / (100.0 + r_on) * 1.1 and short < 0.1 / 100.0 / 5


@pytest.mark.ngspice
@pytest.mark.parametrize("r_ohm", [100.0, 5e3, 1.25e4])
def test_matches_ngspice_operating_point(r_ohm):
    a = ACCESS
    deck = "\n".join([
        "* 1T1R read cell",
        "vread top 0 dc 0.1",
        f"r1 top mid {r_ohm}",
        f"m1 mid gate 0 0 nacc w={a.width_m} l={a.length_m}",
        f"vg gate 0 dc {a.gate_on_v}",
        f".model nacc nmos level=1 vto={a.vth_v} kp={a.kp_a_per_v2}",
        ".op",
        ".end",
    ])
    spice = run_ngspice(deck)
    i_spice = -spice.source_currents()["vread"]
    ours = series_cell_current_a(np.array([r_ohm]), 0.1, a)[0]
    assert ours == pytest.approx(i_spice, rel=1e-6)


def test_transistor_that_never_turns_on_is_a_clear_error():
    from memcosim.base.errors import ConfigError

    off = AccessTransistor(gate_on_v=0.3)
    with pytest.raises(ConfigError, match="^access.gate_on_v: must exceed vth_v = 0.4 V"):
        series_cell_current_a(np.array([5e3]), 0.1, off)
    with pytest.raises(ConfigError, match="^access.gate_on_v"):
        access_on_resistance_ohm(off)


def test_bad_cell_inputs_name_the_field():
    from memcosim.base.errors import ConfigError

    with pytest.raises(ConfigError, match="^resistance_ohm: must be finite and > 0"):
        series_cell_current_a(np.array([5e3, 0.0]), 0.1)
    with pytest.raises(ConfigError, match="^voltage_v: read voltage must be >= 0"):
        series_cell_current_a(np.array([5e3]), -0.1, ACCESS)
