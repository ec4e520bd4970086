"""Block kernels for blocks ``(X, y, w)`` that carry sample weights.

The weighted counterparts of :func:`~dasklearn._kernels.linear.summarize_block`,
:func:`~dasklearn._kernels.linear.prepare_block` and
:func:`~dasklearn._kernels.linear.evaluate_block`: every row's loss (and its
derivatives) is multiplied by its weight ``w_i`` before the sum over the
rows.  The objective divides the sum by ``sum(w)`` instead of the number of
rows (see :class:`~dasklearn.linear_model._objective.Objective`), so the
loss is ``sum(w_i * loss_i) / sum(w_i)``, scikit-learn's weighting, and
unit weights give the unweighted fit.
"""

from __future__ import annotations

import numpy as np

from dasklearn._kernels.linear import (
    LinearSpec,
    _chunk_rows,
    _gradient,
    _pointwise,
    _weighted_gram,
    add,
    combine_summaries,
    linear_predictor,
    prepare_block,
    summarize_block,
)


def summarize_weighted_block(block, classification: bool):
    """:func:`summarize_block` of ``(X, y)`` with the weights folded in.

    ``n`` is the sum of the weights and ``y_sum`` the weighted sum of y
    (what the objective and the starting intercept need); ``w_finite`` and
    ``w_min`` check the weights.  Combine with :func:`combine_weighted_summaries`.
    """
    X, y, w = block
    out = summarize_block((X, y), classification)
    w = np.asarray(w, dtype=np.float64)
    out["n"] = float(w.sum())
    if out["y_numeric"]:
        out["y_sum"] = float(w @ np.asarray(y, dtype=np.float64))
    out["w_finite"] = bool(np.isfinite(w).all())
    out["w_min"] = float(w.min()) if len(w) else np.inf
    return out


def combine_weighted_summaries(a, b):
    """Merge two :func:`summarize_weighted_block` results."""
    out = combine_summaries(a, b)
    out["w_finite"] = a["w_finite"] and b["w_finite"]
    out["w_min"] = min(a["w_min"], b["w_min"])
    return out


def prepare_weighted_block(block, loss: str, classes=None):
    """:func:`prepare_block` of ``(X, y)``, and the weights as float64."""
    X, y, w = block
    return (*prepare_block((X, y), loss, classes), np.asarray(w, dtype=np.float64))


def _row_losses(loss: str, y, eta):
    """The loss of each row (the terms :func:`_pointwise` sums)."""
    if loss == "squared":
        return 0.5 * (eta - y) ** 2
    if loss == "logistic":
        return np.maximum(eta, 0.0) + np.log1p(np.exp(-np.abs(eta))) - y * eta
    if loss == "poisson":
        return np.exp(eta) - y * eta
    m = eta.max(axis=1)  # multinomial
    return m + np.log(np.exp(eta - m[:, None]).sum(axis=1)) - eta[np.arange(len(y)), y]


def _evaluate_rows(X, y, w, params, spec: LinearSpec, order: int):
    eta = linear_predictor(X, params, spec)
    with np.errstate(over="ignore"):
        value = float(w @ _row_losses(spec.loss, y, eta))
        if order == 0:
            return (value,)
        _, d1, d2 = _pointwise(spec.loss, y, eta, order)
    grad = _gradient(X, d1 * (w if d1.ndim == 1 else w[:, None]), spec)
    if order == 1:
        return value, grad
    if spec.n_outputs == 1:
        return value, grad, _weighted_gram(X, w * d2, spec.fit_intercept)
    K, m = spec.n_outputs, spec.n_columns
    H = np.empty((K * m, K * m))
    for k in range(K):
        for j in range(k, K):
            B = _weighted_gram(X, w * d2[:, k] * ((k == j) - d2[:, j]), spec.fit_intercept)
            H[k * m:(k + 1) * m, j * m:(j + 1) * m] = B
            H[j * m:(j + 1) * m, k * m:(k + 1) * m] = B.T
    return value, grad, H


def evaluate_weighted_block(block, params, spec: LinearSpec, order: int = 1):
    """:func:`~dasklearn._kernels.linear.evaluate_block` of a block ``(X, y, w)``:
    the loss (and gradient, Hessian) of ``params``, each row's share times its
    weight, summed over the rows (in cache-sized chunks of rows)."""
    X, y, w = block
    params = np.asarray(params, dtype=np.float64)
    step = _chunk_rows(X.shape[1] * spec.n_outputs)
    total = None
    for start in range(0, max(len(y), 1), step):
        rows = slice(start, start + step)
        part = _evaluate_rows(X[rows], y[rows], w[rows], params, spec, order)
        total = part if total is None else add(total, part)
    return total
