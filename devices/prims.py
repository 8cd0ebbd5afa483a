"""Elementwise primitives the device laws are written with, so each law is written once.

A law that must run on numpy arrays, on torch tensors (CPU or CUDA) and, inside the compiled
pulse kernel of :mod:`memcosim.training.kernel`, on scalars, is written as a plain function of
its inputs and a :class:`Prims` namespace ``f`` (``f.log(x)``, ``f.clip(x, lo, hi)``, ...) and
decorated with :func:`jitable`. Called from Python with :func:`prims_for` it is the vectorised
numpy or torch law; called from a numba kernel with the kernel's scalar primitives it is
compiled, from the same source.

Only scalar bounds are passed to ``clip``; ``maximum`` takes two arrays of one shape.
"""

import collections
import math

import numpy as np
from scipy import special

__all__ = ["Prims", "NUMPY", "PYTHON", "prims_for", "torch_prims", "jitable", "JITABLE"]

Prims = collections.namedtuple("Prims", "clip maximum log exp abs sign sqrt floor logaddexp ndtr ndtri index")
"""The primitives of a law: ``clip(x, lo, hi)`` (scalar bounds), ``maximum(a, b)``, ``log``,
``exp``, ``abs``, ``sign`` (0 at 0), ``sqrt``, ``floor``, ``logaddexp``, ``ndtr`` (standard
normal CDF), ``ndtri`` (its inverse) and ``index`` (floor to an integer, for table look-ups)."""

NUMPY = Prims(np.clip, np.maximum, np.log, np.exp, np.abs, np.sign, np.sqrt, np.floor, np.logaddexp,
              special.ndtr, special.ndtri, lambda x: np.floor(x).astype(np.int64))

def _py_logaddexp(x, y):
    big, small = (x, y) if x >= y else (y, x)
    return big + math.log1p(math.exp(small - big))


PYTHON = Prims(lambda x, lo, hi: min(max(x, lo), hi), max, math.log, math.exp, abs,
               lambda x: (x > 0) - (x < 0), math.sqrt, math.floor, _py_logaddexp, special.ndtr, special.ndtri,
               lambda x: int(math.floor(x)))
"""The primitives on plain Python floats (a law stepped one scalar at a time, e.g. a pulse sequence)."""

_TORCH = []


def torch_prims():
    """The torch primitives (torch is imported on first use)."""
    if not _TORCH:
        import torch

        _TORCH.append(Prims(torch.clamp, torch.maximum, torch.log, torch.exp, torch.abs, torch.sign, torch.sqrt,
                            torch.floor, torch.logaddexp, torch.special.ndtr, torch.special.ndtri,
                            lambda x: torch.floor(x).long()))
    return _TORCH[0]


def prims_for(x):
    """The primitives for ``x``: torch's for a tensor, numpy's otherwise."""
    return torch_prims() if type(x).__module__.startswith("torch") else NUMPY


JITABLE = []
"""The functions marked :func:`jitable`, in definition order (the kernel registers them with numba)."""


def jitable(func):
    """Mark a law written with :class:`Prims` as compilable: it stays a plain Python function, and
    :func:`memcosim.devices.compiled.register_laws` registers it with numba (``register_jitable``) so
    a compiled kernel calls this very source; importing this module does not import numba."""
    JITABLE.append(func)
    return func
