"""Pulses in the order hardware applies them: sample after sample, each device at its own state.

A stochastic update of a batch is, on hardware (and in aihwkit's pulsed update: per input vector,
slots ``k = 0 .. BL-1``, ``doSparseUpdate`` of the rows and columns that pulse in slot ``k``;
``PulsedRPUWeightUpdater::updateVectorWithDevice`` in aihwkit's ``src/rpucuda/rpu_weight_updater.cpp``),
one update of ``BL`` slots per sample, the samples one after the other. Within a sample a device's pulses all
have one polarity, ``sign(x_i d_j)``, so a sample gives each device one train of ``n``
identical pulses (its coincidences), which the device law applies in one step (exactly, for the
HZO law and a measured branch; with the law's cycle-to-cycle noise of an ``n``-pulse train). A
device therefore sees the signed trains of samples 1, 2, ..., B in that order, each at the state the previous ones
left, and each train's write energy is costed at that state. Devices are independent: the
order only matters per device. (``BL`` is fixed: aihwkit's ``update_bl_management``, which
shortens the trains of small updates, is not modelled.)

Two implementations give the same result (tests/training/test_pulse_kernel.py,
tests/training/test_measured_kernel.py):

* :func:`memcosim.training.event_kernel.apply_events` — compiled (numba, CPU);
* :func:`apply_events_torch` — torch on any device: the coincidences as a list of events, sorted
  per device, applied in *waves* (wave ``k`` steps every device's ``k``-th train), so the Python
  loop runs over waves (the most trains any one device gets), not over samples or devices.

Both call the device laws of :mod:`memcosim.devices`, one per kind of :class:`EventParams`:

* ``HZO`` — the NLS law per domain population (:func:`hzo_population_step`);
* ``LINEAR`` — the constant-step law (:func:`memcosim.devices.linear_step.step_response`);
* ``MEASURED`` — a measured branch (:func:`memcosim.devices.measured.measured_train`, which calls
  :func:`memcosim.devices.measured.branch_train`: up pulses along the up branch in the state
  ``x``, down pulses along the down branch in ``1 - x``), each device with its own window and step
  scale;
* ``PIECEWISE`` — aihwkit's piecewise-step law (:func:`memcosim.devices.piecewise_step.piecewise_step`),
  a train of ``n`` as ``n`` single steps, each device with its own window and step scales, each
  pulse with its own noise variate (``hash(hash(key, counter), k)`` for pulse ``k``);

and the write-energy law
(:func:`memcosim.training.ledger.write_energy_terms`). Noise variates come from the update's
noise key through the same counter-based hash as the pulse trains (:mod:`bitstreams`), keyed by
sample, array, device and population, so they do not depend on the order of evaluation.
"""

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from memcosim.base.reproducible import fixed_order_sum
from memcosim.devices.hzo import noisy_state
from memcosim.devices.hzo_switching import nls_switch, window_conductance, window_fraction
from memcosim.devices.linear_step import step_response
from memcosim.devices.measured import measured_train
from memcosim.devices.piecewise_step import piecewise_step
from memcosim.devices.prims import jitable, torch_prims
from memcosim.training.bitstreams import coincidences_torch, hash_words_torch, uniform_from_hash_torch
from memcosim.training.ledger import write_energy_terms

__all__ = ["EventParams", "DeviceArrays", "EnergyArrays", "event_setup", "apply_streams", "hzo_population_step", "measured_train", "apply_events_torch",
           "HZO", "LINEAR", "MEASURED", "PIECEWISE", "Booked"]

HZO, LINEAR, MEASURED, PIECEWISE = 0, 1, 2, 3
"""The kinds of device law (:attr:`EventParams.kind`): HZO NLS, constant step, measured response, piecewise step."""


def _no_curves():
    """An empty (2, 2, 0) float64 table: ``EventParams.curves`` of the kinds without a measured branch."""
    return torch.zeros((2, 2, 0), dtype=torch.float64)


class Booked(NamedTuple):
    """What an event kernel booked while it applied one update's trains: the write energies, the
    pulses, and each device's coincidences (the counts the tile's operation costs take, so no
    second pass over the trains computes them)."""

    selected_j: torch.Tensor | float
    """0-dim (a float from the compiled CPU kernel): energy of the pulsed cells, joules."""
    half_selected_j: torch.Tensor | float
    """0-dim (or a float): energy of the half-selected cells, joules."""
    wires_drivers_j: torch.Tensor | float
    """0-dim (or a float): energy of the wires and drivers, joules."""
    pulses: torch.Tensor | int
    """0-dim int64 (or an int): pulses applied, over every array."""
    up: torch.Tensor = None
    """(out, in) float64: each device's potentiating coincidences (the first array's polarity),
    equal to :func:`memcosim.training.bitstreams.coincidence_totals_torch`'s; None when the
    caller asked for no counts (nothing books them)."""
    down: torch.Tensor = None
    """(out, in) float64: its depressing coincidences (or None)."""


@dataclass(frozen=True)
class EventParams:
    """The nominal constants of a device family's pulse law, as the event loops take them."""

    kind: int
    """``HZO`` (0), ``LINEAR`` (1), ``MEASURED`` (2) or ``PIECEWISE`` (3)."""
    lam: torch.Tensor
    """(2 directions, populations): Box-Cox shape of the NLS law (HZO; direction 0 = up)."""
    scale: torch.Tensor
    """(2, populations): ``spread_shape * spread``."""
    log_tau: torch.Tensor
    """(2, populations): ``ln tau_inf_s``."""
    weights: torch.Tensor
    """(populations,): share of the window of each population."""
    width_s: float = 1e-8
    """Pulse width, seconds."""
    c2c_std: float = 0.0
    """Relative cycle-to-cycle noise of a pulse train's change."""
    n_domains: int = 0
    """Domain quantisation of the HZO state (0: continuous)."""
    step: float = 0.0
    """Constant-step device: nominal step, siemens."""
    asymmetry: float = 0.0
    """Constant-step device: relative difference of up and down steps."""
    g_lo: float = 0.0
    """Constant-step device: hard bounds, siemens."""
    g_hi: float = 1.0
    curves: torch.Tensor = field(default_factory=_no_curves)
    """Measured device: (2 directions, 2 tables, grid) float64 branches, ``[d, 0]`` the fraction of
    the pulses to cross reached at each state of a uniform grid on [0, 1] (``q_of_x``), ``[d, 1]``
    its inverse (``x_of_q``); direction 0 (up) in the state ``x``, 1 (down) in ``1 - x``.
    Piecewise-step device: ``[d, 0]`` the node factors of direction ``d`` (``[d, 1]`` unused)."""
    curve_pulses: torch.Tensor = field(default_factory=lambda: torch.zeros(2, dtype=torch.float64))
    """Measured device: (2,) pulses that carry the nominal device across its window, per direction."""
    curve_noise: torch.Tensor = field(default_factory=lambda: torch.zeros(2, dtype=torch.float64))
    """Measured device: (2,) standard deviation of one pulse's state change (fraction of the window)."""


@dataclass(frozen=True)
class DeviceArrays:
    """The devices of a layer: one array (reference mapping) or two (differential pair)."""

    g: torch.Tensor
    """(arrays, devices) float64 conductances, siemens; stepped in place."""
    state: torch.Tensor
    """(arrays, devices, populations) float64 switched fractions (two-population HZO; else (arrays, 1, 1))."""
    g_min: torch.Tensor
    """(arrays, devices) per-device ``g_min_s`` (HZO and MEASURED; else (arrays, 1))."""
    span: torch.Tensor
    """(arrays, devices) per-device ``g_max_s - g_min_s`` (HZO and MEASURED; else (arrays, 1))."""
    u_lam: torch.Tensor
    """(arrays, 2 directions, populations, devices) the per-device factor of each direction's law:
    HZO: ``(v_act / V) ** merz_exponent`` to the Box-Cox power; MEASURED: (arrays, 2, 1, devices)
    the step scale of each direction (``step_scale_up``, ``step_scale_down``); PIECEWISE: (arrays,
    2, 1, devices) each direction's step scale as a fraction of the device's window; LINEAR:
    (arrays, 2, 1, 1), unused."""


@dataclass(frozen=True)
class EnergyArrays:
    """The write-energy table as the event loops take it."""

    table: torch.Tensor
    """(2 directions, 3 categories, states) per-pulse energies, joules."""
    switching: torch.Tensor
    """(2,) switching energy per unit of state change, joules."""
    x_lo: float
    """Nominal ``g_min_s``: the table's state is ``(G - x_lo) / x_span``."""
    x_span: float


@jitable
def hzo_population_step(x, down, n, u_lam, lam, scale, log_tau, width_s, c2c_std, n_domains, xi, r, f):
    """One population of an HZO device after a train of ``n`` pulses of one direction.

    :func:`memcosim.devices.hzo_switching.nls_switch` then
    :func:`memcosim.devices.hzo.noisy_state`, as :func:`memcosim.devices.hzo.apply_pulses_state`
    steps them, with the noise variates ``xi`` (standard normal) and ``r`` (uniform) given.
    """
    x_new = nls_switch(x, down, u_lam, lam, scale, log_tau, f.log(n * width_s), f)
    return noisy_state(x, x_new, n, c2c_std, n_domains, xi, r, f)


def _ranks(dev):
    """For events sorted by device (samples in order within a device), each event's index within its device."""
    _, counts = torch.unique_consecutive(dev, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    return torch.arange(dev.numel(), device=dev.device) - torch.repeat_interleave(starts, counts), counts


def apply_events_torch(streams, arrays, params, energy, counts=True):
    """Pulses of one stochastic update in hardware order, torch (any device); see the module docstring.

    Returns
    -------
    Booked
        0-dim energies and pulse count on the devices' device (no host sync for them; finding
        the number of waves synchronises once on a GPU), and (with ``counts``) each device's up and
        down coincidences (None without).
    """
    f = torch_prims()
    b, j, i, n = coincidences_torch(streams)
    n_in = streams.shape[1]
    n_dev = streams.shape[0] * n_in
    dev = j * n_in + i
    up = down = None
    if counts:  # integer sums: exact in any order
        up = torch.zeros(n_dev, dtype=torch.float64, device=arrays.g.device).index_add_(
            0, dev, n.clamp(min=0).to(torch.float64)).view(streams.shape)
        down = torch.zeros(n_dev, dtype=torch.float64, device=arrays.g.device).index_add_(
            0, dev, (-n).clamp(min=0).to(torch.float64)).view(streams.shape)
    order = torch.argsort(dev, stable=True)
    b, dev, n = b[order], dev[order], n[order]
    rank, per_device = _ranks(dev)
    waves = int(per_device.max()) if per_device.numel() else 0
    n_arrays, p = arrays.g.shape[0], params.weights.numel()
    zero = torch.zeros((), dtype=torch.float64, device=arrays.g.device)
    sums = [zero.clone() for _ in range(3)]
    pulses = torch.zeros((), dtype=torch.int64, device=arrays.g.device)
    key = streams.noise_key
    for k in range(waves):
        wave = torch.nonzero(rank == k, as_tuple=True)[0]
        wb, wd, wn = b[wave], dev[wave], n[wave]
        for a in range(n_arrays):
            sign = torch.sign(wn) * (1 - 2 * a)
            count = wn.abs().to(torch.float64)
            d = (sign < 0).to(torch.int64)
            counter = ((wb * n_arrays + a) * n_dev + wd) * 4
            g0 = arrays.g[a, wd]
            if params.kind == HZO:
                fresh = window_fraction(g0, arrays.g_min[a, wd], arrays.span[a, wd], f)
                acc = 0
                for q in range(p):
                    x = arrays.state[a, wd, q] if p > 1 else fresh
                    xi = f.ndtri(uniform_from_hash_torch(hash_words_torch(key, counter + 2 * q))) \
                        if params.c2c_std > 0 else 0.0
                    r = uniform_from_hash_torch(hash_words_torch(key, counter + 2 * q + 1)) if params.n_domains > 0 else 0.5
                    x_new = hzo_population_step(x, d.to(torch.float64), count, arrays.u_lam[a, d, q, wd], params.lam[d, q],
                                                params.scale[d, q], params.log_tau[d, q], params.width_s, params.c2c_std,
                                                params.n_domains, xi, r, f)
                    if p > 1:
                        arrays.state[a, wd, q] = x_new
                    acc = acc + params.weights[q] * x_new
                g1 = window_conductance(acc, arrays.g_min[a, wd], arrays.span[a, wd])
            elif params.kind == MEASURED:
                x = window_fraction(g0, arrays.g_min[a, wd], arrays.span[a, wd], f)
                xi = f.ndtri(uniform_from_hash_torch(hash_words_torch(key, counter)))  # times 0 where noise is 0
                for direction in (0, 1):
                    m = torch.nonzero(d == direction, as_tuple=True)[0]
                    x[m] = measured_train(x[m], direction == 1, count[m], params.curves[direction, 0],
                                          params.curves[direction, 1], params.curve_pulses[direction],
                                          arrays.u_lam[a, direction, 0, wd[m]], params.curve_noise[direction], xi[m], f)
                g1 = window_conductance(x, arrays.g_min[a, wd], arrays.span[a, wd])
            elif params.kind == PIECEWISE:
                x = window_fraction(g0, arrays.g_min[a, wd], arrays.span[a, wd], f)
                for direction in (0, 1):
                    m = torch.nonzero(d == direction, as_tuple=True)[0]
                    xm, cm = x[m], count[m]
                    step = arrays.u_lam[a, direction, 0, wd[m]] * (1.0 - 2.0 * direction)
                    base = hash_words_torch(key, counter[m])
                    for k in range(int(cm.max()) if cm.numel() else 0):
                        pulse = torch.tensor(k, dtype=torch.int64, device=base.device)
                        noise = params.c2c_std * f.ndtri(uniform_from_hash_torch(hash_words_torch(base, pulse))) \
                            if params.c2c_std > 0 else 0.0
                        xm = torch.where(cm > k, piecewise_step(xm, params.curves[direction, 0], step, noise, f), xm)
                    x[m] = xm
                g1 = window_conductance(x, arrays.g_min[a, wd], arrays.span[a, wd])
            else:
                xi = f.ndtri(uniform_from_hash_torch(hash_words_torch(key, counter))) if params.c2c_std > 0 else 0.0
                g1 = step_response(g0, (sign * count).to(torch.float64), params.step, params.asymmetry, params.c2c_std,
                                   params.g_lo, params.g_hi, xi, f)
            arrays.g[a, wd] = g1
            x0, x1 = (g0 - energy.x_lo) / energy.x_span, (g1 - energy.x_lo) / energy.x_span
            for direction in (0, 1):
                m = d == direction
                terms = write_energy_terms(energy.table[direction], energy.switching[direction], x0[m], x1[m], count[m], f)
                for s, t in zip(sums, terms):
                    s += fixed_order_sum(t)
            pulses += wn.abs().sum()
    return Booked(sums[0], sums[1], sums[2], pulses, up, down)


def event_setup(model, spreads, numel, where, write_energy):
    """The constants of one layer's event kernel: ``(params, g_min, span, u_lam, energy)``.

    ``model``: the tile's :class:`~memcosim.training.pulsed.PulsedDevice`; ``spreads``: the spread
    of each array (one, or a differential pair's two) of ``numel`` devices; ``where``: their torch
    device; ``write_energy``: the tile's :class:`~memcosim.training.ledger.WriteEnergyTable`.
    """
    per_array = [model.event_arrays(spread, numel, where) for spread in spreads]
    g_min, span, u_lam = (torch.stack([a[k] for a in per_array]).contiguous() for k in range(3))
    energy = EnergyArrays(*write_energy.directions(where), model.g_min_s, model.g_max_s - model.g_min_s)
    return model.event_params(where), g_min, span, u_lam, energy


def apply_streams(streams, conductances, states, setup, apply_events, counts=True):
    """Apply one update's pulse trains in place to an array or a differential pair; the booked energies.

    ``conductances``: the arrays' conductance buffers (one, or ``(positive, negative)``: the
    negative device gets the opposite train); ``states``: their population-state buffers (used
    when the device has more than one population); ``setup``: :func:`event_setup`;
    ``apply_events``: the kernel (:func:`apply_events_torch` or the compiled one); ``counts``:
    whether it also counts each device's coincidences (:class:`Booked`).
    """
    params, g_min, span, u_lam, energy = setup
    pair = len(conductances) == 2
    populations = params.weights.numel()
    n = conductances[0].numel()
    if pair:
        g = torch.stack([c.reshape(-1) for c in conductances])
    else:
        g = conductances[0].view(1, n)
    if populations > 1:
        state = torch.stack([s.reshape(n, -1) for s in states]) if pair else states[0].view(1, n, populations)
    else:
        state = torch.zeros((len(g), 1, 1), dtype=torch.float64, device=g.device)
    booked = apply_events(streams, DeviceArrays(g, state, g_min, span, u_lam), params, energy, counts)
    if pair:
        for buffer, values in zip(conductances, g):
            buffer.view(-1).copy_(values)
        if populations > 1:
            for buffer, values in zip(states, state):
                buffer.view(n, -1).copy_(values)
    return booked
