"""The compiled bit streams (numba), and what every compiled loop shares.

With a torch twin that gives the same result (:mod:`memcosim.training.bitstreams`): :func:`masks` — the bit-packed pulse trains, from the same
counter-based hash, stopping at the level where every slot of a word is decided: every entry of
a sample takes the first eight levels (four hashes) in one branch-free loop, the few words still
undecided (12 %) go on a hash at a time; O(entries x levels). Where trains meet (coincidences)
is :mod:`memcosim.training.coincidences`; it and :mod:`memcosim.training.event_kernel` share the
hash and the intrinsics defined here. The trains (samples) run on as many threads as torch uses, serially
when torch uses one (a sweep worker) or in a forked child of a process whose pool has started
(:func:`_parallel`), so every thread count gives the same numbers. On a loaded machine, torch's
spinning OpenMP threads and any second pool fight for the cores (``OMP_WAIT_POLICY=PASSIVE`` or
one thread avoids it). ``available()`` says whether numba imported; without it every caller
takes the torch path. Pulses in hardware order are :mod:`memcosim.training.event_kernel`, the
IR-drop read :mod:`memcosim.training.read_kernel`; the other compiled per-step operations
(mixed-precision transfer, weight refresh, update-scheme costing) are in
:mod:`memcosim.training.kernel_ops`.
"""

import math
import os

import numpy as np

__all__ = ["available", "enabled", "draw_streams", "masks"]

try:
    import numba
    from numba import njit, prange, types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - numba is a dependency; the torch path runs without it
    numba = None


def available():
    """True when the compiled kernel can run (numba imported)."""
    return numba is not None


def enabled(tensor):
    """Whether updates of ``tensor``'s layer run compiled: numba imported, a CPU tensor, and the
    environment variable ``MEMCOSIM_KERNEL`` not set to ``torch`` (which forces the torch path)."""
    return numba is not None and tensor.is_cpu and os.environ.get("MEMCOSIM_KERNEL", "") != "torch"


if numba is not None:
    @intrinsic
    def _popcount(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])
        return types.int64(types.int64), codegen

    @intrinsic
    def _prefetch(typingctx, array, flat):
        """Ask the cache for the line of ``array``'s element ``flat`` (C order); no effect on any value."""
        def codegen(context, builder, signature, args):
            from llvmlite import ir
            from numba.core import cgutils

            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                                "llvm.prefetch.p0")
            builder.call(fn, [builder.bitcast(builder.gep(data, [args[1]]), i8p), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()
        return types.void(array, types.int64), codegen

    _G, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)

    @njit(inline="always")
    def _hash(key, counter):
        z = np.uint64(key) + (np.uint64(counter) + np.uint64(1)) * _G
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))

    @njit(inline="always")
    def _uniform(key, counter):
        return (float(_hash(key, counter) >> np.uint64(11)) + 0.5) * 2.0**-53

    _FIRST = 4
    """Hashes (two levels each) that every entry takes branch-free: 8 levels decide all 32 lanes of
    a word with probability (1 - 2**-8)**32 = 0.88; the rest continue one hash at a time."""

    @njit(inline="always")
    def _level(word, bit, undecided, ones):
        """One level of ``u < p`` in 32 lanes: ``word`` u's bits, ``bit`` p's (0 or 1)."""
        # a lane with u's bit 0 where p's is 1 is decided u < p; it stays undecided while the bits agree
        return undecided & (word ^ (bit - 1)), ones | (undecided & ~word & -bit)

    @njit(inline="always")
    def _levels(h, p, k, undecided, ones):
        """Levels ``k`` (from hash ``h``'s low half) and ``k + 1`` (its high half); ``k`` odd, at most 51."""
        undecided, ones = _level(np.int64(h & np.uint64(0xFFFFFFFF)), (p >> np.int64(53 - k)) & 1, undecided, ones)
        return _level(np.int64(h >> np.uint64(32)), (p >> np.int64(52 - k)) & 1, undecided, ones)

    def _masks_loop(p53, key, bit_length, out, sign, blocks):
        batch, n = p53.shape
        words = out.shape[2]
        one53 = np.int64(1) << np.int64(53)
        blocks = max(1, min(batch, blocks))
        for blk in prange(blocks):  # samples in blocks (:func:`_blocks`), each block's scratch allocated once
            undecided_of = np.empty(n, dtype=np.int64)
            for b in range(blk * batch // blocks, (blk + 1) * batch // blocks):
                for w in range(words):
                    lanes = min(32, bit_length - 32 * w)
                    full = (np.int64(1) << np.int64(lanes)) - np.int64(1)
                    for i in range(n):  # the first levels of every entry of the sample, without branches
                        p = p53[b, i]
                        base = ((b * n + i) * words + w) * 27
                        undecided, ones = full, np.int64(0)
                        for h in range(_FIRST):
                            undecided, ones = _levels(_hash(key, base + h), p, 2 * h + 1, undecided, ones)
                        live = (p > 0) & (p < one53)  # p = 0: no pulse; p = 1: every slot
                        out[b, i, w] = ones if live else (full if p >= one53 else 0)
                        undecided_of[i] = undecided if live else 0
                    for i in range(n):  # the few entries with lanes still undecided: a hash at a time
                        undecided = undecided_of[i]
                        if undecided == 0:
                            continue
                        p, ones = p53[b, i], out[b, i, w]
                        base = ((b * n + i) * words + w) * 27
                        k = 2 * _FIRST + 1
                        while undecided != 0 and k < 53:
                            undecided, ones = _levels(_hash(key, base + (k - 1) // 2), p, k, undecided, ones)
                            k += 2
                        if undecided != 0:  # level 53, the last bit of p: the low half of hash 26
                            undecided, ones = _level(np.int64(_hash(key, base + 26) & np.uint64(0xFFFFFFFF)), p & 1,
                                                     undecided, ones)
                        out[b, i, w] = ones
                for i in range(n):
                    silent = True
                    for w in range(words):
                        silent = silent and out[b, i, w] == 0
                    if silent:
                        sign[b, i] = 0  # a line whose train has no pulse has no polarity

    @njit(inline="always")
    def _row_abs_max(a, b):
        top = 0.0
        for i in range(a.shape[1]):
            top = max(top, abs(np.float64(a[b, i])))
        return top

    @njit(cache=True)
    def _probabilities(x, d, c, p53x, p53d, sign_x, sign_d):
        """stream_probabilities and _fixed53 of bitstreams.py, the same IEEE operations in the same order."""
        for b in range(x.shape[0]):
            x_max, d_max = _row_abs_max(x, b), _row_abs_max(d, b)
            m = math.sqrt(max(d_max, 1e-30) / max(x_max, 1e-30))
            cm = c * m
            for i in range(x.shape[1]):
                v = np.float64(x[b, i])
                p53x[b, i] = np.int64(math.floor(min(cm * abs(v), 1.0) * 2.0**53))
                sign_x[b, i] = 1 if v > 0 else (-1 if v < 0 else 0)
            for j in range(d.shape[1]):
                v = -np.float64(d[b, j])
                p53d[b, j] = np.int64(math.floor(min(c * abs(v) / m, 1.0) * 2.0**53))
                sign_d[b, j] = 1 if v > 0 else (-1 if v < 0 else 0)

    @njit(cache=True)
    def _probabilities_bl(x, d, lr, eps_w, bit_length, p53x, p53d, sign_x, sign_d, lengths):
        """stream_probabilities of bitstreams.py with bl_management, the same IEEE operations in the same order."""
        for b in range(x.shape[0]):
            x_max, d_max = _row_abs_max(x, b), _row_abs_max(d, b)
            silent = x_max == 0.0 or d_max == 0.0
            x_max, d_max = max(x_max, 1e-30), max(d_max, 1e-30)
            k = lr * x_max * d_max / eps_w
            length = 0.0 if silent else min(max(math.ceil(k), 1.0), float(bit_length))
            c = math.sqrt(lr / (eps_w * max(length, 1.0)))
            d_val = d_max * bit_length / k if k > bit_length else d_max
            fx, fd = c * math.sqrt(d_val / x_max), c * math.sqrt(x_max / d_val)
            lengths[b] = np.int64(length)
            for i in range(x.shape[1]):
                v = np.float64(x[b, i])
                p53x[b, i] = 0 if silent else np.int64(math.floor(min(fx * abs(v), 1.0) * 2.0**53))
                sign_x[b, i] = 1 if v > 0 else (-1 if v < 0 else 0)
            for j in range(d.shape[1]):
                v = -np.float64(d[b, j])
                p53d[b, j] = 0 if silent else np.int64(math.floor(min(fd * abs(v), 1.0) * 2.0**53))
                sign_d[b, j] = 1 if v > 0 else (-1 if v < 0 else 0)

    @njit(cache=True)
    def _cut(mask, sign, lengths):
        """Keep each sample's first ``lengths[b]`` slots; a line left without a pulse loses its polarity."""
        for b in range(mask.shape[0]):
            for i in range(mask.shape[1]):
                any_bit = False
                for w in range(mask.shape[2]):
                    lanes = min(max(lengths[b] - 32 * w, 0), 32)
                    mask[b, i, w] &= (np.int64(1) << np.int64(lanes)) - np.int64(1)
                    any_bit = any_bit or mask[b, i, w] != 0
                if not any_bit:
                    sign[b, i] = 0

    # one thread, or the threads torch uses (samples of the trains, in parallel)
    _masks = {False: njit(cache=True)(_masks_loop), True: njit(parallel=True)(_masks_loop)}


_POOL_PID = []  # the process whose numba thread pool has started


def _blocks(parallel):
    """How many blocks a compiled loop splits its lines or samples into: one on one thread, four per
    thread otherwise (a block allocates its scratch once; the blocking never changes a number)."""
    return 4 * numba.get_num_threads() if parallel else 1


def _parallel():
    """Whether to run the parallel loops, on as many threads as torch uses: torch runs on more than
    one thread, this is the main thread, and no parent process started the pool (GNU OpenMP, numba's
    default layer here, aborts a forked child that runs a parallel loop; a forked sweep worker runs
    the serial loops instead)."""
    import threading

    import torch

    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1 or threading.current_thread() is not threading.main_thread():
        return False
    if _POOL_PID and _POOL_PID[0] != os.getpid():
        return False
    if not _POOL_PID:
        _POOL_PID.append(os.getpid())
    numba.set_num_threads(threads)
    return True


def draw_streams(x, d, lr, eps_w, bit_length, generator, bl_management=False):
    """Compiled twin of :func:`memcosim.training.bitstreams.draw_streams`: the same keys, bits and
    polarities (CPU tensors), probabilities (with ``bl_management``: and each sample's length) and
    trains in compiled loops."""
    import torch

    from memcosim.training.bitstreams import BitStreams

    keys = torch.randint(0, 2**62, (3,), generator=generator, dtype=torch.int64)
    x, d = x.detach().contiguous(), d.detach().contiguous()
    batch, words = x.shape[0], -(-bit_length // 32)
    p53x = np.empty(x.shape, dtype=np.int64)
    p53d = np.empty(d.shape, dtype=np.int64)
    sign_x, sign_d = np.empty(x.shape, dtype=np.int64), np.empty(d.shape, dtype=np.int64)
    lengths = np.empty(batch, dtype=np.int64)
    if bl_management:
        _probabilities_bl(x.numpy(), d.numpy(), float(lr), float(eps_w), bit_length, p53x, p53d, sign_x, sign_d, lengths)
    else:
        _probabilities(x.numpy(), d.numpy(), math.sqrt(lr / (bit_length * eps_w)), p53x, p53d, sign_x, sign_d)
    key_x, key_d, _ = keys.tolist()
    x_mask = np.empty((batch, x.shape[1], words), dtype=np.int64)
    d_mask = np.empty((batch, d.shape[1], words), dtype=np.int64)
    parallel = _parallel()
    masks_of, blocks = _masks[parallel], _blocks(parallel)
    masks_of(p53x, key_x, bit_length, x_mask, sign_x, blocks)
    masks_of(p53d, key_d, bit_length, d_mask, sign_d, blocks)
    if bl_management:
        _cut(x_mask, sign_x, lengths)
        _cut(d_mask, sign_d, lengths)
    return BitStreams(torch.from_numpy(x_mask), torch.from_numpy(sign_x), torch.from_numpy(d_mask), torch.from_numpy(sign_d),
                      keys[2], bit_length)


def masks(p53, key, bit_length):
    """Compiled twin of :func:`memcosim.training.bitstreams.masks_torch` (CPU tensors)."""
    import torch

    words = -(-bit_length // 32)
    out = np.empty(tuple(p53.shape) + (words,), dtype=np.int64)
    parallel = _parallel()
    _masks[parallel](p53.contiguous().numpy(), int(key), bit_length, out, np.ones(tuple(p53.shape), dtype=np.int64),
                     _blocks(parallel))
    return torch.from_numpy(out)

