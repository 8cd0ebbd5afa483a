"""Progress of a study while it runs: the events a run sends, and their display.

A run (inline, in a worker process or on a Dask worker) reports through :class:`RunEvent`\\ s,
sent as plain dicts (:meth:`RunEvent.to_json`: picklable and msgpack-serialisable, so the same
event crosses a process pool's queue and Dask's event stream). :class:`Progress` shows them: on
a terminal one bar per active run, updated in place (tqdm), under a bar of the finished runs;
elsewhere (a log file, CI) one plain line per epoch, stage or warning.

Examples
--------
>>> import io
>>> out = io.StringIO()
>>> show = Progress(bars=False, file=out)
>>> show.event(RunEvent("000_width=2e-08_ab12cd", "epoch", done=1, total=4, unit="epoch",
...                     metrics={"accuracy": 0.5, "array_energy_per_update_j": 2e-11}))
>>> out.getvalue()
'run 000_width=2e-08: epoch 1/4, accuracy 50.00%, 2e-11 J/update\\n'
"""

import sys
import time
from dataclasses import dataclass, field

from memcosim.base.typed import JsonRecord

__all__ = ["RunEvent", "EVENT_KINDS", "Progress", "run_label"]

EVENT_KINDS = ("start", "progress", "epoch", "stage", "warning", "end")


def run_label(run_id):
    """A run's short name: its id without the trailing hash (``003_pulse_width_s=2e-06``)."""
    head, _, tail = run_id.rpartition("_")
    return head if head and len(tail) == 6 else run_id


@dataclass(frozen=True)
class RunEvent(JsonRecord):
    """One thing a running run reports (``to_json`` / ``from_json``: :class:`~memcosim.base.typed.JsonRecord`)."""

    run_id: str
    kind: str
    """``start`` (the run began), ``progress`` (inside an epoch), ``epoch`` (an epoch ended:
    ``record`` is its epoch record), ``stage`` (a die-study step ended: ``text`` names it),
    ``warning`` (``text``; ``code`` names the check) or ``end`` (the run's last event: nothing of
    it follows, so the study side knows it has every line before it reports the run)."""
    done: float = 0.0
    """Epochs (MLP) or steps (die study: epochs of every stage) done, fractional inside one."""
    total: float = 0.0
    """Epochs or steps of the whole run."""
    unit: str = "epoch"
    text: str = ""
    code: str = ""
    metrics: dict = field(default_factory=dict)
    """Headline numbers so far: ``accuracy``, ``array_energy_per_update_j``, ``cumulative_energy_j``."""
    record: dict = field(default_factory=dict)
    """The epoch record (kind ``epoch``), as the trainer wrote it."""

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"RunEvent.kind: allowed: {', '.join(EVENT_KINDS)}; got {self.kind!r}")


def _eta(seconds):
    from tqdm import tqdm

    return tqdm.format_interval(max(0.0, seconds))


def _metrics_text(metrics, short=False):
    parts = []
    if metrics.get("accuracy") is not None:
        parts.append(f"{'acc ' if short else 'accuracy '}{metrics['accuracy']:.2%}")
    if metrics.get("array_energy_per_update_j") is not None:
        parts.append(f"{metrics['array_energy_per_update_j']:.3g} J/update")
    if metrics.get("cumulative_energy_j") is not None and not short:
        parts.append(f"{metrics['cumulative_energy_j']:.3g} J so far")
    return ", ".join(parts)


class _Active:
    """What the display keeps of one active run."""

    def __init__(self, label):
        self.label = label
        self.bar = None
        self.started = None  # when its start event came
        self.since = None  # (time, done) the ETA counts from
        self.total = 0.0
        self.done = 0.0
        self.postfix = ""

    def eta_s(self, now):
        if self.since is None or self.done <= self.since[1] or self.total <= self.done:
            return None
        t0, d0 = self.since
        if now <= t0:
            return None
        return (self.total - self.done) * (now - t0) / (self.done - d0)


class Progress:
    """Shows a study's progress: a bar per active run in place, or plain lines.

    Parameters
    ----------
    bars : bool, optional
        In-place tqdm bars (a terminal) or plain lines (a log file, CI). Default: bars when
        ``file`` is a terminal.
    file : file object, optional
        Where to write (default ``sys.stderr``).

    Notes
    -----
    The methods are called by :func:`memcosim.run.run_study` in the process that runs the study:
    :meth:`study` (runs in the study and runs already finished), :meth:`event` (every
    :class:`RunEvent`), :meth:`finished` (a run's record arrived), :meth:`close`. Events of a
    run that has finished are ignored (a worker's last events may arrive after its result).
    """

    def __init__(self, bars=None, file=None):
        self.file = file if file is not None else sys.stderr
        if bars is None:
            isatty = getattr(self.file, "isatty", None)
            bars = bool(isatty and isatty())
        self.bars = bars
        self._runs = {}
        self._done = set()
        self._overall = None

    # -- the study
    def study(self, total, finished):
        """``total`` runs in the study, ``finished`` of them done (earlier, or in this call)."""
        if not self.bars:
            return
        if self._overall is None:
            from tqdm import tqdm

            self._overall = tqdm(total=total, desc="runs", unit="run", file=self.file, position=0, dynamic_ncols=True)
        self._overall.n = finished
        self._overall.refresh()

    def finished(self, run_id, finished=None):
        """``run_id`` ended (its record arrived); ``finished``: runs done so far."""
        self._done.add(run_id)
        run = self._runs.pop(run_id, None)
        if run is not None and run.bar is not None:
            run.bar.close()
        if self._overall is not None and finished is not None:
            self._overall.n = finished
            self._overall.refresh()

    def write(self, line):
        """A line above the bars (or a plain line)."""
        if self.bars:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stdout if self.file is sys.stderr else self.file)
        else:
            print(line, file=self.file, flush=True)

    def close(self):
        for run in self._runs.values():
            if run.bar is not None:
                run.bar.close()
        self._runs.clear()
        if self._overall is not None:
            self._overall.close()
            self._overall = None

    # -- the runs
    def event(self, event):
        """Show one :class:`RunEvent` (or its :meth:`~RunEvent.to_json` dict)."""
        if isinstance(event, dict):
            event = RunEvent.from_json(event)
        if event.run_id in self._done:
            return
        run = self._runs.get(event.run_id)
        if run is None:
            run = self._runs[event.run_id] = _Active(run_label(event.run_id))
        now = time.monotonic()
        if event.kind == "warning":
            self._line(run, f"warning: {event.text}", always=True)
            return
        if event.kind == "start":
            run.started = now
            if not self.bars:
                self._line(run, "started")
            return
        run.total, run.done = event.total, event.done
        if run.since is None:
            # the ETA counts from the start, at what the first report says was done before it (a
            # resumed run continues from its checkpoint): the epoch the first in-epoch report is
            # in, or one step less than the first epoch or stage that ended
            base = int(event.done) if event.kind == "progress" else event.done - 1.0
            run.since = (run.started if run.started is not None else now, max(0.0, base))
        if event.kind == "epoch":
            run.postfix = _metrics_text(event.metrics, short=True)
            self._line(run, f"epoch {event.done:.0f}/{event.total:.0f}" + _sep(_metrics_text(event.metrics))
                       + self._eta_text(run, now))
        elif event.kind == "stage":
            run.postfix = event.text
            self._line(run, f"{event.text} (step {event.done:.0f}/{event.total:.0f})" + self._eta_text(run, now))
        if self.bars:
            self._bar(run, event)

    def _eta_text(self, run, now):
        eta = run.eta_s(now)
        return "" if eta is None else f", ETA {_eta(eta)}"

    def _line(self, run, text, always=False):
        if always or not self.bars:
            self.write(f"run {run.label}: {text}")

    def _bar(self, run, event):
        if run.bar is None:
            from tqdm import tqdm

            run.bar = tqdm(total=event.total, initial=event.done, desc=run.label, unit=event.unit, file=self.file,
                           leave=False, dynamic_ncols=True,
                           bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total_fmt} {unit} "
                                      "[{elapsed}<{remaining}{postfix}]")
        run.bar.total = event.total
        run.bar.set_postfix_str(run.postfix, refresh=False)
        run.bar.update(event.done - run.bar.n)
        if event.kind != "progress":  # an epoch's numbers are shown at once, not at tqdm's next redraw
            run.bar.refresh()


def _sep(text):
    return f", {text}" if text else ""
