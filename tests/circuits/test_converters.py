import math

import numpy as np
import pytest

from memcosim.base.errors import ConfigError
from memcosim.base.typed import dumps, loads
from memcosim.circuits.converters import (ConverterParams, accumulator_energy_j, adc_energy_j, adc_sample_rate_hz,
                                          adc_time_s, adder_energy_j, dac_energy_j, dac_time_s, enob_bits,
                                          scale_digital_energy_j, schreier_energy_j, sndr_db, walden_energy_j)

IDEAL_ENOB = ConverterParams(adc_enob_loss_bits=0.0)


def test_walden_energy_at_8_bits_is_fom_times_256():
    params = ConverterParams(adc_enob_loss_bits=0.0, adc_fom_walden_j=10e-15)
    assert adc_energy_j(8, params) == pytest.approx(10e-15 * 256, rel=1e-15)
    # the default half-bit loss: 2^7.5 steps
    assert adc_energy_j(8) == pytest.approx(28e-15 * 2**7.5, rel=1e-15)
    assert walden_energy_j(8.0, 1.0) == 256.0


def test_schreier_energy_by_hand():
    # FOM_S = SNDR + 10 log10(fs / (2 P)): 8 ideal bits give SNDR = 6.02 * 8 + 1.76 = 49.92 dB;
    # at FOM_S = 160 dB, P / fs = 10^((49.92 - 160) / 10) / 2 = 10^-11.008 / 2 = 4.9083e-12 J
    params = ConverterParams(adc_fom="schreier", adc_fom_schreier_db=160.0, adc_enob_loss_bits=0.0)
    assert sndr_db(8) == pytest.approx(49.92, abs=1e-12)
    assert adc_energy_j(8, params) == pytest.approx(0.5 * 10**-11.008, rel=1e-12)
    assert adc_energy_j(8, params) == pytest.approx(4.9083e-12, rel=1e-4)
    # and back: a 1 mW, 100 MS/s ADC at 49.92 dB is FOM_S = 49.92 + 10 log10(1e8 / 2e-3) = 166.91 dB
    fom = 49.92 + 10 * math.log10(1e8 / (2 * 1e-3))
    assert schreier_energy_j(49.92, fom) == pytest.approx(1e-3 / 1e8, rel=1e-12)


def test_energies_rise_with_bits_and_take_arrays():
    bits = np.arange(2, 13)
    for fn in (adc_energy_j, dac_energy_j, adder_energy_j):
        e = fn(bits)
        assert isinstance(e, np.ndarray) and e.shape == bits.shape
        assert np.all(np.diff(e) > 0), fn.__name__
        assert isinstance(fn(8), float)
        assert e[6] == pytest.approx(fn(8), rel=1e-15)
    assert np.all(np.diff(adc_energy_j(bits, ConverterParams(adc_fom="schreier"))) > 0)
    assert np.all(np.diff(accumulator_energy_j(bits, op="write")) > 0)


def test_sar_time_and_rate():
    params = ConverterParams(adc_clock_hz=1e9, adc_overhead_cycles=2)
    assert adc_time_s(8, params) == pytest.approx(10e-9, rel=1e-15)
    assert adc_sample_rate_hz(8, params) == pytest.approx(1e8, rel=1e-12)
    assert adc_time_s(np.array([4, 8]), params) == pytest.approx([6e-9, 10e-9])
    flash = ConverterParams(adc_architecture="flash", adc_clock_hz=1e9, adc_overhead_cycles=1)
    assert adc_time_s(8, flash) == adc_time_s(4, flash) == pytest.approx(2e-9)


def test_dac_energy_and_settling_by_hand():
    params = ConverterParams(dac_unit_cap_f=2e-15, dac_voltage_v=0.5, dac_tau_s=100e-12)
    assert dac_energy_j(6, params) == pytest.approx(2e-15 * 64 * 0.25, rel=1e-15)
    assert dac_time_s(7, params) == pytest.approx(8 * math.log(2) * 100e-12, rel=1e-15)


def test_digital_energies_are_horowitz_scaled_to_28_nm():
    p = ConverterParams()
    assert p.node_nm == 28.0 and p.supply_v == 0.9
    assert p.adder_j_per_bit == pytest.approx(0.1e-12 / 32 * 28 / 45, rel=1e-12)
    assert accumulator_energy_j(16, p, "read") == pytest.approx(16 * 10e-12 / 64 * 28 / 45, rel=1e-12)
    assert accumulator_energy_j(16, p, "write") == pytest.approx(16 * p.sram_write_j_per_bit, rel=1e-15)
    assert adder_energy_j(32, p) == pytest.approx(0.1e-12 * 28 / 45, rel=1e-12)
    assert scale_digital_energy_j(1.0, 45, 45, 0.9, 0.45) == pytest.approx(0.25)


def test_json_round_trip():
    p = ConverterParams(adc_fom="schreier", adc_clock_hz=2e9, adc_overhead_cycles=3)
    assert ConverterParams.from_json(p.to_json()) == p and isinstance(p.to_json(), dict)
    assert loads(ConverterParams, dumps(p), "c.json") == p
    assert ConverterParams.from_json({"adc_clock_hz": 5e8}) == ConverterParams(adc_clock_hz=5e8)
    with pytest.raises(ConfigError, match="c.json: adc_clok_hz: unknown field"):
        ConverterParams.from_json({"adc_clok_hz": 5e8}, source="c.json")
    with pytest.raises(ConfigError, match="c.json: adc_clock_hz: must be a finite number, got nan"):
        ConverterParams.from_json({"adc_clock_hz": float("nan")}, source="c.json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        loads(ConverterParams, "{", "c.json")


@pytest.mark.parametrize("kw, field", [
    ({"adc_fom_walden_j": -1e-15}, "adc_fom_walden_j"),
    ({"adc_fom_walden_j": float("nan")}, "adc_fom_walden_j"),
    ({"adc_fom_schreier_db": 300.0}, "adc_fom_schreier_db"),
    ({"adc_enob_loss_bits": 1.0}, "adc_enob_loss_bits"),
    ({"adc_overhead_cycles": 1.5}, "adc_overhead_cycles"),
    ({"adc_architecture": "pipeline"}, "adc_architecture"),
    ({"adc_fom": "murmann"}, "adc_fom"),
    ({"dac_unit_cap_f": 0.0}, "dac_unit_cap_f"),
    ({"sram_read_j_per_bit": "1e-15"}, "sram_read_j_per_bit"),
])
def test_bad_params_give_one_line_errors_naming_the_field(kw, field):
    with pytest.raises(ConfigError) as info:
        ConverterParams(**kw)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"converters.{field}: got ")


@pytest.mark.parametrize("call, name", [
    (lambda: adc_energy_j(0), "adc bits"),
    (lambda: adc_energy_j(8.5), "adc bits"),
    (lambda: adc_time_s(np.array([4, 40])), "adc bits"),
    (lambda: dac_energy_j(True), "dac bits"),
    (lambda: accumulator_energy_j(16, op="erase"), "op"),
    (lambda: adder_energy_j(-1), "adder bits"),
    (lambda: enob_bits("8"), "adc bits"),
])
def test_bad_bits_are_refused(call, name):
    with pytest.raises(ConfigError, match=f"^{name}: got"):
        call()
