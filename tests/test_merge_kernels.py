"""Pure merge kernels: parameter state and merges of partial_fit estimators.

Plain NumPy arrays and scikit-learn estimators, no dask. The naive Bayes
merges are compared with scikit-learn's ``fit`` on all the data.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.linear_model import Perceptron, SGDClassifier, SGDOneClassSVM, SGDRegressor
from sklearn.naive_bayes import BernoulliNB, CategoricalNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier, MLPRegressor

from dasklearn._kernels.merge import (
    average_states,
    combine_states,
    family_of,
    get_state,
    merge_states,
    param_change,
    set_state,
)

TOL = dict(rtol=1e-10, atol=1e-10)


def _data(n=600, n_classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_classes=n_classes,
                               random_state=seed)
    return X, y


def _splits(n, seed=0, parts=3):
    """Uneven contiguous row ranges."""
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, n), parts - 1, replace=False))
    return np.split(np.arange(n), cuts)


@pytest.mark.parametrize("est, family", [
    (SGDClassifier(), "linear"), (SGDRegressor(), "linear"), (Perceptron(), "linear"),
    (MLPClassifier(), "mlp"), (MLPRegressor(), "mlp"),
    (GaussianNB(), "gaussian_nb"), (MultinomialNB(), "multinomial_nb"), (BernoulliNB(), "bernoulli_nb"),
])
def test_family_of_supported(est, family):
    assert family_of(est) == family


@pytest.mark.parametrize("est", [ComplementNB(), CategoricalNB(), SGDOneClassSVM()])
def test_family_of_unsupported_names_what_is_supported(est):
    with pytest.raises(TypeError, match=f"{type(est).__name__}.*supports.*SGDClassifier.*GaussianNB"):
        family_of(est)


def test_passive_aggressive_is_linear_while_it_exists():
    import sklearn.linear_model as lm

    if not hasattr(lm, "PassiveAggressiveClassifier"):
        return  # removed in scikit-learn 1.10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        assert family_of(lm.PassiveAggressiveClassifier()) == "linear"
        assert family_of(lm.PassiveAggressiveRegressor()) == "linear"


# ------------------------------------------------------------- get/set state
@pytest.mark.parametrize("make", [
    lambda: SGDClassifier(random_state=0),
    lambda: Perceptron(random_state=0),
    lambda: MLPClassifier(hidden_layer_sizes=(5, 4), random_state=0),
])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_state_round_trip_reproduces_the_model(make, n_classes):
    X, y = _data(n_classes=n_classes)
    a = make().partial_fit(X[:300], y[:300], classes=np.unique(y))
    b = make().partial_fit(X[300:], y[300:], classes=np.unique(y))
    set_state(b, get_state(a))
    assert_array_equal(b.predict(X), a.predict(X))
    assert_array_equal(b.decision_function(X) if hasattr(b, "decision_function") else b.predict_proba(X),
                       a.decision_function(X) if hasattr(a, "decision_function") else a.predict_proba(X))
    assert b.t_ == a.t_
    # the state is a copy: training the model does not change it
    state = get_state(a)
    a.partial_fit(X, y)
    first = state["coef_"] if "coef_" in state else state["coefs_"][0]
    now = a.coef_ if hasattr(a, "coef_") else a.coefs_[0]
    assert not np.array_equal(first, now)


def test_set_state_keeps_training_sequentially():
    """Setting a model's own state back changes nothing, even for the next update."""
    X, y = _data()
    a = SGDClassifier(random_state=0).partial_fit(X[:300], y[:300], classes=np.unique(y))
    b = SGDClassifier(random_state=0).partial_fit(X[:300], y[:300], classes=np.unique(y))
    set_state(b, get_state(b))
    a.partial_fit(X[300:], y[300:])
    b.partial_fit(X[300:], y[300:])
    assert_array_equal(a.coef_, b.coef_)


# ----------------------------------------------------------------- averaging
def test_average_of_one_state_is_that_state_bit_for_bit():
    X, y = _data()
    est = MLPClassifier(hidden_layer_sizes=(7,), random_state=0).partial_fit(X, y, classes=np.unique(y))
    state = get_state(est)
    merged = average_states("mlp", [state], [123], previous={"t_": 0})
    for a, b in zip(merged["coefs_"] + merged["intercepts_"], state["coefs_"] + state["intercepts_"]):
        assert_array_equal(a, b)
    assert merged["t_"] == state["t_"]


def test_average_is_weighted_by_samples_and_t_adds_every_workers_updates():
    s1 = {"coef_": np.array([[1.0, 2.0]]), "intercept_": np.array([1.0]), "t_": 11.0}
    s2 = {"coef_": np.array([[4.0, -1.0]]), "intercept_": np.array([-2.0]), "t_": 31.0}
    merged = average_states("linear", [s1, s2], [10, 30], previous={"t_": 1.0})
    assert_allclose(merged["coef_"], [[0.25 * 1 + 0.75 * 4, 0.25 * 2 - 0.75]])
    assert_allclose(merged["intercept_"], [0.25 - 1.5])
    assert merged["t_"] == 1.0 + 10 + 30
    # from a fresh model, SGD's t_ starts at 1
    assert average_states("linear", [s1, s2], [1, 1])["t_"] == 1.0 + 10 + 30


def test_average_keeps_dtype():
    s = {"coef_": np.ones((1, 3), np.float32), "intercept_": np.zeros(1, np.float32), "t_": 2.0}
    assert average_states("linear", [s, s], [1, 2])["coef_"].dtype == np.float32


@pytest.mark.parametrize("weights", [[0, 0], [1, -1], [np.nan, 1]])
def test_average_rejects_bad_weights(weights):
    s = {"coef_": np.ones((1, 3)), "intercept_": np.zeros(1), "t_": 2.0}
    with pytest.raises(ValueError, match="weights"):
        average_states("linear", [s, s], weights)


def test_average_rejects_exact_family_and_vice_versa():
    with pytest.raises(ValueError, match="family"):
        average_states("gaussian_nb", [], [1])
    with pytest.raises(ValueError, match="family"):
        combine_states("linear", [{}])


# ------------------------------------------------- exact naive Bayes merges
def _merged_nb(make, X, y, splits, classes):
    """Fit each split alone, combine the statistics, write them into a shell."""
    family = family_of(make())
    fitted = [make().partial_fit(X[idx], y[idx], classes=classes) for idx in splits]
    shell = fitted[0]
    return set_state(shell, combine_states(family, [get_state(f) for f in fitted]))


def _assert_same_nb(ours, ref, X):
    for attr in ("class_count_", "theta_", "var_", "epsilon_", "class_prior_",
                 "feature_count_", "feature_log_prob_", "class_log_prior_"):
        if hasattr(ref, attr):
            assert_allclose(getattr(ours, attr), getattr(ref, attr), **TOL, err_msg=attr)
    assert_allclose(ours.predict_proba(X), ref.predict_proba(X), **TOL)
    assert_array_equal(ours.predict(X), ref.predict(X))


@pytest.mark.parametrize("params", [{}, {"var_smoothing": 1e-3}, {"priors": [0.2, 0.3, 0.5]}])
def test_gaussian_nb_merge_equals_fit_on_all_data(params):
    X, y = _data(n=900)
    X[:, 2] *= 50.0  # features of very different variance: epsilon_ matters
    X[:, 3] += 1e3  # and a large mean: the variance combination must stay exact
    y[:300] = np.where(y[:300] == 2, 0, y[:300])  # the first split lacks class 2
    classes = np.unique(y)
    ours = _merged_nb(lambda: GaussianNB(**params), X, y, [np.arange(300), np.arange(300, 410),
                                                           np.arange(410, 900)], classes)
    _assert_same_nb(ours, GaussianNB(**params).fit(X, y), X)


@pytest.mark.parametrize("make", [
    lambda: MultinomialNB(),
    lambda: MultinomialNB(alpha=np.linspace(0.1, 2, 6), fit_prior=False),
    lambda: MultinomialNB(alpha=1e-12, force_alpha=False, class_prior=[0.5, 0.25, 0.25]),
    lambda: BernoulliNB(),
    lambda: BernoulliNB(alpha=0.3, binarize=0.5, fit_prior=False),
    lambda: BernoulliNB(class_prior=[0.1, 0.6, 0.3]),
])
def test_discrete_nb_merge_equals_fit_on_all_data(make):
    X, y = _data(n=900)
    X = np.floor(np.abs(X) * 3)  # counts
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # alpha too small, as scikit-learn warns
        ours = _merged_nb(make, X, y, _splits(900, parts=4), classes)
        ref = make().fit(X, y)
    _assert_same_nb(ours, ref, X)


def test_exact_merge_with_previous_equals_repeated_passes():
    """merge_states adds a round's statistics to the previous ones, as
    partial_fit passes over the same data would."""
    X, y = _data(n=400)
    X = np.floor(np.abs(X) * 3)
    classes = np.unique(y)
    one = get_state(MultinomialNB().partial_fit(X, y, classes=classes))
    two = merge_states("multinomial_nb", [one], [1], previous=one)
    ref = MultinomialNB().partial_fit(X, y, classes=classes).partial_fit(X, y)
    shell = set_state(MultinomialNB().partial_fit(X, y, classes=classes), two)
    _assert_same_nb(shell, ref, X)


def test_gaussian_merge_of_identical_states_keeps_moments():
    X, y = _data(n=300)
    s = get_state(GaussianNB().fit(X, y))
    m = combine_states("gaussian_nb", [s, s, s])
    assert_allclose(m["class_count_"], 3 * s["class_count_"])
    assert_allclose(m["theta_"], s["theta_"], **TOL)
    assert_allclose(m["var_"], s["var_"], **TOL)


# ----------------------------------------------------------- param change
def test_param_change():
    s = {"coef_": np.array([[3.0, 4.0]]), "intercept_": np.array([0.0]), "t_": 1.0}
    t = {"coef_": np.array([[3.0, 4.0]]), "intercept_": np.array([5.0]), "t_": 9.0}
    assert param_change("linear", None, s) is None
    assert param_change("linear", s, s) == 0.0
    assert param_change("linear", s, t) == pytest.approx(5.0 / np.sqrt(50.0))
    nb = {"class_count_": np.array([2.0, 2.0]), "feature_count_": np.array([[1.0, 1.0], [2.0, 0.0]])}
    doubled = {k: 2 * v for k, v in nb.items()}
    assert param_change("multinomial_nb", nb, doubled) == 0.0  # frequencies, not raw counts
