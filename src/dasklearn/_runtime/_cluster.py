"""The cluster seen from the client: which one, its workers, and waits that never hang.

Every runtime of dasklearn (the searches' backend, data-parallel groups,
linear-model blocks, adaptive searches' models, Incremental's block folds)
waits on a ``dask.distributed`` cluster. A task waits forever for a worker
when the cluster has none, so no wait here is a bare ``distributed.wait``:
each is a loop of short waits that checks the cluster still has a worker,
and a cluster left without any for ``worker_timeout()`` seconds raises
:class:`WorkersLost`, a ``RuntimeError`` that says what to do.

That limit is the dask config value ``dasklearn.worker-timeout`` (seconds or
a dask duration such as ``"5 minutes"``; unset or None: ``WORKER_TIMEOUT``;
``inf`` waits for ever): raise it for clusters whose workers take long to
arrive, e.g. from a batch queue.

The poll interval is the caller's: a runtime that must notice a lost worker
quickly polls often, one whose tasks run for seconds polls rarely. Only a
poll in which nothing finished costs a round trip to the scheduler (and one
check of the workers before each scatter: scattering needs a worker).

The searches submit their tasks before waiting for workers, so an adaptive
cluster scaled to zero (which starts workers only for waiting tasks) runs a
search on dask input; in-memory input is scattered first, which needs a
worker already.
"""

from __future__ import annotations

import contextlib
import sys
import time

__all__ = ["WORKER_TIMEOUT", "WorkersLost", "active_client", "as_default", "current_workers", "gather",
           "lost_with_worker", "scatter", "wait_on_cluster", "worker_timeout"]

WORKER_TIMEOUT = 60.0  # default seconds without any worker before a wait gives up
POLL_SECONDS = 0.25  # default seconds between two checks of the cluster's workers
SCATTER_ATTEMPTS = 11  # a scatter survives this many workers leaving during it, less one
#: the adaptive searches' models, estimators and scorers normally scatter in
#: milliseconds; an attempt that takes longer than this (plus a second per
#: 5 MB) went to a dying worker (distributed may retry it for minutes) and is
#: given up for another
SMALL_SCATTER_SECONDS = 15.0


def scatter_bound(value) -> float:
    """Seconds an attempt to scatter ``value`` may take: :data:`SMALL_SCATTER_SECONDS`,
    plus a second per 5 MB of its pickle (a slow link still gets there)."""
    import cloudpickle

    return SMALL_SCATTER_SECONDS + len(cloudpickle.dumps(value)) / 5e6


class WorkersLost(RuntimeError):
    """The cluster lost its workers (or the data they held) for good."""

    __module__ = "dasklearn.exceptions"  # where users import it from


def worker_timeout() -> float:
    """Seconds a wait tolerates a cluster without workers: the dask config
    value ``dasklearn.worker-timeout``, else ``WORKER_TIMEOUT``."""
    import dask
    from dask.utils import parse_timedelta

    given = dask.config.get("dasklearn.worker-timeout", None)
    if given is None:
        return WORKER_TIMEOUT
    value = float("nan")
    if not isinstance(given, bool):
        try:
            value = float(given)
        except (TypeError, ValueError):
            try:
                value = float(parse_timedelta(given, default="s"))
            except (TypeError, ValueError, KeyError):
                pass
    if not value > 0:
        raise ValueError(f"dask config 'dasklearn.worker-timeout' must be a positive number of seconds, "
                         f"a duration such as '5 minutes', or inf; got {given!r}.")
    return value


def in_a_task() -> bool:
    """Is this code running inside a dask.distributed task (a dasklearn
    estimator fitted by a task: a search nested in a search, say)?"""
    if "distributed" not in sys.modules:
        return False
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def in_a_one_thread_task() -> bool:
    """In a dask task, on a worker that runs one task at a time?"""
    if not in_a_task():
        return False
    from distributed import get_worker

    return get_worker().state.nthreads == 1


def local_jobs(n_jobs: int | None) -> int | None:
    """Threads for local work: ``n_jobs``; if None, one inside a task (dask
    gives each task one core), else None (the local default)."""
    return 1 if n_jobs is None and in_a_task() else n_jobs


def dashboard(client) -> str | None:
    """The dashboard's address, or why a cluster started here has none (dask
    then serves a page saying bokeh is missing at the address). A remote
    scheduler's dashboard is its own business: its address as it is."""
    from importlib.util import find_spec

    if getattr(client, "cluster", None) is not None and find_spec("bokeh") is None:
        return "none (the dashboard needs bokeh: pip install bokeh)"
    return getattr(client, "dashboard_link", None)


def active_client():
    """The default dask.distributed Client, or None when there is none.

    None inside a task too: work sent from a task to the cluster and waited
    for holds the task's worker thread, and once every thread waits so, no
    task can run (a search nested in a search on a cluster of threads hung
    forever). Nested work runs in the task's own thread instead, as
    scikit-learn runs it.
    """
    if "distributed" not in sys.modules:
        return None  # distributed never imported: no client can exist
    if in_a_task():
        return None
    from distributed import default_client

    try:
        client = default_client()
    except ValueError:
        return None
    return client if client.status == "running" else None


def lost_with_worker(x, *, recomputable: bool = False) -> bool:
    """Whether ``x`` -- a future, or the exception raised by waiting on one --
    says that data died with a worker. The one test of this, for the runtime.

    True for a CancelledError: the scheduler cancels a task whose inputs are
    gone for good ("lost dependencies"); and for a future it so cancelled (or
    that erred with a CancelledError). With ``recomputable=True``, also for a
    future whose value died with its worker and that the scheduler has yet
    to compute again (status "lost"): a loss for callers whose tasks are
    strictly pinned (only the dead worker could run them again) or that
    place data again rather than wait.
    """
    from concurrent.futures import CancelledError

    if isinstance(x, BaseException):
        return isinstance(x, CancelledError)
    status = getattr(x, "status", None)
    if status == "cancelled" or (recomputable and status == "lost"):
        return True
    return status == "error" and isinstance(x.exception(), CancelledError)


class ClientClosed(RuntimeError):
    """The Client was closed while dasklearn was using it."""

    __module__ = "dasklearn.exceptions"


_CLOSED = ("The dask Client was closed while dasklearn was using it (during a fit, say): by a call to "
           "close, or by distributed when it lost the scheduler. Keep the Client open until the call returns; "
           "if it lost the scheduler, check the scheduler's log.")


def _closed(client) -> bool:
    return getattr(client, "status", "running") in ("closing", "closed")


@contextlib.contextmanager
def closed_says_so(client):
    """Any error raised inside while ``client`` is closed becomes
    :class:`ClientClosed`: closing cancels the client's futures and breaks
    its connections, and distributed's errors for that (cancelled futures,
    closed comms) would read as a lost worker or a crash."""
    try:
        yield
    except ClientClosed:
        raise
    except Exception as exc:
        if _closed(client):
            raise ClientClosed(_CLOSED) from exc
        raise


def cancel_quietly(client, futures) -> None:
    """Cancel ``futures``, unless the Client is closed: closing cancelled them
    already, and a cancel then raises distributed's error in place of the
    one being handled."""
    futures = [f for f in futures if f is not None]
    if futures and not _closed(client):
        client.cancel(futures)


def nthreads(client) -> dict[str, int]:
    """``client.nthreads()``, or :class:`ClientClosed` once the Client is
    closed (distributed's own call then fails with an AttributeError)."""
    if _closed(client):
        raise ClientClosed(_CLOSED)
    return client.nthreads()


def _no_worker_error(timeout: float) -> WorkersLost:
    return WorkersLost(f"The cluster has had no worker for {timeout:g} s. Start workers (or scale "
                       "the cluster) and run again; to wait longer for workers, set the dask config "
                       "value 'dasklearn.worker-timeout' (seconds).")


def _emptied_after_losses(exc: WorkersLost, name: str, times: int) -> WorkersLost:
    """``exc`` (the cluster has no worker) with what came before it: a cluster
    manager stops restarting a worker that keeps dying (LocalCluster closes
    one that is still away ``distributed.deploy.lost-worker-timeout`` after a
    death), so a task that kills its worker can empty the cluster."""
    return WorkersLost(
        f"{exc} Before that, a {name} task of this run was lost with dying workers {times} "
        f"time{'s' if times > 1 else ''}: a task may be killing its worker (a memory limit, a crash in "
        "compiled code), and the cluster manager stopped restarting it. Check the workers' logs."
    )


def current_workers(client, *, timeout: float | None = None, poll: float | None = None) -> dict[str, int]:
    """``client.nthreads()`` once the cluster has a worker.

    Parameters
    ----------
    client : distributed.Client
    timeout : float, default=None
        Seconds to wait for a worker when there is none (None:
        :func:`worker_timeout`).
    poll : float, default=None
        Seconds between checks (None: ``POLL_SECONDS``).

    Returns
    -------
    dict of str to int
        The threads of each worker.

    Raises
    ------
    WorkersLost
        When no worker joined within ``timeout``.
    """
    timeout = worker_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        threads = nthreads(client)
        if threads:
            return threads
        if time.monotonic() > deadline:
            raise _no_worker_error(timeout)
        time.sleep(POLL_SECONDS if poll is None else poll)


def wait_on_cluster(client, futures, *, return_when: str = "ALL_COMPLETED", timeout: float | None = None,
                    poll: float | None = None, until: float | None = None) -> None:
    """``distributed.wait(futures)`` on ``client``, without hanging on a cluster left without workers.

    Waits in loops of ``poll`` seconds; after a loop in which the wait did
    not end, checks that the cluster still has a worker.

    Parameters
    ----------
    client : distributed.Client
        The client of ``futures`` (not necessarily the default one).
    futures : list of distributed.Future
    return_when : {'ALL_COMPLETED', 'FIRST_COMPLETED'}, default='ALL_COMPLETED'
    timeout, poll : float, default=None
        As in :func:`current_workers`.
    until : float, default=None
        Return (without raising) after this many seconds, done or not
        (None: wait until the futures are done).

    Raises
    ------
    WorkersLost
        When the cluster has had no worker for ``timeout`` seconds.
    ClientClosed
        When the wait failed because ``client`` was closed (closing
        cancels its futures: not a loss to recover from).
    concurrent.futures.CancelledError
        When a future is cancelled (as ``distributed.wait``).
    """
    from distributed import wait

    timeout = worker_timeout() if timeout is None else timeout
    poll = POLL_SECONDS if poll is None else poll
    end = None if until is None else time.monotonic() + until
    alone_since = None
    while True:
        step = poll if end is None else min(poll, max(end - time.monotonic(), 0.0))
        try:
            with closed_says_so(client), as_default(client):
                wait(futures, timeout=step, return_when=return_when)
            return
        except TimeoutError:
            if end is not None and time.monotonic() >= end:
                return
            if nthreads(client):
                alone_since = None
                continue
            alone_since = alone_since or time.monotonic()
            if time.monotonic() - alone_since > timeout:
                raise _no_worker_error(timeout) from None


def gather(client, futures, *, poll: float | None = None) -> list:
    """``client.gather(futures)`` after :func:`wait_on_cluster`: the values,
    never a wait for ever on an empty cluster. A future cancelled because
    its data died with a worker raises (a CancelledError) from the gather,
    with its key, as ``client.gather`` does."""
    from concurrent.futures import CancelledError

    futures = list(futures)
    if not futures:
        return []
    try:
        wait_on_cluster(client, futures, poll=poll)
    except CancelledError:
        pass  # raised below by the gather itself
    with closed_says_so(client):
        return client.gather(futures)


def as_default(client):
    """``distributed.wait`` uses the default client: make it ``client``, if
    it is not already (``as_current`` also sets dask's global scheduler)."""
    import contextlib

    from distributed import default_client

    try:
        if default_client() is client:
            return contextlib.nullcontext()
    except ValueError:
        pass
    return client.as_current()


def _scatter_within(client, values: list, timeout: float | None) -> list:
    """``client.scatter``, given up (a TimeoutError) after ``timeout`` seconds."""
    if timeout is None:
        return client.scatter(values, hash=False)
    import threading

    box: dict = {}

    def run():
        try:
            box["out"] = client.scatter(values, hash=False)
        except BaseException as exc:  # handed to the caller's thread
            box["exc"] = exc

    thread = threading.Thread(target=run, name="dasklearn-scatter", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():  # left to finish or fail on its own; its futures are dropped
        raise TimeoutError(f"a scatter did not finish within {timeout:g} s")
    if "exc" in box:
        raise box["exc"]
    return box["out"]


def scatter(client, values: list, *, timeout: float | None = None) -> list:
    """``client.scatter(values, hash=False)``, tried again when a worker leaves during it.

    Values go to one worker: the others fetch a value from it the first time
    a task there needs it. (dask's ``broadcast=True`` makes the scheduler
    replicate it, and its replication retries a worker that died meanwhile
    for ever: a search whose workers kept dying hung there.) A value lost
    with its only holder is cancelled, which the callers detect
    (:func:`lost_with_worker`) and place again.

    Parameters
    ----------
    client : distributed.Client
    values : list
        Each item becomes one future (a list, so that no container is split).
    timeout : float, default=None
        Give an attempt up after this many seconds and try again (see
        :func:`scatter_bound`); None waits as distributed does.

    Returns
    -------
    list of distributed.Future

    Raises
    ------
    WorkersLost
        When the cluster has no worker and none joins within :func:`worker_timeout`.
    """
    for attempt in range(SCATTER_ATTEMPTS):
        current_workers(client)  # a scatter needs a worker: wait for one (not for ever)
        try:
            with closed_says_so(client):
                return _scatter_within(client, list(values), timeout)
        except (OSError, KeyError, TimeoutError):  # a worker left during the scatter
            if attempt == SCATTER_ATTEMPTS - 1:
                raise
