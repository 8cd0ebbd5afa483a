"""Outputs read back (run records, checkpoints, results) checked like inputs.

A file memcosim wrote and reads again (``run.json`` on ``--resume`` and ``memcosim report``, a
training checkpoint, a cache entry) may have been edited, truncated or swapped since. Before
any number of it is used, :func:`check_numbers` walks it (iteratively: any depth, O(size)) and
holds every number to the range its key's name promises, and :func:`require` checks the
fields a reader needs and their types. Either raises ``error`` naming the source, the dotted
key, the allowed range and the value given (one line).

Key-name rules (:data:`RULES`, wherever the key appears): ``*accuracy*`` in [0, 1]; energies
``*_j`` and times ``*_s`` >= 0; counts (``epoch`` >= 1, ``pulses*``, ``updates``, ``*_count``)
integers >= 0; ``*_error`` (error rates) in [0, 1]; ``train_loss`` >= 0; every number finite.

>>> check_numbers({"epochs": [{"epoch": 1, "test_accuracy": 0.9}]}, "run.json")
>>> check_numbers({"test_accuracy": 3.5}, "run.json")
Traceback (most recent call last):
...
memcosim.base.errors.ConfigError: run.json: test_accuracy: must be a number in [0, 1], got 3.5
"""

import math

from memcosim.base.errors import ConfigError

__all__ = ["check_numbers", "require", "RULES"]


def _integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


RULES = (
    (lambda k: "accuracy" in k, _number, 0.0, 1.0, "a number in [0, 1]"),
    (lambda k: k.endswith("_error"), _number, 0.0, 1.0, "a number in [0, 1]"),
    (lambda k: k == "epoch", _integer, 1, math.inf, "an integer >= 1"),
    (lambda k: k.startswith("pulses") or k in ("updates", "seed") or k.endswith("_count"), _integer, 0, math.inf,
     "an integer >= 0"),
    (lambda k: k.endswith(("_j", "_s")) or k == "train_loss", _number, 0.0, math.inf, "a number >= 0"),
)
"""``(key test, type test, low, high, wording)``: the first rule whose key test holds applies."""


def check_numbers(data, source, error=ConfigError, where=""):
    """Hold every number in ``data`` (nested dicts and lists) to its key's rule (module docstring).

    ``None`` passes (a quantity not measured); a number must be finite.
    """
    stack = [(where, data, "")]
    while stack:
        path, value, key = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, str(k)) for k, v in value.items())
            continue
        if isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", v, key) for i, v in enumerate(value))
            continue
        if value is None:
            continue
        rule = next((r for r in RULES if r[0](key)), None)
        if rule is not None:
            _, kind, low, high, wording = rule
            if not (kind(value) and low <= value <= high):
                raise error(f"{source}: {path}: must be {wording}, got {value!r}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise error(f"{source}: {path}: must be a finite number, got {value!r}")


def require(data, fields, source, error=ConfigError, where=""):
    """Check that ``data`` is a dict holding each of ``fields`` (``{key: type or tuple of types}``).

    ``float`` also accepts an int (JSON writes 1.0 as 1); ``bool`` never passes for a number.
    """
    if not isinstance(data, dict):
        raise error(f"{source}: {where or '(top level)'}: must be an object, got {type(data).__name__}")
    for key, types in fields.items():
        types = types if isinstance(types, tuple) else (types,)
        if float in types:
            types = types + (int,)
        value = data.get(key, _MISSING)
        if value is _MISSING:
            raise error(f"{source}: {where + '.' if where else ''}{key}: missing")
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise error(f"{source}: {where + '.' if where else ''}{key}: must be {names}, got {type(value).__name__}")


_MISSING = object()
