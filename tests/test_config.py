import pytest

from memcosim.config import load_study, parse_study, sweep_points
from memcosim.base.errors import ConfigError
from memcosim.run import quickstart_path
from tests.conftest import REPO

BAD = [
    ({"array": {"rows": -4}}, "array.rows", "[1, 4096]"),
    ({"array": {"rows": 0}}, "array.rows", "[1, 4096]"),
    ({"array": {"cols": 5000}}, "array.cols", "[1, 4096]"),
    ({"array": {"rows": "4"}}, "array.rows", "integer"),
    ({"array": {"rows": 4.5}}, "array.rows", "integer"),
    ({"array": {"r_wire_ohm": -1.0}}, "array.r_wire_ohm", "[0, 1e+06]"),
    ({"array": {"r_wire_ohm": float("nan")}}, "array.r_wire_ohm", "finite"),
    ({"array": {"r_wire_ohm": float("inf")}}, "array.r_wire_ohm", "finite"),
    ({"array": {"sense": "tia"}}, "array.sense", "'virtual_ground', 'resistor'"),
    ({"array": {"access_transistor": "yes"}}, "array.access_transistor", "bool"),
    ({"device": {"pulse_widht_s": 1e-6}}, "device.pulse_widht_s", "did you mean 'pulse_width_s'"),
    ({"device": {"pulse_width_s": 1e-12}}, "device.pulse_width_s", "[1e-09, 0.01]"),
    ({"device": {"pulse_width_s": 1.0}}, "device.pulse_width_s", "[1e-09, 0.01]"),
    ({"device": {"pulse_amplitude_v": 0.0}}, "device.pulse_amplitude_v", "(0, 10]"),
    ({"device": {"kind": "rram"}}, "device.kind", "'hzo', 'mtj'"),
    ({"device": {"short_rate": 1.5}}, "device.short_rate", "[0, 1]"),
    ({"device": {"short_rate": 0.6, "open_rate": 0.5}}, "device", "[0, 1]"),
    ({"device": {"read_voltage_v": -0.1}}, "device.read_voltage_v", "(0, 2]"),
    ({"device": {"preset": "a\n.control"}}, "device.preset", "pattern"),
    ({"training": {"epochs": 0}}, "training.epochs", "[1, 10000]"),
    ({"training": {"algorithm": "adam"}}, "training.algorithm", "mixed_precision"),
    ({"training": {"hidden_sizes": [0]}}, "training.hidden_sizes.0", "greater than or equal to 1"),
    ({"training": {"learning_rate": -0.1}}, "training.learning_rate", "(0, 100]"),
    ({"training": {"batch_size": 2.0}}, "training.batch_size", "integer"),
    ({"circuit": {"engine": "spectre"}}, "circuit.engine", "'native', 'ngspice'"),
    ({"circuit": {"timeout_s": 0}}, "circuit.timeout_s", "(0, 86400]"),
    ({"name": "a b"}, "name", "pattern"),
    ({"name": "x\n.control\nshell touch pwned\n.endc"}, "name", "pattern"),
    ({"seed": -1}, "seed", "[0, 2**63)"),
    ({"seed": 1.5}, "seed", "integer"),
    ({"bogus": 1}, "bogus", "unknown key"),
    ({"arrray": {"rows": 4}}, "arrray", "did you mean 'array'"),
    ({"sweep": {"device.pulse_wdth_s": [1e-6]}}, "sweep.device.pulse_wdth_s", "did you mean 'device.pulse_width_s'"),
    ({"sweep": {"device.pulse_width_s": [1e-10]}}, "device.pulse_width_s", "[1e-09, 0.01]"),
    ({"sweep": {"device.pulse_width_s": []}}, "sweep.device.pulse_width_s", "at least one value"),
    ({"sweep": {"nosection.x": [1]}}, "sweep.nosection.x", "not a study field"),
    ({"output": {"plots": 1}}, "output.plots", "bool"),
    ({"array": {"access_gate_v": 0.4}}, "array.access_gate_v", "(0.4, 5]"),
    ({"array": {"access_width_m": 0.0}}, "array.access_width_m", "(0, 0.0001]"),
    ({"circuit": {"sense_offset_a": -1e-6}}, "circuit.sense_offset_a", "[0, 1]"),
    ({"dies": {"recalibration_inputs": -1}}, "dies.recalibration_inputs", "[0, 60000]"),
    ({"dies": {"input_threshold": 1.0}}, "dies.input_threshold", "(0, 1)"),
    ({"dies": {"count": 0}}, "dies.count", "[1, 10000]"),
    ({"dies": {"modes": ["adam"]}}, "dies.modes.0", "'statistics_aware'"),
    ({"dies": {"ir_model": "spice"}}, "dies.ir_model", "'first_order', 'exact'"),
    ({"dies": {"hardware_aware_epochs": 0}}, "dies.hardware_aware_epochs", "[1, 1000]"),
    ({"dies": {"input_pool": 8}}, "dies.input_pool", "[1, 7]"),
    ({"device": {"kind": "mtj"}, "array": {"r_driver_ohm": 0.0}, "dies": {"ir_model": "exact"}}, "dies.ir_model",
     "array.r_driver_ohm > 0"),
]


@pytest.mark.parametrize("data, field, allowed", BAD)
def test_bad_input_names_field_and_allowed_values(data, field, allowed):
    with pytest.raises(ConfigError) as info:
        parse_study(data)
    message = str(info.value)
    assert field in message
    assert allowed in message
    assert "\n" not in message


def test_at_least_twenty_kinds_of_bad_input():
    assert len(BAD) >= 20


def test_defaults_and_types():
    study = parse_study({"name": "s1", "array": {"rows": 8, "cols": 4}, "device": {"pulse_width_s": 2e-8}})
    assert (study.array.rows, study.array.cols) == (8, 4)
    assert study.device.pulse_width_s == 2e-8
    assert study.device.kind == "hzo"


def test_quickstart_example_validates():
    study = load_study(quickstart_path())
    points = sweep_points(study)
    assert [p[1].device.pulse_width_s for p in points] == [2e-8, 2e-6, 2e-4]


def test_sweep_nested_table_and_grid_order():
    study = parse_study({"sweep": {"device": {"pulse_width_s": [1e-8, 1e-6]}, "seed": [1, 2, 3]}})
    points = sweep_points(study)
    assert len(points) == 6
    assert points[1][0] == {"device.pulse_width_s": 1e-8, "seed": 2}
    assert points[1][1].seed == 2 and points[5][1].device.pulse_width_s == 1e-6


def test_invalid_toml_reports_line(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("[array]\nrows = = 3\n")
    with pytest.raises(ConfigError, match=r"line 2"):
        load_study(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such study file"):
        load_study(tmp_path / "nope.toml")


def test_studies_are_frozen():
    study = parse_study({})
    with pytest.raises(Exception):
        study.array.rows = 3


@pytest.mark.parametrize("old, new", [("dies", "count"), ("die_modes", "modes"), ("hardware_aware_epochs", "hardware_aware_epochs"),
                                      ("input_pool", "input_pool"), ("input_threshold", "input_threshold"),
                                      ("die_recalibration_inputs", "recalibration_inputs")])
def test_old_die_keys_say_where_they_moved(old, new):
    value = ["ideal"] if old == "die_modes" else (0.3 if old == "input_threshold" else 2)
    with pytest.raises(ConfigError) as info:
        parse_study({"device": {"kind": "mtj"}, "training": {old: value}})
    assert str(info.value) == f"training.{old}: moved to [dies] {new}"
    with pytest.raises(ConfigError, match=rf"^sweep.training.{old}: moved to dies.{new}$"):
        parse_study({"sweep": {f"training.{old}": [value]}})


def test_training_forward_exact_in_a_die_study_points_to_dies_ir_model():
    with pytest.raises(ConfigError, match=r"^training.forward: the die study's exact IR evaluation moved to \[dies\] ir_model"):
        parse_study({"device": {"kind": "mtj"}, "training": {"forward": "exact"}})
    assert parse_study({"training": {"forward": "exact"}}).training.forward == "exact"  # the crossbar layers' read path
    assert parse_study({"device": {"kind": "mtj"}, "dies": {"ir_model": "exact"}}).dies.ir_model == "exact"


def test_die_section_defaults_and_sweep():
    study = parse_study({"device": {"kind": "mtj"}, "sweep": {"dies.count": [1, 4]}})
    assert (study.dies.count, study.dies.modes, study.dies.ir_model) == (36, ["ideal", "hardware_aware", "statistics_aware"],
                                                                         "first_order")
    assert [p.dies.count for _, p in sweep_points(study)] == [1, 4]


def test_mtj_examples_use_the_dies_section():
    for name in ("mtj_dies", "mtj_sense_offset", "mtj_methods_sweep"):
        study = load_study(REPO / "examples" / f"{name}.toml")
        assert study.dies.count == 36 and study.dies.recalibration_inputs == 2000 and study.dies.input_pool == 2


def test_default_pulse_width_is_20_ns():
    assert parse_study({}).device.pulse_width_s == 2e-8


def test_a_section_swept_as_tables_changes_its_fields_together():
    """``"array" = [{rows = 64, cols = 64}, ...]``: square tiles without the rows x cols grid."""
    from memcosim.config import parse_study, sweep_points

    study = parse_study({"sweep": {"array": [{"rows": 32, "cols": 32}, {"rows": 64, "cols": 64}],
                                   "training.algorithm": ["mixed_precision", "tiki_taka"]}})
    points = [(p.array.rows, p.array.cols, p.training.algorithm) for _, p in sweep_points(study)]
    assert points == [(32, 32, "mixed_precision"), (32, 32, "tiki_taka"), (64, 64, "mixed_precision"),
                      (64, 64, "tiki_taka")]
    for bad, message in (([{"rowz": 3}], "array.rowz: unknown key; did you mean 'rows'"),
                         ([5], "each value must be a table of array fields"), ([{"rows": 0}], "array.rows")):
        with pytest.raises(ConfigError, match=message):
            parse_study({"sweep": {"array": bad}})
