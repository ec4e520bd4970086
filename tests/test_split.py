"""Tests for dasklearn.model_selection._split (train_test_split, KFold, ShuffleSplit)."""

from __future__ import annotations

import math

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.model_selection as skms

from dasklearn.model_selection._split import KFold, ShuffleSplit, train_test_split

N = 103
CHUNKS = (20, 30, 1, 40, 12)  # uneven, including a one-row block


def make_xy(chunks=CHUNKS, n_cols=3):
    """X whose column 0 is the row index, and y = 2 * X[:, 0]."""
    n = sum(chunks)
    x = np.arange(n)[:, None] + np.zeros((1, n_cols))
    x[:, 1:] = np.random.default_rng(0).normal(size=(n, n_cols - 1))
    X = da.from_array(x, chunks=(chunks, 2))
    return x, X, X[:, 0] * 2


def make_frames(npartitions=4):
    df = pd.DataFrame({"i": np.arange(N), "v": np.arange(N) * 3.0}, index=np.arange(N) + 1000)
    ddf = dd.from_pandas(df, npartitions=npartitions)
    return df, ddf, ddf["v"]


def compute_sync(*objs):
    return dask.compute(*objs, scheduler="synchronous")


def _no_compute(*args, **kwargs):
    raise AssertionError("graph construction must not compute anything")


# --------------------------------------------------------------------------- in memory


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"test_size": 0.3},
        {"test_size": 17, "train_size": 50},
        {"train_size": 0.6},
        {"shuffle": False, "test_size": 0.2},
        {"stratify": "y"},
    ],
)
def test_in_memory_matches_sklearn(kwargs):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(N, 3))
    y = rng.integers(0, 2, size=N)
    df = pd.DataFrame(X, columns=list("abc"))
    kwargs = {**kwargs, "stratify": y} if "stratify" in kwargs else kwargs
    for inputs in [(X, y), (df, pd.Series(y)), (sp.csr_matrix(X), list(y))]:
        ours = train_test_split(*inputs, random_state=5, **kwargs)
        ref = skms.train_test_split(*inputs, random_state=5, **kwargs)
        assert len(ours) == len(ref) == 4
        for a, b in zip(ours, ref):
            assert type(a) is type(b)
            if sp.issparse(a):
                a, b = a.toarray(), b.toarray()
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --------------------------------------------------------------------------- dask arrays


def test_dask_array_partition_alignment_known_chunks():
    x, X, y = make_xy()
    with dask.config.set(scheduler=_no_compute):
        parts = train_test_split(X, y, test_size=0.3, random_state=0)
    assert all(isinstance(p, da.Array) for p in parts)
    for p in parts:
        assert not any(math.isnan(c) for c in p.chunks[0])
    Xtr, Xte, ytr, yte = compute_sync(*parts)
    for lazy, got in zip(parts, (Xtr, Xte, ytr, yte)):
        assert lazy.shape == got.shape
    assert parts[0].chunks[1] == X.chunks[1]
    np.testing.assert_array_equal(ytr, Xtr[:, 0] * 2)
    np.testing.assert_array_equal(yte, Xte[:, 0] * 2)
    rows = np.concatenate([Xtr[:, 0], Xte[:, 0]]).astype(int)
    np.testing.assert_array_equal(np.sort(rows), np.arange(N))  # partition of the rows
    np.testing.assert_array_equal(np.concatenate([Xtr, Xte])[np.argsort(rows)], x)
    # rows never leave their block
    block_of = np.repeat(np.arange(len(CHUNKS)), CHUNKS)
    starts = np.cumsum((0,) + parts[0].chunks[0])
    for b in range(len(CHUNKS)):
        assert set(block_of[Xtr[starts[b] : starts[b + 1], 0].astype(int)]) <= {b}


@pytest.mark.parametrize(
    "test_size, train_size",
    [
        (None, None), (0.3, None), (None, 0.55), (0.2, 0.5), (17, None),
        (None, 60), (17, 50), (0.2, 50), (10, 0.5),
    ],
)
def test_dask_array_exact_counts(test_size, train_size):
    _, X, y = make_xy()
    parts = train_test_split(X, y, test_size=test_size, train_size=train_size, random_state=0)
    n_train, n_test = np.array(parts[0].chunks[0]), np.array(parts[1].chunks[0])
    sizes = np.array(CHUNKS)
    assert parts[2].chunks[0] == parts[0].chunks[0] and parts[3].chunks[0] == parts[1].chunks[0]
    assert np.all(n_train + n_test <= sizes)
    # totals: scikit-learn's for N rows; test rows spread in proportion to the blocks
    ref_train, ref_test = skms.train_test_split(
        np.arange(N), test_size=test_size, train_size=train_size, random_state=0)
    assert (n_train.sum(), n_test.sum()) == (len(ref_train), len(ref_test))
    quota = n_test.sum() * sizes / sizes.sum()
    assert np.all((np.floor(quota) <= n_test) & (n_test <= np.ceil(quota)))
    if train_size is None:
        np.testing.assert_array_equal(n_train + n_test, sizes)
    if test_size is None:
        np.testing.assert_array_equal(n_train + n_test, sizes)
    Xtr, Xte = compute_sync(parts[0], parts[1])
    assert Xtr.shape[0] == n_train.sum() and Xte.shape[0] == n_test.sum()
    assert not set(Xtr[:, 0]) & set(Xte[:, 0])


def test_dask_array_reproducible_and_seed_dependent():
    _, X, y = make_xy()
    a = compute_sync(*train_test_split(X, y, random_state=3))
    b = compute_sync(*train_test_split(X, y, random_state=3))
    c = compute_sync(*train_test_split(X, y, random_state=4))
    d = compute_sync(*train_test_split(X, y, random_state=np.random.RandomState(0)))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(d[2], d[0][:, 0] * 2)
    # with shuffle, rows within a block come out permuted (as in sklearn)
    first = a[0][: train_test_split(X, random_state=3)[0].chunks[0][0], 0]
    assert not np.all(np.diff(first) > 0)


def test_dask_array_no_shuffle_layout():
    x, X, y = make_xy()
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, shuffle=False)
    expected_tr, expected_te = [], []
    start = 0
    for n_i, tr_i, te_i in zip(CHUNKS, Xtr.chunks[0], Xte.chunks[0]):
        expected_tr.append(x[start : start + tr_i])
        expected_te.append(x[start + tr_i : start + tr_i + te_i])
        start += n_i
    got = compute_sync(Xtr, Xte, ytr, yte)
    np.testing.assert_array_equal(got[0], np.concatenate(expected_tr))
    np.testing.assert_array_equal(got[1], np.concatenate(expected_te))
    np.testing.assert_array_equal(got[2], got[0][:, 0] * 2)


@pytest.mark.parametrize("test_size", [0.2, 0.37, 150])
def test_dask_dataframe_alone_no_shuffle_is_scikit_learns_cut(test_size):
    """A time-ordered frame split with shuffle=False: every test row comes
    after every train row, as in scikit-learn (the partitions' lengths are
    counted first; before, each partition was cut on its own and 150 of 200
    test rows came before the last train row)."""
    pdf = pd.DataFrame({"v": np.arange(1000.0)}, index=pd.date_range("2024-01-01", periods=1000, freq="h"))
    ddf = dd.from_pandas(pdf, npartitions=4)
    tr, te, ytr, yte = train_test_split(ddf, ddf["v"], test_size=test_size, shuffle=False)
    ref = skms.train_test_split(pdf, pdf["v"], test_size=test_size, shuffle=False)
    for got, want in zip(dask.compute(tr, te, ytr, yte), ref):
        assert_frame_or_series_equal(got, want)
    assert tr.divisions == ddf.divisions  # rows keep their order: divisions stay valid


def assert_frame_or_series_equal(got, want):
    if isinstance(want, pd.DataFrame):
        pd.testing.assert_frame_equal(got, want)
    else:
        pd.testing.assert_series_equal(got, want)


def test_many_blocks_graph_is_cheap():
    X = da.zeros((1_000_000, 2), chunks=(100, 2))
    with dask.config.set(scheduler=_no_compute):
        Xtr, Xte = train_test_split(X, test_size=1234, random_state=0)
    assert Xte.shape == (1234, 2) and Xtr.shape == (1_000_000 - 1234, 2)
    assert Xte.npartitions == X.npartitions


# --------------------------------------------------------------------------- dask DataFrames


@pytest.mark.parametrize("shuffle", [True, False])
def test_dask_dataframe_and_series_aligned(shuffle):
    df, ddf, ds = make_frames()
    # with shuffle, nothing is computed up front (without, the lengths are counted)
    with dask.config.set(scheduler=_no_compute) if shuffle else dask.config.set(scheduler="sync"):
        parts = train_test_split(ddf, ds, test_size=0.3, random_state=1, shuffle=shuffle)
    assert parts[0].npartitions == ddf.npartitions
    assert parts[0].known_divisions is (not shuffle)
    Xtr, Xte, ytr, yte = compute_sync(*parts)
    assert isinstance(Xtr, pd.DataFrame) and isinstance(ytr, pd.Series)
    pd.testing.assert_index_equal(Xtr.index, ytr.index)
    pd.testing.assert_index_equal(Xte.index, yte.index)
    np.testing.assert_array_equal(Xtr["v"].to_numpy(), ytr.to_numpy())
    assert not set(Xtr.index) & set(Xte.index)
    pd.testing.assert_frame_equal(pd.concat([Xtr, Xte]).sort_index(), df)
    pd.testing.assert_frame_equal(Xtr, df.loc[Xtr.index])  # index values preserved
    if not shuffle:  # scikit-learn's rows
        pd.testing.assert_frame_equal(Xte, skms.train_test_split(df, test_size=0.3, shuffle=False)[1])
        return
    lengths = ddf.map_partitions(len).compute(scheduler="synchronous")
    # lengths unknown up front: each partition rounds with a low-discrepancy offset
    offsets = [(i * 0.6180339887498949) % 1 for i in range(len(lengths))]
    assert len(Xte) == sum(math.ceil(0.3 * n - v) for n, v in zip(lengths, offsets))


def test_dask_dataframes_whose_partitions_do_not_align_are_refused():
    """Frames alone have unknown partition lengths: each partition is
    checked against the first frame's when computed (scikit-learn:
    inconsistent numbers of samples), never split out of step."""
    df, ddf, ds = make_frames()
    shifted = ds.repartition(divisions=[ds.divisions[0], ds.divisions[0] + 10, *ds.divisions[2:]])
    assert shifted.npartitions == ddf.npartitions
    for y in (shifted, dd.from_pandas(df["v"].iloc[:-5], npartitions=ddf.npartitions)):
        parts = train_test_split(ddf, y, random_state=0)
        with pytest.raises(ValueError, match=r"Partition \d+ of arrays\[1\] has \d+ rows but partition "
                                             r"\d+ of arrays\[0\] has \d+.*repartition"):
            compute_sync(*parts)


def test_dask_dataframe_with_dask_array_and_int_size():
    df, ddf, _ = make_frames()
    X = ddf.to_dask_array(lengths=True)
    Dtr, Dte = compute_sync(*train_test_split(ddf, X, test_size=10, random_state=2)[:2])
    Xtr, Xte = compute_sync(*train_test_split(ddf, X, test_size=10, random_state=2)[2:])
    assert len(Dte) == 10 and len(Dtr) == N - 10
    np.testing.assert_array_equal(Dtr.to_numpy(), Xtr)
    np.testing.assert_array_equal(Dte.to_numpy(), Xte)
    with pytest.raises(ValueError, match="fraction"):
        train_test_split(ddf, test_size=10)
    # same number of partitions, different lengths: caught when computed
    bad = da.from_array(np.zeros((N, 2)), chunks=((30, 30, 30, 13), 2))
    with pytest.raises(ValueError, match="not aligned"):
        compute_sync(train_test_split(ddf, bad, test_size=0.2)[0])


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("with_array", [False, True], ids=["frames", "frame-and-array"])
def test_selected_partitions_are_those_of_the_whole_split(shuffle, with_array):
    """A selection of a split frame's partitions (``.partitions[i]``,
    ``.tail()``, ``.loc``), which dask computes without the others, gives
    the rows the whole result has there: no test row in the training side,
    partition i still aligned with the array's block i."""
    df, ddf, ds = make_frames()
    ddf = ddf.repartition(divisions=[1000, 1020, 1050, 1051, 1090, 1102])  # uneven, a one-row partition
    inputs = (ddf, ddf.to_dask_array(lengths=True)) if with_array else (ddf, ddf["v"])
    parts = train_test_split(*inputs, test_size=0.3, random_state=0, shuffle=shuffle)
    Xtr, Xte, Ytr, _ = parts
    whole_tr, whole_te = compute_sync(Xtr, Xte)
    lengths = Xtr.map_partitions(len).compute(scheduler="synchronous")
    starts = np.concatenate([[0], np.cumsum(lengths)])
    for i in range(Xtr.npartitions):
        (part,) = compute_sync(Xtr.partitions[i])
        pd.testing.assert_frame_equal(part, whole_tr.iloc[starts[i]:starts[i + 1]])
        assert not set(part.index) & set(whole_te.index)
        (y_part,) = compute_sync(Ytr.blocks[i] if with_array else Ytr.partitions[i])
        y_part = np.asarray(y_part)
        np.testing.assert_array_equal(y_part[:, -1] if y_part.ndim == 2 else y_part, part["v"].to_numpy())
    last = whole_tr.iloc[starts[-2]:]  # dask's tail reads the last partition
    pd.testing.assert_frame_equal(compute_sync(Xtr.tail(7, compute=False))[0], last.tail(7))
    if not shuffle:  # divisions kept: .loc reads only the partitions it needs
        pd.testing.assert_frame_equal(compute_sync(Xtr.loc[1060:1080])[0], whole_tr.loc[1060:1080])


# --------------------------------------------------------------------------- CV splitters


@pytest.mark.parametrize(
    "ours, ref",
    [
        (KFold(4), skms.KFold(4)),
        (KFold(3, shuffle=True, random_state=7), skms.KFold(3, shuffle=True, random_state=7)),
        (ShuffleSplit(5, random_state=0), skms.ShuffleSplit(5, random_state=0)),
        (ShuffleSplit(3, test_size=11, train_size=0.5, random_state=1),
         skms.ShuffleSplit(3, test_size=11, train_size=0.5, random_state=1)),
    ],
)
def test_cv_splitters_match_sklearn(ours, ref):
    x, X, y = make_xy()
    _, ddf, ds = make_frames()
    expected = list(ref.split(x))
    assert isinstance(ours, type(ref))
    for args in [(X,), (X, y), (ddf, ds), (x,)]:
        got = list(ours.split(*args))
        assert ours.get_n_splits(*args) == ref.get_n_splits(x) == len(got)
        for (tr, te), (etr, ete) in zip(got, expected, strict=True):
            assert isinstance(tr, np.ndarray) and tr.dtype.kind == "i"
            np.testing.assert_array_equal(tr, etr)
            np.testing.assert_array_equal(te, ete)


def test_cv_splitters_usable_by_sklearn():
    from sklearn.linear_model import LinearRegression

    x, _, y = make_xy()
    cv = KFold(3)
    assert repr(cv) == "KFold(n_splits=3, random_state=None, shuffle=False)"
    scores = skms.cross_val_score(LinearRegression(), x, y.compute(), cv=cv)
    ref = skms.cross_val_score(LinearRegression(), x, y.compute(), cv=skms.KFold(3))
    np.testing.assert_allclose(scores, ref)


def test_cv_splitters_errors():
    _, ddf, _ = make_frames()
    unknown = ddf.to_dask_array()
    for cv in (KFold(3), ShuffleSplit(2)):
        with pytest.raises(ValueError, match="compute_chunk_sizes"):
            cv.split(unknown)
    _, X, _ = make_xy()
    with pytest.raises(ValueError, match="Found input variables with inconsistent"):
        list(KFold(3).split(X, X[:50, 0]))


# --------------------------------------------------------------------------- errors


def test_bad_dask_inputs():
    _, X, y = make_xy()
    with pytest.raises(ValueError, match="identical row chunks"):
        train_test_split(X, y.rechunk(((10, 40, 1, 40, 12),)))
    with pytest.raises(ValueError, match="same number of row blocks"):
        train_test_split(X, y.rechunk(50))
    with pytest.raises(TypeError, match="mix of dask and in-memory"):
        train_test_split(X, y.compute())
    with pytest.raises(ValueError, match="stratify is supported for in-memory input"):
        train_test_split(X, y, stratify=y)
    with pytest.raises(ValueError, match="blockwise=False"):
        train_test_split(X, y, blockwise=False)
    _, ddf, _ = make_frames(npartitions=len(CHUNKS))
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        train_test_split(ddf.to_dask_array())
    with pytest.raises(ValueError):
        train_test_split(X, random_state=-1)
    with pytest.raises(ValueError, match="At least one array"):
        train_test_split()
    with pytest.raises(ValueError, match="0-d dask array"):
        train_test_split(da.from_array(np.float64(1.0)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"test_size": 0.0}, "open interval"),
        ({"test_size": 1.0}, "open interval"),
        ({"train_size": -0.5}, "open interval"),
        ({"test_size": 0}, "must be an int >= 1"),
        ({"test_size": N}, "between 1 and"),
        ({"train_size": N + 5}, "between 1 and"),
        ({"test_size": "0.2"}, "must be a float"),
        ({"test_size": True}, "must be a float"),
        ({"test_size": 0.6, "train_size": 0.5}, "must be <= 1"),
        ({"test_size": 60, "train_size": 60}, "only 103"),
        ({"test_size": 0.5, "train_size": 60}, "only 103"),
        ({"train_size": 0.005}, "train set would be empty"),  # floor(0.515) = 0, as sklearn
    ],
)
def test_invalid_sizes(kwargs, match):
    _, X, y = make_xy()
    with pytest.raises(ValueError, match=match):
        train_test_split(X, y, **kwargs)


# --------------------------------------------------------------------------- cluster


def test_split_on_cluster_matches_synchronous(client):
    _, X, y = make_xy()
    _, ddf, ds = make_frames()
    parts = train_test_split(X, y, test_size=0.3, random_state=11)
    frame_parts = train_test_split(ddf, ds, test_size=0.3, random_state=11)
    on_cluster = client.compute(parts, sync=True) + client.compute(frame_parts, sync=True)
    local = list(compute_sync(*parts)) + list(compute_sync(*frame_parts))
    for a, b in zip(on_cluster[:4], local[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(on_cluster[4], local[4])
    pd.testing.assert_frame_equal(on_cluster[5], local[5])
    pd.testing.assert_series_equal(on_cluster[6], local[6])
    pd.testing.assert_series_equal(on_cluster[7], local[7])
    folds = list(KFold(3, shuffle=True, random_state=0).split(ddf))  # lengths on the cluster
    expected = skms.KFold(3, shuffle=True, random_state=0).split(np.zeros(N))
    for (tr, te), (etr, ete) in zip(folds, expected, strict=True):
        np.testing.assert_array_equal(tr, etr)
        np.testing.assert_array_equal(te, ete)


def _tuning_switch() -> bool:
    """Whether this dask can switch its partition tuning off."""
    return dask.config.get("optimization.tune.active", None) is not None


@pytest.mark.parametrize("with_array", [False, True])
def test_columns_of_a_parquet_frame_split_aligned(tmp_path, with_array):
    """X = frame[cols], y = frame["y"] of ``dd.read_parquet``: dask merges the
    partitions of a column selection when it computes (dask/dask#12411), by
    how few columns are kept, which broke the partition-by-partition pairing
    (a crash inside dask at compute time)."""
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(400, 4)), columns=list("abcd"))
    df["y"] = (df["a"] > 0).astype(int)
    dd.from_pandas(df, npartitions=8).to_parquet(tmp_path / "data")
    frame = dd.read_parquet(tmp_path / "data")
    X, y = frame[["a", "b", "c"]], frame["y"]
    inputs = (X, y, da.from_array(df["a"].to_numpy(), chunks=50)) if with_array else (X, y)
    if not _tuning_switch():  # (dask 2025.5): refused up front, with the way out
        with pytest.raises(ValueError, match="Split the frame that holds all the columns"):
            train_test_split(*inputs, test_size=0.25, random_state=0)
        return
    parts = dask.compute(*train_test_split(*inputs, test_size=0.25, random_state=0), scheduler="sync")
    X_train, X_test, y_train, y_test = parts[:4]
    assert (len(X_train), len(X_test)) == (300, 100) if with_array else len(X_train) + len(X_test) == 400
    assert X_train.index.equals(y_train.index) and X_test.index.equals(y_test.index)
    assert y_train.equals((X_train["a"] > 0).astype(int)) and y_test.equals((X_test["a"] > 0).astype(int))
    assert sorted([*X_train.index, *X_test.index]) == list(range(400))
    if with_array:
        np.testing.assert_array_equal(parts[4], X_train["a"].to_numpy())
        np.testing.assert_array_equal(parts[5], X_test["a"].to_numpy())
    # a selected column alone too
    alone = train_test_split(y, random_state=0)[0].compute(scheduler="sync")
    assert alone.equals(df["y"].loc[alone.index])


def test_empty_or_one_row_dask_input_says_so():
    """0 or 1 rows cannot be split: the error says that (before: 'increase
    train_size or reduce test_size', which cannot help)."""
    for n in (0, 1):
        with pytest.raises(ValueError, match=f"needs at least 2 rows .*the input has {n}"):
            train_test_split(da.ones((n, 2), chunks=1), da.ones(n, chunks=1))
    with pytest.raises(ValueError, match=r"an int in \[0, 2\*\*32 - 1\] or a numpy RandomState; got '0'"):
        train_test_split(da.ones((4, 2), chunks=2), random_state="0")
