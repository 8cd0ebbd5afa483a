"""Constant-step device: the textbook reference synapse.

Each potentiating pulse raises the conductance by ``step_up``, each depressing pulse lowers it by
``step_down`` (hard bounds at ``g_min_s`` and ``g_max_s``). With ``asymmetry = 0`` and no noise
it is the *ideal* device: symmetric, linear, noise-free, so pulsed training on it must match
floating-point training up to the quantisation of one step. It is the baseline every real
device (HZO, MTJ) is compared against, like aihwkit's ``ConstantStepDevice``.

Units: siemens.
"""

import math
from dataclasses import dataclass

from memcosim.base.errors import ConfigError
from memcosim.devices.prims import jitable, torch_prims

__all__ = ["LinearStepParams", "pulse_response", "step_response", "step_s"]


@dataclass(frozen=True)
class LinearStepParams:
    """A constant-step device."""

    g_min_s: float = 1e-8
    """Lowest conductance, siemens."""
    g_max_s: float = 1e-7
    """Highest conductance, siemens."""
    n_states: int = 1000
    """Steps from ``g_min_s`` to ``g_max_s``: the nominal step is ``(g_max_s - g_min_s) / n_states``."""
    asymmetry: float = 0.0
    """Relative difference of the up and down steps: ``step_up = step (1 + a)``, ``step_down = step (1 - a)``."""
    cycle_to_cycle_std: float = 0.0
    """Relative Gaussian noise of each step."""

    def __post_init__(self):
        for name in ("g_min_s", "g_max_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 1.0):
                raise ConfigError(f"{name}: must be in (0, 1] siemens, got {value!r}")
        if not self.g_max_s > self.g_min_s:
            raise ConfigError(f"g_max_s: must be > g_min_s = {self.g_min_s:g}, got {self.g_max_s:g}")
        if not (isinstance(self.n_states, int) and 1 <= self.n_states <= 10**9):
            raise ConfigError(f"n_states: must be an integer in [1, 1e9], got {self.n_states!r}")
        if not -1.0 < self.asymmetry < 1.0:
            raise ConfigError(f"asymmetry: must be in (-1, 1), got {self.asymmetry!r}")
        if not 0.0 <= self.cycle_to_cycle_std <= 1.0:
            raise ConfigError(f"cycle_to_cycle_std: must be in [0, 1], got {self.cycle_to_cycle_std!r}")


def step_s(params):
    """Nominal conductance step of one pulse, siemens."""
    return (params.g_max_s - params.g_min_s) / params.n_states


def pulse_response(conductance_s, n_pulses, params, generator=None):
    """Conductances after signed pulse counts (positive: potentiate), torch tensors.

    Parameters
    ----------
    conductance_s : torch.Tensor
        Present conductances, siemens.
    n_pulses : torch.Tensor
        Signed pulse counts, same shape.
    params : LinearStepParams
    generator : torch.Generator, optional
        Source of cycle-to-cycle noise (none without it).

    Returns
    -------
    torch.Tensor
        New conductances, clipped to ``[g_min_s, g_max_s]``.
    """
    import torch

    xi = 0.0
    if generator is not None and params.cycle_to_cycle_std > 0:
        xi = torch.randn(n_pulses.shape, generator=generator, dtype=conductance_s.dtype, device=conductance_s.device)
    c2c = params.cycle_to_cycle_std if generator is not None else 0.0
    return step_response(conductance_s, n_pulses, step_s(params), params.asymmetry, c2c, params.g_min_s, params.g_max_s,
                         xi, torch_prims())


@jitable
def step_response(conductance_s, n_pulses, step, asymmetry, c2c_std, g_min_s, g_max_s, xi, f):
    """The constant-step law: ``n`` signed pulses move ``G`` by ``n step (1 +- asymmetry)``, plus
    noise ``c2c_std sqrt(|n|) step xi`` when ``n != 0``, clipped to ``[g_min_s, g_max_s]``.

    Written once with the primitives ``f`` (:mod:`memcosim.devices.prims`): on tensors here, on
    scalars inside the compiled training kernel.
    """
    delta = f.clip(n_pulses, 0.0, math.inf) * step * (1 + asymmetry) + f.clip(n_pulses, -math.inf, 0.0) * step * (1 - asymmetry)
    if c2c_std > 0:
        scale = c2c_std * f.sqrt(f.clip(f.abs(n_pulses), 1.0, math.inf))
        delta = delta + scale * step * xi * f.abs(f.sign(n_pulses))
    return f.clip(conductance_s + delta, g_min_s, g_max_s)
