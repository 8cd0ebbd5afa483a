"""Atomic file writes: a reader (or a run killed half-way, ``kill -9`` included) never sees
half a file. Write to a sibling temporary file, then rename it over the target (atomic on POSIX).

:func:`write_json_atomic` writes strict JSON only: a NaN or infinity is refused (naming the key
that holds it) instead of written as the bare ``NaN`` that JSON readers reject.
"""

import contextlib
import json
import math
import os
from pathlib import Path

__all__ = ["atomic_path", "write_text_atomic", "write_png_atomic", "write_json_atomic", "non_finite_key"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary name carries the process id, so concurrent writers never share one; on an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path, text):
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_png_atomic(fig, path, dpi=110):
    """Write a matplotlib figure to ``path`` as PNG atomically (a plot rewritten while a study runs)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def non_finite_key(data, where=""):
    """The dotted key of the first NaN or infinity in nested dicts and lists, or None.

    >>> non_finite_key({"fit": {"r2": float("nan")}})
    'fit.r2'
    """
    if isinstance(data, float):
        return None if math.isfinite(data) else (where or "(top level)")
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, (list, tuple)) else ()
    for key, value in items:
        found = non_finite_key(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def write_json_atomic(path, data, indent=2):
    """Write ``data`` as strict JSON (no NaN or infinity) to ``path`` atomically.

    Raises
    ------
    SimulationError
        ``data`` holds a NaN or infinity; the message names the file and the key. Nothing is written.
    """
    try:
        text = json.dumps(data, indent=indent, allow_nan=False)
    except ValueError:
        from memcosim.base.errors import SimulationError

        raise SimulationError(f"{path}: refusing to write a non-finite number at {non_finite_key(data)} "
                              "(strict JSON has no NaN or infinity)") from None
    write_text_atomic(path, text + "\n")
