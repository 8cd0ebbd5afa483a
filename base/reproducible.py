"""The same numbers on any thread count: MKL's strict reproducibility mode and fixed-order sums.

With 1 and 2 torch threads, two operations of a training step gave other numbers (found by
re-running every aten op of a step with one thread, issue 29):

* MKL's GEMM (the forward of a 784-input layer, batch 64) splits its inner products by thread.
  MKL's *strict* conditional numerical reproducibility mode (``MKL_CBWR=AUTO,STRICT``) makes
  ``?gemm`` bitwise reproducible whatever the thread count (oneMKL developer guide,
  "Reproducibility Conditions"; AVX2 and AVX-512 code paths). It must be chosen before MKL's
  first call in the process: :func:`request_strict_blas` sets the variable (``import memcosim``
  calls it, before torch computes anything), :func:`blas_mode` says what MKL runs in.
* torch's sum of a tensor into one number splits it into one part per thread from 32768
  elements on (``parallel_reduce``'s two-pass reduction). :func:`fixed_order_sum` adds in
  blocks of a fixed size instead (a sum along a kept dimension gives each output to one
  thread, whatever the count); below 32768 elements torch sums on one thread anyway.

* Small GEMMs: MKL splits a product with few outputs along its inner dimension by thread even
  in strict mode on some CPUs (an AMD EPYC with AVX-512: 10 x 64 x 16, a 16 -> 10 layer's weight
  gradient at batch 64; equal on Intel). :func:`thread_invariant_linear` runs products of at
  most :data:`SMALL_GEMM` multiply-adds on one thread (they cost microseconds), the crossbar
  layers' forward and both gradients, with the very calls of ``nn.functional.linear``'s autograd.

The CPU's vector extensions still choose MKL's code path (``AUTO``): an AVX2 machine and an
AVX-512 machine may differ in the last bits; the thread and worker counts do not.
"""

import functools
import os

__all__ = ["request_strict_blas", "blas_mode", "fixed_order_sum", "thread_invariant_mm", "thread_invariant_linear"]

GRAIN = 32768
"""torch's grain: a reduction of fewer elements runs on one thread (``at::internal::GRAIN_SIZE``)."""
BLOCK = 16384
"""Elements per partial sum of :func:`fixed_order_sum` (at least two blocks once past the grain)."""

SMALL_GEMM = 1 << 22
"""Multiply-adds up to which :func:`thread_invariant_mm` runs a product on one thread."""

_MKL_CBWR_ALL = -1
_MKL_CBWR_STRICT = 0x10000
_BRANCHES = {0: "off", 1: "off", 2: "auto", 3: "compatible", 4: "sse2", 6: "sse4_2", 7: "avx", 8: "avx2",
             9: "avx512_mic", 10: "avx512", 11: "avx512_mic_e1", 12: "avx512_e1"}


def request_strict_blas():
    """Ask MKL for its strict reproducible mode (``MKL_CBWR=AUTO,STRICT``) unless the user chose one.

    MKL reads the variable at its first call, so this works until torch (or numpy built on
    MKL) first multiplies matrices; :func:`blas_mode` tells whether it took.
    """
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")


def blas_mode():
    """MKL's reproducibility mode in this process: ``"<branch>,strict"``, ``"<branch>"``, ``"off"``,
    or ``"no mkl"`` (torch built without MKL, e.g. on ARM: GEMMs may then depend on the thread count)."""
    import ctypes

    import torch

    if not torch.backends.mkl.is_available():
        return "no mkl"
    try:
        lib = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"))
        get = lib.mkl_serv_cbwr_get
    except (OSError, AttributeError):
        return "unknown"
    get.restype, get.argtypes = ctypes.c_int, [ctypes.c_int]
    mode = get(_MKL_CBWR_ALL)
    branch = _BRANCHES.get(mode & 0xFFFF, str(mode & 0xFFFF))
    return f"{branch},strict" if mode & _MKL_CBWR_STRICT else branch


def fixed_order_sum(tensor):
    """Sum of all elements of ``tensor`` in an order that does not depend on torch's thread count.

    Below :data:`GRAIN` elements: ``tensor.sum()`` (torch sums them on one thread: the same
    number as before). Larger: partial sums of consecutive blocks of :data:`BLOCK` elements
    (the last one padded with zeros; each block on one thread), then their sum, recursively. A 0-d tensor of ``tensor``'s dtype and device. Cost O(numel).
    """
    import torch

    flat = tensor.reshape(-1)
    while flat.numel() >= GRAIN:
        full = flat.numel() // BLOCK * BLOCK
        sums = flat[:full].view(-1, BLOCK).sum(dim=1)
        if full < flat.numel():  # the last block padded with zeros (only it is copied)
            tail = torch.cat([flat[full:], flat.new_zeros(full + BLOCK - flat.numel())])
            sums = torch.cat([sums, tail.view(1, BLOCK).sum(dim=1)])
        flat = sums
    return flat.sum()


def thread_invariant_mm(a, b):
    """``a.mm(b)`` (2-D tensors) with numbers that do not depend on torch's thread count: a product of
    at most :data:`SMALL_GEMM` multiply-adds on one CPU thread (the module docstring says why)."""
    import torch

    threads = torch.get_num_threads()
    if threads == 1 or a.device.type != "cpu" or a.shape[0] * a.shape[1] * b.shape[1] > SMALL_GEMM:
        return a.mm(b)
    torch.set_num_threads(1)
    try:
        return a.mm(b)
    finally:
        torch.set_num_threads(threads)


def thread_invariant_linear(x, w, weight_grad=True, values=None):
    """``nn.functional.linear(x, w)`` (no bias) whose forward and gradients are :func:`thread_invariant_mm`:
    the products autograd's ``mm`` takes (``x w^T``, ``g w`` and ``g^T x``), so one thread gives the
    very numbers of ``linear``. ``weight_grad=False``: ``w`` gets no gradient (its ``.grad`` stays as
    it is) though the output still tracks it, for a caller that forms the weight's update from
    ``x`` and the output gradient itself (a stochastic pulsed update: ``g^T x`` would go unused).
    ``values`` (same shape as ``w``, no gradient): the numbers the products use in place of ``w``'s,
    the gradient still going to ``w`` (straight through: an array's read weight in the products,
    the programmed weight trained), without forming ``w + (values - w).detach()``."""
    return _linear_function().apply(x, w, weight_grad, w if values is None else values.detach())


@functools.cache
def _linear_function():
    import torch

    class ThreadInvariantLinear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, weight_grad, values):
            ctx.save_for_backward(x, values)
            ctx.weight_grad = weight_grad
            x2 = x.reshape(-1, x.shape[-1])
            return thread_invariant_mm(x2, values.t()).view(*x.shape[:-1], values.shape[0])

        @staticmethod
        def backward(ctx, grad):
            x, values = ctx.saved_tensors
            g2 = grad.reshape(-1, values.shape[0])
            gx = thread_invariant_mm(g2, values).view(x.shape) if ctx.needs_input_grad[0] else None
            gw = None
            if ctx.needs_input_grad[1] and ctx.weight_grad:
                gw = thread_invariant_mm(g2.t(), x.reshape(-1, x.shape[-1]))
            return gx, gw, None, None

    return ThreadInvariantLinear
