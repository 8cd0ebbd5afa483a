"""The energy laws of one pulse across a two-terminal element, each written once.

A write pulse of magnitude ``|V|`` and width ``t`` costs, at one element:

* conduction, ``V I(V) t`` (:func:`conduction_energy_j`): Joule heating by the current the
  element conducts (its own I-V: :mod:`memcosim.devices.hzo_energy`,
  :mod:`memcosim.devices.mtj_energy`);
* capacitive, ``C V^2`` (:func:`capacitive_energy_j`): charging a capacitance to ``V`` takes
  ``C V^2`` from the source, half stored and dissipated on the falling edge, half in the charging
  resistance (a cell's dielectric, a line's wire);
* switching, ``|V| Q`` (:func:`switching_energy_j`): a charge ``Q`` moved through the element at
  ``|V|`` and not returned (a ferroelectric's polarization reversal).

Every caller (the device-level energy of the training ledger, the fitted energy basis of
:mod:`memcosim.circuits.energy_models`, the periphery's line charge) calls these; the write decks'
switching element restates :func:`switching_energy_j` as a conductance and a test ties the two.
Units: volts, amperes, seconds, farads, coulombs, joules; arrays broadcast.
"""

import numpy as np

__all__ = ["conduction_energy_j", "capacitive_energy_j", "switching_energy_j"]


def conduction_energy_j(voltage_v, current_a, width_s):
    """``V I t``: energy (J) an element conducting ``current_a`` at ``voltage_v`` dissipates in ``width_s``."""
    return voltage_v * current_a * width_s


def capacitive_energy_j(capacitance_f, voltage_v):
    """``C V^2``: energy (J) drawn from the source to charge ``capacitance_f`` to ``voltage_v`` (and back to 0)."""
    return capacitance_f * voltage_v * voltage_v


def switching_energy_j(voltage_v, charge_c, count=1):
    """``count |V| Q``: energy (J) of ``count`` elements each moving ``charge_c`` through ``|voltage_v|``.

    ``count``: how many elements (cells at that voltage), or a fitted weight of the term.
    """
    return count * np.abs(voltage_v) * charge_c
