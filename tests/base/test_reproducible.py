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


def test_thread_invariant_linear_is_linear_on_one_thread_and_any_count():
    """The crossbar layers' product: nn.functional.linear's numbers (output and both gradients) on one
    thread, and those numbers on two (the 16 -> 10 weight gradient at batch 64 differed on an AMD EPYC)."""
    import torch

    from memcosim.base.reproducible import thread_invariant_linear

    before = torch.get_num_threads()
    g = torch.Generator().manual_seed(0)
    try:
        for batch, n_in, n_out in [(64, 16, 10), (64, 784, 16), (3, 7, 5)]:
            x = torch.randn(batch, n_in, generator=g, requires_grad=True)
            w = torch.randn(n_out, n_in, generator=g, requires_grad=True)
            grad = torch.randn(batch, n_out, generator=g)
            results = []
            for threads, fn in ((1, torch.nn.functional.linear), (1, thread_invariant_linear), (2, thread_invariant_linear)):
                torch.set_num_threads(threads)
                x.grad = w.grad = None
                y = fn(x, w)
                y.backward(grad)
                results.append((y.detach(), x.grad, w.grad))
            for other in results[1:]:
                assert all(torch.equal(a, b) for a, b in zip(results[0], other))
            assert torch.get_num_threads() == 2  # restored after each product
    finally:
        torch.set_num_threads(before)


def test_thread_invariant_linear_without_weight_gradient():
    """``weight_grad=False``: the same output and input gradient, no weight gradient (left as it was),
    and the output still requires grad when only the weight does (a first layer's inputs)."""
    import torch

    from memcosim.base.reproducible import thread_invariant_linear

    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 5, generator=g, requires_grad=True)
    w = torch.randn(3, 5, generator=g, requires_grad=True)
    grad = torch.randn(8, 3, generator=g)
    y = torch.nn.functional.linear(x, w)
    y.backward(grad)
    x_grad, x.grad, w.grad = x.grad, None, None
    y2 = thread_invariant_linear(x, w, weight_grad=False)
    y2.backward(grad)
    assert torch.equal(y2, y) and torch.equal(x.grad, x_grad) and w.grad is None
    y3 = thread_invariant_linear(x.detach(), w, weight_grad=False)
    assert y3.requires_grad
    y3.backward(grad)
    assert w.grad is None


def test_thread_invariant_linear_straight_through_values():
    """``values``: the products use them (output and input gradient as ``linear`` of ``values``), the
    weight gets the gradient ``g^T x`` (as ``w + (values - w).detach()`` gives it), with and without
    ``weight_grad``; the output tracks the weight even when the inputs need no gradient."""
    import torch

    from memcosim.base.reproducible import thread_invariant_linear

    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 5, generator=g, requires_grad=True)
    w = torch.randn(3, 5, generator=g, requires_grad=True)
    values = w.detach() * 0.9 + 0.01  # an array's read of w: not w
    grad = torch.randn(8, 3, generator=g)
    ref_x = x.detach().clone().requires_grad_(True)
    y_ref = torch.nn.functional.linear(ref_x, values)
    y_ref.backward(grad)
    y = thread_invariant_linear(x, w, values=values)
    y.backward(grad)
    assert torch.equal(y, y_ref) and torch.equal(x.grad, ref_x.grad)
    assert torch.equal(w.grad, grad.t().mm(x.detach()))
    assert not torch.equal(values, w.detach())
    w.grad = None
    y2 = thread_invariant_linear(x.detach(), w, weight_grad=False, values=values)
    assert y2.requires_grad and torch.equal(y2, y_ref)
    y2.backward(grad)
    assert w.grad is None
