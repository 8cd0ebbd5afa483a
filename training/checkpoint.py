"""The one checkpoint format of every training run (:func:`save_checkpoint`, :func:`load_checkpoint`):
tensors and plain data only, read back with ``torch.load(weights_only=True)`` and checked like inputs."""

import torch

from memcosim.base.atomic import atomic_path
from memcosim.base.errors import ConfigError
from memcosim.base.files import open_input

__all__ = ["CHECKPOINT_FORMAT", "save_checkpoint", "load_checkpoint"]

CHECKPOINT_FORMAT = "memcosim-checkpoint/1"
"""The ``format`` a checkpoint file names."""


def save_checkpoint(path, *, fingerprint, epochs, elapsed_s, model, optimizer, scheduler=None, ledger=None):
    """Write the checkpoint of a training run atomically (the one format of every study kind).

    The file holds tensors and plain data only (it loads with ``torch.load(weights_only=True)``):
    ``format``, ``fingerprint`` (the configuration it belongs to), ``epoch`` (epochs done),
    ``elapsed_s``, ``epochs`` (the epoch records), and the ``model``, ``optimizer``, ``scheduler``
    and ``ledger`` state dicts (None where there is none).
    """
    state = {"format": CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": len(epochs), "elapsed_s": elapsed_s,
             "epochs": epochs, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scheduler": None if scheduler is None else scheduler.state_dict(),
             "ledger": None if ledger is None else ledger.state_dict()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _check_state(state, path):
    """The epoch records and elapsed time of a checkpoint, checked like inputs (:mod:`memcosim.base.records`)."""
    from memcosim.base.records import check_numbers

    records = state["epochs"]
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"--resume: {path}: epochs: must be a list of epoch records; remove it")
    for k, record in enumerate(records):
        if record.get("epoch") != k + 1:
            raise ConfigError(f"--resume: {path}: epochs[{k}].epoch: must be {k + 1}, got {record.get('epoch')!r}; "
                              "remove it")
    check_numbers({"epochs": records, "elapsed_s": state["elapsed_s"]}, f"--resume: {path}")
    if not isinstance(state["elapsed_s"], (int, float)):
        raise ConfigError(f"--resume: {path}: elapsed_s: must be a number, got {type(state['elapsed_s']).__name__}")


def load_checkpoint(path, fingerprint, model, optimizer, scheduler=None, ledger=None, map_location=None):
    """Restore a :func:`save_checkpoint` file into the given objects; returns ``(epoch records, elapsed_s)``.

    Raises
    ------
    ConfigError
        The file is unreadable, of another format, or belongs to a different configuration.
    """
    try:
        # weights_only=True: the unpickler builds tensors and plain containers only, so a crafted
        # file is refused before any of its code could run (tests/training/test_checkpoint_safety.py);
        # open_input: a regular file within the memory budget (no FIFO, no /dev/zero)
        with open_input(path, "checkpoint", bytes_per_byte=3.0) as (fh, _):
            state = torch.load(fh, map_location=map_location, weights_only=True)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to decode an input file is the user's file, not a bug
        raise ConfigError(f"--resume: cannot read the checkpoint {path} ({_first_line(exc)}); remove it") from None
    if not isinstance(state, dict) or not isinstance(state.get("format"), str) or state["format"] != CHECKPOINT_FORMAT:
        raise ConfigError(f"--resume: {path} is not a {CHECKPOINT_FORMAT} checkpoint; remove it or use another --out")
    missing = [k for k in ("fingerprint", "epochs", "elapsed_s", "model", "optimizer", "scheduler", "ledger") if k not in state]
    if missing:
        raise ConfigError(f"--resume: {path} lacks {', '.join(missing)}; remove it")
    if not isinstance(state["fingerprint"], str) or state["fingerprint"] != fingerprint:
        raise ConfigError(f"--resume: {path} belongs to a different configuration; remove it or use another --out")
    _check_state(state, path)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        if ledger is not None:
            ledger.load_state_dict(state["ledger"])
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"--resume: {path} does not fit this run ({_first_line(exc)}); remove it") from None
    return state["epochs"], state["elapsed_s"]
