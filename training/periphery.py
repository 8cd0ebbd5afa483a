"""Whole-tile energy and latency: the blocks around the array, counted per read and per update.

The array's own energy (selected and half-selected cells, wires) comes from the ngspice-fitted
models (:mod:`memcosim.training.ledger`). Around it a tile has

* **drivers** — one per row and per column line: the inverter chain that drives the line for a
  read or a programming pulse (its own switching and short-circuit energy; charging the line
  itself is the array's ``wires`` term);
* **converters** — a DAC per input (one conversion per input per read) and ADCs shared by
  ``columns_per_adc`` columns (one conversion per column per read);
* **sense** — the column front end (integrator / TIA) that turns each column's current into a
  voltage for the ADC, once per column per read;
* **digital** — the partial-sum adders when a layer spans several tiles along its inputs, and
  mixed precision's accumulator: one read-add-write of every weight's accumulator per update.

:class:`PeripheryCosts` holds the energy and time of one event of each kind (joules, seconds);
:func:`memcosim.build` (the study) fills it from the ngspice-fitted driver and sense models
(:mod:`memcosim.circuits.peripherals`) and the converter and digital figure-of-merit models
(:mod:`memcosim.circuits.converters`). The functions here only count events, so each has a
known answer. A layer of ``n`` inputs and ``m`` outputs on ``rows x cols`` arrays spans
``ceil(n / rows)`` tiles along its inputs and ``ceil(m / cols)`` along its outputs; every tile
converts its own inputs and outputs.

Latency
-------
* a read of one sample: input conversion, line settling, the read pulse and integration, then
  the conversions of one ADC's ``columns_per_adc`` adjacent columns in series (``IOConfig``) (all ADCs and
  tiles in parallel), then the
  adder tree over the input tiles; a batch reads its samples one after another;
* a stochastic update (hardware order): ``batch x BL`` slots of one pulse width plus the line
  drivers' settling each;
* an update by pulse counts: ``serial`` — one pulse at a time; ``row_parallel`` — per row and
  direction, as many slots as the row's largest count; ``parallel_stochastic`` counts are not
  used (its pulses are trains); plus the accumulator pass of mixed precision.
"""

import math
from dataclasses import asdict, dataclass

import torch

from memcosim.base.errors import ConfigError

__all__ = ["BLOCKS", "PeripheryCosts", "tiles", "read_cost", "binary_read_cost", "stream_update_cost", "count_update_cost", "count_cost",
           "accumulator_cost"]

BLOCKS = ("drivers_j", "converters_j", "sense_j", "digital_j")
"""The periphery's energy categories, in the order the functions return them."""


@dataclass(frozen=True)
class PeripheryCosts:
    """Energy (J) and time (s) of one event of each peripheral block of a tile."""

    dac_j: float = 0.0
    """One input conversion (one row's read voltage), joules."""
    read_driver_j: float = 0.0
    """Driving one row line for one read (the driver's own energy, not the line's), joules."""
    sense_j: float = 0.0
    """Integrating one column for one read, joules."""
    adc_j: float = 0.0
    """One output conversion, joules."""
    adder_j: float = 0.0
    """Adding one partial sum of two tiles, joules."""
    write_driver_j: float = 0.0
    """One programming pulse of one row or column line driver (its own energy), joules."""
    accumulator_j: float = 0.0
    """Mixed precision: one weight's accumulator read, add and write, joules."""
    dac_s: float = 0.0
    """Settling of an input conversion, seconds."""
    driver_s: float = 0.0
    """Settling of a read line driver (50 % delay into the line), seconds."""
    write_driver_s: float = 0.0
    """Settling of a programming line driver, seconds."""
    sense_s: float = 0.0
    """Read pulse and integration of one read, seconds (at least the read pulse)."""
    adc_s: float = 0.0
    """One conversion, seconds."""
    adder_s: float = 0.0
    """One addition, seconds."""
    accumulator_s: float = 0.0
    """One accumulator access of ``accumulator_words`` weights (read, add, write), seconds."""
    accumulator_words: int = 64
    """Weights the accumulator reads, adds and writes in one access."""

    def __post_init__(self):
        for name, value in asdict(self).items():
            if name == "accumulator_words":
                if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1 << 20):
                    raise ConfigError(f"periphery.{name}: got {value!r}; an integer in [1, 1048576]")
            elif not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                      and value >= 0):
                raise ConfigError(f"periphery.{name}: got {value!r}; allowed range [0, inf)")

    def to_json(self):
        return asdict(self)


def tiles(in_features, out_features, rows, cols):
    """``(along the inputs, along the outputs)``: the tiles a layer spans."""
    return math.ceil(in_features / rows), math.ceil(out_features / cols)


def read_cost(costs, samples, in_features, out_features, rows, cols, columns_per_adc=1):
    """Energy and latency of the periphery for ``samples`` forward reads of one layer
    (``columns_per_adc``: adjacent columns that share one ADC, :class:`~memcosim.training.io_config.IOConfig`).

    Returns
    -------
    (tuple of 4 float, float)
        Joules per block (:data:`BLOCKS`) and the latency, seconds (samples one after another).
    """
    t_in, t_out = tiles(in_features, out_features, rows, cols)
    inputs = samples * in_features * t_out  # every tile along the outputs converts and drives its inputs
    outputs = samples * out_features * t_in  # every tile along the inputs senses and converts its columns
    adds = samples * out_features * (t_in - 1)
    energy = (inputs * costs.read_driver_j, inputs * costs.dac_j + outputs * costs.adc_j, outputs * costs.sense_j,
              adds * costs.adder_j)
    conversions = min(columns_per_adc, out_features, cols)  # an ADC serves adjacent columns in turn
    per_sample = (costs.dac_s + costs.driver_s + costs.sense_s + conversions * costs.adc_s
                  + math.ceil(math.log2(t_in)) * costs.adder_s)
    return energy, samples * per_sample


def binary_read_cost(costs, active_rows, samples, in_features, out_features, rows, cols, columns_per_adc=1):
    """:func:`read_cost` of binary inputs (``costs`` without DACs): a row's driver fires only when its
    input is 1 (``active_rows``: the count over the samples; every tile along the outputs drives it)."""
    (_, converters, sense, digital), latency = read_cost(costs, samples, in_features, out_features, rows, cols,
                                                         columns_per_adc)
    t_out = tiles(in_features, out_features, rows, cols)[1]
    return (active_rows * t_out * costs.read_driver_j, converters, sense, digital), latency


def stream_update_cost(costs, streams, width_s, arrays=1):
    """Drivers' energy and the latency of one stochastic update (:class:`~memcosim.training.bitstreams.BitStreams`).

    Every slot in which a row or a column train pulses fires that line's driver once (``arrays``:
    2 for a differential pair, whose second array takes its own column trains).

    Returns
    -------
    (tuple of 4 float tensors or floats, float)
        Joules per block and seconds: ``batch x BL`` slots of ``width_s`` plus driver settling.
    """
    from memcosim.training import kernel, kernel_ops
    from memcosim.training.bitstreams import popcount_torch

    if kernel.enabled(streams.x_mask):  # compiled: one pass, no temporaries
        line_pulses = float(kernel_ops.set_bits(streams.x_mask) + arrays * kernel_ops.set_bits(streams.d_mask))
    else:
        line_pulses = (popcount_torch(streams.x_mask).sum() + arrays * popcount_torch(streams.d_mask).sum()).to(torch.float64)
    batch = streams.x_mask.shape[0]
    return (line_pulses * costs.write_driver_j, 0.0, 0.0, 0.0), batch * streams.bit_length * (width_s + costs.write_driver_s)


def count_update_cost(costs, row, up, down, rows, scheme, width_s, arrays=1):
    """Drivers' energy and the latency of applying pulse counts to some devices of a layer.

    ``serial``: each pulse fires one row and one column driver and takes its own slot.
    ``row_parallel``: a row operation pulses its row once per slot for as many slots as the
    row's largest count (per direction), and each column once per pulse it needs.

    Parameters
    ----------
    costs : PeripheryCosts
    row : torch.Tensor (events,)
        The row (layer input) of each device that gets pulses.
    up, down : torch.Tensor (events,)
        Its potentiating and depressing pulse counts (>= 0).
    rows : int
        Rows of the layer (its inputs).
    scheme : {"serial", "row_parallel"}
    width_s : float
        Pulse width, seconds.
    arrays : int
        2 for a differential pair (its second array takes the opposite counts on its own columns).

    Returns
    -------
    (tuple of 4, torch.Tensor)
        Joules per block (0-dim float64 tensors or 0) and seconds (0-dim float64 tensor).
    """
    f64 = torch.float64
    up, down = up.to(f64), down.to(f64)
    total = up.sum() + down.sum()
    row_slots = None
    if scheme == "row_parallel":
        most = lambda n: torch.zeros(rows, dtype=f64, device=n.device).scatter_reduce(0, row, n, "amax")  # noqa: E731
        row_slots = (most(up) + most(down)).sum()
    return count_cost(costs, total, row_slots, width_s, arrays)


def count_cost(costs, total, row_slots, width_s, arrays=1):
    """:func:`count_update_cost` from the counts it takes: ``total`` pulses and, under
    ``row_parallel``, ``row_slots`` (each row's largest up count plus its largest down count,
    summed; None: ``serial``). Whole numbers, so any order of adding them gives the same."""
    slot = width_s + costs.write_driver_s
    if row_slots is not None:
        return ((row_slots + arrays * total) * costs.write_driver_j, 0.0, 0.0, 0.0), row_slots * slot
    return (2 * arrays * total * costs.write_driver_j, 0.0, 0.0, 0.0), total * slot


def accumulator_cost(costs, weights):
    """Mixed precision's digital accumulator for one update of ``weights`` weights: each read, added to and written.

    Returns
    -------
    (tuple of 4 floats, float)
        Joules per block and seconds.
    """
    return (0.0, 0.0, 0.0, weights * costs.accumulator_j), math.ceil(weights / costs.accumulator_words) * costs.accumulator_s
