"""A piecewise-step device from one measured sweep, fitted as the published study fitted it.

The published ferroelectric study (PaU1570/msc_project, ``src/msc_project/utils/fit_piecewise.py``,
run through IBM aihwkit) turned each measured pulse sweep into an aihwkit ``PiecewiseStepDevice``:

1. **Normalisation** — the conductance after each pulse is the mean of its reads (LBE247:
   ``1/R_low`` and ``1/R_high``), normalised to ``Gn = 2 (G - mean(G)) / (max(G) - min(G))``:
   centred on the data's *mean*, one unit per half of the measured range. Each pulse is +1
   (potentiating) or -1 (depressing); the published code took a positive amplitude as
   depression (LBE247's sign), here the potentiating polarity is read from the data (the same
   for LBE247, and right for a user's CSV of the other sign).
2. **Step curves** — ``np.gradient`` of ``Gn`` over the potentiating rows, and over the
   depressing rows, each fitted by a degree-5 polynomial of the step against ``Gn``.
3. **Nodes** — both polynomials sampled at 32 nodes on [-1, 1], absolute values,
   ``piecewise_up[-1] = piecewise_down[0] = 0``; ``dw_min = min(|up(0)|, |down(0)|)`` and both
   tables divided by it.
4. **Free parameters** — ``up_down`` (from 0 in [-0.99, 0.99]), ``w_max`` (1 in [0.1, 2]) and
   ``w_min`` (-1 in [-2, -0.1]) by aihwkit's ``fit_measurements``: the noise-free device, started
   at the first measured ``Gn``, steps through the measured pulses (pulse ``k`` from row ``k`` to
   row ``k + 1``) and Powell's method minimises the squared deviation, over lmfit's bounded
   parameter transform (``p = min + (sin(u) + 1) (max - min) / 2``) from the same start.

Mixed precision's granularity in the published runs is ``(|up(0)| + |down(0)|) / 2``
(:attr:`PublishedFit.granularity`); the published noise terms come from the same fit
(:attr:`PublishedFit.residual_std`: the scatter of the data about the fitted response). The
physical anchor — the mean conductance and the half range in siemens — is kept, so a weight of
this device is a conductance (:meth:`PublishedFit.conductance_s`) and its pulses can be costed.
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from memcosim.base.errors import CalibrationError
from memcosim.devices.piecewise_step import PiecewiseStepParams, pulse_response

__all__ = ["PublishedFit", "fit_sweep", "normalise", "step_polynomials", "NODES", "DEGREE", "PUBLISHED_UP_DOWN_DTOD"]

NODES = 32
"""Nodes of the published step tables."""
DEGREE = 5
"""Degree of the published step polynomials."""
_FREE = (("up_down", 0.0, -0.99, 0.99), ("w_max", 1.0, 0.1, 2.0), ("w_min", -1.0, -2.0, -0.1))
"""The parameters aihwkit's fit frees: (name, start, lower, upper)."""
PUBLISHED_UP_DOWN_DTOD = 0.01
"""Device-to-device spread of the up/down asymmetry in the published training runs: every other
noise and spread term was set to 0, this one kept aihwkit's (and the scripts' argument) default
0.01 (it is not printed in their ``RPU_Config.txt`` because it equals aihwkit's default)."""


@dataclass(frozen=True)
class PublishedFit:
    """A measured sweep as the published study's device."""

    params: PiecewiseStepParams
    """The fitted device as the published runs trained it: no noise, no spread but
    :data:`PUBLISHED_UP_DOWN_DTOD` of the up/down asymmetry."""
    source: str
    """The measured file."""
    pulse_width_s: float
    """Pulse width of the sweep, seconds."""
    g_centre_s: float
    """Conductance of weight 0: the mean of the measured conductances, siemens."""
    g_unit_s: float
    """Conductance of one unit of weight: half the measured range, siemens."""
    granularity_up: float
    """``|up step polynomial(0)|``, weight units."""
    granularity_down: float
    """``|down step polynomial(0)|``, weight units."""
    residual_std: float
    """Standard deviation of the measured ``Gn`` about the fitted response, weight units."""
    r2: float
    """Coefficient of determination of the fitted response."""
    up_polarity: int
    """Sign of the amplitudes that potentiate in the file (+1 or -1)."""

    @property
    def granularity(self):
        """Mixed precision's granularity in the published runs, ``(granularity_up + granularity_down) / 2``."""
        return 0.5 * (self.granularity_up + self.granularity_down)

    def conductance_s(self, w):
        """Conductance of weight ``w``, siemens."""
        return self.g_centre_s + np.asarray(w, dtype=float) * self.g_unit_s

    def describe(self):
        """A JSON-ready summary."""
        p = self.params
        return {"law": "published_fit", "source": self.source, "pulse_width_s": self.pulse_width_s,
                "dw_min": p.dw_min, "up_down": p.up_down, "w_min": p.w_min, "w_max": p.w_max,
                "granularity": self.granularity, "g_centre_s": self.g_centre_s, "g_unit_s": self.g_unit_s,
                "residual_std": self.residual_std, "r2": self.r2}


def normalise(sweep):
    """``(Gn, directions, up_polarity, g_centre_s, g_unit_s)`` of a :class:`~memcosim.devices.measurements.PulseSweep`
    (step 1 of the module docstring)."""
    g = np.asarray(sweep.mean_conductance_s, dtype=float)
    span = float(g.max() - g.min())
    if not span > 0:
        raise CalibrationError(f"{sweep.path}: the conductance never changes; no device to fit")
    amps = np.asarray(sweep.pulse_amplitude_v, dtype=float)
    moves = np.diff(g)
    # the polarity whose pulses raise the conductance on balance (pulse k acts between rows k-1 and k)
    net = {s: float(moves[np.sign(amps[1:]) == s].sum()) for s in (1, -1)}
    if not net[1] * net[-1] < 0:
        raise CalibrationError(f"{sweep.path}: positive and negative pulses move the conductance the same way on balance; "
                               "cannot tell potentiation from depression")
    up = 1 if net[1] > 0 else -1
    directions = np.where(np.sign(amps) == up, 1, -1)
    centre = float(g.mean())
    return 2.0 * (g - centre) / span, directions, up, centre, span / 2.0


def step_polynomials(gn, directions, where="sweep"):
    """The published degree-5 fits of the step against ``Gn``: ``(up, down)`` numpy Polynomials (step 2)."""
    out = []
    for sign, name in ((1, "potentiating"), (-1, "depressing")):
        rows = gn[directions == sign]
        if len(rows) < DEGREE + 1:
            raise CalibrationError(f"{where}: only {len(rows)} {name} pulse(s); the published fit needs at least {DEGREE + 1}")
        out.append(np.polynomial.Polynomial.fit(rows, np.gradient(rows), DEGREE))
    return tuple(out)


def _transform(lo, hi):
    """lmfit's bounded transform: internal ``u`` -> value, and value -> ``u``."""
    return (lambda u: lo + (math.sin(u) + 1.0) * (hi - lo) / 2.0,
            lambda v: math.asin(2.0 * (v - lo) / (hi - lo) - 1.0))


def fit_sweep(sweep):
    """The published device of one measured sweep (:class:`PublishedFit`; steps 1-4 of the module docstring).

    Raises
    ------
    CalibrationError
        A flat sweep, polarity that cannot be told, too few pulses of a direction, or a step
        polynomial that vanishes at weight 0 in both directions.
    """
    from scipy.optimize import minimize

    gn, directions, up_polarity, centre, unit = normalise(sweep)
    fit_up, fit_down = step_polynomials(gn, directions, sweep.path)
    nodes = np.linspace(-1.0, 1.0, NODES)
    table_up, table_down = np.abs(fit_up(nodes)), np.abs(fit_down(nodes))
    table_up[-1] = 0.0
    table_down[0] = 0.0
    gran_up, gran_down = abs(float(fit_up(0.0))), abs(float(fit_down(0.0)))
    dw_min = min(gran_up, gran_down)
    if not dw_min > 0:
        raise CalibrationError(f"{sweep.path}: the fitted step vanishes at weight 0; no published device")
    base = dict(dw_min=dw_min, piecewise_up=table_up / dw_min, piecewise_down=table_down / dw_min)
    # the fit runs the noise-free nominal device (aihwkit's fit_measurements suppresses every spread term)
    transforms = [_transform(lo, hi) for _, _, lo, hi in _FREE]

    def device(u):
        values = {name: t[0](ui) for (name, *_), t, ui in zip(_FREE, transforms, u)}
        return PiecewiseStepParams(**base, **values)

    def deviation(u):
        model = np.concatenate([[gn[0]], pulse_response(device(u), gn[0], directions[:-1])])
        return model - gn

    u0 = [t[1](start) for (_, start, _, _), t in zip(_FREE, transforms)]
    def cost(u):
        d = deviation(u)
        return float(np.dot(d, d))

    result = minimize(cost, u0, method="Powell",
                      options={"maxfev": 2000 * (len(_FREE) + 1)})
    params = dataclasses.replace(device(result.x), up_down_dtod=PUBLISHED_UP_DOWN_DTOD)
    residual = deviation(result.x)
    r2 = 1.0 - float(np.dot(residual, residual)) / float(np.sum((gn - gn.mean()) ** 2))
    return PublishedFit(params, sweep.path, float(sweep.nominal_width_s), centre, unit, gran_up, gran_down,
                        float(np.std(residual)), r2, up_polarity)
