"""Joint fit of the HZO model to measured pulse sweeps of one device.

All sweeps of one device (any pulse widths) are fitted *jointly* to one
:class:`~memcosim.devices.hzo.HZOParams`: the device model steps every measured pulse sequence
(:func:`~memcosim.devices.hzo.apply_pulse_sequence_state`, vectorised across files) starting
from each file's first measured conductance, and ``scipy.optimize.least_squares`` minimises the
conductance error after every pulse. Each file's residuals are scaled by its own spread, and the
weights are then re-balanced a few times towards the worst-fitted files (iteratively reweighted
least squares), because the acceptance criterion is the r^2 of *every* width, not the average.

The default model has two domain populations and wake-up: a series of sweeps measured one after
the other on one device (ordered by the timestamps in the LBE247 headers) sees the film's
switchable window grow with the pulses it has taken. On the LBE247 series one population without
wake-up reaches r^2 0.935-0.970 (ID161ZR15000) and 0.833-0.902 (ID301XR1000Oct) per file; two
populations with wake-up reach 0.979-0.981 and 0.964-0.987 (on the timeline of
:mod:`memcosim.devices.sweep_fit`, both runs of every LBE247 file counted). The finite-difference Jacobian is
one batched model run (every perturbed parameter vector stepped together as one
:class:`~memcosim.devices.hzo.ParameterBatch`), 6-9x faster than a run per parameter
(benchmarks/bench_calibrate.py).

Long sweeps (more than :data:`~memcosim.devices.sweep_fit.SUBSAMPLE_PULSES` pulses in all) are
fitted coarse to fine: every round on evenly spaced windows of the sweeps, then a few model runs
refining on every pulse (:func:`~memcosim.devices.sweep_fit.least_squares_fit`), so a fit costs
about the same rounds whatever the length plus a few runs linear in it (docs/devices.md).
"""

import math

import numpy as np
from scipy import special

from memcosim.base.errors import CalibrationError
from memcosim.devices import hzo, hzo_replay
from memcosim.devices.fit_result import FitResult
from memcosim.devices.sweep_fit import (SUBSAMPLE_PULSES, SweepArrays, check_jacobian, check_subsample, check_sweeps,
                                        least_squares_fit, prepared)

__all__ = ["fit_hzo", "score_hzo"]


_LN10 = math.log(10.0)


class _Kinetics:
    """One kinetics block of the parameter vector (``log10 tau_inf``, ``ln v_act``, ``ln n``,
    ``ln spread``, ``ln shape``) as the device model's types."""

    @staticmethod
    def arrays(block):
        """:class:`~memcosim.devices.hzo.KineticsArrays` of a (B, 5) block, each field (B, 1)."""
        return hzo.KineticsArrays(log_tau_inf=block[:, 0:1] * _LN10, log_v_act=block[:, 1:2],
                                  merz_exponent=np.exp(block[:, 2:3]), spread=np.exp(block[:, 3:4]),
                                  spread_shape=np.exp(block[:, 4:5]))

    @staticmethod
    def params(row):
        log_tau, log_vact, log_n, log_spread, log_shape = row
        return hzo.SwitchingKinetics(tau_inf_s=float(10.0**log_tau), v_act_v=float(math.exp(log_vact)),
                                     merz_exponent=float(math.exp(log_n)), spread=float(math.exp(log_spread)),
                                     spread_shape=float(math.exp(log_shape)))


class _HZOProblem:
    """The model stepped through measured sweeps (:class:`~memcosim.devices.sweep_fit.SweepArrays`).

    Parameter vector ``theta``: ``log10 g_min``, ``log10 g_max``, then per population the
    potentiation and depression kinetics (``log10 tau_inf``, ``ln v_act``, ``ln n``, ``ln spread``,
    ``ln shape`` each), then ``logit`` of the second population's share (two populations), then
    ``logit a0`` and ``log10`` of the wake-up pulse count (wake-up). :meth:`simulate` runs a
    batch of parameter vectors at once, which makes the finite-difference Jacobian one batched
    model run instead of one run per parameter.
    """

    def __init__(self, arrays, populations=2, wake_up=True):
        self.arrays, self.populations, self.wake_up = arrays, populations, wake_up
        self.g = arrays.g
        g_lo, g_hi = np.nanmin(self.g), np.nanmax(self.g)
        kin_lo = [-20.0, math.log(0.05), math.log(0.2), math.log(0.01), math.log(0.02)]
        kin_hi = [-4.0, math.log(1e3), math.log(20.0), math.log(30.0), 0.0]
        up = [-8.0, math.log(2.0), 0.5, math.log(3.0), math.log(0.5)]
        down = [-6.0, math.log(2.0), 0.9, math.log(3.0), math.log(0.5)]
        self.lower = [math.log10(g_lo) - 1, math.log10(g_hi)] + kin_lo * 2
        self.upper = [math.log10(g_lo), math.log10(g_hi) + 1] + kin_hi * 2
        start = [math.log10(g_lo * 0.95), math.log10(g_hi * (1.4 if wake_up else 1.05))] + up + down
        if populations == 2:
            # the second population starts slower and at a higher field than the first
            slow = lambda block: [block[0] - 1.0, block[1] + 0.5] + block[2:]  # noqa: E731
            self.lower += kin_lo * 2 + [-5.0]
            self.upper += kin_hi * 2 + [5.0]
            start += slow(up) + slow(down) + [0.0]
        if wake_up:
            self.lower += [-6.0, 0.0]
            self.upper += [6.0, 6.0]
            start += [-1.0, 2.5]
        self.start = np.array(start)

    def _blocks(self, th):
        """The columns of a (batch, n) parameter array by meaning (the layout in the class docstring)."""
        blocks = {"g": th[:, 0:2], "up": th[:, 2:7], "down": th[:, 7:12]}
        k = 12
        if self.populations == 2:
            blocks.update(up2=th[:, 12:17], down2=th[:, 17:22], share=special.expit(th[:, 22:23]))
            k = 23
        if self.wake_up:
            blocks.update(a0=special.expit(th[:, k : k + 1]), n_wake=10.0 ** th[:, k + 1 : k + 2])
        return blocks

    def params_from(self, theta, polarity):
        b = {k: v[0] for k, v in self._blocks(np.atleast_2d(np.asarray(theta, dtype=float))).items()}
        extra = {}
        if self.populations == 2:
            extra.update(second_potentiation=_Kinetics.params(b["up2"]), second_depression=_Kinetics.params(b["down2"]),
                         second_population_fraction=float(b["share"][0]))
        if self.wake_up:
            extra.update(wake_up_initial_fraction=float(b["a0"][0]), wake_up_pulses=float(b["n_wake"][0]))
        return hzo.HZOParams(g_min_s=float(10.0 ** b["g"][0]), g_max_s=float(10.0 ** b["g"][1]),
                             potentiation=_Kinetics.params(b["up"]), depression=_Kinetics.params(b["down"]),
                             potentiation_polarity=polarity, **extra)

    def batch(self, thetas, polarity):
        """The device model's :class:`~memcosim.devices.hzo.ParameterBatch` of parameter vectors (batch, n)."""
        b = self._blocks(np.atleast_2d(np.asarray(thetas, dtype=float)))
        up, down = _Kinetics.arrays(b["up"]), _Kinetics.arrays(b["down"])
        populations = ((1.0, up, down),)
        if self.populations == 2:
            populations = ((1.0 - b["share"], up, down),
                           (b["share"], _Kinetics.arrays(b["up2"]), _Kinetics.arrays(b["down2"])))
        wake = dict(wake_up_initial_fraction=b["a0"], wake_up_pulses=b["n_wake"]) if self.wake_up else {}
        return hzo.ParameterBatch(g_min_s=10.0 ** b["g"][:, 0:1], g_max_s=10.0 ** b["g"][:, 1:2],
                                  populations=populations, potentiation_polarity=polarity, **wake)

    def simulate(self, thetas, polarity):
        """Fitted conductances, shape (batch, files, pulses), for parameter vectors (batch, n).

        Every file starts from its first measured conductance and is stepped through its pulses
        by the device model (:func:`~memcosim.devices.hzo.apply_pulse_sequence_state`), all
        parameter vectors and files at once.
        """
        return self.predict(self.batch(thetas, polarity))

    def predict(self, batch):
        """Conductances, shape (batch, files, pulses), of the model with a
        :class:`~memcosim.devices.hzo.ParameterBatch` stepped through every file (what :meth:`simulate`
        does for parameter vectors)."""
        a = self.arrays
        pulses_before = a.pulses_before if self.wake_up else None
        state = hzo.state_from_conductance(self.g[:, 0], batch, pulses_applied=pulses_before)
        replay = hzo_replay.replay_states if hzo_replay.available() else hzo.apply_pulse_sequence_state
        steps = replay(state, a.count[:, 1:].T, batch, a.amp[:, 1:].T, a.width[:, 1:].T)
        g = hzo.conductance_from_state(steps, batch, pulses_applied=pulses_before)  # (pulses - 1, batch, files)
        out = np.empty((g.shape[1],) + self.g.shape)
        out[:, :, 0] = self.g[:, 0]
        out[:, :, 1:] = np.moveaxis(g, 0, -1)
        return out


def _batch_from_params(params):
    """The one-member :class:`~memcosim.devices.hzo.ParameterBatch` of ``params`` (arrays of shape (1, 1))."""
    populations = tuple((share, hzo.KineticsArrays.from_kinetics(up), hzo.KineticsArrays.from_kinetics(down))
                        for share, up, down in params.populations)
    return hzo.ParameterBatch(g_min_s=np.full((1, 1), params.g_min_s), g_max_s=np.full((1, 1), params.g_max_s),
                              populations=populations, potentiation_polarity=params.potentiation_polarity,
                              wake_up_initial_fraction=params.wake_up_initial_fraction,
                              wake_up_pulses=params.wake_up_pulses)


def score_hzo(params, sweeps, pulses_before):
    """Score fixed HZO parameters on sweeps exactly as :func:`fit_hzo` scores the files it fits.

    Each sweep starts from its first measured conductance on a film that has taken
    ``pulses_before[i]`` pulses (wake-up) and is stepped through its measured pulses by the same
    code the fit uses; r^2 and rmse compare every later read. Like the fit, the model is stepped
    noise-free and continuous (``cycle_to_cycle_std`` and ``n_domains`` of ``params`` are not used).

    Parameters
    ----------
    params : HZOParams
    sweeps : list of PulseSweep
    pulses_before : sequence of float
        Pulses the device took before each sweep (ignored when ``params`` has no wake-up).

    Returns
    -------
    files : list of dict
        As ``FitResult.files``: ``path``, ``device_id``, ``pulse_width_s``, ``n_points``, ``r2``,
        ``rmse_s`` (siemens), ``pulses_before``, ``n_pulses``, ``measured_at``.
    curves : list of (ndarray, ndarray)
        Measured and predicted conductance per sweep, siemens.
    """
    if len(pulses_before) != len(sweeps):
        raise CalibrationError(f"pulses_before: need one count per sweep ({len(sweeps)}), got {len(pulses_before)}")
    arrays = SweepArrays(sweeps, pulses_before)
    problem = _HZOProblem(arrays, len(params.populations), params.wake_up_initial_fraction < 1.0)
    return arrays.score(problem.predict(_batch_from_params(params))[0])


def fit_hzo(sweeps, populations=2, wake_up=None, reweight_rounds=5, max_nfev=100, jacobian="batched", progress=False,
            history=(), subsample_pulses=SUBSAMPLE_PULSES):
    """Jointly fit one HZO parameter set to sweeps of one device.

    Parameters
    ----------
    sweeps : list of PulseSweep
        Measured sweeps of one device (any pulse widths).
    populations : {1, 2}
        Domain populations of the model (see :mod:`memcosim.devices.hzo`).
    wake_up : bool, optional
        Fit the film's wake-up through the sweeps (in measurement order when every file has a
        timestamp, else in the order given). Default: when there are two or more sweeps.
    reweight_rounds : int
        Rounds of re-balancing the per-file weights towards the worst-fitted files.
    max_nfev : int
        Least-squares iterations of the first round; later rounds start from the previous
        optimum and get half.
    jacobian : {"batched", "2-point"}
        ``batched``: forward differences in one batched model run; ``2-point``: scipy's own, one
        model run per parameter (same steps up to scipy's choice; kept for the benchmark).
    progress : bool
        Show a progress bar of the model runs.
    history : sequence of PulseSweep
        Other sweeps the device took (held out of the fit): their pulses count on the wake-up
        timeline (:func:`~memcosim.devices.sweep_fit.device_timeline`); their conductances are
        not used.
    subsample_pulses : int or None
        Sweeps of more pulses than this are fitted coarse to fine: every round on evenly spaced
        windows of about this many pulses, then a few model runs refining on all of them
        (:func:`~memcosim.devices.sweep_fit.least_squares_fit`). None: every round on all pulses.

    Returns
    -------
    FitResult

    Raises
    ------
    CalibrationError
        Sweeps whose conductance never changes, too few pulses for the parameters, data the
        model cannot be evaluated on, or an estimated memory over the budget
        (:mod:`memcosim.base.memory`).
    """
    check_jacobian(jacobian)
    check_sweeps(sweeps)
    if populations not in (1, 2):
        raise CalibrationError(f"populations: must be 1 or 2, got {populations!r}")
    check_subsample(subsample_pulses)
    sign, timeline, arrays = prepared(sweeps, history)
    wake = len(sweeps) >= 2 if wake_up is None else bool(wake_up)
    problem = _HZOProblem(arrays, populations, wake)
    windows = arrays.windows(subsample_pulses) if subsample_pulses else None
    coarse = None
    if windows is not None:  # bounds and start stay those of all pulses
        coarse = (lambda th, on=_HZOProblem(windows, populations, wake): on.simulate(th, sign), windows)
    theta, result = least_squares_fit(lambda th: problem.simulate(th, sign), arrays, problem.start[None, :], problem.lower,
                                      problem.upper, ", ".join(s.path for s in sweeps), reweight_rounds, max_nfev,
                                      jacobian, progress, coarse=coarse)
    fitted = problem.simulate(theta, sign)[0]
    files, curves = arrays.score(fitted)
    return FitResult("hzo", problem.params_from(theta, sign), files, arrays.overall_r2(fitted), bool(result.success),
                     result.message, curves, timeline)
