"""Execution of a study's runs: inline, in a local process pool or on a Dask cluster.

:func:`execute` takes the planned :class:`~memcosim.run_task.RunTask` objects (lazily) and yields
each run's record as it finishes, with at most ``2 * workers`` (pool) or 64 (Dask) tasks
submitted at once; the runs' progress events travel through a :mod:`memcosim.channels` channel.
"""

import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from itertools import islice

from memcosim.base.errors import ConfigError
from memcosim.base.processes import die_with_parent
from memcosim.channels import pool_worker
from memcosim.run_task import run_one

__all__ = ["execute", "connect"]


def execute(tasks, workers, client, channel, total, records):
    """Yield each task's record as it finishes; at most ``2 * workers`` tasks are submitted at once.

    ``channel``: where the runs' progress events go (None: nowhere).
    """
    sink = channel.sink if channel is not None else None

    class _Counted:  # finished runs found while planning count as finished
        def __iter__(self):
            for task in tasks:
                if sink is not None:
                    sink.study(total, len(records))
                yield task

    if sink is not None:
        sink.study(total, 0)
    try:
        if client is not None:
            yield from _execute_dask(_Counted(), client, channel, window=64)
        elif workers <= 1:
            emit = sink.event if sink is not None else None
            for task in _Counted():
                yield run_one(task, emit=emit)
        else:
            extra = {} if channel is None else {"mp_context": channel.context, "initargs": (channel.queue,)}
            with ProcessPoolExecutor(max_workers=workers, initializer=pool_worker if channel else die_with_parent,
                                     **extra) as pool:
                pending, queue_ = set(), iter(_Counted())
                pending.update(pool.submit(run_one, t) for t in islice(queue_, 2 * workers))
                while pending:
                    done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    if channel is not None:
                        channel.drain()
                    for future in done:
                        yield _delivered(future.result(), channel)
                    pending.update(pool.submit(run_one, t) for t in islice(queue_, len(done)))
        if sink is not None:
            sink.study(total, len(records))
    finally:
        if channel is not None:
            channel.close()


def _delivered(record, channel):
    """A worker's finished run, once its progress events have all come through ``channel`` (they
    travel apart from the result and may arrive behind it)."""
    if channel is not None:
        channel.wait_for_end(record["run_id"])
    return record


def connect(scheduler):
    """A Dask client of the scheduler at ``scheduler``; ConfigError naming it when there is none."""
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        raise ConfigError("--scheduler: dask.distributed is not installed") from None
    try:
        return Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler: cannot connect to a Dask scheduler at {scheduler!r} ({exc}); "
                          "expected an address such as tcp://127.0.0.1:8786") from None


def _execute_dask(tasks, client, channel, window):
    from dask.distributed import as_completed as dask_completed

    queue_ = iter(tasks)
    running = dask_completed([client.submit(run_one, t, pure=False) for t in islice(queue_, window)])
    while not running.is_empty():
        if channel is not None:
            channel.drain()
        ready = running.next_batch(block=channel is None)
        if not ready:
            time.sleep(0.2)
            continue
        for future in ready:
            yield _delivered(future.result(), channel)
            for task in islice(queue_, 1):
                running.add(client.submit(run_one, task, pure=False))
