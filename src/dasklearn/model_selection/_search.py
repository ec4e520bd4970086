"""Distributed GridSearchCV and RandomizedSearchCV.

Execution model
---------------
``fit`` validates everything on the client first (parameter names, scoring,
refit, the splits), then places the data on the cluster once: a numpy /
pandas input is scattered to one worker and fetched by each other worker the
first time one of its tasks needs it; a dask input is computed *on the
workers* (it never passes through the client): a dask array of large row
blocks stays in its blocks, which each worker gathers from its peers and cuts
its folds from (see :mod:`dasklearn._runtime._rows`); other dask input is
concatenated on one worker. Each training fold must fit in one worker's
memory. For data larger than that,
use :class:`dasklearn.wrappers.Incremental` or the data-parallel estimators.

Every (candidate, split) fit then runs as part of a task on the cluster.
Short fits are packed into batches whose size adapts to the measured fit time
(see :mod:`dasklearn._runtime._batching`), so scheduling overhead does not
dominate. With no active ``dask.distributed.Client``, the same code runs on
local threads (``n_jobs`` of them).

A :class:`~sklearn.pipeline.Pipeline` whose leading steps are not touched by
any candidate has those steps fitted once per split, and only the remaining
steps fitted per candidate -- unless there are fit parameters or a scorer not
given by name (it may look at the whole pipeline); on a split where those
steps fail, each candidate fits the whole pipeline, as scikit-learn would.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import os
import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, MetaEstimatorMixin, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import (GroupKFold, KFold, ParameterGrid, ParameterSampler, StratifiedGroupKFold,
                                     StratifiedKFold, check_cv)
from sklearn.pipeline import Pipeline
from sklearn.utils import indexable
from sklearn.utils import metadata_routing
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_is_fitted

from dasklearn import _blockwise, _validation
from dasklearn._validation import InvalidParameterError
from dasklearn._delegation import DelegateMixin
from dasklearn._runtime import Progress, call, get_backend, run_batched
from dasklearn.exceptions import ClientClosed, WorkersLost
from dasklearn.model_selection import _fit
from dasklearn.model_selection._candidates import check_param_names, expand_param_grid, param_dicts
from dasklearn.model_selection._checkpoint import Checkpoint, fingerprints
from dasklearn.model_selection._params import store_init_args
from dasklearn.model_selection._results import _rank, build_cv_results, scorer_names


_K_FOLD = (KFold, StratifiedKFold, GroupKFold, StratifiedGroupKFold)  # n_splits folds of the samples


def _takes_weights(scorer) -> bool:
    """Does the user's callable (or, for ``scoring=None``, the estimator's
    ``score``) name ``sample_weight`` (scikit-learn's rule; ``**kwargs`` do
    not count)?"""
    try:
        return "sample_weight" in inspect.signature(scorer).parameters
    except (TypeError, ValueError):  # no signature to read
        return False


def _metric_takes_weights(scorer) -> bool | None:
    """Does a scikit-learn scorer's metric name ``sample_weight`` (a
    ``**kwargs`` does not count, as scikit-learn decides whether its search
    weights the scores)? Read from the scorer's public metadata request, which
    lists the metric's parameters; None when the scorer does not say (its
    call then tells, see ``_fit._call_scorer``)."""
    try:
        requests = scorer.get_metadata_routing().score.requests
    except Exception:  # not a scorer made by make_scorer / get_scorer
        return None
    return "sample_weight" in requests


def _check_has_rows(X, name: str) -> None:
    """A dask collection the search can count and split the rows of (an
    array or a DataFrame / Series; not a Delayed, whose every attribute is
    another Delayed, nor a Bag)."""
    from dask.delayed import Delayed

    if _blockwise.is_dask(X) and (isinstance(X, Delayed) or not (_blockwise.is_dask_array(X) or hasattr(X, "divisions"))):
        raise TypeError(
            f"{name} is a dask {type(X).__name__}, whose rows the search cannot count or split. "
            f"Pass a dask array (da.from_delayed({name}, shape=..., dtype=...)), a dask "
            f"DataFrame, or {name}.compute()."
        )


def _count_rows(*collections) -> list:
    """Rows of each collection (None for None): dask DataFrames and Series,
    whose rows are counted by computing, are counted in one computation
    (one pass of the scheduler instead of one per frame)."""
    import dask

    counted = [i for i, c in enumerate(collections)
               if _blockwise.is_dask(c) and not _blockwise.is_dask_array(c)]
    lengths = dict(zip(counted, dask.compute(*(collections[i].shape[0] for i in counted)))) if counted else {}

    def rows(i, c):  # (dask arrays: with known row chunks, see _with_known_rows)
        if c is None or i in lengths:
            return None if c is None else int(lengths[i])
        return int(c.shape[0]) if hasattr(c, "shape") and len(c.shape) else len(c)

    return [rows(i, c) for i, c in enumerate(collections)]


def _with_known_rows(X, y) -> tuple:
    """(X, y), where dask input whose rows must be counted by computing it
    is persisted first, so that it is computed once: a dask array of unknown
    row chunk sizes (after boolean indexing, or ``ddf.values``), with its
    chunk sizes then computed, and a dask DataFrame or Series not persisted
    already (``len`` runs its whole graph; counting X, counting y and placing
    them ran a graph shared by X and y three times). The dask input among X
    and y (but what is persisted already) is persisted together, so that
    work they share (a mask, a common source) runs once; the search reads it
    whole anyway. The caller's collections are left as they are."""
    from dask.array import Array

    from dasklearn._runtime._compute import _holds_futures as holds_futures

    def unknown_rows(a) -> bool:
        return isinstance(a, Array) and a.ndim > 0 and bool(np.isnan(a.shape[0]))

    def counted_by_computing(a) -> bool:  # (a frame persisted already is counted from its futures)
        return unknown_rows(a) or (_blockwise.is_dask(a) and hasattr(a, "divisions") and not holds_futures([a]))

    if not any(counted_by_computing(a) for a in (X, y)):
        return X, y
    import dask

    which = [a for a in (X, y) if _blockwise.is_dask(a) and (unknown_rows(a) or not holds_futures([a]))]
    from dasklearn._runtime._compute import by_kind

    persisted = {id(which[i]): p for idx in by_kind(which) for i, p in zip(idx, dask.persist(*(which[i] for i in idx)))}
    for a in persisted.values():
        if unknown_rows(a):
            a.compute_chunk_sizes()  # from the persisted blocks: one small task each
    return tuple(persisted.get(id(a), a) for a in (X, y))


def _routing_enabled() -> bool:
    """Is scikit-learn's metadata routing on (``set_config(enable_metadata_routing=True)``)?"""
    from sklearn import get_config

    return bool(get_config().get("enable_metadata_routing", False))


def _unless_a_candidate_takes_it(check, estimator, candidates):
    """``check(estimator)``: a check of X before any work is sent, which
    raises (TypeError / ValueError) when X does not suit the estimator. When
    it does, the candidates are asked too, since their parameters may change
    what the estimator takes (a grid that replaces a Pipeline's first step
    by an imputer or encoder, say): if one of them takes X, the check
    passes, and the fits of the others fail with ``error_score``, as in
    scikit-learn's search. The error is raised only when none would take it."""
    try:
        return check(estimator)
    except (TypeError, ValueError) as exc:
        for params in candidates:
            if not params:
                continue  # the estimator as it is: just rejected
            try:
                candidate = _fit.new_model(estimator, params)
            except Exception:  # its fit will say so
                continue
            try:
                return check(candidate)
            except (TypeError, ValueError):
                continue
        raise exc


def _local_copy(obj):
    """y-like objects are small (one value per sample): bring them here."""
    if obj is None:
        return None
    if _blockwise.is_dask(obj):
        obj = obj.compute()
    if isinstance(obj, list):
        obj = np.asarray(obj)
    return obj


def _prefix_length(estimator, candidates) -> int:
    """Number of leading Pipeline steps no candidate changes (0: no reuse).

    Only for scikit-learn's own Pipeline: the shared steps and the rest are
    fitted as plain Pipelines, which would drop what a subclass changes (its
    own predict, or imbalanced-learn's samplers between the steps)."""
    if type(estimator) is not Pipeline or len(estimator.steps) < 2:
        return 0
    position = {name: i for i, (name, _) in enumerate(estimator.steps)}
    first_touched = len(estimator.steps) - 1  # the final step is always refitted
    for params in candidates:
        for key in params:
            step = key.split("__", 1)[0]
            if step not in position:
                return 0  # a pipeline-level parameter (steps, memory, ...) changes
            first_touched = min(first_touched, position[step])
    prefix = estimator.steps[:first_touched]
    if any(step in (None, "passthrough") for _, step in prefix):
        return 0
    return first_touched


class BaseSearchCV(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Shared machinery of the distributed searches; subclasses choose candidates."""

    # fit's ``groups`` goes to the splitter by get_metadata_routing, as in
    # scikit-learn's searches: no set_fit_request(groups=...) of its own
    __metadata_request__fit = {"groups": metadata_routing.UNUSED}

    # The parameters both searches have, and their defaults. Each public
    # search lists them again in its own signature, which scikit-learn reads,
    # and stores its arguments with store_init_args; fit validates them.
    def __init__(self, estimator, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, checkpoint=None):
        store_init_args(self, locals())

    # -- subclass hook -------------------------------------------------------
    def _candidates(self) -> list[dict]:
        raise NotImplementedError

    # -- validation ----------------------------------------------------------
    def _check_params(self):
        _validation.check_instance(type(self).__name__, self.estimator)
        if not hasattr(self.estimator, "fit"):
            raise TypeError(
                f"estimator must be a scikit-learn estimator with a fit method; got "
                f"{type(self.estimator).__name__}."
            )
        if not (isinstance(self.error_score, numbers.Number) or self.error_score == "raise"):
            raise InvalidParameterError(
                f"error_score must be 'raise' or a number (e.g. np.nan); got {self.error_score!r}."
            )
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise InvalidParameterError(f"verbose must be an int >= 0 (or a bool); got {self.verbose!r}.")
        if not isinstance(self.pre_dispatch, (numbers.Integral, str)):
            raise InvalidParameterError(
                f"pre_dispatch must be an int or a str such as '2*n_jobs' (scikit-learn's parameter, "
                f"accepted for compatibility: dasklearn sizes its batches itself); got {self.pre_dispatch!r}."
            )
        if not (isinstance(self.refit, (bool, np.bool_, str)) or callable(self.refit)):
            raise InvalidParameterError(
                f"refit must be True, False, a metric name (str) or a callable; got {self.refit!r}."
            )
        if not isinstance(self.return_train_score, (bool, np.bool_)):
            raise InvalidParameterError(f"return_train_score must be True or False; got {self.return_train_score!r}.")
        if self.n_jobs is not None and (not isinstance(self.n_jobs, numbers.Integral)
                                        or isinstance(self.n_jobs, bool) or self.n_jobs == 0):
            raise InvalidParameterError(
                f"n_jobs must be None or a nonzero int (local threads without a Client; -1: one per "
                f"CPU); got {self.n_jobs!r}."
            )
        cv = self.cv
        if isinstance(cv, type):
            raise InvalidParameterError(
                f"cv must be a splitter instance, got the class {cv.__name__} itself. Pass "
                f"{cv.__name__}(...) (e.g. {cv.__name__}(n_splits=5)), an int or None."
            )
        if not (cv is None or (isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv >= 2)
                or (hasattr(cv, "split") and hasattr(cv, "get_n_splits"))
                or (isinstance(cv, Iterable) and not isinstance(cv, (str, bytes, numbers.Number)))):
            raise InvalidParameterError(
                f"cv must be None, an int >= 2 (folds), a splitter with split and get_n_splits "
                f"(e.g. KFold(5)) or an iterable of (train, test) index pairs; got {cv!r}."
            )
        if self.checkpoint is not None:
            self._check_checkpoint()

    def _check_checkpoint(self):
        """A usable path, and a search that draws the same candidates and
        splits when run again (else its file could never be resumed)."""
        path = self.checkpoint
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise InvalidParameterError(f"checkpoint must be None or a file path (str or path-like); got {path!r}.")
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise ValueError(f"checkpoint={path!r}: its directory {folder!r} does not exist. Create it "
                             "first, or pass a path in an existing directory.")
        if os.path.isdir(os.fspath(path)):
            raise ValueError(f"checkpoint={path!r} is a directory; it must be a file path. Pass e.g. "
                             f"checkpoint={os.path.join(os.fspath(path), 'search.ckpt')!r}.")
        if getattr(self, "random_state", 0) is None:
            raise ValueError(
                f"{type(self).__name__}: random_state must be set when checkpoint is given (e.g. "
                "random_state=0): a resumed search must draw the same candidates as the run that "
                "wrote the checkpoint."
            )
        if getattr(self.cv, "random_state", 0) is None and getattr(self.cv, "shuffle", True):
            raise ValueError(
                f"cv={self.cv!r} shuffles with random_state=None, so each run splits differently and "
                "the checkpoint could never be resumed. Give the splitter a random_state (e.g. "
                f"{type(self.cv).__name__}(..., random_state=0))."
            )

    def _scorers(self):
        """(Scoring for the workers, ``scorer_``, metric names or None when not
        known before scoring (a callable), multimetric)"""
        scoring = self.scoring
        if isinstance(scoring, (list, tuple, set)):
            if len(scoring) == 0 or not all(isinstance(s, str) for s in scoring):
                raise InvalidParameterError(
                    f"scoring given as a list must be non-empty and contain only scorer "
                    f"names; got {scoring!r}."
                )
            if len(set(scoring)) != len(scoring):
                raise InvalidParameterError(f"scoring has duplicate names: {scoring!r}.")
            named, multimetric = {name: name for name in scoring}, True
        elif isinstance(scoring, Mapping):
            if not scoring:
                raise InvalidParameterError("scoring given as a dict must not be empty.")
            named, multimetric = dict(scoring), True
        else:
            named, multimetric = None, False
        try:
            metrics = ({name: check_scoring(self.estimator, scoring=s) for name, s in named.items()}
                       if multimetric else None)
            combined = check_scoring(self.estimator, scoring=metrics if multimetric else scoring)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(
                f"Invalid scoring={scoring!r}: {exc} Use a name from "
                "sklearn.metrics.get_scorer_names(), a callable (estimator, X, y) -> "
                "float or dict, or a list / dict of those."
            ) from exc
        names = list(named) if multimetric else (None if callable(scoring) else ["score"])
        if multimetric:
            self._check_refit_metric(names)
        # scikit-learn keeps the scorers by name for several metrics, else the one scorer
        given = named if multimetric else {"score": scoring}
        # (None: the scorer does not say; its call tells, as for a name not in the dict)
        takes_weights = {name: _takes_weights(s) if _validation.users_callable(s)
                         else _metric_takes_weights(metrics[name] if multimetric else combined)
                         for name, s in given.items() if s is not None}
        if scoring is None:  # the estimator's score: weighted if its signature names sample_weight
            takes_weights["score"] = _takes_weights(self.estimator.score)
        by_name = all(s is None or isinstance(s, str) for s in given.values())
        return (_fit.Scoring(combined, metrics, takes_weights, by_name), (metrics if multimetric else combined),
                names, multimetric)

    def set_callbacks(self, *callbacks):
        """Not supported: scikit-learn's callbacks (``sklearn.callback``,
        1.9) follow fits made in the caller's process or joblib's, not on a
        dask cluster."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support scikit-learn's callbacks (set_callbacks) yet: "
            "its fits run on the dask cluster. Use verbose=1 for a progress bar of the fits, and "
            "cv_results_ for their scores; callbacks set on the estimator run in each fit on its own."
        )

    def get_metadata_routing(self):
        """The routing of metadata, as scikit-learn's search routes it: ``fit``
        parameters to the estimator's ``fit``, to the scorer (``score``) and
        to the splitter (``split``); ``score`` parameters to the scorer.

        Returns
        -------
        sklearn.utils.metadata_routing.MetadataRouter
        """
        router = MetadataRouter(owner=type(self).__name__)
        router.add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        router.add(scorer=self._scorers()[0].combined,
                   method_mapping=MethodMapping().add(caller="score", callee="score")
                   .add(caller="fit", callee="score"))
        router.add(splitter=self.cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        return router

    def _check_refit_metric(self, names):
        refit = self.refit
        if not (refit is False or callable(refit) or (isinstance(refit, str) and refit in names)):
            raise ValueError(
                f"With multi-metric scoring {names}, refit must be one of those "
                f"names (the metric that picks the best candidate), False, or a "
                f"callable; got refit={refit!r}."
            )

    # -- fit -----------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, **fit_params):
        """Run fit with all sets of parameters.

        Parameters
        ----------
        X : array-like, DataFrame, dask array or dask DataFrame of shape (n_samples, n_features)
            Training data. A dask input is computed on the workers: an array of
            large row blocks stays in its blocks (each worker gathers them),
            other dask input is concatenated on one worker.
        y : array-like or dask array of shape (n_samples,), default=None
            Target. It is brought to the client once (one value per sample)
            to make the splits, as scikit-learn's splitters need it.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware splitters.
        **fit_params : dict
            Passed to the estimator's fit; sample-aligned arrays are sliced
            to each training fold. ``sample_weight`` also reaches the scorers
            that take it (test and train folds), as in scikit-learn.

        Returns
        -------
        self : object
        """
        self._check_params()
        candidates = self._candidates()
        if not candidates:
            raise ValueError(
                "No fits were performed: there are no candidates (the parameter grid or "
                "distributions are empty). Pass at least one candidate, e.g. param_grid={}."
            )
        check_param_names(self.estimator, candidates)
        scoring, scorer_, names, multimetric = self._scorers()
        split_params = {}
        if _routing_enabled():  # as scikit-learn routes them; refused before any work if not requested
            routed = process_routing(self, "fit", **fit_params, **({} if groups is None else {"groups": groups}))
            fit_params, split_params = dict(routed.estimator.fit), dict(routed.splitter.split)
            groups = split_params.pop("groups", None)  # the rest: what the splitter requested besides
            if scoring.metrics is not None:  # each metric's request, checked here (each fold's scoring routes so)
                process_routing(scoring.combined, "score", **routed.scorer.score)
            scoring = dataclasses.replace(scoring, routed={
                k: _local_copy(v) if _blockwise.is_dask(v) else v for k, v in routed.scorer.score.items()})
        if X is None or isinstance(X, (str, bytes, numbers.Number)) or (
                isinstance(X, dict) and not scipy.sparse.issparse(X)):  # (a scipy dok array is a dict)
            raise TypeError(f"X must be array-like (a numpy array, a pandas or dask DataFrame, a dask array, "
                            f"a list of samples); got {type(X).__name__}. Pass the training data as X.")
        # in-memory input made indexable as scikit-learn's search does (sparse -> CSR,
        # array-likes without len -> arrays); dask collections are left as they are
        X, y, groups = (v if _blockwise.is_dask(v) else indexable(v)[0] for v in (X, y, groups))
        _check_has_rows(X, "X")
        _check_has_rows(y, "y")
        X = _unless_a_candidate_takes_it(  # (before anything computes dask input: counting its rows)
            lambda est: _validation.check_numeric(est, X), self.estimator, candidates)
        given = (X, y)
        X, y = _with_known_rows(X, y)
        n_samples, n_y = _count_rows(X, y)
        _validation.check_n_samples(n_samples)

        def check_finite(report):  # (NaN, inf) counts of X, in memory or computed where X is
            _unless_a_candidate_takes_it(
                lambda est: _validation.raise_for_nonfinite(est, report), self.estimator, candidates)

        if not _blockwise.is_dask(X):
            check_finite(_validation.finite_report(X))
        if y is not None and n_y != n_samples:
            raise ValueError(
                f"X and y have different numbers of samples: X has {n_samples}, y has "
                f"{n_y}. Pass a y with one value per row of X."
            )
        # K folds need K samples (a ShuffleSplit may draw more splits than samples)
        n_splits_wanted = (self.cv if isinstance(self.cv, numbers.Integral) and not isinstance(self.cv, bool)
                           else self.cv.n_splits if isinstance(self.cv, _K_FOLD) else None)
        if n_splits_wanted is not None and n_splits_wanted > n_samples:
            raise ValueError(
                f"cv={self.cv!r} asks for {n_splits_wanted} splits but there are only "
                f"{n_samples} samples. Use fewer folds (cv <= {n_samples})."
            )
        fit_params = _fit.indexable_params(
            {k: _local_copy(v) if _blockwise.is_dask(v) else v for k, v in fit_params.items()}, n_samples)

        backend = get_backend(self.n_jobs)
        if backend.remote:
            _validation.check_picklable(self.estimator)
        placed: list = []
        early = None
        try:
            # the data go to the cluster once; dask inputs are computed there, and
            # only y (one value per sample, needed by the splitters) comes back
            # (a large dask array stays in its row blocks, see _runtime._rows)
            (X_h, X_blocks), (y_h, y_blocks) = backend.place_rows(
                X, np.asarray(y) if isinstance(y, list) else y)
            X, y = given  # without the persisted copies (see _with_known_rows): the placed ones are read
            placed += [h for h, blocks in ((X_h, X_blocks), (y_h, y_blocks))
                       for h in ([h[0], *blocks] if blocks is not None else [h])]
            # X is checked where it is, block by block (only two counts come
            # back from each), in the same round trip that brings y
            reports_h = ([backend.submit(_validation.finite_report, b) for b in X_blocks or [X_h]]
                         if _blockwise.is_dask(X) else [])
            placed += reports_h
            y_parts = (y_blocks or [y_h]) if _blockwise.is_dask(y) else []
            fetched = backend.fetch_all([*y_parts, *reports_h])
            y_fetched = (np.concatenate(fetched[:len(y_parts)]) if y_blocks is not None
                         else fetched[0] if y_parts else None)
            y_local = _local_copy(y_fetched) if _blockwise.is_dask(y) else _local_copy(y)
            if reports_h:
                check_finite(tuple(int(sum(counts)) for counts in zip(*fetched[len(y_parts):])))
            cv = check_cv(self.cv, y_local, classifier=is_classifier(self.estimator))
            split_X = np.empty((n_samples, 0)) if _blockwise.is_dask(X) else X
            local_split_params = {k: _local_copy(v) for k, v in split_params.items()}
            local_groups = _local_copy(groups)
            splits = list(cv.split(split_X, y_local, local_groups, **local_split_params))
            n_splits_said = cv.get_n_splits(split_X, y_local, local_groups, **local_split_params)
            if splits and len(splits) != n_splits_said:
                raise ValueError(
                    f"cv.split and cv.get_n_splits returned inconsistent results: expected "
                    f"{n_splits_said} splits, got {len(splits)}. Fix the splitter's get_n_splits."
                )
            if not splits:
                raise ValueError(
                    f"No fits were performed: cv={self.cv!r} gave no splits. Was the CV iterator "
                    "empty (a generator can be used only once)? Pass a splitter such as KFold(3), "
                    "or a list of (train, test) index pairs."
                )
            self.n_splits_ = len(splits)
            ckpt = self._open_checkpoint(candidates, splits, X, y, {
                **fit_params, **{f"scorer:{k}": v for k, v in (scoring.routed or {}).items()}})
            early = _EarlyRefit(self, backend, candidates, len(splits), names, multimetric, (X_h, y_h, fit_params))
            records = self._run_fits(backend, placed, candidates, splits, X_h, y_h, scoring, fit_params, ckpt,
                                     early)
            if names is None:  # a callable scorer: its names are known once it has scored
                names, multimetric = scorer_names(records)
                if multimetric:  # it returned a dict: refit must name one of its metrics
                    self._check_refit_metric(names)
            results = build_cv_results(
                candidates, len(splits), records, names, self.error_score, self.return_train_score
            )
            self._warn_non_finite(results, names)
            self.cv_results_ = results
            self.multimetric_ = multimetric
            self.scorer_ = scorer_
            self._select_best(results, names, multimetric)
            if self.refit:
                model, seconds, recorded = early.result_for(self.best_index_) or call(
                    backend, _fit.fit_final, self.estimator, self.best_params_, X_h, y_h, fit_params)
                _fit.reemit(recorded)
                self.best_estimator_ = model
                self.refit_time_ = seconds
                if hasattr(model, "feature_names_in_"):
                    self.feature_names_in_ = model.feature_names_in_
        finally:
            placed += early.handles() if early is not None else []  # also when the search failed
            backend.release([h for h in placed if h is not None])
            backend.close()
            _fit.FOLDS.clear()  # local threads share this process's fold cache
        return self

    def _open_checkpoint(self, candidates, splits, X, y, fit_params):
        if self.checkpoint is None:
            return None
        # the splits stand for cv (a generator given as cv is used up, and cannot be
        # hashed), the candidates for param_grid / param_distributions (a scipy
        # distribution holds numpy's global RandomState: its hash changes from run
        # to run, and with every draw from it)
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in ("checkpoint", "verbose", "n_jobs", "pre_dispatch", "refit", "cv",
                               "param_grid", "param_distributions")}
        return Checkpoint(self.checkpoint, fingerprints({
            "search class": type(self).__name__, "parameters": params, "candidates": candidates,
            "splits": [(tr, te) for tr, te in splits], "X": X, "y": y, "fit parameters": fit_params}),
            lazy_data=_blockwise.is_dask(X) or _blockwise.is_dask(y))

    def _run_fits(self, backend, placed, candidates, splits, X_h, y_h, scoring, fit_params, ckpt=None,
                  early=None):
        """Every (candidate, split) fit on the backend; records in cv_results_ order.

        With a checkpoint, fits already recorded there are not run again, and
        each new record is appended to it as soon as its task finishes.
        ``early`` (an _EarlyRefit) sees every record as it arrives."""
        n_splits = len(splits)
        records = [None] * (len(candidates) * n_splits)
        if ckpt is not None:
            for entry in ckpt.load():
                # a fit that failed runs again: its cause (memory, a module since
                # fixed) may be gone (failures are not recorded now; older files have them)
                failed = entry["r"].get("error") is not None
                records[entry["c"] * n_splits + entry["s"]] = None if failed else entry["r"]
        progress = Progress(len(candidates) * n_splits, "fits", self.verbose >= 1)
        if backend.dashboard_link:
            progress.note(f"dashboard: {backend.dashboard_link}")
        progress.note(
            f"Fitting {n_splits} folds for each of {len(candidates)} candidates, "
            f"totalling {len(candidates) * n_splits} fits on {backend.n_slots} slots"
        )
        opts = _fit.FitOptions(self.error_score, self.return_train_score)
        # the leading steps are fitted once per split unless a fit parameter
        # or a scorer of the user's (it may look at the pipeline) needs the
        # whole pipeline in each fit
        prefix_len = (0 if fit_params or scoring.routed or not scoring.by_name
                      else _prefix_length(self.estimator, candidates))
        # whether each candidate takes a precomputed kernel (its folds are cut
        # X[train][:, train]), read once per candidate here
        pairwise = [False] * len(candidates) if prefix_len else [
            _fit.is_pairwise(self.estimator, params) for params in candidates]
        # split-major order: consecutive items (one batch) share their folds
        items = [(c, s, candidates[c], pairwise[c]) for s in range(n_splits) for c in range(len(candidates))
                 if records[c * n_splits + s] is None]
        progress.advance(len(records) - len(items))
        if early is not None:
            early.observe([(c, s, records[c * n_splits + s]) for c in range(len(candidates))
                           for s in range(n_splits) if records[c * n_splits + s] is not None])
        if prefix_len:
            prefix = Pipeline(self.estimator.steps[:prefix_len])
            scoring_h, tail_h, whole_h = backend.put_all(
                [scoring, Pipeline(self.estimator.steps[prefix_len:]), self.estimator])
            # only the splits with fits to run (a resumed search may have none left)
            needed = {s for _, s, _, _ in items}
            folds = [backend.submit(_fit.fit_prefix, prefix, X_h, y_h, sp, self.error_score,
                                    self.return_train_score) if s in needed else None
                     for s, sp in enumerate(splits)]
            placed += [scoring_h, tail_h, whole_h, *folds]
            kernel, shared = _fit.fit_and_score_prefolded, (tail_h, whole_h, folds, scoring_h, opts)
        else:
            # fit parameters (sample weights, say) are placed once, as the data are
            scoring_h, splits_h, est_h, params_h = backend.put_all([scoring, splits, self.estimator, fit_params])
            placed += [scoring_h, splits_h, est_h, params_h]
            kernel = _fit.fit_and_score_batch
            shared = (est_h, X_h, y_h, splits_h, params_h, scoring_h, opts)
        metric_names = None if scoring.metrics is None else list(scoring.metrics)  # (several metrics)

        def on_results(idx, recs):
            if self.verbose >= 2:  # scikit-learn's line per fit (with its scores from 3)
                for i, r in zip(idx, recs):
                    progress.line(fit_line(candidates[items[i][0]], items[i][1], n_splits, r, self.verbose,
                                           error_score=self.error_score, metrics=metric_names,
                                           train_scores=self.return_train_score))
            progress.advance(len(idx))
            if early is not None:
                early.observe([(items[i][0], items[i][1], r) for i, r in zip(idx, recs)])
            if ckpt is not None:  # failed fits run again on resuming: recording them would only grow the file
                ckpt.append([{"c": items[i][0], "s": items[i][1], "r": r} for i, r in zip(idx, recs)
                             if r["error"] is None])

        # phase = split (a batch's items share their folds), group = candidate
        # (its fits take alike): each split's fits go longest first
        out = run_batched(backend, kernel, items, shared, on_results=on_results,
                          phase_and_group=lambda item: (item[1], item[0])) if items else []
        for (c, s, *_), rec in zip(items, out):
            records[c * n_splits + s] = rec
        self._record_errors(candidates, records)
        return records

    def _record_errors(self, candidates, records):
        """Warn about failed fits (FitFailedWarning), scorers that could not
        take the sample weights and failed scorers (UserWarning); raise if
        every fit failed."""
        n_splits = self.n_splits_
        failed = [(i, r["error"]) for i, r in enumerate(records) if r["error"]]
        if failed and len(failed) == len(records):
            raise ValueError(
                f"All the {len(records)} fits failed; the search cannot choose a "
                f"candidate. Check the estimator and parameters. First error:\n{failed[0][1]}"
            )
        several = isinstance(self.scoring, (list, tuple, set, Mapping))
        for name in sorted({name for r in records for name in r["weights_dropped"]}):
            scorer = self.scoring[name] if isinstance(self.scoring, Mapping) else name if several else self.scoring
            warnings.warn(
                f"The scoring {f'{name}=' if several else ''}{scorer!r} does not support sample_weight, "
                f"which may lead to statistically incorrect results when fitting {type(self).__name__} "
                "with sample_weight: its scores are unweighted.",
                UserWarning,
                stacklevel=_validation.user_stacklevel(),
            )
        scoring_failed = [(i, r["score_errors"][0]) for i, r in enumerate(records) if r["score_errors"]]
        for bad, what, category in ((failed, "fits failed", FitFailedWarning),
                                    (scoring_failed, "fits could not be scored", UserWarning)):
            if not bad:
                continue
            cands = sorted({i // n_splits for i, _ in bad})
            shown = "; ".join(f"candidate {c} {candidates[c]}" for c in cands[:5])
            more = f" and {len(cands) - 5} more" if len(cands) > 5 else ""
            last_line = bad[0][1].strip().splitlines()[-1]
            where = ("The full messages are in cv_results_['fit_error']." if category is FitFailedWarning
                     else "Those scores are error_score.")
            warnings.warn(
                f"{len(bad)} of {len(records)} {what} and got error_score={self.error_score!r}: "
                f"{shown}{more}. First error: {last_line.rstrip('.')}. {where}",
                category,
                stacklevel=_validation.user_stacklevel(),
            )

    @staticmethod
    def _warn_non_finite(results, names):
        """scikit-learn's warnings about non-finite mean scores, test and train."""
        for name in names:
            for kind in ("test", "train"):
                means = results.get(f"mean_{kind}_{name}")
                if means is not None and np.any(~np.isfinite(means)):
                    warnings.warn(
                        f"One or more of the {kind} scores are non-finite: {means}", UserWarning,
                        stacklevel=_validation.user_stacklevel()
                    )

    def _select_best(self, results, names, multimetric):
        refit = self.refit
        if callable(refit):
            best = refit(results)
            if not isinstance(best, numbers.Integral):
                raise TypeError(f"refit callable must return an integer index; got {best!r}.")
            if not 0 <= best < len(results["params"]):
                raise IndexError(f"refit callable returned {best}, outside 0..{len(results['params']) - 1}.")
            self.best_index_ = best  # as returned, as scikit-learn keeps it
        elif refit is False and multimetric:
            return  # as scikit-learn: no single metric to pick a best candidate by
        else:
            metric = _refit_metric(refit, multimetric)
            # numpy scalars (np.intp, np.float64), as scikit-learn's
            self.best_index_ = results[f"rank_test_{metric}"].argmin()
            self.best_score_ = results[f"mean_test_{metric}"][self.best_index_]
        self.best_params_ = results["params"][self.best_index_]

    # -- delegation to the refitted estimator -------------------------------
    _fitted_attr = "best_estimator_"

    def _fitted(self, method):
        self._check_refit(method)
        return self.best_estimator_

    def _check_available(self, method):
        if not self.refit:  # no best_estimator_ to delegate to (hasattr is False, as in scikit-learn)
            self._check_refit(method)

    @property
    def n_features_in_(self):
        """Number of features the best estimator was fitted on (after refit)."""
        self._check_refit("n_features_in_")
        return self.best_estimator_.n_features_in_

    def _check_refit(self, method):
        if not self.refit:
            raise AttributeError(
                f"This {type(self).__name__} was created with refit=False: {method} is "
                "available only after refitting the best estimator. Set refit=True."
            )
        check_is_fitted(self, "best_estimator_")

    def score(self, X, y=None, **params):
        """Score of the best estimator on (X, y) with the search's scorer
        (the refit metric when multi-metric). On dask input only predictions
        and y come to the client."""
        self._check_refit("score")
        if _routing_enabled():
            params = process_routing(self, "score", **params).scorer["score"]
        elif params:  # as scikit-learn: score parameters go through metadata routing only
            raise ValueError(
                f"Passing extra keyword arguments to {type(self).__name__}.score is only supported if "
                "enable_metadata_routing=True, which you can set using `sklearn.set_config`, and then "
                "request them from the scorer (e.g. make_scorer(...).set_score_request(sample_weight=True)). "
                f"Got extra keywords: {sorted(params)}."
            )
        scorer = self.scorer_
        if self.multimetric_ and not isinstance(self.refit, str):
            raise ValueError("score needs refit set to a metric name when scoring is multi-metric.")
        if isinstance(scorer, dict):  # several metrics by name: the refit one
            scorer = scorer[self.refit]
        result = _blockwise.score(scorer, self.best_estimator_, X, y, **params)
        return result[self.refit] if isinstance(result, dict) else result

    @property
    def classes_(self):
        """Class labels of the best estimator."""
        self._check_refit("classes_")
        return self.best_estimator_.classes_


class GridSearchCV(BaseSearchCV):
    """Exhaustive search over a parameter grid, distributed on a Dask cluster.

    Like :class:`sklearn.model_selection.GridSearchCV`, plus: a grid value may
    be a scipy.stats frozen distribution, expanded into ``n_grid_points``
    deterministic quantiles (log-spaced for ``loguniform``; small discrete
    supports enumerated). With ``{'alpha': loguniform(1e-5, 1e-1),
    'l1_ratio': uniform(0, 1)}`` and the default 5 points the search tries a
    25-point grid.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn estimator (or Pipeline); it is cloned for every fit.
    param_grid : dict or list of dicts
        Parameter names mapped to lists of values or scipy.stats distributions.
    scoring : str, callable, list, tuple or dict, default=None
        As in scikit-learn; None uses the estimator's ``score``.
    n_jobs : int, default=None
        Number of local threads when no ``dask.distributed.Client`` is active
        (None: all cores). With a Client, the cluster's worker threads are used.
    refit : bool, str or callable, default=True
        Refit the best candidate on all the data (on the cluster).
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn (5-fold, stratified for classifiers).
    verbose : int, default=0
        >= 1 prints the dashboard address and a progress bar of fits.
    pre_dispatch : int or str, default='2*n_jobs'
        Accepted, and kept by ``get_params``, so that code written for
        scikit-learn runs unchanged; it has no effect here. It bounds how
        many joblib jobs scikit-learn queues at once (each may hold a copy of
        the data); dasklearn places the data on each worker once and sizes
        its batches of fits from their measured time.
    error_score : 'raise' or float, default=np.nan
        Score given to a failed fit; its error message is kept in
        ``cv_results_['fit_error']`` and a FitFailedWarning names the candidate.
        A scorer failing on a fitted candidate gives it to its own metric
        only, with a UserWarning. 'raise' raises the original exception.
    return_train_score : bool, default=False
        Also score each fit on its training fold.
    n_grid_points : int, default=5
        Number of quantiles taken from each distribution in ``param_grid``.
    checkpoint : str or path-like, default=None
        File recording every successful (candidate, split) fit as it
        completes (appended and fsynced; a crash mid-write loses at most that
        line; failed fits are not recorded: they run again on resuming).
        Running the same search (same arguments and data) with the same
        file resumes it: recorded fits are not run again, and cv_results_
        equals an uninterrupted run. A file written by a different search,
        or in another checkpoint format (an older dasklearn), is refused
        with a ValueError.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_,
    scorer_, n_splits_, refit_time_, multimetric_, classes_, n_features_in_
        As in scikit-learn.
    """

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, checkpoint=None,
                 n_grid_points=5):
        store_init_args(self, locals())

    def _candidates(self):
        return list(ParameterGrid(expand_param_grid(self.param_grid, self.n_grid_points)))


class RandomizedSearchCV(BaseSearchCV):
    """Randomized search over parameters, distributed on a Dask cluster.

    Candidates are drawn on the client with
    :class:`sklearn.model_selection.ParameterSampler`, so the same
    ``random_state`` gives the same candidates as scikit-learn's
    RandomizedSearchCV. Parameters and attributes otherwise as
    :class:`GridSearchCV`.

    Parameters
    ----------
    param_distributions : dict or list of dicts
        Parameter names mapped to scipy.stats distributions or lists.
    n_iter : int, default=10
        Number of candidates sampled.
    random_state : int, RandomState instance or None, default=None
        Seed of the candidate sampling.
    """

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None, refit=True,
                 cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None, error_score=np.nan,
                 return_train_score=False, checkpoint=None):
        store_init_args(self, locals())

    def _candidates(self):
        _validation.check_positive_int(self.n_iter, "n_iter", "It is the number of candidates to sample.")
        _validation.check_random_state_param(self.random_state, type(self).__name__)
        for grid in param_dicts(self.param_distributions, "param_distributions"):
            for name, values in grid.items():
                if hasattr(values, "rvs"):
                    continue
                if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                    raise TypeError(
                        f"param_distributions[{name!r}] must be a list of values or a scipy.stats "
                        f"distribution; got {type(values).__name__} {values!r}. Wrap a single value in a "
                        f"list: {{{name!r}: [{values!r}]}}.")
                if len(values) == 0:
                    raise ValueError(
                        f"param_distributions[{name!r}] is empty: give at least one value to sample from, "
                        f"or leave {name!r} out to keep the estimator's own value.")
        return list(ParameterSampler(self.param_distributions, self.n_iter, random_state=self.random_state))


def _short_time(seconds: float) -> str:
    return f"{seconds / 60:4.1f}min" if seconds > 60 else f" {seconds:5.1f}s"


def fit_line(params: dict, split: int, n_splits: int, record: dict, verbose: int, *,
             error_score=np.nan, metrics=None, train_scores: bool = False) -> str:
    """The line scikit-learn's search prints for one fit at ``verbose >= 2``
    (scores from 3): ``[CV 1/3] END ....alpha=0.1;, score=0.874 total time=   0.2s``.
    A failed fit shows ``error_score`` as its scores, for each of ``metrics``
    (the names of several metrics; None: one scorer), train scores too with
    ``train_scores``, as scikit-learn's line does."""
    head = f"[CV {split + 1}/{n_splits}] END " if verbose > 2 else "[CV] END "
    msg = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    msg += ";" if msg else ""
    if verbose > 2:
        test, train, as_dict = record["test"], record["train"], record["scores_as_dict"]
        if test is None:  # the fit failed
            test = {name: float(error_score) for name in (metrics or ["score"])}
            train, as_dict = (dict(test) if train_scores else None), metrics is not None
        if not as_dict:
            msg += ", score=" + (f"(train={train['score']:.3f}, test={test['score']:.3f})" if train
                                 else f"{test['score']:.3f}")
        else:
            for name in sorted(test):
                msg += f" {name}: (" + (f"train={train[name]:.3f}, " if train else "") + f"test={test[name]:.3f})"
    msg += f" total time={_short_time(record['fit_time'] + record['score_time'])}"
    return head + "." * (80 - len(head) - len(msg)) + msg


def _refit_metric(refit, multimetric: bool) -> str:
    """The ``cv_results_`` metric a ``refit=True`` / metric-name search ranks by."""
    return refit if multimetric else "score"


class _EarlyRefit:
    """Refit the likely best candidate while the last split's fits still run.

    Without it, the refit starts after the last fit, on one slot, while the
    other slots wait (as in scikit-learn). Once every candidate has finished
    all splits but one, the candidate leading on the splits done (the one
    :meth:`BaseSearchCV._select_best` would pick on them) is refitted in one
    more task, which takes the first free slot (it goes before the fits
    waiting). If it is still the best at the end, its model is used (the
    refit is deterministic: the same task as the refit after the search);
    otherwise it is cancelled and the best is refitted as usual. Only for
    ``refit=True`` or a metric name, with metrics known up front, on a
    cluster with several slots, and when fits take long enough
    (``MIN_FIT_SECONDS`` on average) for the overlap to matter more than a
    wasted refit.
    """

    MIN_FIT_SECONDS = 0.2

    def __init__(self, search, backend, candidates, n_splits, names, multimetric, data):
        refit = search.refit
        metric = _refit_metric(refit, multimetric) if names is not None else None
        self._on = (backend.remote and backend.n_slots > 1 and n_splits > 1 and metric is not None
                    and (refit is True or isinstance(refit, str)))
        self._search, self._backend, self._data = search, backend, data
        self._metric, self._candidates, self._n_splits = metric, candidates, n_splits
        self._scores = [[] for _ in candidates]  # finished test scores per candidate
        self._done = [0] * len(candidates)
        self._fit_seconds = 0.0
        self._started = None  # (candidate, future)

    def observe(self, records) -> None:
        if not self._on or self._started is not None:
            return
        for c, _, rec in records:
            self._done[c] += 1
            self._fit_seconds += rec["fit_time"]
            if rec["test"] is not None:
                self._scores[c].append(rec["test"][self._metric])
        mean_fit = self._fit_seconds / max(1, sum(self._done))
        if min(self._done) >= self._n_splits - 1 and mean_fit >= self.MIN_FIT_SECONDS:
            means = np.array([np.mean(v) if v else np.nan for v in self._scores])
            leader = int(_rank(means).argmin())  # as _select_best would pick on these splits
            X_h, y_h, fit_params = self._data
            self._started = (leader, self._backend.submit(
                _fit.fit_final, self._search.estimator, self._candidates[leader], X_h, y_h, fit_params,
                priority=1))

    def result_for(self, best: int):
        """(model, seconds, warnings) of the early refit if it is of ``best``, else None."""
        if self._started is None:
            return None
        candidate, future = self._started
        if candidate != best:
            self._backend.cancel([future])
            return None
        try:
            return self._backend.result(future)
        except (WorkersLost, ClientClosed):
            raise  # no cluster, or no Client, to refit with (waiting again would not help)
        except Exception:  # lost with a worker, say: refit as usual
            return None

    def handles(self) -> list:
        return [self._started[1]] if self._started is not None else []
