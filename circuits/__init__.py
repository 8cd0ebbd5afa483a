"""Circuit engines (ngspice, native nodal solver) and characterisation."""

from memcosim.circuits.ngspice import SpiceResult, ngspice_version, run_ngspice, shared_library_available

__all__ = ["SpiceResult", "run_ngspice", "ngspice_version", "shared_library_available"]
