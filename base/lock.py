"""One process per output directory: a lock file held with ``fcntl.flock`` that says who holds it.

:class:`DirectoryLock` opens (creating it if needed) ``DIR/.memcosim.lock`` and takes an
exclusive ``flock`` on it without waiting. The kernel grants that lock to one open file at a
time and drops it when the holder's process ends (``kill -9`` and crashes included), so a lock
file left behind by a dead process is simply taken over (with a warning naming it) and two
processes racing for the same directory cannot both win. After the ``flock`` is granted the
holder re-checks that the path still names the file it locked (a holder releasing at that
moment unlinks it); otherwise it starts again. The file then holds the holder's pid, host,
command and start time, which a refused process names in its message.

A lock file written on another host is refused (its process cannot be checked from here).

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d, DirectoryLock(d, "--out"):
...     pass
"""

import fcntl
import json
import logging
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from memcosim.base.errors import ConfigError
from memcosim.base.processes import pid_alive

__all__ = ["DirectoryLock", "LOCK_NAME"]

LOCK_NAME = ".memcosim.lock"

log = logging.getLogger(__name__)

_MAX_RECORD_BYTES = 4096


class DirectoryLock:
    """Hold ``DIR/.memcosim.lock`` for the duration of a ``with`` block.

    Parameters
    ----------
    directory : str or Path
        Created if missing.
    what : str
        How the user named the directory (``"--out"``), for messages.

    Raises
    ------
    ConfigError
        Another live process holds the directory (the message names its pid, host, command and
        start time), a lock file of another host is there, or the directory cannot be created or
        written.
    """

    def __init__(self, directory, what="--out"):
        self.directory = Path(directory)
        self.what = what
        self.path = self.directory / LOCK_NAME
        self._fd = None

    def _record(self):
        return {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:300],
                "started": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")}

    @staticmethod
    def _parse(data):
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None

    def _read_fd(self, fd):
        return self._parse(os.pread(fd, _MAX_RECORD_BYTES, 0))

    def _holder(self):
        """The record in the lock file, or None (absent, being written, garbage)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return self._read_fd(fd)
        except OSError:
            return None
        finally:
            os.close(fd)

    def acquire(self):
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for _ in range(100):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    self._refuse_held()
                except BaseException:
                    os.close(fd)
                    raise
                # re-check: the path still names the file locked (a releasing holder unlinks it first)
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(self.path))
                except FileNotFoundError:
                    same = False
                if not same:
                    os.close(fd)
                    continue
                try:
                    self._take(fd)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
                return self
            raise ConfigError(f"{self.what}: could not take the lock {self.path}; remove it if no memcosim uses {self.directory}")
        except OSError as exc:
            raise ConfigError(f"{self.what}: cannot lock {self.directory} ({exc.strerror or exc})") from None

    def _take(self, fd):
        """Write this process's record into the locked file, after saying whose lock it replaces."""
        previous = self._read_fd(fd)
        if previous is not None and previous.get("host") != socket.gethostname():
            raise ConfigError(
                f"{self.what}: {self.directory} is locked by memcosim pid {previous['pid']} on {previous.get('host', '?')} "
                f"since {previous.get('started', '?')}; its process cannot be checked from this host: remove "
                f"{self.path} if it is gone")
        if previous is not None and previous["pid"] != os.getpid():
            state = "which no longer runs" if not pid_alive(previous["pid"]) else "which no longer holds it"
            log.warning("%s: taking over the lock of %s left by pid %d (started %s), %s", self.what, self.directory,
                        previous["pid"], previous.get("started", "?"), state)
        data = (json.dumps(self._record()) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    def _refuse_held(self):
        holder = None
        for _ in range(20):  # the holder writes its record right after taking the lock
            holder = self._holder()
            if holder is not None and pid_alive(holder["pid"]):
                break
            time.sleep(0.01)
        if holder is None or not pid_alive(holder["pid"]):
            raise ConfigError(f"{self.what}: {self.directory} is in use by another memcosim process; wait for it to "
                              f"finish or use another {self.what}")
        raise ConfigError(
            f"{self.what}: {self.directory} is in use by memcosim pid {holder['pid']} on {holder.get('host', '?')} "
            f"since {holder.get('started', '?')} ({holder.get('command', '')!s}); wait for it to finish, use "
            f"another {self.what}, or remove {self.path} if that process is gone")

    def release(self):
        if self._fd is not None:
            try:
                if os.path.samestat(os.fstat(self._fd), os.stat(self.path)):
                    self.path.unlink()  # while still locked: a waiter that opened it re-checks and starts again
            except OSError:
                pass
            os.close(self._fd)  # drops the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
