"""Adaptive hyperparameter searches for partial_fit estimators: the shared
engine, IncrementalSearchCV and InverseDecaySearchCV (SuccessiveHalvingSearchCV
and HyperbandSearchCV are in :mod:`._hyperband`).

Execution model
---------------
``fit`` validates every parameter, the data and the candidates on the client
before anything is submitted. The data are then placed once: each block (a
dask chunk; an in-memory array is one block) is split on the worker that
holds it into training rows and validation rows (``test_size``), or into
``cv`` fold parts. One *partial_fit call* is one ``partial_fit`` on the
training rows of one block; a model's calls visit the blocks in a random
order (the same for every model), each block once per pass over the data.

Every candidate is a model that lives on a worker as a future (one per fold
with ``cv``). All candidates (with Hyperband: of all brackets) train
concurrently. A *round* gives each live model the number of calls its
policy asked for, then scores it on the validation rows; only the score
(a small dict) comes back. When a round is complete the policy -- a pure
function of the scores so far, see :mod:`._policies` -- decides which models
train further and for how long; the others are released on the spot.

:class:`BaseIncrementalSearchCV` owns all of this; each search only supplies
its policy (``_additional_calls``), as a scikit-learn search supplies
``_run_search``.

A failing ``partial_fit`` / ``fit`` / score raises (after the work in
flight is cancelled and everything placed is released); there is no
``error_score``.

Where state lives, and what survives
------------------------------------
The search's decisions live on the client: every model's score records
(``_Track``) and the policy, a pure function of them. The models live on the
workers; the client also keeps each live model's last *scored* state (it
comes back with the score) -- see :mod:`dasklearn._runtime._models`.

* A worker that dies (SIGKILL, OOM) does not fail the search: the runtime
  rebuilds what was lost with it (data placed from the client is placed
  again, dask input is recomputed from lineage, a lost model is rebuilt from
  its last scored state by replaying the same ``partial_fit`` calls on the
  same blocks in the same order) before the search sees the score, so the
  results equal an undisturbed run.
* ``checkpoint=PATH`` makes the search resumable after its own process dies
  (see :class:`._checkpoint.AdaptiveCheckpoint`): every score is appended,
  with the model's state, to a durable file as it arrives. Running the same
  search again replays the policy over the recorded scores, restores each
  model that trains further from its last recorded state, and runs only the
  work that was never recorded.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import time
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, ParameterSampler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from dasklearn import _blockwise, _validation
from dasklearn._delegation import DelegateMixin
from dasklearn._runtime import Progress
from dasklearn._runtime._models import SplitSpec, allocate_rows, model_runtime
from dasklearn.model_selection import _policies as pol
from dasklearn.model_selection._candidates import check_param_names, expand_param_grid
from dasklearn.model_selection._checkpoint import AdaptiveCheckpoint, decode_state, fingerprint
from dasklearn.model_selection._results import _param_arrays, _rank

__all__ = ["BaseIncrementalSearchCV", "IncrementalSearchCV", "InverseDecaySearchCV"]

CALLS = pol.CALLS
SAMPLES = "n_samples"
_DEFAULT_TEST_SIZE = 0.15


# ------------------------------------------------------------------ validation
def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _fail(owner, name, value, expected, fix=""):
    raise ValueError(
        f"{type(owner).__name__}: {name} must be {expected}; got {value!r}."
        + (f" {fix}" if fix else "")
    )


def _check_data(estimator, X, y):
    """(X, y) as aligned dask arrays or numpy arrays; the number of samples.

    In-memory data get the shared checks (numeric, finite, targets) here;
    dask data are checked where they are split (see ``_check_layout``).
    """
    import dask

    _validation.check_numeric(estimator, X)
    if not dask.is_dask_collection(X):
        _validation.raise_for_nonfinite(estimator, _validation.finite_report(X))
    if y is not None and not dask.is_dask_collection(y):
        _validation.check_targets(estimator, y)
    if dask.is_dask_collection(X) and not hasattr(X, "chunks"):  # dask DataFrame / Series
        X = X.to_dask_array(lengths=True)
    if dask.is_dask_collection(y) and not hasattr(y, "chunks"):
        y = y.to_dask_array(lengths=True)
    if not dask.is_dask_collection(X):
        X = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-dimensional (n_samples, n_features); got shape {X.shape}. "
            "Reshape a single feature with X.reshape(-1, 1)."
        )
    if dask.is_dask_collection(X) and any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X is a dask array with unknown chunk sizes; the search needs the rows of "
            "each block. Call X.compute_chunk_sizes() first, or build it with "
            "ddf.to_dask_array(lengths=True)."
        )
    n = int(X.shape[0])
    if y is not None:
        if dask.is_dask_collection(y):
            if not dask.is_dask_collection(X):
                y = y.compute()
            elif y.chunks[0] != X.chunks[0]:
                y = y.rechunk({0: X.chunks[0]})
        if not dask.is_dask_collection(y):
            y = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            if dask.is_dask_collection(X) and y.shape[:1] == (n,):
                import dask.array as da

                y = da.from_array(y, chunks=(X.chunks[0],) + y.shape[1:])
        if y.shape[0] != n:
            raise ValueError(
                f"X and y have different numbers of samples: X has {n}, y has "
                f"{y.shape[0]}. Pass a y with one value per row of X."
            )
    if dask.is_dask_collection(X) and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    if n < 2:
        raise ValueError(f"X has {n} sample(s); an adaptive search needs at least 2.")
    return X, y, n


class _BlockOrder:
    """Which block each partial_fit call uses: passes over the blocks in
    random order, the same sequence for every model of a fold."""

    def __init__(self, blocks, seed: int):
        self._blocks = list(blocks)
        self._rng = np.random.default_rng(seed)
        self._order: list[int] = []

    def take(self, start: int, n: int) -> list[int]:
        """Blocks of calls ``start + 1 .. start + n``."""
        while len(self._order) < start + n:
            self._order.extend(int(b) for b in self._rng.permutation(self._blocks))
        return self._order[start:start + n]


class _Track:
    """Models driven by one policy (a search, or one Hyperband bracket)."""

    def __init__(self, name, ids, candidates, policy, max_iter, cap):
        self.name = name
        self.ids = list(ids)
        self.params = dict(zip(ids, candidates))
        self.policy = policy
        self.max_iter = max_iter
        self.cap = cap
        self.records: dict = {m: [] for m in ids}  # every model's records
        self.alive: dict = dict(self.records)  # live models (the same lists)
        self.outstanding = 0
        self.round = 0
        self.results: dict = {}
        self.fit_seconds: dict = {}
        self.survivors: list | None = None

    @property
    def label(self) -> str:
        return "" if self.name is None else f"bracket={self.name}: "


# ------------------------------------------------------------------- base class
class BaseIncrementalSearchCV(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Shared execution of the adaptive searches; subclasses supply the policy.

    Subclasses implement ``_additional_calls(history) -> {model_id: n_more}``
    (see :mod:`dasklearn.model_selection._policies`) and may override
    ``_make_tracks`` to run several policies at once (Hyperband's brackets).
    """

    _auto_patience = False  # whether patience=True has a meaning (Hyperband)

    def __init__(
        self,
        estimator,
        parameters,
        *,
        max_iter=100,
        patience=False,
        tol=1e-3,
        test_size=None,
        cv=None,
        random_state=None,
        scoring=None,
        verbose=0,
        n_jobs=None,
        checkpoint=None,
    ):
        self.estimator = estimator
        self.parameters = parameters
        self.max_iter = max_iter
        self.patience = patience
        self.tol = tol
        self.test_size = test_size
        self.cv = cv
        self.random_state = random_state
        self.scoring = scoring
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.checkpoint = checkpoint

    # -- subclass hooks ------------------------------------------------------
    def _resource(self) -> str:
        """What a unit of work is: ``"partial_fit_calls"`` or ``"n_samples"``."""
        return CALLS

    def _check_own_params(self) -> None:
        """Validate the subclass's own parameters (called first in fit)."""

    def _candidates(self, rng) -> list[dict]:
        n = self.n_initial_parameters
        if n == "grid":
            return list(ParameterGrid(expand_param_grid(self.parameters)))
        return list(ParameterSampler(self.parameters, n, random_state=self.random_state))

    def _make_tracks(self, rng) -> list[tuple]:
        """``[(name, model_ids, candidates), ...]``, sampled on the client."""
        candidates = self._candidates(rng)
        return [(None, list(range(len(candidates))), candidates)]

    def _prepare(self, name, n_models: int, max_resource: int | None):
        """Fit-time set-up of track ``name``: ``(policy, max_iter, cap)``."""
        return self._additional_calls, self.max_iter, self._round_cap()

    def _round_cap(self):
        return None

    def _additional_calls(self, history, done=frozenset()):
        raise NotImplementedError

    # -- validation ----------------------------------------------------------
    def _check_params(self):
        if not hasattr(self.estimator, "get_params"):
            raise TypeError(
                f"{type(self).__name__}: estimator must be a scikit-learn estimator; got "
                f"{type(self.estimator).__name__}."
            )
        params = self.parameters
        if isinstance(params, Mapping):
            params = [params]
        if not isinstance(params, Sequence) or not params or not all(isinstance(p, Mapping) for p in params):
            _fail(self, "parameters", self.parameters,
                  "a dict (or a non-empty list of dicts) of parameter names to lists or "
                  "scipy.stats distributions", "E.g. {'alpha': loguniform(1e-5, 1e-1)}.")
        self._check_own_params()
        if self._resource() == CALLS:
            if not hasattr(self.estimator, "partial_fit"):
                raise ValueError(
                    f"{type(self).__name__}: the estimator {type(self.estimator).__name__} has no "
                    "partial_fit method, so it cannot be trained incrementally. Use an "
                    "estimator with partial_fit (e.g. SGDClassifier), or "
                    "SuccessiveHalvingSearchCV(resource='n_samples') to halve on the number of "
                    "training samples with fit."
                )
        elif not hasattr(self.estimator, "fit"):
            raise ValueError(f"{type(self).__name__}: the estimator has no fit method.")
        if self.patience is not False and self.patience != 0:
            if self.patience is True and not self._auto_patience:
                _fail(self, "patience", True, "False or an int >= 2",
                      "patience=True (an automatic value) is available in HyperbandSearchCV only.")
            if self.patience is not True and (not _is_int(self.patience) or self.patience < 2):
                _fail(self, "patience", self.patience, "False or an int >= 2 (partial_fit calls)",
                      "patience=1 would stop every model after one call.")
            if self._resource() != CALLS:
                _fail(self, "patience", self.patience, "False with resource='n_samples'",
                      "Patience stops partial_fit training; refits on samples have no plateau.")
        if self.tol is not None and not _is_real(self.tol):
            _fail(self, "tol", self.tol, "a float or None", "E.g. tol=1e-3.")
        if self.cv is not None:
            if not _is_int(self.cv) or self.cv < 2:
                _fail(self, "cv", self.cv, "None (one hold-out split) or an int >= 2 (folds)",
                      "Splitter objects are not supported: folds are made block by block.")
            if self.test_size is not None:
                raise ValueError(
                    f"{type(self).__name__}: test_size={self.test_size!r} and cv={self.cv!r} were both "
                    "given; with cv each fold is the validation set of its models. Pass one of them."
                )
        if self.test_size is not None and not (_is_real(self.test_size) and 0 < self.test_size < 1):
            _fail(self, "test_size", self.test_size, "None or a fraction in (0, 1)", "E.g. test_size=0.15.")
        if not (_is_int(self.verbose) or isinstance(self.verbose, bool)) or self.verbose < 0:
            _fail(self, "verbose", self.verbose, "a non-negative int")
        if self.n_jobs is not None and not _is_int(self.n_jobs):
            _fail(self, "n_jobs", self.n_jobs, "None or an int (local threads without a Client)")
        if self.checkpoint is not None:
            if not isinstance(self.checkpoint, (str, os.PathLike)):
                _fail(self, "checkpoint", self.checkpoint, "None or a file path (str or path-like)")
            if not _is_int(self.random_state):
                _fail(self, "random_state", self.random_state, "an int when checkpoint is given",
                      "A resumed search must sample the same candidates, split and block order "
                      "as the run that wrote the checkpoint; e.g. random_state=0.")

    def _check_n_initial_parameters(self):
        n = self.n_initial_parameters
        if n != "grid" and (not _is_int(n) or n < 1):
            _fail(self, "n_initial_parameters", n, "a positive int or 'grid'",
                  "'grid' tries every combination of the lists in parameters.")

    def _check_scoring(self):
        if isinstance(self.scoring, (list, tuple, set, Mapping)):
            _fail(self, "scoring", self.scoring, "one metric (a scorer name, a callable or None)",
                  "An adaptive search compares models by one number; pass e.g. scoring='accuracy'.")
        try:
            return check_scoring(self.estimator, scoring=self.scoring)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{type(self).__name__}: invalid scoring={self.scoring!r}: {exc} Use a name from "
                "sklearn.metrics.get_scorer_names() or a callable (estimator, X, y) -> float."
            ) from exc

    def _check_fit_params(self, fit_params, n_samples):
        out = {}
        for name, value in fit_params.items():
            if _blockwise.is_dask(value):
                value = value.compute()
            if (name != "classes" and hasattr(value, "__len__") and not isinstance(value, (str, dict))
                    and len(value) == n_samples):
                raise ValueError(
                    f"{type(self).__name__}: fit parameter {name!r} has one value per sample; "
                    "fit parameters are passed unchanged to every partial_fit / fit call, so "
                    "per-sample parameters (e.g. sample_weight) are not supported."
                )
            out[name] = value
        return out

    # -- fit -----------------------------------------------------------------
    def fit(self, X, y=None, **fit_params):
        """Run the adaptive search.

        Parameters
        ----------
        X : array-like, dask array or dask DataFrame of shape (n_samples, n_features)
            Training data. A dask array's row chunks are the blocks that
            partial_fit calls visit; an in-memory array is one block (one call
            is then one pass over the training rows).
        y : array-like or dask array of shape (n_samples,), default=None
            Target, aligned with X.
        **fit_params : dict
            Passed unchanged to every ``partial_fit`` (or ``fit``) call. For a
            classifier whose ``partial_fit`` takes ``classes`` and none is
            given, the labels found in ``y`` are passed.

        Returns
        -------
        self : object
            The fitted search.
        """
        self._check_params()
        scorer = self._check_scoring()
        resource = self._resource()
        X, y, n_samples = _check_data(self.estimator, X, y)
        classifier = is_classifier(self.estimator)
        if self.cv is not None:
            spec = SplitSpec("kfold", n_folds=int(self.cv), stratify=classifier and y is not None)
        else:
            ts = _DEFAULT_TEST_SIZE if self.test_size is None else float(self.test_size)
            spec = SplitSpec("holdout", test_size=ts)
        rng = check_random_state(self.random_state)
        sampled = self._make_tracks(rng)
        for _, _, candidates in sampled:
            if not candidates:
                raise ValueError(f"{type(self).__name__}: no candidate parameters to try.")
            check_param_names(self.estimator, candidates)
        fit_params = self._check_fit_params(fit_params, n_samples)
        split_seed, order_seed = (int(s) for s in rng.randint(np.iinfo(np.int32).max, size=2))
        store = self._open_checkpoint(sampled, spec, (split_seed, order_seed), X, y, fit_params)

        runtime = model_runtime(self.n_jobs)
        if runtime.remote:
            _validation.check_picklable(self.estimator)
            _validation.check_picklable(scorer, "scorer")
        progress = Progress(1, type(self).__name__, self.verbose >= 1)
        start = time.perf_counter()
        try:
            if runtime.dashboard_link:
                progress.note(f"dashboard: {runtime.dashboard_link}")
            layout = runtime.place(X, y, spec, split_seed, labels=classifier)
            train_rows = self._check_layout(layout, spec)
            if (resource == CALLS and classifier and "classes" not in fit_params
                    and layout.classes is not None and _accepts(self.estimator.partial_fit, "classes")):
                fit_params["classes"] = layout.classes
            runtime.share("estimator", self.estimator)
            runtime.share("scorer", scorer)
            runtime.share("fit_params", fit_params)
            max_resource = min(int(train_rows[f].sum()) for f in spec.folds) if resource == SAMPLES else None
            tracks = [_Track(name, ids, cands, *self._prepare(name, len(cands), max_resource))
                      for name, ids, cands in sampled]
            orders = {f: _BlockOrder(np.flatnonzero(train_rows[f]), order_seed) for f in [*spec.folds, "all"]}
            ctx = _Context(runtime, spec, layout, train_rows, orders, resource, progress, start, store)
            self._search(ctx, tracks)
            self._set_results(tracks, spec)
            self.best_estimator_ = self._best_model(ctx)
            self.scorer_ = scorer
            self.n_splits_ = len(spec.folds)
            self.multimetric_ = False
            self.n_features_in_ = int(X.shape[1])
            if hasattr(self.best_estimator_, "classes_"):
                self.classes_ = self.best_estimator_.classes_
        finally:
            runtime.close()
        return self

    def _open_checkpoint(self, sampled, spec, seeds, X, y, fit_params):
        """The search's checkpoint, loaded (None without ``checkpoint``).

        Its fingerprint covers everything that decides the results: the
        class, the parameters (``parameters`` through the candidates sampled
        from it), the split, the seeds, the data and the fit parameters.
        """
        if self.checkpoint is None:
            return None
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in ("checkpoint", "verbose", "n_jobs", "parameters")}
        store = AdaptiveCheckpoint(self.checkpoint, fingerprint(
            type(self).__name__, params, sampled, spec, seeds, X, y, fit_params))
        store.load()
        return store

    def _check_layout(self, layout, spec):
        _validation.raise_for_nonfinite(self.estimator, layout.x_nonfinite)
        if layout.y_nonfinite:
            raise ValueError(
                f"y contains {layout.y_nonfinite} NaN or infinite value(s); targets must be "
                "finite. Drop those rows or fill the targets."
            )
        if is_classifier(self.estimator) and layout.classes is not None and len(layout.classes) < 2:
            raise ValueError(
                f"y has a single class ({layout.classes[0]!r}), but {type(self.estimator).__name__} "
                "is a classifier and needs at least 2 classes. Check the labels."
            )
        train_rows = {f: layout.train_rows(spec, f) for f in [*spec.folds, "all"]}
        for f in spec.folds:
            n_val = int(layout.sizes[:, spec.val_part(f)].sum())
            if n_val == 0 or train_rows[f].sum() == 0:
                what = "validation" if n_val == 0 else "training"
                raise ValueError(
                    f"{type(self).__name__}: fold {f} has no {what} rows "
                    f"(rows per block and part: {layout.sizes.tolist()[:5]}...). Use more data, "
                    "larger blocks, a larger test_size or fewer cv folds."
                )
        return train_rows

    # -- the search loop -----------------------------------------------------
    def _search(self, ctx, tracks):
        pending: dict = {}
        n_models = sum(len(t.ids) for t in tracks)
        ctx.progress.note(
            f"{n_models} models ({len(tracks)} bracket(s)), {len(ctx.spec.folds)} validation "
            f"fold(s), {len(ctx.layout.sizes)} block(s), on {ctx.runtime.n_slots} slots"
        )
        if ctx.store is not None:
            ctx.progress.note(f"checkpoint {ctx.store.path}: " + (
                f"resuming from {len(ctx.store)} record(s)" if len(ctx.store) else "new"))
        self._best_so_far = -math.inf
        ready: list = []  # scores read from the checkpoint: (track, model_id, fold, target, value)
        # on an error, the runtime cancels the work in flight when fit closes it
        for track in tracks:
            self._decide(ctx, track, pending, ready)
        while pending or ready:
            if ready:
                arrived = list(ready)
                ready.clear()
            else:
                done = ctx.runtime.wait_any(pending)
                values = ctx.runtime.gather(done)
                arrived = [(*pending.pop(h), v) for h, v in zip(done, values)]
                ctx.save(arrived)
            for track, model_id, fold, _, value in arrived:
                track.results.setdefault(model_id, {})[fold] = value
                track.outstanding -= 1
                if track.outstanding == 0:  # the track's round is complete: decide
                    self._finish_round(ctx, track)
                    self._decide(ctx, track, pending, ready)

    def _decide(self, ctx, track, pending, ready):
        key = ctx.resource
        instructions = pol.plan_round(
            track.alive, track.policy, max_iter=track.max_iter, patience=self._patience(),
            tol=self.tol, max_per_round=track.cap, key=key,
        )
        if not instructions:  # a policy must keep someone: keep the best
            instructions = {pol.top_models(track.alive, 1)[0]: 0}
        dropped = [m for m in track.alive if m not in instructions]
        ctx.drop(dropped)
        for m in dropped:
            del track.alive[m]
        work = {m: n for m, n in instructions.items() if n > 0}
        if track.round:
            unit = "samples" if key == SAMPLES else "calls"
            ahead = (f"next: {len(work)} model(s) for {max(work.values())} more {unit}" if work
                     else "finished")
            ctx.progress.note(
                f"{track.label}round {track.round}: {len(track.alive)} of {len(track.ids)} models left; "
                f"{ahead}; best score so far {self._best_so_far:.4f}"
            )
        if not work:
            track.survivors = list(track.alive)
            return
        track.round += 1
        for model_id, n in work.items():
            used = pol.current(track.alive[model_id], key)
            for fold in ctx.spec.folds:
                model_key = (model_id, fold)
                entry = ctx.recorded(model_key, used + n)
                if entry is not None:  # done before: read, not run
                    ready.append((track, model_id, fold, used + n, entry["v"]))
                else:
                    ctx.train(model_key, track.params[model_id], used, n)
                    pending[ctx.runtime.score(model_key)] = (track, model_id, fold, used + n)
                track.outstanding += 1

    def _finish_round(self, ctx, track):
        folds = ctx.spec.folds
        for model_id, by_fold in track.results.items():
            values = [by_fold[f] for f in folds]
            scores = [v["score"] for v in values]
            record = {
                "model_id": model_id,
                "params": track.params[model_id],
                ctx.resource: int(values[0]["resource"]),
                "score": float(np.mean(scores)),
                "score_time": float(np.mean([v["score_time"] for v in values])),
            }
            if ctx.resource == CALLS:
                spent = [v["fit_seconds"] - track.fit_seconds.get((model_id, f), 0.0) for f, v in zip(folds, values)]
                record["partial_fit_time"] = float(np.mean(spent))
                calls_before = pol.current(track.alive[model_id], CALLS)
                record["_calls_in_round"] = record[CALLS] - calls_before
                for f, v in zip(folds, values):
                    track.fit_seconds[(model_id, f)] = v["fit_seconds"]
            else:
                record["fit_time"] = float(np.mean([v["fit_seconds"] for v in values]))
            if len(folds) > 1:
                for f, s in zip(folds, scores):
                    record[f"split{f}_score"] = s
            if track.name is not None:
                record["bracket"] = track.name
            record["elapsed_wall_time"] = time.perf_counter() - ctx.start
            track.alive[model_id].append(record)
            self._best_so_far = max(self._best_so_far, pol.last_score([record]))
        track.results = {}

    def _patience(self):
        return self.patience

    # -- results -------------------------------------------------------------
    def _set_results(self, tracks, spec):
        self.model_history_ = {m: t.records[m] for t in tracks for m in t.ids}
        history = [r for recs in self.model_history_.values() for r in recs]
        history.sort(key=lambda r: r["elapsed_wall_time"])
        self.history_ = history
        self.cv_results_ = self._cv_results(tracks, spec)
        survivors = [m for t in tracks for m in t.survivors]
        ids = list(self.cv_results_["model_id"])
        scores = self.cv_results_["test_score"]
        best = max(survivors, key=lambda m: (np.nan_to_num(scores[ids.index(m)], nan=-np.inf), -ids.index(m)))
        self.best_index_ = ids.index(best)
        self.best_score_ = float(scores[self.best_index_])
        self.best_params_ = self.cv_results_["params"][self.best_index_]

    def _cv_results(self, tracks, spec):
        ids = [m for t in tracks for m in t.ids]
        params = [t.params[m] for t in tracks for m in t.ids]
        hists = [self.model_history_[m] for m in ids]
        res = {}
        calls_mode = any(CALLS in h[0] for h in hists if h)
        time_key = "partial_fit_time" if calls_mode else "fit_time"
        per_unit = []
        for h in hists:
            if calls_mode:
                per_unit.append([r["partial_fit_time"] / max(r["_calls_in_round"], 1) for r in h] or [np.nan])
            else:
                per_unit.append([r["fit_time"] for r in h] or [np.nan])
        res[f"mean_{time_key}"] = np.array([np.mean(v) for v in per_unit])
        res[f"std_{time_key}"] = np.array([np.std(v) for v in per_unit])
        score_times = [[r["score_time"] for r in h] or [np.nan] for h in hists]
        res["mean_score_time"] = np.array([np.mean(v) for v in score_times])
        res["std_score_time"] = np.array([np.std(v) for v in score_times])
        res["test_score"] = np.array([h[-1]["score"] if h else np.nan for h in hists], dtype=float)
        if len(spec.folds) > 1:
            for f in spec.folds:
                res[f"split{f}_test_score"] = np.array(
                    [h[-1][f"split{f}_score"] if h else np.nan for h in hists], dtype=float)
            res["std_test_score"] = np.std(
                np.stack([res[f"split{f}_test_score"] for f in spec.folds], axis=1), axis=1)
        res["rank_test_score"] = _rank(res["test_score"])
        res["model_id"] = np.array(ids)
        unit = CALLS if calls_mode else SAMPLES
        res[unit] = np.array([h[-1][unit] if h else 0 for h in hists], dtype=int)
        res["params"] = params
        res.update(_param_arrays(params))
        if any(t.name is not None for t in tracks):
            res["bracket"] = np.array([t.name for t in tracks for _ in t.ids], dtype=int)
        for h in hists:
            for r in h:
                r.pop("_calls_in_round", None)
        return res

    def _best_model(self, ctx):
        best = self.cv_results_["model_id"][self.best_index_]
        best = best.item() if hasattr(best, "item") else best
        if len(ctx.spec.folds) == 1:
            return ctx.model((best, 0))
        # cross-validated: train the best candidate once more, on all the rows
        used = int(self.cv_results_[ctx.resource][self.best_index_])
        if ctx.resource == SAMPLES:
            fold_rows = min(int(ctx.train_rows[f].sum()) for f in ctx.spec.folds)
            used = round(used * int(ctx.train_rows["all"].sum()) / fold_rows)
        model_key = (best, "all")
        if ctx.recorded(model_key, used) is not None:
            return ctx.model(model_key)
        ctx.train(model_key, self.best_params_, 0, used)
        state = ctx.runtime.state(model_key)
        ctx.save([(None, best, "all", used, None)], params=self.best_params_, state=state)
        return state[0]

    # -- delegation to the best estimator (DelegateMixin) ----------------------
    _fitted_attr = "best_estimator_"

    def _check_fitted(self):
        check_is_fitted(self, "best_estimator_")

    def score(self, X, y=None):
        """Score of the best estimator on (X, y) with the search's scorer."""
        self._check_fitted()
        return _blockwise.score(self.scorer_, self.best_estimator_, X, y)


def _accepts(method, name) -> bool:
    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


class _Context:
    """What one fit's rounds need: the runtime, the folds and block orders,
    and the checkpoint (``store``) with the states read from it."""

    def __init__(self, runtime, spec, layout, train_rows, orders, resource, progress, start, store=None):
        self.runtime = runtime
        self.spec = spec
        self.layout = layout
        self.train_rows = train_rows
        self.orders = orders
        self.resource = resource
        self.progress = progress
        self.start = start
        self.store = store
        self._resume: dict = {}  # model_key -> encoded state read from the checkpoint, not yet needed

    def recorded(self, model_key, target: int):
        """The checkpoint's record of this work (then it is not run), or None."""
        if self.store is None:
            return None
        entry = self.store.take(model_key[0], model_key[1], target)
        if entry is not None:
            self._resume[model_key] = entry["s"]
        return entry

    def save(self, arrived, params=None, state=None) -> None:
        """Append finished work to the checkpoint, with the models' states."""
        if self.store is None:
            return
        self.store.append([
            (m, f, t, track.params[m] if track is not None else params, v,
             self.runtime.scored_state((m, f)) if state is None else state)
            for track, m, f, t, v in arrived
        ])

    def drop(self, model_ids) -> None:
        self.runtime.drop([(m, f) for m in model_ids for f in self.spec.folds])
        for m in model_ids:
            for f in self.spec.folds:
                self._resume.pop((m, f), None)
            if self.store is not None:
                self.store.discard(m)

    def model(self, model_key):
        """The fitted estimator of a model, from the checkpoint if it was read there."""
        state = self._resume.pop(model_key, None)
        return decode_state(state)[0] if state is not None else self.runtime.model(model_key)

    def train(self, model_key, params, used: int, n: int) -> None:
        """Give a model ``n`` more units of work (calls, or rows for a refit)."""
        state = self._resume.pop(model_key, None)
        if state is not None:  # continue from the state recorded in the checkpoint
            self.runtime.restore(model_key, decode_state(state))
        fold = model_key[1]
        if self.resource == CALLS:
            self.runtime.partial_fit(model_key, params, self.orders[fold].take(used, n), used)
        else:
            self.runtime.fit_rows(model_key, params, allocate_rows(used + n, self.train_rows[fold]))


# ------------------------------------------------------------ shared docstrings
_COMMON_PARAMS = """
    patience : int or False, default=False
        Stop training a model when its last ``patience`` partial_fit calls
        improved its score by at most ``tol``. Rounds then last at most
        ``patience`` calls, so plateaus are noticed on time. A stopped model
        keeps competing with its last score. HyperbandSearchCV also accepts
        True: ``max(max_iter // aggressiveness, 1)``. Not available with
        ``resource='n_samples'``.
    tol : float or None, default=1e-3
        Improvement that counts as progress for ``patience``; None or NaN
        never stops a model early.
    test_size : float, default=None
        Fraction of each block's rows held out for validation (0.15 when
        None). The validation rows of all blocks are scored together, so they
        must fit in one worker's memory.
    cv : int, default=None
        Number of folds to score on instead of one hold-out split. Each
        block's rows are dealt to ``cv`` parts (class by class for a
        classifier); a candidate trains one model per fold, on the other
        folds' rows, and its score is the mean over folds. The best candidate
        is then trained once more, on all rows, for ``best_estimator_``.
        Incompatible with ``test_size``.
    random_state : int, RandomState instance or None, default=None
        Seeds the candidate sampling (as RandomizedSearchCV's), the split
        and the order in which calls visit the blocks.
    scoring : str, callable or None, default=None
        One metric (a scorer name or ``scorer(estimator, X, y)``); None uses
        the estimator's ``score``.
    verbose : int, default=0
        >= 1 prints, after every round, the bracket and round, how many
        models are left and the best score so far (on stderr).
    n_jobs : int, default=None
        Number of local threads when no ``dask.distributed.Client`` is
        active (None: all cores). With a Client the cluster is used.
    checkpoint : str or path-like, default=None
        File recording, as it arrives, every score of every model with the
        model's state after it (JSON lines, appended and fsynced; a crash
        mid-write loses at most that line). Running the same search (same
        arguments, an int ``random_state``, same data) with the same file
        resumes it: recorded work is not run again, models continue from
        their recorded states, and ``cv_results_`` equals an uninterrupted
        run. A file written by a different search is refused with a
        ValueError. The file holds pickled models: only resume from files
        you trust."""

_COMMON_ATTRS = """
    cv_results_ : dict of numpy arrays
        One entry per model: ``test_score`` (its last score), ``rank_test_score``,
        ``model_id``, ``partial_fit_calls``, ``params``, ``param_<name>``,
        ``mean_partial_fit_time`` / ``std_partial_fit_time`` (seconds per
        call), ``mean_score_time``, ``std_score_time``; with ``cv`` also
        ``split<k>_test_score`` and ``std_test_score``.
    history_ : list of dict
        Every score record, in the order they were made: ``model_id``,
        ``params``, ``partial_fit_calls``, ``partial_fit_time`` (seconds of
        the calls since the model's previous record), ``score``,
        ``score_time``, ``elapsed_wall_time``.
    model_history_ : dict
        ``history_`` per model: ``{model_id: [record, ...]}``.
    best_estimator_ : estimator
        The best model among those left at the end (the survivors), as
        trained by the search.
    best_score_ : float
        Its last validation score.
    best_index_ : int
        Its row in ``cv_results_``.
    best_params_ : dict
        Its parameters.
    scorer_ : callable
        The scorer used.
    n_splits_ : int
        Number of validation folds (1 for a hold-out split).
    multimetric_ : bool
        Always False: an adaptive search compares one number."""


def _doc(text: str) -> str:
    return text.replace("%(common_params)s", _COMMON_PARAMS.strip("\n")).replace(
        "%(common_attrs)s", _COMMON_ATTRS.strip("\n"))


# ----------------------------------------------------------------- the searches
class IncrementalSearchCV(BaseIncrementalSearchCV):
    __doc__ = _doc("""Train every candidate with ``partial_fit``, with early stopping.

    A RandomizedSearchCV for estimators with ``partial_fit``: the
    ``n_initial_parameters`` candidates all train concurrently, block by
    block, and are scored every ``fits_per_score`` calls, until ``max_iter``
    calls or until ``patience`` finds they stopped improving.

    Parameters
    ----------
    estimator : estimator object
        Cloned for every candidate; must implement ``partial_fit``.
    parameters : dict or list of dicts
        Parameter names mapped to lists or scipy.stats distributions.
    n_initial_parameters : int or 'grid', default=10
        Number of candidates sampled (as ``ParameterSampler``), or 'grid' for
        every combination of ``parameters``.
    max_iter : int, default=100
        Maximum number of partial_fit calls of any model.
    fits_per_score : int, default=1
        Number of partial_fit calls between two scores of a model.
%(common_params)s

    Attributes
    ----------
%(common_attrs)s

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from scipy.stats import loguniform
    >>> from dasklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=5000, chunks=1000, random_state=0)
    >>> search = IncrementalSearchCV(SGDClassifier(tol=None), {"alpha": loguniform(1e-5, 1e-1)},
    ...                              n_initial_parameters=4, max_iter=5, random_state=0)
    >>> search.fit(X, y).best_params_  # doctest: +SKIP
    """)

    def __init__(
        self,
        estimator,
        parameters,
        *,
        n_initial_parameters=10,
        max_iter=100,
        fits_per_score=1,
        patience=False,
        tol=1e-3,
        test_size=None,
        cv=None,
        random_state=None,
        scoring=None,
        verbose=0,
        n_jobs=None,
        checkpoint=None,
    ):
        super().__init__(
            estimator, parameters, max_iter=max_iter, patience=patience, tol=tol, test_size=test_size,
            cv=cv, random_state=random_state, scoring=scoring, verbose=verbose, n_jobs=n_jobs,
            checkpoint=checkpoint,
        )
        self.n_initial_parameters = n_initial_parameters
        self.fits_per_score = fits_per_score

    def _check_own_params(self):
        self._check_n_initial_parameters()
        if not _is_int(self.max_iter) or self.max_iter < 1:
            _fail(self, "max_iter", self.max_iter, "a positive int (partial_fit calls per model)")
        if not _is_int(self.fits_per_score) or self.fits_per_score < 1:
            _fail(self, "fits_per_score", self.fits_per_score, "a positive int")

    def _round_cap(self):
        return self.fits_per_score

    def _additional_calls(self, history, done=frozenset()):
        return pol.train_all(history, max_iter=self.max_iter, done=done)


class InverseDecaySearchCV(IncrementalSearchCV):
    __doc__ = _doc("""Keep a fraction ``1 / (1 + t) ** decay_rate`` of the best models after ``t`` calls.

    All candidates start; after ``t`` partial_fit calls only the best
    ``max(1, floor(n / (1 + t) ** decay_rate))`` keep training (the others
    are dropped and released). The last model left trains on to
    ``max_iter`` (dask-ml's stops it as soon as it is alone).

    Parameters
    ----------
    estimator : estimator object
        Cloned for every candidate; must implement ``partial_fit``.
    parameters : dict or list of dicts
        Parameter names mapped to lists or scipy.stats distributions.
    n_initial_parameters : int or 'grid', default=10
        Number of candidates sampled, or 'grid' for every combination.
    decay_rate : float, default=1.0
        How fast the number of models decreases; 0 keeps them all.
    max_iter : int, default=100
        Maximum number of partial_fit calls of any model.
    fits_per_score : int, default=1
        Maximum number of partial_fit calls between two scores of a model.
%(common_params)s

    Attributes
    ----------
%(common_attrs)s
    """)

    def __init__(
        self,
        estimator,
        parameters,
        *,
        n_initial_parameters=10,
        decay_rate=1.0,
        max_iter=100,
        fits_per_score=1,
        patience=False,
        tol=1e-3,
        test_size=None,
        cv=None,
        random_state=None,
        scoring=None,
        verbose=0,
        n_jobs=None,
        checkpoint=None,
    ):
        super().__init__(
            estimator, parameters, n_initial_parameters=n_initial_parameters, max_iter=max_iter,
            fits_per_score=fits_per_score, patience=patience, tol=tol, test_size=test_size, cv=cv,
            random_state=random_state, scoring=scoring, verbose=verbose, n_jobs=n_jobs,
            checkpoint=checkpoint,
        )
        self.decay_rate = decay_rate

    def _check_own_params(self):
        super()._check_own_params()
        if not _is_real(self.decay_rate) or not math.isfinite(self.decay_rate) or self.decay_rate < 0:
            _fail(self, "decay_rate", self.decay_rate, "a finite float >= 0", "E.g. decay_rate=1.0.")

    def _prepare(self, name, n_models, max_resource):
        self._n_start = n_models
        return super()._prepare(name, n_models, max_resource)

    def _additional_calls(self, history, done=frozenset()):
        return pol.inverse_decay(history, n_initial=self._n_start, decay_rate=self.decay_rate,
                                 max_iter=self.max_iter, done=done)
