"""LogisticRegression(class_weight=...): scikit-learn's class weights, from
the class totals the fit's first pass gathers, equal to scikit-learn's fit."""

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression as SkLogisticRegression

from dasklearn.linear_model import LogisticRegression


def _data(n_classes, weights):
    X, y = make_classification(n_samples=600, n_features=5, n_informative=3, n_classes=n_classes,
                               weights=weights, random_state=0)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    return X, y, sw


@pytest.mark.parametrize("n_classes,weights", [(2, [0.85, 0.15]), (3, [0.6, 0.3, 0.1])])
@pytest.mark.parametrize("class_weight", ["balanced", {0: 2.0, 1: 0.5}])
@pytest.mark.parametrize("weighted", [False, True])
def test_equals_scikit_learn(client, n_classes, weights, class_weight, weighted):
    X, y, sw = _data(n_classes, weights)
    if class_weight == "balanced" and weighted:
        # 'balanced' from the weighted class totals (what scikit-learn >= 1.6 computes; older
        # releases counted rows), given to scikit-learn as the dict it stands for
        totals = np.bincount(y, weights=sw)
        class_weight_ref = dict(enumerate(sw.sum() / (n_classes * totals)))
    else:
        class_weight_ref = class_weight
    ref = SkLogisticRegression(class_weight=class_weight_ref, tol=1e-10, max_iter=1000)
    ref.fit(X, y, sample_weight=sw if weighted else None)
    ours = LogisticRegression(class_weight=class_weight, tol=1e-8, max_iter=1000)
    ours.fit(da.from_array(X, chunks=150), da.from_array(y, chunks=150),
             sample_weight=da.from_array(sw, chunks=150) if weighted else None)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)
    unweighted = LogisticRegression(tol=1e-8, max_iter=1000).fit(X, y)
    assert np.abs(ours.coef_ - unweighted.coef_).max() > 1e-2  # the weights changed the fit


def test_balanced_is_the_dict_it_stands_for():
    """'balanced' = n_samples / (n_classes * count), from counts gathered blockwise."""
    X, y, _ = _data(3, [0.6, 0.3, 0.1])
    counts = np.bincount(y)
    manual = {c: len(y) / (3 * counts[c]) for c in range(3)}
    a = LogisticRegression(class_weight="balanced", tol=1e-8).fit(da.from_array(X, chunks=100),
                                                                  da.from_array(y, chunks=100))
    b = LogisticRegression(class_weight=manual, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-9)


def test_string_labels_in_a_dask_dataframe():
    X, y, _ = _data(2, [0.8, 0.2])
    labels = np.array(["no", "yes"])[y]
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    ref = SkLogisticRegression(class_weight={"yes": 3.0}, tol=1e-10).fit(df, labels)
    ours = LogisticRegression(class_weight={"yes": 3.0}, tol=1e-8).fit(
        dd.from_pandas(df, npartitions=4), dd.from_pandas(pd.Series(labels), npartitions=4))
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


@pytest.mark.parametrize("bad", ["auto", 2.0, [1, 2], __import__("types").MappingProxyType({0: 1.0})])
def test_a_class_weight_of_another_kind_is_refused(bad):
    X, y, _ = _data(2, None)
    with pytest.raises(ValueError, match=r"class_weight must be None, 'balanced' or a dict"):
        LogisticRegression(class_weight=bad).fit(X, y)


def test_a_dict_with_classes_y_lacks():
    """As scikit-learn: a dict may name classes y lacks (a fold missing a
    class), unless it also leaves out one of y's (mistyped keys)."""
    X, y, _ = _data(3, [0.5, 0.3, 0.2])
    two = y != 2
    weights = {0: 1.0, 1: 2.0, 2: 5.0}
    ours = LogisticRegression(class_weight=weights, tol=1e-8).fit(da.from_array(X[two], chunks=100),
                                                                  da.from_array(y[two], chunks=100))
    ref = SkLogisticRegression(class_weight=weights, tol=1e-10).fit(X[two], y[two])
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    with pytest.raises(ValueError, match=r"names \[7\], which are not classes of y, and leaves out \[1\]"):
        LogisticRegression(class_weight={0: 1.0, 7: 2.0}).fit(X[two], y[two])


def test_a_single_sample_weight_scales_the_data_against_the_penalty():
    """sample_weight=5.0 weighs every row 5 times: scikit-learn's fit with C * 5."""
    X, y, _ = _data(2, [0.7, 0.3])
    for cw in (None, "balanced"):
        ref = SkLogisticRegression(class_weight=cw, tol=1e-10).fit(X, y, sample_weight=5.0)
        ours = LogisticRegression(class_weight=cw, tol=1e-8).fit(da.from_array(X, chunks=150),
                                                                 da.from_array(y, chunks=150), sample_weight=5.0)
        np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)


def test_admm_refuses_class_weight():
    X, y, _ = _data(2, None)
    with pytest.raises(ValueError, match="solver='admm' does not support class_weight"):
        LogisticRegression(class_weight="balanced", solver="admm").fit(X, y)
