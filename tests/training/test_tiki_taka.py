"""Tiki-Taka v2 (training/rules.py ``TikiTaka``, training/tiki_taka.py) on synthetic devices with known answers."""

import io

import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.devices import load_device_params
from memcosim.devices.linear_step import LinearStepParams
from memcosim.training import (AnalogSGD, CrossbarLinear, EnergyLedger, HZOPulsed, LinearPulsed, SymmetryShift, TileConfig,
                               WriteEnergyTable, attach_ledger)
from memcosim.training.bitstreams import coincidence_totals_torch
from memcosim.training.rules import RULES, TikiTaka
from memcosim.training.tile import EnergyConfig
from memcosim.training.tiki_taka import FastArray, transfer, transfer_streams

from tests.training.synthetic_devices import W_TRUE, SoftBoundsPulsed, train_regression


def step(layer, lr):
    layer.tile.update.step(layer, lr)
    layer.sync_weight()


def regression_error(rule, device, steps, lr=0.05, seed=0):
    """Relative error of a 4 -> 2 linear regression (noisy targets) trained with ``rule``."""
    w = train_regression(rule, device, steps, lr, seed)
    return float((w - W_TRUE).norm() / W_TRUE.norm())


def test_tiki_taka_converges_where_analog_sgd_drifts_to_the_symmetry_point():
    """Symmetry point at 20 % of the range: analog SGD against a mid-range reference is pulled
    toward -0.6 of the weight range (relative error 0.42-0.52 over seeds 0-3), symmetry shifting
    toward zero (0.18-0.25); Tiki-Taka ends near the floating-point answer (0.03-0.09; floating-point
    SGD with these data and learning rate: 0.03-0.05)."""
    device = SoftBoundsPulsed(LinearStepParams(n_states=400), x_sp=0.2)
    common = dict(update_order="aggregated")  # the synthetic device has no compiled law
    errors = {rule.name: regression_error(rule, device, 1000) for rule in (
        AnalogSGD(**common), SymmetryShift(**common), TikiTaka(transfer_lr=0.1, **common))}
    assert errors["sgd"] > 0.3
    assert errors["tiki_taka"] < 0.12
    assert errors["tiki_taka"] < 0.6 * errors["symmetry_shift"]


def hand_layer(**rule):
    """A 2 x 2 layer on the ideal constant-step device, deterministic gradient pulses, constant write energy."""
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=1000)),
                      update=TikiTaka(pulse_mode="deterministic", transfer_every=2, n_reads_per_transfer=1, **rule),
                      energy=EnergyConfig(write=WriteEnergyTable.constant(1e-12)))
    ledger = EnergyLedger()
    layer = CrossbarLinear(2, 2, bias=False, tile=tile, initial_weight=torch.full((2, 2), 0.3), name="fc")
    attach_ledger(layer, ledger)
    return layer, ledger


@pytest.mark.parametrize("rule,c_pulses,c_steps,h_steps", [
    # forget_buffer (aihwkit's default): H keeps momentum x its value after a transfer; one pulse at most
    (dict(transfer_lr=0.3), 6, [[2, -2], [0, 2]], [[0.558, -0.504], [0.0, 0.252]]),
    # H loses exactly what was transferred; up to 3 pulses per transfer
    (dict(transfer_lr=0.2, forget_buffer=False, momentum=0.0, transfer_pulses=3), 10, [[4, -4], [0, 2]],
     [[0.8, -0.8], [0.0, 0.4]]),
])
def test_transfer_pulses_follow_the_buffer_arithmetic(rule, c_pulses, c_steps, h_steps):
    """A receives 3, -2, 0 (0.4 rounds to 0) and 1 pulses per step; every 2nd step one column of A
    (alternately 0 and 1) is read into H; worked by hand, in units of one device step dw:

    forget_buffer, transfer_lr 0.3: step 2: col 0 reads [6, 0], H = [1.8, 0] -> pulses [1, 0],
    H = [0.18, 0]; step 4: col 1 reads [-8, 4], H = [-2.4, 1.2] -> [-1, 1] (clamped),
    H = [-0.24, 0.12]; step 6: [0.18 + 5.4, 0] -> [1, 0], H = [0.558, 0]; step 8:
    [-0.24 - 4.8, 0.12 + 2.4] -> [-1, 1], H = [-0.504, 0.252]: 6 pulses on C.
    Subtracting, transfer_lr 0.2, up to 3 pulses: [1.2, 0] -> [1, 0], H [0.2, 0]; [-1.6, 0.8] ->
    [-1, 0], H [-0.6, 0.8]; [3.8, 0] -> [3, 0], H [0.8, 0]; [-3.8, 2.4] -> [-3, 2], H [-0.8, 0.4]:
    10 pulses.
    """
    layer, ledger = hand_layer(**rule)
    dw = layer.eps_w
    assert layer.fast.eps_w == pytest.approx(dw, rel=1e-12) and float(layer.fast.weight.abs().max()) == 0.0
    c0 = layer.conductance_s.clone()
    for _ in range(8):
        layer.weight.grad = -dw * torch.tensor([[3.0, -2.0], [0.4, 1.0]])
        step(layer, 1.0)
    step_s = layer.tile.device.step_s()
    assert torch.allclose((layer.conductance_s - c0) / step_s, torch.tensor(c_steps, dtype=torch.float64), atol=1e-9)
    assert torch.allclose(layer.fast.hidden / dw, torch.tensor(h_steps, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(layer.fast.weight / dw, 8 * torch.tensor([[3.0, -2.0], [0.0, 1.0]]), atol=1e-4)
    assert int(layer.fast.updates) == 8 and int(layer.fast.column) == 0
    t = ledger.totals()
    assert t.per_layer["fc"].pulses == c_pulses  # transfers on C
    assert t.per_layer["fc/fast"].pulses == 8 * 6  # gradient pulses on A
    assert t.pulses == 48 + c_pulses and t.write_j == pytest.approx((48 + c_pulses) * 1e-12, rel=1e-12)
    assert t.calibration_pulses > 0  # A's symmetry-point search, booked apart


def test_transfer_streams_give_each_device_its_count():
    n = torch.tensor([[2.0, 0.0], [-1.0, 40.0], [0.0, -33.0]])
    streams = transfer_streams(n, torch.tensor([3, 0]), 5, torch.Generator().manual_seed(0))
    up, down = coincidence_totals_torch(streams)
    expected = torch.zeros(3, 5, dtype=torch.float64)
    expected[:, 3], expected[:, 0] = n[:, 0], n[:, 1]
    assert torch.equal(up - down, expected) and torch.equal(up + down, expected.abs())
    assert streams.bit_length == 40


@pytest.mark.parametrize("largest", [1, 31, 32, 70])
def test_transfer_streams_compiled_equal_torch(largest, monkeypatch):
    """The compiled trains (kernel_ops.transfer_trains) are the torch path's integers, one word or
    several, with the same key drawn from the generator."""
    gen = torch.Generator().manual_seed(largest)
    n = torch.randint(-largest, largest + 1, (9, 3), generator=gen).to(torch.float64)
    n[0, 0] = largest
    n[:, 2] = 0.0  # a sample with no pulse at all
    streams = []
    for engine in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "torch" if engine == "torch" else "")
        streams.append(transfer_streams(n, torch.tensor([4, 0, 6]), 7, torch.Generator().manual_seed(1)))
    (c, t) = streams
    assert c.bit_length == t.bit_length == largest
    for field in ("x_mask", "x_sign", "d_mask", "d_sign", "noise_key"):
        assert getattr(c, field).dtype == getattr(t, field).dtype
        assert torch.equal(getattr(c, field), getattr(t, field)), field


def stochastic_layer(device, seed=0, name="fc", **rule):
    tile = TileConfig(device=device, update=TikiTaka(transfer_every=2, **rule),
                      energy=EnergyConfig(write=WriteEnergyTable.constant(1e-12)))
    ledger = EnergyLedger()
    w0 = torch.linspace(-0.5, 0.5, 15).reshape(3, 5)
    layer = CrossbarLinear(5, 3, tile=tile, initial_weight=w0, seed=seed, name=name)
    return layer, attach_ledger(layer, ledger)


def train_steps(layer, steps, seed=1, lr=0.1):
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(6, 5, generator=gen)
        layer.zero_grad()
        ((layer(x) - x[:, :3]) ** 2).sum().backward()
        step(layer, lr)


def test_every_pulse_on_both_arrays_is_in_the_ledger(monkeypatch):
    """Ledger pulses = the coincidences of A's gradient trains + those of C's transfer trains, per
    array; the transfer reads of A are booked as reads; the compiled and torch paths agree."""
    device = LinearPulsed(LinearStepParams(n_states=500, asymmetry=0.3, cycle_to_cycle_std=0.1))
    runs = {}
    for path in ("compiled", "torch"):
        if path == "torch":
            monkeypatch.setenv("MEMCOSIM_KERNEL", "torch")
        layer, ledger = stochastic_layer(device, n_reads_per_transfer=2, transfer_lr=4.0)
        counted = {"fc": 0, "fc/fast": 0}
        for module in (layer, layer.fast):
            original = module.apply_pulse_streams

            def spy(streams, compiled=None, module=module, original=original):
                up, down = coincidence_totals_torch(streams)
                counted[module.name] += int((up + down).sum())
                return original(streams, compiled)

            module.apply_pulse_streams = spy
        train_steps(layer, 10)
        t = ledger.totals()
        assert counted["fc"] > 0 and counted["fc/fast"] > counted["fc"]
        assert {k: v.pulses for k, v in t.per_layer.items()} == counted
        assert t.pulses == counted["fc"] + counted["fc/fast"]
        assert t.write_j == pytest.approx(t.pulses * 1e-12, rel=1e-12)
        # one transfer: its reads (two one-hot forward reads of A) are booked, A's forward only
        fast, read = layer.fast, layer.tile.read
        sums = (fast.conductance_s.sum(0) + fast.reference_s.sum(0))[:, None]
        cols = [int(fast.column), (int(fast.column) + 1) % 5]
        one_row = torch.tensor([[read.voltage_v]], dtype=torch.float64)  # a one-hot input at the read voltage
        expected = sum(float(layer.tile.read_energy.energy_j(sums[c:c + 1], one_row, read.width_s)) for c in cols)
        before = ledger.totals().read_j
        transfer(layer, layer.tile.update, 0.1)
        assert ledger.totals().read_j - before == pytest.approx(expected, rel=1e-9)
        runs[path] = (layer.conductance_s.clone(), layer.fast.conductance_s.clone(), layer.fast.hidden.clone(),
                      t.pulses)
    a, b = runs["compiled"], runs["torch"]
    assert a[3] == b[3] and all(torch.allclose(u, v, rtol=1e-12, atol=0) for u, v in zip(a[:3], b[:3]))


def synthetic_costs(scheme, rows, cols):
    from memcosim.training.schemes import SchemeCosts

    gen = torch.Generator().manual_seed(3)
    tables = {}
    for d in ("up", "down"):
        t = torch.rand((rows + 1, cols + 1, 2), generator=gen, dtype=torch.float64).numpy() * 1e-12
        t[0], t[:, 0] = 0.0, 0.0  # no driven line: no operation
        tables[d] = t
    return SchemeCosts(scheme, rows, cols, tables)


@pytest.mark.parametrize("scheme", ["parallel_stochastic", "row_parallel"])
def test_a_transfer_is_costed_as_a_one_hot_update_under_the_tile_scheme(scheme):
    """Slots: each slot drives the transferred input's row and the columns still pulsing; row
    operations: the counts of one array row. Shared energy as the scheme's own costing says."""
    costs = synthetic_costs(scheme, 4, 3)
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=500)),
                      update=TikiTaka(n_reads_per_transfer=2, transfer_pulses=3, forget_buffer=False, momentum=0.0),
                      energy=EnergyConfig(scheme=scheme, operations=costs))
    ledger = EnergyLedger()
    layer = CrossbarLinear(5, 3, bias=False, tile=tile, initial_weight=torch.full((3, 5), 0.3), name="fc")
    attach_ledger(layer, ledger)
    h = torch.tensor([[2.5, -1.2], [0.3, 3.7], [-3.1, 1.0]], dtype=torch.float64)
    layer.fast.hidden[:, :2] = h * layer.eps_w  # A reads zero: H alone decides the pulses
    n = transfer(layer, layer.tile.update, 0.1)
    assert torch.equal(n, torch.tensor([[2.0, -1.0], [0.0, 3.0], [-3.0, 1.0]], dtype=torch.float64))
    t = ledger.totals()
    shared = torch.tensor([t.write_half_selected_j, t.write_wires_drivers_j], dtype=torch.float64)
    if scheme == "parallel_stochastic":
        expected = costs.slots_j(transfer_streams(n, torch.tensor([0, 1]), 5, torch.Generator()))
    else:
        dense = torch.zeros(3, 5, dtype=torch.float64)
        dense[:, :2] = n
        expected = costs.row_operations_j(dense.clamp(min=0), "up") + costs.row_operations_j((-dense).clamp(min=0), "down")
    assert float(expected.sum()) > 0 and torch.allclose(shared, expected, rtol=1e-12, atol=0)
    assert t.per_layer["fc"].pulses == 10


@pytest.mark.parametrize("device", [
    LinearPulsed(LinearStepParams(n_states=500, asymmetry=0.3, cycle_to_cycle_std=0.1)),
    HZOPulsed(load_device_params("hzo"), 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02),
], ids=["linear", "hzo"])
def test_state_dict_round_trip_resumes_exactly(device):
    """Stopped mid transfer cycle, saved (as a checkpoint saves it), loaded into a layer built with
    another seed: both continue to the same conductances of A and C, buffer, counters and ledger."""
    layer, ledger = stochastic_layer(device, seed=0, n_reads_per_transfer=2, transfer_lr=4.0)
    train_steps(layer, 5, seed=1)
    keys = layer.state_dict().keys()
    assert {"fast.conductance_s", "fast.reference_s", "fast.hidden", "fast.updates", "fast.column"} <= set(keys)
    buffer = io.BytesIO()
    torch.save({"model": layer.state_dict(), "ledger": ledger.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    twin, twin_ledger = stochastic_layer(device, seed=7, n_reads_per_transfer=2, transfer_lr=4.0)
    twin.load_state_dict(state["model"])
    twin_ledger.load_state_dict(state["ledger"])
    assert int(twin.fast.updates) == 5 and int(twin.fast.column) == 4
    train_steps(layer, 6, seed=2)
    train_steps(twin, 6, seed=2)
    for name in ("conductance_s", "reference_s", "fast.conductance_s", "fast.reference_s", "fast.hidden", "fast.updates",
                 "fast.column", "weight"):
        assert torch.equal(layer.get_buffer(name) if "weight" not in name else layer.weight,
                           twin.get_buffer(name) if "weight" not in name else twin.weight), name
    assert ledger.totals() == twin_ledger.totals()


def test_gamma_shows_the_network_c_plus_gamma_a():
    layer, _ = stochastic_layer(LinearPulsed(LinearStepParams(n_states=500)), gamma=0.5)
    train_steps(layer, 3)
    c = layer.scale_per_s * (layer.conductance_s - layer.reference_s)
    assert float(layer.fast.weight.abs().max()) > 0
    assert torch.allclose(layer.weight.double(), c + 0.5 * layer.fast.weight.double(), atol=1e-6)


def test_fast_array_is_not_a_network_parameter_and_has_its_own_devices():
    layer, _ = stochastic_layer(SoftBoundsPulsed(LinearStepParams(n_states=100), x_sp=0.3), update_order="aggregated")
    assert isinstance(layer.fast, FastArray)
    assert [n for n, p in layer.named_parameters() if p.requires_grad] == ["weight", "bias"]
    # A's zero is each of its devices' symmetry point; C keeps its mid-range reference
    p = layer.tile.device.params
    assert float((layer.fast.reference_s - layer.tile.device.symmetry_point_s()).abs().max()) < 0.05 * (p.g_max_s - p.g_min_s)
    assert torch.equal(layer.fast.conductance_s, layer.fast.reference_s)
    assert float(layer.reference_s[0, 0]) == pytest.approx(0.5 * (p.g_min_s + p.g_max_s))


@pytest.mark.parametrize("key,value,allowed", [
    ("transfer_every", 0, r"\[1, 1e6\]"), ("n_reads_per_transfer", 1.5, r"\[1, 1e6\]"), ("transfer_lr", 0.0, r"\(0, 1e6\]"),
    ("fast_lr", float("inf"), r"\(0, 1e6\]"), ("momentum", 1.5, r"\[0, 1\]"), ("transfer_pulses", 0, r"\[1, 1024\]"),
    ("gamma", -0.1, r"\[0, 1\]"), ("forget_buffer", 1, "true, false"),
])
def test_rule_refuses_bad_values_naming_the_key_and_range(key, value, allowed):
    with pytest.raises(ConfigError, match=rf"^update\.{key}: got .*; .*{allowed}"):
        TikiTaka(**{key: value})


def test_study_builds_the_rule_and_refuses_bad_keys():
    from memcosim.build import tile_config, update_scheme
    from memcosim.config import parse_study

    study = parse_study({"training": {"algorithm": "tiki_taka", "transfer_every": 3, "n_reads_per_transfer": 2,
                                      "transfer_lr": 0.2, "fast_lr": 0.5, "bit_length": 7}})
    rule = tile_config(study).update
    assert RULES["tiki_taka"] is TikiTaka and isinstance(rule, TikiTaka)
    got = (rule.transfer_every, rule.n_reads_per_transfer, rule.transfer_lr, rule.fast_lr, rule.bit_length)
    assert got == (3, 2, 0.2, 0.5, 7)
    assert update_scheme(study) == "parallel_stochastic"
    deterministic = parse_study({"training": {"algorithm": "tiki_taka", "pulse_mode": "deterministic"}})
    assert update_scheme(deterministic) == "row_parallel"
    for key, value, allowed in (("transfer_every", 0, "allowed range [1, 1e+06]"),
                                ("transfer_lr", -1.0, "allowed range (0, 1e+06]")):
        with pytest.raises(ConfigError) as err:
            parse_study({"training": {"algorithm": "tiki_taka", key: value}})
        assert f"training.{key}" in str(err.value) and allowed in str(err.value) and "\n" not in str(err.value)
