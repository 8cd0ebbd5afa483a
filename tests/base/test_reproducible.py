"""Sums and matrix products that give the same numbers on 1 and 2 threads (issue 29)."""

import torch

from memcosim.base.reproducible import GRAIN, blas_mode, fixed_order_sum


def _on_threads(n, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


def test_fixed_order_sum_is_independent_of_the_thread_count():
    g = torch.Generator().manual_seed(0)
    for n in (100, GRAIN - 1, GRAIN, 36864, 100_003):
        for dtype in (torch.float32, torch.float64):
            x = torch.randn(n, generator=g, dtype=dtype)
            one, two = (_on_threads(t, lambda: fixed_order_sum(x)) for t in (1, 2))
            assert torch.equal(one, two), (n, dtype)
            assert torch.allclose(one, x.double().sum().to(dtype), rtol=1e-5, atol=1e-3)
            if n < GRAIN:  # below torch's grain: torch's own one-thread sum, the number runs had before
                assert torch.equal(one, x.sum())


def test_gemm_of_a_784_input_layer_is_independent_of_the_thread_count():
    """MKL's strict mode is on (``import memcosim`` asked for it) and the product that differed
    between 1 and 2 threads before (batch 64 x 784 inputs x 256 outputs) no longer does."""
    if torch.backends.mkl.is_available():
        assert blas_mode().endswith(",strict")
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 784, generator=g), torch.randn(256, 784, generator=g)
    one, two = (_on_threads(t, lambda: a @ b.T) for t in (1, 2))
    assert torch.equal(one, two)
