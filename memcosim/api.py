"""The library API: from a study to fitted circuit models, a tile and a converted model, in Python.

>>> import memcosim                                                        # doctest: +SKIP
>>> from memcosim.run import quickstart_path
>>> from memcosim.training import CrossbarSGD, TileConfig, attach_ledger, convert
>>> study = memcosim.load_study(quickstart_path()).with_values({"device.pulse_width_s": 2e-7})
>>> models = memcosim.characterize(study)                  # ngspice-fitted CircuitModels, in memory
>>> tile = TileConfig.from_study(study, models)            # device, update rule, read path, energy
>>> net = convert(my_model, tile)                         # a converted copy of any nn.Module
>>> ledger = attach_ledger(net)
>>> opt = CrossbarSGD(net, lr=0.1)                         # then an ordinary PyTorch loop

Every function here is a thin, documented composition of the layers (the CLI calls the same
ones), so a script and ``memcosim run`` give the same numbers for the same study.
"""

import tempfile
from pathlib import Path

from memcosim.build import characterize_setup, tile_config, train_config
from memcosim.config import load_study, parse_study

__all__ = ["load_study", "parse_study", "characterize", "tile_config", "train_config", "train"]


def characterize(study, out_dir=None, *, cache_dir=None, workers=None, progress=False, plots=False):
    """Characterise the study's array with ngspice and return the fitted models.

    Parameters
    ----------
    study : Study
        From :func:`load_study` or :func:`parse_study`.
    out_dir : str or Path, optional
        Also write ``models.json``, ``characterize_report.json`` (and with ``plots`` the PNGs)
        here, and cache every simulated point in ``out_dir/cache``. None: nothing is written
        but the cache.
    cache_dir : str or Path, optional
        Where each simulated point is cached by the hash of its deck (default ``out_dir/cache``;
        without ``out_dir``, a temporary folder removed afterwards): a second call with the same
        study and cache simulates nothing.
    workers : int, optional
        Worker processes for the ngspice sweeps (default: up to 2).
    progress, plots : bool
        Show a progress bar; write the PNG plots (with ``out_dir``).

    Returns
    -------
    CircuitModels
    """
    from memcosim.circuits.characterize import fit_models, write_characterization

    setup = characterize_setup(study)
    if cache_dir is None and out_dir is None:
        with tempfile.TemporaryDirectory(prefix="memcosim-char-") as tmp:
            return fit_models(setup, tmp, workers=workers, progress=progress).models
    cache = Path(cache_dir) if cache_dir is not None else Path(out_dir) / "cache"
    fitted = fit_models(setup, cache, workers=workers, progress=progress)
    if out_dir is not None:
        write_characterization(fitted, out_dir, plots=plots)
    return fitted.models


def train(study, out_dir, models=None, resume=False, progress=False):
    """Train the study's network on crossbars (one run, as ``memcosim train``); returns its results dict.

    ``models`` are the study's :class:`CircuitModels` (None: device-level energy, ideal wires).
    """
    from memcosim.training.trainer import train as run_training

    return run_training(train_config(study, models), out_dir, resume=resume, progress=progress)
