"""The reference pulse response of a small aihwkit ``PiecewiseStepDevice`` (run in aihwkit's venv).

Prints the weight after each of a fixed sequence of single pulses of a noise-free, spread-free
device, computed by aihwkit 1.2 itself, in the form tests/devices/test_piecewise_step.py
holds it (``AIHWKIT_TRACE``): the test checks memcosim's piecewise-step law step for step
against it. Regenerate with
    $(../shared/bench/aihwkit/setup.sh | tail -1) benchmarks/aihwkit_piecewise_reference.py
"""
import torch
from aihwkit.simulator.configs import PiecewiseStepDevice, SingleRPUConfig
from aihwkit.utils.visualization import get_tile_for_plotting

CONFIG = dict(dw_min=0.07, up_down=0.2, w_min=-0.8, w_max=1.1, piecewise_up=[1.5, 1.0, 0.6, 0.2, 0.05],
              piecewise_down=[0.1, 0.5, 0.9, 1.2, 1.6], dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
              w_min_dtod=0.0, w_max_dtod=0.0)
PULSES = [1] * 12 + [-1] * 20 + [1, -1] * 6 + [1] * 40


def main():
    device = PiecewiseStepDevice(**CONFIG)
    tile = get_tile_for_plotting(SingleRPUConfig(device=device), 1, False, noise_free=True, w_init=0.1)
    trace = []
    for p in PULSES:
        tile.update(-torch.ones(1, 1), float(p) * torch.ones(1, 1))
        trace.append(float(tile.get_weights()[0][0, 0]))
    print("PULSES =", PULSES)
    print("AIHWKIT_TRACE = [" + ", ".join(f"{w:.7g}" for w in trace) + "]")
    print("# config:", device)


if __name__ == "__main__":
    main()
