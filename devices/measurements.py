"""Readers of measured pulsed-programming data.

Two formats, both one row per programming pulse:

* **plain CSV** (memcosim's documented format): a header line
  ``pulse_amplitude_v,pulse_width_s,conductance_s`` then one row per pulse: the signed pulse
  amplitude (volts), its width (seconds) and the conductance read after it (siemens). Lines
  starting with ``#`` are comments; ``# device_id: NAME`` names the device (default: the name
  of the file's folder, so a folder of one device's sweeps is one series).
* **LBE247 pulse sweeps** (``shared/data/hzo-lbe247``): six header lines of instrument settings
  and the authors' summary, then ``Pulse Number,index,Pulse Amplitude (V),R_low (ohm),R_high
  (ohm)``; the pulse width comes from the ``pulseWidth`` setting and the conductance is
  ``1 / R_low``; the ``repetitions`` setting says how often the sequence ran, and a file holds
  the second run (``PulseSweep.recorded_run``).

Every problem is a :class:`~memcosim.base.errors.CalibrationError` naming the file and line.
"""

import itertools
import math
import re
from array import array
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.base.files import csv_cells, csv_header, input_lines

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
    repetitions : int
        Times the instrument ran this pulse sequence back to back (LBE247 ``repetitions``; 1 for
        plain CSV).
    recorded_run : int
        Which of those runs the file holds (1-based): the device took ``recorded_run - 1``
        identical runs just before it and ``repetitions - recorded_run`` just after, which count on
        the wake-up timeline. LBE247: the second run (the shared files are the analysis's "2nd
        run only" export; each file starts where an unrecorded identical run left the device).
    reads_mean_s : ndarray, shape (n,), or None
        The mean conductance of every read after each pulse, siemens (LBE247: of ``1 / R_low``
        and ``1 / R_high``, what the published study trained on; None: one read, ``conductance_s``).
    """

    path: str
    device_id: str
    pulse_amplitude_v: np.ndarray
    pulse_width_s: np.ndarray
    conductance_s: np.ndarray
    measured_at: str | None = None
    repetitions: int = 1
    recorded_run: int = 1
    reads_mean_s: np.ndarray | None = None

    @property
    def mean_conductance_s(self):
        """The conductance after each pulse as the mean of its reads, siemens (``conductance_s`` with one read)."""
        return self.conductance_s if self.reads_mean_s is None else self.reads_mean_s

    @property
    def n_points(self):
        return len(self.conductance_s)

    @property
    def nominal_width_s(self):
        """The (median) pulse width of the sweep, seconds."""
        return float(np.median(self.pulse_width_s))


_MAX_WIDTH_S = 1.0
"""Longest pulse width accepted in measured data, seconds (pulsed programming is far below)."""

_MAX_AMPLITUDE_V = 100.0
"""Largest pulse amplitude accepted in measured data, volts (memristive devices switch at a few volts)."""

_PROGRESS_BYTES = 4_000_000
"""Files larger than this show a progress bar while they are read (when ``progress``)."""

_DECIMAL = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*\Z")


def _number(text, path, line_no, column):
    try:
        if not _DECIMAL.match(text):  # a decimal number: no '1_000', 'inf', 'nan' (Python's float takes them)
            raise ValueError(text)
        value = float(text)
    except ValueError:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: not finite: {text!r}")
    return value


def _pulse(path, line_no, column, amplitude):
    if amplitude == 0:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: 0 V is no pulse (each row is one programming "
                               "pulse and the conductance read after it)")
    if abs(amplitude) > _MAX_AMPLITUDE_V:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: |amplitude| must be at most {_MAX_AMPLITUDE_V:g} V, "
                               f"got {amplitude:g}")
    return amplitude


def _width(path, line_no, column, width):
    if not 0 < width <= _MAX_WIDTH_S:
        raise CalibrationError(f"{path}:{line_no}: column {column!r}: must be in (0, {_MAX_WIDTH_S:g}] s, got {width:g}")
    return width


def _finish(path, device_id, amps, widths, conductances, measured_at=None, repetitions=1, recorded_run=1, reads_mean=None):
    if len(conductances) == 0:
        raise CalibrationError(f"{path}: no data rows")
    if len(conductances) < 2:
        raise CalibrationError(f"{path}: only one data row; a sweep needs at least 2 pulses")
    return PulseSweep(str(path), device_id, np.array(amps), np.array(widths), np.array(conductances), measured_at,
                      repetitions, recorded_run, None if reads_mean is None else np.array(reads_mean))


def _lbe_timestamp(path, date, time_of_day):
    """``19.09.2024``, ``16:05:42`` -> ``2024-09-19T16:05:42``."""
    try:
        return datetime.strptime(f"{date.strip()} {time_of_day.strip()}", "%d.%m.%Y %H:%M:%S").isoformat()
    except ValueError:
        raise CalibrationError(
            f"{path}:2: test_date/test_time not 'DD.MM.YYYY,HH:MM:SS': {date!r}, {time_of_day!r}"
        ) from None


def _read_plain(path, lines):
    """``lines``: an iterator of ``(line number, text)``, read one at a time (any file size)."""
    device = [Path(path).resolve().parent.name or Path(path).stem]

    def named(line):  # a "# device_id: NAME" comment names the device
        key, _, value = line[1:].partition(":")
        if key.strip() == "device_id" and value.strip():
            device[0] = value.strip()
        return True

    header_no, header = next(((i, ln) for i, ln in lines if ln.strip() and not (ln.startswith("#") and named(ln))),
                             (0, ""))
    columns = csv_header(csv_cells(header, f"{path}:{header_no}", CalibrationError), f"{path}:{header_no}",
                         CalibrationError)
    missing = [c for c in PLAIN_COLUMNS if c not in columns]
    if missing:
        raise CalibrationError(
            f"{path}:{header_no}: missing column(s) {missing}; a plain sweep needs the header "
            f"{','.join(PLAIN_COLUMNS)}"
        )
    index = [columns.index(c) for c in PLAIN_COLUMNS]
    amps, widths, conductances = array("d"), array("d"), array("d")
    for line_no, line in lines:
        if not line.strip() or (line.startswith("#") and named(line)):
            continue
        cells = csv_cells(line, f"{path}:{line_no}", CalibrationError)
        if len(cells) < len(columns):
            raise CalibrationError(f"{path}:{line_no}: {len(cells)} cells, header has {len(columns)}")
        a, w, g = (_number(cells[i].strip(), path, line_no, c) for i, c in zip(index, PLAIN_COLUMNS))
        _width(path, line_no, "pulse_width_s", w)
        if g <= 0:
            raise CalibrationError(f"{path}:{line_no}: column 'conductance_s': must be > 0, got {g:g}")
        amps.append(_pulse(path, line_no, "pulse_amplitude_v", a))
        widths.append(w)
        conductances.append(g)
    return _finish(path, device[0], amps, widths, conductances)


def _read_lbe(path, head, lines):
    """``head``: the first 7 lines; ``lines``: an iterator of ``(line number, text)`` of the rest."""
    try:
        settings = dict(zip(head[2].split(","), head[3].split(",")))
        header = head[1].split(",")
        device_id = header[3].strip()
    except IndexError:
        raise CalibrationError(f"{path}:2: malformed LBE247 header") from None
    if "pulseWidth" not in settings:
        raise CalibrationError(f"{path}:3: no 'pulseWidth' setting in the instrument header")
    width = _width(path, 4, "pulseWidth", _number(settings["pulseWidth"], path, 4, "pulseWidth"))
    repetitions = _number(settings.get("repetitions", "1"), path, 4, "repetitions")
    if not (repetitions == int(repetitions) and 1 <= repetitions <= 1000):
        raise CalibrationError(f"{path}:4: column 'repetitions': must be a whole number in [1, 1000], got {repetitions:g}")
    amps, conductances, means = array("d"), array("d"), array("d")
    for line_no, line in lines:
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) < 4:
            raise CalibrationError(f"{path}:{line_no}: {len(cells)} cells, expected 5")
        amp = _pulse(path, line_no, "Pulse Amplitude (V)", _number(cells[2], path, line_no, "Pulse Amplitude (V)"))
        reads = [_number(cells[k], path, line_no, name) for k, name in ((3, "R_low (ohm)"), (4, "R_high (ohm)"))
                 if k < len(cells) and cells[k].strip()]
        for r, name in zip(reads, ("R_low (ohm)", "R_high (ohm)")):
            if r <= 0:
                raise CalibrationError(f"{path}:{line_no}: column {name!r}: resistance must be > 0, got {r:g}")
        amps.append(amp)
        conductances.append(1.0 / reads[0])
        means.append(sum(1.0 / r for r in reads) / len(reads))
    return _finish(path, device_id, amps, [width] * len(amps), conductances, _lbe_timestamp(path, header[0], header[1]),
                   int(repetitions), min(2, int(repetitions)), means)


def read_sweep(path, progress=False):
    """Read one measured sweep (plain CSV or LBE247 format, detected from the content).

    The file is read line by line (constant memory beyond the three numbers per pulse); with
    ``progress`` a file larger than a few MB shows a progress bar in bytes.

    Parameters
    ----------
    path : str or Path
    progress : bool

    Returns
    -------
    PulseSweep

    Raises
    ------
    CalibrationError
        Unreadable, undecodable or empty file, missing columns, non-numeric cells, non-positive
        resistance/conductance, widths outside (0, 1] s, zero amplitudes, fewer than two
        points; the message names file and line.
    """
    path = Path(path)
    bar = None
    try:
        if progress and path.is_file() and path.stat().st_size > _PROGRESS_BYTES:
            from tqdm import tqdm

            bar = tqdm(total=path.stat().st_size, desc=f"reading {path.name}", unit="B", unit_scale=True, leave=False)
        lines = input_lines(path, "measured sweep", CalibrationError, encoding="utf-8-sig", bar=bar)
        head = [text for _, text in itertools.islice(lines, 7)]
        if len(head) == 7 and head[6].strip() == _LBE_HEADER:
            return _read_lbe(path, head, lines)
        rest = itertools.chain(enumerate(head, 1), lines)
        first = next(((i, ln) for i, ln in rest if ln.strip()), None)
        if first is None:
            raise CalibrationError(f"{path}: empty file")
        return _read_plain(path, itertools.chain([first], rest))
    finally:
        if bar is not None:
            bar.close()
