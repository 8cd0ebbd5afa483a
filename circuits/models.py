"""Typed circuit models: what characterisation hands to training (``models.json``).

Each model is a frozen dataclass with named fields, read by name (never by position), and
serialises to JSON with a format version:

* :class:`WriteEnergyModel` — energy of one write pulse, ``sum_k c_k B_k`` over the named
  physical basis terms of :mod:`memcosim.circuits.energy_models` (``coefficients`` maps each
  term name to its fitted coefficient);
* :class:`ReadEnergyModel` — energy of a read, ``coefficient * t sum_i V_i^2 sum_j g_ij``;
* :class:`IRDropModel` — the first-order line-loading IR-drop coefficients ``a`` (driver) and
  ``b`` (wires);
* :class:`CircuitModels` — the three together with the device and ngspice version they were
  fitted for, and, when characterised, the energy of a row operation (row-parallel programming)
  and of one slot of a parallel stochastic update (:attr:`WriteEnergyModel.operation`);
  ``save``/``load`` read and write ``models.json``.

Format 1 (``models.json`` written before the format was versioned: coefficients as a list beside
a list of term names), format 2 (no row-operation or slot models) and format 3 (no
``r_wire_ohm``: line charging through the drivers only, as those models were fitted) are
migrated on load; any other unknown format is refused with a clear error.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from memcosim.base.atomic import write_text_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.files import read_text
from memcosim.base.typed import JsonRecord, check_number, dumps, loads
from memcosim.circuits import energy_models

__all__ = ["FORMAT_VERSION", "WriteEnergyModel", "ReadEnergyModel", "IRDropModel", "CircuitModels"]

FORMAT_VERSION = 4
"""Version of the ``models.json`` layout written by :meth:`CircuitModels.to_json`."""

_META = dict(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class WriteEnergyModel(JsonRecord):
    """Energy of one write pulse of the characterised array, ``E = sum_k c_k B_k`` (joules).

    The basis terms ``B_k`` are :func:`memcosim.circuits.energy_models.write_energy_terms`;
    ``c_k`` are dimensionless fitted coefficients (1 = the ideal physics of that mechanism).
    """

    CONSTANTS = {"form": "E = sum(coefficients[term] * basis[term]); see memcosim.circuits.energy_models"}

    device_kind: str
    """``hzo`` or ``mtj``: decides the term set."""
    coefficients: dict[str, float]
    """Term name -> fitted coefficient (dimensionless, >= 0)."""
    scheme: str = "v_half"
    """Write bias scheme of the decks: ``v_half`` or ``v_third`` (a stochastic slot is always +-V/2)."""
    c_wire_f: float = 0.0
    """Wire segment capacitance of the decks, farads."""
    r_driver_ohm: float = 100.0
    """Row driver resistance of the decks, ohms."""
    r_wire_ohm: float = 0.0
    """Wire segment resistance of the decks, ohms (line charging through the distributed wires;
    0 in models of format 3 and earlier, whose line charging went through the drivers only)."""
    operation: str = "cell"
    """What one modelled event is: ``cell`` (one serial single-cell write), ``row`` (one row
    operation: ``driven_cols`` cells of a row pulsed at once) or ``slot`` (one time slot of a
    parallel stochastic update: ``driven_rows`` x ``driven_cols`` coincidences)."""
    grid: dict = field(**_META)
    deck_hashes: tuple[str, ...] = field(default=(), compare=False, hash=False)
    validation: dict = field(**_META)
    """Held-out error of the fit (``max_rel_error``, ``mean_rel_error``, ...)."""

    def __post_init__(self):
        if self.device_kind not in ("hzo", "mtj"):
            raise ConfigError(f"write_energy.device_kind: allowed: 'hzo', 'mtj'; got {self.device_kind!r}")
        if self.scheme not in ("v_half", "v_third"):
            raise ConfigError(f"write_energy.scheme: allowed: 'v_half', 'v_third'; got {self.scheme!r}")
        if self.operation not in energy_models.OPERATIONS:
            raise ConfigError(f"write_energy.operation: allowed: {', '.join(energy_models.OPERATIONS)}; got {self.operation!r}")
        terms = energy_models.write_terms(self.device_kind)
        if not isinstance(self.coefficients, dict) or set(self.coefficients) != set(terms):
            given = sorted(self.coefficients) if isinstance(self.coefficients, dict) else self.coefficients
            raise ConfigError(f"write_energy.coefficients: needs exactly the terms {terms}, got {given}")
        for name, value in self.coefficients.items():
            check_number(f"write_energy.coefficients.{name}", value, 0.0)
        for name in ("c_wire_f", "r_driver_ohm", "r_wire_ohm"):
            check_number(f"write_energy.{name}", getattr(self, name), 0.0)

    def coefficient(self, term):
        """The fitted coefficient of basis term ``term`` (a name of :func:`energy_models.write_terms`)."""
        if term not in self.coefficients:
            raise ConfigError(f"write_energy: no term {term!r}; terms: {', '.join(self.coefficients)}")
        return float(self.coefficients[term])

    def terms_j(self, params, amplitude_v, width_s, x0, rows, cols, driven_rows=1, driven_cols=1):
        """Energy of each mechanism (term name -> joules) of one event from normalised state ``x0``.

        ``driven_rows``/``driven_cols``: the lines a row operation (1 row, ``driven_cols``
        columns) or a stochastic slot drives; ignored for ``operation = "cell"``.
        """
        if self.operation == "cell":
            basis = energy_models.write_energy_terms(params, amplitude_v, width_s, x0, rows, cols, self.c_wire_f,
                                                     self.scheme, self.r_driver_ohm, self.r_wire_ohm)
        else:
            v_rows, v_cols = energy_models.operation_line_voltages_v(self.operation, amplitude_v, rows, cols, driven_rows,
                                                                     driven_cols, self.scheme)
            basis = energy_models.line_pulse_energy_terms(params, v_rows, v_cols, width_s, x0, self.c_wire_f,
                                                          self.r_driver_ohm, self.r_wire_ohm)
        return {name: self.coefficients[name] * value for name, value in basis.items()}

    def terms_many_j(self, params, amplitude_v, width_s, x0, rows, cols, driven_rows, driven_cols):
        """:meth:`terms_j` of a row operation or slot at each pair of ``driven_rows`` and ``driven_cols``
        (sequences of equal length): ``{term: ndarray}`` joules, the same numbers, solved together."""
        if self.operation == "cell":
            raise ConfigError("terms_many_j: a cell model has no driven-line counts; use terms_j")
        if len(driven_rows) == 0 or len(driven_rows) != len(driven_cols):
            raise ConfigError(f"terms_many_j: driven_rows and driven_cols must give the same number (>= 1) of "
                              f"pulses; got {len(driven_rows)} and {len(driven_cols)}")
        lines = [energy_models.operation_line_voltages_v(self.operation, amplitude_v, rows, cols, int(k), int(m),
                                                         self.scheme) for k, m in zip(driven_rows, driven_cols)]
        basis = energy_models.line_pulse_energy_terms_many(params, np.array([r for r, _ in lines]),
                                                           np.array([c for _, c in lines]), width_s, x0, self.c_wire_f,
                                                           self.r_driver_ohm, self.r_wire_ohm)
        return {name: self.coefficients[name] * values for name, values in basis.items()}

    def energy_j(self, params, amplitude_v, width_s, x0, rows, cols, driven_rows=1, driven_cols=1):
        """Energy of one event (J) of ``amplitude_v`` and ``width_s`` on a ``rows x cols`` array."""
        return float(sum(self.terms_j(params, amplitude_v, width_s, x0, rows, cols, driven_rows, driven_cols).values()))


@dataclass(frozen=True)
class ReadEnergyModel(JsonRecord):
    """Energy of reads, ``coefficient * t * sum_i V_i^2 sum_j g_ij`` (joules).

    ``coefficient = 1`` is the ideal DC law (:func:`energy_models.read_energy_basis`); the
    fitted coefficient carries what the wires and drivers change.
    """

    CONSTANTS = {"form": "E = coefficient * t_read * sum_i V_i^2 sum_j g_ij"}

    coefficient: float = 1.0
    """Fitted coefficient of the read-energy law (dimensionless)."""
    read_width_s: float = 1e-8
    """Read pulse width the model was fitted at, seconds."""
    grid: dict = field(**_META)
    deck_hashes: tuple[str, ...] = field(default=(), compare=False, hash=False)
    validation: dict = field(**_META)

    def __post_init__(self):
        check_number("read_energy.coefficient", self.coefficient, 0.0)
        check_number("read_energy.read_width_s", self.read_width_s, 0.0)

    def energy_j(self, conductance_s, input_v, read_width_s):
        """Energy of reads of an array (rows x cols conductances, siemens) with row voltages ``input_v``.

        Accepts numpy arrays (returns a float) or torch tensors (returns a 0-d tensor), as
        :func:`energy_models.read_energy_basis`.
        """
        return self.coefficient * energy_models.read_energy_basis(conductance_s, input_v, read_width_s)


@dataclass(frozen=True)
class IRDropModel(JsonRecord):
    """First-order line-loading IR-drop: ``I_j = sum_i g_ij (V_i - a dV_drv_i - b (dV_row_ij + dV_col_ij))``."""

    CONSTANTS = {"form": "I_j = sum_i g_ij (V_i - a dV_driver_i - b (dV_row_ij + dV_col_ij)), first-order line loading"}

    a: float
    """Coefficient of the driver drop (dimensionless; 1 = the first-order law)."""
    b: float
    """Coefficient of the wire drops (dimensionless)."""
    grid: dict = field(**_META)
    validation: dict = field(**_META)

    def __post_init__(self):
        check_number("ir_drop.a", self.a, 0.0)
        check_number("ir_drop.b", self.b, 0.0)

    def column_currents_a(self, conductance_s, input_v, r_wire_ohm, r_driver_ohm):
        """Column currents (A) of one read (numpy), :func:`energy_models.ir_drop_currents`."""
        return energy_models.ir_drop_currents(conductance_s, input_v, r_wire_ohm, r_driver_ohm, self.a, self.b)


@dataclass(frozen=True)
class CircuitModels(JsonRecord):
    """The fitted models of one characterised array (``models.json``)."""

    FORMAT_VERSION = FORMAT_VERSION
    READS_VERSIONS = (1, 2, 3)
    UNVERSIONED = 1

    device_kind: str
    """``hzo`` or ``mtj``."""
    device: dict
    """The device parameters characterised (``HZOParams.to_dict()`` / ``MTJParams.to_dict()``)."""
    write_energy: WriteEnergyModel
    read_energy: ReadEnergyModel
    ir_drop: IRDropModel
    ngspice_version: str = ""
    row_energy: WriteEnergyModel | None = None
    """Energy of one row operation (``operation = "row"``), or None when not characterised."""
    slot_energy: WriteEnergyModel | None = None
    """Energy of one stochastic-update slot (``operation = "slot"``), or None when not characterised."""

    def __post_init__(self):
        for name, operation in (("write_energy", "cell"), ("row_energy", "row"), ("slot_energy", "slot")):
            model = getattr(self, name)
            if model is None:
                continue
            if model.device_kind != self.device_kind:
                raise ConfigError(f"models: {name}.device_kind {model.device_kind!r} does not match device_kind "
                                  f"{self.device_kind!r}")
            if model.operation != operation:
                raise ConfigError(f"models: {name}.operation must be {operation!r}, got {model.operation!r}")

    @classmethod
    def migrate(cls, data, version, source, error):
        """Formats 1 to 3 as format 4 (module docstring): format 1's coefficient list by term name;
        the fit's extra numbers that formats up to 3 kept beside ``read_energy`` and ``ir_drop``
        moved into their ``validation``."""
        if version == 1:
            data = _migrate_v1(data, source)
        for name, known in (("read_energy", ("form", "coefficient", "read_width_s", "grid", "deck_hashes", "validation")),
                            ("ir_drop", ("form", "a", "b", "grid", "validation"))):
            block = data.get(name)
            if isinstance(block, dict) and isinstance(block.get("validation", {}), dict):
                extra = {k: v for k, v in block.items() if k not in known}
                kept = {k: v for k, v in block.items() if k in known}
                data = {**data, name: {**kept, "validation": {**block.get("validation", {}), **extra}}}
        return data

    def save(self, path):
        """Write ``models.json`` atomically."""
        write_text_atomic(Path(path), dumps(self))

    @classmethod
    def load(cls, path):
        """Read ``models.json``; one-line :class:`ConfigError` naming the file when it is unreadable or invalid."""
        return loads(cls, read_text(path, "circuit models file"), str(path), "circuit models file")


def _migrate_v1(data, source):
    """Format 1: ``write_energy.coefficients`` a list in the order of ``write_energy.terms``."""
    write = data.get("write_energy")
    terms, coefficients = (write.get("terms"), write.get("coefficients")) if isinstance(write, dict) else (None, None)
    if not (isinstance(terms, list) and isinstance(coefficients, list) and len(terms) == len(coefficients)):
        raise ConfigError(f"{source}: write_energy: format 1 needs lists 'terms' and 'coefficients' of equal length")
    migrated = {k: v for k, v in write.items() if k != "terms"}
    migrated["coefficients"] = dict(zip(terms, coefficients))
    return {**data, "write_energy": migrated}
