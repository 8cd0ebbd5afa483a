"""Binary MTJ crossbar networks on many dies: defect-unaware, per-die and statistics-aware training.

The network
-----------
Two binary layers, ``inputs -> hidden -> 10``; every weight is a differential pair of MTJs
(``+1 -> (P, AP)``, ``-1 -> (AP, P)``, :func:`memcosim.devices.mtj.weights_to_states`), so the
network holds ``2 (inputs hidden + hidden 10)`` junctions. MNIST is average-pooled ``pool x pool``
and thresholded (``input_threshold``, 0.25: thin strokes survive the pooling) to binary read
voltages (0 or ``v_read``): 2 x 2 pooling gives 196 inputs, and 48 hidden units make 19 776 MTJs,
the seed study's "about 20 000" (full 784-pixel inputs would leave 12 hidden units). Hidden units are
comparators (sign of the differential column current against a per-neuron threshold, trained
through a batch normalisation that folds into the threshold); the output is the largest
differential current. Straight-through estimators carry gradients through both signs.

A die
-----
Die ``d`` of seed ``s`` has its own defect map (:func:`memcosim.devices.mtj.defect_map`) and its
own device-to-device spread of ``R_P`` and TMR. Each cell's read current comes from the circuit:
the junction (or its short/open/stuck replacement) in series with the access transistor
(:func:`memcosim.circuits.cell_read.series_cell_current_a`, checked against ngspice); the array
adds the first-order IR-drop of its wires and drivers (:mod:`memcosim.training.ir_drop`); the
sense amplifier optionally clamps each column's current. Cell currents are linear in the
programmed sign, ``I_cell = c0 + b c1``, so one die is two tensors per layer and gradients
flow through it.

Training modes
--------------
* ``ideal`` — trained on ideal weights (no defects, no circuit), then evaluated on every die;
* ``hardware_aware`` — one network per die: the ideal network fine-tuned through that die's
  circuit (``hardware_aware_epochs``);
* ``statistics_aware`` — a fresh random die (defects and spread from the configured
  statistics, never one of the evaluation dies) for every minibatch; one network for all dies.

With ``recalibrate_inputs`` the ideal and statistics-aware networks are also evaluated after a
per-die threshold trim: the hidden comparators' thresholds (the folded batch normalisation) are
re-estimated from unlabeled inputs read through the die. It needs no labels and reprograms no
junction, only each comparator's reference.
"""

import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from memcosim.base.atomic import atomic_path, write_text_atomic
from memcosim.circuits.cell_read import series_cell_current_a
from memcosim.devices import mtj
from memcosim.base.errors import ConfigError
from memcosim.base.seeding import numpy_rng, stream_seed, torch_generator
from memcosim.training.data import load_dataset
from memcosim.training.ir_drop import effective_conductance, exact_effective_conductance

__all__ = ["DieCircuit", "DiesConfig", "BinaryMTJNet", "die_layers", "run_dies", "recalibrate", "binarize_inputs",
           "mtj_count"]

MODES = ("ideal", "hardware_aware", "statistics_aware")


@dataclass(frozen=True)
class DieCircuit:
    """How a die's array is built and read."""

    params: mtj.MTJParams
    rates: mtj.DefectRates
    access: object = None
    """AccessTransistor of the 1T1MTJ cells, or None (1R cells: a short is ``1 / r_short_ohm``)."""
    read_voltage_v: float = 0.1
    r_wire_ohm: float = 0.0
    r_driver_ohm: float = 0.0
    ir_a: float = 1.0
    """First-order IR-drop coefficients (1, 1 = the analytic first order)."""
    ir_b: float = 1.0
    array_rows: int = 256
    array_cols: int = 256
    sense_clamp_a: float | None = None
    """Column current limit of the sense amplifier, amperes (None: unclamped)."""
    device_to_device_std: float = 0.0
    """Lognormal sigma of R_P and TMR across cells."""
    ir_model: str = "first_order"
    """IR-drop of a die when *evaluating* on it: ``first_order`` (the fitted model, also what
    training differentiates through) or ``exact`` (every tile solved by the native nodal solver)."""
    sense_offset_a: float = 0.0
    """Input-referred offset of each comparator / sense amplifier, amperes (Gaussian sigma;
    every die draws its own). It is what makes a small read margin cost accuracy."""

    def __post_init__(self):
        if self.ir_model not in ("first_order", "exact"):
            raise ConfigError(f"ir_model: must be 'first_order' or 'exact', got {self.ir_model!r}")
        if self.ir_model == "exact" and not (self.r_wire_ohm > 0 and self.r_driver_ohm > 0):
            raise ConfigError("training.forward: 'exact' die evaluation needs array.r_wire_ohm > 0 and "
                              "array.r_driver_ohm > 0 (the nodal solve of the wires)")


def mtj_count(n_in, hidden, n_out=10):
    """Junctions of the differential two-layer network."""
    return 2 * (n_in * hidden + hidden * n_out)


def binarize_inputs(x, pool, threshold=0.5):
    """Average-pool square images ``pool x pool`` and threshold (0/1 float tensor)."""
    side = int(round(math.sqrt(x.shape[1])))
    img = x.reshape(-1, 1, side, side)
    if pool > 1:
        img = nn.functional.avg_pool2d(img, pool)
    return (img.reshape(len(x), -1) > threshold).float()


def _cell_conductance(state, defects, devices, circuit):
    """Read conductance (current / V) of cells programmed to ``state`` on this die, siemens."""
    r = mtj.cell_resistance_ohm(state, defects, circuit.read_voltage_v, circuit.params, devices)
    i = series_cell_current_a(r, circuit.read_voltage_v, circuit.access)
    return i / circuit.read_voltage_v


def die_layers(shapes, circuit, seed, die):
    """Per-layer ``(c0, c1)`` conductance tensors of one die: ``G+ - G- = c0 + b c1``, plus arrays.

    Parameters
    ----------
    shapes : list of (inputs, outputs)
    circuit : DieCircuit
    seed, die : int
        The die's defect map and spread come from these (same die, same arrays).

    Returns
    -------
    list of dict
        Per layer: ``p_if_pos``, ``p_if_neg``, ``m_if_pos``, ``m_if_neg`` (float32, (inputs,
        outputs)): the read conductance of the plus and minus cell when the weight is +1 or -1;
        ``offset_a`` (outputs,): the sense amplifiers' offsets, when the circuit has them.
    """
    out = []
    rng = numpy_rng(seed, f"dies/die{die}/variation")
    for k, (n_in, n_out) in enumerate(shapes):
        shape = (n_in, 2 * n_out)  # plus and minus columns side by side
        defects = mtj.defect_map(shape, circuit.rates, stream_seed(seed, f"layer{k}"), die=die)
        devices = None
        if circuit.device_to_device_std > 0:
            p = circuit.params
            devices = {"r_p_ohm": p.r_p_ohm * np.exp(circuit.device_to_device_std * rng.standard_normal(shape)),
                       "tmr0": p.tmr0 * np.exp(circuit.device_to_device_std * rng.standard_normal(shape))}
        g_p = _cell_conductance(np.full(shape, mtj.P), defects, devices, circuit)
        g_ap = _cell_conductance(np.full(shape, mtj.AP), defects, devices, circuit)
        t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        plus_p, plus_ap = g_p[:, :n_out], g_ap[:, :n_out]
        minus_p, minus_ap = g_p[:, n_out:], g_ap[:, n_out:]
        # weight +1: plus cell P, minus cell AP; weight -1: plus AP, minus P
        layer = {"p_if_pos": t(plus_p), "p_if_neg": t(plus_ap), "m_if_pos": t(minus_ap), "m_if_neg": t(minus_p)}
        if circuit.sense_offset_a > 0:
            layer["offset_a"] = t(circuit.sense_offset_a * rng.standard_normal(n_out))
        out.append(layer)
    return out


def _nominal_window(circuit):
    """(G_P, G_AP) of a defect-free nominal cell at the read voltage, siemens."""
    g = _cell_conductance(np.array([mtj.P, mtj.AP]), np.array([mtj.OK, mtj.OK]), None, circuit)
    return float(g[0]), float(g[1])


class _SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1).to(grad.dtype)


class BinaryMTJNet(nn.Module):
    """Two binary layers on differential MTJ pairs (see module docstring)."""

    def __init__(self, n_in, hidden, n_out, circuit, seed=0):
        super().__init__()
        gen = torch_generator(seed, "dies/init")
        self.w1 = nn.Parameter(torch.empty(n_in, hidden).uniform_(-1, 1, generator=gen))
        self.w2 = nn.Parameter(torch.empty(hidden, n_out).uniform_(-1, 1, generator=gen))
        self.bn = nn.BatchNorm1d(hidden)
        self.out_scale = nn.Parameter(torch.tensor(1.0))
        self.circuit = circuit
        g_p, g_ap = _nominal_window(circuit)
        self.g_unit = (g_p - g_ap)  # conductance difference of one ideal +1 weight, siemens

    def shapes(self):
        return [tuple(self.w1.shape), tuple(self.w2.shape)]

    def _layer(self, v, w, die_layer):
        """Differential column currents (A) of binary weights ``sign(w)`` for read voltages ``v``."""
        b = _SignSTE.apply(w)
        if die_layer is None:
            return v @ (b * self.g_unit)
        c = self.circuit
        # G = pos * G_if_pos + (1 - pos) * G_if_neg, written through b for the straight-through gradient
        half = 0.5 * (b + 1.0)
        g_plus = die_layer["p_if_neg"] + half * (die_layer["p_if_pos"] - die_layer["p_if_neg"])
        g_minus = die_layer["m_if_neg"] + half * (die_layer["m_if_pos"] - die_layer["m_if_neg"])
        if c.r_wire_ohm > 0 or c.r_driver_ohm > 0:
            # plus and minus columns share the row wires: one array per layer tile
            both = torch.cat([g_plus, g_minus], dim=1)
            if c.ir_model == "exact" and not torch.is_grad_enabled():
                both = exact_effective_conductance(both, c.r_wire_ohm, c.r_driver_ohm, c.array_rows, c.array_cols)
            else:
                both = effective_conductance(both, c.r_wire_ohm, c.r_driver_ohm, c.ir_a, c.ir_b, c.array_rows,
                                             c.array_cols)
            g_plus, g_minus = both[:, : g_plus.shape[1]], both[:, g_plus.shape[1] :]
        i_plus, i_minus = v @ g_plus, v @ g_minus
        if c.sense_clamp_a is not None:
            i_plus = torch.clamp(i_plus, max=c.sense_clamp_a)
            i_minus = torch.clamp(i_minus, max=c.sense_clamp_a)
        if "offset_a" in die_layer:
            return i_plus - i_minus + die_layer["offset_a"]
        return i_plus - i_minus

    def hidden(self, x, die=None):
        """Comparator outputs (0/1) of the hidden layer for binary inputs ``x``."""
        scale = self.circuit.read_voltage_v * self.g_unit
        z = self._layer(x * self.circuit.read_voltage_v, self.w1, die[0] if die else None) / scale
        return 0.5 * (_SignSTE.apply(self.bn(z)) + 1.0)

    def forward(self, x, die=None):
        """Logits for binary inputs ``x`` (0/1); ``die``: a :func:`die_layers` list or None (ideal)."""
        h = self.hidden(x, die)  # the comparators' 0/1 outputs drive the second layer
        scale = self.circuit.read_voltage_v * self.g_unit
        y = self._layer(h * self.circuit.read_voltage_v, self.w2, die[1] if die else None) / scale
        return y * self.out_scale / math.sqrt(self.w2.shape[0])

    def clip_(self):
        with torch.no_grad():
            self.w1.clamp_(-1, 1)
            self.w2.clamp_(-1, 1)


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
    seed: int = 0
    """Study seed: dies, initial weights and minibatch order derive from it."""
    modes: tuple = field(default=MODES)
    recalibrate_inputs: int = 0
    """When > 0, ``ideal`` and ``statistics_aware`` are also reported with each die's comparator
    thresholds re-measured from this many unlabeled training inputs read through that die
    (``<mode>_recalibrated``): a per-die trim of the references, no weights reprogrammed."""
    hardware_aware_epochs: int = 1
    """Per-die training of ``hardware_aware`` starts from the ideal network and runs this many
    epochs through the die's circuit (N dies: N fine-tunings, not N trainings from scratch)."""

    def __post_init__(self):
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise ConfigError(f"training.die_modes: unknown mode(s) {bad}; allowed: {', '.join(MODES)}")
        if self.n_dies < 1:
            raise ConfigError(f"training.dies: must be >= 1, got {self.n_dies}")


def _train(net, x, y, cfg, die_for_batch, tag, progress, epochs=None):
    net.train()
    epochs = cfg.epochs if epochs is None else epochs
    n = len(y)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    # one-cycle: warm up, then anneal to ~0 so the binary weights settle (2-3 points better than
    # a constant rate for this network)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.learning_rate,
                                                   total_steps=epochs * math.ceil(n / cfg.batch_size))
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=torch_generator(cfg.seed, f"dies/{tag}/shuffle/{epoch}"))
        for k, i in enumerate(range(0, n, cfg.batch_size)):
            idx = order[i : i + cfg.batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[idx], die_for_batch(epoch, k)), y[idx]).backward()
            opt.step()
            schedule.step()
            net.clip_()
        if progress is not None:
            progress(tag, epoch + 1)
    net.eval()
    return net


@torch.no_grad()
def recalibrate(net, die, x):
    """A copy of ``net`` whose comparator thresholds are re-measured on ``die`` from inputs ``x``."""
    trimmed = copy.deepcopy(net)
    trimmed.bn.reset_running_stats()
    trimmed.bn.momentum = None  # cumulative average over the calibration batch
    trimmed.train()
    trimmed.hidden(x, die)
    return trimmed.eval()


@torch.no_grad()
def _error(net, x, y, die):
    net.eval()
    # one pass: an exact-IR die builds its effective conductances once per evaluation
    return int((net(x, die).argmax(dim=1) != y).sum()) / len(y)


def _trained(make, train_it, path):
    """A trained network: loaded from the checkpoint ``path`` if there is one, else trained and saved."""
    net = make()
    if path is not None and path.exists():
        net.load_state_dict(torch.load(path, weights_only=True))
        return net.eval()
    net = train_it(net)
    if path is not None:
        with atomic_path(path) as tmp:
            torch.save(net.state_dict(), tmp)
    return net


def run_dies(cfg, progress=None, checkpoint_dir=None):
    """Train and evaluate every mode on every die.

    With ``checkpoint_dir`` every finished stage is saved there (the ideal and statistics-aware
    networks, each die's hardware-aware error) and a rerun picks up where an interrupted one
    stopped, with the same results: every stage draws from its own seeded streams.

    Returns
    -------
    dict
        ``software_error`` (ideal network, ideal weights), per mode ``{"die_errors": [...],
        "mean", "std", "min", "max"}``, ``mtj_count``, ``inputs``, ``read_energy_per_inference_j``
        (DC read energy of both layers for the mean test input on die 0, per read of
        ``read_time_s`` = 10 ns) and timings.
    """
    t0 = time.perf_counter()
    data = load_dataset(cfg.dataset, cfg.data_dir, cfg.seed)
    train_x = binarize_inputs(data.train_x, cfg.pool, cfg.input_threshold)
    test_x = binarize_inputs(data.test_x, cfg.pool, cfg.input_threshold)
    train_y, test_y = data.train_y, data.test_y
    n_in = train_x.shape[1]
    shapes = [(n_in, cfg.hidden), (cfg.hidden, data.n_classes)]
    dies = [die_layers(shapes, cfg.circuit, cfg.seed, d) for d in range(cfg.n_dies)]
    results = {"inputs": n_in, "hidden": cfg.hidden, "mtj_count": mtj_count(n_in, cfg.hidden, data.n_classes),
               "n_dies": cfg.n_dies, "modes": {}}

    def summary(errors):
        e = np.asarray(errors)
        return {"die_errors": e.tolist(), "mean": float(e.mean()), "std": float(e.std()), "min": float(e.min()),
                "max": float(e.max())}

    ckpt = None
    if checkpoint_dir is not None:
        ckpt = Path(checkpoint_dir)
        ckpt.mkdir(parents=True, exist_ok=True)

    def fresh():
        return BinaryMTJNet(n_in, cfg.hidden, data.n_classes, cfg.circuit, cfg.seed)

    # the ideal network is also the software baseline (ideal weights, no circuit)
    ideal_net = _trained(fresh, lambda net: _train(net, train_x, train_y, cfg, lambda e, k: None, "ideal", progress),
                         ckpt / "ideal.pt" if ckpt else None)
    results["software_error"] = _error(ideal_net, test_x, test_y, None)
    calibration_x = train_x[: cfg.recalibrate_inputs]

    def evaluate(mode, net):
        results["modes"][mode] = summary([_error(net, test_x, test_y, die) for die in dies])
        if cfg.recalibrate_inputs > 0:
            results["modes"][f"{mode}_recalibrated"] = summary(
                [_error(recalibrate(net, die, calibration_x), test_x, test_y, die) for die in dies])

    if "ideal" in cfg.modes:
        evaluate("ideal", ideal_net)
    if "statistics_aware" in cfg.modes:
        def random_die(epoch, k):
            return die_layers(shapes, cfg.circuit, cfg.seed, 10**9 + epoch * 10**6 + k)

        net = _trained(fresh, lambda net: _train(net, train_x, train_y, cfg, random_die, "statistics_aware", progress),
                       ckpt / "statistics_aware.pt" if ckpt else None)
        evaluate("statistics_aware", net)
    if "hardware_aware" in cfg.modes:
        done = ckpt / "hardware_aware.json" if ckpt else None
        errors = json.loads(done.read_text())["die_errors"] if done is not None and done.exists() else []
        for d, die in enumerate(dies[len(errors):], len(errors)):
            net = copy.deepcopy(ideal_net)
            net = _train(net, train_x, train_y, cfg, lambda e, k, die=die: die, f"hardware_aware/die{d}", progress,
                         epochs=cfg.hardware_aware_epochs)
            errors.append(_error(net, test_x, test_y, die))
            if done is not None:
                write_text_atomic(done, json.dumps({"die_errors": errors}) + "\n")
        results["modes"]["hardware_aware"] = summary(errors)
    results["read_energy_per_inference_j"] = _read_energy(dies[0], test_x, cfg.circuit, ideal_net)
    results["elapsed_s"] = time.perf_counter() - t0
    return results


@torch.no_grad()
def _read_energy(die, x, circuit, net, read_time_s=1e-8):
    """Mean DC read energy of one inference on ``die``: ``t V^2 sum g`` over both layers' cells."""
    v = circuit.read_voltage_v
    activity = (x.mean(dim=0), net.hidden(x, die).mean(dim=0))  # mean fraction of rows driven
    energy = 0.0
    for active, layer, w in zip(activity, die, (net.w1, net.w2)):
        pos = (w >= 0).float()  # the programmed sign, as _SignSTE reads it
        g = pos * (layer["p_if_pos"] + layer["m_if_pos"]) + (1 - pos) * (layer["p_if_neg"] + layer["m_if_neg"])
        energy += read_time_s * v * v * float((active @ g).sum())
    return energy
