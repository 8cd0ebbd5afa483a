"""The sections of a study file, one pydantic model each (:mod:`memcosim.config` assembles them).

Every field is typed, ranged and documented; every quantity carries its SI unit in its name.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Section", "DeviceSection", "ArraySection", "CircuitSection", "TrainingSection", "OutputSection",
           "MOVED_TO_DIES", "NAME_PATTERN", "Rate"]
# the periphery and the network: memcosim.sections_tile; the die study: memcosim.sections_dies

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"

Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class Section(BaseModel):
    """Base of every section: frozen, strict types, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DeviceSection(Section):
    """Which device sits in every cell, and how it is pulsed and read."""

    kind: Literal["hzo", "mtj", "measured", "piecewise_step"] = "hzo"
    """Device family: ferroelectric HfO2-ZrO2 synapse (compact model), magnetic tunnel junction,
    ``measured``: an HZO synapse whose pulse response is its measured sweeps (``measured_from``),
    or ``piecewise_step``: an aihwkit ``PiecewiseStepDevice`` read from ``aihwkit_device``."""
    preset: Annotated[str, Field(pattern=NAME_PATTERN)] = "default"
    """Built-in parameter set of the family (``default``: the calibrated LBE247 HZO device). For
    ``measured`` devices, the HZO set whose electrical model (conduction, capacitance, switching
    charge) costs the pulses, with the measured conductance window."""
    measured_from: list[str] = []
    """``kind = "measured"``: measured sweep files (plain CSV or LBE247; glob patterns allowed).
    Each run uses the files whose pulse width is its ``pulse_width_s`` (several are pooled)."""
    measured_law: Literal["tables", "published_fit"] = "tables"
    """``kind = "measured"``: the step law taken from the sweeps: memcosim's isotonic ``tables``
    (every measured pulse, pooled over the files of the run's width) or the published study's
    ``published_fit``: aihwkit's piecewise-step device fitted to one sweep as PaU1570/msc_project
    did (smooth degree-5 step curves, 32 nodes, the data's mean as weight 0; docs/hzo-published.md)."""
    write_noise: Literal["measured", "none"] = "measured"
    """``kind = "measured"``: cycle-to-cycle noise of each pulse: the ``measured`` scatter about the
    step law (tables: per branch; published fit: the data's scatter about the fitted response,
    as a step noise ``dw_min_std``), or ``none`` (the published runs)."""
    aihwkit_device: str | None = None
    """``kind = "piecewise_step"``: a file with an aihwkit ``PiecewiseStepDevice``: the text aihwkit
    prints for a config (e.g. a published ``RPU_Config.txt``) or ``memcosim``'s JSON export; read,
    never executed. Its weight unit is mapped onto the HZO ``preset``'s window (midpoint and half
    range) for the energy of its pulses, at ``pulse_amplitude_v``."""
    parameters_file: str | None = None
    """A ``device.json`` written by ``memcosim calibrate``; overrides ``preset``."""
    calibrate_from: list[str] = []
    """Measured files (plain CSV or LBE247 sweeps) that ``memcosim run`` calibrates the device
    from first (into ``DIR/calibrate/device.json``); overrides ``preset`` and ``parameters_file``."""
    calibrate_model: Literal["hzo", "hzo_kinetics"] = "hzo"
    """``kind = "hzo"``: the model ``calibrate_from`` fits: ``hzo`` (NLS domain populations) or
    ``hzo_kinetics`` (one field law over a distribution of switching voltages; docs/devices.md)."""
    pulse_amplitude_v: Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)] = 3.0
    """Magnitude of a programming pulse at the cell, volts."""
    pulse_width_s: float | str = 2e-8
    """Programming pulse width, seconds (the HZO seed study spans 20 ns to 0.2 ms). One 3 V pulse
    of 20 ns moves the default HZO device by ~0.6 % of its conductance range, one of 2 us by
    ~16 %: so coarse that the default training (mixed precision, 69 updates) never fires one.
    ``kind = "measured"``: the files of ``measured_from`` of this width are used, or with
    ``"measured"`` all of them, at the one width they were measured at (a sweep over files)."""
    read_voltage_v: Annotated[float, Field(gt=0.0, le=2.0, allow_inf_nan=False)] = 0.1
    """Read voltage across a cell, volts."""
    device_to_device_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Relative device-to-device spread of the device parameters (lognormal sigma). HZO: of the
    conductance bounds. MTJ: when > 0 it sets both ``r_p_std`` and ``tmr_std`` of the device
    (overriding the preset's or ``parameters_file``'s own); 0 keeps the device's own spread."""
    cycle_to_cycle_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Relative cycle-to-cycle noise of each programming step. ``kind = "measured"``: a noise of
    this fraction of the window per pulse added in quadrature to the measured scatter (0: the
    measured scatter alone)."""
    measured_shape: Literal["measured", "linear"] = "measured"
    """``kind = "measured"``: the response as measured, or ``linear``: every pulse of a direction
    moves the device by the same step, each direction still crossing the window in its measured
    number of pulses (a "what if" that removes the nonlinearity alone)."""
    measured_step_scale: Annotated[float, Field(gt=0.0, le=10.0, allow_inf_nan=False)] = 1.0
    """``kind = "measured"``: every measured step scaled by this factor, the shape of the response
    kept (1: as measured; 0.5: twice as many states, a "what if" that separates the granularity
    of the measured device from its nonlinearity and asymmetry)."""
    short_rate: Rate = 0.0
    """Fraction of cells shorted (MTJ)."""
    open_rate: Rate = 0.0
    """Fraction of cells open (MTJ)."""
    stuck_p_rate: Rate = 0.0
    """Fraction of cells stuck in the parallel state (MTJ)."""
    stuck_ap_rate: Rate = 0.0
    """Fraction of cells stuck in the antiparallel state (MTJ)."""

    @field_validator("parameters_file")
    @classmethod
    def _parameters_file_named(cls, value):
        if value is not None and not value.strip():
            raise ValueError("must name a device.json file; leave the key out to use device.preset")
        return value

    @field_validator("pulse_width_s", mode="before")
    @classmethod
    def _pulse_width(cls, value):
        if value == "measured":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (1e-9 <= value <= 1e-2):
            raise ValueError("seconds in the allowed range [1e-09, 0.01], or 'measured' (kind = 'measured': the width "
                             "the measured files were taken at)")
        return float(value)

    @field_validator("calibrate_from", "measured_from")
    @classmethod
    def _files_named(cls, value, info):
        if any(not item.strip() for item in value):
            what = "a measured file or glob pattern" if info.field_name == "measured_from" else "a measured file"
            raise ValueError(f"every entry must name {what}, got {value!r}")
        return value

    @model_validator(mode="after")
    def _measured_fields(self):
        if self.kind != "piecewise_step" and self.aihwkit_device is not None:
            raise ValueError("aihwkit_device: only for kind = 'piecewise_step'")
        if self.kind == "piecewise_step" and not self.aihwkit_device:
            raise ValueError("aihwkit_device: kind = 'piecewise_step' needs the aihwkit PiecewiseStepDevice file")
        if self.calibrate_model != "hzo" and not (self.kind == "hzo" and self.calibrate_from):
            raise ValueError("calibrate_model: only for kind = 'hzo' with calibrate_from")
        if self.kind != "measured":
            if self.pulse_width_s == "measured":
                raise ValueError("pulse_width_s: 'measured' is only for kind = 'measured'")
            for name in ("measured_law", "write_noise"):
                if getattr(self, name) != type(self).model_fields[name].default:
                    raise ValueError(f"{name}: only for kind = 'measured'")
            if self.measured_from:
                raise ValueError("measured_from: only for kind = 'measured'")
            if self.measured_step_scale != 1.0:
                raise ValueError("measured_step_scale: only for kind = 'measured'")
            if self.measured_shape != "measured":
                raise ValueError("measured_shape: only for kind = 'measured'")
            return self
        if not self.measured_from:
            raise ValueError("measured_from: kind = 'measured' needs the measured sweep files")
        unused = {"pulse_amplitude_v": "each pulse has the amplitude the measured sweep applied at the device's state",
                  "calibrate_from": "the measured sweeps are the device; nothing is fitted"}
        for name, why in unused.items():
            if getattr(self, name) != type(self).model_fields[name].default:
                raise ValueError(f"{name}: not used by kind = 'measured' ({why}); leave it out")
        return self

    @model_validator(mode="after")
    def _defect_rates_sum(self):
        total = self.short_rate + self.open_rate + self.stuck_p_rate + self.stuck_ap_rate
        if total > 1.0:
            raise ValueError(
                f"short_rate + open_rate + stuck_p_rate + stuck_ap_rate = {total:g}; "
                "allowed range [0, 1]"
            )
        return self


class ArraySection(Section):
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
    cell_area_f2: Annotated[float, Field(ge=1.0, le=1000.0, allow_inf_nan=False)] = 4.0
    """Area of one cell in F^2 at the periphery's 28 nm node (4: a crosspoint at 2F pitch; a 1T1R
    cell is larger); the tile's area in results and report (docs/periphery.md)."""
    access_transistor: bool = False
    """One access MOSFET per cell (1T1R), gate driven per row."""
    access_gate_v: Annotated[float, Field(gt=0.4, le=5.0, allow_inf_nan=False)] = 1.2
    """Word-line (gate) voltage of a selected row's access transistors, volts (threshold 0.4 V).
    Lowering it towards the threshold turns the transistor into a current limiter."""
    access_width_m: Annotated[float, Field(gt=0.0, le=1e-4, allow_inf_nan=False)] = 200e-9
    """Channel width of the access transistors, metres (length 50 nm)."""


class CircuitSection(Section):
    """How circuits are simulated."""

    engine: Literal["native", "ngspice"] = "native"
    """Engine for DC solves: the native nodal solver or ngspice."""
    write_scheme: Literal["v_half", "v_third"] = "v_half"
    """Biasing of unselected lines during a write."""
    read_pulse_width_s: Annotated[float, Field(ge=1e-10, le=1e-3, allow_inf_nan=False)] = 1e-8
    """Duration of one read (matrix-vector multiply) pulse, seconds."""
    timeout_s: Annotated[float, Field(gt=0.0, le=86400.0, allow_inf_nan=False)] = 600.0
    """Wall-clock limit of one ngspice run, seconds."""
    transient_engine: Literal["auto", "ngspice", "native"] = "auto"
    """Engine of characterisation's write pulses: ngspice, the native transient engine (the same
    circuit, integrated natively; docs/circuits.md), or ``auto``: ngspice up to
    ``native_transient_above`` rows, native above."""
    native_transient_above: Annotated[int, Field(ge=1, le=65536)] = 32
    """``transient_engine = "auto"``: arrays with more rows or columns than this are simulated natively."""
    holdout_sizes: Annotated[list[Annotated[int, Field(ge=2, le=4096)]], Field(max_length=8)] = []
    """Array sizes (square) where characterisation checks the fitted write / row / slot models
    without fitting them (the study's own size is always checked); errors per size in
    ``characterize_report.json``."""
    sense_clamp_a: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] | None = None
    """Column current limit of the sense amplifiers, amperes (None: unclamped)."""
    sense_offset_a: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """MTJ die study: input-referred offset (Gaussian sigma) of each comparator, amperes."""
    energy_model: Literal["circuit", "device"] = "circuit"
    """Training energy: ``circuit`` characterises the array with ngspice (cached) and costs every
    pulse and read with the fitted models; ``device`` uses device-level energy only (no ngspice)."""
    update_scheme: Literal["auto", "serial", "row_parallel", "parallel_stochastic"] = "auto"
    """How an update is programmed, and so what it costs (``circuit`` energy): ``serial`` (one
    cell at a time: every pulse pays its half-selected cells and line charging), ``row_parallel``
    (one row operation pulses every column of a row that needs it), ``parallel_stochastic``
    (Gokmen-Vlasov slots: driven rows at +V/2 and columns at -V/2 at once; stochastic analog SGD
    only). ``auto``: the hardware scheme of the algorithm (stochastic analog SGD, symmetry-point
    shifting and Tiki-Taka: parallel_stochastic; mixed precision and deterministic counts:
    row_parallel)."""


class TrainingSection(Section):
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
    learning_rates: dict[Literal["float", "sgd", "mixed_precision", "symmetry_shift", "tiki_taka"],
                         Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)]] = {}
    """Learning rate per algorithm (overrides ``learning_rate`` for the algorithms it names; the
    published protocol: ``{sgd = 0.05, symmetry_shift = 0.1, mixed_precision = 0.5}``)."""
    validation_fraction: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] = 0.0
    """Hold out this fraction of the training set (seeded) as a validation set, reported every
    epoch; ``target_accuracy`` is then counted on it (the published protocol: 0.2)."""
    lr_halve_every_epochs: Annotated[int, Field(ge=0, le=10000)] = 0
    """Halve the learning rate after every this many epochs (0: constant; the published HZO study: 10)."""
    algorithm: Literal["float", "sgd", "mixed_precision", "symmetry_shift", "tiki_taka"] = "mixed_precision"
    """Update rule: floating point, analog SGD, mixed-precision SGD, symmetry-point shifting,
    Tiki-Taka v2 (gradient pulses on a fast array, buffered transfers to the weights)."""
    transfer_verify: bool = False
    """Mixed precision: after a transfer, read the devices back and keep in the accumulator what the
    pulses did not do (instead of assuming each pulse moved its weight by one nominal step)."""
    pulse_mode: Literal["stochastic", "deterministic"] = "stochastic"
    """How analog SGD turns a gradient step into pulses."""
    target_accuracy: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 0.95
    """Test accuracy that defines 'epochs to converge'."""
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    """Activation between the MLP's layers."""
    weight_mapping: Literal["reference", "differential"] = "reference"
    """A weight is one device against a reference device, or a differential pair G+ - G-."""
    weight_reference: Literal["window_centre", "midpoint", "symmetry_point", "data_mean"] = "window_centre"
    """``weight_mapping = "reference"``: the conductance of weight zero, the centre of the device's
    usable window, the ``midpoint`` of its conductance range, its nominal ``symmetry_point``, or
    the ``data_mean`` (a measured device: the mean of its measured conductances, the published
    study's weight 0). Symmetry-point shifting sets its own (``symmetry_point``); Tiki-Taka's fast
    array finds each device's own by pulsing."""
    symmetry_point: Literal["own", "global"] = "own"
    """Symmetry-point shifting: each reference at its device's ``own`` symmetry point (found by
    pulsing each device), or all at one ``global`` point found on the noise-free nominal device by
    100 alternating pulses from weight 0 (the published protocol)."""
    max_pulses: Annotated[int, Field(ge=1, le=1000000)] = 31
    """Most pulses one device receives in one update."""
    bit_length: Annotated[int, Field(ge=1, le=1024)] = 31
    """Stochastic pulse trains: bits per update."""
    bl_management: bool = False
    """Stochastic pulse trains: aihwkit's bit-length management (its default; the published
    protocol): each sample's trains only as long as its largest expected count, at most ``bit_length``."""
    mp_granularity: Literal["device", "published_fit"] | Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)] = "device"
    """Mixed precision's accumulator quantum: ``device`` (one device step, n quanta -> n pulses),
    a number of device steps, or ``published_fit`` (the published fit's granularity; needs
    ``device.measured_law = "published_fit"``). A number or ``published_fit`` transfers as
    aihwkit's ``MixedPrecisionCompound``: ``round(granularity n)`` pulses, each row's scaled to at
    most ``max_pulses``."""
    mp_transfer_at: Literal["batch_end", "batch_end_from_second", "next_batch_first_sample"] = "batch_end"
    """When mixed precision transfers its accumulator: after each batch's gradient (``batch_end``),
    after each but the first (``batch_end_from_second``: aihwkit's CUDA tiles), or after the first
    sample of the next batch (``next_batch_first_sample``: aihwkit's CPU tiles; the devices trail
    the gradient by one batch); :class:`memcosim.training.rules.MixedPrecision`."""
    update_order: Literal["hardware", "aggregated"] = "hardware"
    """Stochastic pulse trains: ``hardware`` applies each sample's pulses in turn, as a crossbar
    does; ``aggregated`` (an approximation) sums the batch's pulses per device and applies the
    ups, then the downs."""
    transfer_every: Annotated[int, Field(ge=1, le=1000000)] = 1
    """Tiki-Taka: transfer from the fast array every this many minibatches."""
    n_reads_per_transfer: Annotated[int, Field(ge=1, le=1000000)] = 1
    """Tiki-Taka: columns (inputs) of the fast array read and transferred per transfer, cycling
    through the inputs (a layer with fewer inputs reads all of them)."""
    transfer_lr: Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)] = 1.0
    """Tiki-Taka: a read of the fast array is added to the transfer buffer times
    ``transfer_lr * learning_rate``."""
    fast_lr: Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)] = 1.0
    """Tiki-Taka: the gradient pulses on the fast array use ``fast_lr * learning_rate``."""
    weight_scaling_omega: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.6
    """The largest initial |weight| maps to this fraction of the weight range; 0: no weight
    scaling, the weight *is* the normalised conductance ``(G - G_ref) / g_unit`` (the published
    protocol; a measured device's unit is half its measured range)."""
    read_noise_std: Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)] = 0.0
    """Gaussian read noise, relative to a column's full-scale output."""
    io: Literal["ideal", "aihwkit"] = "ideal"
    """The read path's converters when ``[periphery]`` does not quantise: ``ideal``, or ``aihwkit``:
    aihwkit 1.2's default ``IOParameters`` forward and backward (7-bit DAC, 9-bit ADC, out_bound
    12, out_noise 0.06, iterative bound management, per-tile noise management) on tiles of at
    512 inputs and outputs split evenly (aihwkit's mapping; the arrays the energy is costed on
    keep the study's ``array`` size)."""
    forward: Literal["model", "exact", "ideal"] = "model"
    """Forward reads of the crossbar layers: the fitted IR-drop model, a native circuit solve
    of every tile (slow), or ``ideal`` wires (the reads still costed with the array's models)."""
    device: Literal["cpu", "cuda"] = "cpu"
    """torch device for training."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data):
        if isinstance(data, dict):
            moved = [f"training.{old}: moved to [dies] {new}" for old, new in MOVED_TO_DIES.items() if old in data]
            if moved:
                raise ValueError("; ".join(moved))
        return data


MOVED_TO_DIES = {"dies": "count", "die_modes": "modes", "hardware_aware_epochs": "hardware_aware_epochs",
                 "input_pool": "input_pool", "input_threshold": "input_threshold",
                 "die_recalibration_inputs": "recalibration_inputs"}
"""Keys of ``[training]`` that moved to ``[dies]`` (old name -> new name)."""


class OutputSection(Section):
    """Where results go."""

    dir: str | None = None
    """Output directory; default ``out/<study name>``."""
    plots: bool = True
    """Write PNG plots."""
