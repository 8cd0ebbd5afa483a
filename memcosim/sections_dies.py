"""The ``[dies]`` section of a study file: the MTJ die study (the others are :mod:`memcosim.sections`)."""

from typing import Annotated, Literal

from pydantic import Field, field_validator

from memcosim.sections import Rate, Section

__all__ = ["DiesSection"]


class DiesSection(Section):
    """The MTJ die study (``device.kind = "mtj"``): one binary network design on many dies.

    The network's hidden width, epochs, batch size and peak learning rate come from
    ``[training]`` (``hidden_sizes`` holds one width)."""

    count: Annotated[int, Field(ge=1, le=10000)] = 36
    """Number of dies (each a defect map, device spread and comparator offsets drawn from the seed;
    with ``maps``: the first ``count`` dies of the maps, all of them when left out)."""
    modes: list[Literal["ideal", "hardware_aware", "statistics_aware"]] = ["ideal", "hardware_aware", "statistics_aware"]
    """Training modes to run."""
    hardware_aware_epochs: Annotated[int, Field(ge=1, le=1000)] = 1
    """Epochs of per-die fine-tuning (from the ideal network) in ``hardware_aware`` mode."""
    input_pool: Annotated[int, Field(ge=1, le=7)] = 2
    """Images are average-pooled by this factor per side, then binarised (MNIST, 2: 196 inputs)."""
    input_threshold: Annotated[float, Field(gt=0.0, lt=1.0, allow_inf_nan=False)] = 0.25
    """A pooled pixel (0..1) above this drives its row at the read voltage."""
    recalibration_inputs: Annotated[int, Field(ge=0, le=60000)] = 0
    """Also report the ideal and statistics-aware networks after a per-die comparator threshold
    trim measured from this many unlabeled inputs (0: off)."""
    ir_model: Literal["first_order", "exact"] = "first_order"
    """IR-drop of the wires when evaluating on a die: the first-order model (what training
    differentiates through) or an exact nodal solve of every tile (slow; needs
    ``array.r_wire_ohm`` and ``array.r_driver_ohm`` > 0)."""
    maps: str | None = None
    """Measured die maps (CSV or ``.npz``, docs/mtj-dies.md; a file or a glob): the evaluation dies
    (all of them, or the first ``count`` when it is given) and the statistics that statistics-aware
    training draws its dies from. None: dies generated from the device's defect rates."""
    short_below_ohm: Annotated[float, Field(gt=0.0, le=1e18, allow_inf_nan=False)] | None = None
    """Map classification: a cell whose R_P reads below this is shorted (None: from each die's distribution)."""
    open_above_ohm: Annotated[float, Field(gt=0.0, le=1e18, allow_inf_nan=False)] | None = None
    """Map classification: a cell whose R_P reads above this is open (None: from each die's distribution)."""
    stuck_tmr_below: Annotated[float, Field(gt=0.0, le=100.0, allow_inf_nan=False)] | None = None
    """Map classification: a cell whose TMR at the read voltage is below this is stuck (None: half the die's median)."""
    row_fail_rate: Rate = 0.0
    """Generated dies: probability that a row fails whole (every cell one defect)."""
    col_fail_rate: Rate = 0.0
    """Generated dies: probability that a column fails whole."""
    cluster_rate: Annotated[float, Field(ge=0.0, le=0.01, allow_inf_nan=False)] = 0.0
    """Generated dies: defect clusters per cell."""
    cluster_radius_cells: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)] = 2.0
    """Generated dies: radius of a cluster, cells."""
    dies_per_step: Annotated[int, Field(ge=1, le=64)] = 1
    """Statistics-aware training: each minibatch is split over this many freshly drawn dies."""
    program_pairs: bool = False
    """Program every differential pair of a die the way (of its four) that reads closest to its
    weight, from the die's map: a short's partner to P, an open's to AP."""
    fault_tolerant_mapping: bool = False
    """Place the ideal and statistics-aware networks' hidden neurons on each die's column pairs
    where the die's defects cost them least (from its map; no training)."""

    @field_validator("maps")
    @classmethod
    def _maps_named(cls, value):
        if value is not None and not value.strip():
            raise ValueError("must name a die map file or glob; leave the key out to generate the dies")
        return value
