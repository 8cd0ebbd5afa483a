"""What :meth:`~memcosim.training.ledger.EnergyLedger.totals` returns: typed, JSON-ready sums.

One name per quantity: ``array_energy_per_update_j`` is the array's write energy of one
optimizer step (the programming pulses, every cell they touched), ``tile_energy_per_update_j``
the whole tile's (the array plus the periphery of programming, :mod:`memcosim.training.periphery`).
Every record reads and writes strict JSON (:class:`~memcosim.base.typed.JsonRecord`).
"""

from dataclasses import dataclass, field

from memcosim.base.typed import JsonRecord

__all__ = ["LayerTotals", "UpdatePhase", "ReadPhase", "TileTotals", "LedgerTotals"]


@dataclass(frozen=True)
class LayerTotals(JsonRecord):
    """One layer's sums (joules, seconds) and its costs per optimizer step."""

    pulses: int
    write_j: float
    read_j: float
    eval_read_j: float
    update_periphery_j: float
    read_periphery_j: float
    inference_periphery_j: float
    update_latency_s: float
    read_latency_s: float
    inference_latency_s: float
    array_energy_per_update_j: float
    """The layer's array write energy per optimizer step."""
    tile_energy_per_update_j: float
    """The array's write energy plus the periphery of programming, per optimizer step."""
    latency_per_update_s: float


@dataclass(frozen=True)
class _Phase(JsonRecord):
    """The periphery's blocks of one phase (joules, :data:`~memcosim.training.periphery.BLOCKS`), the
    phase's total with the array's part, and its latency."""

    drivers_j: float
    converters_j: float
    sense_j: float
    digital_j: float
    total_j: float
    latency_s: float


@dataclass(frozen=True)
class UpdatePhase(_Phase):
    """The whole tile's programming: the array's parts beside the periphery's."""

    array_selected_j: float
    array_half_selected_j: float
    array_wires_j: float


@dataclass(frozen=True)
class ReadPhase(_Phase):
    """The whole tile's reads of one phase (training forward passes, or evaluation)."""

    array_j: float


@dataclass(frozen=True)
class TileTotals(JsonRecord):
    """The whole tile per phase, and per update and per inference."""

    update: UpdatePhase
    read: ReadPhase
    inference: ReadPhase
    inferences: int
    """Evaluation samples read through the network (the most through any one layer)."""
    tile_energy_per_update_j: float
    latency_per_update_s: float
    tile_energy_per_inference_j: float
    latency_per_inference_s: float


@dataclass(frozen=True)
class LedgerTotals(JsonRecord):
    """Pulses and energies of a ledger, as Python numbers (module docstring for the names)."""

    updates: int
    pulses: int
    write_selected_j: float
    write_half_selected_j: float
    write_wires_drivers_j: float
    write_j: float
    """Array write energy of every pulse (the three parts above)."""
    read_j: float
    """Array read energy of the training forward passes."""
    eval_read_j: float
    """Array read energy of evaluation."""
    array_energy_per_update_j: float
    calibration_pulses: int
    calibration_j: float
    tile: TileTotals
    per_layer: dict[str, LayerTotals] = field(default_factory=dict)

    @property
    def write_split_j(self):
        """``{"selected_j", "half_selected_j", "wires_drivers_j"}``: the write energy by part."""
        return {"selected_j": self.write_selected_j, "half_selected_j": self.write_half_selected_j,
                "wires_drivers_j": self.write_wires_drivers_j}
