import dataclasses

import numpy as np
import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.circuits.cell_read import series_cell_current_a
from memcosim.devices import load_device_params, mtj
from memcosim.devices.mtj_defects import DieStatistics, generate_die
from memcosim.devices.mtj_maps import DieMap
from memcosim.netlist import AccessTransistor
from memcosim.training.binary_mtj import (BinaryMTJNet, DieCircuit, binarize_inputs, die_grid, die_layers, layer_blocks,
                                          mtj_count, recalibrate)
from memcosim.training.dies import DiesConfig, run_dies
from memcosim.training.ledger import EnergyLedger

MTJ = load_device_params("mtj")
SPREAD = dataclasses.replace(MTJ, r_p_std=0.05, tmr_std=0.05)
SHAPES = [(64, 16), (16, 10)]
RATES = DieStatistics.from_rates(mtj.DefectRates(0.05, 0.02, 0.02, 0.02))
NONE = DieStatistics()


def circuit(**kw):
    base = dict(params=SPREAD, access=AccessTransistor())
    return DieCircuit(**{**base, **kw})


def die(c, seed, d, stats=RATES):
    """Die ``d`` of ``seed``, drawn by the generator from ``stats`` and the circuit's junction."""
    return die_layers(SHAPES, c, generate_die(c.params, stats, die_grid(SHAPES), c.read_voltage_v, seed, d), seed)


def config(**kw):
    return DiesConfig(**{"statistics": RATES, **kw})


def test_same_die_same_arrays_and_dies_differ():
    a, b = die(circuit(), 5, 3), die(circuit(), 5, 3)
    c = die(circuit(), 5, 4)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x)
    assert not torch.equal(a[0]["p_if_pos"], c[0]["p_if_pos"])


def test_defect_free_die_reads_the_ideal_network():
    c = circuit(params=MTJ)
    net = BinaryMTJNet(64, 16, 10, c, seed=0).eval()
    x = (torch.rand(20, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    clean = die(c, 0, 0, NONE)
    with torch.no_grad():
        for k, w in enumerate((net.w1, net.w2)):
            v = x[:, : w.shape[0]] * 0.1
            ideal = net._layer(v, w, None)
            assert torch.allclose(net._layer(v, w, clean[k]), ideal, rtol=1e-5, atol=1e-6 * float(ideal.abs().max()))


def test_access_transistor_limits_a_short():
    shorts = DieStatistics.from_rates(mtj.DefectRates(short_rate=1.0))
    one_r = die(circuit(access=None, params=MTJ), 0, 0, shorts)[0]["p_if_pos"]
    one_t = die(circuit(params=MTJ), 0, 0, shorts)[0]["p_if_pos"]
    g_p_1t1r = die(circuit(params=MTJ), 0, 0, NONE)[0]["p_if_pos"]
    assert float(one_r[0, 0]) == pytest.approx(1 / MTJ.r_short_ohm, rel=1e-6)
    # behind its transistor a short draws only a few times a P cell's current, not 50x
    ratio = float(one_t[0, 0] / g_p_1t1r[0, 0])
    assert 1.5 < ratio < 10
    assert float(one_r[0, 0]) > 5 * float(one_t[0, 0])


def test_lower_word_line_voltage_limits_a_short_further():
    def short_over_p(gate_v):
        access = AccessTransistor(gate_on_v=gate_v)
        short = die(circuit(access=access, params=MTJ), 0, 0, DieStatistics.from_rates(mtj.DefectRates(short_rate=1.0)))
        ok = die(circuit(access=access, params=MTJ), 0, 0, NONE)
        # excess current of a short over a P cell, in units of the P/AP read difference
        g_s, g_p, g_ap = float(short[0]["p_if_pos"][0, 0]), float(ok[0]["p_if_pos"][0, 0]), float(ok[0]["p_if_neg"][0, 0])
        return (g_s - g_p) / (g_p - g_ap)

    assert short_over_p(0.6) < 0.5 * short_over_p(1.2)


def test_sense_offsets_are_per_die_and_seeded():
    a = die(circuit(sense_offset_a=1e-6), 5, 3)
    b = die(circuit(sense_offset_a=1e-6), 5, 3)
    c = die(circuit(sense_offset_a=1e-6), 5, 4)
    assert a[0]["offset_a"].shape == (16,) and a[1]["offset_a"].shape == (10,)
    assert torch.equal(a[0]["offset_a"], b[0]["offset_a"]) and not torch.equal(a[0]["offset_a"], c[0]["offset_a"])
    assert 2e-7 < float(a[0]["offset_a"].std()) < 5e-6
    assert "offset_a" not in die(circuit(), 5, 3)[0]
    # the offset adds to the differential column current the comparator sees
    net = BinaryMTJNet(64, 16, 10, circuit(sense_offset_a=1e-6), seed=0).eval()
    v = torch.zeros(3, 64)
    assert torch.allclose(net._layer(v, net.w1, a[0]), a[0]["offset_a"].expand(3, 16))


def test_binarize_and_count():
    x = torch.zeros(2, 784)
    x[0, :28] = 1.0  # first image row lit
    b = binarize_inputs(x, 2)
    assert b.shape == (2, 196) and float(b.sum()) == 0.0  # half a 2x2 block: average 0.5, not > 0.5
    assert float(binarize_inputs(x, 2, threshold=0.25).sum()) == 14  # ... but above a 0.25 threshold
    assert mtj_count(196, 48) == 19776


def test_run_dies_small_and_deterministic():
    c = circuit(access=None)  # 1R cells: shorts wreck defect-unaware networks
    cfg = config(circuit=c, dataset="digits", pool=1, hidden=16, epochs=3, batch_size=32, learning_rate=0.02,
                 n_dies=3, seed=2)
    a = run_dies(cfg)
    b = run_dies(cfg)
    assert a.modes == b.modes and a.software_error == b.software_error
    assert set(a.modes) == {"ideal", "hardware_aware", "statistics_aware"}
    assert all(len(m.die_errors) == 3 for m in a.modes.values())
    assert a.software_error < 0.5
    # defect-unaware weights on dies with 5 % unlimited shorts lose much accuracy
    assert a.modes["ideal"].mean > a.software_error + 0.1
    assert a.read_energy_per_inference_j > 0


def test_recalibration_trims_thresholds_only():
    c = circuit()
    net = BinaryMTJNet(64, 16, 10, c, seed=0).eval()
    x = (torch.rand(200, 64, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    d = die(c, 0, 0)
    trimmed = recalibrate(net, d, x)
    assert torch.equal(trimmed.w1, net.w1) and torch.equal(trimmed.w2, net.w2)  # no junction reprogrammed
    z = net._layer(x * c.read_voltage_v, net.w1, d[0]) / (c.read_voltage_v * net.g_unit)
    # the trimmed thresholds are the die's own column statistics
    assert torch.allclose(trimmed.bn.running_mean, z.mean(dim=0), rtol=1e-4, atol=1e-4)
    assert not torch.equal(trimmed.bn.running_mean, net.bn.running_mean)


def test_run_dies_reports_recalibrated_modes():
    cfg = config(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=2, seed=2,
                     modes=("ideal",), recalibrate_inputs=100)
    r = run_dies(cfg)
    assert set(r.modes) == {"ideal", "ideal_recalibrated"}
    assert len(r.modes["ideal_recalibrated"].die_errors) == 2


def test_exact_effective_conductance_is_the_nodal_solve():
    import numpy as np

    from memcosim.circuits.crossbar_solver import CrossbarSolver
    from memcosim.training.ir_drop import effective_conductance, exact_effective_conductance

    rng = np.random.default_rng(0)
    g = 1.0 / (5e3 + 7e3 * rng.random((20, 14)))
    g[rng.random(g.shape) < 0.05] = 1.0 / 1.1e3  # shorts behind their transistors
    v = 0.1 * (rng.random((5, 20)) < 0.4)
    exact = exact_effective_conductance(torch.as_tensor(g), 0.5, 5.0, 8, 6).numpy()
    by_tile = np.zeros((5, 14))
    for r in range(0, 20, 8):
        for c in range(0, 14, 6):
            by_tile[:, c : c + 6] += CrossbarSolver(g[r : r + 8, c : c + 6], 0.5, 5.0).solve(v[:, r : r + 8]).column_current_a
    assert np.allclose(v @ exact, by_tile, rtol=1e-9, atol=0)
    # at small parasitics the first-order model is close to it; both lose current to the wires
    first = effective_conductance(torch.as_tensor(g), 0.5, 5.0, 1.0, 1.0, 8, 6).numpy()
    assert np.abs(v @ first - by_tile).max() < 0.3 * np.abs(v @ g - by_tile).max()
    assert np.all(v @ exact <= v @ g + 1e-15)


def test_exact_die_evaluation_and_its_errors():
    with pytest.raises(Exception, match="dies.ir_model: 'exact' die evaluation needs array.r_wire_ohm"):
        circuit(ir_model="exact")
    with pytest.raises(Exception, match="ir_model: must be"):
        circuit(ir_model="spice")
    first = circuit(r_wire_ohm=0.5, r_driver_ohm=5.0, array_rows=32, array_cols=32)
    exact = circuit(r_wire_ohm=0.5, r_driver_ohm=5.0, array_rows=32, array_cols=32, ir_model="exact")
    net = BinaryMTJNet(64, 16, 10, first, seed=0).eval()
    x = (torch.rand(30, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float() * 0.1
    d = die(first, 0, 0)
    with torch.no_grad():
        a = net._layer(x, net.w1, d[0])
        net.circuit = exact
        b = net._layer(x, net.w1, d[0])
    # within one read unit (the current difference of one ideal +-1 weight) of each other, not equal
    assert not torch.equal(a, b) and torch.allclose(a, b, rtol=0, atol=float(net.g_unit) * 0.1)


def test_a_die_reads_its_map_behind_the_access_transistors():
    """Each layer is its block of the die grid (plus columns, then minus); every cell is its junction in series
    with its transistor (the closed form checked against ngspice in tests/circuits)."""
    c = circuit()
    m = generate_die(SPREAD, RATES, (70, 60), 0.1, 5, 3)  # larger than the network's 64 x 52: the rest is unused
    layers = die_layers(SHAPES, c, m, 5)
    assert layer_blocks(SHAPES) == [(0, 0, 64, 32), (0, 32, 16, 20)] and die_grid(SHAPES) == (64, 52)
    g = lambda r: series_cell_current_a(r, 0.1, c.access) / 0.1  # noqa: E731
    for layer, (r0, c0, rows, cols) in zip(layers, layer_blocks(SHAPES)):
        n = cols // 2
        r_p, r_ap = m.r_p_ohm[r0 : r0 + rows, c0 : c0 + cols], m.r_ap_ohm[r0 : r0 + rows, c0 : c0 + cols]
        assert np.allclose(layer["p_if_pos"].numpy(), g(r_p[:, :n]), rtol=1e-6)
        assert np.allclose(layer["p_if_neg"].numpy(), g(r_ap[:, :n]), rtol=1e-6)
        assert np.allclose(layer["m_if_pos"].numpy(), g(r_ap[:, n:]), rtol=1e-6)
        assert np.allclose(layer["m_if_neg"].numpy(), g(r_p[:, n:]), rtol=1e-6)
    with pytest.raises(ConfigError, match=r"die 3 is 64 x 40 cells; the network needs 64 x 52 \(layer 1: 64 x 32 at rows "
                                          r"0-63, columns 0-31; layer 2: 16 x 20 at rows 0-15, columns 32-51\)"):
        die_layers(SHAPES, c, DieMap(3, m.r_p_ohm[:64, :40], m.r_ap_ohm[:64, :40]))


def test_every_read_of_a_die_is_booked_with_the_read_energy_law():
    c = circuit()
    ledger = EnergyLedger()
    net = BinaryMTJNet(64, 16, 10, c, seed=0, ledger=ledger).eval()
    x = (torch.rand(30, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    d = die(c, 0, 0)
    with torch.no_grad():
        net(x, None)  # the ideal network (software) reads no die
        assert ledger.totals().eval_read_j == 0.0
        h = net.hidden(x, d)
        ledger.reset()
        net(x, d)
    # t V^2 sum over driven rows of the conductances of both cells of every pair, as programmed
    per_layer = []
    for v, layer, w in ((x, d[0], net.w1), (h, d[1], net.w2)):
        pos = (w >= 0).double()
        g = pos * (layer["p_if_pos"] + layer["m_if_pos"]).double() + (1 - pos) * (layer["p_if_neg"] + layer["m_if_neg"]).double()
        per_layer.append(c.read_width_s * 0.1**2 * float((v.double() @ g).sum()))
    totals = ledger.totals()
    # to 1e-7: the network's read voltages are float32 (0.1 V is 0.1 + 1.5e-9 there: 3e-8 in V^2)
    assert totals.eval_read_j == pytest.approx(sum(per_layer), rel=1e-7) and totals.read_j == 0.0
    # in training mode the same reads are training reads; a clone books into the same ledger
    twin = net.clone().train()
    assert twin.ledger is ledger and twin.w1 is not net.w1
    twin._layer(x * 0.1, twin.w1, d[0])
    assert ledger.totals().read_j == pytest.approx(per_layer[0], rel=1e-7)


def test_run_dies_costs_every_read_and_reports_energy_per_mode():
    cfg = config(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=2, seed=2,
                     modes=("ideal", "hardware_aware", "statistics_aware"), recalibrate_inputs=50)
    r = run_dies(cfg)
    assert r.read_energy_j.training > 0 and r.read_energy_j.evaluation > 0
    for mode in ("ideal", "hardware_aware", "statistics_aware", "ideal_recalibrated"):
        assert 1e-13 < r.modes[mode].read_energy_per_inference_j < 1e-9
    # the headline number is the ideal network on die 0; the ideal mode's is the mean over both dies
    assert r.read_energy_per_inference_j != r.modes["ideal"].read_energy_per_inference_j
    assert r.read_energy_per_inference_j == pytest.approx(r.modes["ideal"].read_energy_per_inference_j, rel=0.2)
    only_sa = run_dies(dataclasses.replace(cfg, modes=("statistics_aware",), recalibrate_inputs=0))
    assert only_sa.read_energy_per_inference_j == r.read_energy_per_inference_j


def test_interrupted_die_study_resumes_from_its_checkpoints(tmp_path):
    cfg = config(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=3, seed=4)
    strip = lambda r: dataclasses.replace(r, elapsed_s=0.0)  # noqa: E731
    full = run_dies(cfg, checkpoint_dir=tmp_path / "full")
    names = {"ideal.pt", "statistics_aware.pt"} | {f"hardware_aware_die{d}.pt" for d in range(3)}
    assert {p.name for p in (tmp_path / "full").iterdir()} == names
    for name in names:  # tensors and plain data only
        state = torch.load(tmp_path / "full" / name, weights_only=True)
        assert state["format"] == "memcosim-checkpoint/1" and state["epoch"] == 1 and state["scheduler"] is not None
    # as if killed during the statistics-aware training, after the first die's fine-tuning
    part = tmp_path / "part"
    part.mkdir()
    for name in ("ideal.pt", "hardware_aware_die0.pt"):
        (part / name).write_bytes((tmp_path / "full" / name).read_bytes())
    trained = []
    resumed = run_dies(cfg, progress=lambda tag, epoch: trained.append(tag), checkpoint_dir=part)
    assert strip(resumed) == strip(full)
    # the ideal network and die 0 were not trained again
    assert "ideal" not in trained and "hardware_aware/die0" not in trained and "hardware_aware/die2" in trained


def test_die_study_killed_inside_a_stage_resumes_to_the_same_result(tmp_path):
    cfg = config(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=3, batch_size=64, n_dies=2, seed=4,
                     modes=("statistics_aware", "hardware_aware"), hardware_aware_epochs=2)
    strip = lambda r: dataclasses.replace(r, elapsed_s=0.0)  # noqa: E731
    full = run_dies(cfg, checkpoint_dir=tmp_path / "full")

    for stage, epoch in (("ideal", 2), ("statistics_aware", 1), ("hardware_aware/die1", 1)):
        class Killed(Exception):
            pass

        def kill(tag, done, stage=stage, epoch=epoch):
            if (tag, done) == (stage, epoch):
                raise Killed

        out = tmp_path / stage.replace("/", "_")
        with pytest.raises(Killed):
            run_dies(cfg, progress=kill, checkpoint_dir=out)
        assert strip(run_dies(cfg, checkpoint_dir=out)) == strip(full)


def test_a_stage_checkpoint_of_another_configuration_is_refused(tmp_path):
    from memcosim.base.errors import ConfigError

    cfg = config(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=1, seed=4,
                     modes=("ideal",))
    run_dies(cfg, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="ideal.pt belongs to a different configuration"):
        run_dies(dataclasses.replace(cfg, learning_rate=0.02), checkpoint_dir=tmp_path)


def test_run_dies_adds_the_periphery_per_inference():
    from memcosim.training.periphery import PeripheryCosts

    # one joule per conversion, nothing else: 16 hidden comparators and 10 output conversions an inference
    costs = PeripheryCosts(adc_j=1.0)
    cfg = config(circuit=circuit(periphery=(costs, costs)), dataset="digits", pool=1, hidden=16, epochs=1,
                     batch_size=64, n_dies=2, seed=2, modes=("ideal", "hardware_aware"))
    r = run_dies(cfg)
    for mode in ("ideal", "hardware_aware"):
        m = r.modes[mode]
        assert m.tile_energy_per_inference_j - m.read_energy_per_inference_j == pytest.approx(26.0, rel=1e-9)
    assert r.tile.inference.converters_j > 0 and r.tile.inferences > 0
    assert run_dies(dataclasses.replace(cfg, circuit=circuit())).modes["ideal"].tile_energy_per_inference_j is None


def test_dies_per_step_is_checked_against_the_batch():
    for bad in (0, 65):
        with pytest.raises(ConfigError, match=r"dies.dies_per_step: must be in \[1, training.batch_size = 64\]"):
            config(circuit=circuit(), dies_per_step=bad)
