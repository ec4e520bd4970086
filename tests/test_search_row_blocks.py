"""A large dask array reaches a search's workers as its row blocks: each
worker fetches the blocks it lacks from the peers that hold them and cuts its
folds straight from them (dasklearn/_runtime/_rows.py), instead of waiting
for one worker to concatenate the whole array and copying it from there.
The folds, and so the scores, must be scikit-learn's whatever the splitter;
each block reaches a worker once; nothing is left cached on the workers."""

import time

import numpy as np
import pytest
from sklearn import model_selection as sk
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dasklearn._runtime._backend import DistributedBackend
from dasklearn._runtime._rows import RowBlocks, RowsToken, rows_of, whole
from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection import _fit

# 36,000 x 12 float64 in 12,000-row blocks of 1.15 MB (placed as row blocks:
# at least a MiB each), and two column chunks (joined into each row block)
X, Y = make_classification(n_samples=36_000, n_features=12, n_informative=6, random_state=0)
CHUNKS = (12_000, 6)
GRID = {"C": [0.01, 1.0]}


def _dask(*arrays, chunks=CHUNKS):
    import dask.array as da

    return [da.from_array(a, chunks=chunks if a.ndim == 2 else chunks[0]) for a in arrays]


def _blocks(a, sizes):
    edges = np.cumsum([0, *sizes])
    return RowBlocks(RowsToken(), [a[i:j] for i, j in zip(edges[:-1], edges[1:])])


@pytest.mark.parametrize("kind", ["sorted", "shuffled", "mask", "negative", "empty", "one block", "repeated"])
def test_rows_cut_from_blocks_equal_numpy_indexing(kind):
    a = np.arange(40 * 3, dtype=float).reshape(40, 3)
    rng = np.random.default_rng(0)
    idx = {
        "sorted": np.sort(rng.choice(40, 25, replace=False)),
        "shuffled": rng.permutation(40)[:30],
        "mask": rng.random(40) < 0.5,
        "negative": np.array([-1, -40, 3, -7]),
        "empty": np.array([], dtype=int),
        "one block": np.arange(8, 15),
        "repeated": np.array([5, 5, 39, 0, 5]),
    }[kind]
    rows = _blocks(a, [7, 13, 0, 20])  # uneven, and an empty block
    np.testing.assert_array_equal(rows.take(idx), a[idx])
    np.testing.assert_array_equal(rows.take(list(idx)), a[idx])
    assert rows.take(idx).flags.c_contiguous
    np.testing.assert_array_equal(_blocks(a[:, 0], [7, 13, 0, 20]).take(idx), a[:, 0][idx])


def test_blocks_of_other_dtypes_than_declared_give_folds_and_whole_alike():
    """Blocks may differ from the dtype dask declared (from_delayed): the
    folds the fits see and the whole the refit sees are cast alike."""
    numbers = RowBlocks(RowsToken(), [np.array([1, 2]), np.array([0.5, 1.5])])
    np.testing.assert_array_equal(numbers.take([0, 3]), [1.0, 1.5])
    np.testing.assert_array_equal(numbers.take([3, 0]), numbers.whole()[[3, 0]])
    words = RowBlocks(RowsToken(), [np.array(["cat", "hor"]), np.array(["hornet", "horse"])])
    np.testing.assert_array_equal(words.take([1, 2, 3]), ["hor", "hornet", "horse"])
    np.testing.assert_array_equal(words.take([3, 0]), words.whole()[[3, 0]])


def test_a_worker_drops_its_last_fold_before_cutting_the_next():
    """Only one split's folds are alive in a worker at a time (they were two
    while the next was cut)."""
    import weakref

    X_ = np.arange(60.0).reshape(30, 2)
    y_ = np.arange(30) % 2
    splits = list(sk.KFold(3).split(X_))
    seen = []

    class Watched(RowBlocks):
        def take(self, idx):
            seen.append(last() if last is not None else None)
            return super().take(idx)

    last = None
    rows = Watched(RowsToken(), [X_[:10], X_[10:]])
    try:
        fold = _fit.FOLDS.get(rows, y_, splits, {}, 0)
        last = weakref.ref(fold.X_train)
        del fold
        _fit.FOLDS.get(rows, y_, splits, {}, 1)
    finally:
        _fit.FOLDS.clear()
    assert len(seen) == 4 and seen[2] is None and seen[3] is None, seen  # gone when split 1's were cut


def test_rows_cut_from_blocks_refuse_what_numpy_refuses():
    rows = _blocks(np.zeros((10, 2)), [4, 6])
    for bad in (np.array([10]), np.array([-11]), np.ones(9, dtype=bool)):
        with pytest.raises(IndexError):
            rows.take(bad)


def test_a_task_reads_placed_row_blocks_and_leaves_other_data_alone():
    a = np.arange(12.0).reshape(6, 2)
    token = RowsToken()
    rows = rows_of([token, a[:2], a[2:]])
    assert isinstance(rows, RowBlocks) and rows.shape == (6, 2) and len(rows) == 6 and rows.token is token
    np.testing.assert_array_equal(whole([token, a[:2], a[2:]]), a)
    texts = ["a b", "c d"]  # a user's list of rows is data, not blocks
    assert rows_of(texts) is texts and whole(texts) is texts
    pairwise = np.arange(36.0).reshape(6, 6)  # a kernel's folds are cut in columns too
    train, test = np.array([0, 2, 5]), np.array([1, 3, 4])
    got = _fit.take_split(_blocks(pairwise, [4, 2]), train, test, pairwise=True)
    want = _fit.take_split(pairwise, train, test, pairwise=True)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_large_dask_arrays_are_placed_as_row_blocks_small_ones_whole(client):
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    backend = DistributedBackend(client)
    Xd, yd = _dask(X, Y)
    (x_h, x_blocks), (y_h, y_blocks) = backend.place_rows(Xd, yd)
    try:
        assert len(x_blocks) == 3 and len(y_blocks) == 3
        assert x_h[1:] == x_blocks and y_h[1:] == y_blocks and x_h[0] is y_h[0]  # one token for both
        np.testing.assert_array_equal(np.concatenate(client.gather(x_blocks)), X)  # all columns in each block
    finally:
        backend.release([x_h[0], *x_blocks, *y_blocks])
    small = da.from_array(X, chunks=1_000)  # 96 KB blocks: concatenated once
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    for data in (small, frame, da.from_array(X, chunks=(36_000, 12))):
        [(h, blocks)] = backend.place_rows(data)
        assert blocks is None and not isinstance(h, list)
        backend.release([h])
    # X's blocks decide, not a y of one large chunk beside them
    big_y = da.from_array(np.arange(200_000, dtype=float))  # 1.6 MB, one chunk
    tiny_X = da.from_array(np.zeros((200_000, 2)), chunks=(2_000, 2))  # 32 KB blocks
    handles = backend.place_rows(tiny_X, big_y)
    assert [blocks for _, blocks in handles] == [None, None]
    backend.release([h for h, _ in handles])


def _same_as_sklearn(ours, ref):
    for key in ("mean_test_score", "split0_test_score", "split2_test_score", "rank_test_score", "mean_train_score"):
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("cv", ["stratified", "shuffle split", "mask"])
def test_search_on_row_blocks_equals_sklearn(client, cv):
    """KFold-like splits cut block by block; ShuffleSplit's rows come in any
    order; a user's splits may be boolean masks."""
    splits = {
        "stratified": list(sk.StratifiedKFold(3).split(X, Y)),
        "shuffle split": list(sk.ShuffleSplit(3, test_size=0.3, random_state=0).split(X)),
        "mask": [(np.arange(len(Y)) % 3 != k, np.arange(len(Y)) % 3 == k) for k in range(3)],
    }[cv]
    Xd, yd = _dask(X, Y)
    ours = GridSearchCV(LogisticRegression(), GRID, cv=splits, return_train_score=True).fit(Xd, yd)
    ref = sk.GridSearchCV(LogisticRegression(), GRID, cv=splits, return_train_score=True).fit(X, Y)
    _same_as_sklearn(ours, ref)
    np.testing.assert_allclose(ours.best_estimator_.coef_, ref.best_estimator_.coef_, rtol=1e-10, atol=1e-12)


def test_pipeline_prefix_and_numpy_y_on_row_blocks_equal_sklearn(client):
    """The leading steps fitted once per split cut their folds from the blocks
    too; y in memory beside an X in blocks."""
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": GRID["C"]}
    [Xd] = _dask(X)
    ours = RandomizedSearchCV(pipe, grid, n_iter=2, cv=3, return_train_score=True, random_state=0).fit(Xd, Y)
    ref = sk.RandomizedSearchCV(pipe, grid, n_iter=2, cv=3, return_train_score=True, random_state=0).fit(X, Y)
    _same_as_sklearn(ours, ref)


def test_non_finite_values_in_any_block_are_counted_before_any_fit(client):
    bad = X.copy()
    bad[5, 0] = bad[30_000, 3] = np.nan  # in the first and the last block
    Xd, yd = _dask(bad, Y)
    with pytest.raises(ValueError, match="X contains 2 NaN"):
        GridSearchCV(LogisticRegression(), GRID, cv=3).fit(Xd, yd)


def test_no_fold_stays_cached_after_fit(client):
    """Once fit returns, the workers drop the folds they cut, although the
    user's persisted blocks (the placed ones) stay. (That each block reaches
    a worker once: test_search.py's test_training_data_reach_each_worker_at_most_once.)"""
    from dask.distributed import wait

    Xd, yd = client.persist(_dask(X, Y, chunks=(12_000, 12)))  # the placed blocks are these
    wait([Xd, yd])
    search = GridSearchCV(SGDClassifier(max_iter=5, tol=None, random_state=0),
                          {"alpha": list(np.logspace(-5, -1, 10))}, cv=3).fit(Xd, yd)
    assert len(search.cv_results_["params"]) == 10
    deadline = time.monotonic() + 15  # (the workers hear of the released token a moment after fit returns)
    while not all(client.run(lambda: _fit.FOLDS._entry is None).values()):
        assert time.monotonic() < deadline, "a worker still holds a fold of a finished search"
        time.sleep(0.05)
    assert len(client.who_has(Xd)) == 3  # the user's array is still there (three blocks)
