"""What the MTJ die study reports (:func:`memcosim.training.dies.run_dies`): typed, JSON-ready.

:class:`DieResult` is a die study's ``results`` (in its ``run.json``), :class:`ModeSummary` one
training mode's errors over the evaluation dies. Both read and write strict JSON
(:class:`~memcosim.base.typed.JsonRecord`); an error rate outside [0, 1] is refused.
"""

from dataclasses import dataclass, field

from memcosim.base.typed import JsonRecord, check_number
from memcosim.training.ledger_totals import TileTotals

__all__ = ["ModeSummary", "DieReadEnergy", "DieResult"]

_TILE_RENAMED = {"energy_per_update_j": "tile_energy_per_update_j", "energy_per_inference_j": "tile_energy_per_inference_j"}


@dataclass(frozen=True)
class ModeSummary(JsonRecord):
    """One mode's misclassification error on every evaluation die, and its read energy per inference."""

    die_errors: tuple[float, ...]
    mean: float
    std: float
    min: float
    max: float
    read_energy_per_inference_j: float
    """The array's read energy of one test inference, mean over the dies."""
    tile_energy_per_inference_j: float | None = None
    """The whole tile's (a circuit with a periphery)."""

    def __post_init__(self):
        for name in ("mean", "min", "max"):
            check_number(f"die error {name}", getattr(self, name), 0.0, 1.0)


@dataclass(frozen=True)
class DieReadEnergy(JsonRecord):
    """The ledger's array reads of a die study, joules."""

    training: float
    """Reads through dies while training (and trims)."""
    evaluation: float


@dataclass(frozen=True)
class DieResult(JsonRecord):
    """The results of one die study (:func:`~memcosim.training.dies.run_dies`).

    Version 1 (written before the ledger's totals were typed: no ``format_version``) named the
    whole tile's energies ``tile.energy_per_update_j`` and ``tile.energy_per_inference_j``.
    """

    FORMAT_VERSION = 2
    READS_VERSIONS = (1,)
    UNVERSIONED = 1

    inputs: int
    hidden: int
    mtj_count: int
    n_dies: int
    software_error: float
    """The ideal network with ideal weights (no circuit)."""
    modes: dict[str, ModeSummary]
    read_energy_per_inference_j: float
    """The ideal network on die 0, mean over the test inputs, both layers."""
    read_energy_j: DieReadEnergy
    train_loss: dict[str, tuple[float, ...]]
    """Per epoch, of the ideal and statistics-aware stages."""
    dies: tuple[dict, ...]
    """Label, source and defect counts of every evaluation die."""
    statistics: dict
    junction: dict
    methods: dict
    worst_die: dict
    """The worst die's defect map."""
    elapsed_s: float = 0.0
    tile_energy_per_inference_j: float | None = None
    tile: TileTotals | None = None
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self):
        check_number("software_error", self.software_error, 0.0, 1.0)

    @classmethod
    def migrate(cls, data, version, source, error):
        if isinstance(data.get("tile"), dict):
            return {**data, "tile": {_TILE_RENAMED.get(k, k): v for k, v in data["tile"].items()}}
        return data
