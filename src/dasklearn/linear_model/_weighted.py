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
    combine_summaries,
    evaluate_block,
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
    if classification:  # each class's total weight
        out["class_totals"] = np.bincount(np.unique(y, return_inverse=True)[1].ravel(), weights=w,
                                          minlength=len(out["classes"]))
    return out


def apply_class_weights(block, classes, class_weights):
    """A block ``(X, y)`` or ``(X, y, w)`` as ``(X, y, w * class_weights[y])``:
    each row's weight times its class's (``classes`` sorted, holding every
    label of y), as scikit-learn multiplies ``sample_weight`` by the class
    weights."""
    X, y, *w = block
    weights = np.asarray(class_weights, dtype=np.float64)[np.searchsorted(classes, np.asarray(y))]
    return X, y, weights if not w else np.asarray(w[0], dtype=np.float64) * weights


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


def evaluate_weighted_block(block, params, spec: LinearSpec, order: int = 1):
    """:func:`~dasklearn._kernels.linear.evaluate_block` of a block ``(X, y, w)``:
    the loss (and gradient, Hessian) of ``params``, each row's share times its
    weight, summed over the rows (in cache-sized chunks of rows)."""
    X, y, w = block
    return evaluate_block((X, y), params, spec, order, w=w)
