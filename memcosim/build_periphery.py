"""A study's ``[periphery]``: the converters a tile reads through and what each peripheral event costs.

:func:`io_config` gives the converter precision of the forward (and backward) read
(:class:`~memcosim.training.io_config.IOConfig`); :func:`periphery_costs` the energy and time
of every peripheral event of one tile (:class:`~memcosim.training.periphery.PeripheryCosts`):

* line drivers — the ngspice-characterised inverter chain (:mod:`memcosim.circuits.peripherals`)
  sized for the line it drives. Only the driver's own energy is booked: for programming pulses
  the line's charge is in the array's fitted ``wires`` term. A read drives its row from the core
  supply: the chain's own energy at ``vdd`` plus the row line's charge at the read voltage
  ``C_line V_read^2`` (the array's read law is the DC conduction only). Programming pulses use
  the core chain when their amplitude is within its characterised supplies (0.63-1.26 V), the
  thick-oxide I/O chain (0.99-4.03 V) above;
* sense — the characterised integrator (``array.sense = "virtual_ground"``) or sense-resistor
  front end of one column holding ``rows`` cells at the middle of the device's window;
* converters and digital parts — :mod:`memcosim.circuits.converters` at the study's bits;
  adders and the accumulator's add take one cycle of the converter clock (an assumption).
"""

import logging
from dataclasses import dataclass

from memcosim.base.errors import ConfigError

__all__ = ["io_config", "periphery_costs", "die_periphery_costs", "ReadSide"]

_COMPARATOR_INPUT_V = 0.01
"""Input difference the die study's comparator decision time is taken at, volts (its fitted law's point)."""


def io_config(study):
    """The :class:`~memcosim.training.io_config.IOConfig` of the study (ideal without a quantising periphery)."""
    from memcosim.training.io_config import IOConfig

    p = study.periphery
    if study.training.io == "aihwkit":
        if p.enabled and p.quantize:
            raise ConfigError("training.io: 'aihwkit' reads through aihwkit's default converters; [periphery] quantize = "
                              "true reads through the periphery's: set one of them")
        if study.training.read_noise_std > 0:
            raise ConfigError("training.read_noise_std: training.io = 'aihwkit' brings aihwkit's out_noise 0.06; leave "
                              "read_noise_std at 0")
        return IOConfig.aihwkit_default()
    if not p.enabled:
        return IOConfig()
    bits = (p.dac_bits, p.adc_bits) if p.quantize else (None, None)
    return IOConfig(inp_bits=bits[0], out_bits=bits[1], inp_bound=p.inp_bound, out_bound=p.out_bound,
                    columns_per_adc=p.columns_per_adc, backward_inp_bits=p.backward_bits,
                    backward_out_bits=p.backward_bits)


def converter_params(study):
    """The study's :class:`~memcosim.circuits.converters.ConverterParams`: defaults, a file, the FOM override."""
    import dataclasses

    from memcosim.base.files import read_text
    from memcosim.base.typed import loads
    from memcosim.circuits.converters import ConverterParams

    p = study.periphery
    params = ConverterParams()
    if p.converters_file:
        params = loads(ConverterParams, read_text(p.converters_file, "periphery.converters_file"), p.converters_file,
                       "periphery.converters_file")
    if p.adc_fom_walden_j is not None:
        params = dataclasses.replace(params, adc_fom_walden_j=p.adc_fom_walden_j)
    return params


@dataclass(frozen=True)
class ReadSide:
    """What the read path of one tile costs, and the line loads it was costed on."""

    read_driver_j: float
    """Row driver energy of one read (its own chain and the row line's charge), joules."""
    sense_j: float
    """Energy of one column's sense circuit during one read, joules."""
    driver_s: float
    """Row driver delay to the far end of the line, seconds."""
    sense_s: float
    """Sense time of one read (at least the read pulse), seconds."""
    row_c_f: float
    """Capacitance of one row line, farads."""
    row_r_ohm: float
    """Resistance of one row line, ohms."""
    col_c_f: float
    """Capacitance of one column line, farads."""
    col_r_ohm: float
    """Resistance of one column line, ohms."""


def _read_side(study, core, c_cell_f, g_column_s):
    """The :class:`ReadSide` of a read: row drivers, sense, their times and the line loads."""
    from memcosim.circuits.line_charging import driver_own_energy_j, line_charge_j
    from memcosim.circuits.peripheral_models import line_load

    a = study.array
    if a.c_wire_f == 0 and c_cell_f == 0:
        logging.getLogger(__name__).warning(
            "periphery: array.c_wire_f = 0 and the cells add no capacitance, so the row and column lines have none "
            "and their drivers cost nothing; set array.c_wire_f (farads per segment) for line drivers")
    row_c, row_r = line_load(a.cols, a.c_wire_f, a.r_wire_ohm, c_cell_f)  # a row line crosses every column
    col_c, col_r = line_load(a.rows, a.c_wire_f, a.r_wire_ohm, c_cell_f)
    v_read, t_read = study.device.read_voltage_v, study.circuit.read_pulse_width_s
    mode = "integrator" if a.sense == "virtual_ground" else "resistor"
    return ReadSide(read_driver_j=driver_own_energy_j(core, row_c, row_r, core.process.vdd_v) + line_charge_j(row_c, v_read),
                    sense_j=float(core.sense_energy_j(col_c, g_column_s, t_read, v_read, mode=mode)),
                    driver_s=float(core.driver_delay_s(row_c, row_r)),
                    sense_s=max(t_read, float(core.sense_time_s(col_c, g_column_s, t_read, v_read, mode=mode))),
                    row_c_f=row_c, row_r_ohm=row_r, col_c_f=col_c, col_r_ohm=col_r)


def periphery_costs(study, params, amplitude_v, cache_dir=None):
    """The :class:`~memcosim.training.periphery.PeripheryCosts` of one tile of the study, or None when disabled.

    Parameters
    ----------
    study : Study
    params : HZOParams
        The cell's electrical model (its capacitance loads the lines; its window sets the column
        conductance the sense circuit sees).
    amplitude_v : float
        Programming pulse magnitude, volts (a measured device: its mean).
    cache_dir : str or Path, optional
        Where the characterised periphery is cached (default: the user cache directory).
    """
    from memcosim.circuits import converters
    from memcosim.circuits.line_charging import driver_own_energy_j
    from memcosim.circuits.peripherals import default_peripheral_models, default_write_driver_models
    from memcosim.training.periphery import PeripheryCosts

    p, a = study.periphery, study.array
    if not p.enabled:
        return None
    core, thick = default_peripheral_models(cache_dir), default_write_driver_models(cache_dir)
    read = _read_side(study, core, params.capacitance_f, a.rows * 0.5 * (params.g_min_s + params.g_max_s))
    row_c, row_r, col_c, col_r = read.row_c_f, read.row_r_ohm, read.col_c_f, read.col_r_ohm
    # a pulse within the core supply range is driven by the core chain, a higher one by the 3.3 V I/O chain
    writer = core if core.driver.supply_min_v <= amplitude_v <= core.driver.supply_max_v else thick
    try:
        write_j = 0.5 * (driver_own_energy_j(writer, row_c, row_r, amplitude_v)
                         + driver_own_energy_j(writer, col_c, col_r, amplitude_v))
    except ConfigError as err:
        raise ConfigError(f"periphery: the programming pulse of {amplitude_v:g} V is outside both characterised write "
                          f"drivers ({err})") from None
    conv = converter_params(study)
    return PeripheryCosts(
        dac_j=float(converters.dac_energy_j(p.dac_bits, conv)),
        read_driver_j=read.read_driver_j,
        sense_j=read.sense_j,
        adc_j=float(converters.adc_energy_j(p.adc_bits, conv)),
        adder_j=float(converters.adder_energy_j(p.adc_bits + 4, conv)),  # partial sums of up to 16 tiles
        write_driver_j=write_j,
        accumulator_j=float(converters.accumulator_energy_j(p.accumulator_bits, conv, op="read")
                            + converters.accumulator_energy_j(p.accumulator_bits, conv, op="write")
                            + converters.adder_energy_j(p.accumulator_bits, conv)),
        dac_s=float(converters.dac_time_s(p.dac_bits, conv)),
        driver_s=read.driver_s,
        write_driver_s=float(max(writer.driver_delay_s(row_c, row_r), writer.driver_delay_s(col_c, col_r))),
        sense_s=read.sense_s,
        adc_s=float(converters.adc_time_s(p.adc_bits, conv)),
        adder_s=1.0 / conv.adc_clock_hz,
        accumulator_s=p.accumulator_access_s,
        accumulator_words=p.accumulator_words,
    )


def die_periphery_costs(study, params, cache_dir=None):
    """``(hidden layer, output layer)`` :class:`~memcosim.training.periphery.PeripheryCosts` of the
    MTJ die study, or None when disabled: binary inputs (row drivers, no DACs), a differential
    pair's two column front ends per output, the hidden layer deciding with the latch comparator
    (at a 10 mV input), the output layer converting with the ADC. The cells add no capacitance
    of their own to the lines (only ``array.c_wire_f``)."""
    import dataclasses

    import numpy as np

    from memcosim.circuits import converters
    from memcosim.circuits.peripherals import default_peripheral_models
    from memcosim.devices import mtj
    from memcosim.training.periphery import PeripheryCosts

    p = study.periphery
    if not p.enabled:
        return None
    core = default_peripheral_models(cache_dir)
    g_p, g_ap = 1.0 / mtj.resistance_ohm(np.array([mtj.P, mtj.AP]), study.device.read_voltage_v, params)
    g_column = study.array.rows * 0.5 * (g_p + g_ap)  # half the junctions in each state, at the read bias
    read = _read_side(study, core, 0.0, g_column)
    conv = converter_params(study)
    hidden = PeripheryCosts(read_driver_j=read.read_driver_j, sense_j=2 * read.sense_j, driver_s=read.driver_s,
                            sense_s=read.sense_s,
                            adc_j=float(core.comparator_energy_j()),
                            adc_s=float(core.comparator_decision_time_s(_COMPARATOR_INPUT_V)),
                            adder_j=float(converters.adder_energy_j(p.adc_bits + 4, conv)), adder_s=1.0 / conv.adc_clock_hz)
    output = dataclasses.replace(hidden, adc_j=float(converters.adc_energy_j(p.adc_bits, conv)),
                                 adc_s=float(converters.adc_time_s(p.adc_bits, conv)))
    return hidden, output
