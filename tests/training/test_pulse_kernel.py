"""Stochastic pulse trains in hardware order: exact statistics, the order's effect, compiled == torch."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from memcosim.base.errors import ConfigError
from memcosim.devices import hzo, load_device_params
from memcosim.devices.linear_step import LinearStepParams
from memcosim.devices.prims import NUMPY
from memcosim.training import (AnalogSGD, CrossbarLinear, CrossbarSGD, EnergyConfig, EnergyLedger, HZOPulsed, LinearPulsed,
                               MappingConfig, SymmetryShift, TileConfig, WriteEnergyTable, coincidences, convert, event_kernel,
                               kernel, kernel_ops, read_kernel)
from memcosim.training.bitstreams import _fixed53, coincidence_totals_torch, draw_streams, masks_torch
from memcosim.training.bitstreams import stochastic_pulse_counts
from memcosim.training import attach_ledger

HZO = load_device_params("hzo")
compiled_only = pytest.mark.skipif(not kernel.available(), reason="numba not importable")


def _xd():
    """Fixed inputs and output gradients with both signs: probabilities between 0.1 and 1."""
    x = torch.tensor([[0.9, -0.5, 0.2, 0.0], [0.3, 0.8, -0.6, 0.4], [-1.0, 0.1, 0.5, 0.7]], dtype=torch.float64)
    d = torch.tensor([[0.5, -0.2, 0.9], [-0.7, 0.4, 0.1], [0.3, 0.6, -0.8]], dtype=torch.float64)
    return x, d


def _samples(draw, n):
    return torch.stack([torch.cat([t.reshape(-1) for t in draw(seed)]) for seed in range(n)]).numpy()


def test_counts_have_the_reference_bit_stream_distribution():
    """Mean and covariance of the up/down counts of every device, over many seeds, equal those of
    the reference coincidence counting (stochastic_pulse_counts) within sampling error."""
    x, d = _xd()
    lr, eps_w, bl, n = 0.05, 0.01, 7, 2000
    draw = kernel.draw_streams if kernel.available() else draw_streams  # the same bits either way (tested below)

    def new(seed):
        return coincidence_totals_torch(draw(x, d, lr, eps_w, bl, torch.Generator().manual_seed(seed)))

    def reference(seed):
        return stochastic_pulse_counts(x, d, lr, eps_w, bl, torch.Generator().manual_seed(10**6 + seed))

    a, b = _samples(new, n), _samples(reference, n)
    # means: against the exact expectation, sum over samples of BL px pd on each device's polarity
    from memcosim.training.bitstreams import stream_probabilities
    px, pd, sx, sd = stream_probabilities(x, d, lr, eps_w, bl)
    rate = bl * torch.einsum("bj,bi->bji", pd, px)
    polarity = torch.einsum("bj,bi->bji", sd.double(), sx.double())
    exact = torch.cat([(rate * (polarity > 0)).sum(0).reshape(-1), (rate * (polarity < 0)).sum(0).reshape(-1)]).numpy()
    for s in (a, b):
        assert np.all(np.abs(s.mean(0) - exact) <= 5 * s.std(0) / np.sqrt(n) + 1e-12)
    ca, cb = np.cov(a.T), np.cov(b.T)
    sd_a, sd_b = np.sqrt(np.diag(ca)), np.sqrt(np.diag(cb))
    se = np.sqrt((np.outer(sd_a, sd_a) ** 2 + ca**2 + np.outer(sd_b, sd_b) ** 2 + cb**2) / n)
    assert np.all(np.abs(ca - cb) <= 5 * se + 1e-12)
    assert ca[0, 1] > 0.05 * sd_a[0] * sd_a[1]  # devices sharing a row are correlated, as the reference


@compiled_only
@pytest.mark.parametrize("bit_length", [1, 31, 40])
def test_compiled_bit_streams_equal_torch(bit_length):
    gen = torch.Generator().manual_seed(0)
    p = torch.rand(6, 30, generator=gen, dtype=torch.float64) * torch.tensor([0.0, 1e-3, 0.3, 1.0, 0.999]).repeat(6)
    p[0, 0] = 1.0
    key = torch.tensor(987654321)
    assert torch.equal(masks_torch(_fixed53(p), key, bit_length), kernel.masks(_fixed53(p), key, bit_length))


@compiled_only
@pytest.mark.parametrize("bit_length", [7, 31, 45])
def test_compiled_draw_streams_equal_torch(bit_length):
    """Probabilities, keys, trains and polarities: the compiled draw gives the torch draw's bits."""
    x = torch.rand(16, 50, generator=torch.Generator().manual_seed(3)) - 0.2
    x[:, :20] = 0
    d = 0.01 * torch.randn(16, 9, generator=torch.Generator().manual_seed(4))
    d[3] = 0
    a = draw_streams(x, d, 0.05, 0.003, bit_length, torch.Generator().manual_seed(5))
    b = kernel.draw_streams(x, d, 0.05, 0.003, bit_length, torch.Generator().manual_seed(5))
    for field in ("x_mask", "x_sign", "d_mask", "d_sign", "noise_key"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


@compiled_only
def test_compiled_device_laws_are_the_numpy_laws():
    """The kernel compiles the very functions of memcosim.devices: same numbers as numpy's."""
    import numba

    from memcosim.devices.hzo_switching import nls_switch

    @numba.njit
    def compiled(x, down, u, lam, scale, log_tau, log_t, f):
        out = np.empty_like(x)
        for k in range(x.size):
            out[k] = nls_switch(x[k], down, u, lam, scale, log_tau, log_t, f)
        return out

    x = np.linspace(0.0, 1.0, 101)
    for down, (u, lam, scale, log_tau) in ((0.0, hzo.step_constants(HZO, 3.0, True)[0]),
                                           (1.0, hzo.step_constants(HZO, 3.0, False)[0])):
        args = (down, u, lam, scale, log_tau, np.log(3 * 2e-8))
        assert np.allclose(compiled(x, *args, event_kernel.SCALAR), nls_switch(x, *args, NUMPY), rtol=1e-13, atol=1e-15)


def _model(kind, mapping="reference", order="hardware", rule=AnalogSGD, **device):
    if kind == "linear":
        dev = LinearPulsed(LinearStepParams(n_states=50, asymmetry=0.2, cycle_to_cycle_std=0.1), 3.0, 2e-8)  # the table's pulse
    else:
        params = load_device_params("hzo", kind)
        params = dataclasses.replace(params, **device)
        dev = HZOPulsed(params, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.05)
    tile = TileConfig(device=dev, update=rule(update_order=order, bit_length=15),
                      energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-8)),
                      mapping=MappingConfig(mapping=mapping))
    ledger = EnergyLedger()
    torch.manual_seed(0)
    model = convert(nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3)), tile, seed=3)
    attach_ledger(model, ledger)
    return model, ledger


def _train(model, ledger, steps=4):
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(16, 12, generator=gen), torch.randint(0, 3, (16,), generator=gen)
    opt = CrossbarSGD(model, lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return torch.cat([b.reshape(-1) for name, b in model.named_buffers() if "conductance" in name or "reference" in name])


def assert_engines_agree(make_tile, monkeypatch):
    """A small network trained through ``make_tile()`` with the compiled kernel and with the torch
    path: the same conductances (to rounding), pulses and write energy."""
    results = []
    for path in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "" if path == "compiled" else "torch")
        ledger = EnergyLedger()
        torch.manual_seed(0)
        model = convert(nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3)), make_tile(), seed=3)
        attach_ledger(model, ledger)
        results.append((_train(model, ledger), ledger.totals()))
    (g_c, t_c), (g_t, t_t) = results
    assert t_c.pulses == t_t.pulses > 20
    assert torch.allclose(g_c, g_t, rtol=1e-12, atol=0)
    assert t_c.write_j == pytest.approx(t_t.write_j, rel=1e-12)
    return t_c


@compiled_only
@pytest.mark.parametrize("kind,mapping,device", [
    ("default", "reference", {"n_domains": 200}),
    ("id161_two_population", "differential", {}),
    ("linear", "reference", {}),
])
def test_compiled_path_equals_torch_path(kind, mapping, device, monkeypatch):
    results = []
    for path in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "" if path == "compiled" else "torch")
        model, ledger = _model(kind, mapping, **device)
        results.append((_train(model, ledger), ledger.totals()))
    (g_c, t_c), (g_t, t_t) = results
    assert t_c.pulses == t_t.pulses > 20
    assert torch.allclose(g_c, g_t, rtol=1e-12, atol=0)
    assert t_c.write_j == pytest.approx(t_t.write_j, rel=1e-12)
    assert t_c.read_j == pytest.approx(t_t.read_j, rel=1e-12) and t_c.read_j > 0  # the compiled read booking
    assert t_c.write_split_j == pytest.approx(t_t.write_split_j, rel=1e-12)  # shared costs at the mean state


@compiled_only
@pytest.mark.parametrize("kind,mapping", [("default", "reference"), ("id161_two_population", "differential")])
def test_rows_of_many_event_chunks_equal_torch(kind, mapping):
    """Dense trains: every output row meets hundreds of coincidences, so the event loop gathers and
    prefetches them in several chunks (``event_kernel._CHUNK``) before it runs them; each device still
    takes its trains sample after sample, as the torch path does."""
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(64, 12, generator=gen, dtype=torch.float64) + 0.5
    d = torch.rand(64, 6, generator=gen, dtype=torch.float64) - 0.5
    layers = [_model(kind, mapping)[0][0] for _ in range(2)]
    streams = kernel.draw_streams(x, d, 0.5, layers[0].eps_w, 31, torch.Generator().manual_seed(2))
    meets = ((streams.x_mask[:, None, :, :] & streams.d_mask[:, :, None, :]) != 0).any(dim=-1)  # (batch, out, in)
    meets &= (streams.d_sign != 0)[:, :, None] & (streams.x_sign != 0)[:, None, :]
    assert int(meets.sum(dim=(0, 2)).min()) > 4 * event_kernel._CHUNK  # events of the sparsest row
    for layer, compiled in zip(layers, (True, False)):
        layer.apply_pulse_streams(streams, compiled=compiled)
    (c, t) = (torch.cat([b.reshape(-1) for name, b in layer.named_buffers() if "conductance" in name or "reference" in name])
              for layer in layers)
    assert not torch.equal(c, torch.cat([b.reshape(-1) for name, b in _model(kind, mapping)[0][0].named_buffers()
                                         if "conductance" in name or "reference" in name]))  # the pulses moved them
    assert torch.allclose(c, t, rtol=1e-12, atol=0)
    totals = [layer.ledger.totals() for layer in layers]
    assert totals[0].pulses == totals[1].pulses > 0
    assert totals[0].write_j == pytest.approx(totals[1].write_j, rel=1e-12)


@pytest.mark.parametrize("order,rule", [("hardware", AnalogSGD), ("aggregated", AnalogSGD), ("hardware", SymmetryShift)])
def test_same_seed_same_result(order, rule):
    first = _train(*_model("default", order=order, rule=rule))
    second = _train(*_model("default", order=order, rule=rule))
    assert torch.equal(first, second)


def _alternating_layer(order):
    """One HZO device whose every update is 2K samples of alternating +1/-1 pulses (BL 1, p = 1)."""
    dev = HZOPulsed(HZO, 3.0, 2e-8)
    layer = CrossbarLinear(1, 1, bias=False, tile=TileConfig(device=dev, update=AnalogSGD(bit_length=1, update_order=order)),
                           initial_weight=torch.zeros(1, 1))
    return layer, dev


def _fraction(g):
    return (float(g) - HZO.g_min_s) / (HZO.g_max_s - HZO.g_min_s)


def test_hardware_order_reaches_the_symmetry_point_aggregated_order_does_not():
    """A soft-bounds device receiving alternating up/down pulses settles in the up/down cycle
    around its symmetry point in hardware order; the aggregated order applies the same pulses as
    K ups then K downs, whose fixed point lies lower on this device (its depression outruns
    potentiation after a run of ups)."""
    k, steps = 10, 60
    x = torch.ones(2 * k, 1)
    d = torch.tensor([[-1.0], [1.0]]).repeat(k, 1)  # -grad: up, down, up, down, ...
    ends = {}
    for order in ("hardware", "aggregated"):
        layer, dev = _alternating_layer(order)
        layer.weight.grad = torch.ones(1, 1)
        for _ in range(steps):
            layer._saved = (x, d)
            layer.tile.update.step(layer, lr=10.0)
        ends[order] = _fraction(layer.conductance_s)
    # the law's own fixed points of (+1, -1) and (+K, -K), from the same start
    law = {}
    for order, n in (("hardware", 1), ("aggregated", k)):
        g = np.array([_alternating_layer(order)[0].conductance_s.item()])
        for _ in range(steps * (k // n)):
            g = hzo.pulse_response(hzo.pulse_response(g, np.array([n]), HZO, 3.0, 2e-8), np.array([-n]), HZO, 3.0, 2e-8)
        law[order] = _fraction(g[0])
    assert ends["hardware"] == pytest.approx(law["hardware"], abs=1e-9)
    assert ends["aggregated"] == pytest.approx(law["aggregated"], abs=1e-9)
    symmetry = _fraction(hzo.symmetry_point(HZO, 3.0, 2e-8))
    assert abs(ends["hardware"] - symmetry) < 0.01
    assert ends["aggregated"] < symmetry - 0.02


def test_deterministic_zero_pulses_warn_and_carry_remainder():
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(pulse_mode="deterministic"))
    layer = CrossbarLinear(4, 3, tile=tile, name="tiny")
    layer.weight.grad = torch.full((3, 4), 1e-3)
    before = layer.conductance_s.clone()
    with pytest.warns(RuntimeWarning, match="rounded every device of layer 'tiny' to 0 pulses"):
        tile.update.step(layer, lr=0.1 * layer.eps_w / 1e-3)
    assert torch.equal(layer.conductance_s, before)
    carry = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8), update=AnalogSGD(pulse_mode="deterministic", carry_remainder=True))
    layer = CrossbarLinear(4, 3, tile=carry, name="tiny")
    layer.weight.grad = torch.full((3, 4), 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(6):  # 0.1 of a pulse per step: the sixth step reaches 0.6 and rounds to one pulse
            carry.update.step(layer, lr=0.1 * layer.eps_w / 1e-3)
    assert torch.all(layer.conductance_s < before)


def test_bad_update_order_names_the_field():
    with pytest.raises(ConfigError, match="^update.update_order: got 'random'; allowed: hardware, aggregated$"):
        AnalogSGD(update_order="random")


@compiled_only
def test_compiled_mixed_precision_transfer_equals_torch(monkeypatch):
    from memcosim.training import MixedPrecision

    results = []
    for path in ("compiled", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", "" if path == "compiled" else "torch")
        tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8, device_to_device_std=0.05), update=MixedPrecision(max_pulses=3),
                          energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-8)))
        ledger = EnergyLedger()
        torch.manual_seed(0)
        model = convert(nn.Sequential(nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3)), tile, seed=3)
        attach_ledger(model, ledger)
        g = _train(model, ledger, steps=6)
        results.append((g, torch.cat([m.accumulator.reshape(-1) for m in model if hasattr(m, "accumulator")]),
                        ledger.totals()))
    (g_c, acc_c, t_c), (g_t, acc_t, t_t) = results
    assert t_c.pulses == t_t.pulses > 20
    assert torch.equal(g_c, g_t) and torch.equal(acc_c, acc_t)


@compiled_only
@pytest.mark.parametrize("rows,cols", [(16, 8), (70, 37), (13, 5)])
def test_compiled_ir_drop_is_the_fitted_model(rows, cols):
    """The compiled IR-drop forward restates training.ir_drop.effective_conductance (itself tied to
    the fitted model by test_layers): the same matrix, tiles and padding included."""
    from memcosim.training.ir_drop import effective_conductance

    g = 1e-8 + 1e-6 * torch.rand(37, 70, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = effective_conductance(g.T, 1.0, 100.0, 4.12, 0.82, rows, cols).T
    assert torch.allclose(read_kernel.ir_drop(g, 1.0, 100.0, 4.12, 0.82, rows, cols), expected, rtol=1e-13, atol=0)


def _costs(scheme, rows, cols, seed=0):
    from memcosim.training.schemes import SchemeCosts

    rng = np.random.default_rng(seed)
    tables = {}
    for d in ("up", "down"):
        t = rng.random((rows + 1, cols + 1, 2)) * 1e-12
        t[0], t[:, 0] = 0.0, 0.0  # no driven line: no operation
        tables[d] = t
    return SchemeCosts(scheme, rows, cols, tables)


@compiled_only
@pytest.mark.parametrize("pair", [False, True])
def test_compiled_scheme_costs_equal_torch(pair):
    """The compiled slot and row-operation costing gives SchemeCosts' own numbers."""
    x, d = torch.rand(9, 40, generator=torch.Generator().manual_seed(1)) - 0.3, torch.randn(9, 13, dtype=torch.float64)
    streams = draw_streams(x, d, 0.5, 0.01, 35, torch.Generator().manual_seed(2))
    slots = _costs("parallel_stochastic", 8, 5)
    assert torch.allclose(kernel_ops.slots_shared(streams, slots, pair), slots.slots_j(streams, pair=pair), rtol=1e-12, atol=0)
    rows = _costs("row_parallel", 8, 5)
    up, down = coincidence_totals_torch(streams)
    expected = rows.row_operations_j(up, "up") + rows.row_operations_j(down, "down")
    if pair:
        expected = expected + rows.row_operations_j(down, "up") + rows.row_operations_j(up, "down")
    index = torch.nonzero((up + down).reshape(-1), as_tuple=True)[0]
    got = kernel_ops.row_operations_shared(index, up.reshape(-1)[index], down.reshape(-1)[index], up.shape, rows, pair)
    assert torch.allclose(got, expected, rtol=1e-12, atol=0) and float(got[1]) > 0


@compiled_only
@pytest.mark.parametrize("bit_length, density, listed", [(31, 0.03, True), (31, 0.1, True), (31, 0.9, False),
                                                         (70, 0.05, True), (70, 0.5, False)])
def test_slot_lists_find_the_coincidences_of_testing_every_row(bit_length, density, listed):
    """The coincidences found through each slot's list of rows (one slot, several slots sorted, or
    every row tested when many meet; dense trains get no lists) are those of testing every active
    row, in the same order."""
    from memcosim.training.coincidences import _MERGED_SHARE, _active_rows, _hits, _slot_hits, _slot_lists
    from numba import njit

    @njit
    def both(masks, count, d_mask, start, rows):
        hit_k, hit_c = np.empty(masks.shape[1], dtype=np.int64), np.empty(masks.shape[1], dtype=np.int64)
        slot_k, slot_c = np.empty(masks.shape[1], dtype=np.int64), np.empty(masks.shape[1], dtype=np.int64)
        mark = np.zeros(masks.shape[1], dtype=np.int64)
        found, differ = 0, 0
        paths = np.zeros(3, dtype=np.int64)  # one slot, several merged, every row tested (with lists)
        for b in range(masks.shape[0]):
            for j in range(d_mask.shape[1]):
                n = _hits(masks, count[b], d_mask, b, j, hit_k, hit_c)
                m = _slot_hits(masks, count[b], d_mask, b, j, slot_k, slot_c, start, rows, mark)
                found += n
                differ += n != m or (hit_k[:n] != slot_k[:n]).any() or (hit_c[:n] != slot_c[:n]).any()
                if start.size:
                    slots, listed = 0, 0
                    for w in range(d_mask.shape[2]):
                        for bit in range(64):
                            if (d_mask[b, j, w] >> bit) & 1:
                                slots += 1
                                listed += start[b, 64 * w + bit + 1] - start[b, 64 * w + bit]
                    paths[0 if slots == 1 else (2 if _MERGED_SHARE * listed > count[b] else 1)] += slots > 0
        return found, differ, mark.any(), paths

    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(6, 50, generator=gen) - 0.2).double()
    p = torch.full((6, 50), density, dtype=torch.float64)
    x_mask = masks_torch(_fixed53(p), 11, bit_length)
    d_mask = masks_torch(_fixed53(torch.full((6, 20), density, dtype=torch.float64)), 12, bit_length)
    x_sign = torch.sign(x).to(torch.int64) * x_mask.ne(0).any(-1)
    count, _, masks, _ = _active_rows(x_mask.numpy(), x_sign.numpy())
    start, rows = _slot_lists(count, masks)
    assert (start.size > 0) == listed
    found, differ, left, paths = both(masks, count, d_mask.numpy(), start, rows)
    assert found > 0 and differ == 0 and not left
    if listed:  # the lists' two ways of finding rows both ran (and, at 0.1, the fallback too)
        assert paths[0] > 0 and paths[1] > 0 and (paths[2] > 0 or density < 0.1)


@compiled_only
@pytest.mark.parametrize("bit_length", [31, 70])
@pytest.mark.parametrize("eps_w, listed", [(0.01, False), (3.0, True)])
def test_compiled_coincidence_totals_equal_torch(bit_length, eps_w, listed):
    """Each device's up and down coincidences, counted compiled, are those of the torch count,
    dense trains (tested row by row) and sparse ones (through the slot lists)."""
    from memcosim.training.coincidences import _active_rows, _slot_lists

    gen = torch.Generator().manual_seed(4)
    x, d = torch.rand(9, 40, generator=gen) - 0.3, torch.randn(9, 13, generator=gen, dtype=torch.float64)
    streams = draw_streams(x, d, 0.5, eps_w, bit_length, torch.Generator().manual_seed(5))
    count, _, masks, _ = _active_rows(streams.x_mask.numpy(), streams.x_sign.numpy())
    assert (_slot_lists(count, masks)[0].size > 0) == listed
    up, down = coincidences.totals(streams)
    up_t, down_t = coincidence_totals_torch(streams)
    assert torch.equal(up, up_t.to(up.dtype)) and torch.equal(down, down_t.to(down.dtype)) and float(up.sum()) > 0


@compiled_only
def test_one_thread_equals_two_threads():
    """The parallel loops (rows, samples) give the serial loops' numbers."""
    threads = torch.get_num_threads()
    results = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            model, ledger = _model("default")
            results.append((_train(model, ledger), ledger.totals().write_j))
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(results[0][0], results[1][0]) and results[0][1] == results[1][1]


@compiled_only
def test_compiled_live_tiles_are_the_tiles_of_the_lines_a_train_drives():
    """The read cache's moved tiles: a group of ``tile`` lines is live when one of its lines has a
    polarity in some sample (the last group may be short), as the numpy expression."""
    gen = torch.Generator().manual_seed(5)
    for lines, tile in ((19, 4), (70, 32), (5, 8), (64, 32)):
        sign = (torch.randint(-1, 2, (6, lines), generator=gen) * (torch.rand(6, lines, generator=gen) < 0.05)).to(torch.int64)
        sign[:, : min(tile, lines)] = 0  # a silent first tile
        expected = np.logical_or.reduceat((sign.numpy() != 0).any(0), np.arange(0, lines, tile))
        got = kernel_ops.live_tiles(sign, tile)
        assert got.dtype == np.bool_ and np.array_equal(got, expected) and not got[0]


@compiled_only
def test_compiled_set_bits_counts_every_pulse():
    """The periphery's line pulses, compiled: the set bits of every word (any bit length), as popcount_torch."""
    from memcosim.training.bitstreams import popcount_torch

    gen = torch.Generator().manual_seed(3)
    for bit_length in (1, 31, 32, 70):
        x, d = torch.rand(7, 19, generator=gen) - 0.4, torch.randn(7, 5, dtype=torch.float64, generator=gen)
        streams = draw_streams(x, d, 0.5, 0.01, bit_length, gen)
        for mask in (streams.x_mask, streams.d_mask):
            expected = int(popcount_torch(mask).sum())
            assert kernel_ops.set_bits(mask) == expected > 0


@compiled_only
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_ir_drop_weight_is_the_layers_expression(dtype):
    """The fused read weight: ``(scale (ir_drop(G) - G_ref,read)).to(dtype)`` bit for bit, tiles and padding included."""
    gen = torch.Generator().manual_seed(1)
    g = 1e-8 + 1e-6 * torch.rand(37, 70, generator=gen, dtype=torch.float64)
    ref = read_kernel.ir_drop(1e-8 + 1e-6 * torch.rand(37, 70, generator=gen, dtype=torch.float64), 1.0, 100.0, 4.12, 0.82, 13, 5)
    expected = (3.7e5 * (read_kernel.ir_drop(g, 1.0, 100.0, 4.12, 0.82, 13, 5) - ref)).to(dtype)
    assert torch.equal(read_kernel.ReadWeightCache()(g, ref, 3.7e5, dtype, 1.0, 100.0, 4.12, 0.82, 13, 5), expected)


@compiled_only
def test_read_weight_cache_recomputes_the_changed_tiles_only_and_gives_the_full_read():
    """A layer's IR-drop read weight kept between updates: after pulses on a few devices, a new
    reference read (or the same one written in place) and a new scale, always the weight of a
    full computation; the tiles no device of which changed are the ones left alone."""
    gen = torch.Generator().manual_seed(4)
    g = 1e-8 + 1e-6 * torch.rand(37, 70, generator=gen, dtype=torch.float64)
    ref = read_kernel.ir_drop(1e-8 + 1e-6 * torch.rand(37, 70, generator=gen, dtype=torch.float64), 1.0, 100.0, 4.12, 0.82, 13, 5)
    model = (1.0, 100.0, 4.12, 0.82, 13, 5)  # tiles of 13 inputs x 5 outputs

    def full(scale=3.7e5):
        return read_kernel.ReadWeightCache()(g, ref, scale, torch.float32, *model)  # a new cache computes every tile

    cache = read_kernel.ReadWeightCache()
    assert torch.equal(cache(g, ref, 3.7e5, torch.float32, *model), full())
    before = cache(g, ref, 3.7e5, torch.float32, *model)
    g[6, 20] += 3e-7  # output 6, input 20: the tile of outputs 5-9 and inputs 13-25
    g[36, 69] -= 2e-9  # the last, partial tile
    after = cache(g, ref, 3.7e5, torch.float32, *model)
    assert torch.equal(after, full())
    changed = (after != before).nonzero()
    assert changed.numel() and set(changed[:, 0].tolist()) <= set(range(5, 10)) | {35, 36}
    assert set(changed[:, 1].tolist()) <= set(range(13, 26)) | set(range(65, 70))
    ref = ref * (1 + 1e-3)  # a new reference read
    assert torch.equal(cache(g, ref, 3.7e5, torch.float32, *model), full())
    ref.mul_(1 + 1e-3)  # the same tensor, written
    assert torch.equal(cache(g, ref, 3.7e5, torch.float32, *model), full())
    assert torch.equal(cache(g, ref, 2.0e5, torch.float32, *model), full(2.0e5))
    assert torch.equal(cache(g, ref, 2.0e5, torch.float64, *model), read_kernel.ReadWeightCache()(g, ref, 2.0e5, torch.float64,
                                                                                                   *model))


def test_read_weight_cache_refreshes_only_the_driven_inputs_tiles_and_catches_up_later():
    """A read that drives a few inputs (a Tiki-Taka transfer's column) refreshes their tiles only:
    their columns are the full read's, the changed tiles of other inputs keep their old weight
    until a read drives them."""
    gen = torch.Generator().manual_seed(5)
    g = 1e-8 + 1e-6 * torch.rand(12, 40, generator=gen, dtype=torch.float64)
    ref = torch.full_like(g, 2e-7)
    model = (1.0, 100.0, 4.12, 0.82, 8, 4)  # tiles of 8 inputs x 4 outputs

    def full():
        return read_kernel.ReadWeightCache()(g, ref, 3.7e5, torch.float64, *model)

    cache = read_kernel.ReadWeightCache()
    before = cache(g, ref, 3.7e5, torch.float64, *model)
    g[:, 3] += 1e-7  # inputs 0-7
    g[:, 30] -= 1e-9  # inputs 24-31
    driven = torch.zeros(40, dtype=torch.bool)
    driven[5] = True
    part = cache(g, ref, 3.7e5, torch.float64, *model, driven=driven)
    now = full()
    assert torch.equal(part[:, :8], now[:, :8]) and not torch.equal(part[:, :8], before[:, :8])
    assert torch.equal(part[:, 8:], before[:, 8:]) and not torch.equal(part[:, 24:32], now[:, 24:32])
    assert torch.equal(cache(g, ref, 3.7e5, torch.float64, *model), now)


def test_read_weight_cache_after_moved_tiles_compares_again_later():
    """``moved`` (the tiles pulses moved): recomputed without comparing, the others compared, the full
    read's weight; a later comparing call still catches conductances that went back to values seen
    before (the recomputed tiles are marked unrecorded, so they cannot pass as unchanged)."""
    gen = torch.Generator().manual_seed(6)
    g = 1e-8 + 1e-6 * torch.rand(12, 40, generator=gen, dtype=torch.float64)
    ref = torch.full_like(g, 2e-7)
    model = (1.0, 100.0, 4.12, 0.82, 8, 4)
    first = g.clone()

    def full():
        return read_kernel.ReadWeightCache()(g, ref, 3.7e5, torch.float64, *model)

    cache = read_kernel.ReadWeightCache()
    at_first = cache(g, ref, 3.7e5, torch.float64, *model)  # records ``first`` as what each tile was made from
    g.mul_(1 + 1e-3)
    assert read_kernel.tile_grid(g.shape, 8, 4) == (3, 5, 4, 8)
    moved = torch.zeros(3, 5, dtype=torch.bool)
    moved[:, :4] = True  # the tiles of inputs 32-39 moved too, unflagged: they are compared
    assert torch.equal(cache(g, ref, 3.7e5, torch.float64, *model, moved=moved), full())
    g.copy_(first)  # back to the recorded conductances: a comparison against the old record would keep g * 1.001's weight
    assert torch.equal(cache(g, ref, 3.7e5, torch.float64, *model), at_first)
    assert torch.equal(cache(g, ref, 3.7e5, torch.float64, *model), full())


def test_a_layers_read_after_pulses_is_the_full_read():
    """After stochastic updates (the tiles where a pulsed row meets a pulsed column recomputed without
    comparing, the others compared) and after sparse pulses (compared), the layer's read weight is
    that of a full computation."""
    from memcosim.circuits.models import IRDropModel
    from memcosim.training import ArrayConfig
    from memcosim.training.ir_drop import fitted_read_model, read_path

    tile = TileConfig(device=HZOPulsed(load_device_params("hzo"), 3.0, 2e-6), update=AnalogSGD(bit_length=7),
                      array=ArrayConfig(rows=8, cols=4, r_wire_ohm=50.0, r_driver_ohm=1000.0, ir_drop=IRDropModel(1.0, 1.0)))
    layer = CrossbarLinear(24, 6, tile=tile, seed=3).double()
    optimizer = CrossbarSGD(layer, lr=0.5)
    x = torch.rand(5, 24, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x[:, 8:16] = 0  # inputs 8-15 never pulse: their tiles are compared, not flagged

    def full():
        ref = layer._reference_read(read_path(layer.tile, layer.reference_s))
        return read_kernel.ReadWeightCache()(layer.conductance_s, ref, layer.scale_per_s, layer.weight.dtype,
                                            *fitted_read_model(layer.tile))

    for _ in range(3):
        optimizer.zero_grad()
        layer(x).square().sum().backward()
        optimizer.step()
        assert layer._moved is not None and bool(layer._moved.any()) and not bool(layer._moved[:, 1].any())
        assert torch.equal(layer.forward_weight(), full())
    layer.apply_pulses_at(torch.tensor([9, 100]), torch.tensor([2.0, -3.0], dtype=torch.float64))
    layer.sync_weight()
    assert layer._moved is None  # sparse pulses: the comparison finds their tiles
    assert torch.equal(layer.forward_weight(), full())


def test_a_backward_through_a_read_weight_rewritten_since_is_refused():
    """The layer's compiled read weight is its cache's own tensor, rewritten in place when a later
    update is read: a backward through a product that saved the old values is refused by autograd
    (the rewrite counts as a write), never computed with the new values."""
    from memcosim.circuits.models import IRDropModel
    from memcosim.training import ArrayConfig

    tile = TileConfig(device=HZOPulsed(load_device_params("hzo"), 3.0, 2e-6), update=AnalogSGD(bit_length=7),
                      array=ArrayConfig(rows=8, cols=4, r_wire_ohm=50.0, r_driver_ohm=1000.0, ir_drop=IRDropModel(1.0, 1.0)))
    layer = CrossbarLinear(24, 6, tile=tile, seed=3).double()
    x = torch.rand(5, 24, generator=torch.Generator().manual_seed(1), dtype=torch.float64, requires_grad=True)
    stale = layer(x).sum()
    weight = layer.forward_weight()
    layer.apply_pulses_at(torch.tensor([9, 100]), torch.tensor([2.0, -3.0], dtype=torch.float64))
    layer.sync_weight()
    layer(x.detach())  # the next read rewrites the weight the first product saved
    assert layer.forward_weight() is weight
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        stale.backward()
    fresh = layer(x).sum()  # a product of the present weight goes back as usual
    fresh.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_a_read_without_input_gradient_gives_the_full_reads_outputs():
    """Under ``no_grad`` (a transfer's one-hot reads) a layer refreshes the IR-drop weight of the
    inputs it drives only; its outputs are those of the full read, and so are the later reads."""
    from memcosim.circuits.models import IRDropModel
    from memcosim.training import ArrayConfig

    tile = TileConfig(device=HZOPulsed(load_device_params("hzo"), 3.0, 2e-6), update=AnalogSGD(pulse_mode="deterministic"),
                      array=ArrayConfig(rows=8, cols=4, r_wire_ohm=50.0, r_driver_ohm=1000.0, ir_drop=IRDropModel(1.0, 1.0)))
    layer, twin = (CrossbarLinear(24, 6, bias=False, tile=tile, seed=3).double() for _ in range(2))
    x = torch.rand(5, 24, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    layer(x), twin(x)  # both caches filled
    for lay in (layer, twin):
        lay.weight.grad = torch.zeros(6, 24, dtype=torch.float64)
        lay.weight.grad[:, 2], lay.weight.grad[:, 20] = 2 * lay.eps_w, -3 * lay.eps_w  # tiles of inputs 0-7 and 16-23
        lay.tile.update.step(lay, 1.0)
        lay.sync_weight()
    assert torch.equal(layer.conductance_s, twin.conductance_s)
    one_hot = torch.zeros(1, 24, dtype=torch.float64)
    one_hot[0, 2] = 1.0
    with torch.no_grad():
        part = layer(one_hot)
    assert torch.equal(part, twin.read(one_hot.clone().requires_grad_()).detach())  # needs the input gradient: full read
    with torch.no_grad():
        assert torch.equal(layer(x), twin(x))


def test_read_weight_cache_computes_every_tile_on_its_first_call_whatever_the_inputs_driven():
    g = 1e-8 + 1e-6 * torch.rand(12, 40, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    ref = torch.full_like(g, 2e-7)
    model = (1.0, 100.0, 4.12, 0.82, 8, 4)
    driven = torch.zeros(40, dtype=torch.bool)
    driven[5] = True
    first = read_kernel.ReadWeightCache()(g, ref, 3.7e5, torch.float64, *model, driven=driven)
    assert torch.equal(first, read_kernel.ReadWeightCache()(g, ref, 3.7e5, torch.float64, *model))
