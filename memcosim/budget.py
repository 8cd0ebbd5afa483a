"""Memory estimates of a study's steps, checked against the budget before anything is allocated.

The budget and the check are :mod:`memcosim.base.memory` (``MEMCOSIM_MEMORY_BUDGET_GB``); the
estimates here are upper-side rules of thumb measured on this code (RSS growth of real runs):

* a deck: :func:`memcosim.netlist.size.deck_bytes` (~5 kB per cell while it is rendered);
* a training run: ~200 bytes per weight (latent weights, conductances of both devices of a pair,
  per-device spread and state, gradients, optimizer), the dataset as float32 twice, the batch's
  activations (a convolution: a few times its unrolled patches, :func:`memcosim.training.conv.conv_step_bytes`),
  and a native solve of every tile per read with ``training.forward = "exact"``;
* an MTJ die study: every die's junction arrays (~100 bytes per junction and die);
* a sweep grid: ~4 kB per run plus ~1 kB per epoch record kept until the report is written.
"""

from memcosim.base.memory import check_memory
from memcosim.netlist.size import deck_bytes

__all__ = ["check_deck", "layer_widths", "training_bytes", "check_training", "grid_bytes", "check_grid"]

_BASE_BYTES = 400e6
"""Interpreter, torch, numpy and scipy themselves."""
_BYTES_PER_WEIGHT = 200
_NATIVE_BYTES_PER_CELL = 5000
_DATASETS = {"digits": (1797, 64), "mnist": (70000, 784)}


def check_deck(rows, cols, what="deck"):
    """Refuse a ``rows x cols`` deck over the budget."""
    check_memory(deck_bytes(rows, cols), f"{what} of a {rows} x {cols} array", "use a smaller array.rows / array.cols")


def layer_widths(study):
    """The widths of the study's network, inputs first (``[features, *hidden_sizes, 10]``)."""
    return _layer_sizes(study)[2]


def _layer_sizes(study):
    samples, features = _DATASETS[study.training.dataset]
    if study.device.kind == "mtj":
        pool = study.dies.input_pool
        features = (28 // pool) ** 2 if study.training.dataset == "mnist" else (8 // pool) ** 2
    widths = [features, *study.training.hidden_sizes, 10]
    return samples, features, widths


def training_bytes(study):
    """Estimated peak memory (bytes) of training one point of ``study`` (MLP or die study)."""
    tr, a = study.training, study.array
    samples, features, widths = _layer_sizes(study)
    if study.model.kind != "mlp":  # convolutions: every layer's patches, from the network's shapes
        total = _BASE_BYTES + 2 * 4 * samples * features + _model_step_bytes(study)
        if tr.forward == "exact":
            total += _NATIVE_BYTES_PER_CELL * a.rows * a.cols
        return total
    weights = sum(n_in * n_out for n_in, n_out in zip(widths, widths[1:]))
    total = _BASE_BYTES + 2 * 4 * samples * features + 8 * 4 * tr.batch_size * sum(widths)
    if study.device.kind == "mtj":
        total += 100 * 2 * weights * (study.dies.count + 2)
    else:
        total += _BYTES_PER_WEIGHT * weights
        if tr.forward == "exact":
            total += _NATIVE_BYTES_PER_CELL * a.rows * a.cols
    return total


def _model_step_bytes(study):
    """:func:`memcosim.training.models.step_bytes` of the study's network, built on torch's ``meta``
    device: no tensor is allocated or initialised, so no torch operation runs here. (This runs in the
    study's parent process before it forks the workers: a parallel torch operation there leaves the
    children's thread pool unusable, and they hang at their first one.)"""
    import torch

    from memcosim.training.models import ModelSpec, build_model, step_bytes

    tr, m = study.training, study.model
    side = 28 if tr.dataset == "mnist" else 8
    with torch.device("meta"):
        net = build_model(ModelSpec(m.kind, tuple(m.channels), m.kernel_size), (1, side, side), 10, tr.hidden_sizes,
                          tr.activation, study.seed)
    return step_bytes(net, (1, side, side), tr.batch_size)


def check_training(study):
    """Refuse a training run over the budget."""
    tr = study.training
    check_memory(training_bytes(study), f"training {tr.hidden_sizes} hidden on {tr.dataset} (batch {tr.batch_size})",
                 "use smaller training.hidden_sizes, training.batch_size or dies.count")


def grid_bytes(study, n_points):
    """Estimated memory (bytes) of the bookkeeping of a sweep of ``n_points`` runs."""
    return n_points * (4000 + 1000 * study.training.epochs)


def check_grid(study, n_points, workers=1):
    """Refuse a sweep whose bookkeeping plus ``workers`` concurrent training runs exceed the budget."""
    check_memory(grid_bytes(study, n_points) + max(1, workers) * training_bytes(study),
                 f"a sweep of {n_points} run(s) with {max(1, workers)} worker(s)", "sweep fewer values or use fewer --workers")
