"""The HZO cell of a write deck: its switching element and its subcircuit.

A ferroelectric cell under a programming pulse conducts (:func:`memcosim.devices.hzo.cell_current_a`),
charges its dielectric and switches polarization; :func:`hzo_write_cells` declares the ``hzocell``
subcircuit that carries all three and gives each cell its instance card, with the switching
element of the nominal voltage the cell sees (:func:`switching_conductances_s`).
:mod:`memcosim.netlist.crossbar` places the cells in its write, row-operation and slot decks.
"""

import numpy as np

from memcosim.devices import hzo as hzo_model
from memcosim.devices.hzo_energy import pulse_switching_charge_c, switching_conductance_s
from memcosim.netlist.deck import spice_number

__all__ = ["hzo_pulse_cell_values", "switching_conductances_s", "hzo_write_cells"]


def hzo_pulse_cell_values(spec, v_cell, width_s):
    """Per-cell ``(gread_s, gsw_s)`` of an HZO array under nominal cell voltages ``v_cell`` (volts).

    Polarization reversal is dissipative (the charge stays switched), so it is a conductance
    ``Q_sw / (V_cell * width)`` (:func:`memcosim.devices.hzo_energy.switching_conductance_s`) that
    draws ``V_cell * Q_sw`` during the pulse, not a capacitor that would return its energy on the
    falling edge. ``Q_sw`` is :func:`memcosim.devices.hzo_energy.pulse_switching_charge_c` for the
    nominal voltage the cell sees (full, half- or third-selected).
    """
    return spec.conductance_s, switching_conductances_s(spec.conductance_s, spec.hzo_params, v_cell, width_s)


def switching_conductances_s(conductance_s, params, v_cell, width_s):
    """Each cell's switching element ``Q_sw(V) / (|V| t)`` (siemens) at its nominal voltage
    ``v_cell`` (volts; cells at 0 V draw none), one switching-charge evaluation per voltage level."""
    uniform = np.ndim(conductance_s) == 0  # one cell state: one (memoised) charge per level
    gread = conductance_s if uniform else np.broadcast_to(conductance_s, np.shape(v_cell))
    gsw = np.zeros(np.shape(v_cell))
    for level in np.unique(np.round(v_cell, 12)):
        if abs(level) < 1e-12:
            continue
        mask = np.isclose(v_cell, level, rtol=0, atol=1e-12)
        q_sw = pulse_switching_charge_c(gread if uniform else gread[mask], params, float(level), width_s)
        gsw[mask] = switching_conductance_s(q_sw, level, width_s)
    return gsw


def hzo_write_cells(deck, spec, v_cell, width_s):
    """Declare the ``hzocell`` subcircuit and return the factory of each cell's instance card.

    The subcircuit is one B element carrying :func:`memcosim.devices.hzo.cell_current_a`
    (conduction plus switching-charge conductance) in SPICE syntax, and the dielectric C;
    tests/netlist/test_conduction_law.py ties the B element to the Python function.
    """
    p = spec.hzo_params
    alpha, scale = spice_number(p.conduction_alpha_per_v), spice_number(hzo_model.conduction_scale(p))
    deck.raw(".subckt hzocell a b gread=1e-8 gsw=0")
    deck.raw(f"bcell a b I={{gread*{scale}*sinh({alpha}*V(a,b))/{alpha}+gsw*V(a,b)}}")
    deck.raw(f"cdiel a b {spice_number(p.capacitance_f)}")
    deck.raw(".ends hzocell")
    gread, gsw = hzo_pulse_cell_values(spec, v_cell, width_s)
    return lambda i, j: f"hzocell gread={spice_number(gread[i, j])} gsw={spice_number(gsw[i, j])}"
