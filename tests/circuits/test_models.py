"""Typed circuit models: named terms, JSON round trip, format migration, clear errors."""

import json

import numpy as np
import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.circuits import energy_models, line_loading
from memcosim.circuits.models import FORMAT_VERSION, CircuitModels, IRDropModel, ReadEnergyModel, WriteEnergyModel
from memcosim.devices import load_device_params
from memcosim.netlist.bias import bias_levels

HZO = load_device_params("hzo")
TERMS = energy_models.write_terms("hzo")


def models(coefficients=None):
    coefficients = coefficients or {t: 1.0 + 0.1 * k for k, t in enumerate(TERMS)}
    write = WriteEnergyModel("hzo", coefficients, "v_half", 1e-16, 100.0, validation={"max_rel_error": 0.01})
    return CircuitModels("hzo", HZO.to_dict(), write, ReadEnergyModel(1.02, 1e-8), IRDropModel(1.1, 0.7), "39")


def test_json_round_trip_and_named_terms(tmp_path):
    m = models()
    m.save(tmp_path / "models.json")
    back = CircuitModels.load(tmp_path / "models.json")
    assert back == m and json.loads((tmp_path / "models.json").read_text())["format_version"] == FORMAT_VERSION
    terms = back.write_energy.terms_j(HZO, 3.0, 2e-8, 0.4, 8, 8)
    basis = energy_models.write_energy_basis(HZO, 3.0, 2e-8, 0.4, 8, 8, 1e-16, "v_half", 100.0)
    for k, name in enumerate(TERMS):  # the model is read by name: each term gets its own coefficient
        assert terms[name] == pytest.approx(m.write_energy.coefficient(name) * basis[k], rel=1e-12)


def test_term_order_does_not_matter():
    forward = models()
    reordered = models(dict(reversed(list(forward.write_energy.coefficients.items()))))
    assert reordered.write_energy.energy_j(HZO, -3.0, 2e-6, 0.5, 4, 4) == forward.write_energy.energy_j(HZO, -3.0, 2e-6, 0.5, 4, 4)


def test_format_1_is_migrated_by_term_name():
    data = models().to_json()
    del data["format_version"]
    coefficients = data["write_energy"].pop("coefficients")
    names = list(reversed(TERMS))  # a list in its own order, named by "terms"
    data["write_energy"]["terms"] = names
    data["write_energy"]["coefficients"] = [coefficients[n] for n in names]
    data["read_energy"]["max_rel_error"] = 0.01  # a format 1-3 extra beside the fit: kept in validation
    migrated = CircuitModels.from_json(data)
    assert migrated.write_energy.coefficients == coefficients
    assert migrated.read_energy.validation["max_rel_error"] == 0.01


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format_version=99), "format_version: 99"),
    (lambda d: d["write_energy"]["coefficients"].pop("capacitive"), "needs exactly the terms"),
    (lambda d: d["write_energy"]["coefficients"].update(capacitive=float("nan")), "NaN is not JSON"),
    (lambda d: d["write_energy"]["coefficients"].update(capacitive="x"), "coefficients.capacitive"),
    (lambda d: d["ir_drop"].update(a="x"), "ir_drop.a"),
    (lambda d: d.pop("read_energy"), "read_energy: missing"),
    (lambda d: d["ir_drop"].update(c=1.0), "ir_drop.c: unknown field"),
    (lambda d: d.update(extra=1), "extra: unknown field"),
])
def test_bad_models_are_one_line_errors(tmp_path, edit, message):
    data = models().to_json()
    edit(data)
    path = tmp_path / "models.json"
    path.write_text(json.dumps(data))  # NaN written as the bare word, refused by the reader
    with pytest.raises(ConfigError, match=message) as info:
        CircuitModels.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_not_json_and_missing_file(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        CircuitModels.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="none.json: no such circuit models file"):
        CircuitModels.load(tmp_path / "none.json")
    with pytest.raises(ConfigError, match="cannot read circuit models file \\(not utf-8 text"):
        (tmp_path / "latin.json").write_bytes(b'{"a": "\xe9"}')
        CircuitModels.load(tmp_path / "latin.json")
    with pytest.raises(ConfigError, match="circuit models file is a directory, not a regular file"):
        CircuitModels.load(tmp_path)


def test_read_energy_law_numpy_equals_torch():
    rng = np.random.default_rng(0)
    g = rng.uniform(1e-7, 1e-6, (6, 5))
    v = rng.uniform(0, 0.2, (3, 6))
    by_hand = 1e-8 * sum(float(np.sum(v[k] ** 2 * g.sum(axis=1))) for k in range(3))
    model = ReadEnergyModel(1.5, 1e-8)
    assert model.energy_j(g, v, 1e-8) == pytest.approx(1.5 * by_hand, rel=1e-12)
    assert float(model.energy_j(torch.as_tensor(g), torch.as_tensor(v), 1e-8)) == pytest.approx(1.5 * by_hand, rel=1e-12)


def test_row_and_slot_models_round_trip_and_format_2_migrates():
    coefficients = {t: 1.0 for t in TERMS}
    row = WriteEnergyModel("hzo", coefficients, "v_half", 1e-16, 100.0, operation="row")
    slot = WriteEnergyModel("hzo", coefficients, "v_half", 1e-16, 100.0, operation="slot")
    m = CircuitModels("hzo", HZO.to_dict(), models().write_energy, ReadEnergyModel(), IRDropModel(1.0, 1.0), "39",
                      row_energy=row, slot_energy=slot)
    assert CircuitModels.from_json(m.to_json()) == m
    # a slot of one row and one column sees the cell voltages of a serial V/2 write, but charges only two lines
    one = slot.terms_j(HZO, 3.0, 2e-8, 0.5, 8, 8, 1, 1)
    cell = WriteEnergyModel("hzo", coefficients, "v_half", 1e-16, 100.0).terms_j(HZO, 3.0, 2e-8, 0.5, 8, 8)
    for name in ("selected_conduction", "selected_switching", "half_selected_conduction", "half_selected_switching"):
        assert one[name] == pytest.approx(cell[name], rel=1e-6)
    assert one["line_charging"] < cell["line_charging"]
    # more coincidences cost more, and a row operation of m columns switches m cells
    assert slot.energy_j(HZO, 3.0, 2e-8, 0.5, 8, 8, 4, 4) > slot.energy_j(HZO, 3.0, 2e-8, 0.5, 8, 8, 1, 1)
    four = row.terms_j(HZO, 3.0, 2e-8, 0.5, 8, 8, 1, 4)
    assert four["selected_switching"] == pytest.approx(4 * one["selected_switching"], rel=1e-9)
    data = m.to_json()
    data["format_version"] = 2
    del data["row_energy"], data["slot_energy"]
    old = CircuitModels.from_json(data)
    assert old.row_energy is None and old.slot_energy is None
    with pytest.raises(ConfigError, match="slot_energy.operation must be 'slot'"):
        CircuitModels("hzo", HZO.to_dict(), models().write_energy, ReadEnergyModel(), IRDropModel(1.0, 1.0), slot_energy=row)


def test_format_3_models_charge_their_lines_through_the_drivers_only():
    """Format 3 had no r_wire_ohm: it loads with ideal wires, and its line charging is then the
    lumped driver law it was fitted with (2 R_drv Q^2 / t_rise on slow edges)."""
    data = models().to_json()
    data["format_version"] = 3
    for name in ("write_energy", "row_energy", "slot_energy"):
        if data.get(name):
            data[name].pop("r_wire_ohm")
    old = CircuitModels.from_json(data).write_energy
    assert old.r_wire_ohm == 0.0
    wired = WriteEnergyModel("hzo", old.coefficients, "v_half", 1e-16, 100.0, r_wire_ohm=1.0)
    slow = 2e-4  # a 2 us edge: slow for an 8 x 8 array
    lumped = old.terms_j(HZO, 3.0, slow, 0.5, 8, 8)["line_charging"]
    assert wired.terms_j(HZO, 3.0, slow, 0.5, 8, 8)["line_charging"] > lumped > 0
    v_rows, v_cols = bias_levels("v_half", 3.0).line_voltages_v(8, 8, 0, 0)
    q = HZO.capacitance_f * (v_rows[:, None] - v_cols[None, :]).sum(axis=1) + 8 * 1e-16 * v_rows
    assert lumped == pytest.approx(old.coefficient("line_charging") * 2 * 100.0 * np.sum(q**2) / 2e-6, rel=1e-3)


def _hzo_current(v):
    """An HZO cell's conduction at the middle of its window (amperes)."""
    from memcosim.devices import hzo

    params = load_device_params("hzo")
    return hzo.read_current_a(0.5 * (params.g_min_s + params.g_max_s), v, params)


def _linear_cells(g_s):
    return lambda v: g_s * v


def test_line_loaded_conduction_equals_the_exact_linear_crossbar():
    """Linear cells, rows fed through drivers at column 0, columns at 0 V below their last row: the
    line-loaded conduction equals the exact nodal solve, and the sources' power balances cells + lines."""
    from memcosim.circuits.crossbar_solver import CrossbarSolver

    n, g, width = 24, 2e-4, 1e-7
    v_rows = np.random.default_rng(3).uniform(0.2, 1.0, n)  # every row its own run: no grouping
    sel, others, lines = line_loading.conduction_terms(_linear_cells(g), v_rows, np.zeros(n), 100.0, width,
                                                         selected=np.zeros((n, n), bool), r_wire_ohm=2.0)
    exact = CrossbarSolver(np.full((n, n), g), 2.0, 100.0).solve(v_rows)
    v_cell = exact.row_voltage_v - exact.col_voltage_v
    assert sel == 0.0
    assert others == pytest.approx(float(np.sum(g * v_cell**2)) * width, rel=1e-8)
    delivered = float(np.sum(v_rows * g * v_cell.sum(axis=1))) * width  # each row's source: V_i times its current
    assert sel + others + lines == pytest.approx(delivered, rel=1e-8)
    # no wires and no drivers: the nominal voltages
    _, bare, no_lines = line_loading.conduction_terms(_linear_cells(g), v_rows, np.zeros(n), 0.0, width,
                                                        selected=np.zeros((n, n), bool))
    assert bare == pytest.approx(float(np.sum(g * v_rows**2)) * n * width, rel=1e-12) and no_lines == 0.0


def test_grouped_lines_match_line_by_line(monkeypatch):
    """A 96-line run solved in 32 groups of 3 lines against one group per line: within 0.2 %."""
    n, width = 96, 2e-7
    v_rows, v_cols = np.full(n, 1.5), np.full(n, -1.5)  # a slot driving every line: the heaviest load
    current = _hzo_current
    grouped = line_loading.conduction_terms(current, v_rows, v_cols, 100.0, width, selected=np.ones((n, n), bool),
                                              r_wire_ohm=20.0)
    monkeypatch.setattr(line_loading, "LOADED_LINE_GROUPS", n)
    exact = line_loading.conduction_terms(current, v_rows, v_cols, 100.0, width, selected=np.ones((n, n), bool),
                                            r_wire_ohm=20.0)
    assert grouped[0] == pytest.approx(exact[0], rel=2e-3) and grouped[2] == pytest.approx(exact[2], rel=2e-3)
    # the load is real: the cells see less than the nominal 3 V
    assert exact[0] < 0.97 * line_loading.conduction_terms(current, v_rows, v_cols, 0.0, width, selected=np.ones((n, n), bool))[0]


@pytest.mark.parametrize("operation, rows, cols", [("slot", 8, 8), ("slot", 40, 70), ("row", 12, 36)])
def test_pulses_solved_together_give_each_pulse_its_own_numbers(operation, rows, cols):
    """terms_many_j solves many pulses' line voltages at once (one damped fixed point each, lines
    grouped alike or not); every pulse's terms equal its own terms_j bit for bit."""
    coefficients = {t: 1.0 + 0.1 * k for k, t in enumerate(TERMS)}
    model = WriteEnergyModel("hzo", coefficients, "v_half", 1e-16, 100.0, operation=operation, r_wire_ohm=20.0)
    ks = [1, 1, rows // 2, rows, 3] if operation == "slot" else [1] * 5
    ms = [1, cols, cols // 3, cols, 2]
    many = model.terms_many_j(HZO, 3.0, 2e-8, 0.3, rows, cols, ks, ms)
    for b, (k, m) in enumerate(zip(ks, ms)):
        one = model.terms_j(HZO, 3.0, 2e-8, 0.3, rows, cols, k, m)
        assert {name: float(values[b]) for name, values in many.items()} == one
    assert many["half_selected_conduction"][2] > many["half_selected_conduction"][0] > 0
    with pytest.raises(ConfigError, match="terms_many_j"):
        WriteEnergyModel("hzo", coefficients).terms_many_j(HZO, 3.0, 2e-8, 0.3, rows, cols, ks, ms)


def test_pulses_whose_voltages_nearly_meet_keep_their_own_numbers():
    """The HZO switching element matches voltage levels to within 1e-12 V: two pulses 0.4e-12 V apart
    solved together must not take each other's levels (each equals its own one-pulse solve)."""
    from memcosim.netlist.bias import stochastic_slot_voltages_v

    pulses = [stochastic_slot_voltages_v(v, 6, 5, range(2), range(3)) for v in (3.0 + 0.8e-12, 3.0 + 1.2e-12, 2.0)]
    v_rows, v_cols = np.array([r for r, _ in pulses]), np.array([c for _, c in pulses])
    many = energy_models.line_pulse_energy_terms_many(HZO, v_rows, v_cols, 2e-8, 0.4, 1e-16, 100.0, 5.0)
    for b, (r, c) in enumerate(pulses):
        one = energy_models.line_pulse_energy_terms(HZO, r, c, 2e-8, 0.4, 1e-16, 100.0, 5.0)
        assert {name: float(values[b]) for name, values in many.items()} == one
    slot = WriteEnergyModel("hzo", {t: 1.0 for t in TERMS}, operation="slot")
    with pytest.raises(ConfigError, match="same number"):
        slot.terms_many_j(HZO, 3.0, 2e-8, 0.4, 6, 5, [], [])
