"""Both ``pip install .`` and ``pip install -e .`` give a working ``import memcosim.devices``."""

import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# -S: no site-packages of the running venv first; the fresh install's directory is added before
# the venv's (for numpy and friends), so its import hooks and paths win.
_PROBE = (
    "import site, sys; site.addsitedir(sys.argv[1]); site.addsitedir(sys.argv[2]); "
    "import memcosim, memcosim.devices, memcosim.netlist, memcosim.circuits, memcosim.training, memcosim.run; "
    "print(memcosim.devices.__file__); print(memcosim.run.quickstart_path().resolve(strict=True))"
)


def _copy_source(dst):
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "out", ".pytest_cache")
    shutil.copytree(REPO, dst, ignore=ignore)
    return dst


@pytest.mark.parametrize("editable", [False, True], ids=["regular", "editable"])
def test_install_mode(tmp_path, editable):
    src = _copy_source(tmp_path / "src")
    prefix = tmp_path / "prefix"
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", "--disable-pip-version-check", "--prefix", str(prefix)]
    cmd += ["-e", str(src)] if editable else [str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    site_dir = next(prefix.glob("lib/python3*/site-packages"))
    probe = subprocess.run(
        [sys.executable, "-S", "-c", _PROBE, str(site_dir), sysconfig.get_paths()["purelib"]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    location, quickstart = probe.stdout.split()
    if editable:
        assert location == str(src / "devices" / "__init__.py")
    else:  # the quick start is package data: an installed memcosim runs it without the repository's examples/
        assert location.startswith(str(site_dir)) and quickstart.startswith(str(site_dir))
