"""Exact linear models fitted where the data lives.

Every fit places the row blocks of ``(X, y)`` once on the workers that hold
them, then each solver iteration evaluates the loss and gradient (and the
Hessian for ``newton``) of every block on its worker, in one direct call per
worker, and sums them: one synchronisation point per evaluation, and only
parameter-sized vectors cross the network (see
:mod:`dasklearn._runtime._reduce`).  Without a Client, or for NumPy input,
the blocks are evaluated on local threads.

Solvers and penalties
---------------------

================== ====== ==== ==== ==========
solver             none   l2   l1   elasticnet
================== ====== ==== ==== ==========
'auto'             yes    yes  yes  yes
'lbfgs'            yes    yes  --   --
'newton'           yes    yes  yes  yes
'gradient_descent' yes    yes  --   --
'proximal_grad'    yes    yes  yes  yes
'admm'             yes    yes  yes  yes
================== ====== ==== ==== ==========

``'auto'`` (the default of :class:`LinearRegression`; the others default to
``'lbfgs'``) is, for the l1 and elastic-net penalties, ``'newton'`` up to 256
parameters (features and intercept, times the classes when multinomial: the
Hessian's side) and ``'proximal_grad'`` above; else ``'newton'`` for the squared
loss and ``'lbfgs'`` for the others. ``'newton'`` with an l1 term is
proximal Newton (as glmnet): each iteration sums the Hessian over the blocks,
then solves the quadratic model plus the l1 term on the client by coordinate
descent. It reaches the optimum in a few iterations even where the loss is
flat (collinear columns), where first-order methods crawl: there
``'proximal_grad'`` and ``'admm'`` bound their residual relative to the l1
weight (``tol * min(1, l1 weight)``) and may need many iterations (they warn
when ``max_iter`` comes first, never stop early away from the optimum).
``'newton'`` on the squared loss solves the normal equations, summed over
the blocks, exactly (and refines the solution once or twice from the
residuals; ``tol`` and ``max_iter`` do not apply): with collinear columns (a
singular Gram matrix) it returns the solution of least coefficient norm, as
:class:`sklearn.linear_model.LinearRegression` (columns whose centred Gram
matrix has relative eigenvalues below ``n_features * eps`` count as
collinear, i.e. ``X`` with a condition number above about ``1e7``).

``fit`` takes ``sample_weight`` (every solver but ``'admm'``): the loss is
then ``sum(w_i * loss_i) / sum(w_i)``, as scikit-learn weights it, and the
weights travel as a third array of each block.

The intercept is never penalised.  The objectives are scikit-learn's, so
converged coefficients equal scikit-learn's:

* :class:`LogisticRegression`:
  ``C * sum(loss) + l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||^2`` as
  :class:`sklearn.linear_model.LogisticRegression` (binary, or multinomial
  softmax over all classes);
* :class:`LinearRegression` and :class:`PoissonRegression`:
  ``mean(loss) + alpha * l1_ratio * ||w||_1 + alpha * (1 - l1_ratio) / 2 * ||w||^2``
  with the squared loss ``(y - Xw)**2 / 2`` (that is
  :class:`~sklearn.linear_model.ElasticNet` and
  :class:`~sklearn.linear_model.Lasso`; ``alpha=0`` is ordinary least
  squares, and ``penalty='l2'`` with ``alpha`` equals
  ``Ridge(alpha=alpha * n_samples)``, ``alpha * sum(sample_weight)`` when
  weighted) or the Poisson half deviance
  (:class:`~sklearn.linear_model.PoissonRegressor` for the l2 penalty).

Reproducibility and worker loss
-------------------------------

The solvers are deterministic, and so is everything they are fed: the
per-block sums are added in block-index order (never in the order the
workers hold or finish them) and every block kernel runs with one BLAS
thread on aligned arrays.  A fit therefore gives the same coefficients, bit
for bit, on any number of workers, with a cluster started any way, and
without a Client (dask input on local threads; NumPy input is cut into blocks
by size, so it too does not depend on the number of cores) -- given the
same CPU type and library versions (BLAS kernels differ between CPUs).

A worker that dies during a fit (killed, out of memory) does not fail it nor
change its result:

* the row blocks it held are recomputed elsewhere from their dask graph
  (lineage); NumPy arrays given with dask input are embedded in that graph,
  so they are placed again from the client's copy.  Should a block be lost
  for good (its future cancelled), all blocks are placed again from the
  input collections and the evaluation is run again;
* the evaluation in flight is completed by the other workers (tasks are
  pinned to their blocks' worker loosely, so none waits for a dead worker);
  a wait on a cluster left without workers gives up after a minute with an
  error instead of hanging;
* the solver's own state (parameters, L-BFGS history, Newton iterate, ADMM
  consensus) lives on the client.  ADMM's per-block states (each block's
  local parameters ``x_i`` and scaled dual ``u_i``, two parameter vectors
  per block) come back with every round and are kept on the client, which
  sends them with the next round; what a block caches between rounds (the
  Gram matrix of the squared loss) is a function of the block alone and is
  recomputed with it.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from dasklearn._kernels.linear import mean_response
from dasklearn.linear_model._base import _is_real, _LinearModel


# ===================================================================== models
class LogisticRegression(ClassifierMixin, _LinearModel):
    """Logistic regression (binary, or multinomial) fitted exactly on dask data.

    Minimises scikit-learn's objective
    ``C * sum_i loss_i + l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||_2^2``
    (the intercept is not penalised): the binary log-loss for two classes,
    the multinomial (softmax over all classes) log-loss for more.

    Parameters
    ----------
    penalty : {'auto', 'l2', 'l1', 'elasticnet', None}, default='auto'
        'auto' derives the penalty from ``l1_ratio`` and ``C`` as scikit-learn
        1.8+ does (``l1_ratio=0``: l2, ``1``: l1, in between: elastic net,
        ``C=np.inf``: none).  The explicit names are accepted too
        (``'elasticnet'`` uses ``l1_ratio``).
    C : float, default=1.0
        Inverse of the regularisation strength, > 0; ``np.inf`` for none.
    l1_ratio : float, default=0.0
        Elastic-net mixing, in [0, 1].
    fit_intercept : bool, default=True
        Fit an (unpenalised) intercept.
    solver : {'auto', 'lbfgs', 'newton', 'gradient_descent', 'proximal_grad', 'admm'}, default='lbfgs'
        'newton', 'proximal_grad' and 'admm' support l1 and elastic-net
        penalties ('newton' as proximal Newton). 'auto': for them 'newton' up
        to 256 parameters (features and intercept, times the classes when
        multinomial), else 'proximal_grad'; otherwise 'lbfgs'. See the module
        docstring for the table and the stopping rules.
    max_iter : int, default=100
        Maximum number of solver iterations.
    tol : float, default=1e-4
        Stopping tolerance (on the max-norm of the gradient of the objective
        divided by ``C * n_samples``; with l1, of the proximal-gradient
        residual; ADMM stops by the same test, checked once its residuals
        are small).
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, as in scikit-learn: each row's loss (and
        its ``sample_weight``) is multiplied by its class's weight. A dict
        maps class labels to weights (others weigh 1); 'balanced' gives each
        class ``total weight / (n_classes * the class's total weight)``,
        from counts the fit gathers with its first pass over the blocks.
        Every solver but 'admm'.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    n_iter_ : ndarray of shape (1,)
        Iterations run by the solver.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of X (a pandas or dask DataFrame with string column
        names) at fit; X given to the other methods must have the same.

    Notes
    -----
    Deterministic: the same data and parameters give the same coefficients
    bit for bit on any cluster (of one CPU type), after the loss of workers
    during the fit, and without a Client; see "Reproducibility and worker loss" in
    :mod:`dasklearn.linear_model._glm` for how blocks and solver state are
    recovered.

    Examples
    --------
    >>> from dasklearn.datasets import make_classification
    >>> from dasklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(n_samples=1000, chunks=250, random_state=0)
    >>> clf = LogisticRegression().fit(X, y)
    >>> clf.predict(X[:5]).compute().shape
    (5,)
    """

    _classifier = True

    def __init__(self, penalty="auto", *, C=1.0, l1_ratio=0.0, fit_intercept=True,
                 solver="lbfgs", max_iter=100, tol=1e-4, class_weight=None):
        self.C = C
        self.class_weight = class_weight
        super().__init__(penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver,
                         max_iter=max_iter, tol=tol)

    _STRENGTH = "C"

    def _check_strength(self):
        if not _is_real(self.C) or math.isnan(self.C) or self.C <= 0:
            self._fail("C", "a float > 0 (np.inf for no penalty)", "Pass e.g. C=1.0.")

    def _no_penalty(self):
        return self.C == np.inf

    def _strengths(self, l1_ratio, n):
        if self._penalty_mix()[0] is None:
            return 0.0, 0.0
        scale = 1.0 / (float(self.C) * n)
        return l1_ratio * scale, (1.0 - l1_ratio) * scale

    def _loss_of(self, summary):
        from sklearn.utils.multiclass import type_of_target

        classes = summary["classes"]
        kind = type_of_target(classes)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"LogisticRegression: Unknown label type {kind!r}: y must hold class labels "
                f"(e.g. got {classes[:5]!r}). Pass the classes as integers or strings "
                "(y.astype(int) converts integers stored as objects; fit a regressor to "
                "continuous targets)."
            )
        if len(classes) < 2:
            raise ValueError(
                f"LogisticRegression: y must contain at least 2 classes, got 1 class "
                f"({classes!r}). Check the labels, or pass rows of more than one class."
            )
        if len(classes) == 2:
            return "logistic", 1, classes
        return "multinomial", len(classes), classes

    def _set_fitted(self, spec, x, classes):
        coef, intercept = spec.unpack(x)
        self.classes_ = classes
        self.coef_ = np.array(coef)
        self.intercept_ = np.array(intercept)

    def _format_n_iter(self, n_iter):
        return np.array([n_iter], dtype=np.int32)

    def decision_function(self, X):
        """Linear predictor: shape (n_samples,) for two classes, else
        (n_samples, n_classes); a dask array for dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask Series / DataFrame (dask DataFrame input)
        """
        return self._respond("_decision_function", X)

    def _decision_function(self, X):
        scores = self._linear_predictor(X)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask Series (dask DataFrame input) of shape (n_samples,)
        """
        return self._respond("_predict", X)

    def _predict(self, X):
        scores = self._decision_function(X)
        idx = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask DataFrame (dask DataFrame input; one column per class)
        of shape (n_samples, n_classes)
        """
        return self._respond("_predict_proba", X)

    def _predict_proba(self, X):
        scores = self._decision_function(X)
        if scores.ndim == 1:
            p = mean_response(scores, "logistic")
            return np.column_stack([1.0 - p, p])
        return mean_response(scores, "multinomial")

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask DataFrame (dask DataFrame input; one column per class)
        of shape (n_samples, n_classes)
        """
        return self._respond("_predict_log_proba", X)

    def _predict_log_proba(self, X):
        return np.log(self._predict_proba(X))

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict` (computed blockwise on dask input).

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        from sklearn.metrics import accuracy_score

        return self._score_with(accuracy_score, X, y, sample_weight)


class _Regressor(RegressorMixin, _LinearModel):
    _STRENGTH = "alpha"

    def _check_strength(self):
        if not _is_real(self.alpha) or not math.isfinite(self.alpha) or self.alpha < 0:
            self._fail("alpha", "a finite float >= 0", "Pass e.g. alpha=1.0 (0 for no penalty).")

    def _no_penalty(self):
        return self.alpha == 0

    def _strengths(self, l1_ratio, n):
        if self._penalty_mix()[0] is None:
            return 0.0, 0.0
        return float(self.alpha) * l1_ratio, float(self.alpha) * (1.0 - l1_ratio)

    def _loss_of(self, summary):
        return self._loss, 1, None

    def _set_fitted(self, spec, x, classes):
        coef, intercept = spec.unpack(x)
        self.coef_ = np.array(coef[0])
        self.intercept_ = float(intercept[0])

    def _format_n_iter(self, n_iter):
        return int(n_iter)


class LinearRegression(_Regressor):
    """Least squares, Ridge, Lasso and elastic net fitted exactly on dask data.

    Minimises ``||y - X w - b||^2 / (2 * n_samples) + alpha * l1_ratio * ||w||_1
    + alpha * (1 - l1_ratio) / 2 * ||w||_2^2``, scikit-learn's
    :class:`~sklearn.linear_model.ElasticNet` objective: ``alpha=0`` (the
    default) is ordinary least squares, ``l1_ratio=1`` is
    :class:`~sklearn.linear_model.Lasso`, and ``l1_ratio=0`` equals
    ``Ridge(alpha=alpha * n_samples)`` (Ridge does not divide by n_samples;
    with ``sample_weight``, ``Ridge(alpha=alpha * sum(sample_weight))``).

    Parameters
    ----------
    penalty : {'auto', 'l2', 'l1', 'elasticnet', None}, default='auto'
        'auto' derives the penalty from ``alpha`` (0: none) and ``l1_ratio``.
    alpha : float, default=0.0
        Regularisation strength, >= 0.
    l1_ratio : float, default=0.0
        Elastic-net mixing, in [0, 1].
    fit_intercept : bool, default=True
        Fit an (unpenalised) intercept.
    solver : {'auto', 'lbfgs', 'newton', 'gradient_descent', 'proximal_grad', 'admm'}, default='auto'
        'newton' solves the normal equations exactly (refined from the
        residuals; ``tol`` and ``max_iter`` do not apply), which gives
        scikit-learn's least squares even on ill-conditioned ``X``, and the
        least-norm coefficients when columns are collinear.  With l1 and
        elastic-net penalties (which 'newton', 'proximal_grad' and 'admm'
        support) 'newton' is proximal Newton, iterative (``tol`` and
        ``max_iter`` apply).  'auto' is 'newton' for penalties None and 'l2',
        and for l1 / elastic-net up to 256 parameters, else 'proximal_grad'.
    max_iter : int, default=100
        Maximum number of solver iterations.
    tol : float, default=1e-4
        Stopping tolerance (max-norm of the gradient of the objective above;
        with l1, of the proximal-gradient residual; ADMM stops by the same
        test, checked once its residuals are small).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of X (a pandas or dask DataFrame with string column
        names) at fit; X given to the other methods must have the same.

    Notes
    -----
    Deterministic: the same data and parameters give the same coefficients
    bit for bit on any cluster (of one CPU type), after the loss of workers
    during the fit, and without a Client; see "Reproducibility and worker loss" in
    :mod:`dasklearn.linear_model._glm` for how blocks and solver state are
    recovered.
    """

    _loss = "squared"

    def __init__(self, penalty="auto", *, alpha=0.0, l1_ratio=0.0, fit_intercept=True,
                 solver="auto", max_iter=100, tol=1e-4):
        self.alpha = alpha
        super().__init__(penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver,
                         max_iter=max_iter, tol=tol)

    def _initial_params(self, spec, summary):
        x = np.zeros(spec.n_params)
        if spec.fit_intercept:
            x[-1] = summary["y_sum"] / summary["n"]
        return x

    def predict(self, X):
        """Predicted values ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask Series (dask DataFrame input) of shape (n_samples,)
        """
        return self._respond("_linear_predictor", X)

    def score(self, X, y, sample_weight=None):
        """R^2 of :meth:`predict` (computed blockwise on dask input).

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        from sklearn.metrics import r2_score

        return self._score_with(r2_score, X, y, sample_weight)


class PoissonRegression(_Regressor):
    """Poisson regression (log link) fitted exactly on dask data.

    Minimises ``sum(exp(eta) - y * eta) / n_samples + alpha * l1_ratio * ||w||_1
    + alpha * (1 - l1_ratio) / 2 * ||w||_2^2`` with ``eta = X w + b``, i.e.
    half the mean Poisson deviance plus the penalty: scikit-learn's
    :class:`~sklearn.linear_model.PoissonRegressor` objective for the l2
    penalty (the default).

    Parameters
    ----------
    penalty : {'auto', 'l2', 'l1', 'elasticnet', None}, default='auto'
        'auto' derives the penalty from ``alpha`` (0: none) and ``l1_ratio``.
    alpha : float, default=1.0
        Regularisation strength, >= 0.
    l1_ratio : float, default=0.0
        Elastic-net mixing, in [0, 1].
    fit_intercept : bool, default=True
        Fit an (unpenalised) intercept.
    solver : {'auto', 'lbfgs', 'newton', 'gradient_descent', 'proximal_grad', 'admm'}, default='lbfgs'
        'newton' (proximal Newton), 'proximal_grad' and 'admm' support l1
        and elastic-net penalties ('auto': 'newton' for them up to 256
        parameters, else 'proximal_grad'; otherwise 'lbfgs').
    max_iter : int, default=100
        Maximum number of solver iterations.
    tol : float, default=1e-4
        Stopping tolerance (max-norm of the gradient of the objective above;
        with l1, of the proximal-gradient residual; ADMM stops by the same
        test, checked once its residuals are small).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of X (a pandas or dask DataFrame with string column
        names) at fit; X given to the other methods must have the same.

    Notes
    -----
    Deterministic: the same data and parameters give the same coefficients
    bit for bit on any cluster (of one CPU type), after the loss of workers
    during the fit, and without a Client; see "Reproducibility and worker loss" in
    :mod:`dasklearn.linear_model._glm` for how blocks and solver state are
    recovered.
    """

    _loss = "poisson"

    def __init__(self, penalty="auto", *, alpha=1.0, l1_ratio=0.0, fit_intercept=True,
                 solver="lbfgs", max_iter=100, tol=1e-4):
        self.alpha = alpha
        super().__init__(penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver,
                         max_iter=max_iter, tol=tol)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.positive_only = True  # counts (as scikit-learn's PoissonRegressor)
        return tags

    def _check_summary(self, s):
        super()._check_summary(s)
        if s["y_min"] < 0 or s["y_sum"] <= 0:
            raise ValueError(
                "PoissonRegression: y must be non-negative with a positive sum (counts), got "
                f"min(y)={s['y_min']}, sum(y)={s['y_sum']}. Pass counts or rates."
            )

    def _initial_params(self, spec, summary):
        x = np.zeros(spec.n_params)
        if spec.fit_intercept:  # as scikit-learn: start at the log of the mean
            x[-1] = np.log(summary["y_sum"] / summary["n"])
        return x

    def predict(self, X):
        """Predicted means ``exp(X @ coef_ + intercept_)``.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray, dask array, or dask Series (dask DataFrame input) of shape (n_samples,)
        """
        return self._respond("_predict", X)

    def _predict(self, X):
        return np.exp(self._linear_predictor(X))

    def score(self, X, y, sample_weight=None):
        """D^2, the fraction of Poisson deviance explained (as scikit-learn's
        PoissonRegressor.score), computed blockwise on dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        from functools import partial

        from sklearn.metrics import d2_tweedie_score

        return self._score_with(partial(d2_tweedie_score, power=1), X, y, sample_weight)

    def get_deviance(self, X, y, sample_weight=None):
        """The Poisson deviance of the model on ``(X, y)``, a number:
        ``2 * sum(w * (y * log(y / mu) - y + mu))`` with ``mu = predict(X)``
        (``y * log(y / mu)`` is 0 where ``y`` is 0), the rows' sum, not their
        mean: ``n_samples`` (or the total weight) times scikit-learn's
        :func:`~sklearn.metrics.mean_poisson_deviance`. On dask input only the
        predictions and ``y`` are computed here, blockwise.

        dask-ml's method of this name returns a different number: it takes
        ``log1p(y / mu)`` for ``log(y / mu)``.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)
            Non-negative counts.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return self._score_with(_total_poisson_deviance, X, y, sample_weight)


def _total_poisson_deviance(y, mu, sample_weight=None):
    """The rows' summed Poisson deviance (scikit-learn's mean, which checks
    that y >= 0, times the rows' total weight)."""
    from sklearn.metrics import mean_poisson_deviance

    total = len(y) if sample_weight is None else float(np.sum(sample_weight))
    return mean_poisson_deviance(y, mu, sample_weight=sample_weight) * total
