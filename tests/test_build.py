import numpy as np

from memcosim.build import crossbar_from_study
from memcosim.config import parse_study


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
