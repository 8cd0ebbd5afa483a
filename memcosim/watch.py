"""A run watched while it trains: its progress events and the warnings it earns.

:class:`RunWatch` sits in the process that trains a run (inline, a pool worker or a Dask
worker). The trainer's callbacks (``on_data``, ``on_batch``, ``on_epoch``; the die study's
``progress``) become :class:`~memcosim.progress.RunEvent`\\ s sent to ``emit``, and each epoch
is checked. A warning is sent once per run, when it is first seen; :meth:`RunWatch.finish`
gives the run's warnings for its ``run.json``, computed from the epoch records alone (a resumed
run gets the same list as an uninterrupted one).

The checks
----------
* an epoch that applied no programming pulses (a pulsed run): the trainer's own warning
  (:func:`memcosim.training.loop.fit`), sent here when it happens;
* test accuracy at chance (:func:`at_chance`), from the first epoch on;
* the run's pulses outside the pulse widths or amplitudes the circuit characterisation
  simulated (:func:`outside_characterisation`): its energy per update is then extrapolated
  from the fitted model;
* a NaN or infinite loss stops the run with an error (the trainer's, unchanged).
"""

import contextlib
import logging
import math
import time

from memcosim.progress import RunEvent

__all__ = ["RunWatch", "at_chance", "outside_characterisation", "die_steps"]

log = logging.getLogger(__name__)

NO_PULSES = "no_pulses"
CHANCE = "chance"
ENERGY_RANGE = "energy_range"


def at_chance(epochs, n_classes, n_test):
    """The warning for the first epoch whose test accuracy is at chance, or None.

    At chance: no more than ``1 / n_classes`` plus three standard deviations of the accuracy of
    random guesses on ``n_test`` examples (binomial): 14.7 % for the 359 test digits, 10.9 % for
    MNIST's 10 000.

    >>> at_chance([{"epoch": 1, "test_accuracy": 0.12}], 10, 359)[:40]
    'test accuracy 12.00% after epoch 1 is at'
    >>> at_chance([{"epoch": 1, "test_accuracy": 0.5}], 10, 359) is None
    True
    """
    if n_classes < 2 or n_test < 1:
        return None
    p = 1.0 / n_classes
    line = p + 3.0 * math.sqrt(p * (1.0 - p) / n_test)
    for e in epochs:
        acc = e.get("test_accuracy")
        if acc is not None and acc <= line:
            return (f"test accuracy {acc:.2%} after epoch {e['epoch']} is at chance ({p:.0%} for {n_classes} classes, "
                    f"{line:.1%} at three standard deviations on {n_test} test examples): the network is not learning "
                    "(check training.learning_rate, the device's step against the updates, and the pulses per epoch)")
    return None


def outside_characterisation(grid, width_s, amplitudes_v=()):
    """The warning when pulses lie outside what the write-energy characterisation simulated, or None.

    ``grid``: the ``grid`` of the fitted write-energy model (``widths_s``, ``amplitudes_v``);
    ``width_s``: the run's pulse width; ``amplitudes_v``: its pulse magnitudes (volts).

    >>> outside_characterisation({"widths_s": [2e-8, 2e-4], "amplitudes_v": [2.5, 3.5]}, 1e-3, [3.0])[:52]
    'energy per update extrapolated: device.pulse_width_s'
    >>> outside_characterisation({"widths_s": [2e-8, 2e-4], "amplitudes_v": [2.5, 3.5]}, 2e-4, [3.0]) is None
    True
    """
    out = []
    checks = [("device.pulse_width_s", "s", [width_s], grid.get("widths_s") or []),
              ("device.pulse_amplitude_v", "V", [abs(a) for a in amplitudes_v], [abs(a) for a in grid.get("amplitudes_v") or []])]
    for name, unit, values, simulated in checks:
        if not values or not simulated:
            continue
        lo, hi = min(simulated), max(simulated)
        bad = [v for v in values if v < lo * (1 - 1e-9) or v > hi * (1 + 1e-9)]
        if bad:
            out.append(f"{name} = {bad[0]:g} {unit} is outside the {lo:g}-{hi:g} {unit} that the characterisation simulated")
    if not out:
        return None
    return ("energy per update extrapolated: " + "; ".join(out)
            + ": the fitted circuit model is used beyond its sweep (widen the characterisation or check the pulse)")


def die_steps(epochs, n_dies, hardware_aware_epochs, modes):
    """The steps of a die study (:func:`memcosim.training.dies.run_dies`) in the order it runs them.

    Returns ``{stage: (steps before it, its epochs)}`` and the total: the ideal network, then
    the statistics-aware one, then each die's hardware-aware fine-tuning.
    """
    plan, at = {"ideal": (0, epochs)}, epochs
    if "statistics_aware" in modes:
        plan["statistics_aware"] = (at, epochs)
        at += epochs
    if "hardware_aware" in modes:
        for d in range(n_dies):
            plan[f"hardware_aware/die{d}"] = (at, hardware_aware_epochs)
            at += hardware_aware_epochs
    return plan, at


class _TrainerWarnings(logging.Filter):
    """Holds back the trainer's logged warnings while a watch reports them (once, as events)."""

    def filter(self, record):
        return record.levelno < logging.WARNING


class RunWatch:
    """Progress events and checks of one run, in the process that trains it.

    Parameters
    ----------
    run_id : str
    emit : callable, optional
        Called with each event as a dict (:meth:`RunEvent.to_json`); None: the run is only
        checked (its warnings still go into its ``run.json``).
    min_interval_s : float
        At most one in-epoch progress event per this many seconds.
    """

    def __init__(self, run_id, emit=None, min_interval_s=1.0):
        self.run_id = run_id
        self._emit = emit
        self._min_interval_s = min_interval_s
        self._last = -math.inf
        self._sent = set()
        self._epochs = []
        self.total = 0
        self.unit = "epoch"
        self.expect_pulses = False
        self.n_classes = self.n_test = 0
        self.static_warnings = []
        self._plan = None

    def _send(self, kind, **fields):
        if self._emit is None:
            return
        try:
            self._emit(RunEvent(self.run_id, kind, total=self.total, unit=self.unit, **fields).to_json())
        except Exception as exc:  # noqa: BLE001 - progress must never stop a run
            log.debug("progress event of %s not sent: %s", self.run_id, exc)

    def end(self):
        """Send the run's last event (:class:`~memcosim.progress.RunEvent` kind ``end``)."""
        self._send("end")

    def warn(self, code, text):
        """Send a warning unless one of this ``code`` was sent already for this run."""
        if code in self._sent:
            return
        self._sent.add(code)
        self._send("warning", code=code, text=text)

    @contextlib.contextmanager
    def watching(self):
        """While a watch reports live, the trainer's logged warnings are not printed a second time."""
        trainer_log = logging.getLogger("memcosim.training.loop")
        held = _TrainerWarnings() if self._emit is not None else None
        if held is not None:
            trainer_log.addFilter(held)
        try:
            yield self
        finally:
            if held is not None:
                trainer_log.removeFilter(held)

    # -- an MLP run (memcosim.training.trainer.train)
    def start_training(self, epochs, expect_pulses, energy_warning=None):
        self.total, self.unit, self.expect_pulses = epochs, "epoch", expect_pulses
        self._send("start")
        if energy_warning:
            self.static_warnings.append(energy_warning)
            self.warn(ENERGY_RANGE, energy_warning)

    def data(self, dataset):
        """``on_data``: the classes and test set size the chance check needs."""
        self.n_classes, self.n_test = dataset.n_classes, len(dataset.test_y)

    def batch(self, epoch, batch, n_batches):
        """``on_batch``: an in-epoch progress event, at most one per ``min_interval_s``."""
        now = time.monotonic()
        if now - self._last < self._min_interval_s:
            return
        self._last = now
        self._send("progress", done=epoch + (batch + 1) / n_batches)

    def epoch(self, record):
        """``on_epoch``: an epoch event with the headline numbers so far, then the checks."""
        self._epochs.append(record)
        updates = record.get("updates")
        metrics = {"accuracy": record.get("test_accuracy"),
                   "array_energy_per_update_j": record["write_energy_j"] / updates if updates else None,
                   "cumulative_energy_j": record.get("cumulative_energy_j")}
        self._send("epoch", done=record["epoch"], metrics=metrics, record=record)
        if self.expect_pulses and record.get("pulses") == 0:
            self.warn(NO_PULSES, f"epoch {record['epoch']} applied no programming pulses: the crossbar weights did not "
                                 "change (one device step is larger than the updates added up to)")
        chance = at_chance([record], self.n_classes, self.n_test)
        if chance:
            self.warn(CHANCE, chance)

    def finish_training(self, results):
        """The run's warnings for its record: the trainer's, then this watch's (from every epoch).

        One not sent yet (a resumed run whose epochs were all restored) is sent now.
        """
        coded = [(NO_PULSES if "no programming pulses" in w else f"trainer: {w}", w) for w in results.warnings]
        coded += [(ENERGY_RANGE, w) for w in self.static_warnings]
        chance = at_chance(results.epochs, self.n_classes, self.n_test)
        if chance:
            coded.append((CHANCE, chance))
        for code, text in coded:
            self.warn(code, text)
        return [text for _, text in coded]

    # -- a die study (memcosim.training.dies.run_dies)
    def start_dies(self, epochs, n_dies, hardware_aware_epochs, modes):
        self._plan, self.total = die_steps(epochs, n_dies, hardware_aware_epochs, modes)
        self.unit, self._n_dies = "step", n_dies
        self._send("start")

    def stage(self, stage, epoch):
        """The die study's ``progress(stage, epoch)``: a stage event naming the mode (and die)."""
        before, epochs = self._plan.get(stage, (0, 1))
        if stage.startswith("hardware_aware/die"):
            die = int(stage.rsplit("die", 1)[1])
            text = f"hardware_aware die {die + 1}/{self._n_dies}" + (f" epoch {epoch}/{epochs}" if epochs > 1 else "")
        else:
            text = f"{stage} epoch {epoch}/{epochs}"
        self._send("stage", done=before + epoch, text=text)
