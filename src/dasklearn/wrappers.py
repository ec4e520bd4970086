"""Meta-estimators that bring scikit-learn estimators to dask collections.

* :class:`ParallelPostFit` fits its estimator in memory, as usual, then
  predicts, transforms and scores dask arrays and DataFrames block by block,
  where the blocks are.
* :class:`Incremental` trains an estimator that has ``partial_fit`` on data
  larger than memory: ``partial_fit`` is called on every block in turn, and
  the model travels to the worker holding each block (the blocks do not
  travel). It predicts like :class:`ParallelPostFit`.

How :class:`Incremental` runs (see :mod:`dasklearn._runtime._blocks`): with
a ``dask.distributed`` Client, block ``i`` (its ``X``, ``y`` and any dask
fit keyword, computed together) is computed on a worker and the
``partial_fit`` of block ``i`` runs on that same worker, after the one of
block ``i - 1``; the next blocks are computed on the other workers meanwhile.
At most ``threads + 1`` blocks per worker exist at once (2 for one-thread
workers; small blocks count in groups of up to about 4 MiB, computed and
fitted a group per task), and each is freed as soon as its ``partial_fit`` has
run, so memory stays bounded however large ``X`` is. Without a Client, blocks are computed
one at a time with dask's synchronous scheduler in this process. Either way
the result is the plain loop ``for i in order: est.partial_fit(X_i, y_i)``,
bit for bit, even when a worker is lost mid-fit: the client keeps a recent
model state and the fit resumes from it (see :class:`Incremental`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import numbers

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted

from dasklearn import _blockwise, _validation
from dasklearn._validation import InvalidParameterError
from dasklearn._delegation import DelegateMixin, _has

__all__ = ["DataParallel", "Incremental", "ParallelPostFit"]


# ----------------------------------------------------------------- kernels
# Pure functions on in-memory blocks (numpy / pandas): they run in a task on
# a worker, or in this process without a Client.

def _n_rows(obj) -> int:
    return int(obj.shape[0]) if hasattr(obj, "shape") else len(obj)


def _partial_fit_block(model, X, *rest, has_y: bool, block_kw: tuple, static_kw: dict):
    """``model.partial_fit`` on one block; returns the model.

    ``rest`` holds the block of ``y`` (if ``has_y``) then the blocks of the
    keyword arguments named in ``block_kw``; ``static_kw`` are passed as they
    are. An empty block (a filtered-out partition, say) is skipped.
    """
    y = rest[0] if has_y else None
    kw = dict(static_kw)
    kw.update(zip(block_kw, rest[int(has_y):]))
    n = _n_rows(X)
    sized = ([("y", y)] if has_y else []) + [(k, kw[k]) for k in block_kw]
    for name, value in sized:
        if _n_rows(value) != n:
            if hasattr(X, "iloc") and hasattr(value, "iloc"):  # partitions of dask DataFrames
                fix = (f"take X and {name} from one DataFrame (X, {name} = df[features], "
                       f"df[target]), or repartition {name} like X ({name} = "
                       f"{name}.repartition(divisions=X.divisions), with known divisions)")
            elif hasattr(X, "iloc") or hasattr(value, "iloc"):  # a DataFrame's partitions beside an array's blocks
                fix = (f"take X and {name} from one DataFrame (X, {name} = df[features], df[target]), or "
                       "make both dask arrays with known chunks (frame.to_dask_array(lengths=True)) and "
                       f"rechunk {name} like X ({name}.rechunk({{0: X.chunks[0]}}))")
            else:  # a dask array, whose chunk sizes were unknown before fitting
                fix = (f"filter X and {name} with the same mask (X[keep], {name}[keep]), or call "
                       f"X.compute_chunk_sizes() and {name}.compute_chunk_sizes() first, so "
                       f"that a mismatch is reported before fitting and {name} can be rechunked "
                       f"like X ({name}.rechunk({{0: X.chunks[0]}}))")
            raise ValueError(
                f"A block of X has {n} rows but the matching block of {name} has "
                f"{_n_rows(value)}: Incremental passes block i of X and of {name} to the "
                f"same partial_fit call, so they must be split alike. Fix: {fix}."
            )
    if n == 0:
        return model  # nothing to learn; scikit-learn rejects 0 samples
    model.partial_fit(X, y, **kw)
    return model


def _partial_fit_block_counting(state, X, *rest, **kwargs):
    """``(model, rows seen)`` after :func:`_partial_fit_block` on one block."""
    model, seen = state
    return _partial_fit_block(model, X, *rest, **kwargs), seen + _n_rows(X)


def _known_rows(a) -> int | None:
    """Rows of ``a`` when the client knows them without computing anything:
    in-memory input, or a dask array of known row chunks; else None (unknown
    sizes, a dask DataFrame, whose rows are counted while fitting, or None)."""
    if a is None or (_blockwise.is_dask(a) and not _blockwise.is_dask_array(a)):
        return None
    if hasattr(a, "shape"):
        n = a.shape[0] if len(a.shape) else None
    else:
        n = None if _blockwise.is_dask(a) else len(a)
    return None if n is None or np.isnan(n) else int(n)


def _no_rows_error(n_blocks: int) -> ValueError:
    """As scikit-learn's for 0 samples, when every block was empty and the
    model had learned nothing before."""
    return ValueError(
        f"Every one of the {n_blocks} row blocks of X was empty, so the estimator saw no "
        "sample (scikit-learn requires at least 1). Expected X with at least one row; check "
        "the filter or query that produced X (e.g. X.shape[0] after X.compute_chunk_sizes())."
    )


def _block_order(n_blocks: int, epoch: int, shuffle: bool, seed: int | None) -> np.ndarray:
    """Pure policy: the block indices of pass ``epoch``.

    ``np.random.default_rng([seed, epoch]).permutation(n_blocks)`` when
    shuffling, else ``0 .. n_blocks - 1``.
    """
    if not shuffle:
        return np.arange(n_blocks)
    return np.random.default_rng([seed, epoch]).permutation(n_blocks)


# ------------------------------------------------------------------ helpers
_SAMPLE_ALIGNED = frozenset({"sample_weight"})  # fit keywords split into X's blocks


def _can_score(self) -> bool:
    """A scorer was given, or the estimator has its own ``score``."""
    return self.scoring is not None or _has("score")(self)


def _is_frame(obj) -> bool:
    return _blockwise.is_dask(obj) and not _blockwise.is_dask_array(obj)


def _is_scalar(obj) -> bool:
    """0-d (a number, None, a dask scalar): passed whole to every partial_fit."""
    return getattr(obj, "ndim", None) == 0 if _blockwise.is_dask(obj) else np.ndim(obj) == 0


def _scalar_of(value):
    """A 0-d array as a numpy scalar (scikit-learn rejects 0-d arrays)."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _check_same_rows(X, other, owner: str = "", name: str = "y") -> None:
    """X and ``other`` (y, a sample weight) of different known lengths:
    refused before any dask input is computed (scikit-learn's fit refuses
    them once they are in memory)."""
    nx, no = _known_rows(X), _known_rows(other)
    if nx is not None and no is not None and nx != no:
        raise ValueError(f"{owner + ': ' if owner else ''}X has {nx} rows but {name} has {no}. "
                         "Pass one value per row of X.")


def _fit_task(est, X, y, fit_params):
    from dasklearn._runtime._model_kernels import one_at_a_time_if_seeded_globally

    with one_at_a_time_if_seeded_globally(est):
        est.fit(X, y, **fit_params)
    return est  # (not fit's return value: an estimator may forget ``return self``)


class ParallelPostFit(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Fit in memory; predict, transform and score dask input block by block.

    ``fit`` calls the estimator's own ``fit`` on in-memory data: a dask input
    is computed first (on a worker when a Client is active, where the fit then
    runs; otherwise here), so **the training data must fit in one process's
    memory**. After fitting, ``predict``, ``predict_proba``,
    ``predict_log_proba``, ``decision_function``, ``transform`` and ``score``
    accept dask arrays and DataFrames of any size: they are applied to each
    block where it lives and return lazy dask collections (a dask array for a
    dask array, a dask Series / DataFrame for a dask DataFrame), with the
    output's dtype and shape in their metadata. numpy / pandas input goes to
    the estimator directly.

    Parameters
    ----------
    estimator : estimator object
        A scikit-learn estimator (or Pipeline). It is cloned at ``fit``.
    scoring : str, callable or None, default=None
        Scorer used by :meth:`score` (a name from
        :func:`sklearn.metrics.get_scorer_names` or a callable
        ``(estimator, X, y) -> float``). None: the estimator's ``score``.
    predict_meta, predict_proba_meta, transform_meta : numpy array, pandas Series or DataFrame, default=None
        The type, dtype and columns of ``predict`` / ``predict_proba`` /
        ``transform``'s output on dask input, as in dask-ml: an empty
        ``np.empty(0, dtype=np.int64)``, ``np.empty((0, n_classes))``, or a
        pandas Series / DataFrame for DataFrame output. None: learned by
        calling the method on one row of zeros (or on X's first row, computed,
        when zeros will not do). With a meta, nothing is called or computed
        before the blocks run, and each block's numeric output is cast to
        the declared dtype: exactly to an integer or bool dtype (a value that
        would change raises a ValueError naming the meta), rounded to a float
        dtype's precision but not past its range. Probabilities get one
        column per class whatever the meta's shape (only its dtype counts),
        as in dask-ml.

    An estimator that is already fitted can be wrapped as it is: until the
    wrapper's own ``fit``, ``predict`` & co and ``score`` use it (as in
    dask-ml, for a pre-trained model applied to dask data).

    Attributes
    ----------
    estimator_ : estimator object
        The fitted estimator (set by ``fit`` or ``partial_fit``).
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features seen during fit (when the estimator records it).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during fit (when X had string column names).
    coef_, intercept_, n_iter_, ...
        The fitted estimator's other learned attributes, shown as the
        wrapper's own after each fit, as in dask-ml.

    See Also
    --------
    Incremental : train with ``partial_fit`` on data larger than memory.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dasklearn.datasets import make_classification
    >>> from dasklearn.wrappers import ParallelPostFit
    >>> X, y = make_classification(n_samples=1000, chunks=250, random_state=0)
    >>> clf = ParallelPostFit(LogisticRegression()).fit(X[:500].compute(), y[:500].compute())
    >>> clf.predict(X)
    dask.array<_call, shape=(1000,), dtype=int64, chunksize=(250,), chunktype=numpy.ndarray>
    """

    _own_fitted = ("estimator_",)  # the wrapper's fitted attributes, never the estimator's
    _uses_a_prefitted_estimator = True  # before fit, predict with ``estimator`` if fitted (dask-ml)

    def __init__(self, estimator, *, scoring=None, predict_meta=None, predict_proba_meta=None,
                 transform_meta=None):
        self.estimator = estimator
        self.scoring = scoring
        self.predict_meta = predict_meta
        self.predict_proba_meta = predict_proba_meta
        self.transform_meta = transform_meta

    # -- scikit-learn conventions (tags and predict & co: DelegateMixin) ----
    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")

    def _fitted(self, method):
        """``estimator_``; before any fit, the given estimator if it is fitted
        (and this wrapper predicts with pre-fitted estimators)."""
        if not hasattr(self, "estimator_"):
            prefitted = self._fitted_given()
            if prefitted is not None:
                return prefitted
        return super()._fitted(method)

    def _fitted_given(self):
        """The given estimator if it is fitted and this wrapper uses pre-fitted estimators, else None."""
        if not self._uses_a_prefitted_estimator:
            return None
        from sklearn.exceptions import NotFittedError

        try:
            check_is_fitted(self.estimator)
        except (NotFittedError, TypeError):
            return None
        return self.estimator

    # -- validation ----------------------------------------------------------
    def _check_estimator(self):
        _validation.check_instance(type(self).__name__, self.estimator)
        if not hasattr(self.estimator, "fit"):
            raise TypeError(
                f"{type(self).__name__} needs a scikit-learn estimator with a fit method; "
                f"got {self.estimator!r} of type {type(self.estimator).__name__}."
            )

    def _check_before_fit(self):
        """The parameters ``fit`` and ``partial_fit`` need, checked before any work."""
        self._check_estimator()
        self._check_scoring()
        self._check_metas()

    def _check_scoring(self):
        if self.scoring is None:
            return  # the estimator's own score, if it has one
        try:
            check_scoring(self.estimator, scoring=self.scoring)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(
                f"Invalid scoring={self.scoring!r} for {type(self).__name__}: {exc} Use None "
                "(the estimator's score), a name from sklearn.metrics.get_scorer_names() "
                "or a callable (estimator, X, y) -> float."
            ) from exc

    def _record_fitted(self, model):
        """Keep ``model`` as ``estimator_``, and show its learned attributes
        (``coef_``, ``n_iter_``, ``n_features_in_``, ...) as the wrapper's own,
        as dask-ml's wrappers do; those of an earlier fit are dropped first."""
        for attr in self.__dict__.pop("_learned_attrs", ()):
            self.__dict__.pop(attr, None)
        self.estimator_ = model
        learned = [a for a in vars(model) if a.endswith("_") and not a.startswith("_")
                   and not hasattr(type(self), a) and a not in self._own_fitted]
        for attr in learned:
            setattr(self, attr, getattr(model, attr))
        self._learned_attrs = tuple(learned)

    # -- fit -----------------------------------------------------------------
    def fit(self, X, y=None, **fit_params):
        """Fit a clone of the estimator on the whole of ``X`` in memory.

        Parameters
        ----------
        X : array-like, DataFrame, dask array or dask DataFrame of shape (n_samples, n_features)
            Training data. A dask input is computed first (on a worker when a
            Client is active), so it must fit in memory.
        y : array-like, dask array or dask Series of shape (n_samples,), default=None
            Target values (None for unsupervised estimators).
        **fit_params : dict
            Passed to the estimator's ``fit``; dask values are computed first.

        Returns
        -------
        self : object
            The fitted wrapper.
        """
        self._check_before_fit()
        est = clone(self.estimator)
        names = list(fit_params)
        values = [fit_params[k] for k in names]
        if not any(_blockwise.is_dask(v) for v in (X, y, *values)):
            self._record_fitted(_fit_task(est, X, y, fit_params))
            return self
        _check_same_rows(X, y, type(self).__name__)
        from dasklearn._runtime import get_backend

        backend = get_backend()
        placed: list = []
        try:
            # computed (and fitted) on a worker with a Client: the data never
            # pass through this process, only the fitted model comes back
            placed = backend.materialize(X, y, *values)
            X_h, y_h, *kw_h = placed
            model = backend.result(backend.submit(_fit_task, est, X_h, y_h, dict(zip(names, kw_h))))
        finally:
            backend.release([h for h in placed if h is not None])
            backend.close()
        self._record_fitted(model)
        return self

    @available_if(lambda self: hasattr(self.estimator, "partial_fit"))
    def partial_fit(self, X, y=None, **fit_params):
        """One ``partial_fit`` call of the estimator on the whole of ``X`` in
        memory, continuing from the current model, as dask-ml's
        ParallelPostFit does. At the first call that is a copy of
        ``estimator``: a fitted estimator continues from what it learned (the
        model that ``predict`` used until then), an unfitted one starts
        afresh (a clone).

        A dask input is computed here first, so it must fit in memory; to
        train on data larger than memory, block by block, use
        :class:`Incremental`.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
            Training data.
        y : array-like, dask array or dask Series of shape (n_samples,), default=None
            Target values.
        **fit_params : dict
            Passed to the estimator's ``partial_fit`` (``classes`` at the
            first call of a classifier); dask values are computed first.

        Returns
        -------
        self : object
            The fitted wrapper.
        """
        self._check_before_fit()
        _check_same_rows(X, y, type(self).__name__)
        if hasattr(self, "estimator_"):
            est = self.estimator_
        else:
            prefitted = self._fitted_given()
            est = copy.deepcopy(prefitted) if prefitted is not None else clone(self.estimator)
        names = list(fit_params)
        X, y, *values = _blockwise.compute_here(X, y, *(fit_params[k] for k in names))
        est.partial_fit(X, y, **dict(zip(names, values)))
        self._record_fitted(est)
        return self

    # -- delegation to the fitted estimator ----------------------------------
    @available_if(_has("transform"))
    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X, y, **fit_params)``, then ``transform(X)`` (blockwise on dask input).

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
            Training data, transformed after fitting.
        y : array-like, dask array or dask Series of shape (n_samples,), default=None
            Target values, if the estimator uses them.
        **fit_params : dict
            Passed to :meth:`fit`.

        Returns
        -------
        X_new : ndarray, dask array or dask DataFrame of shape (n_samples, n_components)
            Lazy (dask) for dask input: the blocks of X are computed again.
        """
        return self.fit(X, y, **fit_params).transform(X)

    @available_if(lambda self: hasattr(self.estimator, "set_output"))
    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` & co, as scikit-learn's
        meta-transformers do: on the estimator and, once fitted, on the
        fitted one (so that ``Pipeline.set_output`` reaches them).

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None, default=None
            As in scikit-learn's ``set_output``; None leaves it unchanged. On
            a dask DataFrame, "pandas" gives a dask DataFrame.

        Returns
        -------
        self : object
        """
        if transform is None:
            return self
        self.estimator.set_output(transform=transform)
        if hasattr(self, "estimator_") and self.estimator_ is not self.estimator:
            self.estimator_.set_output(transform=transform)
        return self

    @available_if(_has("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """Output feature names of the fitted estimator's ``transform``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Passed to the fitted estimator's ``get_feature_names_out``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        return self._fitted("get_feature_names_out").get_feature_names_out(input_features)

    @available_if(_can_score)
    def score(self, X, y=None, sample_weight=None):
        """Score of the fitted estimator on ``(X, y)`` with ``scoring``.

        On dask input only the responses the scorer needs (predictions,
        probabilities or decision values, computed blockwise) and ``y`` come
        to this process, never ``X``; small dask input is scored in one task
        on a worker. An estimator's own ``score`` (``scoring=None`` on a
        clusterer or a transformer such as MiniBatchKMeans or PCA), which
        needs all of ``X``, gets larger dask input computed here, as in
        dask-ml.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
            Test data.
        y : array-like, dask array or dask Series of shape (n_samples,), default=None
            True values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to the scorer (computed first if dask).

        Returns
        -------
        score : float
        """
        est = self._fitted("score")
        scorer = check_scoring(est, scoring=self.scoring)
        kw = {}
        if sample_weight is not None:
            kw["sample_weight"] = _blockwise.compute_here(sample_weight)[0]
        return _blockwise.score(scorer, est, X, y, **kw)

    @property
    def classes_(self):
        """Class labels of the fitted estimator (classifiers only)."""
        return self._fitted("classes_").classes_


class Incremental(ParallelPostFit):
    """Train an estimator with ``partial_fit``, block by block, on dask data.

    ``fit(X, y)`` calls ``partial_fit`` of a clone of ``estimator`` on every
    row block of ``X`` (and the matching block of ``y``) in turn, for
    ``epochs`` passes. The model travels to the worker that holds each block;
    the blocks do not travel, and only about one block per worker (at most
    ``threads + 1``) is in memory at a time, however large ``X`` is. Blocks
    under 1 MiB (of a dask array with known chunks) count in groups of
    consecutive ones, up to about 4 MiB a group: one task computes a group
    (persisted blocks of a group are gathered to one worker) and one task runs
    its ``partial_fit`` calls in turn, so that tiny blocks do not each pay a
    task's scheduling. The
    result equals the plain loop ``for i in order: est.partial_fit(X_i, y_i,
    **fit_kwargs)`` bit for bit, with or without a Client. After fitting it
    predicts, transforms and scores like :class:`ParallelPostFit`.

    Block order. Pass ``e`` (0-based) visits the blocks in the order
    ``np.random.default_rng([seed, e]).permutation(n_blocks)`` when
    ``shuffle_blocks=True``, and ``0, 1, ..., n_blocks - 1`` otherwise. With an
    int ``random_state``, ``seed`` is that int; otherwise one seed is drawn per
    ``fit`` from ``random_state`` (None: numpy's global RandomState);
    ``partial_fit`` goes on with the next pass's order, as dask-ml's
    ``partial_fit`` shuffles its blocks too. Rows are never shuffled within a
    block; the estimator's own ``shuffle`` (e.g. SGDClassifier's) applies
    inside each ``partial_fit`` call.

    Inputs. ``X`` may be a dask array (chunked along rows; chunks along columns
    are joined) or a dask DataFrame, with ``y`` a dask array or dask Series
    split into the same row blocks (a numpy ``y`` is split like a dask array
    ``X`` with known chunks). Unknown chunk sizes (e.g. after boolean
    indexing) are fine: blocks are processed one by one, and a block of ``y``
    whose length differs from its block of ``X`` raises a ValueError. Empty
    blocks (e.g. partitions emptied by a filter) are skipped. A numpy or
    pandas ``X`` is one block, fitted in this process.

    Where it runs. With a ``dask.distributed`` Client, block ``i`` is computed
    on a worker and its ``partial_fit`` runs there, so only the model crosses
    the network; persisted collections are trained where their blocks already
    live. Each block is computed from its own lineage in one task: work that
    all blocks share (a global mean, say) would be repeated for every block,
    so a PerformanceWarning says so; persist such input first, or compute
    the statistic up front. Small inputs (blocks under about 1 MiB, 256 MiB in all) are trained
    in one task on one worker instead, with the same result. Without a Client,
    blocks are computed one at a time here. The ``X`` and ``y`` of a dask
    DataFrame are computed separately per partition (projections reach the
    source, e.g. the columns read from Parquet).

    Worker loss. During ``fit`` two things live only on workers: the model
    between two ``partial_fit`` calls, and the blocks of the window. A worker
    that dies (or leaves) mid-fit does not fail the fit, and the fitted model
    is the one an undisturbed fit gives, bit for bit:

    * The model. After each ``partial_fit`` the client fetches the new model
      in the background, one fetch at a time (the chain of ``partial_fit``
      calls never waits for it), so it always holds the model after some
      call ``j``, usually one or two calls (or groups of calls) behind. When a worker holding a
      block or the model in use leaves the cluster (checked about every half
      second; a worker restarted by its nanny comes back under a new address,
      so it counts as gone), or a task's input is reported lost, the calls
      in flight are abandoned (their futures released) and training resumes from that model with
      call ``j + 1``, on the workers there are (waiting up to a minute for one if
      none is left). The block order and every ``partial_fit`` call are the
      same as without the loss, hence the same model; ``n_recoveries_``
      counts the resumptions.
    * The blocks. Lost blocks are computed again from the dask graph (a
      numpy ``y`` or ``sample_weight`` is part of that graph and is sent from
      this process again); blocks of persisted collections are recomputed by
      the scheduler from their lineage. Only the calls after ``j`` run
      again: about one window of blocks (or groups).
    * Small inputs trained in one task are run again from the start by the
      scheduler, on another worker.

    After several losses in a row with no progress (e.g. persisted data
    that cannot be recomputed) the fit raises a RuntimeError. An exception
    raised by ``partial_fit`` itself is not a loss: it propagates at once.

    Parameters
    ----------
    estimator : estimator object
        An estimator with ``partial_fit`` (e.g. SGDClassifier, MLPRegressor,
        MiniBatchKMeans, IncrementalPCA, StandardScaler). It is cloned at
        ``fit``.
    scoring : str, callable or None, default=None
        Scorer used by :meth:`score`; None: the estimator's ``score``.
    shuffle_blocks : bool, default=True
        Visit the blocks in a new random order at every pass of ``fit``;
        :meth:`partial_fit` visits them in the next pass's order (see Block
        order). False: in order, always.
    random_state : int, RandomState instance, Generator or None, default=None
        Seed of the block order (see above). An int makes ``fit`` reproducible.
    epochs : int, default=1
        Number of passes over the blocks made by ``fit``.
    assume_equal_chunks : bool, default=True
        Block i of X and of y go to the same ``partial_fit`` call, so they
        must hold the same rows. True (dask-ml's default): dask arrays with
        other row chunks than X's are refused, with the fix. False: such a
        y (or sample weight) is rechunked to X's rows first (when both chunk
        sizes are known).
    predict_meta, predict_proba_meta, transform_meta : numpy array, pandas Series or DataFrame, default=None
        As in :class:`ParallelPostFit`.

    Attributes
    ----------
    estimator_ : estimator object
        The trained estimator; its fitted attributes (``coef_``, ...) are read
        from it, e.g. ``inc.estimator_.coef_``.
    classes_ : ndarray of shape (n_classes,)
        Class labels (classifiers only).
    n_features_in_ : int
        Number of features seen during fit (when the estimator records it).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during fit (when X had string column names).
    n_blocks_ : int
        Number of row blocks of the last ``fit`` / ``partial_fit`` input.
    n_recoveries_ : int
        Times the last ``fit`` / ``partial_fit`` resumed after losing a worker
        (0 when undisturbed).

    See Also
    --------
    ParallelPostFit : fit in memory, predict blockwise.
    dasklearn.model_selection : hyper-parameter searches.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from dasklearn.datasets import make_classification
    >>> from dasklearn.wrappers import Incremental
    >>> X, y = make_classification(n_samples=10_000, chunks=2_500, random_state=0)
    >>> inc = Incremental(SGDClassifier(random_state=0), random_state=0, epochs=2)
    >>> inc = inc.fit(X, y, classes=np.array([0, 1]))
    >>> inc.estimator_.coef_.shape
    (1, 20)
    >>> inc.predict(X)
    dask.array<_call, shape=(10000,), dtype=int64, chunksize=(2500,), chunktype=numpy.ndarray>
    """

    _own_fitted = ("estimator_", "n_blocks_", "n_recoveries_")
    _uses_a_prefitted_estimator = False  # as dask-ml's: its own fit's model only

    def __init__(self, estimator, *, scoring=None, shuffle_blocks=True, random_state=None, epochs=1,
                 assume_equal_chunks=True, predict_meta=None, predict_proba_meta=None, transform_meta=None):
        super().__init__(estimator, scoring=scoring, predict_meta=predict_meta,
                         predict_proba_meta=predict_proba_meta, transform_meta=transform_meta)
        self.shuffle_blocks = shuffle_blocks
        self.random_state = random_state
        self.epochs = epochs
        self.assume_equal_chunks = assume_equal_chunks

    # -- validation ----------------------------------------------------------
    def _check_params(self):
        _validation.check_instance(type(self).__name__, self.estimator)
        if not hasattr(self.estimator, "partial_fit"):
            raise TypeError(
                f"Incremental needs an estimator with a partial_fit method; "
                f"{type(self.estimator).__name__} has none. To fit it in memory and "
                "predict blockwise on dask data use dasklearn.wrappers.ParallelPostFit; "
                "to tune it use dasklearn.model_selection (GridSearchCV, RandomizedSearchCV)."
            )
        epochs = self.epochs
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise InvalidParameterError(f"epochs must be an int >= 1 (passes over the blocks); got {epochs!r}.")
        for name in ("shuffle_blocks", "assume_equal_chunks"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InvalidParameterError(f"{name} must be True or False; got {getattr(self, name)!r}.")
        self._check_scoring()
        self._check_metas()

    def _seed(self) -> int | None:
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool) and rs >= 0:
            return int(rs)
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2**63 - 1))
        _validation.check_random_state_param(rs, generator=True)
        return int(check_random_state(rs).randint(0, 2**31 - 1))

    @staticmethod
    def _needs_classes(model, fit_kwargs) -> bool:
        """A classifier's first partial_fit needs every class, as ``classes=``."""
        if "classes" in fit_kwargs or hasattr(model, "classes_") or not is_classifier(model):
            return False
        return "classes" in inspect.signature(model.partial_fit).parameters

    def _with_classes(self, model, y, fit_kwargs, from_y: bool) -> dict:
        """``fit_kwargs``, with ``classes`` when the model's first partial_fit
        needs it: ``unique_labels(y)`` for an in-memory ``y`` if ``from_y``
        (fit), else a ValueError said here, before anything runs. Without
        ``y``, the estimator's own error says that ``y`` is required."""
        if y is None or not self._needs_classes(model, fit_kwargs):
            return fit_kwargs
        if from_y and not _blockwise.is_dask(y):
            try:
                classes = unique_labels(y)
            except ValueError:  # multi-output multiclass (MultiOutputClassifier): the classes of each output
                if np.ndim(y) != 2:
                    raise
                classes = [unique_labels(column) for column in np.asarray(y).T]
            return {**fit_kwargs, "classes": classes}
        name = type(model).__name__
        if from_y:
            why = (f"Incremental({name}).fit needs classes= when y is a dask collection: its "
                   "first block may not contain every class, and it is not computed up front.")
        else:
            why = (f"Incremental({name}).partial_fit needs classes= on its first call, as "
                   f"{name}.partial_fit does: the data of this call may not contain every class.")
        raise ValueError(
            f"{why} Expected classes= listing every class of the whole training data; got no "
            "classes=. Pass e.g. classes=np.unique(y_all) or classes=da.unique(y) (later "
            "partial_fit calls need not repeat it)."
        )

    # -- fit -----------------------------------------------------------------
    def fit(self, X, y=None, **fit_kwargs):
        """Train a clone of the estimator with ``partial_fit`` on every block.

        Parameters
        ----------
        X : dask array, dask DataFrame, array-like or DataFrame of shape (n_samples, n_features)
            Training data, processed one row block at a time.
        y : dask array, dask Series or array-like of shape (n_samples,), default=None
            Target values, split into the same row blocks as ``X``.
        **fit_kwargs : dict
            Passed to every ``partial_fit`` call. ``classes`` (required by
            classifiers when ``y`` is a dask collection; for an in-memory
            ``y`` it defaults to ``np.unique(y)``, whatever ``X`` is) is
            passed whole, computed first if it is a dask array (e.g.
            ``da.unique(y)``). ``sample_weight`` and any other dask array /
            Series value are split into X's blocks like ``y``; a scalar (e.g.
            ``sample_weight=2.0``) is passed as it is to every call.

        Returns
        -------
        self : object
            The fitted wrapper.
        """
        self._check_params()
        seed = self._seed() if self.shuffle_blocks else None
        return self._train(clone(self.estimator), X, y, fit_kwargs, range(self.epochs),
                           self.shuffle_blocks, seed, classes_from_y=True, fresh=True)

    def partial_fit(self, X, y=None, **fit_kwargs):
        """One more pass over ``X``, continuing from the current model (for
        data that arrive over time). With ``shuffle_blocks=True`` the blocks
        are visited in the order of the next pass (see Block order): after
        ``fit`` with ``epochs=n``, the k-th ``partial_fit`` takes pass
        ``n + k - 1``'s order (so ``fit`` then ``partial_fit`` on the same data
        equals ``fit`` with one more epoch); before any fit, pass 0's, with a
        seed drawn as ``fit`` draws it.

        Parameters
        ----------
        X : dask array, dask DataFrame, array-like or DataFrame of shape (n_samples, n_features)
            New training data, processed one row block at a time, in order.
        y : dask array, dask Series or array-like of shape (n_samples,), default=None
            Target values, split into the same row blocks as ``X``.
        **fit_kwargs : dict
            As in :meth:`fit`, except that a classifier's first call needs
            ``classes=`` (every class of the whole data), as in scikit-learn.

        Returns
        -------
        self : object
            The updated wrapper.
        """
        self._check_params()
        fresh = not hasattr(self, "estimator_")
        model = clone(self.estimator) if fresh else self.estimator_
        seed, done = (None, 0) if fresh or getattr(self, "_passes", None) is None else self._passes
        if self.shuffle_blocks and seed is None:  # (first pass, or shuffle_blocks set since)
            seed = self._seed()
        return self._train(model, X, y, fit_kwargs, range(done, done + 1), self.shuffle_blocks, seed,
                           classes_from_y=False, fresh=fresh)

    def _train(self, model, X, y, fit_kwargs, passes, shuffle, seed, classes_from_y, fresh):
        """``partial_fit`` ``model`` on every block of X, once per pass in
        ``passes`` (a range: pass ``e`` has its own block order); ``fresh``:
        it has learned nothing yet (then all-empty X is an error)."""
        epochs = len(passes)
        for name, value in (("X", X), ("y", y)):
            _blockwise.check_dask_kind(value, name, type(self).__name__)
        if not _blockwise.is_dask(X):
            # in memory already: one block, fitted here
            y, *values = _blockwise.compute_here(y, *fit_kwargs.values())
            kw = dict(zip(fit_kwargs, map(_scalar_of, values)))
            kw = self._with_classes(model, y, kw, classes_from_y)
            model = copy.deepcopy(model)
            for _ in range(epochs):
                model.partial_fit(X, y, **kw)
            self._passes = (seed, passes.stop)
            self.n_blocks_ = 1
            self.n_recoveries_ = 0
            self._record_fitted(model)
            return self
        from dasklearn._runtime._blocks import fold_blocks, n_row_blocks

        for name, value in fit_kwargs.items():  # split into X's blocks, or passed whole
            if name != "classes":  # (classes: computed here whatever its kind)
                _blockwise.check_dask_kind(value, name, type(self).__name__)
        fit_kwargs = self._with_classes(model, y, dict(fit_kwargs), classes_from_y)
        y = self._split_like(X, y, "y", self.assume_equal_chunks)
        # passed whole: classes (e.g. da.unique(y), small) and 0-d values (sample_weight=2.0)
        whole = [k for k, v in fit_kwargs.items()
                 if _blockwise.is_dask(v) and (k == "classes" or _is_scalar(v))]
        fit_kwargs.update(zip(whole, map(_scalar_of, _blockwise.compute_here(*(fit_kwargs[k] for k in whole)))))
        block_kw = tuple(k for k, v in fit_kwargs.items()
                         if (_blockwise.is_dask(v) or k in _SAMPLE_ALIGNED) and not _is_scalar(v))
        static_kw = {k: v for k, v in fit_kwargs.items() if k not in block_kw}
        blocked = [self._split_like(X, fit_kwargs[k], k, self.assume_equal_chunks) for k in block_kw]
        parts = [X] + ([y] if y is not None else []) + blocked
        n_blocks = n_row_blocks(X)
        known_rows = _known_rows(X)
        if fresh and known_rows == 0:  # known before any work (else counted while fitting)
            raise _no_rows_error(n_blocks)
        order = np.concatenate([_block_order(n_blocks, e, shuffle, seed) for e in passes])
        step = functools.partial(_partial_fit_block_counting, has_y=y is not None, block_kw=block_kw,
                                 static_kw=static_kw)
        recoveries: list = []
        model, seen = fold_blocks(step, (model, 0), parts, order,
                                  on_recover=lambda position, reason: recoveries.append(position))
        if fresh and not seen:
            raise _no_rows_error(n_blocks)
        self._passes = (seed, passes.stop)  # where a partial_fit goes on from
        self.n_blocks_ = n_blocks
        self.n_recoveries_ = len(recoveries)
        self._record_fitted(model)
        return self

    @staticmethod
    def _split_like(X, other, name, assume_equal_chunks: bool = True):
        """``other`` as a dask collection with X's row blocks, or a ValueError
        that says how to get there. Unless ``assume_equal_chunks``, a dask
        array of other known row chunks than X's is rechunked to them."""
        import dask.array as da

        from dasklearn._runtime._blocks import n_row_blocks

        if other is None:
            return None
        if not _blockwise.is_dask(other):
            if _is_frame(X) or any(np.isnan(c) for c in X.chunks[0]):
                kind = "DataFrame" if _is_frame(X) else "array with unknown chunk sizes"
                raise ValueError(
                    f"{name} is in memory but X is a dask {kind}: "
                    f"Incremental cannot split {name} into X's blocks. Pass {name} as a dask "
                    "collection split like X (e.g. X, y = df[features], df[target])."
                )
            arr = np.asarray(other)
            _check_same_rows(X, arr, name=name)
            return da.from_array(arr, chunks=(X.chunks[0],) + arr.shape[1:])
        _check_same_rows(X, other, name=name)
        arrays = not _is_frame(X) and not _is_frame(other)
        unknown = arrays and any(np.isnan(c) for c in X.chunks[0] + other.chunks[0])  # row chunk sizes
        if arrays and not unknown and not assume_equal_chunks and X.chunks[0] != other.chunks[0]:
            other = other.rechunk({0: X.chunks[0]})
        nx, no = n_row_blocks(X), n_row_blocks(other)
        if _is_frame(other) and _is_frame(X):
            fix = (f"{name} = {name}.repartition(divisions=X.divisions), or take both from one "
                   "DataFrame (X, y = df[features], df[target])")
        elif _is_frame(other):  # X a dask array
            fix = (f"{name} = {name}.to_dask_array(lengths=True).rechunk({{0: X.chunks[0]}}), or take both "
                   "from one DataFrame (X, y = df[features], df[target])")
        elif _is_frame(X):  # other a dask array
            fix = (f"{name} = dask.dataframe.from_dask_array({name}.rechunk({{0: X.to_dask_array(lengths=True)"
                   ".chunks[0]})), or take both from one DataFrame (X, y = df[features], df[target])")
        elif unknown:
            fix = (f"X.compute_chunk_sizes() and {name}.compute_chunk_sizes() (their row chunks are "
                   f"unknown), then {name} = {name}.rechunk({{0: X.chunks[0]}})")
        else:
            fix = f"{name} = {name}.rechunk({{0: X.chunks[0]}})" + (
                ", or pass assume_equal_chunks=False" if assume_equal_chunks and arrays else "")
        if nx != no:
            raise ValueError(
                f"X has {nx} row blocks but {name} has {no}: Incremental passes block i of X "
                f"and of {name} to the same partial_fit call, so they must be split alike. "
                f"Fix: {fix}."
            )
        if arrays:
            if X.chunks[0] != other.chunks[0] and not unknown:
                raise ValueError(
                    f"X and {name} have different row chunks ({X.chunks[0][:4]}... vs "
                    f"{other.chunks[0][:4]}...): Incremental passes block i of X and of {name} "
                    f"to the same partial_fit call. Fix: {fix}."
                )
        elif _is_frame(X) and _is_frame(other):
            if X.known_divisions and other.known_divisions and X.divisions != other.divisions:
                raise ValueError(
                    f"X and {name} have different divisions: Incremental passes partition i "
                    f"of X and of {name} to the same partial_fit call. Fix: {fix}."
                )
        return other


from dasklearn._parallel import DataParallel  # noqa: E402  (re-exported: dasklearn.wrappers.DataParallel)
