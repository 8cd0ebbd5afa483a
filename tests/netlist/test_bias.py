"""The write bias schemes (one function) and the decks that apply them."""

import re

import numpy as np
import pytest

from memcosim.base.errors import ConfigError
from memcosim.devices import load_device_params
from memcosim.netlist import BiasLevels, CrossbarSpec, bias_levels, write_deck


def test_v_half_and_v_third_levels():
    assert bias_levels("v_half", 3.0) == BiasLevels(3.0, 1.5, 0.0, 1.5)
    assert bias_levels("v_third", -3.0) == BiasLevels(-3.0, -1.0, 0.0, -2.0)
    cells = bias_levels("v_half", 2.0).cell_voltages_v(3, 4, 1, 2)
    assert cells[1, 2] == 2.0 and cells[1, 0] == 1.0 and cells[0, 2] == 1.0 and cells[0, 0] == 0.0
    third = bias_levels("v_third", 3.0).cell_voltages_v(3, 3, 0, 0)
    off = np.ones((3, 3), bool)
    off[0, 0] = False
    assert np.allclose(np.abs(third[off]), 1.0)  # every unselected cell sees V/3


def test_levels_round_trip_json():
    levels = bias_levels("v_third", 1.2)
    assert BiasLevels.from_json(levels.to_json()) == levels
    data = levels.to_json()
    with pytest.raises(ConfigError, match=r"^levels.json: unselected_row_v: must be a finite number, got nan$"):
        BiasLevels.from_json({**data, "unselected_row_v": float("nan")}, source="levels.json")
    with pytest.raises(ConfigError, match=r"^levels.json: row_v: unknown field; known: selected_row_v"):
        BiasLevels.from_json({**data, "row_v": 1.0}, source="levels.json")


def test_bad_scheme_and_amplitude_name_the_field():
    with pytest.raises(ConfigError, match=r"^scheme: must be one of \['v_half', 'v_third'\], got 'v_quarter'"):
        bias_levels("v_quarter", 1.0)
    with pytest.raises(ConfigError, match="^amplitude_v: must be a finite voltage"):
        bias_levels("v_half", float("nan"))
    spec = CrossbarSpec(np.full((2, 2), 5e-8), cell="hzo", hzo_params=load_device_params("hzo"))
    with pytest.raises(ConfigError, match="^scheme"):  # was silently read as v_third
        write_deck(spec, 0, 0, 3.0, 1e-6, scheme="v_quarter")
    with pytest.raises(ConfigError, match="^scheme"):
        write_deck(spec, 0, 0, 3.0, 1e-6, scheme="V/2")


def _source_amplitudes(text, prefix, count):
    out = []
    for k in range(count):
        line = re.search(rf"^{prefix}{k} \S+ 0 (.*)$", text, re.MULTILINE).group(1)
        pulse = re.match(r"PULSE\(0 (\S+) ", line)
        out.append(float(pulse.group(1)) if pulse else float(line.split()[1]))
    return np.array(out)


@pytest.mark.parametrize("scheme", ["v_half", "v_third"])
@pytest.mark.parametrize("amplitude", [3.0, -2.5])
def test_write_deck_drives_the_lines_at_the_bias_levels(scheme, amplitude):
    spec = CrossbarSpec(np.full((3, 4), 1e-5), r_wire_ohm=2.0)
    text = write_deck(spec, 1, 2, amplitude, 1e-6, scheme=scheme)
    v_rows, v_cols = bias_levels(scheme, amplitude).line_voltages_v(3, 4, 1, 2)
    assert np.array_equal(_source_amplitudes(text, "VROW", 3), v_rows)
    assert np.array_equal(_source_amplitudes(text, "VCOL", 4), v_cols)
