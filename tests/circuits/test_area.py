"""The tile area model against its parts: the array's F^2, the driver chains' transistor widths,
the ADC survey regression and the composition of a tile."""

import math

import pytest

from memcosim.base.errors import ConfigError
from memcosim.circuits.area import AreaParams, adc_area_m2, chain_area_m2, tile_area, transistor_area_m2
from memcosim.netlist.peripherals import CmosProcess, driver_chain

P = AreaParams()
F = 28e-9


def test_transistor_and_chain_footprints():
    assert transistor_area_m2(60e-9, P) == pytest.approx((60e-9 + 2 * F) * 4 * F * 2.0, rel=1e-12)
    process = CmosProcess()
    chain = driver_chain(process, 2e-12)  # the decks' sizing: 1, 4, 16, ... unit widths
    widths = [s * process.w_min_m for s in chain.sizes]
    expected = sum(transistor_area_m2(w, P) + transistor_area_m2(2 * w, P) for w in widths)
    assert chain_area_m2(chain, P) == pytest.approx(expected, rel=1e-12)
    assert chain_area_m2(driver_chain(process, 8e-12), P) > chain_area_m2(chain, P)  # a longer line, a bigger driver


def test_adc_regression():
    """ln A = c0 + c1 ln f + c2 ln node + c3 bits + c4 ln E: 8 bits, 100 MS/s, 7.2 pJ at 28 nm ~ 5000 um^2."""
    a8 = adc_area_m2(8, 1e8, 7.2e-12, P)
    assert 3e-9 < a8 < 7e-9
    c0, c1, c2, c3, c4 = P.adc_area_fit
    assert math.log(a8 * 1e12) == pytest.approx(c0 + c1 * math.log(1e8) + c2 * math.log(28) + c3 * 8 + c4 * math.log(7.2))
    assert adc_area_m2(10, 1e8, 4 * 7.2e-12, P) > a8  # more bits at the same FOM: more energy, more area
    with pytest.raises(ConfigError, match="sample rate"):
        adc_area_m2(8, 0.0, 1e-12, P)


def test_tile_area_composition():
    core = CmosProcess()
    read, write = driver_chain(core, 1e-12), driver_chain(CmosProcess.io_thick_oxide(), 1e-12)
    args = dict(read_chain=read, row_write_chain=write, col_write_chain=write, unit_process=core, feedback_c_f=50e-15,
                dac_bits=8, dac_unit_c_f=1e-15, adc_bits=8, adc_rate_hz=1e8, adc_energy_j=7.2e-12, columns_per_adc=8,
                adder_bits=12)
    one = tile_area(64, 64, 4.0, **args)
    assert one.array_m2 == pytest.approx(64 * 64 * 4 * F**2)
    assert one.drivers_m2 == pytest.approx(64 * (chain_area_m2(read, P) + chain_area_m2(write, P)) + 64 * chain_area_m2(write, P))
    assert one.converters_m2 == pytest.approx(64 * 256e-15 / 2e-3 + 8 * adc_area_m2(8, 1e8, 7.2e-12, P))
    acc = tile_area(64, 64, 4.0, accumulator_bits=16, **args)
    assert acc.digital_m2 - one.digital_m2 == pytest.approx(64 * 64 * 16 * P.sram_bit_m2)
    assert one.to_json()["total_m2"] == pytest.approx(sum(v for k, v in one.to_json().items() if k != "total_m2"))
    with pytest.raises(ConfigError, match="area.feature_size_m"):
        AreaParams(feature_size_m=0.0)
