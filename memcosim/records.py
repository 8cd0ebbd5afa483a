"""Run records read back (``runs/<id>/run.json``), checked like inputs before they are reported.

``--resume`` and ``memcosim report`` read the ``run.json`` of every finished run and report its
numbers. :func:`read_run_record` reads one (strict JSON, :mod:`memcosim.base.files`) and refuses
it in one line naming the file and the key when a field the report needs is missing or of the
wrong type, a number is out of the range its name promises (:mod:`memcosim.base.records`:
accuracy in [0, 1], energies >= 0, ...), or it holds more epoch records than its study point
trains.
"""

from memcosim.base.errors import ConfigError
from memcosim.base.files import read_json
from memcosim.base.records import check_numbers, require
from memcosim.kinds import KINDS

__all__ = ["read_run_record", "check_run_record"]

_RECORD = {"run_id": str, "values": dict, "seed": int, "wall_time_s": float, "identity": str, "inputs": dict,
           "results": dict}
_EPOCH = {"epoch": int, "test_accuracy": float, "train_loss": float}


def check_run_record(record, source, epochs=None):
    """Refuse a run record (``run.json`` content) that the report cannot trust (module docstring);
    returns it with its ``results`` read as its kind's typed record (a training run's
    :class:`~memcosim.training.run_results.RunResult`, a die study's
    :class:`~memcosim.training.die_results.DieResult`; older layouts migrated).

    Parameters
    ----------
    record : dict
    source : str or Path
        The file, for messages.
    epochs : int, optional
        The epochs its study point trains: more epoch records than this are refused.
    """
    require(record, _RECORD, source)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in record["inputs"].items()):
        raise ConfigError(f"{source}: inputs: must map file paths to SHA-256 strings")
    results = record["results"]
    if record.get("kind", "training") not in KINDS:
        raise ConfigError(f"{source}: kind: must be one of {', '.join(map(repr, KINDS))}, got {record['kind']!r}")
    if record.get("kind") != "mtj_dies":
        require(results, {"epochs": list}, source, where="results")
        records = results["epochs"]
        if epochs is not None and len(records) > epochs:
            raise ConfigError(f"{source}: results.epochs: holds {len(records)} epoch records, its study point trains "
                              f"{epochs} epochs")
        for k, rec in enumerate(records):
            require(rec, _EPOCH, source, where=f"results.epochs[{k}]")
            if rec["epoch"] != k + 1:
                raise ConfigError(f"{source}: results.epochs[{k}].epoch: must be {k + 1}, got {rec['epoch']!r}")
    check_numbers(record, source)
    from memcosim.training.die_results import DieResult
    from memcosim.training.run_results import RunResult

    typed = DieResult if record.get("kind") == "mtj_dies" else RunResult
    return {**record, "results": typed.from_json(results, str(source), "results")}


def read_run_record(path, epochs=None):
    """Read and check one ``run.json`` (:func:`check_run_record`)."""
    return check_run_record(read_json(path, "finished run record (run.json)"), path, epochs)
