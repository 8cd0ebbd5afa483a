"""Study files: one TOML schema for a whole memcosim study.

A study has a ``name``, a ``seed`` and the sections ``device``, ``array``, ``circuit``,
``training``, ``model`` (the network), ``dies`` (the MTJ die study), ``periphery``, ``sweep`` and ``output`` (each a model of
:mod:`memcosim.sections`). Every quantity carries its SI unit in its key name. Validation
uses pydantic v2 (typed fields, ranges, unknown keys refused) and every failure becomes one
:class:`~memcosim.base.errors.ConfigError` line naming the field path, the value given and the
allowed values (a key that moved says where)::

    array.rows = -4: must be >= 1; allowed range [1, 4096]
    device.pulse_widht_s: unknown key; did you mean 'pulse_width_s'?
    training.dies: moved to [dies] count

Examples
--------
>>> study = parse_study({"name": "demo", "array": {"rows": 8, "cols": 8}})
>>> study.array.rows, study.device.kind
(8, 'hzo')
"""

import difflib
import math
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from memcosim.base.errors import ConfigError
from memcosim.config_errors import describe_errors
from memcosim.sections import (MOVED_TO_DIES, NAME_PATTERN, ArraySection, CircuitSection, DeviceSection, OutputSection,
                               Section, TrainingSection)
from memcosim.sections_dies import DiesSection
from memcosim.sections_tile import ModelSection, PeripherySection

__all__ = [
    "DeviceSection",
    "ArraySection",
    "CircuitSection",
    "TrainingSection",
    "ModelSection",
    "DiesSection",
    "PeripherySection",
    "OutputSection",
    "Study",
    "parse_study",
    "load_study",
    "sweep_points",
    "SweepGrid",
    "study_output_dir",
]


class Study(Section):
    """A whole study: one seed, the sections, and an optional sweep."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "study"
    """Study name: a letter, then letters, digits, ``_ . -`` (at most 64)."""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    """The one seed every random stream of the study derives from."""
    device: DeviceSection = DeviceSection()
    array: ArraySection = ArraySection()
    circuit: CircuitSection = CircuitSection()
    training: TrainingSection = TrainingSection()
    model: ModelSection = ModelSection()
    dies: DiesSection = DiesSection()
    periphery: PeripherySection = PeripherySection()
    sweep: dict[str, list[Any]] = {}
    """Field path (``"device.pulse_width_s"``) -> list of values; expands to a grid of runs. A section
    name maps to tables of its fields that change together (``"array" = [{rows = 64, cols = 64}]``)."""
    output: OutputSection = OutputSection()

    def with_values(self, values):
        """This study with some fields changed: ``{"device.pulse_width_s": 2e-7, "seed": 3}``.

        Each key is a field path as in ``[sweep]``; the result is validated again (a bad value is a
        one-line :class:`~memcosim.base.errors.ConfigError` naming the field) and has no sweep, so
        it is one point. ``study.with_values({})`` is the study's base point.
        """
        if not isinstance(values, dict):
            raise ConfigError(f"values: a dict of field paths to values, got {type(values).__name__}")
        point = self.model_copy(update={"sweep": {}})
        for path, value in values.items():
            try:
                _field_at(path)
                point = _with_value(point, path, value, check_sweep=False)
            except ValueError as exc:
                raise ConfigError(str(exc).removeprefix("sweep: ").replace("sweep.", "", 1)) from None
        return point

    def tile_config(self, models=None):
        """The crossbar tile of this study (:meth:`memcosim.training.TileConfig.from_study`, :func:`memcosim.build.tile_config`)."""
        from memcosim.build import tile_config

        return tile_config(self, models)

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
    def _check_dies(self):
        if self.device.kind != "mtj":
            return self
        if self.model != ModelSection():
            raise ValueError("model: the MTJ die study trains its own binary network; [model] is for pulsed studies")
        if self.training.forward == "exact":
            raise ValueError("training.forward: the die study's exact IR evaluation moved to [dies] ir_model = 'exact' "
                             "(training.forward is the crossbar layers' read path of pulsed HZO training)")
        if self.dies.ir_model == "exact" and not (self.array.r_wire_ohm > 0 and self.array.r_driver_ohm > 0):
            raise ValueError("dies.ir_model: 'exact' evaluation solves the wires and needs array.r_wire_ohm > 0 and "
                             f"array.r_driver_ohm > 0, got {self.array.r_wire_ohm!r} and {self.array.r_driver_ohm!r}")
        return self

    @model_validator(mode="after")
    def _check_sweep(self):
        # Each value alone, then every combination of the fields that rules tie together
        # (_JOINT_FIELDS): the grid is valid without building its product of points.
        for path, values in self.sweep.items():
            _field_at(path)  # raises on an unknown path
            if len(values) == 0:
                raise ValueError(f"sweep.{path}: needs at least one value")
            _check_values(self, path, values)
        joint = {path: values for path, values in self.sweep.items() if path in _JOINT_FIELDS}
        if len(joint) > 1:
            _check_combinations(self, joint)
        return self


_JOINT_FIELDS = frozenset({"device.kind", "training.forward", "dies.ir_model", "array.r_wire_ohm", "array.r_driver_ohm",
                           "device.short_rate", "device.open_rate", "device.stuck_p_rate", "device.stuck_ap_rate"})
"""Fields that a rule over several fields reads (``Study._check_dies``, ``DeviceSection._defect_rates_sum``):
a sweep checks every combination of these, and each value of any other field alone."""

_SECTIONS = {
    "device": DeviceSection,
    "array": ArraySection,
    "circuit": CircuitSection,
    "training": TrainingSection,
    "model": ModelSection,
    "dies": DiesSection,
    "periphery": PeripherySection,
    "output": OutputSection,
}


def _field_at(path):
    """The (model, field name) a dotted sweep path names; ValueError naming it otherwise."""
    parts = path.split(".")
    if len(parts) == 1 and parts[0] in ("seed",):
        return Study, parts[0]
    if len(parts) == 1 and parts[0] in _SECTIONS:  # "array" = [{rows = 64, cols = 64}, ...]: fields swept together
        return _SECTIONS[parts[0]], None
    if len(parts) != 2 or parts[0] not in _SECTIONS:
        choices = ["seed"] + [f"{s}.{f}" for s, m in _SECTIONS.items() for f in m.model_fields]
        hint = difflib.get_close_matches(path, choices, n=1)
        extra = f"; did you mean '{hint[0]}'?" if hint else ""
        raise ValueError(f"sweep.{path}: not a study field{extra}")
    model = _SECTIONS[parts[0]]
    if parts[0] == "training" and parts[1] in MOVED_TO_DIES:
        raise ValueError(f"sweep.{path}: moved to dies.{MOVED_TO_DIES[parts[1]]}")
    if parts[1] not in model.model_fields:
        hint = difflib.get_close_matches(parts[1], list(model.model_fields), n=1)
        extra = f"; did you mean '{parts[0]}.{hint[0]}'?" if hint else ""
        raise ValueError(f"sweep.{path}: not a study field{extra}")
    return model, parts[1]


def _with_value(study, path, value, check_sweep=True):
    data = study.model_dump()
    parts = path.split(".")
    if len(parts) == 1 and parts[0] in _SECTIONS:  # a section's fields that change together
        if not isinstance(value, dict) or not value:
            raise ValueError(f"sweep.{path}: each value must be a table of {path} fields, got {value!r}")
        data[path].update(value)
    else:
        target = data
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    if not check_sweep:
        data["sweep"] = {}
    try:
        return Study.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"sweep: {describe_errors(exc, Study)}") from None


def _check_values(study, path, values):
    """Validate each value of one swept field, O(values): a field of a section is assigned to a copy
    of that section (its field and section validators run, ~5 us a value); a failure is described
    by validating the whole study at that value (the message names the field as in a study file)."""
    section, _, name = path.rpartition(".")
    if not section:
        for value in values:
            _with_value(study, path, value, check_sweep=False)
        return
    target = getattr(study, section).model_copy()
    validator = type(target).__pydantic_validator__
    for value in values:
        try:
            validator.validate_assignment(target, name, value)
        except ValidationError:
            _with_value(study, path, value, check_sweep=False)  # raises with the study's message


class _Fields(types.SimpleNamespace):
    """A section's values as plain attributes (with its ``model_fields``), for its validators."""


def _rules(study):
    """``(namespace of the study, [(owner path, validator function)])``: every cross-field rule
    ("after" model validators of the study and its sections, the sweep check left out)."""
    namespace = types.SimpleNamespace()
    rules = []
    for section, model in _SECTIONS.items():
        kind = type(model.__name__, (_Fields,), {"model_fields": model.model_fields})
        setattr(namespace, section, kind(**dict(getattr(study, section))))
        rules += [(section, d.func) for d in model.__pydantic_decorators__.model_validators.values() if d.info.mode == "after"]
    rules += [("", d.func) for name, d in Study.__pydantic_decorators__.model_validators.items()
              if d.info.mode == "after" and name != "_check_sweep"]
    return namespace, rules


def _check_combinations(study, joint):
    """Every combination of the joint fields' values under the cross-field rules, ~1 us each (each
    value alone was validated before); a combination a rule refuses is described by validating the
    whole study there."""
    import itertools

    namespace, rules = _rules(study)
    sections = {path.split(".")[0] for path in joint}
    rules = [(owner, func) for owner, func in rules if owner == "" or owner in sections]
    targets = [(getattr(namespace, path.split(".")[0]), path.split(".")[1]) for path in joint]
    for combo in itertools.product(*joint.values()):
        for (target, name), value in zip(targets, combo):
            setattr(target, name, value)
        try:
            for owner, func in rules:
                func(getattr(namespace, owner) if owner else namespace)
        except (ValueError, TypeError, AttributeError):
            point = study
            for path, value in zip(joint, combo):
                point = _with_value(point, path, value, check_sweep=False)  # raises with the study's message


class SweepGrid(Sequence):
    """The points of a study's sweep, built one at a time (a grid of any size costs nothing until read).

    ``len(grid)`` is the number of points; ``grid[i]`` and iteration give ``(values, Study)``
    in grid order (the last sweep key varies fastest).
    """

    def __init__(self, study):
        self.study = study
        self.keys = list(study.sweep)
        self._sizes = [len(study.sweep[k]) for k in self.keys]

    def __len__(self):
        return math.prod(self._sizes)

    def values(self, index):
        """The swept values of point ``index`` (no Study built)."""
        if not 0 <= index < len(self):
            raise IndexError(f"sweep point {index} of {len(self)}")
        picks = []
        for size in reversed(self._sizes):
            index, pick = divmod(index, size)
            picks.append(pick)
        return {k: self.study.sweep[k][i] for k, i in zip(self.keys, reversed(picks))}

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        values = self.values(index)
        point = self.study
        for key, value in values.items():
            try:
                point = _with_value(point, key, value, check_sweep=False)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        return values, point

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def sweep_points(study):
    """The grid of ``study.sweep``: a lazy sequence of ``(values, Study)``, one per grid point.

    Parameters
    ----------
    study : Study

    Returns
    -------
    SweepGrid
        ``values`` maps each swept path to its value at that point (one point, an empty dict and
        the study itself, when nothing is swept). Order: the last sweep key varies fastest.
        Points are built when read: ``len()`` of a 1000 x 1000 grid is instant.
    """
    return SweepGrid(study)


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
        raise ConfigError(describe_errors(exc, Study)) from None


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
    from memcosim.base.files import read_toml

    path = Path(path)
    data = read_toml(path, "study file")
    try:
        return parse_study(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def study_output_dir(study):
    """The output directory of a study (``output.dir`` or ``out/<name>``)."""
    return Path(study.output.dir) if study.output.dir else Path("out") / study.name

