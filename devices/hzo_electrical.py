"""Electrical laws of an HZO cell: conduction and the polarization-switching charge.

Each law is written here once and called everywhere else (device energy, the write decks'
switching conductance, characterisation's energy split, the training ledger); the write deck's
``hzocell`` subcircuit restates :func:`cell_current_a` in SPICE syntax and a test ties the two.
Units: volts, amperes, siemens, coulombs.
"""

import numpy as np

from memcosim.devices.hzo_switching import _ops

__all__ = ["conduction_scale", "read_current_a", "cell_current_a", "switching_charge_c"]


def conduction_scale(params):
    """``v_read / (sinh(alpha v_read) / alpha)`` (dimensionless): the factor that makes the
    conduction law :func:`read_current_a` pass through ``G * v_read`` at the read voltage."""
    alpha = params.conduction_alpha_per_v
    return params.read_voltage_v / (np.sinh(alpha * params.read_voltage_v) / alpha)


def read_current_a(conductance_s, voltage_v, params):
    """Conduction current of a device of read conductance ``conductance_s`` at ``voltage_v``.

    ``I = G * s * sinh(alpha V) / alpha`` with ``s`` = :func:`conduction_scale`, so ``I = G V``
    at the read voltage and the I-V is superlinear above it (odd in V).

    Parameters
    ----------
    conductance_s : array_like
        Read conductance (at ``params.read_voltage_v``), siemens.
    voltage_v : array_like
        Voltage across the device, volts (broadcast against ``conductance_s``).
    params : HZOParams

    Returns
    -------
    ndarray
        Current, amperes.
    """
    alpha = params.conduction_alpha_per_v
    return np.asarray(conductance_s) * conduction_scale(params) * np.sinh(alpha * np.asarray(voltage_v)) / alpha


def cell_current_a(conductance_s, voltage_v, params, switching_conductance_s=0.0):
    """Current through an HZO cell during a write pulse: conduction plus polarization reversal.

    ``I = read_current_a(G, V) + g_sw V``: the write decks model the switching charge ``Q_sw``
    of a pulse of width ``t`` as the conductance ``g_sw = Q_sw / (|V| t)``
    (:func:`memcosim.devices.hzo_energy.switching_conductance_s`), so it is drawn while the pulse lasts.
    The ``hzocell`` subcircuit of the write decks restates this law in SPICE syntax (a test ties
    the two together).

    Parameters
    ----------
    conductance_s : array_like
        Read conductance, siemens.
    voltage_v : array_like
        Voltage across the cell, volts.
    params : HZOParams
    switching_conductance_s : array_like
        Switching-charge conductance ``g_sw``, siemens (0: no switching).

    Returns
    -------
    ndarray
        Current, amperes.
    """
    return read_current_a(conductance_s, voltage_v, params) + np.asarray(switching_conductance_s) * np.asarray(voltage_v)


def switching_charge_c(params, dx):
    """Polarization-reversal charge of a change ``dx`` of the switched state: ``2 P_r A |dx|``.

    Reversing the polarization of a fraction ``|dx|`` of the film moves the bound charge from
    ``-P_r A`` to ``+P_r A`` over that fraction, so the source supplies ``2 P_r A |dx|``; at a
    pulse of magnitude ``|V|`` it delivers (and the film dissipates) ``|V| * Q``.

    Parameters
    ----------
    params : HZOParams
        Supplies ``remanent_polarization_c_m2`` (C/m^2) and ``area_m2`` (m^2).
    dx : array_like or torch.Tensor
        Change of the normalised switched state ``x = (G - g_min_s) / (g_max_s - g_min_s)``
        (dimensionless, any sign; a window-weighted sum over populations for a two-population
        device), any shape.

    Returns
    -------
    ndarray, float or torch.Tensor
        Switching charge, coulombs (>= 0), shape of ``dx``.
    """
    magnitude = np.abs(np.asarray(dx, dtype=float)) if _ops(dx)[0] is np else dx.abs()
    return 2.0 * params.remanent_polarization_c_m2 * params.area_m2 * magnitude

