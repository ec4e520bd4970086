"""Blocks that stay where they live; kernels mapped over them, results summed.

An iterative fit (a linear model's solver, say) evaluates the same kernel on
the same data many times with a different small parameter vector.  This
module places the row blocks of ``(X, y)`` once, then, per evaluation:

* runs the kernel on each block on the worker that holds it, in ONE call
  per worker thread that holds blocks (its *group*), which returns the
  per-block results (parameter-sized: cheap), so a 10-block data set on 2
  single-threaded workers costs 2 calls, not 10;
* adds the per-block results **in block-index order**, here (one gather per
  evaluation), or, when they are too big to gather (large Hessians), first on
  the workers in a tree whose shape depends only on the block indices (see
  :func:`tree_sum`).

Only the kernel's arguments (parameter vectors, passed inline, or scattered
once to the workers when large) and its results cross the network; the
blocks never move after placement.

Direct calls
    A group's call is first a task (pinned to the group's worker); as soon
    as the placement is ready, each worker holding groups also gets an
    *evaluator*, a dask actor holding those groups' blocks
    (:class:`_Evaluator`), and later evaluations call it directly: a round
    trip to the worker without the scheduler's task machinery (graph
    update, scheduling, completion report, then a gather), a few ms less
    per evaluation.  The blocks stay owned by their futures (lineage,
    recovery); an evaluator computes exactly what the groups' tasks would.
    Any failed call (a lost worker, a cancelled block, a kernel error)
    drops the evaluators and the evaluation runs again as tasks, where
    everything below applies; new evaluators follow.

Determinism
    A sum's floating-point value depends on the order of its terms.  Every
    result here is added in an order fixed by the block indices alone, never
    by which worker holds which block, how many workers or threads there are,
    or which task finished first; and every kernel call runs with ONE BLAS
    thread (the count dask gives each worker thread; BLAS products such as
    ``X.T @ r`` split their sums differently for other counts).  So a fit
    gives bit-identical results on any cluster, after any worker loss, and
    without a Client (where the same blocks run on local threads).

Worker loss
    Tasks are pinned to their blocks' worker *loosely*
    (``allow_other_workers=True``): when that worker dies the scheduler runs
    them elsewhere instead of waiting for it, and recomputes the blocks it
    held from their dask graph (lineage; NumPy input given with dask input
    is embedded in that graph, so it is placed again from the client's copy).
    A group task that ran on another worker than the one it was pinned to
    reveals the loss at no cost: the groups are then re-assigned to where the
    blocks now live.  If a block cannot be recomputed (its future is
    cancelled: "lost dependencies"), all blocks are placed again from the
    original dask collections, the transforms replayed, and the evaluation
    run again (up to ``MAX_REPLACEMENTS`` times per evaluation).  Waits are
    loops of ``POLL_SECONDS`` that check the cluster still has workers, so a
    cluster left without any for ``dasklearn.worker-timeout`` seconds (dask
    config, default 60) raises :class:`WorkersLost` instead of hanging (the
    waits and scatters shared by every runtime, in :mod:`._cluster`).
    Per-block states of stateful maps (ADMM) are not kept on the workers:
    each task returns them, the caller holds them and sends them with the
    next call, so nothing of them is lost with a worker;
    per-block data derived from the blocks (:meth:`DistributedBlocks.derive`)
    is recomputed from the blocks by lineage like the blocks themselves.

Without a Client (or for in-memory NumPy input) the same interface runs the
blocks on local threads (NumPy releases the GIL in its matrix products).

The pure policies (:func:`assign_groups`, :func:`reduction_levels`,
:func:`tree_sum`, :func:`row_blocks`) live in :mod:`._reduce_policies` and
are tested without a cluster; the BLAS thread limits in :mod:`._threads`.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
from typing import Callable

import numpy as np

from dasklearn._runtime._cluster import (
    WorkersLost,
    closed_says_so,
    current_workers,
    lost_with_worker,
    scatter,
    wait_on_cluster,
    nthreads as _nthreads,
)
from dasklearn._runtime._compute import flat_keys
from dasklearn._runtime import _reduce_policies
from dasklearn._runtime._reduce_policies import (
    OrderedSum,
    assign_groups,
    reduction_levels,
    row_blocks,
    tree_sum,
)
from dasklearn._runtime._threads import limit_worker_blas, one_blas_thread

__all__ = ["DistributedBlocks", "LocalBlocks", "OrderedSum", "WorkersLost", "as_dask_array", "assign_groups",
           "one_blas_thread", "place_blocks", "reduction_levels", "row_blocks", "tree_sum"]

# Arguments bigger than this are scattered to the workers once per call
# instead of being embedded in every task.
INLINE_BYTES = 1 << 20
POLL_SECONDS = 2.0  # how often a wait checks that the cluster still has workers
MAX_REPLACEMENTS = 5  # re-placements of the blocks within one evaluation

# ------------------------------------------------------------ task bodies
def _aligned_arrays(obj):
    """``obj`` with every array not aligned to its item size copied to aligned
    memory (in tuples and lists too).

    Arrays deserialized from the network can start at any byte; NumPy then
    does not call BLAS and buffers its reductions, which rounds differently:
    the same block would give other bits after a transfer.
    """
    if isinstance(obj, np.ndarray):
        return obj if obj.flags.aligned else np.array(obj, order="K", copy=True)
    if isinstance(obj, tuple):
        return tuple(_aligned_arrays(o) for o in obj)
    if isinstance(obj, list):
        return [_aligned_arrays(o) for o in obj]
    return obj


def _call(kernel, block, extra, args):
    return kernel(_aligned_arrays(block), *_aligned_arrays(extra), *_aligned_arrays(args))


def _here() -> str:
    from distributed import get_worker

    return get_worker().address


def _run_group(kernel, blocks, extras, args):
    """Kernel on each block of one group: ``(worker address, [result per block])``."""
    limit_worker_blas()
    return _here(), [_call(kernel, b, e, args) for b, e in zip(blocks, extras)]


def _run_block(kernel, block, extra, args):
    """Kernel on one block, as a leaf of a worker-side tree: ``([address], result)``."""
    limit_worker_blas()
    return [_here()], _call(kernel, block, extra, args)


def _fold_task(combine, *parts):
    """A node of the worker-side tree: addresses seen, left fold of the values."""
    return [a for p in parts for a in p[0]], functools.reduce(combine, [p[1] for p in parts])


def _apply(fn, block, *args):
    return fn(_aligned_arrays(block), *_aligned_arrays(args))


def _apply_on_worker(fn, block, *args):
    limit_worker_blas()
    return _apply(fn, block, *args)


def _placed(*arrays):
    """A placed block ``(X_i, y_i[, w_i])``: copied once to aligned memory if
    it arrived unaligned (from another worker), rather than at every call."""
    return _aligned_arrays(arrays)


def _extras(n: int, derived, states) -> list[tuple]:
    """Per-block arguments put between the block and the shared arguments."""
    out = [() for _ in range(n)]
    if derived is not None:
        out = [e + (d,) for e, d in zip(out, derived)]
    if states is not None:
        if len(states) != n:
            raise ValueError(f"expected {n} block states, got {len(states)}")
        out = [e + (s,) for e, s in zip(out, states)]
    return out


class _Evaluator:
    """The blocks of one worker's groups (and their derived data), held on
    that worker for direct calls: a dask actor (see "Direct calls" above).

    It computes exactly what the groups' tasks would (the same kernel calls
    on the same blocks, in the same order, with one BLAS thread).  dask runs
    every actor call of a worker on one thread, so the groups of a worker
    with several threads run on a pool of as many threads.
    """

    def __init__(self, groups, derived):
        self.groups = groups  # per group: its blocks
        self.derived = derived  # per group: one list per derive() handle
        self.address = _here()
        self._pool = cf.ThreadPoolExecutor(len(groups)) if len(groups) > 1 else None

    def _run(self, g, kernel, derived, states, args):
        blocks = self.groups[g]
        extras = _extras(len(blocks), None if derived is None else self.derived[g][derived], states)
        return [_call(kernel, b, e, args) for b, e in zip(blocks, extras)]

    def map(self, kernel, derived, states, args):
        """``(address, [results of each block] per group)``; ``states``:
        None, or per group the states of its blocks."""
        limit_worker_blas()
        states = states or [None] * len(self.groups)
        if self._pool is None:
            return self.address, [self._run(0, kernel, derived, states[0], args)]
        runs = [self._pool.submit(self._run, g, kernel, derived, states[g], args) for g in range(len(self.groups))]
        return self.address, [r.result() for r in runs]

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


# -------------------------------------------------------------- placements
class _Blocks:
    """What both placements share; they define ``n_blocks``,
    ``map_blocks``, ``map_reduce``, ``derive``, ``transform`` and ``release``."""

    n_blocks: int

    def map_reduce_state(self, kernel: Callable, states, *args, combine: Callable, derived: int | None = None):
        """Stateful map: ``kernel(block, [derived_i], state_i, *args) -> (state, partial)``.

        The per-block states come back with the partials and are held by the
        caller (``states`` is None on the first call, when every block gets
        None, then the list this method returned): a worker loss loses none
        of them.  Returns ``(states, combined partials)``, the partials
        folded in block order.
        """
        states = [None] * self.n_blocks if states is None else states
        out = self.map_blocks(kernel, *args, derived=derived, states=states)
        return [s for s, _ in out], tree_sum([p for _, p in out], combine)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class LocalBlocks(_Blocks):
    """Blocks in this process, evaluated on a local thread pool.

    Parameters
    ----------
    blocks : list of (X_block, y_block[, weight_block])
        Blocks without rows are dropped.
    n_threads : int, default=None
        Threads (None: one per CPU).  Results do not depend on it.

    Notes
    -----
    While a map runs, BLAS is limited to one thread in this whole process
    (threadpoolctl; restored afterwards), as on a dask worker: the blocks run
    in parallel on the threads instead, and the results are those a cluster
    computes.
    """

    def __init__(self, blocks: list, n_threads: int | None = None):
        from dasklearn._runtime._backend import LocalBackend

        self.blocks = [b for b in blocks if len(b[1])]
        self._backend = LocalBackend(n_threads)
        self.n_blocks = len(self.blocks)
        self._derived: list[list] = []

    def _results(self, fn, per_block: list[tuple]):
        """Iterator over ``fn(*args)`` for each block's arguments, in block order."""
        if self._backend.n_slots == 1 or len(per_block) == 1:
            for a in per_block:
                yield fn(*a)
            return
        futures = [self._backend.submit(fn, *a) for a in per_block]
        try:
            for f in futures:
                yield f.result()
        finally:
            for f in futures:
                f.cancel()

    def _map(self, kernel, args, derived=None, states=None):
        extras = _extras(self.n_blocks, None if derived is None else self._derived[derived], states)
        return self._results(_call, [(kernel, b, e, args) for b, e in zip(self.blocks, extras)])

    def map_blocks(self, kernel: Callable, *args, derived: int | None = None, states: list | None = None) -> list:
        """``kernel(block, [derived_i], [state_i], *args)`` for every block, in block order.

        ``derived`` is a handle from :meth:`derive`; ``states`` one value per
        block (held by the caller).
        """
        with one_blas_thread():
            return list(self._map(kernel, args, derived, states))

    def map_reduce(self, kernel: Callable, *args, combine: Callable, nbytes: int | None = None):
        """``combine`` of ``kernel(block, *args)`` over all blocks, in the
        order and shape of :func:`tree_sum` (``nbytes``: the size of one
        partial result, which decides the shape as on a cluster)."""
        total = OrderedSum(combine, reduction_levels(self.n_blocks, nbytes if nbytes is not None else 1 << 16))
        with one_blas_thread():
            for value in self._map(kernel, args):
                total.push(value)
        return total.result()

    def derive(self, fn: Callable, *args) -> int:
        """Per-block data ``fn(block, *args)`` kept next to the blocks; returns
        a handle for the ``derived`` argument of the maps."""
        with one_blas_thread():
            self._derived.append(list(self._results(_apply, [(fn, b, *args) for b in self.blocks])))
        return len(self._derived) - 1

    def transform(self, fn: Callable, *args) -> None:
        """Replace every block by ``fn(block, *args)`` (in place)."""
        with one_blas_thread():
            self.blocks = list(self._results(_apply, [(fn, b, *args) for b in self.blocks]))

    def release(self) -> None:
        self.blocks, self._derived = [], []
        self._backend.close()


def _release(futures) -> None:
    """Release ``futures`` now, when a gather of them raised. The error a
    task raised is kept by its erred future's state in the client, and its
    traceback (which passes through our frames) holds these futures: left
    to garbage collection they would never go, and their tasks and results
    would stay on the cluster until the Client closes."""
    for f in futures:
        f.release()


class _Lost(Exception):
    """A future of this placement was cancelled (its data lost for good)."""


# a future cancelled (by the scheduler: "lost dependencies") is data lost for good
_LOST = (_Lost, cf.CancelledError)


class DistributedBlocks(_Blocks):
    """Blocks placed on the workers of a dask.distributed cluster.

    Parameters
    ----------
    client : distributed.Client
    X : dask array of shape (n, d)
        With one column chunk.
    *others : dask arrays of shape (n,)
        ``y`` (and sample weights), with X's row chunks.  All are persisted
        (a no-op when they already are) and each block ``(X_i, y_i, ...)`` is
        placed on the worker holding ``X_i``; the collections are kept to
        place the blocks again if they are lost for good.
    """

    def __init__(self, client, X, *others):
        self.client = client
        self._source = (X, *others)
        self._transforms: list[tuple] = []
        self._derived_recipes: list[tuple] = []
        self._derived: list[list] = []
        self.n_recoveries = 0
        self._evaluators = None  # one actor future per worker holding groups (see _Evaluator), or None
        self._evaluator_groups: list[tuple[str, list[int]]] = []  # each one's (address, group numbers)
        self._actors = None  # their handles, once fetched
        with closed_says_so(client):
            try:
                self._place()
            except _LOST as exc:
                raise WorkersLost("The input's blocks were lost with their workers while being placed (their "
                                  "futures were cancelled). Persist the input again and fit again.") from exc
            self.n_blocks = len(self.futures)
            self._start_evaluators()

    # ---------------------------------------------------------- placement
    def _place(self) -> None:
        from distributed import futures_of

        persisted = self.client.persist(list(self._source))
        by_key = {f.key: f for a in persisted for f in futures_of(a)}
        rows = [tuple(by_key[k] for k in keys)
                for *keys, n in zip(*(flat_keys(a.__dask_keys__()) for a in persisted), self._source[0].chunks[0]) if n]
        x_futures = [row[0] for row in rows]
        self._wait(x_futures)
        errors = [f for f in x_futures if f.status == "error"]
        if errors:
            errors[0].result()  # the user's graph failed: raise its error here
        locations = self._locations(x_futures)
        self.futures = [
            self.client.submit(_placed, *row, workers=where[:1] or None, allow_other_workers=True, pure=False)
            for row, where in zip(rows, locations)
        ]
        self.groups = assign_groups(locations, self._workers())
        # Futures the pending block tasks depend on, kept until a map has
        # completed: the scheduler may process a release before the graph
        # update that depends on the key ("lost dependencies").
        self._hold = [f for row in rows for f in row]

    def _locations(self, futures) -> list[list[str]]:
        who = self.client.who_has(futures)
        return [sorted(who.get(f.key, ())) for f in futures]

    def _address_of(self) -> dict[int, str]:
        return {i: address for address, idx in self.groups for i in idx}

    def _submit_per_block(self, fn, *args_of_block):
        """``fn`` applied to each block future, pinned where the block is."""
        where = self._address_of()
        return [self._submit(fn, where[i], *(a[i] if isinstance(a, _PerBlock) else a for a in args_of_block))
                for i in range(self.n_blocks)]

    def _regroup(self) -> None:
        """Groups re-assigned to where the blocks are now (after a loss); a
        block no worker holds goes to the least loaded one, where the next
        task recomputes it (or finds it lost for good: a recovery)."""
        self.groups = assign_groups(self._locations(self.futures), self._workers())
        self._start_evaluators()

    def _replace(self) -> None:
        """Every block placed again from the source collections, the
        transforms and derived data submitted again."""
        old = [*self.futures, *self._hold, *(f for d in self._derived for f in d)]
        self._workers()  # one at least, or WorkersLost
        self._place()
        for fn, args in self._transforms:
            self._hold.extend(self.futures)
            self.futures = self._submit_per_block(_apply_on_worker, fn, _PerBlock(self.futures), *args)
        self._derived = [self._submit_per_block(_apply_on_worker, fn, _PerBlock(self.futures), *args)
                         for fn, args in self._derived_recipes]
        for f in old:
            f.release()
        self._start_evaluators()
        self.n_recoveries += 1

    # ------------------------------------------------------------ helpers
    def _inline(self, args):
        """Scatter large array arguments once (each worker fetches them from
        their holder); keep small ones inline."""
        out, scattered = [], []
        for a in args:
            if isinstance(a, np.ndarray) and a.nbytes > INLINE_BYTES:
                [a] = scatter(self.client, [a])
                scattered.append(a)
            out.append(a)
        return tuple(out), scattered

    def _submit(self, fn, address, *args):
        # pinned where the blocks are; "loose" so that a lost worker does not
        # hang the fit (the scheduler then recomputes the block elsewhere)
        with closed_says_so(self.client):
            return self.client.submit(fn, *args, workers=[address], allow_other_workers=True, pure=False)

    def _wait(self, futures) -> None:
        """Wait for ``futures``; :class:`_Lost` if one is cancelled, and
        :class:`WorkersLost` (not a hang) when the cluster stays without workers."""
        try:
            wait_on_cluster(self.client, futures, poll=POLL_SECONDS)
        except WorkersLost:
            raise
        except Exception as exc:
            if any(lost_with_worker(f) for f in futures):
                raise _Lost() from exc
            raise

    def _workers(self) -> dict[str, int]:
        """The threads of each worker, once there is one (else :class:`WorkersLost`)."""
        return current_workers(self.client, poll=POLL_SECONDS)

    def _gather(self, futures) -> list:
        self._wait(futures)
        return self.client.gather(futures)  # CancelledError if lost since: see _LOST

    def _recovering(self, attempt: Callable):
        """``attempt()``, run again on fresh placements while blocks are lost for good."""
        for n in range(MAX_REPLACEMENTS + 1):
            try:
                if n:
                    self._replace()
                return attempt()
            except _LOST as exc:
                if n == MAX_REPLACEMENTS:
                    raise WorkersLost(
                        f"The blocks were lost with their workers {n + 1} times in one evaluation. "
                        "Check the workers' logs (memory limits?) and fit again."
                    ) from exc

    # --------------------------------------------------------------- maps
    def _map_groups(self, kernel, args, derived, states) -> list:
        out = self._map_direct(kernel, args, derived, states)
        if out is None:
            out = self._map_tasks(kernel, args, derived, states)
        results = [None] * self.n_blocks
        moved = False
        for (address, idx), (ran_on, values) in zip(self.groups, out):
            moved |= ran_on != address
            for i, v in zip(idx, values):
                results[i] = _aligned_arrays(v)
        if moved:
            self._regroup()
        elif self._evaluators is None:  # a call through them failed
            self._start_evaluators()
        return results

    def _map_tasks(self, kernel, args, derived, states) -> list:
        """One task per group, pinned where its blocks are: ``[(ran on, results)]``."""
        args, scattered = self._inline(args)
        leaves = []
        try:
            extras = _extras(self.n_blocks, None if derived is None else self._derived[derived], states)
            leaves = [
                self._submit(_run_group, address, kernel, [self.futures[i] for i in idx],
                             [extras[i] for i in idx], args)
                for address, idx in self.groups
            ]
            out = self._gather(leaves)
        except BaseException:
            _release(leaves)  # see _release
            raise
        finally:
            for f in scattered:  # release, not cancel: cancelling would cancel the dependents
                f.release()
        self._hold = []  # the blocks are computed: what they came from may go
        return out

    # --------------------------------------------------------- evaluators
    def _start_evaluators(self) -> None:
        """One :class:`_Evaluator` per worker holding groups (replacing any),
        made there as soon as the blocks are; the maps use them once they
        are ready (until then, tasks).  Started whenever the blocks, the
        groups or the derived data change."""
        self._drop_evaluators()
        by_worker: dict[str, list[int]] = {}
        for g, (address, _) in enumerate(self.groups):
            by_worker.setdefault(address, []).append(g)
        self._evaluator_groups = sorted(by_worker.items())
        idx = [i for _, i in self.groups]
        self._evaluators = [
            self.client.submit(_Evaluator, [[self.futures[i] for i in idx[g]] for g in gs],
                               [[[d[i] for i in idx[g]] for d in self._derived] for g in gs],
                               workers=[address], allow_other_workers=True, actor=True)
            for address, gs in self._evaluator_groups
        ]

    def _drop_evaluators(self) -> None:
        """Forget the evaluators (they are being replaced, a call through
        them failed, or the placement is released).

        Each call through a distributed Actor handle leaves a reference cycle
        (the method it makes refers to itself, to retry), which keeps the
        handle alive, and with it the handle's own future of the evaluator and
        every block the evaluator holds, until Python's cycle collector runs
        (in a process with automatic collection off: never; blocks of
        successive fits then pile up on the workers). So when a handle
        outlives our references to it, the cycles are collected here."""
        import gc
        import weakref

        futures, actors = self._evaluators or [], self._actors or []
        self._evaluators = self._actors = None
        for f in futures:
            f.release()
        handles = [weakref.ref(a) for a in actors]
        del actors
        if any(h() is not None for h in handles):
            gc.collect()

    def _map_direct(self, kernel, args, derived, states):
        """The map through the evaluators: ``[(ran on, results)]`` per group,
        or None when they are not ready or a call fails (the task path then
        runs the map, and recovers whatever was lost: a block cancelled, a
        worker gone; a kernel's own error is raised there too)."""
        if self._evaluators is None or any(f.status != "finished" for f in (*self._evaluators, *self.futures)):
            return None
        idx = [i for _, i in self.groups]
        try:
            if self._actors is None:
                self._actors = self.client.gather(self._evaluators)
            calls = [actor.map(kernel, derived,
                               None if states is None else [[states[i] for i in idx[g]] for g in gs], args)
                     for actor, (_, gs) in zip(self._actors, self._evaluator_groups)]
            out = [None] * len(self.groups)
            for call, (address, gs) in zip(calls, self._evaluator_groups):
                ran_on, per_group = self._call_result(call, address)
                for g, values in zip(gs, per_group):
                    out[g] = (ran_on, values)
        except Exception:
            self._drop_evaluators()
            return None
        self._hold = []  # the blocks are computed: what they came from may go
        return out

    def _call_result(self, call, address):
        """An evaluator call's result; :class:`_Lost` if its worker leaves the cluster."""
        while True:
            try:
                return call.result(timeout=POLL_SECONDS)
            except TimeoutError:
                if address not in _nthreads(self.client):
                    raise _Lost() from None

    def _tree(self, kernel, args, combine, levels):
        """Per-block tasks, then ``levels`` of worker-side folds of runs of
        consecutive blocks: the additions of :func:`tree_sum`."""
        args, scattered = self._inline(args)
        nodes = []
        try:
            where = self._address_of()
            nodes = [self._submit(_run_block, where[i], kernel, self.futures[i], (), args)
                     for i in range(self.n_blocks)]
            for _ in range(levels):
                nodes = [self.client.submit(_fold_task, combine, *nodes[i:i + _reduce_policies.SPLIT_EVERY], pure=False)
                         for i in range(0, len(nodes), _reduce_policies.SPLIT_EVERY)]
            out = self._gather(nodes)
        except BaseException:
            _release(nodes)  # see _release
            raise
        finally:
            for f in scattered:
                f.release()
        self._hold = []
        if any(ran_on != where[i] for i, ran_on in enumerate(a for addresses, _ in out for a in addresses)):
            self._regroup()
        return functools.reduce(combine, [_aligned_arrays(v) for _, v in out])

    def map_blocks(self, kernel: Callable, *args, derived: int | None = None, states: list | None = None) -> list:
        """``kernel(block, [derived_i], [state_i], *args)`` for every block,
        computed where the block lives; the results in block order.

        ``derived`` is a handle from :meth:`derive`; ``states`` one value per
        block, sent with the tasks (the caller holds them).
        """
        return self._recovering(lambda: self._map_groups(kernel, args, derived, states))

    def map_reduce(self, kernel: Callable, *args, combine: Callable, nbytes: int | None = None):
        """``combine`` of ``kernel(block, *args)`` over all blocks, computed
        where the blocks live, added in the order and shape of
        :func:`tree_sum`.  ``nbytes`` (an estimate of one partial result's
        size) decides whether the workers pre-add the partials."""
        levels = reduction_levels(self.n_blocks, nbytes if nbytes is not None else 1 << 16)
        if levels == 0:
            return tree_sum(self.map_blocks(kernel, *args), combine)
        return self._recovering(lambda: self._tree(kernel, args, combine, levels))

    def derive(self, fn: Callable, *args) -> int:
        """Per-block data ``fn(block, *args)`` computed and kept where each
        block is (recomputed from the block if lost); returns a handle for
        the ``derived`` argument of the maps."""
        self._derived_recipes.append((fn, args))
        self._derived.append(self._submit_per_block(_apply_on_worker, fn, _PerBlock(self.futures), *args))
        self._start_evaluators()
        return len(self._derived) - 1

    def transform(self, fn: Callable, *args) -> None:
        """Replace every block by ``fn(block, *args)``, computed where it is.

        Not waited for: the next map runs after it, and raises its errors.
        """
        self._transforms.append((fn, args))
        futures = self._submit_per_block(_apply_on_worker, fn, _PerBlock(self.futures), *args)
        self._hold.extend(self.futures)
        self.futures = futures
        self._start_evaluators()

    def release(self) -> None:
        """Drop this placement's references; the scheduler frees what nothing else holds."""
        self._drop_evaluators()
        futures = [*self.futures, *self._hold, *(f for d in self._derived for f in d)]
        self.futures, self._hold, self._derived = [], [], []
        for f in futures:
            f.release()


class _PerBlock(list):
    """Marks an argument of :meth:`DistributedBlocks._submit_per_block` that
    holds one value per block."""


# ---------------------------------------------------------------- placement
def as_dask_array(obj):
    """A dask DataFrame or Series as a dask array with known chunk sizes;
    anything else as it is.

    The estimators that place row blocks (linear models, Incremental,
    DataParallel, the adaptive searches) convert dask frames here (one pass
    over the data for the lengths): their runtimes place and split blocks by
    their rows, which must be known.

    The lengths are those of the array's own blocks (``compute_chunk_sizes``),
    not counted on the frame: dask's partition tuning may merge a frame's
    partitions (a column selection of a Parquet-backed frame's) when the
    array is made but not when the frame's lengths are counted, or the other
    way round, and ``to_dask_array(lengths=True)`` then refuses lengths that
    do not match (dask/dask#12411). Tuning is off where dask has the switch,
    so the blocks are the frame's partitions.
    """
    import dask

    if dask.is_dask_collection(obj) and hasattr(obj, "to_dask_array"):
        import pandas as pd

        if getattr(obj, "ndim", 2) == 1 and isinstance(obj.dtype, pd.StringDtype):
            # text labels as numpy holds them (dask would say it converts them so)
            obj = obj.astype(object)
        with dask.config.set({"optimization.tune.active": False}):
            return obj.to_dask_array().compute_chunk_sizes()
    return obj


def _aligned(X, *others):
    """X with one column chunk and the others with X's row chunks, in one
    column chunk too (dask arrays): block ``i`` of each pairs with X's."""
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})

    def like_x(a):
        if a.chunks[0] == X.chunks[0] and (a.ndim == 1 or len(a.chunks[1]) == 1):
            return a
        return a.rechunk({0: X.chunks[0], **{k: -1 for k in range(1, a.ndim)}})

    return (X, *(like_x(a) for a in others))


def place_blocks(X, y, n_threads: int | None = None, sample_weight=None):
    """Place the row blocks of ``(X, y)`` (and sample weights) once, for many evaluations.

    Parameters
    ----------
    X : dask array of shape (n, d), or ndarray
        Row blocks follow X's chunks (dask) or are row slices of about
        ``LOCAL_BLOCK_BYTES`` (NumPy; see :func:`row_blocks`).
    y : dask array of shape (n,), or ndarray
    n_threads : int, default=None
        Local threads when the blocks stay in this process (None: one per CPU).
    sample_weight : dask array of shape (n,), or ndarray, default=None
        A third array of each block, cut like y.

    Returns
    -------
    DistributedBlocks or LocalBlocks
        Blocks ``(X_i, y_i)``, or ``(X_i, y_i, w_i)`` with ``sample_weight``.
        With an active Client and dask input, the blocks are computed (or
        taken where they are, when already persisted) on the workers, each
        block on the worker holding ``X_i``.  Otherwise they are in this
        process.  Use as a context manager to release them.  The blocks, and
        so every result, are the same either way.
    """
    from dask import is_dask_collection

    from dasklearn._runtime._cluster import active_client

    arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
    if not any(is_dask_collection(a) for a in arrays):
        X, *others = (np.asarray(a) for a in arrays)
        row_nbytes = X.itemsize * (X.shape[1] if X.ndim == 2 else 1)
        return LocalBlocks([(X[a:b], *(o[a:b] for o in others)) for a, b in row_blocks(len(X), row_nbytes)],
                           n_threads)

    import dask.array as da

    X, *others = (as_dask_array(a) for a in arrays)
    X = X if is_dask_collection(X) else da.from_array(np.asarray(X), chunks=(len(X), -1))
    arrays = _aligned(X, *(o if is_dask_collection(o) else da.from_array(np.asarray(o), chunks=(X.chunks[0],))
                           for o in others))
    client = active_client()
    if client is None:
        import dask

        parts = dask.compute(*(list(a.to_delayed().ravel()) for a in arrays))
        return LocalBlocks(list(zip(*parts)), n_threads)
    return DistributedBlocks(client, *arrays)
