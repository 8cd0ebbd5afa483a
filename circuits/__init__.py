"""Circuit engines: ngspice (PySpice shared library or a process) and the native solvers.

* :mod:`memcosim.circuits.ngspice` — run any deck in ngspice.
* :mod:`memcosim.circuits.spice_parser` / :mod:`memcosim.circuits.native` — parse and solve DC
  decks natively (MNA, Newton for B elements), agreeing with ngspice to ~1e-12.
* :mod:`memcosim.circuits.crossbar_solver` — structured solver for large linear crossbars.
"""

from memcosim.circuits.crossbar_solver import CrossbarSolver
from memcosim.circuits.native import OpResult, solve_deck
from memcosim.circuits.ngspice import SpiceResult, ngspice_version, run_ngspice, shared_library_available
from memcosim.circuits.spice_parser import parse_deck

__all__ = [
    "CrossbarSolver",
    "OpResult",
    "SpiceResult",
    "ngspice_version",
    "parse_deck",
    "run_ngspice",
    "shared_library_available",
    "solve_deck",
]
