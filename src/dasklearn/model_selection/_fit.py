"""Kernels that run inside a task on a worker: fit and score one batch.

A batch is a list of ``(candidate_index, split_index, params)`` items. The
training data arrive as task arguments (placed once per search, fetched once
per worker); a batch slices each split's folds once and reuses them for all
of its items of that split.
"""

from __future__ import annotations

import time
import traceback
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


def fit_and_score_batch(batch, template, X, y, splits, fit_params, scorer, opts):
    """Fit and score every item of ``batch`` on folds sliced from X, y."""
    out = []
    cached_split, fold = None, None
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    for _, split_idx, params in batch:
        if split_idx != cached_split:
            train, test = splits[split_idx]
            fold = (
                take_rows(X, train),
                take_rows(y, train),
                take_rows(X, test),
                take_rows(y, test),
                split_fit_params(fit_params, n, train),
            )
            cached_split = split_idx
        out.append(_fit_score_one(template, params, fold, scorer, opts))
    return out


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
