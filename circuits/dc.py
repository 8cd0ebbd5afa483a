"""DC operating points of user decks, with either engine, checked before they are reported.

:func:`solve_dc` is what ``memcosim solve`` runs: the native nodal solver
(:func:`memcosim.circuits.native.solve_deck`, which checks Kirchhoff's current law at every node
itself) or ngspice on a screened deck (:func:`memcosim.circuits.screen.screen_dc_deck`: nothing
in the file is executed). Both give an :class:`~memcosim.circuits.native.OpResult` whose source
power comes from the solution (``-(v+ - v-) i`` of every voltage source), whatever the node
names, and whose numbers are all finite.
"""

import math
import time

from memcosim.base.errors import SimulationError
from memcosim.circuits.native import OpResult, solve_deck
from memcosim.circuits.screen import screen_dc_deck
from memcosim.circuits.spice_parser import parse_value

__all__ = ["solve_dc"]


def solve_dc(text, engine="native", timeout_s=600.0, deck_dir=None, source="deck"):
    """The DC operating point of a deck.

    Parameters
    ----------
    text : str
        The deck.
    engine : {"native", "ngspice"}
    timeout_s : float
        Wall-clock limit of an ngspice run, seconds (finite, > 0).
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
        No solution, non-convergence, a timeout, or a solution that is not finite.
    """
    if engine not in ("native", "ngspice"):
        raise SimulationError(f"engine: must be 'native' or 'ngspice', got {engine!r}")
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        raise SimulationError(f"timeout_s: must be a finite number of seconds > 0, got {timeout_s!r}")
    if engine == "native":
        result = solve_deck(text)
    else:
        result = _ngspice_op(screen_dc_deck(text, deck_dir, source), timeout_s)
    _check_finite(result)
    return result


def _ngspice_op(deck, timeout_s):
    from memcosim.circuits.ngspice import run_ngspice

    t0 = time.perf_counter()
    # an ngspice process: a deck that crashes or hangs ngspice takes only that process with it
    spice = run_ngspice(deck, backend="subprocess", timeout_s=timeout_s)
    if not spice.plot_name.lower().startswith("op"):
        raise SimulationError(f"ngspice: expected an operating point, got the plot {spice.plot_name!r}")
    voltages = {name: v for name, v in spice.node_voltages().items()}
    currents = spice.source_currents()
    return OpResult(voltages, currents, _source_power(deck, voltages, currents), time.perf_counter() - t0, engine="ngspice")


def _node_voltage(voltages, node):
    node = node.lower()
    if node in ("0", "gnd"):
        return 0.0
    for key in (node, f"v({node})"):
        if key in voltages:
            return voltages[key]
    raise SimulationError(f"ngspice: no voltage for node {node!r} in the solution")


def _source_power(deck, voltages, currents):
    """Power delivered by the independent sources: ``-(v+ - v-) i`` for V, ``-(v+ - v-) I`` for I (watts)."""
    power = 0.0
    for line in deck.splitlines()[1:]:
        words = line.split()
        if len(words) < 4 or words[0][0].lower() not in "vi" or words[0].startswith(("*", ".")):
            continue
        name = words[0].lower()
        drop = _node_voltage(voltages, words[1]) - _node_voltage(voltages, words[2])
        if name[0] == "v":
            if name not in currents:
                raise SimulationError(f"ngspice: no current for source {words[0]} in the solution")
            power += -drop * currents[name]
        else:
            values = [w for w in words[3:] if w.lower() != "dc"]
            power += -drop * parse_value(values[0])
    return power


def _check_finite(result):
    for kind, values in (("node voltage", result.node_voltages), ("source current", result.source_currents)):
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise SimulationError(f"{result.engine}: the solution is not finite ({kind} of {', '.join(sorted(bad)[:5])})")
    if not math.isfinite(result.total_source_power_w):
        raise SimulationError(f"{result.engine}: the source power is not finite")
