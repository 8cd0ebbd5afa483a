"""The sections of a study file that say what is built on and around the arrays: the network
(``[model]``) and the periphery (``[periphery]``); the others are :mod:`memcosim.sections`."""

from typing import Annotated

from pydantic import Field

from memcosim.sections import Section

__all__ = ["PeripherySection", "ModelSection"]


class PeripherySection(Section):
    """The blocks around every array: line drivers, sense front ends, DACs and ADCs, digital
    adders and mixed precision's accumulator (whole-tile energy and latency, docs/periphery.md).
    Drivers and sense are ngspice-characterised circuits; converters and digital parts are
    figure-of-merit models (28 nm defaults, sources in docs/periphery.md)."""

    enabled: bool = False
    """Cost the periphery beside the array (results then carry the whole tile; the array's own
    numbers stay as they are) and, with ``quantize``, read through the converters."""
    dac_bits: Annotated[int, Field(ge=2, le=16)] = 8
    """Input DAC resolution, bits."""
    adc_bits: Annotated[int, Field(ge=2, le=16)] = 8
    """Output ADC resolution, bits."""
    quantize: bool = True
    """The forward pass reads through DACs and ADCs of these resolutions (false: ideal reads,
    the converters still costed at ``dac_bits`` and ``adc_bits``)."""
    backward_bits: Annotated[int, Field(ge=2, le=16)] | None = None
    """DAC and ADC resolution of the transposed (backward) read; None: an ideal backward."""
    inp_bound: Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)] = 1.0
    """DAC range, a fraction of each sample's largest |input| (below 1 the largest inputs clip)."""
    out_bound: Annotated[float, Field(gt=0.0, le=1e6, allow_inf_nan=False)] = 12.0
    """ADC range in units of the full-scale output of one cell, ``weight_max max|x|`` (aihwkit's 12)."""
    columns_per_adc: Annotated[int, Field(ge=1, le=4096)] = 8
    """Adjacent columns that share one ADC (converted one after another)."""
    accumulator_bits: Annotated[int, Field(ge=4, le=64)] = 16
    """Mixed precision: bits of one weight's digital accumulator (and Tiki-Taka's buffer H)."""
    accumulator_words: Annotated[int, Field(ge=1, le=4096)] = 64
    """Weights the accumulator SRAM reads, adds and writes in one access."""
    accumulator_access_s: Annotated[float, Field(gt=0.0, le=1e-3, allow_inf_nan=False)] = 1e-9
    """One accumulator access (read, add, write), seconds (an SRAM cycle at 1 GHz: an assumption)."""
    adc_fom_walden_j: Annotated[float, Field(gt=0.0, le=1e-9, allow_inf_nan=False)] | None = None
    """ADC Walden figure of merit, joules per conversion step (None: the 28 nm default, 28 fJ)."""
    converters_file: str | None = None
    """A ``ConverterParams`` JSON file (every converter and digital figure; docs/periphery.md)
    replacing the defaults; ``adc_fom_walden_j`` still overrides its ADC figure."""


class ModelSection(Section):
    """The network trained on crossbars (pulsed studies): its fully connected widths and activation
    are ``training.hidden_sizes`` and ``training.activation``."""

    kind: Annotated[str, Field(pattern=r"^(mlp|lenet5|[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*)$")] = "mlp"
    """``mlp``; ``lenet5`` (aihwkit's LeNet-5: two convolutions of ``channels`` and ``kernel_size`` with
    2 x 2 max pools, then ``training.hidden_sizes``); or a Python entry point
    ``package.module:function``, called as ``function(input_shape=(1, 28, 28), n_classes=10)``, that
    returns your ``nn.Module`` (importing it runs its code: name only modules you trust)."""
    channels: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=2, max_length=2)] = [16, 32]
    """``lenet5``: output channels of the two convolutions."""
    kernel_size: Annotated[int, Field(ge=1, le=15)] = 5
    """``lenet5``: the side of the square kernels."""
