"""Kernels that run inside a task on a worker: fit and score one batch.

A batch is a list of ``(candidate_index, split_index, params)`` items. The
training data arrive as task arguments (placed once per search, fetched once
per worker); a batch slices each split's folds once and reuses them for all
of its items of that split.
"""

from __future__ import annotations

import threading
import time
import traceback
import weakref
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone


@dataclass(frozen=True)
class FitOptions:
    error_score: object
    return_train_score: bool


def take_rows(data, idx):
    """Rows ``idx`` of numpy / pandas / scipy.sparse / list data."""
    if data is None:
        return None
    if hasattr(data, "iloc"):
        return data.iloc[idx]
    if hasattr(data, "shape"):
        return data[idx]
    return [data[i] for i in idx]


def split_fit_params(fit_params: dict, n_samples: int, idx) -> dict:
    """Slice sample-aligned fit parameters (length n_samples) to ``idx``."""
    out = {}
    for k, v in fit_params.items():
        if hasattr(v, "__len__") and not isinstance(v, (str, dict)) and len(v) == n_samples:
            out[k] = take_rows(v if hasattr(v, "shape") or hasattr(v, "iloc") else np.asarray(v), idx)
        else:
            out[k] = v
    return out


def _as_score_dict(value) -> dict:
    if isinstance(value, dict):
        return {k: float(v) for k, v in value.items()}
    return {"score": float(value)}


def _fit_score_one(template, params, fold, scorer, opts: FitOptions):
    X_train, y_train, X_test, y_test, fit_params = fold
    start = time.perf_counter()
    fit_time = score_time = 0.0
    try:
        est = clone(template).set_params(**clone(params, safe=False))
        est.fit(X_train, y_train, **fit_params)
        fit_time = time.perf_counter() - start
        test = _as_score_dict(scorer(est, X_test, y_test))
        score_time = time.perf_counter() - start - fit_time
        train = _as_score_dict(scorer(est, X_train, y_train)) if opts.return_train_score else None
        error = None
    except Exception:
        if isinstance(opts.error_score, str):  # 'raise'
            raise
        if not fit_time:
            fit_time = time.perf_counter() - start
        test = train = None
        error = traceback.format_exc()
    record = {
        "fit_time": fit_time,
        "score_time": score_time,
        "test": test,
        "train": train,
        "error": error,
        "n_test_samples": len(y_test) if y_test is not None else None,
    }
    return record, time.perf_counter() - start


class _FoldCache:
    """The last fold sliced in this worker process, reused by later tasks.

    Items are ordered split-major, so consecutive tasks on a worker mostly
    use the same split: slicing X[train] (a copy as large as the fold) once
    per split and worker, not once per task, saves that copy on every fit.
    The entry is keyed by a weak reference to the placed X (so a later,
    different X at the same address can never hit), the placed y and splits
    objects themselves (held, so their ids cannot be reused), and the split
    index; searches with fit_params are not cached. One entry: memory is one
    fold per worker process, dropped when X is freed.
    """

    def __init__(self):
        self._lock = threading.RLock()  # RLock: the weakref callback may run inside a locked section
        self._entry = None

    def _forget(self, ref):
        """X was freed (the search released it): drop its fold too."""
        with self._lock:
            if self._entry is not None and self._entry["X"] is ref:
                self._entry = None

    def get(self, X, y, splits, fit_params, split_idx):
        with self._lock:
            e = self._entry
            if (e is not None and not fit_params and e["X"]() is X and e["y"] is y
                    and e["splits"] is splits and e["split"] == split_idx):
                return e["fold"]
        train, test = splits[split_idx]
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        fold = (take_rows(X, train), take_rows(y, train), take_rows(X, test), take_rows(y, test),
                split_fit_params(fit_params, n, train))
        if fit_params:  # sliced per fold and sent with each task: not cached
            return fold
        try:
            x_ref = weakref.ref(X, self._forget)
        except TypeError:  # not weak-referenceable (a list): don't cache
            return fold
        with self._lock:
            self._entry = {"X": x_ref, "y": y, "splits": splits, "split": split_idx, "fold": fold}
        return fold

    def clear(self):
        with self._lock:
            self._entry = None


FOLDS = _FoldCache()


def fit_and_score_batch(batch, template, X, y, splits, fit_params, scorer, opts):
    """Fit and score every item of ``batch`` on folds sliced from X, y."""
    return [_fit_score_one(template, params, FOLDS.get(X, y, splits, fit_params, split_idx), scorer, opts)
            for _, split_idx, params in batch]


def fit_prefix(prefix, X, y, split, fit_params):
    """Fit the fixed leading steps of a pipeline on one split's training fold
    and return the transformed fold (data for the remaining steps)."""
    train, test = split
    X_train, y_train = take_rows(X, train), take_rows(y, train)
    est = clone(prefix)
    Xt_train = est.fit_transform(X_train, y_train, **fit_params)
    Xt_test = est.transform(take_rows(X, test))
    return (Xt_train, y_train, Xt_test, take_rows(y, test), {})


def fit_and_score_prefolded(batch, template, folds, scorer, opts):
    """Like fit_and_score_batch, on folds already transformed by a prefix."""
    return [_fit_score_one(template, params, folds[s], scorer, opts) for _, s, params in batch]


def fit_final(template, params, X, y, fit_params):
    """Refit the best candidate on all the data; returns (model, seconds)."""
    start = time.perf_counter()
    est = clone(template).set_params(**clone(params, safe=False))
    if y is None:
        est.fit(X, **fit_params)
    else:
        est.fit(X, y, **fit_params)
    return est, time.perf_counter() - start
