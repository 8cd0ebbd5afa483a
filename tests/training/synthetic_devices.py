"""Synthetic pulsed devices with known answers, shared by the training tests."""

import torch

from memcosim.training import CrossbarLinear, LinearPulsed, TileConfig

__all__ = ["SoftBoundsPulsed", "W_TRUE", "train_regression"]

W_TRUE = torch.tensor([[0.5, -0.3, 0.2, -0.1], [-0.4, 0.1, 0.3, 0.25]])
"""The weights of the synthetic 4 -> 2 regression."""


class SoftBoundsPulsed(LinearPulsed):
    """A soft-bounds device whose symmetry point sits at ``x_sp`` of the range (not mid-range).

    An up pulse moves ``G`` by ``k_up (g_max - G)``, a down pulse by ``k_down (G - g_min)``; the
    steps are equal (one nominal step, ``1 / n_states`` of the range) at
    ``g_min + x_sp (g_max - g_min)``. With ``x_sp_std > 0`` every device draws its own symmetry
    point, ``x_sp + x_sp_std * N(0, 1)`` (clipped to [0.05, 0.95]), with the same step there.
    """

    def __init__(self, params, x_sp, x_sp_std=0.0):
        super().__init__(params)
        self.x_sp, self.x_sp_std = x_sp, x_sp_std
        self.k_up, self.k_down = self._rates(x_sp)

    def _rates(self, x_sp):
        n = self.params.n_states
        return 1 / ((1 - x_sp) * n), 1 / (x_sp * n)

    def sample(self, shape, rng, device, dtype):
        if self.x_sp_std <= 0:
            return {}
        x_sp = (self.x_sp + self.x_sp_std * rng.standard_normal(shape)).clip(0.05, 0.95)
        return {"x_sp": torch.as_tensor(x_sp, dtype=dtype, device=device)}

    def true_symmetry_points_s(self, spread, shape):
        """Each device's exact symmetry point (siemens), from its spread (or the nominal one)."""
        p = self.params
        x_sp = spread.get("x_sp", torch.full(shape, self.x_sp, dtype=torch.float64))
        return p.g_min_s + x_sp * (p.g_max_s - p.g_min_s)

    def respond(self, g, n, dev, generator):
        p = self.params
        k_up, k_down = self._rates(dev["x_sp"]) if dev and "x_sp" in dev else (self.k_up, self.k_down)
        up = p.g_max_s - (p.g_max_s - g) * (1 - k_up) ** n.clamp(min=0)
        return torch.where(n > 0, up, p.g_min_s + (g - p.g_min_s) * (1 - k_down) ** (-n).clamp(min=0))

    def symmetry_point_s(self):
        p = self.params
        return p.g_min_s + self.x_sp * (p.g_max_s - p.g_min_s)


def train_regression(rule, device, steps=1000, lr=0.05, seed=0):
    """Weights after training a 4 -> 2 linear regression (noisy targets, :data:`W_TRUE`) with ``rule`` on ``device``.

    The largest initial weight (0.6) sets the weight range; every step is ``rule.step`` then a weight sync.
    """
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.zeros(2, 4)
    w0[0, 0] = 0.6
    layer = CrossbarLinear(4, 2, bias=False, tile=TileConfig(device=device, update=rule), initial_weight=w0, seed=seed)
    for _ in range(steps):
        x = torch.randn(8, 4, generator=gen)
        y = x @ W_TRUE.T + 0.2 * torch.randn(8, 2, generator=gen)
        layer.zero_grad()
        (0.5 * ((layer(x) - y) ** 2).sum(1).mean()).backward()
        layer.tile.update.step(layer, lr)
        layer.sync_weight()
    return layer.weight.detach()
