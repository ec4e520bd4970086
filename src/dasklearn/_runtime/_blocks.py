"""Fold a small state (a model) over the row blocks of dask collections.

``fold_blocks(step, state, parts, order)`` computes, for each block index ``b``
of ``order`` in turn::

    state = step(state, *(row block b of each part), *args)

where ``parts`` are dask arrays / DataFrames / Series with the same number of
row blocks (``X``, ``y``, sample weights...). Only a few blocks exist at any
time, so the collections may be far larger than memory.

With a Client
-------------
* Placement. Block ``b`` of every part is computed in one submission of its
  culled, unfused task graph (see :func:`block_graph`; ``X`` and ``y`` sliced
  from one generated block share its generation), with no finalising copy,
  on a worker chosen here: the one with the fewest blocks alive, ties going to
  the one used least recently. Consecutive blocks therefore alternate
  between workers: block ``k + 1`` is generated on one worker while the step
  of block ``k`` runs on another.
* The model travels, the block does not. The step of block ``b`` is pinned
  to the worker holding the block and takes the previous step's result as
  an argument, so only the state (a few KB for a linear model) crosses the
  network, once per block. Pins are strict (``allow_other_workers=False``):
  loose ones let work stealing move a block to another worker. A worker that
  leaves the cluster mid-fold therefore raises a RuntimeError (checked every
  ``POLL_SECONDS``) instead of hanging; fitting again gives the same model.
* Priorities. A step goes before any block task, and an earlier block's
  tasks before a later block's (priority ``-position``).
* Memory. At most ``window`` blocks are alive (submitted and not yet
  consumed by their step); the default is ``threads + 1`` per worker (2 for
  one-thread workers). Our references to a block are dropped as soon as its
  step is submitted, so the scheduler frees the block the moment its step
  has run.
* Persisted collections (holding futures) are already on workers: their
  blocks are computed where the scheduler puts them (next to the data), and
  each step is pinned to the block's holder once it is known (``who_has``).
* Each step runs on a private copy of the state (``copy.deepcopy``): a task
  never mutates its input, so a re-run task gives the same result.
* Small, fine-grained inputs (the runtime's one-task policy, see
  :mod:`dasklearn._runtime._compute`) run the local loop below inside one
  task on a worker: same blocks, same order, same numbers, no per-block
  scheduling.

Without a Client
----------------
Blocks are computed one at a time with dask's synchronous scheduler and the
step runs in this process.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Callable, Sequence

__all__ = ["block_graph", "fold_blocks", "n_row_blocks", "row_block", "whole_rows"]

POLL_SECONDS = 1.0  # how often a waiting fold checks that its workers are still there
STEP_PRIORITY = 1  # above every block's tasks (priority -position <= 0)


# ------------------------------------------------------------ block access
def _is_array(coll) -> bool:
    return hasattr(coll, "numblocks")


def n_row_blocks(coll) -> int:
    """Number of row blocks of a dask array, DataFrame or Series."""
    return int(coll.numblocks[0]) if _is_array(coll) else int(coll.npartitions)


def whole_rows(coll):
    """``coll`` with one chunk along every axis but the first (arrays only)."""
    if _is_array(coll) and coll.ndim > 1 and any(len(c) > 1 for c in coll.chunks[1:]):
        return coll.rechunk({ax: -1 for ax in range(1, coll.ndim)})
    return coll


def row_block(coll, i: int):
    """Row block ``i`` of a dask array (with :func:`whole_rows`) or partition
    ``i`` of a dask DataFrame / Series, as a one-block collection."""
    return coll.blocks[i] if _is_array(coll) else coll.partitions[i]


def block_graph(coll, i: int) -> tuple[dict, Any]:
    """The task graph of row block ``i`` alone, and the key holding it.

    Culled here, not optimised: optimisation fuses tasks under new names, and
    blocks submitted one at a time from overlapping graphs (shared
    parameters, boolean masks) then get clashing fused keys, which corrupts
    the scheduler's state (seen with distributed 2026.8). Culling also keeps
    in-memory sources cheap: only the block's own piece is sent. A dask
    DataFrame partition is optimised without fusion (projections reach the
    source) and lowered to its own tasks.
    """
    from dask.core import flatten

    blk = row_block(coll, i)
    if not _is_array(coll):
        blk = blk.optimize(fuse=False)
    keys = list(flatten(blk.__dask_keys__()))
    if len(keys) != 1:
        raise ValueError(f"row block {i} has {len(keys)} chunks; expected one (use whole_rows).")
    graph = blk.__dask_graph__()
    if _is_array(coll) and hasattr(graph, "cull"):
        graph = graph.cull(set(keys))
    return dict(graph), keys[0]


# -------------------------------------------------------------- local loop
def _fold_here(step, state, parts, order, args, monitor=None):
    """The fold in this thread: one block at a time, synchronous scheduler."""
    import dask

    for b in order:
        blocks = dask.compute(*(row_block(p, b) for p in parts), scheduler="sync")
        if monitor is not None:
            monitor(1)
        state = step(state, *blocks, *args)
        del blocks
        if monitor is not None:
            monitor(0)
    return state


def _fold_in_task(step, state, graph, order, args):
    """Task body of the one-task path (``state`` arrives as a private copy)."""
    return _fold_here(step, state, graph.collections, order, args)


def _run_step(step, state, blocks, args):
    """Task body: one step on a private copy of the state."""
    return step(copy.deepcopy(state), *blocks, *args)


# ----------------------------------------------------------- cluster fold
class _Block:
    """One submitted block: its futures (one per part) and its worker."""

    __slots__ = ("futures", "worker")

    def __init__(self, futures, worker):
        self.futures = futures
        self.worker = worker


def _fail_if_failed(futures) -> None:
    for f in futures:
        if f.status in ("error", "cancelled"):
            f.result()  # raises the task's exception (or CancelledError)


class _ClusterFold:
    def __init__(self, client, step, parts, args, window, monitor, pin_blocks):
        self.client = client
        self.step = step
        self.parts = parts
        self.args = args
        self.monitor = monitor
        nthreads = dict(client.nthreads())
        self.capacity = {w: n + 1 for w, n in sorted(nthreads.items())}
        self.pin_blocks = pin_blocks and bool(self.capacity)
        self.window = max(1, int(window if window is not None else sum(self.capacity.values()) or 2))
        self.alive_on: dict[str, int] = dict.fromkeys(self.capacity, 0)
        self._last_used: dict[str, int] = dict.fromkeys(self.capacity, -1)
        self.token = uuid.uuid4().hex[:12]
        self.last_worker = None
        name = getattr(step, "__name__", None) or getattr(getattr(step, "func", None), "__name__", "step")
        self.name = name.strip("_").replace("_", "-")

    # -- placement policy (pure bookkeeping) --------------------------------
    def _choose_worker(self, position: int) -> str:
        """Fewest blocks alive; ties: the worker used least recently."""
        w = min(self.alive_on, key=lambda a: (self.alive_on[a], self._last_used[a], a))
        self._last_used[w] = position
        return w

    # -- submissions ----------------------------------------------------------
    def _submit_block(self, b: int, position: int) -> _Block:
        graph: dict = {}
        keys = []
        for p in self.parts:
            g, key = block_graph(p, b)
            graph.update(g)  # shared tasks (one generated [X | y] block) merge
            keys.append(key)
        kw: dict[str, Any] = {}
        worker = None
        if self.pin_blocks:
            worker = self._choose_worker(position)
            self.alive_on[worker] += 1
            kw = dict(workers=[worker], allow_other_workers=False)
        # priority -position: an earlier block's tasks (e.g. slicing X and y
        # out of a generated block) run before a later block's
        futures = self.client.get(graph, keys, sync=False, priority=-position, **kw)
        return _Block(list(futures), worker)

    def _holder(self, block: _Block) -> str | None:
        """The worker holding ``block`` once it is computed (None: not yet)."""
        if block.worker is not None:
            return block.worker
        _fail_if_failed(block.futures)
        if not all(f.status == "finished" for f in block.futures):
            return None
        who = self.client.who_has(block.futures[:1])
        holders = list(who.get(block.futures[0].key, ()))
        block.worker = holders[0] if holders else ""
        return block.worker

    def _submit_step(self, state, block: _Block, worker: str, position: int):
        kw = dict(workers=[worker], allow_other_workers=False) if worker else {}
        self.last_worker = worker
        return self.client.submit(
            _run_step, self.step, state, block.futures, self.args, pure=False,
            priority=STEP_PRIORITY, key=f"dasklearn-{self.name}-{self.token}-{position}", **kw,
        )

    def _check_workers(self, alive: dict) -> None:
        """Raise if a worker holding one of our blocks or steps has left."""
        present = set(self.client.nthreads())
        used = ({b.worker for b in alive.values()} | {self.last_worker}) - {None, ""}
        gone = sorted(used - present)
        if gone:
            raise RuntimeError(
                f"Worker(s) {', '.join(gone)} left the cluster while holding blocks or the "
                "model being trained; their tasks are pinned there and cannot finish. Fit "
                "again: the same data, order and seeds give the same model."
            )

    def _note(self, n_alive: int) -> None:
        if self.monitor is not None:
            self.monitor(n_alive)

    # -- the loop ---------------------------------------------------------------
    def run(self, state, order: Sequence[int]):
        from concurrent.futures import CancelledError

        from distributed import wait

        n = len(order)
        alive: dict[int, _Block] = {}  # position -> block not yet consumed
        steps: dict[int, Any] = {}  # position -> step future not yet seen done
        next_block = next_step = 0
        try:
            while next_step < n or steps:
                while next_block < n and len(alive) < self.window:
                    alive[next_block] = self._submit_block(order[next_block], next_block)
                    next_block += 1
                    self._note(len(alive))
                while next_step < next_block:
                    block = alive[next_step]
                    worker = self._holder(block)
                    if worker is None:
                        break
                    state = self._submit_step(state, block, worker, next_step)
                    steps[next_step] = state
                    block.futures = []  # the scheduler frees it once its step has run
                    next_step += 1
                watch = list(steps.values())
                if next_step < next_block and alive[next_step].worker is None:
                    watch += alive[next_step].futures
                if not watch:
                    continue
                try:
                    wait(watch, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                except CancelledError:
                    pass  # found below, by status
                except TimeoutError:
                    self._check_workers(alive)
                for position in [p for p, f in steps.items() if f.done()]:
                    _fail_if_failed([steps[position]])  # still listed: cancelled below
                    del steps[position]
                    done = alive.pop(position)
                    if self.pin_blocks:
                        self.alive_on[done.worker] -= 1
                    self._note(len(alive))
            return state.result() if n else state
        except BaseException:
            # everything of ours goes, erred futures included: a traceback
            # that holds one must not keep tasks alive on the cluster
            pending = [f for blk in alive.values() for f in blk.futures] + list(steps.values())
            if hasattr(state, "key"):
                pending.append(state)
            if pending:
                self.client.cancel(pending)
            raise


def fold_blocks(
    step: Callable,
    state,
    parts: Sequence,
    order: Sequence[int],
    *,
    args: tuple = (),
    window: int | None = None,
    monitor: Callable[[int], None] | None = None,
):
    """``state = step(state, *blocks_b, *args)`` for each block index ``b`` of ``order``.

    Parameters
    ----------
    step : callable
        ``step(state, *blocks, *args) -> state``; module-level (it is sent to
        workers). It receives a private copy of the state and may update it
        in place and return it.
    state : object
        The initial state (a small, picklable object such as an unfitted or
        partly fitted model). It is never modified; the final state is a new
        object.
    parts : sequence of dask arrays, DataFrames or Series
        Collections with the same number of row blocks; block ``b`` of each is
        passed to the step of block ``b`` (as numpy / pandas objects).
    order : sequence of int
        Block indices, in the order the steps run; indices may repeat.
    args : tuple, default=()
        Small extra arguments passed to every step, after the blocks.
    window : int, default=None
        Most blocks alive at once on the cluster (computing, computed, or
        being consumed). None: ``threads + 1`` per worker.
    monitor : callable, default=None
        Called with the number of blocks alive each time it changes (tests and
        diagnostics; not called inside the one-task path).

    Returns
    -------
    state : object
        The state after the last step, in this process.
    """
    from dasklearn._runtime._backend import active_client
    from dasklearn._runtime._compute import _Graph, _holds_futures, runs_in_one_task

    parts = [whole_rows(p) for p in parts]
    order = [int(b) for b in order]
    client = active_client()
    if client is None:
        return _fold_here(step, copy.deepcopy(state), parts, order, args, monitor)
    if not order:
        return copy.deepcopy(state)
    holds_futures = _holds_futures(parts)
    if not holds_futures and runs_in_one_task(parts):
        future = client.submit(_fold_in_task, step, state, _Graph(parts), order, args,
                               pure=False, key=f"dasklearn-fold-{uuid.uuid4().hex}")
        try:
            return future.result()
        except BaseException:
            client.cancel([future])
            raise
    fold = _ClusterFold(client, step, parts, args, window, monitor, pin_blocks=not holds_futures)
    return fold.run(state, order)
