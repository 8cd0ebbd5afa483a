"""The device laws compiled with numba: scalar primitives and the registry of :func:`~memcosim.devices.prims.jitable` laws.

A law written once with :class:`~memcosim.devices.prims.Prims` runs vectorised on numpy and torch
and, called with :data:`SCALAR` inside an ``@njit`` function, compiled on scalars from the very
same source: the training pulse kernel (:mod:`memcosim.training.kernel`) and the calibration
replay (:mod:`memcosim.devices.hzo_replay`) both compile the laws through here. ``ndtr`` and
``ndtri`` are scipy's own C functions (through their Cython addresses), so a compiled law matches
the numpy law to the last bit wherever numpy's ``exp`` and ``log`` are the C library's.

numba is a dependency; without it :func:`available` is False, :data:`SCALAR` is None and callers
take their numpy or torch path.
"""

import ctypes
import math

from memcosim.devices.prims import JITABLE, Prims

__all__ = ["available", "register_laws", "SCALAR"]

try:
    import numba
    from numba import njit
    from numba.extending import get_cython_function_address, register_jitable
except ImportError:  # pragma: no cover - numba is a dependency; callers fall back without it
    numba = None

SCALAR = None
"""The primitives of the compiled device laws (scalars); None without numba."""

_REGISTERED = set()


def available():
    """True when numba imported (the compiled laws can run)."""
    return numba is not None


def register_laws():
    """Register every :func:`~memcosim.devices.prims.jitable` law defined so far with numba, each once.

    Call it after importing the modules whose laws a compiled function uses (a law's module
    must be imported for its functions to be in the registry).
    """
    for law in JITABLE:
        if law not in _REGISTERED:
            register_jitable(law)
            _REGISTERED.add(law)


if numba is not None:
    _c_double = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)
    _ndtri_c = _c_double(get_cython_function_address("scipy.special.cython_special", "ndtri"))
    _ndtr_c = _c_double(get_cython_function_address("scipy.special.cython_special", "__pyx_fuse_1ndtr"))

    @njit(inline="always")
    def _clip(x, lo, hi):
        return min(max(x, lo), hi)

    @njit(inline="always")
    def _maximum(a, b):
        return max(a, b)

    @njit(inline="always")
    def _sign(x):
        return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0 * x)

    @njit(inline="always")
    def _logaddexp(x, y):  # numpy's algorithm
        if x == y:
            return x + math.log(2.0)
        tmp = x - y
        if tmp > 0:
            return x + math.log1p(math.exp(-tmp))
        if tmp <= 0:
            return y + math.log1p(math.exp(tmp))
        return tmp

    @njit
    def _ndtr(x):
        return _ndtr_c(x)

    @njit
    def _ndtri(x):
        return _ndtri_c(x)

    @njit(inline="always")
    def _log(x):
        return math.log(x)

    @njit(inline="always")
    def _exp(x):
        return math.exp(x)

    @njit(inline="always")
    def _abs(x):
        return abs(x)

    @njit(inline="always")
    def _sqrt(x):
        return math.sqrt(x)

    @njit(inline="always")
    def _floor(x):
        return math.floor(x)

    @njit(inline="always")
    def _index(x):
        return int(math.floor(x))

    SCALAR = Prims(_clip, _maximum, _log, _exp, _abs, _sign, _sqrt, _floor, _logaddexp, _ndtr, _ndtri, _index)
