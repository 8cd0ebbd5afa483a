"""Worker processes that die with their parent.

:func:`die_with_parent` is an initializer for ``ProcessPoolExecutor`` / ``multiprocessing.Pool``
workers: when the process that started the worker goes away (``kill -9`` included) the worker
exits too, instead of staying orphaned and blocked on a pipe. On Linux the kernel does it
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``); everywhere a watchdog thread also polls the parent pid.
"""

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

__all__ = ["die_with_parent", "pid_alive"]

_PR_SET_PDEATHSIG = 1


def _watch(parent, interval_s):
    while True:
        threading.Event().wait(interval_s)
        if os.getppid() != parent:
            os._exit(1)


def die_with_parent(interval_s=1.0):
    """Make this process exit when its parent does (call first thing in a worker process)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no libc: the watchdog remains
            pass
    if os.getppid() != parent or parent == 1:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent, interval_s), daemon=True, name="die-with-parent").start()


def pid_alive(pid):
    """Whether process ``pid`` runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # no /proc: kill(0) said it exists
        return True
