"""The fitted tile periphery as typed models: the laws, one dataclass per block, and
:class:`PeripheralModels`, which evaluates them and serialises to JSON.

The coefficients come from :func:`memcosim.circuits.peripherals.characterize_peripherals`
(ngspice sweeps of the decks of :mod:`memcosim.netlist.peripherals`). Laws (one function each,
used by the fit and by the model):

* driver energy (:func:`driver_energy_terms_j`): ``E = a C_load V^2 + b C_chain V^2 + c C_chain V g(V)``
  with ``C_chain`` the chain's own switched capacitance (:meth:`DriverChain.switched_c_f`) and
  ``g(V) = (V - V_tn - |V_tp|)^3 / (V - V_tn)^2`` the short-circuit shape (Veendrick);
* driver delay (:func:`driver_delay_terms_s`): ``t = d (N - 1) tau_stage + k_drv R_last (C_load + C_d) + k_wire R_line C_load``
  (Elmore: the ``N - 1`` inner stages, the last stage into the line and its own drain, the line);
* integrator (:func:`integrator_energy_terms_j`): ``E = a V_dd I_bias t + b V_dd Q`` with the integrated
  charge ``Q = t G V_read / (1 + G / (C_f w_u))`` (the finite gain-bandwidth's virtual-ground error);
  settling ``t = k t_1% + k0 / w_u`` with ``t_1%`` the 1 % settling of the closed loop's exact
  two-pole step response (:func:`integrator_step_current_a`, :func:`integrator_settling_terms_s`);
* sense resistor: ``E = a V_dd I_bias t``; settling ``t = k ln(100) C_col (R_s || 1/G) + t0``;
* comparator: ``E = a C_load V_dd^2 + e0`` per decision; ``t_dec = t0 + tau ln(V_dd / dV)``.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memcosim.base.atomic import write_text_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.files import read_text
from memcosim.base.typed import JsonRecord, check_number, dumps, loads
from memcosim.circuits.peripheral_laws import (_comparator_energy_terms_j, _comparator_time_terms_s,
                                               _sense_resistor_settling_terms_s, driver_delay_terms_s,
                                               driver_energy_terms_j, integrator_charge_c, integrator_energy_terms_j,
                                               integrator_settling_terms_s, integrator_step_current_a, line_load,
                                               settling_time_s)
from memcosim.netlist.peripherals import CmosProcess, OpAmp

__all__ = [
    "FORMAT_VERSION",
    "BLOCKS",
    "DriverModel",
    "IntegratorModel",
    "SenseResistorModel",
    "ComparatorModel",
    "PeripheralModels",
    "line_load",
    "settling_time_s",
    "driver_energy_terms_j",
    "driver_delay_terms_s",
    "integrator_charge_c",
    "integrator_energy_terms_j",
    "integrator_step_current_a",
    "integrator_settling_terms_s",
]

FORMAT_VERSION = 2
"""Version of the JSON layout written by :meth:`PeripheralModels.to_json` (2: optional blocks,
the Elmore driver delay and the two-pole integrator settling)."""

BLOCKS = ("driver", "integrator", "sense_resistor", "comparator")
"""The periphery's blocks, in the order they are characterised and serialised."""

# --- block models -----------------------------------------------------------------------------

_SIGNED = {"settling_coefficient", "bandwidth_coefficient", "time_offset_ps"}
"""Coefficients fitted without a sign constraint (the time laws); every other one is >= 0."""

_META = dict(default_factory=dict, compare=False, hash=False)


class _Block(JsonRecord):
    """A block's fitted model: its coefficients (``ENERGY``, ``TIME``, ``EXTRA``) finite, >= 0 unless signed."""

    ENERGY = TIME = EXTRA = ()
    BLOCK = ""

    def __post_init__(self):
        for name in self.ENERGY + self.TIME + self.EXTRA:
            check_number(f"{self.BLOCK}.{name}", getattr(self, name), -math.inf if name in _SIGNED else 0.0)


@dataclass(frozen=True)
class DriverModel(_Block):
    """A tapered line driver: energy per pulse (J) and 50 % delay to the far end (s)."""

    load_coefficient: float
    """``a``: dimensionless, on ``C_load V^2`` (1 = the line's charge and discharge)."""
    chain_coefficient: float
    """``b``: dimensionless, on ``C_chain V^2``."""
    short_circuit_coefficient: float
    """``c``: dimensionless, on ``C_chain V g(V)``."""
    stage_coefficient: float
    """``d``: dimensionless, on ``(N - 1) tau_stage``."""
    drive_coefficient: float
    """``k_drv``: dimensionless, on ``R_last (C_load + C_d,last)`` (0.69 for a lumped RC)."""
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
    TIME = ("stage_coefficient", "drive_coefficient", "wire_coefficient")
    EXTRA = ("taper", "supply_min_v", "supply_max_v")
    BLOCK = "driver"

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.segments, bool) or not isinstance(self.segments, int) or self.segments < 1:
            raise ConfigError(f"driver.segments: must be an integer >= 1, got {self.segments!r}")


@dataclass(frozen=True)
class IntegratorModel(_Block):
    """Virtual-ground column integrator: supply energy per read (J) and 1 % settling time (s)."""

    bias_coefficient: float
    """Dimensionless, on ``V_dd I_bias t``."""
    charge_coefficient: float
    """Dimensionless, on ``V_dd Q`` (1 = a class-B output stage)."""
    settling_coefficient: float
    """Dimensionless, on the two-pole response's 1 % settling time ``t_1%`` (1 = the deck's linear circuit)."""
    bandwidth_coefficient: float
    """Dimensionless, on ``1 / w_u`` (the read pulse's edge)."""
    validation: dict = field(**_META)

    ENERGY = ("bias_coefficient", "charge_coefficient")
    TIME = ("settling_coefficient", "bandwidth_coefficient")
    EXTRA = ()
    BLOCK = "integrator"


@dataclass(frozen=True)
class SenseResistorModel(_Block):
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
    EXTRA = ("r_sense_ohm",)
    BLOCK = "sense_resistor"


@dataclass(frozen=True)
class ComparatorModel(_Block):
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
    EXTRA = ("load_c_f", "delta_v_max_v")
    BLOCK = "comparator"


# --- the periphery ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PeripheralModels(JsonRecord):
    """The fitted periphery of a tile for one :class:`CmosProcess` and :class:`OpAmp`.

    A block that was not characterised is None; asking for it raises a one-line :class:`ConfigError`.
    Serialised by :class:`~memcosim.base.typed.JsonRecord` (format :data:`FORMAT_VERSION`).
    """

    FORMAT_VERSION = FORMAT_VERSION

    process: CmosProcess
    opamp: OpAmp
    driver: DriverModel | None = None
    integrator: IntegratorModel | None = None
    sense_resistor: SenseResistorModel | None = None
    comparator: ComparatorModel | None = None
    ngspice_version: str = ""
    input_hash: str = ""
    """SHA-256 of the decks simulated (and the law version)."""

    def _block(self, name):
        model = getattr(self, name)
        if model is None:
            have = ", ".join(b for b in BLOCKS if getattr(self, b) is not None) or "none"
            raise ConfigError(f"{name}: not characterised in these models of {self.process.name} (characterised: {have})")
        return model

    def driver_energy_j(self, load_c_f, load_r_ohm, v):
        """Energy (J) drawn from the driver supply ``v`` (volts, inside the characterised range) for one
        pulse that charges and discharges a line of ``load_c_f`` farads and ``load_r_ohm`` ohms.

        The energy does not depend on ``load_r_ohm`` once the pulse charges the line fully (the
        decks' pulse is 20 Elmore delays); it is validated to be so on the held-out loads.
        """
        d = self._block("driver")
        check_number("load_c_f", load_c_f, 0.0)
        check_number("load_r_ohm", load_r_ohm, 0.0)
        check_number("v", v, d.supply_min_v, d.supply_max_v)
        if load_c_f == 0:
            return 0.0
        coef = np.array([getattr(d, n) for n in d.ENERGY])
        return float(coef @ driver_energy_terms_j(self.process, d.taper, load_c_f, v))

    def driver_delay_s(self, load_c_f, load_r_ohm):
        """50 % delay (s) from the driver's input to the far end of the line at ``process.vdd_v``."""
        d = self._block("driver")
        check_number("load_c_f", load_c_f, 0.0)
        check_number("load_r_ohm", load_r_ohm, 0.0)
        if load_c_f == 0:
            return 0.0
        coef = np.array([getattr(d, n) for n in d.TIME])
        return float(coef @ driver_delay_terms_s(self.process, d.taper, load_c_f, load_r_ohm))

    def _read(self, mode, column_c_f, column_g_s, read_time_s, v_read):
        """The front end of ``mode`` after the read arguments are checked."""
        check_number("column_c_f", column_c_f, 0.0)
        for name, value in (("column_g_s", column_g_s), ("read_time_s", read_time_s), ("v_read", v_read)):
            if check_number(name, value, 0.0) == 0:
                raise ConfigError(f"{name}: must be > 0, got {value!r}")
        if mode not in ("integrator", "resistor"):
            raise ConfigError(f"mode: allowed: 'integrator', 'resistor'; got {mode!r}")
        return self._block("integrator" if mode == "integrator" else "sense_resistor")

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
        m = self._read(mode, column_c_f, column_g_s, read_time_s, v_read)
        if mode == "integrator":
            basis = integrator_energy_terms_j(self.process, self.opamp, column_c_f, column_g_s, read_time_s, v_read)
            return float(m.bias_coefficient * basis[0] + m.charge_coefficient * basis[1])
        return float(m.bias_coefficient * self.process.vdd_v * self.opamp.bias_current_a * read_time_s)

    def sense_time_s(self, column_c_f, column_g_s, read_time_s, v_read, mode="integrator"):
        """Time (s) after the read starts until the column current (integrator) or voltage (resistor)
        stays within 1 % of its value at the end of the read; the read time should exceed it."""
        m = self._read(mode, column_c_f, column_g_s, read_time_s, v_read)
        if mode == "integrator":
            basis = integrator_settling_terms_s(self.opamp, column_c_f, column_g_s, read_time_s, v_read)
            return float(m.settling_coefficient * basis[0] + m.bandwidth_coefficient * basis[1])
        basis = _sense_resistor_settling_terms_s(column_c_f, column_g_s, m.r_sense_ohm)
        return float(m.settling_coefficient * basis[0] + m.settling_offset_ps * basis[1])

    def comparator_energy_j(self, load_c_f=None):
        """Energy (J) of one comparator decision (evaluation, precharge and clock buffer) with
        ``load_c_f`` farads on each output (default: the nominal load)."""
        c = self._block("comparator")
        load = c.load_c_f if load_c_f is None else check_number("load_c_f", load_c_f, 0.0)
        basis = _comparator_energy_terms_j(self.process, load)
        return float(c.load_coefficient * basis[0] + c.fixed_energy_fj * basis[1])

    def comparator_decision_time_s(self, delta_v):
        """Decision time (s) of the comparator at the nominal load for an input difference ``delta_v`` volts."""
        c = self._block("comparator")
        if check_number("delta_v", delta_v) == 0 or abs(delta_v) > c.delta_v_max_v:
            raise ConfigError(f"delta_v: must be non-zero and at most {c.delta_v_max_v:g} V in size (characterised), "
                              f"got {delta_v!r}")
        basis = _comparator_time_terms_s(self.process, delta_v)
        return float(c.time_offset_ps * basis[0] + c.regeneration_ps * basis[1])

    def held_out_errors(self):
        """``{block.quantity: max held-out relative error}`` over every fitted law of the characterised blocks."""
        return {f"{block}.{k}": v for block in BLOCKS if getattr(self, block) is not None
                for k, v in getattr(self, block).validation.items() if k.endswith("max_rel_error") and "_fit_" not in k}

    def save(self, path):
        """Write the models as JSON atomically."""
        write_text_atomic(Path(path), dumps(self))

    @classmethod
    def load(cls, path):
        """Read a models file; one-line :class:`ConfigError` naming the file when it is unreadable or invalid."""
        return loads(cls, read_text(path, "peripheral models file"), str(path), "peripheral models file")
