"""More cases where the search must do what scikit-learn's does: estimators
taking a precomputed kernel or distance matrix, the caller's scikit-learn
configuration, grids that replace the step that first sees X (or set
parameters nested inside a replaced step), ranks with infinite scores,
warnings about non-finite train scores, the types of best_index_ /
best_score_, pre_dispatch, and metadata routing (refused, not ignored).

Each comparison runs scikit-learn's search on the same data, candidates and
splits; the cluster tests use the shared LocalCluster (worker processes)."""

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn import model_selection as sk
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.datasets import make_classification
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV

X, Y = make_classification(n_samples=120, n_features=5, n_informative=3, n_redundant=0, random_state=0)
CV = list(sk.KFold(3).split(X))


def _both(estimator, grid, X_, y_, **kw):
    """(dasklearn's fitted search, scikit-learn's), same arguments."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = GridSearchCV(estimator, grid, **kw).fit(X_, y_)
        ref = sk.GridSearchCV(estimator, grid, **kw).fit(X_, y_)
    return ours, ref


def _same_scores(ours, ref):
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"])
    assert ours.best_index_ == ref.best_index_


@pytest.mark.parametrize("estimator, matrix", [
    (SVC(kernel="precomputed"), rbf_kernel(X, gamma=0.2)),
    (KNeighborsClassifier(metric="precomputed"), euclidean_distances(X)),
])
def test_a_precomputed_matrix_is_cut_to_the_training_columns(client, estimator, matrix):
    grid = {"C": [0.1, 1.0, 10.0]} if isinstance(estimator, SVC) else {"n_neighbors": [3, 5]}
    ours, ref = _both(estimator, grid, matrix, Y, cv=CV)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
    _same_scores(ours, ref)
    np.testing.assert_array_equal(ours.predict(matrix[:10]), ref.predict(matrix[:10]))


def test_pairwise_is_read_per_candidate(client):
    """A grid over the kernel: only the 'precomputed' candidates get the
    square cut (scikit-learn reads the tag of each candidate)."""
    K = rbf_kernel(X, gamma=0.2)
    ours, ref = _both(SVC(), {"kernel": ["precomputed", "linear"]}, K, Y, cv=CV)
    _same_scores(ours, ref)


def test_a_precomputed_estimator_needs_a_square_matrix(client):
    with pytest.raises(ValueError, match="square"):
        GridSearchCV(SVC(kernel="precomputed"), {"C": [1.0]}, cv=CV).fit(X, Y)


def _pandas_pipeline():
    # selects columns by name after a scaler: works only when the scaler's
    # output is a DataFrame (transform_output="pandas")
    return Pipeline([("sc", StandardScaler()),
                     ("sel", ColumnTransformer([("keep", "passthrough", ["a", "b"])])),
                     ("lr", LogisticRegression())])


@pytest.mark.parametrize("on_cluster", [True, False])
def test_the_callers_sklearn_config_reaches_the_fits(cluster, on_cluster):
    from dask.distributed import Client

    df = pd.DataFrame(X, columns=list("abcde"))
    with sklearn.config_context(transform_output="pandas"):
        if on_cluster:
            with Client(cluster, set_as_default=True):
                ours, ref = _both(_pandas_pipeline(), {"lr__C": [0.1, 1.0]}, df, Y, cv=CV)
        else:  # local threads: scikit-learn's config is per thread
            ours, ref = _both(_pandas_pipeline(), {"lr__C": [0.1, 1.0]}, df, Y, cv=CV)
    assert "fit_error" not in ours.cv_results_
    _same_scores(ours, ref)


def test_a_grid_that_replaces_the_first_step_is_not_judged_by_the_original(client):
    """NaN in X: the base pipeline's PCA rejects it, but a candidate that
    starts with an imputer takes it; the PCA candidate fails alone, with
    error_score, as in scikit-learn."""
    X_nan = X.copy()
    X_nan[::7, 1] = np.nan
    pipe = Pipeline([("prep", PCA(2)), ("clf", LogisticRegression())])
    grid = {"prep": [PCA(2), Pipeline([("imp", SimpleImputer()), ("pca", PCA(2))])]}
    ours, ref = _both(pipe, grid, X_nan, Y, cv=CV)
    assert np.isnan(ours.cv_results_["mean_test_score"][0])
    _same_scores(ours, ref)


def test_text_columns_are_taken_when_a_candidate_encodes_them(client):
    X_text = np.array([["a", "b", "c"][i % 3] for i in range(len(Y))], dtype=object).reshape(-1, 1)
    pipe = Pipeline([("enc", "passthrough"), ("clf", LogisticRegression())])
    ours, ref = _both(pipe, {"enc": ["passthrough", OneHotEncoder()]}, X_text, Y, cv=CV)
    _same_scores(ours, ref)


@pytest.mark.parametrize("categorical", [["colour"], [0], [True, False]])
def test_text_columns_named_categorical_are_left_to_histgradientboosting(client, categorical):
    """HistGradientBoosting encodes the columns its ``categorical_features``
    names, text included: scikit-learn's search fits it, and so does ours."""
    rng = np.random.RandomState(0)
    colour = rng.choice(["red", "green", "blue"], len(Y))
    df = pd.DataFrame({"colour": colour, "size": X[:, 0]})
    y = ((colour == "red") ^ (X[:, 0] > 0)).astype(int)
    est = HistGradientBoostingClassifier(categorical_features=categorical, max_iter=20, random_state=0)
    ours, ref = _both(est, {"max_depth": [2, 3]}, df, y, cv=CV)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
    _same_scores(ours, ref)


def test_data_no_candidate_takes_is_still_refused_before_any_work(client):
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    pipe = Pipeline([("prep", PCA(2)), ("clf", LogisticRegression())])
    with pytest.raises(ValueError, match="NaN"):
        GridSearchCV(pipe, {"prep": [PCA(2), PCA(3)]}, cv=CV).fit(X_nan, Y)


def test_a_parameter_nested_in_a_replaced_step_is_accepted(client):
    pipe = Pipeline([("model", LogisticRegression())])
    grid = {"model": [Pipeline([("pca", PCA()), ("lr", LogisticRegression())])],
            "model__pca__n_components": [2, 3]}
    ours, ref = _both(pipe, grid, X, Y, cv=CV)
    _same_scores(ours, ref)
    with pytest.raises(ValueError, match="model__pca__n_componentz"):
        GridSearchCV(pipe, {**grid, "model__pca__n_componentz": [2]}, cv=CV).fit(X, Y)


def test_new_pipeline_steps_and_their_parameters_in_one_candidate_are_accepted(client):
    """``steps`` replaced together with a parameter of a new step: scikit-learn's
    ``set_params`` sets ``steps`` first, so the fit takes it; the up-front
    check refused ``svc__C`` as a parameter the pipeline does not have."""
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    pipe = Pipeline([("scale", StandardScaler()), ("lr", LogisticRegression())])
    grid = [{"steps": [[("scale", StandardScaler()), ("svc", SVC())]], "svc__C": [0.1, 10.0]},
            {"lr__C": [1.0]}]
    ours, ref = _both(pipe, grid, X, Y, cv=CV)
    _same_scores(ours, ref)
    with pytest.raises(ValueError, match="Invalid parameter 'svc__Q'"):
        GridSearchCV(pipe, [{**grid[0], "svc__Q": [1]}], cv=CV).fit(X, Y)
    with pytest.raises(ValueError, match="Invalid parameter 'stepz'"):  # the owner's typo is named, not svc__C
        GridSearchCV(pipe, [{**grid[0], "stepz": [1]}], cv=CV).fit(X, Y)
    nested = Pipeline([("model", pipe)])  # the same, one level down
    nested_grid = [{"model__steps": grid[0]["steps"], "model__svc__C": [0.1, 10.0]}]
    ours, ref = _both(nested, nested_grid, X, Y, cv=CV)
    _same_scores(ours, ref)


class _FixedScore(ClassifierMixin, BaseEstimator):
    """Scores ``s`` whatever the data; fails to fit if ``fail``."""

    def __init__(self, s=0.0, fail=False):
        self.s, self.fail = s, fail

    def fit(self, X, y):
        if self.fail:
            raise ValueError("asked to fail")
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def score(self, X, y, sample_weight=None):
        return self.s


def test_ranks_put_a_failed_candidate_below_minus_infinity(client):
    ours, ref = _both(_FixedScore(), [{"s": [-np.inf, 1.0]}, {"fail": [True]}], X, Y, cv=CV)
    np.testing.assert_array_equal(ref.cv_results_["rank_test_score"], [2, 1, 3])  # the reference itself
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], [2, 1, 3])


def test_non_finite_train_scores_warn_as_in_scikit_learn(client):
    def messages(search_cls):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            search_cls(_FixedScore(), {"fail": [False, True]}, cv=CV, return_train_score=True).fit(X, Y)
        return sorted(str(w.message).split(":")[0] for w in seen if "non-finite" in str(w.message))

    assert messages(GridSearchCV) == messages(sk.GridSearchCV) == [
        "One or more of the test scores are non-finite", "One or more of the train scores are non-finite"]


def test_best_index_and_best_score_have_scikit_learns_types(client):
    ours, ref = _both(LogisticRegression(), {"C": [0.1, 1.0]}, X, Y, cv=CV)
    assert type(ours.best_index_) is type(ref.best_index_)
    assert type(ours.best_score_) is type(ref.best_score_)


def test_pre_dispatch_is_accepted_and_kept():
    for cls, first in ((GridSearchCV, {"C": [1.0]}), (RandomizedSearchCV, {"C": [1.0]})):
        search = cls(LogisticRegression(), first, pre_dispatch="3*n_jobs")
        assert search.get_params()["pre_dispatch"] == "3*n_jobs"
        assert clone(search).pre_dispatch == "3*n_jobs"
        ref = getattr(sk, cls.__name__)(LogisticRegression(), first)
        assert cls(LogisticRegression(), first).get_params()["pre_dispatch"] == ref.get_params()["pre_dispatch"]


def test_a_two_dimensional_grid_value_is_refused():
    with pytest.raises(ValueError, match="one-dimensional"):
        GridSearchCV(LogisticRegression(), {"C": np.array([[0.1, 1.0]])}).fit(X, Y)


W = np.random.default_rng(0).uniform(0.1, 5.0, size=len(Y))


def _routed_cases():
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, make_scorer

    weighted = make_scorer(accuracy_score).set_score_request(sample_weight=True)
    unweighted = make_scorer(balanced_accuracy_score).set_score_request(sample_weight=False)
    pipe = Pipeline([("sc", StandardScaler().set_fit_request(sample_weight=False)),
                     ("lr", LogisticRegression().set_fit_request(sample_weight=True))])
    return {
        "fit and scorer get them": (LogisticRegression().set_fit_request(sample_weight=True),
                                    {"C": [0.01, 1.0]}, weighted),
        "only the scorer": (LogisticRegression().set_fit_request(sample_weight=False), {"C": [0.01, 1.0]}, weighted),
        "a pipeline's last step": (pipe, {"lr__C": [0.01, 1.0]}, None),
        "one metric of two": (LogisticRegression().set_fit_request(sample_weight=False), {"C": [0.01, 1.0]},
                              {"w": weighted, "u": unweighted}),
    }


@pytest.mark.parametrize("case", ["fit and scorer get them", "only the scorer", "a pipeline's last step",
                                  "one metric of two"])
def test_metadata_is_routed_as_in_scikit_learn(client, case):
    with sklearn.config_context(enable_metadata_routing=True):
        estimator, grid, scoring = _routed_cases()[case]
        kw = dict(cv=CV, scoring=scoring, return_train_score=True,
                  refit="w" if isinstance(scoring, dict) else True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ref = sk.GridSearchCV(estimator, grid, **kw).fit(X, Y, sample_weight=W)
            except Exception as exc:  # a request this scikit-learn wants set: the same error here
                with pytest.raises(type(exc)):
                    GridSearchCV(estimator, grid, **kw).fit(X, Y, sample_weight=W)
                return
            ours = GridSearchCV(estimator, grid, **kw).fit(X, Y, sample_weight=W)
        for key in ref.cv_results_:
            if "time" not in key and key.startswith(("mean_", "split", "rank_")):
                np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12,
                                           err_msg=key)
        np.testing.assert_allclose(ours.best_estimator_.predict_proba(X), ref.best_estimator_.predict_proba(X),
                                   rtol=0, atol=1e-12)
        outcomes = []
        for search in (ours, ref):  # the same score, or the same error (a request left unset)
            try:
                outcomes.append(search.score(X, Y, sample_weight=W))
            except Exception as exc:
                outcomes.append(type(exc))
        if isinstance(outcomes[1], type):
            assert outcomes[0] is outcomes[1]
        else:
            assert outcomes[0] == pytest.approx(outcomes[1], abs=1e-12)


def test_the_weights_make_a_difference_in_the_routing_cases(client):
    """The cases above would pass if weights were dropped everywhere: with
    the fit not requesting them, the scores differ from a fit that gets them."""
    with sklearn.config_context(enable_metadata_routing=True):
        from sklearn.metrics import accuracy_score, make_scorer

        weighted = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        runs = [GridSearchCV(LogisticRegression().set_fit_request(sample_weight=flag), {"C": [0.01]}, cv=CV,
                             scoring=weighted).fit(X, Y, sample_weight=W).cv_results_["mean_test_score"]
                for flag in (True, False)]
    assert not np.allclose(runs[0], runs[1])


def test_groups_are_routed_to_the_splitter(client):
    groups = np.arange(len(Y)) % 6
    with sklearn.config_context(enable_metadata_routing=True):
        kw = dict(cv=sk.GroupKFold(3))
        ours = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, **kw).fit(X, Y, groups=groups)
        ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, **kw).fit(X, Y, groups=groups)
    _same_scores(ours, ref)


class _ByDate(sk.BaseCrossValidator):
    """A splitter that requests metadata other than groups (``dates``)."""

    __metadata_request__split = {"dates": True}

    def __init__(self, n_splits=3):
        self.n_splits = n_splits

    def split(self, X, y=None, groups=None, dates=None):
        if dates is None:
            raise ValueError("_ByDate needs dates")
        cuts = np.quantile(dates, np.linspace(0, 1, self.n_splits + 2))
        for lo, hi in zip(cuts[1:-1], cuts[2:]):
            yield np.flatnonzero(dates < lo), np.flatnonzero((dates >= lo) & (dates < hi))

    def get_n_splits(self, X=None, y=None, groups=None, dates=None):
        return self.n_splits


@pytest.mark.parametrize("dask_input", [False, True])
def test_metadata_a_splitter_requests_reaches_it(client, dask_input):
    """Only ``groups`` reached the splitter; the rest, though routed to it, was dropped."""
    dates = np.random.default_rng(0).permutation(len(Y)).astype(float)
    given = da.from_array(dates, chunks=30) if dask_input else dates
    with sklearn.config_context(enable_metadata_routing=True):
        ours = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=_ByDate()).fit(X, Y, dates=given)
        ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=_ByDate()).fit(X, Y, dates=dates)
    _same_scores(ours, ref)


def test_score_parameters_without_routing_are_refused_as_in_scikit_learn(client):
    """They were taken (and weighted the score) where scikit-learn raises."""
    ours = GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=CV).fit(X, Y)
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=CV).fit(X, Y)
    with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
        ref.score(X, Y, sample_weight=W)
    with pytest.raises(ValueError, match=r"only supported if enable_metadata_routing=True.*\['sample_weight'\]"):
        ours.score(X, Y, sample_weight=W)
    assert ours.score(X, Y) == ref.score(X, Y)


def test_metadata_nobody_requested_is_refused_before_any_work(client):
    """scikit-learn's UnsetMetadataPassedError, raised on the client: the
    scheduler got no task."""
    from sklearn.exceptions import UnsetMetadataPassedError
    from sklearn.metrics import accuracy_score, make_scorer

    from conftest import scheduler_keys

    before = scheduler_keys(client)
    refused = 0
    with sklearn.config_context(enable_metadata_routing=True):
        # scorers that never said whether they take sample_weight; which of
        # them scikit-learn refuses depends on its version (1.7: the
        # pipeline's score; 1.9: the 'accuracy' scorer): the same here
        cases = [(LogisticRegression().set_fit_request(sample_weight=True), {"C": [1.0]}, "accuracy"),
                 (Pipeline([("lr", LogisticRegression().set_fit_request(sample_weight=True))]),
                  {"lr__C": [1.0]}, None),
                 # several metrics, one of them requesting the weights: not a search of NaN scores
                 (LogisticRegression().set_fit_request(sample_weight=True), {"C": [1.0]},
                  {"a": make_scorer(accuracy_score).set_score_request(sample_weight=True), "b": "accuracy"})]
        for estimator, grid, scoring in cases:
            refit = "a" if isinstance(scoring, dict) else True
            try:
                sk.GridSearchCV(estimator, grid, cv=CV, scoring=scoring, refit=refit).fit(X, Y, sample_weight=W)
            except UnsetMetadataPassedError:
                refused += 1
                with pytest.raises(UnsetMetadataPassedError):
                    GridSearchCV(estimator, grid, cv=CV, scoring=scoring, refit=refit).fit(X, Y, sample_weight=W)
    assert refused >= 1
    assert scheduler_keys(client) == before


class _NanTolerant(ClassifierMixin, BaseEstimator):
    """An estimator from outside scikit-learn that takes NaN without saying so
    in its tags (the defaults say no NaN): a majority-class predictor."""

    def __init__(self, shift=0):
        self.shift = shift

    def fit(self, X, y):
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


@pytest.mark.parametrize("make, grid", [
    (lambda: CalibratedClassifierCV(HistGradientBoostingClassifier(max_iter=10)), {"method": ["sigmoid", "isotonic"]}),
    (lambda: OneVsRestClassifier(HistGradientBoostingClassifier(max_iter=10)), {"estimator__max_depth": [2, 3]}),
    (lambda: _NanTolerant(), {"shift": [0, 1]}),
])
def test_nan_is_left_to_meta_estimators_and_estimators_from_elsewhere(make, grid):
    """Their default tags (no NaN) do not say what they take: as scikit-learn's
    search, the fits judge the input (these take NaN and fit)."""
    Xn = X.copy()
    Xn[::7, 1] = np.nan
    ours, ref = _both(make(), grid, Xn, Y, cv=CV)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], atol=1e-12)
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()


def test_nan_is_still_refused_up_front_for_a_scikit_learn_estimator_that_refuses_it():
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN.*LogisticRegression"):
        GridSearchCV(LogisticRegression(), {"C": [1.0]}).fit(Xn, Y)


class _LogisticWithDistribution(LogisticRegression):
    """A scikit-learn estimator with a parameter that has a ``fit`` method
    (a scipy.stats distribution) but is no estimator."""

    def __init__(self, C=1.0, prior=None):
        super().__init__(C=C)
        self.prior = prior


def test_a_parameter_with_fit_that_is_no_estimator_keeps_the_nan_check():
    from scipy.stats import norm

    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN.*_LogisticWithDistribution"):
        GridSearchCV(_LogisticWithDistribution(prior=norm), {"C": [1.0]}).fit(Xn, Y)


class _LowThresholdPipeline(Pipeline):
    """A Pipeline subclass with its own predict (as users write them)."""

    def predict(self, X, **params):
        return (self.predict_proba(X)[:, 1] > 0.2).astype(int)


@pytest.mark.parametrize("on_cluster", [False, True])
def test_a_pipeline_subclass_keeps_its_own_methods(on_cluster, request):
    """Its leading steps are not fitted once per split as a plain Pipeline
    (that dropped the subclass's predict: other scores, another best)."""
    if on_cluster:
        request.getfixturevalue("client")
    X_, y_ = make_classification(300, 6, n_informative=4, weights=[0.9, 0.1], random_state=0)
    est = _LowThresholdPipeline([("s", StandardScaler()), ("clf", LogisticRegression())])
    ours, theirs = _both(est, {"clf__C": [0.03, 0.1, 1, 10]}, X_, y_, scoring="f1",
                         cv=list(sk.StratifiedKFold(3).split(X_, y_)))
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)
    assert ours.best_params_ == theirs.best_params_
    assert type(ours.best_estimator_) is _LowThresholdPipeline


class _NoReturn(ClassifierMixin, BaseEstimator):
    """fit forgets ``return self``; scikit-learn's search keeps the object."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        self.model_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.model_.classes_

    def predict(self, X):
        return self.model_.predict(X)


class _FitsOnXOnly(BaseEstimator):
    """``fit(X)``: takes no y at all."""

    def __init__(self, shrink=1.0):
        self.shrink = shrink

    def fit(self, X):
        self.mean_ = X.mean(0) * self.shrink
        return self

    def score(self, X):
        return -float(((X - self.mean_) ** 2).sum())


def test_refit_keeps_the_estimator_when_fit_returns_nothing():
    ours, theirs = _both(_NoReturn(), {"C": [0.01, 1.0]}, X, Y, cv=CV)
    assert isinstance(ours.best_estimator_, _NoReturn) and ours.best_estimator_.C == theirs.best_estimator_.C
    assert ours.score(X, Y) == theirs.score(X, Y)


def test_an_estimator_whose_fit_takes_no_y():
    """Fits get fit(X) when y is None, as in scikit-learn (not fit(X, None))."""
    ours, theirs = _both(_FitsOnXOnly(), {"shrink": [0.5, 1.0]}, X, None, cv=CV)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-9)
    assert ours.best_params_ == theirs.best_params_ and np.isnan(ours.cv_results_["mean_test_score"]).sum() == 0


class _SeesMeta(ClassifierMixin, BaseEstimator):
    """Records the rows of its ``meta`` fit parameter, scores by them."""

    def __init__(self, c=1):
        self.c = c

    def fit(self, X, y, meta=None):
        self.classes_ = np.unique(y)
        self.meta_type_ = type(meta).__name__
        rows = meta.shape[0] if hasattr(meta, "shape") else len(meta)
        assert rows == len(X), (rows, len(X))  # sliced to the fold's rows
        self.seen_ = float(meta.sum()) if hasattr(meta, "shape") else float(sum(np.sum(m) for m in meta))
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])

    def score(self, X, y):  # (the type's name counts: a list must reach the folds as a list)
        return self.seen_ * self.c + len(self.meta_type_)


@pytest.mark.parametrize("kind", ["coo", "csr", "ragged list", "list"])
def test_sparse_and_list_fit_parameters_are_sliced_per_fold(kind):
    import scipy.sparse as sp

    n = len(X)
    meta = {"coo": lambda: sp.random(n, 3, density=0.5, format="coo", random_state=0),
            "csr": lambda: sp.random(n, 3, density=0.5, format="csr", random_state=0),
            "ragged list": lambda: [list(range(i % 4)) for i in range(n)],
            "list": lambda: [float(i) for i in range(n)]}[kind]()
    ours = GridSearchCV(_SeesMeta(), {"c": [1, 2]}, cv=CV).fit(X, Y, meta=meta)
    theirs = sk.GridSearchCV(_SeesMeta(), {"c": [1, 2]}, cv=CV).fit(X, Y, meta=meta)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-9)
    assert ours.best_estimator_.meta_type_ == theirs.best_estimator_.meta_type_


def test_the_refits_warnings_reach_the_caller_from_the_cluster(client):
    """The refit runs on a worker; its ConvergenceWarning is raised again in
    the caller (scikit-learn refits in the caller's process): it can be
    caught, filtered, or made an error."""
    from sklearn.exceptions import ConvergenceWarning

    search = GridSearchCV(LogisticRegression(max_iter=2), {"C": [0.1, 1.0]}, cv=CV)
    with pytest.warns(ConvergenceWarning):
        search.fit(X, Y)
    assert search.best_estimator_.n_iter_[0] == 2  # (the refit did stop early)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning):
            GridSearchCV(LogisticRegression(max_iter=2), {"C": [0.1, 1.0]}, cv=CV).fit(X, Y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", ConvergenceWarning)
        GridSearchCV(LogisticRegression(max_iter=2), {"C": [0.1, 1.0]}, cv=CV).fit(X, Y)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    with warnings.catch_warnings(record=True) as caught:  # a module= filter matches too
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=ConvergenceWarning, module="sklearn")
        GridSearchCV(LogisticRegression(max_iter=2), {"C": [0.1, 1.0]}, cv=CV).fit(X, Y)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]


_DYNAMIC = """
import warnings
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

class Warns(ClassifierMixin, BaseEstimator):
    def __init__(self, k=1):
        self.k = k

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        if len(X) == N_ALL:  # the refit only
            warnings.warn(f"refit of k={self.k}: something to know", UserWarning)
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)
"""


def test_the_refits_warnings_reach_the_caller_from_code_of_no_module(client):
    """A class defined in the user's script or notebook goes to the workers
    by value: its warnings come from a file no loaded module has. They reach
    the caller too (Python drops a warning re-raised with module=None)."""
    namespace = {"__name__": "dasklearn_test_not_a_module", "N_ALL": len(X)}
    exec(compile(_DYNAMIC, "<dasklearn-test-dynamic>", "exec"), namespace)
    for search in (GridSearchCV, sk.GridSearchCV):
        with pytest.warns(UserWarning, match="refit of k=1: something to know"):
            search(namespace["Warns"](), {"k": [1, 2]}, cv=CV).fit(X, Y)


@pytest.mark.parametrize("verbose", [2, 3])
def test_verbose_prints_scikit_learns_line_per_fit(verbose, capsys):
    """verbose >= 2: one line per fit on stdout, as scikit-learn prints it
    (its scores from 3); the fits finish in any order, so the lines are
    compared as sets (times blanked)."""
    import re

    def lines(search):
        search.fit(X, Y)
        out = capsys.readouterr().out
        return sorted(re.sub(r"total time=.*", "", line).rstrip(".") for line in out.splitlines() if "END" in line)

    kw = dict(cv=CV, verbose=verbose, return_train_score=verbose == 3)
    grid = {"C": [0.1, 1.0]}
    ours = lines(GridSearchCV(LogisticRegression(), grid, **kw))
    theirs = lines(sk.GridSearchCV(LogisticRegression(), grid, **kw))
    strip = lambda ls: [re.sub(r"\.{2,}", "..", line) for line in ls]  # (dot padding: time widths differ)
    assert len(ours) == 6 and strip(ours) == strip(theirs)


@pytest.mark.parametrize("kw", [
    dict(error_score=0),
    dict(error_score=-1.0, return_train_score=True),
    dict(scoring=["accuracy", "f1"], refit="f1", return_train_score=True),
])
def test_verbose_line_of_a_failed_fit_is_scikit_learns(kw, capsys):
    """A failed fit's line shows error_score as its score(s), per metric and
    with train scores, as scikit-learn's does (not a fixed 'score=nan')."""
    import re

    def lines(search):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search.fit(X, Y)
        out = capsys.readouterr().out
        return sorted(re.sub(r"\.{2,}", "..", re.sub(r"total time=.*", "", line)).rstrip(".")
                      for line in out.splitlines() if "END" in line)

    grid = {"C": [-1.0, 1.0]}  # C=-1 fails
    ours = lines(GridSearchCV(LogisticRegression(), grid, cv=CV, verbose=3, **kw))
    theirs = lines(sk.GridSearchCV(LogisticRegression(), grid, cv=CV, verbose=3, **kw))
    assert len(ours) == 6 and ours == theirs


def test_inverse_transform_on_a_dask_dataframe_names_the_fitted_columns():
    """It named them inverse_transform0..3: the space it maps back to has the
    fitted input's columns."""
    import dask.dataframe as dd
    import pandas as pd
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.DataFrame(np.random.RandomState(0).randn(120, 4), columns=list("abcd"))
    search = GridSearchCV(make_pipeline(StandardScaler(), PCA()), {"pca__n_components": [2, 3]}, cv=3,
                          n_jobs=1).fit(df)
    back = search.inverse_transform(search.transform(dd.from_pandas(df, npartitions=3)))
    assert list(back.columns) == list("abcd")
    np.testing.assert_allclose(back.compute().to_numpy(), search.inverse_transform(search.transform(df)))


@pytest.mark.parametrize("search", [GridSearchCV, RandomizedSearchCV])
def test_no_set_fit_request_of_groups_and_callbacks_refused_clearly(search):
    """scikit-learn's searches route fit's groups to the splitter and have no
    set_fit_request; set_callbacks (scikit-learn 1.9) is refused with what
    to use instead, not an AttributeError."""
    est = search(LogisticRegression(), {"C": [0.1, 1.0]})
    assert not hasattr(est, "set_fit_request")
    assert not hasattr(sk.GridSearchCV(LogisticRegression(), {}), "set_fit_request")
    with pytest.raises(NotImplementedError, match="does not support scikit-learn's callbacks.*verbose=1"):
        est.set_callbacks(object())
