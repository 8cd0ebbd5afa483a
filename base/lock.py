"""One process per output directory: a lock file that says who holds it.

:class:`DirectoryLock` creates ``DIR/.memcosim.lock`` atomically (written beside it, then
hard-linked into place, so the lock never exists half-written) holding the holder's pid, host,
command and start time. A second process is refused with a message naming them. A lock left by
a process that no longer runs (``kill -9``, a crash) on this host is taken over with a warning.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d, DirectoryLock(d, "--out"):
...     pass
"""

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
        start time), or the directory cannot be created or written.
    """

    def __init__(self, directory, what="--out"):
        self.directory = Path(directory)
        self.what = what
        self.path = self.directory / LOCK_NAME
        self._held = False

    def _record(self):
        return {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:300],
                "started": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")}

    def _holder(self):
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
        except (OSError, ValueError):
            return None

    def acquire(self):
        tmp = self.directory / f"{LOCK_NAME}.{os.getpid()}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._record()) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.what}: cannot write to {self.directory} ({exc.strerror or exc})") from None
        try:
            for _ in range(50):
                try:
                    os.link(tmp, self.path)
                    self._held = True
                    return self
                except FileExistsError:
                    pass
                holder = self._holder()
                if holder is None:  # unreadable: being replaced right now, or garbage
                    if time.time() - self._mtime() > 5:
                        log.warning("%s: removing an unreadable lock file %s", self.what, self.path)
                        self.path.unlink(missing_ok=True)
                    else:
                        time.sleep(0.1)
                    continue
                if holder.get("host") == socket.gethostname() and not pid_alive(holder["pid"]):
                    log.warning("%s: taking over the lock of %s left by pid %d (started %s), which no longer runs",
                                self.what, self.directory, holder["pid"], holder.get("started", "?"))
                    self.path.unlink(missing_ok=True)
                    continue
                raise ConfigError(
                    f"{self.what}: {self.directory} is in use by memcosim pid {holder['pid']} on {holder.get('host', '?')} "
                    f"since {holder.get('started', '?')} ({holder.get('command', '')!s}); wait for it to finish, use "
                    f"another {self.what}, or remove {self.path} if that process is gone")
            raise ConfigError(f"{self.what}: could not take the lock {self.path}; remove it if no memcosim uses {self.directory}")
        except OSError as exc:
            raise ConfigError(f"{self.what}: cannot lock {self.directory} ({exc.strerror or exc})") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _mtime(self):
        try:
            return self.path.stat().st_mtime
        except OSError:
            return time.time()

    def release(self):
        if self._held:
            holder = self._holder()
            if holder is not None and holder["pid"] == os.getpid():
                self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False
