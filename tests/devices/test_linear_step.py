import pytest
import torch

from memcosim.devices.linear_step import LinearStepParams, pulse_response, step_s
from memcosim.base.errors import ConfigError


def test_constant_steps_and_hard_bounds():
    p = LinearStepParams(g_min_s=1e-8, g_max_s=2e-8, n_states=10, asymmetry=0.2)
    g = torch.full((3,), 1.5e-8, dtype=torch.float64)
    out = pulse_response(g, torch.tensor([2.0, -1.0, 100.0], dtype=torch.float64), p)
    assert torch.allclose(out, torch.tensor([1.5e-8 + 2 * 1.2e-9, 1.5e-8 - 0.8e-9, 2e-8], dtype=torch.float64))
    assert step_s(p) == pytest.approx(1e-9)


@pytest.mark.parametrize("kw, field", [({"g_max_s": 1e-9}, "g_max_s"), ({"n_states": 0}, "n_states"),
                                       ({"asymmetry": 1.0}, "asymmetry"), ({"cycle_to_cycle_std": -0.1}, "cycle_to_cycle_std"),
                                       ({"g_min_s": float("nan")}, "g_min_s")])
def test_bad_parameters_name_the_field(kw, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        LinearStepParams(**kw)
