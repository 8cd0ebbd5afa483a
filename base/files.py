"""Reading user files with one-line errors (every layer reads study files, decks, CSVs, JSON)."""

from pathlib import Path

from memcosim.base.errors import ConfigError

__all__ = ["read_text"]


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
