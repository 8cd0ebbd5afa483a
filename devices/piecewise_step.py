"""The piecewise-step device: aihwkit's ``PiecewiseStepDevice``, step for step.

A device whose weight ``w`` (dimensionless: aihwkit's weight units) moves by one *step* per
pulse, the step interpolated linearly in a table of ``N`` nodes spread evenly over the device's
own bounds ``[w_min, w_max]`` (aihwkit ``update_once`` in ``src/rpucuda/rpu_piecewisestep_device.cpp``)::

    s      = (w - w_min) / (w_max - w_min) (N - 1)           node coordinate
    k, t   = min(floor(s), N - 2), min(s - k, 1)
    up     : w += scale_up   ((1 - t) piecewise_up[k]   + t piecewise_up[k + 1])   (1 + dw_min_std xi)
    down   : w -= scale_down ((1 - t) piecewise_down[k] + t piecewise_down[k + 1]) (1 + dw_min_std xi)
    w      = clip(w, w_min, w_max)

with ``scale_up = dw_min (1 + min(up_down, 0))`` and ``scale_down = dw_min (1 - max(up_down, 0))``
for the nominal device; the device-to-device terms (``dw_min_dtod``, ``up_down_dtod``,
``w_min_dtod``, ``w_max_dtod``) draw each device's scales and bounds as aihwkit's
``PulsedRPUDevice::populate`` does (:func:`sample_spread`). The weight granularity aihwkit
uses for update management is ``dw_min piecewise_up[N // 2]`` (:meth:`PiecewiseStepParams.granularity`).

This module holds the law once (:func:`piecewise_step`, on numpy, torch or the compiled
kernel's scalars, in the state ``x = (w - w_min) / (w_max - w_min)`` of each device's own
window), the noise-free response to a pulse sequence (:func:`pulse_response`, what aihwkit's
``fit_measurements`` simulates), the published symmetry-point finder (:func:`published_symmetry_point`)
and aihwkit's config text in and out (:func:`from_aihwkit`, :func:`to_aihwkit`): a
``PiecewiseStepDevice(...)`` as aihwkit prints it (``RPU_Config.txt``) is parsed as literals,
never executed.
"""

import ast
import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from memcosim.base.errors import ConfigError
from memcosim.devices.prims import PYTHON, jitable

__all__ = ["PiecewiseStepParams", "piecewise_step", "pulse_response", "published_symmetry_point", "sample_spread",
           "from_aihwkit", "to_aihwkit", "SPREAD_FIELDS"]

SPREAD_FIELDS = ("dw_min_dtod", "up_down_dtod", "w_min_dtod", "w_max_dtod")
"""The device-to-device terms (relative Gaussian spread, aihwkit's ``*_dtod``)."""

_MAX_NODES = 4096


def _real(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class PiecewiseStepParams:
    """An aihwkit ``PiecewiseStepDevice`` (its fields, its names, its defaults where they matter)."""

    dw_min: float = 0.001
    """Step scale: one pulse moves the weight by ``dw_min`` times the interpolated table value."""
    up_down: float = 0.0
    """Up/down asymmetry: > 0 shortens the down step by ``1 - up_down``, < 0 the up step by ``1 + up_down``."""
    w_min: float = -0.6
    """Lower bound of the weight (<= 0)."""
    w_max: float = 0.6
    """Upper bound of the weight (>= 0)."""
    piecewise_up: tuple = (1.0,)
    """Up-step factors at ``N`` nodes spread evenly over ``[w_min, w_max]``."""
    piecewise_down: tuple = (1.0,)
    """Down-step factors at the same nodes (the same length as ``piecewise_up``)."""
    dw_min_std: float = 0.0
    """Cycle-to-cycle noise: each step is multiplied by ``1 + dw_min_std xi`` (xi standard normal)."""
    dw_min_dtod: float = 0.0
    """Device-to-device spread of the step scale (relative, Gaussian; lognormal with ``dw_min_dtod_log_normal``)."""
    dw_min_dtod_log_normal: bool = False
    """Draw the step-scale spread as ``exp(dw_min_dtod xi)`` instead of ``1 + dw_min_dtod xi``."""
    up_down_dtod: float = 0.0
    """Device-to-device spread of the up/down asymmetry (absolute, Gaussian)."""
    w_min_dtod: float = 0.0
    """Device-to-device spread of ``w_min`` (relative, Gaussian)."""
    w_max_dtod: float = 0.0
    """Device-to-device spread of ``w_max`` (relative, Gaussian)."""

    def __post_init__(self):
        object.__setattr__(self, "piecewise_up", tuple(float(v) for v in self.piecewise_up))
        object.__setattr__(self, "piecewise_down", tuple(float(v) for v in self.piecewise_down))
        checks = [
            ("dw_min", _real(self.dw_min) and 0 < self.dw_min <= 10, "allowed range (0, 10]"),
            ("up_down", _real(self.up_down) and -1 < self.up_down < 1, "allowed range (-1, 1)"),
            ("w_min", _real(self.w_min) and -1e3 <= self.w_min <= 0, "allowed range [-1e3, 0] (the bounds must contain 0)"),
            ("w_max", _real(self.w_max) and 0 <= self.w_max <= 1e3, "allowed range [0, 1e3] (the bounds must contain 0)"),
            ("dw_min_std", _real(self.dw_min_std) and 0 <= self.dw_min_std <= 10, "allowed range [0, 10]"),
            ("dw_min_dtod_log_normal", isinstance(self.dw_min_dtod_log_normal, bool), "true or false"),
        ] + [(name, _real(getattr(self, name)) and 0 <= getattr(self, name) <= 10, "allowed range [0, 10]")
             for name in SPREAD_FIELDS]
        for name, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"piecewise_step.{name}: got {getattr(self, name)!r}; {allowed}")
        if not self.w_max > self.w_min:
            raise ConfigError(f"piecewise_step.w_max: must be > w_min = {self.w_min!r}, got {self.w_max!r}")
        n_up, n_down = len(self.piecewise_up), len(self.piecewise_down)
        if not (2 <= n_up <= _MAX_NODES and n_up == n_down):
            raise ConfigError(f"piecewise_step.piecewise_up/piecewise_down: need the same number of nodes in [2, "
                              f"{_MAX_NODES}], got {n_up} and {n_down}")
        for name in ("piecewise_up", "piecewise_down"):
            values = getattr(self, name)
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ConfigError(f"piecewise_step.{name}: every factor must be finite and >= 0, got "
                                  f"{min(values)!r} .. {max(values)!r}")
            if not any(v > 0 for v in values):
                raise ConfigError(f"piecewise_step.{name}: all factors are 0: the device never moves that way")

    @property
    def scale_up(self):
        """Nominal up-step scale, ``dw_min (1 + min(up_down, 0))``."""
        return self.dw_min * (1.0 + min(self.up_down, 0.0))

    @property
    def scale_down(self):
        """Nominal down-step scale, ``dw_min (1 - max(up_down, 0))``."""
        return self.dw_min * (1.0 - max(self.up_down, 0.0))

    def granularity(self):
        """aihwkit's weight granularity, ``dw_min piecewise_up[N // 2]``: the step its update
        management counts pulses in."""
        return self.dw_min * self.piecewise_up[len(self.piecewise_up) // 2]

    def tables(self):
        """``(up, down)`` node tables as float64 arrays."""
        return np.array(self.piecewise_up), np.array(self.piecewise_down)


@jitable
def piecewise_step(x, table, step, noise, f):
    """A device's state after one pulse of the piecewise-step law (one direction).

    Parameters
    ----------
    x : state ``(w - w_min) / (w_max - w_min)`` of the device's own window, in [0, 1]
    table : the direction's node factors (``N`` nodes over [0, 1])
    step : signed step scale of this device and direction as a fraction of its window
        (``+scale_up / (w_max - w_min)`` or ``-scale_down / (w_max - w_min)``)
    noise : ``dw_min_std xi`` (0: noise free)
    f : primitives (:mod:`memcosim.devices.prims`)
    """
    last = table.shape[0] - 1
    pos = f.clip(x * last, 0.0, last * 1.0)
    lo = f.clip(f.index(pos), 0, last - 1)
    t = pos - lo
    factor = table[lo] * (1.0 - t) + table[lo + 1] * t
    return f.clip(x + step * factor * (1.0 + noise), 0.0, 1.0)


def pulse_response(params, w0, directions):
    """Noise-free weights after each pulse of a sequence, as aihwkit's ``fit_measurements`` and
    ``compute_pulse_response`` simulate it (one pulse per entry, no update management).

    Parameters
    ----------
    params : PiecewiseStepParams
    w0 : float
        Starting weight (clipped to the bounds, as aihwkit's ``set_weights``).
    directions : sequence of {+1, -1, 0}
        +1: an up pulse, -1: a down pulse, 0: none.

    Returns
    -------
    ndarray (len(directions),)
        The weight after each pulse.
    """
    up, down = _Table(params.piecewise_up), _Table(params.piecewise_down)
    span = params.w_max - params.w_min
    step_up, step_down = params.scale_up / span, -params.scale_down / span
    x = (min(max(float(w0), params.w_min), params.w_max) - params.w_min) / span
    out = np.empty(len(directions))
    for k, d in enumerate(directions):
        if d > 0:
            x = piecewise_step(x, up, step_up, 0.0, PYTHON)
        elif d < 0:
            x = piecewise_step(x, down, step_down, 0.0, PYTHON)
        out[k] = params.w_min + x * span
    return out


class _Table(tuple):
    """A node table as a tuple with the ``shape`` the law reads (plain Python floats: fast scalar steps)."""

    @property
    def shape(self):
        return (len(self),)


def published_symmetry_point(params, pulses=100, last=5, w0=0.0):
    """The symmetry point as the published study found it (PaU1570/msc_project,
    ``utils/asymmetric_pulsing.py::plot_symmetry_point``): ``pulses`` alternating single pulses
    (up first) on the noise-free device from ``w0``, then the mean weight over the last ``last``.
    """
    if not (isinstance(pulses, int) and pulses >= 2 and isinstance(last, int) and 1 <= last <= pulses):
        raise ConfigError(f"symmetry point: need pulses >= 2 and 1 <= last <= pulses, got {pulses!r}, {last!r}")
    directions = np.where(np.arange(pulses) % 2 == 0, 1, -1)
    return float(np.mean(pulse_response(params, w0, directions)[-last:]))


def sample_spread(params, shape, rng):
    """Each device's bounds and step scales, drawn as aihwkit's ``PulsedRPUDevice::populate``
    (``enforce_consistency``: scales made positive, bounds ordered around 0).

    Returns
    -------
    dict of ndarray
        ``w_min``, ``w_max``, ``scale_up``, ``scale_down``, each of ``shape`` (weight units).
    """
    g = lambda: rng.standard_normal(shape)  # noqa: E731
    w_max = params.w_max * (1.0 + params.w_max_dtod * g())
    w_min = params.w_min * (1.0 + params.w_min_dtod * g())
    gain = np.exp(params.dw_min_dtod * g()) if params.dw_min_dtod_log_normal else 1.0 + params.dw_min_dtod * g()
    r = params.up_down_dtod * g()
    up_bias, down_bias = min(params.up_down, 0.0), -max(params.up_down, 0.0)
    scale_up = np.abs((up_bias + gain + r) * params.dw_min)
    scale_down = np.abs((down_bias + gain - r) * params.dw_min)
    lo, hi = np.minimum(w_min, w_max), np.maximum(w_min, w_max)
    return {"w_min": -np.abs(lo), "w_max": np.abs(hi), "scale_up": scale_up, "scale_down": scale_down}


# ----- aihwkit's config text ------------------------------------------------------------------------------------------

_AIHWKIT_FIELDS = {f.name for f in fields(PiecewiseStepParams)}
AIHWKIT_DEFAULTS = {"dw_min": 0.001, "dw_min_dtod": 0.3, "dw_min_dtod_log_normal": False, "dw_min_std": 0.3,
                    "up_down": 0.0, "up_down_dtod": 0.01, "w_max": 0.6, "w_max_dtod": 0.3, "w_min": -0.6,
                    "w_min_dtod": 0.3}
"""aihwkit 1.2's ``PulsedDevice`` defaults: what a field aihwkit did not print holds (it prints only
the fields that differ from them)."""
_IGNORED = {"construction_seed", "reset", "reset_std", "reset_dtod", "corrupt_devices_range", "count_pulses",
            "apply_write_noise_on_set"}
"""Fields without effect on pulsed training here (seeds of aihwkit's generator, resets, bookkeeping)."""
_ZERO_ONLY = ("write_noise_std", "corrupt_devices_prob", "diffusion", "diffusion_dtod", "lifetime", "lifetime_dtod",
              "perfect_bias")
"""Fields memcosim does not model: accepted only at 0 (their aihwkit default)."""


def _literal(node, where):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise ConfigError(f"{where}: not a literal value") from None


def _find_call(node, name):
    """The first call ``name(...)`` in the expression tree (breadth first)."""
    queue = [node]
    while queue:
        n = queue.pop(0)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name:
            return n
        queue.extend(ast.iter_child_nodes(n))
    return None


def from_aihwkit(text, where="aihwkit config"):
    """A :class:`PiecewiseStepParams` from aihwkit's text of a ``PiecewiseStepDevice``.

    ``text`` is what aihwkit prints for a config (``str(rpu_config)``, e.g. a published
    ``RPU_Config.txt``: the first ``PiecewiseStepDevice(...)`` inside it is taken, also inside a
    ``ReferenceUnitCell`` or a ``MixedPrecisionCompound``) or a JSON object of the device's
    fields (:func:`to_aihwkit` with ``fmt="json"``). Only literal values are read (the text is
    parsed, never executed). A field not given holds aihwkit's default (:data:`AIHWKIT_DEFAULTS`:
    aihwkit prints only what differs from them, so a printed ``up_down_dtod`` absent is 0.01);
    fields memcosim does not model are refused when they are not zero.

    Raises
    ------
    ConfigError
        Not parseable, no ``PiecewiseStepDevice``, a non-literal value, an unknown field, or a
        nonzero field that is not modelled (``write_noise_std``, drift, diffusion, ...).
    """
    import json

    def refuse_constant(name):
        raise ValueError(f"{name} is not a number")

    if not isinstance(text, str):
        raise ConfigError(f"{where}: expected text, got {type(text).__name__}")
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            values = json.loads(stripped, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ConfigError(f"{where}: not valid JSON ({str(exc).splitlines()[0][:120]})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: a JSON object of PiecewiseStepDevice fields expected")
        values = dict(values)
        values.pop("device", None)
    else:
        try:
            tree = ast.parse(stripped, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise ConfigError(f"{where}: not an aihwkit config (cannot parse it as one expression)") from None
        call = _find_call(tree, "PiecewiseStepDevice")
        if call is None:
            raise ConfigError(f"{where}: no PiecewiseStepDevice(...) in it")
        if call.args:
            raise ConfigError(f"{where}: PiecewiseStepDevice takes keyword arguments only")
        values = {kw.arg: _literal(kw.value, f"{where}: PiecewiseStepDevice.{kw.arg}") for kw in call.keywords}
    kwargs = dict(AIHWKIT_DEFAULTS)
    for key, value in values.items():
        if key in _IGNORED:
            continue
        if key in _ZERO_ONLY:
            if value not in (0, 0.0, False):
                raise ConfigError(f"{where}: PiecewiseStepDevice.{key} = {value!r} is not modelled by memcosim (only 0)")
            continue
        if key not in _AIHWKIT_FIELDS:
            raise ConfigError(f"{where}: PiecewiseStepDevice.{key}: unknown or unsupported field")
        if key in ("piecewise_up", "piecewise_down"):
            if not isinstance(value, (list, tuple)) or not all(_real(v) for v in value):
                raise ConfigError(f"{where}: PiecewiseStepDevice.{key}: a list of numbers expected")
        kwargs[key] = value
    for key in ("piecewise_up", "piecewise_down"):
        if key not in kwargs:
            raise ConfigError(f"{where}: PiecewiseStepDevice.{key}: missing")
    try:
        return PiecewiseStepParams(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:
        raise ConfigError(f"{where}: {str(exc).splitlines()[0]}") from None


def to_aihwkit(params, fmt="python"):
    """The device as an aihwkit config: ``fmt="python"`` — the ``PiecewiseStepDevice(...)``
    expression (aihwkit users paste it; :func:`from_aihwkit` reads it back), ``"json"`` — a JSON
    object of its fields. Every number is written with ``repr`` (exact round trip)."""
    if not isinstance(params, PiecewiseStepParams):
        raise ConfigError(f"params: a PiecewiseStepParams expected, got {type(params).__name__}")
    values = asdict(params)
    values["piecewise_up"] = list(params.piecewise_up)
    values["piecewise_down"] = list(params.piecewise_down)
    if fmt == "json":
        import json

        return json.dumps({"device": "PiecewiseStepDevice", **values}, indent=1)
    if fmt != "python":
        raise ConfigError(f"fmt: allowed 'python', 'json'; got {fmt!r}")
    lines = ["PiecewiseStepDevice("]
    for key, value in values.items():
        if isinstance(value, list):
            lines.append(f"    {key}=[" + ", ".join(repr(v) for v in value) + "],")
        else:
            lines.append(f"    {key}={value!r},")
    lines.append(")")
    return "\n".join(lines) + "\n"
