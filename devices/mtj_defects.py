"""Defects of MTJ dies: classifying a die map, its statistics, and a generator of die maps.

Classification
--------------
A cell of a die map (:mod:`memcosim.devices.mtj_maps`) is classified from its two resistances at
the read voltage by thresholds the user can set (:class:`DefectThresholds`); a threshold left
unset is derived from the die's own distribution, robustly (median ``m`` and ``s = 1.4826 MAD``
of the logarithm, so the defects themselves do not move it)::

    short     R_P < exp(m_P  - max(k s_P,  ln 2))          (k = outlier_sigmas, 6)
    open      R_P > exp(m_AP + max(k s_AP, ln 2))
    stuck     TMR = R_AP / R_P - 1 < median TMR / 2:  stuck-P when R_AP is below the geometric
              middle of the median R_P and R_AP, else stuck-AP
    ok        otherwise

(a short must read at least 2x below the median P junction, an open 2x above the median AP one).
A map's own ``state`` column wins over every threshold.

Spatial structure
-----------------
A *failed line* is a row (column) with at least 90 % of its cells defective of one kind (a broken
or shorted word or bit line); a *cluster* is a connected group (8 neighbours) of at least 9
defective cells outside failed lines. Everything else is scattered.

Statistics and the generator
----------------------------
:class:`DieStatistics` is what a die is drawn from beyond its median junction
(:class:`~memcosim.devices.mtj.MTJParams`: R_P, TMR, their cell-to-cell spreads ``r_p_std``,
``tmr_std``, the short and open resistances): scattered defect rates, failed-line rates, clusters,
the die-to-die spread of the median R_P and the spread of the short and open resistances.
:func:`generate_die` draws one die map from them (seeded: the same ``(seed, die)`` always gives the
same map; :mod:`memcosim.devices.mtj_die_generator`, re-exported here); :func:`estimate_statistics`
measures them from maps. A generated map written and read
back gives the same statistics, within the sampling error (tests).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.devices import mtj
from memcosim.devices.mtj_die_generator import (_CODES, DieStatistics, _disc_radius, _in_range, generate_die,
                                               with_resistances)

__all__ = ["DefectThresholds", "DieStatistics", "DieSummary", "resolve_thresholds", "classify", "structure",
           "summarize", "estimate_statistics", "generate_die", "with_resistances", "KINDS"]

KINDS = ("short", "open", "stuck_p", "stuck_ap")
"""Defect kinds, in the order of their codes 1-4."""
LINE_FRACTION = 0.9
"""A row or column with at least this fraction of its cells defective of one kind is a failed line."""
MIN_CLUSTER_CELLS = 9
"""A connected group of at least this many defective cells (outside failed lines) is a cluster."""


def _robust(log_values):
    """``(median, 1.4826 MAD)`` of an array (the sigma of a normal distribution, unmoved by outliers)."""
    m = float(np.median(log_values))
    return m, 1.4826 * float(np.median(np.abs(log_values - m)))


@dataclass(frozen=True)
class DefectThresholds:
    """Classification thresholds of a die map (module docstring); None: derived from each die."""

    short_below_ohm: float | None = None
    """A cell whose R_P reads below this is shorted, ohms."""
    open_above_ohm: float | None = None
    """A cell whose R_P reads above this is open, ohms."""
    stuck_tmr_below: float | None = None
    """A cell whose TMR ``R_AP / R_P - 1`` at the read voltage is below this is stuck (P or AP by its level)."""
    outlier_sigmas: float = 6.0
    """Derived short and open thresholds lie this many robust sigmas of log R beyond the median (and at
    least a factor 2)."""

    def __post_init__(self):
        for name in ("short_below_ohm", "open_above_ohm"):
            if getattr(self, name) is not None:
                _in_range(f"dies.{name}", getattr(self, name), 0, 1e18, open_low=True)
        if self.stuck_tmr_below is not None:
            _in_range("dies.stuck_tmr_below", self.stuck_tmr_below, 0, 100, open_low=True)
        _in_range("dies.outlier_sigmas", self.outlier_sigmas, 1, 100)
        if None not in (self.short_below_ohm, self.open_above_ohm) and self.short_below_ohm >= self.open_above_ohm:
            raise ConfigError(f"dies.short_below_ohm: must be below dies.open_above_ohm ({self.open_above_ohm!r}), "
                              f"got {self.short_below_ohm!r}")

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data):
        return cls(**data)


def resolve_thresholds(die_map, thresholds=DefectThresholds()):
    """The thresholds used on ``die_map``: the given ones, the others derived from its resistances."""
    if not die_map.has_resistances:
        return thresholds
    m_p, s_p = _robust(np.log(die_map.r_p_ohm))
    m_ap, s_ap = _robust(np.log(die_map.r_ap_ohm))
    k = thresholds.outlier_sigmas
    tmr = die_map.r_ap_ohm / die_map.r_p_ohm - 1.0
    short = thresholds.short_below_ohm or math.exp(m_p - max(k * s_p, math.log(2.0)))
    open_ = thresholds.open_above_ohm or math.exp(m_ap + max(k * s_ap, math.log(2.0)))
    stuck = thresholds.stuck_tmr_below or max(0.5 * float(np.median(tmr)), 1e-9)
    return dataclasses.replace(thresholds, short_below_ohm=short, open_above_ohm=max(open_, short * (1 + 1e-9)),
                               stuck_tmr_below=stuck)


def classify(die_map, thresholds=DefectThresholds()):
    """Defect code of every cell (``mtj.OK`` ... ``mtj.STUCK_AP``), int8 of the map's shape.

    The map's own ``state`` wins; otherwise its resistances are classified by ``thresholds``
    (module docstring).
    """
    if die_map.state is not None:
        return np.asarray(die_map.state, dtype=np.int8)
    t = resolve_thresholds(die_map, thresholds)
    r_p, r_ap = die_map.r_p_ohm, die_map.r_ap_ohm
    middle = math.sqrt(float(np.median(r_p)) * float(np.median(r_ap)))
    stuck = r_ap / r_p - 1.0 < t.stuck_tmr_below
    codes = np.where(stuck, np.where(r_ap < middle, mtj.STUCK_P, mtj.STUCK_AP), mtj.OK)
    codes = np.where(r_p > t.open_above_ohm, mtj.OPEN, codes)
    return np.where(r_p < t.short_below_ohm, mtj.SHORT, codes).astype(np.int8)


def structure(codes):
    """The spatial structure of a die's defects (module docstring).

    Returns
    -------
    dict
        ``rows``, ``cols``: ``{index: code}`` of failed lines; ``clusters``: a list of ``(cells,
        code)`` per cluster (``cells`` an (n, 2) array of positions; ``code`` its most common
        defect); ``mask``: bool array of the cells in any structure.
    """
    from scipy import ndimage

    codes = np.asarray(codes)
    bad = codes != mtj.OK
    mask = np.zeros(codes.shape, bool)
    lines = {}
    for axis, name in ((1, "rows"), (0, "cols")):
        found = {}
        for code in _CODES:
            share = np.mean(codes == code, axis=axis)
            for i in np.flatnonzero(share >= LINE_FRACTION):
                found[int(i)] = int(code)
        lines[name] = found
        for i in found:
            if axis == 1:
                mask[i, :] = True
            else:
                mask[:, i] = True
    labels, n = ndimage.label(bad & ~mask, structure=np.ones((3, 3), bool))
    clusters = []
    if n:
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        for lab in np.flatnonzero(sizes >= MIN_CLUSTER_CELLS):
            if lab == 0:
                continue
            cells = np.argwhere(labels == lab)
            kinds = codes[labels == lab]
            clusters.append((cells, int(np.bincount(kinds, minlength=5)[1:].argmax() + 1)))
            mask[labels == lab] = True
    return {"rows": lines["rows"], "cols": lines["cols"], "clusters": clusters, "mask": mask}


@dataclass(frozen=True)
class DieSummary:
    """What one die map holds (``memcosim dies summarize``)."""

    die: int
    source: str
    rows: int
    cols: int
    counts: dict
    """Cells of each kind: ``ok``, ``short``, ``open``, ``stuck_p``, ``stuck_ap``."""
    r_p_median_ohm: float | None
    """Median R_P of the healthy cells at the read voltage, ohms (None: a map of states only)."""
    r_p_sigma: float | None
    """Lognormal sigma (robust) of the healthy cells' R_P."""
    tmr_median: float | None
    tmr_sigma: float | None
    failed_rows: dict
    """``{row: kind}`` of failed rows."""
    failed_cols: dict
    clusters: list
    """``[cells, kind]`` per cluster."""
    thresholds: DefectThresholds

    def to_json(self):
        return {**dataclasses.asdict(self), "thresholds": self.thresholds.to_json()}


_NAMES = {mtj.OK: "ok", mtj.SHORT: "short", mtj.OPEN: "open", mtj.STUCK_P: "stuck_p", mtj.STUCK_AP: "stuck_ap"}


def summarize(die_map, thresholds=DefectThresholds()):
    """The :class:`DieSummary` of one die map: defect counts, R_P and TMR of its healthy cells, its structure."""
    codes = classify(die_map, thresholds)
    s = structure(codes)
    counts = {name: int(np.sum(codes == code)) for code, name in _NAMES.items()}
    r_p = tmr = (None, None)
    ok = codes == mtj.OK
    if die_map.has_resistances and ok.any():
        r_p = _robust(np.log(die_map.r_p_ohm[ok]))
        tmr = _robust(np.log(np.maximum(die_map.r_ap_ohm[ok] / die_map.r_p_ohm[ok] - 1.0, 1e-12)))
        r_p, tmr = (math.exp(r_p[0]), r_p[1]), (math.exp(tmr[0]), tmr[1])
    return DieSummary(die_map.die, die_map.source, *die_map.shape, counts, r_p[0], r_p[1], tmr[0], tmr[1],
                      {i: _NAMES[c] for i, c in s["rows"].items()}, {i: _NAMES[c] for i, c in s["cols"].items()},
                      [[len(cells), _NAMES[c]] for cells, c in s["clusters"]], resolve_thresholds(die_map, thresholds))


def estimate_statistics(maps, params, read_voltage_v, thresholds=DefectThresholds()):
    """The median junction and :class:`DieStatistics` measured from die maps.

    Parameters
    ----------
    maps : sequence of DieMap
    params : MTJParams
        The device model: what a map cannot measure (the TMR's bias dependence ``v_half_v``; the
        junction itself for maps of states only; the short or open resistance when no cell is one)
        is kept from it.
    read_voltage_v : float
        The voltage the maps' resistances were read at.
    thresholds : DefectThresholds

    Returns
    -------
    (MTJParams, DieStatistics)
        ``r_p_ohm`` the median of the dies' median healthy R_P; ``tmr0`` the zero-bias TMR whose
        bias law gives the healthy cells' median TMR at ``read_voltage_v``; ``r_p_std``, ``tmr_std``
        their robust within-die sigmas; ``r_short_ohm``, ``r_open_ohm`` the median resistance of
        the shorted and open cells. The statistics: scattered rates over the cells outside
        structures, failed lines per row and column, clusters per cell and their mean radius, the
        structures' kind mix, the die-to-die sigma of the median R_P and the short and open spreads.
    """
    if not maps:
        raise CalibrationError("die maps: none to estimate statistics from")
    counts, cells, lines, n_rows, n_cols, clusters, mix = np.zeros(5), 0, [0, 0], 0, 0, [], np.zeros(4)
    log_rp, log_tmr, die_medians, shorts, opens = [], [], [], [], []
    for m in maps:
        codes = classify(m, thresholds)
        s = structure(codes)
        free = ~s["mask"]
        counts += np.bincount(codes[free], minlength=5)
        cells += int(free.sum())
        lines[0] += len(s["rows"])
        lines[1] += len(s["cols"])
        n_rows, n_cols = n_rows + codes.shape[0], n_cols + codes.shape[1]
        clusters += [len(c) for c, _ in s["clusters"]]
        for kind in [*s["rows"].values(), *s["cols"].values(), *(k for _, k in s["clusters"])]:
            mix[kind - 1] += 1
        if m.has_resistances:
            ok = codes == mtj.OK
            if ok.any():
                lp = np.log(m.r_p_ohm[ok])
                die_medians.append(float(np.median(lp)))
                log_rp.append(lp - die_medians[-1])
                log_tmr.append(np.log(np.maximum(m.r_ap_ohm[ok] / m.r_p_ohm[ok] - 1.0, 1e-12)))
            shorts.append(np.log(m.r_p_ohm[codes == mtj.SHORT]))
            opens.append(np.log(m.r_p_ohm[codes == mtj.OPEN]))
    rates = counts[1:] / max(cells, 1)
    total_cells = sum(int(np.prod(m.shape)) for m in maps)
    stats = dict(rates=mtj.DefectRates(*(float(r) for r in rates)), row_fail_rate=lines[0] / n_rows,
                 col_fail_rate=lines[1] / n_cols, cluster_rate=len(clusters) / total_cells,
                 cluster_radius_cells=_disc_radius(np.mean(clusters)) if clusters else 2.0,
                 structure_mix=tuple(mix) if mix.sum() > 0 else tuple(rates) if rates.sum() > 0 else (1, 1, 1, 1))
    fitted = params
    if die_medians:
        r_p = math.exp(float(np.median(die_medians)))
        tmr_read = math.exp(_robust(np.concatenate(log_tmr))[0])
        tmr0 = tmr_read * (1.0 + (read_voltage_v / params.v_half_v) ** 2)
        fitted = dataclasses.replace(params, r_p_ohm=r_p, tmr0=tmr0, r_p_std=min(_robust(np.concatenate(log_rp))[1], 2.0),
                                     tmr_std=min(_robust(np.concatenate(log_tmr))[1], 2.0))
        stats["r_p_die_std"] = min(float(np.std(die_medians, ddof=1)) if len(die_medians) > 1 else 0.0, 2.0)
        for name, logs in (("short", shorts), ("open", opens)):
            values = np.concatenate(logs)
            if len(values):
                m, s = _robust(values)
                fitted = dataclasses.replace(fitted, **{f"r_{name}_ohm": math.exp(m)})
                stats[f"r_{name}_std"] = min(s, 2.0) if len(values) > 1 else 0.0
    return fitted, DieStatistics(**stats)
