"""The compiled replay of measured sweeps (calibration's model runs) is the numpy replay."""

from pathlib import Path

import numpy as np
import pytest

from memcosim.devices import calibrate_hzo, hzo, hzo_replay
from memcosim.devices.measurements import read_sweep
from memcosim.devices.sweep_fit import SweepArrays

pytestmark = pytest.mark.skipif(not hzo_replay.available(), reason="numba is a dependency; without it there is no compiled path")


@pytest.mark.parametrize("populations, wake_up", [(2, True), (1, False)])
def test_compiled_replay_equals_the_numpy_replay(hzo_data_dir, populations, wake_up):
    files = sorted(Path(hzo_data_dir).glob("ID161ZR15000_*.csv"))[:3]
    arrays = SweepArrays([read_sweep(f) for f in files], [0.0, 300.0, 600.0])  # files of different lengths (padding)
    problem = calibrate_hzo._HZOProblem(arrays, populations, wake_up)
    thetas = problem.start + np.random.default_rng(0).normal(0, 0.3, (9, len(problem.start)))
    for polarity in (-1, 1):
        batch = problem.batch(thetas, polarity)
        state = hzo.state_from_conductance(problem.g[:, 0], batch, pulses_applied=arrays.pulses_before if wake_up else None)
        args = (state, arrays.count[:, 1:].T, batch, arrays.amp[:, 1:].T, arrays.width[:, 1:].T)
        numpy_states = hzo.apply_pulse_sequence_state(*args)
        compiled_states = hzo_replay.replay_states(*args)
        assert compiled_states.shape == numpy_states.shape == (arrays.count.shape[1] - 1, 9, len(files), populations)
        assert np.abs(compiled_states - numpy_states).max() < 1e-12  # the same law; exp/log differ in the last bits
        assert np.ptp(compiled_states) > 0.1  # the states do move
