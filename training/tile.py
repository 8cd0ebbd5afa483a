"""Tile configuration, split by concern (as aihwkit's ``RPUConfig(device=, forward=, update=, mapping=)``).

A :class:`TileConfig` is a device (:class:`~memcosim.training.pulsed.PulsedDevice`: the model
and its programming pulse, :class:`~memcosim.training.pulsed.PulseConfig`) and small frozen
dataclasses:

* an update rule (:mod:`memcosim.training.rules`: :class:`~memcosim.training.rules.MixedPrecision`,
  :class:`~memcosim.training.rules.AnalogSGD`, :class:`~memcosim.training.rules.SymmetryShift`,
  :class:`~memcosim.training.rules.TikiTaka`);
* :class:`MappingConfig` — how weights map onto conductances;
* :class:`ReadConfig` — the forward (read) path;
* :class:`ArrayConfig` — the physical array a layer is tiled onto (size, wiring, fitted IR-drop);
* :class:`EnergyConfig` — the write and read energy models pulses and reads are costed with;
* :class:`~memcosim.training.io_config.IOConfig` — the resolution and range of the DACs and ADCs.

``TileConfig()`` is the default tile, as aihwkit's ``SingleRPUConfig()``: the compact HZO device
(``default`` preset) at 3 V x 20 ns pulses, mixed precision, ideal wires on 256 x 256 arrays,
device-level energy. Every energy a tile costs is derived from its device's pulse, its array and
its :class:`EnergyConfig` when first used (:attr:`TileConfig.write_energy`,
:attr:`TileConfig.operation_costs`, :attr:`TileConfig.read_energy`), never stored beside them:
``dataclasses.replace(tile, device=...)`` gives a tile costed at the new device's pulse.
:meth:`TileConfig.from_study` builds the tile of a study file.
"""

import functools
import math
from dataclasses import asdict, dataclass, field

from memcosim.base.errors import ConfigError
from memcosim.circuits.models import CircuitModels, IRDropModel, ReadEnergyModel
from memcosim.training.io_config import IOConfig
from memcosim.training.ledger import WriteEnergyTable
from memcosim.training.periphery import PeripheryCosts
from memcosim.training.pulsed import HZOPulsed, PulsedDevice
from memcosim.training.rules import MixedPrecision, UpdateRule
from memcosim.training.schemes import UPDATE_SCHEMES, SchemeCosts, scheme_energy

__all__ = ["MappingConfig", "ReadConfig", "ArrayConfig", "EnergyConfig", "TileConfig"]


def _fail_unless(obj, owner, checks):
    for name, ok, allowed in checks:
        if not ok:
            raise ConfigError(f"{owner}.{name}: got {getattr(obj, name)!r}; {allowed}")


def _finite(x, low=0.0):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x >= low


@dataclass(frozen=True)
class MappingConfig:
    """How a weight maps onto conductances, ``W = scale (G - G_ref)``."""

    mapping: str = "reference"
    """``reference`` (one device against a reference device) or ``differential`` (a pair G+ - G-)."""
    reference: str = "window_centre"
    """``mapping = "reference"``: the reference holds the centre of the nominal device's usable
    window (``window_centre``), the ``midpoint`` of ``[g_min_s, g_max_s]``, the nominal
    ``symmetry_point`` of the pulse, or the ``data_mean``: the centre of the device's
    normalisation (a measured device: the mean of its measured conductances, the published
    study's weight 0; :meth:`PulsedDevice.normalisation`). Symmetry-point shifting sets its own
    (:attr:`~memcosim.training.rules.SymmetryShift.symmetry_point`)."""
    window_step_ratio: float = 0.25
    """The usable window ends where a pulse moves the device by less than this fraction of the
    nominal step (:meth:`PulsedDevice.window_s`); the largest weight maps to its half width."""
    weight_scaling_omega: float = 0.6
    """The largest initial |weight| maps to this fraction of the largest weight (half the usable
    window). 0: no weight scaling (aihwkit's ``weight_scaling_omega = 0``): the weight *is* the
    normalised conductance, ``W = (G - G_ref) / g_unit_s`` with ``g_unit_s`` of
    :meth:`PulsedDevice.normalisation`, and the largest weight (the converters' unit) is 1."""

    def __post_init__(self):
        _fail_unless(self, "mapping", [
            ("mapping", self.mapping in ("reference", "differential"), "allowed: reference, differential"),
            ("reference", self.reference in ("window_centre", "midpoint", "symmetry_point", "data_mean"),
             "allowed: window_centre, midpoint, symmetry_point, data_mean"),
            ("window_step_ratio", _finite(self.window_step_ratio) and 0 < self.window_step_ratio < 1, "allowed range (0, 1)"),
            ("weight_scaling_omega", _finite(self.weight_scaling_omega) and 0 <= self.weight_scaling_omega <= 1,
             "allowed range [0, 1] (0: unscaled, the weight is the normalised conductance)"),
        ])


@dataclass(frozen=True)
class ReadConfig:
    """The forward pass: how the array is read."""

    forward: str = "model"
    """``model``: the fitted IR-drop model of :class:`ArrayConfig` (ideal wires without one);
    ``exact``: every tile solved with the native nodal solver (cached per weight update);
    ``ideal``: ideal wires whatever the array (its models still cost the reads)."""
    noise_std: float = 0.0
    """Gaussian read noise, relative to the full-scale column output."""
    voltage_v: float = 0.1
    """Largest input voltage of a read, volts."""
    width_s: float = 1e-8
    """Duration of one read, seconds."""

    def __post_init__(self):
        _fail_unless(self, "read", [
            ("forward", self.forward in ("model", "exact", "ideal"), "allowed: model, exact, ideal"),
            ("noise_std", _finite(self.noise_std) and self.noise_std <= 1, "allowed range [0, 1]"),
            ("voltage_v", _finite(self.voltage_v) and self.voltage_v > 0, "allowed range (0, inf) volts"),
            ("width_s", _finite(self.width_s) and self.width_s > 0, "allowed range (0, inf) seconds"),
        ])


@dataclass(frozen=True)
class ArrayConfig:
    """The physical array a layer is tiled onto."""

    rows: int = 256
    """Physical array rows (inputs per tile)."""
    cols: int = 256
    """Physical array columns (outputs per tile)."""
    r_wire_ohm: float = 0.0
    """Wire segment resistance, ohms (0 with ``r_driver_ohm = 0``: ideal wires)."""
    r_driver_ohm: float = 0.0
    """Row driver resistance, ohms."""
    ir_drop: IRDropModel | None = None
    """The fitted IR-drop model (``CircuitModels.ir_drop``); None reads the wires as ideal."""

    def __post_init__(self):
        _fail_unless(self, "array", [
            ("rows", isinstance(self.rows, int) and self.rows >= 1, "an integer >= 1"),
            ("cols", isinstance(self.cols, int) and self.cols >= 1, "an integer >= 1"),
            ("r_wire_ohm", _finite(self.r_wire_ohm), "allowed range [0, inf) ohms"),
            ("r_driver_ohm", _finite(self.r_driver_ohm), "allowed range [0, inf) ohms"),
        ])
        if self.ir_drop is not None and not isinstance(self.ir_drop, IRDropModel):
            raise ConfigError(f"array.ir_drop: must be an IRDropModel or None, got {type(self.ir_drop).__name__}")

    @property
    def ideal_wires(self):
        """True when both the wire and the driver resistance are zero."""
        return self.r_wire_ohm == 0 and self.r_driver_ohm == 0


@dataclass(frozen=True)
class EnergyConfig:
    """What pulses and reads cost: the models they are costed with (the tables are derived by the tile).

    With neither ``models`` nor ``write``: device-level energy — the device's own conduction,
    capacitance and switching charge at its pulse (:meth:`WriteEnergyTable.from_device`; ideal
    wires, no half-selected cells). With ``models``: the ngspice-fitted circuit models of
    ``memcosim.characterize`` (per-pulse tables of the scheme's operation, its shared costs and
    the fitted read law), evaluated at the device's pulse and the tile's array.
    """

    write: WriteEnergyTable | None = None
    """An explicit per-pulse table instead of the derived one (``WriteEnergyTable.constant(e)``
    for ideal devices and tests). A table tabulated at a pulse (``from_device``,
    ``from_circuit_model``) must be of the device's pulse: the tile refuses another. With
    ``operations`` it holds the selected cells' energy only."""
    read: ReadEnergyModel | None = None
    """The read-energy model (None: ``models.read_energy``, or the ideal DC law, coefficient 1)."""
    scheme: str = "serial"
    """How updates are programmed (:mod:`memcosim.training.schemes`): ``serial``, ``row_parallel``
    or ``parallel_stochastic``."""
    operations: SchemeCosts | None = None
    """Shared energy of one operation of ``scheme`` (None: derived from ``models``; for ``serial``
    without models each pulse pays the full per-pulse table)."""

    periphery: PeripheryCosts | None = None
    """The blocks around the array — drivers, converters, sense, digital — per event
    (:mod:`memcosim.training.periphery`); None: the array alone is costed."""
    models: CircuitModels | None = None
    """The fitted circuit models (``memcosim.characterize``); None: device-level energy."""

    def __post_init__(self):
        if self.scheme not in UPDATE_SCHEMES:
            raise ConfigError(f"energy.scheme: got {self.scheme!r}; allowed: {', '.join(UPDATE_SCHEMES)}")
        typed = (("write", WriteEnergyTable), ("read", ReadEnergyModel), ("operations", SchemeCosts),
                 ("periphery", PeripheryCosts), ("models", CircuitModels))
        for name, kind in typed:
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise ConfigError(f"energy.{name}: must be a {kind.__name__} or None, got {type(value).__name__}")
        if self.operations is not None and self.operations.scheme != self.scheme:
            raise ConfigError(f"energy.operations: costs of scheme {self.operations.scheme!r} given for scheme "
                              f"{self.scheme!r}")
        if self.scheme != "serial" and self.operations is None and self.models is None:
            raise ConfigError(f"energy.operations: scheme {self.scheme!r} needs its SchemeCosts "
                              f"(SchemeCosts.from_model of the {self.scheme} operation model, or energy.models)")


@dataclass(frozen=True)
class TileConfig:
    """How a layer maps onto crossbar tiles, is read and is updated (``TileConfig()``: the default tile).

    Examples
    --------
    >>> tile = TileConfig()                                   # compact HZO, 3 V x 20 ns, mixed precision
    >>> slower = dataclasses.replace(tile, device=tile.device.with_pulse(PulseConfig(3.0, 2e-7)))  # doctest: +SKIP
    >>> slower.write_energy.pulse                             # costed at its own pulse  # doctest: +SKIP
    (3.0, 2e-07)
    """

    device: PulsedDevice = field(default_factory=HZOPulsed.default)
    """The device model with its programming pulse (:class:`~memcosim.training.pulsed.PulsedDevice`)."""
    update: UpdateRule = field(default_factory=MixedPrecision)
    """The update rule the optimizer calls (:mod:`memcosim.training.rules`)."""
    mapping: MappingConfig = field(default_factory=MappingConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    array: ArrayConfig = field(default_factory=ArrayConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    io: IOConfig = field(default_factory=IOConfig)
    """DAC and ADC precision of the reads (default: ideal converters)."""

    def __post_init__(self):
        typed = [("device", PulsedDevice), ("update", UpdateRule), ("mapping", MappingConfig), ("read", ReadConfig),
                 ("array", ArrayConfig), ("energy", EnergyConfig), ("io", IOConfig)]
        for name, kind in typed:
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"tile.{name}: must be a {kind.__name__}, got {type(getattr(self, name)).__name__}")
        if self.energy.scheme == "parallel_stochastic" and not self.update.needs_activations:
            raise ConfigError("tile.energy.scheme: 'parallel_stochastic' costs stochastic pulse trains; the update rule "
                              f"{self.update.name!r} programs none (use 'row_parallel' or 'serial')")
        if self.update.needs_own_symmetry_points and self.mapping.mapping != "reference":
            raise ConfigError("tile.mapping.mapping: symmetry-point shifting needs 'reference' (the reference holds the symmetry point)")
        if self.read.forward == "exact" and not self.array.ideal_wires and not (self.array.r_wire_ohm > 0 and self.array.r_driver_ohm > 0):
            raise ConfigError("tile.read.forward: 'exact' solves every tile with the nodal solver, which needs array.r_wire_ohm "
                              f"and array.r_driver_ohm both > 0 (or both 0: ideal wires), got {self.array.r_wire_ohm!r} and "
                              f"{self.array.r_driver_ohm!r}")
        write, pulse = self.energy.write, self.device.pulse
        if write is not None and write.pulse is not None and write.pulse != (pulse.amplitude_v, pulse.width_s):
            raise ConfigError(f"tile.energy.write: tabulated for {write.pulse[0]:g} V x {write.pulse[1]:g} s pulses, the "
                              f"device is programmed with {pulse.amplitude_v:g} V x {pulse.width_s:g} s; leave energy.write "
                              "out and the tile derives the tables from the device's pulse")

    @classmethod
    def from_study(cls, study, models=None):
        """The tile of a study (``memcosim.load_study``): device, pulse, update rule, read path, array, energy.

        ``models``: the study's fitted :class:`CircuitModels` (``memcosim.characterize``); None:
        device-level energy and ideal wires. ``study`` is anything with a ``tile_config(models)``
        method (a memcosim ``Study``: the study file's face builds it, so this layer never reads
        study files).
        """
        make = getattr(study, "tile_config", None)
        if make is None:
            raise ConfigError(f"study: TileConfig.from_study takes a study (memcosim.load_study), got {type(study).__name__}")
        return make(models)

    @functools.cached_property
    def write_energy(self):
        """The per-pulse write energy table (:class:`~memcosim.training.ledger.WriteEnergyTable`) at the device's pulse."""
        energy, device = self.energy, self.device
        if energy.write is not None:
            return energy.write
        if energy.models is not None:
            return self._scheme_energy()[0]
        if device.electrical is None:  # no electrical model (the constant-step device): pulses cost nothing
            return WriteEnergyTable.constant()
        return WriteEnergyTable.from_device(device.electrical, device.pulse.volts, device.width_s)

    @functools.cached_property
    def operation_costs(self):
        """The shared energy of the update scheme's operations (:class:`~memcosim.training.schemes.SchemeCosts`,
        None: every pulse pays its full per-pulse table)."""
        if self.energy.operations is not None or self.energy.models is None:
            return self.energy.operations
        return self._scheme_energy()[1]

    @functools.cached_property
    def read_energy(self):
        """The read-energy model (:class:`~memcosim.circuits.models.ReadEnergyModel`)."""
        if self.energy.read is not None:
            return self.energy.read
        if self.energy.models is not None:
            return self.energy.models.read_energy
        return ReadEnergyModel(read_width_s=self.read.width_s)

    def _scheme_energy(self):
        key = "_scheme_tables"
        if key not in self.__dict__:
            device, array = self.device, self.array
            if device.electrical is None:
                raise ConfigError(f"tile.energy.models: the circuit models cost HZO pulses; {type(device).__name__} has no "
                                  "electrical model (give energy.write instead)")
            self.__dict__[key] = scheme_energy(self.energy.models, self.energy.scheme, device.electrical,
                                               device.pulse.volts, device.width_s, array.rows, array.cols)
        return self.__dict__[key]

    @property
    def algorithm(self):
        """The update rule's name (``mixed_precision``, ``sgd``, ``symmetry_shift``, ``tiki_taka``)."""
        return self.update.name

    def describe(self):
        """A JSON-ready description of everything that decides a result (run fingerprints, reports)."""
        dev, array = self.device, self.array
        out = {
            "device": {"params": repr(dev.params), "amplitude_v": dev.amplitude_v, "width_s": dev.width_s,
                       "d2d": getattr(dev, "device_to_device_std", 0.0)},
            "update": self.update.describe(),
            "mapping": asdict(self.mapping),
            "read": asdict(self.read),
            "array": {"rows": array.rows, "cols": array.cols, "r_wire_ohm": array.r_wire_ohm,
                      "r_driver_ohm": array.r_driver_ohm,
                      "ir_drop": None if array.ir_drop is None else {"a": array.ir_drop.a, "b": array.ir_drop.b}},
            "energy": {"write": self.write_energy.source, "read_coefficient": self.read_energy.coefficient,
                       "scheme": self.energy.scheme},
        }
        if self.energy.periphery is not None:  # likewise: only when set
            out["energy"]["periphery"] = self.energy.periphery.to_json()
        if self.io != IOConfig():  # only when set: the fingerprints of runs with ideal converters stay as they were
            out["io"] = asdict(self.io)
        if getattr(dev, "noise_scale", 1.0) != 1.0:  # likewise
            out["device"]["noise_scale"] = dev.noise_scale
        return out
