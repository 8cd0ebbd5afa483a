"""Programming a crossbar layer: the weight scale and the conductances a weight is programmed to.

``W = scale * (G - G_ref)``: :func:`weight_scale` maps half the device's usable window
(:meth:`PulsedDevice.window_s`) to ``weight_max``; :func:`programmed_conductances` places each
weight on its device against its reference (a fixed reference device, the device's own symmetry
point, or a differential pair's other device), clamped to each device's bounds. The layer
(:class:`~memcosim.training.layers.CrossbarLayer`) owns the devices, their spread and the
symmetry-point search these take.
"""

import torch

__all__ = ["weight_scale", "programmed_conductances"]


def weight_scale(model, mapping, weight):
    """``(weight_max, scale_per_s)``: the largest weight the devices represent and the weight per siemens.

    ``mapping.weight_scaling_omega == 0``: unscaled, the weight is the normalised conductance;
    otherwise half the usable window maps to the largest initial weight over ``omega``.
    """
    if mapping.weight_scaling_omega == 0:  # unscaled: the weight is the normalised conductance
        return 1.0, 1.0 / model.normalisation()[1]
    g_lo, g_hi = model.window_s(mapping.window_step_ratio)
    w_max = float(weight.abs().max()) / mapping.weight_scaling_omega if weight.numel() else 1.0
    weight_max = max(w_max, 1e-12)
    return weight_max, weight_max / ((g_hi - g_lo) / 2)  # weight per siemens


def programmed_conductances(model, mapping, rule, w, spread, spread_ref, scale_per_s, own_symmetry_points):
    """``(G, G_ref)`` (float64 tensors, siemens) that represent the weights ``w`` (float64).

    Parameters
    ----------
    model : PulsedDevice
    mapping : MappingConfig
    rule : the tile's update rule (whether it needs the devices' own symmetry points, and which)
    w : torch.Tensor
        The weights, ``(out_features, in_features)``.
    spread, spread_ref : dict of torch.Tensor
        The devices' and the reference (negative) devices' spread.
    scale_per_s : float
        Weight per siemens (:func:`weight_scale`).
    own_symmetry_points : callable
        ``(lo, hi) -> G_ref``: the reference devices' own symmetry points searched from a start
        between their bounds (the layer's pulses, booked as calibration).
    """
    shape, where, f64 = w.shape, w.device, torch.float64
    g_lo, g_hi = model.window_s(mapping.window_step_ratio)
    lo, hi = model.bounds(spread, torch.zeros(shape, dtype=f64, device=where))
    if mapping.mapping == "differential":
        centre = torch.full(shape, 0.5 * (g_lo + g_hi), dtype=f64, device=where)
        lo_r, hi_r = model.bounds(spread_ref, centre)
        return (torch.clamp(centre + w / (2 * scale_per_s), lo, hi),
                torch.clamp(centre - w / (2 * scale_per_s), lo_r, hi_r))
    if rule.needs_own_symmetry_points and getattr(rule, "symmetry_point", "own") == "global":
        g_ref = torch.full(shape, model.alternating_symmetry_point_s(), dtype=f64, device=where)
    elif rule.needs_own_symmetry_points:
        g_ref = own_symmetry_points(lo, hi)
    else:
        ref = {"window_centre": 0.5 * (g_lo + g_hi), "midpoint": 0.5 * (model.g_min_s + model.g_max_s),
               "data_mean": model.normalisation()[0]}.get(mapping.reference)
        ref = model.symmetry_point_s() if ref is None else ref
        g_ref = torch.full(shape, ref, dtype=f64, device=where)
    return torch.clamp(g_ref + w / scale_per_s, lo, hi), g_ref
