"""HZO synapse parameters: the typed inputs of the model in :mod:`memcosim.devices.hzo`.

* :class:`SwitchingKinetics` — the NLS kinetics of one switching direction;
* :class:`HZOParams` — one device (or the median device of an array), validated on construction;
* :class:`KineticsArrays` and :class:`ParameterBatch` — the same quantities as arrays, for many
  devices or parameter sets stepped together (calibration's batched Jacobian);
* :func:`sample_device_params` — per-device arrays with device-to-device spread.

Units: volts, seconds, siemens, farads, square metres, C/m^2.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.devices.hzo_switching import _merz_u

__all__ = ["SwitchingKinetics", "HZOFilm", "HZOParams", "KineticsArrays", "ParameterBatch", "sample_device_params", "spread_window"]


def _in_range(name, value, low, high):
    """Refuse a value that is not a finite real number in the closed range [low, high]."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and low <= value <= high
    if not ok:
        raise ConfigError(f"{name}: must be in [{low:g}, {high:g}], got {value!r}")


@dataclass(frozen=True)
class SwitchingKinetics:
    """NLS switching kinetics of one direction (potentiation or depression)."""

    tau_inf_s: float = 1e-12
    """Merz prefactor: switching time at infinite field, seconds."""
    v_act_v: float = 20.0
    """Median activation voltage of the domains, volts."""
    merz_exponent: float = 1.0
    """Exponent of Merz's law (1 = classic Merz)."""
    spread: float = 3.0
    """Width of the switching distribution (in ln t when ``spread_shape = 1``)."""
    spread_shape: float = 1.0
    """Box-Cox shape in (0, 1]: 1 = lognormal switching times, -> 0 = lognormal activation voltages."""

    def __post_init__(self):
        _in_range("tau_inf_s", self.tau_inf_s, 1e-30, 1.0)
        _in_range("v_act_v", self.v_act_v, 1e-3, 1e4)
        _in_range("merz_exponent", self.merz_exponent, 0.05, 20.0)
        _in_range("spread", self.spread, 1e-4, 100.0)
        _in_range("spread_shape", self.spread_shape, 1e-3, 1.0)

    def arrays(self, v_act_factor=None, xp=np):
        """The log form the law steps with (:class:`KineticsArrays`); ``v_act_factor`` (array)
        scales the activation voltage per device."""
        return KineticsArrays.from_kinetics(self, v_act_factor, xp)


@dataclass(frozen=True)
class HZOFilm:
    """What every HZO synapse model shares: the conductance window, the polarity, the electrical
    model, noise, domains and wake-up. The switching law is the subclass's:
    :class:`HZOParams` (NLS with Box-Cox populations) or
    :class:`~memcosim.devices.hzo_kinetics.HZOKineticsParams` (a field law over a distribution
    of activation voltages). Every HZO function of :mod:`memcosim.devices.hzo` takes either."""

    g_min_s: float = 1.4e-8
    """Lowest conductance (all domains down), read at ``read_voltage_v``, siemens."""
    g_max_s: float = 8.0e-8
    """Highest conductance (all domains up), siemens."""
    potentiation_polarity: int = -1
    """Sign of the pulse amplitude that potentiates (-1: negative pulses raise G, as measured)."""
    read_voltage_v: float = 0.1
    """Read voltage, volts."""
    conduction_alpha_per_v: float = 1.5
    """Nonlinearity of conduction, 1/V: ``I(V)`` grows as ``sinh(alpha V) / alpha``
    (:func:`~memcosim.devices.hzo_electrical.read_current_a`)."""
    area_m2: float = 1e-12
    """Device area, square metres."""
    remanent_polarization_c_m2: float = 0.2
    """Remanent polarization P_r, C/m^2 (20 uC/cm^2)."""
    capacitance_f: float = 2.7e-14
    """Linear (dielectric) capacitance of the device, farads."""
    n_domains: int = 0
    """Number of independently switching domains: the state is quantised to ``1/n_domains``
    (0 = continuous)."""
    cycle_to_cycle_std: float = 0.0
    """Relative cycle-to-cycle noise of a pulse's conductance change."""
    wake_up_initial_fraction: float = 1.0
    """Share of the window a pristine film switches (1: no wake-up); see
    :func:`~memcosim.devices.hzo_switching.active_fraction`."""
    wake_up_pulses: float = 1.0
    """Pulses over which wake-up completes (e-folding count)."""

    def __post_init__(self):
        _in_range("g_min_s", self.g_min_s, 1e-15, 1.0)
        _in_range("g_max_s", self.g_max_s, 1e-15, 1.0)
        if not self.g_max_s > self.g_min_s:
            raise ConfigError(f"g_max_s: must be > g_min_s = {self.g_min_s:g}, got {self.g_max_s:g}")
        if self.potentiation_polarity not in (-1, 1):
            raise ConfigError(f"potentiation_polarity: must be -1 or 1, got {self.potentiation_polarity!r}")
        _in_range("read_voltage_v", self.read_voltage_v, 1e-4, 5.0)
        _in_range("conduction_alpha_per_v", self.conduction_alpha_per_v, 1e-6, 50.0)
        _in_range("area_m2", self.area_m2, 1e-20, 1e-2)
        _in_range("remanent_polarization_c_m2", self.remanent_polarization_c_m2, 0.0, 10.0)
        _in_range("capacitance_f", self.capacitance_f, 0.0, 1e-6)
        if not isinstance(self.n_domains, int) or self.n_domains < 0:
            raise ConfigError(f"n_domains: must be an integer >= 0, got {self.n_domains!r}")
        _in_range("cycle_to_cycle_std", self.cycle_to_cycle_std, 0.0, 1.0)
        _in_range("wake_up_initial_fraction", self.wake_up_initial_fraction, 1e-3, 1.0)
        _in_range("wake_up_pulses", self.wake_up_pulses, 1e-3, 1e12)

    @property
    def populations(self):
        """``[(share of the window, potentiation kinetics, depression kinetics), ...]``: each
        kinetics has ``.arrays(v_act_factor, xp)`` (the log form the law steps with)."""
        raise NotImplementedError

    def nominal_v_act_v(self, up):
        """The activation voltage a device's activation-voltage factor is relative to (volts)."""
        raise NotImplementedError

    def to_dict(self):
        """A JSON-ready dict (``from_dict`` of the same class reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build from :meth:`to_dict` output; unknown keys are an error naming them."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"HZO parameters: unknown key(s) {unknown}; allowed: {sorted(known)}")
        for key, kind in cls._NESTED.items():
            if key in data and not isinstance(data[key], kind):
                if not isinstance(data[key], dict):
                    raise ConfigError(f"{key}: must be a table of {kind.__name__} fields, got {data[key]!r}")
                data[key] = kind(**data[key])
        return cls(**data)

    _NESTED: ClassVar[dict] = {}
    """Fields holding a nested dataclass, by name (read from JSON tables by :meth:`from_dict`)."""


@dataclass(frozen=True)
class HZOParams(HZOFilm):
    """One HZO synapse (or the median device of an array) with the NLS law of
    :mod:`memcosim.devices.hzo_switching`: one or two domain populations, each with its own
    Box-Cox kinetics per direction."""

    potentiation: SwitchingKinetics = SwitchingKinetics()
    """Kinetics of pulses that raise the conductance."""
    depression: SwitchingKinetics = SwitchingKinetics()
    """Kinetics of pulses that lower the conductance."""
    second_population_fraction: float = 0.0
    """Share of the conductance window held by a second domain population (0: one population)."""
    second_potentiation: SwitchingKinetics = SwitchingKinetics()
    """Potentiation kinetics of the second population (unused when its fraction is 0)."""
    second_depression: SwitchingKinetics = SwitchingKinetics()
    """Depression kinetics of the second population."""

    _NESTED: ClassVar[dict] = {key: SwitchingKinetics for key in ("potentiation", "depression", "second_potentiation",
                                                                  "second_depression")}

    def __post_init__(self):
        super().__post_init__()
        _in_range("second_population_fraction", self.second_population_fraction, 0.0, 0.999)

    @property
    def populations(self):
        """``[(share of the window, potentiation kinetics, depression kinetics), ...]``."""
        if self.second_population_fraction == 0:
            return [(1.0, self.potentiation, self.depression)]
        w2 = self.second_population_fraction
        return [(1.0 - w2, self.potentiation, self.depression), (w2, self.second_potentiation, self.second_depression)]

    def nominal_v_act_v(self, up):
        return (self.potentiation if up else self.depression).v_act_v


@dataclass(frozen=True)
class KineticsArrays:
    """NLS kinetics of one direction in the log form the law steps with, for many devices or
    parameter sets at once.

    Every field is a float or an array (numpy or torch) that broadcasts against the switched
    fractions being stepped (for example shape (batch, 1) against states of shape (batch, files)).
    No checks: build it from a validated :class:`SwitchingKinetics` (:meth:`from_kinetics`) or
    from bounded fit parameters.
    """

    log_tau_inf: object
    """``ln(tau_inf_s / 1 s)``: log of the Merz prefactor."""
    log_v_act: object
    """``ln(v_act_v / 1 V)``: log of the median activation voltage."""
    merz_exponent: object
    """Exponent of Merz's law."""
    spread: object
    """Width of the switching distribution."""
    spread_shape: object
    """Box-Cox shape in (0, 1]."""

    @classmethod
    def from_kinetics(cls, kinetics, v_act_factor=None, xp=np):
        """The log form of ``kinetics``; ``v_act_factor`` (array) scales the activation voltage per device."""
        log_v_act = math.log(kinetics.v_act_v) + (0.0 if v_act_factor is None else xp.log(v_act_factor))
        return cls(math.log(kinetics.tau_inf_s), log_v_act, kinetics.merz_exponent, kinetics.spread,
                   kinetics.spread_shape)

    def u_lam(self, log_v, xp=np, log_width=None):
        """``(v_act / V) ** merz_exponent`` raised to the Box-Cox power at ``log_v = ln(V / 1 V)``,
        the median ``L = ln(t / tau_inf_s)`` of the law to that power; overflow-safe. (The NLS
        populations see the nominal pulse: ``log_width`` is not used.)"""
        return _merz_u(self.log_v_act, log_v, self, xp)


@dataclass(frozen=True)
class ParameterBatch:
    """Many HZO parameter sets stepped together, as arrays (calibration's candidate parameter vectors).

    Takes the place of :class:`HZOParams` in :func:`~memcosim.devices.hzo.apply_pulses_state`,
    :func:`~memcosim.devices.hzo.apply_pulse_sequence_state` and the state conversions and wake-up
    of :mod:`memcosim.devices.hzo_switching`. Every array broadcasts against
    the states' leading axes (e.g. shape (batch, 1) against states of shape
    (batch, files, populations)). A batch is noise-free and continuous (no cycle-to-cycle noise,
    no domain quantisation). No checks: build it from bounded fit parameters.
    """

    g_min_s: object
    """Lowest conductance of each parameter set, siemens."""
    g_max_s: object
    """Highest (woken-up) conductance of each parameter set, siemens."""
    populations: tuple
    """``((share of the window, potentiation KineticsArrays, depression KineticsArrays), ...)``."""
    potentiation_polarity: int
    """Sign of the amplitude that potentiates (-1 or 1), shared by the batch."""
    wake_up_initial_fraction: object = 1.0
    """Share of the window a pristine film switches (see ``HZOParams.wake_up_initial_fraction``)."""
    wake_up_pulses: object = 1.0
    """Pulses over which wake-up completes (e-folding count)."""
    cycle_to_cycle_std = 0.0  # class constants, not fields: a batch is noise-free and continuous
    n_domains = 0



def spread_window(g_min_s, g_max_s, shape, device_to_device_std, rng):
    """Device-to-device spread of a conductance window: ``(g_min, g_max, factor)``.

    ``g_min_s`` and ``g_max_s`` are scaled by independent lognormal factors of sigma
    ``device_to_device_std`` (``g_max`` kept above ``1.01 g_min``); ``factor()`` draws the next
    such factor array of ``shape`` from the same ``rng`` (for a model's other spread parameters).
    """
    if not (isinstance(device_to_device_std, (int, float)) and math.isfinite(device_to_device_std)
            and 0 <= device_to_device_std <= 1):
        raise ConfigError(f"device_to_device_std: must be in [0, 1], got {device_to_device_std!r}")
    factor = lambda: np.exp(device_to_device_std * rng.standard_normal(shape))  # noqa: E731
    g_min = g_min_s * factor()
    return g_min, np.maximum(g_max_s * factor(), g_min * 1.01), factor


def sample_device_params(params, shape, device_to_device_std, rng):
    """Per-device parameter arrays with lognormal device-to-device spread.

    ``g_min_s`` and ``g_max_s`` and both activation voltages are scaled by independent
    lognormal factors of sigma ``device_to_device_std`` (``g_max_s`` kept above ``g_min_s``).
    A device's activation-voltage factor applies to both of its domain populations.

    Returns
    -------
    dict of ndarray
        ``g_min_s``, ``g_max_s``, ``v_act_up_v``, ``v_act_down_v``, each of ``shape``.
    """
    g_min, g_max, f = spread_window(params.g_min_s, params.g_max_s, shape, device_to_device_std, rng)
    return {
        "g_min_s": g_min,
        "g_max_s": g_max,
        "v_act_up_v": params.nominal_v_act_v(True) * f(),
        "v_act_down_v": params.nominal_v_act_v(False) * f(),
    }
