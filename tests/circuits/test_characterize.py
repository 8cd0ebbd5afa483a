import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from memcosim.circuits import energy_models
from memcosim.circuits.characterize import CharacterizeSetup, characterize
from memcosim.circuits.energy_split import energy_split
from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.circuits.models import FORMAT_VERSION, CircuitModels
from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import load_device_params
from memcosim.netlist import CrossbarSpec, write_deck

pytestmark = pytest.mark.ngspice

HZO = load_device_params("hzo")


def small_setup(**kw):
    return CharacterizeSetup(device_params=HZO, sizes=(4,), widths_s=(2e-8, 2e-6, 2e-4), initial_states=(0.5,), study_rows=6, study_cols=6, **kw)


@pytest.mark.parametrize("width", [2e-8, 2e-5])
def test_energy_split_balances_source_energy(width):
    spec = CrossbarSpec(np.full((4, 4), 6e-8), cell="hzo", hzo_params=HZO, c_wire_f=1e-16)
    result = run_ngspice(write_deck(spec, 3, 0, -3.0, width), timeout_s=60)
    split = energy_split(result, spec, 3, 0, -3.0, width, "v_half")
    assert abs(split["balance_j"]) < 0.08 * split["sources_j"]
    assert split["selected_cell_j"] > 0 and split["half_selected_j"] > 0 and split["drivers_j"] > 0


def test_characterize_fits_validates_and_caches(tmp_path):
    setup = small_setup(operations=("row", "slot"), native_above=4, holdout_sizes=(8,))
    report = characterize(setup, tmp_path, workers=2, progress=False, plots=True)
    # ngspice fits the 4 x 4 arrays; the study's 6 x 6 and the held-out 8 x 8 are simulated natively
    assert report.engines["write"] == {"native": {"6": 6, "8": 6}, "ngspice": {"4": 36}}
    assert set(report.engines["slot"]["native"]) == {"6", "8"} and set(report.engines["row"]["ngspice"]) == {"4"}
    assert {p["engine"] for p in report.points["write"] if p["size"] == 8} == {"native"}
    for op in ("write", "row", "slot"):
        by_size = report.operation(op)["by_size"]
        assert set(by_size) == {"4", "6", "8"} and by_size["8"]["engine"] == "native"
        assert max(e["max_rel_error"] for e in by_size.values()) < 0.05 and report.operation(op)["fit_sizes"] == [4]
    # row operations and stochastic slots agree with held-out ngspice decks (one line each included)
    for op in ("row", "slot"):
        assert report.operation(op)["max_rel_error"] < 0.05 and report.operation(op)["one_line_max_rel_error"] < 0.05
        assert report.operation(op)["n_validate"] > 0
    assert report.write_energy["max_rel_error"] < 0.05
    assert report.write_energy["n_validate"] > 0 and report.write_energy["n_fit"] > 0
    assert report.read_energy["max_rel_error"] < 0.05
    assert report.ir_drop["max_error_full_scale"] < 0.01 < report.ir_drop["uncorrected_max_error_full_scale"]
    assert report.read_energy["ngspice_crosscheck_rel_diff"] < 1e-6
    assert report.ir_drop["ngspice_crosscheck_max_rel_diff"] < 1e-6
    totals = [row["sources_j"] for row in report.write_energy["by_width"]]
    assert totals == sorted(totals) and totals[0] < totals[-1]  # energy rises with width
    raw = json.loads((tmp_path / "models.json").read_text())
    assert raw["format_version"] == FORMAT_VERSION
    models = CircuitModels.load(tmp_path / "models.json")
    assert models.ngspice_version == "39" and report.points_simulated == sum(len(m.deck_hashes) for m in (models.write_energy, models.row_energy, models.slot_energy))
    assert (tmp_path / "write_energy_vs_width.png").exists() and (tmp_path / "ir_drop_heatmap.png").exists()
    # the fitted model predicts a held-out point, term by term
    terms = models.write_energy.terms_j(HZO, -3.0, 2e-6, 0.5, 6, 6)
    assert set(terms) == set(energy_models.write_terms("hzo"))
    assert models.write_energy.energy_j(HZO, -3.0, 2e-6, 0.5, 6, 6) == pytest.approx(sum(terms.values())) and sum(terms.values()) > 0
    assert models.row_energy.operation == "row" and models.slot_energy.operation == "slot"
    again = characterize(setup, tmp_path, workers=1, progress=False, plots=False)
    assert again.points_simulated == 0 and again.points_cached == report.points_simulated
    assert again.write_energy["max_rel_error"] == report.write_energy["max_rel_error"]


def test_ir_drop_model_limits():
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-6, 1e-5, (10, 7))
    v = rng.uniform(0, 0.2, 10)
    assert np.allclose(energy_models.ir_drop_currents(g, v, 0.0, 0.0, 1.0, 1.0), v @ g)
    exact = CrossbarSolver(g, 5.0, 10.0).solve(v).column_current_a
    first_order = energy_models.ir_drop_currents(g, v, 5.0, 10.0, 1.0, 1.0)
    assert np.max(np.abs(first_order - exact)) < 0.1 * np.max(np.abs(v @ g - exact))


def test_mtj_write_characterisation(tmp_path):
    from memcosim.circuits.characterize import mtj_setup_defaults
    from memcosim.base.errors import ConfigError
    from memcosim.netlist import AccessTransistor

    setup = mtj_setup_defaults(
        load_device_params("mtj"), sizes=(4,), widths_s=(5e-9, 2e-8, 1e-7), study_rows=6, study_cols=6,
        c_wire_f=1e-16,
    )
    report = characterize(setup, tmp_path, workers=1, progress=False, plots=False)
    w = report.write_energy
    assert w["max_rel_error"] < 0.05, w
    totals = [row["sources_j"] for row in w["by_width"]]
    assert totals == sorted(totals)
    assert w["max_energy_balance_rel"] < 0.05
    with pytest.raises(ConfigError, match="access_transistor"):
        characterize(mtj_setup_defaults(load_device_params("mtj"), access=AccessTransistor()), tmp_path, progress=False)


def test_cli_characterize_bad_study_is_one_line(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text('[device]\nkind = "mtj"\npulse_widht_s = 1e-6\n')
    proc = subprocess.run([sys.executable, "-m", "memcosim", "characterize", str(study), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "did you mean 'pulse_width_s'" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_size_law_that_does_not_hold_is_fitted_at_the_study_size():
    """fit_across_sizes: errors per size; over 5 % at the study's size, half its points join the fit."""
    from memcosim.circuits.characterize import fit_energy_basis
    from memcosim.circuits.characterize_sizes import fit_across_sizes

    def point(size, split, k):
        # true energy: 1e-12 (size / 8) J, with a 20 % excess at size 64 the basis (linear in size) misses
        return {"size": size, "split": split, "k": k, "engine": "native" if size > 16 else "ngspice",
                "sources_j": 1e-12 * size / 8 * (1.2 if size == 64 else 1.0) * (1 + 0.001 * k)}

    basis = lambda r: np.array([1e-12 * r["size"] / 8])  # noqa: E731
    results = [point(s, "fit", k) for s in (8, 16) for k in range(4)] + [point(s, "validate", k) for s in (8, 16, 32, 64) for k in range(4)]
    coef, fit, val, _, val_err, sizes = fit_across_sizes(fit_energy_basis, basis, results, study_size=32)
    assert not sizes["refit_at_study_size"] and sizes["fit_sizes"] == [8, 16]
    assert sizes["by_size"]["32"]["max_rel_error"] < 0.01 and sizes["by_size"]["64"]["max_rel_error"] > 0.15
    assert sizes["by_size"]["64"]["engine"] == "native" and sizes["by_size"]["8"]["n_validate"] == 4
    coef, fit, val, _, val_err, sizes = fit_across_sizes(fit_energy_basis, basis, results, study_size=64)
    assert sizes["refit_at_study_size"] and sizes["study_size_error_before_refit"] > 0.15
    assert 64 in sizes["fit_sizes"] and sizes["by_size"]["64"]["n_validate"] == 2


def test_characterisations_can_share_a_point_cache(tmp_path):
    """run.py gives every characterisation of a study one cache: the second setup simulates only its own points."""
    first = characterize(small_setup(), tmp_path / "a", workers=1, progress=False, plots=False, cache_dir=tmp_path / "cache")
    import dataclasses

    second = characterize(dataclasses.replace(small_setup(), study_rows=5, study_cols=5), tmp_path / "b", workers=1,
                          progress=False, plots=False, cache_dir=tmp_path / "cache")
    assert (tmp_path / "b" / "models.json").exists() and not (tmp_path / "b" / "cache").exists()
    assert second.points_simulated == 6 and second.points_cached == first.points_simulated - 6


def test_ir_drop_is_held_out_at_a_study_size_beyond_its_fit(tmp_path):
    from memcosim.circuits.characterize_read import IR_FIT_SIZES, fit_ir_drop

    small = fit_ir_drop(small_setup(), tmp_path)[0]
    assert "study_size" not in small.validation  # 6 x 6 lies inside the fit's sizes
    rows, cols = 2 * max(IR_FIT_SIZES) - 8, max(IR_FIT_SIZES) + 16  # 120 x 80: rectangular, past the fit
    big = fit_ir_drop(dataclasses.replace(small_setup(), study_rows=rows, study_cols=cols, r_wire_ohm=100.0), tmp_path)[0]
    held = big.validation["study_size"]
    assert (held["rows"], held["cols"], held["r_wire_ohm"]) == (rows, cols, 100.0)
    # the grid's fit is unchanged by the extra case, which is held out, not fitted
    assert (big.a, big.b) == (small.a, small.b)
    # 100 ohm segments on a 120-row line: a drop of percents that the first-order law corrects
    assert held["max_error_full_scale"] < 0.5 * held["uncorrected_max_error_full_scale"]
    assert held["uncorrected_max_error_full_scale"] > 0.01
