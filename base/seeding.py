"""Named, reproducible random streams derived from one study seed.

Every random draw in memcosim comes from a generator made here (or passed in by the caller):
the same ``(seed, stream name)`` always gives the same stream, and different names give
statistically independent streams, whatever order they are created in.

Examples
--------
>>> a = numpy_rng(7, "die/3")
>>> b = numpy_rng(7, "die/3")
>>> bool((a.random(4) == b.random(4)).all())
True
"""

import zlib

import numpy as np

__all__ = ["stream_seed", "numpy_rng", "torch_generator"]


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        from memcosim.base.errors import ConfigError

        raise ConfigError(f"seed: must be an integer in [0, 2**63), got {seed!r}")
    return int(seed)


def stream_seed(seed, name=""):
    """Return a 63-bit integer seed for the stream ``name`` under the study ``seed``.

    Parameters
    ----------
    seed : int
        The study seed, in ``[0, 2**63)``.
    name : str
        Stream name, e.g. ``"init"``, ``"die/12"``, ``"cycle-noise"``.

    Returns
    -------
    int
        A seed in ``[0, 2**63)`` derived with numpy's ``SeedSequence``.
    """
    seed = _check_seed(seed)
    key = zlib.crc32(name.encode("utf-8"))
    seq = np.random.SeedSequence([seed & 0xFFFFFFFF, seed >> 32, key])
    return int(seq.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def numpy_rng(seed, name=""):
    """A ``numpy.random.Generator`` (PCG64) for the stream ``name`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(stream_seed(seed, name)))


def torch_generator(seed, name="", device="cpu"):
    """A ``torch.Generator`` on ``device`` for the stream ``name`` under ``seed``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(stream_seed(seed, name))
    return gen
