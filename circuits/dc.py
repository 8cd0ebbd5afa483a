"""DC operating points of user decks, with either engine, checked before they are reported.

:func:`solve_dc` is what ``memcosim solve`` runs. The deck is screened and read once
(:func:`memcosim.circuits.screen.read_circuit`: nothing in the file is executed, both engines
share its reading of every card); then the native nodal solver
(:func:`memcosim.circuits.native.solve_deck`) or ngspice (on the screened deck, in a process of
its own) solves it, and the answer is checked with memcosim's own reading of every element
(:func:`memcosim.circuits.answer_check.check_answer`: a DC path to ground at every node,
Kirchhoff's current law at every node, each source's law, physical magnitudes). Both give an
:class:`~memcosim.circuits.native.OpResult` with the circuit's own nodes only and the power
every source delivers.
"""

import math
import time

from memcosim.base.errors import SimulationError
from memcosim.circuits.answer_check import check_answer, dc_path_check
from memcosim.circuits.native import OpResult, solve_deck
from memcosim.circuits.screen import read_circuit

__all__ = ["solve_dc", "solve_bytes", "MAX_TIMEOUT_S"]

MAX_TIMEOUT_S = 7 * 86400.0
"""Longest ``timeout_s`` an ngspice run may be given (a week)."""

_BYTES_PER_DECK_BYTE = {"native": 80, "ngspice": 170}
"""Peak memory of reading, solving and checking a deck, per byte of its text (measured on resistor
ladders of 10^5 and 10^6 elements: native 58-71; ngspice 62 in this process plus 93 in its own)."""


def solve_bytes(text, engine="native"):
    """Estimated peak memory (bytes) of :func:`solve_dc` on ``text``."""
    return 100e6 + _BYTES_PER_DECK_BYTE[engine] * len(text)


def solve_dc(text, engine="native", timeout_s=600.0, deck_dir=None, source="deck"):
    """The DC operating point of a deck.

    Parameters
    ----------
    text : str
        The deck.
    engine : {"native", "ngspice"}
    timeout_s : float
        Wall-clock limit of an ngspice run, seconds (finite, in (0, :data:`MAX_TIMEOUT_S`]).
    deck_dir : str or Path, optional
        The deck's folder (``.include`` of files inside it is allowed, see :mod:`memcosim.circuits.screen`).
    source : str
        The deck's name for messages.

    Returns
    -------
    OpResult

    Raises
    ------
    NetlistError
        A refused or malformed deck (the line is named).
    SimulationError
        No solution, non-convergence, a timeout, or an answer that fails a check.
    ConfigError
        The deck's estimated memory is over the budget (:mod:`memcosim.base.memory`).
    """
    from memcosim.base.memory import check_memory

    if engine not in ("native", "ngspice"):
        raise SimulationError(f"engine: must be 'native' or 'ngspice', got {engine!r}")
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and 0 < timeout_s <= MAX_TIMEOUT_S):
        raise SimulationError(f"timeout_s: must be a number of seconds in (0, {MAX_TIMEOUT_S:g}], got {timeout_s!r}")
    check_memory(solve_bytes(text, engine), f"{source}: solving a deck of {len(text)} characters with {engine}",
                 "give a smaller deck")
    t0 = time.perf_counter()
    native = solve_deck(text) if engine == "native" else None  # its own refusals first, naming the line
    circuit = read_circuit(text, deck_dir, source)
    dc_path_check(circuit.elements, engine)
    if native is not None:
        voltages, branch = native.node_voltages, native.source_currents
    else:
        from memcosim.circuits.ngspice import run_ngspice

        # an ngspice process: a deck that crashes or hangs ngspice takes only that process with it
        spice = run_ngspice(circuit.text, backend="subprocess", timeout_s=timeout_s)
        if not spice.plot_name.lower().startswith("op"):
            raise SimulationError(f"ngspice: expected an operating point, got the plot {spice.plot_name!r}")
        voltages = spice.node_voltages()
        branch = {name[: -len("#branch")]: float(value[0]) for name, value in spice.vectors.items()
                  if name.endswith("#branch") and len(value)}
    volts, currents, power = check_answer(circuit, voltages, branch, engine)
    return OpResult(volts, currents, power, time.perf_counter() - t0, engine=engine)
