"""How a run's progress events reach the process that runs the study.

Worker side: :func:`emitter` turns a task's ``events`` spec into the function its
:class:`~memcosim.watch.RunWatch` sends through: ``"pool"`` puts into the multiprocessing queue
a pool worker got from :func:`pool_worker` (its initializer), ``"dask:<topic>"`` logs a Dask
event under ``topic`` (``Worker.log_event``). Inline runs call the sink directly.

Study side: :class:`Sink` hands every event to the display (:class:`memcosim.progress.Progress`)
and the TensorBoard log (:class:`memcosim.tblog.TensorBoardLog`), and each finished run's record
to both; :class:`Channel` is the queue or Dask topic the sink reads (:meth:`Channel.drain`,
called by the loop that waits for the runs). Events are best effort: one lost (a worker killed)
costs a line of progress, never a result.
"""

import logging
import multiprocessing
import queue
import time
import uuid

from memcosim.base.processes import die_with_parent

__all__ = ["Sink", "Channel", "emitter", "pool_worker"]

log = logging.getLogger(__name__)

_POOL_EVENTS = None
"""In a pool worker: the queue its runs' progress events go into (set by :func:`pool_worker`)."""


def pool_worker(events):
    """Initializer of a pool worker: exit with the parent; progress events into ``events``."""
    global _POOL_EVENTS
    die_with_parent()
    events.cancel_join_thread()  # a worker never waits at exit for events nobody reads any more
    _POOL_EVENTS = events


def emitter(spec):
    """The progress emitter of a task's ``events`` in this process, or None."""
    if spec == "pool" and _POOL_EVENTS is not None:
        return _POOL_EVENTS.put
    if spec and spec.startswith("dask:"):
        try:
            from distributed import get_worker

            worker = get_worker()
        except (ImportError, ValueError):
            return None
        topic = spec[len("dask:"):]
        return lambda event: worker.log_event(topic, event)
    return None


class Sink:
    """This process's end of the runs' progress events: the display and the TensorBoard log."""

    def __init__(self, display, tb):
        self.display, self.tb = display, tb
        self._finished = set()
        self.ended = set()
        """Runs whose ``end`` event came: every event of theirs has been handed on."""

    def study(self, total, finished):
        if self.display is not None:
            self.display.study(total, finished)

    def event(self, data):
        from memcosim.progress import RunEvent

        event = RunEvent.from_json(data)
        if event.kind == "end":
            self.ended.add(event.run_id)
            return
        if event.run_id in self._finished:
            return  # a worker's last events may come after its result
        if self.display is not None:
            self.display.event(event)
        if self.tb is not None and event.kind == "epoch" and event.record:
            self.tb.epoch(event.run_id, event.record)

    def finished(self, record, finished):
        self._finished.add(record["run_id"])
        if self.display is not None:
            self.display.finished(record["run_id"], finished)
        if self.tb is not None:
            self.tb.finished(record)

    def channel(self, workers, client):
        return Channel(self, workers, client)

    def close(self):
        if self.display is not None:
            self.display.close()
        if self.tb is not None:
            self.tb.close()


def _logged_event(event):
    """The progress event of a Dask event-stream entry ``(time, dict)``: the dict the worker logged,
    less the ``worker`` address Dask adds to it (a :class:`RunEvent` refuses keys it does not know)."""
    data = dict(event[1])
    data.pop("worker", None)
    return data


class Channel:
    """How events reach the sink: called directly (inline), a multiprocessing queue (pool), or
    Dask's event stream (a topic this study subscribes to); :meth:`drain` hands on what came."""

    def __init__(self, sink, workers, client):
        self.sink, self.client = sink, client
        self.queue, self.topic = None, None
        if client is not None:
            self.topic = f"memcosim-progress-{uuid.uuid4().hex}"
            self.queue = queue.SimpleQueue()
            client.subscribe_topic(self.topic, lambda event: self.queue.put(_logged_event(event)))
            self.spec = f"dask:{self.topic}"
        elif workers > 1:
            self.context = multiprocessing.get_context()
            self.queue = self.context.Queue()
            self.spec = "pool"
        else:
            self.spec = None  # inline: run_one gets the sink's own method

    def drain(self):
        while self.queue is not None:
            try:
                data = self.queue.get_nowait()
            except (queue.Empty, OSError, EOFError, ValueError):
                return
            self.sink.event(data)

    def wait_for_end(self, run_id, timeout_s=10.0):
        """Hand on events until ``run_id``'s ``end`` event has come (a pool worker's queue or Dask's
        event stream may deliver a run's last events after its result), at most ``timeout_s``
        seconds (a killed worker)."""
        deadline = time.monotonic() + timeout_s
        while self.queue is not None and run_id not in self.sink.ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.debug("progress of %s: no end event within %g s", run_id, timeout_s)
                return
            try:
                data = self.queue.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            except (OSError, EOFError, ValueError):
                return
            self.sink.event(data)

    def close(self):
        if self.topic is not None:
            try:
                self.client.unsubscribe_topic(self.topic)
            except Exception as exc:  # noqa: BLE001 - the study is over; the client may be closing
                log.debug("unsubscribing %s: %s", self.topic, exc)
