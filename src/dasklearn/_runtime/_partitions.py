"""Blocks placed once on workers in fixed *groups*, and tasks run where they are.

This is the runtime of data-parallel training: the data is placed on the
workers once, and every later task runs where its blocks already are, so
only small objects (models, parameters) travel.

Groups
    The row blocks are split into ``n_groups`` contiguous ranges of about
    equal rows (:func:`group_blocks`): a pure function of the block sizes and
    ``n_groups``, never of where blocks happen to be. A group is the unit of
    work of the trainer (one task per group per call) and of placement (all
    the blocks of a group live on one worker). The trainer merges results in
    group order, so what it computes does not depend on which worker holds
    which group.

Placement
    ``place_blocks(arrays, prepare, ...)`` turns the row blocks of aligned
    dask arrays (``X`` and ``y``) into one *part* per block,
    ``prepare(i, X_i, y_i, ...)``, computed directly on the worker of its
    group (the whole graph of a group is submitted with that worker as its
    restriction), and kept there. Groups go to workers by
    :func:`assign_groups`: for a persisted first array (its row blocks as
    ``persist`` left them), so that the most rows stay where they are, each
    worker taking an even share of the groups; else round robin over the
    workers sorted by address. Which
    worker holds which group never changes what is computed. A part moves
    after placement only when a worker is lost or joins (see below).

Worker loss
    Every wait on the cluster is a short loop that also checks the
    membership of the cluster (:meth:`Client.nthreads`) and the state of the
    futures, so a lost worker is noticed within ``POLL_SECONDS`` instead of
    leaving a task waiting forever for a worker that no longer exists. The
    groups that lived on a lost worker are placed again on the current
    workers (their parts are recomputed from the dask graph, which the
    :class:`Partitions` keeps: in-memory input is embedded in that graph, so
    it is placed again from the client's copy), the lost tasks of the call
    are cancelled and submitted again with the same arguments, and the
    results of the other groups are kept. Objects given to tasks are
    :class:`Held`: a copy stays here, so that one lost with its worker is
    placed again. When the workers become unevenly loaded (e.g. a lost
    worker's groups went to a survivor, then the nanny restarted the lost
    worker) whole groups are moved once to even them out, before the next
    call (never while its tasks run).

    A cluster left without any worker for ``dasklearn.worker-timeout``
    seconds raises :class:`~dasklearn._runtime._cluster.WorkersLost` (the
    waits of :mod:`._cluster`, shared by every runtime).

    A group's tasks and its parts' tasks are pinned to its worker *strictly*
    (``allow_other_workers=False``), as :mod:`._blocks` pins its tasks: with
    loose restrictions dask's work stealing may hand a task of a busy worker
    to an idle one, which then fetches the blocks (or the parts) the task
    reads, and a part would end up elsewhere than ``worker_of`` says. A
    persisted array's blocks are given to the parts' tasks as their Futures,
    so nothing else reads them. A task pinned to a worker that has left
    never runs: the waits notice the worker's absence (or the lost futures)
    at their next check and place the group again, as above; a worker
    *paused* for memory holds its group's tasks until it resumes (or its
    nanny restarts it). The parts' lineage (computing a block of lazy input)
    is pinned *loosely*: it runs on the part's worker (work stealing may
    still move one of its tasks: then only what that task computes moves),
    and a lineage task the scheduler still holds from an earlier placement,
    pinned to a worker since lost, runs elsewhere instead of never.

Without a distributed Client the blocks are computed here and the groups
("virtual workers") run on threads.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import uuid
from concurrent.futures import CancelledError
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

from dasklearn._runtime._cluster import (
    POLL_SECONDS,
    WorkersLost,
    active_client,
    as_default,
    closed_says_so,
    current_workers,
    lost_with_worker,
    scatter,
    wait_on_cluster,
    nthreads as _nthreads,
)

__all__ = ["Held", "Partitions", "assign_groups", "group_blocks", "place_blocks", "worker_count"]

MAX_RECOVERIES = 10  # worker losses survived by one call (then: WorkersLost)


# ------------------------------------------------------------ pure policies
def worker_count(n_jobs: int | None = None) -> int:
    """Workers that would take part: the active cluster's, else ``n_jobs`` (1 if None)."""
    client = active_client()
    if client is not None:
        return max(1, len(_nthreads(client)))
    from dasklearn._runtime._backend import local_slots

    return local_slots(n_jobs, default=1)


def group_blocks(rows: Sequence[int], n_groups: int) -> list[list[int]]:
    """Pure policy: blocks split into contiguous groups of about equal rows.

    Parameters
    ----------
    rows : sequence of int
        Rows of each block.
    n_groups : int
        Groups wanted (at most one per block).

    Returns
    -------
    list of list of int
        The block indices of each group, ascending; groups in block order.
        Block ``i`` goes to the group containing the middle of its rows when
        the rows are cut into ``n_groups`` equal ranges, so a very large block
        can leave a neighbouring range empty: empty groups are dropped.
    """
    k = max(1, min(int(n_groups), len(rows)))
    total = sum(int(r) for r in rows)
    out: list[list[int]] = [[] for _ in range(k)]
    before = 0
    for i, r in enumerate(rows):
        if total > 0:  # integer arithmetic: the same on every platform
            g = min(k - 1, (2 * before + int(r)) * k // (2 * total))
        else:
            g = i * k // len(rows)
        out[g].append(i)
        before += int(r)
    return [g for g in out if g]


def assign_groups(current: Mapping[int, str | None], workers: Sequence[str],
                  rebalance: bool = True, local_rows: Mapping[int, Mapping[str, int]] | None = None
                  ) -> dict[int, str]:
    """Pure policy: the worker of every group, given the workers there are now.

    A group keeps its worker while that worker exists. With ``local_rows``
    (the rows of each group each worker already holds), the groups without
    one (``None``, or a worker not in ``workers``) are assigned together so
    that each worker holds ``groups // workers`` groups or one more, and
    within that the most rows stay where they are (a minimum-cost
    assignment). Without
    it they go, in group order, to the worker holding the fewest groups
    (ties: by address). Then, with ``rebalance``, while one worker holds two
    groups more than another, the busiest worker's last group moves to the
    idlest. Initial placement (every group ``None``) without ``local_rows``
    is thus round robin over the workers sorted by address.

    Parameters
    ----------
    current : mapping of int to str or None
        Each group's worker now.
    workers : sequence of str
        Addresses of the workers there are.
    rebalance : bool, default=True
        Also move groups that have a worker, to even out the load.
    local_rows : mapping of int to (mapping of str to int), default=None
        For the groups without a worker: the rows of the group each worker
        holds already.

    Returns
    -------
    dict of int to str
        Each group's worker from now on.
    """
    names = sorted(set(workers))
    if not names:
        raise ValueError("assign_groups needs at least one worker.")
    held: dict[str, list[int]] = {w: [] for w in names}
    out: dict[int, str] = {}
    homeless = []
    for g in sorted(current):
        w = current[g]
        if w in held:
            held[w].append(g)
            out[g] = w
        else:
            homeless.append(g)

    def load(w):
        return (len(held[w]), w)

    if local_rows and homeless:
        from scipy.optimize import linear_sum_assignment

        base = len(current) // len(names)
        # every worker's first `base` slots are filled before any extra one (a bonus
        # larger than all the rows), then the rows decide
        bonus = 1 + sum(n for rows in local_rows.values() for n in rows.values())
        slots = [(w, bonus) for w in names for _ in range(max(0, base - len(held[w])))]
        slots += [(w, 0) for w in names if len(held[w]) <= base]
        cost = np.array([[-(local_rows.get(g) or {}).get(w, 0) - extra for w, extra in slots] for g in homeless])
        for r, c in zip(*linear_sum_assignment(cost)):
            held[slots[c][0]].append(homeless[r])
            out[homeless[r]] = slots[c][0]
        homeless = [g for g in homeless if g not in out]  # (more groups than slots: by load below)
    for g in homeless:
        w = min(names, key=load)
        held[w].append(g)
        out[g] = w
    while rebalance:
        hi, lo = max(names, key=load), min(names, key=load)
        if len(held[hi]) - len(held[lo]) <= 1:
            break
        g = max(held[hi])
        held[hi].remove(g)
        held[lo].append(g)
        out[g] = lo
    return out


# -------------------------------------------------------------- the blocks
def _block_rows(arrays) -> list[int]:
    import math

    chunks = arrays[0].chunks[0]
    for a in arrays[1:]:
        if not math.isnan(a.shape[0] + arrays[0].shape[0]) and a.shape[0] != arrays[0].shape[0]:
            raise ValueError(
                f"The arrays have different numbers of rows: {arrays[0].shape[0]} and {a.shape[0]}. "
                "Pass one value per row of X."
            )
        if a.chunks[0] != chunks:
            raise ValueError(
                "The arrays must have the same row chunks, got "
                f"{arrays[0].chunks[0]} and {a.chunks[0]}. Rechunk one like the other, "
                "e.g. y = y.rechunk({0: X.chunks[0]})."
            )
    check_known_rows(arrays)
    return [int(c) for c in chunks]


def check_known_rows(arrays, owner: str = "") -> None:
    """Refuse dask arrays (``[X, y, ...]``) of unknown row chunk sizes: the
    blocks are grouped by their rows before any data are read."""
    import math

    unknown = [("X", "y")[i] if i < 2 else f"array {i}" for i, a in enumerate(arrays)
               if math.isnan(np.shape(a)[0])]
    if unknown:
        raise ValueError(
            f"{owner + ': ' if owner else ''}each block's rows must be known before the data are read, but "
            f"{' and '.join(unknown)} {'has' if len(unknown) == 1 else 'have'} unknown chunk sizes (nan), "
            "e.g. after a boolean row mask. Call X = X.compute_chunk_sizes() (and the same for y) first."
        )


def _persisted_blocks(a) -> list | None:
    """The Future of each row block of ``a``, if ``a`` is persisted as
    ``persist`` leaves it (each row block a Future in its graph); else None.
    Checked without expanding a lazy graph."""
    from distributed import Future

    from dasklearn._runtime._compute import _holds_futures

    if not _holds_futures([a]):
        return None
    graph = a.__dask_graph__()
    futures = []
    for row in a.__dask_keys__():
        value = graph.get(row[0] if isinstance(row, list) else row)  # (callers use one column block)
        if not isinstance(value, Future):
            return None
        futures.append(value)
    return futures


class _PartMaker:
    """Builds the delayed part of block ``i`` (under a fresh key on every call)."""

    def __init__(self, arrays, prepare, prepare_args):
        self.arrays = arrays
        # A persisted array's blocks are passed as their Futures (no alias
        # task between: one that dask's work stealing could move); others
        # unoptimised: X and y sliced from one generated block keep sharing it
        self._blocks = [_persisted_blocks(a) or a.to_delayed(optimize_graph=False).ravel() for a in arrays]
        self._prepare = prepare
        self._args = tuple(prepare_args)
        self._token = uuid.uuid4().hex

    def __call__(self, i: int, version: int, worker: str | None = None):
        """With ``worker``, the part's task is pinned there strictly (its lineage is not)."""
        import contextlib

        import dask

        pin = (dask.annotate(workers=[worker], allow_other_workers=False) if worker is not None
               else contextlib.nullcontext())
        with pin:
            return dask.delayed(self._prepare, pure=False)(
                i, *(b[i] for b in self._blocks), *self._args,
                dask_key_name=f"dasklearn-part-{self._token}-{i}-{version}")


def _identity(x):
    return x


# ------------------------------------------------------------------ handles
class Held:
    """An object given to tasks: a copy here, and (on a cluster) a placed copy.

    The copy here (``value``) is what a lost placed copy is placed again from.
    Built by :meth:`Partitions.share` (on every worker) and by
    :meth:`Partitions.run` with ``keep=True`` (a task's result, left on its
    worker); never build one directly.

    Attributes
    ----------
    value : object
        The object (do not change it in place).
    """

    def __init__(self, value, future=None, shared=False, worker=None):
        self.value = value
        self._future = future
        self._shared = shared
        self._worker = worker  # a kept result's worker (its task was pinned there)

    def __repr__(self):
        where = "everywhere" if self._shared else "on one worker"
        return f"<Held {type(self.value).__name__} {where}>"


# --------------------------------------------------------------- interface
class Partitions:
    """Parts placed on workers in fixed groups; one task per group per call.

    Attributes
    ----------
    groups : list of int
        The groups, in merge order (``0 .. n_groups - 1``).
    blocks : dict of int to list of int
        The block indices of each group, ascending.
    rows : list of int
        Rows of each block.
    n_recoveries : int
        Times groups lost with a worker were placed again.
    """

    def __init__(self, rows, groups: list[list[int]]):
        self.rows = list(rows)
        self.groups = list(range(len(groups)))
        self.blocks = {g: list(b) for g, b in enumerate(groups)}
        self.worker_of: dict[int, str | None] = {g: None for g in self.groups}
        self.n_recoveries = 0

    def run(self, fn: Callable, args_by_group: Mapping[int, tuple], keep: bool = False) -> dict:
        """``fn(parts, *args)`` once per group, where the group's parts are.

        Parameters
        ----------
        fn : callable
            Pure function of the group's parts (a list, in block order) and
            ``args``: run again with the same arguments after a worker loss.
        args_by_group : mapping of int to tuple
            The groups to run and their arguments. :class:`Held` arguments
            (top level only) are passed as the objects they hold.
        keep : bool, default=False
            Also leave each result where it was computed, for later calls.

        Returns
        -------
        dict of int to object, or of int to Held
            The results, here (``keep=False``), or :class:`Held` results
            whose ``value`` is the result here (``keep=True``).
        """
        raise NotImplementedError

    def share(self, obj) -> Held:
        """A snapshot of ``obj``, placed on every worker, to pass to :meth:`run`."""
        raise NotImplementedError

    def release(self, held) -> None:
        """Forget :class:`Held` objects (an iterable or a dict of them; None is skipped)."""

    def placement(self) -> dict[str, list[int]]:
        """The blocks each worker holds now, by worker (``"local-j"`` without a Client)."""
        out: dict[str, list[int]] = {}
        for g in self.groups:
            out.setdefault(str(self.worker_of[g]), []).extend(self.blocks[g])
        return {w: sorted(b) for w, b in sorted(out.items())}

    def locations(self) -> dict[int, tuple[str, ...]]:
        """Where each block's part is now (for checks and diagnostics)."""
        return {i: (str(self.worker_of[g]),) for g in self.groups for i in self.blocks[g]}

    def close(self) -> None:
        """Drop the parts and everything held."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -------------------------------------------------------------------- local
class _LocalPartitions(Partitions):
    def __init__(self, rows, groups, parts):
        super().__init__(rows, groups)
        self._parts = list(parts)
        self.worker_of = {g: f"local-{g}" for g in self.groups}
        self._pool = cf.ThreadPoolExecutor(max(1, len(self.groups)), thread_name_prefix="dasklearn")

    def run(self, fn, args_by_group, keep=False):
        def one(g, args):
            own = [self._parts[i] for i in self.blocks[g]]
            return fn(own, *(a.value if isinstance(a, Held) else a for a in args))

        futures = {g: self._pool.submit(one, g, args) for g, args in args_by_group.items()}
        try:
            values = {g: f.result() for g, f in futures.items()}
        except BaseException:
            for f in futures.values():
                f.cancel()
            raise
        return {g: Held(v) for g, v in values.items()} if keep else values

    def share(self, obj):
        # a snapshot, as a cluster would hold: later changes here don't leak
        return Held(copy.deepcopy(obj), shared=True)

    def close(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._parts = []


# -------------------------------------------------------------- distributed
class _DistributedPartitions(Partitions):
    def __init__(self, client, rows, groups, make_part):
        super().__init__(rows, groups)
        self.client = client
        self._make_part = make_part
        self._futures: dict[int, Any] = {}  # block -> future of its part
        self._held: set[Held] = set()
        self._version = 0

    # ---------------------------------------------------------- membership
    def _alive(self) -> list[str]:
        """The workers there are now (waits for one, see :func:`._cluster.current_workers`)."""
        return sorted(current_workers(self.client))

    def _local_rows(self) -> dict[int, dict[str, int]]:
        """For a persisted X (each row block a Future in X's graph, as
        ``persist`` leaves it): the rows of each group each worker holds,
        once X's blocks are computed. Empty for other input (X rechunked,
        sliced or converted after persisting, DataFrames), which is placed
        round robin. Which worker holds which group never changes the results."""
        futures = _persisted_blocks(self._make_part.arrays[0])
        if futures is None:
            return {}
        try:
            wait_on_cluster(self.client, futures)  # (a persist still running: where it ends)
            who = self.client.who_has(futures)
        except CancelledError:  # lost meanwhile: the placement finds out and recovers
            return {}
        out: dict[int, dict[str, int]] = {}
        for g in self.groups:
            rows_on = out.setdefault(g, {})
            for i in self.blocks[g]:
                for w in who.get(futures[i].key, ()):
                    rows_on[w] = rows_on.get(w, 0) + self.rows[i]
        return out

    def _parts_ok(self, g: int) -> bool:
        return all(i in self._futures and self._futures[i].status == "finished" for i in self.blocks[g])

    def _wait(self, futures: dict[Hashable, list], where: dict[Hashable, tuple]):
        """Wait until every tag's futures finish or some tag is lost.

        ``where``: the workers each tag's tasks need (strictly pinned there,
        or reading parts held there only). Returns ``(done, lost)``: tags
        whose futures all finished, and tags lost with a worker (one of its
        workers left, a future or the data it needs was lost or cancelled).
        Returns as soon as a tag is lost. A task's own error is raised.
        """
        from distributed import wait

        pending = dict(futures)
        done: set = set()
        while True:
            flat = [f for fs in pending.values() for f in fs]
            try:
                with as_default(self.client):
                    wait(flat, timeout=POLL_SECONDS)
            except (TimeoutError, CancelledError):
                pass  # the states are read below
            alive = set(_nthreads(self.client))
            lost = set()
            for tag, fs in list(pending.items()):
                states = {f.status for f in fs}
                if "error" in states:
                    for f in fs:
                        if f.status == "error" and not lost_with_worker(f):
                            f.result()  # raises the task's own error, with its traceback
                    lost.add(tag)
                elif states == {"finished"}:  # (a worker it needed may have left since: its
                    done.add(tag)              # value is fetched, or found lost, by the caller)
                    del pending[tag]
                elif any(lost_with_worker(f, recomputable=True) for f in fs) or not set(where[tag]) <= alive:
                    lost.add(tag)
            for tag in lost:
                del pending[tag]
            if lost or not pending:
                return done, lost

    def _cancel(self, futures) -> None:
        futures = [f for f in futures if f is not None]
        if futures:
            try:
                self.client.cancel(futures)
            except Exception:  # best effort: the futures are dropped anyway
                pass

    # ----------------------------------------------------------- placement
    def _place_once(self, target: dict[int, str]) -> set[int]:
        """Put the parts of the groups in ``target`` on their new workers.

        A group whose parts are all still held is moved (one transfer per
        part); otherwise its parts are computed again on the new worker.
        Returns the groups lost meanwhile, left unplaced (``worker_of`` None).
        """
        self._version += 1
        v = self._version
        alive = set(_nthreads(self.client))
        movable = {g for g in target if self.worker_of[g] in alive and self._parts_ok(g)}
        # Forget the lost parts of *every* group computed again before any new
        # graph arrives: the scheduler then forgets their lineage too, and the
        # new graphs make fresh tasks. (A lineage task left restricted to a
        # dead worker could otherwise be reused, and one that became
        # "no-worker" while no worker was running never runs again.)
        self._cancel(self._futures.pop(i, None) for g in target if g not in movable for i in self.blocks[g])
        submitted: dict[int, list] = {}
        for g, dst in target.items():
            if g in movable:  # whole parts move: one transfer each
                submitted[g] = [self.client.submit(_identity, self._futures[i], pure=False, workers=[dst],
                                                   key=f"dasklearn-part-moved-{uuid.uuid4().hex}-{i}-{v}")
                                for i in self.blocks[g]]
            else:  # computed again from the graph, on the new worker: each part's task pinned
                # there strictly, its lineage loosely (a lineage task shared with the parts
                # of another group or placement keeps its first pin, which may name a lost
                # worker: strictly pinned, it would then never run)
                self.worker_of[g] = None
                submitted[g] = self.client.compute([self._make_part(i, v, dst) for i in self.blocks[g]],
                                                   workers=[dst], allow_other_workers=True)
        # a part moving is read from its old worker, where its task was pinned
        need = {g: (dst, self.worker_of[g]) if g in movable else (dst,) for g, dst in target.items()}
        try:
            done, lost = self._wait(submitted, where=need)
        except BaseException:
            self._cancel(f for fs in submitted.values() for f in fs)
            raise
        for g in done:
            old = [self._futures.get(i) for i in self.blocks[g]]
            for i, f in zip(self.blocks[g], submitted[g]):
                self._futures[i] = f
            self.worker_of[g] = target[g]
            for f in old:
                if f is not None:
                    f.release()
        for g in set(submitted) - done:  # lost, or still running when another was lost
            self._cancel(submitted[g])
        return lost

    def _ensure_placed(self, rebalance: bool = True) -> list[int]:
        """Every group on a running worker (and, with ``rebalance``, the
        workers evenly loaded: between calls, never while tasks run).

        Returns the groups that had to be placed again because they were lost.
        """
        recovered: set[int] = set()
        first = all(w is None for w in self.worker_of.values())
        local_rows = self._local_rows() if first else None
        for _ in range(MAX_RECOVERIES + 1):
            alive = self._alive()
            current = {g: (w if w in alive and self._parts_ok(g) else None) for g, w in self.worker_of.items()}
            recovered |= {g for g, w in current.items() if w is None and self.worker_of[g] is not None}
            target = assign_groups(current, alive, rebalance=rebalance, local_rows=local_rows)
            moves = {g: w for g, w in target.items() if w != current[g]}
            if not moves:
                if recovered:
                    self.n_recoveries += 1
                    self._refresh_held(alive)
                return sorted(recovered)
            recovered |= self._place_once(moves)
        raise WorkersLost(f"Placing the data failed: workers kept leaving ({MAX_RECOVERIES} attempts).")

    def _refresh_held(self, alive) -> None:
        """Drop placed copies that no running worker holds any more."""
        def drop(h):
            self._cancel([h._future])
            h._future = None

        while True:
            held = [h for h in self._held if h._future is not None]
            for h in held:
                if h._future.status != "finished":  # lost, or cancelled with a lost group's parts
                    drop(h)
            held = [h for h in held if h._future is not None]
            if not held:
                return
            try:
                who = self.client.who_has([h._future for h in held])
            except CancelledError:  # one was cancelled meanwhile: look again
                continue
            for h in held:
                if not set(who.get(h._future.key, ())) & set(alive):
                    drop(h)
            return

    # --------------------------------------------------------------- tasks
    def _scatter(self, value):
        return scatter(self.client, [value])[0]

    def _resolve(self, arg, alive):
        if not isinstance(arg, Held):
            return arg
        f = arg._future
        if f is not None and f.status == "finished":
            if arg._shared or arg._worker in alive:
                return f
            # a kept result whose worker left (a retired worker's data lives on
            # elsewhere): sent from the copy here, for were the placed copy lost
            # too, only that worker could compute it again
            self._cancel([f])
            arg._future = None
            return arg.value
        if arg._shared:  # placed again from the copy here, on every worker
            self._cancel([f])
            arg._future = self._scatter(arg.value)
            return arg._future
        return arg.value  # a lost kept result: sent with the task

    def _submit(self, fn, g, args, alive) -> tuple[Any, tuple[str, ...]]:
        """The task's future, and the workers it needs: its group's, and
        those of the kept results it reads (were one of them lost, the
        scheduler could only compute it again on its own, pinned, worker).
        ``alive``: the workers there are (read once per round of submissions)."""
        name = getattr(fn, "__name__", "task").strip("_")
        parts = [self._futures[i] for i in self.blocks[g]]
        resolved = [self._resolve(a, alive) for a in args]
        need = {self.worker_of[g]} | {a._worker for a, r in zip(args, resolved)
                                      if isinstance(a, Held) and a._worker is not None and r is a._future}
        with closed_says_so(self.client):
            future = self.client.submit(fn, parts, *resolved, pure=False,
                                        workers=[self.worker_of[g]], allow_other_workers=False,
                                        key=f"dasklearn-{name}-{uuid.uuid4().hex}")
        return future, tuple(sorted(need))

    def _gather(self, futures: dict) -> tuple[dict, set]:
        """Values of ``futures`` (finished); tags whose value was lost meanwhile.

        One future at a time, with a timeout that doubles while the value is
        still there (a large transfer): a value lost meanwhile makes the
        scheduler run its task again, which may never happen if it has to
        wait for a worker (see :meth:`_place_once`); it is reported lost.
        """
        values, lost = {}, set()
        for tag, f in futures.items():
            timeout = 4 * POLL_SECONDS
            while True:
                try:
                    values[tag] = f.result(timeout=timeout)
                    break
                except CancelledError:
                    lost.add(tag)
                    break
                except TimeoutError:
                    if f.status != "finished":
                        lost.add(tag)
                        break
                    timeout *= 2
        return values, lost

    def run(self, fn, args_by_group, keep=False):
        self._ensure_placed()
        pending, need = {}, {}
        alive = set(_nthreads(self.client))
        for g, args in args_by_group.items():
            pending[g], need[g] = self._submit(fn, g, args, alive)
        finished: dict[int, Any] = {}
        values: dict[int, Any] = {}
        losses = 0
        try:
            while pending:
                done, lost = self._wait({g: [f] for g, f in pending.items()}, where=need)
                got, gone = self._gather({g: pending[g] for g in done})
                for g, v in got.items():
                    values[g] = v
                    finished[g] = pending.pop(g)
                lost |= gone
                if not lost:
                    continue
                losses += 1
                if losses > MAX_RECOVERIES:
                    raise WorkersLost(f"{fn.__name__}: workers were lost {losses} times during one call; "
                                      "giving up. Check the workers' logs (memory limits?).")
                self._cancel(pending.pop(g, None) for g in lost)
                before = {g: self.worker_of[g] for g in pending}
                replaced = set(self._ensure_placed(rebalance=False))
                self._refresh_held(self._alive())
                for g in list(pending):
                    if g in replaced or self.worker_of[g] != before[g]:  # its parts are new: resubmit
                        lost.add(g)
                        self._cancel([pending.pop(g)])
                alive = set(_nthreads(self.client))
                for g in lost:
                    pending[g], need[g] = self._submit(fn, g, args_by_group[g], alive)
        except BaseException:
            self._cancel(pending.values())
            raise
        if not keep:
            for f in finished.values():
                f.release()
            return values
        out = {g: Held(values[g], finished[g], worker=self.worker_of[g]) for g in values}
        self._held.update(out.values())
        if losses:  # a result may have been lost after it was fetched: keep the copy here only
            self._refresh_held(self._alive())
        return out

    def share(self, obj):
        value = copy.deepcopy(obj)  # the copy here must not follow later changes
        h = Held(value, self._scatter(value), shared=True)
        self._held.add(h)
        return h

    def release(self, held):
        if held is None:
            return
        for h in (held.values() if isinstance(held, dict) else [held] if isinstance(held, Held) else held):
            if isinstance(h, Held):
                if h._future is not None:
                    h._future.release()
                    h._future = None
                self._held.discard(h)

    def locations(self):
        futures = [self._futures[i] for g in self.groups for i in self.blocks[g]]
        who = self.client.who_has(futures)
        return {i: tuple(who.get(self._futures[i].key, ())) for g in self.groups for i in self.blocks[g]}

    def close(self):
        self.release(list(self._held))
        for f in self._futures.values():
            f.release()
        self._futures = {}


# ---------------------------------------------------------------- placement
def place_blocks(arrays: Sequence, prepare: Callable, prepare_args: tuple = (),
                 n_groups: int | None = None, n_jobs: int | None = None) -> Partitions:
    """Compute ``prepare(i, *block_i_of_each_array, *prepare_args)`` per block, once.

    Parameters
    ----------
    arrays : sequence of dask arrays
        Aligned on rows (same row chunks), e.g. ``[X, y]``.
    prepare : callable
        Pure function building the part stored for block ``i`` (it is run
        again if the part is lost with a worker).
    prepare_args : tuple, default=()
        Extra arguments of ``prepare`` (small).
    n_groups : int or None, default=None
        Groups of blocks (:func:`group_blocks`; at most one per block). None:
        :func:`worker_count` of ``n_jobs``.
    n_jobs : int or None, default=None
        Without a Client and with ``n_groups=None``: virtual workers (None: 1).

    Returns
    -------
    Partitions
        Each group's parts on one worker of the active Client (see
        :func:`assign_groups`), else here, one thread per group.
    """
    rows = _block_rows(arrays)
    if n_groups is None:
        n_groups = worker_count(n_jobs)
    groups = group_blocks(rows, n_groups)
    make_part = _PartMaker(arrays, prepare, prepare_args)
    client = active_client()
    if client is None:
        import dask

        values = dask.compute(*[make_part(i, 0) for i in range(len(rows))])
        return _LocalPartitions(rows, groups, values)

    parts = _DistributedPartitions(client, rows, groups, make_part)
    try:
        parts._ensure_placed()
    except BaseException:
        parts.close()
        raise
    return parts
