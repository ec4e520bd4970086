"""train_test_split on dask input: totals and rows compared with scikit-learn.

With known block sizes (dask arrays) the totals are scikit-learn's for every
valid size pair, whatever the chunking, and ``shuffle=False`` gives its rows.
DataFrames alone round per partition with a low-discrepancy offset.
"""

from __future__ import annotations

import itertools
import math

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import sklearn.model_selection as skms

from dasklearn.model_selection import train_test_split

SIZES = [None, 1, 3, 9, 0.05, 0.1, 0.25, 0.3, 0.5, 0.7, 0.75, 0.9]
LAYOUTS = [
    (10, 5), (10, 2), (10, 3), (10, 1), (10, (9, 1)), (10, (1, 9)), (20, 1),
    (37, 4), (100, 7), (103, (20, 30, 1, 40, 12)), (1000, 25),
]


def compute_sync(*objs):
    return dask.compute(*objs, scheduler="synchronous")


def sklearn_sizes(n, test_size, train_size):
    """(n_train, n_test) of scikit-learn, or None where it raises."""
    try:
        tr, te = skms.train_test_split(
            np.arange(n), test_size=test_size, train_size=train_size, random_state=0)
    except ValueError:
        return None
    return len(tr), len(te)


@pytest.mark.parametrize("n, chunks", LAYOUTS)
@pytest.mark.parametrize("shuffle", [True, False])
def test_array_totals_equal_sklearn(n, chunks, shuffle):
    X = da.zeros((n, 2), chunks=(chunks, 2))
    sizes = np.array(X.chunks[0])
    for test_size, train_size in itertools.product(SIZES, SIZES):
        kwargs = {"test_size": test_size, "train_size": train_size}
        expected = sklearn_sizes(n, **kwargs)
        if expected is None:
            with pytest.raises(ValueError):
                train_test_split(X, **kwargs, shuffle=shuffle, random_state=0)
            continue
        tr, te = train_test_split(X, **kwargs, shuffle=shuffle, random_state=0)
        n_train, n_test = np.array(tr.chunks[0]), np.array(te.chunks[0])
        assert (n_train.sum(), n_test.sum()) == expected, kwargs
        assert np.all(n_train + n_test <= sizes) and np.all(n_train >= 0) and np.all(n_test >= 0)
        if shuffle:  # test rows spread in proportion to the block sizes
            quota = expected[1] * sizes / n
            assert np.all((np.floor(quota) <= n_test) & (n_test <= np.ceil(quota))), kwargs


@pytest.mark.parametrize(
    "n, chunks, test_size, train_size",
    [(20, 1, None, 0.1), (20, 1, 0.1, None), (100, 7, 0.1, 85), (100, 7, None, 0.25),
     (10, (9, 1), 0.5, 0.5), (103, (20, 30, 1, 40, 12), 0.2, 82)],
)
def test_array_tiny_blocks_computed(n, chunks, test_size, train_size):
    x = np.arange(n)[:, None] * np.ones((1, 2))
    X = da.from_array(x, chunks=(chunks, 2))
    Xtr, Xte, ytr, yte = compute_sync(*train_test_split(
        X, X[:, 0], test_size=test_size, train_size=train_size, random_state=3))
    assert (len(Xtr), len(Xte)) == sklearn_sizes(n, test_size, train_size)
    np.testing.assert_array_equal(Xtr[:, 0], ytr)
    np.testing.assert_array_equal(Xte[:, 0], yte)
    rows = np.concatenate([Xtr[:, 0], Xte[:, 0]])
    assert len(np.unique(rows)) == len(rows)


@pytest.mark.parametrize("n, chunks", [(20, 5), (10, 1), (37, 4), (103, (20, 30, 1, 40, 12))])
@pytest.mark.parametrize("test_size, train_size", [(None, None), (0.25, None), (None, 0.6),
                                                   (0.2, 0.5), (3, None), (0.1, 5), (2, 4)])
def test_array_no_shuffle_equals_sklearn(n, chunks, test_size, train_size):
    x = np.arange(n)[:, None] * np.ones((1, 3))
    X = da.from_array(x, chunks=(chunks, 3))
    kwargs = {"test_size": test_size, "train_size": train_size, "shuffle": False}
    got = compute_sync(*train_test_split(X, X[:, 0], **kwargs))
    expected = skms.train_test_split(x, x[:, 0], **kwargs)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("npartitions", [2, 3, 7, 20])
@pytest.mark.parametrize("test_size, train_size", [(None, None), (0.3, None), (None, 0.45),
                                                   (0.1, 0.6), (7, None), (0.2, 11)])
def test_dataframe_with_array_no_shuffle_equals_sklearn(npartitions, test_size, train_size):
    n = 41
    df = pd.DataFrame({"a": np.arange(n), "b": np.arange(n) * 0.5}, index=np.arange(n) + 100)
    ddf = dd.from_pandas(df, npartitions=npartitions)
    X = ddf.to_dask_array(lengths=True)
    kwargs = {"test_size": test_size, "train_size": train_size, "shuffle": False}
    parts = train_test_split(ddf, ddf["b"], X, **kwargs)
    Dtr, Dte, Str, Ste = compute_sync(*parts[:4])
    Xtr, Xte = compute_sync(*parts[4:])
    etr, ete, estr, este, extr, exte = skms.train_test_split(df, df["b"], df.to_numpy(), **kwargs)
    pd.testing.assert_frame_equal(Dtr, etr)
    pd.testing.assert_frame_equal(Dte, ete)
    pd.testing.assert_series_equal(Str, estr)
    pd.testing.assert_series_equal(Ste, este)
    np.testing.assert_array_equal(Xtr, extr)
    np.testing.assert_array_equal(Xte, exte)


def _frame_split(df, npartitions, **kwargs):
    ddf = dd.from_pandas(df, npartitions=npartitions)
    return compute_sync(*train_test_split(ddf, random_state=0, **kwargs))


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("test_size, train_size", [(None, None), (0.1, None), (0.05, None),
                                                   (None, 0.2), (0.3, 0.5), (0.5, 0.5)])
def test_dataframe_alone_one_row_partitions(shuffle, test_size, train_size):
    n = 40
    df = pd.DataFrame({"x": np.arange(n, dtype=float)})
    tr, te = _frame_split(df, n, test_size=test_size, train_size=train_size, shuffle=shuffle)
    assert len(tr) > 0 and len(te) > 0
    assert not set(tr.index) & set(te.index)
    exp_test = n * (0.25 if test_size is None and train_size is None else test_size or 0)
    exp_train = n * (train_size or 0) if train_size is not None else n - exp_test
    if test_size is None and train_size is not None:
        exp_test = n - exp_train
    assert abs(len(te) - exp_test) <= 3 and abs(len(tr) - exp_train) <= 3


def test_dataframe_alone_small_uneven_partitions():
    # a big frame filtered down to ~8 rows per partition
    big = pd.DataFrame({"x": np.arange(100_000.0), "keep": np.arange(100_000) % 1000 < 8})
    ddf = dd.from_pandas(big, npartitions=100)
    sub = ddf[ddf.keep]
    for test_size in (0.05, 0.1, 0.25, 0.5):
        tr, te = compute_sync(*train_test_split(sub, test_size=test_size, random_state=0))
        assert len(tr) + len(te) == 800
        assert abs(len(te) - test_size * 800) <= 4, test_size
    # uneven partition lengths (0 to 10 rows), many partitions
    df = pd.DataFrame({"x": np.arange(3000.0), "keep": np.random.default_rng(0).random(3000) < 0.4})
    ddf = dd.from_pandas(df, npartitions=300)
    sub, n = ddf[ddf.keep], int(df.keep.sum())
    for test_size, train_size in [(0.25, None), (0.1, 0.3), (None, 0.7)]:
        tr, te = compute_sync(*train_test_split(
            sub, test_size=test_size, train_size=train_size, random_state=0))
        frac_test = 1 - train_size if test_size is None else test_size
        assert abs(len(te) - frac_test * n) <= 15
        if train_size is not None:
            assert abs(len(tr) - train_size * n) <= 15


def test_partition_counts_rounding():
    from dasklearn.model_selection._split import _partition_counts

    grid = itertools.product(range(30), [None, 0.05, 0.3, 0.5, 0.7], [None, 0.2, 0.5, 0.7])
    for n, t, r in grid:
        if t is None and r is None or (t or 0) + (r or 0) > 1:
            continue
        # partition 0 rounds as scikit-learn does on one array
        n_train, n_test = _partition_counts(n, 0, t, r)
        assert n_test == (math.ceil(t * n) if t is not None else n - math.floor(r * n))
        assert n_train == (math.floor(r * n) if r is not None else n - n_test)
        for i in range(1, 50):
            n_train, n_test = _partition_counts(n, i, t, r)
            assert 0 <= n_train and 0 <= n_test and n_train + n_test <= n
            if r is None or t is None:
                assert n_train + n_test == n
    # float error never makes the sum exceed the partition
    for i in range(2000):
        assert sum(_partition_counts(10, i, 0.3, 0.7)) <= 10


@pytest.mark.parametrize("shuffle", [None, "no", "False", 0, 1, 1.0])
def test_invalid_shuffle_raises(shuffle):
    X = da.arange(20, chunks=10)
    ddf = dd.from_pandas(pd.DataFrame({"x": np.arange(20)}), npartitions=2)
    for inputs in [(X,), (ddf,), (ddf, X)]:
        with pytest.raises(ValueError, match=r"shuffle must be a bool.*received"):
            train_test_split(*inputs, shuffle=shuffle, random_state=0)


def test_numpy_bool_shuffle_accepted():
    X = da.arange(20, chunks=10)
    a = compute_sync(*train_test_split(X, shuffle=np.bool_(False)))
    b = skms.train_test_split(np.arange(20), shuffle=False)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    c = compute_sync(*train_test_split(X, shuffle=np.bool_(True), random_state=0))
    d = compute_sync(*train_test_split(X, shuffle=True, random_state=0))
    for u, v in zip(c, d, strict=True):
        np.testing.assert_array_equal(u, v)
