"""Die maps of MTJ arrays: memcosim's file format for measured (or generated) dies, read and written.

A *die map* lists every cell of one die: where it sits and what it reads. Two file forms carry
the same content:

**CSV** (one row per cell; lines starting with ``#`` are comments)::

    die,row,col,r_p_ohm,r_ap_ohm
    0,0,0,5012.3,12240.9
    0,0,1,101.7,101.7
    ...

* ``die`` — an integer label >= 0; the dies of a study are told apart by it (unique across its files);
* ``row``, ``col`` — the cell's 0-based position in the die's grid (a row is an input line, a
  column a bit line); every die lists every cell of its ``rows x cols`` grid exactly once;
* ``r_p_ohm``, ``r_ap_ohm`` — the junction's static resistance ``V / I`` at the study's read
  voltage after it was programmed P, resp. AP, in ohms: the junction alone, without its access
  transistor (a 1R measurement, or the transistor's drop taken off). A shorted junction reads low
  in both, an open one high in both, a stuck one the same in both;
* ``state`` (optional; alone, or beside the resistances) — the cell's defect as its owner
  classified it: ``ok``, ``short``, ``open``, ``stuck_p``, ``stuck_ap`` (or the codes 0-4 of
  :mod:`memcosim.devices.mtj`). Without it, cells are classified from their resistances
  (:func:`memcosim.devices.mtj_defects.classify`); a map with states only takes the junctions of
  its healthy cells from the device model.

**NPZ** (``numpy.savez``; read without pickle): ``die`` (``n``,) integer labels and ``(n, rows,
cols)`` arrays ``r_p_ohm`` and ``r_ap_ohm`` and/or ``state`` (integer codes); every die of one
file the same size. No NaN anywhere.

Every problem is a one-line :class:`~memcosim.base.errors.CalibrationError` naming the file and
the line (CSV) or die and cell: a missing or misnamed column (resistances in other units than
ohms are refused by name), a cell that is not a number, NaN or not > 0, a duplicate cell, a die
with missing cells, a die label used twice, resistances whose median is no junction's in ohms
(kilohms by mistake) or ``r_ap_ohm`` below ``r_p_ohm`` on most cells (columns swapped).
"""

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.devices import mtj

__all__ = ["DieMap", "read_die_maps", "write_die_maps", "STATE_NAMES", "MAX_CELLS"]

STATE_NAMES = {"ok": mtj.OK, "short": mtj.SHORT, "open": mtj.OPEN, "stuck_p": mtj.STUCK_P, "stuck_ap": mtj.STUCK_AP}
"""The ``state`` column's names and their codes."""

_CODE_NAMES = {code: name for name, code in STATE_NAMES.items()}
_RESISTANCE_COLUMNS = ("r_p_ohm", "r_ap_ohm")
_KNOWN = ("die", "row", "col", *_RESISTANCE_COLUMNS, "state")
MAX_CELLS = 50_000_000
"""Most cells one file may hold (about 3 GB as it is read)."""
_MEDIAN_OHM = (50.0, 1e8)
"""A junction's median resistance must lie here, ohms: a map in kilohms or megohms is refused."""
_MAX_SIDE = 1 << 16


@dataclass(frozen=True, eq=False)
class DieMap:
    """One die's cell map (module docstring: the format).

    Attributes
    ----------
    die : int
        The die's label (>= 0).
    r_p_ohm, r_ap_ohm : ndarray of float, shape (rows, cols), or None
        Junction resistance at the read voltage after programming P and AP, ohms.
    state : ndarray of int8, shape (rows, cols), or None
        Defect code of every cell as given (:data:`STATE_NAMES`); None: classify from resistances.
    source : str
        The file it was read from (empty for a generated map).
    """

    die: int
    r_p_ohm: np.ndarray | None = None
    r_ap_ohm: np.ndarray | None = None
    state: np.ndarray | None = None
    source: str = field(default="")

    def __post_init__(self):
        if (self.r_p_ohm is None) != (self.r_ap_ohm is None):
            raise CalibrationError(f"{self._where()}: a die map gives both r_p_ohm and r_ap_ohm, or neither")
        if self.r_p_ohm is None and self.state is None:
            raise CalibrationError(f"{self._where()}: a die map needs resistances (r_p_ohm, r_ap_ohm) or a state")
        shapes = {np.shape(a) for a in (self.r_p_ohm, self.r_ap_ohm, self.state) if a is not None}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise CalibrationError(f"{self._where()}: r_p_ohm, r_ap_ohm and state must be one (rows, cols) shape, "
                                   f"got {sorted(shapes)}")

    def _where(self):
        return f"{self.source or 'die map'}: die {self.die}"

    @property
    def shape(self):
        """``(rows, cols)`` of the die's grid."""
        return np.shape(self.r_p_ohm if self.r_p_ohm is not None else self.state)

    @property
    def has_resistances(self):
        return self.r_p_ohm is not None

    def digest(self):
        """SHA-256 (hex, 16 digits) of the map's content: identifies it in checkpoints and results."""
        h = hashlib.sha256(repr((self.die, self.shape)).encode())
        for a in (self.r_p_ohm, self.r_ap_ohm, self.state):
            h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


def _read_npz(path):
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise CalibrationError(f"{path}: not a readable .npz die map ({exc})") from None
    unknown = sorted(set(arrays) - set(_KNOWN) - {"row", "col"})
    if unknown:
        raise CalibrationError(f"{path}: unknown array(s) {unknown}; a .npz die map has die and r_p_ohm,r_ap_ohm "
                               "and/or state")
    if "die" not in arrays:
        raise CalibrationError(f"{path}: no 'die' array (the die labels)")
    labels = arrays["die"]
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or np.any(labels < 0):
        raise CalibrationError(f"{path}: 'die' must be a 1-D array of integer labels >= 0, got {labels.dtype} "
                               f"shape {labels.shape}")
    present = [k for k in (*_RESISTANCE_COLUMNS, "state") if k in arrays]
    if ("r_p_ohm" in arrays) != ("r_ap_ohm" in arrays):
        raise CalibrationError(f"{path}: give both r_p_ohm and r_ap_ohm, or neither")
    if not present:
        raise CalibrationError(f"{path}: no data arrays; give r_p_ohm,r_ap_ohm and/or state")
    for k in present:
        a = arrays[k]
        if a.ndim != 3 or a.shape[0] != len(labels):
            raise CalibrationError(f"{path}: {k!r} must have shape (dies, rows, cols) = ({len(labels)}, rows, cols), "
                                   f"got {a.shape}")
        if a.shape[0] * a.shape[1] * a.shape[2] > MAX_CELLS:
            raise CalibrationError(f"{path}: more than {MAX_CELLS} cells; split the maps into several files")
    if len({arrays[k].shape for k in present}) != 1:
        raise CalibrationError(f"{path}: {', '.join(present)} must have one shape, got "
                               f"{[arrays[k].shape for k in present]}")
    for k in _RESISTANCE_COLUMNS:
        if k in arrays:
            a = arrays[k]
            if a.dtype.kind not in "fiu":
                raise CalibrationError(f"{path}: {k!r} must hold numbers (ohms), got {a.dtype}")
            bad = ~(np.isfinite(a) & (a > 0))
            if bad.any():
                d, r, c = np.argwhere(bad)[0]
                raise CalibrationError(f"{path}: die {int(labels[d])} row {r} col {c}: {k} must be finite and > 0 ohm, "
                                       f"got {float(a[d, r, c])!r}")
    if "state" in arrays:
        s = arrays["state"]
        if s.dtype.kind not in "iu" or np.any((s < 0) | (s > max(_CODE_NAMES))):
            raise CalibrationError(f"{path}: 'state' must hold the integer codes 0-4 ({', '.join(STATE_NAMES)})")
    seen = set()
    maps = []
    for i, label in enumerate(labels.tolist()):
        if label in seen:
            raise CalibrationError(f"{path}: die {label} appears twice in 'die'")
        seen.add(label)
        get = lambda k, dtype: arrays[k][i].astype(dtype) if k in arrays else None  # noqa: E731
        maps.append(DieMap(label, get("r_p_ohm", float), get("r_ap_ohm", float), get("state", np.int8), str(path)))
    return maps


def _check_units(m):
    """Refuse resistances that are not a junction's in ohms, and swapped P/AP columns."""
    if not m.has_resistances:
        return
    median = float(np.median(m.r_p_ohm))
    if not _MEDIAN_OHM[0] <= median <= _MEDIAN_OHM[1]:
        raise CalibrationError(f"{m.source}: die {m.die}: the median r_p_ohm is {median:.4g}, no junction's resistance in "
                               f"ohms (allowed median [{_MEDIAN_OHM[0]:g}, {_MEDIAN_OHM[1]:g}] ohm); kilohms or megohms "
                               "must be converted to ohms")
    if np.mean(m.r_ap_ohm < m.r_p_ohm) > 0.5:
        raise CalibrationError(f"{m.source}: die {m.die}: r_ap_ohm is below r_p_ohm on most cells (median "
                               f"{np.median(m.r_ap_ohm):.4g} vs {median:.4g} ohm); are the columns swapped?")


def read_die_maps(paths):
    """Read die maps from CSV and ``.npz`` files (module docstring: the format and its checks).

    Parameters
    ----------
    paths : iterable of str or Path
        The files (a study's glob already expanded).

    Returns
    -------
    tuple of DieMap
        Every die of every file, ordered by die label.

    Raises
    ------
    CalibrationError
        Any problem with a file's content, or a die label in two files (one line each).
    """
    from memcosim.devices.mtj_map_csv import read_csv  # the CSV reader builds on this module's DieMap

    maps, where = [], {}
    for path in map(Path, paths):
        if not path.is_file():
            raise CalibrationError(f"{path}: no such die map file" if not path.exists() else f"{path}: not a file")
        try:
            found = _read_npz(path) if path.suffix.lower() == ".npz" else read_csv(path)
        except UnicodeDecodeError as exc:
            raise CalibrationError(f"{path}: cannot read the die map (not UTF-8 text: {exc.reason})") from None
        for m in found:
            if m.die in where:
                raise CalibrationError(f"{path}: die {m.die} is also in {where[m.die]}; die labels must be unique")
            where[m.die] = str(path)
            _check_units(m)
            maps.append(m)
    if not maps:
        raise CalibrationError("die maps: no file given")
    return tuple(sorted(maps, key=lambda m: m.die))


def write_die_maps(maps, path, states=True):
    """Write ``maps`` to ``path`` (``.csv`` or ``.npz`` by its suffix), readable by :func:`read_die_maps`.

    Resistances are written as Python's shortest exact text (a CSV round trip is exact). With
    ``states`` the ``state`` column (or array) is written too, where the maps have it.
    """
    path = Path(path)
    maps = list(maps)
    if not maps:
        raise CalibrationError(f"{path}: no die maps to write")
    with_r = all(m.has_resistances for m in maps)
    with_state = states and all(m.state is not None for m in maps)
    if not (with_r or with_state):
        raise CalibrationError(f"{path}: the maps have neither resistances nor states for every die")
    if path.suffix.lower() == ".npz":
        if len({m.shape for m in maps}) != 1:
            raise CalibrationError(f"{path}: every die of a .npz map has one size, got {sorted({m.shape for m in maps})}")
        arrays = {"die": np.array([m.die for m in maps], dtype=np.int64)}
        if with_r:
            arrays["r_p_ohm"] = np.stack([m.r_p_ohm for m in maps])
            arrays["r_ap_ohm"] = np.stack([m.r_ap_ohm for m in maps])
        if with_state:
            arrays["state"] = np.stack([m.state for m in maps]).astype(np.int8)
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)
        return path
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("# memcosim die map: junction resistances at the read voltage (ohms), docs/mtj-dies.md\n")
        fh.write(",".join(["die", "row", "col"] + (list(_RESISTANCE_COLUMNS) if with_r else [])
                          + (["state"] if with_state else [])) + "\n")
        names = [_CODE_NAMES[c] for c in range(5)]
        for m in maps:
            rows, cols = m.shape
            r_p = m.r_p_ohm.ravel().tolist() if with_r else None
            r_ap = m.r_ap_ohm.ravel().tolist() if with_r else None
            state = m.state.ravel().tolist() if with_state else None
            for k in range(rows * cols):
                cells = [str(m.die), str(k // cols), str(k % cols)]
                if with_r:
                    cells += [repr(r_p[k]), repr(r_ap[k])]  # the shortest text that reads back the same float
                if with_state:
                    cells.append(names[state[k]])
                fh.write(",".join(cells) + "\n")
    return path
