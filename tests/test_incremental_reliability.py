"""Incremental: a worker lost mid-fit changes nothing.

The fold of ``partial_fit`` over the blocks is deterministic, so a fit
disturbed by a SIGKILLed worker (its nanny restarts it under a new address)
must neither fail nor hang, must return the undisturbed model bit for bit
(``coef_``, ``intercept_``, ``t_``), and must leave nothing of its attempts
on the scheduler, whenever Python's garbage collector runs; a fit on a
cluster started with the ``dask`` command line, reached by its address, must
return the same model too.
"""

from __future__ import annotations

import contextlib
import gc
import time

import dask
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import SGDClassifier

from dasklearn._runtime import _blocks
from dasklearn._runtime._compute import _holds_futures
from dasklearn.datasets import make_classification
from dasklearn.wrappers import Incremental, _block_order

from test_reliability import kill_a_worker_when

CLASSES = np.array([0, 1])
DELAY = 0.1  # seconds per partial_fit call: a fit lasts long enough to be hit

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



class LoggedSGD(ClassifierMixin, BaseEstimator):
    """SGDClassifier whose ``partial_fit`` takes ``delay`` seconds and appends
    one line to ``log`` (seen across processes); same numbers."""

    def __init__(self, log=None, delay=0.0, random_state=0):
        self.log = log
        self.delay = delay
        self.random_state = random_state

    def partial_fit(self, X, y, classes=None):
        time.sleep(self.delay)
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write("1\n")
        if not hasattr(self, "sgd_"):
            self.sgd_ = SGDClassifier(random_state=self.random_state)
        self.sgd_.partial_fit(X, y, classes=classes)
        self.classes_ = self.sgd_.classes_
        return self

    def predict(self, X):
        return self.sgd_.predict(X)


def _data(n_blocks=10, rows=30_000):
    """Blocks of ~2.4 MB: the per-block cluster path, not the one-task path."""
    return make_classification(n_samples=n_blocks * rows, n_features=10, n_informative=4,
                               chunks=rows, random_state=0)


def _lines(path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


def _sgd(est):
    return est.sgd_ if hasattr(est, "sgd_") else est


def _assert_same_model(a, b):
    a, b = _sgd(a), _sgd(b)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.intercept_, b.intercept_)
    assert a.t_ == b.t_


def _loop(est, X, y, order):
    """The reference: plain partial_fit on the same blocks, in this process
    (persisted blocks are fetched from the cluster)."""
    est = clone(est)
    persisted = _holds_futures([X, y])
    for i in order:
        xb, yb = dask.compute(X.blocks[i], y.blocks[i], scheduler=None if persisted else "sync")
        est.partial_fit(xb, yb, classes=CLASSES)
    return est


# the leftover check and its per-test baseline, shared with test_wrappers
from test_wrappers import _scheduler_baseline, _settle  # noqa: E402,F401


@contextlib.contextmanager
def _no_cyclic_gc():
    """Python's cyclic garbage collector off: what a fit leaves on the
    scheduler must not depend on when it happens to run (an exception and
    its traceback form a cycle that keeps the frames' futures alive)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ------------------------------------------------------------ worker loss
@pytest.mark.parametrize("epochs, shuffle, kills, small", [
    (1, False, (3,), False),  # early in a single pass
    (3, True, (7, 19), False),  # several shuffled passes, hit twice
    (2, True, (10, 50), True),  # persisted small blocks, stepped through in groups per task
], ids=["one-pass", "shuffled-epochs-two-kills", "persisted-small-blocks-grouped"])
def test_worker_killed_mid_fit_gives_the_undisturbed_model(client, tmp_path, epochs, shuffle, kills, small):
    """SIGKILL a worker once ``partial_fit`` has run ``kills[i]`` times: the
    fit neither fails nor hangs and returns the undisturbed model exactly."""
    from distributed import wait

    client.wait_for_workers(2, timeout=60)
    if small:  # 60 blocks of 176 kB: 23 per task (see _blocks.consecutive_groups)
        X, y = client.persist(list(_data(n_blocks=60, rows=2000)))
        wait([X, y])
        group, delay = max(map(len, _blocks.consecutive_groups(range(60), _blocks.block_bytes([X, y])))), DELAY / 2
        assert 1 < group < 30
    else:
        (X, y), group, delay = _data(), 1, DELAY
    n_steps = X.numblocks[0] * epochs
    ref_log, log = tmp_path / "reference.log", tmp_path / "disturbed.log"

    def make(path):
        return Incremental(LoggedSGD(log=str(path), delay=delay), shuffle_blocks=shuffle,
                           random_state=0, epochs=epochs)

    with _no_cyclic_gc():
        reference = make(ref_log).fit(X, y, classes=CLASSES)
        assert reference.n_recoveries_ == 0 and _lines(ref_log) == n_steps
        order = np.concatenate([_block_order(X.numblocks[0], e, shuffle, 0) for e in range(epochs)])
        _assert_same_model(reference.estimator_, _loop(LoggedSGD(), X, y, order))

        threads = []
        for count in kills:
            # (the worker running the fold's task: the loss is then surely seen)
            threads.append(kill_a_worker_when(client, lambda count=count: _lines(log) >= count, busy=True))
        start = time.perf_counter()
        disturbed = make(log).fit(X, y, classes=CLASSES)
        elapsed = time.perf_counter() - start
        for thread, _ in threads:
            thread.join()
        assert all(killed for _, killed in threads), "a worker was not killed during the fit"
        # every step ran; those after the last state kept here ran again (and a
        # released step still running on a survivor finishes): a few tasks per loss
        assert n_steps <= _lines(log) <= n_steps + 6 * group * len(kills)
        assert disturbed.n_recoveries_ >= 1  # the loss was seen, and the fold resumed
        assert elapsed < 120
        _assert_same_model(disturbed.estimator_, reference.estimator_)
        del X, y  # (the test's own persisted data)
        gc.collect()
        assert _settle(client) == 0  # nothing of either fit is left, abandoned attempts included
    client.wait_for_workers(2, timeout=60)


def test_worker_that_leaves_for_good_the_survivor_finishes(tmp_path):
    """A worker that leaves for good (no nanny): the rest of the fit runs on
    the survivor, with its own window of blocks; the model is unchanged."""
    import threading

    from dask.distributed import Client, LocalCluster

    X, y = _data(n_blocks=8)
    log = tmp_path / "fit.log"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        reference = Incremental(LoggedSGD(delay=DELAY), shuffle_blocks=False).fit(X, y, classes=CLASSES)
        victim = sorted(cluster.workers)[0]

        def close_one():
            deadline = time.time() + 60
            while _lines(log) < 3 and time.time() < deadline:
                time.sleep(0.02)
            cluster.sync(cluster.workers[victim].close)

        thread = threading.Thread(target=close_one, daemon=True)
        thread.start()
        disturbed = Incremental(LoggedSGD(log=str(log), delay=DELAY), shuffle_blocks=False)
        disturbed.fit(X, y, classes=CLASSES)
        thread.join()
        assert len(c.nthreads()) == 1
        assert disturbed.n_recoveries_ >= 1
        _assert_same_model(disturbed.estimator_, reference.estimator_)


def test_recoveries_without_progress_give_up_and_clean_up(client, monkeypatch):
    """A loss that repeats before any new state is kept ends the fit with a
    RuntimeError after MAX_STALLED_RECOVERIES retries, leaving the cluster clean."""
    client.wait_for_workers(2, timeout=60)
    X, y = _data(n_blocks=6)
    calls = []

    def always_lost(self):
        calls.append(1)
        raise _blocks._WorkerLost("worker tcp://gone left the cluster")

    monkeypatch.setattr(_blocks, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(_blocks._ClusterFold, "_check", always_lost)
    with _no_cyclic_gc():
        from dasklearn.exceptions import WorkersLost  # (a RuntimeError, as it was)

        with pytest.raises(WorkersLost, match="recoveries in a row made no progress"):
            Incremental(LoggedSGD(delay=0.5), shuffle_blocks=False).fit(X, y, classes=CLASSES)
        assert len(calls) >= _blocks.MAX_STALLED_RECOVERIES + 1  # more if a slow machine let a step finish
        assert _settle(client) == 0
    assert client.submit(np.add, 1, 2).result() == 3


def test_a_loss_seen_after_the_last_step_ran_ends_the_fit(client, monkeypatch):
    """Every group's step has run and none is pending when a loss is seen
    (before the last state is here): the fit ends with that state, the
    undisturbed model, and reports no resumption past the last block."""
    from distributed import wait

    X, y = client.persist(list(_data(n_blocks=60, rows=2000)))
    wait([X, y])
    original, seen = _blocks._ClusterFold._check, []

    def lost_once_at_the_end(self):
        if not seen and self.done is not None and not self.steps and not self.alive:
            seen.append(self.done[0])
            raise _blocks._WorkerLost("worker tcp://gone left the cluster")
        return original(self)

    monkeypatch.setattr(_blocks, "POLL_SECONDS", 0.001)
    monkeypatch.setattr(_blocks._ClusterFold, "_check", lost_once_at_the_end)
    fitted = Incremental(SGDClassifier(random_state=0), shuffle_blocks=False).fit(X, y, classes=CLASSES)
    assert seen, "no loss was simulated"
    assert fitted.n_recoveries_ == 0
    _assert_same_model(fitted.estimator_, _loop(SGDClassifier(random_state=0), X, y, range(60)))


# ------------------------------------------------------- a real cluster
@pytest.mark.slow
def test_cli_cluster_by_address_gives_the_local_cluster_model(client, cli_cluster):
    """Scheduler and workers started with the ``dask`` CLI, reached by
    address: the same model as on the LocalCluster and as the plain loop."""
    from dask.distributed import Client, get_task_stream

    client.wait_for_workers(2, timeout=60)
    X, y = _data(n_blocks=6)
    est = SGDClassifier(random_state=0)

    def make():
        return Incremental(est, shuffle_blocks=True, random_state=0, epochs=2)

    local = make().fit(X, y, classes=CLASSES)
    with Client(cli_cluster) as remote:
        assert len(remote.nthreads()) == 2
        with get_task_stream(client=remote) as stream:
            remote_fit = make().fit(X, y, classes=CLASSES)
        steps = [t for t in stream.data if "partial-fit-block" in str(t["key"])]
        assert len(steps) == 12  # every step ran there
        assert {t["worker"] for t in steps} == set(remote.nthreads())  # on both workers
    order = np.concatenate([_block_order(6, e, True, 0) for e in range(2)])
    _assert_same_model(remote_fit.estimator_, local.estimator_)
    _assert_same_model(remote_fit.estimator_, _loop(est, X, y, order))


class _SlowSGD(SGDClassifier):
    """SGDClassifier whose partial_fit takes a while (the Client is closed meanwhile)."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        time.sleep(0.4)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


@pytest.mark.parametrize("kind", ["Incremental", "DataParallel"])
def test_closing_the_client_during_a_fit_says_so(kind):
    """It was an AttributeError from inside distributed ('NoneType' object
    has no attribute 'ncores'); it is now an error that says what happened."""
    import dask.array as da
    from conftest import close_once_working, private_client

    from dasklearn._runtime._cluster import ClientClosed
    from dasklearn.wrappers import DataParallel, Incremental

    rng = np.random.RandomState(0)
    X = da.from_array(rng.randn(4000, 4), chunks=250)
    y = da.from_array((rng.rand(4000) > 0.5).astype(int), chunks=250)
    with private_client() as client:
        est = (Incremental(_SlowSGD(random_state=0)) if kind == "Incremental"
               else DataParallel(_SlowSGD(random_state=0), max_rounds=5))
        closing = close_once_working(client)
        with pytest.raises(ClientClosed, match="Client was closed"):
            est.fit(X, y, classes=[0, 1])
        closing.join()
