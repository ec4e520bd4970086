"""Candidate parameter sets for the searches (pure functions, no cluster).

GridSearchCV accepts, besides lists of values, scipy.stats frozen
distributions: each is expanded into a deterministic grid of ``n_grid_points``
quantiles at the probabilities ``(i + 0.5) / n_grid_points``. The midpoints of
equal probability bins stay inside open or unbounded supports, and for a
``loguniform`` they are log-spaced (its quantile function is exponential in
the probability). A discrete distribution that takes at most
``max(n_grid_points, 20)`` values (those of nonzero probability: the
integers of its support, or the values given to ``rv_discrete(values=...)``)
is enumerated whole; a larger one gives its distinct quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dasklearn._validation import InvalidParameterError

_MAX_ENUMERATED = 20


def param_dicts(value, name: str, owner: str = "", allow_empty: bool = False) -> list:
    """A parameter space (a dict, or a list of dicts, of parameter names to
    values or distributions) as a list of dicts; InvalidParameterError for
    anything else (and for an empty list unless ``allow_empty``)."""
    dicts = [value] if isinstance(value, Mapping) else value
    if (isinstance(dicts, (str, bytes)) or not isinstance(dicts, Sequence) or not (dicts or allow_empty)
            or not all(isinstance(d, Mapping) for d in dicts)):
        raise InvalidParameterError(
            f"{owner + ': ' if owner else ''}{name} must be a dict (or a {'' if allow_empty else 'non-empty '}"
            f"list of dicts) of parameter names to lists of values or scipy.stats distributions; got "
            f"{type(value).__name__} {value!r:.80}. E.g. {{'alpha': [1e-4, 1e-3]}} or "
            "{'alpha': loguniform(1e-5, 1e-1)}."
        )
    return list(dicts)


def is_distribution(value) -> bool:
    """True for scipy.stats frozen distributions (anything with ``rvs`` and ``ppf``)."""
    return hasattr(value, "rvs") and hasattr(value, "ppf")


def _is_discrete(dist) -> bool:
    """A discrete distribution: frozen (``randint(1, 10)``) or an instance
    with its values (``rv_discrete(values=(xk, pk))``). Any other unfrozen
    one (``stats.poisson``) lacks its shape arguments: scipy then says so."""
    from scipy import stats

    return isinstance(getattr(dist, "dist", dist), stats.rv_discrete)


def _support_points(dist, most: int) -> np.ndarray | None:
    """The values a discrete ``dist`` takes with nonzero probability, when
    there are at most ``most``; None otherwise. ``rv_discrete(values=
    (xk, pk))`` takes its ``xk`` (shifted by ``loc``), any other discrete
    distribution the integers of its support."""
    low, high = dist.support()
    sample = getattr(dist, "dist", dist)
    if getattr(sample, "xk", None) is not None:  # scipy's rv_sample: values given by the user, in order
        xk, pk = np.asarray(sample.xk), np.asarray(sample.pk)
        values = xk[pk > 0]
        if low != xk[0]:  # frozen with a loc
            values = values + (low - xk[0])
    elif np.isfinite(low) and np.isfinite(high) and high - low + 1 <= most:
        values = np.arange(int(low), int(high) + 1)
        values = values[np.asarray(dist.pmf(values)) > 0]
    else:
        return None
    return values if len(values) <= most else None


def quantile_grid(dist, n_points: int) -> list:
    """Deterministic grid of values representing ``dist`` (see module doc)."""
    probs = (np.arange(n_points) + 0.5) / n_points
    if not _is_discrete(dist):
        return [float(v) for v in dist.ppf(probs)]
    values = _support_points(dist, max(n_points, _MAX_ENUMERATED))
    if values is None:
        values = np.unique(dist.ppf(probs))
        xk = getattr(getattr(dist, "dist", dist), "xk", None)
        if xk is None or np.asarray(xk).dtype.kind in "iub":
            values = values.astype(np.int64)  # (ppf gives floats; the lattice's values are integers)
    return [v.item() for v in np.asarray(values)]


def expand_param_grid(param_grid, n_grid_points: int = 5) -> list[dict]:
    """Turn distributions in ``param_grid`` into value lists.

    ``param_grid`` is a dict or a list of dicts, as in scikit-learn. Values
    must be non-string sequences or scipy.stats frozen distributions. Returns
    a list of dicts of lists, ready for ``sklearn.model_selection.ParameterGrid``.
    """
    if isinstance(n_grid_points, bool) or not isinstance(n_grid_points, (int, np.integer)) or n_grid_points < 1:
        raise InvalidParameterError(
            f"n_grid_points must be a positive integer (values taken from each "
            f"distribution in param_grid); got {n_grid_points!r}."
        )
    grids = param_dicts(param_grid, "param_grid", allow_empty=True)  # (an empty list: no candidates)
    expanded = []
    for grid in grids:
        out = {}
        for name, values in grid.items():
            if not isinstance(name, str):
                raise TypeError(f"param_grid keys must be parameter names (str); got {name!r}.")
            if is_distribution(values):
                out[name] = quantile_grid(values, int(n_grid_points))
            elif isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
                raise TypeError(
                    f"param_grid[{name!r}] must be a list of values or a scipy.stats "
                    f"distribution; got {type(values).__name__} {values!r}. Wrap a single "
                    f"value in a list: {{{name!r}: [{values!r}]}}."
                )
            elif isinstance(values, np.ndarray) and values.ndim != 1:
                raise ValueError(
                    f"param_grid[{name!r}] must be a one-dimensional array of values; got an "
                    f"array of shape {values.shape}. To try arrays as values, pass a list of "
                    f"them: {{{name!r}: list(values)}}."
                )
            elif len(values) == 0:
                raise ValueError(
                    f"param_grid[{name!r}] is empty: give at least one value to try."
                )
            else:
                out[name] = list(values)
        expanded.append(out)
    return expanded


def check_param_names(estimator, candidates: list[dict]) -> None:
    """Reject parameter names ``estimator`` does not have, before any work runs.

    A name is valid when ``estimator.get_params(deep=True)`` has it, or when a
    prefix of it (``step`` in ``step__alpha``, or in ``step__inner__alpha``)
    is itself set by the same candidate to an estimator that has the rest (a
    step replaced by another estimator brings its own parameters), or when
    ``set_params`` accepts it all the same, alone or with the candidate's
    parameters of its owners (new ``steps`` and their parameters), as
    scikit-learn's searches only require (LightGBM's estimators take any
    LightGBM parameter there, and list it in ``get_params`` only once set).
    """
    valid = set(estimator.get_params(deep=True))
    for params in candidates:
        for name in params:
            if not isinstance(name, str):
                raise TypeError(f"Parameter names must be str (as estimator.get_params() has them); got {name!r}.")
        for name in sorted(params, key=lambda n: n.count("__")):  # owners first: their error is the cause
            if name in valid or _set_through_replaced_step(name, params):
                continue
            if _set_params_accepts(estimator, {name: params[name]}):
                valid.add(name)
                continue
            if _set_params_accepts(estimator, _with_owners(name, params)):  # e.g. new Pipeline steps
                continue
            import difflib

            close = difflib.get_close_matches(name, sorted(valid), n=5, cutoff=0.6)
            if not close:  # a nested estimator's parameter given without its owner's prefix
                close = sorted(v for v in estimator.get_params(deep=True) if v.endswith("__" + name))[:5]
            hint = f" Did you mean one of {close}?" if close else ""
            raise ValueError(
                f"Invalid parameter {name!r} for estimator {type(estimator).__name__}: "
                f"it is not one of its parameters (see estimator.get_params().keys()).{hint}"
            )


def _set_params_accepts(estimator, params: dict) -> bool:
    """Does ``set_params`` take ``params`` (in one call, as each fit sets them)?"""
    from sklearn.base import clone

    try:
        clone(estimator).set_params(**{k: clone(v, safe=False) for k, v in params.items()})
    except Exception:  # ValueError for an unknown name, in scikit-learn's estimators
        return False
    return True


def _with_owners(name: str, params: dict) -> dict:
    """``name`` and the candidate's parameters of the estimators that own it:
    a Pipeline's ``steps`` (``steps``, or ``model__steps`` for a nested one),
    set first, make the new steps' parameters valid."""
    def owner(key: str) -> str:  # the path of the estimator whose parameter key sets ("" the top one)
        return key.rsplit("__", 1)[0] if "__" in key else ""

    def owns(key: str) -> bool:  # key sets a parameter of an estimator above name's (not a sibling's)
        return key == name or (owner(key) == "" and owner(name) != "") or owner(name).startswith(owner(key) + "__")

    return {k: v for k, v in params.items() if owns(k)}


def _set_through_replaced_step(name: str, params: dict) -> bool:
    """Is ``name`` a parameter of an estimator the same candidate sets
    (``model__pca__n_components`` with ``model`` or ``model__pca`` in it)?"""
    parts = name.split("__")
    for cut in range(1, len(parts)):
        sub = params.get("__".join(parts[:cut]))
        if hasattr(sub, "get_params") and "__".join(parts[cut:]) in sub.get_params(deep=True):
            return True
    return False
