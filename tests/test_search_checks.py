"""scikit-learn's shared estimator checks on the searches and wrappers
(without a Client: local threads), and the input kinds they taught us to
accept on a cluster too (sparse in any format, numbers held as objects)."""

import inspect
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.datasets import make_classification
from sklearn.linear_model import Ridge, SGDClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from dasklearn.model_selection import (
    GridSearchCV,
    HyperbandSearchCV,
    IncrementalSearchCV,
    InverseDecaySearchCV,
    RandomizedSearchCV,
    SuccessiveHalvingSearchCV,
)
from dasklearn.wrappers import DataParallel, Incremental, ParallelPostFit

SPACE = {"alpha": loguniform(1e-4, 1e-1)}
SGD = SGDClassifier(random_state=0)
ESTIMATORS = [
    GridSearchCV(SGD, {"alpha": [1e-4, 1e-3]}, cv=2),
    RandomizedSearchCV(Ridge(), {"alpha": loguniform(1e-3, 1e1)}, n_iter=3, cv=2, random_state=0),
    ParallelPostFit(SGD),
    Incremental(SGD),
    DataParallel(SGD),
    IncrementalSearchCV(SGD, SPACE, n_initial_parameters=3, max_iter=3, random_state=0),
    InverseDecaySearchCV(SGD, SPACE, n_initial_parameters=3, max_iter=3, random_state=0),
    SuccessiveHalvingSearchCV(SGD, SPACE, n_initial_parameters=3, n_initial_iter=1, max_iter=3, random_state=0),
    HyperbandSearchCV(SGD, SPACE, max_iter=3, random_state=0),
]


def _expected_failures(estimator):
    if isinstance(estimator, DataParallel):
        return {"check_sample_weight_equivalence_on_dense_data":
                "SGD's updates with integer weights differ from its updates on repeated rows "
                "(scikit-learn expects this check to fail for SGDClassifier itself)"}
    if "max_iter" in estimator.get_params(deep=False):  # the adaptive searches
        return {"check_non_transformer_estimators_n_iter":
                "max_iter is each model's budget of partial_fit calls; the calls each model got "
                "are in cv_results_['partial_fit_calls'], not one n_iter_"}
    return {}


# an expected failure that passes is an error (scikit-learn >= 1.8 can say so)
_STRICT = {"xfail_strict": True} if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters else {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures, **_STRICT)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # non-finite scores of tiny folds
        check(estimator)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "dok"])
def test_sparse_input_in_any_format_on_the_cluster(client, fmt):
    X, y = make_classification(n_samples=120, n_features=8, random_state=0)
    X[np.abs(X) < 0.5] = 0
    grid = {"alpha": [1e-4, 1e-2]}
    est = SGDClassifier(max_iter=20, tol=None, random_state=0)
    ours = GridSearchCV(est, grid, cv=3).fit(sp.csr_array(X).asformat(fmt), y)
    ref = sk.GridSearchCV(est, grid, cv=3).fit(sp.csr_array(X), y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)


def test_numbers_held_as_objects_are_numbers_and_other_objects_are_refused(client):
    X, y = make_classification(n_samples=90, n_features=5, random_state=0)
    est = SGDClassifier(max_iter=20, tol=None, random_state=0)
    ours = GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=3).fit(X.astype(object), y)
    ref = sk.GridSearchCV(est, {"alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    bad = X.astype(object)
    bad[0, 0] = {"not": "a number"}
    with pytest.raises(TypeError, match=r"X has dtype object \(float\(\) argument must be a string or a "
                                        r"(real )?number, not 'dict'\).*Convert it"):
        GridSearchCV(est, {"alpha": [1e-4]}, cv=3).fit(bad, y)


@pytest.mark.parametrize("X", [None, "data.csv", {"a": [1, 2]}, 3.0])
def test_an_x_that_is_not_array_like_is_refused_before_any_work(X):
    """As scikit-learn's input check: a type error naming what X must be
    (before: an internal comparison of int and None, or 'X has None' rows)."""
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=2, n_jobs=1)
    with pytest.raises(TypeError, match=f"X must be array-like .*got {type(X).__name__}"):
        search.fit(X, np.arange(10.0))
    with pytest.raises(TypeError, match="X must be array-like"):
        search.fit(X)


def test_randomized_search_explains_a_bare_value_or_an_empty_list():
    """As GridSearchCV does for the same mistakes (before: scikit-learn's
    'not iterable or a distribution' / 'need to be a non-empty sequence')."""
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20.0)
    with pytest.raises(TypeError, match=r"param_distributions\['alpha'\] must be a list .*\{'alpha': \[1\.0\]\}"):
        RandomizedSearchCV(Ridge(), {"alpha": 1.0}, n_iter=2, cv=2, n_jobs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"param_distributions\['alpha'\] is empty"):
        RandomizedSearchCV(Ridge(), {"alpha": []}, n_iter=2, cv=2, n_jobs=1).fit(X, y)
