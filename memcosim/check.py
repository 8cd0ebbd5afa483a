"""``memcosim check``: is this environment able to run memcosim end to end?"""

import platform
from dataclasses import dataclass

__all__ = ["CheckItem", "environment_report"]

_CHECK_DECK = """memcosim check: one resistor
V1 in 0 DC 1.0
R1 in 0 1000
.op
.end
"""


@dataclass(frozen=True)
class CheckItem:
    """One line of the environment report."""

    name: str
    ok: bool
    detail: str


def _module_version(name):
    try:
        module = __import__(name)
    except ImportError as exc:
        return CheckItem(name, False, f"not importable ({exc})")
    return CheckItem(name, True, getattr(module, "__version__", "?"))


def environment_report():
    """Run every environment check.

    Returns
    -------
    list of CheckItem
        Python, numpy, scipy, torch, networkx, PySpice; the ngspice executable's version; and
        whether libngspice loads through PySpice and solves a 1 V / 1 kOhm ``.op`` to 1 mA.
    """
    from memcosim.circuits.ngspice import ngspice_version, run_ngspice
    from memcosim.base.errors import SimulationError

    items = [CheckItem("python", True, platform.python_version())]
    items += [_module_version(m) for m in ("numpy", "scipy", "torch", "networkx", "PySpice")]
    exe = ngspice_version()
    items.append(
        CheckItem("ngspice", exe is not None, f"ngspice-{exe}" if exe else "executable not found (apt-get install ngspice)")
    )
    for backend in ("shared", "subprocess"):
        label = "libngspice (PySpice)" if backend == "shared" else "ngspice process"
        try:
            result = run_ngspice(_CHECK_DECK, backend=backend, timeout_s=30)
            current = result.source_currents().get("v1")
            good = current is not None and abs(current + 1e-3) < 1e-12
            detail = f"1 V across 1 kOhm -> I(V1) = {current:.6g} A" + ("" if good else " (expected -0.001 A)")
        except SimulationError as exc:
            good, detail = False, str(exc)
        items.append(CheckItem(label, good, detail))
    return items


