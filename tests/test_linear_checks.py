"""scikit-learn's shared estimator checks on the linear models, and weighted
least squares against scikit-learn's (the check
``check_sample_weight_equivalence_on_dense_data`` found it off on
rank-deficient problems)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.utils.estimator_checks import parametrize_with_checks

from dasklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegression

@parametrize_with_checks([LinearRegression(), LogisticRegression(), PoissonRegression()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def _weighted_problem(n_samples, n_features, seed):
    """Integer targets and weights (some zero) on uniform features, as in
    scikit-learn's sample-weight check; more features than rows makes the
    least-squares problem rank-deficient (a least-norm solution)."""
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, n_features))
    y = rng.integers(0, 3, size=n_samples).astype(np.float64) + X @ rng.normal(size=n_features)
    w = rng.integers(0, 5, size=n_samples).astype(np.float64)
    return X, y, w


@pytest.mark.parametrize("shape", [(200, 5), (15, 30), (40, 40)])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_linear_regression_equals_scikit_learn(shape, fit_intercept, seed):
    X, y, w = _weighted_problem(*shape, seed)
    ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-10)
    # integer weights are repeated rows
    rep = LinearRegression(fit_intercept=fit_intercept).fit(X.repeat(w.astype(int), axis=0),
                                                            y.repeat(w.astype(int)))
    np.testing.assert_allclose(rep.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(rep.intercept_, ref.intercept_, rtol=0, atol=1e-10)


def test_weighted_linear_regression_on_dask_blocks_equals_scikit_learn():
    X, y, w = _weighted_problem(15, 30, 0)
    ref = sk.LinearRegression().fit(X, y, sample_weight=w)
    ours = LinearRegression().fit(da.from_array(X, chunks=(5, 30)), da.from_array(y, chunks=5),
                                  sample_weight=da.from_array(w, chunks=5))
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-10)


def test_messages_say_what_was_expected_and_received():
    X, y, _ = _weighted_problem(20, 3, 0)
    reg = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"2-dimensional.*got shape \(3,\).*Reshape your data"):
        reg.predict(X[0])
    with pytest.raises(ValueError, match=r"sum=0\.0 \(every weight is zero\).*non-zero weight"):
        LinearRegression().fit(X, y, sample_weight=np.zeros(20))
    labels = (y > y.mean()).astype(int)
    with pytest.raises(ValueError, match=r"Unknown label type 'unknown'.*y\.astype\(int\)"):
        LogisticRegression().fit(X, labels.astype(object))
    with pytest.raises(ValueError, match=r"at least 2 classes, got 1 class"):
        LogisticRegression().fit(X, np.ones(20, dtype=int))


@pytest.mark.parametrize("make", [LogisticRegression, LinearRegression])
def test_sparse_blocks_are_refused_by_name_before_any_work(make):
    """A dask array of scipy.sparse blocks was refused as "X contains NaN or
    infinity" (its blocks read as non-numeric) after a pass over the data."""
    import dask.array as da
    import scipy.sparse as sp

    rng = np.random.RandomState(0)
    X = sp.random(200, 5, density=0.3, format="csr", random_state=rng)
    y = (rng.rand(200) > 0.5).astype(float)
    Xd = da.from_array(X, chunks=(50, 5), asarray=False)
    with pytest.raises(TypeError, match="dask array of scipy.sparse csr blocks.*map_blocks"):
        make().fit(Xd, da.from_array(y, chunks=50))
    with pytest.raises(TypeError, match="does not support sparse input"):
        make().fit(X, y)


def test_missing_weights_are_named_as_missing():
    """NaN or pd.NA among dask weights is found where they live and reported
    as missing values, not as a meaningless min / sum."""
    import dask.dataframe as dd
    import pandas as pd

    X, y, w = _weighted_problem(40, 3, 0)
    Xd, yd = da.from_array(X, chunks=(10, 3)), da.from_array(y, chunks=10)
    holed = w.copy()
    holed[25] = np.nan
    with pytest.raises(ValueError, match=r"sample_weight contains NaN, missing \(pd\.NA\) or infinite"):
        LinearRegression().fit(Xd, yd, sample_weight=da.from_array(holed, chunks=10))
    nullable = pd.Series(w, dtype="Float64")
    nullable[25] = pd.NA
    with pytest.raises(ValueError, match=r"contains NaN, missing \(pd\.NA\).*drop or fill those rows"):
        LinearRegression().fit(Xd, yd, sample_weight=dd.from_pandas(nullable, npartitions=4))


@pytest.mark.parametrize("dask_input", [False, True])
def test_labels_of_mixed_types_are_refused_as_scikit_learn_does(dask_input):
    """A TypeError from sorting ints with strings; scikit-learn raises a ValueError."""
    import dask.array as da

    from dasklearn.linear_model import LogisticRegression

    X = np.random.RandomState(0).randn(90, 3)
    y = np.array([1, "a"] * 45, dtype=object)
    if dask_input:
        X, y = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, y)


def test_a_single_weight_that_is_not_a_number_is_named_so():
    """sample_weight='abc' is not a number (it was called NaN or infinite)."""
    X, y, _ = _weighted_problem(40, 3, 0)
    with pytest.raises(ValueError, match="sample_weight must be a number or one number per row, got 'abc'"):
        LinearRegression().fit(X, y, sample_weight="abc")
    with pytest.raises(ValueError, match="contains NaN"):
        LinearRegression().fit(X, y, sample_weight=float("nan"))
