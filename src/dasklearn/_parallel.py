"""Data-parallel training of estimators with ``partial_fit``: :class:`DataParallel`.

The estimator layer only: parameters and inputs are validated here, the
per-worker work is done by the pure kernels below (which know nothing of
dask), placement and pinned tasks by ``dasklearn._runtime._partitions`` and
the merges by ``dasklearn._kernels.merge``.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from dasklearn._kernels.merge import (
    AVERAGED_FAMILIES,
    combine_states,
    family_of,
    get_state,
    merge_states,
    param_change,
    set_state,
)

__all__ = ["DataParallel"]

_RESPONSES = ("predict", "predict_proba", "predict_log_proba", "decision_function")


# ------------------------------------------------------------ worker kernels
class _Part(NamedTuple):
    """What one block becomes on its worker: training and validation rows."""

    X: object
    y: object
    X_val: object
    y_val: object


def _n_validation(n_rows: int, fraction: float) -> int:
    """Validation rows held out of a block of ``n_rows`` (at least one row trains)."""
    if fraction <= 0 or n_rows < 2:
        return 0
    return min(n_rows - 1, int(math.floor(fraction * n_rows + 0.5)))


def _split_block(index, X, y, fraction, seed):
    """The part of block ``index``: a random ``fraction`` of its rows held out.

    The rows depend only on ``(seed, index)``, not on where the block lives.
    """
    n = X.shape[0]
    n_val = _n_validation(n, fraction)
    if n_val == 0:
        # one C-ordered copy now, rather than one per partial_fit call (SGD's
        # input check copies e.g. a column slice of a packed [X | y] block)
        X = np.ascontiguousarray(X) if isinstance(X, np.ndarray) else X
        return _Part(X, y, X[:0], y[:0])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    val = np.zeros(n, dtype=bool)
    val[rng.choice(n, n_val, replace=False)] = True
    return _Part(X[~val], y[~val], X[val], y[val])


def _train_averaged(local, model, parts, epochs, fit_kwargs):
    """A worker's round: start from ``model``'s parameters (None: from
    ``local`` as it is), then ``epochs`` passes of partial_fit over its parts."""
    est = copy.deepcopy(local)  # never change a task's input in place
    if model is not None:
        set_state(est, get_state(model))
    for _ in range(epochs):
        for p in parts:
            if p.y.shape[0]:
                est.partial_fit(p.X, p.y, **fit_kwargs)
    return est


def _train_exact(template, model, parts, epochs, fit_kwargs):
    """A worker's round for naive Bayes: the statistics of its own data only
    (each block fitted alone, then combined exactly), ``epochs`` times over."""
    family = family_of(template)
    fitted, states = None, []
    for p in parts:
        if p.y.shape[0]:
            est = clone(template).partial_fit(p.X, p.y, **fit_kwargs)
            states.append(get_state(est))
            fitted = est if fitted is None else fitted
    return set_state(fitted, combine_states(family, states * epochs))


def _summarize(local):
    return get_state(local)


def _local_classes(parts):
    return np.unique(np.concatenate([np.unique(np.asarray(a)) for p in parts for a in (p.y, p.y_val)]))


def _validation_targets(parts):
    return np.concatenate([np.asarray(p.y_val) for p in parts])


def _respond(model, parts, method):
    out = [getattr(model, method)(p.X_val) for p in parts if p.y_val.shape[0]]
    return np.concatenate(out)


# ------------------------------------------------------- validation scoring
class _NoX:
    """Placeholder for X in a scorer call: responses are computed remotely."""

    def __repr__(self):
        return "<validation rows on the workers>"


class _RemoteResponses:
    """Stand-in for the model inside a scorer: its response methods return
    the model's responses on the validation rows, computed on the workers."""

    def __init__(self, est, compute):
        self._est = est
        self._compute = compute

    def __getattr__(self, name):
        if name in _RESPONSES:
            if not hasattr(self._est, name):
                raise AttributeError(name)

            def method(X, **kwargs):
                return self._compute(name)

            method.__name__ = name  # scorers dispatch on the method's name
            return method
        return getattr(self._est, name)

    def __sklearn_tags__(self):
        return get_tags(self._est)


# ------------------------------------------------------------- validation
def _check_int(owner, name, value, low, allow_none=False):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
    if not ok and not (allow_none and value is None):
        none = " or None" if allow_none else ""
        raise ValueError(f"{owner}: {name} must be an int >= {low}{none}, got {value!r}.")


def _check_real(owner, name, value, low, high=None, allow_none=False, high_open=False):
    if allow_none and value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and value >= low and (high is None or (value < high if high_open else value <= high))
    if not ok:
        rng = f">= {low}" if high is None else f"in [{low}, {high}{')' if high_open else ']'}"
        none = " or None" if allow_none else ""
        raise ValueError(f"{owner}: {name} must be a number {rng}{none}, got {value!r}.")


def _is_dask(obj) -> bool:
    from dask import is_dask_collection

    return is_dask_collection(obj)


def _as_array(data, name):
    """A dask array from a dask array, dask DataFrame/Series or in-memory array."""
    if _is_dask(data):
        if hasattr(data, "to_dask_array"):  # dask DataFrame / Series (one pass for lengths)
            return data.to_dask_array(lengths=True)
        return data
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    arr = np.asarray(data)
    if arr.dtype == object and arr.ndim == 0:
        raise TypeError(f"{name} must be an array-like or a dask array, got {type(data).__name__}.")
    return arr


def _estimator_has(attr):
    """``available_if`` check: the fitted (else the given) estimator has ``attr``."""

    def check(self):
        est = self.estimator_ if hasattr(self, "estimator_") else self.estimator
        return hasattr(est, attr)

    return check


# ----------------------------------------------------------------- estimator
class DataParallel(MetaEstimatorMixin, BaseEstimator):
    """Train an estimator on all workers at once, averaging or merging models.

    Every round, each worker runs ``partial_fit`` over the blocks of ``X`` it
    already holds (tasks are pinned to the data: blocks never move after
    they are placed), starting from the current global model. The workers'
    models are gathered, merged (averaged, weighted by the samples each saw,
    or combined exactly for naive Bayes) and broadcast back for the next
    round. Training stops after ``max_rounds`` rounds or when the score on
    held-out validation rows stops improving.

    Parameters
    ----------
    estimator : estimator object
        An unfitted estimator with ``partial_fit``: ``SGDClassifier``,
        ``SGDRegressor``, ``Perceptron``, ``PassiveAggressiveClassifier``,
        ``PassiveAggressiveRegressor``, ``MLPClassifier``, ``MLPRegressor``
        (``solver="sgd"`` or ``"adam"``), ``GaussianNB``, ``MultinomialNB`` or
        ``BernoulliNB``. It is cloned, never changed.
    max_rounds : int or None, default=None
        Maximum number of synchronisation rounds. None means 1 for the naive
        Bayes estimators (one pass gives the model of ``fit`` on all the
        data; every further pass counts the data again, as repeated
        ``partial_fit`` calls would) and 20 for the others.
    local_epochs : int, default=1
        Passes of ``partial_fit`` over its own blocks that each worker makes
        per round. More epochs per round mean fewer synchronisations but
        workers' models drift further apart before they are averaged.
    tol : float or None, default=1e-3
        Early stopping: a round *improves* when its validation score exceeds
        the best score so far by more than ``tol``. None disables early
        stopping (the score is still recorded each round).
    n_iter_no_change : int, default=5
        Training stops after this many consecutive rounds without
        improvement (as in ``SGDClassifier``). The model of the last round is
        kept.
    scoring : str, callable or None, default=None
        Validation score (higher is better): a scikit-learn scorer name or a
        callable ``scorer(estimator, X, y)``. None means accuracy for
        classifiers and R² for regressors (their ``score`` method). It is
        also the metric of :meth:`score`.
    validation_fraction : float, default=0.1
        Fraction of the rows of *every block* held out for validation, in
        [0, 1). The rows are drawn once, per block, from ``random_state`` and
        the block index (not from where the block lives), and stay on the
        block's worker. 0 disables validation: ``score`` is None in
        ``history_`` and only ``max_rounds`` stops training.
    random_state : int, RandomState instance or None, default=None
        Draws the validation rows and, when the estimator's own
        ``random_state`` is None, one seed given to every worker's copy of it
        (so that all workers start from the same initial weights, which an
        average of networks needs).
    n_jobs : int or None, default=None
        Without a dask.distributed Client only: the blocks are split into
        ``n_jobs`` contiguous groups ("virtual workers") trained on threads.
        None means one group, i.e. exactly a sequential ``partial_fit`` pass
        over the blocks. With a Client, every worker holding blocks trains.

    Attributes
    ----------
    estimator_ : estimator
        The merged model, fitted.
    history_ : list of dict
        One dict per round: ``round`` (from 1), ``score`` (validation score of
        the merged model, or None), ``param_change`` (relative change
        ``||w_r - w_{r-1}|| / ||w_r||`` of the merged parameters; None in round
        1), ``n_samples`` (training samples processed by all workers in the
        round) and ``time`` (seconds).
    n_rounds_ : int
        Rounds run.
    best_score_ : float or None
        Best validation score over the rounds.
    partitions_ : dict of str to list of int
        Which blocks each worker (address, or ``"local-j"``) trained on.
    classes_ : ndarray
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features of ``X``.

    See Also
    --------
    dasklearn.wrappers.Incremental : sequential ``partial_fit`` over the blocks.
    dasklearn.wrappers.ParallelPostFit : blockwise prediction of a fitted model.

    Notes
    -----
    **Exact and approximate merges.**

    * Naive Bayes (``GaussianNB``, ``MultinomialNB``, ``BernoulliNB``):
      *exact*. Each worker computes the sufficient statistics of its own rows
      (class counts and per-class means and variances, or feature counts);
      these are combined exactly (counts add, means and variances by the
      parallel-variance formula) and the derived attributes are recomputed
      with scikit-learn's formulas. One round equals ``fit`` on all the
      training rows up to floating-point rounding, including GaussianNB's
      ``epsilon_ = var_smoothing * max(var(X))`` taken over all the rows
      (where a sequential ``partial_fit`` loop would take it per batch).
    * Linear models (``SGD*``, ``Perceptron``, ``PassiveAggressive*``):
      *approximate*, weighted model averaging of ``coef_`` and
      ``intercept_``. The update counter ``t_``, which drives the
      ``"optimal"`` and ``"invscaling"`` learning rates, is set to its value
      before the round plus the updates of all workers, so the step size
      follows the schedule of a sequential pass over the same samples.
      ``average=True`` is not supported (its running average is private
      state).
    * Neural networks (``MLP*``): *approximate*, weighted averaging of every
      layer's ``coefs_`` and ``intercepts_``; ``t_`` as above. The optimizer
      state (Adam's moment estimates, SGD's momentum velocities) is *not*
      averaged or reset: each worker keeps its own local optimizer state from
      round to round (it never leaves the worker) and applies it to the
      averaged weights.

    With a single worker (e.g. ``n_jobs=None`` and no Client) a round is
    exactly a sequential ``partial_fit`` pass over the training rows, block
    by block, continuing from the previous round: the merge returns the
    worker's model unchanged and the worker keeps its full local state.
    On a cluster, an averaged model depends on which blocks each worker
    holds, and blocks are placed where the scheduler computes them: two fits
    may differ slightly unless the placement (``partitions_``) is the same.
    The naive Bayes merges do not depend on it (beyond rounding).

    **What crosses the network.** Once, at placement: the blocks, computed
    where the scheduler puts them (whole blocks are moved once if the
    workers end up unevenly loaded). Per round: the merged model (the fitted
    estimator, i.e. its parameters plus scikit-learn's bookkeeping) goes to
    every worker; each worker sends back its parameters (``coef_`` and
    ``intercept_``, the network weights, or the naive Bayes statistics); with
    validation, each worker sends the merged model's responses for its
    validation rows (one value, or one row of probabilities, per row; the
    validation targets are fetched once). After round 1 one worker's full
    local model is fetched once as the template of the merged model. ``X``
    never crosses the network after placement.

    If ``classes`` is not given to :meth:`fit` for a classifier, the labels
    are found with one extra pass over the placed ``y`` blocks (on the
    workers; only the unique labels come back).

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from dasklearn.datasets import make_classification
    >>> from dasklearn.wrappers import DataParallel
    >>> X, y = make_classification(n_samples=20_000, chunks=5_000, random_state=0)
    >>> model = DataParallel(SGDClassifier(random_state=0), max_rounds=5, random_state=0)
    >>> model.fit(X, y, classes=[0, 1]).n_rounds_ <= 5
    True
    """

    def __init__(self, estimator, *, max_rounds=None, local_epochs=1, tol=1e-3, n_iter_no_change=5,
                 scoring=None, validation_fraction=0.1, random_state=None, n_jobs=None):
        self.estimator = estimator
        self.max_rounds = max_rounds
        self.local_epochs = local_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -------------------------------------------------------------- checks
    def _check_params(self) -> str:
        """Validate everything before any work is submitted; the merge family."""
        name = type(self).__name__
        est = self.estimator
        if not hasattr(est, "partial_fit"):
            raise TypeError(
                f"{name} trains with partial_fit, which {type(est).__name__} does not have"
                f"{' with these parameters' if hasattr(type(est), 'partial_fit') else ''}. "
                "Use an estimator with partial_fit (e.g. SGDClassifier, MLPClassifier with "
                "solver='adam', GaussianNB)."
            )
        family = family_of(est)  # TypeError naming the supported estimators
        params = est.get_params(deep=False)
        est_name = type(est).__name__
        if family == "linear":
            if params.get("average", False):
                raise ValueError(
                    f"{name} cannot merge {est_name}(average={params['average']!r}): the running "
                    "average is private state. Use average=False."
                )
            if params.get("class_weight") == "balanced":
                raise ValueError(
                    f"{name} cannot use {est_name}(class_weight='balanced'): partial_fit does not "
                    "support it. Pass class weights as a dict computed from y."
                )
        if family in AVERAGED_FAMILIES and params.get("early_stopping", False):
            raise ValueError(
                f"{name} stops early on its own validation rows; {est_name}(early_stopping=True) "
                f"would hold out rows inside every block. Use early_stopping=False and set "
                f"{name}(validation_fraction=..., tol=..., n_iter_no_change=...)."
            )
        _check_int(name, "max_rounds", self.max_rounds, 1, allow_none=True)
        _check_int(name, "local_epochs", self.local_epochs, 1)
        _check_real(name, "tol", self.tol, 0.0, allow_none=True)
        _check_int(name, "n_iter_no_change", self.n_iter_no_change, 1)
        _check_real(name, "validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True)
        if self.n_jobs is not None and (not isinstance(self.n_jobs, numbers.Integral) or self.n_jobs == 0
                                        or isinstance(self.n_jobs, bool)):
            raise ValueError(f"{name}: n_jobs must be None or a non-zero int, got {self.n_jobs!r}.")
        if not (self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring)):
            raise ValueError(
                f"{name}: scoring must be None, a scorer name or a callable scorer(estimator, X, y), "
                f"got {self.scoring!r}."
            )
        self._scorer(est)  # an unknown scorer name fails here
        check_random_state(self.random_state)
        return family

    def _scorer(self, est):
        from sklearn.metrics import check_scoring

        scoring = self.scoring
        if scoring is None:  # what the supported estimators' score methods compute
            scoring = "accuracy" if is_classifier(est) else "r2"
        return check_scoring(est, scoring=scoring)

    def _check_data(self, X, y, classes, n_workers):
        name = type(self).__name__
        import dask.array as da

        X, y = _as_array(X, "X"), _as_array(y, "y")
        if X.ndim != 2:
            raise ValueError(f"{name}: X must be 2-D (n_samples, n_features), got shape {X.shape}.")
        if y.ndim not in (1, 2):
            raise ValueError(f"{name}: y must be 1-D (or 2-D for multi-output), got shape {y.shape}.")
        if not isinstance(X, da.Array):
            rows = max(1, math.ceil(X.shape[0] / n_workers))  # one block per worker
            X = da.from_array(X, chunks=(rows, -1))
        if not isinstance(y, da.Array):
            y = da.from_array(y, chunks=(X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
        if not (math.isnan(X.shape[0]) or math.isnan(y.shape[0])) and X.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}.")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        if y.ndim == 2 and len(y.chunks[1]) > 1:
            y = y.rechunk({1: -1})
        if y.chunks[0] != X.chunks[0]:
            y = y.rechunk({0: X.chunks[0]})
        classifier = is_classifier(self.estimator)
        if classes is not None:
            if not classifier:
                raise ValueError(f"{name}: classes is for classifiers; {type(self.estimator).__name__} "
                                 "is not one.")
            classes = np.unique(np.asarray(classes))
            if classes.size < 2:
                raise ValueError(f"{name}: classes must hold at least 2 labels, got {classes!r}.")
        return X, y, classes

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, classes=None):
        """Train on all workers in synchronised rounds.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Training data. A dask array is used block by block where its
            blocks are; an in-memory array is split into one block per worker.
            dask DataFrames are converted with ``to_dask_array(lengths=True)``
            (one pass to find the partition lengths; feature names are not kept).
        y : dask array of shape (n_samples,) or (n_samples, n_outputs), or array-like
            Targets, with the same row blocks as ``X`` (rechunked otherwise).
        classes : array-like or None, default=None
            All class labels (classifiers). If None they are found with one
            extra pass over ``y`` on the workers.

        Returns
        -------
        self : DataParallel
            Fitted.
        """
        from dasklearn._runtime._partitions import place_blocks, worker_count

        family = self._check_params()
        X, y, classes = self._check_data(X, y, classes, worker_count(self.n_jobs))
        classifier = is_classifier(self.estimator)
        exact = family not in AVERAGED_FAMILIES
        max_rounds = self.max_rounds if self.max_rounds is not None else (1 if exact else 20)

        rng = check_random_state(self.random_state)
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        template = clone(self.estimator)
        if "random_state" in template.get_params(deep=False) and template.random_state is None:
            template.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
        scorer = self._scorer(self.estimator) if self.validation_fraction > 0 else None

        parts = place_blocks([X, y], _split_block, (float(self.validation_fraction), split_seed),
                             n_jobs=self.n_jobs)
        handles: dict = {}
        try:
            if classifier and classes is None:
                found = parts.gather(parts.run(_local_classes, {w: (parts.parts_of(w),) for w in parts.workers}))
                classes = np.unique(np.concatenate(list(found.values())))
            self._rounds(parts, handles, family, template, scorer, classes, max_rounds)
        finally:
            for h in handles.values():
                parts.release(h if isinstance(h, dict) else [h])
            parts.close()
        self.partitions_ = {w: list(parts.blocks[w]) for w in parts.workers}
        self.n_features_in_ = int(X.shape[1])
        return self

    def _rounds(self, parts, handles, family, template, scorer, classes, max_rounds):
        exact = family not in AVERAGED_FAMILIES
        epochs = self.local_epochs
        fit_kwargs = {"classes": classes} if is_classifier(self.estimator) else {}
        n_val = {w: sum(_n_validation(parts.rows[i], self.validation_fraction) for i in parts.blocks[w])
                 for w in parts.workers}
        n_train = {w: sum(parts.rows[i] for i in parts.blocks[w]) - n_val[w] for w in parts.workers}
        active = [w for w in parts.workers if n_train[w] > 0]
        if not active:
            raise ValueError(f"{type(self).__name__}: no training rows (every block is too small "
                             "or held out for validation). Lower validation_fraction.")
        val_workers = [w for w in parts.workers if n_val[w] > 0] if scorer is not None else []
        y_val = None
        if val_workers:
            got = parts.gather(parts.run(_validation_targets, {w: (parts.parts_of(w),) for w in val_workers}))
            y_val = np.concatenate([got[w] for w in val_workers])

        def respond(method):
            got = parts.gather(parts.run(_respond, {w: (handles["model"], parts.parts_of(w), method)
                                                    for w in val_workers}))
            return np.concatenate([got[w] for w in val_workers])

        train = _train_exact if exact else _train_averaged
        handles["local"] = {}
        handles["model"] = None
        model = state = None
        best, no_improvement = -np.inf, 0
        self.history_ = []
        for r in range(1, max_rounds + 1):
            start = time.perf_counter()
            previous = handles["local"]
            local = parts.run(train, {w: (previous.get(w, template) if not exact else template,
                                          handles["model"], parts.parts_of(w), epochs, fit_kwargs)
                                      for w in active})
            handles["local"] = local
            parts.release(previous)
            states = parts.gather(parts.run(_summarize, {w: (local[w],) for w in active}))
            if model is None:  # one worker's fitted model becomes the merged model's template
                model = parts.gather({active[0]: local[active[0]]})[active[0]]
            if exact:  # naive Bayes workers start afresh each round: nothing to keep
                parts.release(local)
                handles["local"] = {}
            new_state = merge_states(family, [states[w] for w in active],
                                     [n_train[w] * epochs for w in active], state)
            change = param_change(family, state, new_state)
            state = new_state
            set_state(model, state)
            if val_workers or r < max_rounds:
                old, handles["model"] = handles["model"], parts.broadcast(model)
                if old is not None:
                    parts.release([old])
            score = None
            if val_workers:
                score = float(scorer(_RemoteResponses(model, respond), _NoX(), y_val))
            self.history_.append({"round": r, "score": score, "param_change": change,
                                  "n_samples": int(sum(n_train[w] for w in active) * epochs),
                                  "time": time.perf_counter() - start})
            if score is not None:
                no_improvement = no_improvement + 1 if (self.tol is not None and score < best + self.tol) else 0
                best = max(best, score)
                if self.tol is not None and no_improvement >= self.n_iter_no_change:
                    break
        self.estimator_ = model
        self.n_rounds_ = len(self.history_)
        self.best_score_ = None if best == -np.inf else float(best)

    # --------------------------------------------------- after fitting
    def _apply(self, method, X):
        check_is_fitted(self, "estimator_")
        if _is_dask(X):
            from dasklearn._blockwise import apply_method

            return apply_method(self.estimator_, method, X)
        return getattr(self.estimator_, method)(X)

    def predict(self, X):
        """Predictions of the merged model, blockwise for dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : dask array or ndarray of shape (n_samples,)
            Lazy (computed where X's blocks are) for dask input.
        """
        return self._apply("predict", X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the merged model, blockwise for dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : dask array or ndarray of shape (n_samples, n_classes)
        """
        return self._apply("predict_proba", X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the merged model, blockwise for dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : dask array or ndarray of shape (n_samples, n_classes)
        """
        return self._apply("predict_log_proba", X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the merged model, blockwise for dask input.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : dask array or ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._apply("decision_function", X)

    def score(self, X, y):
        """Score of the merged model with ``scoring`` (accuracy or R² by default).

        Responses are computed blockwise where X's blocks are; only they and
        y come to the client.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)

        Returns
        -------
        score : float
        """
        from dasklearn._blockwise import score

        check_is_fitted(self, "estimator_")
        return score(self._scorer(self.estimator_), self.estimator_, X, y)

    @property
    def classes_(self):
        """Class labels of the merged classifier."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags.required = True
        return tags
