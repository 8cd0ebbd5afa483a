"""A generator of MTJ die maps: the statistics a die is drawn from and the draw.

:class:`DieStatistics` is what a die is drawn from beyond its median junction
(:class:`~memcosim.devices.mtj.MTJParams`): scattered defect rates, failed-line rates, clusters,
the die-to-die spread of the median R_P and the spread of the short and open resistances (the
structures are defined in :mod:`memcosim.devices.mtj_defects`). :func:`generate_die` draws one
die map from them (seeded: the same ``(seed, die)`` always gives the same map);
:func:`with_resistances` draws the resistances of a die whose defect codes are given;
:func:`memcosim.devices.mtj_defects.estimate_statistics` measures the statistics from maps.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed
from memcosim.base.typed import JsonRecord
from memcosim.devices import mtj
from memcosim.devices.mtj_maps import DieMap

__all__ = ["DieStatistics", "generate_die", "with_resistances"]

_CODES = (mtj.SHORT, mtj.OPEN, mtj.STUCK_P, mtj.STUCK_AP)
"""Defect codes, in the order of :data:`memcosim.devices.mtj_defects.KINDS`."""


def _in_range(name, value, low, high, open_low=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and (low < value if open_low else low <= value) and value <= high):
        raise ConfigError(f"{name}: must be in {'(' if open_low else '['}{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class DieStatistics(JsonRecord):
    """What a die is drawn from beyond its median junction (module docstring); strict JSON
    (:class:`~memcosim.base.typed.JsonRecord`: ``from_json(data, source="die statistics")``)."""

    rates: mtj.DefectRates = mtj.DefectRates()
    """Fractions of scattered shorted, open, stuck-P and stuck-AP cells."""
    row_fail_rate: float = 0.0
    """Probability that a row of the die is a failed line (every cell one defect)."""
    col_fail_rate: float = 0.0
    """Probability that a column is a failed line."""
    cluster_rate: float = 0.0
    """Defect clusters per cell (a die of ``N`` cells has Poisson(``cluster_rate N``) of them)."""
    cluster_radius_cells: float = 2.0
    """Every cell within this distance (in cells) of a cluster's centre is defective."""
    structure_mix: tuple[float, ...] = (0.25, 0.25, 0.25, 0.25)
    """Relative frequency of short, open, stuck-P and stuck-AP among failed lines and clusters."""
    r_p_die_std: float = 0.0
    """Die-to-die lognormal sigma of a die's median R_P."""
    r_short_std: float = 0.0
    """Lognormal sigma of a shorted junction's resistance around ``MTJParams.r_short_ohm``."""
    r_open_std: float = 0.0
    """Lognormal sigma of an open cell's resistance around ``MTJParams.r_open_ohm``."""

    def __post_init__(self):
        for name in ("row_fail_rate", "col_fail_rate", "cluster_rate"):
            _in_range(name, getattr(self, name), 0.0, 1.0)
        _in_range("cluster_radius_cells", self.cluster_radius_cells, 0.0, 1000.0)
        for name in ("r_p_die_std", "r_short_std", "r_open_std"):
            _in_range(name, getattr(self, name), 0.0, 2.0)
        mix = tuple(float(w) for w in self.structure_mix)
        if len(mix) != 4 or any(not (math.isfinite(w) and w >= 0) for w in mix) or sum(mix) <= 0:
            raise ConfigError(f"structure_mix: four weights >= 0 (short, open, stuck-P, stuck-AP) with a positive sum, "
                              f"got {self.structure_mix!r}")
        object.__setattr__(self, "structure_mix", tuple(w / sum(mix) for w in mix))

    @classmethod
    def from_rates(cls, rates, **kw):
        """Scattered defects at ``rates``; structures (if any) in the same proportions (uniform when all are 0)."""
        weights = (rates.short_rate, rates.open_rate, rates.stuck_p_rate, rates.stuck_ap_rate)
        return cls(rates=rates, structure_mix=weights if sum(weights) > 0 else (1, 1, 1, 1), **kw)



def _disc(radius):
    """Offsets ``(dr, dc)`` of the cells within ``radius`` of a centre."""
    r = int(math.floor(radius))
    dr, dc = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dr**2 + dc**2 <= radius**2
    return dr[keep], dc[keep]


def _structure_codes(shape, stats, rng):
    """Defect codes of the failed lines and clusters of one die (``mtj.OK`` elsewhere)."""
    codes = np.full(shape, mtj.OK, np.int8)
    kinds = np.array(_CODES, np.int8)
    mix = np.asarray(stats.structure_mix)
    if stats.cluster_rate > 0:
        n = rng.poisson(stats.cluster_rate * shape[0] * shape[1])
        dr, dc = _disc(stats.cluster_radius_cells)
        for r0, c0, kind in zip(rng.integers(0, shape[0], n), rng.integers(0, shape[1], n), rng.choice(kinds, n, p=mix)):
            r, c = r0 + dr, c0 + dc
            inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
            codes[r[inside], c[inside]] = kind
    for axis, rate in ((0, stats.row_fail_rate), (1, stats.col_fail_rate)):
        failed = np.flatnonzero(rng.random(shape[axis]) < rate)
        for i, kind in zip(failed, rng.choice(kinds, len(failed), p=mix)):
            if axis == 0:
                codes[i, :] = kind
            else:
                codes[:, i] = kind
    return codes


def with_resistances(codes, params, read_voltage_v, rng, stats=DieStatistics(), die=0, source=""):
    """A die map of ``codes`` with every cell's resistances drawn: the healthy junctions with the
    spread of ``params`` (and ``stats.r_p_die_std``), the defects by :func:`mtj.cell_resistance_ohm`
    with the spread of the short and open resistances. A map of states only gets its junctions so."""
    codes = np.asarray(codes, dtype=np.int8)
    shape = codes.shape
    die_params = params
    if stats.r_p_die_std > 0:
        die_params = dataclasses.replace(params, r_p_ohm=params.r_p_ohm * math.exp(stats.r_p_die_std * rng.standard_normal()))
    spread = params.r_p_std > 0 or params.tmr_std > 0
    devices = mtj.sample_devices(die_params, shape, rng) if spread else None
    r = [mtj.cell_resistance_ohm(np.full(shape, state), codes, read_voltage_v, die_params, devices)
         for state in (mtj.P, mtj.AP)]
    for code, std in ((mtj.SHORT, stats.r_short_std), (mtj.OPEN, stats.r_open_std)):
        if std > 0:
            factor = np.exp(std * rng.standard_normal(shape))  # one junction: the same in both states
            r = [np.where(codes == code, x * factor, x) for x in r]
    return DieMap(int(die), r[0], r[1], codes, source)


def generate_die(params, stats, shape, read_voltage_v, seed, die):
    """One die map drawn from ``params`` and ``stats`` (module docstring), with its true states.

    Parameters
    ----------
    params : MTJParams
        The median junction and its cell-to-cell spread.
    stats : DieStatistics
    shape : (int, int)
        The die's ``(rows, cols)``.
    read_voltage_v : float
        The read voltage the map's resistances are given at, volts.
    seed, die : int
        The same ``(seed, die)`` always gives the same map.
    """
    scattered = mtj.defect_map(shape, stats.rates, stream_seed(seed, "maps"), die=die)
    rng = numpy_rng(seed, f"maps/die{int(die)}")
    placed = _structure_codes(shape, stats, rng)
    codes = np.where(placed != mtj.OK, placed, scattered).astype(np.int8)
    return with_resistances(codes, params, read_voltage_v, rng, stats, die)


def _disc_radius(mean_cells):
    """The radius whose disc (:func:`_disc`) holds closest to ``mean_cells`` cells."""
    radii = np.arange(1.0, 40.0, 0.25)
    sizes = np.array([len(_disc(r)[0]) for r in radii])
    return float(radii[np.argmin(np.abs(sizes - mean_cells))])
