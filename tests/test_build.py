import numpy as np
import pytest

from memcosim.build import crossbar_from_study, dies_config, train_config, uses_circuit_models
from memcosim.config import parse_study
from memcosim.base.errors import ConfigError


def test_same_seed_same_array_and_defects():
    study = parse_study({"seed": 4, "device": {"kind": "mtj", "short_rate": 0.1}, "array": {"rows": 6, "cols": 5}})
    a, b = crossbar_from_study(study), crossbar_from_study(study)
    assert np.array_equal(a.mtj_states, b.mtj_states) and np.array_equal(a.mtj_defects, b.mtj_defects)
    assert np.any(a.mtj_defects == 1)
    other = crossbar_from_study(study, die=1)
    assert not np.array_equal(a.mtj_defects, other.mtj_defects)


def test_hzo_array_within_device_window():
    study = parse_study({"seed": 1, "array": {"rows": 4, "cols": 4}})
    spec = crossbar_from_study(study)
    p = spec.hzo_params
    assert spec.cell == "hzo" and np.all((spec.conductance_s >= p.g_min_s) & (spec.conductance_s <= p.g_max_s))


def test_which_studies_use_circuit_models():
    assert uses_circuit_models(parse_study({}))
    assert not uses_circuit_models(parse_study({"training": {"algorithm": "float"}}))
    assert not uses_circuit_models(parse_study({"circuit": {"energy_model": "device"}}))
    assert not uses_circuit_models(parse_study({"device": {"kind": "mtj"}}))


def test_training_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="^device.kind: pulsed training supports 'hzo'"):
        train_config(parse_study({"device": {"kind": "mtj"}}))
    with pytest.raises(ConfigError, match=r"^training.hidden_sizes: .*one hidden layer, got \[32, 16\]"):
        dies_config(parse_study({"device": {"kind": "mtj"}, "training": {"hidden_sizes": [32, 16]}}))
    with pytest.raises(ConfigError, match="^device.kind: the die study needs 'mtj'"):
        dies_config(parse_study({}))
    with pytest.raises(ConfigError, match="^dies.ir_model: 'exact' evaluation solves the wires and needs array.r_wire_ohm > 0"):
        parse_study({"device": {"kind": "mtj"}, "array": {"r_wire_ohm": 0.0}, "training": {"hidden_sizes": [8]},
                     "dies": {"ir_model": "exact"}})


def test_die_study_circuit_from_the_study():
    study = parse_study({"device": {"kind": "mtj"},
                         "array": {"access_transistor": True, "access_gate_v": 0.6, "access_width_m": 1e-7},
                         "circuit": {"sense_offset_a": 1e-6},
                         "training": {"hidden_sizes": [8]},
                         "dies": {"ir_model": "exact", "recalibration_inputs": 500, "input_threshold": 0.3, "count": 3}})
    cfg = dies_config(study)
    c = cfg.circuit
    assert c.access.gate_on_v == 0.6 and c.access.width_m == 1e-7
    assert c.ir_model == "exact" and c.sense_offset_a == 1e-6
    assert cfg.recalibrate_inputs == 500 and cfg.input_threshold == 0.3 and cfg.n_dies == 3
    assert dies_config(parse_study({"device": {"kind": "mtj"}, "training": {"hidden_sizes": [8]}})).circuit.access is None
    with pytest.raises(ConfigError, match="access_gate_v"):
        parse_study({"array": {"access_gate_v": 0.3}})


def test_die_spread_is_the_devices_own_unless_the_study_sets_one(tmp_path):
    import json

    device = tmp_path / "device.json"
    device.write_text(json.dumps({"model": "mtj", "params": {"r_p_std": 0.03, "tmr_std": 0.07}}))
    own = dies_config(parse_study({"device": {"kind": "mtj", "parameters_file": str(device)}, "training": {"hidden_sizes": [8]}}))
    assert (own.circuit.params.r_p_std, own.circuit.params.tmr_std) == (0.03, 0.07)
    study = parse_study({"device": {"kind": "mtj", "parameters_file": str(device), "device_to_device_std": 0.05},
                         "training": {"hidden_sizes": [8]}})
    assert (dies_config(study).circuit.params.r_p_std, dies_config(study).circuit.params.tmr_std) == (0.05, 0.05)


def test_update_scheme_follows_the_algorithm_and_decides_the_characterisation():
    from memcosim.build import characterize_setup, update_scheme
    from memcosim.config import parse_study

    def study(**training):
        return parse_study({"training": training})

    assert update_scheme(study(algorithm="mixed_precision")) == "row_parallel"
    assert update_scheme(study(algorithm="sgd", pulse_mode="stochastic")) == "parallel_stochastic"
    assert update_scheme(study(algorithm="sgd", pulse_mode="deterministic")) == "row_parallel"
    assert update_scheme(study(algorithm="float")) is None
    assert characterize_setup(study(algorithm="mixed_precision")).operations == ("row",)
    assert characterize_setup(study(algorithm="symmetry_shift")).operations == ("slot",)
    serial = parse_study({"circuit": {"update_scheme": "serial"}})
    assert update_scheme(serial) == "serial" and characterize_setup(serial).operations == ()
    wrong = parse_study({"circuit": {"update_scheme": "parallel_stochastic"}, "training": {"algorithm": "mixed_precision"}})
    with pytest.raises(ConfigError, match="circuit.update_scheme: 'parallel_stochastic' programs stochastic pulse trains"):
        update_scheme(wrong)


def test_a_sweep_over_algorithms_characterises_every_operation_once():
    from memcosim.build import study_operations
    from memcosim.config import parse_study

    sweep = parse_study({"sweep": {"training.algorithm": ["float", "mixed_precision", "sgd", "symmetry_shift"]}})
    assert study_operations(sweep) == ("row", "slot")
    assert study_operations(parse_study({})) == ("row",)
    assert study_operations(parse_study({"circuit": {"update_scheme": "serial"}})) == ()
