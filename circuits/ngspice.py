"""Run SPICE decks in ngspice: the shared library through PySpice, or an ngspice process.

Both back-ends return the same :class:`SpiceResult`: every vector of the analysis' plot as a
numpy array, names lower-case as ngspice reports them (``v(node)`` is stored as ``node``,
source currents as ``vname#branch``, current *into* the source's + terminal), plus the
``.meas`` results. Errors become :class:`~memcosim.base.errors.SimulationError`, never a hang: runs
have a wall-clock timeout, and non-convergence and a missing ngspice are reported as such.
"""

import functools
import logging
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memcosim.base.errors import SimulationError

__all__ = [
    "SpiceResult",
    "run_ngspice",
    "ngspice_version",
    "shared_library_available",
    "parse_rawfile",
]

log = logging.getLogger(__name__)

_MEAS_LINE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*=\s*([-+0-9.eE]+)", re.IGNORECASE)


@dataclass(frozen=True)
class SpiceResult:
    """What one ngspice run produced.

    Attributes
    ----------
    vectors : dict[str, numpy.ndarray]
        Every vector of the analysis plot (``time`` for transients; node voltages in volts,
        ``<source>#branch`` currents in amperes into the + terminal).
    measurements : dict[str, float]
        ``.meas`` results by lower-case name (SI units of the measured quantity).
    plot_name : str
        ngspice's plot name (``op1``, ``tran1`` ...).
    backend : str
        ``"shared"`` (libngspice via PySpice) or ``"subprocess"`` (an ``ngspice`` process).
    elapsed_s : float
        Wall-clock time of the run, seconds.
    log : str
        ngspice's textual output.
    """

    vectors: dict = field(default_factory=dict)
    measurements: dict = field(default_factory=dict)
    plot_name: str = ""
    backend: str = ""
    elapsed_s: float = 0.0
    log: str = ""

    def node_voltages(self):
        """Node voltages of an operating point: ``{node: volts}`` (branch currents left out)."""
        return {
            k: float(v[0])
            for k, v in self.vectors.items()
            if "#" not in k and k not in ("time", "frequency") and len(v)
        }

    def source_currents(self):
        """Source currents of an operating point: ``{source: amperes into + terminal}``."""
        return {k[: -len("#branch")]: float(v[0]) for k, v in self.vectors.items() if k.endswith("#branch")}


class _QuietVersionWarning(logging.Filter):
    """PySpice 1.5 warns 'Unsupported Ngspice version 39' and works anyway: drop that line."""

    def filter(self, record):
        return "Unsupported Ngspice version" not in record.getMessage()


@functools.lru_cache(maxsize=1)
def _shared():
    """The process's one libngspice instance (the library itself is process-global)."""
    pyspice_log = logging.getLogger("PySpice")
    for name in ("PySpice.Spice.NgSpice.Shared.NgSpiceShared", "PySpice"):
        logging.getLogger(name).addFilter(_QuietVersionWarning())
    pyspice_log.setLevel(max(pyspice_log.level, logging.CRITICAL))
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
    except ImportError as exc:  # pragma: no cover - PySpice is a hard dependency
        raise SimulationError(f"PySpice is not installed: {exc}") from None

    class _NgSpice(NgSpiceShared):
        # PySpice 1.5's callback returns None where cffi needs an int ("an integer is
        # required" on every bg_run): return 0 as the ngspice API expects. ngspice passes
        # "not running": False when the background thread starts, True when it ends.
        @staticmethod
        def _background_thread_running(not_running, ngspice_id, user_data):
            instance = ffi.from_handle(user_data)
            instance._is_running = not not_running
            instance.memcosim_bg_done = bool(not_running)
            return 0

    try:
        return _NgSpice.new_instance()
    except OSError as exc:
        raise SimulationError(
            "cannot load library 'libngspice.so' "
            f"({exc}); install Debian's ngspice libngspice0 libngspice0-dev "
            "or set NGSPICE_LIBRARY_PATH to libngspice.so.0"
        ) from None


def shared_library_available():
    """True when libngspice loads through PySpice."""
    try:
        _shared()
        return True
    except SimulationError:
        return False


def ngspice_version():
    """The version string of the ``ngspice`` executable (e.g. ``"39"``), or None if absent."""
    exe = shutil.which("ngspice")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"ngspice-(\S+)", out)
    return match.group(1) if match else None


def _measurements(text):
    found = {}
    for line in text.splitlines():
        match = _MEAS_LINE.match(line)
        if match:
            try:
                found[match.group(1).lower()] = float(match.group(2))
            except ValueError:
                continue
    return found


def _failure_text(lines):
    keep = [ln.strip() for ln in lines if ln.strip() and not ln.lower().startswith("note")]
    errors = [ln for ln in keep if "error" in ln.lower() or "abort" in ln.lower() or "singular" in ln.lower()]
    return "; ".join((errors or keep)[-4:]) or "no output"


_SHARED_BROKEN = []
"""Why the process's libngspice is no longer trusted (a halted run, an unrecoverable error):
later shared runs go to an ngspice process instead (the library cannot be reloaded)."""


def _run_shared(deck, timeout_s):
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

    if _SHARED_BROKEN:
        return _run_subprocess(deck, timeout_s)

    ng = _shared()
    before = set(ng.plot_names)
    try:
        ng.exec_command("destroy all")
        ng.load_circuit(deck)
    except (NgSpiceCircuitError, NgSpiceCommandError, NameError) as exc:
        text = _failure_text(ng._stdout + ng._stderr)
        if "cannot recover" in text.lower():
            _give_up_shared(f"libngspice cannot recover ({text})")
            return _run_subprocess(deck, timeout_s)
        raise SimulationError(f"ngspice rejected the deck: {text}") from exc
    t0 = time.perf_counter()
    ng.memcosim_bg_done = False
    try:
        ng.exec_command("bg_run")
    except NgSpiceCommandError:
        pass  # stderr notes; judged below by whether a new plot appeared
    # wait for the thread's end callback (ngSpice_running() alone races with the thread start)
    while not ng.memcosim_bg_done or ng._ngspice_shared.ngSpice_running():
        if time.perf_counter() - t0 > timeout_s:
            try:
                ng.exec_command("bg_halt")
            except NgSpiceCommandError:
                pass
            _give_up_shared(f"a run was halted after timeout_s={timeout_s:g} s")
            raise SimulationError(f"ngspice did not finish within timeout_s={timeout_s:g} s")
        time.sleep(0.002)
    elapsed = time.perf_counter() - t0
    output = list(ng._stdout) + list(ng._stderr)
    plots = [p for p in ng.plot_names if p != "const"]
    new = [p for p in plots if p not in before] or plots
    if not new or not any(re.match(r"(op|tran|dc|ac)\d+$", p) for p in new):
        raise SimulationError(f"ngspice analysis failed: {_failure_text(output)}")
    plot_name = new[0]
    vectors = {}
    all_vecs = ng._ngspice_shared.ngSpice_AllVecs(plot_name.encode("utf8"))
    from PySpice.Spice.NgSpice.Shared import ffi, ffi_string_utf8

    i = 0
    while all_vecs[i] != ffi.NULL:
        name = ffi_string_utf8(all_vecs[i])
        info = ng._ngspice_shared.ngGet_Vec_Info(f"{plot_name}.{name}".encode("utf8"))
        if info.v_realdata != ffi.NULL:
            data = np.frombuffer(ffi.buffer(info.v_realdata, info.v_length * 8), dtype=np.float64)
            vectors[name.lower()] = data.copy()
        i += 1
    text = "\n".join(output)
    _raise_on_bad_solution(text)
    return SpiceResult(vectors, _measurements(text), plot_name, "shared", elapsed, text)


def _give_up_shared(reason):
    if not _SHARED_BROKEN:
        logging.getLogger(__name__).warning("libngspice: %s; later runs of this process use an ngspice process", reason)
    _SHARED_BROKEN.append(reason)


def _raise_on_bad_solution(text):
    """ngspice reports some failures as warnings and still writes a (meaningless) plot."""
    lower = text.lower()
    if "singular matrix" in lower:
        match = re.search(r"singular matrix:\s*check node\s*(\S*)", lower)
        node = f" (node {match.group(1)})" if match and match.group(1) else ""
        raise SimulationError(f"ngspice: singular matrix{node}: a node has no DC path to ground")
    if "timestep too small" in lower or "iteration limit" in lower or "simulation(s) aborted" in lower:
        raise SimulationError(f"ngspice did not converge: {_failure_text(text.splitlines())}")


def parse_rawfile(data):
    """Parse an ngspice *binary* rawfile (``write FILE`` with ``filetype=binary``).

    Parameters
    ----------
    data : bytes

    Returns
    -------
    (str, dict[str, numpy.ndarray])
        The plot name and every vector (real data only), names lower-case.
    """
    marker = b"Binary:\n"
    pos = data.find(marker)
    if pos < 0:
        raise SimulationError("ngspice rawfile has no binary section")
    header = data[:pos].decode("latin-1").splitlines()
    names, n_vars, n_points, plot_name, complex_data = [], 0, 0, "", False
    in_vars = False
    for line in header:
        key, _, value = line.partition(":")
        if in_vars and line.startswith(("\t", " ")):
            parts = line.split()
            names.append(parts[1].lower())
            continue
        in_vars = False
        key = key.strip().lower()
        if key == "plotname":
            plot_name = value.strip()
        elif key == "flags":
            complex_data = "complex" in value
        elif key == "no. variables":
            n_vars = int(value)
        elif key == "no. points":
            n_points = int(value)
        elif key == "variables":
            in_vars = True
    if complex_data:
        raise SimulationError("complex rawfiles are not supported")
    values = np.frombuffer(data[pos + len(marker) :], dtype="<f8", count=n_vars * n_points)
    values = values.reshape(n_points, n_vars)
    vectors = {}
    for j, name in enumerate(names):
        match = re.fullmatch(r"v\((.+)\)", name)
        key = match.group(1) if match else name
        key = re.sub(r"^i\((.+)\)$", r"\1#branch", key)
        vectors[key] = values[:, j].copy()
    return plot_name, vectors


def _run_subprocess(deck, timeout_s):
    exe = shutil.which("ngspice")
    if exe is None:
        raise SimulationError("ngspice executable not found; install Debian's ngspice")
    with tempfile.TemporaryDirectory(prefix="memcosim-ngspice-") as tmp:
        deck_path = Path(tmp) / "deck.cir"
        raw_path = Path(tmp) / "out.raw"
        if not deck.isascii():
            bad = next(c for c in deck if not c.isascii())
            line = deck[: deck.index(bad)].count("\n") + 1
            raise SimulationError(f"deck line {line}: non-ASCII character {bad!r}; ngspice decks are ASCII")
        deck_path.write_text(deck, encoding="ascii")
        t0 = time.perf_counter()
        # Pipe mode rather than ``-b -r``: batch mode with a rawfile refuses ``.meas``.
        script = "source deck.cir\nrun\nset filetype=binary\nwrite out.raw\nquit\n"
        try:
            proc = subprocess.run(
                [exe, "-n", "-p"],
                input=script,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            raise SimulationError(f"ngspice did not finish within timeout_s={timeout_s:g} s") from None
        elapsed = time.perf_counter() - t0
        text = proc.stdout + "\n" + proc.stderr
        if not raw_path.exists() or raw_path.stat().st_size == 0:
            raise SimulationError(f"ngspice analysis failed: {_failure_text(text.splitlines())}")
        raw = raw_path.read_bytes()
    plot_line = re.search(rb"Plotname:\s*(.*)", raw)
    if not plot_line or not re.match(rb"(operating|transient|dc|ac)", plot_line.group(1).lower()):
        raise SimulationError(f"ngspice analysis failed: {_failure_text(text.splitlines())}")
    plot_name, vectors = parse_rawfile(raw)
    _raise_on_bad_solution(text)
    return SpiceResult(vectors, _measurements(text), plot_name, "subprocess", elapsed, text)


def run_ngspice(deck, backend="shared", timeout_s=600.0):
    """Run one deck in ngspice and return its plot.

    Parameters
    ----------
    deck : str
        SPICE text with exactly one analysis (``.op`` or ``.tran``).
    backend : {"shared", "subprocess", "auto"}
        ``shared``: libngspice through PySpice; ``subprocess``: an ``ngspice`` process; ``auto``:
        shared, falling back to the subprocess when the library does not load.
    timeout_s : float
        Wall-clock limit, seconds (> 0).

    Returns
    -------
    SpiceResult

    Raises
    ------
    SimulationError
        ngspice missing, the deck rejected, non-convergence or timeout.
    """
    if backend not in ("shared", "subprocess", "auto"):
        raise ValueError(f"backend: must be 'shared', 'subprocess' or 'auto', got {backend!r}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s: must be > 0, got {timeout_s!r}")
    if backend == "auto":
        backend = "shared" if shared_library_available() else "subprocess"
    if backend == "shared":
        return _run_shared(deck, timeout_s)
    return _run_subprocess(deck, timeout_s)
