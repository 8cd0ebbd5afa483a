import json
import os
import signal
import subprocess
import sys
import time

import pytest

from memcosim.base.errors import ConfigError
from memcosim.base.lock import LOCK_NAME, DirectoryLock
from memcosim.base.memory import BUDGET_ENV, check_memory, memory_budget_bytes
from memcosim.base.processes import pid_alive


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_holder_is_refused_naming_the_first(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from memcosim.base.lock import DirectoryLock\n"
                               f"with DirectoryLock({str(tmp_path)!r}):\n    print('held', flush=True); time.sleep(60)\n"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"is in use by memcosim pid {holder.pid} on .* since "):
            DirectoryLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with DirectoryLock(tmp_path):  # the dead holder's lock is taken over
        assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_NAME).exists()


def test_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog):
    import socket

    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "started": "then"}))
    with DirectoryLock(tmp_path):
        pass
    assert "which no longer runs" in caplog.text


def test_lock_of_another_host_is_refused(tmp_path):
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "started": "then"}))
    with pytest.raises(ConfigError, match="on elsewhere.example"):
        DirectoryLock(tmp_path).acquire()


_POOL = """
import os, sys, time
from concurrent.futures import ProcessPoolExecutor
from memcosim.base.processes import die_with_parent
with ProcessPoolExecutor(2, initializer=die_with_parent) as pool:
    futures = [pool.submit(time.sleep, 60) for _ in range(2)]
    time.sleep(1.0)
    print(" ".join(str(p) for p in pool._processes), flush=True)
    time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_die_with_their_parent():
    parent = subprocess.Popen([sys.executable, "-c", _POOL], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(pid_alive(p) for p in workers)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(pid_alive(p) for p in workers):
        time.sleep(0.05)
    assert not any(pid_alive(p) for p in workers), "orphaned pool workers"


def test_memory_budget_knob(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "0.5")
    assert memory_budget_bytes() == 0.5e9
    with pytest.raises(ConfigError, match=rf"a thing needs about 1 GB, over the memory budget of 500 MB \({BUDGET_ENV}=0.5\); smaller"):
        check_memory(1e9, "a thing", "smaller")
    check_memory(1e8, "a thing")
    for bad in ("-1", "nan", "inf", "lots"):
        monkeypatch.setenv(BUDGET_ENV, bad)
        with pytest.raises(ConfigError, match=BUDGET_ENV):
            memory_budget_bytes()
    monkeypatch.delenv(BUDGET_ENV)
    assert memory_budget_bytes() > 1e8


_RACE = """
import json, os, socket, sys
from memcosim.base.errors import ConfigError
from memcosim.base.lock import LOCK_NAME, DirectoryLock

root, trials, dead, how = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if how == "cli":
    from memcosim import cli, run


class Ran(BaseException):  # not an Exception: past the CLI's last-resort handler
    pass


def take(d, out_w, done_r):
    \"\"\"Take the lock of d as `how` says; write 1 when taken (held until done_r closes), 0 when refused.\"\"\"
    if how == "lock":
        try:
            lock = DirectoryLock(d).acquire()
        except ConfigError:
            os.write(out_w, b"0")
            return
        os.write(out_w, b"1")
        os.read(done_r, 1)  # hold it until both have tried
        lock.release()
        return

    def holding_run(*args, **kwargs):  # the run itself: say so, hold the directory until both have tried
        os.write(out_w, b"1")
        os.read(done_r, 1)
        raise Ran()

    run.run_study = holding_run
    try:
        rc = cli.main(["run", str(run.quickstart_path()), "--out", d, "--quiet"])
    except Ran:
        return
    os.write(out_w, b"0" if rc == 2 else b"?")


outcomes = []
for trial in range(trials):
    d = os.path.join(root, str(trial))
    os.makedirs(d)
    with open(os.path.join(d, LOCK_NAME), "w") as fh:  # a stale lock: a dead pid of this host
        json.dump({"pid": dead, "host": socket.gethostname(), "started": "then"}, fh)
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    out_r, out_w = os.pipe()
    children = []
    for k in range(2):
        pid = os.fork()
        if pid == 0:
            os.close(go_w), os.close(done_w), os.close(out_r)
            os.dup2(os.open(os.path.join(root, f"{trial}.{k}.err"), os.O_WRONLY | os.O_CREAT), 2)
            os.read(go_r, 1)  # both start together
            take(d, out_w, done_r)
            os._exit(0)
        children.append(pid)
    os.close(go_r), os.close(done_r), os.close(out_w)
    os.write(go_w, b"gg")
    got = b""
    while len(got) < 2:
        chunk = os.read(out_r, 2)
        if not chunk:
            break
        got += chunk
    os.close(done_w)
    for pid in children:
        os.waitpid(pid, 0)
    os.close(go_w), os.close(out_r)
    errors = [line for k in range(2) for line in open(os.path.join(root, f"{trial}.{k}.err")).read().splitlines()
              if line.startswith("memcosim: error:")]
    outcomes.append({"took": got.count(b"1"), "refused": got.count(b"0"), "errors": errors})
print(json.dumps(outcomes))
"""


def _race(tmp_path, trials, how):
    proc = subprocess.run([sys.executable, "-c", _RACE, str(tmp_path), str(trials), str(_dead_pid()), how],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_two_racing_takeovers_of_a_stale_lock_one_wins(tmp_path):
    """100 trials: two processes start at once on a directory whose lock a dead process left;
    exactly one of them holds it (the other is refused) every time."""
    assert [(o["took"], o["refused"]) for o in _race(tmp_path, 100, "lock")] == [(1, 1)] * 100


def test_two_memcosim_runs_on_a_stale_lock_one_runs(tmp_path):
    """5 trials of two ``memcosim run STUDY --out DIR`` started together on a dead process's lock
    (the CLI's parsing, study load and run lock as a user's command takes them; the run itself
    replaced by one that holds the directory until both have tried): exactly one runs, the
    other is refused in one line (naming the holder once it has written its record)."""
    outcomes = _race(tmp_path, 5, "cli")
    assert [(o["took"], o["refused"]) for o in outcomes] == [(1, 1)] * 5, outcomes
    for o in outcomes:
        assert len(o["errors"]) == 1 and f"--out: {tmp_path}" in o["errors"][0] and "is in use by" in o["errors"][0], o
