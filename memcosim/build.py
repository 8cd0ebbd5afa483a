"""Study -> layer objects: device parameters and crossbar specs, drawn from the study seed."""

import numpy as np

from memcosim.devices import hzo, load_device_params, mtj
from memcosim.netlist import AccessTransistor, CrossbarSpec
from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng
from memcosim.build_measured import (measured_device, measured_envelope, measured_files, published_fit,
                                     sweep_measured_files)

__all__ = ["PULSED_KINDS", "pulse_width_s", "pulsed_device", "published_fit", "device_params", "measured_files", "sweep_measured_files", "measured_device", "measured_envelope", "crossbar_from_study", "characterize_setup", "uses_circuit_models", "has_tile", "update_scheme", "study_operations", "tile_config", "train_config", "dies_config"]


PULSED_KINDS = ("hzo", "measured", "piecewise_step")
"""Device kinds trained with programming pulses (HZO compact model, measured HZO response, aihwkit piecewise step)."""


def device_params(study, device=None):
    """The study's device parameters (``parameters_file`` wins over ``preset``).

    A ``measured`` device: the HZO parameters whose electrical model costs its pulses, with the
    conductance window of its measured files of the study's pulse width (``device``: that
    :func:`measured_device`, when the caller has built it already).
    """
    d = study.device
    if d.kind == "piecewise_step":
        return load_device_params("hzo", d.preset, file=d.parameters_file)
    if d.kind != "measured":
        return load_device_params(d.kind, d.preset, file=d.parameters_file)
    device = device or measured_device(study)
    return _hzo_in_window(study, device.g_min_s, device.g_max_s)


def _hzo_in_window(study, g_min_s, g_max_s):
    """The study's HZO parameters (preset or ``parameters_file``) with the conductance window ``[g_min_s, g_max_s]``."""
    import dataclasses

    params = load_device_params("hzo", study.device.preset, file=study.device.parameters_file)
    return dataclasses.replace(params, g_min_s=g_min_s, g_max_s=g_max_s)


def pulse_width_s(study):
    """The study's programming pulse width, seconds (``"measured"``: the width its files were measured at)."""
    if study.device.pulse_width_s != "measured":
        return study.device.pulse_width_s
    return measured_device(study).pulse_width_s


def access_transistor(array):
    """The study's access transistor (None for 1R cells)."""
    if not array.access_transistor:
        return None
    return AccessTransistor(width_m=array.access_width_m, gate_on_v=array.access_gate_v)


def crossbar_from_study(study, die=0):
    """The study's crossbar with cell states drawn from its seed.

    HZO: conductances uniform between ``g_min_s`` and ``g_max_s`` (device-to-device spread of
    the bounds from ``device.device_to_device_std``). MTJ: random P/AP states and the die's
    defect map from the study's defect rates; every junction of the deck has the nominal
    ``MTJParams`` (the deck's cells share one model card), so the spread of R_P and TMR that the
    die study samples (:func:`memcosim.devices.mtj.sample_devices`) is not in the netlist.
    """
    a, d = study.array, study.device
    params = device_params(study)
    shape = (a.rows, a.cols)
    common = dict(
        r_wire_ohm=a.r_wire_ohm,
        c_wire_f=a.c_wire_f,
        r_driver_ohm=a.r_driver_ohm,
        sense=a.sense,
        r_sense_ohm=a.r_sense_ohm,
        access=access_transistor(a),
        name=study.name,
    )
    if d.kind in PULSED_KINDS:
        rng = numpy_rng(study.seed, f"array/die{die}/conductance")
        dev = hzo.sample_device_params(params, shape, d.device_to_device_std, numpy_rng(study.seed, f"array/die{die}/d2d"))
        g = dev["g_min_s"] + rng.random(shape) * (dev["g_max_s"] - dev["g_min_s"])
        return CrossbarSpec(g, cell="hzo", hzo_params=params, **common)
    states = numpy_rng(study.seed, f"array/die{die}/states").integers(0, 2, shape)
    rates = mtj.DefectRates(d.short_rate, d.open_rate, d.stuck_p_rate, d.stuck_ap_rate)
    defects = mtj.defect_map(shape, rates, study.seed, die=die)
    return CrossbarSpec.from_mtj(states, params, defects, **common)


def has_tile(study):
    """Whether a training point runs on crossbar tiles (every algorithm but ``float``): a point without
    one trains in floating point and reads nothing of [device], [array], [circuit] or [periphery]."""
    return study.training.algorithm != "float"


def update_scheme(study):
    """How the study's updates are programmed: ``serial``, ``row_parallel`` or ``parallel_stochastic`` (None: no pulses).

    ``circuit.update_scheme = "auto"`` resolves to the algorithm's hardware scheme: stochastic
    analog SGD and symmetry-point shifting run parallel stochastic slots; mixed-precision
    transfers and deterministic pulse counts run row operations. Tiki-Taka runs the scheme of
    its pulse mode for both arrays: its transfers are pulsed updates with a one-hot input (one
    driven row), costed as slots or as row operations like its gradient pulses.
    """
    tr, scheme = study.training, study.circuit.update_scheme
    if study.device.kind not in PULSED_KINDS or not has_tile(study):
        return None
    stochastic = tr.algorithm in ("sgd", "symmetry_shift", "tiki_taka") and tr.pulse_mode == "stochastic"
    if scheme == "auto":
        return "parallel_stochastic" if stochastic else "row_parallel"
    if scheme == "parallel_stochastic" and not stochastic:
        raise ConfigError(f"circuit.update_scheme: 'parallel_stochastic' programs stochastic pulse trains; training.algorithm "
                          f"{tr.algorithm!r} with pulse_mode {tr.pulse_mode!r} has none (use 'row_parallel' or 'serial')")
    return scheme


def study_operations(study):
    """The parallel write operations any point of ``study``'s sweep needs characterised (``row``, ``slot``).

    Only the fields that decide the update scheme are expanded (algorithm, pulse mode, update
    scheme), so a large sweep costs nothing here; one characterisation then serves every point.
    """
    import itertools

    from memcosim.config import parse_study
    from memcosim.training.schemes import parallel_operations

    fields = ("training.algorithm", "training.pulse_mode", "circuit.update_scheme")
    axes = [study.sweep.get(f, [None]) for f in fields]
    data = study.model_dump(mode="json")
    data["sweep"] = {}
    needed = set()
    for combo in itertools.product(*axes):
        point = data
        for field, value in zip(fields, combo):
            if value is not None:
                section, key = field.split(".")
                point = {**point, section: {**point[section], key: value}}
        try:
            scheme = update_scheme(parse_study(point))
        except ConfigError:
            continue  # that combination is refused when its run starts
        needed |= set(parallel_operations(scheme))
    return tuple(sorted(needed))


def characterize_setup(study, operations=None, measured=None):
    """The characterisation setup of a study (device, wiring, scheme and read pulse).

    ``operations``: the parallel write operations to characterise (default: the one the study's
    :func:`update_scheme` needs, ``row`` or ``slot``). ``measured``: the measured files whose
    window, amplitudes and widths a measured device's characterisation spans (default: the
    study's own; a sweep over ``device.measured_from`` passes :func:`sweep_measured_files`).
    """
    from memcosim.circuits.characterize import CharacterizeSetup, mtj_setup_defaults
    from memcosim.training.schemes import parallel_operations

    a = study.array
    for name in ("r_wire_ohm", "r_driver_ohm"):
        if getattr(a, name) <= 0:
            raise ConfigError(f"array.{name}: characterisation simulates the wires and drivers and needs > 0 ohms, got "
                              f"{getattr(a, name)!r}; for ideal wires use circuit.energy_model = 'device' (no characterisation)")
    common = dict(
        r_wire_ohm=a.r_wire_ohm,
        r_driver_ohm=a.r_driver_ohm,
        c_wire_f=a.c_wire_f,
        scheme=study.circuit.write_scheme,
        read_voltage_v=study.device.read_voltage_v,
        read_width_s=study.circuit.read_pulse_width_s,
        seed=study.seed,
        study_rows=a.rows,
        study_cols=a.cols,
        timeout_s=study.circuit.timeout_s,
        transient_engine=study.circuit.transient_engine,
        native_above=study.circuit.native_transient_above,
        holdout_sizes=tuple(study.circuit.holdout_sizes),
    )
    if operations is None:
        operations = parallel_operations(update_scheme(study))
    if study.device.kind == "mtj":
        return mtj_setup_defaults(device_params(study), access=access_transistor(a), **common)
    if study.device.kind == "measured":
        if measured is None and "device.measured_from" in study.sweep:
            measured = sweep_measured_files(study)
        g_min, g_max, amplitudes, widths = measured_envelope(study, measured)
        return CharacterizeSetup(device_params=_hzo_in_window(study, g_min, g_max), amplitudes_v=amplitudes,
                                 widths_s=widths, operations=tuple(operations), **common)
    return CharacterizeSetup(device_params=device_params(study), operations=tuple(operations), **common)


def uses_circuit_models(study):
    """Whether training the study needs the ngspice-fitted models (``memcosim characterize``).

    Pulsed HZO training with ``circuit.energy_model = "circuit"``; floating-point runs, the
    device-level energy model and MTJ die studies (cell read model, no write pulses) do not.
    """
    return (study.device.kind in PULSED_KINDS and has_tile(study)
            and study.circuit.energy_model == "circuit")


def tile_config(study, models=None):
    """The :class:`~memcosim.training.TileConfig` of a pulsed HZO study.

    Parameters
    ----------
    study : Study
    models : CircuitModels, optional
        The fitted models of ``memcosim characterize``: pulses are then costed with the fitted
        write-energy models of the study's :func:`update_scheme` (serial writes, row operations
        or stochastic slots), reads with the read model, and the forward pass sees the fitted
        IR-drop model. Without them, pulses cost their device-level energy and wires are ideal.
    """
    from memcosim.build_periphery import io_config, periphery_costs
    from memcosim.circuits.models import CircuitModels
    from memcosim.training import ArrayConfig, EnergyConfig, MappingConfig, ReadConfig, TileConfig

    tr, d, a = study.training, study.device, study.array
    if not has_tile(study):
        raise ConfigError("training.algorithm: 'float' trains no crossbar (no tile)")
    if d.kind not in PULSED_KINDS:
        raise ConfigError("device.kind: pulsed training supports 'hzo' and 'measured' devices; run MTJ die studies with "
                          "'memcosim run'")
    if models is not None and not isinstance(models, CircuitModels):
        raise ConfigError(f"models: expected CircuitModels (CircuitModels.load('models.json')), got {type(models).__name__}")
    pulsed, params, _ = pulsed_device(study)
    read_width_s = study.circuit.read_pulse_width_s
    # the tile derives its write tables, operation costs and read law from the device's pulse and these models
    energy = EnergyConfig(scheme=update_scheme(study) if models is not None else "serial", models=models,
                          periphery=periphery_costs(study, params, pulsed.amplitude_v))  # periphery None when disabled
    ir_drop = None if models is None else models.ir_drop
    update = _update_rule(study, pulsed)
    return TileConfig(
        device=pulsed,
        update=update,
        mapping=MappingConfig(mapping=tr.weight_mapping, reference=tr.weight_reference,
                              weight_scaling_omega=tr.weight_scaling_omega),
        read=ReadConfig(forward=tr.forward, noise_std=0.06 if tr.io == "aihwkit" else tr.read_noise_std,
                        voltage_v=d.read_voltage_v, width_s=read_width_s),
        array=ArrayConfig(rows=a.rows, cols=a.cols, r_wire_ohm=a.r_wire_ohm, r_driver_ohm=a.r_driver_ohm, ir_drop=ir_drop),
        energy=energy,
        io=io_config(study),
    )


def pulsed_device(study):
    """``(PulsedDevice, HZOParams, amplitude)`` of a pulsed study: the device a tile trains, the HZO
    parameters whose electrical model costs its pulses (in its conductance window), and the pulse
    amplitude (volts, or a function of the normalised state for measured devices)."""
    from memcosim.training import HZOPulsed, MeasuredPulsed
    from memcosim.training.pulsed_measured import PiecewisePulsed

    d = study.device
    if d.kind == "piecewise_step":
        from memcosim.base.files import read_text
        from memcosim.devices.piecewise_step import from_aihwkit

        device = from_aihwkit(read_text(d.aihwkit_device, "device.aihwkit_device"), d.aihwkit_device)
        preset = device_params(study)
        centre, unit = 0.5 * (preset.g_min_s + preset.g_max_s), 0.5 * (preset.g_max_s - preset.g_min_s)
        pulsed = PiecewisePulsed(device, centre, unit, d.pulse_width_s, d.pulse_amplitude_v, source=d.aihwkit_device,
                                 electrical=preset)
        return pulsed, pulsed.electrical, d.pulse_amplitude_v
    if d.kind != "measured":
        params = device_params(study)
        pulsed = HZOPulsed(params, d.pulse_amplitude_v, d.pulse_width_s, d.device_to_device_std, d.cycle_to_cycle_std)
        return pulsed, params, d.pulse_amplitude_v
    measured = measured_device(study)  # its files are read once
    if d.measured_law == "tables":
        pulsed = MeasuredPulsed(measured, d.device_to_device_std, noise_scale=1.0 if d.write_noise == "measured" else 0.0,
                                electrical=device_params(study, measured))
        # each state at the amplitude its sweep applied
        return pulsed, pulsed.electrical, pulsed.amplitude_of_state
    import dataclasses

    fit = published_fit(study)
    spread = {name: d.device_to_device_std for name in ("dw_min_dtod", "w_min_dtod", "w_max_dtod")}
    noise = fit.residual_std / fit.params.dw_min if d.write_noise == "measured" else 0.0
    device = dataclasses.replace(fit.params, dw_min_std=noise, **spread)
    g_lo, span = fit.g_centre_s + device.w_min * fit.g_unit_s, (device.w_max - device.w_min) * fit.g_unit_s

    def amplitude(x, direction):  # the amplitude the sweep applied where it passed through the state
        g = g_lo + np.asarray(x, dtype=float) * span
        return measured.amplitude_of_state(np.clip((g - measured.g_min_s) / measured.span_s, 0.0, 1.0), direction)

    pulsed = PiecewisePulsed(device, fit.g_centre_s, fit.g_unit_s, fit.pulse_width_s, amplitude, fit.granularity,
                             source=fit.source, electrical=load_device_params("hzo", d.preset, file=d.parameters_file))
    return pulsed, pulsed.electrical, amplitude


def _update_rule(study, pulsed):
    """The update rule of a pulsed study (:mod:`memcosim.training.rules`)."""
    from memcosim.training import AnalogSGD, MixedPrecision, SymmetryShift
    from memcosim.training.rules import TikiTaka

    tr = study.training
    if tr.algorithm == "mixed_precision":
        granularity = tr.mp_granularity
        if granularity == "device":
            granularity = None
        elif granularity == "published_fit":
            if study.device.kind != "measured" or study.device.measured_law != "published_fit":
                raise ConfigError("training.mp_granularity: 'published_fit' needs device.kind = 'measured' with "
                                  "measured_law = 'published_fit'")
            granularity = pulsed.granularity / pulsed.params.granularity()
        return MixedPrecision(max_pulses=tr.max_pulses, verify=tr.transfer_verify, granularity=granularity,
                              transfer_at=tr.mp_transfer_at)
    common = dict(max_pulses=tr.max_pulses, pulse_mode=tr.pulse_mode, bit_length=tr.bit_length,
                  update_order=tr.update_order, bl_management=tr.bl_management)
    if tr.algorithm == "tiki_taka":
        return TikiTaka(transfer_every=tr.transfer_every, n_reads_per_transfer=tr.n_reads_per_transfer,
                        transfer_lr=tr.transfer_lr, fast_lr=tr.fast_lr, **common)
    if tr.algorithm == "symmetry_shift":
        return SymmetryShift(symmetry_point=tr.symmetry_point, **common)
    return AnalogSGD(**common)


def train_config(study, models=None, data_dir=None, device=None):
    """The :class:`~memcosim.training.trainer.TrainConfig` of a study.

    Parameters
    ----------
    study : Study
    models : CircuitModels, optional
        See :func:`tile_config`.
    data_dir, device : str, optional
        Override ``training.data_dir`` and ``training.device``.
    """
    from memcosim.training.models import ModelSpec
    from memcosim.training.trainer import TrainConfig

    tr, m = study.training, study.model
    common = dict(dataset=tr.dataset, data_dir=data_dir or tr.data_dir, hidden_sizes=tuple(tr.hidden_sizes),
                  activation=tr.activation, epochs=tr.epochs, batch_size=tr.batch_size,
                  learning_rate=tr.learning_rates.get(tr.algorithm, tr.learning_rate),
                  lr_halve_every_epochs=tr.lr_halve_every_epochs, validation_fraction=tr.validation_fraction,
                  target_accuracy=tr.target_accuracy, seed=study.seed, device=device or tr.device,
                  model=ModelSpec(m.kind, tuple(m.channels), m.kernel_size))
    tile = tile_config(study, models) if has_tile(study) else None
    return TrainConfig(tile=tile, **common)


from memcosim.build_dies import dies_config  # noqa: E402  (the die study lives in its own module)
