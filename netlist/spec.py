"""Crossbar specs: the array, its cells and its parasitics, validated once (rendered by
:mod:`memcosim.netlist.crossbar`)."""

from dataclasses import dataclass, field

import numpy as np

from memcosim.base.errors import NetlistError
from memcosim.devices import mtj as mtj_model

__all__ = ["AccessTransistor", "CrossbarSpec", "wire_segment_resistance_ohm"]


def wire_segment_resistance_ohm(resistivity_ohm_m, pitch_m, width_m, thickness_m):
    """Resistance of one wire segment between neighbouring cells: ``rho * pitch / (w * t)``.

    Parameters
    ----------
    resistivity_ohm_m : float
        Wire resistivity, ohm metres (Cu at narrow widths: about 4e-8).
    pitch_m, width_m, thickness_m : float
        Cell pitch (segment length), wire width and thickness, metres.
    """
    for name, value in (("resistivity_ohm_m", resistivity_ohm_m), ("pitch_m", pitch_m), ("width_m", width_m), ("thickness_m", thickness_m)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise NetlistError(f"{name}: must be a finite number > 0, got {value!r}")
    return resistivity_ohm_m * pitch_m / (width_m * thickness_m)


@dataclass(frozen=True)
class AccessTransistor:
    """One NMOS access transistor per cell (1T1R), gate driven per row (ngspice level 1)."""

    width_m: float = 200e-9
    length_m: float = 50e-9
    vth_v: float = 0.4
    kp_a_per_v2: float = 300e-6
    gate_on_v: float = 1.2


@dataclass(frozen=True)
class CrossbarSpec:
    """A crossbar array and its parasitics.

    Attributes
    ----------
    conductance_s : ndarray, shape (rows, cols)
        Read conductance of every cell, siemens (used for ``linear`` and ``hzo`` cells).
    cell : {"linear", "mtj", "hzo"}
    r_wire_ohm : float
        Wire resistance of one segment (rows and columns), ohms (>= 0). 0 means ideal wires:
        the decks then short every segment with a 0 V source (``VWR{i}_{j}``, ``VWC{i}_{j}``),
        exactly, instead of a resistor.
    c_wire_f : float
        Capacitance to ground of one segment, farads (transients only).
    r_driver_ohm : float
        Row driver output resistance, ohms (0: ideal source on the row).
    sense : {"virtual_ground", "resistor"}
    r_sense_ohm : float
    mtj_states : ndarray of int, optional
        0 = P, 1 = AP per cell (``mtj`` cells).
    mtj_params : MTJParams, optional
    mtj_defects : ndarray of int8, optional
        Defect code per cell (``memcosim.devices.mtj``).
    hzo_params : HZOParams, optional
    access : AccessTransistor, optional
    name : str
        Free text for the deck's header (made inert).
    """

    conductance_s: np.ndarray
    cell: str = "linear"
    r_wire_ohm: float = 1.0
    c_wire_f: float = 0.0
    r_driver_ohm: float = 100.0
    sense: str = "virtual_ground"
    r_sense_ohm: float = 1000.0
    mtj_states: np.ndarray = None
    mtj_params: object = None
    mtj_defects: np.ndarray = None
    hzo_params: object = None
    access: AccessTransistor = None
    name: str = "crossbar"
    _shape: tuple = field(default=(0, 0), repr=False)

    def __post_init__(self):
        g = np.asarray(self.conductance_s, dtype=float)
        if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
            raise NetlistError(f"conductance_s: must be a (rows, cols) array, got shape {g.shape}")
        if not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise NetlistError("conductance_s: every cell conductance must be finite and > 0 siemens")
        object.__setattr__(self, "conductance_s", g)
        object.__setattr__(self, "_shape", g.shape)
        if self.cell not in ("linear", "mtj", "hzo"):
            raise NetlistError(f"cell: must be 'linear', 'mtj' or 'hzo', got {self.cell!r}")
        if self.sense not in ("virtual_ground", "resistor"):
            raise NetlistError(f"sense: must be 'virtual_ground' or 'resistor', got {self.sense!r}")
        for name in ("r_wire_ohm", "c_wire_f", "r_driver_ohm"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise NetlistError(f"{name}: must be finite and >= 0, got {value!r}")
        if not (np.isfinite(self.r_sense_ohm) and self.r_sense_ohm > 0):
            raise NetlistError(f"r_sense_ohm: must be > 0, got {self.r_sense_ohm!r}")
        if self.cell == "mtj":
            if self.mtj_states is None or self.mtj_params is None:
                raise NetlistError("mtj cells need mtj_states and mtj_params")
            if np.shape(self.mtj_states) != g.shape:
                raise NetlistError(f"mtj_states: shape {np.shape(self.mtj_states)} != array shape {g.shape}")
        if self.cell == "hzo" and self.hzo_params is None:
            raise NetlistError("hzo cells need hzo_params")

    @property
    def rows(self):
        return self._shape[0]

    @property
    def cols(self):
        return self._shape[1]

    @classmethod
    def from_mtj(cls, states, params, defects=None, **kwargs):
        """An MTJ array from states (0 = P, 1 = AP); ``conductance_s`` is the small-signal read value."""
        states = np.asarray(states)
        defects = np.zeros(states.shape, np.int8) if defects is None else np.asarray(defects)
        r = mtj_model.cell_resistance_ohm(states, defects, 0.0, params)
        return cls(1.0 / r, cell="mtj", mtj_states=states, mtj_params=params, mtj_defects=defects, **kwargs)
