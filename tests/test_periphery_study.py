"""A study's [periphery]: converter precision and whole-tile costs built from the study, booked in
training and in the die study, and reported."""

import dataclasses
import json

import pytest

from memcosim.base.errors import ConfigError
from memcosim.build import dies_config, tile_config
from memcosim.build_periphery import die_periphery_costs, periphery_costs
from memcosim.circuits import converters
from memcosim.circuits.peripherals import default_peripheral_models
from memcosim.config import parse_study
from memcosim.devices import load_device_params

HZO_STUDY = {"device": {"kind": "hzo", "pulse_amplitude_v": 3.0}, "circuit": {"energy_model": "device"},
             "training": {"dataset": "digits", "hidden_sizes": [16], "epochs": 1, "batch_size": 32,
                          "learning_rate": 0.1}}


def study(**periphery):
    return parse_study({**HZO_STUDY, "periphery": {"enabled": True, **periphery}})


def test_without_a_periphery_the_tile_is_the_array_alone():
    tile = tile_config(parse_study(HZO_STUDY))
    assert tile.energy.periphery is None and tile.io.ideal


def test_the_study_sets_the_converters_and_their_costs():
    tile = tile_config(study(dac_bits=6, adc_bits=5, columns_per_adc=4))
    assert (tile.io.inp_bits, tile.io.out_bits, tile.io.columns_per_adc) == (6, 5, 4)
    costs = tile.energy.periphery
    assert costs.dac_j == converters.dac_energy_j(6) and costs.adc_j == converters.adc_energy_j(5)
    assert all(v > 0 for v in dataclasses.asdict(costs).values())
    # not quantised: ideal reads, the converters still costed
    ideal = tile_config(study(quantize=False))
    assert ideal.io.ideal and ideal.energy.periphery.adc_j == converters.adc_energy_j(8)


def test_energy_falls_with_adc_bits_as_the_figure_of_merit_says():
    params = load_device_params("hzo")
    e = {bits: periphery_costs(study(adc_bits=bits), params, 3.0).adc_j for bits in (4, 6, 8)}
    assert e[4] < e[6] < e[8] and e[8] / e[4] == pytest.approx(2.0**4)


def test_a_pulse_goes_to_the_driver_characterised_for_it_or_is_refused():
    params = load_device_params("hzo")
    low, high = periphery_costs(study(), params, 0.8), periphery_costs(study(), params, 3.0)
    assert 0 < low.write_driver_j < high.write_driver_j  # the core chain at 0.8 V, the 3.3 V chain at 3 V
    with pytest.raises(ConfigError, match="periphery: the programming pulse of 0.5 V is outside both"):
        periphery_costs(study(), params, 0.5)


def test_the_die_study_decides_with_comparators_and_converts_its_outputs():
    s = parse_study({"device": {"kind": "mtj"}, "training": {"hidden_sizes": [16]},
                     "periphery": {"enabled": True, "adc_bits": 6}})
    hidden, output = die_periphery_costs(s, load_device_params("mtj"))
    assert hidden.dac_j == 0 and hidden.adc_j == default_peripheral_models().comparator_energy_j()
    assert output.adc_j == converters.adc_energy_j(6) and output.sense_j == hidden.sense_j
    assert dies_config(s).circuit.periphery == (hidden, output)
    assert dies_config(parse_study({"device": {"kind": "mtj"}, "training": {"hidden_sizes": [16]}})).circuit.periphery is None


def test_a_run_books_and_reports_the_whole_tile(tmp_path):
    from memcosim.run import run_study

    s = parse_study({**HZO_STUDY, "name": "tile", "periphery": {"enabled": True, "adc_bits": 6},
                     "sweep": {"periphery.adc_bits": [4, 8]}})
    run_study(s, tmp_path, progress=False)
    results = json.loads((tmp_path / "results.json").read_text())
    for run in results["runs"]:
        parts = sum(run[f"update_{p}"] for p in ("array_selected_j", "array_half_selected_j", "array_wires_j",
                                                 "drivers_j", "converters_j", "sense_j", "digital_j"))
        assert run["tile_energy_per_update_j"] == pytest.approx(parts, rel=1e-9)
        assert run["update_digital_j"] > 0 and run["inference_converters_j"] > run["inference_array_j"] > 0
        assert run["tile_latency_per_update_s"] > 0 and run["tile_latency_per_inference_s"] > 0
    four, eight = sorted(results["runs"], key=lambda r: r["periphery.adc_bits"])
    assert four["inference_converters_j"] < eight["inference_converters_j"]
    report = (tmp_path / "report.md").read_text()
    assert "## Whole tile" in report and (tmp_path / "tile_breakdown.png").stat().st_size > 0
    # area beside energy and latency: the blocks add up, the ADCs grow with their bits, the array is rows x cols x 4F^2
    for run in results["runs"]:
        parts = [run[f"area_{p}_m2"] for p in ("array", "drivers", "sense", "converters", "digital")]
        assert run["tile_area_m2"] == pytest.approx(sum(parts), rel=1e-12) and min(parts) > 0
        assert run["area_array_m2"] == pytest.approx(s.array.rows * s.array.cols * 4 * 28e-9**2, rel=1e-12)
        assert run["network_area_m2"] == pytest.approx(run["tiles"] * run["tile_area_m2"], rel=1e-12) and run["tiles"] >= 1
    assert four["area_converters_m2"] < eight["area_converters_m2"] and four["area_drivers_m2"] == eight["area_drivers_m2"]
    assert "## Area" in report and "mm^2 / tile" in report


def test_lines_without_capacitance_are_said_not_silently_free(caplog):
    s = parse_study({"device": {"kind": "mtj"}, "training": {"hidden_sizes": [16]}, "array": {"c_wire_f": 0.0},
                     "periphery": {"enabled": True}})
    with caplog.at_level("WARNING"):
        hidden, _ = die_periphery_costs(s, load_device_params("mtj"))
    assert hidden.read_driver_j == 0 and "set array.c_wire_f" in caplog.text


def test_bad_periphery_fields_are_one_line_errors_naming_the_field():
    for key, value in (("adc_bits", 1), ("columns_per_adc", 0), ("inp_bound", 1.5), ("adc_fom_walden_j", -1.0)):
        with pytest.raises(ConfigError, match=f"periphery.{key}") as info:
            parse_study({"periphery": {"enabled": True, key: value}})
        assert "\n" not in str(info.value)
