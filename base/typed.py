"""The one JSON reader of typed records: frozen dataclasses to and from plain JSON objects.

A class that mixes in :class:`JsonRecord` (and is a ``@dataclass``) gets

* ``to_json()`` -> a JSON-ready ``dict`` (nested records as dicts, tuples as lists, numpy
  scalars as Python numbers; a NaN or infinity anywhere is refused naming the field), with
  ``format_version`` first when the class sets :attr:`JsonRecord.FORMAT_VERSION`;
* ``from_json(data, source=...)`` -> the record, strictly: ``data`` must be an object, every
  field without a default present, no key the class does not know, every number finite and of
  its field's type (``float`` takes an int, ``bool`` never passes for a number), nested records
  read by the same rules. Every refusal is one line of ``error`` (a
  :class:`~memcosim.base.errors.MemcosimError`, :class:`ConfigError` by default) naming the
  source, the dotted field and the value given (``repr``).

The field types a record may use: ``float``, ``int``, ``str``, ``bool``, ``X | None``,
``tuple[X, ...]``, ``list[X]``, ``dict`` / ``dict[str, X]`` (any JSON below, held finite),
other :class:`JsonRecord` classes and plain dataclasses (read by the same rules). Range checks stay in the class's ``__post_init__`` (they hold
for records built in code too); an error raised there is prefixed with the source.

:func:`dumps` and :func:`loads` add the text step (strict JSON: no ``NaN``, nesting bounded).

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Point(JsonRecord):
...     x_m: float
...     label: str = ""
>>> Point.from_json({"x_m": 2, "label": "a"})
Point(x_m=2.0, label='a')
>>> Point(1.5).to_json()
{'x_m': 1.5, 'label': ''}
>>> Point.from_json({"x_m": 1.0, "y_m": 2.0}, source="p.json")
Traceback (most recent call last):
...
memcosim.base.errors.ConfigError: p.json: y_m: unknown field; known: x_m, label
"""

import dataclasses
import json
import math
import types
import typing
from typing import ClassVar

from memcosim.base.errors import ConfigError

__all__ = ["JsonRecord", "dumps", "loads", "check_finite", "check_number"]

_MISSING = object()


def _at(where, key):
    return f"{where}.{key}" if where else str(key)


def _fail(error, source, where, message):
    raise error(f"{source}: {where or '(top level)'}: {message}")


def check_finite(value, source, where="", error=ConfigError):
    """Refuse a NaN or infinity anywhere in ``value`` (nested dicts and lists; iterative, any depth)."""
    stack = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((_at(path, k), v) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            _fail(error, source, path, f"must be a finite number, got {item!r}")


def check_number(where, value, low=-math.inf, high=math.inf, error=ConfigError, open_low=False):
    """``value`` as a float once it is a finite real number in ``[low, high]`` (``(low, high]`` with
    ``open_low``), else one line of ``error`` naming ``where``, the range and the value (repr).

    Numpy scalars pass; ``bool`` does not. The one range check of records' ``__post_init__``.

    >>> check_number("ir_drop.a", -1.0, 0.0)
    Traceback (most recent call last):
    ...
    memcosim.base.errors.ConfigError: ir_drop.a: must be a finite number in [0, inf], got -1.0
    """
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) or type(value).__module__ == "numpy" \
        and hasattr(value, "dtype") and value.dtype.kind in "iuf" and value.ndim == 0
    if not ok or not math.isfinite(value) or not low <= value <= high or open_low and value == low:
        raise error(f"{where}: must be a finite number in {'(' if open_low else '['}{low:g}, {high:g}], got {value!r}")
    return float(value)


def _plain(value, where):
    """``value`` as plain JSON data (records as dicts, tuples as lists, numpy scalars as numbers)."""
    if isinstance(value, JsonRecord):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), _at(where, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v, _at(where, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, (int, float)):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number to be written, got {value!r}")
    if isinstance(value, (int, float)):
        return value
    raise ConfigError(f"{where}: cannot be written as JSON ({type(value).__name__})")


class JsonRecord:
    """Mix-in of frozen dataclasses read and written as strict JSON objects (module docstring)."""

    FORMAT_VERSION: ClassVar[int | None] = None
    """Version of the layout ``to_json`` writes (None: not versioned)."""
    READS_VERSIONS: ClassVar[tuple] = ()
    """Older versions :meth:`migrate` turns into the current one."""
    UNVERSIONED: ClassVar[int | None] = None
    """The version a record without ``format_version`` has (None: it is refused)."""
    CONSTANTS: ClassVar[dict] = {}
    """Fixed descriptive keys written with every record (``form``) and accepted, not kept, on reading."""

    def to_json(self):
        """The record as a JSON-ready dict."""
        name = type(self).__name__
        out = {} if self.FORMAT_VERSION is None else {"format_version": self.FORMAT_VERSION}
        out.update(self.CONSTANTS)
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name), f"{name}.{f.name}")
        return out

    @classmethod
    def migrate(cls, data, version, source, error):
        """``data`` of an older ``version`` (in :attr:`READS_VERSIONS`) as the current layout."""
        return data

    @classmethod
    def from_json(cls, data, source=None, where="", error=ConfigError):
        """The record of ``data`` (a dict from :meth:`to_json`), refusing anything else in one line.

        Parameters
        ----------
        data : dict
        source : str
            The file or stream ``data`` came from, for messages (default: the class name).
        where : str
            Dotted path of ``data`` inside ``source`` (nested records).
        error : type
            The :class:`~memcosim.base.errors.MemcosimError` subclass to raise.
        """
        source = cls.__name__ if source is None else source
        if not isinstance(data, dict):
            _fail(error, source, where, f"must be a JSON object, got {type(data).__name__}")
        data = dict(data)
        if cls.FORMAT_VERSION is not None:
            version = data.pop("format_version", _MISSING if cls.UNVERSIONED is None else cls.UNVERSIONED)
            if version != cls.FORMAT_VERSION:
                if version is _MISSING or version not in cls.READS_VERSIONS:
                    known = ", ".join(str(v) for v in (*cls.READS_VERSIONS, cls.FORMAT_VERSION))
                    shown = "missing" if version is _MISSING else repr(version)
                    _fail(error, source, _at(where, "format_version"),
                          f"{shown} is not a version this memcosim reads ({known})")
                data = cls.migrate(data, version, source, error)
        for key in cls.CONSTANTS:
            data.pop(key, None)
        return _build(cls, data, source, where, error)


def _build(cls, data, source, where, error):
    """The dataclass ``cls`` of the JSON object ``data``: fields by name, strictly (module docstring)."""
    if not isinstance(data, dict):
        _fail(error, source, where, f"must be a JSON object, got {type(data).__name__}")
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    unknown = [k for k in data if k not in names]
    if unknown:
        _fail(error, source, _at(where, unknown[0]), f"unknown field; known: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in fields:
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                _fail(error, source, _at(where, f.name), "missing")
            continue
        values[f.name] = _read(hints[f.name], data[f.name], source, _at(where, f.name), error)
    try:
        return cls(**values)
    except error as exc:
        raise error(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{source}: {where + ': ' if where else ''}{message}") from None


def _describe(kind):
    return getattr(kind, "__name__", str(kind))


def _read(kind, value, source, where, error):
    """``value`` as the field type ``kind`` (see the module docstring), or ``error``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _read(rest[0], value, source, where, error)
        for option in rest:
            try:
                return _read(option, value, source, where, error)
            except error:
                continue
        _fail(error, source, where, f"must be {' or '.join(_describe(a) for a in args)}, got {value!r}")
    if isinstance(kind, type) and issubclass(kind, JsonRecord):
        return kind.from_json(value, source, where, error)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _build(kind, value, source, where, error)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            _fail(error, source, where, f"must be a finite number, got {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(error, source, where, f"must be an integer, got {value!r}")
        return value
    if kind in (str, bool):
        if not isinstance(value, kind):
            _fail(error, source, where, f"must be {'a string' if kind is str else 'true or false'}, got {value!r}")
        return value
    if kind is dict or origin is dict:
        if not isinstance(value, dict):
            _fail(error, source, where, f"must be a JSON object, got {type(value).__name__}")
        if args:
            return {k: _read(args[1], v, source, _at(where, k), error) for k, v in value.items()}
        check_finite(value, source, where, error)
        return dict(value)
    if kind in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, list):
            _fail(error, source, where, f"must be a JSON array, got {type(value).__name__}")
        item = args[0] if args else typing.Any
        items = [_read(item, v, source, f"{where}[{i}]", error) for i, v in enumerate(value)]
        return tuple(items) if (origin or kind) is tuple else items
    if kind is typing.Any or kind is object:
        check_finite(value, source, where, error)
        return value
    raise TypeError(f"{where}: field type {kind!r} is not one a JsonRecord reads")  # a programming error


def dumps(record):
    """``record.to_json()`` as indented JSON text with a final newline (NaN refused)."""
    return json.dumps(record.to_json(), indent=2, allow_nan=False) + "\n"


def loads(cls, text, source, what="file", error=ConfigError):
    """The ``cls`` record of JSON ``text`` (strict JSON, then :meth:`JsonRecord.from_json`)."""
    from memcosim.base.files import parse_json

    return cls.from_json(parse_json(text, source, what, error, expect=None), source, error=error)
