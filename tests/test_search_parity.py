"""Edge cases where the search must behave as scikit-learn's does: sample
weights reaching the scorers, scorers that fail, pipelines whose shared
leading steps fail or that a custom scorer inspects, splitters, inputs only
the estimator can judge, and the attributes of multi-metric searches.

Each test runs scikit-learn's search on the same data, candidates and splits
on the shared LocalCluster and compares."""

import warnings

import numpy as np
import pytest
from sklearn import model_selection as sk
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, check_scoring, get_scorer, make_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler

from dasklearn.model_selection import GridSearchCV

X, Y = make_classification(n_samples=90, n_features=4, n_informative=3, n_redundant=0, random_state=0)
W = np.random.default_rng(0).uniform(0.1, 3.0, size=len(Y))
GRID = {"C": [0.01, 1.0]}
CV = list(sk.StratifiedKFold(3).split(X, Y))


def _both(estimator, grid, X_, y_, **kw):
    """(dasklearn's fitted search, scikit-learn's), same arguments, no warnings shown."""
    fit_kw = kw.pop("fit_kw", {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GridSearchCV(estimator, grid, **kw).fit(X_, y_, **fit_kw)
        ref = sk.GridSearchCV(estimator, grid, **kw).fit(X_, y_, **fit_kw)
    return ours, ref


def _same(ours, ref, *metrics):
    for name in metrics or ("score",):
        for key in (f"mean_test_{name}", f"split0_test_{name}", f"rank_test_{name}"):
            np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12,
                                       err_msg=key)


def weighted_accuracy(est, X_, y_, sample_weight=None):
    return accuracy_score(y_, est.predict(X_), sample_weight=sample_weight)


def unweighted_rate(y_true, y_pred):  # a metric without sample_weight
    return float((y_true == y_pred).mean())


@pytest.mark.parametrize("scoring", [None, "accuracy", weighted_accuracy, ["accuracy", "f1"],
                                     check_scoring(LogisticRegression()), get_scorer("balanced_accuracy")],
                         ids=["estimator score", "name", "callable", "multimetric", "scorer object of score",
                              "scorer object"])
def test_sample_weight_reaches_the_scorers(client, scoring):
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=scoring, return_train_score=True,
                      refit="accuracy" if isinstance(scoring, list) else True, fit_kw={"sample_weight": W})
    names = scoring if isinstance(scoring, list) else ["score"]
    _same(ours, ref, *names)
    for name in names:
        np.testing.assert_allclose(ours.cv_results_[f"mean_train_{name}"], ref.cv_results_[f"mean_train_{name}"],
                                   rtol=0, atol=1e-12)
    unweighted = GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=scoring,
                              refit="accuracy" if isinstance(scoring, list) else True).fit(X, Y)
    assert not np.allclose(unweighted.cv_results_[f"mean_test_{names[0]}"],
                           ours.cv_results_[f"mean_test_{names[0]}"])  # the weights matter here


def kwargs_accuracy(y_true, y_pred, **kwargs):  # takes sample_weight, but its signature does not name it
    return accuracy_score(y_true, y_pred, **kwargs)


class DerivedScorer(type(make_scorer(unweighted_rate))):
    """A scorer class of another library, derived from scikit-learn's."""


@pytest.mark.parametrize("scoring", [make_scorer(unweighted_rate), "adjusted_rand_score",
                                     {"m": make_scorer(unweighted_rate), "acc": "accuracy"},
                                     DerivedScorer(unweighted_rate, 1, {}, "predict"),
                                     make_scorer(kwargs_accuracy), {"m": make_scorer(kwargs_accuracy), "acc": "accuracy"}],
                         ids=["make_scorer", "name", "multimetric", "derived scorer class", "metric of **kwargs",
                              "multimetric, metric of **kwargs"])
def test_scorer_without_sample_weight_scores_unweighted_and_says_so(client, scoring):
    refit = "acc" if isinstance(scoring, dict) else True
    with pytest.warns(UserWarning, match="does not support sample_weight"):
        GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=scoring, refit=refit).fit(X, Y, sample_weight=W)
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=scoring, refit=refit,
                      fit_kw={"sample_weight": W})
    _same(ours, ref, *(scoring if isinstance(scoring, dict) else ["score"]))
    assert np.isfinite(ours.cv_results_["mean_test_" + ("m" if isinstance(scoring, dict) else "score")]).all()


class ScoreTakesOnlyKwargs(Ridge):
    """A score whose signature does not name sample_weight (RFE's, RANSACRegressor's: ``**params``)."""

    def score(self, X_, y_, **params):
        return super().score(X_, y_, **params)


@pytest.mark.parametrize("estimator", [ScoreTakesOnlyKwargs(), "ransac"], ids=["forwards kwargs", "RANSAC"])
def test_estimator_score_without_sample_weight_in_its_signature_scores_unweighted(client, estimator):
    """As scikit-learn: for scoring=None the weights go to the estimator's
    score only if its signature names them. They went to any score that took
    them: forwarded through **params they weighted the scores silently, and
    RANSACRegressor's score (which refuses them) made every score NaN."""
    from sklearn.datasets import make_regression
    from sklearn.linear_model import RANSACRegressor

    estimator = RANSACRegressor(random_state=0) if estimator == "ransac" else estimator
    grid = {"min_samples": [0.5, 0.8]} if isinstance(estimator, RANSACRegressor) else {"alpha": [0.1, 10.0]}
    Xr, yr = make_regression(n_samples=90, n_features=4, noise=5.0, random_state=0)
    with pytest.warns(UserWarning, match="does not support sample_weight"):
        GridSearchCV(estimator, grid, cv=3).fit(Xr, yr, sample_weight=W)
    ours, ref = _both(estimator, grid, Xr, yr, cv=3, fit_kw={"sample_weight": W})
    assert np.isfinite(ref.cv_results_["mean_test_score"]).all()
    _same(ours, ref)


def test_scoring_none_for_an_estimator_without_score_is_a_type_error(client):
    """scikit-learn raises TypeError (from check_scoring); it came as a ValueError."""

    class NoScore(BaseEstimator):
        def __init__(self, a=1):
            self.a = a

        def fit(self, X_, y_=None):
            return self

    with pytest.raises(TypeError, match="should have a 'score' method"):
        sk.GridSearchCV(NoScore(), {"a": [1, 2]}).fit(X, Y)
    with pytest.raises(TypeError, match=r"Invalid scoring=None: .*should have a 'score' method"):
        GridSearchCV(NoScore(), {"a": [1, 2]}).fit(X, Y)


def test_scorer_returning_no_number_is_an_error(client):
    def forgot_return(est, X_, y_):
        accuracy_score(y_, est.predict(X_))

    for error_score in (np.nan, "raise"):
        with pytest.raises(ValueError, match="scoring must return a number, got None"):
            GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=forgot_return, error_score=error_score).fit(X, Y)
        with pytest.raises(ValueError, match="scoring must return a number, got None"):
            sk.GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=forgot_return,
                            error_score=error_score).fit(X, Y)


class StepCounter:
    """A scorer object (not a function) that looks at the pipeline it scores."""

    def __call__(self, est, X_, y_):
        return len(est.steps) * 1000 + X_.shape[1]


@pytest.mark.parametrize("scorer", ["function", "object"])
def test_custom_scorer_sees_the_whole_pipeline(client, scorer):
    """The shared leading steps are fitted once per split, but a custom scorer
    still gets the whole pipeline and the raw test fold."""
    pipe = Pipeline([("sc", StandardScaler()), ("clf", LogisticRegression())])

    def function(est, X_, y_):
        return len(est.steps) * 1000 + X_.shape[1] + est.named_steps["sc"].mean_[0]

    ours, ref = _both(pipe, {"clf__C": [0.1, 1.0]}, X, Y, cv=CV,
                      scoring=function if scorer == "function" else StepCounter())
    _same(ours, ref)


def test_failing_shared_step_gets_error_score(client):
    """A OneHotEncoder meeting an unseen category in a test fold: scikit-learn
    scores that split error_score and warns; it does not stop the search."""
    Xc = np.array([["a"], ["b"]] * 15 + [["z"]], dtype=object)
    yc = np.r_[np.tile([0, 1], 15), 0]
    pipe = Pipeline([("ohe", OneHotEncoder()), ("clf", LogisticRegression())])
    with pytest.warns(UserWarning, match="could not be scored"):
        GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=3).fit(Xc, yc)
    ours, ref = _both(pipe, {"clf__C": [0.1, 1.0]}, Xc, yc, cv=3)
    _same(ours, ref)
    assert np.isnan(ours.cv_results_["split2_test_score"]).all()
    with pytest.raises(ValueError, match="unknown categor"):
        GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=3, error_score="raise").fit(Xc, yc)


def test_failing_scorer_is_not_a_failed_fit(client):
    def bad(est, X_, y_):
        if est.C < 1:
            raise RuntimeError("no score for small C")
        return -1.0

    scoring = {"acc": "accuracy", "bad": bad}
    with pytest.warns(UserWarning, match="could not be scored") as record:
        GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=scoring, refit="acc").fit(X, Y)
    assert not [w for w in record if issubclass(w.category, FitFailedWarning)]
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=scoring, refit="acc")
    _same(ours, ref, "acc", "bad")
    assert "fit_error" not in ours.cv_results_
    # a single metric that cannot score at all (f1 of string labels): nan, no error
    labels = np.where(Y == 1, "yes", "no")
    ours, ref = _both(LogisticRegression(), GRID, X, labels, cv=CV, scoring="f1")
    _same(ours, ref)
    assert np.isnan(ours.cv_results_["mean_test_score"]).all() and ours.best_index_ == ref.best_index_


def test_shuffle_split_may_draw_more_splits_than_samples(client):
    cv = sk.ShuffleSplit(100, test_size=0.2, random_state=0)
    ours, ref = _both(LogisticRegression(), {"C": [1.0]}, X[:60], Y[:60], cv=cv)
    assert ours.n_splits_ == ref.n_splits_ == 100
    _same(ours, ref)


@pytest.mark.parametrize("case", ["nan cleaned by the first step", "inf taken by the estimator",
                                  "one class taken by the estimator"])
def test_inputs_only_the_estimator_can_judge(client, case):
    if case == "nan cleaned by the first step":
        Xn = X.copy()
        Xn[::7, 1] = np.nan
        est, X_, y_ = Pipeline([("f", FunctionTransformer(np.nan_to_num)), ("clf", LogisticRegression())]), Xn, Y
        grid = {"clf__C": [0.1, 1.0]}
    elif case == "inf taken by the estimator":
        Xi = X.copy()
        Xi[::9, 0] = np.inf
        est, X_, y_, grid = HistGradientBoostingClassifier(max_iter=5), Xi, Y, {"max_depth": [2, 3]}
    else:
        est, X_, y_, grid = DummyClassifier(), X, np.zeros(len(Y), int), {"strategy": ["prior", "most_frequent"]}
    ours, ref = _both(est, grid, X_, y_, cv=3)
    _same(ours, ref)
    assert ours.best_score_ == pytest.approx(ref.best_score_, abs=1e-12)


def test_one_class_for_a_classifier_that_needs_two(client):
    """Every fit fails with the estimator's own message, as in scikit-learn."""
    from sklearn.linear_model import SGDClassifier

    for search in (GridSearchCV, sk.GridSearchCV):
        with pytest.raises(ValueError, match=r"All the 6 fits failed(.|\n)*classes has to be greater than one"):
            search(SGDClassifier(), {"alpha": [1e-4, 1e-3]}, cv=3).fit(X, np.zeros(len(Y), int))


def test_scalar_sample_weight_and_boolean_scores(client):
    """A number as sample_weight is passed as it is (not sliced); a scorer
    may return a bool (a number to scikit-learn)."""
    def above_half(est, X_, y_):
        return bool(accuracy_score(y_, est.predict(X_)) > 0.5)

    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, fit_kw={"sample_weight": 2.0})
    _same(ours, ref)
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=above_half)
    _same(ours, ref)
    assert (ours.cv_results_["mean_test_score"] == 1.0).all()


def test_multimetric_scorer_is_a_dict_by_name(client):
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=["accuracy", "f1"], refit="f1")
    assert isinstance(ours.scorer_, dict) and list(ours.scorer_) == list(ref.scorer_) == ["accuracy", "f1"]
    assert ours.scorer_["f1"](ours.best_estimator_, X, Y) == ref.scorer_["f1"](ref.best_estimator_, X, Y)
    assert ours.score(X, Y) == pytest.approx(ref.score(X, Y), abs=1e-12)


def _dict_scorer(est, X_, y_):
    return {"acc": accuracy_score(y_, est.predict(X_)), "neg": -accuracy_score(y_, est.predict(X_))}


def _score_dict(est, X_, y_):
    return {"score": accuracy_score(y_, est.predict(X_))}


def test_callable_scorer_returning_a_dict(client):
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=_dict_scorer, refit="acc")
    _same(ours, ref, "acc", "neg")
    assert ours.multimetric_ and ref.multimetric_
    assert ours.score(X, Y) == pytest.approx(ref.score(X, Y), abs=1e-12)
    for refit in (True, "nope"):  # refit must name one of its metrics, as in scikit-learn
        with pytest.raises(ValueError, match="refit"):
            GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=_dict_scorer, refit=refit).fit(X, Y)
        with pytest.raises(ValueError, match="refit"):
            sk.GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring=_dict_scorer, refit=refit).fit(X, Y)
    ours, ref = _both(LogisticRegression(), GRID, X, Y, cv=CV, scoring=_score_dict, refit=False)
    assert ours.multimetric_ is ref.multimetric_ is True
    _same(ours, ref)


class ScalesItsWeights(LogisticRegression):
    """Changes its sample_weight in place (bad manners, but scikit-learn's
    search gives every fit its own slice, so no other fit sees it)."""

    def fit(self, X_, y_, sample_weight=None):
        sample_weight *= 4.0
        return super().fit(X_, y_, sample_weight=sample_weight)


def test_each_fit_gets_its_own_fit_parameters(client):
    ours, ref = _both(ScalesItsWeights(), {"C": [0.01, 0.1, 1.0, 10.0]}, X, Y, cv=CV,
                      fit_kw={"sample_weight": W * 0.01})
    _same(ours, ref)


class InPlaceCentering(BaseEstimator, RegressorMixin):
    """Writes into the X it is given, in fit and in predict, unless ``copy``
    (against scikit-learn's conventions, but users' estimators do)."""

    def __init__(self, alpha=1.0, copy=False):
        self.alpha = alpha
        self.copy = copy

    def fit(self, X_, y_):
        X_ = X_.copy() if self.copy else X_
        self.mean_ = X_.mean(axis=0)
        X_ -= self.mean_
        self.coef_ = np.linalg.solve(X_.T @ X_ + self.alpha * np.eye(X_.shape[1]), X_.T @ (y_ - y_.mean()))
        self.intercept_ = y_.mean()
        return self

    def predict(self, X_):
        X_ = X_.copy() if self.copy else X_
        X_ -= self.mean_
        return X_ @ self.coef_ + self.intercept_


@pytest.mark.parametrize("writer, copier, grid", [
    (Ridge(copy_X=False), Ridge(), {"alpha": [1.0, 1.0, 1.0]}),
    (InPlaceCentering(), InPlaceCentering(copy=True), {"alpha": [1.0, 1.0, 2.0]}),
    (Pipeline([("scale", MinMaxScaler()), ("ridge", Ridge(copy_X=False))]),
     Pipeline([("scale", MinMaxScaler()), ("ridge", Ridge())]), {"ridge__alpha": [1.0, 1.0, 1.0]}),
    (Pipeline([("scale", MinMaxScaler()), ("center", InPlaceCentering())]),
     Pipeline([("scale", MinMaxScaler()), ("center", InPlaceCentering(copy=True))]), {"center__alpha": [1.0, 1.0, 2.0]}),
], ids=["copy_X=False", "writes into X", "pipeline copy_X=False", "pipeline writes into X"])
@pytest.mark.parametrize("where", ["client", "threads"])
def test_estimator_writing_into_its_input_does_not_change_other_fits(request, writer, copier, grid, where):
    """Each fit, test score and train score sees its fold as sliced, even
    when an earlier fit on the same worker wrote into its own (a worker's
    folds are shared by its fits, read-only), and the refit leaves the data
    alone. Test scores equal scikit-learn's search of the same estimator.
    Train scores equal those of the estimator that copies first: scikit-learn
    scores the training fold as the fit left it, so an estimator that writes
    into it scores what it wrote."""
    if where == "client":
        request.getfixturevalue("client")
    rng = np.random.default_rng(0)
    X_ = rng.normal(5.0, 1.0, size=(150, 3))  # not centred: centring in place changes it
    y_ = X_ @ np.array([1.0, 2.0, -1.0]) + 3.0 + 0.1 * rng.normal(size=150)
    before = X_.copy()
    kw = dict(cv=3, return_train_score=True, n_jobs=2 if where == "threads" else None)
    ours = GridSearchCV(writer, grid, **kw).fit(X_, y_)
    np.testing.assert_array_equal(X_, before)
    ref = sk.GridSearchCV(writer, grid, **kw).fit(X_.copy(), y_)
    clean = sk.GridSearchCV(copier, grid, **kw).fit(X_, y_)
    for key, other in [("mean_test_score", ref), ("split0_test_score", ref), ("rank_test_score", ref),
                       ("mean_test_score", clean), ("mean_train_score", clean), ("split2_train_score", clean)]:
        np.testing.assert_allclose(ours.cv_results_[key], other.cv_results_[key], rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(ours.best_estimator_.predict(X_.copy()), ref.best_estimator_.predict(X_.copy()),
                               rtol=0, atol=1e-12)


def test_no_splits_or_no_candidates_is_an_error(client):
    """scikit-learn: "No fits were performed"; not an all-NaN result."""
    used = sk.KFold(3).split(X)
    list(used)  # a generator a first fit used up
    for cv, grid in [([], GRID), (used, GRID), (CV, [])]:
        for search in (GridSearchCV, sk.GridSearchCV):
            with pytest.raises(ValueError, match="No fits were performed"):
                search(LogisticRegression(), grid, cv=cv).fit(X, Y)


def _persisted_blocks_here(name, est, X_, y_):
    """A "metric": how many blocks of the dask array ``name`` this worker holds."""
    from distributed import get_worker

    return float(sum(1 for k in get_worker().data if isinstance(k, tuple) and k[0] == name))


def test_unknown_chunk_input_is_not_kept_persisted_during_the_fits(client):
    """Persisted to count its rows, the input was held until fit returned,
    beside the placed copy the fits read: twice the memory."""
    import functools

    import dask.array as da

    X_masked = da.from_array(X, chunks=30)[da.from_array(np.ones(len(X), dtype=bool), chunks=30)]
    blocks = functools.partial(_persisted_blocks_here, X_masked.name)
    search = GridSearchCV(LogisticRegression(), GRID, cv=CV, scoring={"acc": "accuracy", "blocks": blocks},
                          refit="acc").fit(X_masked, Y)
    assert np.isfinite(search.cv_results_["mean_test_acc"]).all()
    assert (search.cv_results_["mean_test_blocks"] == 0).all(), search.cv_results_["mean_test_blocks"]


@pytest.mark.parametrize("unknown", ["X", "y", "both", "frame values"])
def test_dask_arrays_of_unknown_chunk_sizes_are_searched(client, unknown):
    """A boolean mask's result, or ``ddf.values`` (as dask-ml's errors advise),
    has unknown row chunks; the search refused it, though it counts a
    DataFrame's rows. Now it computes the sizes (the array is read whole
    anyway), and the scores are scikit-learn's; the caller's array is left
    as it was."""
    import dask.array as da
    import dask.dataframe as dd

    def masked(a):
        return da.from_array(a, chunks=30)[da.from_array(np.ones(len(a), dtype=bool), chunks=30)]

    if unknown == "frame values":
        frame = dd.from_pandas(__import__("pandas").DataFrame(X, columns=list("abcd")), npartitions=3)
        X_given, y_given = frame.values, Y
    else:
        X_given = masked(X) if unknown in ("X", "both") else X
        y_given = masked(Y) if unknown in ("y", "both") else Y
    ours = GridSearchCV(LogisticRegression(), GRID, cv=CV).fit(X_given, y_given)
    ref = sk.GridSearchCV(LogisticRegression(), GRID, cv=CV).fit(X, Y)
    _same(ours, ref)
    for given in (X_given, y_given):
        if isinstance(given, da.Array):
            assert np.isnan(given.shape[0])  # the caller's array is left as it was


@pytest.mark.parametrize("kind", ["str", "object", "dask str"])
def test_numbers_held_as_text_in_a_frame_are_fitted_as_in_scikit_learn(client, kind):
    """scikit-learn converts text or object columns of numbers (a CSV read
    with placeholders, say); the up-front check refused them as non-numeric
    columns. On a dask DataFrame the values are on the cluster: the
    estimator judges them there."""
    import dask.dataframe as dd
    import pandas as pd

    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    frame["a"] = frame["a"].map(repr).astype("str" if kind != "object" else object)
    frame["b"] = frame["b"].astype(object)
    given = dd.from_pandas(frame, npartitions=3) if kind.startswith("dask") else frame
    assert not pd.api.types.is_numeric_dtype(given.dtypes["a"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GridSearchCV(LogisticRegression(), GRID, cv=CV).fit(given, Y)
        ref = sk.GridSearchCV(LogisticRegression(), GRID, cv=CV).fit(frame, Y)
    _same(ours, ref)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()


def test_string_and_category_columns_reach_estimators_that_take_them(client):
    """The up-front "non-numeric columns" error is for a predictor seeing
    strings; an imputer or encoder first, or category columns for a model
    that takes them, fit as in scikit-learn."""
    import pandas as pd
    from sklearn.impute import SimpleImputer

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"color": rng.choice(["red", "green", "blue", None], 90).astype(object),
                          "size": rng.choice(["S", "M", "L"], 90).astype(object)})
    labels = ((frame.color == "red") | (frame["size"] == "L")).astype(int).to_numpy()
    encoded = Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("onehot", OneHotEncoder()),
                        ("model", LogisticRegression())])
    _same(*_both(encoded, {"model__C": [0.1, 1.0]}, frame, labels, cv=3))
    categories = frame.fillna("none").astype("category")
    _same(*_both(HistGradientBoostingClassifier(max_iter=5), {"learning_rate": [0.1, 0.3]}, categories, labels,
                 cv=3))


def test_boolean_mask_splits_on_list_input(client):
    """scikit-learn's splits may be boolean masks; list input is indexed by them too."""
    masks = []
    for train, test in CV:
        a, b = np.zeros(len(Y), bool), np.zeros(len(Y), bool)
        a[train], b[test] = True, True
        masks.append((a, b))
    _same(*_both(LogisticRegression(), GRID, X.tolist(), Y.tolist(), cv=masks))


class NeedsWritable(BaseEstimator, RegressorMixin):
    """Refuses read-only input as compiled code does (numba's TypingError
    says "Cannot modify readonly array"; not a ValueError)."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X_, y_):
        if not X_.flags.writeable:
            raise TypeError("Cannot modify readonly array of type array(float64, 2d, C)")
        self.coef_ = np.linalg.solve(X_.T @ X_ + self.alpha * np.eye(X_.shape[1]), X_.T @ y_)
        return self

    def predict(self, X_):
        return X_ @ self.coef_


def test_fits_that_cannot_take_shared_folds_match_scikit_learn(client):
    """Steps with copy=False under prefix reuse (with train scores), pandas
    folds written in place, sparse folds for KMeans' Cython, an estimator
    refusing read-only arrays with its own error: all as scikit-learn."""
    import pandas as pd
    import scipy.sparse as sp
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(0)
    X_ = rng.normal(5.0, 2.0, size=(120, 3))
    y_ = X_ @ np.array([1.0, 2.0, -1.0]) + 0.1 * rng.normal(size=120)
    kw = dict(cv=3, return_train_score=True)
    scaled = Pipeline([("scale", StandardScaler(copy=False)), ("ridge", Ridge())])
    ours, ref = _both(scaled, {"ridge__alpha": [0.1, 1.0]}, X_, y_, **kw)
    for key in ("mean_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12)

    def double_a_in_place(frame):
        frame["a"] *= 2.0
        return frame

    frame = pd.DataFrame(X_, columns=["a", "b", "c"])
    writer = Pipeline([("double", FunctionTransformer(double_a_in_place)), ("ridge", Ridge())])
    ours, ref = _both(writer, {"ridge__alpha": [1.0, 1.0, 1.0]}, frame, y_, cv=3, return_train_score=True)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ours.cv_results_["mean_test_score"][0])

    sparse = sp.csr_matrix(np.where(X_ > 5.0, X_, 0.0))
    ours, ref = _both(KMeans(n_init=1, random_state=0), {"n_clusters": [2, 3]}, sparse, None, cv=3)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=1e-10)

    ours, ref = _both(NeedsWritable(), {"alpha": [0.1, 1.0]}, X_, y_, **kw)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
    for key in ("mean_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore:.*penalty:FutureWarning", "ignore:Inconsistent values:UserWarning")
def test_liblinear_fits_on_threads_give_scikit_learns_scores_every_time():
    """liblinear / libsvm keep one random generator per process, reseeded by
    each fit: fits of them running at once on threads would interleave their
    draws (scores off, the best candidate changed from run to run). They run
    one at a time in a process; the scores are scikit-learn's every time."""
    X, y = make_classification(1500, 20, random_state=0)
    estimator = LogisticRegression(solver="liblinear", penalty="l1", random_state=0, max_iter=3, tol=1e-8)
    grid = {"C": [0.5, 1, 2, 4, 8, 16]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = sk.GridSearchCV(estimator, grid, cv=3, scoring="neg_log_loss").fit(X, y)
        for _ in range(4):
            ours = GridSearchCV(estimator, grid, cv=3, scoring="neg_log_loss", n_jobs=2).fit(X, y)
            np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                                       rtol=0, atol=1e-12)


def test_which_fits_draw_from_the_process_wide_generator():
    from sklearn.ensemble import BaggingClassifier
    from sklearn.svm import SVC, LinearSVC

    from dasklearn._runtime._model_kernels import _draws_from_the_process_rng as draws

    assert draws(LinearSVC()) and draws(SVC()) and draws(LogisticRegression(solver="liblinear"))
    assert draws(Pipeline([("scale", StandardScaler()), ("svm", LinearSVC())]))
    assert draws(BaggingClassifier(SVC()))
    assert not draws(LogisticRegression()) and not draws(Pipeline([("lr", LogisticRegression())]))
    assert not draws(Ridge()) and not draws(object())


@pytest.mark.timeout(120)
def test_dasklearn_estimators_around_liblinear_fits_do_not_wait_on_themselves():
    """The lock that runs liblinear / libsvm fits one at a time is taken by
    the fits themselves, not around a dasklearn estimator that fits them
    (a wrapper's fit took it twice; a nested search held it while its own
    fits waited for it on other threads: both hung)."""
    from sklearn.svm import SVC

    from dasklearn.wrappers import ParallelPostFit

    X, y = make_classification(200, 5, random_state=0)
    wrapped = GridSearchCV(ParallelPostFit(SVC()), {"estimator__C": [0.1, 1.0]}, cv=3, n_jobs=2).fit(X, y)
    ref = sk.GridSearchCV(SVC(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    np.testing.assert_allclose(wrapped.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)
    inner = GridSearchCV(SVC(), {"kernel": ["rbf", "linear"]}, cv=2, n_jobs=2)
    nested = GridSearchCV(inner, {"cv": [2, 3]}, cv=3, n_jobs=2).fit(X, y)
    ref = sk.GridSearchCV(sk.GridSearchCV(SVC(), {"kernel": ["rbf", "linear"]}, cv=2), {"cv": [2, 3]}, cv=3)
    np.testing.assert_allclose(nested.cv_results_["mean_test_score"], ref.fit(X, y).cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)
