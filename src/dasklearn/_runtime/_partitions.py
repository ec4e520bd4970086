"""Blocks placed once on workers, and tasks pinned to the worker holding them.

This is the runtime of data-parallel training: the data is placed on the
workers once, and every later task runs where its blocks already are, so
only small objects (models, parameters) travel.

``place_blocks(arrays, prepare)`` turns the row blocks of aligned dask arrays
(``X`` and ``y``) into one *part* per block, ``prepare(i, X_i, y_i, ...)``,
computed on the cluster and kept there. Parts are computed where the
scheduler puts them (usually where their input blocks already are); when that
leaves the workers unevenly loaded, whole parts are moved once, at placement,
so that every worker holds about the same number of rows. After placement a
part never moves: :meth:`Partitions.run` submits one task per worker, pinned
to it (``workers=[address]``, ``allow_other_workers=False``), which receives
handles of that worker's own parts.

Without a distributed Client the blocks are computed here and split into
``n_jobs`` contiguous groups ("virtual workers"), whose tasks run on threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import uuid
from typing import Any, Callable, Sequence

__all__ = ["Partitions", "place_blocks", "worker_count"]


def worker_count(n_jobs: int | None = None) -> int:
    """Workers that would take part: the active cluster's, else ``n_jobs`` (1 if None)."""
    from dasklearn._runtime._backend import active_client

    client = active_client()
    if client is not None:
        return max(1, len(client.nthreads()))
    return _local_workers(n_jobs)


def _local_workers(n_jobs: int | None) -> int:
    import os

    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, int(n_jobs))


def _block_rows(arrays) -> list[int]:
    import math

    chunks = arrays[0].chunks[0]
    for a in arrays[1:]:
        if a.chunks[0] != chunks:
            raise ValueError(
                "The arrays must have the same row chunks, got "
                f"{arrays[0].chunks[0]} and {a.chunks[0]}. Rechunk one like the other, "
                "e.g. y = y.rechunk({0: X.chunks[0]})."
            )
    if any(math.isnan(c) for c in chunks):
        raise ValueError("The arrays have unknown chunk sizes; call X.compute_chunk_sizes() first.")
    return [int(c) for c in chunks]


def _delayed_parts(arrays, prepare, prepare_args, token):
    import dask

    # unoptimised: X and y sliced from one generated block keep sharing it
    blocks = [a.to_delayed(optimize_graph=False).ravel() for a in arrays]
    return [
        dask.delayed(prepare, pure=False)(i, *(b[i] for b in blocks), *prepare_args,
                                          dask_key_name=f"dasklearn-part-{token}-{i}")
        for i in range(len(blocks[0]))
    ]


def balance_moves(rows: Sequence[int], owner: Sequence[str], workers: Sequence[str]) -> list[tuple[int, str]]:
    """Pure policy: ``(block, new worker)`` moves that even out rows per worker.

    Greedy: move a block from the most to the least loaded worker while that
    lowers the larger of the two loads; at most one move per block.
    """
    load = {w: 0 for w in workers}
    held: dict[str, list[int]] = {w: [] for w in workers}
    for i, w in enumerate(owner):
        load[w] = load.get(w, 0) + rows[i]
        held.setdefault(w, []).append(i)
    moved: set[int] = set()
    moves = []
    for _ in range(len(rows)):
        hi = max(load, key=lambda w: (load[w], w))
        lo = min(load, key=lambda w: (load[w], w))
        gap = load[hi] - load[lo]
        # the largest block that still narrows the gap
        candidates = [i for i in held[hi] if i not in moved and 0 < rows[i] < gap]
        if not candidates:
            break
        i = max(candidates, key=lambda j: (rows[j], -j))
        held[hi].remove(i)
        held[lo].append(i)
        load[hi] -= rows[i]
        load[lo] += rows[i]
        moved.add(i)
        moves.append((i, lo))
    return moves


def _identity(x):
    return x


def _contiguous_groups(rows: Sequence[int], k: int) -> list[int]:
    """Worker index of each block: ``k`` contiguous groups of about equal rows."""
    total = max(sum(rows), 1)
    out, before = [], 0
    for r in rows:
        out.append(min(k - 1, int((before + r / 2) * k // total)))
        before += r
    return out


class Partitions:
    """Parts placed on workers; one pinned task per worker at a time.

    Attributes
    ----------
    workers : list of str
        Workers holding at least one part, in a fixed order.
    blocks : dict of str to list of int
        The block indices each worker holds, ascending.
    rows : list of int
        Rows of each block.
    """

    def __init__(self, rows, owner, handles):
        self.rows = list(rows)
        self._handles = list(handles)
        self.blocks: dict[str, list[int]] = {}
        for i, w in enumerate(owner):
            self.blocks.setdefault(w, []).append(i)
        self.workers = sorted(self.blocks)

    # the vocabulary used by the trainer
    def parts_of(self, worker: str) -> list:
        """Handles of ``worker``'s parts, in block order."""
        return [self._handles[i] for i in self.blocks[worker]]

    def run(self, fn: Callable, args_by_worker: dict[str, tuple]) -> dict[str, Any]:
        """``fn(*args)`` once per worker, on that worker; handles of the results."""
        raise NotImplementedError

    def broadcast(self, obj):
        """A handle of ``obj`` present on every worker (None stays None)."""
        raise NotImplementedError

    def gather(self, handles: dict) -> dict:
        """The values of ``handles`` (a dict), here."""
        raise NotImplementedError

    def release(self, handles) -> None:
        """Forget ``handles`` (an iterable or a dict of them)."""

    def locations(self) -> dict[int, tuple[str, ...]]:
        """Where each block's part is now (for checks and diagnostics)."""
        return {i: (w,) for w, idx in self.blocks.items() for i in idx}

    def close(self) -> None:
        """Drop the parts."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _DistributedPartitions(Partitions):
    def __init__(self, client, rows, owner, futures):
        super().__init__(rows, owner, futures)
        self.client = client

    def run(self, fn, args_by_worker):
        name = getattr(fn, "__name__", "task").strip("_")
        return {
            w: self.client.submit(fn, *args, workers=[w], allow_other_workers=False, pure=False,
                                  key=f"dasklearn-{name}-{uuid.uuid4().hex}")
            for w, args in args_by_worker.items()
        }

    def broadcast(self, obj):
        if obj is None:
            return None
        # wrapped in a list: scatter would otherwise split containers
        return self.client.scatter([obj], workers=self.workers, broadcast=True, hash=False)[0]

    def gather(self, handles):
        keys = list(handles)
        values = self.client.gather([handles[k] for k in keys])
        return dict(zip(keys, values))

    def release(self, handles):
        for h in (handles.values() if isinstance(handles, dict) else handles):
            if hasattr(h, "release"):
                h.release()

    def locations(self):
        who = self.client.who_has(self._handles)
        return {i: tuple(who.get(f.key, ())) for i, f in enumerate(self._handles)}

    def close(self):
        self.release(self._handles)
        self._handles = []


class _LocalPartitions(Partitions):
    def __init__(self, rows, owner, parts, n_threads):
        super().__init__(rows, owner, parts)
        self._pool = cf.ThreadPoolExecutor(max(1, n_threads), thread_name_prefix="dasklearn")

    @staticmethod
    def _resolve(arg):
        if isinstance(arg, cf.Future):
            return arg.result()
        return arg

    def run(self, fn, args_by_worker):
        return {w: self._pool.submit(lambda a=args: fn(*(self._resolve(x) for x in a)))
                for w, args in args_by_worker.items()}

    def broadcast(self, obj):
        # a snapshot, as a cluster would hold: later changes here don't leak
        return copy.deepcopy(obj)

    def gather(self, handles):
        return {k: self._resolve(h) for k, h in handles.items()}

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._handles = []


def place_blocks(arrays: Sequence, prepare: Callable, prepare_args: tuple = (),
                 n_jobs: int | None = None) -> Partitions:
    """Compute ``prepare(i, *block_i_of_each_array, *prepare_args)`` per block, once.

    Parameters
    ----------
    arrays : sequence of dask arrays
        Aligned on rows (same row chunks), e.g. ``[X, y]``.
    prepare : callable
        Pure function building the part stored for block ``i``.
    prepare_args : tuple, default=()
        Extra arguments of ``prepare`` (small).
    n_jobs : int or None, default=None
        Virtual workers when no Client is active (None: 1).

    Returns
    -------
    Partitions
        On the active Client's workers (balanced by rows), else local.
    """
    from dasklearn._runtime._backend import active_client

    rows = _block_rows(arrays)
    token = uuid.uuid4().hex
    parts = _delayed_parts(arrays, prepare, prepare_args, token)
    client = active_client()
    if client is None:
        import dask

        values = dask.compute(*parts)
        k = min(_local_workers(n_jobs), len(rows))
        owner = [f"local-{j}" for j in _contiguous_groups(rows, k)]
        return _LocalPartitions(rows, owner, values, k)

    from distributed import wait

    futures = client.compute(parts)
    try:
        wait(futures)
        for f in futures:
            if f.status == "error":
                f.result()  # raises the task's exception here
        who = client.who_has(futures)
        owner = [sorted(who[f.key])[0] for f in futures]
        moves = balance_moves(rows, owner, sorted(client.nthreads()))
        for i, dst in moves:
            moved = client.submit(_identity, futures[i], workers=[dst], allow_other_workers=False,
                                  pure=False, key=f"dasklearn-part-{token}-{i}-moved")
            wait([moved])
            futures[i].release()
            futures[i], owner[i] = moved, dst
    except BaseException:
        for f in futures:
            f.release()
        raise
    return _DistributedPartitions(client, rows, owner, futures)
