"""Data converters and digital parts as figure-of-merit models (energy per operation, time).

A crossbar's periphery costs energy the array's conduction law does not see: the input DACs,
the output ADCs and, for mixed-precision training, the digital accumulator (an SRAM) and its
adder. This module gives each of them as a pure function of its resolution and a
:class:`ConverterParams`, so the ledger costs them without a circuit simulation:

* ADC, energy per conversion: the Walden figure of merit ``E = FOM_W 2^ENOB`` (default) or the
  Schreier figure of merit ``FOM_S = SNDR + 10 log10(f_s / (2 P))``, i.e.
  ``E = P / f_s = 10^((SNDR - FOM_S) / 10) / 2``; ``ENOB = bits - adc_enob_loss_bits`` and
  ``SNDR = 6.02 ENOB + 1.76 dB``;
* ADC, time per conversion: a SAR resolves one bit per clock cycle, ``(bits + overhead) / f_clk``
  (a flash converter all bits in one cycle);
* DAC, energy per input: a binary-weighted capacitive DAC charging its ``2^bits`` unit capacitors
  to the reference, ``E = C_u 2^bits V^2``; its settling time to half an LSB through its output
  time constant, ``t = (bits + 1) ln 2 tau``;
* digital: SRAM read/write and ripple-carry adder energy per bit (Horowitz's 45 nm figures scaled
  to the stated node by :func:`scale_digital_energy_j`).

Every function takes python floats or numpy arrays of resolutions (the result has the shape of
``bits``) and refuses a resolution outside its range with a :class:`ConfigError` naming it.

References
----------
.. [1] R. H. Walden, "Analog-to-digital converter survey and analysis," IEEE J. Sel. Areas
   Commun., vol. 17, no. 4, pp. 539-550, 1999.
.. [2] B. Murmann, "ADC Performance Survey 1997-2025," [Online]. Available:
   https://github.com/bmurmann/ADC-survey (spreadsheet rev. 2025-06-09).
.. [3] R. Schreier and G. C. Temes, *Understanding Delta-Sigma Data Converters*, Wiley, 2005
   (the Schreier figure of merit).
.. [4] M. Horowitz, "Computing's energy problem (and what we can do about it)," ISSCC 2014,
   pp. 10-14 (45 nm, 0.9 V per-operation energies).
.. [5] M. Saberi et al., "Analysis of power consumption and linearity in capacitive digital-to-
   analog converters used in successive approximation ADCs," IEEE TCAS-I, vol. 58, no. 8, 2011.
"""

import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.base.typed import JsonRecord

__all__ = ["ConverterParams", "scale_digital_energy_j", "enob_bits", "sndr_db", "walden_energy_j",
           "schreier_energy_j", "adc_energy_j", "adc_time_s", "adc_sample_rate_hz", "dac_energy_j", "dac_time_s",
           "accumulator_energy_j", "adder_energy_j", "ADC_ARCHITECTURES", "ADC_FOMS", "ACCESSES"]

ADC_ARCHITECTURES = ("sar", "flash")
"""``sar``: one bit per clock cycle; ``flash``: every bit in one cycle."""
ADC_FOMS = ("walden", "schreier")
"""Which figure of merit :func:`adc_energy_j` uses."""
ACCESSES = ("read", "write")
"""The accumulator accesses :func:`accumulator_energy_j` costs."""

_HOROWITZ_NODE_NM, _HOROWITZ_SUPPLY_V = 45.0, 0.9
_MAX_CONVERTER_BITS, _MAX_DIGITAL_BITS = 32, 128


def scale_digital_energy_j(energy_j, from_node_nm, to_node_nm, from_supply_v, to_supply_v):
    """A digital energy at another node: ``E' = E (L' / L) (V' / V)^2`` (switched ``C V^2``, ``C ~ L``).

    The first-order (Dennard) rule: switched capacitance shrinks with the feature size ``L``,
    energy with the square of the supply. It ignores wire-dominated capacitance and leakage, so it
    is optimistic below about 22 nm.

    Examples
    --------
    >>> round(scale_digital_energy_j(1.0, 45, 28, 0.9, 0.9), 4)
    0.6222
    """
    return energy_j * (to_node_nm / from_node_nm) * (to_supply_v / from_supply_v) ** 2


_NODE_NM, _SUPPLY_V = 28.0, 0.9
_TO_NODE = scale_digital_energy_j(1.0, _HOROWITZ_NODE_NM, _NODE_NM, _HOROWITZ_SUPPLY_V, _SUPPLY_V)


@dataclass(frozen=True)
class ConverterParams(JsonRecord):
    """Figures of merit of the periphery of one tile, at one CMOS node (default 28 nm, 0.9 V).

    All energies in joules, times in seconds, frequencies in hertz. Serialises with
    :meth:`to_json` / :meth:`from_json` (:class:`~memcosim.base.typed.JsonRecord`: missing fields
    take their defaults, unknown ones and NaN are refused).
    """

    node_nm: float = _NODE_NM
    """CMOS node the values are for, nm (a label: changing it rescales nothing; use
    :func:`scale_digital_energy_j`). Default 28 nm: the middle of the survey window of the ADC
    figures [2] and a common node of crossbar test chips."""
    supply_v: float = _SUPPLY_V
    """Digital supply, volts. Default 0.9 V: Horowitz's supply [4], kept at 28 nm."""
    adc_architecture: str = "sar"
    """``sar`` (default; the survey's most common architecture at 7-10 bits and 1 MS/s-1 GS/s)
    or ``flash`` (then the FOM fields must hold a flash converter's figures)."""
    adc_fom: str = "walden"
    """Figure of merit :func:`adc_energy_j` uses: ``walden`` or ``schreier``."""
    adc_fom_walden_j: float = 28e-15
    """Walden FOM, J per conversion step. Source: Murmann's survey [2], rev. 2025-06-09: median
    FOMW_hf of the 12 Nyquist SAR ADCs in 14-65 nm CMOS with SNDR 40-62 dB at 1 MS/s-1 GS/s
    (interquartile range 14-50 fJ)."""
    adc_fom_schreier_db: float = 161.0
    """Schreier FOM, dB. Source: the same 12 designs of [2] (median FOMS_hf 161.0 dB,
    interquartile range 152.5-163.3 dB)."""
    adc_enob_loss_bits: float = 0.5
    """ENOB lost to noise and distortion, ``ENOB = bits - loss``, bits in [0, 1). Assumption: half
    a bit (0 gives the ideal quantiser, SNDR = 6.02 bits + 1.76 dB)."""
    adc_clock_hz: float = 1e9
    """SAR bit-cycle clock, Hz. Assumption: 1 GHz, so 8-10 bits with 2 overhead cycles take
    10-12 ns (83-100 MS/s, the median sample rate, 90 MS/s, of the designs of [2] above)."""
    adc_overhead_cycles: int = 2
    """Clock cycles per conversion besides the bit decisions (sampling, reset). Assumption."""
    dac_unit_cap_f: float = 1e-15
    """Unit capacitor of the capacitive DAC, farads. Assumption: 1 fF, a matching-limited MOM
    unit capacitor at 28 nm (the range of 0.5-2 fF of the SAR designs analysed in [5])."""
    dac_voltage_v: float = 0.9
    """DAC reference voltage, volts (the supply)."""
    dac_tau_s: float = 50e-12
    """Time constant of the DAC output with its load, seconds. Assumption: 50 ps; include the row
    line's RC when the DAC drives it directly."""
    sram_read_j_per_bit: float = 10e-12 / 64 * _TO_NODE
    """SRAM read energy per bit, J. Source: Horowitz [4], 8 kB cache 64-bit access 10 pJ at 45 nm,
    0.9 V, scaled to 28 nm, 0.9 V with :func:`scale_digital_energy_j` (97 fJ/bit)."""
    sram_write_j_per_bit: float = 10e-12 / 64 * _TO_NODE
    """SRAM write energy per bit, J. Source: as ``sram_read_j_per_bit`` (Horowitz gives one
    figure per access; a write is taken to cost the same)."""
    adder_j_per_bit: float = 0.1e-12 / 32 * _TO_NODE
    """Integer adder energy per bit, J. Source: Horowitz [4], 32-bit add 0.1 pJ at 45 nm, 0.9 V,
    scaled to 28 nm, 0.9 V with :func:`scale_digital_energy_j` (1.9 fJ/bit)."""

    def __post_init__(self):
        positive = ["node_nm", "supply_v", "adc_fom_walden_j", "adc_clock_hz", "dac_unit_cap_f", "dac_voltage_v",
                    "dac_tau_s", "sram_read_j_per_bit", "sram_write_j_per_bit", "adder_j_per_bit"]
        for name in positive:
            value = getattr(self, name)
            if not _is_number(value) or not value > 0:
                raise ConfigError(f"converters.{name}: got {value!r}; allowed range (0, inf)")
        checks = [
            ("adc_architecture", self.adc_architecture in ADC_ARCHITECTURES,
             f"allowed: {', '.join(ADC_ARCHITECTURES)}"),
            ("adc_fom", self.adc_fom in ADC_FOMS, f"allowed: {', '.join(ADC_FOMS)}"),
            ("adc_fom_schreier_db", _is_number(self.adc_fom_schreier_db) and 100 <= self.adc_fom_schreier_db <= 200,
             "allowed range [100, 200] dB"),
            ("adc_enob_loss_bits", _is_number(self.adc_enob_loss_bits) and 0 <= self.adc_enob_loss_bits < 1,
             "allowed range [0, 1) bits"),
            ("adc_overhead_cycles", type(self.adc_overhead_cycles) is int and 0 <= self.adc_overhead_cycles <= 64,
             "an integer in [0, 64]"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"converters.{name}: got {getattr(self, name)!r}; {allowed}")

def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _bits(bits, name, high, low=1):
    """``bits`` as a float array after checking every entry is a whole number in ``[low, high]``."""
    arr = np.asarray(bits)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ConfigError(f"{name}: got {bits!r}; a whole number of bits in [{low}, {high}]")
    arr = arr.astype(float)
    bad = ~np.isfinite(arr) | (arr != np.round(arr)) | (arr < low) | (arr > high)
    if bad.any():
        raise ConfigError(f"{name}: got {arr[bad].flat[0]!r}; a whole number of bits in [{low}, {high}]")
    return arr


def _like(bits, value):
    """``value`` as a python float when ``bits`` was a scalar, else as an array of its shape."""
    return float(value) if np.ndim(bits) == 0 else value


def enob_bits(bits, params=None):
    """Effective number of bits of an ADC of ``bits`` resolution, ``bits - adc_enob_loss_bits``."""
    params = ConverterParams() if params is None else params
    return _like(bits, _bits(bits, "adc bits", _MAX_CONVERTER_BITS) - params.adc_enob_loss_bits)


def sndr_db(enob):
    """Signal-to-noise-and-distortion ratio of ``enob`` effective bits, ``6.02 ENOB + 1.76`` dB."""
    return _like(enob, 6.02 * np.asarray(enob, dtype=float) + 1.76)


def walden_energy_j(enob, fom_walden_j):
    """Energy per conversion from the Walden FOM, ``FOM_W 2^ENOB`` (J) [1]."""
    return _like(enob, fom_walden_j * np.exp2(np.asarray(enob, dtype=float)))


def schreier_energy_j(sndr, fom_schreier_db):
    """Energy per conversion from the Schreier FOM at Nyquist, ``P / f_s = 10^((SNDR - FOM_S) / 10) / 2`` (J) [3].

    From ``FOM_S = SNDR + 10 log10(BW / P)`` with ``BW = f_s / 2``.

    Examples
    --------
    >>> schreier_energy_j(50.0, 160.0)  # 10^-11 / 2
    5e-12
    """
    return _like(sndr, 0.5 * np.power(10.0, (np.asarray(sndr, dtype=float) - fom_schreier_db) / 10))


def adc_energy_j(bits, params=None):
    """Energy of one conversion of an ADC of ``bits`` resolution, joules.

    Parameters
    ----------
    bits : int or array_like of int
        Resolution, whole bits in [1, 32].
    params : ConverterParams, optional
        ``adc_fom`` picks the Walden (``FOM_W 2^ENOB``) or the Schreier
        (``10^((SNDR - FOM_S) / 10) / 2``) law.

    Returns
    -------
    float or numpy.ndarray
        Joules per conversion, the shape of ``bits``.

    Raises
    ------
    ConfigError
        A resolution that is not a whole number in [1, 32].

    Notes
    -----
    The Walden FOM assumes energy doubles per bit, as in quantisation-limited converters; the
    Schreier FOM has it quadruple (thermal-noise-limited converters, above about 10 bits) [2].

    Examples
    --------
    >>> adc_energy_j(8, ConverterParams(adc_enob_loss_bits=0.0, adc_fom_walden_j=1e-15))
    2.56e-13
    """
    params = ConverterParams() if params is None else params
    enob = enob_bits(bits, params)
    if params.adc_fom == "walden":
        return walden_energy_j(enob, params.adc_fom_walden_j)
    return schreier_energy_j(sndr_db(enob), params.adc_fom_schreier_db)


def adc_time_s(bits, params=None):
    """Time of one conversion, seconds: ``(bits + overhead) / f_clk`` (SAR) or ``(1 + overhead) / f_clk`` (flash)."""
    params = ConverterParams() if params is None else params
    arr = _bits(bits, "adc bits", _MAX_CONVERTER_BITS)
    cycles = arr if params.adc_architecture == "sar" else np.ones_like(arr)
    return _like(bits, (cycles + params.adc_overhead_cycles) / params.adc_clock_hz)


def adc_sample_rate_hz(bits, params=None):
    """Conversions per second of one ADC, ``1 / adc_time_s``."""
    params = ConverterParams() if params is None else params
    return _like(bits, 1.0 / np.asarray(adc_time_s(bits, params)))


def dac_energy_j(bits, params=None):
    """Energy of one input conversion of a binary-weighted capacitive DAC, ``C_u 2^bits V^2`` (J).

    Charging the whole array of ``2^bits`` unit capacitors to the reference once: an upper bound of
    the same order as the mean switching energy of a conventional capacitive DAC [5]. The energy
    the DAC's load (the row line) draws is the read's, not the DAC's.

    Examples
    --------
    >>> dac_energy_j(8, ConverterParams(dac_unit_cap_f=1e-15, dac_voltage_v=1.0))
    2.56e-13
    """
    params = ConverterParams() if params is None else params
    arr = _bits(bits, "dac bits", _MAX_CONVERTER_BITS)
    return _like(bits, params.dac_unit_cap_f * np.exp2(arr) * params.dac_voltage_v**2)


def dac_time_s(bits, params=None):
    """Settling time of the DAC output to half an LSB, ``(bits + 1) ln 2 tau`` (seconds)."""
    params = ConverterParams() if params is None else params
    arr = _bits(bits, "dac bits", _MAX_CONVERTER_BITS)
    return _like(bits, (arr + 1) * math.log(2) * params.dac_tau_s)


def accumulator_energy_j(bits, params=None, op="read"):
    """Energy of one access of a ``bits``-wide accumulator word in SRAM, joules (``op``: read or write)."""
    params = ConverterParams() if params is None else params
    if op not in ACCESSES:
        raise ConfigError(f"op: got {op!r}; allowed: {', '.join(ACCESSES)}")
    per_bit = params.sram_read_j_per_bit if op == "read" else params.sram_write_j_per_bit
    return _like(bits, per_bit * _bits(bits, "accumulator bits", _MAX_DIGITAL_BITS))


def adder_energy_j(bits, params=None):
    """Energy of one ``bits``-wide integer addition, joules (linear in the width: a ripple-carry adder)."""
    params = ConverterParams() if params is None else params
    return _like(bits, params.adder_j_per_bit * _bits(bits, "adder bits", _MAX_DIGITAL_BITS))
