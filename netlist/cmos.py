"""The CMOS the periphery decks are built of: a process, an op-amp and a tapered driver chain.

Frozen specs with closed forms the decks of :mod:`memcosim.netlist.peripherals` and the fitted
models of :mod:`memcosim.circuits.peripheral_models` share: a :class:`CmosProcess` as ngspice
level-1 MOSFETs with explicit linear gate and drain capacitances (so a deck's switched
capacitance is known in closed form, :meth:`DriverChain.switched_c_f`), a behavioural
single-pole :class:`OpAmp`, and :func:`driver_chain`, the sizing of a line driver.
"""

import math
from dataclasses import asdict, dataclass

from memcosim.base.errors import NetlistError
from memcosim.netlist.deck import safe_name

__all__ = ["CmosProcess", "OpAmp", "DriverChain", "driver_chain"]


def _positive(where, value, allow_zero=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise NetlistError(f"{where}: must be a finite number {bound}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class CmosProcess:
    """A CMOS process as ngspice level-1 MOSFETs (defaults: a generic 28 nm-class core device).

    Level 1 has square-law drive, no velocity saturation, no subthreshold current and no
    breakdown; the defaults give about 1.0 mA/um (NMOS) and 0.5 mA/um (PMOS) saturation current
    at ``vdd_v`` and 1 fF/um gate capacitance, the order of a 28 nm planar node.
    """

    name: str = "generic28_level1"
    """Process name (a safe SPICE name: it prefixes the model cards)."""
    vdd_v: float = 0.9
    """Core supply, volts."""
    vth_n_v: float = 0.35
    """NMOS threshold voltage, volts (> 0)."""
    vth_p_v: float = -0.35
    """PMOS threshold voltage, volts (< 0)."""
    kp_n_a_per_v2: float = 200e-6
    """NMOS transconductance parameter ``mu_n C_ox``, A/V^2."""
    kp_p_a_per_v2: float = 100e-6
    """PMOS transconductance parameter ``mu_p C_ox``, A/V^2."""
    lambda_per_v: float = 0.1
    """Channel-length modulation, 1/V."""
    l_m: float = 30e-9
    """Channel length of every transistor, metres."""
    w_min_m: float = 60e-9
    """Minimum (unit) NMOS width, metres."""
    p_to_n_ratio: float = 2.0
    """PMOS / NMOS width of an inverter (balances the drive for ``kp_n / kp_p = 2``)."""
    c_gate_f_per_m: float = 1.0e-9
    """Gate capacitance per metre of width, F/m (1 fF/um)."""
    c_drain_f_per_m: float = 0.6e-9
    """Drain (and source) junction capacitance per metre of width, F/m."""

    def __post_init__(self):
        safe_name(self.name, "process.name")
        for field_name in ("vdd_v", "vth_n_v", "kp_n_a_per_v2", "kp_p_a_per_v2", "l_m", "w_min_m", "p_to_n_ratio",
                           "c_gate_f_per_m"):
            _positive(f"process.{field_name}", getattr(self, field_name))
        for field_name in ("lambda_per_v", "c_drain_f_per_m"):
            _positive(f"process.{field_name}", getattr(self, field_name), allow_zero=True)
        if not (isinstance(self.vth_p_v, (int, float)) and math.isfinite(self.vth_p_v) and self.vth_p_v < 0):
            raise NetlistError(f"process.vth_p_v: must be a finite number < 0 volts, got {self.vth_p_v!r}")

    @classmethod
    def io_thick_oxide(cls):
        """A 3.3 V thick-oxide I/O device of a 28 nm-class node at level 1 (the write driver of
        programming pulses up to about 4 V).

        Assumed values (generic, not a foundry's): ``vdd_v`` 3.3, thresholds +-0.7 V, ``l_m``
        270 nm, ``w_min_m`` 400 nm; a ~6.5 nm oxide (5.3 fF/um^2) gives ``c_gate_f_per_m`` 1.8e-9
        (1.8 fF/um with overlap and fringe) and ``c_drain_f_per_m`` 1.0e-9; ``kp_n`` 50 uA/V^2
        and ``kp_p`` 25 uA/V^2 are effective values that give the level-1 square law the
        velocity-saturated drive of such a device, about 0.63 (NMOS) and 0.31 (PMOS) mA/um at
        3.3 V; ``lambda_per_v`` 0.05 (the longer channel).
        """
        return cls(name="generic28_io33_level1", vdd_v=3.3, vth_n_v=0.7, vth_p_v=-0.7, kp_n_a_per_v2=50e-6,
                   kp_p_a_per_v2=25e-6, lambda_per_v=0.05, l_m=270e-9, w_min_m=400e-9, p_to_n_ratio=2.0,
                   c_gate_f_per_m=1.8e-9, c_drain_f_per_m=1.0e-9)

    @property
    def nmos(self):
        return f"{self.name}_n"

    @property
    def pmos(self):
        return f"{self.name}_p"

    def min_supply_v(self):
        """Lowest supply at which a level-1 inverter switches both ways: ``max(vth_n, |vth_p|)`` plus 0.1 V, volts."""
        return max(self.vth_n_v, -self.vth_p_v) + 0.1

    def inverter_input_c_f(self, size):
        """Gate capacitance of an inverter whose NMOS is ``size`` unit widths, farads."""
        return self.c_gate_f_per_m * self.w_min_m * size * (1.0 + self.p_to_n_ratio)

    def inverter_drain_c_f(self, size):
        """Drain capacitance on the output of an inverter of ``size`` unit widths, farads."""
        return self.c_drain_f_per_m * self.w_min_m * size * (1.0 + self.p_to_n_ratio)

    def nmos_on_resistance_ohm(self, size, supply_v=None):
        """Linear-region on-resistance ``1 / (kp_n (W/L) (V - vth_n))`` of an NMOS of ``size`` unit widths, ohms."""
        v = self.vdd_v if supply_v is None else supply_v
        return 1.0 / (self.kp_n_a_per_v2 * size * self.w_min_m / self.l_m * (v - self.vth_n_v))

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class OpAmp:
    """A behavioural op-amp: single-pole VCVS with a static bias current and a class-B output stage.

    The output stage draws from the supply the current it delivers (``|I_out|``), so the energy of
    the integrated charge is real; the bias current models the OTA's static consumption.
    """

    dc_gain: float = 1000.0
    """Open-loop DC gain, V/V."""
    gbw_hz: float = 500e6
    """Gain-bandwidth product, hertz."""
    bias_current_a: float = 20e-6
    """Static supply current, amperes."""
    output_swing_v: float = 0.4
    """Full-scale output swing the feedback capacitor is sized for, volts (:func:`integrator_feedback_c_f`)."""

    def __post_init__(self):
        for field_name in ("dc_gain", "gbw_hz", "output_swing_v"):
            _positive(f"opamp.{field_name}", getattr(self, field_name))
        _positive("opamp.bias_current_a", self.bias_current_a, allow_zero=True)

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class DriverChain:
    """A tapered inverter chain: stage ``k`` has ``sizes[k]`` unit widths (``taper ** k``)."""

    process: CmosProcess
    sizes: tuple
    """NMOS widths of the stages in units of ``process.w_min_m`` (PMOS: ``p_to_n_ratio`` times that)."""
    load_c_f: float
    """The line capacitance the chain was sized for, farads."""

    @property
    def n_stages(self):
        return len(self.sizes)

    @property
    def inverting(self):
        """True when the output is the inverse of the input (odd number of stages)."""
        return self.n_stages % 2 == 1

    def switched_c_f(self):
        """Capacitance the chain itself switches per transition, farads: the gate capacitance of
        stages 1..N-1 and the drain capacitance of every stage (the first gate is charged by the input)."""
        p = self.process
        return sum(p.inverter_input_c_f(s) for s in self.sizes[1:]) + sum(p.inverter_drain_c_f(s) for s in self.sizes)

    def last_stage_resistance_ohm(self, supply_v=None):
        """On-resistance of the last stage's NMOS, ohms (:meth:`CmosProcess.nmos_on_resistance_ohm`)."""
        return self.process.nmos_on_resistance_ohm(self.sizes[-1], supply_v)


def driver_chain(process, load_c_f, taper=4.0):
    """Size a driver for ``load_c_f``: ``N = max(1, round(ln(C_load / C_in) / ln(taper)))`` stages.

    ``C_in`` is the gate capacitance of a unit inverter; stage ``k`` is ``taper ** k`` unit widths.

    Parameters
    ----------
    process : CmosProcess
    load_c_f : float
        Capacitance the last stage drives, farads (> 0).
    taper : float
        Size ratio of successive stages (> 1; about 4 minimises the delay with real parasitics).

    Returns
    -------
    DriverChain
    """
    _positive("load_c_f", load_c_f)
    if not (isinstance(taper, (int, float)) and math.isfinite(taper) and taper > 1):
        raise NetlistError(f"taper: must be a finite number > 1, got {taper!r}")
    n = max(1, round(math.log(load_c_f / process.inverter_input_c_f(1.0)) / math.log(taper)))
    return DriverChain(process, tuple(float(taper) ** k for k in range(n)), float(load_c_f))
