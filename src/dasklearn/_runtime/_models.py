"""Models that live on workers: the runtime of the adaptive searches.

Placement
---------
The data are placed once. Each input block (a dask chunk, or the whole
array for in-memory input) is split *where it is computed* into row parts
(training / validation, or one per fold: see
:mod:`dasklearn._runtime._model_kernels`). Each part is a future on the
worker that holds the block; only counts come to the client: rows per part,
class labels, and NaN / inf counts for the input checks.

Models
------
A model is one future per (candidate, fold): the state ``(estimator,
fit_seconds, resource)`` on some worker. One ``partial_fit`` call is a call
on the training parts of one block; consecutive calls on blocks held by the
same worker form one task, which the scheduler runs where those parts are,
so the (small) model travels and the data do not. A score task
``score(state, validation)`` sends back a small dict *and the scored state*
(models are small). Operations are recorded, and submitted with the score
that follows them (or when the state is asked for): when a fold's validation
rows are small (:data:`FUSE_BYTES`), the score runs in the task of the
round's last calls (the scheduler moves whichever of the validation rows and
those blocks' parts is smaller: at most FUSE_BYTES), so that a cheap model
costs one task a round, not two. A model whose round should be cheap
(:data:`BATCH_SECONDS` for its calls and score, at the pace the workers
measured in its last round) is submitted with the other such models of the
same fold on the same blocks, several to a task (about
:data:`BATCH_TASK_SECONDS` of work, at least two tasks a slot): each
model's state is then its place in that task's list of results, and its
next task takes it from there. Models left with no work are *parked*: their
states on the workers are released (the client's copy stands for them), so
that idle models hold no batch's results. Task
keys name the model (``dasklearn-model-<token>/<model_id>/<fold>/<n>``;
``dasklearn-batch-<token>/<fold>/<n>`` for a batch) so the scheduler's
state can be inspected; :meth:`DistributedModels.drop` releases a dropped
model at once (a model of a batch: its reference, the batch's results going
when its last model moves on or is parked, a round later at most).

Where state lives
-----------------
* Client: for every live model, its last *scored* state (fetched with the
  score) and the operations recorded since (``partial_fit`` calls on which
  blocks, or a refit on how many rows) -- at most one round of work. Memory
  is one model per live (candidate, fold), released when the policy drops
  it. Also the way to place each block again: a reference to the in-memory
  input (no copy) or the block's dask graph, and the small shared objects
  (estimator, scorer, fit parameters).
* Workers: the data parts, the newest state of each model, and the shared
  objects (on one worker, fetched by the others as their tasks need them).
* Scheduler: the task specs (not the values) of each live model's chain of
  ``partial_fit`` tasks, i.e. its lineage: one small spec per task.

Worker loss
-----------
What dask can recompute, it recomputes: parts of dask input and model states
whose lineage reaches only computed data are rebuilt by the scheduler from
lineage, and the futures simply finish later. What it cannot -- parts split
from scattered in-memory input, shared objects, states whose lineage reached
a part lost with its worker -- is *cancelled* by the scheduler (``lost
dependencies``). A score handle whose future is cancelled is recovered by
the runtime before the search sees it: cancelled shared objects are
scattered again from the client's copy, cancelled blocks are placed again
(the in-memory input scattered again, or the block's graph computed again,
and split with the same seed), and a cancelled model is rebuilt from its last
scored state on the client by replaying the operations since, on the same
blocks in the same order (a model whose last calls ran with its score is
rebuilt too when only the validation rows or the scorer were lost). Every task is deterministic (``partial_fit`` on a
copy of its input state, seeded splits: the kernels in
:mod:`dasklearn._runtime._model_kernels`), so the recovered search returns
exactly the results of an undisturbed one. A task that keeps failing this way
(more than ``max_resubmits`` times) raises; any other error raises at once.
Scatters are tried again when a worker leaves during them, and every wait
gives up with :class:`~dasklearn._runtime._cluster.WorkersLost` when the
cluster has had no worker for ``dasklearn.worker-timeout`` seconds (the waits
shared by every runtime, in :mod:`dasklearn._runtime._cluster`).

Without a Client, :class:`LocalModels` runs the same task bodies on a pool
of local threads; results are identical (every decision depends only on the
seeded split, the seeded block order and the scores).

This is the only module of the adaptive searches that talks to
dask.distributed; the task bodies it submits, and the plain data it keeps
(:class:`~dasklearn._runtime._model_kernels.SplitSpec`,
:class:`~dasklearn._runtime._model_kernels.Layout`), are in
:mod:`dasklearn._runtime._model_kernels` (plain NumPy / scikit-learn, no
dask).
"""

from __future__ import annotations

import concurrent.futures as cf
import time
import uuid

from dasklearn._runtime._cluster import (
    WorkersLost,
    dashboard,
    _closed,
    _emptied_after_losses,
    cancel_quietly,
    gather,
    lost_with_worker,
    scatter,
    scatter_bound,
    wait_on_cluster,
    nthreads as _nthreads,
)
from dasklearn._runtime._model_kernels import (
    Layout,
    SplitSpec,
    concat_parts,
    describe_parts,
    fit_rows,
    layout_of,
    member,
    newest,
    partial_fit_and_score,
    partial_fit_and_score_each,
    partial_fit_steps,
    score_and_keep,
    split_block,
    take_part,
    validation_rows,
    worker_runs,
)

# ------------------------------------------------------------------- runtimes

FUSE_BYTES = 4 * 2**20  # validation rows this small are scored in the task that trained the model
BATCH_SECONDS = 0.02  # models whose round (calls and score) takes less than this share tasks
BATCH_TASK_SECONDS = 0.05  # about this much work in one such task
BATCH_MOST = 64  # models in one task at most


def _blocks(X, y):
    """Per-block delayed objects of aligned dask arrays."""
    xs = list(X.to_delayed().ravel())
    ys = [None] * len(xs) if y is None else list(y.to_delayed().ravel())
    return xs, ys


def _block_rows(X) -> list[int]:
    """Rows of each block: a dask array's row chunks (known), or one block."""
    import dask

    return [int(c) for c in X.chunks[0]] if dask.is_dask_collection(X) else [len(X)]


def _row_bytes(X, y) -> float:
    """Bytes of one row of X and y (inf when unknown, as for object arrays)."""
    from dasklearn._runtime._blocks import row_nbytes

    sizes = [row_nbytes(a) for a in (X, y) if a is not None]
    return float("inf") if None in sizes else float(sum(sizes))


class _Base:
    spec: SplitSpec

    def _key(self, kind, model_key, n) -> str:
        model_id, fold = model_key
        return f"dasklearn-{kind}-{self.token}/{model_id}/{fold}/{n}"


class _Handle:
    """A score in flight: stable for the search while the runtime may
    resubmit the task behind it (see "Worker loss" in the module doc)."""

    __slots__ = ("model_key", "n_ops", "future", "member", "attempts")

    def __init__(self, model_key, n_ops: int):
        self.model_key = model_key
        self.n_ops = n_ops  # operations of the model this score covers
        self.future = None
        self.member = None  # the index of its value in a batch task's list, or None
        self.attempts = 0


class DistributedModels(_Base):
    """Models as futures on a dask.distributed cluster (see module doc)."""

    remote = True  # tasks and their arguments are pickled to worker processes

    @property
    def max_resubmits(self) -> int:
        """Resubmits per score, after data it needed died with a worker
        (the runtime's one limit, :data:`._backend.MAX_RESUBMITS`)."""
        from dasklearn._runtime import _backend

        return _backend.MAX_RESUBMITS

    def __init__(self, client):
        self.client = client
        self.n_slots = max(1, sum(_nthreads(client).values()))
        self.dashboard_link = dashboard(client)
        self.token = uuid.uuid4().hex[:10]
        self._sources: list = []  # [block] -> ("dask", x, y) graphs or ("memory", X, y) references
        self._parts: list[list] = []  # [block][part] -> future of (X, y)
        self._where: list = []  # [block] -> workers holding its parts (() when unknown)
        self._val: dict = {}  # fold -> future of (X, y)
        self._shared: dict = {}  # name -> future
        self._shared_values: dict = {}  # name -> the client's copy
        self._states: dict = {}  # (model_id, fold) -> future of the newest state
        self._member: dict = {}  # (model_id, fold) -> index of that state in its batch task's list
        self._scored: dict = {}  # (model_id, fold) -> last scored state (on the client)
        self._since: dict = {}  # (model_id, fold) -> operations submitted after it
        self._pending: set = set()  # score handles in flight
        self._unsent: dict = {}  # (model_id, fold) -> operations recorded, not yet submitted
        self._val_bytes: dict = {}  # fold -> bytes of its validation rows
        self._deferred: dict = {}  # (model_id, fold) -> score handle of a cheap round, submitted in a batch (_flush)
        self._seconds: dict = {}  # (model_id, fold) -> (seconds a call, seconds a score) in its last round
        self._generation = 0  # bumped by every re-placement / rebuild: fresh task keys
        self._n_scores = 0
        self._most_lost = 0  # most times one score was resubmitted after lost data

    def _suffix(self) -> str:
        return f"~{self._generation}" if self._generation else ""

    # -- data ----------------------------------------------------------------
    def place(self, X, y, spec: SplitSpec, seed: int, labels: bool) -> Layout:
        """Split every block into parts on the cluster; see :class:`SplitSpec`.

        The client keeps the means to place a block again (module doc); a
        worker lost while placing makes the placement start over.
        """
        from concurrent.futures import CancelledError

        import dask

        self.spec, self._seed = spec, seed
        self._n_val = validation_rows(spec, _block_rows(X))
        row_bytes = _row_bytes(X, y)
        if dask.is_dask_collection(X):
            self._sources = [("dask", xd, yd) for xd, yd in zip(*_blocks(X, y))]
        else:
            self._sources = [("memory", X, y)]
        for attempt in range(self.max_resubmits + 1):
            try:
                layout = self._place_all(labels)
                self._val_bytes = {f: int(layout.sizes[:, spec.val_part(f)].sum()) * row_bytes
                                   for f in spec.folds}
                return layout
            except CancelledError:
                if attempt == self.max_resubmits:
                    raise
                self._release_parts()
                self._generation += 1
                time.sleep(0.1)

    def _split_tasks(self, blocks) -> list:
        """Futures of ``split_block`` for ``blocks``, submitted together."""
        import dask

        name = f"dasklearn-split-{self.token}"
        if self._sources[0][0] == "dask":
            tasks = [
                dask.delayed(split_block, pure=False)(
                    self._sources[b][1], self._sources[b][2], b, self._seed, self.spec, self._n_val[b],
                    dask_key_name=f"{name}/{b}{self._suffix()}")
                for b in blocks
            ]
            return self.client.compute(tasks)
        _, X, y = self._sources[0]
        handles = scatter(self.client, [X] if y is None else [X, y])
        return [self.client.submit(split_block, handles[0], handles[1] if y is not None else None, 0,
                                   self._seed, self.spec, self._n_val[0], key=f"{name}/0{self._suffix()}")]

    def _part_futures(self, b, split) -> list:
        return [self.client.submit(take_part, split, j, key=f"dasklearn-part-{self.token}/{b}/{j}{self._suffix()}")
                for j in range(self.spec.n_parts)]

    def _place_all(self, labels: bool) -> Layout:
        blocks = range(len(self._sources))
        splits = self._split_tasks(blocks)
        described = [self.client.submit(describe_parts, s, labels,
                                        key=f"dasklearn-describe-{self.token}/{b}{self._suffix()}")
                     for b, s in zip(blocks, splits)]
        self._parts = [self._part_futures(b, s) for b, s in zip(blocks, splits)]
        try:
            info = gather(self.client, described)
        finally:  # also when a block raised: see _reduce._release
            for f in [*splits, *described]:
                f.release()
        # where each block's parts are (all parts of a block are on one worker)
        who = self.client.who_has([parts[0] for parts in self._parts])
        self._where = [tuple(sorted(who.get(parts[0].key, ()))) for parts in self._parts]
        return layout_of(info)

    def _release_parts(self) -> None:
        for parts in self._parts:
            for p in parts:
                p.release()
        self._parts = []

    def share(self, name: str, obj) -> None:
        """Place a small object (estimator, scorer, fit parameters) on the
        cluster; each worker fetches it from its holder once (see
        :func:`dasklearn._runtime._cluster.scatter`)."""
        self._shared_values[name] = obj
        [self._shared[name]] = scatter(self.client, [obj], timeout=scatter_bound(obj))

    def _validation(self, fold):
        if fold not in self._val:
            parts = [self._parts[b][self.spec.val_part(fold)] for b in range(len(self._parts))]
            self._val[fold] = self.client.submit(
                concat_parts, parts, key=f"dasklearn-val-{self.token}/{fold}{self._suffix()}")
        return self._val[fold]

    def _repair_data(self) -> None:
        """Place again what the scheduler gave up on: shared objects, blocks
        (whose parts it cancelled) and validation sets."""
        lost_shared = [name for name, fut in self._shared.items() if lost_with_worker(fut)]
        lost_blocks = [b for b, parts in enumerate(self._parts) if any(lost_with_worker(p) for p in parts)]
        lost_val = [fold for fold, fut in self._val.items() if lost_with_worker(fut)]
        if not (lost_shared or lost_blocks or lost_val):
            return
        self._generation += 1
        for name in lost_shared:
            self.share(name, self._shared_values[name])
        if lost_blocks:
            splits = self._split_tasks(lost_blocks)  # in-memory input: one block
            for b, split in zip(lost_blocks, splits):
                for p in self._parts[b]:
                    p.release()
                self._parts[b] = self._part_futures(b, split)
                self._where[b] = ()
                split.release()
        for fold in lost_val:
            self._val.pop(fold).release()

    # -- models --------------------------------------------------------------
    def _submit_op(self, model_key, state, op, then_score=False):
        """Submit one operation on ``state`` (a future or None); the new state's
        future (with ``then_score``, that of the ``(score, state)`` pair of
        its last calls and the score, in one task)."""
        train = self.spec.train_parts(model_key[1])
        if op[0] == "rows":
            _, params, counts = op
            block_parts = [[self._parts[b][j] for j in train] for b in range(len(self._parts))]
            return self.client.submit(
                fit_rows, self._shared["estimator"], params, block_parts, counts, self._shared["fit_params"],
                key=self._key("model", model_key, f"rows{sum(counts)}{self._suffix()}"))
        _, params, blocks, done = op
        runs = worker_runs(blocks, self._where)
        for i, run in enumerate(runs):
            done += len(run)
            args = ([[self._parts[b][j] for j in train] for b in run], self._shared["fit_params"])
            if state is None:
                args += (self._shared["estimator"], params)
            if then_score and i == len(runs) - 1:
                if state is not None:
                    args += (None, None)
                self._n_scores += 1
                return self.client.submit(
                    partial_fit_and_score, state, *args, self._validation(model_key[1]), self._shared["scorer"],
                    key=self._key("model", model_key, f"{done}+{self._n_scores}{self._suffix()}"))
            state = self.client.submit(partial_fit_steps, state, *args,
                                       key=self._key("model", model_key, f"{done}{self._suffix()}"))
        return state

    def _rebuild(self, model_key):
        """Recreate a model's newest state from the client: its last scored
        state (or nothing), then the operations since, replayed in order."""
        self._generation += 1
        self._unsent.pop(model_key, None)
        ops = self._since.get(model_key, [])
        refit = [i for i, op in enumerate(ops) if op[0] == "rows"]
        if refit:  # a refit does not depend on the state before it
            state, ops = None, ops[refit[-1]:]
        elif model_key in self._scored:
            [state] = scatter(self.client, [self._scored[model_key]], timeout=scatter_bound(self._scored[model_key]))
        else:
            state = None
        for op in ops:
            state = self._submit_op(model_key, state, op)
        self._replace_state(model_key, state)
        return state

    def _replace_state(self, model_key, state, index=None) -> None:
        """Make ``state`` the model's newest state (``index``: its place in
        that batch task's list), releasing the one before at once (a future
        kept alive by a traceback's reference cycle would otherwise hold its
        task, and its lineage, on the scheduler until Python's cycle
        collector runs)."""
        old = self._states.get(model_key)
        self._states[model_key] = state
        if index is None:
            self._member.pop(model_key, None)
        else:
            self._member[model_key] = index
        if old is not None and old is not state:
            old.release()

    def _forget_state(self, model_key) -> None:
        self._member.pop(model_key, None)
        old = self._states.pop(model_key, None)
        if old is not None:
            old.release()

    def _state_arg(self, model_key):
        """The model's newest state as a task's argument: its future, or
        (one model of a batch) the batch's future and its index."""
        state = self._states.get(model_key)
        index = self._member.get(model_key)
        return state if state is None or index is None else member(state, index)

    @staticmethod
    def _pick(index, value):
        """A model's value from its task's: the whole, or its place in a batch's list."""
        return value if index is None else value[index]

    def _head(self, model_key, then_score: bool = False):
        """Future of the model's newest state, its recorded operations
        submitted (rebuilt first if it was lost); None for a model that has
        no state yet. ``then_score``: the last operation is scored in its
        task (:meth:`_fuses`; the state is not lost)."""
        ops = self._unsent.pop(model_key, [])
        if self._lost(model_key, len(ops)):
            self._repair_data()
            return self._rebuild(model_key)  # replays the unsent operations too
        return self._send(model_key, ops, then_score)

    def _send(self, model_key, ops, then_score: bool = False):
        """Submit ``ops`` after the model's newest state (the last one scored
        too, if ``then_score``); the new newest state's future."""
        state = self._state_arg(model_key)
        for i, op in enumerate(ops):
            state = self._submit_op(model_key, state, op, then_score=then_score and i == len(ops) - 1)
        if ops:
            self._replace_state(model_key, state)  # (the new tasks hold the old state as their input)
        return state

    def _fuses(self, model_key, op) -> bool:
        """Whether the score can run in the task of ``op``'s last calls: when
        the validation rows are few (:data:`FUSE_BYTES`), so that whichever
        the scheduler moves to the other, they or the blocks, is small."""
        return (op[0] == "calls" and bool(op[2])
                and self._val_bytes.get(model_key[1], FUSE_BYTES + 1) <= FUSE_BYTES)

    def _lost(self, model_key, n_unsent) -> bool:
        """Whether the model's state on the cluster is gone: lost with a
        worker, or never placed (a restored or submitted model without one)."""
        state = self._states.get(model_key)
        if state is not None:
            return lost_with_worker(state)
        return model_key in self._scored or len(self._since.get(model_key, ())) > n_unsent

    def _do(self, model_key, op) -> None:
        self._flush_for(model_key)
        self._since.setdefault(model_key, []).append(op)
        self._unsent.setdefault(model_key, []).append(op)

    def partial_fit(self, model_key, params, blocks: list[int], first_call: int) -> None:
        """Record ``partial_fit`` calls on ``blocks`` (call numbers from
        ``first_call + 1``), submitted with the model's next score.

        Consecutive calls on blocks held by the same worker run as one task
        (fewer tasks, the model moves only when the data it needs is
        elsewhere); the order of the calls is unchanged.
        """
        self._do(model_key, ("calls", params, [int(b) for b in blocks], int(first_call)))

    def fit_rows(self, model_key, params, counts: list[int]) -> None:
        """Replace the model by a fresh one fitted on ``counts[b]`` rows of each block."""
        self._flush_for(model_key)
        self._forget_state(model_key)
        self._scored.pop(model_key, None)
        self._since[model_key] = []
        self._unsent.pop(model_key, None)
        self._do(model_key, ("rows", params, [int(c) for c in counts]))

    def restore(self, model_key, state) -> None:
        """Continue a model from ``state`` (e.g. read from a checkpoint); it is
        placed on a worker when its next operation is submitted."""
        self._flush_for(model_key)
        self._forget_state(model_key)
        self._scored[model_key] = state
        self._since[model_key] = []
        self._unsent.pop(model_key, None)

    def score(self, model_key) -> _Handle:
        """Submit the model's recorded operations and a score of the state
        after them (in their last task, see :meth:`_fuses`); returns a handle."""
        self._flush_for(model_key)
        handle = _Handle(model_key, len(self._since.get(model_key, [])))
        if self._batches(model_key):
            self._deferred[model_key] = handle  # submitted with others like it (_flush)
        else:
            self._submit_score(handle)
        self._pending.add(handle)
        return handle

    def _estimate(self, model_key):
        """Seconds the model's recorded round should take on a worker (its
        calls and score, at its last round's pace), or None before one."""
        pace = self._seconds.get(model_key)
        ops = self._unsent.get(model_key)
        if pace is None or not ops or any(op[0] != "calls" for op in ops):
            return None
        return pace[0] * sum(len(op[2]) for op in ops) + pace[1]

    def _batches(self, model_key) -> bool:
        """Whether this round of the model may share a task with other
        models': a cheap round (:data:`BATCH_SECONDS`, at the pace of its
        last) of one operation whose calls run on one worker and are scored
        with them."""
        estimate = self._estimate(model_key)
        if estimate is None or estimate > BATCH_SECONDS:
            return False
        ops = self._unsent[model_key]
        return (len(ops) == 1 and self._fuses(model_key, ops[0])
                and len(worker_runs(ops[0][2], self._where)) == 1 and not self._lost(model_key, 1))

    def _flush_for(self, model_key) -> None:
        """Submit the deferred scores first if ``model_key``'s is one of them
        (its recorded round must not change before it is submitted)."""
        if model_key in self._deferred:
            self._flush()

    def _flush(self) -> None:
        """Submit the deferred scores: the rounds of models of the same fold
        on the same blocks go together, a few per task (about
        :data:`BATCH_TASK_SECONDS` of work by their estimates, at most
        :data:`BATCH_MOST`, and at least two tasks a slot)."""
        if not self._deferred:
            return
        deferred, self._deferred = list(self._deferred.values()), {}
        most = max(1, min(BATCH_MOST, -(-len(deferred) // (2 * self.n_slots))))
        groups: dict = {}
        for h in deferred:
            groups.setdefault((h.model_key[1], tuple(self._unsent[h.model_key][0][2])), []).append(h)
        for (fold, blocks), handles in groups.items():
            batch, seconds = [], 0.0
            for i, h in enumerate(handles):
                batch.append(h)
                seconds += self._estimate(h.model_key)
                if len(batch) == most or seconds >= BATCH_TASK_SECONDS or i == len(handles) - 1:
                    if len(batch) == 1 or any(self._lost(b.model_key, 1) for b in batch):
                        for b in batch:
                            self._submit_score(b)
                    else:
                        self._submit_batch(fold, list(blocks), batch)
                    batch, seconds = [], 0.0

    def _submit_batch(self, fold, blocks, handles) -> None:
        """One task training and scoring several models (see :meth:`_flush`);
        each model's state is its place in the task's list."""
        from distributed import Future

        items = []
        for h in handles:
            [(_, params, _, _)] = self._unsent.pop(h.model_key)
            state = self._state_arg(h.model_key)
            items.append((state, params if state is None else None, f"model {h.model_key[0]!r} (fold {fold!r})"))
        train = self.spec.train_parts(fold)
        self._n_scores += 1
        batch = self.client.submit(
            partial_fit_and_score_each, items, [[self._parts[b][j] for j in train] for b in blocks],
            self._shared["fit_params"], self._shared["estimator"], self._validation(fold),
            self._shared["scorer"], key=f"dasklearn-batch-{self.token}/{fold}/{self._n_scores}{self._suffix()}")
        for i, h in enumerate(handles):
            h.future, h.member = Future(batch.key, self.client), i  # one reference per model
            self._replace_state(h.model_key, h.future, index=i)
        batch.release()

    def _submit_score(self, handle) -> None:
        ops = self._unsent.get(handle.model_key)
        if ops and self._fuses(handle.model_key, ops[-1]) and not self._lost(handle.model_key, len(ops)):
            handle.future, handle.member = self._head(handle.model_key, then_score=True), None
            return
        state = self._head(handle.model_key)
        self._n_scores += 1
        handle.member = None
        handle.future = self.client.submit(
            score_and_keep, state, self._validation(handle.model_key[1]), self._shared["scorer"],
            key=self._key("score", handle.model_key, f"{self._n_scores}{self._suffix()}"))

    def _recover(self, handle) -> None:
        """Resubmit a score whose task the scheduler cancelled (lost data)."""
        handle.attempts += 1
        self._most_lost = max(self._most_lost, handle.attempts)
        if handle.attempts > self.max_resubmits:
            try:
                handle.future.result()
            except Exception as exc:
                raise WorkersLost(
                    f"model {handle.model_key[0]!r} (fold {handle.model_key[1]!r}): the data it needs were "
                    f"lost with dying workers {handle.attempts} times in a row; giving up. Check the "
                    "workers' logs (memory limits, crashes)."
                ) from exc
        time.sleep(0.05 * handle.attempts)  # let the client hear of every lost key
        self._repair_data()
        old = handle.future
        self._submit_score(handle)  # rebuilds the model first if its state was lost
        if old is not self._states.get(handle.model_key):  # (still the state only if it was not lost after all)
            old.release()

    def wait_any(self, handles, timeout: float | None = None) -> list:
        """Handles whose score is ready (or failed for a reason other than lost data);
        ``[]`` after ``timeout`` seconds if none is.

        Raises :class:`~dasklearn._runtime._cluster.WorkersLost` when the
        cluster has had no worker for ``dasklearn.worker-timeout`` seconds (as every
        wait here), saying so if work was lost with dying workers before.
        """
        from concurrent.futures import CancelledError

        handles = list(handles)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._flush()
            while True:
                done = [h for h in handles if h.future.done()]
                ready = []
                for h in done:
                    if lost_with_worker(h.future):
                        self._recover(h)
                    else:
                        ready.append(h)
                if ready:
                    return ready
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return []
                try:
                    wait_on_cluster(self.client, [h.future for h in handles], return_when="FIRST_COMPLETED",
                                    until=left)
                except CancelledError:
                    pass  # recovered above, next time round
        except WorkersLost as exc:
            self._say_losses(exc)

    def _say_losses(self, exc: WorkersLost):
        """Raise ``exc``, saying so if work was lost with dying workers before."""
        if not 0 < self._most_lost <= self.max_resubmits:
            raise exc  # nothing lost before, or lost too often (_recover)
        raise _emptied_after_losses(exc, "model", self._most_lost) from exc

    def failed(self, handle) -> bool:
        """Whether a finished score's task raised (not for lost data)."""
        self._flush()
        return handle.future.status == "error" and not lost_with_worker(handle.future)

    def ready(self, handle) -> bool:
        """Whether a score's value is there to be brought back."""
        self._flush()
        return handle.future.status == "finished"

    def _result(self, handle):
        from concurrent.futures import CancelledError

        while True:
            try:
                return gather(self.client, [handle.future])[0]
            except CancelledError:
                self._recover(handle)

    def gather(self, handles) -> list:
        """Score dicts of ``handles``; each model's scored state is kept here."""
        from concurrent.futures import CancelledError

        handles = list(handles)
        try:
            self._flush()
            try:
                pairs = gather(self.client, [h.future for h in handles])
            except CancelledError:  # data lost after the score finished
                pairs = [self._result(h) for h in handles]
        except WorkersLost as exc:  # (scores held until their round is done are waited for here)
            self._say_losses(exc)
        values = []
        for h, raw in zip(handles, pairs):
            value, state = self._pick(h.member, raw)
            self._time_round(h.model_key, value)
            self._scored[h.model_key] = state
            self._since[h.model_key] = self._since.get(h.model_key, [])[h.n_ops:]
            self._pending.discard(h)
            if h.future is not self._states.get(h.model_key):  # (a fused fit and score is the newest state)
                h.future.release()
            values.append(value)
        return values

    def _time_round(self, model_key, value) -> None:
        """Keep the pace of a model's last round on a worker (seconds a
        partial_fit call, seconds a score): what :meth:`_batches` judges by."""
        before = self._scored.get(model_key)
        try:
            calls = value["resource"] - (before[2] if before is not None else 0)
            seconds = value["fit_seconds"] - (before[1] if before is not None else 0.0)
            score = float(value["score_time"])
        except (KeyError, TypeError, IndexError):
            return
        if calls > 0 and seconds >= 0 and score >= 0:
            self._seconds[model_key] = (seconds / calls, score)

    def scored_state(self, model_key):
        """The model's last scored state ``(estimator, fit_seconds, resource)``."""
        return self._scored[model_key]

    def park(self, model_keys) -> None:
        """Models with no work for now: their states on the workers are
        released (the client's copy of each, scored last, stands for it:
        work given again places it again), so that a batch's results are not
        held by models that no longer train."""
        for key in model_keys:
            if key not in self._deferred and not self._since.get(key) and key in self._scored:
                self._forget_state(key)

    def drop(self, model_keys) -> None:
        """Release dropped models now: the scheduler forgets their states."""
        for key in model_keys:
            self._deferred.pop(key, None)
            self._seconds.pop(key, None)
            self._scored.pop(key, None)
            self._since.pop(key, None)
            self._unsent.pop(key, None)
            self._forget_state(key)

    def state(self, model_key):
        """The model's newest state, brought to the client (rebuilt if lost)."""
        from concurrent.futures import CancelledError

        if not self._since.get(model_key) and model_key in self._scored:
            return self._scored[model_key]
        self._flush()
        for attempt in range(self.max_resubmits + 1):
            try:
                self._head(model_key)
                raw = gather(self.client, [self._states[model_key]])[0]
                return newest(self._pick(self._member.get(model_key), raw))
            except CancelledError:
                if attempt == self.max_resubmits:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def model(self, model_key):
        """The fitted estimator of a model (brought to the client)."""
        return self.state(model_key)[0]

    def close(self) -> None:
        """Cancel pending work and release everything this search placed."""
        futures = [h.future for h in self._pending if h.future is not None]
        if not _closed(self.client):  # (closed: it forgot them all already)
            cancel_quietly(self.client, futures)
            handles = [*futures, *self._states.values(), *self._val.values(), *self._shared.values(),
                       *(p for parts in self._parts for p in parts)]
            for h in handles:
                if h is not None:
                    h.release()
        self._pending.clear()
        self._deferred.clear()
        self._seconds.clear()
        self._states.clear()
        self._member.clear()
        self._scored.clear()
        self._since.clear()
        self._unsent.clear()
        self._val.clear()
        self._shared.clear()
        self._shared_values.clear()
        self._parts = []
        self._sources = []



class LocalModels(_Base):
    """The same operations on local threads, for use without a Client.

    Work on one model is queued until its score is requested, then runs as
    one job on the pool (models train concurrently, one job per model).
    Everything lives in this process; nothing can be lost.
    """

    dashboard_link = None
    remote = False

    def __init__(self, n_jobs: int | None = None):
        from dasklearn._runtime._backend import local_slots

        self.n_slots = local_slots(n_jobs)
        self.token = uuid.uuid4().hex[:10]
        self._pool = cf.ThreadPoolExecutor(self.n_slots, thread_name_prefix="dasklearn-models")
        self._parts: list[list] = []
        self._val: dict = {}
        self._shared: dict = {}
        self._states: dict = {}
        self._scored: dict = {}
        self._queued: dict = {}  # model_key -> list of thunks

    def place(self, X, y, spec: SplitSpec, seed: int, labels: bool) -> Layout:
        import dask

        self.spec = spec
        n_val = validation_rows(spec, _block_rows(X))
        if dask.is_dask_collection(X):
            xs, ys = _blocks(X, y)
            splits = dask.compute(*[dask.delayed(split_block, pure=False)(xd, yd, b, seed, spec, n_val[b])
                                    for b, (xd, yd) in enumerate(zip(xs, ys))])
        else:
            splits = [split_block(X, y, 0, seed, spec, n_val[0])]
        self._parts = [list(s) for s in splits]
        return layout_of([describe_parts(s, labels) for s in splits])

    def share(self, name: str, obj) -> None:
        self._shared[name] = obj

    def _validation(self, fold):
        if fold not in self._val:
            self._val[fold] = concat_parts([p[self.spec.val_part(fold)] for p in self._parts])
        return self._val[fold]

    def partial_fit(self, model_key, params, blocks, first_call) -> None:
        train = self.spec.train_parts(model_key[1])
        fit_params, template = self._shared["fit_params"], self._shared["estimator"]

        def run(state):
            return partial_fit_steps(state, [[self._parts[b][j] for j in train] for b in blocks],
                                     fit_params, template, params)

        self._queued.setdefault(model_key, []).append(run)

    def fit_rows(self, model_key, params, counts) -> None:
        train = self.spec.train_parts(model_key[1])
        block_parts = [[p[j] for j in train] for p in self._parts]
        shared = self._shared
        self._queued[model_key] = [
            lambda _: fit_rows(shared["estimator"], params, block_parts, counts, shared["fit_params"])]

    def restore(self, model_key, state) -> None:
        self._queued.pop(model_key, None)
        self._states[model_key] = self._scored[model_key] = state

    def _run(self, model_key):
        state = self._states.get(model_key)
        for thunk in self._queued.pop(model_key, []):
            state = thunk(state)
        self._states[model_key] = state
        return state

    def score(self, model_key):
        val = self._validation(model_key[1])
        scorer = self._shared["scorer"]
        handle = self._pool.submit(lambda: score_and_keep(self._run(model_key), val, scorer))
        handle.model_key = model_key
        return handle

    def wait_any(self, handles, timeout: float | None = None) -> list:
        done, _ = cf.wait(list(handles), timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def failed(self, handle) -> bool:
        return handle.done() and handle.exception() is not None

    def ready(self, handle) -> bool:
        return handle.done() and handle.exception() is None

    def gather(self, handles) -> list:
        values = []
        for h in handles:
            value, self._scored[h.model_key] = h.result()
            values.append(value)
        return values

    def scored_state(self, model_key):
        return self._scored[model_key]

    def park(self, model_keys) -> None:
        """(States are in this process: nothing to release.)"""

    def drop(self, model_keys) -> None:
        for key in model_keys:
            self._states.pop(key, None)
            self._scored.pop(key, None)
            self._queued.pop(key, None)

    def state(self, model_key):
        return self._run(model_key)

    def model(self, model_key):
        return self._run(model_key)[0]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._states.clear()
        self._scored.clear()
        self._queued.clear()
        self._parts = []
        self._val.clear()


def model_runtime(n_jobs: int | None = None):
    """:class:`DistributedModels` on the active Client, else :class:`LocalModels`."""
    from dasklearn._runtime._cluster import active_client, local_jobs

    client = active_client()
    return DistributedModels(client) if client is not None else LocalModels(local_jobs(n_jobs))
