"""What a characterisation reports (``characterize_report.json``): typed, JSON-ready.

The fitted models themselves are in ``models.json`` (:class:`~memcosim.circuits.models.CircuitModels`);
the report says how well they hold: each model's validation (held-out errors, the ngspice
cross-checks, the errors by array size), the energy split by pulse width, which engine simulated
which point, and how many points were simulated or read from the cache.
"""

from dataclasses import dataclass

from memcosim.base.typed import JsonRecord

__all__ = ["CharacterizeReport"]


@dataclass(frozen=True)
class CharacterizeReport(JsonRecord):
    """The report of :func:`memcosim.circuits.characterize.characterize` (module docstring).

    Version 1 (no ``format_version``) had the same fields, a missing operation left out.
    """

    FORMAT_VERSION = 2
    READS_VERSIONS = (1,)
    UNVERSIONED = 1

    write_energy: dict
    """The write-energy model's validation, its energy balance and ``by_width`` (the split per width)."""
    read_energy: dict
    ir_drop: dict
    engines: dict
    """``{operation: {engine: {size: points}}}``."""
    points: dict
    """``{operation: [each simulated point's settings, engine and result]}``."""
    points_simulated: int
    points_cached: int
    ngspice_version: str | None = None
    row_energy: dict | None = None
    """The row-parallel operation's validation (when characterised)."""
    slot_energy: dict | None = None
    """The parallel stochastic slot's validation (when characterised)."""

    def operation(self, op):
        """The validation of operation ``op`` (``write``, ``row``, ``slot``); None when not characterised."""
        return getattr(self, f"{op}_energy")
