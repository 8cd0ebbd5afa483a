"""Built-in device parameter sets and ``device.json`` files.

Presets live in ``devices/presets/<kind>_<name>.json``; ``memcosim calibrate`` writes files of
the same form (``{"model": kind, "params": {...}}``), so a calibrated device is loaded exactly
like a preset.
"""

import json
from pathlib import Path

from memcosim.devices.hzo import HZOParams
from memcosim.devices.mtj import MTJParams
from memcosim.base.errors import ConfigError

__all__ = ["PARAM_CLASSES", "load_device_params", "preset_names"]

PARAM_CLASSES = {"hzo": HZOParams, "mtj": MTJParams}
_PRESET_DIR = Path(__file__).with_name("presets")


def preset_names(kind):
    """Names of the built-in presets of a device family."""
    return sorted(p.stem[len(kind) + 1 :] for p in _PRESET_DIR.glob(f"{kind}_*.json"))


def load_device_params(kind, source="default"):
    """Device parameters from a preset name or a ``device.json`` path.

    Parameters
    ----------
    kind : {"hzo", "mtj"}
    source : str or Path
        A preset name (``"default"``) or the path of a ``device.json``.

    Returns
    -------
    HZOParams or MTJParams
    """
    if kind not in PARAM_CLASSES:
        raise ConfigError(f"device.kind: must be one of {sorted(PARAM_CLASSES)}, got {kind!r}")
    path = Path(source)
    if path.suffix.lower() != ".json":
        path = _PRESET_DIR / f"{kind}_{source}.json"
        if not path.exists():
            raise ConfigError(f"device.preset: unknown {kind} preset {source!r}; allowed: {preset_names(kind)}")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"device.parameters_file: no such file: {path}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read device parameters ({exc})") from None
    if not isinstance(data, dict) or data.get("model", kind) != kind:
        raise ConfigError(f"{path}: holds a {data.get('model') if isinstance(data, dict) else '?'} device, expected {kind}")
    try:
        return PARAM_CLASSES[kind].from_dict(data.get("params", data))
    except TypeError as exc:
        raise ConfigError(f"{path}: bad device parameters ({exc})") from None
