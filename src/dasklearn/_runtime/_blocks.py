"""Fold a small state (a model) over the row blocks of dask collections.

``fold_blocks(step, state, parts, order)`` computes, for each block index ``b``
of ``order`` in turn::

    state = step(state, *(row block b of each part), *args)

where ``parts`` are dask arrays / DataFrames / Series with the same number of
row blocks (``X``, ``y``, sample weights...). Only a few blocks exist at any
time, so the collections may be far larger than memory.

With a Client
-------------
* Placement. Block ``b`` of every part is computed in one task, on a worker
  chosen here (:func:`_pick_worker`): among the workers holding fewer
  blocks than their capacity (threads + 1), the one with the fewest blocks
  alive relative to its capacity, ties going to the one used least
  recently. The task runs the block's culled graph (see
  :class:`_BlockGraphs`; ``X`` and ``y`` sliced from one generated block share
  its generation) with dask's synchronous scheduler and holds the parts
  together. Consecutive blocks therefore alternate between workers: block
  ``k + 1`` is generated on one worker while the step of block ``k`` runs on
  another.
* Fresh keys. Every task the fold pins has a key of its own attempt
  (``dasklearn-block-<token>-<position>``, ``dasklearn-<step>-<token>-<position>``;
  a recovery draws a new token). The scheduler applies a pin only when it
  creates a task, so a task submitted again under a key it still knows keeps
  the old pin: the block graph's own keys are the same in every attempt and
  shared between blocks (e.g. the parameters of a generated data set), and
  resubmitting them after a loss could leave a block pinned to the dead
  worker, waiting forever. The price: lineage that blocks share (e.g. a
  global mean) is computed in each block's task; persist such input first.
* The model travels, the block does not. The step of block ``b`` is pinned
  to the worker holding the block and takes the previous step's result as
  an argument, so only the state (a few KB for a linear model) crosses the
  network, once per block. Pins are strict (``allow_other_workers=False``):
  loose ones let work stealing move a block to another worker.
* Priorities. A step goes before any block task, and an earlier block's
  task before a later block's (priority ``-position``).
* Memory. At most ``window`` blocks are alive (submitted and not yet
  consumed by their step), and at most ``threads + 1`` on each worker (2
  for one-thread workers); the default window is the sum of the latter.
  Our future of a block is released as soon as its step is submitted, so
  the scheduler frees the block the moment its step has run.
* Futures are released explicitly (``Future.release``) the moment the fold
  is done with them: a block once its step is submitted, a state once a
  newer one has finished (and is not being fetched), everything on a loss
  and at the end. Dropping the last reference is not enough: an exception
  raised through distributed's synchronous wrappers (the poll's
  TimeoutError, a CancelledError) sits in a reference cycle with its
  traceback, which keeps the frames that held futures alive until the
  cyclic garbage collector runs -- and on the scheduler, their tasks and
  the chain of steps and blocks behind them.
* Persisted collections (holding futures) are already on workers: their
  blocks are computed by the scheduler where it puts them (next to the
  data) and gathered by one unpinned task per block (fresh key), and each
  step is pinned to that task's holder once it is known (``who_has``).
* Each step runs on a private copy of the state (``copy.deepcopy``): a task
  never mutates its input, so a re-run task gives the same result.
* Small, fine-grained inputs (the runtime's one-task policy, see
  :mod:`dasklearn._runtime._compute`) run the local loop below inside one
  task on a worker: same blocks, same order, same numbers, no per-block
  scheduling.
* Groups. Blocks under ``SMALL_BLOCK_BYTES`` (all parts together) in
  larger or persisted input (which the one-task policy leaves to this
  path) are taken in groups of consecutive positions of ``order``, within
  ``GROUP_BYTES`` and ``MAX_GROUP`` blocks a group (:func:`consecutive_groups`;
  a larger block is a group of its own; DataFrames and object arrays,
  whose block sizes are unknown, are not grouped). One task computes a
  group's blocks (a persisted group's blocks are gathered to the worker
  that packs them: small blocks travel, once) and one task runs their
  steps in turn, so tiny blocks do not each pay a task's scheduling (1,000
  persisted blocks of 34 kB, 64 a group: 9.1 s one per task, 0.66 s in
  groups, ``benchmarks/incremental_small_blocks.py``).
  Everything above and below said of blocks and steps (placement, the
  window, the state kept here, recovery) holds for groups; the steps, and
  the numbers, are the same.

Worker loss
-----------
Two kinds of state live on workers only: the model between two steps (the
chain of step results) and the blocks of the window. Both are recomputable:
the fold is deterministic (same blocks, same order, same step on a private
copy of the state), so running it again from any intermediate state gives
the same final state, bit for bit.

* The state kept here. Each time a step finishes, the client fetches its
  result in the background (one fetch at a time, on a thread of this
  process, always the latest finished step; the chain never waits for it).
  So this process always holds the state after some step ``j``, usually the
  previous step or the one before; memory here: one model, plus one being
  fetched.
* Detection. Every ``POLL_SECONDS`` (and whenever nothing finished for that
  long), the fold compares the workers holding its blocks, pending steps and
  latest state with the cluster's members (``Client.nthreads``), and checks
  its futures: a worker that left (a SIGKILLed worker's nanny restarts it
  under a new address), a future cancelled because its input died, or one
  reported lost, is a loss. Strictly pinned tasks whose worker is gone would
  wait forever; this check is what turns that into a loss, within about a
  second of the scheduler noticing. An error raised by a step or a block
  task is not a loss: it propagates. A fold that starts on a cluster without
  workers waits for one (up to ``dasklearn.worker-timeout`` seconds), then raises.
* Recovery. The in-flight window is released (blocks and steps: the
  scheduler forgets them; a fetch of a finished state on a live worker may
  complete first, for up to ``FINISH_FETCH_SECONDS``), the fold waits for at
  least one worker (up to ``dasklearn.worker-timeout`` seconds), and resumes at step ``j + 1``
  from the state kept here, under fresh keys. Lost blocks are recomputed
  from the dask graph (in-memory input, e.g. a numpy array wrapped by
  ``da.from_array``, is embedded in that graph and is placed again from this
  process; blocks of persisted collections are recomputed by the scheduler
  from their lineage). Workers that join (the restarted one) are used from
  the next check on, and the default window follows the workers there are,
  so memory per worker stays bounded. After ``MAX_STALLED_RECOVERIES``
  recoveries in a row that kept no new state (data gone for good, e.g.
  scattered), a RuntimeError is raised.
* The one-task path is not pinned: the scheduler runs its task again on
  another worker, from the start.

Without a Client
----------------
Blocks are computed one at a time with dask's synchronous scheduler and the
step runs in this process.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import logging
import time
import uuid
from concurrent.futures import CancelledError
from typing import Callable, Sequence

from dasklearn._runtime._cluster import (
    WorkersLost,
    current_workers,
    gather,
    lost_with_worker,
    worker_timeout,
    nthreads as _nthreads,
)
from dasklearn._runtime._compute import flat_keys
from dasklearn._validation import user_stacklevel

__all__ = ["fold_blocks", "n_row_blocks", "whole_rows"]

POLL_SECONDS = 0.5  # how often the fold checks that its workers are still there
STEP_PRIORITY = 1  # above every block's tasks (priority -position <= 0)
FINISH_FETCH_SECONDS = 5.0  # on a loss, how long a fetch of a finished state may complete
MAX_STALLED_RECOVERIES = 5  # recoveries in a row that keep no new state: then give up
GROUP_BYTES = 4 << 20  # consecutive small blocks go to one task up to about this size
MAX_GROUP = 64  # blocks per task at most

logger = logging.getLogger("dasklearn")


# ------------------------------------------------------------ block access
def _is_array(coll) -> bool:
    from dasklearn._blockwise import is_dask_array

    return is_dask_array(coll)


def n_row_blocks(coll) -> int:
    """Number of row blocks of a dask array, DataFrame or Series."""
    return int(coll.numblocks[0]) if _is_array(coll) else int(coll.npartitions)


def whole_rows(coll):
    """``coll`` with one chunk along every axis but the first (arrays only)."""
    if _is_array(coll) and coll.ndim > 1 and any(len(c) > 1 for c in coll.chunks[1:]):
        return coll.rechunk({ax: -1 for ax in range(1, coll.ndim)})
    return coll


class _BlockGraphs:
    """The task graphs of the row blocks of ``parts``, block by block.

    Each part's graph is materialised once, as ``dask.compute`` would, and
    block ``b``'s graph is culled from it by walking back from the block's
    key (``dask.optimization.cull``): building it costs the block's own
    lineage, whatever the number of blocks (slicing ``coll.blocks[b]`` and
    culling the high-level graph cost O(n_blocks) per block).

    Culled, not optimised: optimisation fuses tasks under new names, and
    blocks submitted one at a time from overlapping graphs (shared
    parameters, boolean masks) then get clashing fused keys, which corrupts
    the scheduler's state (seen with distributed 2026.8). Culling also keeps
    in-memory sources cheap: only the block's own piece is sent. A dask
    DataFrame is optimised once without fusion (projections reach the
    source) and without tuning (which may merge partitions), then lowered
    to its own tasks.
    """

    def __init__(self, parts):
        import dask
        from dask.utils import key_split

        self.graphs: list[dict] = []
        self.keys: list[list] = []
        for p in parts:
            n = n_row_blocks(p)
            if not _is_array(p):
                # (a shuffle -- set_index, merge, sort_values -- lowered as tasks: the
                # peer-to-peer one needs the distributed scheduler, not a block's own task)
                with dask.config.set({"optimization.tune.active": False, "dataframe.shuffle.method": "tasks"}):
                    p = p.optimize(fuse=False)
            keys = flat_keys(p.__dask_keys__())
            graph = dict(p.__dask_graph__())
            if any(key_split(key) == "shuffle-barrier" for key in graph):
                raise ValueError(
                    "The input holds a peer-to-peer shuffle (shuffle_method='p2p' given to "
                    "set_index, merge, sort_values or shuffle), which only the cluster as a whole "
                    "can run, not the task that computes one block. Persist the input first "
                    "(X = X.persist()), or shuffle it with shuffle_method='tasks'."
                )
            if len(keys) != n:
                raise ValueError(f"a collection of {n} row blocks has {len(keys)} chunks; "
                                 "expected one per row block (use whole_rows).")
            self.graphs.append(graph)
            self.keys.append(keys)

    def lineage(self, k: int, b: int) -> dict:
        """The graph of row block ``b`` of part ``k``."""
        from dask.optimization import cull

        return cull(self.graphs[k], self.keys[k][b])[0]

    def block(self, b: int) -> tuple[dict, list]:
        """The graph computing row block ``b`` of every part, and their keys."""
        graph: dict = {}
        for k in range(len(self.graphs)):
            graph.update(self.lineage(k, b))  # shared tasks ([X | y] generated together) merge
        return graph, [keys[b] for keys in self.keys]

    def group(self, blocks) -> tuple[dict, list]:
        """The graph computing row blocks ``blocks`` (indices may repeat) of
        every part, and their keys: one list of the parts' keys per block."""
        graph: dict = {}
        keys = []
        for b in blocks:
            g, k = self.block(b)
            graph.update(g)
            keys.append(k)
        return graph, keys


# -------------------------------------------------------------- local loop
def _fold_here(step, state, parts, order, args, monitor=None):
    """The fold in this thread: one block at a time, synchronous scheduler."""
    import dask

    graphs = _BlockGraphs(parts)
    for b in order:
        blocks = dask.get(*graphs.block(b))
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


class _Culled:
    """Carries a block's culled graph into a task (opaque to dask)."""

    __slots__ = ("graph", "keys")

    def __init__(self, graph: dict, keys: list):
        self.graph = graph
        self.keys = keys


def _compute_block(culled: _Culled) -> list:
    """Task body: the row blocks of a group (every part of each), from
    their culled graph: one tuple of parts per block."""
    import dask

    return _pack(dask.get(culled.graph, culled.keys))


def _pack(groups) -> list:
    """Task body: the parts of a group of blocks of persisted collections, together."""
    return [tuple(parts) for parts in groups]


def _run_step(step, state, blocks, args):
    """Task body: the steps of a group of blocks, in order, on a private
    copy of the state."""
    state = copy.deepcopy(state)
    for parts in blocks:
        state = step(state, *parts, *args)
    return state


def row_nbytes(a) -> int | None:
    """Bytes of one row of array ``a`` (numpy or dask), or None for an
    object array, whose items' sizes the dtype does not tell."""
    import math

    import numpy as np

    dtype = np.dtype(getattr(a, "dtype", object))
    return None if dtype.hasobject else dtype.itemsize * math.prod(a.shape[1:])


def block_bytes(parts) -> list[int] | None:
    """Bytes of each row block of ``parts`` together, or None when a size is
    unknown: dask DataFrames, unknown chunks, and object arrays (whose
    items' sizes the dtype does not tell)."""
    import math

    sizes = None
    for p in parts:
        row = row_nbytes(p) if _is_array(p) else None
        if row is None or any(math.isnan(c) for c in p.chunks[0]):
            return None
        mine = [int(c) * row for c in p.chunks[0]]
        sizes = mine if sizes is None else [a + b for a, b in zip(sizes, mine)]
    return sizes


def consecutive_groups(order, sizes) -> list[tuple]:
    """Pure policy: ``order`` cut into groups of consecutive positions, each
    computed by one task of the cluster fold and stepped through by one.
    Blocks under ``SMALL_BLOCK_BYTES`` (``sizes[b]``: all parts of block
    ``b`` together), where a task's scheduling costs more than the work,
    are grouped while the group stays within ``GROUP_BYTES`` and
    ``MAX_GROUP`` blocks; a larger block is a group of its own, and so is
    every block when ``sizes`` is None (unknown)."""
    from dasklearn._runtime._compute import SMALL_BLOCK_BYTES

    if sizes is None:
        return [(b,) for b in order]
    groups: list[tuple] = []
    current: list[int] = []
    held = 0
    for b in order:
        small = sizes[b] < SMALL_BLOCK_BYTES
        if current and (not small or held + sizes[b] > GROUP_BYTES or len(current) == MAX_GROUP):
            groups.append(tuple(current))
            current, held = [], 0
        if not small:
            groups.append((b,))
            continue
        current.append(b)
        held += sizes[b]
    if current:
        groups.append(tuple(current))
    return groups


def _release(futures) -> None:
    """Release our references to ``futures`` now, not when Python frees them."""
    for f in futures:
        try:
            f.release()
        except RuntimeError:  # the client's event loop is closed: nothing is held
            pass


# ----------------------------------------------------------- cluster fold
def _pick_worker(alive_on: dict, capacity: dict, last_used: dict) -> str | None:
    """Pure policy: the worker to compute the next block, or None if every
    worker already holds its capacity of blocks (threads + 1).

    Among workers with room, the one with the fewest blocks alive relative
    to its capacity; ties go to the one used least recently, then by name.
    """
    room = [w for w in alive_on if alive_on[w] < capacity[w]]
    if not room:
        return None
    return min(room, key=lambda w: (alive_on[w] / capacity[w], last_used[w], w))


class _Block:
    """One submitted block: the future of its parts (None once its step is
    submitted) and its worker (None: not known yet)."""

    __slots__ = ("future", "worker")

    def __init__(self, future, worker):
        self.future = future
        self.worker = worker


class _WorkerLost(Exception):
    """Internal: blocks or model states of the fold died with a worker."""


def _check_futures(futures) -> None:
    """:class:`_WorkerLost` for a future whose data died with a worker
    (cancelled, or lost: tasks pinned strictly are not recomputed elsewhere);
    a task's own exception is raised."""
    for f in futures:
        if lost_with_worker(f, recomputable=True):
            raise _WorkerLost(f"task {f.key!r} is {f.status}: data it needs died with a worker")
        if f.status == "error":
            f.result()  # raises the task's exception


class _ClusterFold:
    def __init__(self, client, step, parts, args, window, monitor, pin_blocks, on_recover=None, workers=None):
        self.client = client
        self.starts: list[int] = []  # group position -> its first block's position in order, then the end
        self.step = step
        self.args = args
        self.monitor = monitor
        self.on_recover = on_recover
        self.explicit_window = window
        self.capacity: dict[str, int] = {}  # worker -> most blocks alive there (threads + 1)
        self.alive_on: dict[str, int] = {}  # worker -> blocks alive there
        self._last_used: dict[str, int] = {}
        self._add_workers(dict(_nthreads(client) if workers is None else workers))
        # kept for the whole fit even if no worker is there yet: choosing a
        # worker then is a loss, which waits for one (up to dasklearn.worker-timeout seconds)
        self.pin_blocks = pin_blocks
        self.graphs = _BlockGraphs(parts)
        self.token = uuid.uuid4().hex[:12]
        name = getattr(step, "__name__", None) or getattr(getattr(step, "func", None), "__name__", "step")
        self.name = name.strip("_").replace("_", "-")
        self.n_recoveries = 0
        # the running attempt (see run)
        self.alive: dict[int, _Block] = {}  # position -> block not yet consumed
        self.steps: dict[int, tuple] = {}  # position -> (step future, its worker) not seen done
        self.done = None  # (position, future, worker): the latest step seen done
        self.saved = None  # (position, state): the state after that position, here
        self.fetching = None  # (position, future, worker, job) of the state being fetched
        self._pool = None
        self._next_check = 0.0

    # -- workers (pure bookkeeping) ------------------------------------------
    def _add_workers(self, present: dict) -> None:
        for w, n in sorted(present.items()):
            if w not in self.capacity:
                self.capacity[w] = n + 1
                self.alive_on[w] = 0
                self._last_used[w] = -1
        self._resize()

    def _drop_workers(self, gone) -> None:
        for w in gone:
            self.capacity.pop(w, None)
            self.alive_on.pop(w, None)
            self._last_used.pop(w, None)
        self._resize()

    def _resize(self) -> None:
        if self.explicit_window is not None:
            self.window = max(1, int(self.explicit_window))
        else:  # threads + 1 per worker there is now
            self.window = max(1, sum(self.capacity.values()) or 2)

    def _choose_worker(self, position: int) -> str | None:
        """The worker for the next block (:func:`_pick_worker`); None: all are full."""
        if not self.alive_on:
            raise _WorkerLost("no worker is left to compute the next block")
        w = _pick_worker(self.alive_on, self.capacity, self._last_used)
        if w is not None:
            self._last_used[w] = position
        return w

    # -- submissions ----------------------------------------------------------
    def _submit_block(self, blocks: tuple, position: int) -> _Block | None:
        """Submit the group of blocks ``blocks`` at ``position``; None: every
        worker holds its capacity of groups (a step will free one)."""
        worker = self._choose_worker(position) if self.pin_blocks else None
        if self.pin_blocks and worker is None:
            return None
        graph, keys = self.graphs.group(blocks)
        # priority -position: an earlier block before a later one
        key = f"dasklearn-block-{self.token}-{position}"
        if not self.pin_blocks:  # persisted: the scheduler computes it next to its data
            parts = self.client.get(graph, keys, sync=False, priority=-position)
            future = self.client.submit(_pack, parts, key=key, pure=False, priority=-position)
            _release([f for group in parts for f in group])  # after the submission that depends on them
            return _Block(future, None)
        self.alive_on[worker] += 1
        future = self.client.submit(_compute_block, _Culled(graph, keys), key=key, pure=False,
                                    priority=-position, workers=[worker], allow_other_workers=False)
        return _Block(future, worker)

    def _holder(self, block: _Block) -> str | None:
        """The worker holding ``block`` once it is computed (None: not yet)."""
        if block.worker is not None:
            return block.worker
        _check_futures([block.future])
        if block.future.status != "finished":
            return None
        holders = list(self.client.who_has([block.future]).get(block.future.key, ()))
        block.worker = holders[0] if holders else ""
        return block.worker

    def _submit_step(self, state, block: _Block, worker: str, position: int):
        kw = dict(workers=[worker], allow_other_workers=False) if worker else {}
        return self.client.submit(
            _run_step, self.step, state, block.future, self.args, pure=False,
            priority=STEP_PRIORITY, key=f"dasklearn-{self.name}-{self.token}-{position}", **kw,
        )

    def _note(self, n_alive: int) -> None:
        if self.monitor is not None:
            self.monitor(n_alive)

    # -- the state kept here ----------------------------------------------------
    def _harvest(self) -> None:
        """Take a fetched state; start fetching the latest finished one.

        One fetch at a time, on a thread of this process: the chain of steps
        never waits for it, and a slow fetch just skips intermediate states.
        """
        self._take_fetched()
        if self.fetching is None and self.done is not None and self.done[0] > self.saved[0]:
            position, future, worker = self.done
            # No timeout: a fetch that outlasts one would be started again,
            # and again, for ever (a large model on a slow link). It cannot
            # hang either: while it runs, the loop checks every POLL_SECONDS
            # that its worker is there and its future neither cancelled nor
            # lost, and on a loss releases the future, which cancels the fetch.
            job = self._pool.submit(future.result)
            self.fetching = (position, future, worker, job)

    def _take_fetched(self) -> None:
        if self.fetching is None or not self.fetching[3].done():
            return
        position, future, _, job = self.fetching
        self.fetching = None
        if self.done is None or self.done[1] is not future:
            _release([future])  # a newer state is done: this one is not needed any more
        try:
            value = job.result()
        except (CancelledError, TimeoutError, OSError):
            return  # died with its worker or released: a recovery follows, or a newer fetch
        if position > self.saved[0]:
            self.saved = (position, value)

    def _held_futures(self) -> list:
        """Every future the fold holds, once each."""
        out = [blk.future for blk in self.alive.values() if blk.future is not None]
        out += [f for f, _ in self.steps.values()]
        if self.done is not None:
            out.append(self.done[1])
        if self.fetching is not None and (self.done is None or self.fetching[1] is not self.done[1]):
            out.append(self.fetching[1])
        return out

    # -- loss detection -----------------------------------------------------------
    def _check(self) -> None:
        """Raise :class:`_WorkerLost` if a worker holding a block, a step or a
        state of ours has left, or one of our futures was cancelled or lost;
        raise a task's exception; take in workers that joined."""
        self._next_check = time.monotonic() + POLL_SECONDS
        present = dict(_nthreads(self.client))
        used = {b.worker for b in self.alive.values()} | {w for _, w in self.steps.values()}
        if self.done is not None:
            used.add(self.done[2])
        gone = sorted((used - {None, ""}) - set(present))
        if gone:
            raise _WorkerLost(f"worker(s) {', '.join(gone)} left the cluster")
        self._drop_workers(set(self.capacity) - set(present))  # they held nothing of ours
        self._add_workers(present)
        _check_futures(self._held_futures())

    # -- one attempt ---------------------------------------------------------------
    def _run_from(self, groups: Sequence[tuple]) -> None:
        """Groups ``saved position + 1 .. n - 1`` (of blocks, see run), until
        their last state is here."""
        from distributed import wait

        n = len(groups)
        state = self.saved[1]  # an object here: the first step carries it
        next_block = next_step = self.saved[0] + 1
        self._next_check = time.monotonic() + POLL_SECONDS
        while self.saved[0] < n - 1:
            while next_block < n and len(self.alive) < self.window:
                block = self._submit_block(groups[next_block], next_block)
                if block is None:
                    break
                self.alive[next_block] = block
                next_block += 1
                self._note(len(self.alive))
            while next_step < next_block:
                block = self.alive[next_step]
                worker = self._holder(block)
                if worker is None:
                    break
                state = self._submit_step(state, block, worker, next_step)
                self.steps[next_step] = (state, worker)
                _release([block.future])  # the scheduler frees it once its step has run
                block.future = None
                next_step += 1
            self._harvest()
            if time.monotonic() >= self._next_check:
                self._check()
            watch = [f for f, _ in self.steps.values()]
            if next_step < next_block and self.alive[next_step].worker is None:
                watch.append(self.alive[next_step].future)
            try:
                if watch:
                    wait(watch, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
                elif self.fetching is not None:
                    if not cf.wait([self.fetching[3]], timeout=POLL_SECONDS).done:
                        raise TimeoutError
            except CancelledError:
                pass  # found below, by status
            except TimeoutError:
                self._check()
            for position in sorted(p for p, (f, _) in self.steps.items() if f.done()):
                future, worker = self.steps[position]
                _check_futures([future])
                del self.steps[position]
                if self.done is not None and (self.fetching is None or self.fetching[1] is not self.done[1]):
                    _release([self.done[1]])  # superseded (its successor depends on it, not us)
                self.done = (position, future, worker)  # ascending: ends on the latest
                finished = self.alive.pop(position)
                if self.pin_blocks and finished.worker in self.alive_on:
                    self.alive_on[finished.worker] -= 1
                self._note(len(self.alive))

    # -- recovery ----------------------------------------------------------------------
    def _abandon(self, keep_fetch: bool) -> None:
        """Release everything of ours on the cluster: the scheduler forgets it.

        With ``keep_fetch``, first keep the newest finished state that is on
        a live worker: the fetch in flight completes, then the latest
        finished step is fetched if it is newer (each for at most
        ``FINISH_FETCH_SECONDS``), so that fewer steps run again.
        """
        if keep_fetch:
            self._take_fetched()  # a state already here is kept, whichever worker it came from
        fetch, done = self.fetching, self.done
        if keep_fetch and (fetch is not None or done is not None):
            try:
                present = set(_nthreads(self.client))
            except Exception:  # noqa: BLE001 - best effort: these states are shortcuts
                present = set()
            if fetch is not None and fetch[1].status == "finished" and fetch[2] in present:
                cf.wait([fetch[3]], timeout=FINISH_FETCH_SECONDS)
                self._take_fetched()
            if (done is not None and done[0] > self.saved[0] and done[1].status == "finished"
                    and done[2] in present):
                try:
                    self.saved = (done[0], done[1].result(timeout=FINISH_FETCH_SECONDS))
                except (CancelledError, TimeoutError, OSError):
                    pass
        held = self._held_futures()
        self.alive, self.steps, self.done, self.fetching = {}, {}, None, None
        _release(held)  # a fetch still running gets a CancelledError
        self._note(0)

    def _resume(self, lost: _WorkerLost, n: int) -> None:
        """After :meth:`_abandon`: wait for a worker, then start placement afresh."""
        try:
            # nothing submitted from now on shares a key with what was released
            # (fresh token): no stale task or notice on the scheduler can touch it
            present = dict(current_workers(self.client))
        except WorkersLost:
            raise WorkersLost(
                f"Lost the model being trained ({lost}) and no worker was available within "
                f"{worker_timeout():g} s to continue. Start workers and fit again."
            ) from lost
        self._drop_workers(set(self.capacity) - set(present))
        self._add_workers(present)
        for w in self.alive_on:
            self.alive_on[w] = 0
        self.token = uuid.uuid4().hex[:12]  # fresh block and step keys
        self.n_recoveries += 1
        resume_at = self.starts[self.saved[0] + 1]  # in blocks
        logger.warning(
            "dasklearn: %s; resuming the fold at step %d of %d from the model state kept by "
            "the client (recovery %d).", str(lost), resume_at + 1, n, self.n_recoveries,
        )
        if self.on_recover is not None:
            self.on_recover(resume_at, str(lost))

    def _steps_after(self, position: int, n: int) -> str:
        """The block steps of the group after group ``position``, in words."""
        first, last = self.starts[position + 1] + 1, self.starts[position + 2]
        return f"step {first}" if first == last else f"one of steps {first}-{last}"

    # -- the loop ----------------------------------------------------------------------
    def run(self, state, groups: Sequence[tuple]):
        """The state after the steps of every block of ``groups`` (the block
        order cut into groups, see :func:`consecutive_groups`), one task a group."""
        self.starts = [0]
        for g in groups:
            self.starts.append(self.starts[-1] + len(g))
        n = self.starts[-1]
        self.saved = (-1, state)
        self._pool = cf.ThreadPoolExecutor(1, thread_name_prefix="dasklearn-fold-fetch")
        stalled = 0
        try:
            while True:
                start = self.saved[0]
                try:
                    self._run_from(groups)
                    return self.saved[1]
                except _WorkerLost as lost:
                    self._abandon(keep_fetch=True)
                    if self.saved[0] == len(groups) - 1:
                        return self.saved[1]  # the loss came after the last state was here
                    stalled = 0 if self.saved[0] > start else stalled + 1
                    if stalled > MAX_STALLED_RECOVERIES:
                        raise WorkersLost(
                            f"{lost}; {stalled} recoveries in a row made no progress (the last "
                            f"state kept is after step {self.starts[self.saved[0] + 1]} of {n}). Either "
                            f"{self._steps_after(self.saved[0], n)} kill(s) its worker (e.g. out of memory: use smaller "
                            "blocks or larger workers), or data the fit needs is gone for good "
                            "(e.g. scattered data whose workers left: load it again and fit again)."
                        ) from lost
                    self._resume(lost, n)
        finally:
            # whatever is still held (the last state on success) is released
            # now, even if a traceback keeps this object or its frames alive
            self._abandon(keep_fetch=False)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.saved = None


def fold_blocks(
    step: Callable,
    state,
    parts: Sequence,
    order: Sequence[int],
    *,
    args: tuple = (),
    window: int | None = None,
    monitor: Callable[[int], None] | None = None,
    on_recover: Callable[[int, str], None] | None = None,
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
        Most blocks (groups of small blocks, see "Groups" above) alive at
        once on the cluster (computing, computed, or being consumed). None:
        ``threads + 1`` per worker.
    monitor : callable, default=None
        Called with the number of blocks (groups) alive each time it changes
        (tests and diagnostics; not called inside the one-task path).
    on_recover : callable, default=None
        Called as ``on_recover(position, reason)`` each time the fold resumes
        after a worker loss, ``position`` being the index into ``order`` of
        the first step run again (see "Worker loss" above).

    Returns
    -------
    state : object
        The state after the last step, in this process.
    """
    from dasklearn._runtime._cluster import active_client
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
            return gather(client, [future])[0]  # an empty cluster: WorkersLost, not a hang
        finally:
            _release([future])  # also on error: a traceback must not keep the task
    # blocks are pinned to workers: wait for one (not for ever) before choosing
    workers = current_workers(client)
    fold = _ClusterFold(client, step, parts, args, window, monitor, pin_blocks=not holds_futures,
                        on_recover=on_recover, workers=workers)
    if not holds_futures:
        _warn_if_blocks_share_work(fold.graphs, order[0])
    return fold.run(state, consecutive_groups(order, block_bytes(parts)))


def _rows_by_layer(graph: dict) -> dict:
    """Layer name -> the row indices of its blocks in ``graph``."""
    rows: dict = {}
    for key in graph:
        if isinstance(key, tuple) and len(key) >= 2 and isinstance(key[1], int):
            rows.setdefault(key[0], set()).add(key[1])
    return rows


def _shared_lineage(block: dict, whole: dict) -> str | None:
    """Pure policy: a layer of which the block's lineage reads more than two
    row blocks and more than half of them (a global reduction, say), or None.

    ``block`` is the block's graph, ``whole`` the number of row blocks of
    each layer in the collection's graph. Reading a few neighbours (rechunking
    to larger blocks, ``map_overlap``) is local work, not shared by all blocks.
    """
    return next((name for name, seen in _rows_by_layer(block).items()
                 if len(seen) > 2 and 2 * len(seen) > whole.get(name, 0)), None)


def _warn_if_blocks_share_work(graphs: _BlockGraphs, b: int) -> None:
    """Each block's lineage runs in its own task (see "Fresh keys"): say so
    when that lineage reads many other blocks, which is then repeated for
    every block, and how to avoid it."""
    import warnings

    from dask.array import PerformanceWarning

    for k, dsk in enumerate(graphs.graphs):
        whole = {name: len(rows) for name, rows in _rows_by_layer(dsk).items()}
        name = _shared_lineage(graphs.lineage(k, b), whole)
        if name is not None:
            warnings.warn(
                f"Row block {b} of input {k} depends on many row blocks of '{name}' (work shared "
                "by all blocks, such as a global mean): it will be computed again for every "
                "block. Persist the input first (X = X.persist()), or compute such statistics "
                "up front, e.g. mean = X.mean(0).compute(); X = X - mean.",
                PerformanceWarning, stacklevel=user_stacklevel(),
            )
            return
