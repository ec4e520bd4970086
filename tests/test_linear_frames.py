"""The linear models on dask DataFrames: columns that are numbers without
being float (bool, nullable Int64 / boolean) are fitted and predicted as
their float64 values, and the response methods stay lazy and return dask
Series / DataFrames with the frame's index."""

from __future__ import annotations

import threading

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from dasklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegression

N, PARTS = 240, 3
TIGHT = 1e-12


def _frame(seed=0):
    """Float columns a, b, then a bool, a nullable Int64 and a nullable
    boolean column (no missing values), on an index that is not 0..n-1."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=N), rng.normal(size=N)
    return pd.DataFrame({
        "a": a,
        "b": b,
        "flag": a + rng.normal(size=N) > 0,
        "k": pd.array(np.arange(N) % 5, dtype="Int64"),
        "on": pd.array(b > 0.3, dtype="boolean"),
    }, index=np.arange(1000, 1000 + N))


def _targets(frame):
    a, b = frame["a"].to_numpy(), frame["b"].to_numpy()
    k = frame["k"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(1)
    lin = a - 0.5 * b + 0.2 * k + rng.normal(size=N)
    return {
        "binary": pd.Series(np.where(lin > 0.4, "yes", "no"), index=frame.index),
        "multiclass": pd.Series(np.digitize(lin, [-0.5, 0.8]), index=frame.index),
        "linear": pd.Series(lin, index=frame.index),
        "poisson": pd.Series(rng.poisson(np.exp(0.3 * lin)).astype(np.float64), index=frame.index),
    }


MODELS = {
    "binary": LogisticRegression,
    "multiclass": LogisticRegression,
    "linear": LinearRegression,
    "poisson": PoissonRegression,
}


def _dask(obj):
    return dd.from_pandas(obj, npartitions=PARTS)


def _params(model):
    return np.append(np.ravel(model.coef_), model.intercept_)


def _responses(model):
    return [m for m in ("predict", "predict_proba", "decision_function") if hasattr(model, m)]


def _values(out):
    return out.compute().to_numpy() if hasattr(out, "compute") else np.asarray(out)


def _close(a, b):
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, rtol=TIGHT, atol=TIGHT)
    else:
        np.testing.assert_array_equal(a, b)


# ------------------------------------------- 1. numbers that are not float
@pytest.mark.parametrize("kind", list(MODELS))
def test_mixed_dtype_frame_fits_and_predicts_as_its_float64_twin(kind):
    frame = _frame()
    y = _targets(frame)[kind]
    floats = frame.astype(np.float64)
    model = MODELS[kind]().fit(_dask(frame), _dask(y))
    twin = MODELS[kind]().fit(_dask(floats), _dask(y))
    np.testing.assert_allclose(_params(model), _params(twin), rtol=TIGHT, atol=TIGHT)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    for method in _responses(model):
        ours = _values(getattr(model, method)(_dask(frame)))
        _close(ours, _values(getattr(twin, method)(_dask(floats))))
        _close(ours, getattr(model, method)(floats))  # the in-memory (numpy) results
    assert model.score(_dask(frame), _dask(y)) == pytest.approx(twin.score(floats, y), rel=TIGHT, abs=TIGHT)
    weights = pd.Series(np.random.default_rng(3).uniform(0.5, 2, N), index=frame.index)
    assert model.score(_dask(frame), _dask(y), sample_weight=_dask(weights)) == pytest.approx(
        twin.score(floats, y, sample_weight=weights), rel=TIGHT, abs=TIGHT)


@pytest.mark.parametrize("column", ["flag", "k", "on"])
def test_each_numeric_like_dtype_alone_next_to_floats(column):
    frame = _frame()[["a", "b", column]]
    y = _targets(_frame())["linear"]
    model = LinearRegression().fit(_dask(frame), _dask(y))
    twin = LinearRegression().fit(frame.astype(np.float64), y)
    np.testing.assert_allclose(_params(model), _params(twin), rtol=TIGHT, atol=TIGHT)


def test_in_memory_frame_with_dask_target():
    frame = _frame()
    y = _targets(frame)["binary"]
    model = LogisticRegression().fit(frame, _dask(y))
    twin = LogisticRegression().fit(frame.astype(np.float64), y)
    np.testing.assert_allclose(_params(model), _params(twin), rtol=TIGHT, atol=TIGHT)


def _message(action):
    with pytest.raises(ValueError) as info:
        action()
    return str(info.value)


@pytest.mark.parametrize("column", ["k", "on"])
def test_missing_value_of_a_nullable_column_is_refused_as_nan(column):
    frame = _frame()
    y = _targets(frame)["binary"]
    missing = frame.copy()
    missing.loc[1007, column] = pd.NA
    nan = frame.astype(np.float64)
    nan.loc[1007, column] = np.nan
    fit_na = _message(lambda: LogisticRegression().fit(_dask(missing), _dask(y)))
    assert "NaN" in fit_na
    assert fit_na == _message(lambda: LogisticRegression().fit(_dask(nan), _dask(y)))
    model = LogisticRegression().fit(frame, y)
    predict_na = _message(lambda: model.predict(_dask(missing)).compute())
    assert "NaN" in predict_na
    assert predict_na == _message(lambda: model.predict(_dask(nan)).compute())


@pytest.mark.parametrize("values", [
    pd.array(["x", "y"] * (N // 2), dtype="string"),
    np.array(["x", "y"] * (N // 2), dtype=object),
    pd.Categorical(["x", "y"] * (N // 2)),
], ids=["string", "object", "category"])
def test_non_numeric_columns_are_refused_by_name(values):
    frame = _frame().assign(city=values)
    y = _targets(frame)["binary"]
    with pytest.raises(ValueError, match=r"must hold numbers.*'city' \(.*\).*Encode them as numbers"):
        LogisticRegression().fit(_dask(frame), _dask(y))
    # fitted with a numeric 'city', given a non-numeric one: refused at the call, nothing read
    model = LogisticRegression().fit(frame.assign(city=np.arange(N) % 2), y)
    calls = _Counter()
    with pytest.raises(ValueError, match=r"must hold numbers.*'city'"):
        model.predict(calls.wrap(_dask(frame)))
    assert calls.n == 0


# --------------------------------------------------- 2. lazy, dask in kind
class _Counter:
    """Counts the partitions read of the frames it wraps."""

    def __init__(self):
        self.n = 0
        self._lock = threading.Lock()

    def __dask_tokenize__(self):  # each counter its own graph keys
        return ("partition-counter", id(self))

    def _read(self, part):
        with self._lock:
            self.n += 1
        return part

    def wrap(self, ddf):
        return ddf.map_partitions(self._read, meta=ddf._meta)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "poisson"])
def test_responses_on_a_frame_are_lazy_dask_series_and_frames(kind):
    frame = _frame()
    y = _targets(frame)[kind]
    model = MODELS[kind]().fit(frame, y)
    calls = _Counter()
    X = calls.wrap(_dask(frame))
    with dask.config.set(scheduler="sync"):
        outs = {m: getattr(model, m)(X) for m in _responses(model) + ["predict_log_proba"]
                if hasattr(model, m)}
        assert calls.n == 0, "computed at the call"
        for method, out in outs.items():
            expected = getattr(model, method)(frame.astype(np.float64))
            if expected.ndim == 1:
                assert isinstance(out, dd.Series), (method, type(out))
            else:
                assert isinstance(out, dd.DataFrame), (method, type(out))
                names = list(model.classes_) if method.startswith("predict_") else \
                    [f"{method}{i}" for i in range(expected.shape[1])]
                assert list(out.columns) == names
            assert out.divisions == X.divisions
            calls.n = 0
            value = out.compute()
            assert calls.n == PARTS, (method, calls.n)  # each partition read once
            pd.testing.assert_index_equal(value.index, frame.index)
            _close(value.to_numpy(), expected)


def test_score_on_a_frame_reads_the_data_once():
    frame = _frame()
    y = _targets(frame)["binary"]
    model = LogisticRegression().fit(frame, y)
    calls = _Counter()
    data = calls.wrap(_dask(frame.assign(target=y)))  # X and y from one source
    X = data[list(frame.columns)]
    with dask.config.set(scheduler="sync"):
        score = model.score(X, data["target"])
    assert calls.n == PARTS
    assert score == pytest.approx(model.score(frame, y), rel=TIGHT)


def test_numpy_and_dask_array_outputs_unchanged():
    frame = _frame().astype(np.float64)
    y = _targets(frame)["multiclass"]
    model = LogisticRegression().fit(frame.to_numpy(), y.to_numpy())
    Xa = da.from_array(frame.to_numpy(), chunks=(80, -1))
    for method in _responses(model):
        ours = getattr(model, method)(frame.to_numpy())
        assert isinstance(ours, np.ndarray)
        lazy = getattr(model, method)(Xa)
        assert isinstance(lazy, da.Array)
        _close(lazy.compute(), ours)


def test_mixed_dtype_frame_on_the_cluster(client):
    frame = _frame()
    y = _targets(frame)["binary"]
    model = LogisticRegression().fit(_dask(frame), _dask(y))
    twin = LogisticRegression().fit(frame.astype(np.float64), y)
    np.testing.assert_allclose(_params(model), _params(twin), rtol=TIGHT, atol=TIGHT)
    out = model.predict_proba(_dask(frame))
    assert isinstance(out, dd.DataFrame) and list(out.columns) == ["no", "yes"]
    _close(out.compute().to_numpy(), twin.predict_proba(frame.astype(np.float64)))
    assert model.score(_dask(frame), _dask(y)) == pytest.approx(twin.score(frame, y), rel=TIGHT)


def test_nullable_targets_and_weights_in_dask_series():
    """As pandas Series they fit; as dask Series they became dtype object
    ("Unknown label type", "must be numeric"): now converted as pandas' are."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=1000, n_features=4, random_state=0)
    df = pd.DataFrame(X, columns=list("abcd"))
    ddf = dd.from_pandas(df, npartitions=4)

    def dask_series(values, dtype):
        return dd.from_pandas(pd.Series(pd.array(values, dtype=dtype)), npartitions=4)

    ref = LogisticRegression().fit(X, y)
    for dtype in ("Int64", "boolean"):
        values = y.astype(bool) if dtype == "boolean" else y
        clf = LogisticRegression().fit(ddf, dask_series(values, dtype))
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-10)
        np.testing.assert_array_equal(clf.classes_.astype(int), [0, 1])
    reg_ref = LinearRegression().fit(X, y * 1.5, sample_weight=np.arange(1000) % 3 + 1.0)
    reg = LinearRegression().fit(ddf, dask_series(y * 1.5, "Float64"),
                                 sample_weight=dask_series(np.arange(1000) % 3 + 1.0, "Float64"))
    np.testing.assert_allclose(reg.coef_, reg_ref.coef_, rtol=1e-10)
    for known in (True, False):  # categorical labels, with categories known or not
        labels = dd.from_pandas(pd.Series(y), npartitions=4).astype("category")  # integer categories
        if known:
            labels = labels.cat.as_known()
        clf = LogisticRegression().fit(ddf, labels)
        np.testing.assert_array_equal(clf.classes_, [0, 1])
        np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-10)
    with_na = pd.Series(pd.array(y, dtype="Int64"))
    with_na[3] = pd.NA
    with pytest.raises(ValueError, match="y contains NaN"):
        LogisticRegression().fit(ddf, dd.from_pandas(with_na, npartitions=4))
    with pytest.raises(ValueError, match="y contains NaN"):
        LinearRegression().fit(ddf, dd.from_pandas(with_na.astype("Float64"), npartitions=4))


@pytest.mark.parametrize("make", [LinearRegression, LogisticRegression, PoissonRegression])
def test_float32_data_give_float32_coefficients_and_predictions(make):
    """As scikit-learn's: the solvers run in float64, the fitted coefficients
    (and so the regressors' predictions) come back in X's precision."""
    rng = np.random.RandomState(0)
    X = rng.rand(400, 3).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(int) + (0 if make is LogisticRegression else 1.0)
    ref = make().fit(X.astype(np.float64), y)
    for data, target in ((X, y), (da.from_array(X, chunks=100), da.from_array(y, chunks=100)),
                         (dd.from_pandas(pd.DataFrame(X), npartitions=2), dd.from_pandas(pd.Series(y), npartitions=2))):
        model = make().fit(data, target)
        assert model.coef_.dtype == np.float32 and np.asarray(model.intercept_).dtype == np.float32
        np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-6)
        pred = model.predict(data)
        if make is not LogisticRegression:
            assert pred.dtype == np.float32
            assert np.asarray(pred.compute() if hasattr(pred, "compute") else pred).dtype == np.float32


@pytest.mark.parametrize("kind", ["LogisticRegression", "DataParallel", "IncrementalSearchCV"])
def test_columns_of_a_parquet_frame_fit_like_the_frame_in_memory(client, tmp_path, kind):
    """``dd.read_parquet(path)[columns]``, the usual way to get a large frame:
    counting its partitions' lengths must not let dask merge partitions
    (dask/dask#12411 refused the fit); the fit equals the in-memory one."""
    from sklearn import linear_model as sk
    from sklearn.base import clone

    from dasklearn.model_selection import IncrementalSearchCV
    from dasklearn.wrappers import DataParallel

    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(400, 4)), columns=list("abcd"))
    df["y"] = (df["a"] - df["c"] > 0).astype(int)
    dd.from_pandas(df, npartitions=8).to_parquet(tmp_path / "data")
    frame = dd.read_parquet(tmp_path / "data")
    X, y = frame[["a", "b", "c"]], frame["y"]
    assert X.npartitions == 8
    if kind == "LogisticRegression":
        ours = LogisticRegression(tol=1e-10).fit(X, y)
        ref = sk.LogisticRegression(tol=1e-10).fit(df[["a", "b", "c"]], df["y"])
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8)
    elif kind == "DataParallel":
        from dasklearn._runtime._reduce import as_dask_array

        # the blocks are the partitions (older dask, which cannot be told not
        # to, merges some of them): the same fit on the same blocks in memory
        rows = as_dask_array(X).chunks[0]
        tuning_has_a_switch = "tune" in (dask.config.get("optimization", None) or {})
        assert sum(rows) == 400 and (len(rows) == 8 or not tuning_has_a_switch)
        est = DataParallel(sk.SGDClassifier(random_state=0), max_rounds=2, random_state=0)
        in_memory = clone(est).fit(da.from_array(df[["a", "b", "c"]].to_numpy(), chunks=(rows, -1)),
                                   da.from_array(df["y"].to_numpy(), chunks=(rows,)))
        np.testing.assert_array_equal(est.fit(X, y).estimator_.coef_, in_memory.estimator_.coef_)
    else:
        search = IncrementalSearchCV(sk.SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-2]}, n_initial_parameters=2,
                                     max_iter=2, random_state=0).fit(X, y, classes=[0, 1])
        assert search.best_score_ > 0.8


def test_text_labels_of_a_dask_series_fit_without_a_conversion_warning():
    """pandas 3 holds text labels as str: dask warns that it converts such
    columns to object when making arrays; the labels are converted first,
    as numpy holds them, so the user sees no warning about it."""
    import warnings

    df = pd.DataFrame({"a": np.arange(40.0)})
    df["y"] = pd.Series(np.where(df["a"] > 20, "pos", "neg"), dtype="string")
    frame = dd.from_pandas(df, npartitions=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model = LogisticRegression().fit(frame[["a"]], frame["y"])
    assert list(model.classes_) == ["neg", "pos"]
    assert model.predict(frame[["a"]]).compute().tolist() == model.predict(df[["a"]]).tolist()


@pytest.mark.parametrize("model", [LogisticRegression, LinearRegression])
@pytest.mark.parametrize("shape", ["frame", "array", "numpy"])
def test_one_column_target_is_taken_as_1d_with_scikit_learns_warning(model, shape):
    """scikit-learn takes a column-vector y (DataConversionWarning); these
    models refused it, pointing to y.ravel(), which a dask DataFrame lacks."""
    from sklearn.exceptions import DataConversionWarning

    frame = _frame()
    target = (frame["a"] > 0).astype(int) if model is LogisticRegression else frame["a"] * 2.0 - frame["b"]
    X = dd.from_pandas(frame[["a", "b"]], npartitions=PARTS)
    y = dd.from_pandas(target.rename("y"), npartitions=PARTS)
    column = {"frame": lambda: y.to_frame(), "array": lambda: y.to_dask_array(lengths=True)[:, None],
              "numpy": lambda: target.to_numpy()[:, None]}[shape]()
    assert column.ndim == 2
    with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
        by_column = model().fit(X, column)
    by_vector = model().fit(X, y)
    np.testing.assert_array_equal(by_column.coef_, by_vector.coef_)
    two = da.stack([y.to_dask_array(lengths=True)] * 2, axis=1)
    with pytest.raises(ValueError, match=r"y must be 1-dimensional \(n_samples,\) or one column, got shape"):
        model().fit(X, two)
