"""Silicon area of a tile: the array and the same peripheral blocks whose energy and time are costed.

Every number comes from the block as it is sized for energy (docs/periphery.md, "Area", gives
each parameter's source):

* array: ``rows cols cell_area_f2 F^2`` (a crosspoint cell is ``(2F)^2 = 4F^2``);
* line drivers: the tapered chains :func:`memcosim.netlist.peripherals.driver_chain` sizes for
  the line (read drivers from the core device, programming drivers from the thick-oxide one),
  each transistor ``(W + 2F) x gate pitch`` times a layout overhead;
* sense: the integrator's op-amp (a transistor budget) and its feedback capacitor
  (:func:`memcosim.netlist.peripherals.integrator_feedback_c_f`) at a MOM density;
* converters: each ADC from a regression of area on the sample rate, node, resolution and
  energy per conversion over Murmann's ADC survey (the fit of the Accelergy ADC plug-in), each
  capacitive DAC its ``2^bits`` unit capacitors;
* digital: adders as mirror full adders (28 transistors a bit), the mixed-precision accumulator
  as SRAM bits.
"""

import math
from dataclasses import asdict, dataclass

from memcosim.base.errors import ConfigError

__all__ = ["AreaParams", "TileArea", "adc_area_m2", "transistor_area_m2", "chain_area_m2", "tile_area"]


@dataclass(frozen=True)
class AreaParams:
    """Layout assumptions of the area model (docs/periphery.md gives the source of each)."""

    feature_size_m: float = 28e-9
    """F: the node of the periphery's process (the 28 nm-class :class:`CmosProcess`), metres."""
    gate_pitch_f: float = 4.0
    """Contacted gate pitch in F (about 4F, ~112 nm at 28 nm): a transistor's length along the row."""
    layout_overhead: float = 2.0
    """Wells, supply rails and local routing over the transistors' own footprint (x)."""
    capacitor_density_f_per_m2: float = 2e-3
    """Metal-oxide-metal capacitor density, F/m^2 (2 fF/um^2: a multi-layer MOM stack)."""
    opamp_transistors: int = 12
    """Transistors of the integrator's op-amp (a folded-cascode OTA with its bias)."""
    opamp_width_units: float = 16.0
    """Width of each op-amp transistor in unit widths (analog devices: wide for matching and gm)."""
    sram_bit_m2: float = 0.127e-12 / 0.7
    """An SRAM bit with its array periphery: a 0.127 um^2 28 nm high-density cell at 70 % efficiency, m^2."""
    full_adder_transistors: int = 28
    """Transistors of a mirror full adder (one bit of an adder)."""
    adc_area_fit: tuple = (4.850567073004403, 0.06665851895885958, 0.797323960429599, -0.13437278622014803,
                           0.4236571760437834)
    """``ln(A / um^2) = c0 + c1 ln(f_s / Hz) + c2 ln(node / nm) + c3 bits + c4 ln(E / pJ)``: the
    Accelergy ADC plug-in's regression over Murmann's ADC survey (its optimistic 10 % quantile)."""

    def __post_init__(self):
        for name in ("feature_size_m", "gate_pitch_f", "layout_overhead", "capacitor_density_f_per_m2",
                     "opamp_width_units", "sram_bit_m2"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"area.{name}: must be a finite number > 0, got {value!r}")
        for name in ("opamp_transistors", "full_adder_transistors"):
            value = getattr(self, name)
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise ConfigError(f"area.{name}: must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class TileArea:
    """Area of one tile by block, square metres."""

    array_m2: float
    drivers_m2: float
    sense_m2: float
    converters_m2: float
    digital_m2: float

    @property
    def total_m2(self):
        return self.array_m2 + self.drivers_m2 + self.sense_m2 + self.converters_m2 + self.digital_m2

    def to_json(self):
        return {**asdict(self), "total_m2": self.total_m2}

    @classmethod
    def from_json(cls, data):
        return cls(**{k: data[k] for k in ("array_m2", "drivers_m2", "sense_m2", "converters_m2", "digital_m2")})


def transistor_area_m2(width_m, params):
    """Footprint of one transistor of width ``width_m``: ``(W + 2F) x gate pitch x overhead``, m^2."""
    f = params.feature_size_m
    return (width_m + 2 * f) * params.gate_pitch_f * f * params.layout_overhead


def chain_area_m2(chain, params):
    """Area of a tapered driver chain (:class:`memcosim.netlist.peripherals.DriverChain`): every
    stage's NMOS and PMOS, m^2."""
    p = chain.process
    return sum(transistor_area_m2(s * p.w_min_m, params) + transistor_area_m2(s * p.w_min_m * p.p_to_n_ratio, params)
               for s in chain.sizes)


def adc_area_m2(bits, sample_rate_hz, energy_j, params):
    """Area of one ADC from the survey regression (:attr:`AreaParams.adc_area_fit`), m^2.

    Parameters
    ----------
    bits : int
    sample_rate_hz : float
        Conversions per second.
    energy_j : float
        Energy of one conversion, joules.
    """
    if not (sample_rate_hz > 0 and energy_j > 0):
        raise ConfigError(f"adc area: needs a sample rate and an energy per conversion > 0, got {sample_rate_hz!r} and "
                          f"{energy_j!r}")
    c0, c1, c2, c3, c4 = params.adc_area_fit
    log_um2 = (c0 + c1 * math.log(sample_rate_hz) + c2 * math.log(params.feature_size_m * 1e9) + c3 * bits
               + c4 * math.log(energy_j * 1e12))
    return math.exp(log_um2) * 1e-12


def tile_area(rows, cols, cell_area_f2, read_chain, row_write_chain, col_write_chain, unit_process, feedback_c_f,
              dac_bits, dac_unit_c_f, adc_bits, adc_rate_hz, adc_energy_j, columns_per_adc, adder_bits,
              accumulator_bits=0, params=AreaParams()):
    """The :class:`TileArea` of one ``rows x cols`` tile.

    Parameters
    ----------
    rows, cols : int
    cell_area_f2 : float
        Area of one cell in F^2 (4 for a crosspoint).
    read_chain, row_write_chain, col_write_chain : DriverChain
        The read driver of a row line and the programming drivers of a row and a column line.
    unit_process : CmosProcess
        The core process (unit width of the op-amp's and adders' transistors).
    feedback_c_f : float
        The integrator's feedback capacitance, farads (0: no integrator).
    dac_bits, adc_bits : int
    dac_unit_c_f : float
        Unit capacitor of the capacitive DAC, farads.
    adc_rate_hz, adc_energy_j : float
        Conversions per second and energy per conversion of one ADC.
    columns_per_adc : int
    adder_bits : int
        Width of the partial-sum adders (one per ADC).
    accumulator_bits : int
        Bits held per weight by the mixed-precision accumulator (0: none).
    """
    f2 = params.feature_size_m**2
    array = rows * cols * cell_area_f2 * f2
    drivers = rows * (chain_area_m2(read_chain, params) + chain_area_m2(row_write_chain, params)) \
        + cols * chain_area_m2(col_write_chain, params)
    opamp = params.opamp_transistors * transistor_area_m2(params.opamp_width_units * unit_process.w_min_m, params)
    sense = cols * (opamp + feedback_c_f / params.capacitor_density_f_per_m2)
    adcs = math.ceil(cols / columns_per_adc)
    converters = rows * dac_unit_c_f * 2**dac_bits / params.capacitor_density_f_per_m2 \
        + adcs * adc_area_m2(adc_bits, adc_rate_hz, adc_energy_j, params)
    adder = params.full_adder_transistors * transistor_area_m2(unit_process.w_min_m, params)
    digital = adcs * adder_bits * adder + rows * cols * accumulator_bits * params.sram_bit_m2
    return TileArea(array, drivers, sense, converters, digital)
