"""Block kernels of the adaptive searches: pure, no dask.

The functions here are what the model runtimes (:mod:`dasklearn._runtime._models`)
run, either as dask tasks on the workers that hold the data or, without a
Client, on local threads; plus the small plain-data objects the client keeps
about the placed data. Nothing here imports dask or talks to a cluster: a
task body is plain NumPy / scikit-learn, a function of its arguments only.

Parts
-----
Each input block (a dask chunk, or the whole array for in-memory input) is
split into row parts (:class:`SplitSpec`, :func:`split_block`):
``[train, validation]`` for a hold-out split, or ``k`` fold parts for
cross-validation. A part is a pair ``(X, y)`` of arrays. The split depends
only on the seed, the block's index and its rows (and the labels when
stratifying), never on where or when it runs. :func:`describe_parts` gives
the counts the client needs (:class:`Layout`).

Models
------
A model's state is ``(estimator, fit_seconds, resource)``.
:func:`partial_fit_steps` applies ``partial_fit`` calls on some blocks'
training parts to a *copy* of its input state (the input is the value of
another task), :func:`fit_rows` fits a fresh model on the first rows of each
block, and :func:`score_and_keep` returns a small score dict with the scored
state. Every body is deterministic, which is what lets the runtime rebuild
lost work by running the same tasks again.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from dasklearn._validation import score_number

# ----------------------------------------------------------------- split spec


@dataclass(frozen=True)
class SplitSpec:
    """How each block's rows are divided into parts.

    ``kind='holdout'``: part 0 is training, part 1 validation:
    ``ceil(test_size * n_samples)`` rows in all, as scikit-learn's
    ``train_test_split``, dealt to the blocks in proportion to their rows
    (:func:`validation_rows`). ``kind='kfold'``: rows
    are dealt to ``n_folds`` parts (class by class when ``stratify``); fold
    ``f`` validates on part ``f`` and trains on the others. The fold ``"all"``
    trains on every part (refitting the best candidate after a cross-validated
    search).
    """

    kind: str = "holdout"
    test_size: float = 0.15
    n_folds: int = 1
    stratify: bool = False

    @property
    def n_parts(self) -> int:
        return 2 if self.kind == "holdout" else self.n_folds

    @property
    def folds(self) -> list:
        return [0] if self.kind == "holdout" else list(range(self.n_folds))

    def train_parts(self, fold) -> list[int]:
        if fold == "all":
            return list(range(self.n_parts))
        if self.kind == "holdout":
            return [0]
        return [j for j in range(self.n_folds) if j != fold]

    def val_part(self, fold) -> int:
        return 1 if self.kind == "holdout" else int(fold)


def part_rows(n_rows: int, y, spec: SplitSpec, seed: int, block: int, n_val: int | None) -> list[np.ndarray]:
    """Row positions of each part of one block, each part in random order.

    ``n_val`` is the block's validation rows for a hold-out split (from
    :func:`validation_rows`, at most ``n_rows``; None for k-fold). Depends
    only on ``(seed, block, n_rows, n_val)`` (and the labels when
    stratifying), never on where or when it runs.
    """
    rng = np.random.default_rng([seed, block])
    perm = rng.permutation(n_rows)
    if spec.kind == "holdout":
        return [perm[n_val:], perm[:n_val]]
    k = spec.n_folds
    fold_of = np.empty(n_rows, dtype=np.int64)
    if spec.stratify and y is not None and n_rows:
        # deal each class round-robin over the folds, starting at a random fold
        by_class = perm[np.argsort(np.asarray(y)[perm], kind="stable")]
        fold_of[by_class] = (np.arange(n_rows) + rng.integers(k)) % k
    else:
        fold_of[perm] = np.arange(n_rows) % k
    ordered = fold_of[perm]
    return [perm[ordered == j] for j in range(k)]


def allocate_rows(total: int, capacities) -> list[int]:
    """Split ``total`` rows over blocks in proportion to ``capacities``
    (largest remainder, never above a capacity); sums to ``min(total, sum)``."""
    caps = np.asarray(capacities, dtype=np.int64)
    cap_sum = int(caps.sum())
    total = min(int(total), cap_sum)
    if cap_sum == 0:
        return [0] * len(caps)
    base = caps * total // cap_sum
    remainder = caps * total % cap_sum
    extra = total - int(base.sum())
    base[np.argsort(-remainder, kind="stable")[:extra]] += 1
    return [int(b) for b in base]


def validation_rows(spec: SplitSpec, rows) -> list:
    """Validation rows of each block of a hold-out split (None per block for k-fold).

    ``ceil(test_size * sum(rows))`` in all, dealt in proportion to the
    blocks' rows (:func:`allocate_rows`): the validation share is the same
    for small blocks as for large ones.
    """
    rows = [int(r) for r in rows]
    if spec.kind != "holdout":
        return [None] * len(rows)
    return allocate_rows(math.ceil(spec.test_size * sum(rows)), rows)


# ------------------------------------------------------ task bodies (workers)


def split_block(X, y, block: int, seed: int, spec: SplitSpec, n_val: int | None) -> list:
    """One block's parts ``[(X_part, y_part), ...]`` (arrays; see :func:`part_rows`)."""
    X = np.asarray(X)
    y = None if y is None else np.asarray(y)
    return [(X[idx], None if y is None else y[idx]) for idx in part_rows(len(X), y, spec, seed, block, n_val)]


def take_part(obj, i):
    """Part ``i`` of a split block (a task: each part is a future of its own)."""
    return obj[i]


def _nonfinite(a) -> tuple[int, int]:
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        return 0, 0
    return int(np.isnan(a).sum()), int(np.isinf(a).sum())


def describe_parts(parts: list, labels: bool) -> dict:
    """What the client needs to know about one block's parts: row counts,
    distinct labels (when ``labels``), and NaN / inf counts of X and y."""
    ys = [p[1] for p in parts if p[1] is not None and len(p[1])]
    x_bad = [_nonfinite(p[0]) for p in parts]
    return {
        "sizes": [len(p[0]) for p in parts],
        "classes": np.unique(np.concatenate(ys)) if labels and ys else None,
        "x_nonfinite": (sum(n for n, _ in x_bad), sum(i for _, i in x_bad)),
        "y_nonfinite": sum(sum(_nonfinite(y)) for y in ys),
    }


def concat_parts(parts: list):
    """``(X, y)`` of several parts, concatenated (a view-free copy)."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    X = np.concatenate([p[0] for p in parts])
    y = None if parts[0][1] is None else np.concatenate([p[1] for p in parts])
    return X, y


_PROCESS_RNG = threading.RLock()  # re-entered by a fit inside a fit on one thread


def _draws_from_the_process_rng(est) -> bool:
    """Does fitting ``est`` (or an estimator inside it: a Pipeline's step, a
    meta-estimator's estimator) draw from the random generator that
    scikit-learn's liblinear and libsvm code keep, one per process, and each
    fit reseeds from its ``random_state``? (``LinearSVC``, ``LinearSVR``, the
    ``SVC`` family, ``LogisticRegression(solver="liblinear")``.)

    False when a dasklearn estimator is involved: its own fits (a nested
    search's, a wrapper's) take the lock where they run, and holding it
    around them would block their fits on other threads forever."""
    from sklearn.base import BaseEstimator
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR, OneClassSVM

    libsvm = (SVC, SVR, LinearSVC, LinearSVR, NuSVC, NuSVR, OneClassSVM)
    try:
        inner = [v for v in est.get_params(deep=True).values() if isinstance(v, BaseEstimator)]
    except Exception:  # not a scikit-learn estimator: nothing to look into
        inner = []
    if any(type(e).__module__.startswith("dasklearn.") for e in (est, *inner)):
        return False
    for e in (est, *inner):
        if isinstance(e, libsvm):
            return True
        if isinstance(e, (LogisticRegression, LogisticRegressionCV)) and getattr(e, "solver", None) == "liblinear":
            return True
    return False


@contextlib.contextmanager
def one_at_a_time_if_seeded_globally(est):
    """Fit ``est`` alone in this process if it draws from the process-wide
    generator of liblinear / libsvm (see :func:`_draws_from_the_process_rng`):
    fits running at once on threads (local searches, workers of several
    threads) would interleave their draws, and a fixed ``random_state``
    would not give scikit-learn's results, nor the same twice. Other fits
    run concurrently as before."""
    if _draws_from_the_process_rng(est):
        with _PROCESS_RNG:
            yield
    else:
        yield


def new_model(template, params):
    """A fresh candidate: a clone of ``template`` with ``params`` (cloned too:
    estimators among them must not be shared between candidates)."""
    from sklearn.base import clone

    return clone(template).set_params(**clone(params, safe=False))


def partial_fit_steps(state, blocks, fit_params, template=None, params=None):
    """``partial_fit`` calls on ``blocks`` (each a list of parts), in order.

    ``state`` None creates the model from ``template`` and ``params``.
    Returns the new state ``(model, fit seconds, calls)``; the input state is
    never changed (it is the value of another task).
    """
    start = time.perf_counter()
    state = newest(state)
    if state is None:
        model, seconds, calls = new_model(template, params), 0.0, 0
    else:
        model, seconds, calls = state
        model = copy.deepcopy(model)
    with one_at_a_time_if_seeded_globally(model):
        for parts in blocks:
            X, y = concat_parts(parts)
            if len(X):
                model.partial_fit(X, y, **fit_params)
            calls += 1
    return model, seconds + time.perf_counter() - start, calls


_GOLDEN = 0.6180339887498949
_SILVER = 0.4142135623730951


def class_fair_order(y, block: int):
    """Positions of ``y``'s rows ordered so that every prefix holds each class
    in about its share (within one row), each class's rows in their order.

    Row ``j`` of class ``k`` (of ``C_k``) comes at time ``(j + phase) / C_k``,
    the phase depending on ``block`` and the class (so that, over many
    blocks, a rare class's share is rounded up in some and down in others).
    O(n log n).
    """
    _, inverse = np.unique(np.asarray(y), return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse)
    phases = ((block + 1) * _GOLDEN + np.arange(len(counts)) * _SILVER) % 1.0
    by_class = np.argsort(inverse, kind="stable")  # each class's rows, in their order
    starts = np.cumsum(counts) - counts
    rank_in_class = np.empty(len(inverse), dtype=np.int64)
    rank_in_class[by_class] = np.arange(len(inverse)) - starts[inverse[by_class]]
    times = (rank_in_class + phases[inverse]) / counts[inverse]
    return np.argsort(times, kind="stable")


_ORDERS: dict = {}  # id()s of a fold's label arrays -> (weak references to them, class_fair_order)
_ORDERS_KEPT = 8
_ORDERS_LOCK = threading.Lock()


def _fold_order(ys):
    """Positions of the rows of the labels ``ys`` laid end to end, in an
    order whose every prefix holds each class in its share
    (:func:`class_fair_order`) and takes from every part in its share: the
    parts' rows are interleaved first (row ``r`` of a part of ``n`` at
    ``(r + 1/2) / n``), so that a small rung is not all from the first
    blocks. Kept for the next models fitted on the same placed fold (every
    model of a rung is, and computing it is O(n log n) in the fold's rows)."""
    import weakref

    key = tuple(id(y) for y in ys)
    with _ORDERS_LOCK:
        hit = _ORDERS.get(key)
    if hit is not None and all(ref() is y for ref, y in zip(hit[0], ys)):
        return hit[1]
    lengths = [len(y) for y in ys]
    spread = np.concatenate([(np.arange(n) + 0.5) / n for n in lengths]) if lengths else np.empty(0)
    interleaved = np.argsort(spread, kind="stable")
    order = interleaved[class_fair_order(np.concatenate([np.asarray(y) for y in ys])[interleaved], 0)]
    try:
        refs = tuple(weakref.ref(y) for y in ys)
    except TypeError:  # labels that cannot be weakly referenced: not kept
        return order
    with _ORDERS_LOCK:  # (local threads, or a worker of several, fit models at once)
        if len(_ORDERS) >= _ORDERS_KEPT:
            _ORDERS.pop(next(iter(_ORDERS)), None)
        _ORDERS[key] = (refs, order)
    return order


def _take(parts, positions):
    """(Xs, ys) of the rows at ``positions`` (sorted) of the parts laid end to end."""
    Xs, ys, offset = [], [], 0
    for X, y in parts:
        lo, hi = np.searchsorted(positions, [offset, offset + len(y)])
        if hi > lo:
            local = positions[lo:hi] - offset
            Xs.append(X[local])
            ys.append(y[local])
        offset += len(y)
    return Xs, ys


def fit_rows(template, params, block_parts, counts, fit_params):
    """A fresh model fitted on ``counts[b]`` training rows of each block (the
    first ones). For a classifier, ``sum(counts)`` rows of all the blocks in
    :func:`_fold_order` instead (every class in its share, from every block
    in its share, as scikit-learn's halving search subsamples: the first
    rows of each block could all be of one class, and the fit would fail),
    in row order."""
    from sklearn.base import is_classifier

    start = time.perf_counter()
    parts = [part for block in block_parts for part in block]
    if is_classifier(template) and parts and parts[0][1] is not None and np.ndim(parts[0][1]) == 1:
        n_rows = sum(len(y) for _, y in parts)
        if sum(counts) >= n_rows:  # every row (the last rung): no choice to make
            Xs, ys = [X for X, _ in parts], [y for _, y in parts]
        else:
            Xs, ys = _take(parts, np.sort(_fold_order([y for _, y in parts])[:sum(counts)]))
    else:
        Xs, ys = [], []
        for block, n in zip(block_parts, counts):
            for X, y in block:
                if n <= 0:
                    break
                Xs.append(X[:n])
                ys.append(None if y is None else y[:n])
                n -= len(Xs[-1])
    X = np.concatenate(Xs)
    y = None if ys[0] is None else np.concatenate(ys)
    model = new_model(template, params)
    with one_at_a_time_if_seeded_globally(model):
        model.fit(X, y, **fit_params)
    return model, time.perf_counter() - start, int(len(X))


def score_state(state, val, scorer) -> dict:
    """Score one model on its validation data: one small dict comes back."""
    model, fit_seconds, resource = state
    X, y = val
    start = time.perf_counter()
    value = scorer(model, X, y)
    return {
        "score": score_number(value, scorer),
        "score_time": time.perf_counter() - start,
        "fit_seconds": fit_seconds,
        "resource": resource,
    }


class Scored(NamedTuple):
    """The value of a score task: the score dict and the scored state (kept
    by the client; the next task of a model scored with its last calls
    takes it as its input)."""

    value: dict
    state: tuple


def score_and_keep(state, val, scorer) -> Scored:
    """:func:`score_state` and the scored state itself."""
    state = newest(state)
    return Scored(score_state(state, val, scorer), state)


def member(batch, i: int) -> dict:
    """How a task names model ``i`` of a batch task's value (a future inside
    a dict is resolved by dask, so the task gets the batch's list)."""
    return {"batch": batch, "member": i}


def newest(value):
    """A model's state from the value of its newest task: the state itself,
    that of a task that also scored it (:class:`Scored`), or that of one
    model of a batch (:func:`member`)."""
    if isinstance(value, dict) and "batch" in value:
        value = value["batch"][value["member"]]
    return value.state if isinstance(value, Scored) else value


def partial_fit_and_score(state, blocks, fit_params, template, params, val, scorer):
    """:func:`partial_fit_steps`, then :func:`score_and_keep`, in one task."""
    return score_and_keep(partial_fit_steps(state, blocks, fit_params, template, params), val, scorer)


def partial_fit_and_score_each(items, blocks, fit_params, template, val, scorer) -> list:
    """:func:`partial_fit_and_score` of several models, one after the other,
    on the same blocks: one task for many cheap models. ``items`` are
    ``(state, params, name)`` (params for a model without a state yet; the
    name is added to the note of an error it raises); the value is their
    :class:`Scored` values, in order."""
    out = []
    for state, params, name in items:
        try:
            out.append(partial_fit_and_score(state, blocks, fit_params, template, params, val, scorer))
        except Exception as exc:
            exc.add_note(f"(raised by {name}, trained in one task with {len(items) - 1} other model(s))")
            raise
    return out


# ----------------------------------------------------------- client-side data


@dataclass
class Layout:
    """What the client knows about the placed data (counts only)."""

    sizes: np.ndarray  # (n_blocks, n_parts) row counts
    classes: np.ndarray | None
    x_nonfinite: tuple = (0, 0)  # NaN and inf values in X
    y_nonfinite: int = 0  # NaN or inf values in y

    def train_rows(self, spec: SplitSpec, fold) -> np.ndarray:
        """Training rows of each block in ``fold``."""
        return self.sizes[:, spec.train_parts(fold)].sum(axis=1)


def layout_of(info) -> Layout:
    """The :class:`Layout` of all blocks from their :func:`describe_parts`."""
    labels = [d["classes"] for d in info if d["classes"] is not None]
    return Layout(
        sizes=np.array([d["sizes"] for d in info], dtype=np.int64),
        classes=np.unique(np.concatenate(labels)) if labels else None,
        x_nonfinite=(sum(d["x_nonfinite"][0] for d in info), sum(d["x_nonfinite"][1] for d in info)),
        y_nonfinite=sum(d["y_nonfinite"] for d in info),
    )


def worker_runs(blocks, where) -> list[list[int]]:
    """Split ``blocks`` into maximal runs of consecutive blocks on the same worker."""
    runs: list[list[int]] = []
    for b in blocks:
        if runs and where[b] and where[b] == where[runs[-1][-1]]:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs
