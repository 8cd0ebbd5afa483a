"""Built-in device parameter sets and ``device.json`` files.

Presets live in ``devices/presets/<kind>_<name>.json``; ``memcosim calibrate`` writes files of
the same form (``{"model": kind, "params": {...}}``), so a calibrated device is loaded exactly
like a preset.
"""

from pathlib import Path

from memcosim.devices.hzo import HZOParams
from memcosim.devices.hzo_kinetics import HZOKineticsParams
from memcosim.devices.mtj import MTJParams
from memcosim.base.errors import ConfigError
from memcosim.base.files import read_json

__all__ = ["PARAM_CLASSES", "MODEL_CLASSES", "load_device_params", "preset_names"]

PARAM_CLASSES = {"hzo": HZOParams, "mtj": MTJParams}
"""The default parameter class of each device family (``device.kind``)."""
MODEL_CLASSES = {"hzo": {"hzo": HZOParams, "hzo_kinetics": HZOKineticsParams}, "mtj": {"mtj": MTJParams}}
"""Per device family, the models a parameters file may hold (its ``"model"``) and their classes:
an HZO device is either of the two HZO models."""
_PRESET_DIR = Path(__file__).with_name("presets")


def preset_names(kind):
    """Names of the built-in presets of a device family."""
    return sorted(p.stem[len(kind) + 1 :] for p in _PRESET_DIR.glob(f"{kind}_*.json"))


def load_device_params(kind, source="default", file=None):
    """Device parameters from a preset name or a ``device.json`` path.

    Parameters
    ----------
    kind : {"hzo", "mtj"}
    source : str or Path
        A preset name (``"default"``) or the path of a ``device.json`` (a name ending ``.json``).
    file : str or Path, optional
        The path of a ``device.json`` whatever its name (``device.parameters_file``); wins over ``source``.

    Returns
    -------
    HZOParams, HZOKineticsParams or MTJParams
        By the file's ``"model"`` (``hzo``, ``hzo_kinetics``: both HZO devices; ``mtj``).

    Raises
    ------
    ConfigError
        An unknown preset, or a file that is missing, unreadable, not JSON, of another device
        family, or holds invalid parameters (the message names the file and the parameter).
    """
    if kind not in PARAM_CLASSES:
        raise ConfigError(f"device.kind: must be one of {sorted(PARAM_CLASSES)}, got {kind!r}")
    if file is not None:
        path = Path(file)
    else:
        path = Path(source)
        if path.suffix.lower() != ".json":
            path = _PRESET_DIR / f"{kind}_{source}.json"
            if not path.exists():
                raise ConfigError(f"device.preset: unknown {kind} preset {source!r}; allowed: {preset_names(kind)}")
    data = read_json(path, "device parameters file (device.parameters_file)")
    model = data.get("model", kind)
    if model not in MODEL_CLASSES[kind]:
        raise ConfigError(f"{path}: holds a {model!r} device, expected {' or '.join(MODEL_CLASSES[kind])}")
    params = data.get("params", data)
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: 'params' must be a JSON object, got {type(params).__name__}")
    try:
        return MODEL_CLASSES[kind][model].from_dict(params)
    except TypeError as exc:
        raise ConfigError(f"{path}: bad device parameters ({exc})") from None
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
