"""The published protocol's pieces in training: the piecewise-step device in every engine, unscaled
weights, one global symmetry point, aihwkit's bit-length management, mixed-precision transfer and
default converters."""

import math

import pytest
import torch

from memcosim.devices.piecewise_step import PiecewiseStepParams, published_symmetry_point, pulse_response
from memcosim.training import (AnalogSGD, CrossbarLinear, EnergyConfig, MappingConfig, MixedPrecision, SymmetryShift,
                               TileConfig, WriteEnergyTable)
from memcosim.training.bitstreams import coincidence_totals_torch, draw_streams, stream_probabilities
from memcosim.training.io_precision import IOConfig, converted_linear
from memcosim.training.pulsed_measured import PiecewisePulsed
from tests.training.test_pulse_kernel import assert_engines_agree, compiled_only

PARAMS = PiecewiseStepParams(dw_min=0.05, up_down=-0.2, w_min=-1.1, w_max=0.9,
                             piecewise_up=[2.0, 1.6, 1.1, 0.6, 0.2, 0.0], piecewise_down=[0.0, 0.4, 0.8, 1.0, 1.3, 1.5])
CENTRE_S, UNIT_S = 2e-7, 5e-8


def _device(**spread):
    import dataclasses

    return PiecewisePulsed(dataclasses.replace(PARAMS, **spread), CENTRE_S, UNIT_S, 2e-7, 2.5)


def test_respond_is_the_law_step_for_step():
    dev = _device()
    counts = [0, 1, 4, -3, 9, -12]
    g = dev.respond(torch.full((len(counts),), CENTRE_S + 0.1 * UNIT_S, dtype=torch.float64),
                    torch.tensor(counts, dtype=torch.float64), {}, None)
    for n, got in zip(counts, g.tolist()):
        want = pulse_response(PARAMS, 0.1, [int(math.copysign(1, n))] * abs(n))[-1] if n else 0.1
        assert (got - CENTRE_S) / UNIT_S == pytest.approx(want, abs=1e-12)
    assert dev.step_s() == pytest.approx(PARAMS.granularity() * UNIT_S)
    assert (dev.alternating_symmetry_point_s() - CENTRE_S) / UNIT_S == pytest.approx(published_symmetry_point(PARAMS),
                                                                                     abs=1e-12)


@compiled_only
@pytest.mark.parametrize("mapping", ["reference", "differential"])
def test_compiled_path_equals_torch_path(mapping, monkeypatch):
    """Spread and per-pulse noise on: the same conductances, pulses and write energy in both engines."""
    assert_engines_agree(lambda: TileConfig(
        device=_device(dw_min_std=0.3, dw_min_dtod=0.1, up_down_dtod=0.05, w_min_dtod=0.1, w_max_dtod=0.1),
        update=AnalogSGD(bit_length=15, bl_management=True), energy=EnergyConfig(write=WriteEnergyTable.constant(1e-12)),
        mapping=MappingConfig(mapping=mapping, weight_scaling_omega=0.0, reference="data_mean")), monkeypatch)


def test_unscaled_weights_are_the_normalised_conductance_minus_the_reference():
    tile = TileConfig(device=_device(), update=MixedPrecision(),
                      mapping=MappingConfig(weight_scaling_omega=0.0, reference="data_mean"))
    w0 = torch.tensor([[0.3, -0.2, 0.05], [-1.0, 0.8, 0.0]])
    layer = CrossbarLinear(3, 2, tile=tile, initial_weight=w0)
    assert layer.weight_max == 1.0 and layer.scale_per_s == pytest.approx(1 / UNIT_S)
    assert torch.equal(layer.reference_s, torch.full((2, 3), CENTRE_S, dtype=torch.float64))
    g_norm = (layer.conductance_s - CENTRE_S) / UNIT_S
    assert torch.allclose(g_norm.float(), w0, atol=1e-7)  # programmed exactly (within the bounds)
    layer.apply_pulses(torch.tensor([[3.0, -2.0, 1.0], [0.0, 5.0, -4.0]], dtype=torch.float64))
    layer.sync_weight()
    want = ((layer.conductance_s - layer.reference_s) / UNIT_S).float()
    assert torch.equal(layer.weight.detach(), want)


def test_global_symmetry_point_puts_every_reference_at_one_point():
    dev = _device()
    tile = TileConfig(device=dev, update=SymmetryShift(symmetry_point="global"),
                      mapping=MappingConfig(weight_scaling_omega=0.0, reference="data_mean"))
    w0 = torch.tensor([[0.1, -0.1], [0.2, 0.0]])
    layer = CrossbarLinear(2, 2, tile=tile, initial_weight=w0)
    sp = dev.alternating_symmetry_point_s()
    assert torch.equal(layer.reference_s, torch.full((2, 2), sp, dtype=torch.float64))
    assert torch.allclose(((layer.conductance_s - sp) / UNIT_S).float(), w0, atol=1e-7)  # G starts at W_init + SP


def test_bit_length_management_counts_as_aihwkit():
    """Each sample's trains are ceil(lr max|x| max|d| / dw) slots (at most BL); the expected
    coincidences stay lr |x d| / dw; above BL the rows never clip (column side scaled)."""
    lr, dw, bl = 0.1, 0.01, 31
    x = torch.tensor([[1.0, 0.5, -0.25, 0.0], [0.2, 0.1, 0.05, 0.0], [4.0, -2.0, 1.0, 0.5]], dtype=torch.float64)
    d = torch.tensor([[0.3, -0.6], [0.1, 0.05], [2.0, -1.0]], dtype=torch.float64)
    px, pd, _, _, lengths = stream_probabilities(x, d, lr, dw, bl, bl_management=True)
    k = lr * x.abs().amax(1) * d.abs().amax(1) / dw
    assert lengths.tolist() == [math.ceil(k[0]), math.ceil(k[1]), bl] and k[2] > bl
    for b in (0, 1):  # no clipping: expected counts are lr |x d| / dw exactly
        expected = lengths[b] * pd[b][:, None] * px[b][None, :]
        assert torch.allclose(expected, lr * (d[b].abs()[:, None] * x[b].abs()[None, :]) / dw)
    assert px[2].max() == 1.0 and torch.allclose(px[2], x[2].abs() / x[2].abs().max())
    gen = torch.Generator().manual_seed(0)
    draws = 100
    totals = sum(sum(coincidence_totals_torch(draw_streams(x[:2], d[:2], lr, dw, bl, gen, bl_management=True)))
                 for _ in range(draws)) / draws
    want = lr * (d[:2].abs().T @ x[:2].abs()) / dw
    assert totals.sum() == pytest.approx(float(want.sum()), rel=0.05)
    assert torch.allclose(totals, want, atol=0.8)


@compiled_only
def test_bit_length_management_draws_the_same_bits_compiled_and_in_torch():
    from memcosim.training import kernel

    gen = torch.Generator().manual_seed(3)
    x = torch.rand(9, 40, generator=gen) - 0.3
    x[4] = 0.0  # a silent sample
    d = torch.randn(9, 7, generator=gen) * torch.logspace(-3, 1, 9)[:, None]  # short and full-length trains
    a = kernel.draw_streams(x, d, 0.2, 0.01, 31, torch.Generator().manual_seed(5), bl_management=True)
    b = draw_streams(x, d, 0.2, 0.01, 31, torch.Generator().manual_seed(5), bl_management=True)
    for name in ("x_mask", "x_sign", "d_mask", "d_sign"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert int(a.x_sign[4].abs().sum()) == 0 and bool((a.x_mask != 0).any())


def _mp_layer():
    tile = TileConfig(device=_device(), update=MixedPrecision(granularity=0.5, max_pulses=4),
                      mapping=MappingConfig(weight_scaling_omega=0.0, reference="data_mean"))
    return tile, CrossbarLinear(3, 2, bias=False, tile=tile, initial_weight=torch.zeros(2, 3))


QUANTA = [[3.1, -1.2, 0.4], [20.2, -10.1, 5.5]]


def test_aihwkit_mixed_precision_transfer(monkeypatch):
    """n = trunc(acc / (g dw)) quanta leave the accumulator; round(g n) pulses, each row's largest <= max_pulses."""
    monkeypatch.setenv("MEMCOSIM_KERNEL", "torch")
    tile, layer = _mp_layer()
    dw = layer.eps_w
    applied = []
    layer.apply_pulses = lambda n: applied.append(n.clone())
    layer.weight.grad = -torch.tensor(QUANTA) * dw * 0.5
    tile.update.step(layer, 1.0)
    n = torch.tensor([[3.0, -1.0, 0.0], [20.0, -10.0, 5.0]], dtype=torch.float64)
    assert torch.allclose(layer.accumulator, (torch.tensor(QUANTA, dtype=torch.float64) - n) * 0.5 * dw, atol=1e-6 * dw)
    # row 0: 0.5 n = 1.5, -0.5 -> 2, -1 (half away from zero); row 1: 0.5 x 20 = 10 > 4: scaled to 4 n / 20
    assert applied[0].tolist() == [[2.0, -1.0, 0.0], [4.0, -2.0, 1.0]]


@compiled_only
def test_aihwkit_mixed_precision_transfer_compiled_equals_torch(monkeypatch):
    out = []
    for path in ("", "torch"):
        monkeypatch.setenv("MEMCOSIM_KERNEL", path)
        tile, layer = _mp_layer()
        for step in range(3):
            layer.weight.grad = -torch.tensor(QUANTA) * layer.eps_w * (0.5 + 0.3 * step)
            tile.update.step(layer, 1.0)
        out.append((layer.accumulator.clone(), layer.conductance_s.clone()))
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    assert not torch.equal(out[0][1], _mp_layer()[1].conductance_s)  # pulses were applied


def test_aihwkit_converters_split_evenly_and_manage_bounds():
    io = IOConfig.aihwkit_default(max_size=4)
    w = torch.full((1, 6), 0.9)
    x = torch.ones(2, 6)  # 3 + 3 inputs per tile: 2.7 per tile, inside out_bound
    y = converted_linear(x, w, io, 1.0, rows=4, cols=4)
    assert torch.allclose(y, torch.full((2, 1), 5.4), atol=0.06)
    tight = IOConfig(inp_bits=7, out_bits=9, out_bound=2.0, bound_management="iterative", noise_management="tile",
                     split="even")
    clipped = converted_linear(x, w, IOConfig(inp_bits=7, out_bits=9, out_bound=2.0, noise_management="tile",
                                              split="even"), 1.0, rows=4, cols=4)
    managed = converted_linear(x, w, tight, 1.0, rows=4, cols=4)
    assert torch.allclose(clipped, torch.full((2, 1), 4.0))  # each tile clips at 2
    # read again with the input halved: nothing clips; per tile the DAC's half step (1/63 of the doubled
    # range) on 3 inputs and the ADC's half step (4 / 255 / 2)
    assert torch.allclose(managed, torch.full((2, 1), 5.4), atol=2 * (3 * 0.9 / 63 + 2 / 255))


@pytest.mark.parametrize("kernel", ["", "torch"])
def test_mixed_precision_transfer_from_the_second_batch_end(monkeypatch, kernel):
    """aihwkit's CUDA timing: the first step only accumulates, every later step transfers at its end, so the first
    transfer carries two batches. Reference: batch-end transfers of the first two gradients summed, then of each."""
    monkeypatch.setenv("MEMCOSIM_KERNEL", kernel)
    import dataclasses

    tile = dataclasses.replace(_mp_layer()[0], update=MixedPrecision(granularity=0.5, max_pulses=4,
                                                                     transfer_at="batch_end_from_second"))
    layer = CrossbarLinear(3, 2, bias=False, tile=tile, initial_weight=torch.zeros(2, 3))
    ref_tile, ref = _mp_layer()
    start = layer.conductance_s.clone()
    gen = torch.Generator().manual_seed(3)
    grads = [(torch.rand(2, 3, generator=gen) - 0.5) * 40 * layer.eps_w for _ in range(4)]
    layer.weight.grad = grads[0]
    tile.update.step(layer, 1.0)
    assert torch.equal(layer.conductance_s, start)  # no pulses after the first batch
    assert torch.allclose(layer.accumulator, -grads[0].to(torch.float64), rtol=0, atol=1e-6 * layer.eps_w)
    assert bool(layer.state_dict()["mp_started"])  # checkpointed: a resumed run does not skip again
    for k in range(1, len(grads)):
        layer.weight.grad = grads[k]
        tile.update.step(layer, 1.0)
        ref.weight.grad = grads[0] + grads[1] if k == 1 else grads[k]
        ref_tile.update.step(ref, 1.0)
        assert torch.allclose(layer.accumulator, ref.accumulator, rtol=0, atol=1e-5 * layer.eps_w)
        assert torch.equal(layer.conductance_s, ref.conductance_s)
    assert not torch.equal(layer.conductance_s, start)  # pulses were applied


@pytest.mark.parametrize("kernel", ["", "torch"])
def test_mixed_precision_transfer_after_the_next_batch_first_sample(monkeypatch, kernel):
    """aihwkit's CPU timing: a step transfers the earlier steps' remainder plus its first sample's gradient and keeps
    the rest of its gradient; the devices trail by one batch. Reference: the same transfers written sample by sample."""
    monkeypatch.setenv("MEMCOSIM_KERNEL", kernel)
    import dataclasses

    tile, layer = _mp_layer()
    tile = dataclasses.replace(tile, update=MixedPrecision(granularity=0.5, max_pulses=4,
                                                           transfer_at="next_batch_first_sample"))
    layer.tile = tile
    ref_tile, ref = _mp_layer()
    gen = torch.Generator().manual_seed(3)
    for _ in range(4):
        x, g = torch.rand(5, 3, generator=gen), (torch.rand(5, 2, generator=gen) - 0.5) * 40 * layer.eps_w
        y = layer(x)
        y.backward(g)
        tile.update.step(layer, 1.0)
        # reference: sample 0's gradient, a batch-end transfer on the reference layer, then the other samples' gradient
        ref.weight.grad = torch.outer(g[0], x[0])
        ref_tile.update.step(ref, 1.0)
        ref.accumulator -= (g[1:].T @ x[1:]).to(torch.float64)
        assert torch.allclose(layer.accumulator, ref.accumulator, rtol=0, atol=1e-5 * layer.eps_w)  # float32 sums
        assert torch.equal(layer.conductance_s, ref.conductance_s)
        layer.weight.grad = None
    assert not torch.equal(layer.conductance_s, _mp_layer()[1].conductance_s)  # pulses were applied
    with pytest.raises(Exception, match="update.transfer_at"):
        MixedPrecision(transfer_at="later")
