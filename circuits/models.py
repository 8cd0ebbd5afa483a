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

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from memcosim.base.atomic import write_text_atomic
from memcosim.base.errors import ConfigError
from memcosim.base.files import parse_json, read_text
from memcosim.circuits import energy_models

__all__ = ["FORMAT_VERSION", "WriteEnergyModel", "ReadEnergyModel", "IRDropModel", "CircuitModels"]

FORMAT_VERSION = 4
"""Version of the ``models.json`` layout written by :meth:`CircuitModels.to_json`."""

_META = dict(default_factory=dict, compare=False, hash=False)


def _number(where, value, low=-math.inf):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < low:
        bound = "a finite number" if low == -math.inf else f"a finite number >= {low:g}"
        raise ConfigError(f"{where}: must be {bound}, got {value!r}")
    return float(value)


def _table(where, data, keys):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a JSON object, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)}")
    return data


@dataclass(frozen=True)
class WriteEnergyModel:
    """Energy of one write pulse of the characterised array, ``E = sum_k c_k B_k`` (joules).

    The basis terms ``B_k`` are :func:`memcosim.circuits.energy_models.write_energy_terms`;
    ``c_k`` are dimensionless fitted coefficients (1 = the ideal physics of that mechanism).
    """

    device_kind: str
    """``hzo`` or ``mtj``: decides the term set."""
    coefficients: dict
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
    deck_hashes: tuple = field(default=(), compare=False, hash=False)
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
            _number(f"write_energy.coefficients.{name}", value, 0.0)
        _number("write_energy.c_wire_f", self.c_wire_f, 0.0)
        _number("write_energy.r_driver_ohm", self.r_driver_ohm, 0.0)
        _number("write_energy.r_wire_ohm", self.r_wire_ohm, 0.0)

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

    def energy_j(self, params, amplitude_v, width_s, x0, rows, cols, driven_rows=1, driven_cols=1):
        """Energy of one event (J) of ``amplitude_v`` and ``width_s`` on a ``rows x cols`` array."""
        return float(sum(self.terms_j(params, amplitude_v, width_s, x0, rows, cols, driven_rows, driven_cols).values()))

    def to_dict(self):
        return {"form": "E = sum(coefficients[term] * basis[term]); see memcosim.circuits.energy_models",
                "device_kind": self.device_kind, "coefficients": dict(self.coefficients), "scheme": self.scheme,
                "operation": self.operation,
                "c_wire_f": self.c_wire_f, "r_driver_ohm": self.r_driver_ohm, "r_wire_ohm": self.r_wire_ohm,
                "grid": self.grid,
                "deck_hashes": list(self.deck_hashes), "validation": self.validation}

    @classmethod
    def from_dict(cls, data):
        data = _table("write_energy", data, ("device_kind", "coefficients", "scheme", "c_wire_f", "r_driver_ohm"))
        return cls(device_kind=data["device_kind"], coefficients=dict(data["coefficients"]), scheme=data["scheme"],
                   operation=data.get("operation", "cell"), c_wire_f=data["c_wire_f"], r_driver_ohm=data["r_driver_ohm"],
                   r_wire_ohm=data.get("r_wire_ohm", 0.0), grid=data.get("grid", {}),
                   deck_hashes=tuple(data.get("deck_hashes", ())), validation=data.get("validation", {}))


@dataclass(frozen=True)
class ReadEnergyModel:
    """Energy of reads, ``coefficient * t * sum_i V_i^2 sum_j g_ij`` (joules).

    ``coefficient = 1`` is the ideal DC law (:func:`energy_models.read_energy_basis`); the
    fitted coefficient carries what the wires and drivers change.
    """

    coefficient: float = 1.0
    """Fitted coefficient of the read-energy law (dimensionless)."""
    read_width_s: float = 1e-8
    """Read pulse width the model was fitted at, seconds."""
    grid: dict = field(**_META)
    deck_hashes: tuple = field(default=(), compare=False, hash=False)
    validation: dict = field(**_META)

    def __post_init__(self):
        _number("read_energy.coefficient", self.coefficient, 0.0)
        _number("read_energy.read_width_s", self.read_width_s, 0.0)

    def energy_j(self, conductance_s, input_v, read_width_s):
        """Energy of reads of an array (rows x cols conductances, siemens) with row voltages ``input_v``.

        Accepts numpy arrays (returns a float) or torch tensors (returns a 0-d tensor), as
        :func:`energy_models.read_energy_basis`.
        """
        return self.coefficient * energy_models.read_energy_basis(conductance_s, input_v, read_width_s)

    def to_dict(self):
        return {"form": "E = coefficient * t_read * sum_i V_i^2 sum_j g_ij", "coefficient": self.coefficient,
                "read_width_s": self.read_width_s, "grid": self.grid, "deck_hashes": list(self.deck_hashes),
                "validation": self.validation}

    @classmethod
    def from_dict(cls, data):
        data = _table("read_energy", data, ("coefficient", "read_width_s"))
        extra = {k: v for k, v in data.items() if k not in ("form", "coefficient", "read_width_s", "grid", "deck_hashes",
                                                              "validation")}
        return cls(coefficient=data["coefficient"], read_width_s=data["read_width_s"], grid=data.get("grid", {}),
                   deck_hashes=tuple(data.get("deck_hashes", ())), validation={**data.get("validation", {}), **extra})


@dataclass(frozen=True)
class IRDropModel:
    """First-order line-loading IR-drop: ``I_j = sum_i g_ij (V_i - a dV_drv_i - b (dV_row_ij + dV_col_ij))``."""

    a: float
    """Coefficient of the driver drop (dimensionless; 1 = the first-order law)."""
    b: float
    """Coefficient of the wire drops (dimensionless)."""
    grid: dict = field(**_META)
    validation: dict = field(**_META)

    def __post_init__(self):
        _number("ir_drop.a", self.a, 0.0)
        _number("ir_drop.b", self.b, 0.0)

    def column_currents_a(self, conductance_s, input_v, r_wire_ohm, r_driver_ohm):
        """Column currents (A) of one read (numpy), :func:`energy_models.ir_drop_currents`."""
        return energy_models.ir_drop_currents(conductance_s, input_v, r_wire_ohm, r_driver_ohm, self.a, self.b)

    def to_dict(self):
        return {"form": "I_j = sum_i g_ij (V_i - a dV_driver_i - b (dV_row_ij + dV_col_ij)), first-order line loading",
                "a": self.a, "b": self.b, "grid": self.grid, "validation": self.validation}

    @classmethod
    def from_dict(cls, data):
        data = _table("ir_drop", data, ("a", "b"))
        extra = {k: v for k, v in data.items() if k not in ("form", "a", "b", "grid", "validation")}
        return cls(a=data["a"], b=data["b"], grid=data.get("grid", {}), validation={**data.get("validation", {}), **extra})


@dataclass(frozen=True)
class CircuitModels:
    """The fitted models of one characterised array (``models.json``)."""

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

    def to_json(self):
        data = {"format_version": FORMAT_VERSION, "ngspice_version": self.ngspice_version, "device_kind": self.device_kind,
                "device": self.device, "write_energy": self.write_energy.to_dict(),
                "read_energy": self.read_energy.to_dict(), "ir_drop": self.ir_drop.to_dict(),
                "row_energy": None if self.row_energy is None else self.row_energy.to_dict(),
                "slot_energy": None if self.slot_energy is None else self.slot_energy.to_dict()}
        return json.dumps(data, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text, source="models.json"):
        """Models from JSON text; format 1 is migrated, anything else refused naming ``source``."""
        data = parse_json(text, source, "circuit models file", expect=None)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_dict(cls, data):
        data = _table("models", data, ("device_kind", "device", "write_energy", "read_energy", "ir_drop"))
        version = data.get("format_version", 1)
        if version == 1:
            data = _migrate_v1(data)
        elif version not in (2, 3, FORMAT_VERSION):
            raise ConfigError(f"format_version: {version!r} is not one this memcosim reads (1 to {FORMAT_VERSION}); "
                              "characterise the array again")
        optional = {name: None if data.get(name) is None else WriteEnergyModel.from_dict(data[name])
                    for name in ("row_energy", "slot_energy")}
        return cls(device_kind=data["device_kind"], device=data["device"],
                   write_energy=WriteEnergyModel.from_dict(data["write_energy"]),
                   read_energy=ReadEnergyModel.from_dict(data["read_energy"]),
                   ir_drop=IRDropModel.from_dict(data["ir_drop"]), ngspice_version=str(data.get("ngspice_version", "")),
                   **optional)

    def save(self, path):
        """Write ``models.json`` atomically."""
        write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path):
        """Read ``models.json``; one-line :class:`ConfigError` naming the file when it is unreadable or invalid."""
        return cls.from_json(read_text(path, "circuit models file"), source=str(path))


def _migrate_v1(data):
    """Format 1: ``write_energy.coefficients`` a list in the order of ``write_energy.terms``."""
    write = _table("write_energy", data["write_energy"], ("terms", "coefficients"))
    terms, coefficients = write["terms"], write["coefficients"]
    if not (isinstance(terms, list) and isinstance(coefficients, list) and len(terms) == len(coefficients)):
        raise ConfigError("write_energy: format 1 needs lists 'terms' and 'coefficients' of equal length")
    migrated = {k: v for k, v in write.items() if k != "terms"}
    migrated["coefficients"] = dict(zip(terms, coefficients))
    return {**data, "write_energy": migrated}
