"""The cells of a write-pulse deck as the Python side sees them: current and capacitance per cell.

One object answers, for the energy split of an ngspice run (:mod:`memcosim.circuits.energy_split`)
and for the native transient engine (:mod:`memcosim.circuits.transient`) alike, what current a
cell of the deck carries at a voltage and what capacitance it has, from the device laws the
deck's elements restate:

* ``hzo``: :func:`memcosim.devices.hzo.cell_current_a` with the deck's per-cell read and
  switching conductances (:func:`memcosim.netlist.hzo_cells.hzo_pulse_cell_values`), and the
  dielectric capacitance ``HZOParams.capacitance_f``;
* ``mtj``: ``V / R`` with :func:`memcosim.devices.mtj.cell_resistance_ohm` (state, defect and
  the bias-dependent TMR of the antiparallel state), no capacitance;
* ``linear``: ``g V``, no capacitance.
"""

from dataclasses import dataclass

import numpy as np

from memcosim.devices import hzo, mtj
from memcosim.netlist.hzo_cells import hzo_pulse_cell_values

__all__ = ["PulseCells", "pulse_cells"]

_DV = 1e-4
"""Voltage step (V) of the central difference that gives a cell's small-signal conductance."""


@dataclass(frozen=True)
class PulseCells:
    """The cells of one pulse deck (arrays of shape ``(rows, cols)``)."""

    kind: str
    """``hzo``, ``mtj`` or ``linear``."""
    conductance_s: np.ndarray
    """Read conductance (``hzo``, ``linear``), siemens."""
    switching_conductance_s: np.ndarray = None
    """HZO switching-charge conductance of this pulse, siemens."""
    capacitance_f: float = 0.0
    """Capacitance of every cell, farads."""
    params: object = None
    """HZOParams or MTJParams."""
    states: np.ndarray = None
    """MTJ states (0 = P, 1 = AP)."""
    defects: np.ndarray = None
    """MTJ defect codes."""

    def current_a(self, voltage_v):
        """Current through every cell at ``voltage_v`` (shape ``(rows, cols)`` or ``(rows, cols, T)``), amperes."""
        v = np.asarray(voltage_v, dtype=float)
        extra = (None,) * (v.ndim - 2)
        if self.kind == "hzo":
            return hzo.cell_current_a(self.conductance_s[(...,) + extra], v, self.params,
                                      self.switching_conductance_s[(...,) + extra])
        if self.kind == "mtj":
            r = mtj.cell_resistance_ohm(self.states[(...,) + extra], self.defects[(...,) + extra], v, self.params)
            return v / r
        return self.conductance_s[(...,) + extra] * v

    def slope_s(self, voltage_v):
        """Small-signal conductance ``dI/dV`` of every cell at ``voltage_v`` (central difference), siemens."""
        if self.kind == "linear":
            return np.broadcast_to(self.conductance_s, np.shape(voltage_v)).copy()
        return (self.current_a(voltage_v + _DV) - self.current_a(voltage_v - _DV)) / (2 * _DV)


def pulse_cells(spec, v_cell_v, width_s):
    """The :class:`PulseCells` of a pulse deck of ``spec`` under nominal cell voltages ``v_cell_v``.

    Access transistors are not part of the cell (the MTJ junction below one is).
    """
    if spec.cell == "hzo":
        gread, gsw = hzo_pulse_cell_values(spec, v_cell_v, width_s)
        return PulseCells("hzo", gread, gsw, float(spec.hzo_params.capacitance_f), spec.hzo_params)
    if spec.cell == "mtj":
        defects = np.zeros(spec.conductance_s.shape, np.int8) if spec.mtj_defects is None else np.asarray(spec.mtj_defects)
        return PulseCells("mtj", spec.conductance_s, params=spec.mtj_params, states=np.asarray(spec.mtj_states),
                          defects=defects)
    return PulseCells("linear", spec.conductance_s)
