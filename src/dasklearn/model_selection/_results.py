"""Assemble scikit-learn's ``cv_results_`` from per-(candidate, split) records.

Pure NumPy; the layout, means, standard deviations and ranks follow
scikit-learn's GridSearchCV exactly, so results can be compared key by key.
"""

from __future__ import annotations

import numpy as np
from numpy.ma import MaskedArray
from scipy.stats import rankdata


def _param_arrays(candidates: list[dict]) -> dict:
    n = len(candidates)
    names = []
    for params in candidates:
        names.extend(k for k in params if k not in names)
    out = {}
    for name in names:
        present = [(i, p[name]) for i, p in enumerate(candidates) if name in p]
        values = [v for _, v in present]
        try:
            arr = np.array(values)
            dtype = arr.dtype if arr.dtype.kind != "U" and arr.ndim == 1 else object
        except ValueError:
            dtype = np.dtype(object)
        ma = MaskedArray(np.empty(n, dtype=dtype), mask=True)
        for i, v in present:
            ma[i] = v
        out[f"param_{name}"] = ma
    return out


def _rank(means: np.ndarray) -> np.ndarray:
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    # as scikit-learn: nan (a failed candidate) below every score, infinities
    # made the largest finite floats (so a failed candidate ranks below -inf)
    filled = np.nan_to_num(means, nan=np.nanmin(means) - 1)
    return rankdata(-filled, method="min").astype(np.int32, copy=False)


def _store(results, key, array, splits=False, rank=False):
    if splits:
        for s in range(array.shape[1]):
            results[f"split{s}_{key}"] = array[:, s]
    means = np.average(array, axis=1)
    results[f"mean_{key}"] = means
    results[f"std_{key}"] = np.sqrt(np.average((array - means[:, np.newaxis]) ** 2, axis=1))
    if rank:
        results[f"rank_{key}"] = _rank(means)


def scorer_names(records) -> tuple[list[str], bool]:
    """(metric names, multimetric) of a callable scorer, from the records it
    scored: multi-metric when it returned a dict, as in scikit-learn. When it
    never scored, one metric ``score``."""
    for r in records:
        if r["test"] is not None:
            return list(r["test"]), r["scores_as_dict"]
    return ["score"], False


def build_cv_results(candidates, n_splits, records, names, error_score, return_train_score):
    """``records[c * n_splits + s]`` is the record of candidate c on split s."""
    n = len(candidates)
    results: dict = {}

    def grid(field, name=None):
        vals = np.empty(n * n_splits)
        for i, r in enumerate(records):
            if name is None:
                vals[i] = r[field]
            else:
                vals[i] = r[field][name] if r[field] is not None else error_score
        return vals.reshape(n, n_splits)

    _store(results, "fit_time", grid("fit_time"))
    _store(results, "score_time", grid("score_time"))
    results.update(_param_arrays(candidates))
    results["params"] = candidates
    for name in names:
        _store(results, f"test_{name}", grid("test", name), splits=True, rank=True)
        if return_train_score:
            _store(results, f"train_{name}", grid("train", name), splits=True)
    errors = [next((r["error"] for r in records[c * n_splits:(c + 1) * n_splits] if r["error"]), "")
              for c in range(n)]
    if any(errors):
        results["fit_error"] = np.array(errors, dtype=object)
    return results
