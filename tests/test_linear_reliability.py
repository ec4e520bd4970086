"""Linear models under worker loss and across placements: the coefficients
are bit-for-bit those of the undisturbed run, on any cluster and without one.

Progress is observed by counting the objective's evaluations in this process
(the solvers call ``Objective.__call__`` / ``Objective.consensus`` once per
pass over the blocks), so a worker can be killed while an evaluation's tasks
are in flight."""

from __future__ import annotations

import os
import signal
import threading

import dask.array as da
import numpy as np
import pytest

from dasklearn._runtime import _cluster, _reduce, _reduce_policies
from dasklearn._runtime._reduce import (
    OrderedSum,
    _aligned_arrays,
    assign_groups,
    reduction_levels,
    row_blocks,
    tree_sum,
)
from dasklearn.datasets import make_classification
from dasklearn.linear_model import LinearRegression, LogisticRegression
from dasklearn.linear_model._objective import Objective

KILL_AT = 4  # evaluation during which a worker is killed

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



# ------------------------------------------------------------------- data
def _classification():
    """Lazy dask arrays: lost blocks are recomputed from the generator's graph."""
    return make_classification(n_samples=40_000, n_features=10, n_informative=5, chunks=5_000,
                               random_state=0)


def _regression():
    """NumPy data inside the dask graph: lost blocks come from the client's copy."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 8))
    y = X @ rng.normal(size=8) + 0.5 + rng.normal(size=20_000)
    return da.from_array(X, chunks=(2_500, -1)), da.from_array(y, chunks=2_500)


CASES = {
    "lbfgs": (lambda: LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=300), _classification),
    "newton": (lambda: LogisticRegression(solver="newton", tol=1e-10), _classification),
    "admm": (lambda: LogisticRegression(solver="admm", C=0.05, l1_ratio=0.5, tol=1e-2, max_iter=500),
             _classification),
    "linear-admm": (lambda: LinearRegression(alpha=0.01, l1_ratio=1.0, solver="admm", tol=1e-7,
                                             max_iter=500), _regression),
}


def _fit(case):
    make, data = CASES[case]
    return make().fit(*data())


def assert_identical(a, b):
    """Bit-for-bit the same fitted model."""
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.n_iter_, b.n_iter_)


@pytest.fixture
def evaluations(monkeypatch):
    """Count the objective's evaluations; ``state["action"](objective)`` runs
    when evaluation ``state["at"]`` starts, before its tasks are submitted."""
    state = {"n": 0, "at": None, "action": None}

    def counted(method):
        def wrapper(self, *args, **kwargs):
            state["n"] += 1
            if state["n"] == state["at"]:
                state["action"](self)
            return method(self, *args, **kwargs)

        return wrapper

    monkeypatch.setattr(Objective, "__call__", counted(Objective.__call__))
    monkeypatch.setattr(Objective, "consensus", counted(Objective.consensus))
    return state


# ------------------------------------------------------------ worker loss
@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_worker_killed_mid_fit_changes_nothing(client, evaluations, case):
    client.wait_for_workers(2, timeout=60)
    reference = _fit(case)
    n_reference = evaluations["n"]
    assert n_reference > KILL_AT + 2, "the fit is too short to be interrupted"

    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed = threading.Event()

    def kill(objective):  # a few ms later: the evaluation's tasks are running
        def run():
            os.kill(pids[victim], signal.SIGKILL)
            killed.at = evaluations["n"]
            killed.set()

        threading.Timer(0.005, run).start()

    evaluations.update(n=0, at=KILL_AT, action=kill)
    disturbed = _fit(case)
    assert killed.wait(10), "the worker was not killed"
    assert killed.at < n_reference, "the worker was killed after the fit"
    assert evaluations["n"] == n_reference  # the same path, to the end
    assert_identical(disturbed, reference)
    client.wait_for_workers(2, timeout=120)
    assert victim not in client.nthreads()  # it really died (the nanny started a new one)


@pytest.mark.slow
def test_blocks_lost_for_good_are_placed_again(client, evaluations):
    """A placed block whose future is cancelled (as when it cannot be
    recomputed) makes the fit place every block again and repeat the
    evaluation: same coefficients."""
    client.wait_for_workers(2, timeout=60)
    reference = _fit("newton")
    seen = {}

    def cancel(objective):
        seen["blocks"] = objective.blocks
        client.cancel([objective.blocks.futures[3]])

    evaluations.update(n=0, at=3, action=cancel)
    again = _fit("newton")
    assert seen["blocks"].n_recoveries == 1
    assert_identical(again, reference)


def test_cluster_without_workers_raises_instead_of_hanging(monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.setattr(_reduce, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.5)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc, Client(lc):
        X, y = _classification()
        with pytest.raises(_reduce.WorkersLost, match="no worker"):
            LogisticRegression().fit(X, y)


# ------------------------------------------------ determinism across placements
@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_same_bits_on_the_cluster_and_without_a_client(cluster, case):
    from dask.distributed import Client

    from dasklearn._runtime import active_client

    assert active_client() is None
    local = _fit(case)  # dask input, blocks on local threads
    with Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        remote = _fit(case)
    assert_identical(remote, local)


@pytest.mark.slow
def test_same_bits_whatever_worker_holds_which_block(client, monkeypatch):
    client.wait_for_workers(2, timeout=60)
    reference = _fit("lbfgs")

    def swapped(locations, nthreads):  # every block evaluated on another worker
        workers = sorted(nthreads)
        other = {w: workers[(i + 1) % len(workers)] for i, w in enumerate(workers)}
        return assign_groups([[other[w] for w in where] for where in locations], nthreads)

    monkeypatch.setattr(_reduce, "assign_groups", swapped)
    assert_identical(_fit("lbfgs"), reference)


@pytest.mark.slow
def test_worker_side_tree_adds_like_the_local_threads(cluster, monkeypatch):
    """Partials pre-added on the workers (big Hessians) follow the block-index
    tree: the same bits as the same tree on local threads."""
    from dask.distributed import Client

    monkeypatch.setattr(_reduce_policies, "GATHER_BYTES", 0)  # one tree level on the workers
    monkeypatch.setattr(_reduce, "INLINE_BYTES", 0)  # parameters scattered, not inlined
    local = _fit("newton")
    with Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        remote = _fit("newton")
    assert_identical(remote, local)


@pytest.mark.slow
def test_cli_cluster_gives_the_same_bits(cli_cluster, cluster):
    """Workers started with the `dask` command line (spawned, separate
    processes) against the forked LocalCluster workers."""
    from dask.distributed import Client

    with Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        ours = _fit("lbfgs")
    with Client(cli_cluster, timeout="60s"):
        theirs = _fit("lbfgs")
    assert_identical(theirs, ours)


def test_numpy_input_does_not_depend_on_the_number_of_threads(monkeypatch):
    monkeypatch.setattr(_reduce_policies, "LOCAL_BLOCK_BYTES", 64 << 10)  # 20 blocks
    X, y = (np.asarray(a) for a in _regression())
    fits = []
    for n_threads in (1, 3):
        blocks = _reduce.place_blocks(X, y, n_threads=n_threads)
        with blocks:
            fits.append(blocks.map_reduce(lambda b: (float(b[1] @ b[1]), b[0].T @ b[1]),
                                          combine=lambda a, b: (a[0] + b[0], a[1] + b[1])))
    assert fits[0][0] == fits[1][0]
    np.testing.assert_array_equal(fits[0][1], fits[1][1])


# ----------------------------------------------------------- pure policies
@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 17, 64, 65, 100])
@pytest.mark.parametrize("levels", [0, 1, 2])
def test_ordered_sum_adds_like_tree_sum(n, levels):
    rng = np.random.default_rng(n)
    values = [rng.normal(size=3) * 10.0 ** rng.integers(-8, 8) for _ in range(n)]
    expected = tree_sum(values, np.add, levels, split_every=4)
    total = OrderedSum(np.add, levels, split_every=4)
    for v in values:
        total.push(v)
    np.testing.assert_array_equal(total.result(), expected)


def test_tree_sum_shape():
    calls = []

    def combine(a, b):
        calls.append((a, b))
        return f"({a}+{b})"

    assert tree_sum("abcde", combine, levels=0) == "((((a+b)+c)+d)+e)"
    assert tree_sum("abcde", combine, levels=1, split_every=2) == "(((a+b)+(c+d))+e)"
    assert tree_sum("abcde", combine, levels=2, split_every=2) == "(((a+b)+(c+d))+e)"
    with pytest.raises(ValueError):
        OrderedSum(combine).result()


def test_row_blocks_depend_on_the_shape_only():
    assert row_blocks(10, 8, block_bytes=1 << 20) == [(0, 10)]
    blocks = row_blocks(1000, 8, block_bytes=800)
    assert len(blocks) == 10 and blocks[0] == (0, 100) and blocks[-1] == (900, 1000)
    sizes = [b - a for a, b in row_blocks(1001, 8, block_bytes=800)]
    assert sum(sizes) == 1001 and max(sizes) - min(sizes) <= 1
    assert row_blocks(3, 10**6, block_bytes=8) == [(0, 1), (1, 2), (2, 3)]


def test_blocks_without_a_holder_go_to_the_least_loaded_worker():
    groups = assign_groups([["a"], [], ["a"], []], {"a": 1, "b": 1})
    assert dict(groups) == {"a": [0, 2], "b": [1, 3]}
    assert reduction_levels(10, 10) == 0


def test_unaligned_arrays_are_copied_before_the_kernels():
    """Arrays received from the network may start at any byte; NumPy rounds
    differently for them (no BLAS, buffered reductions)."""
    rng = np.random.default_rng(0)
    X, r = rng.normal(size=(5_000, 7)), rng.normal(size=5_000)
    buf = np.zeros(X.nbytes + 16, dtype=np.uint8)
    start = (8 - buf.ctypes.data % 8) % 8 + 4  # 4 bytes past an 8-byte boundary
    Xu = np.ndarray(X.shape, X.dtype, buffer=buf, offset=start)
    Xu[...] = X
    assert not Xu.flags.aligned
    block = _aligned_arrays((Xu, [r, 3]))
    assert block[0].flags.aligned and block[0].flags.c_contiguous and block[1][0] is r
    np.testing.assert_array_equal(block[0].T @ r, X.T @ r)


def _raise_on_block_3(b, block_info=None):
    if block_info[0]["chunk-location"][0] == 3:
        raise KeyError("y block 3 is bad")
    return b


def test_a_failed_fit_leaves_nothing_on_the_cluster(client):
    """The erred task's error (kept by the client) has a traceback through the
    runtime's frames, which held the fit's futures: they stayed, with their
    tasks and results, until the Client closed."""
    import gc
    import time

    from conftest import scheduler_keys

    X, y = _classification()
    before = scheduler_keys(client)  # the shared cluster may hold other tests' data
    for _ in range(2):
        with pytest.raises(KeyError, match="block 3 is bad"):
            LogisticRegression().fit(X, y.map_blocks(_raise_on_block_3, dtype=y.dtype))
    gc.collect()
    deadline = time.time() + 10
    while scheduler_keys(client) - before and time.time() < deadline:
        time.sleep(0.1)
    assert not scheduler_keys(client) - before
    assert LogisticRegression().fit(X, y).score(X, y) > 0.5  # the cluster is usable


def _evaluator_keys(dask_scheduler):
    return [str(k) for k in dask_scheduler.tasks if "Evaluator" in str(k)]


def test_a_fit_leaves_no_evaluator_holding_the_blocks(client):
    """Calls through distributed's Actor handles leave reference cycles that
    kept the per-worker evaluators (and every block they hold: the whole
    training set) alive after fit, until Python's cycle collector ran; with
    automatic collection off, each fit's blocks piled up on the workers."""
    import gc
    import time

    X, y = make_classification(n_samples=4_000, n_features=5, chunks=500, random_state=0)
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(2):
            LogisticRegression().fit(X, y)
            deadline = time.monotonic() + 10
            while client.run_on_scheduler(_evaluator_keys) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.run_on_scheduler(_evaluator_keys) == []
    finally:
        if enabled:
            gc.enable()
