"""Characterisation of the tile periphery: ngspice sweeps of the driver, read front end and
comparator decks (:mod:`memcosim.netlist.peripherals`) fitted to the laws of
:mod:`memcosim.circuits.peripheral_models`.

Each block is simulated on a small grid of loads; the law's coefficients are fitted (non-negative
least squares of relative residuals) on the fit points and checked on held-out loads that the
fit never saw. A held-out relative error above ``max_rel_error`` (5 %) is refused with
:class:`~memcosim.base.errors.CalibrationError`. Every simulated point is cached by the hash of
its deck and the ngspice version (the cache of :mod:`memcosim.circuits.characterize`).

Two characterised peripheries: :func:`default_peripheral_models` (every block, the 28 nm-class
core device) and :func:`default_write_driver_models` (the driver only, the 3.3 V thick-oxide I/O
device of :meth:`CmosProcess.io_thick_oxide`, for programming pulses of 1-4 V).
"""

import logging
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import optimize

from memcosim.base.errors import CalibrationError, ConfigError, SimulationError
from memcosim.base.typed import check_number
from memcosim.circuits.point_cache import cached_point as _cached, point_key as _hash
from memcosim.circuits.ngspice import ngspice_version, run_ngspice
from memcosim.circuits.peripheral_models import (
    BLOCKS,
    ComparatorModel,
    DriverModel,
    IntegratorModel,
    PeripheralModels,
    SenseResistorModel,
    _comparator_energy_terms_j,
    _comparator_time_terms_s,
    _sense_resistor_settling_terms_s,
    driver_delay_terms_s,
    driver_energy_terms_j,
    integrator_energy_terms_j,
    integrator_settling_terms_s,
    settling_time_s,
)
from memcosim.netlist.peripherals import (
    CmosProcess,
    OpAmp,
    comparator_deck,
    driver_deck,
    integrator_deck,
    sense_resistor_deck,
)

__all__ = [
    "LAW_VERSION",
    "PeripheralGrid",
    "WRITE_DRIVER_GRID",
    "characterize_peripherals",
    "default_peripheral_models",
    "default_write_driver_models",
]

log = logging.getLogger(__name__)

LAW_VERSION = 2
"""Version of the laws and the point measurements; part of every cache key (2: the integrator's
settling crossing is interpolated between samples)."""


# --- grid -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PeripheralGrid:
    """Loads the blocks are simulated at (fit and held out) and the fixed deck settings."""

    driver_fit_loads: tuple = ((5e-15, 50.0), (3e-14, 2000.0), (1.5e-13, 200.0), (8e-13, 5000.0), (4e-12, 500.0))
    """``(C_load_F, R_line_ohm)`` of the fitted driver points."""
    driver_held_out_loads: tuple = ((1.2e-14, 1000.0), (4e-13, 100.0), (2e-12, 3000.0))
    """``(C_load_F, R_line_ohm)`` of the held-out driver points."""
    driver_fit_supply: tuple = (0.7, 1.0, 1.4)
    """Driver supplies of the fit, as fractions of ``process.vdd_v``."""
    driver_held_out_supply: tuple = (1.0, 1.2)
    """Driver supplies of the held-out points, fractions of ``process.vdd_v`` (delays: at 1.0 only)."""
    taper: float = 4.0
    segments: int = 4
    sense_fit: tuple = ((5e-14, 2e-5, 3e-8, 0.15), (1e-13, 1e-4, 1e-8, 0.2), (1e-12, 1e-4, 2e-8, 0.1),
                        (3e-13, 1e-3, 1e-8, 0.1), (5e-13, 3e-5, 5e-8, 0.2))
    """``(C_col_F, G_col_S, read_time_s, v_read_V)`` of the fitted front-end points."""
    sense_held_out: tuple = ((3e-14, 3e-5, 2e-8, 0.15), (2e-13, 3e-4, 1e-8, 0.2), (8e-13, 2e-4, 3e-8, 0.1))
    """``(C_col_F, G_col_S, read_time_s, v_read_V)`` of the held-out front-end points."""
    r_sense_ohm: float = 1000.0
    comparator_fit_loads: tuple = (1e-15, 3e-15, 6e-15, 1.2e-14, 2.4e-14)
    comparator_held_out_loads: tuple = (2e-15, 8e-15, 1.8e-14)
    comparator_fit_delta_v: tuple = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
    comparator_held_out_delta_v: tuple = (2e-3, 2e-2, 6e-2)
    comparator_load_c_f: float = 5e-15
    """Nominal comparator load (each output), farads: the decision-time sweep and ``comparator_energy_j()``."""
    comparator_delta_v: float = 1e-2
    """Nominal input difference of the load sweep, volts."""

    def to_dict(self):
        return {k: [list(x) if isinstance(x, tuple) else x for x in v] if isinstance(v, tuple) else v
                for k, v in asdict(self).items()}


WRITE_DRIVER_GRID = PeripheralGrid(
    driver_fit_loads=((1e-14, 50.0), (3e-14, 2000.0), (1.5e-13, 200.0), (8e-13, 5000.0), (4e-12, 500.0)),
    driver_held_out_loads=((2e-14, 1000.0), (4e-13, 100.0), (2e-12, 3000.0)),
    driver_fit_supply=(0.3, 0.6, 1.0, 1.22),
    driver_held_out_supply=(0.45, 0.909, 1.0))
"""Grid of the thick-oxide write driver: supplies 0.3-1.22 x 3.3 V (0.99-4.03 V; held out at 1.49,
3.0 and 3.3 V), loads of 10 fF to 4 pF (1-5 stages of the 2.2 fF I/O unit inverter)."""


# --- characterisation -------------------------------------------------------------------------

def _fit(block, quantity, basis, measured, split, max_rel_error, floor=0.0, signed=False):
    """Least squares of relative residuals on the fit points (non-negative coefficients unless
    ``signed``); the held-out relative errors; refusal above ``max_rel_error``.

    Errors are relative to ``max(|measured|, floor)`` (a floor keeps a time that is nearly zero
    from dividing by itself)."""
    basis, measured, split = np.asarray(basis, float), np.asarray(measured, float), np.asarray(split)
    fit, held = split == "fit", split == "validate"
    scale = np.maximum(np.abs(measured), floor)
    a, b = basis[fit] / scale[fit, None], measured[fit] / scale[fit]
    coef = np.linalg.lstsq(a, b, rcond=None)[0] if signed else optimize.nnls(a, b)[0]
    rel = np.abs(basis @ coef - measured) / scale
    worst = int(np.argmax(np.where(held, rel, -1.0)))
    if rel[worst] > max_rel_error:
        raise CalibrationError(f"peripherals: {block} {quantity}: held-out relative error {rel[worst]:.3g} > "
                               f"{max_rel_error:g} at point {worst} (measured {measured[worst]:.4g}, law "
                               f"{basis[worst] @ coef:.4g}); the law does not describe these decks")
    stats = {f"{quantity}_max_rel_error": float(rel[held].max()), f"{quantity}_fit_max_rel_error": float(rel[fit].max()),
             f"{quantity}_n_fit": int(fit.sum()), f"{quantity}_n_held_out": int(held.sum())}
    return coef, stats


def _run(cache_dir, kind, deck, version, compute):
    key = _hash("peripherals", kind, deck, version, LAW_VERSION)
    if cache_dir is None:
        return compute()
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    return _cached(cache_dir, key, compute)[0]


def _meas(deck, timeout_s, names):
    result = run_ngspice(deck, timeout_s=timeout_s)
    missing = [n for n in names if n not in result.measurements]
    if missing:
        raise SimulationError(f"peripheral deck {deck.splitlines()[0]!r}: ngspice measured no {', '.join(missing)}")
    return result


def _driver(process, grid, cache_dir, version, timeout_s, max_rel_error, hashes):
    rows = []
    for split, loads, fractions in (("fit", grid.driver_fit_loads, grid.driver_fit_supply),
                                    ("validate", grid.driver_held_out_loads, grid.driver_held_out_supply)):
        for c, r in loads:
            for f in fractions:
                v = process.vdd_v * f
                deck = driver_deck(process, c, r, supply_v=v, taper=grid.taper, segments=grid.segments)
                hashes.append(_hash(deck))

                def compute(deck=deck):
                    m = _meas(deck, timeout_s, ("e_last_j", "tpd_s")).measurements
                    return {"energy_j": m["e_last_j"] + m.get("e_chain_j", 0.0), "delay_s": m["tpd_s"]}

                rows.append({"c": c, "r": r, "v": v, "f": f, "split": split, **_run(cache_dir, "driver", deck, version, compute)})
    e_coef, e_stats = _fit("driver", "energy", [driver_energy_terms_j(process, grid.taper, x["c"], x["v"]) for x in rows],
                           [x["energy_j"] for x in rows], [x["split"] for x in rows], max_rel_error)
    nominal = [x for x in rows if x["f"] == 1.0]
    t_coef, t_stats = _fit("driver", "delay", [driver_delay_terms_s(process, grid.taper, x["c"], x["r"]) for x in nominal],
                           [x["delay_s"] for x in nominal], [x["split"] for x in nominal], max_rel_error)
    supplies = [process.vdd_v * f for f in grid.driver_fit_supply + grid.driver_held_out_supply]
    return DriverModel(*e_coef.tolist(), *t_coef.tolist(), taper=float(grid.taper), segments=grid.segments,
                       supply_min_v=min(supplies), supply_max_v=max(supplies), validation={**e_stats, **t_stats})


def _read_rows(kind, grid, cache_dir, version, build, compute):
    """The read front end ``kind`` simulated at every point of the sense grid: ``(point, split, measured)``."""
    rows = []
    for split, points in (("fit", grid.sense_fit), ("validate", grid.sense_held_out)):
        for point in points:
            deck = build(*point)
            rows.append((point, split, _run(cache_dir, kind, deck, version, lambda deck=deck, t=point[2]: compute(deck, t))))
    return rows


def _integrator(process, opamp, grid, cache_dir, version, timeout_s, max_rel_error, hashes):
    def build(c, g, t, v):
        deck = integrator_deck(process, opamp, c, g, t, v)
        hashes.append(_hash(deck))
        return deck

    def compute(deck, t):
        res = _meas(deck, timeout_s, ("e_supply_j",))
        return {"energy_j": res.measurements["e_supply_j"],
                "settle_s": settling_time_s(res.vectors["time"], res.vectors["vout#branch"], t)}

    rows = _read_rows("integrator", grid, cache_dir, version, build, compute)
    split = [s for _, s, _ in rows]
    e, e_stats = _fit("integrator", "energy", [integrator_energy_terms_j(process, opamp, *x) for x, _, _ in rows],
                      [m["energy_j"] for _, _, m in rows], split, max_rel_error)
    t, t_stats = _fit("integrator", "settling", [integrator_settling_terms_s(opamp, *x) for x, _, _ in rows],
                      [m["settle_s"] for _, _, m in rows], split, max_rel_error,
                      floor=1.0 / (2 * math.pi * opamp.gbw_hz), signed=True)
    return IntegratorModel(*e.tolist(), *t.tolist(), validation={**e_stats, **t_stats})


def _sense_resistor(process, opamp, grid, cache_dir, version, timeout_s, max_rel_error, hashes):
    def build(c, g, t, v):
        deck = sense_resistor_deck(process, opamp, c, g, t, v, grid.r_sense_ohm)
        hashes.append(_hash(deck))
        return deck

    def compute(deck, t):
        m = _meas(deck, timeout_s, ("e_supply_j", "tset_s")).measurements
        return {"energy_j": m["e_supply_j"], "settle_s": m["tset_s"]}

    rows = _read_rows("sense_resistor", grid, cache_dir, version, build, compute)
    split = [s for _, s, _ in rows]
    e, e_stats = _fit("sense_resistor", "energy", [[process.vdd_v * opamp.bias_current_a * x[2]] for x, _, _ in rows],
                      [m["energy_j"] for _, _, m in rows], split, max_rel_error)
    t, t_stats = _fit("sense_resistor", "settling", [_sense_resistor_settling_terms_s(x[0], x[1], grid.r_sense_ohm)
                                                     for x, _, _ in rows], [m["settle_s"] for _, _, m in rows], split,
                      max_rel_error)
    return SenseResistorModel(float(grid.r_sense_ohm), e[0], *t.tolist(), validation={**e_stats, **t_stats})


def _comparator(process, grid, cache_dir, version, timeout_s, max_rel_error, hashes):
    def point(load, dv):
        deck = comparator_deck(process, load, dv)
        hashes.append(_hash(deck))

        def compute():
            m = _meas(deck, timeout_s, ("e_supply_j", "tdec_s")).measurements
            return {"energy_j": m["e_supply_j"], "time_s": m["tdec_s"]}

        return _run(cache_dir, "comparator", deck, version, compute)

    loads = [(c, s, point(c, grid.comparator_delta_v)) for s, cs in (("fit", grid.comparator_fit_loads),
                                                                     ("validate", grid.comparator_held_out_loads)) for c in cs]
    dvs = [(dv, s, point(grid.comparator_load_c_f, dv)) for s, ds in (("fit", grid.comparator_fit_delta_v),
                                                                       ("validate", grid.comparator_held_out_delta_v)) for dv in ds]
    e, e_stats = _fit("comparator", "energy", [_comparator_energy_terms_j(process, c) for c, _, _ in loads],
                      [m["energy_j"] for _, _, m in loads], [s for _, s, _ in loads], max_rel_error)
    t, t_stats = _fit("comparator", "decision_time", [_comparator_time_terms_s(process, dv) for dv, _, _ in dvs],
                      [m["time_s"] for _, _, m in dvs], [s for _, s, _ in dvs], max_rel_error, signed=True)
    by_dv = {repr(float(dv)): m["energy_j"] for dv, _, m in sorted(dvs)}
    spread = (max(by_dv.values()) - min(by_dv.values())) / min(by_dv.values())
    dv_max = max(grid.comparator_fit_delta_v + grid.comparator_held_out_delta_v)
    return ComparatorModel(e[0], e[1], t[0], t[1], float(grid.comparator_load_c_f), float(dv_max), energy_vs_delta_v=by_dv,
                           validation={**e_stats, **t_stats, "energy_delta_v_spread_rel": float(spread)})


_CHARACTERISE = {"driver": lambda process, opamp, grid, *args: _driver(process, grid, *args),
                 "integrator": _integrator,
                 "sense_resistor": _sense_resistor,
                 "comparator": lambda process, opamp, grid, *args: _comparator(process, grid, *args)}


def characterize_peripherals(process=CmosProcess(), opamp=OpAmp(), grid=PeripheralGrid(), cache_dir=None,
                             max_rel_error=0.05, timeout_s=120.0, blocks=BLOCKS):
    """Simulate the periphery decks on ``grid``, fit the laws, validate on the held-out loads.

    Parameters
    ----------
    process : CmosProcess
    opamp : OpAmp
        The integrator's op-amp (and the sense buffer's bias current).
    grid : PeripheralGrid
        Fit and held-out loads of each block.
    cache_dir : str or Path, optional
        Directory of the per-point cache (a point is keyed by its deck, the ngspice version and
        :data:`LAW_VERSION`); None simulates every point.
    max_rel_error : float
        Largest held-out relative error accepted (default 0.05).
    timeout_s : float
        Wall-clock limit of one ngspice run, seconds.
    blocks : sequence of str
        The blocks to characterise, any of ``"driver"``, ``"integrator"``, ``"sense_resistor"``,
        ``"comparator"`` (default all); the others are None in the result.

    Returns
    -------
    PeripheralModels

    Raises
    ------
    CalibrationError
        A law misses a held-out point by more than ``max_rel_error`` (names the block and point).
    SimulationError
        ngspice failed on a deck.

    Notes
    -----
    53 ngspice transients (default grid, every block) of at most a few thousand time points;
    1-3 s uncached.
    """
    if not isinstance(process, CmosProcess):
        raise ConfigError(f"process: must be a CmosProcess, got {type(process).__name__}")
    if not isinstance(opamp, OpAmp):
        raise ConfigError(f"opamp: must be an OpAmp, got {type(opamp).__name__}")
    if not isinstance(grid, PeripheralGrid):
        raise ConfigError(f"grid: must be a PeripheralGrid, got {type(grid).__name__}")
    if check_number("max_rel_error", max_rel_error, 0.0) == 0:
        raise ConfigError(f"max_rel_error: must be > 0, got {max_rel_error!r}")
    if isinstance(blocks, str) or not isinstance(blocks, (tuple, list)) or not blocks \
            or any(b not in BLOCKS for b in blocks) or len(set(blocks)) != len(blocks):
        raise ConfigError(f"blocks: must be distinct names from {', '.join(BLOCKS)} (at least one), got {blocks!r}")
    if "driver" in blocks and not (1.0 in grid.driver_fit_supply and 1.0 in grid.driver_held_out_supply):
        raise ConfigError(f"grid.driver_fit_supply and grid.driver_held_out_supply: must both hold 1.0 (the delay is "
                          f"fitted at vdd_v), got {grid.driver_fit_supply!r} and {grid.driver_held_out_supply!r}")
    version = ngspice_version() or ""
    hashes = []
    fitted = {b: _CHARACTERISE[b](process, opamp, grid, cache_dir, version, timeout_s, max_rel_error, hashes)
              for b in BLOCKS if b in blocks}
    return PeripheralModels(process, opamp, **fitted, ngspice_version=version, input_hash=_hash(LAW_VERSION, *sorted(hashes)))


def _user_cache_dir():
    """``$XDG_CACHE_HOME/memcosim/peripherals`` (default ``~/.cache``), or None when it cannot be created."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "memcosim" / "peripherals"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        log.warning("%s: cannot create the peripheral cache; characterising without it", path)
        return None
    return path


def default_peripheral_models(cache_dir=None):
    """The periphery of the default :class:`CmosProcess` and :class:`OpAmp`, characterised on the
    default grid (points cached under ``cache_dir``, default the user cache directory)."""
    return characterize_peripherals(cache_dir=_user_cache_dir() if cache_dir is None else cache_dir)


def default_write_driver_models(cache_dir=None):
    """The write (programming-pulse) driver: the driver block of :meth:`CmosProcess.io_thick_oxide`
    characterised on :data:`WRITE_DRIVER_GRID` (supplies 0.99-4.03 V), the other blocks None.

    Points are cached under ``cache_dir`` (default the user cache directory); about 1 s uncached.
    """
    return characterize_peripherals(CmosProcess.io_thick_oxide(), grid=WRITE_DRIVER_GRID, blocks=("driver",),
                                    cache_dir=_user_cache_dir() if cache_dir is None else cache_dir)
