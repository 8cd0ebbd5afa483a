import dataclasses
import json

import pytest

from memcosim.base.errors import CalibrationError, ConfigError, NetlistError
from memcosim.circuits.ngspice import run_ngspice
from memcosim.circuits.peripheral_models import (
    FORMAT_VERSION,
    PeripheralModels,
    integrator_step_current_a,
    line_load,
)
from memcosim.circuits.peripherals import (
    WRITE_DRIVER_GRID,
    PeripheralGrid,
    characterize_peripherals,
    default_write_driver_models,
)
from memcosim.netlist.peripherals import (
    CmosProcess,
    OpAmp,
    comparator_deck,
    driver_chain,
    driver_deck,
    integrator_deck,
    sense_resistor_deck,
)

pytestmark = pytest.mark.ngspice

PROCESS = CmosProcess()
IO = CmosProcess.io_thick_oxide()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return characterize_peripherals(cache_dir=tmp_path_factory.mktemp("periph-cache"))


@pytest.fixture(scope="module")
def write_models(tmp_path_factory):
    return default_write_driver_models(cache_dir=tmp_path_factory.mktemp("write-cache"))


def test_decks_are_deterministic_and_pass_topology():
    for build in (lambda: driver_deck(PROCESS, 1e-13, 500.0),
                  lambda: integrator_deck(PROCESS, OpAmp(), 1e-13, 1e-4, 1e-8, 0.2),
                  lambda: sense_resistor_deck(PROCESS, OpAmp(), 1e-13, 1e-4, 1e-8, 0.2, 1000.0),
                  lambda: comparator_deck(PROCESS, 5e-15, 0.01)):
        assert build().encode() == build().encode()
    deck = driver_deck(PROCESS, 1e-13, 500.0)
    assert f".model {PROCESS.name}_n nmos level=1 vto=0.35 kp=0.0002 lambda=0.1" in deck
    assert "VDDL vddl 0 DC 0.9" in deck and deck.endswith(".end\n")


def test_driver_chain_sizing():
    c_in = PROCESS.inverter_input_c_f(1.0)
    assert driver_chain(PROCESS, c_in).n_stages == 1
    chain = driver_chain(PROCESS, c_in * 4.0 ** 5, taper=4.0)
    assert chain.n_stages == 5 and chain.sizes == (1.0, 4.0, 16.0, 64.0, 256.0)
    with pytest.raises(NetlistError, match="taper"):
        driver_chain(PROCESS, 1e-13, taper=1.0)


def test_no_injection_through_names_or_text():
    with pytest.raises(NetlistError, match="process.name"):
        CmosProcess(name="x\n.control\nshell touch pwned\n.endc")
    with pytest.raises(NetlistError, match="process.name"):
        CmosProcess(name="a b")
    with pytest.raises(NetlistError, match="load_c_f"):
        driver_deck(PROCESS, float("nan"), 1.0)
    with pytest.raises(NetlistError, match="supply_v"):
        driver_deck(PROCESS, 1e-13, 1.0, supply_v=0.2)
    with pytest.raises(NetlistError, match="delta_v"):
        comparator_deck(PROCESS, 1e-15, 0.0)


def test_driver_energy_closed_form():
    """A large line charged and discharged once: the supply delivers (C_load + C_chain) V^2 to 2 %
    (ngspice, 2026-12-07: 1.45 % over it with the drains' capacitance, the inverters' short-circuit
    current while they switch; 0.75 % under it without), and C_load V^2 alone is within a few %
    once the chain's own capacitance is set to zero."""
    load = 4e-12
    for process in (PROCESS, dataclasses.replace(PROCESS, c_drain_f_per_m=0.0)):
        m = run_ngspice(driver_deck(process, load, 200.0, supply_v=0.7), timeout_s=60).measurements
        energy = m["e_last_j"] + m.get("e_chain_j", 0.0)
        chain = driver_chain(process, load).switched_c_f()
        assert energy == pytest.approx((load + chain) * 0.7 ** 2, rel=0.02)
    assert m["e_last_j"] == pytest.approx(load * 0.7 ** 2, rel=0.02)


def test_held_out_errors_within_five_percent(models):
    errors = models.held_out_errors()
    assert len(errors) == 8 and all(0 <= e <= 0.05 for e in errors.values()), errors
    assert models.driver.validation["energy_n_held_out"] == 6 and models.driver.validation["energy_n_fit"] == 15
    # the fitted laws keep their physical coefficients
    assert models.driver.load_coefficient == pytest.approx(1.0, abs=0.02)
    assert models.integrator.charge_coefficient == pytest.approx(1.0, abs=0.02)
    # the two-pole settling law is the deck's own circuit: coefficient 1, margin well inside 5 %
    assert models.integrator.settling_coefficient == pytest.approx(1.0, abs=0.02)
    assert errors["integrator.settling_max_rel_error"] < 0.03


def test_integrator_step_response_closed_form():
    """The two-pole output current starts at G V C_f / (C_col + C_f), approaches the one-pole
    level G V / (1 + G / (C_f w_u)) and then droops (the feedback capacitor leaks through A0)."""
    op, c, g, t, v = OpAmp(), 1e-13, 1e-4, 1e-8, 0.2
    c_f = g * v * t / op.output_swing_v
    i = integrator_step_current_a(op, c, g, t, v, [0.0, 5e-9, 1e-8, 1e-3])
    w_u = 2 * 3.141592653589793 * op.gbw_hz
    assert i[0] == pytest.approx(g * v * c_f / (c + c_f), rel=1e-9)
    assert i[1] == pytest.approx(g * v / (1 + g / (c_f * w_u)), rel=0.005)
    assert i[1] > i[2] > 0 and abs(i[3]) < 1e-3 * i[2]


def test_write_driver_validates_at_3_v(write_models):
    """The thick-oxide driver covers 1-4 V pulses; a 3 V pulse onto a held-out line is within 5 %."""
    d = write_models.driver
    assert d.supply_min_v <= 1.0 and d.supply_max_v >= 4.0 and write_models.process == IO
    assert all(e <= 0.05 for e in write_models.held_out_errors().values()), write_models.held_out_errors()
    assert d.load_coefficient == pytest.approx(1.0, abs=0.02) and d.chain_coefficient == pytest.approx(1.0, abs=0.05)
    load, r = WRITE_DRIVER_GRID.driver_held_out_loads[1]
    m = run_ngspice(driver_deck(IO, load, r, supply_v=3.0), timeout_s=60).measurements
    assert write_models.driver_energy_j(load, r, 3.0) == pytest.approx(m["e_last_j"] + m.get("e_chain_j", 0.0), rel=0.05)
    for missing in (lambda: write_models.sense_energy_j(1e-13, 1e-4, 1e-8, 0.2),
                    lambda: write_models.comparator_energy_j()):
        with pytest.raises(ConfigError, match="not characterised") as info:
            missing()
        assert "\n" not in str(info.value)


def test_write_driver_energy_closed_form(write_models):
    """Below V_tn + |V_tp| (1.4 V) no short-circuit current flows: deck and model give (C_load + C_chain) V^2."""
    load = 1e-12
    chain = driver_chain(IO, load).switched_c_f()
    m = run_ngspice(driver_deck(IO, load, 200.0, supply_v=1.2), timeout_s=60).measurements
    assert m["e_last_j"] + m.get("e_chain_j", 0.0) == pytest.approx((load + chain) * 1.2 ** 2, rel=0.01)
    assert write_models.driver_energy_j(load, 200.0, 1.2) == pytest.approx((load + chain) * 1.2 ** 2, rel=0.02)


def test_public_api(models):
    c, r = line_load(64, 1e-16, 2.0, 5e-17)
    assert (c, r) == pytest.approx((64 * 1.5e-16, 128.0))
    assert models.driver_energy_j(c, r, 0.9) > c * 0.81
    assert models.driver_energy_j(2 * c, r, 0.9) > models.driver_energy_j(c, r, 0.9)
    assert models.driver_delay_s(c, 10 * r) > models.driver_delay_s(c, r) > 0
    e_int = models.sense_energy_j(1e-13, 1e-4, 1e-8, 0.2)
    assert e_int > models.sense_energy_j(1e-13, 1e-4, 1e-8, 0.2, mode="resistor") > 0
    assert models.sense_time_s(1e-12, 1e-4, 2e-8, 0.1) > models.sense_time_s(1e-13, 1e-4, 2e-8, 0.1)
    assert 1e-15 < models.comparator_energy_j() < models.comparator_energy_j(2e-14)
    assert models.comparator_decision_time_s(1e-3) > models.comparator_decision_time_s(1e-1) > 0
    with pytest.raises(ConfigError, match="v: must be"):
        models.driver_energy_j(c, r, 3.0)
    with pytest.raises(ConfigError, match="rows_or_cols"):
        line_load(0, 1e-16, 1.0, 0.0)


def test_json_round_trip_and_cache(models, tmp_path):
    path = tmp_path / "peripherals.json"
    models.save(path)
    again = PeripheralModels.load(path)
    assert again == models and again.to_json() == models.to_json()
    assert json.loads(path.read_text())["format_version"] == FORMAT_VERSION
    cached = characterize_peripherals(cache_dir=tmp_path / "c")
    assert cached.input_hash == models.input_hash and cached.driver == models.driver


def test_write_driver_json_round_trip(write_models, tmp_path):
    path = tmp_path / "write.json"
    write_models.save(path)
    again = PeripheralModels.load(path)
    assert again == write_models and again.integrator is None and json.loads(path.read_text())["comparator"] is None
    with pytest.raises(ConfigError, match="blocks"):
        characterize_peripherals(blocks=("driver", "adc"))


@pytest.mark.parametrize("text, match", [
    ("{", "not valid JSON"),
    ('{"format_version": 99}', "format_version"),
    ("[]", "JSON object"),
])
def test_bad_models_file_is_one_line(tmp_path, text, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        PeripheralModels.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_bad_coefficient_is_one_line(models, tmp_path):
    data = models.to_json()
    data["driver"]["load_coefficient"] = -1.0
    path = tmp_path / "neg.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="driver.load_coefficient") as info:
        PeripheralModels.load(path)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="no such"):
        PeripheralModels.load(tmp_path / "missing.json")
    for edit, match in ((lambda d: d["process"].update(vdd_v=float("nan")), r"neg.json: process.vdd_v: must be a finite number, got nan"),
                        (lambda d: d["driver"].update(tapr=4.0), r"neg.json: driver.tapr: unknown field")):
        data = models.to_json()
        edit(data)
        with pytest.raises(ConfigError, match=match):
            PeripheralModels.from_json(data, source="neg.json")


def test_refuses_a_fit_that_does_not_validate(tmp_path):
    # every law misses some held-out point by more than 0.1 %: refused, naming the block
    with pytest.raises(CalibrationError, match="held-out relative error"):
        characterize_peripherals(cache_dir=tmp_path, max_rel_error=1e-3)
    # the short-circuit law fitted at 0.63-1.26 V does not extrapolate to 2.7 V
    grid = dataclasses.replace(PeripheralGrid(), driver_held_out_supply=(1.0, 3.0))
    with pytest.raises(CalibrationError, match="driver energy"):
        characterize_peripherals(grid=grid, cache_dir=tmp_path)
