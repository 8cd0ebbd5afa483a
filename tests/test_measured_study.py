"""Study files with measured-response devices: the schema, the build and the energy at each state's amplitude."""

from pathlib import Path

import numpy as np
import pytest

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.build import characterize_setup, crossbar_from_study, device_params, measured_device, measured_files, tile_config
from memcosim.config import parse_study

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "hzo-lbe247"
SERIES = str(DATA / "ID161ZR15000_*.csv")


def study(**device):
    return parse_study({"device": {"kind": "measured", "measured_from": [SERIES], **device},
                        "array": {"rows": 8, "cols": 8}, "circuit": {"energy_model": "device"}})


def test_the_schema_names_what_a_measured_device_needs_and_refuses_what_it_does_not_use():
    with pytest.raises(ConfigError, match="measured_from: kind = 'measured' needs the measured sweep files"):
        parse_study({"device": {"kind": "measured"}})
    with pytest.raises(ConfigError, match="measured_from: only for kind = 'measured'"):
        parse_study({"device": {"measured_from": [SERIES]}})
    with pytest.raises(ConfigError, match="pulse_amplitude_v: not used by kind = 'measured'"):
        study(pulse_amplitude_v=2.0)
    # a sweep over widths re-validates every point: the defaults must pass
    grid = parse_study({"device": {"kind": "measured", "measured_from": [SERIES]},
                        "sweep": {"device.pulse_width_s": [2e-8, 2e-3]}})
    assert grid.sweep


def test_cycle_to_cycle_noise_adds_to_the_measured_scatter_in_quadrature():
    base, noisy = measured_device(study(pulse_width_s=2e-8)), measured_device(study(pulse_width_s=2e-8,
                                                                                   cycle_to_cycle_std=0.01))
    for b, n in ((base.up, noisy.up), (base.down, noisy.down)):
        assert n.noise == pytest.approx((b.noise**2 + 0.01**2) ** 0.5)
        assert n.pulses_to_cross == b.pulses_to_cross


def test_each_width_takes_its_own_files_and_the_window_comes_from_them():
    files = measured_files(study())
    assert len(files) == 7 and files == sorted(files)
    narrow, wide = study(pulse_width_s=2e-8), study(pulse_width_s=2e-3)
    assert len(measured_device(narrow).sources) == 2 and len(measured_device(wide).sources) == 1
    params = device_params(wide)
    assert (params.g_min_s, params.g_max_s) == (measured_device(wide).g_min_s, measured_device(wide).g_max_s)
    spec = crossbar_from_study(wide)
    assert spec.cell == "hzo" and np.all((spec.conductance_s >= params.g_min_s) & (spec.conductance_s <= params.g_max_s))
    with pytest.raises(CalibrationError, match="no file with pulse width 5e-07 s"):
        measured_device(study(pulse_width_s=5e-7))
    with pytest.raises(ConfigError, match="no file matches"):
        measured_files(parse_study({"device": {"kind": "measured", "measured_from": [str(DATA / "nothing_*.csv")]}}))


def test_one_characterisation_serves_every_width_and_spans_the_measured_amplitudes():
    a, b = characterize_setup(study(pulse_width_s=2e-8)), characterize_setup(study(pulse_width_s=2e-3))
    assert repr(a) == repr(b)
    assert 0.1 <= min(a.amplitudes_v) < max(a.amplitudes_v) <= 5.0
    # every measured width is characterised (a 2 ms study characterises 2 ms), every measured amplitude inside
    assert a.widths_s == (2e-8, 2e-7, 2e-6, 2e-5, 2e-4, 2e-3)
    from memcosim.devices.measurements import read_sweep

    amps = np.abs(np.concatenate([read_sweep(f).pulse_amplitude_v for f in measured_files(study())]))
    assert min(a.amplitudes_v) <= amps.min() and amps.max() <= max(a.amplitudes_v)


def test_pulses_are_costed_at_the_amplitude_the_sweep_applied_at_each_state():
    tile = tile_config(study(pulse_width_s=2e-6))
    table = tile.write_energy.per_pulse_j["down"]["selected_j"]
    amplitude = tile.device.amplitude_of_state(np.linspace(0, 1, len(table)), "down")
    # depression: the sweep starts at the top of the window with small pulses, ends at the bottom with large ones
    assert amplitude[-1] < amplitude[0]
    # conduction energy ~ V I(V) t: the larger pulses at the bottom of the window cost more than the top's small ones,
    # although the cell conducts less there
    assert table[0] > table[-1]
    assert tile.device.describe()["sources"] == list(measured_device(study(pulse_width_s=2e-6)).sources)


def test_a_users_own_plain_csv_series_runs_as_a_study(tmp_path):
    from memcosim.build import train_config
    from memcosim.training.trainer import train

    for width in (1e-7, 1e-5):  # soft-bounds sweeps: 60 depressing pulses (positive), 60 potentiating (negative)
        x, lines = 0.5, ["pulse_amplitude_v,pulse_width_s,conductance_s"]
        for k in range(120):
            down = k < 60
            x = x - 0.06 * x if down else x + 0.04 * (1 - x)
            amplitude = (1 if down else -1) * (1.0 + 0.02 * (k % 60))
            lines.append(f"{amplitude},{width},{1e-8 + 9e-8 * x}")
        (tmp_path / f"sweep_{width:g}.csv").write_text("\n".join(lines) + "\n")
    point = parse_study({"device": {"kind": "measured", "measured_from": [str(tmp_path / "sweep_*.csv")],
                                    "pulse_width_s": 1e-5},
                         "training": {"epochs": 1, "hidden_sizes": [16]}, "circuit": {"energy_model": "device"}})
    device = measured_device(point)
    assert device.up.polarity == -1 and device.sources == (str(tmp_path / "sweep_1e-05.csv"),)
    results = train(train_config(point), tmp_path / "run", progress=False, plots=False)
    assert results.pulses_total > 0 and results.device["model"] == "MeasuredPulsed"
    assert 0.9 < results.device["down_amplitude_v"][1] <= 2.2


def test_the_weight_reference_is_a_study_setting():
    from memcosim.build import tile_config

    for reference in ("window_centre", "midpoint", "symmetry_point"):
        point = parse_study({"device": {"kind": "measured", "measured_from": [SERIES], "pulse_width_s": 2e-6},
                             "training": {"weight_reference": reference}, "circuit": {"energy_model": "device"}})
        assert tile_config(point).mapping.reference == reference
    with pytest.raises(ConfigError, match="weight_reference"):
        parse_study({"training": {"weight_reference": "centre"}})


def test_transfer_verify_is_a_study_setting():
    from memcosim.build import tile_config

    for verify in (False, True):
        point = parse_study({"training": {"transfer_verify": verify}, "circuit": {"energy_model": "device"}})
        assert tile_config(point).update.verify is verify


def test_the_what_if_keys_belong_to_measured_devices():
    for key, value in (("measured_step_scale", 0.5), ("measured_shape", "linear")):
        with pytest.raises(ConfigError, match=f"{key}: only for kind = 'measured'") as info:
            parse_study({"device": {"kind": "hzo", key: value}})
        assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="measured_step_scale"):
        study(measured_step_scale=0.0)
