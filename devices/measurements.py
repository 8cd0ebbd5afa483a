"""Readers of measured pulsed-programming data.

Two formats, both one row per programming pulse:

* **plain CSV** (memcosim's documented format): a header line
  ``pulse_amplitude_v,pulse_width_s,conductance_s`` then one row per pulse: the signed pulse
  amplitude (volts), its width (seconds) and the conductance read after it (siemens). Lines
  starting with ``#`` are comments.
* **LBE247 pulse sweeps** (``shared/data/hzo-lbe247``): six header lines of instrument settings
  and the authors' summary, then ``Pulse Number,index,Pulse Amplitude (V),R_low (ohm),R_high
  (ohm)``; the pulse width comes from the ``pulseWidth`` setting and the conductance is
  ``1 / R_low``.

Every problem is a :class:`~memcosim.base.errors.CalibrationError` naming the file and line.
"""

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from memcosim.base.errors import CalibrationError

__all__ = ["PulseSweep", "read_sweep", "PLAIN_COLUMNS"]

PLAIN_COLUMNS = ("pulse_amplitude_v", "pulse_width_s", "conductance_s")
_LBE_HEADER = "Pulse Number,index,Pulse Amplitude (V),R_low (ohm),R_high (ohm)"


@dataclass(frozen=True)
class PulseSweep:
    """One measured sequence of programming pulses on one device.

    Attributes
    ----------
    path : str
    device_id : str
    pulse_amplitude_v : ndarray, shape (n,)
        Signed amplitude of each pulse, volts.
    pulse_width_s : ndarray, shape (n,)
        Width of each pulse, seconds.
    conductance_s : ndarray, shape (n,)
        Conductance read after each pulse, siemens.
    measured_at : str or None
        When the sweep was measured (ISO 8601, from the LBE247 header; None for plain CSV):
        calibration follows a device's wake-up through its sweeps in this order.
    """

    path: str
    device_id: str
    pulse_amplitude_v: np.ndarray
    pulse_width_s: np.ndarray
    conductance_s: np.ndarray
    measured_at: str | None = None

    @property
    def n_points(self):
        return len(self.conductance_s)

    @property
    def nominal_width_s(self):
        """The (median) pulse width of the sweep, seconds."""
        return float(np.median(self.pulse_width_s))


def _number(text, path, line_no, column):
    try:
        value = float(text)
    except ValueError:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not finite: {text!r}")
    return value


def _finish(path, device_id, amps, widths, conductances, measured_at=None):
    if len(conductances) == 0:
        raise CalibrationError(f"{path}: no data rows")
    if len(conductances) < 2:
        raise CalibrationError(f"{path}: only one data row; a sweep needs at least 2 pulses")
    return PulseSweep(str(path), device_id, np.array(amps), np.array(widths), np.array(conductances), measured_at)


def _lbe_timestamp(path, date, time_of_day):
    """``19.09.2024``, ``16:05:42`` -> ``2024-09-19T16:05:42``."""
    try:
        return datetime.strptime(f"{date.strip()} {time_of_day.strip()}", "%d.%m.%Y %H:%M:%S").isoformat()
    except ValueError:
        raise CalibrationError(
            f"{path}:2: test_date/test_time not 'DD.MM.YYYY,HH:MM:SS': {date!r}, {time_of_day!r}"
        ) from None


def _read_plain(path, lines):
    header_no, header = next(((i, ln) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.startswith("#")), (0, ""))
    columns = [c.strip() for c in header.split(",")]
    missing = [c for c in PLAIN_COLUMNS if c not in columns]
    if missing:
        raise CalibrationError(
            f"{path}:{header_no}: missing column(s) {missing}; a plain sweep needs the header "
            f"{','.join(PLAIN_COLUMNS)}"
        )
    index = [columns.index(c) for c in PLAIN_COLUMNS]
    amps, widths, conductances = [], [], []
    for line_no, line in enumerate(lines[header_no:], header_no + 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = next(csv.reader([line]))
        if len(cells) < len(columns):
            raise CalibrationError(f"{path}:{line_no}: {len(cells)} cells, header has {len(columns)}")
        a, w, g = (_number(cells[i].strip(), path, line_no, c) for i, c in zip(index, PLAIN_COLUMNS))
        if w <= 0:
            raise CalibrationError(f"{path}:{line_no}: column 'pulse_width_s': must be > 0, got {w:g}")
        if g <= 0:
            raise CalibrationError(f"{path}:{line_no}: column 'conductance_s': must be > 0, got {g:g}")
        amps.append(a)
        widths.append(w)
        conductances.append(g)
    return _finish(path, Path(path).stem, amps, widths, conductances)


def _read_lbe(path, lines):
    try:
        settings = dict(zip(lines[2].split(","), lines[3].split(",")))
        header = lines[1].split(",")
        device_id = header[3].strip()
    except IndexError:
        raise CalibrationError(f"{path}:2: malformed LBE247 header") from None
    if "pulseWidth" not in settings:
        raise CalibrationError(f"{path}:3: no 'pulseWidth' setting in the instrument header")
    width = _number(settings["pulseWidth"], path, 4, "pulseWidth")
    if width <= 0:
        raise CalibrationError(f"{path}:4: column 'pulseWidth': must be > 0, got {width:g}")
    amps, conductances = [], []
    for line_no, line in enumerate(lines[7:], 8):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) < 4:
            raise CalibrationError(f"{path}:{line_no}: {len(cells)} cells, expected 5")
        amp = _number(cells[2], path, line_no, "Pulse Amplitude (V)")
        r_low = _number(cells[3], path, line_no, "R_low (ohm)")
        if r_low <= 0:
            raise CalibrationError(f"{path}:{line_no}: column 'R_low (ohm)': resistance must be > 0, got {r_low:g}")
        amps.append(amp)
        conductances.append(1.0 / r_low)
    return _finish(path, device_id, amps, [width] * len(amps), conductances, _lbe_timestamp(path, header[0], header[1]))


def read_sweep(path):
    """Read one measured sweep (plain CSV or LBE247 format, detected from the content).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    PulseSweep

    Raises
    ------
    CalibrationError
        Unreadable or empty file, missing columns, non-numeric cells, non-positive
        resistance/conductance/width, fewer than two points; the message names file and line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path}: cannot read ({exc})") from None
    lines = text.splitlines()
    if not any(ln.strip() for ln in lines):
        raise CalibrationError(f"{path}: empty file")
    if len(lines) > 6 and lines[6].strip() == _LBE_HEADER:
        return _read_lbe(path, lines)
    return _read_plain(path, lines)
