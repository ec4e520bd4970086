"""Fold a small state (a model) over the row blocks of dask collections.

``fold_blocks(step, state, parts, order)`` computes, for each block index ``b``
of ``order`` in turn::

    state = step(state, *(row block b of each part), *args)

where ``parts`` are dask arrays / DataFrames / Series with the same number of
row blocks (``X``, ``y``, sample weights...). Only a few blocks exist at any
time, so the collections may be far larger than memory.

With a Client
-------------
* Block ``b`` of every part is computed together, in one ``persist`` call
  (so ``X`` and ``y`` sliced from one generated block share its generation),
  on a worker chosen here: the one with the fewest blocks alive. Consecutive
  blocks therefore alternate between workers, and block ``k + 1`` is
  generated on one worker while the step of block ``k`` runs on another.
* The step of block ``b`` is pinned to the worker holding the block
  (``workers=[address]``, loose, so a lost worker does not hang the fold) and
  depends on the previous step's result: the state travels, the block does
  not. Steps have a higher priority than block computations, so a worker runs
  a step as soon as it is ready rather than starting another block first.
* At most ``window`` blocks are alive (submitted and not yet consumed by their
  step); the default is ``threads + 1`` per worker (2 for one-thread
  workers). Our references to a block are dropped as soon as its step is
  submitted, so the scheduler frees the block the moment the step has run.
* Collections that hold futures (persisted data) are already on workers:
  their blocks are computed where the scheduler puts them (next to the data),
  and each step is pinned to the block's holder once it is known.
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

__all__ = ["fold_blocks", "n_row_blocks", "row_block", "whole_rows"]

STEP_PRIORITY = 1  # above block computations (0): a ready step runs first


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
        self.name = getattr(step, "__name__", None) or getattr(getattr(step, "func", None), "__name__", "step")
        self.name = self.name.strip("_").replace("_", "-")

    # -- placement policy (pure bookkeeping) --------------------------------
    def _choose_worker(self, position: int) -> str:
        """Fewest blocks alive; ties: the worker used least recently."""
        w = min(self.alive_on, key=lambda a: (self.alive_on[a], self._last_used[a], a))
        self._last_used[w] = position
        return w

    # -- submissions ----------------------------------------------------------
    def _submit_block(self, b: int, position: int) -> _Block:
        from distributed import futures_of

        blocks = [row_block(p, b) for p in self.parts]
        kw: dict[str, Any] = {}
        worker = None
        if self.pin_blocks:
            worker = self._choose_worker(position)
            self.alive_on[worker] += 1
            kw = dict(workers=[worker], allow_other_workers=True)
        persisted = self.client.persist(blocks, **kw)
        futures = []
        for blk, per in zip(blocks, persisted):
            fs = futures_of(per)
            if len(fs) != 1:  # not one chunk: let dask assemble it
                fs = [self.client.compute(blk, **kw)]
            futures.extend(fs)
        return _Block(futures, worker)

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
        kw = dict(workers=[worker], allow_other_workers=True) if worker else {}
        return self.client.submit(
            _run_step, self.step, state, block.futures, self.args, pure=False,
            priority=STEP_PRIORITY, key=f"dasklearn-{self.name}-{self.token}-{position}", **kw,
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
                    wait(watch, return_when="FIRST_COMPLETED")
                except CancelledError:
                    pass  # found below, by status
                for position in [p for p, f in steps.items() if f.done()]:
                    _fail_if_failed([steps.pop(position)])
                    done = alive.pop(position)
                    if done.worker in self.alive_on:
                        self.alive_on[done.worker] -= 1
                    self._note(len(alive))
            return state.result() if n else state
        except BaseException:
            pending = [f for blk in alive.values() for f in blk.futures] + list(steps.values())
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
        return client.submit(_fold_in_task, step, state, _Graph(parts), order, args,
                             pure=False, key=f"dasklearn-fold-{uuid.uuid4().hex}").result()
    fold = _ClusterFold(client, step, parts, args, window, monitor, pin_blocks=not holds_futures)
    return fold.run(state, order)
