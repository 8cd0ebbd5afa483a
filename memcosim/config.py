"""Study files: one TOML schema for a whole memcosim study.

A study has a ``name``, a ``seed`` and six sections: ``device``, ``array``, ``circuit``,
``training``, ``sweep`` and ``output``. Every quantity carries its SI unit in its key name.
Validation uses pydantic v2 (typed fields, ranges, unknown keys refused) and every failure
becomes one :class:`~memcosim.base.errors.ConfigError` line naming the field path, the value given
and the allowed values::

    array.rows = -4: must be >= 1; allowed range [1, 4096]
    device.pulse_widht_s: unknown key; did you mean 'pulse_width_s'?

Examples
--------
>>> study = parse_study({"name": "demo", "array": {"rows": 8, "cols": 8}})
>>> study.array.rows, study.device.kind
(8, 'hzo')
"""

import difflib
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from memcosim.base.errors import ConfigError

__all__ = [
    "DeviceSection",
    "ArraySection",
    "CircuitSection",
    "TrainingSection",
    "OutputSection",
    "Study",
    "parse_study",
    "load_study",
    "sweep_points",
    "study_output_dir",
]

_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"

PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DeviceSection(_Section):
    """Which device sits in every cell, and how it is pulsed and read."""

    kind: Literal["hzo", "mtj"] = "hzo"
    """Device family: ferroelectric HfO2-ZrO2 synapse or magnetic tunnel junction."""
    preset: Annotated[str, Field(pattern=_NAME_PATTERN)] = "default"
    """Built-in parameter set of the family (``default``: the calibrated LBE247 HZO device)."""
    parameters_file: str | None = None
    """A ``device.json`` written by ``memcosim calibrate``; overrides ``preset``."""
    calibrate_from: list[str] = []
    """Measured files (plain CSV or LBE247 sweeps) that ``memcosim run`` calibrates the device
    from first (into ``DIR/calibrate/device.json``); overrides ``preset`` and ``parameters_file``."""
    pulse_amplitude_v: Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)] = 3.0
    """Magnitude of a programming pulse at the cell, volts."""
    pulse_width_s: Annotated[float, Field(ge=1e-9, le=1e-2, allow_inf_nan=False)] = 2e-6
    """Programming pulse width, seconds (the HZO seed study spans 20 ns to 0.2 ms)."""
    read_voltage_v: Annotated[float, Field(gt=0.0, le=2.0, allow_inf_nan=False)] = 0.1
    """Read voltage across a cell, volts."""
    device_to_device_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Relative device-to-device spread of the device parameters (lognormal sigma)."""
    cycle_to_cycle_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Relative cycle-to-cycle noise of each programming step."""
    short_rate: Rate = 0.0
    """Fraction of cells shorted (MTJ)."""
    open_rate: Rate = 0.0
    """Fraction of cells open (MTJ)."""
    stuck_p_rate: Rate = 0.0
    """Fraction of cells stuck in the parallel state (MTJ)."""
    stuck_ap_rate: Rate = 0.0
    """Fraction of cells stuck in the antiparallel state (MTJ)."""

    @model_validator(mode="after")
    def _defect_rates_sum(self):
        total = self.short_rate + self.open_rate + self.stuck_p_rate + self.stuck_ap_rate
        if total > 1.0:
            raise ValueError(
                f"short_rate + open_rate + stuck_p_rate + stuck_ap_rate = {total:g}; "
                "allowed range [0, 1]"
            )
        return self


class ArraySection(_Section):
    """Crossbar geometry and its parasitics."""

    rows: Annotated[int, Field(ge=1, le=4096)] = 32
    """Word lines (inputs)."""
    cols: Annotated[int, Field(ge=1, le=4096)] = 32
    """Bit lines (outputs)."""
    r_wire_ohm: Annotated[float, Field(ge=0.0, le=1e6, allow_inf_nan=False)] = 1.0
    """Wire resistance of one segment between neighbouring cells, ohms."""
    c_wire_f: Annotated[float, Field(ge=0.0, le=1e-9, allow_inf_nan=False)] = 0.0
    """Wire capacitance of one segment to ground, farads (transients only)."""
    r_driver_ohm: Annotated[float, Field(ge=0.0, le=1e9, allow_inf_nan=False)] = 100.0
    """Output resistance of each row driver, ohms."""
    sense: Literal["virtual_ground", "resistor"] = "virtual_ground"
    """Column read-out: transimpedance virtual ground or a sense resistor to ground."""
    r_sense_ohm: Annotated[float, Field(gt=0.0, le=1e9, allow_inf_nan=False)] = 1000.0
    """Sense resistance when ``sense = "resistor"``, ohms."""
    access_transistor: bool = False
    """One access MOSFET per cell (1T1R), gate driven per row."""
    access_gate_v: Annotated[float, Field(gt=0.4, le=5.0, allow_inf_nan=False)] = 1.2
    """Word-line (gate) voltage of a selected row's access transistors, volts (threshold 0.4 V).
    Lowering it towards the threshold turns the transistor into a current limiter."""
    access_width_m: Annotated[float, Field(gt=0.0, le=1e-4, allow_inf_nan=False)] = 200e-9
    """Channel width of the access transistors, metres (length 50 nm)."""


class CircuitSection(_Section):
    """How circuits are simulated."""

    engine: Literal["native", "ngspice"] = "native"
    """Engine for DC solves: the native nodal solver or ngspice."""
    write_scheme: Literal["v_half", "v_third"] = "v_half"
    """Biasing of unselected lines during a write."""
    read_pulse_width_s: Annotated[float, Field(ge=1e-10, le=1e-3, allow_inf_nan=False)] = 1e-8
    """Duration of one read (matrix-vector multiply) pulse, seconds."""
    timeout_s: Annotated[float, Field(gt=0.0, le=86400.0, allow_inf_nan=False)] = 600.0
    """Wall-clock limit of one ngspice run, seconds."""
    sense_clamp_a: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    """Column current limit of the sense amplifiers, amperes (None: unclamped)."""
    sense_offset_a: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """MTJ die study: input-referred offset (Gaussian sigma) of each comparator, amperes."""
    energy_model: Literal["circuit", "device"] = "circuit"
    """Training energy: ``circuit`` characterises the array with ngspice (cached) and costs every
    pulse and read with the fitted models; ``device`` uses device-level energy only (no ngspice)."""


class TrainingSection(_Section):
    """The network, data and update rule."""

    dataset: Literal["digits", "mnist"] = "digits"
    """``digits``: scikit-learn's bundled 8x8 digits; ``mnist``: IDX files in ``data_dir``."""
    data_dir: str | None = None
    """Directory with the MNIST IDX files (plain or .gz)."""
    hidden_sizes: Annotated[list[Annotated[int, Field(ge=1, le=65536)]], Field(max_length=16)] = [
        32
    ]
    """Widths of the hidden layers of the MLP."""
    epochs: Annotated[int, Field(ge=1, le=10000)] = 3
    """Training epochs."""
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    """Minibatch size."""
    learning_rate: Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)] = 0.1
    """SGD learning rate."""
    algorithm: Literal["float", "sgd", "mixed_precision", "symmetry_shift"] = "mixed_precision"
    """Update rule: floating point, analog SGD, mixed-precision SGD, symmetry-point shifting."""
    pulse_mode: Literal["stochastic", "deterministic"] = "stochastic"
    """How analog SGD turns a gradient step into pulses."""
    target_accuracy: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.95
    """Test accuracy that defines 'epochs to converge'."""
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    """Activation between the MLP's layers."""
    weight_mapping: Literal["reference", "differential"] = "reference"
    """A weight is one device against a reference device, or a differential pair G+ - G-."""
    max_pulses: Annotated[int, Field(ge=1, le=1000000)] = 31
    """Most pulses one device receives in one update."""
    bit_length: Annotated[int, Field(ge=1, le=1024)] = 31
    """Stochastic pulse trains: bits per update."""
    weight_scaling_omega: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.6
    """The largest initial |weight| maps to this fraction of the weight range."""
    read_noise_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Gaussian read noise, relative to a column's full-scale output."""
    forward: Literal["model", "exact"] = "model"
    """Forward reads: fitted IR-drop model, or native circuit solve of every tile (slow). MTJ die study:
    ``exact`` evaluates every die with the exact nodal solve of its tiles (training stays first-order)."""
    device: Literal["cpu", "cuda"] = "cpu"
    """torch device for training."""
    dies: Annotated[int, Field(ge=1, le=10000)] = 36
    """MTJ die study: number of dies (each a defect map and variation drawn from the seed)."""
    die_modes: list[Literal["ideal", "hardware_aware", "statistics_aware"]] = ["ideal", "hardware_aware", "statistics_aware"]
    """MTJ die study: training modes to run."""
    hardware_aware_epochs: Annotated[int, Field(ge=1, le=1000)] = 1
    """MTJ die study: epochs of per-die fine-tuning (from the ideal network) in hardware_aware mode."""
    input_pool: Annotated[int, Field(ge=1, le=7)] = 2
    """MTJ die study: MNIST is average-pooled this factor per side, then binarised (2: 196 inputs)."""
    die_recalibration_inputs: Annotated[int, Field(ge=0, le=60000)] = 0
    """MTJ die study: also report ideal and statistics-aware networks after a per-die comparator
    threshold trim measured from this many unlabeled inputs (0: off)."""
    input_threshold: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 0.25
    """MTJ die study: a pooled pixel (0..1) above this drives its row at the read voltage."""


class OutputSection(_Section):
    """Where results go."""

    dir: str | None = None
    """Output directory; default ``out/<study name>``."""
    plots: bool = True
    """Write PNG plots."""


class Study(_Section):
    """A whole study: one seed, the sections, and an optional sweep."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)] = "study"
    """Study name: a letter, then letters, digits, ``_ . -`` (at most 64)."""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    """The one seed every random stream of the study derives from."""
    device: DeviceSection = DeviceSection()
    array: ArraySection = ArraySection()
    circuit: CircuitSection = CircuitSection()
    training: TrainingSection = TrainingSection()
    sweep: dict[str, list[Any]] = {}
    """Field path (``"device.pulse_width_s"``) -> list of values; expands to a grid of runs."""
    output: OutputSection = OutputSection()

    @field_validator("sweep", mode="before")
    @classmethod
    def _flatten_sweep(cls, value):
        if not isinstance(value, dict):
            return value
        flat = {}
        for key, item in value.items():
            if isinstance(item, dict):  # [sweep.device] pulse_width_s = [...]
                for sub, values in item.items():
                    flat[f"{key}.{sub}"] = values
            else:
                flat[key] = item
        return flat

    @model_validator(mode="after")
    def _check_sweep(self):
        for path, values in self.sweep.items():
            _field_at(path)  # raises on an unknown path
            if len(values) == 0:
                raise ValueError(f"sweep.{path}: needs at least one value")
            for value in values:
                _with_value(self, path, value, check_sweep=False)
        return self


_SECTIONS = {
    "device": DeviceSection,
    "array": ArraySection,
    "circuit": CircuitSection,
    "training": TrainingSection,
    "output": OutputSection,
}


def _field_at(path):
    """The (model, field name) a dotted sweep path names; ValueError naming it otherwise."""
    parts = path.split(".")
    if len(parts) == 1 and parts[0] in ("seed",):
        return Study, parts[0]
    if len(parts) != 2 or parts[0] not in _SECTIONS:
        choices = ["seed"] + [f"{s}.{f}" for s, m in _SECTIONS.items() for f in m.model_fields]
        hint = difflib.get_close_matches(path, choices, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ValueError(f"sweep.{path}: not a study field{extra}")
    model = _SECTIONS[parts[0]]
    if parts[1] not in model.model_fields:
        hint = difflib.get_close_matches(parts[1], list(model.model_fields), n=1)
        extra = f"; did you mean '{parts[0]}.{hint[0]}'?" if hint else ""
        raise ValueError(f"sweep.{path}: not a study field{extra}")
    return model, parts[1]


def _with_value(study, path, value, check_sweep=True):
    data = study.model_dump()
    parts = path.split(".")
    target = data
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    if not check_sweep:
        data["sweep"] = {}
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"sweep: {_describe(exc)}") from None


def sweep_points(study):
    """Expand ``study.sweep`` into a list of ``(values, Study)``, one per grid point.

    Parameters
    ----------
    study : Study

    Returns
    -------
    list of (dict, Study)
        ``values`` maps each swept path to its value at that point (empty dict and the study
        itself when nothing is swept). Order: the last sweep key varies fastest.
    """
    import itertools

    if not study.sweep:
        return [({}, study)]
    keys = list(study.sweep)
    points = []
    for combo in itertools.product(*(study.sweep[k] for k in keys)):
        point = study
        for key, value in zip(keys, combo):
            try:
                point = _with_value(point, key, value, check_sweep=False)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        points.append((dict(zip(keys, combo)), point))
    return points


def _constraint_text(model, name):
    """'allowed range [a, b]' / 'allowed: a, b' for a field, or ''."""
    info = model.model_fields[name]
    lo = hi = None
    lo_open = hi_open = False
    annotation = info.annotation
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            lo = meta.ge
        elif isinstance(meta, annotated_types.Gt):
            lo, lo_open = meta.gt, True
        elif isinstance(meta, annotated_types.Le):
            hi = meta.le
        elif isinstance(meta, annotated_types.Lt):
            hi, hi_open = meta.lt, True
    if typing.get_origin(annotation) is Literal:
        return "allowed: " + ", ".join(repr(a) for a in typing.get_args(annotation))
    if lo is None and hi is None:
        return ""
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else (f"{hi:g}" if hi < 1e15 else "2**63")
    return f"allowed range {left}{lo_s}, {hi_s}{right}"


def _model_at(loc):
    """Walk ``loc`` from Study; return (model that owns the last key, last key) or (None, None)."""
    model = Study
    for i, part in enumerate(loc):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None, None
        if i == len(loc) - 1:
            return model, part
        if part not in model.model_fields:
            return None, None
        model = model.model_fields[part].annotation
    return None, None


def _describe(exc):
    """One line describing every error of a pydantic ValidationError."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc)
        model, key = _model_at(loc)
        if err["type"] == "extra_forbidden":
            text = f"{path}: unknown key"
            if model is not None:
                hint = difflib.get_close_matches(str(key), list(model.model_fields), n=1, cutoff=0.6)
                if hint:
                    text += f"; did you mean '{hint[0]}'?"
                else:
                    text += "; allowed keys: " + ", ".join(model.model_fields)
        else:
            message = err["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
            given = err.get("input")
            shown = "" if isinstance(given, dict) else f" = {given!r}"
            text = f"{path}{shown}: {message}" if path else message
            if model is not None and key in model.model_fields:
                allowed = _constraint_text(model, key)
                if allowed and allowed not in text:
                    text += f"; {allowed}"
        parts.append(text)
    return "; ".join(parts)


def parse_study(data):
    """Validate a study given as a dict (as read from TOML).

    Raises
    ------
    ConfigError
        One line naming each bad field, the value given and the allowed values.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"study: must be a table, got {type(data).__name__}")
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_study(path):
    """Read and validate a study TOML file.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Study

    Raises
    ------
    ConfigError
        Missing or unreadable file, invalid TOML (with its line), or invalid fields.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such study file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read study file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    try:
        return parse_study(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def study_output_dir(study):
    """The output directory of a study (``output.dir`` or ``out/<name>``)."""
    return Path(study.output.dir) if study.output.dir else Path("out") / study.name

