"""kill -9 in the middle of a characterisation: no worker outlives it, and running it again gives
exactly the models of an uninterrupted run (finished points come from the checksummed cache)."""

import os
import signal
import subprocess
import sys
import time

import pytest

from memcosim.base.processes import pid_alive
from memcosim.circuits.characterize import CharacterizeSetup, characterize
from memcosim.devices import load_device_params

_SCRIPT = """
import sys
from memcosim.circuits.characterize import CharacterizeSetup, characterize
from memcosim.devices import load_device_params
setup = CharacterizeSetup(device_params=load_device_params("hzo"), {kw})
characterize(setup, sys.argv[1], workers=2, progress=False, plots=False)
"""
_KW = dict(widths_s=(2e-8, 2e-6, 2e-4), initial_states=(0.25, 0.75), sizes=(4, 6), study_rows=4, study_cols=4)


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry))
    return kids


@pytest.mark.ngspice
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_during_characterisation_leaves_no_worker_and_resumes_identically(tmp_path):
    killed = tmp_path / "killed"
    kw = ", ".join(f"{k}={v!r}" for k, v in _KW.items())
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT.format(kw=kw), str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(killed.glob("cache/*.json"))) < 4:
        time.sleep(0.01)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert workers, "the kill must land while the pool runs"
    assert not (killed / "models.json").exists(), "the kill must land mid-sweep"
    deadline = time.time() + 10
    while time.time() < deadline and any(pid_alive(p) for p in workers):
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in workers), "orphaned characterisation workers"

    setup = CharacterizeSetup(device_params=load_device_params("hzo"), **_KW)
    resumed = characterize(setup, killed, workers=2, progress=False, plots=False)
    fresh = characterize(setup, tmp_path / "fresh", workers=2, progress=False, plots=False)
    assert resumed.points_cached >= 1
    assert (killed / "models.json").read_text() == (tmp_path / "fresh" / "models.json").read_text()
