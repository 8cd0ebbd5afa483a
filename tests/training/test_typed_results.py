"""The typed results of training: round trip through strict JSON, one-line refusals, older layouts read."""

import json

import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.base.typed import dumps, loads
from memcosim.training.ledger import EnergyLedger
from memcosim.training.ledger_totals import LedgerTotals
from memcosim.training.run_results import RunResult


def _totals():
    ledger = EnergyLedger()
    one = torch.tensor(1.0, dtype=torch.float64)
    ledger.add_pulses("fc", (one, 0.25 * one, 0.5 * one), torch.tensor(4))
    ledger.add_periphery("update", (2.0, 0.0, 0.0, 3.0), 7.0, layer="fc")
    ledger.add_read(10 * one, training=False, layer="fc", samples=5)
    ledger.add_periphery("inference", (1.0, 4.0, 5.0, 0.0), 2.5)
    ledger.end_update()
    return ledger.totals()


def _result(totals):
    return RunResult(test_accuracy=0.5, best_test_accuracy=0.6, algorithm="mixed_precision", target_accuracy=0.95,
                     epochs_to_target=None, array_energy_per_update_j=totals.array_energy_per_update_j,
                     total_write_energy_j=totals.write_j, total_read_energy_j=totals.read_j,
                     total_energy_j=totals.write_j + totals.read_j, write_energy_split_j=totals.write_split_j,
                     pulses_total=totals.pulses, updates=totals.updates, eval_read_energy_j=totals.eval_read_j,
                     per_layer=totals.per_layer, symmetry_search={"pulses": 0, "energy_j": 0.0}, seed=1,
                     dataset="digits", hidden_sizes=(8,), epochs=({"epoch": 1, "test_accuracy": 0.5, "train_loss": 2.0},),
                     pulse_width_s=2e-8, tile=totals.tile, io={"inp_bits": 8})


def test_ledger_totals_and_run_results_round_trip_and_name_each_quantity_once():
    totals = _totals()
    assert LedgerTotals.from_json(json.loads(json.dumps(totals.to_json()))) == totals
    assert totals.array_energy_per_update_j == 1.75 and totals.tile.tile_energy_per_update_j == 1.75 + 5.0
    assert totals.per_layer["fc"].tile_energy_per_update_j == 1.75 + 5.0
    result = _result(totals)
    data = result.to_json()
    assert data["format_version"] == 2 and "energy_per_update_j" not in data and "energy_per_update_j" not in data["tile"]
    assert loads(RunResult, dumps(result), "results.json") == result


def test_a_run_result_of_the_layout_before_the_rename_is_read_as_the_current_one():
    result = _result(_totals())
    old = result.to_json()
    del old["format_version"]
    old["energy_per_update_j"] = old.pop("array_energy_per_update_j")
    old["tile"]["energy_per_update_j"] = old["tile"].pop("tile_energy_per_update_j")
    old["tile"]["energy_per_inference_j"] = old["tile"].pop("tile_energy_per_inference_j")
    old["per_layer"]["fc"]["energy_per_update_j"] = old["per_layer"]["fc"].pop("array_energy_per_update_j")
    assert RunResult.from_json(old, "run.json") == result


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(total_energy_j=float("nan")), "r.json: total_energy_j: must be a finite number, got nan"),
    (lambda d: d["tile"]["update"].update(total_j=float("inf")), "r.json: tile.update.total_j: must be a finite number"),
    (lambda d: d["per_layer"]["fc"].update(pulses_x=1), "r.json: per_layer.fc.pulses_x: unknown field"),
    (lambda d: d.update(energy_per_update=1.0), "r.json: energy_per_update: unknown field"),
])
def test_run_results_refuse_nan_and_unknown_keys_in_one_line(edit, message):
    data = _result(_totals()).to_json()
    edit(data)
    with pytest.raises(ConfigError, match=f"^{message}"):
        RunResult.from_json(data, "r.json")
    with pytest.raises(ConfigError, match="r.json: tile.inference.array_j: must be a finite number, got nan"):
        totals = _totals().to_json()
        totals["tile"]["inference"]["array_j"] = float("nan")
        LedgerTotals.from_json(totals, "r.json")


def _die_result():
    from memcosim.training.die_results import DieReadEnergy, DieResult, ModeSummary

    mode = ModeSummary(die_errors=(0.2, 0.4), mean=0.3, std=0.1, min=0.2, max=0.4, read_energy_per_inference_j=1e-12,
                       tile_energy_per_inference_j=2e-12)
    return DieResult(inputs=16, hidden=4, mtj_count=208, n_dies=2, software_error=0.1, modes={"ideal": mode},
                     read_energy_per_inference_j=1e-12, read_energy_j=DieReadEnergy(training=1e-9, evaluation=2e-9),
                     train_loss={"ideal": (2.0, 1.5)}, dies=({"die": 0, "source": None, "defects": {"short": 2}},),
                     statistics={"short_rate": 0.01}, junction={"r_p_ohm": 5e3}, methods={"program_pairs": False},
                     worst_die={"mode": "ideal", "die": 0, "error": 0.4, "rows": 2, "cols": 2, "defects": [[0, 1, 1]]},
                     elapsed_s=1.0, tile_energy_per_inference_j=2e-12, tile=_totals().tile)


def test_a_die_result_round_trips_reads_its_old_layout_and_refuses_nan_unknown_keys_and_bad_rates():
    from memcosim.training.die_results import DieResult

    result = _die_result()
    assert loads(DieResult, dumps(result), "run.json") == result
    old = result.to_json()
    del old["format_version"], old["warnings"]
    old["tile"]["energy_per_update_j"] = old["tile"].pop("tile_energy_per_update_j")
    old["tile"]["energy_per_inference_j"] = old["tile"].pop("tile_energy_per_inference_j")
    assert DieResult.from_json(old, "run.json") == result
    for edit, message in ((lambda d: d["modes"]["ideal"].update(std=float("nan")), "d.json: modes.ideal.std: must be a finite"),
                          (lambda d: d.update(modez={}), "d.json: modez: unknown field"),
                          (lambda d: d["modes"]["ideal"].update(mean=1.5), r"d.json: die error mean: must be a finite number in \[0, 1\]")):
        data = result.to_json()
        edit(data)
        with pytest.raises(ConfigError, match=f"^{message}"):
            DieResult.from_json(data, "d.json")
