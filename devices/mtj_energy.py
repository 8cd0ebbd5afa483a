"""Energy of one write pulse at an MTJ cell: conduction through the junction's bias-dependent R.

An MTJ stores no charge and has no dielectric in this model, so a pulse costs only conduction,
``V I(V) t`` (:func:`memcosim.devices.pulse_energy.conduction_energy_j`) with the junction's I-V
in its starting state (:func:`memcosim.devices.mtj.current_a`: the antiparallel state's TMR falls
with bias). Written here once and called by the fitted energy basis
(:mod:`memcosim.circuits.energy_models`).
"""

from memcosim.devices.mtj import current_a
from memcosim.devices.pulse_energy import conduction_energy_j

__all__ = ["cell_current_of", "cell_pulse_energy_j"]


def cell_current_of(params, x0):
    """The I-V ``voltage_v -> amperes`` of a cell starting in normalised state ``x0`` (rounded: 0 = P, 1 = AP)."""
    state = int(round(x0))
    return lambda voltage_v: current_a(state, voltage_v, params)


def cell_pulse_energy_j(params, x0, voltage_v, width_s):
    """``V I(V) t`` (J) of one pulse of ``voltage_v`` (volts) and ``width_s`` (seconds) at a cell in state ``x0``."""
    return conduction_energy_j(voltage_v, cell_current_of(params, x0)(voltage_v), width_s)
