"""Docstring parts shared by the adaptive searches (IncrementalSearchCV,
InverseDecaySearchCV, SuccessiveHalvingSearchCV, HyperbandSearchCV): the
parameters and attributes they all have, documented once.

A search's docstring places them with ``%(common_params)s`` (at the end of
its Parameters section) and ``%(common_attrs)s`` (at the start of its
Attributes section), and is filled in with :func:`adaptive_doc`.
"""

from __future__ import annotations

COMMON_PARAMS = """
    patience : int or False, default=False
        Stop training a model when its last ``patience`` partial_fit calls
        improved its score by at most ``tol``. Rounds then last at most
        ``patience`` calls, so plateaus are noticed on time. A stopped model
        keeps competing with its last score. HyperbandSearchCV also accepts
        True: ``max(max_iter // aggressiveness, 2)``. Not available with
        ``resource='n_samples'``.
    tol : float or None, default=1e-3
        Improvement that counts as progress for ``patience``; None or NaN
        never stops a model early.
    test_size : float, default=None
        Fraction of each block's rows held out for validation; None: one
        block's share of all rows, at most 0.2 (``min(0.2, 1 / n_blocks)``,
        as dask-ml). The validation rows of all blocks are scored together, so they
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
    verbose : int, bool or float, default=0
        >= 1 (or True) prints, after every round, the bracket and round, how
        many models are left and the best score so far (on stderr). A
        fraction in (0, 1) prints every ``int(1 / verbose)``-th round (and
        the last), dask-ml's rule: any fraction above 1/2 prints every round.
    prefix : str, default=""
        Added to the tag of those lines: ``[dasklearn<prefix>]`` (dask-ml's
        lines read ``[CV<prefix>]``).
    n_jobs : int, default=None
        Number of local threads when no ``dask.distributed.Client`` is
        active (None: all cores). With a Client the cluster is used.
    checkpoint : str or path-like, default=None
        File recording, as it arrives (within a second of being computed),
        every score of every model with the model's state after it (JSON
        lines, appended and fsynced; a crash
        mid-write loses at most that line). Running the same search (same
        arguments, an int ``random_state``, same data) with the same file
        resumes it: recorded work is not run again, models continue from
        their recorded states, and ``cv_results_`` equals an uninterrupted
        run. A file written by a different search is refused with a
        ValueError. The file holds pickled models: only resume from files
        you trust.
    predict_meta, predict_proba_meta, transform_meta : numpy array, pandas Series or DataFrame, default=None
        The output of ``predict`` / ``predict_proba`` / ``transform`` on dask
        input, as in :class:`dasklearn.wrappers.ParallelPostFit`: with a
        meta nothing runs before the blocks; None learns it from one row."""

COMMON_ATTRS = """
    cv_results_ : dict of numpy arrays
        One entry per model: ``test_score`` (its last score), ``rank_test_score``,
        ``model_id``, ``partial_fit_calls``, ``params``, ``param_<name>``,
        ``mean_partial_fit_time`` / ``std_partial_fit_time`` (seconds per
        call), ``mean_score_time``, ``std_score_time``; with ``cv`` also
        ``split<k>_test_score``, ``mean_test_score`` (``test_score``, the
        mean over the folds, by scikit-learn's name) and ``std_test_score``.
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
        Always False: an adaptive search compares one number.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during fit, when X was a (dask) DataFrame with
        string column names; the best estimator checks them when it predicts."""


def adaptive_doc(text: str) -> str:
    """``text`` with ``%(common_params)s`` and ``%(common_attrs)s`` filled in."""
    return text.replace("%(common_params)s", COMMON_PARAMS.strip("\n")).replace(
        "%(common_attrs)s", COMMON_ATTRS.strip("\n"))
