import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts):
    """A path under ../shared/data; in CI its absence is a failure, elsewhere a skip."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.fixture
def hzo_data_dir():
    return shared_path("hzo-lbe247")


@pytest.fixture
def mnist_dir():
    return shared_path("mnist")


@pytest.fixture(scope="session")
def quickstart_point_cache(tmp_path_factory):
    """The built-in quick start's ngspice points, simulated once per session (every deck cached by
    its hash, as ``memcosim run`` and ``memcosim.characterize`` cache them). Tests that run the quick
    start end to end copy it into their output folder: ngspice runs once, the fit runs in each."""
    from memcosim import characterize, load_study
    from memcosim.run import quickstart_path

    cache = tmp_path_factory.mktemp("quickstart") / "cache"
    characterize(load_study(quickstart_path()), cache_dir=cache, workers=2)
    return cache


def run_cli(*args, timeout=300):
    """Run ``python -m memcosim ARGS`` in a subprocess; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "memcosim", *args], capture_output=True, text=True, timeout=timeout)


# pytest.approx adds an absolute tolerance of 1e-12 to every comparison unless a test names one:
# larger than the energies (1e-16 ... 1e-6 J), times and conductances compared here, so
# ``approx(x, rel=1e-12)`` of a 1e-14 J energy would accept any value. Here every comparison is
# relative to the expected value alone (pytest's default rel 1e-6 where a test names neither); a
# test that compares with zero names its ``abs``.
_pytest_approx = pytest.approx


def _relative_approx(expected, rel=None, abs=None, nan_ok=False):
    if abs is None:
        abs = 0.0
        rel = 1e-6 if rel is None else rel
    return _pytest_approx(expected, rel=rel, abs=abs, nan_ok=nan_ok)


pytest.approx = _relative_approx
