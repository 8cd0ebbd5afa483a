"""Putting one network on one die, knowing the die's map: defect-aware programming and a
fault-tolerant mapping. Neither trains anything; both read only the die map and the weights.

Defect-aware programming (:func:`program_pairs`)
-----------------------------------------------
A differential pair can be programmed four ways (each cell P or AP); a healthy pair reads ``+1``
(plus P, minus AP) or ``-1`` read units and the other two ways ``0``. A pair with a defective
cell reads something else: behind a 0.6 V word line a shorted plus cell makes the pair read
``+2.8`` programmed ``+1`` and ``+1.8`` programmed ``-1``. Every pair of the die is programmed the
way (of its four) that reads closest to its weight: a short's partner goes to P, an open's to AP,
whatever the weight. The rule depends on the die only (not on the weights), so it is a new die.

Fault-tolerant mapping (:func:`fault_tolerant_mapping`)
-------------------------------------------------------
The hidden neurons can sit on any of the die's column pairs (a neuron is its column of the first
layer, its row of the second and its comparator; the network is the same in any order). Each
neuron goes where its weights suffer least, by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`, ``O(h^3)``) on the cost of neuron ``j`` on column
pair ``c``: the read error its weights get there, ``e = A_c(b_j) - b_j`` (read units, ``A_c(b)``
what the pair reads programmed to ``b``), as its variance over the inputs relative to the
neuron's own signal, ``e^T C e / var(z_j)`` (``C`` the inputs' second moment, their covariance
when the thresholds are trimmed, which removes the mean error), plus the same for its row of the
second layer (weighted by how often the neuron fires, relative to the outputs' signal). Large
weights on the worst rows of a column are what it steers away from.
"""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

__all__ = ["program_pairs", "pair_reads", "fault_tolerant_mapping", "input_moments"]


def pair_reads(layer, g_unit):
    """``(A(+1), A(-1))``: what every pair reads (read units) programmed ``+1`` and ``-1``, raw conductances."""
    return ((layer["p_if_pos"] - layer["m_if_pos"]) / g_unit, (layer["p_if_neg"] - layer["m_if_neg"]) / g_unit)


def program_pairs(die, g_unit):
    """The die with every pair programmed, for each weight sign, the way of its four that reads closest to it.

    Parameters
    ----------
    die : list of dict
        :func:`memcosim.training.binary_mtj.die_layers` of one die.
    g_unit : float
        One read unit: the conductance difference of an ideal ``+1`` pair, siemens.

    Returns
    -------
    list of dict
        The same form: ``p_if_pos`` and ``m_if_pos`` are now the plus and minus cells as programmed
        for a ``+1`` weight (``_neg`` for ``-1``).
    """
    out = []
    for layer in die:
        new = dict(layer)
        p_p, p_ap, m_p, m_ap = layer["p_if_pos"], layer["p_if_neg"], layer["m_if_neg"], layer["m_if_pos"]
        for target, healthy, others, (pk, mk) in (
                (1.0, (p_p, m_ap), ((p_p, m_p), (p_ap, m_ap), (p_ap, m_p)), ("p_if_pos", "m_if_pos")),
                (-1.0, (p_ap, m_p), ((p_p, m_p), (p_ap, m_ap), (p_p, m_ap)), ("p_if_neg", "m_if_neg"))):
            plus, minus = healthy  # a tie keeps the healthy way
            miss = ((plus - minus) / g_unit - target).abs()
            for p, m in others:
                other = ((p - m) / g_unit - target).abs()
                better = other < miss
                plus, minus, miss = torch.where(better, p, plus), torch.where(better, m, minus), torch.minimum(other, miss)
            new[pk], new[mk] = plus, minus
        out.append(new)
    return out


def input_moments(x, centered):
    """``(C, mean)`` of binary inputs ``x`` (float64): their covariance when ``centered``, else their second moment."""
    x = x.double()
    mean = x.mean(dim=0)
    c = x.T @ x / len(x)
    return (c - torch.outer(mean, mean) if centered else c), mean


def _layer_cost(a_pos, a_neg, b, moment):
    """``cost[j, c] = e^T moment e`` with ``e = A_c(b_j) - b_j`` for every neuron ``j`` and column ``c``."""
    u, w = 0.5 * (a_pos + a_neg), 0.5 * (a_pos - a_neg) - 1.0  # e = u + b w
    mu = moment @ u
    cost = (u * mu).sum(dim=0)[None, :] + 2.0 * b.T @ (w * mu)
    for c in range(a_pos.shape[1]):
        cost[:, c] += ((moment * w[:, c, None] * w[None, :, c]) @ b * b).sum(dim=0)
    return cost


@torch.no_grad()
def fault_tolerant_mapping(net, die, moments):
    """A copy of ``net`` with its hidden neurons placed on the die's column pairs where they suffer least.

    Parameters
    ----------
    net : BinaryMTJNet
    die : list of dict
        The die as it is programmed (after :func:`program_pairs`, when used).
    moments : (Tensor, Tensor)
        :func:`input_moments` of the inputs the network will see.

    Returns
    -------
    (BinaryMTJNet, ndarray)
        The placed network (same function on an ideal die) and ``order``: the neuron on column pair ``c``.
    """
    moment, mean = moments
    g = net.g_unit
    b1 = torch.where(net.w1 >= 0, 1.0, -1.0).double()
    b2 = torch.where(net.w2 >= 0, 1.0, -1.0).double()
    a_pos, a_neg = (a.double() for a in pair_reads(die[0], g))
    signal = (b1 * (moment @ b1)).sum(dim=0).clamp_min(1e-9)  # var(z_j) on an ideal die (read units^2)
    cost = _layer_cost(a_pos, a_neg, b1, moment) / signal[:, None]
    # the second layer: neuron j on row c, firing about half the time, relative to an output's signal
    c_pos, c_neg = (a.double() for a in pair_reads(die[1], g))
    err = torch.stack([torch.where(b2[j][None, :] > 0, c_pos, c_neg) - b2[j][None, :] for j in range(b2.shape[0])])
    out_signal = 0.25 * float((b2**2).sum(dim=0).mean())  # var of an output over random hidden codes
    cost = cost + 0.5 * (err**2).sum(dim=2) / out_signal
    assigned = linear_sum_assignment(cost.numpy())[1]  # neuron j -> column pair assigned[j]
    order = np.argsort(assigned)  # column pair c holds neuron order[c]
    placed = net.clone()
    idx = torch.as_tensor(order)
    placed.w1.copy_(net.w1[:, idx])
    placed.w2.copy_(net.w2[idx, :])
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(placed.bn, name).copy_(getattr(net.bn, name)[idx])
    return placed, order
