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


def _digest(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True, allow_nan=False).encode()).hexdigest()


def _cache_entry(path):
    """The value of a cache file, or None (with a warning) when it is corrupted or was edited."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(entry, dict) and set(entry) == {"sha256", "value"} and entry["sha256"] == _digest(entry["value"]):
            return entry["value"]
    except (OSError, ValueError):
        pass
    log.warning("%s: cache entry corrupted or edited (its checksum does not match its content); recomputing it", path)
    return None


def cached_point(cache_dir, key, compute):
    """``(value, from cache)`` of the point ``key``: read from ``cache_dir/key.json`` when its
    checksum holds, else computed and stored with the SHA-256 of its content."""
    path = Path(cache_dir) / f"{key}.json"
    if path.exists():
        value = _cache_entry(path)
        if value is not None:
            return value, True
    result = compute()
    # atomic: an interrupted run never leaves half a point
    write_json_atomic(path, {"sha256": _digest(result), "value": result}, indent=None)
    return result, False
