"""Parameter state of incrementally trained estimators, and how to merge it.

Pure functions on fitted scikit-learn estimators and plain NumPy arrays (no
dask): the data-parallel trainer (:class:`dasklearn.wrappers.DataParallel`)
trains one copy of a model per worker and merges their states here.

Families
--------
``"linear"``
    :class:`~sklearn.linear_model.SGDClassifier`,
    :class:`~sklearn.linear_model.SGDRegressor`,
    :class:`~sklearn.linear_model.Perceptron` and the (deprecated)
    ``PassiveAggressiveClassifier`` / ``PassiveAggressiveRegressor``.
    State: ``coef_``, ``intercept_`` and the update counter ``t_`` (which
    drives the ``"optimal"`` and ``"invscaling"`` learning-rate schedules).
``"mlp"``
    :class:`~sklearn.neural_network.MLPClassifier` and
    :class:`~sklearn.neural_network.MLPRegressor` (``solver="sgd"`` or
    ``"adam"``). State: ``coefs_``, ``intercepts_`` and ``t_`` (samples seen,
    which drives ``learning_rate="invscaling"``).
``"gaussian_nb"``, ``"multinomial_nb"``, ``"bernoulli_nb"``
    :class:`~sklearn.naive_bayes.GaussianNB`,
    :class:`~sklearn.naive_bayes.MultinomialNB`,
    :class:`~sklearn.naive_bayes.BernoulliNB`. State: sufficient statistics
    (``class_count_`` and per-class means and variances, or ``feature_count_``).

Merges
------
* Averaging (``"linear"``, ``"mlp"``): models that started from the same
  parameters and each saw part of the data are averaged, weighted by the
  number of samples each saw. This is *approximate*: it is not the model a
  sequential pass over all the data would give (except with one worker,
  where the merge returns the worker's state unchanged, bit for bit). The
  counter ``t_`` is not averaged: the merged ``t_`` is the starting value
  plus the updates made by *all* workers, so the learning-rate schedule at
  the next round is the one a sequential pass over the same samples reaches.
* Exact (naive Bayes): sufficient statistics are combined (counts add; means
  and variances combine with the parallel-variance formula), then the
  derived attributes are recomputed with scikit-learn's documented formulas.
  The result equals ``fit`` on all the data up to floating-point rounding,
  including GaussianNB's ``epsilon_ = var_smoothing * max(var(X, axis=0))``
  which is computed from the *total*, unweighted variance of all the data:
  exactly from the per-class statistics when there are no sample weights,
  else from the rows' own moments (:func:`feature_moments`, kept in the
  state as ``x_var_``), as ``GaussianNB.fit`` ignores the weights there.
"""

from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = [
    "AVERAGED_FAMILIES",
    "EXACT_FAMILIES",
    "average_states",
    "combine_states",
    "family_of",
    "feature_moments",
    "get_state",
    "merge_states",
    "param_change",
    "set_state",
    "supported_estimators",
]

AVERAGED_FAMILIES = frozenset({"linear", "mlp"})
EXACT_FAMILIES = frozenset({"gaussian_nb", "multinomial_nb", "bernoulli_nb"})

# value of the public ``t_`` attribute before the first update (sklearn docs:
# SGD "t_ = n_iter_ * n_samples + 1"; MLP "t_ = number of samples seen")
_INITIAL_T = {"linear": 1.0, "mlp": 0}


# ------------------------------------------------------------------ families
def _family_classes() -> list[tuple[str, tuple[type, ...]]]:
    import sklearn.linear_model as lm
    from sklearn.naive_bayes import BernoulliNB, GaussianNB, MultinomialNB
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    linear = [lm.SGDClassifier, lm.SGDRegressor, lm.Perceptron]
    # deprecated in scikit-learn 1.8, removed in 1.10: accept them while they exist
    linear += [getattr(lm, n) for n in ("PassiveAggressiveClassifier", "PassiveAggressiveRegressor")
               if hasattr(lm, n)]
    return [
        ("linear", tuple(linear)),
        ("mlp", (MLPClassifier, MLPRegressor)),
        ("gaussian_nb", (GaussianNB,)),
        ("multinomial_nb", (MultinomialNB,)),
        ("bernoulli_nb", (BernoulliNB,)),
    ]


def supported_estimators() -> list[str]:
    """Names of the estimator classes whose state can be merged."""
    return [cls.__name__ for _, classes in _family_classes() for cls in classes]


def family_of(estimator) -> str:
    """The merge family of ``estimator`` (see the module docstring).

    Raises
    ------
    TypeError
        If the estimator's parameters cannot be merged.
    """
    for family, classes in _family_classes():
        if isinstance(estimator, classes):
            return family
    raise TypeError(
        f"Cannot merge the parameters of {type(estimator).__name__}: data-parallel "
        f"training supports {', '.join(supported_estimators())}. Train other "
        "estimators with partial_fit sequentially (dasklearn.wrappers.Incremental)."
    )


# --------------------------------------------------------- get / set state
def get_state(estimator) -> dict:
    """The mergeable state of a fitted estimator, as copies of its arrays."""
    family = family_of(estimator)
    if family == "linear":
        return {"coef_": np.array(estimator.coef_), "intercept_": np.array(estimator.intercept_),
                "t_": float(estimator.t_)}
    if family == "mlp":
        return {"coefs_": [np.array(c) for c in estimator.coefs_],
                "intercepts_": [np.array(b) for b in estimator.intercepts_],
                "t_": int(estimator.t_)}
    if family == "gaussian_nb":
        # var_ holds the per-class variances plus epsilon_: keep the raw ones
        return {"class_count_": np.array(estimator.class_count_, dtype=np.float64),
                "theta_": np.array(estimator.theta_, dtype=np.float64),
                "var_": np.asarray(estimator.var_, dtype=np.float64) - estimator.epsilon_}
    return {"class_count_": np.array(estimator.class_count_, dtype=np.float64),
            "feature_count_": np.array(estimator.feature_count_, dtype=np.float64)}


def _like(value, current):
    """``value`` as a fresh, writable, C-ordered array of ``current``'s dtype."""
    return np.array(value, dtype=np.asarray(current).dtype, order="C", copy=True)


def set_state(estimator, state: dict):
    """Write ``state`` into a *fitted* estimator of the same family, in place.

    Derived attributes are recomputed: GaussianNB's ``epsilon_``, ``var_`` and
    ``class_prior_``; the discrete naive Bayes ``feature_log_prob_`` and
    ``class_log_prior_``. Returns the estimator.
    """
    family = family_of(estimator)
    if family == "linear":
        estimator.coef_ = _like(state["coef_"], estimator.coef_)
        estimator.intercept_ = _like(state["intercept_"], estimator.intercept_)
        estimator.t_ = float(state["t_"])
    elif family == "mlp":
        estimator.coefs_ = [_like(s, c) for s, c in zip(state["coefs_"], estimator.coefs_)]
        estimator.intercepts_ = [_like(s, c) for s, c in zip(state["intercepts_"], estimator.intercepts_)]
        estimator.t_ = int(state["t_"])
    elif family == "gaussian_nb":
        _set_gaussian(estimator, state)
    else:
        _set_discrete(estimator, state, family)
    return estimator


def _total_variance(counts, means, variances):
    """Per-feature variance of all samples from per-class (count, mean, var)."""
    n = counts.sum()
    if n <= 0:
        return np.zeros(means.shape[1])
    w = (counts / n)[:, None]
    mean = (w * means).sum(axis=0)
    return (w * (variances + (means - mean) ** 2)).sum(axis=0)


def feature_moments(X) -> dict:
    """The rows of ``X`` as one class of GaussianNB statistics: their number,
    and the mean and variance of each feature, *unweighted*. States of
    disjoint row sets combine with :func:`combine_states` ("gaussian_nb")."""
    X = np.asarray(X, dtype=np.float64)
    return {"class_count_": np.array([float(X.shape[0])]), "theta_": X.mean(axis=0)[None],
            "var_": X.var(axis=0)[None]}


def _set_gaussian(est, state):
    counts = np.asarray(state["class_count_"], dtype=np.float64)
    theta = np.asarray(state["theta_"], dtype=np.float64)
    raw_var = np.asarray(state["var_"], dtype=np.float64)
    # as GaussianNB.fit: epsilon_ from the unweighted variance of all of X
    # (every class); from the per-class statistics unless they are weighted
    x_var = state.get("x_var_")
    total = _total_variance(counts, theta, raw_var) if x_var is None else np.asarray(x_var)
    epsilon = est.var_smoothing * float(np.max(total))
    est.class_count_ = _like(counts, est.class_count_)
    est.theta_ = _like(theta, est.theta_)
    est.var_ = _like(raw_var + epsilon, est.var_)
    est.epsilon_ = epsilon
    if est.priors is None:
        est.class_prior_ = _like(counts / counts.sum(), est.class_prior_)


def _smoothing_alpha(est):
    """``alpha`` as the discrete naive Bayes use it (documented lower bound)."""
    alpha = est.alpha if isinstance(est.alpha, Real) else np.asarray(est.alpha, dtype=np.float64)
    if np.min(alpha) < 1e-10 and not est.force_alpha:
        return np.maximum(alpha, 1e-10)
    return alpha


def _set_discrete(est, state, family):
    feature_count = np.asarray(state["feature_count_"], dtype=np.float64)
    class_count = np.asarray(state["class_count_"], dtype=np.float64)
    est.feature_count_ = _like(feature_count, est.feature_count_)
    est.class_count_ = _like(class_count, est.class_count_)
    alpha = _smoothing_alpha(est)
    smoothed_fc = feature_count + alpha
    if family == "multinomial_nb":
        smoothed_cc = smoothed_fc.sum(axis=1)
    else:  # bernoulli_nb: each feature is present or absent
        smoothed_cc = class_count + alpha * 2
    est.feature_log_prob_ = np.log(smoothed_fc) - np.log(smoothed_cc.reshape(-1, 1))
    n_classes = class_count.shape[0]
    if est.class_prior is not None:
        est.class_log_prior_ = np.log(np.asarray(est.class_prior, dtype=np.float64))
    elif est.fit_prior:
        with np.errstate(divide="ignore"):  # a class not seen yet has log(0)
            est.class_log_prior_ = np.log(class_count) - np.log(class_count.sum())
    else:
        est.class_log_prior_ = np.full(n_classes, -np.log(n_classes))


# ------------------------------------------------------------------ merging
def _normalised(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative, finite and not all zero, got {weights!r}.")
    return w / w.sum()


def _weighted_mean(arrays, w):
    # sum of (w_i / W) * a_i: a single array with weight 1.0 comes back exactly
    out = w[0] * np.asarray(arrays[0], dtype=np.float64)
    for wi, a in zip(w[1:], arrays[1:]):
        out = out + wi * np.asarray(a, dtype=np.float64)
    return out.astype(np.result_type(arrays[0]), copy=False)


def average_states(family: str, states: list[dict], weights, previous: dict | None = None) -> dict:
    """Weighted average of states of models that started from ``previous``.

    Parameters
    ----------
    family : {"linear", "mlp"}
    states : list of dict
        One state per worker (from :func:`get_state`).
    weights : array-like of shape (n_states,)
        Samples each worker saw since ``previous``.
    previous : dict or None, default=None
        The state all workers started from; None for freshly initialised
        models (``t_`` then starts from its initial value).

    Returns
    -------
    dict
        Parameters averaged with weights ``weights / sum(weights)``; ``t_`` is
        the starting ``t_`` plus every worker's updates.
    """
    if family not in AVERAGED_FAMILIES:
        raise ValueError(f"family must be one of {sorted(AVERAGED_FAMILIES)}, got {family!r}.")
    w = _normalised(weights)
    if len(states) != len(w):
        raise ValueError(f"got {len(states)} states but {len(w)} weights.")
    t0 = _INITIAL_T[family] if previous is None else previous["t_"]
    t = t0 + sum(s["t_"] - t0 for s in states)
    if family == "linear":
        return {"coef_": _weighted_mean([s["coef_"] for s in states], w),
                "intercept_": _weighted_mean([s["intercept_"] for s in states], w),
                "t_": float(t)}
    return {"coefs_": [_weighted_mean(layer, w) for layer in zip(*(s["coefs_"] for s in states))],
            "intercepts_": [_weighted_mean(layer, w) for layer in zip(*(s["intercepts_"] for s in states))],
            "t_": int(t)}


def _combine_gaussian(a: dict, b: dict) -> dict:
    """Per-class counts, means and variances of the union of two sample sets."""
    na, nb = a["class_count_"], b["class_count_"]
    n = na + nb
    safe = np.where(n > 0, n, 1.0)
    fa, fb = (na / safe)[:, None], (nb / safe)[:, None]
    delta = b["theta_"] - a["theta_"]
    theta = fa * a["theta_"] + fb * b["theta_"]
    var = fa * a["var_"] + fb * b["var_"] + fa * fb * delta**2
    return {"class_count_": n, "theta_": theta, "var_": var}


def combine_states(family: str, states: list[dict]) -> dict:
    """Exact merge of naive Bayes sufficient statistics of disjoint data.

    The result is the state of the model fitted on all the samples behind
    ``states`` (counts add; Gaussian means and variances combine exactly).
    """
    if family not in EXACT_FAMILIES:
        raise ValueError(f"family must be one of {sorted(EXACT_FAMILIES)}, got {family!r}.")
    if not states:
        raise ValueError("combine_states needs at least one state.")
    if family == "gaussian_nb":
        out = {k: np.asarray(v, dtype=np.float64) for k, v in states[0].items()}
        for s in states[1:]:
            out = _combine_gaussian(out, s)
        return out
    return {k: np.sum([np.asarray(s[k], dtype=np.float64) for s in states], axis=0)
            for k in ("class_count_", "feature_count_")}


def merge_states(family: str, states: list[dict], weights, previous: dict | None = None) -> dict:
    """One synchronisation step: the global state after a round.

    Averaged families average the workers' states (which all started from
    ``previous``); exact families add the workers' new statistics (computed on
    their own data only) to ``previous``.
    """
    if family in AVERAGED_FAMILIES:
        return average_states(family, states, weights, previous)
    return combine_states(family, ([previous] if previous is not None else []) + list(states))


def _parameter_vector(family: str, state: dict) -> np.ndarray:
    if family == "linear":
        parts = [state["coef_"], state["intercept_"]]
    elif family == "mlp":
        parts = [*state["coefs_"], *state["intercepts_"]]
    elif family == "gaussian_nb":
        counts = state["class_count_"]
        parts = [state["theta_"], state["var_"], counts / max(counts.sum(), 1.0)]
    else:  # frequencies rather than raw counts, which grow with every pass
        counts = state["class_count_"]
        parts = [state["feature_count_"] / np.maximum(counts, 1.0)[:, None], counts / max(counts.sum(), 1.0)]
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in parts])


def param_change(family: str, old: dict | None, new: dict) -> float | None:
    """Relative change ``||new - old|| / ||new||`` of the model parameters.

    None when there is no previous state. For naive Bayes the parameters are
    the class means and variances, or the per-class feature frequencies, and
    the class frequencies.
    """
    if old is None:
        return None
    a, b = _parameter_vector(family, old), _parameter_vector(family, new)
    return float(np.linalg.norm(b - a) / max(np.linalg.norm(b), np.finfo(np.float64).tiny))
