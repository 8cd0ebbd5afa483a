"""The library API: from a study to fitted circuit models, a tile and a converted model, in Python.

>>> import memcosim                                                        # doctest: +SKIP
>>> from memcosim.training import CrossbarSGD, EnergyLedger, attach_ledger, convert
>>> study = memcosim.load_study("examples/quickstart.toml")
>>> models = memcosim.characterize(study, "out/char")   # ngspice-fitted CircuitModels (cached)
>>> tile = memcosim.tile_config(study, models)            # device, update rule, read path, energy
>>> net = convert(my_model, tile)                         # a converted copy of an nn.Module
>>> ledger = attach_ledger(net, EnergyLedger())
>>> opt = CrossbarSGD(net, lr=0.1, ledger=ledger)          # then an ordinary PyTorch loop

Every function here is a thin, documented composition of the layers (the CLI calls the same
ones), so a script and ``memcosim run`` give the same numbers for the same study.
"""

from pathlib import Path

from memcosim.build import characterize_setup, tile_config, train_config
from memcosim.config import load_study, parse_study

__all__ = ["load_study", "parse_study", "characterize", "tile_config", "train_config", "train"]


def characterize(study, out_dir, workers=None, progress=False, plots=False):
    """Characterise the study's array with ngspice and return the fitted models.

    Parameters
    ----------
    study : Study
        From :func:`load_study` or :func:`parse_study`.
    out_dir : str or Path
        ``models.json``, ``characterize_report.json`` and the deck cache go here; a second call
        with the same study simulates nothing (every point is cached by the hash of its deck).
    workers : int, optional
        Worker processes for the ngspice sweeps (default: up to 2).
    progress, plots : bool
        Show a progress bar; write the PNG plots.

    Returns
    -------
    CircuitModels
    """
    from memcosim.circuits.characterize import characterize as run_sweeps
    from memcosim.circuits.models import CircuitModels

    run_sweeps(characterize_setup(study), out_dir, workers=workers, progress=progress, plots=plots)
    return CircuitModels.load(Path(out_dir) / "models.json")


def train(study, out_dir, models=None, resume=False, progress=False):
    """Train the study's MLP on crossbars (one run, as ``memcosim train``); returns its results dict.

    ``models`` are the study's :class:`CircuitModels` (None: device-level energy, ideal wires).
    """
    from memcosim.training.trainer import train as run_training

    return run_training(train_config(study, models), out_dir, resume=resume, progress=progress)
