"""Energy of one write pulse at an HZO cell: its switching charge and its three terms.

The charge one pulse reverses (:func:`pulse_switching_charge_c`) and the energy of the pulse
at the cell (:func:`cell_pulse_energy_j`: conduction ``V I(V) t`` with the cell's I-V, the
dielectric's ``C V^2`` and the switching ``|V| Q``, the laws of
:mod:`memcosim.devices.pulse_energy`) are written here once and called by the training ledger's
device-level tables, the fitted energy basis (:mod:`memcosim.circuits.energy_models`) and the
write decks (:mod:`memcosim.netlist.crossbar`), whose switching element is the conductance
:func:`switching_conductance_s` (tests/devices/test_hzo_energy.py ties it to the law).
"""

import functools
from dataclasses import dataclass

import numpy as np

from memcosim.devices.hzo import apply_pulses
from memcosim.devices.hzo_electrical import read_current_a, switching_charge_c
from memcosim.devices.pulse_energy import capacitive_energy_j, conduction_energy_j, switching_energy_j

__all__ = ["CellPulseEnergy", "pulse_switching_charge_c", "switching_conductance_s", "cell_conduction_energy_j",
           "cell_pulse_energy_j", "switching_energy_per_state_j"]


def pulse_switching_charge_c(conductance_s, params, amplitude_v, width_s):
    """Polarization-reversal charge (C) one pulse draws from a cell at ``conductance_s``.

    :func:`~memcosim.devices.hzo_electrical.switching_charge_c` of the state change the device
    model makes under one pulse of ``amplitude_v`` (signed volts) and ``width_s`` (seconds).

    Parameters
    ----------
    conductance_s : array_like
        Read conductance before the pulse, siemens.
    params : HZOFilm
    amplitude_v, width_s : float

    Returns
    -------
    ndarray
        Charge, coulombs (>= 0), shaped like ``conductance_s`` (a float for a scalar conductance:
        those are memoised, since the energy tables evaluate the same few cells thousands of times).
    """
    if np.ndim(conductance_s) == 0:
        return _scalar_switching_charge_c(float(conductance_s), params, float(amplitude_v), float(width_s))
    return _switching_charge_c(conductance_s, params, amplitude_v, width_s)


@functools.lru_cache(maxsize=4096)
def _scalar_switching_charge_c(conductance_s, params, amplitude_v, width_s):
    return float(_switching_charge_c(conductance_s, params, amplitude_v, width_s))


def _switching_charge_c(conductance_s, params, amplitude_v, width_s):
    g0 = np.asarray(conductance_s, dtype=float)
    g1 = apply_pulses(g0, 1, params, amplitude_v, width_s)
    return switching_charge_c(params, (g1 - g0) / (params.g_max_s - params.g_min_s))


def switching_conductance_s(charge_c, voltage_v, width_s):
    """The write decks' switching element: ``g_sw = Q / (|V| t)`` (siemens).

    Polarization reversal is dissipative (the charge stays switched), so the decks model it as a
    conductance drawn while the pulse lasts: it takes ``g_sw V^2 t = |V| Q``, the
    :func:`~memcosim.devices.pulse_energy.switching_energy_j` of the charge.
    """
    return charge_c / (np.abs(voltage_v) * width_s)


def cell_conduction_energy_j(conductance_s, voltage_v, params, width_s):
    """``V I(V) t`` (J) of a cell of read conductance ``conductance_s`` under ``voltage_v`` for ``width_s``."""
    return conduction_energy_j(voltage_v, read_current_a(conductance_s, voltage_v, params), width_s)


@dataclass(frozen=True)
class CellPulseEnergy:
    """Energy of one write pulse at one HZO cell, joules, by mechanism (arrays broadcast)."""

    conduction_j: object
    """``V I(V) t``: conduction during the pulse."""
    capacitive_j: object
    """``C V^2``: charging the dielectric (dissipated on the discharge)."""
    switching_j: object
    """``|V| Q``: polarization reversal."""

    @property
    def total_j(self):
        """The three terms summed."""
        return self.conduction_j + self.capacitive_j + self.switching_j


def cell_pulse_energy_j(conductance_s, params, amplitude_v, width_s, charge_c=None):
    """Energy of one pulse of ``amplitude_v`` (volts, signed) and ``width_s`` at a cell of ``conductance_s``.

    Conduction at the cell's conductance before the pulse, the dielectric's ``C V^2`` and the
    switching energy of ``charge_c`` (default: :func:`pulse_switching_charge_c`, the charge the
    pulse reverses in the device model).

    Returns
    -------
    CellPulseEnergy
    """
    v = np.abs(amplitude_v)
    if charge_c is None:
        charge_c = pulse_switching_charge_c(conductance_s, params, amplitude_v, width_s)
    return CellPulseEnergy(cell_conduction_energy_j(conductance_s, v, params, width_s),
                           capacitive_energy_j(params.capacitance_f, v), switching_energy_j(v, charge_c))


def switching_energy_per_state_j(params, voltage_v, weight=1):
    """Switching energy (J) of a full sweep of the window at ``|voltage_v|``: the energy per unit of
    normalised state change (``weight``: a fitted coefficient of the term)."""
    return switching_energy_j(voltage_v, switching_charge_c(params, 1.0), weight)
