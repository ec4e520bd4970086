"""Data-parallel training of estimators with ``partial_fit``: :class:`DataParallel`.

The estimator layer only: parameters and inputs are validated here, the
per-worker work is done by the pure kernels below (which know nothing of
dask), placement, per-group tasks and recovery from worker loss by
``dasklearn._runtime._partitions`` and the merges by ``dasklearn._kernels.merge``.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from dasklearn import _blockwise, _validation
from dasklearn._blockwise import Responses, ask
from dasklearn._validation import InvalidParameterError
from dasklearn._delegation import DelegateMixin
from dasklearn._kernels.merge import (
    AVERAGED_FAMILIES,
    combine_states,
    family_of,
    feature_moments,
    get_state,
    merge_states,
    param_change,
    set_state,
)

__all__ = ["DataParallel"]

# ------------------------------------------------------------ worker kernels
class _Part(NamedTuple):
    """What one block becomes on its worker: training and validation rows
    (and their sample weights, when the fit has them)."""

    X: object
    y: object
    X_val: object
    y_val: object
    w: object = None
    w_val: object = None


def _n_validation(n_rows: int, fraction: float) -> int:
    """Validation rows held out of a block of ``n_rows`` (at least one row trains)."""
    if fraction <= 0 or n_rows < 2:
        return 0
    return min(n_rows - 1, int(math.floor(fraction * n_rows + 0.5)))


def _split_block(index, X, y, fraction, seed):
    """The part of block ``index``: a random ``fraction`` of its rows held out.

    The rows depend only on ``(seed, index)``, not on where the block lives.
    """
    return _split(index, X, y, None, fraction, seed)


def _split_weighted_block(index, X, y, w, fraction, seed):
    """:func:`_split_block` of a block with sample weights ``w`` (checked here,
    where they are: finite and non-negative)."""
    w = np.asarray(w, dtype=np.float64)
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError("DataParallel: sample_weight must be finite and non-negative; block "
                         f"{index} has {w[~(np.isfinite(w) & (w >= 0))][:3].tolist()}. Check the weights.")
    return _split(index, X, y, w, fraction, seed)


def _split(index, X, y, w, fraction, seed):
    n = X.shape[0]
    n_val = _n_validation(n, fraction)
    if n_val == 0:
        # one C-ordered copy now, rather than one per partial_fit call (SGD's
        # input check copies e.g. a column slice of a packed [X | y] block)
        X = np.ascontiguousarray(X) if isinstance(X, np.ndarray) else X
        return _Part(X, y, X[:0], y[:0], w, None if w is None else w[:0])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    val = np.zeros(n, dtype=bool)
    val[rng.choice(n, n_val, replace=False)] = True
    if w is None:
        return _Part(X[~val], y[~val], X[val], y[val])
    return _Part(X[~val], y[~val], X[val], y[val], w[~val], w[val])


def _trains(part) -> bool:
    """Does the part have training rows of some weight? (scikit-learn refuses
    a partial_fit whose weights are all zero; such rows change nothing.)"""
    return part.y.shape[0] > 0 and (part.w is None or part.w.sum() > 0)


def _weights_of(part) -> dict:
    """The ``sample_weight`` keyword of a part's partial_fit ({} without weights)."""
    return {} if part.w is None else {"sample_weight": part.w}


def _train_weight(parts) -> float:
    """A group's total training weight (its training rows without weights)."""
    return float(sum(p.y.shape[0] if p.w is None else p.w.sum() for p in parts))


def _train_averaged(parts, local, model, epochs, fit_kwargs):
    """A group's round for the averaged families: ``epochs`` passes of
    partial_fit over its parts, starting from the global parameters.

    ``local`` is the model to continue (the template in round 1; the group's
    own model of the last round for MLPs, whose optimizer state it carries)
    or None (linear models: continue from ``model`` itself, whose
    ``coef_``, ``intercept_`` and ``t_`` are their whole training state).
    ``model`` (None in round 1) gives the global parameters. A pure function
    of its arguments: run again after a worker loss, it gives the same model.
    """
    est = copy.deepcopy(local if local is not None else model)  # never change an input in place
    if local is not None and model is not None:
        set_state(est, get_state(model))
    for _ in range(epochs):
        for p in parts:
            if _trains(p):
                est.partial_fit(p.X, p.y, **fit_kwargs, **_weights_of(p))
    return est


def _train_exact(parts, template, epochs, fit_kwargs):
    """A group's round for naive Bayes: the statistics of its own data only
    (each block fitted alone, then combined exactly), ``epochs`` times over."""
    family = family_of(template)
    fitted, states = None, []
    for p in parts:
        if _trains(p):
            est = clone(template).partial_fit(p.X, p.y, **fit_kwargs, **_weights_of(p))
            states.append(get_state(est))
            fitted = est if fitted is None else fitted
    return set_state(fitted, combine_states(family, states * epochs))


def _feature_moments(parts) -> list:
    """The unweighted moments of each of a group's blocks' training rows
    (zero-weight rows too, as ``GaussianNB.fit`` counts them for ``epsilon_``)."""
    return [feature_moments(p.X) for p in parts if p.X.shape[0]]


def _local_classes(parts):
    """A group's class labels; for a label indicator matrix (2-D y), its
    columns, as scikit-learn's ``unique_labels`` and multilabel
    ``partial_fit`` count them."""
    ys = [np.asarray(a) for p in parts for a in (p.y, p.y_val)]
    if ys and ys[0].ndim == 2 and ys[0].shape[1] > 1:  # (one column: labels, as scikit-learn ravels it)
        return np.arange(ys[0].shape[1])
    return np.unique(np.concatenate([np.unique(a) for a in ys]))


def _validation_targets(parts):
    """A group's held-out targets, and their weights (None without)."""
    y_val = np.concatenate([np.asarray(p.y_val) for p in parts])
    if parts[0].w_val is None:
        return y_val, None
    return y_val, np.concatenate([np.asarray(p.w_val) for p in parts])


def _validation_rows(parts):
    """A group's held-out rows of X (for a scorer of the user's own)."""
    return np.concatenate([p.X_val for p in parts])


def _respond(parts, model, method):
    out = [getattr(model, method)(p.X_val) for p in parts if p.y_val.shape[0]]
    return np.concatenate(out)


# ------------------------------------------------------- validation scoring
class _NoX:
    """Placeholder for X in a scorer call: responses are computed remotely."""

    def __repr__(self):
        return "<validation rows on the workers>"


# ------------------------------------------------------------- validation
def _check_int(owner, name, value, low, allow_none=False):
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low
    if not ok and not (allow_none and value is None):
        none = " or None" if allow_none else ""
        raise InvalidParameterError(f"{owner}: {name} must be an int >= {low}{none}, got {value!r}.")


def _check_real(owner, name, value, low, high=None, allow_none=False, high_open=False):
    if allow_none and value is None:
        return
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    ok = ok and value >= low and (high is None or (value < high if high_open else value <= high))
    if not ok:
        rng = f">= {low}" if high is None else f"in [{low}, {high}{')' if high_open else ']'}"
        none = " or None" if allow_none else ""
        raise InvalidParameterError(f"{owner}: {name} must be a number {rng}{none}, got {value!r}.")


def _is_dask(obj) -> bool:
    from dask import is_dask_collection

    return is_dask_collection(obj)


def _as_array(data, name):
    """A dask array from a dask array, dask DataFrame/Series or in-memory array."""
    if _is_dask(data):
        from dasklearn._runtime._reduce import as_dask_array

        _blockwise.check_dask_kind(data, name, "DataParallel")
        return as_dask_array(data)  # dask DataFrame / Series: one pass for the lengths
    if hasattr(data, "to_numpy"):
        data = data.to_numpy()
    arr = np.asarray(data)
    if arr.dtype == object and arr.ndim == 0:
        raise TypeError(f"{name} must be an array-like or a dask array, got {type(data).__name__}.")
    return arr


# ----------------------------------------------------------------- estimator
class DataParallel(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Train an estimator on all workers at once, averaging or merging models.

    The row blocks of ``X`` are split into one *group* per worker:
    contiguous ranges of blocks with about equal rows. Each group is placed
    on one worker once, and every round a task on that worker runs
    ``partial_fit`` over the group's blocks (tasks go to the data: blocks
    never move after they are placed), starting from the current global
    model. The groups' models are gathered, merged in group order (averaged,
    weighted by the samples each saw or, with ``sample_weight``, by their
    total weight; combined exactly for naive Bayes)
    and broadcast back for the next round. Training stops after
    ``max_rounds`` rounds or when the score on held-out validation rows
    stops improving. A worker lost during the fit (killed, or restarted by
    its nanny) neither fails nor stalls it, and does not change the result.

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
        workers' models drift further apart before they are averaged. For
        naive Bayes every pass counts the data again (``local_epochs=2``
        doubles the class counts, as two ``partial_fit`` calls on the same
        rows would).
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
        also the metric of :meth:`score`. A scikit-learn scorer (a name, or
        one made by ``make_scorer``) gets the model's responses computed
        where the held-out rows are; a callable of your own gets the rows
        themselves, brought to the client once (``validation_fraction`` of
        the data). A scorer needing a method the estimator lacks (``neg_log_loss``
        without ``predict_proba``) is refused before any work.
    validation_fraction : float or "auto", default="auto"
        Fraction of the rows of *every block* held out for validation, in
        [0, 1). "auto" is 0.1, and 0 for naive Bayes trained in one round
        (``max_rounds`` None or 1): one round gives the model of ``fit`` on
        all the rows, which a held-out share could not change but would leave
        out. The rows are drawn once, per block, from ``random_state`` and
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
        ``n_jobs`` groups ("virtual workers") trained on threads. None means
        one group, i.e. exactly a sequential ``partial_fit`` pass over the
        blocks. With a Client there is one group per worker present when
        :meth:`fit` starts.

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
    groups_ : list of list of int
        The block indices of each group, in merge order. A function of the
        block sizes and the number of groups only.
    partitions_ : dict of str to list of int
        Which blocks each worker (address, or ``"local-j"``) held at the end
        of the fit (after a worker loss, not where they started).
    n_recoveries_ : int
        Times groups lost with a worker were placed again during the fit
        (0 when no worker was lost).
    classes_ : ndarray
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features of ``X``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X`` (a pandas or dask DataFrame with string column
        names); the merged ``estimator_`` has them too.

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
      state (Adam's moment estimates, SGD's momentum velocities and its
      ``"invscaling"`` learning rate, which follows the group's own count of
      updates rather than the merged ``t_``) is *not* averaged or reset:
      each group keeps its own optimizer state from round to round, inside
      the group's own model, and applies it to the averaged weights. The
      merged model's other fitted attributes (``loss_``, ``loss_curve_``,
      the optimizer) are the first group's, from its latest round.

    With a single group (e.g. ``n_jobs=None`` and no Client) a round is
    exactly a sequential ``partial_fit`` pass over the training rows, block
    by block, continuing from the previous round: the merge returns the
    group's model unchanged.

    **Determinism.** The groups are a function of the block sizes and the
    number of groups (workers) only, the validation rows of a block depend
    only on ``random_state`` and the block's index, and the groups' models
    are merged in group order. So the fitted model depends on the data, the
    parameters and the number of workers, not on which worker holds which
    group, on timing, or on worker losses: two fits on clusters with the
    same number of workers give the same model, bit for bit (given
    ``random_state`` and a deterministic estimator, and a dask graph for
    ``X`` that computes the same blocks each time).

    **State on the workers, and worker loss.** The workers hold the placed
    blocks of their groups (training and validation rows), the merged model
    of the current round and, for MLPs, each group's model of the last round
    (the carrier of its optimizer state). Nothing else survives a round
    there. A copy of every one of these models stays on the client (the
    groups' models are gathered each round anyway, to be merged), and each
    round of a group is a pure function of the merged model, the group's
    blocks and (MLPs) the group's model of the last round. When a worker is
    lost, the task waiting on it is noticed within a fraction of a second
    (the cluster's membership is checked while waiting), its tasks of the
    current step are cancelled, its groups' blocks are computed again from
    the dask graph on the remaining workers (an in-memory ``X`` is part of
    that graph: it is sent again from the client), the lost models are sent
    again from the client's copies, and the lost groups' tasks run again
    with the same inputs. The groups that finished keep their results. So a
    disturbed fit returns the model of the undisturbed one. With fewer
    workers left, several groups share a worker (the number of groups, and
    so the model, stays that of the start); when a worker joins again, whole
    groups are moved once to even out the load.

    **What crosses the network.** Once, at placement: the blocks, computed
    on the worker of their group (blocks already held elsewhere, e.g. of a
    persisted ``X``, are copied there once; when ``X`` is a persisted dask
    array, as ``persist`` left it, the groups are given to the workers so
    that the most rows stay where they are, each worker taking an even
    share of the groups). Per round: the merged model
    (the fitted estimator, i.e. its parameters plus scikit-learn's
    bookkeeping) goes to every worker; each group sends back its model
    (the parameters, or the naive Bayes statistics, plus scikit-learn's
    bookkeeping; MLPs: also their optimizer state, which stays on the
    worker too); with validation, each group sends the merged model's
    responses for its validation rows (one value, or one row of
    probabilities, per row; the validation targets are fetched once). ``X``
    never crosses the network after placement unless a worker is lost.

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
                 scoring=None, validation_fraction="auto", random_state=None, n_jobs=None):
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
        _validation.check_instance(name, est)
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
        if isinstance(self.validation_fraction, str) and self.validation_fraction != "auto":
            raise InvalidParameterError(f"{name}: validation_fraction must be 'auto' or a number in [0, 1), "
                                        f"got {self.validation_fraction!r}.")
        if not isinstance(self.validation_fraction, str):
            _check_real(name, "validation_fraction", self.validation_fraction, 0.0, 1.0, high_open=True)
        if self.n_jobs is not None and (not isinstance(self.n_jobs, numbers.Integral) or self.n_jobs == 0
                                        or isinstance(self.n_jobs, bool)):
            raise InvalidParameterError(f"{name}: n_jobs must be None or a non-zero int, got {self.n_jobs!r}.")
        if not (self.scoring is None or isinstance(self.scoring, str) or callable(self.scoring)):
            raise InvalidParameterError(
                f"{name}: scoring must be None, a scorer name or a callable scorer(estimator, X, y), "
                f"got {self.scoring!r}."
            )
        try:
            scorer = self._scorer(est)  # an unknown scorer name fails here
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(
                f"{name}: invalid scoring={self.scoring!r}: {exc} Use None, a name from "
                "sklearn.metrics.get_scorer_names() or a callable scorer(estimator, X, y)."
            ) from exc
        self._check_scorer_responses(scorer, est)
        _validation.check_random_state_param(self.random_state, name)
        return family

    def _check_scorer_responses(self, scorer, est):
        """A scikit-learn scorer needing a response method the estimator does
        not have (``neg_log_loss`` of a hinge-loss SGDClassifier, which has
        no ``predict_proba``) is refused here, before any work: the scorer is
        called on a probe with the estimator's methods, and stops at the
        first one it asks for."""
        if _validation.users_callable(scorer):
            return
        classifier = is_classifier(est)
        probe = Responses(est, ask)  # the unfitted model, whose responses raise Asked
        if classifier:
            probe.classes_ = np.array([0, 1])
        try:
            scorer(probe, np.zeros((2, 1)), np.array([0, 1]) if classifier else np.array([0.0, 1.0]))
        except AttributeError:
            if probe.missing:
                raise InvalidParameterError(
                    f"{type(self).__name__}: scoring={self.scoring!r} asks the model for "
                    f"{' or '.join(dict.fromkeys(probe.missing))}, which {type(est).__name__} does not "
                    f"have with these parameters. Use a scorer it supports (e.g. "
                    f"scoring={'accuracy' if classifier else 'r2'!r}), or an estimator with that method."
                ) from None
        except Exception:  # it asked for a method the estimator has (or the probe cannot tell)
            pass

    def _scorer(self, est):
        from sklearn.metrics import check_scoring

        scoring = self.scoring
        if scoring is None:  # what the supported estimators' score methods compute
            scoring = "accuracy" if is_classifier(est) else "r2"
        return check_scoring(est, scoring=scoring)

    def _check_data(self, X, y, classes, n_groups):
        name = type(self).__name__
        import dask.array as da

        if y is None:
            raise ValueError(f"{name} requires y to be passed, but the target y is None. Pass the "
                             "targets, one per row of X.")
        _validation.reject_sparse(name, X)
        X, y = _as_array(X, "X"), _as_array(y, "y")
        _validation.check_2d(X.shape, name)
        if y.ndim not in (1, 2):
            raise ValueError(f"{name}: y must be 1-D (or 2-D for multi-output), got shape {y.shape}.")
        if y.ndim == 2 and y.shape[1] != 1 and family_of(self.estimator) != "mlp":
            raise ValueError(
                f"{name}: y has shape {y.shape}, but {type(self.estimator).__name__} fits one target: "
                "pass y of shape (n_samples,). (MLPClassifier / MLPRegressor take several outputs.)"
            )
        from dasklearn._runtime._partitions import check_known_rows

        check_known_rows([X, y], name)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{name}: X and y have different numbers of rows: {X.shape[0]} and {y.shape[0]}.")
        if not isinstance(X, da.Array):
            # in memory: NaN / inf the estimator refuses are named here, before any work
            _validation.raise_for_nonfinite(self.estimator, _validation.finite_report(X))
            rows = max(1, math.ceil(X.shape[0] / n_groups))  # one block per group
            X = da.from_array(X, chunks=(rows, -1))
        if not isinstance(y, da.Array):
            y = da.from_array(y, chunks=(X.chunks[0],) + ((-1,) if y.ndim == 2 else ()))
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

    def _check_weights(self, sample_weight, X):
        """None, or the weights as a dask array with X's row chunks; in-memory
        weights are checked here, dask ones where their blocks are."""
        import dask.array as da
        import inspect

        if sample_weight is None:
            return None
        name, est_name = type(self).__name__, type(self.estimator).__name__
        if "sample_weight" not in inspect.signature(self.estimator.partial_fit).parameters:
            raise TypeError(f"{name} cannot pass sample_weight to {est_name}.partial_fit, which does not "
                            "take it. Fit without sample_weight, or use an estimator whose partial_fit "
                            "takes it (SGDClassifier, GaussianNB, MLPClassifier, ...).")
        if not _is_dask(sample_weight):
            # as an ndarray first: array-likes may have __array__ but refuse numpy's functions
            sample_weight = np.asarray(sample_weight)
        if not _is_dask(sample_weight) and sample_weight.ndim == 0:
            value = sample_weight.item()
            if not (_validation.is_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: a single sample_weight must be a finite number > 0, got {value!r}.")
            return da.full(X.shape[0], float(value), chunks=X.chunks[0])
        w = _as_array(sample_weight, "sample_weight")
        if w.ndim != 1 or (not math.isnan(w.shape[0]) and w.shape[0] != X.shape[0]):
            raise ValueError(f"{name}: sample_weight must have shape ({X.shape[0]},), one weight per row "
                             f"of X; got shape {w.shape}.")
        if np.dtype(w.dtype).kind not in "biuf":
            raise ValueError(f"{name}: sample_weight must be numeric, got dtype {w.dtype}.")
        if not isinstance(w, da.Array):
            w = np.asarray(w, dtype=np.float64)
            if not (np.isfinite(w).all() and (w >= 0).all()):
                raise ValueError(f"{name}: sample_weight must be finite and non-negative. Check the weights.")
            return da.from_array(w, chunks=(X.chunks[0],))
        return w if w.chunks[0] == X.chunks[0] else w.rechunk({0: X.chunks[0]})

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, classes=None, sample_weight=None):
        """Train on all workers in synchronised rounds.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), or array-like
            Training data. A dask array is used block by block where its
            blocks are; an in-memory array is split into one block per worker.
            dask DataFrames are converted with ``to_dask_array(lengths=True)``
            (one pass to find the partition lengths). A DataFrame's column
            names are kept: predicting on other columns is an error.
        y : dask array of shape (n_samples,) or (n_samples, n_outputs), or array-like
            Targets, with the same row blocks as ``X`` (rechunked otherwise).
        classes : array-like or None, default=None
            All class labels (classifiers). If None they are found with one
            extra pass over ``y`` on the workers.
        sample_weight : dask array of shape (n_samples,), array-like, float or None, default=None
            Non-negative weights of the rows, cut into X's blocks: each
            ``partial_fit`` gets its rows' weights, the averaged models are
            weighted by each worker's total training weight (not its rows),
            and validation scores are weighted too. The estimator's
            ``partial_fit`` must take ``sample_weight``.

        Returns
        -------
        self : DataParallel
            Fitted.
        """
        from dasklearn._runtime._partitions import place_blocks, worker_count

        family = self._check_params()
        # X's number and names of features, as scikit-learn records them
        validate_data(self, _validation.feature_view(X), reset=True, skip_check_array=True)
        # the number of groups is fixed for the whole fit: the model depends on it
        n_groups = worker_count(self.n_jobs)
        X, y, classes = self._check_data(X, y, classes, n_groups)
        w = self._check_weights(sample_weight, X)
        classifier = is_classifier(self.estimator)
        exact = family not in AVERAGED_FAMILIES
        max_rounds = self.max_rounds if self.max_rounds is not None else (1 if exact else 20)
        fraction = self._validation_fraction(exact, max_rounds)

        rng = check_random_state(self.random_state)
        split_seed = int(rng.randint(np.iinfo(np.int32).max))
        template = clone(self.estimator)
        # an MLPClassifier's warm_start only demands, in partial_fit, that every call
        # see every class, which blocks seldom do: trained without it (each round
        # continues the model anyway), and given back with it
        warm_start = family == "mlp" and template.get_params(deep=False).get("warm_start", False)
        if warm_start:
            template.set_params(warm_start=False)
        if "random_state" in template.get_params(deep=False) and template.random_state is None:
            template.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
        scorer = self._scorer(self.estimator) if fraction > 0 else None
        weigh_scores = w is not None and scorer is not None and self._scorer_takes_weights(scorer)

        split_args = (fraction, split_seed)
        parts = (place_blocks([X, y], _split_block, split_args, n_groups=n_groups) if w is None
                 else place_blocks([X, y, w], _split_weighted_block, split_args, n_groups=n_groups))
        try:
            if classifier and classes is None:
                found = parts.run(_local_classes, {g: () for g in parts.groups})
                classes = np.unique(np.concatenate([found[g] for g in parts.groups]))
                if classes.size < 2 and family == "linear":
                    raise ValueError(
                        f"{type(self).__name__}: y holds one class only ({classes!r}); "
                        f"{type(self.estimator).__name__} needs at least 2. Pass data with several "
                        "classes, or all the labels with classes=."
                    )
            self._rounds(parts, family, template, scorer, classes, max_rounds, fraction,
                         weighted=w is not None, weigh_scores=weigh_scores)
            self.groups_ = [list(parts.blocks[g]) for g in parts.groups]
            self.partitions_ = parts.placement()
            self.n_recoveries_ = parts.n_recoveries
        finally:
            parts.close()
        if warm_start:
            self.estimator_.set_params(warm_start=True)
        if hasattr(self, "feature_names_in_"):  # recorded with n_features_in_ by validate_data
            # the blocks were fitted as arrays: the merged model checks the
            # names of what it predicts on, as if fitted on the DataFrame
            self.estimator_.feature_names_in_ = self.feature_names_in_
        return self

    def _validation_fraction(self, exact, max_rounds) -> float:
        """``validation_fraction``, "auto" resolved (see its doc)."""
        if isinstance(self.validation_fraction, str):
            return 0.0 if exact and max_rounds == 1 else 0.1
        return float(self.validation_fraction)

    def _scorer_takes_weights(self, scorer) -> bool:
        """Validation scores are weighted when the rows are; a callable of the
        user's own that takes no ``sample_weight`` scores them unweighted,
        and says so (before any work)."""
        import inspect

        if not _validation.users_callable(scorer):
            return True
        try:
            params = inspect.signature(scorer).parameters.values()
        except (TypeError, ValueError):  # no signature to read: try it as documented
            return True
        if any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in params):
            return True
        warnings.warn(
            f"{type(self).__name__}: scoring={scorer!r} takes no sample_weight, so the validation "
            "scores are not weighted. Give it a sample_weight=None keyword to weight them.",
            UserWarning, stacklevel=3,
        )
        return False

    def _rounds(self, parts, family, template, scorer, classes, max_rounds, fraction,
                weighted=False, weigh_scores=True):
        exact = family not in AVERAGED_FAMILIES
        keep_local = family == "mlp"  # the per-group optimizer state lives in the group's model
        epochs = self.local_epochs
        fit_kwargs = {"classes": classes} if is_classifier(self.estimator) else {}
        groups = parts.groups
        n_val = {g: sum(_n_validation(parts.rows[i], fraction) for i in parts.blocks[g])
                 for g in groups}
        n_train = {g: sum(parts.rows[i] for i in parts.blocks[g]) - n_val[g] for g in groups}
        active = [g for g in groups if n_train[g] > 0]
        if not active:
            raise ValueError(f"{type(self).__name__}: no training rows (every block is too small "
                             "or held out for validation). Lower validation_fraction.")
        # what each group's model is weighted by in the average: its rows, or their total weight
        share = {g: n_train[g] for g in active}
        if weighted:  # groups whose rows all weigh zero train nothing
            share = parts.run(_train_weight, {g: () for g in active})
            active = [g for g in active if share[g] > 0]
            if not active:
                raise ValueError(f"{type(self).__name__}: the training rows' sample_weight sums to zero. "
                                 "Give some training rows a positive weight.")
        x_var = None  # GaussianNB's epsilon_ comes from X's unweighted variance
        if weighted and family == "gaussian_nb":
            got = parts.run(_feature_moments, {g: () for g in groups})
            x_var = combine_states(family, [m for g in groups for m in got[g]])["var_"][0]
        val_groups = [g for g in groups if n_val[g] > 0] if scorer is not None else []
        y_val = w_val = None
        if val_groups:
            got = parts.run(_validation_targets, {g: () for g in val_groups})
            y_val = np.concatenate([got[g][0] for g in val_groups])
            if weighted and weigh_scores:
                w_val = np.concatenate([got[g][1] for g in val_groups])
                if not w_val.sum() > 0:  # held-out rows of no weight: nothing to score them by
                    val_groups, y_val, w_val = [], None, None

        shared = None  # the merged model, on every worker

        def respond(method):
            got = parts.run(_respond, {g: (shared, method) for g in val_groups})
            return np.concatenate([got[g] for g in val_groups])

        X_val = None  # a scorer of the user's own gets the held-out rows, brought here once
        if val_groups and _validation.users_callable(scorer):
            got = parts.run(_validation_rows, {g: () for g in val_groups})
            X_val = np.concatenate([got[g] for g in val_groups])

        local: dict = {}  # MLPs: each group's own model (Held), continued next round
        model = state = None
        best, no_improvement = -np.inf, 0
        self.history_ = []
        try:
            for r in range(1, max_rounds + 1):
                start = time.perf_counter()
                if exact:  # naive Bayes groups start afresh each round: nothing to keep
                    fitted = parts.run(_train_exact, {g: (template, epochs, fit_kwargs) for g in active})
                else:
                    args = {g: (local.get(g, template) if (keep_local or r == 1) else None,
                                shared, epochs, fit_kwargs) for g in active}
                    out = parts.run(_train_averaged, args, keep=keep_local)
                    if keep_local:
                        parts.release(local)
                        local = out
                    fitted = {g: (h.value if keep_local else h) for g, h in out.items()}
                # the first group's latest model carries the merged model's other
                # fitted attributes (an MLP's loss_curve_ and optimizer, say)
                model = copy.deepcopy(fitted[active[0]])
                # merged in group order: the result does not depend on where groups ran
                new_state = merge_states(family, [get_state(fitted[g]) for g in active],
                                         [share[g] * epochs for g in active], state)
                if x_var is not None:
                    new_state["x_var_"] = x_var
                change = param_change(family, state, new_state)
                state = new_state
                set_state(model, state)
                if val_groups or r < max_rounds:
                    old, shared = shared, parts.share(model)
                    parts.release(old)
                score = None
                if val_groups:
                    def validation_score(kw):
                        return (scorer(model, X_val, y_val, **kw) if X_val is not None
                                else scorer(Responses(model, lambda name, X: respond(name)), _NoX(), y_val, **kw))
                    try:
                        value = validation_score({} if w_val is None else {"sample_weight": w_val})
                    except TypeError as exc:  # a metric (make_scorer's) that takes no sample_weight
                        if w_val is None or "sample_weight" not in str(exc):
                            raise
                        warnings.warn(f"{type(self).__name__}: scoring={self.scoring!r} takes no sample_weight "
                                      f"({exc}), so the validation scores are not weighted.", UserWarning,
                                      stacklevel=3)
                        w_val = None
                        value = validation_score({})
                    score = _validation.score_number(value, scorer)
                self.history_.append({"round": r, "score": score, "param_change": change,
                                      "n_samples": int(sum(n_train[g] for g in active) * epochs),
                                      "time": time.perf_counter() - start})
                if score is not None:
                    no_improvement = no_improvement + 1 if (self.tol is not None and score < best + self.tol) else 0
                    best = max(best, score)
                    if self.tol is not None and no_improvement >= self.n_iter_no_change:
                        break
        finally:
            parts.release(local)
            parts.release(shared)
        self.estimator_ = model
        self.n_rounds_ = len(self.history_)
        self.best_score_ = None if best == -np.inf else float(best)

    # --------------------------------------------------- after fitting
    def score(self, X, y, sample_weight=None):
        """Score of the merged model with ``scoring`` (accuracy or R² by default).

        Responses are computed blockwise where X's blocks are; only they, y
        and the weights come to the client.

        Parameters
        ----------
        X : dask array or array-like of shape (n_samples, n_features)
        y : dask array or array-like of shape (n_samples,)
        sample_weight : dask array or array-like of shape (n_samples,), default=None
            Sample weights, passed to the scorer (computed first if dask).

        Returns
        -------
        score : float
        """
        from dasklearn._blockwise import compute_here, score

        check_is_fitted(self, "estimator_")
        kw = {} if sample_weight is None else {"sample_weight": compute_here(sample_weight)[0]}
        return score(self._scorer(self.estimator_), self.estimator_, X, y, **kw)

    @property
    def classes_(self):
        """Class labels of the merged classifier."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # the inner estimator's kind (DelegateMixin)
        tags.target_tags.required = True
        tags.input_tags.sparse = False  # X is split into dense blocks
        return tags
