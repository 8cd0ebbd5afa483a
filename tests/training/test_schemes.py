"""Shared energy of row operations and stochastic slots, against brute-force sums of the model."""

import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.circuits.energy_models import write_terms
from memcosim.circuits.models import WriteEnergyModel
from memcosim.devices import load_device_params
from memcosim.training.schemes import SchemeCosts, _shared_parts
from memcosim.training import attach_ledger

HZO = load_device_params("hzo")
ONES = {t: 1.0 for t in write_terms("hzo")}


def model(operation):
    return WriteEnergyModel("hzo", ONES, "v_half", 1e-16, 100.0, operation=operation)


def test_row_operations_are_the_rounds_of_each_tile_row():
    costs = SchemeCosts.from_model(model("row"), HZO, 3.0, 2e-8, 4, 3)
    n = torch.zeros(5, 6)  # 5 outputs x 6 inputs: tiles of 4 inputs x 3 outputs
    n[0, 1], n[2, 1], n[1, 1] = 3, 1, 2  # input 1, outputs 0-2 (one tile): rounds drive 3, 2, 1 columns
    n[4, 1] = 2  # input 1, output 4: the next column tile, 2 rounds of 1 column
    n[0, 5] = 1  # input 5: the next row tile
    expected = sum(torch.as_tensor(costs.shared_j["up"][1, m]) for m in (3, 2, 1, 1, 1, 1))
    assert torch.allclose(costs.row_operations_j(n, "up"), expected, rtol=1e-12)
    assert torch.equal(costs.row_operations_j(torch.zeros(5, 6), "up"), torch.zeros(2, dtype=torch.float64))


def test_tables_equal_the_model_where_it_was_evaluated():
    slot = SchemeCosts.from_model(model("slot"), HZO, 3.0, 2e-8, 8, 8)
    for k, m in ((1, 1), (4, 6), (8, 8)):  # an 8 x 8 array is tabulated at every count
        terms = model("slot").terms_j(HZO, -3.0 * HZO.potentiation_polarity, 2e-8, 0.5, 8, 8, k, m)
        assert slot.shared_j["down"][k, m] == pytest.approx(_shared_parts(terms), rel=1e-12)
    got = slot.operations_j(torch.tensor([1, 4, 0, 3]), torch.tensor([1, 6, 5, 0]), "down")
    assert torch.allclose(got, torch.as_tensor(slot.shared_j["down"][1, 1] + slot.shared_j["down"][4, 6]), rtol=1e-12)
    # more driven lines share more: a slot of 8 x 8 costs less than 64 slots of one coincidence
    assert slot.shared_j["up"][8, 8].sum() < 64 * slot.shared_j["up"][1, 1].sum()


def test_shared_costs_follow_the_state_of_the_cells_on_the_lines():
    serial = SchemeCosts.from_model(model("cell"), HZO, 3.0, 2e-8, 8, 8)
    amp = 3.0 * HZO.potentiation_polarity
    for x in (0.0, 0.25, 1.0):  # tabulated states: the model itself
        expected = _shared_parts(model("cell").terms_j(HZO, amp, 2e-8, x, 8, 8))
        assert serial.at_state(x).shared_j["up"][1, 1] == pytest.approx(expected, rel=1e-12)
    halfway = serial.at_state(0.375).shared_j["up"][1, 1]
    assert halfway == pytest.approx(0.5 * (serial.at_state(0.25).shared_j["up"][1, 1]
                                           + serial.at_state(0.5).shared_j["up"][1, 1]), rel=1e-12)
    # the half-selected cells' energy depends on their state (conduction, and disturb switching of a V/2 pulse
    # that pushes cells still far from the end it drives them to)
    assert serial.at_state(0.0).shared_j["up"][1, 1][0] > 2 * serial.at_state(1.0).shared_j["up"][1, 1][0]
    got = serial.pulses_j(torch.tensor([2.0, 1.0]), torch.tensor([0.0, 4.0]))
    table = serial.shared_j
    assert torch.allclose(got, torch.as_tensor(3 * table["up"][1, 1] + 4 * table["down"][1, 1]), rtol=1e-12)


def _circuit_models():
    from memcosim.circuits.models import CircuitModels, IRDropModel, ReadEnergyModel

    return CircuitModels("hzo", HZO.to_dict(), model("cell"), ReadEnergyModel(), IRDropModel(1.0, 1.0), "39",
                         row_energy=model("row"), slot_energy=model("slot"))


@pytest.mark.parametrize("mapping", ["reference", "differential"])
def test_row_parallel_ledger_books_the_row_operations_of_each_transfer(mapping):
    from memcosim.training import (ArrayConfig, CrossbarLinear, EnergyConfig, EnergyLedger, HZOPulsed, MappingConfig,
                                   MixedPrecision, TileConfig)
    from memcosim.training.schemes import scheme_energy

    write, costs = scheme_energy(_circuit_models(), "row_parallel", HZO, 3.0, 2e-8, 4, 3)
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=MixedPrecision(), mapping=MappingConfig(mapping=mapping),
                      array=ArrayConfig(rows=4, cols=3), energy=EnergyConfig(write, scheme="row_parallel", operations=costs))
    ledger = EnergyLedger()
    layer = CrossbarLinear(6, 5, tile=tile, initial_weight=torch.zeros(5, 6))
    attach_ledger(layer, ledger)
    n = torch.zeros(5, 6, dtype=torch.float64)
    n[0, 1], n[2, 1], n[4, 5], n[3, 0] = 3, 1, 2, -2
    layer.apply_pulses(n)
    totals = ledger.totals()
    up, down = n.clamp(min=0), (-n).clamp(min=0)
    at = layer._operation_costs()  # the costs at the array's mean state after the pulses, as the booking takes them
    assert at is not costs and at.shared_j["up"][1, 1][0] != costs.shared_j["up"][1, 1][0]  # state-dependent
    shared = at.row_operations_j(up, "up") + at.row_operations_j(down, "down")
    if mapping == "differential":
        shared = shared + at.row_operations_j(down, "up") + at.row_operations_j(up, "down")
    assert totals.write_half_selected_j == pytest.approx(float(shared[0]), rel=1e-12)
    assert totals.write_wires_drivers_j == pytest.approx(float(shared[1]), rel=1e-12)
    assert totals.pulses == (16 if mapping == "differential" else 8)
    # one pulse per operation (serial grouping) would pay an operation's shared energy per pulse: more
    one_column = costs.shared_j["up"][1, 1].sum() * totals.pulses
    assert totals.write_half_selected_j + totals.write_wires_drivers_j < one_column


def test_a_parallel_scheme_needs_its_costs():
    from memcosim.training import EnergyConfig
    from memcosim.training.schemes import scheme_energy

    write, costs = scheme_energy(_circuit_models(), "row_parallel", HZO, 3.0, 2e-8, 4, 3)
    with pytest.raises(ConfigError, match="energy.operations: costs of scheme 'row_parallel' given for scheme 'parallel_stochastic'"):
        EnergyConfig(write, scheme="parallel_stochastic", operations=costs)
    with pytest.raises(ConfigError, match="models: no row_energy"):
        from memcosim.circuits.models import CircuitModels, IRDropModel, ReadEnergyModel

        scheme_energy(CircuitModels("hzo", HZO.to_dict(), model("cell"), ReadEnergyModel(), IRDropModel(1.0, 1.0)),
                      "row_parallel", HZO, 3.0, 2e-8, 4, 3)


@pytest.mark.parametrize("mapping", ["reference", "differential"])
def test_serial_pulses_pay_the_shared_energy_at_the_arrays_mean_state(mapping):
    from memcosim.training import (ArrayConfig, CrossbarLinear, EnergyConfig, EnergyLedger, HZOPulsed, MappingConfig,
                                   MixedPrecision, TileConfig)
    from memcosim.training.schemes import scheme_energy

    write, costs = scheme_energy(_circuit_models(), "serial", HZO, 3.0, 2e-8, 4, 3)
    assert costs.scheme == "serial" and float(write.per_pulse_j["up"]["half_selected_j"].max()) == 0.0
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=MixedPrecision(), mapping=MappingConfig(mapping=mapping),
                      array=ArrayConfig(rows=4, cols=3), energy=EnergyConfig(write, scheme="serial", operations=costs))
    ledger = EnergyLedger()
    layer = CrossbarLinear(6, 5, tile=tile, initial_weight=torch.zeros(5, 6))
    attach_ledger(layer, ledger)
    n = torch.zeros(5, 6, dtype=torch.float64)
    n[0, 1], n[3, 0] = 3, -2
    pair = mapping == "differential"
    g = torch.stack([layer.conductance_s, layer.reference_s]) if pair else layer.conductance_s
    layer.apply_pulses(n)
    totals = ledger.totals()
    # each array's pulses are booked after its own update: the mean state after the positive array's pulses
    # differs from the start by at most a few pulses' worth of a 30-device array
    x = float((g.mean() - HZO.g_min_s) / (HZO.g_max_s - HZO.g_min_s))
    at = costs.at_state(x).shared_j
    expected = 3 * at["up"][1, 1] + 2 * at["down"][1, 1]
    if pair:
        expected = expected + 3 * at["down"][1, 1] + 2 * at["up"][1, 1]
    assert totals.pulses == (10 if pair else 5)
    assert totals.write_half_selected_j == pytest.approx(float(expected[0]), rel=0.02)
    assert totals.write_wires_drivers_j == pytest.approx(float(expected[1]), rel=0.02)


@pytest.mark.parametrize("compiled", [True, False])
def test_hardware_order_books_serial_pulses_from_the_event_kernels_counts(compiled):
    """A stochastic update in hardware order books its serial pulses' shared energy from the coincidences
    the event kernel counted on the way: the same as the second pass over the trains it replaces."""
    from memcosim.training import (AnalogSGD, ArrayConfig, CrossbarLinear, EnergyConfig, EnergyLedger, HZOPulsed,
                                   TileConfig, kernel)
    from memcosim.training.bitstreams import coincidence_totals_torch, draw_streams
    from memcosim.training.schemes import scheme_energy

    if compiled and not kernel.available():
        pytest.skip("numba is not installed")  # numba is a dependency: this runs in CI
    write, costs = scheme_energy(_circuit_models(), "serial", HZO, 3.0, 2e-8, 4, 3)
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(update_order="hardware"),
                      array=ArrayConfig(rows=4, cols=3), energy=EnergyConfig(write, scheme="serial", operations=costs))
    layer = CrossbarLinear(6, 5, tile=tile, initial_weight=torch.zeros(5, 6))
    ledger = EnergyLedger()
    attach_ledger(layer, ledger)
    gen = torch.Generator().manual_seed(3)
    x, d = torch.rand(8, 6, generator=gen, dtype=torch.float64), torch.randn(8, 5, generator=gen, dtype=torch.float64)
    streams = draw_streams(x, d, 1.0, layer.eps_w, 31, torch.Generator().manual_seed(4))
    up, down = coincidence_totals_torch(streams)
    assert up.sum() > 0 and down.sum() > 0
    layer.apply_pulse_streams(streams, compiled)
    totals = ledger.totals()
    assert totals.pulses == int(up.sum() + down.sum())
    # serial pulses half-select nothing of their own: the half-selected energy is all the shared one,
    # costed at the arrays' mean state after the update
    x_after = float((layer.conductance_s.mean() - HZO.g_min_s) / (HZO.g_max_s - HZO.g_min_s))
    expected = costs.at_state(x_after).pulses_j(up, down)
    assert float(expected[0]) > 0
    assert totals.write_half_selected_j == pytest.approx(float(expected[0]), rel=1e-12)


def test_scheme_tables_are_shared_by_content_and_not_across_different_inputs():
    """A study's worker builds each run's circuit models afresh: equal models, device, amplitudes
    (a state-dependent amplitude is a function) and sizes give the tables already made; any
    difference, new ones."""
    from memcosim.training.schemes import scheme_energy

    first = scheme_energy(_circuit_models(), "row_parallel", HZO, lambda x, d: 2.5 + 0.5 * x, 2e-8, 4, 3)
    assert scheme_energy(_circuit_models(), "row_parallel", HZO, lambda x, d: 2.5 + 0.5 * x, 2e-8, 4, 3) is first
    other_amplitude = scheme_energy(_circuit_models(), "row_parallel", HZO, lambda x, d: 2.5 + 0.6 * x, 2e-8, 4, 3)
    assert other_amplitude is not first
    assert other_amplitude[1].shared_j["up"][1, 3].sum() > first[1].shared_j["up"][1, 3].sum()
    refit = _circuit_models()
    refit = type(refit)(**{**refit.__dict__, "row_energy": WriteEnergyModel("hzo", {**ONES, "driver_conduction": 2.0}, "v_half",
                                                                           1e-16, 100.0, operation="row")})
    assert scheme_energy(refit, "row_parallel", HZO, lambda x, d: 2.5 + 0.5 * x, 2e-8, 4, 3) is not first
    for changed in ({"width_s": 2e-7}, {"cols": 4}):
        args = {"width_s": 2e-8, "rows": 4, "cols": 3, **changed}
        assert scheme_energy(_circuit_models(), "row_parallel", HZO, lambda x, d: 2.5 + 0.5 * x, **args) is not first


def test_scheme_tables_are_kept_least_recently_used_first(monkeypatch):
    import memcosim.training.schemes as schemes

    made = []
    monkeypatch.setattr(schemes, "_TABLES", {})
    monkeypatch.setattr(schemes, "_TABLES_KEPT", 2)
    monkeypatch.setattr(schemes, "_scheme_energy", lambda *args: made.append(args[4]) or args[4])
    models = _circuit_models()
    for width_s in (1e-8, 2e-8, 1e-8, 3e-8, 1e-8):  # 1e-8 is used again before 3e-8 comes: 2e-8 goes
        assert schemes.scheme_energy(models, "row_parallel", HZO, 3.0, width_s, 4, 3) == width_s
    assert made == [1e-8, 2e-8, 3e-8]
    schemes.scheme_energy(models, "row_parallel", HZO, 3.0, 2e-8, 4, 3)
    assert made == [1e-8, 2e-8, 3e-8, 2e-8]
