"""DataParallel.fit(..., sample_weight=...): each partial_fit gets its rows'
weights, naive Bayes merges stay exact, and models are averaged by each
worker's total weight."""

import dask
import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
import inspect

import sklearn.linear_model
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier

from dasklearn._parallel import DataParallel, _train_weight, _Part
from dasklearn.datasets import make_classification

TOL = dict(rtol=1e-9, atol=1e-9)


def _data(n=6_000, chunks=700):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=3, chunks=chunks,
                               random_state=0)
    w = np.random.RandomState(1).uniform(0.0, 3.0, n)
    return X, y, w


@pytest.mark.parametrize("make, transform", [
    (GaussianNB, None),
    (lambda: MultinomialNB(alpha=0.5), lambda X: da.floor(abs(X) * 3)),
])
def test_naive_bayes_with_weights_equals_the_weighted_fit_on_all_data(client, make, transform):
    X, y, w = _data()
    if transform is not None:
        X = transform(X)
    model = DataParallel(make(), validation_fraction=0).fit(X, y, sample_weight=da.from_array(w, chunks=1000))
    assert len(model.partitions_) == 2  # both workers trained
    Xn, yn = dask.compute(X, y)
    ref = make().fit(Xn, yn, sample_weight=w)
    for attr in ("class_count_", "theta_", "var_", "feature_count_", "feature_log_prob_", "class_log_prior_"):
        if hasattr(ref, attr):
            assert_allclose(getattr(model.estimator_, attr), getattr(ref, attr), **TOL, err_msg=attr)
    unweighted = make().fit(Xn, yn)
    assert np.abs(model.estimator_.class_count_ - unweighted.class_count_).max() > 1  # the weights counted


@pytest.mark.parametrize("first_worker_weightless", [False, True])
def test_gaussian_nb_epsilon_is_from_the_unweighted_variance_of_x(client, first_worker_weightless):
    """GaussianNB.fit takes epsilon_ = var_smoothing * max(var(X)) over all
    rows, whatever their weights (zero-weight rows, and a worker holding only
    them, too). A large var_smoothing makes any other variance show."""
    X, y, _ = _data(n=6_000, chunks=1_000)
    Xn, yn = dask.compute(X, y)
    w = np.where(np.abs(Xn[:, 0]) > 1.0, 0.05, 1.0)  # the wide rows of feature 0 count little
    if first_worker_weightless:
        w[:3_000] = 0.0  # the first three blocks: the whole first worker's share
    model = DataParallel(GaussianNB(var_smoothing=0.5), validation_fraction=0).fit(X, y, sample_weight=w)
    ref = GaussianNB(var_smoothing=0.5).fit(Xn, yn, sample_weight=w)
    assert_allclose(model.estimator_.epsilon_, ref.epsilon_, **TOL)
    assert_allclose(model.estimator_.var_, ref.var_, **TOL)
    assert_allclose(model.predict_proba(Xn), ref.predict_proba(Xn), **TOL)
    # the weighted variance differs: the test can tell the two apart
    weighted = np.average((Xn - np.average(Xn, axis=0, weights=w)) ** 2, axis=0, weights=w)
    assert abs(0.5 * weighted.max() - ref.epsilon_) > 0.01


def test_zero_weights_drop_their_rows(client):
    X, y, w = _data()
    keep = w > 1.0
    model = DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=keep.astype(float))
    Xn, yn = dask.compute(X, y)
    ref = GaussianNB().fit(Xn[keep], yn[keep])
    assert_allclose(model.estimator_.theta_, ref.theta_, **TOL)
    assert_allclose(model.estimator_.class_count_, ref.class_count_, **TOL)


@pytest.mark.parametrize("make", [lambda: SGDClassifier(random_state=0),
                                  lambda: MLPClassifier(hidden_layer_sizes=(5,), random_state=0)])
def test_one_worker_is_the_weighted_partial_fit_loop(make):
    """No Client: one virtual worker, so each round is partial_fit over the
    blocks in order, each with its rows' weights."""
    if "sample_weight" not in inspect.signature(make().partial_fit).parameters:
        pytest.skip("this scikit-learn's partial_fit takes no sample_weight")
    X, y, w = _data(n=3_000, chunks=500)
    model = DataParallel(make(), max_rounds=2, tol=None, validation_fraction=0)
    model.fit(X, y, classes=[0, 1, 2], sample_weight=w)
    ref = make()
    wd = da.from_array(w, chunks=500)
    for _ in range(2):
        for xb, yb, wb in zip(X.to_delayed().ravel(), y.to_delayed().ravel(), wd.to_delayed().ravel()):
            xb, yb, wb = dask.compute(xb, yb, wb)
            ref.partial_fit(xb, yb, classes=[0, 1, 2], sample_weight=wb)
    ours = model.estimator_
    for a, b in zip(getattr(ours, "coefs_", [getattr(ours, "coef_", None)]),
                    getattr(ref, "coefs_", [getattr(ref, "coef_", None)])):
        assert_array_equal(a, b)


def test_groups_are_averaged_by_their_total_weight():
    parts = [_Part(np.zeros((3, 2)), np.zeros(3), None, None, np.array([1.0, 2.0, 0.5])),
             _Part(np.zeros((2, 2)), np.zeros(2), None, None, np.array([4.0, 0.0]))]
    assert _train_weight(parts) == 7.5
    assert _train_weight([_Part(np.zeros((3, 2)), np.zeros(3), None, None)]) == 3


def test_a_single_weight_is_every_row_s(client):
    X, y, _ = _data()
    a = DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=2.0)
    b = DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=np.full(6_000, 2.0))
    assert_array_equal(a.estimator_.class_count_, b.estimator_.class_count_)
    assert a.estimator_.class_count_.sum() == pytest.approx(12_000)


def test_validation_scores_are_weighted(client):
    """With weights that are zero on every row of class 0, the held-out
    accuracy counts only the other classes' rows."""
    X, y, _ = _data()
    yn = y.compute()
    w = (yn != 0).astype(float) + 1e-12 * (yn == 0)  # class 0 rows weigh (almost) nothing
    model = DataParallel(GaussianNB(), validation_fraction=0.2, random_state=0).fit(X, y, sample_weight=w)
    plain = DataParallel(GaussianNB(), validation_fraction=0.2, random_state=0).fit(X, y)
    assert model.history_[0]["score"] != pytest.approx(plain.history_[0]["score"], abs=1e-6)
    # the score is the merged model's weighted accuracy on exactly the held-out rows
    from sklearn.metrics import accuracy_score

    from dasklearn._parallel import _split_weighted_block

    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))  # DataParallel's split seed
    Xn = X.compute()
    held = []
    for i, start in enumerate(range(0, 6_000, 700)):
        rows = np.arange(start, min(start + 700, 6_000))
        part = _split_weighted_block(i, rows[:, None], rows, np.ones(len(rows)), 0.2, seed)
        held.extend(part.X_val[:, 0])
    held = np.asarray(held, dtype=int)
    expected = accuracy_score(yn[held], model.estimator_.predict(Xn[held]), sample_weight=w[held])
    assert model.history_[0]["score"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("bad, error, match", [
    (np.ones(10), ValueError, r"sample_weight must have shape \(6000,\)"),
    (-np.ones(6_000), ValueError, "finite and non-negative"),
    (np.zeros(6_000), ValueError, "sums to zero"),
    (0.0, ValueError, "a single sample_weight must be a finite number > 0"),
    (np.array(["a"] * 6_000), ValueError, "must be numeric"),
])
def test_bad_weights_are_refused(client, bad, error, match):
    X, y, _ = _data()
    with pytest.raises(error, match=match):
        DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=bad)


def test_negative_dask_weights_are_named_from_the_worker(client):
    X, y, w = _data()
    w[5] = -1.0
    with pytest.raises(ValueError, match=r"finite and non-negative; block 0 has \[-1.0\]"):
        DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=da.from_array(w, chunks=700))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # deprecated in scikit-learn 1.8
def test_an_estimator_without_weighted_partial_fit_is_refused(client):
    estimator = getattr(sklearn.linear_model, "PassiveAggressiveClassifier", None)
    if estimator is None:
        pytest.skip("no supported estimator's partial_fit lacks sample_weight in this scikit-learn")
    X, y, w = _data()
    with pytest.raises(TypeError, match="PassiveAggressiveClassifier.partial_fit, which does not take it"):
        DataParallel(estimator()).fit(X, y, sample_weight=w)


def test_blocks_and_workers_whose_rows_all_weigh_zero_train_nothing(client):
    """scikit-learn refuses a partial_fit whose weights are all zero: such
    blocks are skipped, and a worker holding only such blocks sits out."""
    X, y, _ = _data(n=6_000, chunks=1_000)
    w = np.ones(6_000)
    w[:3_000] = 0.0  # the first three blocks: the whole first worker's share
    model = DataParallel(GaussianNB(), validation_fraction=0).fit(X, y, sample_weight=w)
    Xn, yn = dask.compute(X, y)
    ref = GaussianNB().fit(Xn[3_000:], yn[3_000:])
    assert_allclose(model.estimator_.theta_, ref.theta_, **TOL)
    sgd = DataParallel(SGDClassifier(random_state=0), max_rounds=2).fit(X, y, sample_weight=w)
    assert sgd.score(Xn[3_000:], yn[3_000:]) > 0.5


def test_held_out_rows_of_no_weight_are_not_scored(client):
    """With every held-out row at weight zero there is nothing to score
    (scikit-learn's metrics refuse all-zero weights): the rounds run
    unscored, as without held-out rows."""
    from dasklearn._parallel import _split_weighted_block

    X, y, _ = _data(n=2_000, chunks=500)
    seed = int(np.random.RandomState(0).randint(np.iinfo(np.int32).max))  # DataParallel's split seed
    w = np.ones(2_000)
    for i in range(4):  # zero exactly the rows block i holds out
        rows = np.arange(500.0)
        held = _split_weighted_block(i, rows[:, None], rows, np.ones(500), 0.1, seed).X_val[:, 0].astype(int)
        w[500 * i + held] = 0.0
    kw = dict(validation_fraction=0.1, max_rounds=2, tol=None, random_state=0)
    model = DataParallel(SGDClassifier(random_state=0), **kw).fit(X, y, sample_weight=w)
    assert [h["score"] for h in model.history_] == [None, None]
    scored = DataParallel(SGDClassifier(random_state=0), **kw).fit(X, y, sample_weight=np.ones(2_000))
    assert all(h["score"] is not None for h in scored.history_)


def test_score_takes_sample_weight(client):
    """As scikit-learn's score: the weights (in memory or dask) go to the scorer."""
    from sklearn.metrics import accuracy_score

    X, y, w = _data()
    model = DataParallel(SGDClassifier(random_state=0), max_rounds=2, validation_fraction=0).fit(X, y)
    Xn, yn = dask.compute(X, y)
    expected = accuracy_score(yn, model.estimator_.predict(Xn), sample_weight=w)
    assert expected != pytest.approx(accuracy_score(yn, model.estimator_.predict(Xn)), abs=1e-6)
    assert model.score(X, y, sample_weight=w) == pytest.approx(expected, abs=1e-12)
    assert model.score(X, y, sample_weight=da.from_array(w, chunks=1000)) == pytest.approx(expected, abs=1e-12)
    assert model.score(Xn, yn, sample_weight=w) == pytest.approx(expected, abs=1e-12)
