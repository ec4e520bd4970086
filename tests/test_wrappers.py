"""wrappers.Incremental and wrappers.ParallelPostFit, against plain scikit-learn.

Reference results are plain loops of ``partial_fit`` over the same blocks in
the same order (each block computed with dask's synchronous scheduler): the
wrapper must give exactly the same model, with or without a cluster.
"""

from __future__ import annotations

import functools
import time
import warnings

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from distributed.diagnostics.plugin import SchedulerPlugin
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import StandardScaler

from dasklearn._runtime._blocks import fold_blocks
from dasklearn._runtime._compute import runs_in_one_task
from dasklearn.datasets import make_classification
from dasklearn.wrappers import Incremental, ParallelPostFit, _block_order, _partial_fit_block

CLASSES = np.array([0, 1])


def _data(n_blocks=6, rows=30_000, n_features=10):
    """Blocks large enough (~2.4 MB) for the per-block cluster path."""
    return make_classification(n_samples=n_blocks * rows, n_features=n_features, n_informative=4,
                               chunks=rows, random_state=0)


def _loop(est, parts, order, **kw):
    """The reference: partial_fit on block i of each part, in ``order``."""
    est = clone(est)
    for i in order:
        blocks = dask.compute(*(p.blocks[i] if hasattr(p, "blocks") else p.partitions[i]
                                for p in parts), scheduler="sync")
        est.partial_fit(*blocks, **kw)
    return est


def _assert_same_model(a, b):
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert a.t_ == b.t_


def _settle(client, deadline=10):
    """Number of scheduler tasks left that were not there when the test began
    (the session cluster is shared: other tests' data may still be held)."""
    from conftest import scheduler_keys

    end = time.time() + deadline
    while len(scheduler_keys(client) - BASELINE) and time.time() < end:
        time.sleep(0.05)
    return len(scheduler_keys(client) - BASELINE)


BASELINE: set = set()


@pytest.fixture(autouse=True)
def _scheduler_baseline(request):
    """Keys on the shared scheduler before each cluster test."""
    from conftest import scheduler_keys

    BASELINE.clear()
    if "client" in request.fixturenames:
        BASELINE.update(scheduler_keys(request.getfixturevalue("client")))


# ---------------------------------------------------------------- exactness
def test_incremental_on_cluster_equals_partial_fit_loop(client):
    X, y = _data()
    assert not runs_in_one_task([X, y])  # the per-block chain, not the one-task path
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], range(6), classes=CLASSES))
    assert inc.n_blocks_ == 6 and inc.n_features_in_ == 10
    assert_array_equal(inc.classes_, CLASSES)
    assert not hasattr(est, "coef_")  # the given estimator is left untouched



def test_group_policy():
    from dasklearn._runtime._blocks import GROUP_BYTES, MAX_GROUP, block_bytes, consecutive_groups

    X, y = da.zeros((6000, 10), chunks=(1000, 10)), da.zeros(6000, chunks=1000)
    assert block_bytes([X, y]) == [88_000] * 6
    per_group = GROUP_BYTES // 88_000
    groups = consecutive_groups(list(range(100)) * 2, [88_000] * 100)
    assert [b for g in groups for b in g] == list(range(100)) * 2  # the order, cut
    assert {len(g) for g in groups[:-1]} == {per_group}  # across the end of a pass too
    assert consecutive_groups(range(200), [80] * 200)[0] == tuple(range(MAX_GROUP))
    # a block of 1 MiB or more is a group of its own, wherever it is: uneven
    # chunks do not make groups of large blocks (their mean would be small)
    sizes = [10] * 4 + [2 << 20] + [10] * 3
    assert consecutive_groups(range(8), sizes) == [(0, 1, 2, 3), (4,), (5, 6, 7)]
    big_small = [900_000, 900_000, 900_000, 900_000, 900_000]
    assert all(sum(big_small[b] for b in g) <= GROUP_BYTES for g in consecutive_groups(range(5), big_small))
    assert consecutive_groups([3, 1], None) == [(3,), (1,)]  # sizes unknown: one block a group
    frame = dd.from_pandas(pd.DataFrame({"a": np.zeros(600)}), npartitions=60)
    assert block_bytes([frame]) is None
    assert block_bytes([frame.to_dask_array()]) is None  # unknown chunks
    assert block_bytes([da.from_array(np.array(["x" * 1000] * 60, dtype=object), chunks=6)]) is None


def test_small_persisted_blocks_are_stepped_through_in_groups(client):
    """Persisted input takes the per-block path whatever its size: 120 steps
    of tiny blocks were 120 tasks (14x slower than the same fit's numbers
    here). Consecutive steps now share a task, with the same model."""
    from distributed import get_task_stream, wait

    from dasklearn._runtime._blocks import GROUP_BYTES

    rows = 2000  # 176 kB a block: 23 a task
    X, y = client.persist(list(make_classification(n_samples=60 * rows, n_features=10, n_informative=4,
                                                   chunks=rows, random_state=0)))
    wait([X, y])
    group = GROUP_BYTES // (X.blocks[0].nbytes + y.blocks[0].nbytes)
    assert 1 < group < 60
    with get_task_stream(client) as stream:
        inc = Incremental(SGDClassifier(random_state=0), random_state=0, epochs=2).fit(X, y, classes=CLASSES)
    steps = {t["key"] for t in stream.data if str(t["key"]).startswith("dasklearn-partial-fit")}
    assert len(steps) == -(-120 // group)
    Xn, yn = X.compute(), y.compute()
    ref = SGDClassifier(random_state=0)
    for b in np.concatenate([_block_order(60, e, True, 0) for e in range(2)]):
        ref.partial_fit(Xn[b * rows:(b + 1) * rows], yn[b * rows:(b + 1) * rows], classes=CLASSES)
    _assert_same_model(inc.estimator_, ref)


def test_lineage_shared_by_blocks_is_reported(client):
    """Each block's lineage runs in its own task: a global statistic in it
    would be recomputed for every block, and the user is told how to avoid it.
    Block-local lineage (generated data) gives no warning."""
    import warnings

    from dask.array import PerformanceWarning

    X, y = _data(n_blocks=4)
    est = SGDClassifier(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerformanceWarning)
        Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES)
    with pytest.warns(PerformanceWarning, match=r"X = X.persist\(\)"):
        centred = Incremental(est, shuffle_blocks=False).fit(X - X.mean(0), y, classes=CLASSES)
    _assert_same_model(centred.estimator_, _loop(est, [X - X.mean(0), y], range(4), classes=CLASSES))

def test_shuffled_epochs_follow_the_documented_order(client):
    X, y = _data(n_blocks=4)
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=True, random_state=3, epochs=2).fit(X, y, classes=CLASSES)
    order = np.concatenate([np.random.default_rng([3, e]).permutation(4) for e in range(2)])
    assert not np.array_equal(order[:4], np.arange(4))
    _assert_same_model(inc.estimator_, _loop(est, [X, y], order, classes=CLASSES))
    # reproducible
    again = Incremental(est, random_state=3, epochs=2).fit(X, y, classes=CLASSES)
    _assert_same_model(again.estimator_, inc.estimator_)


def test_block_order_policy():
    assert_array_equal(_block_order(4, 0, False, None), np.arange(4))
    assert not np.array_equal(_block_order(20, 0, True, 3), _block_order(20, 0, True, 4))
    assert not np.array_equal(_block_order(20, 0, True, 3), _block_order(20, 1, True, 3))
    assert_array_equal(_block_order(5, 2, True, 7), np.random.default_rng([7, 2]).permutation(5))
    assert sorted(_block_order(9, 1, True, 0)) == list(range(9))


def test_incremental_without_client_equals_loop():
    X, y = _data(n_blocks=4, rows=2_000)
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, random_state=0, epochs=2).fit(X, y, classes=CLASSES)
    order = np.concatenate([_block_order(4, e, True, 0) for e in range(2)])
    _assert_same_model(inc.estimator_, _loop(est, [X, y], order, classes=CLASSES))


def test_small_input_runs_in_one_task_with_same_result(client):
    X, y = _data(n_blocks=8, rows=500)
    assert runs_in_one_task([X, y])
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False, epochs=2).fit(X, y, classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], list(range(8)) * 2, classes=CLASSES))


def test_partial_fit_streams_and_continues(client):
    X, y = _data(n_blocks=4)
    est = SGDClassifier(random_state=0)
    first, second = (X[:60_000], y[:60_000]), (X[60_000:], y[60_000:])
    inc = Incremental(est, shuffle_blocks=True, random_state=4)
    inc.partial_fit(*first, classes=CLASSES)
    inc.partial_fit(*second)  # classes already known
    # each call one more pass, in that pass's order (as dask-ml's partial_fit shuffles its blocks)
    order = [*_block_order(2, 0, True, 4), *(2 + _block_order(2, 1, True, 4))]
    assert order == [1, 0, 3, 2]  # (seed 4: neither pass in block order)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], order, classes=CLASSES))
    in_order = Incremental(est, shuffle_blocks=False).partial_fit(*first, classes=CLASSES).partial_fit(*second)
    _assert_same_model(in_order.estimator_, _loop(est, [X, y], range(4), classes=CLASSES))
    # fit starts again from scratch
    inc.fit(*second, classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], 2 + _block_order(2, 0, True, 4), classes=CLASSES))


def test_fit_then_partial_fit_is_fit_with_one_more_epoch(client):
    """partial_fit goes on with the next pass's block order (shuffle_blocks)."""
    X, y = _data(n_blocks=4, rows=2_000)
    est = SGDClassifier(random_state=0)
    two = Incremental(est, random_state=4, epochs=2).fit(X, y, classes=CLASSES)
    one_more = Incremental(est, random_state=4).fit(X, y, classes=CLASSES).partial_fit(X, y)
    _assert_same_model(one_more.estimator_, two.estimator_)
    assert list(_block_order(4, 1, True, 4)) == [1, 2, 3, 0]  # (seed 4: pass 1 not in block order)


def test_partial_fit_after_shuffle_blocks_is_switched_on(client):
    """fit without shuffling, then set_params(shuffle_blocks=True): the next
    pass draws its seed (there was none to go on with)."""
    X, y = _data(n_blocks=4, rows=2_000)
    inc = Incremental(SGDClassifier(random_state=0), shuffle_blocks=False, random_state=4)
    inc.fit(X, y, classes=CLASSES).set_params(shuffle_blocks=True).partial_fit(X, y)
    ref = _loop(SGDClassifier(random_state=0), [X, y], [*range(4), *_block_order(4, 1, True, 4)], classes=CLASSES)
    _assert_same_model(inc.estimator_, ref)


def test_unknown_chunk_sizes(client):
    X, y = _data(n_blocks=4, rows=2_000)
    keep = X[:, 0] > -0.5
    Xu, yu = X[keep], y[keep]
    assert np.isnan(Xu.shape[0])
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(Xu, yu, classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [Xu, yu], range(4), classes=CLASSES))


def test_persisted_input(client):
    X, y = _data(n_blocks=4, rows=2_000)
    Xp, yp = client.persist([X, y])
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(Xp, yp, classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], range(4), classes=CLASSES))


def test_column_chunks_are_joined_and_sample_weight_is_split(client):
    X, y = _data(n_blocks=4, rows=2_000)
    w = da.random.default_rng(1).uniform(0.5, 1.5, size=y.shape, chunks=y.chunks)
    Xc = X.rechunk({1: 5})
    est = SGDClassifier(random_state=0)
    ref = clone(est)
    for i in range(4):
        xb, yb, wb = dask.compute(X.blocks[i], y.blocks[i], w.blocks[i], scheduler="sync")
        ref.partial_fit(xb, yb, classes=CLASSES, sample_weight=wb)
    inc = Incremental(est, shuffle_blocks=False).fit(Xc, y, classes=da.unique(y), sample_weight=w)
    _assert_same_model(inc.estimator_, ref)
    # a numpy sample_weight is split like X, as a numpy y is
    inc = Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES, sample_weight=w.compute())
    _assert_same_model(inc.estimator_, ref)


def _frame(n=4_000, npartitions=4):
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, chunks=n, random_state=1)
    pdf = pd.DataFrame(X.compute(), columns=[f"f{i}" for i in range(5)])
    pdf["target"] = y.compute()
    df = dd.from_pandas(pdf, npartitions=npartitions)
    return df[[f"f{i}" for i in range(5)]], df["target"], pdf


def test_dask_dataframe_and_series(client):
    X, y, pdf = _frame()
    est = SGDClassifier(loss="log_loss", random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES)
    ref = _loop(est, [X, y], range(X.npartitions), classes=CLASSES)
    _assert_same_model(inc.estimator_, ref)
    assert list(inc.feature_names_in_) == [f"f{i}" for i in range(5)]
    X_np = pdf[list(X.columns)]

    pred = inc.predict(X)
    assert isinstance(pred, dd.Series) and pred.npartitions == X.npartitions
    assert pred._meta.dtype == np.int64
    out = pred.compute()
    assert out.dtype == np.int64
    assert_array_equal(out.to_numpy(), ref.predict(X_np))
    assert_array_equal(out.index, pdf.index)

    proba = inc.predict_proba(X)
    assert isinstance(proba, dd.DataFrame) and list(proba.columns) == [0, 1]
    # same numbers up to rounding (a partition's values are laid out differently)
    assert_allclose(proba.compute().to_numpy(), ref.predict_proba(X_np), rtol=1e-12, atol=1e-15)
    assert inc.score(X, y) == ref.score(X_np, pdf["target"])


def test_numpy_input_is_one_block_fitted_here(client):
    X, y = _data(n_blocks=1, rows=3_000)
    X_np, y_np = X.compute(), y.compute()
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, epochs=3).fit(X_np, y_np, classes=CLASSES)
    ref = clone(est)
    for _ in range(3):
        ref.partial_fit(X_np, y_np, classes=CLASSES)
    _assert_same_model(inc.estimator_, ref)
    assert inc.n_blocks_ == 1
    assert isinstance(inc.predict(X_np), np.ndarray)


def test_numpy_y_is_split_like_a_dask_x():
    X, y = _data(n_blocks=3, rows=1_000)
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(X, y.compute(), classes=CLASSES)
    _assert_same_model(inc.estimator_, _loop(est, [X, y], range(3), classes=CLASSES))


# ------------------------------------------------------- post-fit, blockwise
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_post_fit_methods_are_blockwise_and_match_in_memory(client):
    X, y = _data(n_blocks=4, rows=2_000)
    X_np, y_np = X.compute(), y.compute()
    inc = Incremental(SGDClassifier(loss="log_loss", random_state=0), shuffle_blocks=False)
    inc.fit(X, y, classes=CLASSES)
    est = inc.estimator_
    for method, ncols, dtype in [("predict", None, np.int64), ("predict_proba", 2, np.float64),
                                 ("predict_log_proba", 2, np.float64),
                                 ("decision_function", None, np.float64)]:
        out = getattr(inc, method)(X)
        assert isinstance(out, da.Array), method
        assert out.chunks[0] == X.chunks[0], method
        assert out.dtype == dtype and out._meta.dtype == dtype, method
        assert out.ndim == (1 if ncols is None else 2), method
        if ncols:
            assert out.chunks[1] == (ncols,)
        assert_array_equal(out.compute(), getattr(est, method)(X_np))
    assert inc.score(X, y) == est.score(X_np, y_np)
    assert inc.score(X_np, y_np) == est.score(X_np, y_np)
    scored = Incremental(SGDClassifier(random_state=0), scoring="balanced_accuracy", shuffle_blocks=False)
    scored.fit(X, y, classes=CLASSES)
    from sklearn.metrics import balanced_accuracy_score

    assert scored.score(X, y) == balanced_accuracy_score(y_np, scored.estimator_.predict(X_np))


def test_incremental_transformer(client):
    X, _ = _data(n_blocks=4, rows=2_000)
    inc = Incremental(StandardScaler(), shuffle_blocks=False).fit(X)
    ref = _loop(StandardScaler(), [X], range(4))
    assert_array_equal(inc.estimator_.mean_, ref.mean_)
    assert_array_equal(inc.estimator_.var_, ref.var_)
    assert_allclose(inc.estimator_.mean_, X.compute().mean(axis=0), rtol=1e-10)
    out = inc.transform(X)
    assert isinstance(out, da.Array) and out.chunks == X.chunks and out.dtype == np.float64
    assert_array_equal(out.compute(), ref.transform(X.compute()))
    assert not hasattr(inc, "predict")


@pytest.mark.parametrize("with_client", [True, False])
def test_parallel_post_fit_equals_plain_estimator(with_client, request):
    if with_client:
        request.getfixturevalue("client")
    X, y = _data(n_blocks=4, rows=1_000)
    X_np, y_np = X.compute(), y.compute()
    ref = LogisticRegression().fit(X_np, y_np)
    for Xin, yin in [(X, y), (X_np, y_np)]:
        ppf = ParallelPostFit(LogisticRegression()).fit(Xin, yin)
        # with a Client the fit runs on a worker (one BLAS thread): rounding differs
        assert_allclose(ppf.estimator_.coef_, ref.coef_, rtol=1e-10)
        est = ppf.estimator_
        assert_array_equal(ppf.predict_proba(X).compute(), est.predict_proba(X_np))
        assert_array_equal(ppf.predict(X_np), est.predict(X_np))
        assert ppf.score(X, y) == est.score(X_np, y_np)
        assert ppf.n_features_in_ == 10 and is_classifier(ppf)
    reg = ParallelPostFit(LinearRegression())
    assert not hasattr(reg, "predict_proba")
    assert_allclose(reg.fit(X, y.astype(float)).predict(X).compute(),
                    LinearRegression().fit(X_np, y_np.astype(float)).predict(X_np), rtol=1e-12)


def test_parallel_post_fit_dataframe_fit(client):
    X, y, pdf = _frame()
    ppf = ParallelPostFit(LogisticRegression()).fit(X, y)
    ref = LogisticRegression().fit(pdf[list(X.columns)], pdf["target"])
    assert_allclose(ppf.estimator_.coef_, ref.coef_, rtol=1e-10)
    assert list(ppf.feature_names_in_) == list(X.columns)


# ------------------------------------------------------------- memory bound
class _PeakMemory(SchedulerPlugin):
    """Scheduler plugin: peak of the bytes held in worker memory at once."""

    name = "dasklearn-test-peak-memory"

    def start(self, scheduler):
        self.scheduler, self.sizes, self.current, self.peak = scheduler, {}, 0, 0

    def transition(self, key, start, finish, *args, **kwargs):
        if finish == "memory" and key not in self.sizes:
            ts = self.scheduler.tasks.get(key)
            size = ts.nbytes if ts is not None and ts.nbytes > 0 else 0
            self.sizes[key] = size
            self.current += size
            self.peak = max(self.peak, self.current)
        elif start == "memory" and key in self.sizes:
            self.current -= self.sizes.pop(key)


def test_blocks_alive_never_exceed_the_window(client):
    plugin = _PeakMemory()
    X, y = _data(n_blocks=8)
    block_bytes = X.blocks[0].nbytes + y.blocks[0].nbytes
    step = functools.partial(_partial_fit_block, has_y=True, block_kw=(), static_kw={"classes": CLASSES})
    alive = []
    client.register_plugin(plugin)
    try:
        model = fold_blocks(step, SGDClassifier(random_state=0), [X, y], range(8), window=2,
                            monitor=alive.append)
        peak = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins[plugin.name].peak)
    finally:
        client.unregister_scheduler_plugin(plugin.name)
    _assert_same_model(model, _loop(SGDClassifier(random_state=0), [X, y], range(8), classes=CLASSES))
    assert max(alive) == 2 and alive[-1] == 0  # the window was used, and never exceeded
    # measured: 3 blocks of X + y at most (a generated [X | y] lives briefly
    # beside its X and y slices); the data are 8 blocks
    assert peak <= 2 * 2 * block_bytes + (1 << 20), (peak, block_bytes)
    assert peak < 8 * block_bytes / 2


def test_default_window_is_two_blocks_per_one_thread_worker(client):
    X, y = _data(n_blocks=6)
    step = functools.partial(_partial_fit_block, has_y=True, block_kw=(), static_kw={"classes": CLASSES})
    alive = []
    fold_blocks(step, SGDClassifier(random_state=0), [X, y], range(6), monitor=alive.append)
    assert max(alive) == 2 * len(client.nthreads())


def test_lost_worker_is_a_loss_to_recover_from_not_a_wait():
    """A worker holding a block, a pending step or the latest state that is no
    longer a member is a loss; a departed worker holding nothing is dropped,
    and one that joined is taken in."""
    from dasklearn._runtime._blocks import _Block, _ClusterFold, _WorkerLost

    class Members:
        workers = {"tcp://a": 1, "tcp://b": 1}

        def nthreads(self):
            return dict(self.workers)

    members = Members()
    fold = _ClusterFold(members, lambda s: s, [], (), None, None, pin_blocks=True)
    assert fold.window == 4
    fold.alive = {0: _Block(None, "tcp://a")}
    members.workers = {"tcp://a": 1, "tcp://c": 1}  # b left holding nothing, c joined
    fold._check()
    assert set(fold.alive_on) == {"tcp://a", "tcp://c"} and fold.window == 4
    members.workers = {"tcp://c": 1}
    with pytest.raises(_WorkerLost, match="tcp://a left the cluster"):
        fold._check()

    class Future:
        key = "step"

        def __init__(self, status):
            self.status = status

    fold.alive = {}
    fold.steps = {1: (Future("pending"), "tcp://c")}
    fold._check()  # its worker is there: fine
    fold.steps = {1: (Future("cancelled"), "tcp://c")}  # an input died with a worker
    with pytest.raises(_WorkerLost, match="cancelled"):
        fold._check()
    fold.steps, fold.done = {}, (0, Future("finished"), "tcp://a")  # the latest state's worker left
    with pytest.raises(_WorkerLost, match="tcp://a left"):
        fold._check()


# ---------------------------------------------------------------- errors
def test_estimator_without_partial_fit():
    X, y = _data(n_blocks=2, rows=100)
    with pytest.raises(TypeError, match="partial_fit.*ParallelPostFit.*model_selection"):
        Incremental(LogisticRegression()).fit(X, y)


def test_parameters_are_validated_at_fit():
    X, y = _data(n_blocks=2, rows=100)
    inc = Incremental(SGDClassifier(), epochs=0)  # constructing never fails
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        inc.fit(X, y, classes=CLASSES)
    with pytest.raises(ValueError, match="random_state"):
        Incremental(SGDClassifier(), random_state="seed").fit(X, y, classes=CLASSES)
    with pytest.raises(ValueError, match="shuffle_blocks"):
        Incremental(SGDClassifier(), shuffle_blocks="yes").fit(X, y, classes=CLASSES)
    with pytest.raises(ValueError, match="Invalid scoring"):
        Incremental(SGDClassifier(), scoring="not-a-scorer").fit(X, y, classes=CLASSES)
    with pytest.raises(ValueError, match="needs classes="):
        Incremental(SGDClassifier()).fit(X, y)


def test_block_structure_mismatch_says_how_to_fix():
    X, y = _data(n_blocks=4, rows=100)
    with pytest.raises(ValueError, match=r"4 row blocks but y has 2.*rechunk"):
        Incremental(SGDClassifier()).fit(X, y.rechunk(200), classes=CLASSES)
    with pytest.raises(ValueError, match=r"different row chunks.*rechunk"):
        Incremental(SGDClassifier()).fit(X, y.rechunk(((50, 150, 100, 100),)), classes=CLASSES)
    Xf, yf, _ = _frame(n=400)
    with pytest.raises(ValueError, match="repartition"):
        Incremental(SGDClassifier()).fit(Xf, yf.repartition(npartitions=2), classes=CLASSES)
    with pytest.raises(ValueError, match="different divisions"):
        Incremental(SGDClassifier()).fit(Xf, yf.repartition(divisions=[0, 50, 200, 300, 399]),
                                         classes=CLASSES)
    with pytest.raises(ValueError, match="dask collection split like X"):
        Incremental(SGDClassifier()).fit(Xf, yf.compute().to_numpy(), classes=CLASSES)


def test_block_length_mismatch_with_unknown_chunks(client):
    X, y = _data(n_blocks=2, rows=30_000)
    Xu, yu = X[X[:, 0] > 0], y[X[:, 1] > 0]
    with pytest.raises(ValueError, match="rows but the matching block of y has"):
        Incremental(SGDClassifier()).fit(Xu, yu, classes=CLASSES)
    assert _settle(client) == 0


def test_failing_partial_fit_propagates_and_cleans_up(client):
    X, y = _data(n_blocks=6)
    bad = da.where(da.arange(X.shape[0], chunks=X.chunks[0])[:, None] == 100_000, np.nan, X)
    with pytest.raises(ValueError, match="NaN"):
        Incremental(SGDClassifier(), shuffle_blocks=False).fit(bad, y, classes=CLASSES)
    assert _settle(client) == 0
    assert client.submit(np.add, 1, 2).result() == 3


def test_unfitted_wrapper_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    X, _ = _data(n_blocks=2, rows=100)
    with pytest.raises(NotFittedError):
        Incremental(SGDClassifier()).predict(X)
    with pytest.raises(NotFittedError):
        ParallelPostFit(LogisticRegression()).predict(X)
    assert clone(Incremental(SGDClassifier(), epochs=3)).get_params()["epochs"] == 3


def test_a_prefitted_estimator_predicts_and_scores_until_the_wrapper_is_fitted(client):
    """As dask-ml: ParallelPostFit(pretrained).predict(dask X) uses it as it
    is (Incremental does not: its model is its own fit's)."""
    from sklearn.exceptions import NotFittedError

    X, y = _data(n_blocks=3, rows=100)
    Xn, yn = X.compute(), y.compute()
    pretrained = LogisticRegression().fit(Xn[:150], yn[:150])
    wrapped = ParallelPostFit(pretrained)
    np.testing.assert_array_equal(wrapped.predict(X).compute(), pretrained.predict(Xn))
    np.testing.assert_allclose(wrapped.predict_proba(X).compute(), pretrained.predict_proba(Xn))
    assert wrapped.score(X, y) == pretrained.score(Xn, yn)
    np.testing.assert_array_equal(wrapped.classes_, pretrained.classes_)
    refit = wrapped.fit(Xn, yn)  # then its own fit's model, on a clone
    assert refit.estimator_ is not pretrained and refit.score(X, y) == LogisticRegression().fit(Xn, yn).score(Xn, yn)
    with pytest.raises(NotFittedError):
        Incremental(SGDClassifier().fit(Xn, yn)).predict(X)


def test_parallel_post_fit_partial_fit_continues_in_memory(client):
    """dask-ml's ParallelPostFit.partial_fit: one call on the whole input
    (computed first), continuing from the current model."""
    X, y = _data(n_blocks=3, rows=100)
    Xn, yn = X.compute(), y.compute()
    wrapped = ParallelPostFit(SGDClassifier(random_state=0))
    wrapped.partial_fit(X, y, classes=[0, 1]).partial_fit(Xn, yn)
    loop = SGDClassifier(random_state=0).partial_fit(Xn, yn, classes=[0, 1]).partial_fit(Xn, yn)
    np.testing.assert_array_equal(wrapped.coef_, loop.coef_)
    assert wrapped.estimator is not wrapped.estimator_
    assert not hasattr(ParallelPostFit(LogisticRegression()), "partial_fit")


def test_parallel_post_fit_partial_fit_continues_a_prefitted_estimator(client):
    """A fitted estimator wrapped, then partial_fit: it continues from what
    it learned, as in dask-ml and a plain loop (before: a fresh clone, which
    threw the trained model away), and the given estimator is not changed."""
    X, y = _data(n_blocks=3, rows=100)
    Xn, yn = X.compute(), y.compute()
    pretrained = SGDClassifier(random_state=0).fit(Xn[:250], yn[:250])
    before = pretrained.coef_.copy()
    wrapped = ParallelPostFit(pretrained).partial_fit(X[250:], y[250:])
    loop = clone(pretrained).fit(Xn[:250], yn[:250]).partial_fit(Xn[250:], yn[250:])
    assert_array_equal(wrapped.coef_, loop.coef_)
    assert_array_equal(pretrained.coef_, before) and wrapped.estimator_ is not pretrained


class _ForgetsReturnSelf(SGDClassifier):
    def fit(self, X, y, **kw):
        super().fit(X, y, **kw)

    def partial_fit(self, X, y, **kw):
        super().partial_fit(X, y, **kw)


def test_parallel_post_fit_does_not_need_fit_to_return_self(client):
    """scikit-learn's meta-estimators ignore what fit returns; so does the wrapper
    (before: 'vars() argument must have __dict__ attribute')."""
    X, y = _data(n_blocks=3, rows=100)
    Xn, yn = X.compute(), y.compute()
    for fitted in (ParallelPostFit(_ForgetsReturnSelf(random_state=0)).fit(X, y),
                   ParallelPostFit(_ForgetsReturnSelf(random_state=0)).partial_fit(Xn, yn, classes=[0, 1])):
        assert isinstance(fitted.estimator_, _ForgetsReturnSelf) and fitted.coef_.shape == (1, Xn.shape[1])


# ------------------------------------------------- scikit-learn's own checks
@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("wrapper", [Incremental(SGDClassifier(random_state=0), random_state=0),
                                     Incremental(StandardScaler()),
                                     ParallelPostFit(GaussianNB())],
                         ids=lambda w: f"{type(w).__name__}({type(w.estimator).__name__})")
def test_scikit_learn_estimator_checks(wrapper):
    """On in-memory data the wrappers behave as scikit-learn estimators."""
    from sklearn.utils.estimator_checks import check_estimator

    failed = [r for r in check_estimator(wrapper, on_fail=None) if r["status"] == "failed"]
    assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]


# ------------------------------------------- blockwise methods: odd inputs
def _text_and_labels():
    rng = np.random.RandomState(0)
    words = ["good", "bad", "great", "awful", "fine", "meh"]
    docs = [" ".join(rng.choice(words, 5)) for _ in range(90)]
    labels = np.array([sum(w in ("good", "great", "fine") for w in d.split()) >= 3 for d in docs]).astype(int)
    return docs, labels


def test_blockwise_methods_on_empty_blocks_strings_and_categories(client):
    """Filtered data leave blocks with no rows; string and category columns,
    text and encoders fitted on values other than zero cannot take a made-up
    row of zeros: every method still gives what the estimator gives in memory."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.randn(100), "b": rng.randn(100)})
    y = (frame.a + frame.b > 0).astype(int).to_numpy()
    model = ParallelPostFit(LogisticRegression()).fit(frame, y)
    ddf = dd.from_pandas(frame, npartitions=4)
    kept = ddf.map_partitions(lambda part: part[part.index >= 50])  # two partitions left with no rows
    X = da.from_array(frame.to_numpy(), chunks=25)
    X_kept = X[da.from_array(np.arange(100) >= 50, chunks=25)].compute_chunk_sizes()
    assert 0 in X_kept.chunks[0]
    for method in ("predict", "predict_proba", "decision_function"):
        want = getattr(model.estimator_, method)(frame[50:])
        assert_allclose(np.asarray(getattr(model, method)(kept).compute()), want)
        assert_allclose(getattr(model, method)(X_kept).compute(), want)

    # codes 1..3: a zero is a category the encoder never saw; log(0) is -inf
    codes = rng.randint(1, 4, size=(90, 1)).astype(float)
    labels = (codes[:, 0] > 1.5).astype(int)
    for steps in ([OneHotEncoder(), LogisticRegression()], [FunctionTransformer(np.log), LogisticRegression()]):
        model = ParallelPostFit(make_pipeline(*steps)).fit(codes, labels)
        assert_array_equal(model.predict(da.from_array(codes, chunks=30)).compute(),
                           model.estimator_.predict(codes))

    # text: a dask Series and a 1-D dask array of strings
    docs, labels = _text_and_labels()
    model = ParallelPostFit(make_pipeline(TfidfVectorizer(), LogisticRegression())).fit(docs, labels)
    for X_text in (dd.from_pandas(pd.Series(docs), npartitions=3),
                   da.from_array(np.array(docs, dtype=object), chunks=30)):
        assert_array_equal(np.asarray(model.predict(X_text).compute()), model.estimator_.predict(docs))
        assert_allclose(np.asarray(model.predict_proba(X_text).compute()), model.estimator_.predict_proba(docs))

    # string and category columns
    cat = pd.DataFrame({"c": pd.Categorical(rng.choice(["x", "y", "z"], 90)),
                        "s": pd.array(rng.choice(["p", "q"], 90), dtype="string")})
    labels = (cat.c == "x").to_numpy().astype(int)
    model = ParallelPostFit(make_pipeline(OneHotEncoder(), LogisticRegression())).fit(cat, labels)
    got = model.predict_proba(dd.from_pandas(cat, npartitions=3)).compute()
    assert_allclose(np.asarray(got), model.estimator_.predict_proba(cat))


def test_the_output_probe_shows_only_the_warnings_of_the_users_data(client):
    """The blockwise output probe tries a made-up row of zeros: its warnings
    (log(0)) are not the user's and are not shown. The warnings of the
    user's own data are, as scikit-learn shows them in memory."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    codes = np.random.RandomState(0).randint(1, 4, size=(90, 1)).astype(float)
    labels = (codes[:, 0] > 1.5).astype(int)
    model = ParallelPostFit(make_pipeline(FunctionTransformer(np.log), LogisticRegression())).fit(codes, labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = model.predict(da.from_array(codes, chunks=30))
    assert [str(w.message) for w in caught] == []
    assert_array_equal(got.compute(), model.estimator_.predict(codes))

    model = ParallelPostFit(LogisticRegression()).fit(pd.DataFrame(codes, columns=["c"]), labels)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(da.from_array(codes, chunks=30))


def test_transform_of_a_dask_dataframe_names_its_columns_as_the_transformer_does(client):
    from sklearn.decomposition import PCA

    frame = pd.DataFrame(np.random.RandomState(0).randn(60, 3), columns=["a", "b", "c"])
    ddf = dd.from_pandas(frame, npartitions=3)
    for est, names in [(StandardScaler(), ["a", "b", "c"]), (PCA(n_components=2), ["pca0", "pca1"])]:
        model = ParallelPostFit(est).fit(frame)
        got = model.transform(ddf)
        assert list(got.columns) == names
        assert_allclose(got.compute().to_numpy(), model.estimator_.transform(frame))


def test_sparse_output_on_dask_input_is_a_clear_error(client):
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs, _ = _text_and_labels()
    model = ParallelPostFit(TfidfVectorizer()).fit(docs)
    with pytest.raises(TypeError, match=r"TfidfVectorizer\.transform returns a sparse matrix.*dense"):
        model.transform(dd.from_pandas(pd.Series(docs), npartitions=3))
