import numpy as np
import pytest
import torch
from torch import nn

from memcosim.circuits import energy_models
from memcosim.devices import hzo, load_device_params
from memcosim.devices.linear_step import LinearStepParams
from memcosim.base.errors import ConfigError
from memcosim.circuits.models import IRDropModel, ReadEnergyModel, WriteEnergyModel
from memcosim.training import (AnalogSGD, ArrayConfig, CrossbarLinear, CrossbarSGD, EnergyConfig, EnergyLedger, HZOPulsed,
                               LinearPulsed, MappingConfig, MixedPrecision, ReadConfig, SymmetryShift, TileConfig,
                               WriteEnergyTable, attach_ledger, convert, crossbar_layers)
from memcosim.training.ir_drop import effective_conductance
from memcosim.training.bitstreams import stochastic_pulse_counts

HZO = load_device_params("hzo")
DETERMINISTIC = AnalogSGD(pulse_mode="deterministic")


def ideal_tile(**kw):
    return TileConfig(device=LinearPulsed(LinearStepParams(n_states=200000)),
                      update=AnalogSGD(pulse_mode="deterministic", max_pulses=10**6),
                      mapping=MappingConfig(weight_scaling_omega=0.2), **kw)


def step(layer, lr):
    """One optimizer step on one layer: its update rule, then the weight refreshed."""
    layer.tile.update.step(layer, lr)
    layer.sync_weight()


def test_ir_drop_matrix_equals_fitted_model():
    rng = np.random.default_rng(0)
    g = 1e-6 + 1e-5 * rng.random((12, 9))
    v = rng.random(12)
    expected = energy_models.ir_drop_currents(g, v, 5.0, 100.0, 1.3, 0.8)
    eff = effective_conductance(torch.as_tensor(g), 5.0, 100.0, 1.3, 0.8, 12, 9).numpy()
    assert np.allclose(v @ eff, expected, rtol=1e-12, atol=0)
    # tiled: each 4x3 array is its own circuit, column currents summed over the row tiles
    tiled = v @ effective_conductance(torch.as_tensor(g), 5.0, 100.0, 1.3, 0.8, 4, 3).numpy()
    by_hand = np.zeros(9)
    for r in range(0, 12, 4):
        for c in range(0, 9, 3):
            by_hand[c : c + 3] += energy_models.ir_drop_currents(g[r : r + 4, c : c + 3], v[r : r + 4], 5.0, 100.0, 1.3, 0.8)
    assert np.allclose(tiled, by_hand, rtol=1e-12)


def test_ideal_device_trains_like_nn_linear():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(256, 20, generator=gen)
    y = (x @ torch.randn(20, 4, generator=gen)).argmax(dim=1)
    ref = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-0.3, 0.3, generator=gen)
    analog = convert(__import__("copy").deepcopy(ref), ideal_tile())
    assert len(crossbar_layers(analog)) == 2
    opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1)
    opt_an = CrossbarSGD(analog, lr=0.1)
    for step in range(60):
        idx = torch.arange(step * 32, step * 32 + 32) % 256
        for model, opt in ((ref, opt_ref), (analog, opt_an)):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    for (name, a), b in zip(ref.named_parameters(), analog.parameters()):
        # one pulse is 1/200000 of the window: the weights agree to a few steps
        assert torch.allclose(a, b, atol=2e-4), name
    with torch.no_grad():
        assert torch.allclose(ref(x), analog(x), atol=1e-3)


def test_ledger_adds_up_exactly():
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=500)), update=MixedPrecision(),
                      read=ReadConfig(width_s=1e-8), energy=EnergyConfig(write=WriteEnergyTable.constant(2e-12)))
    ledger = EnergyLedger()
    model = convert(nn.Sequential(nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 3)), tile)
    attach_ledger(model, ledger)
    opt = CrossbarSGD(model, lr=0.5)
    gen = torch.Generator().manual_seed(1)
    per_step = []
    for _ in range(20):
        before = ledger.totals()
        opt.zero_grad()
        nn.functional.cross_entropy(model(torch.rand(8, 10, generator=gen)), torch.randint(0, 3, (8,), generator=gen)).backward()
        opt.step()
        per_step.append(ledger.totals().pulses - before.pulses)
    t = ledger.totals()
    assert t.updates == 20
    assert t.pulses == sum(per_step) > 0
    assert t.pulses == sum(v.pulses for v in t.per_layer.values())
    assert t.write_j == pytest.approx(2e-12 * t.pulses, rel=1e-12)
    assert t.write_j == pytest.approx(sum(v.write_j for v in t.per_layer.values()), rel=1e-12)
    assert t.array_energy_per_update_j == pytest.approx(t.write_j / 20, rel=1e-12)
    # read energy: t * sum_i V_i^2 sum_j g_ij over both arrays, inputs scaled to the read voltage
    layer = crossbar_layers(model)[0]
    fresh = attach_ledger(model, EnergyLedger())
    assert all(l.ledger is fresh for l in crossbar_layers(model))
    xin = torch.tensor([[1.0] + [0.5] * 9])
    layer(xin)
    v = 0.1 * xin[0].double()
    expected = 1e-8 * float((v**2 * (layer.conductance_s + layer.reference_s).sum(dim=0)).sum())
    assert fresh.totals().read_j == pytest.approx(expected, rel=1e-12)


def test_mixed_precision_transfers_whole_steps():
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=100)), update=MixedPrecision())
    layer = CrossbarLinear(3, 1, bias=False, tile=tile, initial_weight=torch.zeros(1, 3) + 0.01)
    eps = layer.eps_w
    g0 = layer.conductance_s.clone()
    layer.weight.grad = torch.tensor([[-0.4 * eps, -2.5 * eps, 1.2 * eps]])
    step(layer, 1.0)
    steps = (layer.conductance_s - g0) / (layer.tile.device.step_s())
    assert torch.allclose(steps, torch.tensor([[0.0, 2.0, -1.0]], dtype=torch.float64), atol=1e-9)
    assert torch.allclose(layer.accumulator, torch.tensor([[0.4, 0.5, -0.2]], dtype=torch.float64) * eps, atol=1e-12)


def test_stochastic_pulse_trains_are_unbiased():
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=1000)), update=AnalogSGD(pulse_mode="stochastic"))
    layer = CrossbarLinear(4, 3, bias=False, tile=tile, initial_weight=torch.zeros(3, 4))
    x = torch.tensor([[1.0, 0.5, -0.25, 0.0]])
    d = torch.tensor([[0.2, -0.1, 0.05]])
    lr = 5 * layer.eps_w / 0.2  # largest expected update: 5 pulses
    total = torch.zeros(3, 4, dtype=torch.float64)
    trials = 400
    for _ in range(trials):
        up, down = stochastic_pulse_counts(x, d, lr, layer.eps_w, 31, layer.generator)
        total += up - down
    expected = -lr * (d.T @ x).double() / layer.eps_w
    assert torch.allclose(total / trials, expected, atol=0.35)
    assert float(total[:, 3].abs().sum()) == 0.0  # zero input: no coincidences


def test_hzo_symmetry_shift_reference_is_the_symmetry_point():
    dev = HZOPulsed(HZO, 3.0, 2e-8)
    tile = TileConfig(device=dev, update=SymmetryShift())
    ledger = EnergyLedger()
    layer = CrossbarLinear(6, 4, tile=tile)
    attach_ledger(layer, ledger)
    sp = hzo.symmetry_point(HZO, 3.0, 2e-8)
    span = HZO.g_max_s - HZO.g_min_s
    assert float((layer.reference_s - sp).abs().max()) / span < 0.01
    assert ledger.totals().calibration_pulses > 0 and ledger.totals().pulses == 0


def test_hzo_plain_sgd_drifts_to_the_symmetry_point_and_shifting_removes_the_offset():
    """Alternating +/- gradients: plain SGD against a mid-range reference drifts to the symmetry point."""
    dev = HZOPulsed(HZO, 3.0, 2e-8)
    drift, offset = {}, {}
    for alg, rule in (("sgd", AnalogSGD), ("symmetry_shift", SymmetryShift)):
        tile = TileConfig(device=dev, update=rule(pulse_mode="deterministic"), mapping=MappingConfig(reference="midpoint"))
        layer = CrossbarLinear(8, 8, bias=False, tile=tile, initial_weight=torch.linspace(-0.06, 0.06, 64).reshape(8, 8))
        for k in range(400):
            layer.weight.grad = torch.full((8, 8), (1 if k % 2 else -1) * layer.eps_w)
            step(layer, 1.0)
        drift[alg] = float(layer.weight.detach().mean())
        mid = 0.5 * (HZO.g_min_s + HZO.g_max_s)
        offset[alg] = layer.scale_per_s * (hzo.symmetry_point(HZO, 3.0, 2e-8) - mid)
    # the drift ends within one pulse of the symmetry point, far from the zero it started at
    assert drift["sgd"] == pytest.approx(offset["sgd"], abs=2 * layer.eps_w) and abs(offset["sgd"]) > 10 * layer.eps_w
    assert abs(drift["symmetry_shift"]) < 2 * layer.eps_w


def test_two_population_device_keeps_its_state_in_the_layer():
    two = load_device_params("hzo", "id161_two_population")
    dev = HZOPulsed(two, 2.0, 2e-8)
    tile = TileConfig(device=dev, update=DETERMINISTIC)
    layer = CrossbarLinear(6, 4, tile=tile, initial_weight=torch.zeros(4, 6))
    assert layer.conductance_state.shape == (4, 6, 2)
    before = layer.conductance_state.clone()
    for k in range(5):
        layer.weight.grad = torch.full((4, 6), (1.0 if k < 3 else -1.0) * layer.eps_w)
        step(layer, 1.0)
    assert not torch.equal(before, layer.conductance_state)
    # the conductance the layer reads is the one its population state gives
    assert torch.allclose(layer.conductance_s, hzo.conductance_from_state(layer.conductance_state, two), rtol=1e-12)
    assert torch.allclose(layer.reference_s, hzo.conductance_from_state(layer.reference_state, two), rtol=1e-12)
    # and the state is saved with the layer
    assert "conductance_state" in layer.state_dict()


def test_exact_forward_agrees_with_fitted_ir_drop_model():
    dev = HZOPulsed(HZO, 3.0, 2e-8)
    kw = dict(device=dev, array=ArrayConfig(rows=8, cols=4, r_wire_ohm=50.0, r_driver_ohm=1000.0, ir_drop=IRDropModel(1.0, 1.0)))
    model_layer = CrossbarLinear(16, 6, tile=TileConfig(**kw), seed=3)
    exact_layer = CrossbarLinear(16, 6, tile=TileConfig(read=ReadConfig(forward="exact"), **kw), seed=3)
    ideal_layer = CrossbarLinear(16, 6, tile=TileConfig(device=dev), seed=3)
    x = torch.rand(5, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        ym, ye, yi = (l.double()(x) for l in (model_layer, exact_layer, ideal_layer))
    # kOhm-scale wires on nS cells: IR-drop is small but the first-order model must capture it
    assert float((ye - ym).abs().max()) < 0.05 * float((ye - yi).abs().max()) + 1e-12
    assert float((ye - yi).abs().max()) > 0


def test_bad_tile_config_names_the_field():
    with pytest.raises(ConfigError, match="tile.update: must be a UpdateRule, got str"):
        TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update="adam")
    with pytest.raises(ConfigError, match="pulse_width_s"):
        HZOPulsed(HZO, 3.0, -1.0)
    with pytest.raises(ConfigError, match="symmetry-point shifting needs 'reference'"):
        TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=SymmetryShift(), mapping=MappingConfig(mapping="differential"))
    with pytest.raises(ConfigError, match="^update.pulse_mode: got 'random'"):
        AnalogSGD(pulse_mode="random")
    with pytest.raises(ConfigError, match="^mapping.window_step_ratio: got 1.5"):
        MappingConfig(window_step_ratio=1.5)
    with pytest.raises(ConfigError, match="^read.forward: got 'spice'"):
        ReadConfig(forward="spice")
    # the exact solve needs real wires, or none at all: never a silently substituted resistance
    with pytest.raises(ConfigError, match="tile.read.forward: 'exact'.*both > 0"):
        TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), read=ReadConfig(forward="exact"), array=ArrayConfig(r_wire_ohm=1.0))


def test_stochastic_layer_skips_the_weight_gradient_and_still_updates():
    """A stochastic update comes from the saved inputs and output gradients: the backward forms no
    weight gradient (``weight.grad`` stays None, the bias's is formed), the optimizer still steps the
    layer (ideal or quantised reads), and a weight gradient set by hand changes nothing; a deterministic
    update gets its gradient."""
    from memcosim.training.io_precision import IOConfig

    x = torch.rand(16, 6, generator=torch.Generator().manual_seed(2))
    layers = []
    for by_hand, io in ((False, IOConfig()), (True, IOConfig()), (False, IOConfig(inp_bits=7, out_bits=9))):
        tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(pulse_mode="stochastic"), io=io)
        layer = CrossbarLinear(6, 4, tile=tile, seed=5)
        before = layer.conductance_s.clone()
        layer(x).square().sum().backward()
        assert layer.weight.grad is None and layer.bias.grad is not None and layer.has_saved()
        if by_hand:
            layer.weight.grad = torch.full((4, 6), 1e3)
        CrossbarSGD(layer, lr=0.5).step()
        assert not torch.equal(layer.conductance_s, before) and not layer.has_saved()
        layers.append(layer)
    assert torch.equal(layers[0].conductance_s, layers[1].conductance_s)
    det = CrossbarLinear(6, 4, tile=TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(pulse_mode="deterministic")))
    det(x).square().sum().backward()
    assert det.weight.grad is not None and float(det.weight.grad.abs().sum()) > 0


def test_misuse_is_a_clear_error():
    layer = CrossbarLinear(4, 3, tile=TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(pulse_mode="stochastic")))
    layer.weight.grad = torch.zeros(3, 4)
    with pytest.raises(ConfigError, match="^update.pulse_mode: stochastic updates need a forward and backward pass"):
        step(layer, 0.1)
    mtj_model = WriteEnergyModel("mtj", {t: 1.0 for t in ("selected_conduction", "half_selected_conduction", "capacitive",
                                                          "line_charging", "driver_conduction")})
    with pytest.raises(ConfigError, match="^write energy model: training costs pulses with an HZO"):
        WriteEnergyTable.from_circuit_model(mtj_model, HZO, 3.0, 2e-8, 8, 8)
    with pytest.raises(ConfigError, match="^write energy model: expected a WriteEnergyModel, got dict"):
        WriteEnergyTable.from_circuit_model({"device_kind": "hzo"}, HZO, 3.0, 2e-8, 8, 8)


def test_same_seed_same_layer():
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-6, device_to_device_std=0.1, cycle_to_cycle_std=0.05))
    a, b = (CrossbarLinear(5, 3, tile=tile, seed=9) for _ in range(2))
    assert torch.equal(a.conductance_s, b.conductance_s)
    c = CrossbarLinear(5, 3, tile=tile, seed=10)
    assert not torch.equal(a.conductance_s, c.conductance_s)


def test_convert_returns_a_copy_and_a_deep_copy_trains():
    import copy
    import io
    import pickle

    base = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    converted = convert(base, ideal_tile())
    assert all(type(m) is not CrossbarLinear for m in base.modules())  # the original is untouched
    twin = copy.deepcopy(converted)
    x = torch.rand(16, 6, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (16,), generator=torch.Generator().manual_seed(2))
    for model in (converted, twin):
        opt = CrossbarSGD(model, lr=0.5)
        before = [layer.conductance_s.clone() for layer in crossbar_layers(model)]
        for _ in range(5):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        after = [layer.conductance_s for layer in crossbar_layers(model)]
        assert all(not torch.equal(a, b) for a, b in zip(before, after))  # the crossbars were programmed
    # the copy follows exactly the same pulses as the original
    for a, b in zip(crossbar_layers(converted), crossbar_layers(twin)):
        assert torch.equal(a.conductance_s, b.conductance_s)
    restored = pickle.loads(pickle.dumps(twin))
    buf = io.BytesIO()
    torch.save(restored.state_dict(), buf)
    assert torch.equal(crossbar_layers(restored)[0].conductance_s, crossbar_layers(twin)[0].conductance_s)


def test_optimizer_takes_the_model():
    model = convert(nn.Linear(3, 2), ideal_tile())
    assert isinstance(model, CrossbarLinear)
    with pytest.raises(ConfigError, match="model: CrossbarSGD takes the model"):
        CrossbarSGD(model.parameters(), lr=0.1)


def test_circuit_write_table_books_every_term_by_name():
    """The ledger's parts add up to the fitted model's energy; the switching term follows the state change."""
    from memcosim.circuits import energy_models

    terms = energy_models.write_terms("hzo")
    coefficients = {t: 0.5 + 0.25 * k for k, t in enumerate(terms)}
    model = WriteEnergyModel("hzo", dict(reversed(list(coefficients.items()))), "v_half", 1e-16, 100.0)
    table = WriteEnergyTable.from_circuit_model(model, HZO, 3.0, 2e-8, 16, 16)
    x = 0.5  # a tabulated state (grid of 65 points)
    amp = -HZO.potentiation_polarity * 3.0  # a depressing pulse
    parts = model.terms_j(HZO, amp, 2e-8, x, 16, 16)
    booked = table.energy_j(torch.tensor([x]), torch.tensor([x]), torch.tensor([1.0]), "down")
    assert float(sum(booked)) == pytest.approx(sum(parts.values()) - parts["selected_switching"], rel=1e-9)
    assert float(booked[2]) == pytest.approx(parts["capacitive"] + parts["line_charging"] + parts["driver_conduction"], rel=1e-9)
    dx = 0.01
    switched = table.energy_j(torch.tensor([x]), torch.tensor([x - dx]), torch.tensor([1.0]), "down")
    # against the same pulse at the same (mid) state without the state change: the switching term alone
    # (to 1e-5: a difference of two energies 7x larger, at mid states rounded apart)
    unswitched = table.energy_j(torch.tensor([x - dx / 2]), torch.tensor([x - dx / 2]), torch.tensor([1.0]), "down")
    assert float(switched[0] - unswitched[0]) == pytest.approx(coefficients["selected_switching"] * 3.0 * float(
        hzo.switching_charge_c(HZO, dx)), rel=1e-5)


def test_read_energy_model_coefficient_is_applied():
    tile = TileConfig(device=LinearPulsed(LinearStepParams(n_states=100)),
                      energy=EnergyConfig(read=ReadEnergyModel(coefficient=2.0)))
    ledger = EnergyLedger()
    layer = CrossbarLinear(5, 2, tile=tile)
    attach_ledger(layer, ledger)
    layer(torch.ones(1, 5))
    expected = 2.0 * tile.read.width_s * float((0.1**2 * (layer.conductance_s + layer.reference_s)).sum())
    assert ledger.totals().read_j == pytest.approx(expected, rel=1e-12)
