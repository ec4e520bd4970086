"""Incremental and the block fold: classes, empty blocks, scalar fit
parameters, worker placement, state fetches, per-block graph cost, the
shared-lineage warning and the no-worker start."""

from __future__ import annotations

import concurrent.futures as cf
import sys
import time
import warnings

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask.array import PerformanceWarning
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import SGDClassifier

from dasklearn._runtime import _blocks
from dasklearn._runtime._compute import runs_in_one_task
from dasklearn.datasets import make_classification
from dasklearn.wrappers import Incremental, _block_order, _partial_fit_block

from test_wrappers import _assert_same_model, _data, _loop, _scheduler_baseline  # noqa: F401

CLASSES = np.array([0, 1])


class _Members:
    """The part of a Client that the fold's bookkeeping uses."""

    def __init__(self, workers):
        self.workers = dict(workers)
        self.submitted = 0

    def nthreads(self):
        return dict(self.workers)

    def submit(self, *args, **kwargs):
        self.submitted += 1


# ------------------------------------------------------------------ classes
def test_partial_fit_needs_classes_on_the_first_call():
    """As scikit-learn: no classes taken from the first batch's labels."""
    X, y = _data(n_blocks=2, rows=100)
    X_np, y_np = X.compute(), y.compute()
    for X_in, y_in in [(X_np, y_np), (X, y)]:
        with pytest.raises(ValueError, match=r"partial_fit needs classes= on its first call.*"
                                             r"got no classes=.*classes=np.unique"):
            Incremental(SGDClassifier(random_state=0)).partial_fit(X_in, y_in)
    inc = Incremental(SGDClassifier(random_state=0)).partial_fit(X_np[:5], y_np[:5], classes=CLASSES)
    inc.partial_fit(X_np[5:], y_np[5:])  # later calls need not repeat it
    ref = SGDClassifier(random_state=0).partial_fit(X_np[:5], y_np[:5], classes=CLASSES)
    _assert_same_model(inc.estimator_, ref.partial_fit(X_np[5:], y_np[5:]))
    assert_array_equal(inc.classes_, CLASSES)
    # fit still takes the classes of an in-memory y
    fitted = Incremental(SGDClassifier(random_state=0)).fit(X_np, y_np)
    assert_array_equal(fitted.classes_, CLASSES)


def test_fit_takes_classes_from_an_in_memory_y_whatever_x_is():
    X, y = _data(n_blocks=3, rows=1_000)
    est = SGDClassifier(random_state=0)
    inc = Incremental(est, shuffle_blocks=False).fit(X, y.compute())  # dask X, numpy y
    _assert_same_model(inc.estimator_, _loop(est, [X, y], range(3), classes=CLASSES))
    with pytest.raises(ValueError, match=r"fit needs classes= when y is a dask collection"):
        Incremental(est).fit(X, y)


# ------------------------------------------------------------- empty blocks
def _loop_skipping_empty(est, parts, order, **kw):
    est = clone(est)
    for i in order:
        blocks = dask.compute(*(p.blocks[i] if hasattr(p, "blocks") else p.partitions[i]
                                for p in parts), scheduler="sync")
        if len(blocks[0]):
            est.partial_fit(*blocks, **kw)
    return est


def _with_empty_blocks():
    """An unknown-chunk array and a dask DataFrame, both with empty blocks."""
    X, y = _data(n_blocks=4, rows=30_000)
    keep = da.arange(X.shape[0], chunks=X.chunks[0]) >= 60_000  # blocks 0 and 1 emptied
    pdf = pd.DataFrame(X[:20_000].compute(), columns=[f"f{i}" for i in range(10)])
    pdf["target"] = y[:20_000].compute()
    pdf["row"] = np.arange(20_000)
    df = dd.from_pandas(pdf, npartitions=4)
    df = df[df["row"] >= 10_000]  # partitions 0 and 1 emptied
    return (X[keep], y[keep]), (df[[f"f{i}" for i in range(10)]], df["target"])


@pytest.mark.parametrize("with_client", [False, True])
def test_empty_blocks_are_skipped(with_client, request):
    if with_client:
        request.getfixturevalue("client")
    est = SGDClassifier(random_state=0)
    for X, y in _with_empty_blocks():
        inc = Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES)
        _assert_same_model(inc.estimator_, _loop_skipping_empty(est, [X, y], range(4), classes=CLASSES))
        assert inc.n_blocks_ == 4


@pytest.mark.parametrize("with_client", [False, True])
def test_only_empty_blocks_raise_like_scikit_learn(with_client, request):
    """No sample at all: a ValueError, not an unfitted estimator_ (scikit-learn
    rejects 0 samples); a fitted model given only empty blocks keeps what it learned."""
    if with_client:
        request.getfixturevalue("client")
    X, y = _data(n_blocks=3, rows=100)
    none = da.arange(X.shape[0], chunks=X.chunks[0]) < 0
    for method in ("fit", "partial_fit"):
        with pytest.raises(ValueError, match="Every one of the 3 row blocks of X was empty"):
            getattr(Incremental(SGDClassifier(random_state=0)), method)(X[none], y[none], classes=CLASSES)
        # block sizes known to be zero: said before any work
        with pytest.raises(ValueError, match="row blocks of X was empty"):
            getattr(Incremental(SGDClassifier(random_state=0)), method)(X[:0], y[:0], classes=CLASSES)
    inc = Incremental(SGDClassifier(random_state=0)).partial_fit(X, y, classes=CLASSES)
    before = inc.estimator_.coef_.copy()
    inc.partial_fit(X[none], y[none])
    np.testing.assert_array_equal(inc.estimator_.coef_, before)


class _RowCounter(BaseEstimator):
    """Keeps its state without a trailing underscore (check_is_fitted cannot see it)."""

    def __init__(self):
        self.n = 0

    def fit(self, X, y=None):
        return self.partial_fit(X, y)

    def partial_fit(self, X, y=None):
        self.n += len(X)
        return self


def test_an_estimator_check_is_fitted_cannot_judge_is_trained_normally(client):
    """Whether any row was seen is counted, not guessed from attribute names."""
    X = da.ones((100, 2), chunks=50)
    assert Incremental(_RowCounter(), shuffle_blocks=False).fit(X).estimator_.n == 100
    with pytest.raises(ValueError, match="Every one of the 2 row blocks"):
        Incremental(_RowCounter()).fit(X[da.arange(100, chunks=50) < 0])


# ------------------------------------------------------ scalar fit params
def test_scalar_sample_weight_is_passed_to_every_call():
    X, y = _data(n_blocks=3, rows=1_000)
    est = SGDClassifier(random_state=0)
    ref = _loop(est, [X, y], range(3), classes=CLASSES, sample_weight=2.0)
    for weight in (2.0, np.float64(2.0), da.asarray(2.0)):
        inc = Incremental(est, shuffle_blocks=False).fit(X, y, classes=CLASSES, sample_weight=weight)
        _assert_same_model(inc.estimator_, ref)
    assert not np.array_equal(ref.coef_, _loop(est, [X, y], range(3), classes=CLASSES).coef_)


# ------------------------------------------------------ mismatch messages
def test_row_mismatch_message_fits_the_input():
    step = dict(has_y=True, block_kw=(), static_kw={"classes": CLASSES})
    frame_x, frame_y = pd.DataFrame({"a": [1.0, 2.0, 3.0]}), pd.Series([0, 1])
    with pytest.raises(ValueError, match=r"3 rows but the matching block of y has 2") as err:
        _partial_fit_block(SGDClassifier(), frame_x, frame_y, **step)
    assert "repartition" in str(err.value) and "rechunk" not in str(err.value)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        _partial_fit_block(SGDClassifier(), frame_x.to_numpy(), frame_y.to_numpy(), **step)


# ----------------------------------------------------------- placement
def test_pick_worker_respects_capacity():
    """At most threads + 1 blocks per worker, the least loaded relative to its
    capacity first: with a 1-thread and a 4-thread worker, 2 and 5 blocks."""
    capacity = {"tcp://a": 2, "tcp://b": 5}
    alive = {"tcp://a": 0, "tcp://b": 0}
    last = {"tcp://a": -1, "tcp://b": -1}
    picks = []
    for position in range(7):
        w = _blocks._pick_worker(alive, capacity, last)
        alive[w] += 1
        last[w] = position
        picks.append(w)
    assert alive == capacity
    # a first (a tie, by name), then b while it is less loaded relative to its capacity
    assert picks == ["tcp://a", "tcp://b", "tcp://b", "tcp://b", "tcp://a", "tcp://b", "tcp://b"]
    assert _blocks._pick_worker(alive, capacity, last) is None  # every worker full: wait
    alive["tcp://a"] -= 1
    assert _blocks._pick_worker(alive, capacity, last) == "tcp://a"


# ------------------------------------------------------------ state fetch
def test_a_fetch_longer_than_any_timeout_still_completes():
    """A final state that takes long to fetch is fetched, not restarted for ever."""

    class SlowFuture:
        key, status = "state", "finished"

        def result(self, timeout=None):
            if timeout is not None:  # the fetch takes longer than any timeout
                raise TimeoutError
            return "final state"

    fold = _blocks._ClusterFold(_Members({"tcp://a": 1}), lambda s: s, [], (), None, None, pin_blocks=True)
    fold._pool = cf.ThreadPoolExecutor(1)
    try:
        fold.saved, fold.done = (-1, "initial"), (0, SlowFuture(), "tcp://a")
        for _ in range(3):
            fold._harvest()
            if fold.fetching is not None:
                cf.wait([fold.fetching[3]], timeout=10)
        fold._harvest()
        assert fold.saved == (0, "final state")
    finally:
        fold._pool.shutdown()


# ------------------------------------------------------ per-block graph cost
def _trace_events(fn) -> int:
    """Python-level work done by ``fn``: calls and lines (loop iterations
    included), counted with sys.settrace; deterministic, unlike timings."""
    count = [0]

    def tracer(frame, event, arg):
        count[0] += 1
        return tracer

    before = sys.gettrace()  # e.g. coverage's tracer, put back after
    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(before)
    return count[0]


def _marginal_block_cost(n_blocks: int) -> float:
    X, y = make_classification(n_samples=n_blocks * 10, n_features=4, chunks=10, random_state=0)
    parts = [_blocks.whole_rows(X), da.from_array(y.compute(), chunks=10)]
    fold = _blocks._ClusterFold(_Members({"tcp://a": 10**6}), lambda s: s, parts, (), None, None,
                                pin_blocks=True)
    fold._submit_block((0,), 0)  # anything done once per fold is done by now
    events = _trace_events(lambda: [fold._submit_block((b,), b) for b in range(1, 21)])
    assert fold.client.submitted == 21
    return events / 20


def test_block_graph_cost_does_not_grow_with_the_number_of_blocks():
    small, large = _marginal_block_cost(500), _marginal_block_cost(5000)
    assert large < 2 * small, (small, large)  # it grew tenfold with the blocks: O(n_blocks) each


# --------------------------------------------------- shared-lineage warning
def test_shared_lineage_policy():
    def block(name, rows):
        return {(name, r, 0): None for r in rows}

    assert _blocks._shared_lineage(block("x", range(4)), {"x": 4}) == "x"  # a global mean
    assert _blocks._shared_lineage(block("x", range(3)), {"x": 18}) is None  # rechunk 3 -> 1
    assert _blocks._shared_lineage(block("x", [3, 4, 5]), {"x": 8}) is None  # map_overlap depth 1
    assert _blocks._shared_lineage(block("x", [0, 1]), {"x": 2}) is None  # two blocks: local enough
    assert _blocks._shared_lineage({"a": 1, ("x", "meta"): 2}, {}) is None


def test_local_lineage_is_not_reported(client):
    """Reading a few neighbouring blocks (larger chunks, map_overlap) is not
    work shared by all blocks: no PerformanceWarning."""
    X, y = make_classification(n_samples=240_000, n_features=10, n_informative=4, chunks=10_000,
                               random_state=0)
    wide = (X.rechunk({0: 30_000}), y.rechunk(30_000))  # 8 blocks, each read from 3
    X8, y8 = _data(n_blocks=8)
    overlap = (X8.map_overlap(lambda b: b, depth={0: 1, 1: 0}, boundary="none", dtype=X8.dtype), y8)
    first = _block_order(8, 0, True, 0)[0]
    assert 0 < first < 7  # an inner block: it reads three blocks of X8
    for X_in, y_in in (wide, overlap):
        assert not runs_in_one_task([X_in, y_in])
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerformanceWarning)
            Incremental(SGDClassifier(random_state=0), random_state=0).fit(X_in, y_in, classes=CLASSES)


def test_shared_lineage_warning_names_the_callers_line(client):
    X, y = _data(n_blocks=4)
    for method in ("fit", "partial_fit"):
        inc = Incremental(SGDClassifier(random_state=0), shuffle_blocks=False)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            getattr(inc, method)(X - X.mean(0), y, classes=CLASSES)
        mine = [w for w in seen if issubclass(w.category, PerformanceWarning)]
        assert mine and all(w.filename == __file__ for w in mine), [(w.filename, w.lineno) for w in mine]


# ----------------------------------------------------------- no worker
def test_small_data_on_a_cluster_without_workers_raise_instead_of_hanging(monkeypatch):
    """Small input runs in one task, submitted before any wait (an adaptive
    cluster would start a worker for it); an empty cluster is a WorkersLost."""
    from dask.distributed import Client, LocalCluster

    from dasklearn._runtime import _cluster

    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.3)
    monkeypatch.setattr(_cluster, "POLL_SECONDS", 0.05)
    X, y = _data(n_blocks=2, rows=100)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc, Client(lc), \
            cf.ThreadPoolExecutor(1) as pool:
        fitting = pool.submit(Incremental(SGDClassifier()).fit, X, y, classes=CLASSES)
        with pytest.raises(_cluster.WorkersLost, match="no worker"):
            fitting.result(timeout=60)


def test_no_worker_at_the_start_waits_then_raises(monkeypatch):
    from dasklearn._runtime import _cluster

    class NoWorkers(_Members):
        asked: list = []  # when

        def nthreads(self):
            NoWorkers.asked.append(time.monotonic())
            return {}

        def submit(self, *args, **kwargs):
            raise AssertionError("submitted although no worker can run it")

    members = NoWorkers({})
    monkeypatch.setattr(_cluster, "active_client", lambda: members)
    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.3)
    monkeypatch.setattr(_cluster, "POLL_SECONDS", 0.05)
    X, y = _data(n_blocks=2, rows=30_000)  # blocks of over 1 MB: pinned to workers, one by one
    with pytest.raises(_cluster.WorkersLost, match="has had no worker for 0.3 s"):
        Incremental(SGDClassifier()).fit(X, y, classes=CLASSES)
    # it waited for a worker, polling (timed, not counted: a slow machine polls less often)
    assert len(NoWorkers.asked) >= 2 and NoWorkers.asked[-1] - NoWorkers.asked[0] >= 0.25
    # a fold started without workers still pins its blocks: choosing a
    # worker is then a loss, which waits for one for WORKER_TIMEOUT at most
    fold = _blocks._ClusterFold(members, lambda s: s, [], (), None, None, pin_blocks=True)
    assert fold.pin_blocks
    with pytest.raises(_blocks._WorkerLost, match="no worker is left"):
        fold._choose_worker(0)


@pytest.mark.parametrize("persisted", [True, False])
@pytest.mark.parametrize("given", ["frame", "array of the frame"])
def test_a_frame_made_from_a_persisted_array_is_trained_like_the_array(client, persisted, given):
    """``dd.from_dask_array`` of a persisted array (and an array made back
    from that frame) reads the array's keys on the workers without holding
    them in its graph: its blocks were computed in one task from that graph,
    and the fit failed with "Missing dependency"."""
    X = da.random.RandomState(0).random_sample((2000, 5), chunks=(400, 5))
    X = X.persist() if persisted else X
    frame = dd.from_dask_array(X, columns=list("abcde"))
    y = (X[:, 4] > 0.5).astype(int)
    if given == "frame":
        X_given, y_given = frame[list("abcd")], (frame["e"] > 0.5).astype(int)
    else:
        back = frame.to_dask_array(lengths=True)
        X_given, y_given = back[:, :4], (back[:, 4] > 0.5).astype(int)
    by_frame = Incremental(SGDClassifier(random_state=0), random_state=0).fit(X_given, y_given, classes=CLASSES)
    by_array = Incremental(SGDClassifier(random_state=0), random_state=0).fit(X[:, :4], y, classes=CLASSES)
    _assert_same_model(by_frame.estimator_, by_array.estimator_)


def _shuffled_frame(shuffle_method=None):
    rng = np.random.RandomState(0)
    pdf = pd.DataFrame({"key": rng.permutation(400), "a": rng.randn(400), "b": rng.randn(400)})
    pdf["y"] = (pdf.a > 0).astype(int)
    df = dd.from_pandas(pdf, npartitions=4).set_index("key", shuffle_method=shuffle_method)
    return df[["a", "b"]], df["y"]


def test_a_frame_from_a_shuffle_trains_on_a_cluster(client):
    """set_index / merge / sort_values with a Client shuffle peer-to-peer by
    default, which the task computing one block cannot run (it failed with
    dask's P2PConsistencyError): the blocks' graphs shuffle as tasks, the
    model equals the one from the persisted input, and the shared work is
    named (PerformanceWarning)."""
    X, y = _shuffled_frame()
    with pytest.warns(PerformanceWarning, match="depends on many row blocks"):
        got = Incremental(SGDClassifier(random_state=0), random_state=0).fit(X, y, classes=CLASSES)
    ref = Incremental(SGDClassifier(random_state=0), random_state=0).fit(X.persist(), y.persist(), classes=CLASSES)
    assert_array_equal(got.coef_, ref.coef_)


def test_an_explicit_peer_to_peer_shuffle_is_refused_with_the_fix(client):
    X, y = _shuffled_frame("p2p")
    with pytest.raises(ValueError, match=r"peer-to-peer shuffle.*X = X.persist\(\).*shuffle_method='tasks'"):
        Incremental(SGDClassifier(random_state=0)).fit(X, y, classes=CLASSES)
    assert Incremental(SGDClassifier(random_state=0)).fit(X.persist(), y.persist(), classes=CLASSES).coef_.shape == (1, 2)
