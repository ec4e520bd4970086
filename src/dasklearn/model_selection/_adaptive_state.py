"""What one fit of an adaptive search works with, on the client: its data
(checked and aligned), the block each partial_fit call visits, the models
driven by each policy (tracks) and the context every round uses (runtime,
folds, block orders, checkpoint). The engine that drives them is
:class:`._incremental.BaseIncrementalSearchCV`.
"""

from __future__ import annotations

import math

import numpy as np

from dasklearn import _validation
from dasklearn._runtime._model_kernels import allocate_rows
from dasklearn._runtime._reduce import as_dask_array
from dasklearn.model_selection._checkpoint import decode_state
from dasklearn.model_selection._policies import CALLS


def check_data(estimator, X, y):
    """(X, y) as aligned dask arrays or numpy arrays; the number of samples.

    In-memory data get the shared checks (numeric, finite, targets) here;
    dask data are checked where they are split (see
    ``BaseIncrementalSearchCV._check_layout``).
    """
    import dask

    _validation.reject_sparse("An adaptive search", X)
    if hasattr(X, "columns") and _validation.column_names_selected(estimator):
        raise ValueError(
            f"{type(estimator).__name__} selects columns by name (a ColumnTransformer), but an adaptive "
            "search trains on the rows of X as arrays, without column names. Select the columns by "
            "position (e.g. ColumnTransformer([('oh', OneHotEncoder(), [2])])), or encode the DataFrame "
            "before the search."
        )
    X = _validation.check_numeric(estimator, X)
    if not dask.is_dask_collection(X):
        _validation.raise_for_nonfinite(estimator, _validation.finite_report(X))
    if y is not None and not dask.is_dask_collection(y):
        _validation.check_targets(estimator, y)
    X, y = as_dask_array(X), as_dask_array(y)  # dask DataFrame / Series: arrays with known chunks
    if not dask.is_dask_collection(X):
        X = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    _validation.check_2d(X.shape, type(estimator).__name__)
    if dask.is_dask_collection(X) and any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X is a dask array with unknown chunk sizes; the search needs the rows of "
            "each block. Call X.compute_chunk_sizes() first, or build it with "
            "ddf.to_dask_array(lengths=True)."
        )
    n = int(X.shape[0])
    _validation.check_n_samples(n)
    _validation.check_n_features(X)
    def check_length(y):
        if y.shape[0] != n:
            raise ValueError(
                f"X and y have different numbers of samples: X has {n}, y has "
                f"{y.shape[0]}. Pass a y with one value per row of X."
            )

    if y is not None:
        if dask.is_dask_collection(y) and dask.is_dask_collection(X):
            if any(math.isnan(c) for c in y.chunks[0]):
                raise ValueError(
                    "y is a dask array with unknown chunk sizes; the search needs its rows to "
                    "align them with X's. Call y.compute_chunk_sizes() first, or build it with "
                    "ddf[col].to_dask_array(lengths=True)."
                )
            check_length(y)  # before the rechunk, which would fail on another length
            if y.chunks[0] != X.chunks[0] or (y.ndim == 2 and len(y.chunks[1]) > 1):
                # one block of y per block of X, all its columns in it (blocks pair up)
                y = y.rechunk({0: X.chunks[0], **({1: -1} if y.ndim == 2 else {})})
        elif dask.is_dask_collection(y):  # X in memory: y comes here too (checked below)
            y = y.compute()
        if not dask.is_dask_collection(y):
            y = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            if dask.is_dask_collection(X) and y.shape[:1] == (n,):
                import dask.array as da

                y = da.from_array(y, chunks=(X.chunks[0],) + y.shape[1:])
        check_length(y)
    if dask.is_dask_collection(X) and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if n < 2:
        raise ValueError(f"X has {n} sample(s); an adaptive search needs at least 2.")
    return X, y, n


class BlockOrder:
    """Which block each partial_fit call uses: passes over the blocks in
    random order, the same sequence for every model of a fold."""

    def __init__(self, blocks, seed: int):
        self._blocks = list(blocks)
        self._rng = np.random.default_rng(seed)
        self._order: list[int] = []

    def take(self, start: int, n: int) -> list[int]:
        """Blocks of calls ``start + 1 .. start + n``."""
        while len(self._order) < start + n:
            self._order.extend(int(b) for b in self._rng.permutation(self._blocks))
        return self._order[start:start + n]


class Track:
    """Models driven by one policy (a search, or one Hyperband bracket)."""

    def __init__(self, name, ids, candidates, policy, max_iter, cap):
        self.name = name
        self.ids = list(ids)
        self.params = dict(zip(ids, candidates))
        self.policy = policy
        self.max_iter = max_iter
        self.cap = cap
        self.records: dict = {m: [] for m in ids}  # every model's records
        self.alive: dict = dict(self.records)  # live models (the same lists)
        self.outstanding = 0
        self.round = 0
        self.results: dict = {}
        self.fit_seconds: dict = {}
        self.survivors: list | None = None

    @property
    def label(self) -> str:
        return "" if self.name is None else f"bracket={self.name}: "


class Context:
    """What one fit's rounds need: the runtime, the folds and block orders,
    and the checkpoint (``store``) with the states read from it."""

    def __init__(self, runtime, spec, layout, train_rows, orders, resource, progress, start, store=None):
        self.runtime = runtime
        self.spec = spec
        self.layout = layout
        self.train_rows = train_rows
        self.orders = orders
        self.resource = resource
        self.progress = progress
        self.start = start
        self.store = store
        self._resume: dict = {}  # model_key -> encoded state read from the checkpoint, not yet needed

    def recorded(self, model_key, target: int):
        """The checkpoint's record of this work (then it is not run), or None."""
        if self.store is None:
            return None
        entry = self.store.take(model_key[0], model_key[1], target)
        if entry is not None:
            self._resume[model_key] = entry["s"]
        return entry

    def save(self, arrived, params=None, state=None) -> None:
        """Append finished work to the checkpoint, with the models' states."""
        if self.store is None:
            return
        self.store.append([
            (m, f, t, track.params[m] if track is not None else params, v,
             self.runtime.scored_state((m, f)) if state is None else state)
            for track, m, f, t, v in arrived
        ])

    def drop(self, model_ids) -> None:
        self.runtime.drop([(m, f) for m in model_ids for f in self.spec.folds])
        for m in model_ids:
            for f in self.spec.folds:
                self._resume.pop((m, f), None)
            if self.store is not None:
                self.store.discard(m)

    def park(self, model_ids) -> None:
        """Models alive with no work this round (see the runtimes' park)."""
        self.runtime.park([(m, f) for m in model_ids for f in self.spec.folds])

    def model(self, model_key):
        """The fitted estimator of a model, from the checkpoint if it was read there."""
        state = self._resume.pop(model_key, None)
        return decode_state(state)[0] if state is not None else self.runtime.model(model_key)

    def train(self, model_key, params, used: int, n: int) -> None:
        """Give a model ``n`` more units of work (calls, or rows for a refit)."""
        state = self._resume.pop(model_key, None)
        if state is not None:  # continue from the state recorded in the checkpoint
            self.runtime.restore(model_key, decode_state(state))
        fold = model_key[1]
        if self.resource == CALLS:
            self.runtime.partial_fit(model_key, params, self.orders[fold].take(used, n), used)
        else:
            self.runtime.fit_rows(model_key, params, allocate_rows(used + n, self.train_rows[fold]))
