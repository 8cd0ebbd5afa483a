"""The converters of a crossbar tile's reads: :class:`IOConfig`, the resolution and range of its DACs
and ADCs, forward and backward (what each setting means, and how it differs from aihwkit's
``IOParameters``: :mod:`memcosim.training.io_precision`, which reads through them).
"""

import math
from dataclasses import dataclass

from memcosim.base.errors import ConfigError

__all__ = ["IOConfig"]

_MAX_BITS = 24
"""A float32 mantissa resolves 24 bits; a finer converter is indistinguishable from an ideal one."""


@dataclass(frozen=True)
class IOConfig:
    """Resolution and range of a tile's DACs and ADCs, forward and backward (None: ideal)."""

    inp_bits: int | None = None
    """DAC resolution of the forward read, bits in [2, 24] (``2^bits - 1`` levels); None: ideal."""
    out_bits: int | None = None
    """ADC resolution of the forward read, bits in [2, 24]; None: ideal (no rounding, no clipping)."""
    inp_bound: float = 1.0
    """DAC range, a fraction of the sample's largest |input| in (0, 1]; below 1 the largest inputs
    clip (used only with ``inp_bits``)."""
    out_bound: float = 12.0
    """ADC range in units of the full-scale column output ``weight_max max|x|`` (used only with
    ``out_bits``; aihwkit's default 12)."""
    columns_per_adc: int = 1
    """Columns time-multiplexed onto one ADC (the read's latency and the converter count)."""
    backward_inp_bits: int | None = None
    """DAC resolution of the transposed read (``grad_y`` in), bits in [2, 24]; None: ideal."""
    backward_out_bits: int | None = None
    """ADC resolution of the transposed read (``grad_x`` out), bits in [2, 24]; None: ideal."""
    backward_noise_std: float = 0.0
    """Gaussian noise of the transposed read's outputs, in units of its full scale (aihwkit's
    backward ``out_noise``)."""
    bound_management: str = "none"
    """``none``: clipped outputs stay clipped; ``iterative``: aihwkit's bound management (see the module docstring)."""
    noise_management: str = "layer"
    """The DAC's range and the ADC's unit follow the largest input of the whole layer (``layer``) or
    of each row tile (``tile``, aihwkit's per analog tile)."""
    split: str = "fill"
    """Row tiles of ``rows`` inputs and a remainder (``fill``), or aihwkit's ``ceil(k / rows)``
    tiles of nearly equal size (``even``)."""
    tile_size: int | None = None
    """Inputs (forward) and outputs (backward) per converter tile; None: the physical array's
    rows and columns (aihwkit's mapping: 512)."""
    bound_gradient: str = "straight_through"
    """Gradient of an output at the ADC's bound: ``straight_through`` (identity), or ``aihwkit``
    (zero into that row tile's inputs where the tile's output reaches ``0.999 out_bound``, in the
    layer's units; module docstring)."""

    @classmethod
    def aihwkit_default(cls, max_size=512):
        """aihwkit 1.2's default ``IOParameters`` forward and backward (7-bit DAC, 9-bit ADC,
        ``out_bound`` 12, ``out_noise`` 0.06, iterative bound management, noise management per
        analog tile) on layers mapped to tiles of at most ``max_size`` (``MappingParameter``).
        The forward noise is ``ReadConfig.noise_std``; set it to 0.06 beside this."""
        return cls(inp_bits=7, out_bits=9, inp_bound=1.0, out_bound=12.0, backward_inp_bits=7, backward_out_bits=9,
                   backward_noise_std=0.06, bound_management="iterative", noise_management="tile", split="even",
                   tile_size=max_size, bound_gradient="aihwkit")

    def __post_init__(self):
        for name in ("inp_bits", "out_bits", "backward_inp_bits", "backward_out_bits"):
            value = getattr(self, name)
            if value is not None and not (_is_int(value) and 2 <= value <= _MAX_BITS):
                raise ConfigError(f"io.{name}: got {value!r}; None or an integer in [2, {_MAX_BITS}]")
        if not (_is_real(self.inp_bound) and 0 < self.inp_bound <= 1):
            raise ConfigError(f"io.inp_bound: got {self.inp_bound!r}; allowed range (0, 1]")
        if not (_is_real(self.out_bound) and self.out_bound > 0):
            raise ConfigError(f"io.out_bound: got {self.out_bound!r}; allowed range (0, inf)")
        if not (_is_int(self.columns_per_adc) and self.columns_per_adc >= 1):
            raise ConfigError(f"io.columns_per_adc: got {self.columns_per_adc!r}; an integer >= 1")
        if not (_is_real(self.backward_noise_std) and 0 <= self.backward_noise_std <= 1):
            raise ConfigError(f"io.backward_noise_std: got {self.backward_noise_std!r}; allowed range [0, 1]")
        if self.tile_size is not None and not (_is_int(self.tile_size) and self.tile_size >= 1):
            raise ConfigError(f"io.tile_size: got {self.tile_size!r}; None or an integer >= 1")
        for name, allowed in (("bound_management", ("none", "iterative")), ("noise_management", ("layer", "tile")),
                              ("split", ("fill", "even")), ("bound_gradient", ("straight_through", "aihwkit"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"io.{name}: got {getattr(self, name)!r}; allowed: {', '.join(allowed)}")

    @property
    def ideal(self):
        """True when every converter is ideal and the backward read noiseless (the read is the plain matrix product)."""
        return (all(b is None for b in (self.inp_bits, self.out_bits, self.backward_inp_bits, self.backward_out_bits))
                and self.backward_noise_std == 0)

    @property
    def plain(self):
        """True with the first reads memcosim had: layer-wide noise management, ``fill`` tiles, no bound management."""
        return (self.bound_management == "none" and self.noise_management == "layer" and self.split == "fill"
                and self.bound_gradient == "straight_through")


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
