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

The CPU's vector extensions still choose MKL's code path (``AUTO``): an AVX2 machine and an
AVX-512 machine may differ in the last bits; the thread and worker counts do not.
"""

import os

__all__ = ["request_strict_blas", "blas_mode", "fixed_order_sum"]

GRAIN = 32768
"""torch's grain: a reduction of fewer elements runs on one thread (``at::internal::GRAIN_SIZE``)."""
BLOCK = 16384
"""Elements per partial sum of :func:`fixed_order_sum` (at least two blocks once past the grain)."""

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
        pad = -flat.numel() % BLOCK
        if pad:
            flat = torch.cat([flat, flat.new_zeros(pad)])
        flat = flat.view(-1, BLOCK).sum(dim=1)
    return flat.sum()
