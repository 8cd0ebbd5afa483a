"""The one reader of every file memcosim opens, with one-line errors.

Every input (study files, decks and their includes, measured CSVs, device and model JSON,
run records, checkpoints, IDX images, cache entries) is opened by :func:`open_input`, so each
read is bounded before it starts:

* **regular files only**: a FIFO, a device (``/dev/zero``), a socket or a directory is refused in
  one line before anything is read (nothing blocks on a pipe, nothing reads forever);
* **a size cap from the memory budget**: a file whose size times what reading it costs per byte
  exceeds ``MEMCOSIM_MEMORY_BUDGET_GB`` (:mod:`memcosim.base.memory`) is refused with the estimate,
  and no read goes past the cap even when the size the file system reports is wrong;
* **text decoded with a clear error** naming the line and byte;
* **nesting bounded before parsing**: JSON and TOML deeper than :data:`MAX_DEPTH` levels are
  refused before a parser (recursive in Python) sees them;
* **CSV lines and cells capped** (:func:`input_lines`, :func:`csv_cells`).

Each function takes ``what`` (the file's role for messages: ``"study file"``) and ``error``
(the :class:`~memcosim.base.errors.MemcosimError` subclass to raise).
"""

import contextlib
import csv
import hashlib
import json
import os
import re
import stat
import tomllib
from pathlib import Path

from memcosim.base.errors import ConfigError, shown

__all__ = ["open_input", "read_bytes", "read_text", "parse_json", "read_json", "read_toml", "input_lines", "csv_cells",
           "csv_header", "check_depth", "file_sha256", "MAX_DEPTH", "MAX_LINE_CHARS"]

MAX_DEPTH = 64
"""Deepest nesting of arrays and tables a JSON or TOML input may have (memcosim's own files nest < 10)."""

MAX_LINE_CHARS = 1 << 20
"""Longest line a line-by-line input (a measured CSV) may have, in characters."""

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _kind(mode):
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _budget_cap(path, what, error, size, bytes_per_byte):
    """The most bytes of ``path`` that may be read; ``error`` when its ``size`` is over it already."""
    from memcosim.base.memory import check_memory, memory_budget_bytes

    if bytes_per_byte <= 0:  # read in constant memory (a hash)
        return float("inf")
    try:
        check_memory(size * bytes_per_byte, f"{shown(path)}: reading this {what} of {size} bytes",
                     "give a smaller file or raise the budget")
    except ConfigError as exc:
        raise error(str(exc)) from None
    return int(memory_budget_bytes() / bytes_per_byte)


@contextlib.contextmanager
def open_input(path, what="file", error=ConfigError, bytes_per_byte=1.0):
    """Open ``path`` for binary reading once it is known to be a regular file within the budget.

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for messages.
    error : type
        The error class to raise.
    bytes_per_byte : float
        Memory the caller needs per byte of the file (text decoding, a parser's objects): the
        file is refused when ``size * bytes_per_byte`` exceeds the memory budget.

    Yields
    ------
    (file object, int)
        The open binary file and the most bytes the caller may read from it (read ``cap + 1``
        and refuse past ``cap``: :func:`read_bytes` does).

    Raises
    ------
    error
        ``PATH: no such WHAT``; ``PATH: WHAT is a FIFO (named pipe), not a regular file``;
        ``PATH: cannot read WHAT (reason)``; the budget's message.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        before = os.stat(path)  # refuse a FIFO or a device before opening it (opening one can block or act)
        if not stat.S_ISREG(before.st_mode):
            raise error(f"{shown(path)}: {what} is {_kind(before.st_mode)}, not a regular file")
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{shown(path)}: no such {what}") from None
    except OSError as exc:
        raise error(f"{shown(path)}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)  # what was opened, in case the path changed since the stat
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{shown(path)}: {what} is {_kind(info.st_mode)}, not a regular file")
        cap = _budget_cap(path, what, error, info.st_size, bytes_per_byte)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh, cap


def read_bytes(path, what="file", error=ConfigError, bytes_per_byte=1.0):
    """The bytes of ``path`` (:func:`open_input`'s checks; never more than the budget allows)."""
    with open_input(path, what, error, bytes_per_byte) as (fh, cap):
        try:
            data = fh.read(cap + 1)
        except OSError as exc:
            raise error(f"{shown(path)}: cannot read {what} ({exc.strerror or exc})") from None
    if len(data) > cap:
        raise error(f"{shown(path)}: {what} is larger than the {cap} bytes the memory budget allows it")
    return data


def _decode(data, path, what, error, encoding):
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{shown(path)}: cannot read {what} (not {encoding} text: line {line}, byte {exc.start})") from None


def read_text(path, what="file", error=ConfigError, encoding="utf-8", bytes_per_byte=5.0):
    """The text of ``path``, or ``error`` naming the path and what went wrong (one line).

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the message (``"study file"``, ``"circuit models"``).
    error : type
        The :class:`~memcosim.base.errors.MemcosimError` subclass to raise.
    encoding : str
        ``utf-8`` (``utf-8-sig`` also accepts a byte-order mark).
    bytes_per_byte : float
        Memory per byte of the file the caller needs (default: the decoded string and a copy).

    Raises
    ------
    error
        ``PATH: no such WHAT``, ``PATH: WHAT is a directory, not a regular file``, or ``PATH:
        cannot read WHAT (reason)`` for permissions and text that is not valid in ``encoding``.
    """
    return _decode(read_bytes(path, what, error, bytes_per_byte), path, what, error, encoding)


_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_TOML_STRINGS = re.compile(r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*')


def check_depth(text, source, error=ConfigError, language="JSON", max_depth=MAX_DEPTH):
    """Refuse ``text`` whose arrays and tables nest deeper than ``max_depth`` (strings and comments
    left out), before a recursive parser sees it. O(len(text)).

    Raises
    ------
    error
        ``SOURCE: LANGUAGE nested deeper than N levels (line L)``.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return
    import numpy as np

    strings = _TOML_STRINGS if language == "TOML" else _JSON_STRINGS
    bare = strings.sub(lambda m: "\n" * m.group(0).count("\n") or "_", text).encode("utf-8", "replace")
    codes = np.frombuffer(bare, dtype=np.uint8)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}")))
    depth = np.cumsum(step)
    if depth.size and depth.max() > max_depth:
        at = int(np.argmax(depth > max_depth))
        line = bare.count(b"\n", 0, at) + 1
        raise error(f"{source}: {language} nested deeper than {max_depth} levels (line {line}); memcosim's files nest "
                    "a few levels only")


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json(text, source, what="file", error=ConfigError, expect=dict):
    """Strict JSON (no ``NaN``, nesting bounded) of ``text``; ``source`` names it in messages.

    ``expect`` is the type the top level must have (``dict``: a JSON object; None: any).
    """
    check_depth(text, source, error, "JSON")
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise error(f"{source}: {what} is not valid JSON ({str(exc)[:200]}); remove or rewrite it") from None
    if expect is not None and not isinstance(data, expect):
        kind = "a JSON object" if expect is dict else expect.__name__
        raise error(f"{source}: {what} must hold {kind}, got {type(data).__name__}")
    return data


def read_json(path, what="file", error=ConfigError, expect=dict):
    """The parsed JSON of ``path`` (strict: no ``NaN``), or ``error`` naming the path (one line).

    ``expect`` is the type the top level must have (``dict``: a JSON object; None: any).
    """
    return parse_json(read_text(path, what, error, bytes_per_byte=20.0), path, what, error, expect)


def read_toml(path, what="file", error=ConfigError):
    """The parsed TOML of ``path`` (nesting bounded), or ``error`` naming the path (one line)."""
    text = read_text(path, what, error, bytes_per_byte=30.0)
    check_depth(text, path, error, "TOML")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{shown(path)}: invalid TOML: {exc}") from None
    except RecursionError:  # pragma: no cover - check_depth bounds the nesting first
        raise error(f"{shown(path)}: TOML nested too deep") from None
    stack = [(data, 1)]  # dotted keys (a.b.c = 1) nest too, without a bracket
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise error(f"{shown(path)}: TOML nested deeper than {MAX_DEPTH} levels (dotted keys or tables)")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return data


def input_lines(path, what="file", error=ConfigError, encoding="utf-8", max_line_chars=MAX_LINE_CHARS, bar=None,
                bytes_per_byte=2.0):
    """``(line number, text without its line break)`` of ``path``, read one line at a time.

    A line longer than ``max_line_chars`` or not valid in ``encoding`` is refused naming its
    number; ``bar`` (a tqdm bar) advances by bytes. ``utf-8-sig`` drops a leading byte-order mark.
    A lone ``\\r`` also ends a line.
    """
    with open_input(path, what, error, bytes_per_byte) as (fh, cap):
        number, total = 0, 0
        limit = 4 * max_line_chars + 4  # UTF-8: at most 4 bytes a character
        while True:
            try:
                raw = fh.readline(limit + 1)
            except OSError as exc:
                raise error(f"{shown(path)}: cannot read {what} ({exc.strerror or exc})") from None
            if not raw:
                return
            total += len(raw)
            if bar is not None:
                bar.update(len(raw))
            if total > cap:
                raise error(f"{shown(path)}: {what} is larger than the {cap} bytes the memory budget allows it")
            if len(raw) > limit:
                raise error(f"{shown(path)}:{number + 1}: line longer than {max_line_chars} characters; is this a {what}?")
            try:
                text = raw.decode(encoding if number == 0 else encoding.replace("-sig", ""))
            except UnicodeDecodeError as exc:
                raise error(f"{shown(path)}:{number + 1}: cannot read {what} (not {encoding} text at byte {exc.start} of the "
                            "line)") from None
            parts = text.rstrip("\r\n").split("\r")
            for part in parts:
                number += 1
                if len(part) > max_line_chars:
                    raise error(f"{shown(path)}:{number}: line longer than {max_line_chars} characters; is this a {what}?")
                yield number, part


def csv_cells(line, where, error=ConfigError):
    """The cells of one CSV line (quotes honoured); a cell past the csv module's field limit or a
    malformed quote is ``error`` naming ``where`` (``path:line``)."""
    try:
        return next(csv.reader([line]), [])
    except csv.Error as exc:
        raise error(f"{where}: not a CSV line ({exc})") from None


def csv_header(cells, where, error=ConfigError):
    """Column names (stripped) of a header line; a name given twice is ``error`` naming it."""
    names = [c.strip() for c in cells]
    seen = set()
    for name in names:
        if name in seen and name:
            raise error(f"{where}: column {name!r} appears twice in the header; each column must be named once")
        seen.add(name)
    return names


def file_sha256(path, what="file", error=ConfigError, chunk_bytes=1 << 20):
    """Hex SHA-256 of a regular file's bytes (read in chunks: any size in constant memory)."""
    h = hashlib.sha256()
    with open_input(path, what, error, bytes_per_byte=0.0) as (fh, _):
        try:
            while block := fh.read(chunk_bytes):
                h.update(block)
        except OSError as exc:
            raise error(f"{shown(path)}: cannot read {what} ({exc.strerror or exc})") from None
    return h.hexdigest()
