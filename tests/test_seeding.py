import numpy as np
import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed, torch_generator


def test_same_seed_and_name_same_stream():
    assert np.array_equal(numpy_rng(3, "die/1").random(8), numpy_rng(3, "die/1").random(8))
    a = torch.rand(5, generator=torch_generator(3, "init"))
    b = torch.rand(5, generator=torch_generator(3, "init"))
    assert torch.equal(a, b)


def test_names_and_seeds_give_different_streams():
    assert stream_seed(3, "a") != stream_seed(3, "b")
    assert stream_seed(3, "a") != stream_seed(4, "a")
    assert 0 <= stream_seed(2**63 - 1, "x") < 2**63


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, "1", True])
def test_bad_seed(seed):
    with pytest.raises(ConfigError, match="seed"):
        stream_seed(seed)
