"""Study -> layer objects: device parameters and crossbar specs, drawn from the study seed."""

from memcosim.devices import hzo, load_device_params, mtj
from memcosim.netlist import AccessTransistor, CrossbarSpec
from memcosim.seeding import numpy_rng

__all__ = ["device_params", "crossbar_from_study", "characterize_setup"]


def device_params(study):
    """The study's device parameters (``parameters_file`` wins over ``preset``)."""
    return load_device_params(study.device.kind, study.device.parameters_file or study.device.preset)


def crossbar_from_study(study, die=0):
    """The study's crossbar with cell states drawn from its seed.

    HZO: conductances uniform between ``g_min_s`` and ``g_max_s`` (device-to-device spread of
    the bounds from ``device.device_to_device_std``). MTJ: random P/AP states, the die's defect
    map from the study's defect rates, lognormal spread of R_P and TMR.
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
        access=AccessTransistor() if a.access_transistor else None,
        name=study.name,
    )
    if d.kind == "hzo":
        rng = numpy_rng(study.seed, f"array/die{die}/conductance")
        dev = hzo.sample_device_params(params, shape, d.device_to_device_std, numpy_rng(study.seed, f"array/die{die}/d2d"))
        g = dev["g_min_s"] + rng.random(shape) * (dev["g_max_s"] - dev["g_min_s"])
        return CrossbarSpec(g, cell="hzo", hzo_params=params, **common)
    states = numpy_rng(study.seed, f"array/die{die}/states").integers(0, 2, shape)
    rates = mtj.DefectRates(d.short_rate, d.open_rate, d.stuck_p_rate, d.stuck_ap_rate)
    defects = mtj.defect_map(shape, rates, study.seed, die=die)
    return CrossbarSpec.from_mtj(states, params, defects, **common)


def characterize_setup(study):
    """The characterisation setup of a study (device, wiring, scheme and read pulse)."""
    from memcosim.circuits.characterize import CharacterizeSetup

    a = study.array
    from memcosim.circuits.characterize import mtj_setup_defaults
    from memcosim.netlist import AccessTransistor

    common = dict(
        r_wire_ohm=max(a.r_wire_ohm, 1e-3),
        r_driver_ohm=max(a.r_driver_ohm, 1e-3),
        c_wire_f=a.c_wire_f,
        scheme=study.circuit.write_scheme,
        read_voltage_v=study.device.read_voltage_v,
        read_width_s=study.circuit.read_pulse_width_s,
        seed=study.seed,
        study_rows=a.rows,
        study_cols=a.cols,
        timeout_s=study.circuit.timeout_s,
    )
    if study.device.kind == "mtj":
        access = AccessTransistor() if a.access_transistor else None
        return mtj_setup_defaults(device_params(study), access=access, **common)
    return CharacterizeSetup(device_params=device_params(study), **common)
