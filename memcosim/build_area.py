"""A study's tile area and the tiles its network needs (``results["area"]``).

The blocks are those :func:`memcosim.build_periphery.periphery_costs` costs, sized the same way:
line drivers for the row and column lines (core chain for reads; for programming pulses the
core chain within its supplies, the thick-oxide chain above), the integrator for the column's
charge at the middle of the device's window, the study's converters and adders, and for mixed
precision the accumulator. Model and sources: :mod:`memcosim.circuits.area`, docs/periphery.md.
"""

import math

__all__ = ["area_results", "study_area"]


def study_area(study, amplitude_v, cache_dir=None):
    """:func:`area_results` of a pulsed study with its own cell model (a measured device's fitted one)."""
    from memcosim.build import device_params, measured_device

    measured = measured_device(study) if study.device.kind == "measured" else None
    return area_results(study, device_params(study, measured), amplitude_v, cache_dir)


def area_results(study, params, amplitude_v, cache_dir=None):
    """``{"tile": TileArea JSON, "tiles": n, "network_m2": ..., "cell_area_f2": ...}``, or None without a periphery.

    Parameters
    ----------
    study : Study
    params : HZOParams
        The cell's electrical model (its capacitance loads the lines, its window the columns).
    amplitude_v : float
        Programming pulse magnitude, volts.
    """
    from memcosim.budget import layer_widths
    from memcosim.build_periphery import converter_params
    from memcosim.circuits import converters
    from memcosim.circuits.area import AreaParams, tile_area
    from memcosim.circuits.peripheral_models import line_load
    from memcosim.circuits.peripherals import default_peripheral_models
    from memcosim.netlist.peripherals import CmosProcess, OpAmp, driver_chain, integrator_feedback_c_f

    p, a = study.periphery, study.array
    if not p.enabled:
        return None
    core_models = default_peripheral_models(cache_dir)
    taper = core_models.driver.taper
    row_c, _ = line_load(a.cols, a.c_wire_f, a.r_wire_ohm, params.capacitance_f)
    col_c, _ = line_load(a.rows, a.c_wire_f, a.r_wire_ohm, params.capacitance_f)
    core, thick = CmosProcess(), CmosProcess.io_thick_oxide()
    writer = core if core_models.driver.supply_min_v <= amplitude_v <= core_models.driver.supply_max_v else thick
    g_column = a.rows * 0.5 * (params.g_min_s + params.g_max_s)
    feedback = integrator_feedback_c_f(OpAmp(), g_column, study.circuit.read_pulse_width_s, study.device.read_voltage_v) \
        if a.sense == "virtual_ground" else 0.0
    conv = converter_params(study)
    accumulator = p.accumulator_bits if study.training.algorithm == "mixed_precision" else 0
    area = tile_area(a.rows, a.cols, a.cell_area_f2, driver_chain(core, max(row_c, 1e-18), taper),
                     driver_chain(writer, max(row_c, 1e-18), taper), driver_chain(writer, max(col_c, 1e-18), taper), core,
                     feedback, p.dac_bits, conv.dac_unit_cap_f, p.adc_bits, 1.0 / float(converters.adc_time_s(p.adc_bits, conv)),
                     float(converters.adc_energy_j(p.adc_bits, conv)), p.columns_per_adc, p.adc_bits + 4, accumulator,
                     AreaParams(feature_size_m=conv.node_nm * 1e-9))
    widths = layer_widths(study)
    pair = 2 if study.training.weight_mapping == "differential" else 1
    tiles = pair * sum(math.ceil(n_in / a.rows) * math.ceil(n_out / a.cols) for n_in, n_out in zip(widths, widths[1:]))
    return {"tile": area.to_json(), "tiles": tiles, "network_m2": tiles * area.total_m2, "cell_area_f2": a.cell_area_f2}
