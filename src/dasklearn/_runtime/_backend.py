"""Backends: where tasks run and where data is placed.

``DistributedBackend`` wraps a ``dask.distributed.Client``; ``LocalBackend``
runs on a thread pool in this process when no client is active. Everything
else in dasklearn talks to these two classes only, through the same small
vocabulary: ``put`` (place an in-memory object once), ``materialize`` (turn a
dask collection into one in-memory object *on the cluster*), ``place_rows``
(or into its row blocks there, see ``_rows``), ``submit``,
``wait_any``, ``result``, ``cancel`` and ``release``.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from typing import Any, Callable

from dasklearn._runtime._cluster import (
    WorkersLost,
    dashboard,
    _closed,
    _emptied_after_losses,
    closed_says_so,
    active_client,
    cancel_quietly,
    gather,
    local_jobs,
    lost_with_worker,
    scatter,
    wait_on_cluster,
    nthreads as _nthreads,
)


def _is_dask_collection(obj) -> bool:
    from dask import is_dask_collection

    return is_dask_collection(obj)


def _resolve(arg):
    if isinstance(arg, cf.Future):
        return arg.result()
    if isinstance(arg, list):
        return [_resolve(a) for a in arg]
    return arg


class _InConfig:
    """``fn`` run under a given scikit-learn configuration.

    scikit-learn keeps ``set_config`` / ``config_context`` per thread, so a
    task on a worker (another process) or on a local pool thread would see
    the defaults, not the caller's ``transform_output="pandas"``,
    ``assume_finite`` or ``enable_metadata_routing``. As scikit-learn's own
    joblib tasks do, each task runs under the configuration its backend
    captured from the caller. Named as ``fn`` (dask names tasks after it).
    """

    def __init__(self, fn: Callable, config: dict):
        self.fn, self.config = fn, config
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args):
        from sklearn import config_context

        with config_context(**self.config):
            return self.fn(*args)


def _callers_config() -> dict:
    from sklearn import get_config

    return get_config()


def in_callers_config(fn: Callable) -> Callable:
    """``fn`` to run elsewhere (a dask task, a pool thread) under this
    thread's scikit-learn configuration (see :class:`_InConfig`)."""
    return _InConfig(fn, _callers_config())


def local_slots(n_jobs: int | None, default: int | None = None) -> int:
    """Local threads for ``n_jobs``, counted as scikit-learn does (``-1``: all
    cores, ``-2``: all but one, ...); ``None`` means ``default`` (all cores
    when that is None too)."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        n_jobs = cores if default is None else default
    if n_jobs < 0:
        return max(1, cores + 1 + n_jobs)
    return max(1, int(n_jobs))


class LocalBackend:
    """Run tasks on local threads; data stays where it is."""

    dashboard_link = None
    remote = False  # tasks run in this process: nothing is pickled

    def __init__(self, n_jobs: int | None = None):
        self.n_slots = local_slots(n_jobs)
        self._pool = cf.ThreadPoolExecutor(self.n_slots, thread_name_prefix="dasklearn")
        self._config = _callers_config()  # the tasks' (see _InConfig)

    def put(self, obj):
        return obj

    def put_all(self, objs) -> list:
        return list(objs)

    def materialize(self, *objs) -> list:
        """Computed values of dask collections (others as they are), together
        (each kind of collection, see ``_compute.by_kind``)."""
        import dask

        from dasklearn._runtime._compute import by_kind

        lazy = [i for i, o in enumerate(objs) if _is_dask_collection(o)]
        out = list(objs)
        for idx in by_kind([objs[i] for i in lazy]):
            for k, v in zip(idx, dask.compute(*(objs[lazy[k]] for k in idx))):
                out[lazy[k]] = v
        return out

    def compute(self, *objs) -> list:
        return self.materialize(*objs)

    def place_rows(self, *objs) -> list:
        """``(value, None)`` for each of ``objs`` (see DistributedBackend.place_rows)."""
        return [(v, None) for v in self.materialize(*objs)]

    def submit(self, fn: Callable, *args, priority: int = 0) -> cf.Future:
        # like dask, resolve futures given as arguments (top level or in a list);
        # threads take tasks in order: priority is ignored
        task = _InConfig(fn, self._config)
        return self._pool.submit(lambda: task(*(_resolve(a) for a in args)))

    def wait_any(self, futures):
        done, _ = cf.wait(list(futures), return_when=cf.FIRST_COMPLETED)
        return done

    def result(self, future):
        return future.result()

    def fetch(self, handle):
        return handle.result() if isinstance(handle, cf.Future) else handle

    def fetch_all(self, handles) -> list:
        return [self.fetch(h) for h in handles]

    def cancel(self, futures) -> None:
        for f in futures:
            f.cancel()

    def release(self, handles) -> None:
        pass

    def is_lost_data(self, exc: BaseException) -> bool:
        return False

    def refresh(self, shared):
        return shared

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class DistributedBackend:
    """Run tasks on a dask.distributed cluster through ``client``."""

    remote = True  # tasks and their arguments are pickled to worker processes

    #: seconds between two checks that the cluster still has a worker, while
    #: nothing finishes (search tasks are batched to run for about a second)
    POLL_SECONDS = 1.0

    def __init__(self, client):
        self.client = client
        # no waiting for a worker here: an adaptive cluster at zero starts one
        # only for waiting tasks (and every wait below gives up on an empty cluster)
        nthreads = _nthreads(client)
        self.n_slots = max(1, sum(nthreads.values()))
        self.dashboard_link = dashboard(client)
        self._config = _callers_config()  # the tasks' (see _InConfig)
        # what we scattered, by key: if the workers holding it die, it can be
        # placed again (computed results are recomputed by dask from lineage)
        self._origin: dict = {}
        self._replaced: dict = {}

    def put(self, obj):
        """A handle of ``obj`` on the cluster (see put_all)."""
        return self.put_all([obj])[0]

    def put_all(self, objs) -> list:
        """Handles of ``objs`` placed on the cluster, in one round trip:
        in-memory objects are scattered whole (even a list), dask collections
        are materialised on workers, None stays None. One copy of each goes to
        one worker; other workers fetch it from that peer the first time a
        task there needs it, and keep it for later tasks."""
        out = list(objs)
        plain = []
        for i, o in enumerate(out):
            if _is_dask_collection(o):
                out[i] = self.materialize(o)[0]
            elif o is not None:
                plain.append(i)
        if plain:
            futures = scatter(self.client, [out[i] for i in plain])  # again if a worker leaves
            for i, future in zip(plain, futures):
                # kept to place it again if the only worker holding it dies
                self._origin[future.key] = out[i]
                out[i] = future
        return out

    def materialize(self, *objs) -> list:
        """Handles (futures) of ``objs`` placed on the cluster; dask collections
        are computed together *on workers* (see _compute), nothing comes here."""
        from dasklearn._runtime._compute import materialize_on_cluster

        lazy = [i for i, o in enumerate(objs) if _is_dask_collection(o)]
        futures = materialize_on_cluster(self.client, [objs[i] for i in lazy], self.n_slots) if lazy else []
        out = self.put_all([None if i in lazy else o for i, o in enumerate(objs)])  # one scatter
        for i, f in zip(lazy, futures):
            out[i] = f
        return out

    def place_rows(self, *objs) -> list:
        """``(handle, blocks)`` for each of ``objs``, placed for tasks that
        take rows of them (a search's folds): dask arrays of real-sized blocks
        are computed into their row blocks, left where they are computed
        (``blocks``: their futures; ``handle``: ``[token, *blocks]``, which a
        task reads with :func:`dasklearn._runtime._rows.rows_of`); anything
        else is placed as :meth:`materialize` places it (``blocks`` None)."""
        from dasklearn._runtime._compute import row_blocks_on_cluster
        from dasklearn._runtime._rows import RowsToken

        lazy = [i for i, o in enumerate(objs) if _is_dask_collection(o)]
        blocks = row_blocks_on_cluster(self.client, [objs[i] for i in lazy]) if lazy else None
        if blocks is None:
            return [(h, None) for h in self.materialize(*objs)]
        # the token is made by a task (not scattered): lost with a worker, dask makes another
        token = self.client.submit(RowsToken, pure=False)
        out = [(h, None) for h in self.put_all([None if i in lazy else o for i, o in enumerate(objs)])]
        for i, futures in zip(lazy, blocks):
            out[i] = ([token, *futures], futures)
        return out

    def compute(self, *objs) -> list:
        """Values of ``objs`` here, computed on the cluster (for small results)."""
        from dasklearn._runtime._compute import materialize_on_cluster

        lazy = [i for i, o in enumerate(objs) if _is_dask_collection(o)]
        futures = materialize_on_cluster(self.client, [objs[i] for i in lazy], self.n_slots) if lazy else []
        try:
            values = gather(self.client, futures, poll=self.POLL_SECONDS)
        except BaseException:
            self.release(futures)  # (see result)
            raise
        out = list(objs)
        for i, v in zip(lazy, values):
            out[i] = v
        return out

    def submit(self, fn: Callable, *args, priority: int = 0):
        """``fn(*args)`` as a task; a higher ``priority`` runs before tasks
        already waiting (dask's task priorities)."""
        with closed_says_so(self.client):
            return self.client.submit(_InConfig(fn, self._config), *args, pure=False, priority=priority)

    def wait_any(self, futures):
        """The futures that are done, once one is (:class:`WorkersLost` when
        the cluster has had no worker for ``dasklearn.worker-timeout`` seconds)."""
        from concurrent.futures import CancelledError

        futures = list(futures)
        try:
            wait_on_cluster(self.client, futures, return_when="FIRST_COMPLETED", poll=self.POLL_SECONDS)
        except CancelledError:  # lost dependencies: done too, result() raises
            return {f for f in futures if f.status == "cancelled"}
        return {f for f in futures if f.done()}

    def result(self, future):
        """The value of ``future``; if it failed, the future is released
        before the error propagates: the traceback keeps it (and its task on
        the scheduler) alive for as long as the caller keeps the exception."""
        try:
            if future.done():  # (wait_any's futures are)
                return future.result()
            return gather(self.client, [future], poll=self.POLL_SECONDS)[0]
        except BaseException:
            self.release([future])
            raise

    def fetch(self, handle):
        return self.result(handle) if hasattr(handle, "result") else handle

    def fetch_all(self, handles) -> list:
        """Values of the futures among ``handles`` (others as they are), in
        one round trip."""
        handles = list(handles)
        remote = [i for i, h in enumerate(handles) if hasattr(h, "result")]
        out = list(handles)
        for i, value in zip(remote, gather(self.client, [handles[i] for i in remote], poll=self.POLL_SECONDS)):
            out[i] = value
        return out

    def cancel(self, futures) -> None:
        cancel_quietly(self.client, list(futures))

    def release(self, handles) -> None:
        """Forget ``handles`` (futures) now; other values are ignored (and
        all once the Client is closed: it forgot them)."""
        if _closed(self.client):
            return
        for h in handles:
            if hasattr(h, "release"):
                self._origin.pop(getattr(h, "key", None), None)
                h.release()

    def is_lost_data(self, exc: BaseException) -> bool:
        """A task failed because data it needed died with a worker."""
        return lost_with_worker(exc)

    def refresh(self, shared):
        """``shared`` with every lost scattered handle placed again (once)."""
        if isinstance(shared, (list, tuple)):
            return type(shared)(self.refresh(h) for h in shared)
        key = getattr(shared, "key", None)
        if key in self._replaced:
            return self._replaced[key]
        if key in self._origin and shared.status in ("cancelled", "lost", "error"):
            self._replaced[key] = self.put(self._origin.pop(key))
            return self._replaced[key]
        return shared

    def close(self) -> None:
        """Release the handles placed again by :meth:`refresh`."""
        self.release(list(self._replaced.values()))
        self._replaced.clear()


def get_backend(n_jobs: int | None = None):
    """A DistributedBackend on the active Client, else a LocalBackend (of one
    thread, unless ``n_jobs`` says otherwise, inside a dask task: dask gives
    each task one core)."""
    client = active_client()
    if client is not None:
        return DistributedBackend(client)
    return LocalBackend(local_jobs(n_jobs))


#: times a task may be lost with dying workers and resubmitted (its inputs
#: placed again) before a search gives up, naming it (None in the functions
#: below: this value)
MAX_RESUBMITS = 10


def run_batched(
    backend,
    kernel: Callable[..., list],
    items: list,
    shared: tuple = (),
    *,
    policy=None,
    on_results: Callable[[list[int], list[Any]], None] | None = None,
    max_resubmits: int | None = None,
    phase_and_group: Callable[[Any], tuple] | None = None,
) -> list:
    """Apply ``kernel(batch, *shared)`` to ``items`` in adaptively sized batches.

    ``kernel`` returns one ``(result, seconds)`` pair per item of its batch;
    ``seconds`` feeds the batching policy. ``shared`` are placed handles
    (futures on a cluster) that every task receives without re-sending them.
    Results come back in item order. A batch that fails because a worker
    died with data it needed is resubmitted (an item up to ``max_resubmits``
    times) after the lost handles in ``shared`` are placed again; finished results
    are never recomputed. On any other exception the pending tasks are
    cancelled before it propagates, so the cluster is left clean.

    ``phase_and_group(item)``, if given, returns ``(phase, group)``: items
    arrive ordered by phase, and items of one group take about as long as
    each other. When a new phase starts, its items are reordered longest
    expected first, from the seconds observed for their groups in earlier
    phases (see ``_batching.longest_first``). An item lost with dying
    workers more than ``max_resubmits`` times ends in :class:`WorkersLost`.
    """
    from dasklearn._runtime._batching import BatchPolicy, longest_first

    policy = policy or BatchPolicy(backend.n_slots)
    max_resubmits = MAX_RESUBMITS if max_resubmits is None else max_resubmits
    results: list = [None] * len(items)
    pending: dict = {}
    retry: list[list[int]] = []
    times_lost: dict = {}  # item -> times its batch was lost with a worker
    queue, start = list(range(len(items))), 0  # items not yet sent: queue[start:]
    phase = None
    group_seconds: dict = {}  # group -> [total seconds, items]
    try:
        while start < len(queue) or pending or retry:
            while (retry or start < len(queue)) and len(pending) < policy.max_in_flight:
                if retry:
                    idx = retry.pop()
                else:
                    if phase_and_group is not None and phase_and_group(items[queue[start]])[0] != phase:
                        rest = queue[start:]
                        keys = [phase_and_group(items[i]) for i in rest]
                        phase = keys[0][0]
                        means = {g: t / n for g, (t, n) in group_seconds.items()}
                        queue, start = longest_first(rest, keys, means), 0
                    size = policy.next_size(len(queue) - start)
                    idx = queue[start:start + size]
                    start += size
                fut = backend.submit(kernel, [items[i] for i in idx], *shared)
                pending[fut] = idx
            for fut in backend.wait_any(pending):
                idx = pending.pop(fut)
                try:
                    out = backend.result(fut)
                except Exception as exc:
                    if not backend.is_lost_data(exc):
                        raise  # (backend.result released the future)
                    # counted per item: one worker's death loses every batch
                    # in flight once; an item that kills its worker each
                    # time (a memory limit, a crash in compiled code) is lost
                    # every time, and ends here
                    for i in idx:
                        times_lost[i] = times_lost.get(i, 0) + 1
                    if max(times_lost[i] for i in idx) > max_resubmits:
                        raise _lost_too_often(getattr(kernel, "__name__", "task"), max_resubmits + 1) from exc
                    shared = backend.refresh(shared)
                    retry.append(idx)
                    continue
                seconds = sum(s for _, s in out)
                policy.observe(len(idx), seconds)
                for i, (res, sec) in zip(idx, out):
                    results[i] = res
                    if phase_and_group is not None:
                        total = group_seconds.setdefault(phase_and_group(items[i])[1], [0.0, 0])
                        total[0] += sec
                        total[1] += 1
                if on_results is not None:
                    on_results(idx, [r for r, _ in out])
    except WorkersLost as exc:
        backend.cancel(pending)
        lost = max(times_lost.values(), default=0)
        if not 0 < lost <= max_resubmits:
            raise  # nothing lost before, or _lost_too_often
        raise _emptied_after_losses(exc, getattr(kernel, "__name__", "task"), lost) from exc
    except BaseException:
        backend.cancel(pending)
        raise
    return results


def _lost_too_often(name: str, times: int) -> WorkersLost:
    return WorkersLost(
        f"A {name} task was lost with dying workers {times} times; giving up. It may be killing "
        "its worker (a memory limit, a crash in compiled code): check the workers' logs."
    )


def call(backend, fn: Callable, *args, max_resubmits: int | None = None):
    """``fn(*args)`` as one task; resubmitted if a worker dies with its inputs."""
    max_resubmits = MAX_RESUBMITS if max_resubmits is None else max_resubmits
    name, lost = getattr(fn, "__name__", "task"), 0
    try:
        while True:
            future = backend.submit(fn, *args)
            try:
                return backend.result(future)  # (released if it failed)
            except Exception as exc:
                if not backend.is_lost_data(exc):
                    raise
                lost += 1
                if lost > max_resubmits:
                    raise _lost_too_often(name, lost) from exc
                args = backend.refresh(args)
            finally:
                del future
    except WorkersLost as exc:
        if not 0 < lost <= max_resubmits:
            raise  # nothing lost before, or _lost_too_often
        raise _emptied_after_losses(exc, name, lost) from exc


def connect(address: str, timeout: float = 10.0, **client_kwargs):
    """A Client connected to the scheduler at ``address``.

    Raises a TimeoutError that names the address when nothing answers
    within ``timeout`` seconds, and a ValueError for a timeout that is not a
    finite number of seconds > 0, an address of no known scheme (the
    dashboard's http:// one, say) or a tls:// / wss:// address without
    ``security=``: those are checked before any Client is made.
    """
    import math
    import numbers

    import dask
    from distributed import Client
    from distributed.comm import parse_address
    from distributed.comm.registry import get_backend

    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not (
            math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"connect's timeout must be a finite number of seconds > 0; got {timeout!r}. "
                         "E.g. timeout=30.")
    try:
        scheme = parse_address(address)[0]
        get_backend(scheme)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{address!r} is not a scheduler address ({exc}). Pass the scheduler's address, e.g. "
            "tcp://127.0.0.1:8786 (not the dashboard's http:// one)."
        ) from exc
    if scheme in ("tls", "wss") and client_kwargs.get("security") is None:
        raise ValueError(f"{address!r} needs TLS settings: pass security= (a distributed.security.Security) "
                         "to connect.")
    before = {"scheduler": dask.config.get("scheduler", None)}
    try:
        return Client(address, timeout=f"{float(timeout)}s", **client_kwargs)
    except BaseException as exc:
        dask.config.set(before)  # the failed Client had already made itself the default
        if not isinstance(exc, (OSError, TimeoutError)):
            raise
        raise TimeoutError(
            f"No Dask scheduler answered at {address} within {timeout:g} s ({exc}). Check the "
            f"address and port, start one with `dask scheduler`, or wait longer (connect's timeout=, "
            f"`dasklearn demo --timeout`)."
        ) from exc
