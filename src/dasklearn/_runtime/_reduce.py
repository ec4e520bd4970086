"""Blocks that stay where they live; kernels mapped over them, results summed.

An iterative fit (a linear model's solver, say) evaluates the same kernel on
the same data many times with a different small parameter vector.  This
module places the row blocks of ``(X, y)`` once, then, per evaluation:

* runs ONE task per worker thread that holds blocks, pinned to that worker,
  which applies the kernel to each of its local blocks and adds the results
  (so a 10-block data set on 2 single-threaded workers costs 2 tasks, not 10);
* reduces those partial results on the workers in a tree of fan-in
  ``split_every`` while there are too many of them (or they are too big) to
  gather cheaply, then gathers the few remaining ones and adds them here.

Only the kernel's arguments (parameter vectors, passed inline, or scattered
once to the workers when large) and its partial results (parameter-sized)
cross the network; the blocks never move after placement.  One gather per
evaluation is the only synchronisation point.

Without a Client (or for in-memory NumPy input) the same interface runs the
groups on local threads (NumPy releases the GIL in its matrix products).

Pure policies (:func:`assign_groups`, :func:`reduction_levels`) are plain
functions tested without a cluster.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Callable, Sequence

import numpy as np

# Partial results are added on the client when there are at most this many...
SPLIT_EVERY = 8
# ... and they weigh at most this much together; otherwise the workers add
# them first, in groups of SPLIT_EVERY (a tree), which costs one extra hop.
GATHER_BYTES = 8 << 20
# Arguments bigger than this are scattered to the workers once per call
# instead of being embedded in every task.
INLINE_BYTES = 1 << 20


# ------------------------------------------------------------ pure policies
def assign_groups(locations: Sequence[Sequence[str]], nthreads: dict[str, int]) -> list[tuple[str, list[int]]]:
    """Split block indices into groups, one per worker thread holding blocks.

    Parameters
    ----------
    locations : sequence of sequence of str
        For each block, the addresses of the workers holding it.
    nthreads : dict
        Threads of each worker.

    Returns
    -------
    list of (address, block indices)
        A block held by several workers goes to the least loaded of them;
        each worker's blocks are dealt round-robin into at most ``nthreads``
        groups.  Deterministic for given inputs.
    """
    by_worker: dict[str, list[int]] = {}
    for i, where in enumerate(locations):
        if not where:
            raise ValueError(f"block {i} is held by no worker")
        address = min(sorted(where), key=lambda a: len(by_worker.get(a, ())))
        by_worker.setdefault(address, []).append(i)
    groups = []
    for address in sorted(by_worker):
        idx = by_worker[address]
        k = max(1, min(int(nthreads.get(address, 1)), len(idx)))
        groups.extend((address, idx[j::k]) for j in range(k))
    return groups


def reduction_levels(n_partials: int, partial_nbytes: int, split_every: int | None = None,
                     gather_bytes: int | None = None) -> int:
    """Number of tree levels of worker-side additions before the gather.

    Each level adds groups of ``split_every`` partial results on the workers.
    Levels are added while more than ``split_every`` partials remain or the
    remaining ones weigh more than ``gather_bytes`` together; the rest is
    gathered and added on the client (a level costs a network hop, so few
    small partials are cheaper to gather directly).  Defaults: the module's
    ``SPLIT_EVERY`` and ``GATHER_BYTES``.
    """
    split_every = SPLIT_EVERY if split_every is None else split_every
    gather_bytes = GATHER_BYTES if gather_bytes is None else gather_bytes
    if split_every < 2:
        raise ValueError(f"split_every must be >= 2, got {split_every}")
    levels = 0
    n = n_partials
    while n > 1 and (n > split_every or n * partial_nbytes > gather_bytes):
        n = math.ceil(n / split_every)
        levels += 1
    return levels


# ------------------------------------------------------------ task bodies
def _sum(combine, values):
    return functools.reduce(combine, values)


def _run_group(kernel, combine, blocks, *args):
    """Kernel on each block of one group, combined."""
    return _sum(combine, [kernel(b, *args) for b in blocks])


def _run_group_stateful(kernel, combine, blocks, states, *args):
    """Stateful kernel on each block of one group: ``(new states, combined partials)``."""
    if states is None:
        states = [None] * len(blocks)
    elif isinstance(states, tuple):  # the previous call's (states, partial)
        states = states[0]
    out = [kernel(b, s, *args) for b, s in zip(blocks, states)]
    return [s for s, _ in out], _sum(combine, [p for _, p in out])


def _combine_task(combine, stateful, *parts):
    if stateful:  # leaves of a stateful map are (states, partial)
        parts = [p[1] for p in parts]
    return _sum(combine, parts)


def _apply(fn, block, *args):
    return fn(block, *args)


def _pair(x, y):
    return x, y


# -------------------------------------------------------------- placements
class LocalBlocks:
    """Blocks in this process, evaluated on a local thread pool.

    Parameters
    ----------
    blocks : list of (X_block, y_block)
        Blocks without rows are dropped.
    n_threads : int, default=None
        Threads (None: one per CPU); the blocks are dealt into that many groups.
    """

    def __init__(self, blocks: list, n_threads: int | None = None):
        from dasklearn._runtime._backend import LocalBackend

        self.blocks = [b for b in blocks if len(b[1])]
        self._backend = LocalBackend(n_threads)
        k = max(1, min(self._backend.n_slots, len(self.blocks)))
        self.groups = [list(range(len(self.blocks)))[j::k] for j in range(k)]
        self.n_blocks = len(self.blocks)

    def _run(self, fn, per_group: list[tuple]) -> list:
        """``fn(*args)`` for each group's arguments, on the threads."""
        if len(per_group) == 1:
            return [fn(*per_group[0])]
        futures = [self._backend.submit(fn, *a) for a in per_group]
        return [f.result() for f in futures]

    def _group_blocks(self, g):
        return [self.blocks[i] for i in g]

    def map_reduce(self, kernel: Callable, *args, combine: Callable, nbytes: int | None = None):
        """``combine`` of ``kernel(block, *args)`` over all blocks.

        ``nbytes`` is accepted for interface parity with
        :meth:`DistributedBlocks.map_reduce` (nothing is transferred here).
        """
        parts = self._run(_run_group, [(kernel, combine, self._group_blocks(g), *args) for g in self.groups])
        return _sum(combine, parts)

    def map_reduce_state(self, kernel: Callable, state, *args, combine: Callable,
                         nbytes: int | None = None):
        """Stateful map: ``kernel(block, block_state, *args) -> (state, partial)``.

        ``state`` is None on the first call, then the handle the previous call
        returned.  Returns ``(state handle, combined partials)``.
        """
        prev = state if state is not None else [None] * len(self.groups)
        out = self._run(_run_group_stateful, [
            (kernel, combine, self._group_blocks(g), s, *args) for g, s in zip(self.groups, prev)])
        return out, _sum(combine, [o[1] for o in out])

    def transform(self, fn: Callable, *args) -> None:
        """Replace every block by ``fn(block, *args)`` (in place)."""
        self.blocks = [fn(b, *args) for b in self.blocks]

    def release(self) -> None:
        self.blocks = []
        self._backend.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class DistributedBlocks:
    """Blocks placed on the workers of a dask.distributed cluster.

    Parameters
    ----------
    client : distributed.Client
    futures : list of Future
        One future per block, each holding ``(X_block, y_block)``.
    locations : list of list of str
        The workers holding each block.
    """

    def __init__(self, client, futures: list, locations: list, hold: list = ()):
        self.client = client
        self.futures = list(futures)
        self.n_blocks = len(self.futures)
        self.groups = assign_groups(locations, client.nthreads())
        # Futures the pending block tasks depend on, kept until a map has
        # completed: the scheduler may process a release before the graph
        # update that depends on the key ("lost dependencies").
        self._hold = list(hold)

    def _inline(self, args):
        """Scatter large array arguments to the workers once; keep small ones inline."""
        out, scattered = [], []
        workers = sorted({w for w, _ in self.groups})
        for a in args:
            if isinstance(a, np.ndarray) and a.nbytes > INLINE_BYTES:
                a = self.client.scatter(a, workers=workers, broadcast=True, hash=False)
                scattered.append(a)
            out.append(a)
        return out, scattered

    def _submit(self, fn, address, *args):
        # pinned where the blocks are; "loose" so that a lost worker does not
        # hang the fit (the scheduler then recomputes the block elsewhere)
        return self.client.submit(fn, *args, workers=[address], allow_other_workers=True, pure=False)

    def _reduce(self, leaves, combine, partial_nbytes, stateful=False):
        """Add the leaves' partial results: tree levels on the workers (see
        :func:`reduction_levels`), then one gather and the last additions here."""
        held = list(leaves)  # every level stays referenced until the gather is done
        for _ in range(reduction_levels(len(leaves), partial_nbytes)):
            leaves = [self.client.submit(_combine_task, combine, stateful, *leaves[i:i + SPLIT_EVERY],
                                         pure=False)
                      for i in range(0, len(leaves), SPLIT_EVERY)]
            held.extend(leaves)
            stateful = False
        values = self.client.gather(leaves)
        self._hold = []  # the blocks are computed: what they came from may go
        return _sum(combine, [v[1] for v in values] if stateful else values)

    def map_reduce(self, kernel: Callable, *args, combine: Callable, nbytes: int | None = None):
        """``combine`` of ``kernel(block, *args)`` over all blocks, computed
        where the blocks live.  ``nbytes`` (an estimate of one partial
        result's size) decides whether the workers pre-add the partials."""
        args, scattered = self._inline(args)
        try:
            leaves = [
                self._submit(_run_group, address, kernel, combine, [self.futures[i] for i in idx], *args)
                for address, idx in self.groups
            ]
            return self._reduce(leaves, combine, nbytes if nbytes is not None else 1 << 16)
        finally:
            for f in scattered:  # release, not cancel: cancelling would cancel the dependents
                f.release()

    def map_reduce_state(self, kernel: Callable, state, *args, combine: Callable,
                         nbytes: int | None = None):
        """Stateful map; the per-block states stay on the workers.

        ``kernel(block, block_state, *args) -> (new_state, partial)``.  The
        states (parameter-sized: the kernel's business) are kept on the
        workers for the next call; a copy travels with the partials.
        ``state`` is None on the first call, then the handle this method
        returned.  Returns ``(state handle, combined partials)``.
        """
        args, scattered = self._inline(args)
        try:
            prev = state if state is not None else [None] * len(self.groups)
            leaves = [
                self._submit(_run_group_stateful, address, kernel, combine,
                             [self.futures[i] for i in idx], s, *args)
                for (address, idx), s in zip(self.groups, prev)
            ]
            return leaves, self._reduce(leaves, combine, nbytes if nbytes is not None else 1 << 16,
                                        stateful=True)
        finally:
            for f in scattered:  # release, not cancel: cancelling would cancel the dependents
                f.release()

    def transform(self, fn: Callable, *args) -> None:
        """Replace every block by ``fn(block, *args)``, computed where it is.

        Not waited for: the next map runs after it, and raises its errors.
        """
        futures = list(self.futures)
        for address, idx in self.groups:
            for i in idx:
                futures[i] = self._submit(_apply, address, fn, self.futures[i], *args)
        self._hold.extend(self.futures)
        self.futures = futures

    def release(self) -> None:
        """Drop this placement's references; the scheduler frees what nothing else holds."""
        futures, self.futures, self._hold = self.futures, [], []
        for f in futures:
            f.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------- placement
def _as_dask_array(a):
    if hasattr(a, "to_dask_array"):  # dask DataFrame / Series
        return a.to_dask_array(lengths=True)
    return a


def _aligned(X, y):
    """X with one column chunk and y with X's row chunks (both dask arrays)."""
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    return X, y


def _flat_keys(arr) -> list:
    out = []

    def walk(k):
        if isinstance(k, list):
            for x in k:
                walk(x)
        else:
            out.append(k)

    walk(arr.__dask_keys__())
    return out


def place_blocks(X, y, n_threads: int | None = None):
    """Place the row blocks of ``(X, y)`` once, for many evaluations.

    Parameters
    ----------
    X : dask array of shape (n, d), or ndarray
        Row blocks follow X's chunks (dask) or are even row slices (NumPy).
    y : dask array of shape (n,), or ndarray
    n_threads : int, default=None
        Local threads when the blocks stay in this process (None: one per CPU).

    Returns
    -------
    DistributedBlocks or LocalBlocks
        With an active Client and dask input, the blocks are computed (or
        taken where they are, when already persisted) on the workers, each
        ``(X_i, y_i)`` pair on the worker holding ``X_i``.  Otherwise they are
        in this process.  Use as a context manager to release them.
    """
    from dask import is_dask_collection

    from dasklearn._runtime._backend import active_client

    if not (is_dask_collection(X) or is_dask_collection(y)):
        X, y = np.asarray(X), np.asarray(y)
        k = n_threads if n_threads and n_threads > 0 else (os.cpu_count() or 1)
        if len(y) < 2 * k * 1000:  # split only when each thread gets real work
            k = 1
        edges = np.linspace(0, len(y), k + 1).astype(int)
        return LocalBlocks([(X[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])], n_threads)

    import dask.array as da

    X, y = _as_dask_array(X), _as_dask_array(y)
    X = X if is_dask_collection(X) else da.from_array(np.asarray(X), chunks=(len(X), -1))
    y = y if is_dask_collection(y) else da.from_array(np.asarray(y), chunks=(X.chunks[0],))
    X, y = _aligned(X, y)
    client = active_client()
    if client is None:
        import dask

        xs, ys = dask.compute(list(X.to_delayed().ravel()), list(y.to_delayed().ravel()))
        return LocalBlocks(list(zip(xs, ys)), n_threads)
    return _place_distributed(client, X, y)


def _place_distributed(client, X, y) -> DistributedBlocks:
    """Persist X and y (a no-op when they already are), then pair each X block
    with its y block on the worker holding the X block."""
    from distributed import futures_of, wait

    Xp, yp = client.persist([X, y])
    by_key = {f.key: f for f in futures_of(Xp) + futures_of(yp)}
    rows = [(by_key[kx], by_key[ky]) for kx, ky, n in zip(_flat_keys(Xp), _flat_keys(yp), X.chunks[0]) if n]
    x_futures = [fx for fx, _ in rows]
    wait(x_futures)
    errors = [f for f in x_futures if f.status == "error"]
    if errors:
        errors[0].result()  # the user's graph failed: raise its error here
    who = client.who_has(x_futures)
    locations = [sorted(who.get(f.key, ())) for f in x_futures]
    pairs = [
        client.submit(_pair, fx, fy, workers=where[:1], allow_other_workers=True, pure=False)
        for (fx, fy), where in zip(rows, locations)
    ]
    return DistributedBlocks(client, pairs, locations, hold=[f for row in rows for f in row])
