"""Delegating prediction methods to a fitted inner estimator, blockwise on
dask input. One implementation for every meta-estimator of dasklearn."""

from __future__ import annotations

from sklearn.utils.metaestimators import available_if

from dasklearn import _blockwise

_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function",
            "transform", "inverse_transform", "score_samples")


def _has(method):
    """``available_if`` check: the fitted (else the unfitted) estimator has
    ``method``, and the meta-estimator offers it (``_check_available``)."""

    def check(self):
        self._check_available(method)
        getattr(getattr(self, self._fitted_attr, self.estimator), method)
        return True

    return check


_RETURNS = {
    "predict": "y_pred : ndarray, dask array or dask Series of shape (n_samples,)",
    "predict_proba": "proba : ndarray, dask array or dask DataFrame of shape (n_samples, n_classes)\n"
                     "        For a dask DataFrame, one column per class, named by ``classes_``.",
    "predict_log_proba": "log_proba : ndarray, dask array or dask DataFrame of shape (n_samples, n_classes)",
    "decision_function": "scores : ndarray, dask array, dask Series or DataFrame\n"
                         "        Shape (n_samples,) for binary problems, else (n_samples, n_classes).",
    "transform": "X_new : ndarray, dask array or dask DataFrame of shape (n_samples, n_components)",
    "inverse_transform": "X_original : ndarray, dask array or dask DataFrame of shape (n_samples, n_features)",
    "score_samples": "scores : ndarray or dask array of shape (n_samples,)",
}


def _make(method):
    def delegate(self, X):
        return self._delegate(method, X)

    delegate.__name__ = method
    delegate.__doc__ = f"""``{method}`` of the fitted estimator, blockwise on dask input.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        {_RETURNS[method]}
            Lazy (dask) for dask input, with X's row chunks / partitions.
        """
    return available_if(_has(method))(delegate)


class DelegateMixin:
    """predict / predict_proba / predict_log_proba / decision_function /
    transform / inverse_transform / score_samples of ``self.<_fitted_attr>``.

    Subclasses set ``_fitted_attr`` and may override ``_fitted(method)`` to
    explain why the fitted estimator is missing.
    """

    _fitted_attr = "estimator_"

    def _check_available(self, method):
        """Raise AttributeError when this meta-estimator never offers ``method``."""

    def _fitted(self, method):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, self._fitted_attr)
        return getattr(self, self._fitted_attr)

    def __sklearn_tags__(self):
        """The inner estimator's kind (classifier / regressor) and input needs."""
        tags = super().__sklearn_tags__()
        sub = self.estimator.__sklearn_tags__()
        tags.estimator_type = sub.estimator_type
        tags.classifier_tags = sub.classifier_tags
        tags.regressor_tags = sub.regressor_tags
        tags.transformer_tags = sub.transformer_tags
        tags.target_tags.required = sub.target_tags.required
        tags.target_tags.multi_output = sub.target_tags.multi_output
        tags.input_tags.pairwise = sub.input_tags.pairwise
        tags.input_tags.sparse = sub.input_tags.sparse
        tags.input_tags.allow_nan = sub.input_tags.allow_nan
        return tags

    #: the parameters declaring a method's output on dask input (dask-ml's names)
    _METAS = {"predict": "predict_meta", "predict_proba": "predict_proba_meta", "transform": "transform_meta"}

    def __getstate__(self):
        """While a model file is written, declared pandas metas as builtins
        (:func:`_blockwise.meta_state`: skops cannot rebuild pandas
        objects); otherwise the state as it is."""
        state = super().__getstate__()
        if _blockwise.is_saving_metas():
            state = dict(state)  # (it may be the instance's own __dict__)
            for name in self._METAS.values():
                if name in state:
                    state[name] = _blockwise.meta_state(state[name], name)
        return state

    def __setstate__(self, state):
        for name in self._METAS.values():
            if isinstance(state.get(name), dict):
                state[name] = _blockwise.meta_from_state(state[name])
        super().__setstate__(state)

    def _check_metas(self):
        """Check the declared metas (meta-estimators without them have none)."""
        for name in self._METAS.values():
            _blockwise.check_meta(name, getattr(self, name, None))

    def _declared_meta(self, method):
        """``(parameter name, output meta)`` the user declared for ``method``,
        or None (the output is then learned from one row). ``predict_log_proba``
        takes ``predict_proba``'s (same classes, same dtype), as in dask-ml."""
        name = self._METAS.get("predict_proba" if method == "predict_log_proba" else method)
        meta = None if name is None else getattr(self, name, None)
        if meta is None:
            return None
        _blockwise.check_meta(name, meta)
        return name, meta

    def _delegate(self, method, X):
        est = self._fitted(method)
        if _blockwise.is_dask(X):
            _blockwise.check_dask_kind(X, "X", f"{type(self).__name__}.{method}")
            name, meta = self._declared_meta(method) or (None, None)
            return _blockwise.apply_method(est, method, X, meta=meta, meta_name=name)
        return getattr(est, method)(X)

    for _name in _METHODS:
        locals()[_name] = _make(_name)
    del _name
