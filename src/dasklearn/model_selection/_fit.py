"""Kernels that run inside a task on a worker: fit and score one batch.

A batch is a list of ``(candidate_index, split_index, params)`` items. The
training data arrive as task arguments (placed once per search, fetched once
per worker, fit parameters included); a worker slices each split's folds
once and reuses them for all its items of that split.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import traceback
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils import get_tags

from dasklearn._runtime._cluster import in_a_one_thread_task
from dasklearn._runtime._model_kernels import new_model, one_at_a_time_if_seeded_globally
from dasklearn._runtime._rows import RowBlocks, rows_of, whole
from dasklearn._validation import score_number


@dataclass(frozen=True)
class FitOptions:
    error_score: object
    return_train_score: bool


@dataclass(frozen=True)
class Scoring:
    """How a fitted candidate is scored, as scikit-learn's search scores it.

    ``combined`` is the one callable scikit-learn's search would call: the
    scorer of a name (or of the estimator's ``score``), the user's callable,
    or for several metrics the multi-metric scorer, which shares predictions
    between its scorers. ``metrics`` (multi-metric only) maps each name to
    its own scorer: when ``combined`` raises, or when there are sample
    weights (to learn which metrics take them), each metric is scored alone,
    so only the failing ones get ``error_score``. ``takes_weights`` maps
    the names of the user's own callables (``"score"`` for a single scorer,
    and for ``scoring=None``, the estimator's ``score``) to whether their
    signature names ``sample_weight``, and those of scikit-learn's scorers
    to whether their metric names it (from the scorer's metadata request),
    when they say. ``by_name``: every scorer was given by name (or is the
    estimator's ``score``), so it only calls the estimator's prediction
    methods.
    """

    combined: object
    metrics: dict | None = None
    takes_weights: dict = field(default_factory=dict)
    by_name: bool = True
    routed: dict | None = None  # with metadata routing: the scorer's routed parameters (see _score)


def _call_scorer(scorer, est, X, y, sample_weight, takes: bool | None):
    """(``scorer(est, X, y)``, whether the fold's sample weights were used).

    As scikit-learn (without metadata routing): the user's own callable, and
    a scikit-learn scorer whose metric names ``sample_weight``, get it
    (``takes``, read once on the client); a scorer that does not say
    (``takes`` None) gets it unless what it calls does not take it, and then
    scores unweighted.
    """
    args = (est, X) if y is None else (est, X, y)
    if sample_weight is None or takes is False:
        return scorer(*args), sample_weight is None
    if takes:
        return scorer(*args, sample_weight=sample_weight), True
    try:
        return scorer(*args, sample_weight=sample_weight), True
    except TypeError as exc:
        if "unexpected keyword argument 'sample_weight'" not in str(exc):
            raise
        return scorer(*args), False


def _score(est, X, y, scoring: Scoring, sample_weight, error_score, shared: bool = False, routed=None):
    """Score a fitted candidate: (scores by name, or None if the one scorer
    failed; the failures' messages; whether the scorer returned a dict;
    the metrics whose scorer does not take the sample weights). ``shared``:
    X and y are a shared read-only fold, and a failure on read-only input is
    re-raised (the fit then runs again on private copies).

    ``routed``: with scikit-learn's metadata routing, the fold's rows of the
    parameters routed to the scorer (else None). They go where scikit-learn's
    search sends them: all to the one (or the multi-metric) scorer, and when
    that fails, to each metric those it requested."""
    if routed is not None:
        from sklearn.utils.metadata_routing import process_routing

        args = (est, X) if y is None else (est, X, y)

        def call(scorer, name):  # (value, whether weights it was given were used)
            if name is None:
                return scorer(*args, **routed), True
            return scorer(*args, **process_routing(scoring.combined, "score", **routed)[name].score), True

        combined_first = True
    else:
        def call(scorer, name):
            return _call_scorer(scorer, est, X, y, sample_weight, scoring.takes_weights.get(name or "score"))

        # with sample weights, several metrics are scored one by one, to learn
        # which of them take the weights (and say so of those that do not)
        combined_first = scoring.metrics is None or sample_weight is None
    if combined_first:
        try:
            value, weighted = call(scoring.combined, None)
        except Exception as exc:
            if isinstance(error_score, str) or (shared and _writes_its_input(exc)):  # 'raise', or retry
                raise
            if scoring.metrics is None:
                return None, [traceback.format_exc()], False, []
        else:
            dropped = [] if weighted else ["score"]
            if isinstance(value, dict):
                return {k: score_number(v, k) for k, v in value.items()}, [], True, dropped
            return {"score": score_number(value, scoring.combined)}, [], False, dropped
    scores, errors, dropped = {}, [], []
    for name, scorer in scoring.metrics.items():
        try:
            value, weighted = call(scorer, name)
        except Exception as exc:
            if isinstance(error_score, str) or (shared and _writes_its_input(exc)):  # 'raise', or retry
                raise
            scores[name] = float(error_score)
            errors.append(f"{name}: {traceback.format_exc()}")
        else:
            scores[name] = score_number(value, name)
            if not weighted:
                dropped.append(name)
    return scores, errors, True, dropped


def take_rows(data, idx):
    """Rows ``idx`` of numpy / pandas / scipy.sparse / list data, or of
    placed row blocks (:class:`~dasklearn._runtime._rows.RowBlocks`)."""
    if data is None:
        return None
    if isinstance(data, RowBlocks):
        return data.take(idx)
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    if hasattr(data, "shape"):
        return data[idx]
    idx = np.asarray(idx)
    if idx.dtype == bool:  # a mask, as scikit-learn's splits may be
        idx = np.flatnonzero(idx)
    return [data[i] for i in idx]


def take_split(X, train, test, pairwise: bool) -> tuple:
    """(training rows, test rows) of X, as scikit-learn's search cuts them:
    for an estimator taking a precomputed kernel or distance matrix (its
    ``pairwise`` tag), ``X[train][:, train]`` and ``X[test][:, train]``."""
    if not pairwise:
        return take_rows(X, train), take_rows(X, test)
    if isinstance(X, RowBlocks):  # columns are cut too: from the whole
        X = X.whole()
    if not hasattr(X, "shape") or len(X.shape) != 2 or X.shape[0] != X.shape[1]:
        raise ValueError(
            f"The estimator takes a precomputed kernel or distance matrix (its 'pairwise' tag), so X "
            f"must be a square (n_samples, n_samples) array or sparse matrix; got "
            f"{'shape ' + str(X.shape) if hasattr(X, 'shape') else type(X).__name__}."
        )
    if hasattr(X, "iloc"):
        return X.iloc[train, train], X.iloc[test, train]
    return X[np.ix_(train, train)], X[np.ix_(test, train)]


def is_pairwise(template, params) -> bool:
    """Does this candidate take a precomputed kernel or distance matrix?
    (read from its tags, as scikit-learn's search does for each candidate;
    a candidate whose parameters cannot be set is not, and its fit then
    reports the error)."""
    try:
        return bool(get_tags(new_model(template, params)).input_tags.pairwise)
    except Exception:
        return False


def read_only(*parts) -> tuple:
    """``parts`` with their numpy arrays made read-only, in place.

    A fold on a worker is shared by every fit of its split (scikit-learn gives
    each fit a fresh slice): an estimator that writes into its input must not
    change what the next fit sees. scikit-learn's estimators copy read-only
    numpy input before writing (``copy_X=False``, say); anything that fails
    on it instead runs again on private copies (:func:`_fit_score_one`).
    Other kinds of data get their own copy for each use (:func:`_for_use`).
    """
    for part in parts:
        if isinstance(part, np.ndarray):
            part.flags.writeable = False
    return parts


@functools.cache
def _pandas_major() -> int:
    import pandas as pd

    return int(pd.__version__.split(".")[0])


def _pandas_copies_on_write() -> bool:
    if _pandas_major() >= 3:
        return True
    import pandas as pd

    return pd.options.mode.copy_on_write is True


def _for_use(data, private: bool):
    """Fold data as one fit or scorer gets it: a numpy array shared
    (read-only) unless ``private``; a scipy.sparse matrix copied (some of
    scikit-learn's Cython cannot read read-only sparse arrays, and the
    copy costs what scikit-learn's slicing costs); a pandas object as a
    copy-on-write copy (no data copied until written); others as they are."""
    if isinstance(data, np.ndarray):
        return data.copy() if private else data
    if sp.issparse(data):
        return data.copy()
    if hasattr(data, "iloc") and hasattr(data, "copy"):
        return data.copy(deep=not _pandas_copies_on_write())
    return data


def _read_only_view(data):
    """The placed data as the refit gets them: a read-only view of a numpy
    array (others as :func:`_for_use` gives them), since the refit may run
    while fits still slice folds from the same data."""
    if isinstance(data, np.ndarray):
        data = data.view()
        data.flags.writeable = False
        return data
    return _for_use(data, private=False)


_READ_ONLY = re.compile(r"read-?\s?only", re.IGNORECASE)


def _writes_its_input(exc: BaseException) -> bool:
    """Did a fit or scorer fail on read-only input? numpy, Cython and numba
    all say "read-only" / "readonly" (in the error or what caused it)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _READ_ONLY.search(str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _shared_then_private(attempt, private: bool = False):
    """``attempt(private=False)``, on the shared read-only data; when that
    fails on read-only input (or ``private`` says it would),
    ``attempt(private=True)``, on private copies."""
    if not private:
        try:
            return attempt(False)
        except Exception as exc:
            if not _writes_its_input(exc):
                raise
    return attempt(True)


def _n_rows(value):
    """Rows of an array, frame, sparse matrix or sequence (None: not one)."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return shape[0] if len(shape) else None
    return len(value) if hasattr(value, "__len__") and not isinstance(value, (str, dict)) else None


def indexable_params(fit_params: dict, n_samples: int) -> dict:
    """Fit parameters as scikit-learn's search passes them on: a sparse
    matrix of one row per sample in CSR (a COO matrix has no rows to index),
    the others as given."""
    import scipy.sparse as sp

    return {k: v.tocsr() if sp.issparse(v) and v.format not in ("csr", "csc") and _n_rows(v) == n_samples
            else v for k, v in fit_params.items()}


def split_fit_params(fit_params: dict, n_samples: int, idx) -> dict:
    """Slice sample-aligned fit parameters (n_samples rows) to ``idx``, as
    scikit-learn does: arrays, frames, sparse matrices and lists (ragged
    ones too; a list stays a list); anything else is passed as it is."""
    return {k: take_rows(v, idx) if _n_rows(v) == n_samples else v for k, v in fit_params.items()}


def score_weights(fit_params: dict, train_params: dict, n_samples: int, test) -> tuple:
    """(train, test) rows of the ``sample_weight`` fit parameter, which the
    scorers get too (as in scikit-learn's search): the training rows are those
    already sliced for fit (``train_params``); a weight that is not one per
    sample (a number) is passed as it is; (None, None) without it."""
    if fit_params.get("sample_weight") is None:
        return None, None
    test_params = split_fit_params({"sample_weight": fit_params["sample_weight"]}, n_samples, test)
    return train_params["sample_weight"], test_params["sample_weight"]


@dataclass
class Fold:
    """One split's data as the fits of a worker share them (numpy arrays
    read-only, see :func:`read_only`). ``X_scored``: the training rows as the
    train scores see them, when not ``X_train`` (a pipeline's leading steps'
    ``transform``, which may differ from their ``fit_transform``).
    ``private``: a fit on this fold failed on read-only input, so the later
    fits of this worker get private copies straight away."""

    X_train: object
    y_train: object
    X_test: object
    y_test: object
    fit_params: dict
    weights: tuple  # (train, test) sample weights of the scorers, or (None, None)
    X_scored: object = None
    private: bool = False
    score_params: tuple = (None, None)  # (train, test) routed scorer parameters, with metadata routing


def _fit_score_one(template, params, fold: Fold, scoring: Scoring, opts: FitOptions):
    """Fit one candidate on one fold and score it, as scikit-learn's search
    does: a failing fit gets ``error_score`` for every metric (``error``), a
    failing scorer only for its metrics (``score_errors``).

    The fold's numpy arrays are shared and read-only. A fit or scorer that
    fails on them (it writes into its input, or its compiled code cannot read
    read-only arrays) runs again with a private copy for each use (fit, test
    score, train score), as scikit-learn slices a fresh fold for each fit.
    """
    def attempt(private: bool):
        if private:  # this worker's later fits of the fold go private at once
            fold.private = True
        return _fit_score_attempt(template, params, fold, scoring, opts, private)

    return _shared_then_private(attempt, fold.private)


def _fit_score_attempt(template, params, fold: Fold, scoring: Scoring, opts: FitOptions, private: bool):
    def use(data):
        return _for_use(data, private)

    w_train, w_test = fold.weights
    # each fit gets its own fit parameter arrays (small), as in scikit-learn,
    # should it change them
    fit_params = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in fold.fit_params.items()}
    start = time.perf_counter()
    try:
        est = new_model(template, params)
        with one_at_a_time_if_seeded_globally(est):
            start = time.perf_counter()  # not the wait
            _fit_xy(est, use(fold.X_train), use(fold.y_train), fit_params)
    except Exception as exc:
        if isinstance(opts.error_score, str) or (not private and _writes_its_input(exc)):  # 'raise', or retry
            raise
        return _record(time.perf_counter() - start, 0.0, None, None, fold.y_test, error=traceback.format_exc()), \
            time.perf_counter() - start
    fit_time = time.perf_counter() - start
    test, errors, as_dict, dropped = _score(est, use(fold.X_test), use(fold.y_test), scoring, w_test,
                                            opts.error_score, shared=not private, routed=fold.score_params[1])
    score_time = time.perf_counter() - start - fit_time
    train = None
    if opts.return_train_score:
        X_scored = fold.X_train if fold.X_scored is None else fold.X_scored
        train, train_errors, _, _ = _score(est, use(X_scored), use(fold.y_train), scoring, w_train,
                                           opts.error_score, shared=not private, routed=fold.score_params[0])
        errors += train_errors
    return (_record(fit_time, score_time, test, train, fold.y_test, score_errors=errors, scores_as_dict=as_dict,
                    weights_dropped=dropped), time.perf_counter() - start)


def _record(fit_time, score_time, test, train, y_test, *, error=None, score_errors=(), scores_as_dict=False,
            weights_dropped=()):
    """One (candidate, split)'s result: ``error`` is a failed fit's
    traceback; ``score_errors`` failed scorers' ones; ``scores_as_dict``: the
    scorer returned a dict; ``weights_dropped``: the metrics scored unweighted."""
    return {
        "fit_time": fit_time,
        "score_time": score_time,
        "test": test,
        "train": train,
        "error": error,
        "score_errors": list(score_errors),
        "scores_as_dict": scores_as_dict,
        "weights_dropped": list(weights_dropped),
        "n_test_samples": len(y_test) if y_test is not None else None,
    }


class _FoldCache:
    """The last fold sliced in this worker process, reused by later tasks.

    Items are ordered split-major, so consecutive tasks on a worker mostly
    use the same split: slicing X[train] (a copy as large as the fold) once
    per split and worker, not once per task, saves that copy on every fit.
    The entry is keyed by a weak reference to the placed X (so a later,
    different X at the same address can never hit), the placed y, splits and
    fit parameters themselves (held, so their ids cannot be reused), and the
    split index; data placed as row blocks by their placement's token, held
    weakly (see :mod:`dasklearn._runtime._rows`). One entry: memory is one
    fold per worker process, dropped when X (or its token) is freed.
    """

    def __init__(self):
        self._lock = threading.RLock()  # RLock: the weakref callback may run inside a locked section
        self._entry = None

    def _forget(self, ref):
        """X was freed (the search released it): drop its fold too."""
        with self._lock:
            if self._entry is not None and self._entry["X"] is ref:
                self._entry = None

    def get(self, X, y, splits, fit_params, split_idx, pairwise: bool = False, score_params=None):
        with self._lock:
            e = self._entry
            if (e is not None and e["X"]() is _identity(X) and _same(e["y"], y) and e["fit_params"] is fit_params
                    and e["splits"] is splits and e["split"] == split_idx and e["pairwise"] == pairwise
                    and e["score_params"] is score_params):
                return e["fold"]
            self._entry = e = None  # this worker moved on: its last fold goes before the next is cut
        train, test = splits[split_idx]
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        train_params = split_fit_params(fit_params, n, train)
        X_train, X_test = take_split(X, train, test, pairwise)
        fold = Fold(*read_only(X_train, take_rows(y, train), X_test, take_rows(y, test)),
                    train_params, score_weights(fit_params, train_params, n, test))
        if score_params is not None:
            fold.score_params = (split_fit_params(score_params, n, train), split_fit_params(score_params, n, test))
        try:
            x_ref = weakref.ref(_identity(X), self._forget)
        except TypeError:  # not weak-referenceable (a list): don't cache
            return fold
        y_key = weakref.ref(y.token) if isinstance(y, RowBlocks) else y  # (a token held would never go)
        with self._lock:
            self._entry = {"X": x_ref, "y": y_key, "fit_params": fit_params, "splits": splits, "split": split_idx,
                           "pairwise": pairwise, "score_params": score_params, "fold": fold}
        return fold

    def clear(self):
        with self._lock:
            self._entry = None


def _identity(data):
    """What the fold cache recognises placed data by: their placement's
    token for row blocks (a new RowBlocks stands for them in each task)."""
    return data.token if isinstance(data, RowBlocks) else data


def _same(held, data) -> bool:
    """Is ``data`` what the fold cache holds as ``held`` (see _FoldCache.get)?"""
    if isinstance(data, RowBlocks):
        return isinstance(held, weakref.ref) and held() is data.token
    return held is data


FOLDS = _FoldCache()


def fit_and_score_batch(batch, template, X, y, splits, fit_params, scoring, opts):
    """Fit and score every item ``(candidate, split, params, pairwise)`` of
    ``batch`` on folds sliced from X, y (see :func:`take_split`)."""
    X, y = rows_of(X), rows_of(y)
    return [_fit_score_one(template, params,
                           FOLDS.get(X, y, splits, fit_params, split_idx, pairwise, scoring.routed),
                           scoring, opts)
            for _, split_idx, params, pairwise in batch]


def fit_prefix(prefix, X, y, split, error_score, train_scores: bool = False):
    """Fit the fixed leading steps of a pipeline on one split's training fold;
    the :class:`Fold` transformed for the remaining steps, ``(fold, True)``.
    With ``train_scores``, the fold also holds the training rows as the
    fitted steps ``transform`` them, which the train scores see (as
    scikit-learn's, through the whole pipeline's prediction).

    If the leading steps fail (fitting, or transforming the test fold) and
    ``error_score`` is a number, the untransformed fold comes back,
    ``(fold, False)``: each candidate then fits the whole pipeline on it, so
    it fails (or scores) exactly as in scikit-learn's search.
    """
    train, test = split
    X, y = rows_of(X), rows_of(y)
    X_train, X_test = take_split(X, train, test, is_pairwise(prefix, {}))
    y_train, y_test = take_rows(y, train), take_rows(y, test)
    try:
        est = clone(prefix)
        with one_at_a_time_if_seeded_globally(est):
            Xt_train = est.fit_transform(X_train, y_train)
        Xt_test = est.transform(X_test)
        # on a copy: a step with copy=False may have written into X_train (scikit-learn's
        # train score then transforms it again), and must not write into Xt_train
        Xt_scored = est.transform(_for_use(X_train, private=True)) if train_scores else None
        if isinstance(Xt_scored, np.ndarray) and isinstance(Xt_train, np.ndarray) \
                and np.array_equal(Xt_scored, Xt_train):
            Xt_scored = None  # most steps transform as they fit_transform: not placed twice
    except Exception:
        if isinstance(error_score, str):  # 'raise'
            raise
        return Fold(X_train, y_train, X_test, y_test, {}, (None, None)), False
    # made read-only where the fits use it (fit_and_score_prefolded)
    return Fold(Xt_train, y_train, Xt_test, y_test, {}, (None, None), Xt_scored), True


def fit_and_score_prefolded(batch, tail, whole, folds, scoring, opts):
    """Like fit_and_score_batch, on folds made by :func:`fit_prefix`: the
    pipeline's ``tail`` on transformed folds, the ``whole`` pipeline on a fold
    whose leading steps failed."""
    # each fold (this worker's copy of a task's result) is shared by the worker's tasks
    return [_fit_score_one(tail if folds[s][1] else whole, params, _shared(folds[s][0]), scoring, opts)
            for _, s, params, _ in batch]


def _shared(fold: Fold) -> Fold:
    """``fold`` with its numpy arrays read-only (see :func:`read_only`)."""
    read_only(fold.X_train, fold.y_train, fold.X_test, fold.y_test, fold.X_scored)
    return fold


def fit_final(template, params, X, y, fit_params):
    """Refit the best candidate on all the data; returns (model, seconds,
    warnings).

    X and y are given read-only: the refit may run while fits of the last
    split still slice their folds from the same placed data. In a dask task
    on a worker of one thread, the refit's warnings are recorded and
    returned, for the caller to raise again where the user can see, filter
    or catch them (:func:`reemit`), as scikit-learn's refit in the caller's
    process does. Elsewhere they are raised as they come (the list is
    empty): recording swaps the process's warning state (Python < 3.14),
    which other tasks running at the same time on a worker of several
    threads would see."""
    X, y = whole(X), whole(y)  # placed row blocks, concatenated

    def attempt(private: bool):
        start = time.perf_counter()
        X_, y_ = (_for_use(X, private=True), _for_use(y, private=True)) if private else \
            (_read_only_view(X), _read_only_view(y))
        return _refit(template, params, X_, y_, fit_params), time.perf_counter() - start

    if not in_a_one_thread_task():
        return (*_shared_then_private(attempt), [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # the caller's filters decide, in reemit
        model, seconds = _shared_then_private(attempt)
    return model, seconds, [(str(w.message), w.category, w.filename, w.lineno, _module_of(w.filename))
                            for w in caught]


def _module_of(filename: str) -> str | None:
    """The name of the loaded module of ``filename`` (for ``module=`` filters)."""
    import sys

    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == filename:
            return name
    return None


def reemit(recorded) -> None:
    """Raise again the warnings :func:`fit_final` recorded in a task."""
    for text, category, filename, lineno, module in recorded:
        # module=None would make Python drop the warning: without a module (code pickled by
        # value from the user's __main__, say), Python derives it from the file name
        where = {"module": module} if module is not None else {}
        try:
            warnings.warn_explicit(text, category, filename, lineno, **where)
        except TypeError:  # a warning class that cannot be made from its text alone
            warnings.warn_explicit(f"{category.__name__}: {text}", UserWarning, filename, lineno, **where)


def _fit_xy(est, X, y, fit_params) -> None:
    """``est.fit(X, y)``; without y when y is None and fit takes none (a
    ``fit(X)``), as scikit-learn's searches call it (a fit whose y is
    required gets y=None and says y is missing, rather than a TypeError).
    What fit returns is not used: the estimator is the fitted model."""
    if y is None and not _takes_y(est.fit):
        est.fit(X, **fit_params)
    else:
        est.fit(X, y, **fit_params)


def _takes_y(method) -> bool:
    import inspect

    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # no signature to read: pass y, as before
        return True
    return "y" in params or any(p.kind is p.VAR_POSITIONAL for p in params.values())


def _refit(template, params, X, y, fit_params):
    est = new_model(template, params)
    with one_at_a_time_if_seeded_globally(est):
        _fit_xy(est, X, y, fit_params)
    return est
