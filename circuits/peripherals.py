"""Characterisation of the tile periphery: ngspice sweeps of the driver, read front end and
comparator decks (:mod:`memcosim.netlist.peripherals`) fitted to physically shaped laws.

Each block is simulated on a small grid of loads; the law's coefficients are fitted (non-negative
least squares of relative residuals) on the fit points and checked on held-out loads that the
fit never saw. A held-out relative error above ``max_rel_error`` (5 %) is refused with
:class:`~memcosim.base.errors.CalibrationError`. Every simulated point is cached by the hash of
its deck and the ngspice version (the cache of :mod:`memcosim.circuits.characterize`).

Laws (one function each, used by the fit and by the model):

* driver energy (:func:`driver_energy_terms_j`): ``E = a C_load V^2 + b C_chain V^2 + c C_chain V g(V)``
  with ``C_chain`` the chain's own switched capacitance (:meth:`DriverChain.switched_c_f`) and
  ``g(V) = (V - V_tn - |V_tp|)^3 / (V - V_tn)^2`` the short-circuit shape (Veendrick);
* driver delay (:func:`driver_delay_terms_s`): ``t = d N + k_drv R_last C_load + k_wire R_line C_load``;
* integrator (:func:`integrator_energy_terms_j`): ``E = a V_dd I_bias t + b V_dd Q`` with the integrated
  charge ``Q = t G V_read / (1 + G / (C_f w_u))`` (the finite gain-bandwidth's virtual-ground error);
  settling ``t = k tau ln(max(1, 100 |x0 - x_end| / x_end)) + k1 tau + k0 / w_u``, ``tau = (C_col + C_f) / (G + C_f w_u)``
  (:func:`integrator_settling_terms_s`);
* sense resistor: ``E = a V_dd I_bias t``; settling ``t = k ln(100) C_col (R_s || 1/G) + t0``;
* comparator: ``E = a C_load V_dd^2 + e0`` per decision; ``t_dec = t0 + tau ln(V_dd / dV)``.
"""

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from scipy import optimize

from memcosim.base.atomic import write_text_atomic
from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.base.files import read_text
from memcosim.circuits.characterize import _cached, _hash
from memcosim.circuits.models import _table
from memcosim.circuits.ngspice import ngspice_version, run_ngspice
from memcosim.netlist.peripherals import (
    CmosProcess,
    OpAmp,
    comparator_deck,
    driver_chain,
    driver_deck,
    integrator_deck,
    integrator_feedback_c_f,
    sense_resistor_deck,
)

__all__ = [
    "FORMAT_VERSION",
    "PeripheralGrid",
    "DriverModel",
    "IntegratorModel",
    "SenseResistorModel",
    "ComparatorModel",
    "PeripheralModels",
    "characterize_peripherals",
    "default_peripheral_models",
    "line_load",
    "settling_time_s",
    "driver_energy_terms_j",
    "driver_delay_terms_s",
    "integrator_energy_terms_j",
    "integrator_settling_terms_s",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the JSON layout written by :meth:`PeripheralModels.to_json`."""

LAW_VERSION = 1
"""Version of the laws and the point measurements; part of every cache key."""

_LN100 = math.log(100.0)


def line_load(rows_or_cols, c_wire_f, r_wire_ohm, c_cell_f):
    """Capacitance and resistance of a line of ``rows_or_cols`` cells: ``(n (c_wire + c_cell), n r_wire)``.

    Parameters
    ----------
    rows_or_cols : int
        Cells on the line (>= 1).
    c_wire_f : float
        Wire capacitance of one segment (one cell pitch), farads (>= 0).
    r_wire_ohm : float
        Wire resistance of one segment, ohms (>= 0).
    c_cell_f : float
        Capacitance one cell adds to the line, farads (>= 0).

    Returns
    -------
    (float, float)
        ``(C_F, R_ohm)``.
    """
    if isinstance(rows_or_cols, bool) or not isinstance(rows_or_cols, (int, np.integer)) or rows_or_cols < 1:
        raise ConfigError(f"rows_or_cols: must be an integer >= 1, got {rows_or_cols!r}")
    for name, value in (("c_wire_f", c_wire_f), ("r_wire_ohm", r_wire_ohm), ("c_cell_f", c_cell_f)):
        _number(name, value, 0.0)
    n = int(rows_or_cols)
    return n * (float(c_wire_f) + float(c_cell_f)), n * float(r_wire_ohm)


def _number(where, value, low=-math.inf, high=math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ConfigError(f"{where}: must be a finite number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


# --- laws -------------------------------------------------------------------------------------

def _short_circuit_shape_v(process, v):
    """Veendrick's short-circuit shape ``(V - V_tn - |V_tp|)^3 / (V - V_tn)^2``, volts (0 below ``V_tn + |V_tp|``)."""
    over = max(v - process.vth_n_v + process.vth_p_v, 0.0)
    return over ** 3 / (v - process.vth_n_v) ** 2


def driver_energy_terms_j(process, taper, load_c_f, v):
    """Basis of the driver energy per pulse (J): ``[C_load V^2, C_chain V^2, C_chain V g(V)]``."""
    c_chain = driver_chain(process, load_c_f, taper).switched_c_f()
    return np.array([load_c_f * v * v, c_chain * v * v, c_chain * v * _short_circuit_shape_v(process, v)])


def driver_delay_terms_s(process, taper, load_c_f, load_r_ohm):
    """Basis of the driver's 50 % delay to the far end (s): ``[N * 1 ps, R_last C_load, R_line C_load]``."""
    chain = driver_chain(process, load_c_f, taper)
    return np.array([chain.n_stages * 1e-12, chain.last_stage_resistance_ohm() * load_c_f, load_r_ohm * load_c_f])


def integrator_charge_c(opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Charge integrated in ``read_time_s`` (C): ``t G V / (1 + G / (C_f w_u))``."""
    c_f = integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read)
    return read_time_s * column_g_s * v_read / (1.0 + column_g_s / (c_f * 2 * math.pi * opamp.gbw_hz))


def integrator_energy_terms_j(process, opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Basis of the integrator's supply energy per read (J): ``[V_dd I_bias t, V_dd Q]``."""
    q = integrator_charge_c(opamp, column_c_f, column_g_s, read_time_s, v_read)
    return np.array([process.vdd_v * opamp.bias_current_a * read_time_s, process.vdd_v * q])


def integrator_settling_terms_s(opamp, column_c_f, column_g_s, read_time_s, v_read):
    """Basis of the integrator's 1 % settling time (s): ``[tau ln(max(1, 100 |x0 - x_end| / x_end)), tau, 1/w_u]``.

    The closed loop has one pole, ``tau = (C_col + C_f) / (G + C_f w_u)``; the output current
    starts at ``x0 = C_f / (C_col + C_f)`` of ``G V`` (the read step splits between the two
    capacitors) and ends at ``x_end = 1 / (1 + G / (C_f w_u))`` (:func:`integrator_charge_c`).
    """
    c_f = integrator_feedback_c_f(opamp, column_g_s, read_time_s, v_read)
    w_u = 2 * math.pi * opamp.gbw_hz
    tau = (column_c_f + c_f) / (column_g_s + c_f * w_u)
    x0, x_end = c_f / (column_c_f + c_f), 1.0 / (1.0 + column_g_s / (c_f * w_u))
    return np.array([tau * math.log(max(1.0, 100.0 * abs(x0 - x_end) / x_end)), tau, 1.0 / w_u])


def _sense_resistor_settling_terms_s(column_c_f, column_g_s, r_sense_ohm):
    r_par = 1.0 / (column_g_s + 1.0 / r_sense_ohm)
    return np.array([_LN100 * column_c_f * r_par, 1e-12])


def _comparator_energy_terms_j(process, load_c_f):
    return np.array([load_c_f * process.vdd_v ** 2, 1e-15])


def _comparator_time_terms_s(process, delta_v):
    return np.array([1e-12, 1e-12 * math.log(process.vdd_v / abs(delta_v))])


def settling_time_s(time_s, signal, end_s, tolerance=0.01):
    """Last time (s) at or before ``end_s`` at which ``signal`` is outside ``tolerance`` of its value at ``end_s``."""
    time_s, signal = np.asarray(time_s), np.asarray(signal)
    final = float(np.interp(end_s, time_s, signal))
    outside = (np.abs(signal - final) > tolerance * abs(final)) & (time_s <= end_s)
    return float(time_s[outside][-1]) if outside.any() else 0.0


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


# --- models -----------------------------------------------------------------------------------

def _coefficients(where, data, names):
    data = _table(where, data, names)
    return {n: _number(f"{where}.{n}", data[n], -math.inf if n in _SIGNED else 0.0) for n in names}


_SIGNED = {"settling_coefficient", "pole_coefficient", "bandwidth_coefficient", "time_offset_ps"}
"""Coefficients fitted without a sign constraint (the time laws); every other one is >= 0."""


_META = dict(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class DriverModel:
    """A tapered line driver: energy per pulse (J) and 50 % delay to the far end (s)."""

    load_coefficient: float
    """``a``: dimensionless, on ``C_load V^2`` (1 = the line's charge and discharge)."""
    chain_coefficient: float
    """``b``: dimensionless, on ``C_chain V^2``."""
    short_circuit_coefficient: float
    """``c``: dimensionless, on ``C_chain V g(V)``."""
    stage_delay_ps: float
    """``d``: picoseconds per stage."""
    drive_coefficient: float
    """``k_drv``: dimensionless, on ``R_last C_load`` (0.69 for a lumped RC)."""
    wire_coefficient: float
    """``k_wire``: dimensionless, on ``R_line C_load`` (about 0.4-0.5 for a distributed line)."""
    taper: float = 4.0
    segments: int = 4
    supply_min_v: float = 0.0
    """Lowest driver supply characterised, volts."""
    supply_max_v: float = math.inf
    """Highest driver supply characterised, volts."""
    validation: dict = field(**_META)

    ENERGY = ("load_coefficient", "chain_coefficient", "short_circuit_coefficient")
    DELAY = ("stage_delay_ps", "drive_coefficient", "wire_coefficient")


@dataclass(frozen=True)
class IntegratorModel:
    """Virtual-ground column integrator: supply energy per read (J) and 1 % settling time (s)."""

    bias_coefficient: float
    """Dimensionless, on ``V_dd I_bias t``."""
    charge_coefficient: float
    """Dimensionless, on ``V_dd Q`` (1 = a class-B output stage)."""
    settling_coefficient: float
    """Dimensionless, on ``tau ln(max(1, 100 |x0 - x_end| / x_end))``."""
    pole_coefficient: float
    """Dimensionless, on ``tau`` (the approach is not a pure exponential: the op-amp's own pole)."""
    bandwidth_coefficient: float
    """Dimensionless, on ``1 / w_u``."""
    validation: dict = field(**_META)

    ENERGY = ("bias_coefficient", "charge_coefficient")
    TIME = ("settling_coefficient", "pole_coefficient", "bandwidth_coefficient")


@dataclass(frozen=True)
class SenseResistorModel:
    """Sense resistor and buffer: supply energy per read (J) and 1 % settling time (s)."""

    r_sense_ohm: float
    bias_coefficient: float
    """Dimensionless, on ``V_dd I_bias t``."""
    settling_coefficient: float
    """Dimensionless, on ``ln(100) C_col (R_s || 1/G)``."""
    settling_offset_ps: float
    """Constant delay, picoseconds (the read pulse's edge)."""
    validation: dict = field(**_META)

    ENERGY = ("bias_coefficient",)
    TIME = ("settling_coefficient", "settling_offset_ps")


@dataclass(frozen=True)
class ComparatorModel:
    """StrongARM latch: energy per decision (J) and decision time (s)."""

    load_coefficient: float
    """Dimensionless, on ``C_load V_dd^2`` (per output's load)."""
    fixed_energy_fj: float
    """Energy per decision at zero load (clock buffer, internal nodes), femtojoules."""
    time_offset_ps: float
    """``t0``, picoseconds (may be negative: the law holds for ``dV`` up to ``delta_v_max_v``)."""
    regeneration_ps: float
    """``tau`` of ``t0 + tau ln(V_dd / dV)``, picoseconds."""
    load_c_f: float
    """Nominal load of each output, farads."""
    delta_v_max_v: float
    """Largest input difference characterised, volts."""
    energy_vs_delta_v: dict = field(**_META)
    """Measured energy (J) at the nominal load by input difference (V, as text)."""
    validation: dict = field(**_META)

    ENERGY = ("load_coefficient", "fixed_energy_fj")
    TIME = ("time_offset_ps", "regeneration_ps")


def _sub_to_dict(model):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(model).items()}


def _sub_from_dict(cls, where, data, extra=()):
    names = cls.ENERGY + getattr(cls, "DELAY", ()) + getattr(cls, "TIME", ())
    values = _coefficients(where, data, names + tuple(extra))
    meta = {k: data[k] for k in ("validation", "energy_vs_delta_v") if k in data}
    for key, value in meta.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{where}.{key}: must be a JSON object, got {type(value).__name__}")
    return values, meta


@dataclass(frozen=True)
class PeripheralModels:
    """The fitted periphery of a tile for one :class:`CmosProcess` and :class:`OpAmp`."""

    process: CmosProcess
    opamp: OpAmp
    driver: DriverModel
    integrator: IntegratorModel
    sense_resistor: SenseResistorModel
    comparator: ComparatorModel
    ngspice_version: str = ""
    input_hash: str = ""
    """SHA-256 of the decks simulated (and the law version)."""

    def driver_energy_j(self, load_c_f, load_r_ohm, v):
        """Energy (J) drawn from the driver supply ``v`` (volts, inside the characterised range) for one
        pulse that charges and discharges a line of ``load_c_f`` farads and ``load_r_ohm`` ohms.

        The energy does not depend on ``load_r_ohm`` once the pulse charges the line fully (the
        decks' pulse is 20 Elmore delays); it is validated to be so on the held-out loads.
        """
        _number("load_c_f", load_c_f, 0.0)
        _number("load_r_ohm", load_r_ohm, 0.0)
        _number("v", v, self.driver.supply_min_v, self.driver.supply_max_v)
        if load_c_f == 0:
            return 0.0
        d = self.driver
        coef = np.array([getattr(d, n) for n in d.ENERGY])
        return float(coef @ driver_energy_terms_j(self.process, d.taper, load_c_f, v))

    def driver_delay_s(self, load_c_f, load_r_ohm):
        """50 % delay (s) from the driver's input to the far end of the line at ``process.vdd_v``."""
        _number("load_c_f", load_c_f, 0.0)
        _number("load_r_ohm", load_r_ohm, 0.0)
        if load_c_f == 0:
            return 0.0
        d = self.driver
        coef = np.array([getattr(d, n) for n in d.DELAY])
        return float(coef @ driver_delay_terms_s(self.process, d.taper, load_c_f, load_r_ohm))

    def _check_read(self, column_c_f, column_g_s, read_time_s, v_read):
        _number("column_c_f", column_c_f, 0.0)
        for name, value in (("column_g_s", column_g_s), ("read_time_s", read_time_s), ("v_read", v_read)):
            if _number(name, value, 0.0) == 0:
                raise ConfigError(f"{name}: must be > 0, got {value!r}")

    def sense_energy_j(self, column_c_f, column_g_s, read_time_s, v_read, mode="integrator"):
        """Energy (J) the column's sense circuit draws from its supply during one read.

        Not included: the cells' own read energy (``G V^2 t`` from the read source), which the
        array's :class:`~memcosim.circuits.models.ReadEnergyModel` counts.

        Parameters
        ----------
        column_c_f : float
            Column capacitance, farads.
        column_g_s : float
            Total conductance of the column's selected cells, siemens (> 0).
        read_time_s : float
            Integration (read) time, seconds (> 0).
        v_read : float
            Read voltage, volts (> 0).
        mode : {"integrator", "resistor"}
        """
        self._check_read(column_c_f, column_g_s, read_time_s, v_read)
        if mode == "integrator":
            m = self.integrator
            basis = integrator_energy_terms_j(self.process, self.opamp, column_c_f, column_g_s, read_time_s, v_read)
            return float(m.bias_coefficient * basis[0] + m.charge_coefficient * basis[1])
        if mode == "resistor":
            return float(self.sense_resistor.bias_coefficient * self.process.vdd_v * self.opamp.bias_current_a * read_time_s)
        raise ConfigError(f"mode: allowed: 'integrator', 'resistor'; got {mode!r}")

    def sense_time_s(self, column_c_f, column_g_s, read_time_s, v_read, mode="integrator"):
        """Time (s) after the read starts until the column current (integrator) or voltage (resistor)
        stays within 1 % of its final value; the read time should exceed it."""
        self._check_read(column_c_f, column_g_s, read_time_s, v_read)
        if mode == "integrator":
            m = self.integrator
            basis = integrator_settling_terms_s(self.opamp, column_c_f, column_g_s, read_time_s, v_read)
            return float(m.settling_coefficient * basis[0] + m.pole_coefficient * basis[1] + m.bandwidth_coefficient * basis[2])
        if mode == "resistor":
            m = self.sense_resistor
            basis = _sense_resistor_settling_terms_s(column_c_f, column_g_s, m.r_sense_ohm)
            return float(m.settling_coefficient * basis[0] + m.settling_offset_ps * basis[1])
        raise ConfigError(f"mode: allowed: 'integrator', 'resistor'; got {mode!r}")

    def comparator_energy_j(self, load_c_f=None):
        """Energy (J) of one comparator decision (evaluation, precharge and clock buffer) with
        ``load_c_f`` farads on each output (default: the nominal load)."""
        c = self.comparator
        load = c.load_c_f if load_c_f is None else _number("load_c_f", load_c_f, 0.0)
        basis = _comparator_energy_terms_j(self.process, load)
        return float(c.load_coefficient * basis[0] + c.fixed_energy_fj * basis[1])

    def comparator_decision_time_s(self, delta_v):
        """Decision time (s) of the comparator at the nominal load for an input difference ``delta_v`` volts."""
        c = self.comparator
        if _number("delta_v", delta_v) == 0 or abs(delta_v) > c.delta_v_max_v:
            raise ConfigError(f"delta_v: must be non-zero and at most {c.delta_v_max_v:g} V in size (characterised), "
                              f"got {delta_v!r}")
        basis = _comparator_time_terms_s(self.process, delta_v)
        return float(c.time_offset_ps * basis[0] + c.regeneration_ps * basis[1])

    def held_out_errors(self):
        """``{block.quantity: max held-out relative error}`` over every fitted law."""
        return {f"{block}.{k}": v for block in ("driver", "integrator", "sense_resistor", "comparator")
                for k, v in getattr(self, block).validation.items() if k.endswith("max_rel_error") and "_fit_" not in k}

    def to_json(self):
        data = {"format_version": FORMAT_VERSION, "ngspice_version": self.ngspice_version, "input_hash": self.input_hash,
                "process": self.process.to_dict(), "opamp": self.opamp.to_dict(),
                **{block: _sub_to_dict(getattr(self, block)) for block in ("driver", "integrator", "sense_resistor",
                                                                             "comparator")}}
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text, source="peripherals.json"):
        """Models from JSON text; any problem is one :class:`ConfigError` line naming ``source``."""
        try:
            data = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not JSON")))
        except ValueError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from None
        try:
            return cls._from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: {str(exc).splitlines()[0]}") from None

    @classmethod
    def _from_dict(cls, data):
        if not isinstance(data, dict):
            raise ConfigError(f"must hold a JSON object, got {type(data).__name__}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ConfigError(f"format_version: {version!r} is not one this memcosim reads ({FORMAT_VERSION}); "
                              "characterise the periphery again")
        missing = [k for k in ("process", "opamp", "driver", "integrator", "sense_resistor", "comparator") if k not in data]
        if missing:
            raise ConfigError(f"missing {', '.join(missing)}")
        for key in ("process", "opamp"):
            if not isinstance(data[key], dict):
                raise ConfigError(f"{key}: must be a JSON object")
        try:
            process, opamp = CmosProcess(**data["process"]), OpAmp(**data["opamp"])
        except TypeError as exc:
            raise ConfigError(f"process/opamp: {exc}") from None
        except ValueError as exc:  # NetlistError
            raise ConfigError(str(exc)) from None
        values, meta = _sub_from_dict(DriverModel, "driver", data["driver"], ("taper", "supply_min_v", "supply_max_v"))
        segments = data["driver"].get("segments", 4)
        if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
            raise ConfigError(f"driver.segments: must be an integer >= 1, got {segments!r}")
        driver = DriverModel(**values, segments=segments, **meta)
        values, meta = _sub_from_dict(IntegratorModel, "integrator", data["integrator"])
        integrator = IntegratorModel(**values, **meta)
        values, meta = _sub_from_dict(SenseResistorModel, "sense_resistor", data["sense_resistor"], ("r_sense_ohm",))
        sense = SenseResistorModel(**values, **meta)
        values, meta = _sub_from_dict(ComparatorModel, "comparator", data["comparator"], ("load_c_f", "delta_v_max_v"))
        comparator = ComparatorModel(**values, **meta)
        return cls(process, opamp, driver, integrator, sense, comparator, str(data.get("ngspice_version", "")),
                   str(data.get("input_hash", "")))

    def save(self, path):
        """Write the models as JSON atomically."""
        write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path):
        """Read a models file; one-line :class:`ConfigError` naming the file when it is unreadable or invalid."""
        return cls.from_json(read_text(path, "peripheral models file"), source=str(path))


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
        from memcosim.base.errors import SimulationError

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
    return DriverModel(*e_coef.tolist(), t_coef[0], t_coef[1], t_coef[2], taper=float(grid.taper), segments=grid.segments,
                       supply_min_v=min(supplies), supply_max_v=max(supplies), validation={**e_stats, **t_stats})


def _front_end(process, opamp, grid, cache_dir, version, timeout_s, max_rel_error, hashes):
    rows = []
    for split, points in (("fit", grid.sense_fit), ("validate", grid.sense_held_out)):
        for c, g, t, v in points:
            point = {"c": c, "g": g, "t": t, "v": v, "split": split}
            deck = integrator_deck(process, opamp, c, g, t, v)
            hashes.append(_hash(deck))

            def compute(deck=deck, t=t):
                res = _meas(deck, timeout_s, ("e_supply_j",))
                return {"energy_j": res.measurements["e_supply_j"],
                        "settle_s": settling_time_s(res.vectors["time"], res.vectors["vout#branch"], t)}

            deck_r = sense_resistor_deck(process, opamp, c, g, t, v, grid.r_sense_ohm)
            hashes.append(_hash(deck_r))

            def compute_r(deck=deck_r):
                m = _meas(deck, timeout_s, ("e_supply_j", "tset_s")).measurements
                return {"energy_j": m["e_supply_j"], "settle_s": m["tset_s"]}

            rows.append({**point, "integrator": _run(cache_dir, "integrator", deck, version, compute),
                         "resistor": _run(cache_dir, "sense_resistor", deck_r, version, compute_r)})
    split = [x["split"] for x in rows]
    ie, ie_stats = _fit("integrator", "energy", [integrator_energy_terms_j(process, opamp, x["c"], x["g"], x["t"], x["v"])
                                                 for x in rows], [x["integrator"]["energy_j"] for x in rows], split, max_rel_error)
    it, it_stats = _fit("integrator", "settling", [integrator_settling_terms_s(opamp, x["c"], x["g"], x["t"], x["v"])
                                                   for x in rows], [x["integrator"]["settle_s"] for x in rows], split,
                        max_rel_error, floor=1.0 / (2 * math.pi * opamp.gbw_hz), signed=True)
    re_, re_stats = _fit("sense_resistor", "energy", [[process.vdd_v * opamp.bias_current_a * x["t"]] for x in rows],
                         [x["resistor"]["energy_j"] for x in rows], split, max_rel_error)
    rt, rt_stats = _fit("sense_resistor", "settling", [_sense_resistor_settling_terms_s(x["c"], x["g"], grid.r_sense_ohm)
                                                       for x in rows], [x["resistor"]["settle_s"] for x in rows], split,
                        max_rel_error)
    integrator = IntegratorModel(ie[0], ie[1], it[0], it[1], it[2], validation={**ie_stats, **it_stats})
    sense = SenseResistorModel(float(grid.r_sense_ohm), re_[0], rt[0], rt[1], validation={**re_stats, **rt_stats})
    return integrator, sense


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


def characterize_peripherals(process=CmosProcess(), opamp=OpAmp(), grid=PeripheralGrid(), cache_dir=None,
                             max_rel_error=0.05, timeout_s=120.0):
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
    About 60 ngspice transients of at most a few thousand time points; 1-3 s uncached.
    """
    if not isinstance(process, CmosProcess):
        raise ConfigError(f"process: must be a CmosProcess, got {type(process).__name__}")
    if not isinstance(opamp, OpAmp):
        raise ConfigError(f"opamp: must be an OpAmp, got {type(opamp).__name__}")
    if not isinstance(grid, PeripheralGrid):
        raise ConfigError(f"grid: must be a PeripheralGrid, got {type(grid).__name__}")
    if _number("max_rel_error", max_rel_error, 0.0) == 0:
        raise ConfigError(f"max_rel_error: must be > 0, got {max_rel_error!r}")
    version = ngspice_version() or ""
    hashes = []
    args = (cache_dir, version, timeout_s, max_rel_error, hashes)
    driver = _driver(process, grid, *args)
    integrator, sense = _front_end(process, opamp, grid, *args)
    comparator = _comparator(process, grid, *args)
    return PeripheralModels(process, opamp, driver, integrator, sense, comparator, version,
                            _hash(LAW_VERSION, *sorted(hashes)))


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
