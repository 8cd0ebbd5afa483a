"""The CSV form of a die map (:mod:`memcosim.devices.mtj_maps`: the format): parsed in bulk by
numpy with every check vectorised; where a cell does not parse or does not pass, the lines are
scanned for the one-line :class:`~memcosim.base.errors.CalibrationError` naming its file and line."""

import io
import math
import re
import warnings

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.base.memory import check_memory
from memcosim.devices.mtj_maps import _CODE_NAMES, _KNOWN, _MAX_SIDE, _RESISTANCE_COLUMNS, MAX_CELLS, STATE_NAMES, DieMap

__all__ = ["read_csv"]


def _int(text, path, line_no, column):
    try:
        value = int(text)
    except ValueError:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not a whole number: {text!r}") from None
    if not 0 <= value < (_MAX_SIDE if column != "die" else 2**31):
        limit = _MAX_SIDE if column != "die" else 2**31
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: must be in [0, {limit}), got {value}")
    return value


def _ohm(text, path, line_no, column):
    try:
        value = float(text)
    except ValueError:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: a resistance must be finite and > 0 ohm, "
                               f"got {text!r}")
    return value


def _state(text, path, line_no):
    key = text.strip().lower()
    if key in STATE_NAMES:
        return STATE_NAMES[key]
    if key.isdigit() and int(key) in _CODE_NAMES:
        return int(key)
    raise CalibrationError(f"{path}:{line_no}: column 'state': must be one of {', '.join(STATE_NAMES)} (or 0-4), "
                           f"got {text!r}")


def _columns(path, line_no, header):
    columns = [c.strip() for c in header]
    for c in columns:
        low = c.lower()
        if low.startswith(("r_p", "r_ap")) and low not in _RESISTANCE_COLUMNS:
            raise CalibrationError(f"{path}:{line_no}: column {c!r}: resistances are given in ohms, in columns "
                                   "r_p_ohm and r_ap_ohm")
        if c not in _KNOWN:
            raise CalibrationError(f"{path}:{line_no}: unknown column {c!r}; a die map has die,row,col and "
                                   "r_p_ohm,r_ap_ohm and/or state")
    if len(set(columns)) != len(columns):
        raise CalibrationError(f"{path}:{line_no}: a column is named twice: {columns}")
    missing = [c for c in ("die", "row", "col") if c not in columns]
    if missing:
        raise CalibrationError(f"{path}:{line_no}: missing column(s) {missing}; the header of a die map is "
                               "die,row,col,r_p_ohm,r_ap_ohm (and/or state)")
    resist = [c for c in _RESISTANCE_COLUMNS if c in columns]
    if len(resist) == 1:
        raise CalibrationError(f"{path}:{line_no}: column {resist[0]!r} without its partner; give both r_p_ohm "
                               "and r_ap_ohm")
    if not resist and "state" not in columns:
        raise CalibrationError(f"{path}:{line_no}: no data columns; give r_p_ohm,r_ap_ohm and/or state")
    return columns


def _scan(path, lines, body, columns):
    """Raise the first per-line error of the data lines ``body`` (1-based numbers into ``lines``)."""
    at = {c: columns.index(c) for c in columns}
    for line_no in body:
        cells = [c.strip() for c in lines[line_no - 1].split(",")]
        if len(cells) != len(columns):
            raise CalibrationError(f"{path}:{line_no}: {len(cells)} cells, the header has {len(columns)}")
        for c in ("die", "row", "col"):
            _int(cells[at[c]], path, line_no, c)
        for c in _RESISTANCE_COLUMNS:
            if c in at:
                _ohm(cells[at[c]], path, line_no, c)
        if "state" in at:
            _state(cells[at["state"]], path, line_no)


class _Lines:
    """The lines of a CSV die map and, found once when an error needs them, its data lines (1-based)."""

    def __init__(self, lines, header_no):
        self.lines, self.header_no, self._body = lines, header_no, None

    @property
    def body(self):
        if self._body is None:
            self._body = [n for n in range(self.header_no + 1, len(self.lines) + 1)
                          if self.lines[n - 1].strip() and not self.lines[n - 1].lstrip().startswith("#")]
        return self._body

    def line_of(self, k):
        """The line number of data row ``k``."""
        return self.body[k]

    def cell(self, k, index):
        """The text of column ``index`` on data row ``k``."""
        return self.lines[self.line_of(k) - 1].split(",")[index].strip()


def _header(path):
    """``(text, lines, header_no, columns)`` of a CSV die map, its size checked first."""
    size = path.stat().st_size
    check_memory(size * 12, f"reading the die map {path} ({size} bytes)", "split the maps into several files")
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    header_no = next((n for n, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")), None)
    if header_no is None:
        raise CalibrationError(f"{path}: empty file; a die map starts with the header die,row,col,...")
    return text, lines, header_no, _columns(path, header_no, lines[header_no - 1].split(","))


def _parse(path, text, source, columns):
    """``(table, names)``: the numeric columns (die, row, col and the resistances) and the state names (or None)."""
    at = {c: columns.index(c) for c in columns}
    numeric = [at[c] for c in ("die", "row", "col", *(_RESISTANCE_COLUMNS if "r_p_ohm" in at else ()))]
    rest = "\n".join(source.lines[source.header_no:])
    comments = re.findall(r"^[ \t]*#.*$", rest, flags=re.M)
    n_rows = len(re.findall(r"^[ \t]*[^\s#].*$", rest, flags=re.M))
    if n_rows > MAX_CELLS:
        raise CalibrationError(f"{path}: {n_rows} cells, more than {MAX_CELLS}; split the maps into several files")
    try:
        commas = rest.count(",") - sum(c.count(",") for c in comments)
        if commas != n_rows * (len(columns) - 1):
            raise ValueError("a row with another number of cells")

        def read(cols, dtype):
            with warnings.catch_warnings():  # blank lines and an empty body are fine here (checked below)
                warnings.simplefilter("ignore", UserWarning)
                return np.loadtxt(io.StringIO(text), delimiter=",", comments="#", skiprows=source.header_no,
                                  usecols=cols, dtype=dtype, ndmin=2)

        table = read(numeric, float)
        names = read([at["state"]], str)[:, 0] if "state" in at else None
    except ValueError:
        _scan(path, source.lines, source.body, columns)
        raise CalibrationError(f"{path}: cannot parse the die map (every row die,row,col,... with numbers)") from None
    if len(table) == 0:
        raise CalibrationError(f"{path}: no data rows after the header")
    return table, names


def _checked(path, table, names, source, columns):
    """``(keys (n, 3) int, (r_p, r_ap) or None, state codes or None)`` with every cell checked."""
    at = {c: columns.index(c) for c in columns}
    keys = table[:, :3]
    bad = (keys != np.round(keys)) | (keys < 0) | (keys >= np.array([2**31, _MAX_SIDE, _MAX_SIDE]))
    if bad.any():
        k, c = np.argwhere(bad)[0]
        name = ("die", "row", "col")[c]
        _int(source.cell(k, at[name]), path, source.line_of(k), name)
    keys = keys.astype(np.int64)
    r = (table[:, 3], table[:, 4]) if "r_p_ohm" in at else None
    if r is not None:
        for name, values in zip(_RESISTANCE_COLUMNS, r):
            wrong = ~(np.isfinite(values) & (values > 0))
            if wrong.any():
                k = int(np.argmax(wrong))
                _ohm(source.cell(k, at[name]), path, source.line_of(k), name)
    state = None
    if names is not None:
        found, inverse = np.unique(np.char.lower(np.char.strip(names)), return_inverse=True)
        codes = np.array([_state(str(n), path, source.line_of(int(np.argmax(inverse == i)))) for i, n in enumerate(found)],
                         np.int8)
        state = codes[inverse.ravel()]
    order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
    same = np.all(keys[order][1:] == keys[order][:-1], axis=1)
    if same.any():
        k = int(np.argmax(same))
        first, again = sorted((source.line_of(int(order[k])), source.line_of(int(order[k + 1]))))
        d, row, col = keys[order[k]]
        raise CalibrationError(f"{path}:{again}: die {d} row {row} col {col} is listed twice (first on line {first})")
    return keys, r, state


def _die_maps(path, keys, r, state):
    """One :class:`DieMap` per die label of checked cells; a die with missing cells is refused."""
    maps = []
    for die in np.unique(keys[:, 0]):
        rows = np.flatnonzero(keys[:, 0] == die)
        rc = keys[rows, 1:]
        shape = (int(rc[:, 0].max()) + 1, int(rc[:, 1].max()) + 1)
        if len(rows) != shape[0] * shape[1]:
            grid = np.zeros(shape, bool)
            grid[rc[:, 0], rc[:, 1]] = True
            row, col = np.argwhere(~grid)[0]
            raise CalibrationError(f"{path}: die {die}: {shape[0] * shape[1] - len(rows)} of its {shape[0]} x {shape[1]} "
                                   f"cells are missing (first: row {row} col {col}); a die map lists every cell")

        def grid_of(values, dtype):
            out = np.empty(shape, dtype)
            out[rc[:, 0], rc[:, 1]] = values[rows]
            return out

        maps.append(DieMap(int(die), grid_of(r[0], float) if r is not None else None,
                           grid_of(r[1], float) if r is not None else None,
                           grid_of(state, np.int8) if state is not None else None, str(path)))
    return maps


def read_csv(path):
    """The die maps of one CSV file (``path``: a Path), every cell checked."""
    text, lines, header_no, columns = _header(path)
    source = _Lines(lines, header_no)
    table, names = _parse(path, text, source, columns)
    keys, r, state = _checked(path, table, names, source, columns)
    return _die_maps(path, keys, r, state)
