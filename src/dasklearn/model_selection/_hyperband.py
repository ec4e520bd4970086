"""SuccessiveHalvingSearchCV and HyperbandSearchCV (policies in :mod:`._policies`,
execution in :class:`._incremental.BaseIncrementalSearchCV`)."""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
from sklearn.model_selection import ParameterSampler
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from dasklearn._validation import is_real
from dasklearn.model_selection import _policies as pol
from dasklearn.model_selection._adaptive_docs import adaptive_doc
from dasklearn.model_selection._incremental import (
    CALLS, SAMPLES, BaseIncrementalSearchCV, space_size, warn_small_space,
)
from dasklearn.model_selection._params import fail, is_int, store_init_args

__all__ = ["HyperbandSearchCV", "SuccessiveHalvingSearchCV"]


class SuccessiveHalvingSearchCV(BaseIncrementalSearchCV):
    __doc__ = adaptive_doc("""Successive halving: train many models briefly, the best ones longer.

    Rung ``k`` trains ``floor(n / aggressiveness**k)`` models to
    ``floor(n_initial_iter * aggressiveness**k)`` partial_fit calls (at least
    one more than the previous rung); the best of them go on to the next
    rung, the others are dropped and released. It stops after the rung that
    leaves one model (or whose successor would keep none), or at the rung
    reaching ``max_iter`` (no model trains past ``max_iter``). ``metadata``
    gives the rungs before fitting.

    For estimators without ``partial_fit`` (``resource='n_samples'``), the
    resource is the number of training samples, as scikit-learn's
    HalvingRandomSearchCV but distributed: each rung *refits* its models with
    ``fit`` on a growing subsample of the training rows (taken evenly from
    every block), and with ``n_initial_iter`` None the last rung uses
    ``max_iter`` rows (default: all training rows of a fold). With
    ``n_initial_iter`` given, the rungs grow from it and end, as above, at
    the rung that leaves one model, which may use far fewer rows than a
    fold has: ``best_estimator_`` is that rung's model, not refitted on all
    rows (scikit-learn's halving search refits it). For a classifier the subsample holds every
    class in its share (as scikit-learn's halving search stratifies it), and
    when ``n_initial_iter`` is None the first rung has at least two rows
    per class (``metadata``, computed before the classes are known, may
    then show smaller first rungs than ``metadata_``).

    Parameters
    ----------
    estimator : estimator object
        Cloned for every candidate.
    parameters : dict or list of dicts
        Parameter names mapped to lists or scipy.stats distributions.
    n_initial_parameters : int or 'grid', default=10
        Number of candidates sampled, or 'grid' for every combination (a
        scipy.stats distribution is expanded as GridSearchCV expands one). When
        ``parameters`` has only lists with fewer combinations, all of them
        are used (with a warning) and each rung keeps at most that many
        models; the rungs' resources stay those planned for
        ``n_initial_parameters``.
    n_initial_iter : int, default=None
        Resource of the first rung (partial_fit calls, or samples); rung ``k``
        then gets ``n_initial_iter * aggressiveness**k``. None: rungs are
        spread so that the last one uses exactly ``max_iter``
        (``floor(max_iter * aggressiveness**(k - K))`` for ``K`` halvings, as
        scikit-learn's ``min_resources='exhaust'``); 1 call when ``max_iter``
        is None too.
    max_iter : int, default=None
        Most resource any model gets (calls, or samples). None: no limit for
        calls; all training rows of a fold for samples.
    aggressiveness : float, default=3
        Factor by which the number of models shrinks and the resource grows
        from one rung to the next.
    resource : {'auto', 'partial_fit_calls', 'n_samples'}, default='auto'
        What a rung gives its models. 'auto': partial_fit calls if the
        estimator has ``partial_fit``, else samples (refits with ``fit``).
%(common_params)s

    Attributes
    ----------
%(common_attrs)s
        With ``resource='n_samples'``, ``cv_results_`` has ``n_samples``,
        ``mean_fit_time`` and ``std_fit_time`` instead of the partial_fit
        entries, and records have ``n_samples`` and ``fit_time``.
    metadata, metadata_ : dict
        The planned (before fit) and performed (after fit) work:
        ``n_models``, ``max_iter``, ``partial_fit_calls`` (total) and, in
        ``metadata`` only, ``rungs`` (``n_models`` and resource of each
        planned rung); with samples
        ``n_fits`` and ``n_samples`` (rows fitted in total) instead of
        ``partial_fit_calls``.
    """)

    def __init__(self, estimator, parameters, *, n_initial_parameters=10, n_initial_iter=None, max_iter=None,
                 aggressiveness=3, resource="auto", patience=False, tol=1e-3, test_size=None, cv=None,
                 random_state=None, scoring=None, verbose=0, n_jobs=None, checkpoint=None,
                 prefix="", predict_meta=None, predict_proba_meta=None, transform_meta=None):
        store_init_args(self, locals())

    def _resource(self):
        if self.resource == "auto":
            return CALLS if hasattr(self.estimator, "partial_fit") else SAMPLES
        return CALLS if self.resource == "partial_fit_calls" else SAMPLES

    def _check_own_params(self):
        if self.resource not in ("auto", "partial_fit_calls", "n_samples"):
            fail(self, "resource", self.resource, "one of 'auto', 'partial_fit_calls', 'n_samples'")
        self._check_n_initial_parameters()
        for name in ("n_initial_iter", "max_iter"):
            self._check_positive_int(name, "None or a positive int", none_ok=True)
        _check_aggressiveness(self)
        if self.n_initial_iter is not None and self.max_iter is not None and self.n_initial_iter > self.max_iter:
            raise ValueError(
                f"{type(self).__name__}: n_initial_iter={self.n_initial_iter} is larger than "
                f"max_iter={self.max_iter}. Use n_initial_iter <= max_iter (or leave it None)."
            )

    def _rungs(self, n_models, top, min_rows=1):
        """Rungs planned for ``n_initial_parameters`` models (the grid's size
        for 'grid') up to ``top``, with at most ``n_models`` in each (and, on
        rows, at least ``min_rows`` from the first)."""
        n = n_models if self.n_initial_parameters == "grid" else int(self.n_initial_parameters)
        if self.n_initial_iter is None and top is not None:
            # a classifier fitted on rows: at least 2 per class from the first rung
            rungs = pol.exhaust_rungs(n, self.aggressiveness, top, min_rows)
        else:
            rungs = pol.sha_rungs(n, self.n_initial_iter or 1, self.aggressiveness, top)
        return pol.cap_rungs(rungs, n_models)

    def _prepare(self, name, n_models, max_resource):
        top = self.max_iter
        if self._resource() == SAMPLES:
            if top is not None and top > max_resource:
                raise ValueError(
                    f"{type(self).__name__}: max_iter={top} samples, but a fold has only "
                    f"{max_resource} training rows. Use max_iter <= {max_resource} or None."
                )
            top = max_resource if top is None else top
        min_rows = getattr(self, "_min_rows", 1)
        if self._resource() == SAMPLES and self.n_initial_iter is not None and self.n_initial_iter < min_rows:
            raise ValueError(
                f"{type(self).__name__}: n_initial_iter={self.n_initial_iter} rows cannot train a classifier "
                f"of {min_rows // 2} classes: the first rung needs at least {min_rows} rows (2 per class). "
                f"Use n_initial_iter >= {min_rows}, or None (then the first rung has them)."
            )
        self._rungs_ = self._rungs(n_models, top, min_rows)
        return self._additional_calls, top, None

    def _additional_calls(self, history, done=frozenset()):
        return pol.successive_halving(history, rungs=self._rungs_, done=done, key=self._resource())

    @property
    def metadata(self) -> dict:
        """The planned work (computed from the parameters, before fit)."""
        self._check_params()
        samples = self._resource() == SAMPLES
        if samples and self.max_iter is None:
            raise _KnownAfterFit(
                f"{type(self).__name__}: metadata of a search on samples with max_iter=None depends "
                "on the number of training rows of a fold. Pass max_iter (the rows of the last "
                "rung, e.g. max_iter=1000) to plan it, or read metadata_ after fit."
            )
        return _sha_metadata(self._rungs(self._n_candidates(), self.max_iter), samples)

    @property
    def metadata_(self) -> dict:
        """The work performed (from ``model_history_``)."""
        check_is_fitted(self, "model_history_")
        return _performed(self.model_history_, self._resource())


class _KnownAfterFit(ValueError, AttributeError):
    """``metadata`` that only the data can tell (an AttributeError too, as
    scikit-learn's NotFittedError: ``hasattr(search, "metadata")`` is False)."""


def _check_aggressiveness(owner):
    a = owner.aggressiveness
    if not is_real(a) or not math.isfinite(a) or a <= 1:
        fail(owner, "aggressiveness", a, "a number > 1", "E.g. aggressiveness=3 keeps a third each rung.")


def _sha_metadata(rungs, samples: bool) -> dict:
    key = SAMPLES if samples else CALLS
    out = {"n_models": rungs[0][0], "max_iter": rungs[-1][1],
           "rungs": [{"n_models": n, key: r} for n, r in rungs]}
    if samples:
        out["n_fits"] = sum(n for n, _ in rungs)
        out["n_samples"] = sum(n * r for n, r in rungs)
    else:
        out["partial_fit_calls"] = pol.rung_total(rungs)
    return out


def _performed(model_history, resource) -> dict:
    finals = [h[-1][resource] for h in model_history.values() if h]
    out = {"n_models": len(model_history), "max_iter": max(finals, default=0)}
    if resource == SAMPLES:
        records = [r for h in model_history.values() for r in h]
        out["n_fits"] = len(records)
        out["n_samples"] = int(sum(r[SAMPLES] for r in records))
    else:
        out["partial_fit_calls"] = int(sum(finals))
    return out


class HyperbandSearchCV(BaseIncrementalSearchCV):
    _auto_patience = True
    __doc__ = adaptive_doc("""Hyperband: successive halving in several brackets, all at once.

    Each bracket ``s`` is a successive halving run trading the number of
    candidates against the calls each gets before the first cut: the most
    adaptive bracket starts many models at one call, the last one trains a
    few models straight to ``max_iter`` (Li et al., "Hyperband", JMLR 2018).
    All brackets' models train concurrently across the workers; ``metadata``
    gives the brackets before fitting.

    Parameters
    ----------
    estimator : estimator object
        Cloned for every candidate; must implement ``partial_fit``.
    parameters : dict or list of dicts
        Parameter names mapped to lists or scipy.stats distributions; each
        bracket samples its own candidates. A space of lists only with fewer
        combinations than a bracket plans gives that bracket all of them
        (with one warning), and each of its rungs keeps at most that many.
    max_iter : int, default=81
        Most partial_fit calls of any model. It is ``R`` of the paper's
        bracket arithmetic, but only bracket 0 (which trains its few models
        straight to ``max_iter``) is sure to reach it: bracket ``s`` starts at
        ``r = floor(max_iter / aggressiveness**s)`` calls and ends, as in
        dask-ml, at the largest ``r * aggressiveness**k <= max_iter`` its
        models last for (see Notes). As a guide: blocks of
        ``n_examples / n_params`` rows and ``max_iter = n_params``, where
        ``n_examples`` is what the best model should see; a power of
        ``aggressiveness`` (27, 81, 243) lets every bracket reach it.
    aggressiveness : float, default=3
        Rung factor (``eta`` in the paper): each cut keeps
        ``1 / aggressiveness`` of the models and trains them
        ``aggressiveness`` times longer.
%(common_params)s

    Attributes
    ----------
%(common_attrs)s
        ``cv_results_`` and the records also have ``bracket``; model ids are
        ``'bracket=<s>-<i>'``.
    metadata, metadata_ : dict
        Planned (before fit, without patience) and performed work:
        ``n_models``, ``partial_fit_calls`` and ``brackets``, a list (by
        ascending ``bracket``) of dicts with ``bracket``, ``n_models``,
        ``partial_fit_calls``, ``decisions`` (calls at which models are
        compared) and ``SuccessiveHalvingSearchCV params`` (the arguments of
        a SuccessiveHalvingSearchCV running that bracket: its
        ``random_state`` seeds the bracket's candidates, so they are the
        same; before fit it is None unless ``random_state`` is an int).

    Notes
    -----
    The bracket sizes follow the paper and dask-ml (for ``max_iter=81`` and
    ``aggressiveness=3``: 81, 34, 15, 8 and 5 models, 1581 calls in all),
    except that ``s_max = floor(log(max_iter, eta))`` is computed exactly
    (dask-ml has 5 brackets for ``max_iter=243``, this has 6) and no model
    trains past ``max_iter``.

    As in dask-ml, a bracket's first rung is floored
    (``r = floor(max_iter / aggressiveness**s)``) and a bracket usually runs
    out of models after ``s`` cuts, at ``r * aggressiveness**s``; a rung that
    would pass ``max_iter`` is cut to ``max_iter``. So when ``max_iter`` is
    not a power of ``aggressiveness``, only bracket 0 is sure to reach
    ``max_iter``: with ``max_iter=100`` and ``aggressiveness=3``, brackets 4
    to 0 end at 81, 81, 99, 99 and 100 calls (``metadata`` shows each
    bracket's ``decisions``). With a non-integer ``aggressiveness`` the later
    rungs' calls are floored too (``floor(r * aggressiveness**k)``), where
    dask-ml rounds them to the nearest integer: a rung may end a call
    earlier than dask-ml's (``max_iter=20, aggressiveness=2.5``: bracket 2
    decides at 3, 7 and 18 calls, dask-ml's at 3, 8 and 19). An integer
    ``aggressiveness`` gives dask-ml's rungs.
    """)

    def __init__(self, estimator, parameters, *, max_iter=81, aggressiveness=3, patience=False, tol=1e-3,
                 test_size=None, cv=None, random_state=None, scoring=None, verbose=0, n_jobs=None,
                 checkpoint=None, prefix="", predict_meta=None, predict_proba_meta=None, transform_meta=None):
        store_init_args(self, locals())

    def _check_own_params(self):
        self._check_positive_int("max_iter", "a positive int (partial_fit calls of the longest-trained model)")
        _check_aggressiveness(self)
        patience = self.patience
        auto = pol.hyperband_patience(True, self.max_iter, self.aggressiveness)
        if is_int(patience) and 2 <= patience < auto:
            if self.tol is not None and not (isinstance(self.tol, float) and math.isnan(self.tol)):
                warnings.warn(
                    f"HyperbandSearchCV: patience={patience} is small: it may stop models that "
                    f"Hyperband would train further. Set patience=True or patience >= {auto} "
                    "(or tol=None).",
                    UserWarning, stacklevel=4,
                )

    def _patience(self):
        return pol.hyperband_patience(self.patience, self.max_iter, self.aggressiveness)

    @staticmethod
    def _bracket_seeds(brackets, rng) -> dict:
        """Seed of each bracket's candidate sampling (the first draws of ``rng``)."""
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(brackets))
        return {b.bracket: int(seed) for b, seed in zip(brackets, seeds)}

    def _make_tracks(self, rng):
        brackets = pol.hyperband_brackets(self.max_iter, self.aggressiveness)
        self._brackets = {b.bracket: b for b in brackets}
        self._seeds = self._bracket_seeds(brackets, rng)
        size = warn_small_space(self, [b.n_models for b in brackets])
        tracks = []
        for b in brackets:
            n = b.n_models if size is None else min(b.n_models, size)
            candidates = list(ParameterSampler(self.parameters, n, random_state=self._seeds[b.bracket]))
            ids = [f"bracket={b.bracket}-{i}" for i in range(len(candidates))]
            tracks.append((b.bracket, ids, candidates))
        return tracks

    def _prepare(self, name, n_models, max_resource):
        rungs = pol.cap_rungs(self._brackets[name].rungs, n_models)
        return functools.partial(pol.successive_halving, rungs=rungs), self.max_iter, None

    def _bracket_params(self, b, seed) -> dict:
        """Arguments of a SuccessiveHalvingSearchCV running bracket ``b``."""
        return {
            "n_initial_parameters": b.n_models, "n_initial_iter": b.n_initial_iter, "max_iter": self.max_iter,
            "aggressiveness": self.aggressiveness, "patience": self._patience(), "tol": self.tol,
            "test_size": self.test_size, "cv": self.cv, "random_state": seed, "scoring": self.scoring,
        }

    @property
    def metadata(self) -> dict:
        """The planned work (computed from the parameters, before fit)."""
        self._check_params()
        meta = pol.hyperband_metadata(self.max_iter, self.aggressiveness, space_size(self.parameters))
        brackets = pol.hyperband_brackets(self.max_iter, self.aggressiveness)
        seeds = (self._bracket_seeds(brackets, check_random_state(self.random_state))
                 if is_int(self.random_state) else {})
        by_id = {b.bracket: b for b in brackets}
        for info in meta["brackets"]:
            s = info["bracket"]
            info["SuccessiveHalvingSearchCV params"] = self._bracket_params(by_id[s], seeds.get(s))
        return meta

    @property
    def metadata_(self) -> dict:
        """The work performed (from ``model_history_``)."""
        check_is_fitted(self, "model_history_")
        brackets = []
        for s in sorted(self._brackets):
            hist = {m: h for m, h in self.model_history_.items() if m.startswith(f"bracket={s}-")}
            finals = [h[-1][CALLS] for h in hist.values() if h]
            brackets.append({
                "bracket": s,
                "n_models": len(hist),
                "partial_fit_calls": int(sum(finals)),
                "decisions": sorted({r[CALLS] for h in hist.values() for r in h}),
                "SuccessiveHalvingSearchCV params": self._bracket_params(self._brackets[s], self._seeds[s]),
            })
        return {
            "n_models": sum(b["n_models"] for b in brackets),
            "partial_fit_calls": sum(b["partial_fit_calls"] for b in brackets),
            "brackets": brackets,
        }
