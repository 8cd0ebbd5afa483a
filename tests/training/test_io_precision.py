import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.devices.linear_step import LinearStepParams
from memcosim.training import AnalogSGD, ArrayConfig, CrossbarLinear, LinearPulsed, MappingConfig, ReadConfig, TileConfig
from memcosim.training.io_precision import IOConfig, _row_tile_reads, converted_linear, quantize_input, quantize_output


def tile(io=None, **kw):
    extra = {} if io is None else {"io": io}
    return TileConfig(device=LinearPulsed(LinearStepParams(n_states=200000)),
                      update=AnalogSGD(pulse_mode="deterministic", max_pulses=10**6),
                      mapping=MappingConfig(weight_scaling_omega=0.5), **kw, **extra)


def layer(io=None, n_in=20, n_out=8, **kw):
    return CrossbarLinear(n_in, n_out, tile=tile(io, **kw), seed=3)


def inputs(n=16, n_in=20):
    return torch.rand(n, n_in, generator=torch.Generator().manual_seed(7)) * 2 - 1


def test_input_quantiser_levels_and_clipping():
    x = torch.tensor([[2.0, 1.0, 0.5, -0.7, 0.1], [0.0, 0.0, 0.0, 0.0, 0.0]])
    # 3 bits: 7 levels, step 2/3 of the sample's largest |x| = 2
    q = quantize_input(x, 3)
    assert torch.allclose(q[0], torch.tensor([2.0, 4 / 3, 2 / 3, -2 / 3, 0.0]), rtol=0, atol=1e-7)
    assert torch.equal(q[1], x[1])  # an all-zero sample stays zero
    # bound 0.5: range +-1, 7 levels of step 1/3; 2 and 1 clip to 1
    assert torch.allclose(quantize_input(x, 3, 0.5)[0], torch.tensor([1.0, 1.0, 2 / 3, -2 / 3, 0.0]), rtol=0, atol=1e-7)
    assert quantize_input(x, None) is x
    q8 = quantize_input(torch.rand(4, 50), 8)
    assert q8.unique().numel() <= 255


def test_output_quantiser_levels_and_clipping():
    y = torch.tensor([[-5.0, -0.9, 0.2, 0.74, 3.0]])
    # 2 bits: three levels {-1, 0, 1} x bound x full scale
    assert torch.equal(quantize_output(y, 2, 1.0, 1.0), torch.tensor([[-1.0, -1.0, 0.0, 1.0, 1.0]]))
    # 4 bits: 15 levels, step bound * full_scale / 7 = 2 / 7, clipped at +-2
    q = quantize_output(y, 4, 1.0, torch.tensor([[2.0]]))
    assert torch.allclose(q, torch.tensor([[-2.0, -6 / 7, 2 / 7, 6 / 7, 2.0]]))
    assert quantize_output(y, None, 1.0, 1.0) is y


def test_quantisers_pass_gradients_straight_through():
    x = torch.tensor([[2.0, 0.3, -0.7]], requires_grad=True)
    (quantize_input(x, 2, 0.5) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([[1.0, 2.0, 3.0]]))
    y = torch.tensor([5.0, 0.1], requires_grad=True)
    quantize_output(y, 2, 1.0, 1.0).sum().backward()
    assert torch.equal(y.grad, torch.ones(2))


def test_default_config_is_bit_identical_to_no_io():
    for read in (ReadConfig(), ReadConfig(noise_std=0.05)):
        results = []
        for io in (None, IOConfig(), IOConfig(columns_per_adc=8, out_bound=3.0)):
            net = layer(io, read=read)
            x = inputs().requires_grad_()
            y = net(x)
            y.square().sum().backward()
            results.append((y.detach(), x.grad, net.weight.grad))
        for other in results[1:]:
            assert all(torch.equal(a, b) for a, b in zip(results[0], other))


def test_adc_resolution_changes_the_output_as_expected():
    x = inputs()
    ideal = layer()(x).detach()
    coarse = layer(IOConfig(out_bits=2, out_bound=2.0))(x).detach()
    fine = layer(IOConfig(inp_bits=12, out_bits=12, out_bound=4.0))(x).detach()
    rel = lambda y: float((y - ideal).norm() / ideal.norm())  # noqa: E731
    assert rel(coarse) > 0.1
    assert rel(fine) < 1e-3
    assert 0 < rel(layer(IOConfig(inp_bits=4))(x).detach()) < 0.2


def test_quantised_read_by_hand_with_row_tiles():
    """Two row tiles of 2 inputs: each tile's column output is digitised on its own, then summed."""
    w = torch.tensor([[0.5, 0.5, 0.25, -0.25]])
    x = torch.tensor([[1.0, 0.8, -0.2, 0.4]])
    io = IOConfig(out_bits=3, out_bound=1.0)  # 7 levels of 1/3 on [-1, 1] of weight_max max|x| = 1
    y = converted_linear(x, w, io, 1.0, rows=2, cols=4)
    # tile 1: 0.9 -> 1 (nearest of 2/3, 1); tile 2: -0.15 -> 0 (nearest of -1/3, 0)
    assert torch.allclose(y, torch.tensor([[1.0]]))
    # one tile of 4: 0.75 -> 2/3
    assert torch.allclose(converted_linear(x, w, io, 1.0, rows=4, cols=4), torch.tensor([[2 / 3]]))


def test_gradients_flow_and_backward_bits_quantise_the_transposed_read():
    x = inputs()
    grads = {}
    for name, io in (("ideal", None), ("fine", IOConfig(backward_inp_bits=16, backward_out_bits=16, out_bound=4.0)),
                     ("coarse", IOConfig(backward_inp_bits=2, backward_out_bits=2, out_bound=1.0))):
        net = layer(io)
        xi = x.clone().requires_grad_()
        out = net(xi)
        (out * torch.linspace(-1, 1, 8)).sum().backward()
        grads[name] = (xi.grad, net.weight.grad, net.bias.grad, out.detach())
    ideal = grads["ideal"]
    for name in ("fine", "coarse"):
        assert torch.equal(grads[name][3], ideal[3])  # the forward read is ideal
        assert torch.allclose(grads[name][1], ideal[1], rtol=1e-6, atol=1e-7)  # weight gradient exact
        assert torch.equal(grads[name][2], ideal[2])
    assert float((grads["fine"][0] - ideal[0]).norm() / ideal[0].norm()) < 1e-3
    assert float((grads["coarse"][0] - ideal[0]).norm() / ideal[0].norm()) > 0.05


def test_forward_quantisation_keeps_gradients():
    net = layer(IOConfig(inp_bits=4, out_bits=4, out_bound=2.0), n_in=300, array=ArrayConfig(rows=128, cols=128))
    x = inputs(n_in=300).requires_grad_()
    net(x).sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad.abs().sum()) > 0
    assert torch.allclose(x.grad, net.weight.sum(0).expand_as(x), rtol=1e-5)  # ideal backward: sum_j W_j
    assert float(net.weight.grad.abs().sum()) > 0


@pytest.mark.parametrize("kw, field", [
    ({"inp_bits": 1}, "inp_bits"),
    ({"out_bits": 8.0}, "out_bits"),
    ({"backward_out_bits": 40}, "backward_out_bits"),
    ({"backward_inp_bits": True}, "backward_inp_bits"),
    ({"inp_bound": 1.5}, "inp_bound"),
    ({"out_bound": 0.0}, "out_bound"),
    ({"columns_per_adc": 0}, "columns_per_adc"),
    ({"bound_gradient": "zero"}, "bound_gradient"),
])
def test_bad_io_config_is_refused_naming_the_field(kw, field):
    with pytest.raises(ConfigError) as info:
        IOConfig(**kw)
    assert str(info.value).startswith(f"io.{field}: got ") and "\n" not in str(info.value)


def test_tile_takes_and_describes_io():
    assert "io" not in tile().describe()
    described = tile(IOConfig(out_bits=8)).describe()["io"]
    assert described["out_bits"] == 8 and described["inp_bits"] is None
    with pytest.raises(ConfigError, match="tile.io: must be a IOConfig"):
        tile("8 bits")


def test_read_noise_is_the_same_draw_through_ideal_converters():
    """One row tile, ideal forward converters: the converted read draws the same noise as the plain read."""
    x = inputs()
    plain = layer(read=ReadConfig(noise_std=0.05))(x)
    converted = layer(IOConfig(backward_out_bits=8), read=ReadConfig(noise_std=0.05))(x)
    assert not torch.equal(plain, layer()(x))
    assert torch.allclose(converted, plain, rtol=1e-6, atol=1e-7)


def test_aihwkit_bound_gradient_zeroes_the_input_gradient_of_a_tile_output_at_the_bound():
    # two row tiles of 3 inputs; column 0 of tile 0 reads 3.0 >= 0.999 * out_bound (2.0), the rest stay inside
    w = torch.tensor([[1.0, 1.0, 1.0, 0.1, 0.1, 0.1], [0.2, -0.1, 0.3, 0.2, 0.1, -0.2]])
    x = torch.ones(4, 6)
    g = torch.tensor([[1.0, -2.0], [0.5, 0.5], [-1.0, 1.0], [2.0, 0.0]])
    grads = {}
    for mode in ("straight_through", "aihwkit"):
        io = IOConfig(out_bound=2.0, bound_gradient=mode)
        xi, wi = x.clone().requires_grad_(), w.clone().requires_grad_()
        y = converted_linear(xi, wi, io, 1.0, rows=3, cols=2)
        y.backward(g)
        grads[mode] = (y.detach(), xi.grad, wi.grad)
    plain, masked = grads["straight_through"], grads["aihwkit"]
    assert torch.allclose(plain[0], x @ w.T) and torch.equal(masked[0], plain[0])  # the forward is the same read
    assert torch.allclose(plain[1], g @ w)
    assert torch.allclose(masked[1][:, :3], g[:, 1:] @ w[1:, :3])  # tile 0: column 0 at the bound, no gradient
    assert torch.allclose(masked[1][:, 3:], g @ w[:, 3:])  # tile 1: inside the bound, untouched
    assert torch.equal(masked[2], plain[2])  # the weight's gradient (the update) sees all of grad_y


def test_aihwkit_bound_gradient_changes_nothing_inside_the_bound():
    x, g = inputs(n_in=20), torch.linspace(-1, 1, 8).expand(16, 8)
    out = {}
    for mode in ("straight_through", "aihwkit"):
        io = IOConfig(inp_bits=7, out_bits=9, out_bound=12.0, bound_management="iterative", noise_management="tile",
                      split="even", bound_gradient=mode)
        xi = x.clone().requires_grad_()
        converted_linear(xi, torch.rand(8, 20, generator=torch.Generator().manual_seed(1)) * 0.1, io, 1.0,
                         rows=12, cols=8).backward(g)
        out[mode] = xi.grad
    assert torch.equal(out["aihwkit"], out["straight_through"])


@pytest.mark.parametrize("io", [IOConfig(inp_bits=8, out_bits=9, backward_noise_std=0.06),
                                IOConfig(inp_bits=7, out_bits=9, backward_noise_std=0.06, bound_management="iterative",
                                         noise_management="tile", split="even", bound_gradient="aihwkit")])
def test_an_all_zero_vector_reads_exactly_zero_without_noise(io):
    """aihwkit's noise management skips an all-zero input (forward) or gradient (backward): no read, no noise.
    Others keep their noise; with tile noise management, a row tile whose share of the input is zero reads 0."""
    w = torch.rand(4, 6, generator=torch.Generator().manual_seed(2)) - 0.5
    x = torch.tensor([[0.0] * 6, [0.5, -0.2, 0.1, 0.3, 0.0, 0.4], [0.0, 0.0, 0.0, 0.7, -0.1, 0.2]], requires_grad=True)
    g = torch.tensor([[0.1, 0.2, -0.3, 0.0], [0.0, 0.0, 0.0, 0.0], [0.2, -0.1, 0.0, 0.3]])
    y = converted_linear(x, w, io, 1.0, rows=3, cols=2, noise_std=0.06, generator=torch.Generator().manual_seed(5))
    y.backward(g)
    assert torch.equal(y[0], torch.zeros(4)) and torch.equal(x.grad[1], torch.zeros(6))
    assert not torch.allclose(y[1], x[1].detach() @ w.T, atol=1e-3)  # a read vector keeps its noise
    parts = _row_tile_reads(x.detach(), w, io.inp_bits, io.out_bits, io, 1.0, 3, 0.06, torch.Generator().manual_seed(5))
    if io.noise_management == "tile":  # the third sample's first row tile (inputs 0-2) is zero: that tile is not read
        assert torch.equal(parts[2, 0], torch.zeros(4)) and not torch.equal(parts[2, 1], torch.zeros(4))
    else:  # layer-wide noise management: the sample is read whole, noise on both tiles
        assert not torch.equal(parts[2, 0], torch.zeros(4))
