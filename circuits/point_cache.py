"""The characterisation's cache of simulated points: one checksummed JSON file per point, keyed by
the hash of what was simulated (:func:`point_key`), written atomically.
"""

import hashlib
import json
import logging
from pathlib import Path

from memcosim.base.atomic import write_json_atomic

__all__ = ["point_key", "cached_point"]

log = logging.getLogger(__name__)


def point_key(*parts):
    """SHA-256 (hex) of ``parts`` (bytes as they are, anything else as its ``str``), separated."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
        h.update(b"\0")
    return h.hexdigest()


def _digest(key, value):
    """SHA-256 of a cache entry: its key (the hash of what was simulated) and its value together, so
    an entry moved to another key's file is refused like an edited one."""
    return hashlib.sha256(json.dumps([key, value], sort_keys=True, allow_nan=False).encode()).hexdigest()


def _cache_entry(path, key):
    """The value of a cache file, or None (with a warning) when it is corrupted, edited or not its key's."""
    from memcosim.base.errors import MemcosimError
    from memcosim.base.files import read_json

    try:
        entry = read_json(path, "cache entry")
        if (isinstance(entry, dict) and set(entry) == {"key", "sha256", "value"} and entry["key"] == key
                and entry["sha256"] == _digest(key, entry["value"])):
            return entry["value"]
    except (MemcosimError, OSError, ValueError):
        pass
    log.warning("%s: cache entry corrupted or edited, or another key's entry (its checksum over key and value does "
                "not match); recomputing it", path)
    return None


def cached_point(cache_dir, key, compute):
    """``(value, from cache)`` of the point ``key``: read from ``cache_dir/key.json`` when its
    checksum (over the key and the value) holds, else computed and stored with it."""
    path = Path(cache_dir) / f"{key}.json"
    if path.exists():
        value = _cache_entry(path, key)
        if value is not None:
            return value, True
    result = compute()
    # atomic: an interrupted run never leaves half a point
    write_json_atomic(path, {"key": key, "sha256": _digest(key, result), "value": result}, indent=None)
    return result, False
