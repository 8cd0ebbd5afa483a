"""The symmetry-point search: where alternating up and down pulses leave each device.

:func:`find_symmetry_points` drives every device of a layer with up/down pulse pairs until its
estimate stops moving (a geometric-tail test, :func:`_geometric_tail`); a layer with
``mapping.reference = "symmetry_point"`` programs its reference devices there
(:class:`~memcosim.training.layers.CrossbarLayer`). Pulses are booked as calibration pulses by
the caller's ``book``.

Cost: ``O(pairs x devices still searching)``: a device that has stopped gets no pulse and
draws no variate (the variates of a pair are drawn for the active devices only, in their
order). A soft-bounds device of ``N`` states with its symmetry point at ``x_sp`` of the range
approaches it with time constant ``N x_sp (1 - x_sp)`` pairs, so
a stopping rule in fractions of the range (the former one: 0.1 % over a pair) stops it up
to ``0.001 N x_sp (1 - x_sp)`` of the range short. Limit: a second mode far slower than the
first (a domain population that starts almost fully switched) whose drift is under the
tolerance is taken for convergence.
"""

import math
import warnings

import torch

from memcosim.base.reproducible import fixed_order_sum

__all__ = ["find_symmetry_points"]

_SYMMETRY_BLOCK = 4
"""Symmetry-point search: up/down pairs per block (a device is tested for convergence after each)."""
_SYMMETRY_TOLERANCE = 0.25
"""Symmetry-point search: a device stops when it is within this fraction of its own step of its symmetry point."""
_SYMMETRY_CONFIRM = 3
"""Symmetry-point search: consecutive blocks a device must pass the test in (a slow second mode, such as a
second domain population, shows up as a drift that no longer contracts once the fast one has settled)."""


def find_symmetry_points(model, spread, g, max_pairs, generator, energy, book, name):
    """Each device's symmetry point, by alternating single up and down pulses (Kim et al., 2019).

    Pairs of one up and one down pulse drive a soft-bounds device toward the conductance where
    its up and down steps cancel. ``_SYMMETRY_BLOCK`` pairs make a block; a device's estimate
    is the mean centre of its up/down cycles over its latest block. After every block, the
    drift ``d`` of the estimate and its ratio ``q`` to the drift before give the distance still
    to go if the approach is geometric (Aitken): ``d q / (1 - q)`` for ``0 < q < 1``, ``d``
    after a reversal, unbounded for ``q >= 1``. A device whose drift and distance to go are
    both under ``_SYMMETRY_TOLERANCE`` of its *own* step (its mean single-pulse move in the
    block) in ``_SYMMETRY_CONFIRM`` consecutive blocks stops receiving pulses and keeps its
    estimate. The search ends when every device has stopped, or after ``max_pairs`` pairs with
    a ``RuntimeWarning`` (devices still moving).

    Parameters
    ----------
    model, spread : PulsedDevice, dict of torch.Tensor
        The tile's device model (:mod:`memcosim.training.pulsed`) and each device's spread.
    g : torch.Tensor
        Conductances the search starts from, siemens.
    max_pairs : int
        Most up/down pairs (``update.symmetry_cycles``).
    generator, energy, book, name
        The layer's pulse stream; ``energy(g0, g1, n, direction)``: each device's write energies
        (J, 3 categories, flattened) of ``n`` pulses moving it ``g0 -> g1``; ``book(energies_j,
        pulses)`` books the search's (calibration) pulses once, at the end: each category's sum
        over the devices (:func:`~memcosim.base.reproducible.fixed_order_sum`) and the pulse count
        (int64 tensor); the layer's name (for the warning).

    Returns
    -------
    torch.Tensor
        Each device's symmetry point, siemens.
    """
    block, shape, numel = _SYMMETRY_BLOCK, g.shape, g.numel()
    estimate = g.reshape(-1).clone()
    # the still-active devices only, compacted (flat index, conductance, state, spread): a stopped
    # device receives no pulse, draws no variate and costs nothing
    index = torch.arange(numel, device=g.device)
    g = estimate.clone()
    state = model.state_of(g.reshape(shape), spread).reshape(numel, -1)
    dev = {k: v.reshape(-1) if v.shape == shape else v for k, v in spread.items()}
    remaining, step = torch.full_like(g, math.inf), torch.zeros_like(g)
    total_j = torch.zeros((3, numel), dtype=torch.float64, device=g.device)  # each device's write energies
    spent = total_j.clone()  # the active devices' (compacted like them)
    pulses = 0
    streak = torch.zeros_like(g, dtype=torch.int64)  # consecutive blocks a device has passed the test in
    previous = drift = None  # the latest block's estimate; the drift between the two before
    pairs = 0
    while pairs < max_pairs and index.numel() > 0:
        centre, step, ones = torch.zeros_like(g), torch.zeros_like(g), torch.ones_like(g)
        size = min(block, max_pairs - pairs)
        visited = [g]  # the block's conductances: before, after the up and after the down pulse of each pair
        for _ in range(size):
            s_up = model.respond_state(state, ones, dev, generator)
            g_up = model.conductance_of(s_up, dev)
            s_new = model.respond_state(s_up, -ones, dev, generator)
            g_new = model.conductance_of(s_new, dev)
            visited += [g_up, g_new]
            centre += 0.25 * (g + 2 * g_up + g_new)  # the centres of the up and of the down half-cycle
            step += 0.5 * ((g_up - g).abs() + (g_up - g_new).abs())
            g, state = g_new, s_new
        single = torch.ones((size, g.numel()), dtype=g.dtype, device=g.device)  # one pulse a half-pair
        for direction, before, after in (("up", visited[:-1:2], visited[1::2]), ("down", visited[1::2], visited[2::2])):
            terms = energy(torch.stack(before), torch.stack(after), single, direction)  # pairs x devices, flattened
            spent += torch.stack(terms).reshape(3, size, -1).sum(1)
        pairs += size
        pulses += 2 * size * index.numel()
        centre, step = centre / size, step / size
        estimate[index] = centre
        if drift is not None:
            new_drift = centre - previous
            remaining = _geometric_tail(drift, new_drift)
            passed = torch.maximum(new_drift.abs(), remaining) <= _SYMMETRY_TOLERANCE * step
            streak = torch.where(passed, streak + 1, torch.zeros_like(streak))
            drift = new_drift
        elif previous is not None:
            drift = centre - previous
        previous = centre
        keep = streak < _SYMMETRY_CONFIRM
        if not bool(keep.all()):
            total_j[:, index[~keep]] = spent[:, ~keep]
            spent = spent[:, keep]
            index, g, state, step, remaining, streak, previous = (
                a[keep] for a in (index, g, state, step, remaining, streak, previous))
            drift = drift[keep] if drift is not None else None
            dev = {k: v[keep] if v.shape == keep.shape else v for k, v in dev.items()}
    total_j[:, index] = spent
    book(tuple(fixed_order_sum(e) for e in total_j), torch.tensor(pulses, dtype=torch.int64))
    if index.numel() > 0:
        own = remaining / torch.clamp(step, min=1e-300)
        warnings.warn(f"update.symmetry_cycles: the symmetry-point search of layer {name!r} stopped after "
                      f"{max_pairs} up/down pairs with {index.numel()} of {numel} devices still "
                      f"moving (up to {float(own.max()):.3g} of their own step from the point they approach); "
                      "raise symmetry_cycles", RuntimeWarning, stacklevel=4)
    return estimate.reshape(shape)


def _geometric_tail(before, drift):
    """How far a sequence still travels after its latest step ``drift``, the step before being
    ``before``, if it converges geometrically (Aitken): ``|drift| q / (1 - q)`` with
    ``q = drift / before`` in (0, 1); ``|drift|`` after a reversal (``q <= 0``); 0 where neither
    moved; infinite where it does not contract (``q >= 1``, or a move after a standstill)."""
    q = drift / torch.where(before == 0, torch.ones_like(before), before)
    inf = torch.full_like(drift, math.inf)
    tail = torch.where(q <= 0, drift.abs(), torch.where(q < 1, drift.abs() * q / (1 - q), inf))
    tail = torch.where(before == 0, torch.where(drift == 0, torch.zeros_like(drift), inf), tail)
    return tail
