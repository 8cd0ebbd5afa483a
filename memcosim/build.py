"""Study -> layer objects: device parameters and crossbar specs, drawn from the study seed."""

import numpy as np

from memcosim.devices import hzo, load_device_params, mtj
from memcosim.netlist import AccessTransistor, CrossbarSpec
from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng

__all__ = ["PULSED_KINDS", "device_params", "measured_files", "measured_device", "measured_envelope", "crossbar_from_study", "characterize_setup", "uses_circuit_models", "update_scheme", "study_operations", "tile_config", "train_config", "dies_config"]


PULSED_KINDS = ("hzo", "measured")
"""Device kinds trained with programming pulses (HZO compact model, measured HZO response)."""


def device_params(study, device=None):
    """The study's device parameters (``parameters_file`` wins over ``preset``).

    A ``measured`` device: the HZO parameters whose electrical model costs its pulses, with the
    conductance window of its measured files of the study's pulse width (``device``: that
    :func:`measured_device`, when the caller has built it already).
    """
    d = study.device
    if d.kind != "measured":
        return load_device_params(d.kind, d.preset, file=d.parameters_file)
    device = device or measured_device(study)
    return _hzo_in_window(study, device.g_min_s, device.g_max_s)


def _hzo_in_window(study, g_min_s, g_max_s):
    """The study's HZO parameters (preset or ``parameters_file``) with the conductance window ``[g_min_s, g_max_s]``."""
    import dataclasses

    params = load_device_params("hzo", study.device.preset, file=study.device.parameters_file)
    return dataclasses.replace(params, g_min_s=g_min_s, g_max_s=g_max_s)


def measured_files(study):
    """The files of ``device.measured_from``, glob patterns expanded (sorted); a pattern matching nothing is an error."""
    from memcosim.build_dies import expand_patterns

    return expand_patterns(study.device.measured_from, "device.measured_from")


def measured_device(study):
    """The study's :class:`~memcosim.devices.measured.MeasuredDevice`: its files of ``device.pulse_width_s``."""
    from memcosim.devices import measured

    device = measured.from_files(measured_files(study), pulse_width_s=study.device.pulse_width_s)
    if study.device.measured_shape == "linear":
        device = measured.with_linear_response(device)
    if study.device.cycle_to_cycle_std > 0:
        device = measured.with_added_noise(device, study.device.cycle_to_cycle_std)
    scale = study.device.measured_step_scale
    return device if scale == 1.0 else measured.with_step_scale(device, scale)


def measured_envelope(study):
    """``(g_min_s, g_max_s, amplitudes_v)`` over *all* measured files of the study (every width):
    one characterisation serves every pulse width of a sweep. ``amplitudes_v``: the 10th, 50th and
    90th percentile of the measured pulse magnitudes, to 0.1 V."""
    from memcosim.devices.measurements import read_sweep

    sweeps = [read_sweep(f) for f in measured_files(study)]
    g = np.concatenate([sw.conductance_s for sw in sweeps])
    amps = np.abs(np.concatenate([sw.pulse_amplitude_v for sw in sweeps]))
    amps = amps[amps > 0]
    levels = tuple(sorted({max(0.1, round(float(q), 1)) for q in np.percentile(amps, [10, 50, 90])}))
    return float(g.min()), float(g.max()), levels


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


def update_scheme(study):
    """How the study's updates are programmed: ``serial``, ``row_parallel`` or ``parallel_stochastic`` (None: no pulses).

    ``circuit.update_scheme = "auto"`` resolves to the algorithm's hardware scheme: stochastic
    analog SGD and symmetry-point shifting run parallel stochastic slots; mixed-precision
    transfers and deterministic pulse counts run row operations. Tiki-Taka runs the scheme of
    its pulse mode for both arrays: its transfers are pulsed updates with a one-hot input (one
    driven row), costed as slots or as row operations like its gradient pulses.
    """
    tr, scheme = study.training, study.circuit.update_scheme
    if study.device.kind not in PULSED_KINDS or tr.algorithm == "float":
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
        needed |= {"row_parallel": {"row"}, "parallel_stochastic": {"slot"}}.get(scheme, set())
    return tuple(sorted(needed))


def characterize_setup(study, operations=None):
    """The characterisation setup of a study (device, wiring, scheme and read pulse).

    ``operations``: the parallel write operations to characterise (default: the one the study's
    :func:`update_scheme` needs, ``row`` or ``slot``).
    """
    from memcosim.circuits.characterize import CharacterizeSetup, mtj_setup_defaults

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
    )
    if operations is None:
        operations = {"row_parallel": ("row",), "parallel_stochastic": ("slot",)}.get(update_scheme(study), ())
    if study.device.kind == "mtj":
        return mtj_setup_defaults(device_params(study), access=access_transistor(a), **common)
    if study.device.kind == "measured":
        g_min, g_max, amplitudes = measured_envelope(study)
        return CharacterizeSetup(device_params=_hzo_in_window(study, g_min, g_max), amplitudes_v=amplitudes,
                                 operations=tuple(operations), **common)
    return CharacterizeSetup(device_params=device_params(study), operations=tuple(operations), **common)


def uses_circuit_models(study):
    """Whether training the study needs the ngspice-fitted models (``memcosim characterize``).

    Pulsed HZO training with ``circuit.energy_model = "circuit"``; floating-point runs, the
    device-level energy model and MTJ die studies (cell read model, no write pulses) do not.
    """
    return (study.device.kind in PULSED_KINDS and study.training.algorithm != "float"
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
    from dataclasses import replace

    from memcosim.build_periphery import io_config, periphery_costs
    from memcosim.circuits.models import CircuitModels, ReadEnergyModel
    from memcosim.training import (AnalogSGD, ArrayConfig, EnergyConfig, HZOPulsed, MappingConfig, MeasuredPulsed,
                                   MixedPrecision, ReadConfig, SymmetryShift, TileConfig, WriteEnergyTable)
    from memcosim.training.schemes import scheme_energy

    tr, d, a = study.training, study.device, study.array
    if tr.algorithm == "float":
        raise ConfigError("training.algorithm: 'float' trains no crossbar (no tile)")
    if d.kind not in PULSED_KINDS:
        raise ConfigError("device.kind: pulsed training supports 'hzo' and 'measured' devices; run MTJ die studies with "
                          "'memcosim run'")
    if models is not None and not isinstance(models, CircuitModels):
        raise ConfigError(f"models: expected CircuitModels (CircuitModels.load('models.json')), got {type(models).__name__}")
    measured = measured_device(study) if d.kind == "measured" else None  # its files are read once
    params = device_params(study, measured)
    if measured is not None:
        pulsed = MeasuredPulsed(measured, d.device_to_device_std)
        amplitude = pulsed.amplitude_of_state  # each state at the amplitude its sweep applied
    else:
        pulsed = HZOPulsed(params, d.pulse_amplitude_v, d.pulse_width_s, d.device_to_device_std, d.cycle_to_cycle_std)
        amplitude = d.pulse_amplitude_v
    read_width_s = study.circuit.read_pulse_width_s
    if models is not None:
        scheme = update_scheme(study)
        write, operations = scheme_energy(models, scheme, params, amplitude, d.pulse_width_s, a.rows, a.cols)
        energy = EnergyConfig(write, models.read_energy, scheme=scheme, operations=operations)
        ir_drop = models.ir_drop
    else:
        energy = EnergyConfig(WriteEnergyTable.from_device(params, amplitude, d.pulse_width_s),
                              ReadEnergyModel(read_width_s=read_width_s))
        ir_drop = None
    energy = replace(energy, periphery=periphery_costs(study, params, pulsed.amplitude_v))  # None when disabled
    if tr.algorithm == "mixed_precision":
        update = MixedPrecision(max_pulses=tr.max_pulses, verify=tr.transfer_verify)
    elif tr.algorithm == "tiki_taka":
        from memcosim.training.rules import TikiTaka

        update = TikiTaka(max_pulses=tr.max_pulses, pulse_mode=tr.pulse_mode, bit_length=tr.bit_length,
                          update_order=tr.update_order, transfer_every=tr.transfer_every,
                          n_reads_per_transfer=tr.n_reads_per_transfer, transfer_lr=tr.transfer_lr, fast_lr=tr.fast_lr)
    else:
        rule = AnalogSGD if tr.algorithm == "sgd" else SymmetryShift
        update = rule(max_pulses=tr.max_pulses, pulse_mode=tr.pulse_mode, bit_length=tr.bit_length,
                      update_order=tr.update_order)
    return TileConfig(
        device=pulsed,
        update=update,
        mapping=MappingConfig(mapping=tr.weight_mapping, reference=tr.weight_reference,
                              weight_scaling_omega=tr.weight_scaling_omega),
        read=ReadConfig(forward=tr.forward, noise_std=tr.read_noise_std, voltage_v=d.read_voltage_v, width_s=read_width_s),
        array=ArrayConfig(rows=a.rows, cols=a.cols, r_wire_ohm=a.r_wire_ohm, r_driver_ohm=a.r_driver_ohm, ir_drop=ir_drop),
        energy=energy,
        io=io_config(study),
    )


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
    from memcosim.training.trainer import TrainConfig

    tr = study.training
    common = dict(dataset=tr.dataset, data_dir=data_dir or tr.data_dir, hidden_sizes=tuple(tr.hidden_sizes),
                  activation=tr.activation, epochs=tr.epochs, batch_size=tr.batch_size, learning_rate=tr.learning_rate,
                  lr_halve_every_epochs=tr.lr_halve_every_epochs,
                  target_accuracy=tr.target_accuracy, seed=study.seed, device=device or tr.device)
    tile = None if tr.algorithm == "float" else tile_config(study, models)
    return TrainConfig(tile=tile, **common)


from memcosim.build_dies import dies_config  # noqa: E402  (the die study lives in its own module)
