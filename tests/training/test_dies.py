import pytest
import torch

from memcosim.devices import load_device_params, mtj
from memcosim.netlist import AccessTransistor
from memcosim.training.dies import (BinaryMTJNet, DieCircuit, DiesConfig, binarize_inputs, die_layers, mtj_count, recalibrate,
                                    run_dies)

MTJ = load_device_params("mtj")
SHAPES = [(64, 16), (16, 10)]


def circuit(**kw):
    base = dict(params=MTJ, rates=mtj.DefectRates(0.05, 0.02, 0.02, 0.02), access=AccessTransistor(), device_to_device_std=0.05)
    return DieCircuit(**{**base, **kw})


def test_same_die_same_arrays_and_dies_differ():
    a, b = die_layers(SHAPES, circuit(), 5, 3), die_layers(SHAPES, circuit(), 5, 3)
    c = die_layers(SHAPES, circuit(), 5, 4)
    assert all(torch.equal(x[k], y[k]) for x, y in zip(a, b) for k in x)
    assert not torch.equal(a[0]["p_if_pos"], c[0]["p_if_pos"])


def test_defect_free_die_reads_the_ideal_network():
    c = circuit(rates=mtj.DefectRates(), device_to_device_std=0.0)
    net = BinaryMTJNet(64, 16, 10, c, seed=0).eval()
    x = (torch.rand(20, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    die = die_layers(SHAPES, c, 0, 0)
    with torch.no_grad():
        for k, w in enumerate((net.w1, net.w2)):
            v = x[:, : w.shape[0]] * 0.1
            ideal = net._layer(v, w, None)
            assert torch.allclose(net._layer(v, w, die[k]), ideal, rtol=1e-5, atol=1e-6 * float(ideal.abs().max()))


def test_access_transistor_limits_a_short():
    rates = mtj.DefectRates(short_rate=1.0)
    one_r = die_layers(SHAPES, circuit(rates=rates, access=None, device_to_device_std=0.0), 0, 0)[0]["p_if_pos"]
    one_t = die_layers(SHAPES, circuit(rates=rates, device_to_device_std=0.0), 0, 0)[0]["p_if_pos"]
    g_p_1t1r = die_layers(SHAPES, circuit(rates=mtj.DefectRates(), device_to_device_std=0.0), 0, 0)[0]["p_if_pos"]
    assert float(one_r[0, 0]) == pytest.approx(1 / MTJ.r_short_ohm, rel=1e-6)
    # behind its transistor a short draws only a few times a P cell's current, not 50x
    ratio = float(one_t[0, 0] / g_p_1t1r[0, 0])
    assert 1.5 < ratio < 10
    assert float(one_r[0, 0]) > 5 * float(one_t[0, 0])


def test_lower_word_line_voltage_limits_a_short_further():
    def short_over_p(gate_v):
        access = AccessTransistor(gate_on_v=gate_v)
        short = die_layers(SHAPES, circuit(rates=mtj.DefectRates(short_rate=1.0), access=access, device_to_device_std=0.0), 0, 0)
        ok = die_layers(SHAPES, circuit(rates=mtj.DefectRates(), access=access, device_to_device_std=0.0), 0, 0)
        # excess current of a short over a P cell, in units of the P/AP read difference
        g_s, g_p, g_ap = float(short[0]["p_if_pos"][0, 0]), float(ok[0]["p_if_pos"][0, 0]), float(ok[0]["p_if_neg"][0, 0])
        return (g_s - g_p) / (g_p - g_ap)

    assert short_over_p(0.6) < 0.5 * short_over_p(1.2)


def test_sense_offsets_are_per_die_and_seeded():
    a = die_layers(SHAPES, circuit(sense_offset_a=1e-6), 5, 3)
    b = die_layers(SHAPES, circuit(sense_offset_a=1e-6), 5, 3)
    c = die_layers(SHAPES, circuit(sense_offset_a=1e-6), 5, 4)
    assert a[0]["offset_a"].shape == (16,) and a[1]["offset_a"].shape == (10,)
    assert torch.equal(a[0]["offset_a"], b[0]["offset_a"]) and not torch.equal(a[0]["offset_a"], c[0]["offset_a"])
    assert 2e-7 < float(a[0]["offset_a"].std()) < 5e-6
    assert "offset_a" not in die_layers(SHAPES, circuit(), 5, 3)[0]
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
    cfg = DiesConfig(circuit=c, dataset="digits", pool=1, hidden=16, epochs=3, batch_size=32, learning_rate=0.02,
                     n_dies=3, seed=2)
    a = run_dies(cfg)
    b = run_dies(cfg)
    assert a["modes"] == b["modes"] and a["software_error"] == b["software_error"]
    assert set(a["modes"]) == {"ideal", "hardware_aware", "statistics_aware"}
    assert all(len(m["die_errors"]) == 3 for m in a["modes"].values())
    assert a["software_error"] < 0.5
    # defect-unaware weights on dies with 5 % unlimited shorts lose much accuracy
    assert a["modes"]["ideal"]["mean"] > a["software_error"] + 0.1
    assert a["read_energy_per_inference_j"] > 0


def test_recalibration_trims_thresholds_only():
    c = circuit()
    net = BinaryMTJNet(64, 16, 10, c, seed=0).eval()
    x = (torch.rand(200, 64, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    die = die_layers(SHAPES, c, 0, 0)
    trimmed = recalibrate(net, die, x)
    assert torch.equal(trimmed.w1, net.w1) and torch.equal(trimmed.w2, net.w2)  # no junction reprogrammed
    z = net._layer(x * c.read_voltage_v, net.w1, die[0]) / (c.read_voltage_v * net.g_unit)
    # the trimmed thresholds are the die's own column statistics
    assert torch.allclose(trimmed.bn.running_mean, z.mean(dim=0), rtol=1e-4, atol=1e-4)
    assert not torch.equal(trimmed.bn.running_mean, net.bn.running_mean)


def test_run_dies_reports_recalibrated_modes():
    cfg = DiesConfig(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=2, seed=2,
                     modes=("ideal",), recalibrate_inputs=100)
    r = run_dies(cfg)
    assert set(r["modes"]) == {"ideal", "ideal_recalibrated"}
    assert len(r["modes"]["ideal_recalibrated"]["die_errors"]) == 2


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
    with pytest.raises(Exception, match="training.forward: 'exact' die evaluation needs array.r_wire_ohm"):
        circuit(ir_model="exact")
    with pytest.raises(Exception, match="ir_model: must be"):
        circuit(ir_model="spice")
    first = circuit(r_wire_ohm=0.5, r_driver_ohm=5.0, array_rows=32, array_cols=32)
    exact = circuit(r_wire_ohm=0.5, r_driver_ohm=5.0, array_rows=32, array_cols=32, ir_model="exact")
    net = BinaryMTJNet(64, 16, 10, first, seed=0).eval()
    x = (torch.rand(30, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float() * 0.1
    die = die_layers(SHAPES, first, 0, 0)
    with torch.no_grad():
        a = net._layer(x, net.w1, die[0])
        net.circuit = exact
        b = net._layer(x, net.w1, die[0])
    # within one read unit (the current difference of one ideal +-1 weight) of each other, not equal
    assert not torch.equal(a, b) and torch.allclose(a, b, rtol=0, atol=float(net.g_unit) * 0.1)


def test_interrupted_die_study_resumes_from_its_checkpoints(tmp_path):
    import json

    cfg = DiesConfig(circuit=circuit(), dataset="digits", pool=1, hidden=16, epochs=1, batch_size=64, n_dies=3, seed=4)
    strip = lambda r: {k: v for k, v in r.items() if k != "elapsed_s"}  # noqa: E731
    full = run_dies(cfg, checkpoint_dir=tmp_path / "full")
    assert {p.name for p in (tmp_path / "full").iterdir()} == {"ideal.pt", "statistics_aware.pt", "hardware_aware.json"}
    # as if killed during the statistics-aware training, after the first die's fine-tuning
    part = tmp_path / "part"
    part.mkdir()
    (part / "ideal.pt").write_bytes((tmp_path / "full" / "ideal.pt").read_bytes())
    first = json.loads((tmp_path / "full" / "hardware_aware.json").read_text())["die_errors"][:1]
    (part / "hardware_aware.json").write_text(json.dumps({"die_errors": first}))
    trained = []
    resumed = run_dies(cfg, progress=lambda tag, epoch: trained.append(tag), checkpoint_dir=part)
    assert strip(resumed) == strip(full)
    # the ideal network and die 0 were not trained again
    assert "ideal" not in trained and "hardware_aware/die0" not in trained and "hardware_aware/die2" in trained
