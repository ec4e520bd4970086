"""Adaptive hyperparameter searches for partial_fit estimators: the shared
engine, IncrementalSearchCV and InverseDecaySearchCV (SuccessiveHalvingSearchCV
and HyperbandSearchCV are in :mod:`._hyperband`, the policies in
:mod:`._policies`, the per-fit state in :mod:`._adaptive_state` and the shared
docstring parts in :mod:`._adaptive_docs`).

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
(``_adaptive_state.Track``) and the policy, a pure function of them. The
models live on the workers; the client also keeps each live model's last
*scored* state (it comes back with the score) -- see
:mod:`dasklearn._runtime._models`.

* A worker that dies (SIGKILL, OOM) does not fail the search: the runtime
  rebuilds what was lost with it (data placed from the client is placed
  again, dask input is recomputed from lineage, a lost model is rebuilt from
  its last scored state by replaying the same ``partial_fit`` calls on the
  same blocks in the same order) before the search sees the score, so the
  results equal an undisturbed run.
* ``checkpoint=PATH`` makes the search resumable after its own process dies
  (see :class:`._checkpoint.AdaptiveCheckpoint`): every score is appended,
  with the model's state, to a durable file as it arrives (scores are
  brought back a round at a time, or within :data:`HOLD_SECONDS` of being
  done, whichever comes first). Running the same
  search again replays the policy over the recorded scores, restores each
  model that trains further from its last recorded state, and runs only the
  work that was never recorded.
"""

from __future__ import annotations

import inspect
import math
import os
import time
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import ParameterGrid, ParameterSampler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from dasklearn import _blockwise, _validation
from dasklearn._delegation import DelegateMixin
from dasklearn._runtime import Progress
from dasklearn._runtime._model_kernels import SplitSpec
from dasklearn._runtime._models import model_runtime
from dasklearn._validation import InvalidParameterError, is_real
from dasklearn.model_selection import _policies as pol
from dasklearn.model_selection._adaptive_docs import adaptive_doc
from dasklearn.model_selection._adaptive_state import BlockOrder, Context, Track, check_data
from dasklearn.model_selection._candidates import check_param_names, expand_param_grid, param_dicts
from dasklearn.model_selection._checkpoint import AdaptiveCheckpoint, fingerprints
from dasklearn.model_selection._params import fail, is_int, store_init_args
from dasklearn.model_selection._results import _param_arrays, _rank

__all__ = ["BaseIncrementalSearchCV", "IncrementalSearchCV", "InverseDecaySearchCV"]

CALLS = pol.CALLS
SAMPLES = "n_samples"
HOLD_SECONDS = 1.0  # a finished score waits at most this long to be brought back (and checkpointed)


def _default_test_size(X) -> float:
    """dask-ml's default hold-out: one block's share of the rows, at most 0.2."""
    n_blocks = X.numblocks[0] if _blockwise.is_dask_array(X) else 1
    return min(0.2, 1 / n_blocks)


def _string_column_names(X):
    """X's column names when all are strings (scikit-learn's ``feature_names_in_``), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not len(columns) or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(list(columns), dtype=object)


def _record_names(model, names) -> None:
    """Give ``model`` (trained on arrays) the column names it would have from
    a DataFrame: on the estimator that predicts (a dasklearn wrapper's
    ``estimator_``, a Pipeline's steps through its first step's)."""
    target = getattr(model, "estimator_", model)  # dasklearn's wrappers predict with estimator_
    if hasattr(target, "steps"):  # Pipeline: its feature_names_in_ is its first step's
        target = next((s for _, s in target.steps if s not in (None, "passthrough")), None)
    if target is None or hasattr(target, "feature_names_in_"):
        return
    try:
        target.feature_names_in_ = names
    except AttributeError:  # a read-only property (FeatureUnion, say): leave it
        pass


# ------------------------------------------------------------------- base class

class BaseIncrementalSearchCV(DelegateMixin, MetaEstimatorMixin, BaseEstimator):
    """Shared execution of the adaptive searches; subclasses supply the policy.

    Subclasses implement ``_additional_calls(history) -> {model_id: n_more}``
    (see :mod:`dasklearn.model_selection._policies`) and may override
    ``_make_tracks`` to run several policies at once (Hyperband's brackets).
    """

    _auto_patience = False  # whether patience=True has a meaning (Hyperband)

    # The parameters every search has, and their defaults (those from
    # ``patience`` on are documented once, in _adaptive_docs.COMMON_PARAMS).
    # Each public search lists them again in its own signature, which
    # scikit-learn reads, and stores its arguments with store_init_args;
    # fit validates them (_check_params, which calls the search's _check_own_params).
    def __init__(self, estimator, parameters, *, max_iter=100, patience=False, tol=1e-3, test_size=None,
                 cv=None, random_state=None, scoring=None, verbose=0, n_jobs=None, checkpoint=None,
                 prefix="", predict_meta=None, predict_proba_meta=None, transform_meta=None):
        store_init_args(self, locals())

    # -- subclass hooks ------------------------------------------------------
    def _resource(self) -> str:
        """What a unit of work is: ``"partial_fit_calls"`` or ``"n_samples"``."""
        return CALLS

    def _check_own_params(self) -> None:
        """Validate the subclass's own parameters (called by ``_check_params`` in fit,
        after ``estimator`` and ``parameters``)."""

    def _candidates(self, rng) -> list[dict]:
        """The candidates, sampled with ``rng`` (``n_initial_parameters`` of
        them, at most the size of a space of lists; every one for 'grid')."""
        n = self.n_initial_parameters
        if n == "grid":
            return list(ParameterGrid(expand_param_grid(self.parameters)))
        warn_small_space(self, [n])
        return list(ParameterSampler(self.parameters, self._n_candidates(), random_state=rng))

    def _n_candidates(self) -> int:
        """Number of candidates :meth:`_candidates` returns."""
        n = self.n_initial_parameters
        if n == "grid":
            return len(ParameterGrid(expand_param_grid(self.parameters)))
        size = space_size(self.parameters)
        return int(n) if size is None else min(int(n), size)

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
        param_dicts(self.parameters, "parameters", type(self).__name__)
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
                fail(self, "patience", True, "False or an int >= 2",
                      "patience=True (an automatic value) is available in HyperbandSearchCV only.")
            if self.patience is not True and (not is_int(self.patience) or self.patience < 2):
                fail(self, "patience", self.patience, "False or an int >= 2 (partial_fit calls)",
                      "patience=1 would stop every model after one call.")
            if self._resource() != CALLS:  # valid alone, not with this resource
                fail(self, "patience", self.patience, "False with resource='n_samples'",
                     "Patience stops partial_fit training; refits on samples have no plateau.", error=ValueError)
        if self.tol is not None and not is_real(self.tol):
            fail(self, "tol", self.tol, "a float or None", "E.g. tol=1e-3.")
        if self.cv is not None:
            if not is_int(self.cv) or self.cv < 2:
                fail(self, "cv", self.cv, "None (one hold-out split) or an int >= 2 (folds)",
                      "Splitter objects are not supported: folds are made block by block.")
            if self.test_size is not None:
                raise ValueError(
                    f"{type(self).__name__}: test_size={self.test_size!r} and cv={self.cv!r} were both "
                    "given; with cv each fold is the validation set of its models. Pass one of them."
                )
        if self.test_size is not None and not (is_real(self.test_size) and 0 < self.test_size < 1):
            fail(self, "test_size", self.test_size, "None or a fraction in (0, 1)", "E.g. test_size=0.1.")
        v = self.verbose
        if not (isinstance(v, bool) or is_real(v)) or not (v == 0 or 1e-9 <= v < math.inf):
            fail(self, "verbose", v, "a number >= 0 (0 or False: quiet; >= 1 or True: every round; a fraction "
                 "in [1e-9, 1), dask-ml's: every int(1 / verbose)-th round)")
        if not isinstance(self.prefix, str):
            fail(self, "prefix", self.prefix, "a str", "It is added to the verbose lines' tag.")
        self._check_metas()
        if self.n_jobs is not None and not is_int(self.n_jobs):
            fail(self, "n_jobs", self.n_jobs, "None or an int (local threads without a Client)")
        if self.checkpoint is not None:
            if not isinstance(self.checkpoint, (str, os.PathLike)) or os.path.isdir(os.fspath(self.checkpoint)):
                fail(self, "checkpoint", self.checkpoint, "None or a file path (str or path-like), not a directory")
            if not is_int(self.random_state):  # valid alone, not with a checkpoint
                fail(self, "random_state", self.random_state, "an int when checkpoint is given",
                     "A resumed search must sample the same candidates, split and block order "
                     "as the run that wrote the checkpoint; e.g. random_state=0.", error=ValueError)
        _validation.check_random_state_param(self.random_state, type(self).__name__)

    def _check_positive_int(self, name, expected="a positive int", none_ok=False):
        """Check that parameter ``name`` is an int >= 1 (or None with ``none_ok``)."""
        value = getattr(self, name)
        if not (none_ok and value is None) and (not is_int(value) or value < 1):
            fail(self, name, value, expected)

    def _check_n_initial_parameters(self):
        n = self.n_initial_parameters
        if n != "grid" and (not is_int(n) or n < 1):
            fail(self, "n_initial_parameters", n, "a positive int or 'grid'",
                  "'grid' tries every combination of the lists in parameters.")

    def _check_scoring(self):
        if isinstance(self.scoring, (list, tuple, set, Mapping)):
            fail(self, "scoring", self.scoring, "one metric (a scorer name, a callable or None)",
                  "An adaptive search compares models by one number; pass e.g. scoring='accuracy'.")
        est = type(self.estimator).__name__
        if not hasattr(self.estimator, "fit"):  # (scikit-learn's scorers refuse it, blaming scoring)
            raise TypeError(
                f"{type(self).__name__}: {est} has partial_fit but no fit method, which scikit-learn's "
                f"scoring requires of an estimator. Give {est} a fit method (e.g. one that calls "
                "partial_fit once)."
            )
        if self.scoring is None and not hasattr(self.estimator, "score"):
            raise TypeError(
                f"{type(self).__name__}: scoring=None scores the models with the estimator's score "
                f"method, which {est} does not have. Pass scoring= (a scorer name, or a callable "
                "(estimator, X, y) -> float)."
            )
        try:
            return check_scoring(self.estimator, scoring=self.scoring)
        except (ValueError, TypeError) as exc:
            raise InvalidParameterError(
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
        names = _string_column_names(X)
        X, y, n_samples = check_data(self.estimator, X, y)
        classifier = is_classifier(self.estimator)
        if self.cv is not None:
            spec = SplitSpec("kfold", n_folds=int(self.cv), stratify=classifier and y is not None)
        else:
            ts = _default_test_size(X) if self.test_size is None else float(self.test_size)
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
        progress = Progress(1, type(self).__name__, self.verbose > 0, prefix=self.prefix)
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
            # as scikit-learn's halving search: a classifier's first rung of rows
            # has at least two per class (one row cannot train it)
            self._min_rows = (2 * len(layout.classes) if resource == SAMPLES and classifier
                              and layout.classes is not None else 1)
            tracks = [Track(name, ids, cands, *self._prepare(name, len(cands), max_resource))
                      for name, ids, cands in sampled]
            orders = {f: BlockOrder(np.flatnonzero(train_rows[f]), order_seed) for f in [*spec.folds, "all"]}
            ctx = Context(runtime, spec, layout, train_rows, orders, resource, progress, start, store)
            self._search(ctx, tracks)
            self._set_results(tracks, spec)
            self.best_estimator_ = self._best_model(ctx)
            self.scorer_ = scorer
            self.n_splits_ = len(spec.folds)
            self.multimetric_ = False
            self.n_features_in_ = int(X.shape[1])
            self.__dict__.pop("feature_names_in_", None)
            if names is not None:
                # the blocks were fitted as arrays: the best model checks the
                # names of what it predicts on, as if fitted on the DataFrame
                self.feature_names_in_ = names
                _record_names(self.best_estimator_, names)
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
                  if k not in ("checkpoint", "verbose", "n_jobs", "parameters", "prefix",
                               *self._METAS.values())}
        store = AdaptiveCheckpoint(self.checkpoint, fingerprints({
            "search class": type(self).__name__, "parameters": params, "candidates": sampled,
            "validation split": spec, "seeds": seeds, "X": X, "y": y, "fit parameters": fit_params}),
            lazy_data=_blockwise.is_dask(X) or _blockwise.is_dask(y))
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
        held: dict = {}  # scores done, not yet brought to the client -> when they were seen done
        while pending or ready:
            if ready:
                arrived = list(ready)
                ready.clear()
            else:
                waiting = [h for h in pending if h not in held]
                if waiting:  # (until the oldest held score is due)
                    # a timed wait returns without asking whether the cluster still has workers:
                    # an emptied cluster is then noticed by the gather of the held scores
                    due = None if not held else max(0.0, min(held.values()) + HOLD_SECONDS - time.monotonic())
                    try:
                        done = ctx.runtime.wait_any(waiting, timeout=due)
                    except Exception:
                        _save_finished(ctx, pending, list(held))
                        raise
                    for h in done:
                        held[h] = time.monotonic()
                failed = [h for h in held if ctx.runtime.failed(h)]
                if failed:  # what finished is checkpointed, then the fit's error raised
                    _save_finished(ctx, pending, [h for h in held if h not in failed])
                    ctx.runtime.gather(failed)
                # (local threads: no round trip to save, every finished score is taken at once)
                take = _to_gather(pending, held) if ctx.runtime.remote else list(held)
                if not take:
                    continue
                values = ctx.runtime.gather(take)
                for h in take:
                    del held[h]
                arrived = [(*pending.pop(h), v) for h, v in zip(take, values)]
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
        if not instructions:  # a bug in a policy, not in the user's input
            raise RuntimeError(
                f"{type(self).__name__}: the policy dropped every model "
                f"({'the search' if track.name is None else f'bracket {track.name}'}); "
                "a policy must keep at least one model (0 more calls ends the search)."
            )
        dropped = [m for m in track.alive if m not in instructions]
        ctx.drop(dropped)
        for m in dropped:
            del track.alive[m]
        work = {m: n for m, n in instructions.items() if n > 0}
        ctx.park([m for m in track.alive if m not in work])
        # (a fraction, as dask-ml's verbose: every int(1 / verbose)-th round, and the last)
        every = 1 if self.verbose >= 1 else int(1 / self.verbose) if self.verbose > 0 else 0
        if track.round and every and (track.round % every == 0 or not work):
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
            res["mean_test_score"] = res["test_score"].copy()  # (the mean over the folds: scikit-learn's name)
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # the inner estimator's kind (DelegateMixin)
        tags.input_tags.sparse = False  # X is split into dense blocks
        return tags

    @property
    def classes_(self):
        """Class labels of the best estimator (classifiers only)."""
        self._check_fitted()
        return self.best_estimator_.classes_

    def score(self, X, y=None):
        """Score of the best estimator on (X, y) with the search's scorer."""
        self._check_fitted()
        return _blockwise.score(self.scorer_, self.best_estimator_, X, y)


def space_size(parameters) -> int | None:
    """Number of distinct candidates in ``parameters``, or None (unbounded)
    when it has a distribution (anything with ``rvs``, as ParameterSampler
    decides). ParameterSampler returns at most this many candidates."""
    grids = [parameters] if isinstance(parameters, Mapping) else parameters
    if any(hasattr(v, "rvs") for grid in grids for v in grid.values()):
        return None
    return len(ParameterGrid(parameters))


def warn_small_space(owner, asked) -> int | None:
    """Warn once (at the user's line) if ``owner.parameters`` has fewer
    candidates than the largest number ``asked`` for (one per bracket for
    Hyperband); returns :func:`space_size` of ``owner.parameters``."""
    size = space_size(owner.parameters)
    if size is None or size >= max(asked):
        return size
    wanted = (f"the {asked[0]} candidates asked for" if len(asked) == 1
              else f"the {', '.join(map(str, asked))} candidates its brackets ask for")
    warnings.warn(
        f"{type(owner).__name__}: parameters has {size} distinct candidate(s) (lists only, no "
        f"distribution), fewer than {wanted}; at most {size} are trained per "
        f"{'bracket' if len(asked) > 1 else 'search'} (metadata counts the same). Add values, or "
        "a scipy.stats distribution, to try more.",
        UserWarning, stacklevel=_validation.user_stacklevel(),
    )
    return size


def _accepts(method, name) -> bool:
    """Does ``method`` take ``name``: by name, or through ``**kwargs`` (a
    wrapper's, such as dasklearn's Incremental, passing it on)?"""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


# ----------------------------------------------------------------- the searches
class IncrementalSearchCV(BaseIncrementalSearchCV):
    __doc__ = adaptive_doc("""Train every candidate with ``partial_fit``, with early stopping.

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
        every combination of ``parameters`` (a scipy.stats distribution
        there is expanded as :class:`GridSearchCV` expands one: 5
        quantiles, or every value of a small discrete support).
    max_iter : int, default=100
        Maximum number of partial_fit calls of any model.
    fits_per_score : int, default=1
        Number of partial_fit calls between two scores of a model.
    decay_rate : None or 0, default=None
        Accepted for dask-ml's code, which passes ``decay_rate=None`` (or 0,
        which decays nothing either); any other value is refused: the decay
        is InverseDecaySearchCV's.
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

    def __init__(self, estimator, parameters, *, n_initial_parameters=10, max_iter=100, fits_per_score=1,
                 patience=False, tol=1e-3, test_size=None, cv=None, random_state=None, scoring=None,
                 verbose=0, n_jobs=None, checkpoint=None, prefix="", predict_meta=None,
                 predict_proba_meta=None, transform_meta=None, decay_rate=None):
        store_init_args(self, locals())

    def _check_own_params(self):
        self._check_n_initial_parameters()
        self._check_positive_int("max_iter", "a positive int (partial_fit calls per model)")
        self._check_positive_int("fits_per_score")
        self._check_decay_rate()

    def _check_decay_rate(self):
        if self.decay_rate is not None and not (is_real(self.decay_rate) and self.decay_rate == 0):
            fail(self, "decay_rate", self.decay_rate, "None (or 0: no decay)",
                  "IncrementalSearchCV trains every candidate to the end; to drop models as "
                  "1 / (1 + t) ** decay_rate, use InverseDecaySearchCV(decay_rate=...) (where "
                  "dask-ml moved the parameter).")

    def _round_cap(self):
        return self.fits_per_score

    def _additional_calls(self, history, done=frozenset()):
        return pol.train_all(history, max_iter=self.max_iter, done=done)


class InverseDecaySearchCV(IncrementalSearchCV):
    __doc__ = adaptive_doc("""Keep a fraction ``1 / (1 + t) ** decay_rate`` of the best models after ``t`` calls.

    All candidates start; after ``t`` partial_fit calls only the best
    ``max(1, floor(n / (1 + t) ** decay_rate))`` keep training (the others
    are dropped and released). The last model left trains on to
    ``max_iter``. dask-ml's differs twice: it keeps the number of models due
    at the next call where that number changes (a decay step ahead), and it
    stops as soon as one model is left. With the defaults (10 candidates,
    ``max_iter=100``) dask-ml's makes 12 ``partial_fit`` calls in all and
    trains its best model 2; this one makes 117 and trains it 100. A smaller
    ``max_iter`` bounds the cost.

    Parameters
    ----------
    estimator : estimator object
        Cloned for every candidate; must implement ``partial_fit``.
    parameters : dict or list of dicts
        Parameter names mapped to lists or scipy.stats distributions.
    n_initial_parameters : int or 'grid', default=10
        Number of candidates sampled, or 'grid' for every combination (a
        distribution is expanded as :class:`GridSearchCV` expands one).
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

    def __init__(self, estimator, parameters, *, n_initial_parameters=10, decay_rate=1.0, max_iter=100,
                 fits_per_score=1, patience=False, tol=1e-3, test_size=None, cv=None, random_state=None,
                 scoring=None, verbose=0, n_jobs=None, checkpoint=None, prefix="", predict_meta=None,
                 predict_proba_meta=None, transform_meta=None):
        store_init_args(self, locals())

    def _check_decay_rate(self):
        if not is_real(self.decay_rate) or not math.isfinite(self.decay_rate) or self.decay_rate < 0:
            fail(self, "decay_rate", self.decay_rate, "a finite float >= 0", "E.g. decay_rate=1.0.")

    def _prepare(self, name, n_models, max_resource):
        self._n_start = n_models
        return super()._prepare(name, n_models, max_resource)

    def _additional_calls(self, history, done=frozenset()):
        return pol.inverse_decay(history, n_initial=self._n_start, decay_rate=self.decay_rate,
                                 max_iter=self.max_iter, done=done)


def _save_finished(ctx, pending: dict, handles: list) -> None:
    """Checkpoint finished scores before an error ends the search (those
    whose values are there: none is recomputed or waited for)."""
    handles = [h for h in handles if ctx.runtime.ready(h)]
    if ctx.store is None or not handles:
        return
    try:
        values = ctx.runtime.gather(handles)
    except Exception:  # (the error being raised is the one to see)
        return
    ctx.save([(*pending[h], v) for h, v in zip(handles, values)])


def _to_gather(pending: dict, held: dict) -> list:
    """The finished scores to bring back now: those of every track whose
    round has all its scores done (its next round can then be decided), and
    any held for :data:`HOLD_SECONDS` (so that long rounds are still
    checkpointed as they go). Bringing scores back in few, larger batches
    saves a round trip per score when models are cheap."""
    open_tracks = {id(pending[h][0]) for h in pending if h not in held}
    now = time.monotonic()
    return [h for h, seen in held.items()
            if id(pending[h][0]) not in open_tracks or now - seen >= HOLD_SECONDS]
