"""dask-ml's wrapper parameters: predict_meta / predict_proba_meta /
transform_meta (the output's type declared, so nothing runs before the
blocks) and Incremental's assume_equal_chunks."""

import re

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler

from dasklearn.datasets import make_classification
from dasklearn.wrappers import Incremental, ParallelPostFit

X, Y = make_classification(n_samples=600, n_features=6, chunks=150, random_state=0)
XN, YN = X.compute(), Y.compute()


class _NoSingleRows(ClassifierMixin, BaseEstimator):
    """Predicts the sign of the first column, but refuses inputs of one row:
    the one-row sample that learns an output's type fails on it."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        if len(X) < 2:
            raise ValueError("needs at least two rows")
        return (np.asarray(X)[:, 0] > 0).astype(np.int64)


def test_a_declared_predict_meta_skips_the_one_row_sample():
    fitted = ParallelPostFit(_NoSingleRows()).fit(XN, YN)
    with pytest.raises(ValueError, match="at least two rows"):
        fitted.predict(X)  # learning the output's type from one row fails
    declared = ParallelPostFit(_NoSingleRows(), predict_meta=np.empty(0, dtype=np.int64)).fit(XN, YN)
    pred = declared.predict(X)
    assert pred.dtype == np.int64 and pred.shape == (600,)
    np.testing.assert_array_equal(pred.compute(), (XN[:, 0] > 0).astype(np.int64))


def test_blocks_are_cast_to_the_declared_dtype(client):
    ref = LogisticRegression().fit(XN, YN)
    wrapped = ParallelPostFit(LogisticRegression(), predict_meta=np.empty(0, dtype=np.int8),
                              predict_proba_meta=np.empty((0, 2), dtype=np.float32)).fit(XN, YN)
    pred, proba = wrapped.predict(X), wrapped.predict_proba(X)
    assert pred.dtype == np.int8 and proba.dtype == np.float32 and proba.shape == (600, 2)
    p, q = pred.compute(), proba.compute()
    assert p.dtype == np.int8 and q.dtype == np.float32  # the blocks are what the metadata says
    np.testing.assert_array_equal(p, ref.predict(XN))
    np.testing.assert_allclose(q, ref.predict_proba(XN), rtol=1e-6)


def test_the_cast_to_a_declared_dtype_is_exact_for_integers_and_bools():
    """0/1 labels declared bool (and 2.0 declared int) are cast: no value
    changes (they were refused as not of the same kind); a value that would
    change (2 as bool, 2.5 as int, 1e6 as float16) is refused; floats may
    round to a narrower float dtype (the meta declares that precision)."""
    from dasklearn._blockwise import _cast_values

    bools = ParallelPostFit(LogisticRegression(), predict_meta=np.empty(0, dtype=bool)).fit(XN, YN).predict(X)
    np.testing.assert_array_equal(bools.compute(), LogisticRegression().fit(XN, YN).predict(XN).astype(bool))
    assert bools.compute().dtype == bool
    np.testing.assert_array_equal(_cast_values(np.array([2.0, -3.0]), np.int64, "predict_meta"), [2, -3])
    assert _cast_values(np.array([0.1]), np.float16, "predict_meta").dtype == np.float16
    for values, dtype, shown in [([0, 2], bool, "[2]"), ([1.0, 2.5], np.int64, "[2.5]"),
                                 ([1.0, 1e6], np.float16, "[1000000.0]"), ([300, 1], np.int8, "[300]")]:
        with pytest.raises(ValueError, match=rf"cannot hold \(e\.g\. {re.escape(shown)}\)"):
            _cast_values(np.array(values), dtype, "predict_meta")


def test_a_probability_meta_without_columns_takes_one_per_class():
    wrapped = ParallelPostFit(LogisticRegression(), predict_proba_meta=np.empty((0, 0))).fit(XN, YN)
    assert wrapped.predict_proba(X).shape == (600, 2)


def test_a_pandas_transform_meta_on_a_dask_dataframe():
    df = pd.DataFrame(XN, columns=[f"f{i}" for i in range(6)])
    ddf = dd.from_pandas(df, npartitions=3)
    meta = pd.DataFrame({f"z{i}": np.empty(0, dtype=np.float32) for i in range(6)})
    wrapped = ParallelPostFit(StandardScaler(), transform_meta=meta).fit(df)
    out = wrapped.transform(ddf)
    assert list(out.columns) == list(meta.columns)
    assert (out.dtypes == np.float32).all()
    got = out.compute()
    assert (got.dtypes == np.float32).all()
    np.testing.assert_allclose(got.to_numpy(), StandardScaler().fit_transform(df), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["predict_meta", "predict_proba_meta", "transform_meta"])
@pytest.mark.parametrize("bad", [[1, 2], np.float64(1.0), np.empty((0, 1, 1))])
def test_a_meta_of_another_kind_is_refused_at_fit(name, bad):
    with pytest.raises(TypeError, match=rf"{name} must be an empty numpy array.*Got"):
        ParallelPostFit(LogisticRegression(), **{name: bad}).fit(XN, YN)
    with pytest.raises(TypeError, match=rf"{name} must be"):
        Incremental(SGDClassifier(), **{name: bad}).fit(X, Y, classes=[0, 1])


def test_metas_are_parameters():
    meta = np.empty(0, dtype=np.int8)
    inc = Incremental(SGDClassifier(), predict_meta=meta, assume_equal_chunks=False)
    params = inc.get_params()
    assert params["predict_meta"] is meta and params["assume_equal_chunks"] is False
    assert clone(inc).predict_meta.dtype == np.int8


def test_incremental_rechunks_y_unless_chunks_are_assumed_equal(client):
    y_other = Y.rechunk(100)
    with pytest.raises(ValueError, match="assume_equal_chunks=False"):
        Incremental(SGDClassifier(random_state=0), random_state=0).fit(X, y_other, classes=[0, 1])
    weights = da.from_array(np.linspace(0.5, 1.5, 600), chunks=200)
    ours = Incremental(SGDClassifier(random_state=0), random_state=0, assume_equal_chunks=False)
    ours.fit(X, y_other, classes=[0, 1], sample_weight=weights)
    ref = Incremental(SGDClassifier(random_state=0), random_state=0)
    ref.fit(X, Y, classes=[0, 1], sample_weight=weights.rechunk({0: X.chunks[0]}))
    np.testing.assert_array_equal(ours.coef_, ref.coef_)
    assert ours.n_blocks_ == 4


def test_assume_equal_chunks_is_validated():
    with pytest.raises(ValueError, match="assume_equal_chunks must be True or False"):
        Incremental(SGDClassifier(), assume_equal_chunks="no").fit(X, Y, classes=[0, 1])


def test_probabilities_take_one_column_per_class_whatever_the_meta_shape():
    """As dask-ml: only a probability meta's dtype counts (dask-sql passes np.array([]))."""
    for meta in (np.array([]), np.empty((0, 5), dtype=np.float32)):
        wrapped = ParallelPostFit(LogisticRegression(), predict_proba_meta=meta).fit(XN, YN)
        proba = wrapped.predict_proba(X)
        assert proba.shape == (600, 2) and proba.dtype == meta.dtype
        assert proba.compute().shape == (600, 2)


def test_a_transform_meta_without_width_takes_the_output_s():
    from sklearn.decomposition import PCA

    wrapped = ParallelPostFit(PCA(n_components=3), transform_meta=np.empty((0, 0), dtype=np.float32)).fit(XN)
    out = wrapped.transform(X)
    assert out.shape == (600, 3) and out.compute().dtype == np.float32


@pytest.mark.parametrize("meta, match", [
    (np.empty(0, dtype=np.int8), r"predict_meta declares dtype int8, but the output has dtype float64"),
])
def test_a_cast_that_would_change_values_raises(meta, match):
    from sklearn.linear_model import LinearRegression

    wrapped = ParallelPostFit(LinearRegression(), predict_meta=meta).fit(XN, YN * 1000.5)
    with pytest.raises(ValueError, match=match):
        wrapped.predict(X).compute()


def test_integers_that_do_not_fit_the_declared_dtype_raise():
    labels = np.where(YN == 1, 1000, 7)  # 1000 does not fit in int8
    wrapped = ParallelPostFit(LogisticRegression(), predict_meta=np.empty(0, dtype=np.int8)).fit(XN, labels)
    with pytest.raises(ValueError, match=r"int8 cannot hold \(e.g. \[1000"):
        wrapped.predict(X).compute()


def test_text_labels_with_a_numeric_meta_raise():
    labels = np.array(["10", "2"])[YN]
    wrapped = ParallelPostFit(LogisticRegression(), predict_meta=np.empty(0, dtype=float)).fit(XN, labels)
    with pytest.raises(ValueError, match=r"predict_meta declares dtype float64, but the output has dtype <U2"):
        wrapped.predict(X).compute()


def test_a_series_meta_keeps_its_dtype_and_name():
    df = pd.DataFrame(XN, columns=[f"f{i}" for i in range(6)])
    labels = np.array(["no", "yes"])[YN]
    meta = pd.Series([], dtype="string", name="label")
    wrapped = ParallelPostFit(LogisticRegression(), predict_meta=meta).fit(df, labels)
    pred = wrapped.predict(dd.from_pandas(df, npartitions=3))
    assert pred.dtype == "string" and pred.name == "label"
    got = pred.compute()
    assert got.dtype == "string" and got.name == "label"
    assert list(got) == list(wrapped.estimator_.predict(df))


def test_a_transform_meta_names_a_pandas_output_s_columns():
    df = pd.DataFrame(XN, columns=[f"f{i}" for i in range(6)])
    meta = pd.DataFrame({f"z{i}": np.empty(0) for i in range(6)})
    wrapped = ParallelPostFit(StandardScaler().set_output(transform="pandas"), transform_meta=meta).fit(df)
    got = wrapped.transform(dd.from_pandas(df, npartitions=3)).compute()
    assert list(got.columns) == list(meta.columns)


def test_unknown_chunks_are_named_in_the_fix():
    X_unknown = X.map_blocks(lambda b: b, chunks=((np.nan,) * 4, (6,)))
    y_unknown = Y.rechunk(100).map_blocks(lambda b: b, chunks=((np.nan,) * 6,))
    inc = Incremental(SGDClassifier(), assume_equal_chunks=False)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)") as err:
        inc.fit(X_unknown, y_unknown, classes=[0, 1])
    assert "assume_equal_chunks" not in str(err.value)


def test_outputs_on_a_dataframe_keep_its_index_kind_and_the_blocks_dtype(tmp_path):
    """The lazy output's meta is true of its blocks: X's index (dates here,
    so resample and date lookups work) and, for text labels, the dtype pandas
    gives the blocks' Series (so the predictions can be written to Parquet)."""
    from dasklearn.linear_model import LogisticRegression as OurLogisticRegression

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(96, 2)), columns=["a", "b"],
                      index=pd.date_range("2020-01-01", periods=96, freq="h", name="when"))
    df["label"] = np.where(df["a"] > 0, "pos", "neg")
    frame = dd.from_pandas(df, npartitions=4)
    X = frame[["a", "b"]]
    fitted = [ParallelPostFit(LogisticRegression()).fit(df[["a", "b"]], df["label"]),
              OurLogisticRegression().fit(X, frame["label"])]
    for model in fitted:
        pred = model.predict(X)
        assert isinstance(pred._meta.index, pd.DatetimeIndex) and pred._meta.index.name == "when"
        computed = pred.compute()
        assert pred.dtype == computed.dtype
        daily = (pred == "pos").resample("D").mean().compute()
        np.testing.assert_allclose(daily.to_numpy(), (computed == "pos").resample("D").mean().to_numpy())
        path = tmp_path / type(model).__name__
        X.assign(pred=pred).to_parquet(path)
        assert dd.read_parquet(path)["pred"].compute().tolist() == computed.tolist()
    proba = fitted[0].predict_proba(X)
    assert isinstance(proba._meta.index, pd.DatetimeIndex)
    assert proba.loc["2020-01-02"].compute().shape == (24, 2)


def test_a_pandas_probability_meta_of_another_width_takes_one_column_per_class():
    fitted = ParallelPostFit(LogisticRegression(), predict_proba_meta=pd.DataFrame({"p": np.empty(0)}))
    fitted.fit(XN, YN)
    proba = fitted.predict_proba(X)
    assert proba.shape[1] == 2
    np.testing.assert_allclose(proba[:, 1].compute(), fitted.estimator_.predict_proba(XN)[:, 1])
    frame = dd.from_pandas(pd.DataFrame(XN), npartitions=3)  # no column names: fitted on numpy
    on_frame = fitted.predict_proba(frame)
    assert list(on_frame.columns) == [0, 1]
    np.testing.assert_allclose(on_frame.compute().to_numpy(), fitted.estimator_.predict_proba(XN))


def test_a_meta_of_the_wrong_shape_is_refused_naming_the_meta():
    """A declared meta whose shape the output does not have: a ValueError
    naming the meta and the shape to declare (before: a broadcast error, an
    IndexError, or a dask array claiming a wrong shape)."""
    from sklearn.decomposition import PCA

    frame = dd.from_dask_array(X, columns=[f"c{i}" for i in range(6)])
    pca = ParallelPostFit(PCA(2), transform_meta=np.empty((0, 5))).fit(XN)
    with pytest.raises(ValueError, match=re.escape("transform_meta declares an output of shape (n_rows, 5), but "
                                                   "PCA.transform gives shape (n_rows, 2)")):
        pca.transform(X).compute()
    frame_meta = ParallelPostFit(LogisticRegression(), predict_meta=pd.DataFrame({"p": []})).fit(frame.compute(), YN)
    with pytest.raises(ValueError, match=re.escape("predict_meta=np.empty(0, dtype=...)")):
        frame_meta.predict(frame).compute()


def test_metas_that_declare_only_a_dtype():
    """dask's ``meta=np.array([])`` idiom for a 2-D transform, and a 2-D empty
    meta for predict, name the type and dtype; the shape is learned (dask-ml
    accepts both). predict_log_proba follows predict_proba_meta's dtype."""
    from sklearn.decomposition import PCA

    pca = ParallelPostFit(PCA(2), transform_meta=np.array([])).fit(XN)
    out = pca.transform(X)
    assert out.shape == (600, 2)
    np.testing.assert_allclose(out.compute(), PCA(2).fit(XN).transform(XN), rtol=1e-12, atol=1e-12)
    lr = ParallelPostFit(LogisticRegression(), predict_meta=np.array([[]], dtype=np.int64)).fit(XN, YN)
    np.testing.assert_array_equal(lr.predict(X).compute(), LogisticRegression().fit(XN, YN).predict(XN))
    lp = ParallelPostFit(LogisticRegression(), predict_proba_meta=np.empty((0, 2), np.float32)).fit(XN, YN)
    assert lp.predict_log_proba(X).dtype == np.float32 and lp.predict_log_proba(X).compute().dtype == np.float32
