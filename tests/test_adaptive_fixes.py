"""Regression tests for defects in the adaptive searches: repeated rungs with
a non-integer aggressiveness, patience=True, the documented bracket ends,
small discrete spaces, metadata errors, the candidates' random generator and
the brackets' random_state. Small in-memory data, local threads (no Client)."""

import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import ParameterSampler
from sklearn.tree import DecisionTreeClassifier

from dasklearn.model_selection import _policies as pol
from dasklearn.model_selection._hyperband import HyperbandSearchCV, SuccessiveHalvingSearchCV
from dasklearn.model_selection._incremental import IncrementalSearchCV

PARAMS = {"alpha": loguniform(1e-4, 1e1), "loss": ["hinge", "log_loss"]}
SGD = SGDClassifier(tol=None, random_state=0)


@pytest.fixture(scope="module")
def small():
    return make_classification(n_samples=600, n_features=8, random_state=0)


def _counts(meta):
    return {k: meta[k] for k in ("n_models", "partial_fit_calls")}


def _brackets(meta):
    return [(b["bracket"], b["n_models"], b["partial_fit_calls"], b["decisions"]) for b in meta["brackets"]]


def _space_warnings(record):
    return [w for w in record if issubclass(w.category, UserWarning) and "distinct candidate" in str(w.message)]


# ------------------------------------------- 1. non-integer aggressiveness
def test_sha_rungs_strictly_increasing_and_stop_at_one_model():
    # r_k = floor(1.5**k) = 1, 1, 2, 3, 5 -> 1, 2, 3, 4, 5; n_k = 10, 6, 4, 2, 1, then stop
    assert pol.sha_rungs(10, 1, 1.5) == [(10, 1), (6, 2), (4, 3), (2, 4), (1, 5)]
    # exhaust: 4 halvings (10 -> 1); floor(9 * 1.5**(k - 4)) = 1, 2, 4, 6, 9
    assert pol.n_halvings(10, 1.5) == 4
    assert pol.exhaust_rungs(10, 1.5, 9) == [(10, 1), (6, 2), (4, 4), (2, 6), (1, 9)]
    for b in pol.hyperband_brackets(10, 1.5):
        calls = [r for _, r in b.rungs]
        assert calls == sorted(set(calls)), b  # strictly increasing
        assert [n for n, _ in b.rungs].count(1) <= 1 and calls[-1] <= 10, b


def test_hyperband_policy_runs_match_metadata_with_eta_1_5():
    for b in pol.hyperband_brackets(10, 1.5):
        history = {m: [] for m in range(b.n_models)}
        policy = lambda h, done=(), rungs=b.rungs: pol.successive_halving(h, rungs=rungs, done=done)
        while True:
            instr = pol.plan_round(history, policy, max_iter=10)
            history = {m: history[m] for m in instr}
            if not any(instr.values()):
                break
            for m, n in instr.items():
                if n:
                    calls = pol.current(history[m]) + n
                    history[m] = history[m] + [{"partial_fit_calls": calls, "score": m + calls / 100}]
        assert [pol.current(r) for r in history.values()] == [b.rungs[-1][1]] * b.rungs[-1][0], b


def test_successive_halving_with_aggressiveness_1_5_runs_every_rung(small):
    X, y = small
    search = SuccessiveHalvingSearchCV(SGD, PARAMS, n_initial_parameters=10, n_initial_iter=1,
                                       aggressiveness=1.5, random_state=0, n_jobs=1).fit(X, y)
    # rungs 10 @ 1, 6 @ 2, 4 @ 3, 2 @ 4, 1 @ 5 -> 4 + 2 * 2 + 2 * 3 + 4 + 5 = 23 calls
    assert sorted(search.cv_results_["partial_fit_calls"]) == [1] * 4 + [2] * 2 + [3] * 2 + [4, 5]
    assert search.metadata_ == {"n_models": 10, "max_iter": 5, "partial_fit_calls": 23}
    assert {k: search.metadata[k] for k in search.metadata_} == search.metadata_


# ------------------------------------------------------ 2. patience=True
def test_patience_true_is_at_least_2_and_valid_for_the_brackets(small):
    assert pol.hyperband_patience(True, 3, 3) == 2 and pol.hyperband_patience(True, 81, 3) == 27
    assert pol.hyperband_patience(False, 3, 3) is False and pol.hyperband_patience(5, 3, 3) == 5
    search = HyperbandSearchCV(SGD, PARAMS, max_iter=3, patience=True, random_state=0)
    for info in search.metadata["brackets"]:
        params = info["SuccessiveHalvingSearchCV params"]
        assert params["patience"] == 2
        SuccessiveHalvingSearchCV(SGD, PARAMS, **params).metadata  # passes _check_params
    X, y = small
    search.set_params(n_jobs=1).fit(X, y)  # max_iter=3 < patience: nothing stops early
    assert search.metadata_["partial_fit_calls"] == search.metadata["partial_fit_calls"]


# ------------------------------------------- 3. documented bracket ends
def test_bracket_ends_are_documented():
    ends = [b["decisions"][-1] for b in reversed(pol.hyperband_metadata(100, 3)["brackets"])]
    assert ends == [81, 81, 99, 99, 100]  # brackets 4 .. 0: dask-ml's arithmetic, kept
    doc = " ".join(HyperbandSearchCV.__doc__.split())
    assert "81, 81, 99, 99 and 100" in doc and "R in the paper" not in doc
    assert "only bracket 0" in doc.lower()


# ----------------------------------------------- 4. small discrete spaces
def test_hyperband_small_discrete_space_metadata_matches_the_fit(small):
    X, y = small
    search = HyperbandSearchCV(SGD, {"alpha": [1e-4, 1e-3]}, max_iter=9, random_state=0, n_jobs=1)
    # brackets 2, 1, 0 plan 9 @ 1, 5 @ 3, 3 @ 9; each has at most the 2 candidates:
    # 2 @ 1 -> 2 @ 3 -> 1 @ 9 (3 + 9 calls), 2 @ 3 -> 1 @ 9 (3 + 9), 2 @ 9 (18)
    meta = search.metadata
    assert _counts(meta) == {"n_models": 6, "partial_fit_calls": 42}
    assert _brackets(meta) == [(0, 2, 18, [9]), (1, 2, 12, [3, 9]), (2, 2, 12, [1, 3, 9])]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search.fit(X, y)
    assert len(_space_warnings(record)) == 1, [str(w.message) for w in record]
    assert _space_warnings(record)[0].filename == __file__  # at the user's line
    message = str(_space_warnings(record)[0].message)
    assert "2 distinct candidate" in message and "9, 5, 3" in message
    assert not [w for w in record if "total space of parameters" in str(w.message)]  # not sklearn's too
    assert _counts(search.metadata_) == _counts(meta) and _brackets(search.metadata_) == _brackets(meta)


def test_successive_halving_and_incremental_small_discrete_space(small):
    X, y = small
    space = {"alpha": [1e-4, 1e-3, 1e-2]}
    sha = SuccessiveHalvingSearchCV(SGD, space, n_initial_parameters=9, n_initial_iter=1, max_iter=9,
                                    random_state=0, n_jobs=1)
    # rungs 9 @ 1, 3 @ 3, 1 @ 9 with at most 3 models: 3 @ 1, 3 @ 3, 1 @ 9 -> 2 * 3 + 9 calls
    assert sha.metadata["rungs"] == [{"n_models": 3, "partial_fit_calls": 1},
                                     {"n_models": 3, "partial_fit_calls": 3},
                                     {"n_models": 1, "partial_fit_calls": 9}]
    with pytest.warns(UserWarning, match=r"3 distinct candidate\(s\).*the 9 candidates asked for") as record:
        sha.fit(X, y)
    assert len(_space_warnings(record)) == 1 and _space_warnings(record)[0].filename == __file__
    assert sha.metadata_ == {"n_models": 3, "max_iter": 9, "partial_fit_calls": 15}
    assert {k: sha.metadata[k] for k in sha.metadata_} == sha.metadata_
    with pytest.warns(UserWarning, match="3 distinct candidate") as record:
        inc = IncrementalSearchCV(SGD, space, n_initial_parameters=5, max_iter=2, n_jobs=1).fit(X, y)
    assert len(_space_warnings(record)) == 1 and len(inc.cv_results_["params"]) == 3
    assert _space_warnings(record)[0].filename == __file__


# --------------------------------------------------- 5. metadata errors
def test_metadata_without_max_iter_on_samples_is_a_value_error():
    search = SuccessiveHalvingSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2]})
    with pytest.raises(ValueError, match="max_iter"):
        search.metadata


# --------------------------------------------- 6. a policy dropping all
def test_a_policy_that_drops_every_model_is_a_bug(small):
    class DropAll(IncrementalSearchCV):
        def _additional_calls(self, history, done=frozenset()):
            return {}

    X, y = small
    with pytest.raises(RuntimeError, match="dropped every model"):
        DropAll(SGD, PARAMS, n_initial_parameters=2, max_iter=2, n_jobs=1).fit(X, y)


# ------------------------------------ 7. candidates from the rng given
def test_candidates_use_the_random_generator_given(small):
    search = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=3, random_state=0)
    assert search._candidates(np.random.RandomState(5)) == list(ParameterSampler(PARAMS, 3, random_state=5))
    X, y = small
    kw = dict(n_initial_parameters=3, max_iter=3, random_state=0, n_jobs=1)
    a = IncrementalSearchCV(SGD, PARAMS, **kw).fit(X, y)
    b = IncrementalSearchCV(SGD, PARAMS, **kw).fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"] == list(ParameterSampler(PARAMS, 3, random_state=0))
    np.testing.assert_array_equal(a.cv_results_["test_score"], b.cv_results_["test_score"])


# ------------------------------------------ 8. the brackets' random_state
def test_bracket_params_have_the_random_state_of_the_bracket(small):
    X, y = small
    search = HyperbandSearchCV(SGD, PARAMS, max_iter=3, random_state=0, n_jobs=1)
    before = search.metadata
    search.fit(X, y)
    for planned, done in zip(before["brackets"], search.metadata_["brackets"]):
        params = planned["SuccessiveHalvingSearchCV params"]
        assert params == done["SuccessiveHalvingSearchCV params"]
        assert isinstance(params["random_state"], int)
        sha = SuccessiveHalvingSearchCV(SGD, PARAMS, n_jobs=1, **params).fit(X, y)
        in_bracket = search.cv_results_["bracket"] == planned["bracket"]
        assert sha.cv_results_["params"] == [p for p, m in zip(search.cv_results_["params"], in_bracket) if m]
        assert _counts(sha.metadata_) == _counts(done)


@pytest.mark.parametrize("make_y", [
    lambda y: da.from_array(y, chunks=100)[:500],
    lambda y: dd.from_pandas(pd.Series(y[:500]), npartitions=3),
])
def test_a_dask_y_of_another_length_is_named_as_such(small, make_y):
    X, y = small
    search = IncrementalSearchCV(SGD, {"alpha": [1e-3, 1e-2]}, max_iter=2)
    with pytest.raises(ValueError, match="X has 600, y has 500"):
        search.fit(da.from_array(X, chunks=100), make_y(y))


def test_a_dask_y_of_unknown_chunk_sizes_says_how_to_know_them(small):
    X, y = small
    y_unknown = dd.from_pandas(pd.Series(y), npartitions=3).to_dask_array()
    search = IncrementalSearchCV(SGD, {"alpha": [1e-3, 1e-2]}, max_iter=2)
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        search.fit(da.from_array(X, chunks=100), y_unknown)


def test_in_memory_x_with_a_dask_y_of_unknown_chunks_still_fits(small):
    X, y = small
    y_dask = da.from_array(y, chunks=100)
    y_unknown = y_dask[y_dask >= 0]  # every row, chunk sizes unknown
    search = IncrementalSearchCV(SGD, {"alpha": [1e-3, 1e-2]}, max_iter=2, random_state=0)
    search.fit(X, y_unknown, classes=[0, 1])
    assert np.isfinite(search.best_score_)


# -- dask-ml's constructor arguments ------------------------------------------
def _all_searches():
    from dasklearn.model_selection import InverseDecaySearchCV

    return [IncrementalSearchCV, InverseDecaySearchCV, SuccessiveHalvingSearchCV, HyperbandSearchCV]


@pytest.mark.parametrize("search", _all_searches())
def test_dask_ml_prefix_tags_the_verbose_lines(small, capsys, search):
    X, y = small
    s = search(SGD, PARAMS, max_iter=3, random_state=0, verbose=1, prefix="-sgd", n_jobs=1)
    assert s.get_params()["prefix"] == "-sgd"
    s.fit(da.from_array(X, chunks=200), y)
    err = capsys.readouterr().err
    assert "[dasklearn-sgd] " in err and "[dasklearn] " not in err
    with pytest.raises(ValueError, match="prefix"):
        search(SGD, PARAMS, prefix=3).fit(X, y)


@pytest.mark.parametrize("search", _all_searches())
def test_dask_ml_metas_declare_the_output_on_dask_input(small, search):
    """As ParallelPostFit's: the declared dtype, values unchanged, nothing run before the blocks."""
    X, y = small
    Xd = da.from_array(X, chunks=200)
    s = search(SGD, PARAMS, max_iter=3, random_state=0, n_jobs=1,
               predict_meta=np.empty(0, dtype=np.float32), predict_proba_meta=np.empty((0, 2), dtype=np.float32))
    s.fit(Xd, y)
    pred = s.predict(Xd)
    assert pred.dtype == np.float32
    np.testing.assert_array_equal(pred.compute(), s.best_estimator_.predict(X))
    sgd_log = SGDClassifier(loss="log_loss", tol=None, random_state=0)
    s2 = search(sgd_log, {"alpha": loguniform(1e-4, 1e-1)}, max_iter=3, random_state=0, n_jobs=1,
                predict_proba_meta=np.empty((0, 2), dtype=np.float32)).fit(Xd, y)
    proba = s2.predict_proba(Xd)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.compute(), s2.best_estimator_.predict_proba(X), rtol=1e-6)
    with pytest.raises(TypeError, match="predict_meta"):
        search(SGD, PARAMS, predict_meta="int").fit(X, y)


def test_incremental_search_takes_dask_ml_decay_rate_none_only(small):
    """dask-ml's FutureWarning tells its users to pass decay_rate=None (its
    docs also show 0, which decays nothing); any other value (dask-ml ignores
    it) is refused, pointing to InverseDecaySearchCV."""
    from dasklearn.model_selection import InverseDecaySearchCV

    X, y = small
    a = IncrementalSearchCV(SGD, PARAMS, max_iter=3, random_state=0, n_jobs=1, decay_rate=None).fit(X, y)
    b = IncrementalSearchCV(SGD, PARAMS, max_iter=3, random_state=0, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(a.cv_results_["test_score"], b.cv_results_["test_score"])
    c = IncrementalSearchCV(SGD, PARAMS, max_iter=3, random_state=0, n_jobs=1, decay_rate=0).fit(X, y)
    np.testing.assert_array_equal(c.cv_results_["test_score"], b.cv_results_["test_score"])  # no decay either
    with pytest.raises(ValueError, match="InverseDecaySearchCV"):
        IncrementalSearchCV(SGD, PARAMS, decay_rate=1.0).fit(X, y)
    assert InverseDecaySearchCV(SGD, PARAMS).get_params()["decay_rate"] == 1.0
    with pytest.raises(ValueError, match="decay_rate"):
        InverseDecaySearchCV(SGD, PARAMS, decay_rate=None).fit(X, y)


def test_a_multi_output_dask_y_in_several_column_chunks_pairs_with_x_rows():
    """``da.stack([y1, y2], axis=1)`` has one column per chunk: its blocks
    must pair with X's blocks whole (it trained on the wrong targets, with
    one output)."""
    from sklearn.linear_model import SGDRegressor
    from sklearn.multioutput import MultiOutputRegressor

    rng = np.random.RandomState(0)
    X = rng.rand(600, 4)
    Y = np.c_[X @ [1, 2, 3, 4], -(X @ [4, 3, 2, 1])]
    Xd = da.from_array(X, chunks=(200, 4))
    stacked = da.stack([da.from_array(Y[:, 0], chunks=200), da.from_array(Y[:, 1], chunks=200)], axis=1)
    assert stacked.chunks[1] == (1, 1)
    est = MultiOutputRegressor(SGDRegressor(random_state=0))
    kw = dict(n_initial_parameters=1, max_iter=3, random_state=0)
    ours = IncrementalSearchCV(est, {"estimator__alpha": [1e-4]}, **kw).fit(Xd, stacked)
    ref = IncrementalSearchCV(est, {"estimator__alpha": [1e-4]}, **kw).fit(Xd, da.from_array(Y, chunks=(200, 2)))
    assert ours.predict(X).shape == (600, 2)
    assert ours.best_score_ == ref.best_score_
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))


def test_fits_seeded_from_liblinear_s_process_generator_repeat_on_threads():
    """resource='n_samples' fits LinearSVC on threads: they run one at a time
    (liblinear keeps one generator per process), so a fixed random_state
    gives the same results as one thread, every time."""
    from sklearn.svm import LinearSVC

    X, y = make_classification(n_samples=3000, n_features=40, n_informative=10, flip_y=0.2, random_state=0)
    grid = {"C": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 0.03]}

    def run(n_jobs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = SuccessiveHalvingSearchCV(LinearSVC(random_state=0, max_iter=30, dual=True), grid,
                                               n_initial_parameters="grid", aggressiveness=2,
                                               random_state=0, n_jobs=n_jobs).fit(X, y)
        return search.cv_results_["test_score"].tolist(), search.best_estimator_.coef_.tolist()

    one_thread = run(1)
    for _ in range(4):
        assert run(2) == one_thread


@pytest.mark.parametrize("search", [IncrementalSearchCV, HyperbandSearchCV])
def test_column_names_of_a_frame_are_kept_and_checked(search):
    """As scikit-learn's estimators fitted on a DataFrame: predicting on the
    same columns says nothing; on columns in another order, an error."""
    X, y = make_classification(n_samples=800, n_features=5, random_state=0)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcde")), npartitions=4)
    target = dd.from_pandas(pd.Series(y), npartitions=4)
    fitted = search(SGDClassifier(tol=None, random_state=0), {"alpha": [1e-4, 1e-3]}, max_iter=3,
                    random_state=0).fit(frame, target)
    np.testing.assert_array_equal(fitted.feature_names_in_, list("abcde"))
    np.testing.assert_array_equal(fitted.best_estimator_.feature_names_in_, list("abcde"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fitted.predict(frame).compute()
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.predict(frame[list("edcba")]).compute()
    assert not hasattr(search(SGDClassifier(), {"alpha": [1e-4]}, max_iter=2).fit(X, y), "feature_names_in_")


def test_halving_on_rows_gives_a_classifier_every_class_from_the_first_rung():
    """resource='n_samples': the first rung has at least two rows per class
    (one row cannot train a classifier) and a class-fair choice of rows (the
    first rows of each block held one class when it was rare), as
    scikit-learn's halving search subsamples."""
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=500, n_features=5, random_state=0)
    search = SuccessiveHalvingSearchCV(LogisticRegression(), {"C": loguniform(1e-3, 1e3)},
                                       n_initial_parameters=300, random_state=0).fit(X, y)
    first = min(r["n_samples"] for records in search.model_history_.values() for r in records)
    assert first >= 4
    rare, labels = make_classification(n_samples=2000, n_features=5, weights=[0.95], random_state=0)
    Xd, yd = da.from_array(rare, chunks=200), da.from_array(labels, chunks=200)
    for seed in range(10):
        SuccessiveHalvingSearchCV(LogisticRegression(), {"C": loguniform(1e-3, 1e3)}, n_initial_parameters=81,
                                  random_state=seed).fit(Xd, yd)


def test_class_fair_order_keeps_every_prefix_near_the_class_shares():
    from dasklearn._runtime._model_kernels import class_fair_order

    y = np.array([0] * 95 + [1] * 5)
    for block in range(20):
        order = class_fair_order(y, block)
        assert sorted(order) == list(range(100))
        for m in range(1, 101):
            assert abs((y[order[:m]] == 1).sum() - m * 0.05) < 1
        ones = order[y[order] == 1]
        assert list(ones) == sorted(ones)  # each class's rows in their order
    # over many blocks, the first rows hold the rare class in its share
    firsts = [y[class_fair_order(y, b)[:2]].sum() for b in range(100)]
    assert 5 <= sum(firsts) <= 15  # 200 rows, 10 expected


class _RowsSeen(ClassifierMixin, BaseEstimator):
    """Remembers the rows (column 0 holds their numbers) it was fitted on."""

    def __init__(self, a=0):
        self.a = a

    def fit(self, X, y):
        self.rows_ = X[:, 0].astype(int)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):
        return float(self.a)


def test_a_classifier_s_small_rung_takes_rows_from_every_block_in_its_share():
    """resource="n_samples": a classifier's subsample (every class in its
    share) took every row of a small rung from the first block (its
    class-fair order ran over the blocks laid end to end)."""
    n, n_blocks = 8000, 8
    X = np.c_[np.arange(n), np.zeros(n)]
    y = np.arange(n) % 2
    Xd, yd = da.from_array(X, chunks=(n // n_blocks, 2)), da.from_array(y, chunks=n // n_blocks)
    search = SuccessiveHalvingSearchCV(_RowsSeen(), {"a": [0]}, n_initial_parameters=1, max_iter=259,
                                       random_state=0).fit(Xd, yd)
    rows = search.best_estimator_.rows_
    assert len(rows) == 259
    per_block = np.bincount(rows // (n // n_blocks), minlength=n_blocks)
    assert per_block.min() >= 32 and per_block.max() <= 33, per_block
    assert abs((y[rows] == 1).sum() - len(rows) / 2) <= 1  # each class in its share


def test_dasklearn_s_incremental_wrapper_gets_the_classes_found_in_y(small):
    """Its partial_fit takes **fit_kwargs: the labels the search found reach
    it, as they reach an SGDClassifier (it failed with "needs classes=")."""
    from dasklearn.wrappers import Incremental

    X, y = small
    search = IncrementalSearchCV(Incremental(SGDClassifier(random_state=0)), {"estimator__alpha": [1e-4, 1e-3]},
                                 n_initial_parameters=2, max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(search.best_estimator_.classes_, np.unique(y.compute() if hasattr(y, "compute") else y))


def test_column_names_reach_the_model_that_predicts_in_pipelines_and_wrappers():
    """A Pipeline's feature_names_in_ is its first step's (a read-only
    property: setting it failed at the end of fit); dasklearn's wrappers
    predict with their estimator_, which must hold the names."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dasklearn.wrappers import Incremental

    X, y = make_classification(n_samples=600, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=3)
    target = dd.from_pandas(pd.Series(y), npartitions=3)
    pipe = SuccessiveHalvingSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),
                                     {"logisticregression__C": [0.1, 1.0, 10.0]}, n_initial_parameters="grid",
                                     random_state=0).fit(frame, target)
    wrapped = IncrementalSearchCV(Incremental(SGDClassifier(random_state=0)), {"estimator__alpha": [1e-4, 1e-3]},
                                  n_initial_parameters=2, max_iter=2, random_state=0).fit(frame, target)
    for search in (pipe, wrapped):
        np.testing.assert_array_equal(search.feature_names_in_, list("abc"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            search.predict(frame).compute()


def test_sparse_input_is_refused_with_a_sentence_that_reads_right(small):
    import scipy.sparse as sp

    X, y = small
    X = X.compute() if hasattr(X, "compute") else X
    with pytest.raises(TypeError, match=r"^An adaptive search does not support sparse input: X is a scipy\.sparse"):
        IncrementalSearchCV(SGDClassifier(), {"alpha": [1e-4]}, max_iter=2).fit(sp.csr_matrix(X), y)


def test_a_pipeline_selecting_columns_by_name_is_refused_with_the_fix():
    """Adaptive searches train on X's rows as arrays: a ColumnTransformer
    selecting by name failed in every fit (each with scikit-learn's
    'only supported for dataframes'); it is refused up front, and the same
    pipeline selecting by position trains, on pandas and dask frames."""
    from sklearn.compose import ColumnTransformer, make_column_selector
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.RandomState(0)
    X = pd.DataFrame({"a": rng.randn(300), "b": rng.randn(300), "cat": rng.choice(list("xyz"), 300)})
    y = pd.Series((X.a + (X.cat == "x") > 0.5).astype(int))
    grid = {"logisticregression__C": [0.1, 1.0]}

    def search(columns):
        ct = ColumnTransformer([("oh", OneHotEncoder(handle_unknown="ignore"), columns[0]),
                                ("sc", StandardScaler(), columns[1])])
        return SuccessiveHalvingSearchCV(make_pipeline(ct, LogisticRegression()), grid, resource="n_samples",
                                         n_initial_parameters=2, random_state=0)

    for Xi, yi in [(X, y), (dd.from_pandas(X, npartitions=3), dd.from_pandas(y, npartitions=3))]:
        for by_name in [(["cat"], ["a", "b"]), ("cat", [0, 1]), ([2], make_column_selector(dtype_include="number"))]:
            with pytest.raises(ValueError, match="selects columns by name.*Select the columns by position"):
                search(by_name).fit(Xi, yi)
        fitted = search(([2], [0, 1])).fit(Xi, yi)
        assert fitted.best_score_ > 0.6 and list(fitted.feature_names_in_) == ["a", "b", "cat"]


def test_dask_ml_s_fractional_verbose_reports_a_share_of_the_rounds(small, capsys):
    """dask-ml takes verbose as a fraction in [0, 1] (every int(1 / verbose)-th
    round is reported); it was refused as not an int."""
    import re

    X, y = small

    def rounds(verbose):
        IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=2, max_iter=6, random_state=0, verbose=verbose,
                            n_jobs=1).fit(X, y)
        return [int(r) for r in re.findall(r"round (\d+):", capsys.readouterr().err)]

    every = rounds(1)
    assert every == list(range(1, len(every) + 1)) and len(every) >= 6
    assert rounds(True) == every
    assert rounds(0.5) == [r for r in every if r % 2 == 0 or r == every[-1]]
    assert rounds(0.0) == [] and rounds(False) == []
    assert rounds(2.0) == every
    for bad in (-0.5, "1", 1e-12, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="verbose"):
            IncrementalSearchCV(SGD, PARAMS, verbose=bad).fit(X, y)


def test_planned_metadata_known_only_after_fit_is_no_attribute_for_hasattr(small):
    """metadata of a search on rows with max_iter=None raised a plain
    ValueError, so hasattr() raised instead of returning False."""
    from sklearn.linear_model import LogisticRegression

    search = SuccessiveHalvingSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, resource="n_samples")
    assert not hasattr(search, "metadata")
    with pytest.raises(ValueError, match="depends.*on the number of training rows"):
        search.metadata


def test_cross_validated_results_carry_scikit_learn_s_mean_test_score(small):
    X, y = small
    res = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=3, max_iter=2, cv=3, random_state=0,
                              n_jobs=1).fit(X, y).cv_results_
    folds = np.stack([res[f"split{k}_test_score"] for k in range(3)], axis=1)
    np.testing.assert_allclose(res["mean_test_score"], folds.mean(axis=1))
    np.testing.assert_array_equal(res["mean_test_score"], res["test_score"])
    assert not np.shares_memory(res["mean_test_score"], res["test_score"])


def test_halving_on_rows_refuses_a_first_rung_too_small_for_the_classes():
    from sklearn.svm import SVC

    X, y = make_classification(400, random_state=0)
    with pytest.raises(ValueError, match=r"n_initial_iter=1 rows cannot train a classifier of 2 classes.*"
                                         r"n_initial_iter >= 4"):
        SuccessiveHalvingSearchCV(SVC(), {"C": np.logspace(-3, 3, 30)}, n_initial_parameters=4,
                                  n_initial_iter=1, n_jobs=1, random_state=0).fit(X, y)


def test_an_estimator_without_fit_is_named_not_scoring():
    class OnlyPartialFit(BaseEstimator):
        def partial_fit(self, X, y=None):
            return self

    X, y = make_classification(100, random_state=0)
    with pytest.raises(TypeError, match="OnlyPartialFit has partial_fit but no fit method"):
        IncrementalSearchCV(OnlyPartialFit(), {"a": [1]}, n_jobs=1, random_state=0).fit(X, y)
