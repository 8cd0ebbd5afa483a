"""Reading user files with one-line errors (every layer reads study files, decks, CSVs, JSON),
and content hashes of the files a run reads."""

import hashlib
import json
from pathlib import Path

from memcosim.base.errors import ConfigError

__all__ = ["read_text", "read_json", "file_sha256"]


def read_text(path, what="file", error=ConfigError, encoding="utf-8"):
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

    Raises
    ------
    error
        ``PATH: no such WHAT``, or ``PATH: cannot read WHAT (reason)`` for directories, permissions
        and text that is not valid in ``encoding``.
    """
    path = Path(path)
    try:
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: cannot read {what} (not {encoding} text: byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None


def read_json(path, what="file", error=ConfigError, expect=dict):
    """The parsed JSON of ``path`` (strict: no ``NaN``), or ``error`` naming the path (one line).

    ``expect`` is the type the top level must have (``dict``: a JSON object; None: any).
    """
    text = read_text(path, what, error)

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    try:
        data = json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        raise error(f"{path}: {what} is not valid JSON ({exc}); remove or rewrite it") from None
    if expect is not None and not isinstance(data, expect):
        kind = "a JSON object" if expect is dict else expect.__name__
        raise error(f"{path}: {what} must hold {kind}, got {type(data).__name__}")
    return data


def file_sha256(path, chunk_bytes=1 << 20):
    """Hex SHA-256 of a file's bytes (read in chunks: any size in constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()
