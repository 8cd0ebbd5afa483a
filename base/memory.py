"""A memory budget checked before large allocations.

Every step that can allocate a lot (a deck of ``rows x cols`` cells, a characterisation, a
training run, a sweep grid) estimates its peak memory first and calls :func:`check_memory`;
over the budget it is refused with the estimate and the knob, before anything is allocated.

The budget is ``MEMCOSIM_MEMORY_BUDGET_GB`` (gigabytes, 1e9 bytes) when set, else half of the
machine's physical memory.
"""

import os

from memcosim.base.errors import ConfigError

__all__ = ["BUDGET_ENV", "memory_budget_bytes", "check_memory", "format_bytes"]

BUDGET_ENV = "MEMCOSIM_MEMORY_BUDGET_GB"
"""Environment variable holding the budget in gigabytes."""

_DEFAULT_FRACTION = 0.5


def _physical_bytes():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8e9


def memory_budget_bytes():
    """The budget in bytes (``MEMCOSIM_MEMORY_BUDGET_GB`` or half the physical memory).

    Raises
    ------
    ConfigError
        ``MEMCOSIM_MEMORY_BUDGET_GB`` is not a finite number > 0.
    """
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return _DEFAULT_FRACTION * _physical_bytes()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value > 0 and value < float("inf")):
        raise ConfigError(f"{BUDGET_ENV}: must be a number of gigabytes > 0, got {text!r}")
    return value * 1e9


def format_bytes(n):
    """``1.2 GB``, ``340 MB``, ``12 kB`` (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(estimate_bytes, what, hint=""):
    """Refuse ``what`` when its estimated peak memory exceeds the budget.

    Parameters
    ----------
    estimate_bytes : float
        Estimated peak memory of the step.
    what : str
        The step and its size, for the message (``"netlist read of a 4096 x 4096 array"``).
    hint : str
        What in the input to make smaller.

    Raises
    ------
    ConfigError
        ``WHAT needs about X, over the memory budget of Y (MEMCOSIM_MEMORY_BUDGET_GB=...); HINT``.
    """
    budget = memory_budget_bytes()
    if estimate_bytes > budget:
        source = f"{BUDGET_ENV}={os.environ[BUDGET_ENV].strip()}" if os.environ.get(BUDGET_ENV, "").strip() else \
            f"half the machine's memory; set {BUDGET_ENV} to change it"
        extra = f"; {hint}" if hint else ""
        raise ConfigError(f"{what} needs about {format_bytes(estimate_bytes)}, over the memory budget of "
                          f"{format_bytes(budget)} ({source}){extra}")
