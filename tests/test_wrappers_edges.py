"""Wrapper cases found by review: sparse dask input brought together on a
cluster, pandas outputs of transformers (set_output) on dask arrays and
DataFrames, multi-output probabilities, and y of another length."""

import re
import warnings

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import StandardScaler

from dasklearn.wrappers import Incremental, ParallelPostFit

RNG = np.random.RandomState(0)
COUNTS = RNG.poisson(1.0, size=(120, 5)).astype(float)
LABELS = (COUNTS[:, 0] > 1).astype(int)


def _sparse_dask():
    X = da.from_array(COUNTS, chunks=(30, 5)).map_blocks(sp.csr_matrix, meta=sp.csr_matrix((0, 0)))
    return X, da.from_array(LABELS, chunks=30)


def test_sparse_dask_input_is_fitted_and_scored_on_a_cluster(client):
    """Small sparse input is brought together on a worker in row parts,
    which are stacked as sparse matrices (they were np.concatenate'd)."""
    X, y = _sparse_dask()
    ref = MultinomialNB().fit(sp.csr_matrix(COUNTS), LABELS)
    fitted = ParallelPostFit(MultinomialNB()).fit(X, y)
    np.testing.assert_array_equal(fitted.estimator_.feature_count_, ref.feature_count_)
    expected = ref.score(sp.csr_matrix(COUNTS), LABELS)
    assert fitted.score(X, y) == pytest.approx(expected, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inc = Incremental(MultinomialNB(), shuffle_blocks=False).fit(X, y, classes=[0, 1])
    assert inc.score(X, y) == pytest.approx(expected, abs=1e-12)


def test_pandas_output_on_a_dask_array_gives_numpy_blocks():
    X = RNG.randn(40, 3)
    wrapped = ParallelPostFit(StandardScaler().set_output(transform="pandas")).fit(X)
    out = wrapped.transform(da.from_array(X, chunks=10))
    assert type(out.blocks[0].compute()) is np.ndarray
    expected = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(out.mean(axis=0).compute(), expected.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(out[:, 0].compute(), expected[:, 0], atol=1e-12)


def test_pandas_output_on_a_dask_dataframe_keeps_its_dtypes():
    df = pd.DataFrame({"num": RNG.randn(40), "count": RNG.randint(0, 5, 40)})
    ct = ColumnTransformer([("s", StandardScaler(), ["num"])], remainder="passthrough",
                           verbose_feature_names_out=False).set_output(transform="pandas")
    wrapped = ParallelPostFit(ct).fit(df)
    expected = wrapped.estimator_.transform(df)
    out = wrapped.transform(dd.from_pandas(df, npartitions=2))
    assert out.dtypes.to_dict() == expected.dtypes.to_dict() == {"num": np.float64, "count": np.int64}
    computed = out.compute()
    assert computed.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(computed, expected)


def test_multi_output_probabilities_are_refused_up_front():
    y2 = np.column_stack([LABELS, 1 - LABELS])
    wrapped = ParallelPostFit(RandomForestClassifier(n_estimators=3, random_state=0)).fit(COUNTS, y2)
    with pytest.raises(TypeError, match="list of 2 items"):
        wrapped.predict_proba(da.from_array(COUNTS, chunks=30))


def test_y_of_another_length_is_named_as_such():
    X = da.from_array(COUNTS, chunks=30)
    y = da.from_array(LABELS[:100], chunks=25)  # 4 blocks each, 100 rows against 120
    with pytest.raises(ValueError, match="X has 120 rows but y has 100"):
        Incremental(SGDClassifier()).fit(X, y, classes=[0, 1])


def test_parallel_post_fit_refuses_y_of_another_length_before_computing(client):
    from conftest import scheduler_keys

    X = da.from_array(COUNTS, chunks=30).map_blocks(lambda b: b + 0, dtype=COUNTS.dtype)
    y = da.from_array(LABELS[:100], chunks=25)
    before = scheduler_keys(client)
    with pytest.raises(ValueError, match="ParallelPostFit: X has 120 rows but y has 100"):
        ParallelPostFit(MultinomialNB()).fit(X, y)
    with pytest.raises(ValueError, match="X has 120 rows but y has 100"):
        ParallelPostFit(MultinomialNB()).fit(COUNTS, y)  # in memory beside dask
    with pytest.raises(ValueError, match="ParallelPostFit: X has 120 rows but y has 100"):
        ParallelPostFit(MultinomialNB()).partial_fit(X, y, classes=[0, 1])
    assert scheduler_keys(client) == before  # nothing was sent


def test_learned_attributes_are_shown_on_the_wrapper_as_in_dask_ml():
    X = da.from_array(COUNTS, chunks=30)
    y = da.from_array(LABELS, chunks=30)
    inc = Incremental(SGDClassifier(random_state=0), shuffle_blocks=False).fit(X, y, classes=[0, 1])
    assert inc.coef_ is inc.estimator_.coef_ and inc.t_ == inc.estimator_.t_
    first = inc.coef_.copy()
    inc.partial_fit(X, y)  # the shown attributes follow the model
    assert inc.coef_ is inc.estimator_.coef_ and not np.array_equal(inc.coef_, first)
    ppf = ParallelPostFit(MultinomialNB()).fit(COUNTS, LABELS)
    np.testing.assert_array_equal(ppf.feature_count_, ppf.estimator_.feature_count_)
    ppf.set_params(estimator=StandardScaler()).fit(COUNTS)  # a refit drops what it no longer has
    assert not hasattr(ppf, "feature_count_") and hasattr(ppf, "mean_")


def test_a_global_pandas_output_config_reaches_the_blocks():
    """set_config(transform_output="pandas") is per thread in scikit-learn:
    the blocks run under the caller's config, so they agree with the meta."""
    import sklearn

    df = pd.DataFrame({"a": RNG.randn(40), "b": RNG.randint(0, 5, 40)})
    ct = ColumnTransformer([("s", StandardScaler(), ["a"])], remainder="passthrough")
    with sklearn.config_context(transform_output="pandas"):
        wrapped = ParallelPostFit(ct).fit(df)
        out = wrapped.transform(dd.from_pandas(df, npartitions=2))
        computed = out.compute(scheduler="threads")
    assert out.dtypes.to_dict() == computed.dtypes.to_dict() == {"s__a": np.float64, "remainder__b": np.int64}


def test_the_wrappers_own_fitted_attributes_are_not_taken_from_the_estimator():
    X = da.from_array(COUNTS, chunks=40)  # 3 blocks
    y = da.from_array(LABELS, chunks=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outer = Incremental(Incremental(SGDClassifier(random_state=0)), shuffle_blocks=False)
        outer.fit(X, y, classes=[0, 1])
        assert outer.n_blocks_ == 3
        outer.set_params(estimator=SGDClassifier(random_state=0)).fit(X, y, classes=[0, 1])
    assert outer.n_blocks_ == 3 and outer.n_recoveries_ == 0


def test_failed_fits_and_scores_on_dask_input_leave_nothing_on_the_cluster(client):
    """The erred future was kept by the exception's traceback (a cycle rooted
    in the Client): its task and inputs stayed on the scheduler for good."""
    import gc
    import time

    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from conftest import scheduler_keys

    before = scheduler_keys(client)
    X, y = make_classification(n_samples=400, n_features=5, random_state=0)
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    fitted = ParallelPostFit(LogisticRegression()).fit(X, y)
    failing = [lambda: ParallelPostFit(LogisticRegression()).fit(Xd, yd[:300]),  # y too short
               lambda: fitted.score(Xd[:, :4], yd),  # a feature missing
               lambda: Incremental(SGDClassifier()).fit(Xd, yd, classes=yd.map_blocks(lambda b: 1 // 0, dtype=int))]
    for call in failing:
        with pytest.raises(Exception):
            call()
    deadline = time.time() + 15
    while True:
        gc.collect()
        left = scheduler_keys(client) - before
        if not left or time.time() > deadline:
            break
        time.sleep(0.2)
    assert not left, sorted(left)[:5]
    assert ParallelPostFit(LogisticRegression()).fit(Xd, yd).score(Xd, yd) > 0.5  # the cluster still works


@pytest.mark.parametrize("wrapper", [ParallelPostFit, Incremental])
def test_pipeline_set_output_and_feature_names_reach_the_wrapped_transformer(wrapper):
    """Pipeline.set_output raised ("set_output is not available") and
    Pipeline.get_feature_names_out an AttributeError on a wrapped transformer."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    X = pd.DataFrame(COUNTS, columns=list("abcde"))
    pipe = make_pipeline(wrapper(StandardScaler()), PCA(2)).set_output(transform="pandas")
    out = pipe.fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["pca0", "pca1"]
    assert list(pipe.get_feature_names_out()) == ["pca0", "pca1"]
    scaler = pipe.steps[0][1]
    assert list(scaler.get_feature_names_out()) == list("abcde")
    # on a dask DataFrame, the wrapper's blockwise transform gives a dask DataFrame with those columns
    lazy = scaler.transform(dd.from_pandas(X, npartitions=3))
    assert isinstance(lazy, dd.DataFrame)
    pd.testing.assert_frame_equal(lazy.compute(), scaler.estimator_.transform(X))
    # set after fitting: the fitted estimator too; and set back to numpy
    scaler.set_output(transform="default")
    assert isinstance(scaler.transform(X), np.ndarray)
    assert not hasattr(wrapper(SGDClassifier()), "set_output")  # (no transform to configure)


def test_incremental_infers_each_outputs_classes_for_a_multi_output_y():
    """A 2-D in-memory y of several multiclass outputs: classes= is inferred
    per output, as MultiOutputClassifier.partial_fit takes it (before:
    'Unknown label type', printing the whole of y)."""
    from sklearn.multioutput import MultiOutputClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Y = np.stack([(X[:, 0] > 0).astype(int), np.digitize(X[:, 1], [-0.5, 0.5])], axis=1)
    model = Incremental(MultiOutputClassifier(SGDClassifier(random_state=0))).fit(X, Y)
    loop = MultiOutputClassifier(SGDClassifier(random_state=0)).partial_fit(
        X, Y, classes=[np.unique(Y[:, 0]), np.unique(Y[:, 1])])
    for fitted, expected in zip(model.estimator_.estimators_, loop.estimators_):
        np.testing.assert_array_equal(fitted.coef_, expected.coef_)


def test_a_dataframe_and_an_array_split_otherwise_get_a_fix_for_that_pair():
    """The fix names what each collection has: no `X.divisions` for a dask
    array, no `X.chunks` for a DataFrame, no `repartition` for an array."""
    X = np.random.default_rng(0).random((400, 3))
    y = (X[:, 0] > 0.5).astype(int)
    Xa, Xf = da.from_array(X, chunks=100), dd.from_pandas(pd.DataFrame(X), npartitions=4)
    ys, ya = dd.from_pandas(pd.Series(y), npartitions=3), da.from_array(y, chunks=200)
    for Xd, yd, fix in ((Xa, ys, "y.to_dask_array(lengths=True).rechunk"),
                        (Xf, ya, "dask.dataframe.from_dask_array(y.rechunk")):
        with pytest.raises(ValueError, match=re.escape(fix)) as info:
            Incremental(SGDClassifier()).fit(Xd, yd, classes=[0, 1])
        assert "X.divisions" not in str(info.value) and "y.repartition" not in str(info.value)


def test_other_dask_collections_are_refused_naming_what_is_read():
    """A Delayed or a Bag where blocks of rows are read: a TypeError saying
    what is taken (before: errors about attributes they lack)."""
    import dask
    import dask.bag as db

    X = np.random.default_rng(0).random((60, 3))
    y = (X[:, 0] > 0.5).astype(int)
    with pytest.raises(TypeError, match="Incremental: X must be a dask array or a dask DataFrame.*DelayedLeaf"):
        Incremental(SGDClassifier()).fit(dask.delayed(X), dask.delayed(y), classes=[0, 1])
    with pytest.raises(TypeError, match="Incremental: X must be .*got a Bag"):
        Incremental(SGDClassifier()).fit(db.from_sequence(list(X)), db.from_sequence(list(y)))
    fitted = ParallelPostFit(SGDClassifier(random_state=0)).fit(dask.delayed(X), dask.delayed(y))  # (computed first)
    with pytest.raises(TypeError, match="ParallelPostFit.predict: X must be .*got a Bag"):
        fitted.predict(db.from_sequence(list(X)))


@pytest.mark.parametrize("wrapper", ["Incremental", "DataParallel"])
def test_a_delayed_or_bag_sample_weight_is_refused_naming_it(client, wrapper):
    """sample_weight is cut into X's blocks as y is: a Delayed (array or
    scalar) or a Bag gets the same TypeError as X and y would, before any
    work (before: 'Truth of Delayed objects is not supported', or an
    AttributeError a Bag raised); the cluster is then still usable."""
    import dask
    import dask.bag as db

    from dasklearn.wrappers import DataParallel

    cls = {"Incremental": Incremental, "DataParallel": DataParallel}[wrapper]
    X = da.random.default_rng(0).random((100, 3), chunks=25)
    y = (X[:, 0] > 0.5).astype(int)
    for weight, kind in ((dask.delayed(np.ones(100)), "DelayedLeaf"), (dask.delayed(2.0), "DelayedLeaf"),
                         (db.from_sequence(range(100), npartitions=4), "Bag")):
        with pytest.raises(TypeError, match=f"{wrapper}: sample_weight must be a dask array or a dask "
                                            f"DataFrame.*got a {kind}.*from_delayed"):
            cls(SGDClassifier(random_state=0)).fit(X, y, classes=[0, 1], sample_weight=weight)
    fitted = cls(SGDClassifier(random_state=0)).fit(X, y, classes=[0, 1], sample_weight=da.ones(100, chunks=25))
    assert fitted.score(X, y) > 0.5
