"""The runtime layer: batching policy (pure) and the batched runner."""

import os
import time

import numpy as np
import pytest

from dasklearn._runtime import BatchPolicy, DistributedBackend, LocalBackend, run_batched
from dasklearn._runtime._batching import longest_first


def test_policy_starts_with_single_items_then_packs_to_target():
    p = BatchPolicy(n_slots=2, target_seconds=0.2)
    assert p.next_size(100) == 1  # nothing measured yet
    p.observe(4, 0.04)  # 10 ms per item
    assert p.next_size(1000) == 20  # 0.2 s / 10 ms
    # near the end, batches shrink so every slot keeps work
    assert p.next_size(12) == 3  # 12 // (2 slots * 2 tasks per slot)
    assert p.next_size(3) == 1
    assert p.next_size(0) == 0


def test_policy_long_items_stay_single():
    p = BatchPolicy(n_slots=4)
    p.observe(2, 10.0)
    assert p.next_size(1000) == 1


def _square_kernel(batch, offset):
    return [(x * x + offset, 0.001) for x in batch]


def _failing_kernel(batch):
    for x in batch:
        if x == 7:
            raise ZeroDivisionError("item 7 is bad")
    return [(x, 0.0) for x in batch]


def test_longest_first_reorders_only_the_leading_phase():
    # items 0..5: phase 1 holds groups a, b, c, d; phase 2 follows
    queue = [0, 1, 2, 3, 4, 5]
    keys = [(1, "a"), (1, "b"), (1, "c"), (1, "d"), (2, "a"), (2, "b")]
    means = {"a": 1.0, "b": 3.0, "c": 2.0}  # d never seen: counts as longest
    assert longest_first(queue, keys, means) == [3, 1, 2, 0, 4, 5]
    assert longest_first([], [], means) == []
    # with nothing observed the order is unchanged (stable)
    assert longest_first(queue, keys, {}) == queue



def test_run_batched_sends_each_phase_longest_first():
    """Items are (phase, seconds); phase 1 goes out longest first, as phase
    0 measured, and results still come back in item order."""
    sent = []

    def kernel(batch):
        sent.extend(batch)
        return [(item, float(item[1])) for item in batch]

    items = [(phase, s) for phase in range(2) for s in (1, 3, 2)]
    one_at_a_time = BatchPolicy(n_slots=1, tasks_per_slot=1)
    out = run_batched(LocalBackend(1), kernel, items, policy=one_at_a_time,
                      phase_and_group=lambda item: item)
    assert out == items
    assert sent == [(0, 1), (0, 3), (0, 2), (1, 3), (1, 2), (1, 1)]

@pytest.mark.parametrize("where", ["local", "cluster"])
def test_run_batched_keeps_item_order(where, request):
    backend = LocalBackend(2) if where == "local" else DistributedBackend(request.getfixturevalue("client"))
    items = list(range(57))
    offset = backend.put(10)
    seen = []
    out = run_batched(backend, _square_kernel, items, (offset,), on_results=lambda idx, r: seen.extend(idx))
    assert out == [x * x + 10 for x in items]
    assert sorted(seen) == items


def test_run_batched_error_propagates_and_cluster_stays_usable(client):
    from conftest import scheduler_keys

    before = scheduler_keys(client)  # the shared cluster may hold other tests' data
    backend = DistributedBackend(client)
    with pytest.raises(ZeroDivisionError, match="item 7 is bad"):
        run_batched(backend, _failing_kernel, list(range(20)))
    # nothing of ours is left on the scheduler, and the cluster still works
    deadline = time.time() + 10
    while scheduler_keys(client) - before and time.time() < deadline:
        time.sleep(0.05)
    assert not scheduler_keys(client) - before
    assert client.submit(np.add, 1, 2).result() == 3


def test_local_slots_count_n_jobs_as_scikit_learn(monkeypatch):
    import os

    from dasklearn._runtime._backend import local_slots

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [local_slots(n) for n in (None, -1, -2, -8, -20, 1, 3)] == [8, 8, 7, 1, 1, 1, 3]
    assert local_slots(None, default=1) == 1  # the data-parallel estimators' default
    assert LocalBackend(-2).n_slots == 7


def _enter_one_blas_thread():
    from dasklearn._runtime import _threads

    with _threads.one_blas_thread():
        pass


def test_a_forked_child_gets_free_thread_locks():
    """Nannies fork workers from several threads: a lock another thread holds
    at the instant of a fork is copied held. The child must not wait on it."""
    import multiprocessing as mp

    from dasklearn._runtime import _threads

    with _threads._blas_lock:  # held at the fork, as by another thread
        child = mp.get_context("fork").Process(target=_enter_one_blas_thread)
        child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


_BLAS_AT_EXIT = """
import threading, time
import numpy
from dasklearn._runtime._threads import one_blas_thread
def work():
    with one_blas_thread():
        time.sleep(1.0)  # the main script ends meanwhile
    print("ok", flush=True)
threading.Thread(target=work).start()
time.sleep(0.2)
"""


def test_a_blas_limit_held_while_the_interpreter_exits_is_restored():
    """A fit in a thread of its own leaves one_blas_thread after the main
    script ended: the control thread's pool takes no new work then (it
    raised 'cannot schedule new futures after shutdown', losing the fit)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _BLAS_AT_EXIT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.split() == ["ok"], done.stderr[-2000:]


def test_local_backend_resolves_future_arguments():
    backend = LocalBackend(2)
    a = backend.submit(np.add, 1, 2)
    b = backend.submit(lambda xs: sum(xs), [a, a])
    assert backend.result(b) == 6


def _sum_kernel(batch, data):
    return [(float(data.sum()) + x, 0.0) for x in batch]


def test_lost_scattered_data_is_placed_again():
    """The only worker holding scattered data dies: the batch is resubmitted
    with the data placed again, and results are those of an undisturbed run."""
    import os
    import signal

    from conftest import private_client

    with private_client() as client:  # a worker is killed: not the shared cluster
        backend = DistributedBackend(client)
        data = backend.put(np.ones(1000))
        holder = next(iter(client.who_has(data).values()))[0]
        os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
        deadline = time.time() + 30
        while data.status != "cancelled" and time.time() < deadline:
            time.sleep(0.05)
        assert data.status == "cancelled"
        out = run_batched(backend, _sum_kernel, list(range(10)), (data,))
        assert out == [1000.0 + x for x in range(10)]
        backend.release([data])


def test_forked_workers_get_dasks_thread_limits():
    """Forked workers inherit the parent's BLAS pools; the preload sizes them
    like dask sizes spawned workers (pre-spawn-environ, 1 thread)."""
    import dask
    from dask.distributed import Client, LocalCluster
    from threadpoolctl import threadpool_info

    from dasklearn._runtime._preload import limits_from_config

    wanted = limits_from_config()
    assert wanted.get("blas") == 1
    fork = {"distributed.worker.multiprocessing-method": "fork"}  # dasklearn's default for scripts
    with dask.config.set(fork), LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as lc, \
            Client(lc) as c:
        pools = c.run(lambda: [(p["user_api"], p["num_threads"]) for p in threadpool_info()])
    for worker, infos in pools.items():
        for api, n in infos:
            if api in wanted:
                assert n <= wanted[api], (worker, api, n)


_TWO_FORKED_CLUSTERS = """
import numpy as np
import dasklearn  # workers start with fork
from dask.distributed import Client, LocalCluster

if __name__ == "__main__":
    big = np.ones((66_000, 50))  # 26 MB: distributed (de)serialises it on its offload thread
    for k in range(2):
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as c:
            [f] = c.scatter([big], broadcast=True)
            print(k, c.submit(np.sum, f).result(), flush=True)
"""


@pytest.mark.parametrize("chosen_by", ["dasklearn", "user"])
def test_second_forked_cluster_in_one_process_takes_large_data(tmp_path, chosen_by):
    """A forked worker inherits distributed's offload pool without its thread;
    after a first cluster used it, a second cluster's workers used to hang on
    their first large message. dasklearn gives each forked child a fresh pool,
    also when the user chose fork (it did so only where it chose fork itself)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "two_clusters.py"
    script.write_text(_TWO_FORKED_CLUSTERS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    if chosen_by == "user":
        env["DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD"] = "fork"
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["0", "3300000.0", "1", "3300000.0"]


def test_as_dask_array_gives_frames_known_chunks_and_leaves_the_rest():
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    from dasklearn._runtime._reduce import as_dask_array

    df = pd.DataFrame({"a": np.arange(10.0), "b": np.arange(10.0) ** 2})
    ddf = dd.from_pandas(df, npartitions=3)
    X = as_dask_array(ddf)
    assert isinstance(X, da.Array) and X.chunks == ((4, 3, 3), (2,))
    np.testing.assert_array_equal(X.compute(), df.to_numpy())
    y = as_dask_array(ddf["a"])
    assert isinstance(y, da.Array) and y.chunks == ((4, 3, 3),)
    arr, mem = da.ones((6, 2), chunks=3), np.ones(3)
    assert as_dask_array(arr) is arr and as_dask_array(mem) is mem and as_dask_array(None) is None


@pytest.mark.parametrize("how", ["environment", "config file", "config.set", "nothing"])
def test_the_user_s_start_method_wins_over_dasklearn_s_fork(how, tmp_path):
    """Importing dasklearn defaults local workers to fork on Linux, unless
    the user chose a method: in the environment, a dask config file, or a
    dask.config.set before the import (a fresh interpreter for each)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    code = "import dask\n"
    if how == "environment":
        env["DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD"] = "forkserver"
    elif how == "config file":
        (tmp_path / "user.yaml").write_text("distributed:\n  worker:\n    multiprocessing-method: forkserver\n")
        env["DASK_CONFIG"] = str(tmp_path)
    elif how == "config.set":
        code += "dask.config.set({'distributed.worker.multiprocessing-method': 'forkserver'})\n"
    code += "import dasklearn, distributed\nprint(dask.config.get('distributed.worker.multiprocessing-method'))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ("fork" if how == "nothing" else "forkserver")


def test_fork_unsafe_pools_are_told_by_their_threads_names():
    from dasklearn._runtime._start import fork_unsafe_pools

    # polars' cleanup thread runs from its import on; its pool's threads only once used
    assert fork_unsafe_pools(["python", "polars-ooc-clea", "jemalloc_bg_thd"]) == []
    assert fork_unsafe_pools(["python", "polars-ooc-clea", "polars-0", "polars-1"]) == ["polars"]
    assert fork_unsafe_pools([]) == []


_POLARS_THEN_CLUSTER = """
import sys
import warnings

import numpy as np
import polars as pl

import dask
import dasklearn
from dask.distributed import Client, LocalCluster
from sklearn.linear_model import LogisticRegression

import dasklearn.model_selection as dl

if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] > 0).astype(int)
    df = pl.DataFrame(X, schema=["a", "b", "c", "d"])
    if sys.argv[1] == "used":
        df = df[np.arange(0, 200)]  # polars starts its thread pool here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc):
            search = dl.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(df, y)
    said = [str(w.message) for w in caught if "does not survive fork" in str(w.message)]
    print(dask.config.get("distributed.worker.multiprocessing-method"), len(said) > 0,
          list(search.feature_names_in_), flush=True)
"""


@pytest.mark.parametrize("polars", ["imported", "used"])
def test_workers_start_with_spawn_once_polars_pool_runs(polars, tmp_path):
    """polars' thread pool does not survive fork: with it running in the
    parent, forked workers hung in their first polars call (the search's row
    selection). Then the workers start with spawn, with a warning; polars
    only imported (no pool yet) keeps fork."""
    import subprocess
    import sys

    pytest.importorskip("polars")
    script = tmp_path / "polars_then_cluster.py"
    script.write_text(_POLARS_THEN_CLUSTER)
    proc = subprocess.run([sys.executable, str(script), polars], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("DASK_")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    method, warned, names = proc.stdout.split(maxsplit=2)
    assert (method, warned) == (("spawn", "True") if polars == "used" else ("fork", "False"))
    assert names.strip() == "['a', 'b', 'c', 'd']"
