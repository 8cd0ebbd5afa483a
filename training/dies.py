"""The MTJ die study: one binary network design on many dies, trained three ways.

The network and a die's circuit are :mod:`memcosim.training.binary_mtj`. MNIST (or the 8x8
digits) is average-pooled ``pool x pool`` and thresholded (``input_threshold``, 0.25: thin
strokes survive the pooling) to binary read voltages: 2 x 2 pooling gives 196 inputs, and 48
hidden units make 19 776 MTJs, the seed study's "about 20 000".

The dies
--------
The evaluation dies are die maps (:mod:`memcosim.devices.mtj_maps`): measured ones
(``DiesConfig.maps``), or ``n_dies`` drawn by the generator
(:func:`memcosim.devices.mtj_defects.generate_die`) from ``statistics`` and the circuit's junction.
Statistics-aware training draws its dies from the same generator and ``statistics`` (for
measured maps: the statistics measured from them), never one of the evaluation dies.

Training modes
--------------
* ``ideal`` — trained on ideal weights (no defects, no circuit), then evaluated on every die;
* ``hardware_aware`` — one network per die: the ideal network fine-tuned through that die's
  map (``hardware_aware_epochs``);
* ``statistics_aware`` — a fresh random die for every minibatch (``dies_per_step`` of them, each
  reading its share of the minibatch); one network for all dies.

Methods that put one network on each die (none trains on the die)
----------------------------------------------------------------
* ``program_pairs`` — every pair programmed the way that reads closest to its weight on that die
  (:func:`memcosim.training.die_mapping.program_pairs`); also used on the dies that
  statistics-aware and hardware-aware training read;
* ``fault_tolerant_mapping`` — the ideal and statistics-aware networks are also evaluated with
  their hidden neurons placed on each die's column pairs where its defects cost them least
  (:func:`memcosim.training.die_mapping.fault_tolerant_mapping`), and trimmed when trims are on
  (``<mode>_mapped``);
* ``recalibrate_inputs`` — the ideal and statistics-aware networks are also evaluated after a
  per-die threshold trim (``<mode>_recalibrated``): the hidden comparators' thresholds (the folded
  batch normalisation) re-estimated from unlabeled inputs read through the die. It needs no labels
  and reprograms no junction, only each comparator's reference.

The schedule
------------
Every stage (the ideal network, the statistics-aware network, each die's hardware-aware
fine-tuning) is one :func:`memcosim.training.loop.fit`: Adam on the latent weights with a
one-cycle learning rate (warm up, then anneal to ~0 so the binary weights settle: 2-3 points
better than a constant rate for this network), latent weights clipped to [-1, 1] after every
step, minibatch order from the stream ``dies/<stage>/shuffle``. One
:class:`~memcosim.training.ledger.EnergyLedger` per study point books every read of a die
(training reads through a die, the threshold trims, every evaluation of every die).
"""

import dataclasses
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from memcosim.base.errors import ConfigError
from memcosim.devices import mtj
from memcosim.devices.mtj_defects import DefectThresholds, DieStatistics, classify, generate_die
from memcosim.training.binary_mtj import (BinaryMTJNet, DieCircuit, binarize_inputs, check_map_size, die_grid, die_layers,
                                          mtj_count, recalibrate)
from memcosim.training.die_mapping import fault_tolerant_mapping, input_moments, program_pairs
from memcosim.training.data import load_dataset
from memcosim.training.die_results import DieReadEnergy, DieResult, ModeSummary
from memcosim.training.ledger import EnergyLedger
from memcosim.training.loop import fit

__all__ = ["DiesConfig", "run_dies", "evaluation_maps", "network_shapes", "MODES"]

MODES = ("ideal", "hardware_aware", "statistics_aware")


@dataclass(frozen=True)
class DiesConfig:
    """The die study."""

    circuit: DieCircuit
    dataset: str = "mnist"
    data_dir: str | None = None
    """Directory of the MNIST IDX files."""
    pool: int = 2
    """Average-pooling factor per image side before binarising the inputs."""
    input_threshold: float = 0.25
    """A pooled pixel (0..1) above this is an active input row."""
    hidden: int = 48
    """Hidden comparators (binary neurons)."""
    epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 0.01
    """Peak Adam learning rate of the latent (straight-through) weights (one-cycle schedule)."""
    n_dies: int = 36
    """Generated evaluation dies (when ``maps`` is empty)."""
    seed: int = 0
    """Study seed: dies, initial weights and minibatch order derive from it."""
    modes: tuple = field(default=MODES)
    statistics: DieStatistics = DieStatistics()
    """What the generator draws dies from beyond the circuit's junction: the evaluation dies when
    ``maps`` is empty, and every die of statistics-aware training."""
    maps: tuple = ()
    """Measured evaluation dies (:class:`~memcosim.devices.mtj_maps.DieMap` with resistances), or empty."""
    thresholds: DefectThresholds = DefectThresholds()
    """How the maps' cells are classified (the report's defect counts and worst-die map)."""
    recalibrate_inputs: int = 0
    """When > 0, ``ideal`` and ``statistics_aware`` are also reported with each die's comparator
    thresholds re-measured from this many unlabeled training inputs read through that die
    (``<mode>_recalibrated``): a per-die trim of the references, no weights reprogrammed."""
    hardware_aware_epochs: int = 1
    """Per-die training of ``hardware_aware`` starts from the ideal network and runs this many
    epochs through the die's circuit (N dies: N fine-tunings, not N trainings from scratch)."""
    dies_per_step: int = 1
    """Statistics-aware training: each minibatch is split over this many freshly drawn dies."""
    program_pairs: bool = False
    """Program every pair of a die the way that reads closest to its weight (module docstring)."""
    fault_tolerant_mapping: bool = False
    """Place the ideal and statistics-aware networks' hidden neurons on each die where they suffer least."""

    def __post_init__(self):
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ConfigError(f"dies.modes: unknown mode(s) {bad}; allowed: {', '.join(MODES)}")
        if self.n_dies < 1:
            raise ConfigError(f"dies.count: must be >= 1, got {self.n_dies}")
        if not (isinstance(self.dies_per_step, int) and 1 <= self.dies_per_step <= self.batch_size):
            raise ConfigError(f"dies.dies_per_step: must be in [1, training.batch_size = {self.batch_size}], "
                              f"got {self.dies_per_step!r}")
        if any(not m.has_resistances for m in self.maps):
            raise ConfigError("dies.maps: every evaluation die needs its resistances (mtj_defects.with_resistances)")

    @property
    def evaluation_dies(self):
        """How many dies are evaluated: the maps, or ``n_dies`` generated ones."""
        return len(self.maps) if self.maps else self.n_dies


def _fingerprint(cfg, stage, epochs):
    """The configuration a stage's checkpoint belongs to (the data directory left out)."""
    text = repr((dataclasses.replace(cfg, data_dir=None, maps=()), [m.digest() for m in cfg.maps], stage, epochs))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _stage(net, cfg, data, stage, epochs, die_for_batch, ledger, checkpoint_dir, progress, evaluate=None, forward=None):
    """Train ``net`` in place for one stage of the study (module docstring: the schedule); a minibatch
    reads ``die_for_batch(epoch, batch)`` (or runs ``forward(net, x, epoch, batch)`` when given)."""
    y = data[1]
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.learning_rate,
                                                   total_steps=epochs * math.ceil(len(y) / cfg.batch_size))
    path = None if checkpoint_dir is None else checkpoint_dir / f"{stage.replace('/', '_')}.pt"
    return fit(net, optimizer, data, epochs=epochs, batch_size=cfg.batch_size, shuffle=(cfg.seed, f"dies/{stage}/shuffle"),
               forward=forward or (lambda m, xb, epoch, k: m(xb, die_for_batch(epoch, k))), scheduler=schedule,
               after_step=BinaryMTJNet.clip_, ledger=ledger, evaluate=evaluate, checkpoint=path,
               fingerprint=_fingerprint(cfg, stage, epochs), resume=True,
               on_epoch=None if progress is None else lambda record: progress(stage, record["epoch"]))


@torch.no_grad()
def _error(net, x, y, die):
    net.eval()
    # one pass: an exact-IR die builds its effective conductances once per evaluation
    return int((net(x, die).argmax(dim=1) != y).sum()) / len(y)


def _evaluation_read_j(ledger):
    """``(array, whole tile)`` evaluation read energy booked so far, joules."""
    totals = ledger.totals()
    return np.array([totals.eval_read_j, totals.tile.inference.total_j])


def _on_dies(nets, dies, x, y, ledger):
    """Error of ``nets[d]`` on die ``d`` for every die, and its read energy per inference (J, from the
    ledger): rows ``(array, whole tile)``."""
    errors, energies = [], []
    for net, die in zip(nets, dies):
        before = _evaluation_read_j(ledger)
        errors.append(_error(net, x, y, die))
        energies.append((_evaluation_read_j(ledger) - before) / len(y))
    return errors, energies


def _summary(errors, energies, tiled):
    """Error statistics over the dies and the mean read energy per inference (``tiled``: the
    whole tile's too, when the circuit has a periphery)."""
    e, j = np.asarray(errors), np.asarray(energies).reshape(-1, 2).mean(axis=0)
    return ModeSummary(die_errors=tuple(e.tolist()), mean=float(e.mean()), std=float(e.std()), min=float(e.min()),
                       max=float(e.max()), read_energy_per_inference_j=float(j[0]),
                       tile_energy_per_inference_j=float(j[1]) if tiled else None)


_MAPPING_INPUTS = 5000
"""Unlabeled training inputs whose moments the fault-tolerant mapping weighs read errors with."""


def network_shapes(cfg):
    """``[(inputs, hidden), (hidden, classes)]`` of the study's network (reads the dataset)."""
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.seed)
    n_in = binarize_inputs(data.train_x[:1], cfg.pool, cfg.input_threshold).shape[1]
    return [(n_in, cfg.hidden), (cfg.hidden, data.n_classes)]


def evaluation_maps(cfg, shapes=None):
    """The evaluation dies' maps: the measured ones (checked against the network), or generated
    (``memcosim dies generate`` writes these)."""
    shapes = shapes or network_shapes(cfg)
    if cfg.maps:
        for m in cfg.maps:
            check_map_size(m, shapes)
        return list(cfg.maps)
    c = cfg.circuit
    return [generate_die(c.params, cfg.statistics, die_grid(shapes), c.read_voltage_v, cfg.seed, d) for d in range(cfg.n_dies)]


def _worst_die(results, maps, shapes, thresholds):
    """The die with the largest error of the statistics-aware (else ideal, else hardware-aware) mode,
    and its defective cells inside the network's grid: ``[row, col, code]``."""
    mode = next(m for m in ("statistics_aware_mapped", "statistics_aware_recalibrated", "statistics_aware", "ideal_mapped",
                            "ideal_recalibrated", "ideal",
                            "hardware_aware") if m in results["modes"])
    errors = results["modes"][mode].die_errors
    d = int(np.argmax(errors))
    rows, cols = die_grid(shapes)
    codes = classify(maps[d], thresholds)[:rows, :cols]
    return {"mode": mode, "die": maps[d].die, "error": errors[d], "rows": rows, "cols": cols,
            "defects": [[int(r), int(c), int(codes[r, c])] for r, c in np.argwhere(codes != mtj.OK)]}


def run_dies(cfg, progress=None, checkpoint_dir=None):
    """Train and evaluate every mode on every die.

    With ``checkpoint_dir`` every stage checkpoints after every epoch
    (:func:`memcosim.training.checkpoint.save_checkpoint`: ``ideal.pt``, ``statistics_aware.pt``,
    ``hardware_aware_die<d>.pt``) and a rerun picks up where an interrupted one stopped, with
    the same results: every stage draws from its own seeded streams.

    Returns
    -------
    DieResult
        ``software_error`` (ideal network, ideal weights); per mode a :class:`ModeSummary` (``die_errors``,
        ``mean``, ``std``, ``min``, ``max``, ``read_energy_per_inference_j``: mean read energy of one
        test inference over the dies); ``dies`` (label, source and defect counts of every
        evaluation die); ``worst_die`` (its defect map); ``statistics`` and ``junction`` (what
        statistics-aware training drew its dies from); ``mtj_count``, ``inputs``;
        ``read_energy_per_inference_j`` (the ideal network on die 0, mean over the test inputs,
        both layers, one read of ``circuit.read_width_s`` each); ``read_energy_j`` (the ledger:
        ``training`` reads through dies and trims, ``evaluation`` reads); ``train_loss`` per epoch
        of the ideal and statistics-aware stages; timings.
    """
    t0 = time.perf_counter()
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.seed)
    train_x = binarize_inputs(data.train_x, cfg.pool, cfg.input_threshold)
    test_x = binarize_inputs(data.test_x, cfg.pool, cfg.input_threshold)
    train_y, test_y = data.train_y, data.test_y
    n_in = train_x.shape[1]
    shapes = [(n_in, cfg.hidden), (cfg.hidden, data.n_classes)]
    maps = evaluation_maps(cfg, shapes)
    c = cfg.circuit
    ideal_net = BinaryMTJNet(n_in, cfg.hidden, data.n_classes, c, cfg.seed)
    g_unit = ideal_net.g_unit

    def as_programmed(die_map):
        die = die_layers(shapes, c, die_map, cfg.seed)
        return program_pairs(die, g_unit) if cfg.program_pairs else die

    dies = [as_programmed(m) for m in maps]
    names = {mtj.OK: "ok", mtj.SHORT: "short", mtj.OPEN: "open", mtj.STUCK_P: "stuck_p", mtj.STUCK_AP: "stuck_ap"}
    rows, cols = die_grid(shapes)
    results = {"inputs": n_in, "hidden": cfg.hidden, "mtj_count": mtj_count(n_in, cfg.hidden, data.n_classes),
               "n_dies": len(maps), "modes": {}, "train_loss": {},
               "dies": [{"die": m.die, "source": m.source,
                         "defects": {name: int(np.sum(classify(m, cfg.thresholds)[:rows, :cols] == code)) for code, name in names.items()}}
                        for m in maps],
               "statistics": cfg.statistics.to_json(), "junction": c.params.to_dict(),
               "methods": {"program_pairs": cfg.program_pairs, "fault_tolerant_mapping": cfg.fault_tolerant_mapping,
                           "dies_per_step": cfg.dies_per_step, "recalibrate_inputs": cfg.recalibrate_inputs}}
    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir)
        ckpt.mkdir(parents=True, exist_ok=True)
    ledger = EnergyLedger("cpu")
    ideal_net.ledger = ledger
    tiled = c.periphery is not None
    stage = lambda net, name, epochs, die_for_batch, evaluate=None: _stage(  # noqa: E731
        net, cfg, (train_x, train_y), name, epochs, die_for_batch, ledger, ckpt, progress, evaluate)

    # the ideal network is also the software baseline (ideal weights, no circuit)
    run = stage(ideal_net, "ideal", cfg.epochs, lambda e, k: None)
    results["train_loss"]["ideal"] = [r["train_loss"] for r in run.epochs]
    results["software_error"] = _error(ideal_net, test_x, test_y, None)
    calibration_x = train_x[: cfg.recalibrate_inputs]
    moments = input_moments(train_x[:_MAPPING_INPUTS], centered=cfg.recalibrate_inputs > 0)

    def evaluate(mode, net):
        errors, energies = _on_dies([net] * len(dies), dies, test_x, test_y, ledger)
        results["modes"][mode] = _summary(errors, energies, tiled)
        trim = (lambda n, die: recalibrate(n, die, calibration_x)) if cfg.recalibrate_inputs > 0 else (lambda n, die: n)
        if cfg.recalibrate_inputs > 0:
            trimmed = [trim(net, die) for die in dies]
            results["modes"][f"{mode}_recalibrated"] = _summary(*_on_dies(trimmed, dies, test_x, test_y, ledger), tiled)
        if cfg.fault_tolerant_mapping:
            placed = [trim(fault_tolerant_mapping(net, die, moments)[0], die) for die in dies]
            results["modes"][f"{mode}_mapped"] = _summary(*_on_dies(placed, dies, test_x, test_y, ledger), tiled)
        return energies

    die0_j = evaluate("ideal", ideal_net)[0] if "ideal" in cfg.modes else None
    if "statistics_aware" in cfg.modes:
        grid, per_step = die_grid(shapes), cfg.dies_per_step

        def random_die(epoch, k, part):
            label = 10**9 + epoch * 10**6 + k * per_step + part
            return as_programmed(generate_die(c.params, cfg.statistics, grid, c.read_voltage_v, cfg.seed, label))

        def read_through_dies(m, xb, epoch, k):
            parts = torch.tensor_split(xb, max(1, min(per_step, len(xb) // 2)))  # batch statistics need 2 inputs
            return torch.cat([m(x, random_die(epoch, k, q)) for q, x in enumerate(parts)])

        net = BinaryMTJNet(n_in, cfg.hidden, data.n_classes, c, cfg.seed, ledger=ledger)
        run = _stage(net, cfg, (train_x, train_y), "statistics_aware", cfg.epochs, None, ledger, ckpt, progress,
                     forward=read_through_dies)
        results["train_loss"]["statistics_aware"] = [r["train_loss"] for r in run.epochs]
        evaluate("statistics_aware", net)
    if "hardware_aware" in cfg.modes:
        errors, energies = [], []
        for d, die in enumerate(dies):
            last = cfg.hardware_aware_epochs

            def final_error(m, epoch, die=die):  # recorded in the stage's checkpoint: a finished die is not re-read
                return {"test_error": _error(m, test_x, test_y, die)} if epoch == last else {}

            run = stage(ideal_net.clone(), f"hardware_aware/die{d}", last, lambda e, k, die=die: die, final_error)
            errors.append(run.epochs[-1]["test_error"])
            last_epoch = run.epochs[-1]
            energies.append(np.array([last_epoch["eval_read_energy_j"],
                                      last_epoch.get("eval_tile_energy_j", last_epoch["eval_read_energy_j"])]) / len(test_y))
        results["modes"]["hardware_aware"] = _summary(errors, energies, tiled)
    # the ideal network on die 0: from its evaluation, or read once more into a scratch ledger
    die0 = die0_j if die0_j is not None else _read_energy(ideal_net, dies[0], test_x, test_y)
    results["read_energy_per_inference_j"] = float(die0[0])
    totals = ledger.totals()
    results["read_energy_j"] = DieReadEnergy(training=totals.read_j, evaluation=totals.eval_read_j)
    if tiled:
        results["tile_energy_per_inference_j"] = float(die0[1])
        results["tile"] = totals.tile
    results["worst_die"] = _worst_die(results, maps, shapes, cfg.thresholds)
    results["elapsed_s"] = time.perf_counter() - t0
    results["train_loss"] = {stage: tuple(losses) for stage, losses in results["train_loss"].items()}
    return DieResult(**{**results, "dies": tuple(results["dies"])})


def _read_energy(net, die, x, y):
    """Read energy (J, ``(array, whole tile)``) of one inference of ``net`` on ``die``, mean over ``x`` (booked in a
    scratch ledger)."""
    probe = net.clone()
    probe.ledger = EnergyLedger("cpu")
    _error(probe, x, y, die)
    return _evaluation_read_j(probe.ledger) / len(y)
