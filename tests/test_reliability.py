"""Worker loss: a worker SIGKILLed mid-run does not change the results."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV

from test_checkpoint import LoggedSGD

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



def kill_a_worker_when(client, condition, timeout=60, busy=False):
    """SIGKILL one worker process (its nanny restarts it) once ``condition()``;
    not at all if that does not happen within ``timeout`` s (``killed`` then
    stays empty, and the test's ``assert killed`` fails). ``killed["at"]``:
    the ``time.monotonic()`` of the kill. The worker first by address, or
    with ``busy`` one running a task (a fit's model is then lost with it)."""
    killed = {}

    def running(dask_scheduler):
        return sorted(ws.address for ws in dask_scheduler.workers.values() if ws.processing)

    def run():
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        pids = client.run(os.getpid)
        working = [w for w in client.run_on_scheduler(running) if w in pids] if busy else []
        victim = (working or sorted(pids))[0]
        os.kill(pids[victim], signal.SIGKILL)
        killed.update(worker=victim, at=time.monotonic())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, killed


SCORES = ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score")


@pytest.mark.parametrize("search_cls,data", [("grid", "numpy"), ("randomized", "numpy"), ("grid", "row blocks")])
def test_search_survives_worker_kill(client, tmp_path, search_cls, data):
    """(With "row blocks", a persisted dask array of MiB blocks, which the
    search places as its blocks: those the killed worker held are computed
    again.)"""
    X, y = make_classification(n_samples=600, n_features=10, random_state=0)
    if data == "row blocks":
        import dask.array as da

        X, y = make_classification(n_samples=36_000, n_features=12, random_state=0)
        X, y = client.persist([da.from_array(X, chunks=(12_000, 12)), da.from_array(y, chunks=12_000)])
    log = tmp_path / "fits.log"

    def make():
        est = LoggedSGD(log=str(log), delay=0.15)
        if search_cls == "grid":
            return GridSearchCV(est, {"alpha": list(np.logspace(-5, -1, 6))}, cv=3)
        return RandomizedSearchCV(est, {"alpha": loguniform(1e-5, 1e-1)}, n_iter=6, cv=3, random_state=0)

    reference = make().fit(X, y)
    log.unlink()
    thread, killed = kill_a_worker_when(client, lambda: log.exists() and len(log.read_text().split()) >= 4)
    disturbed = make().fit(X, y)
    end = time.monotonic()
    thread.join()
    assert killed, "the worker was not killed during the search"
    assert killed["at"] < end, "the worker was killed after the search had ended"
    for key in SCORES:
        np.testing.assert_array_equal(disturbed.cv_results_[key], reference.cv_results_[key], err_msg=key)
    assert disturbed.best_params_ == reference.best_params_
    client.wait_for_workers(2, timeout=60)


# ------------------------------------------------ a cluster without workers
def _fit_in_thread(search, X, y):
    """``search.fit(X, y)`` on a thread: a hang fails the test (result timeout), not the run."""
    import concurrent.futures as cf

    pool = cf.ThreadPoolExecutor(1)
    try:
        return pool.submit(search.fit, X, y).result(timeout=120)
    finally:
        pool.shutdown(wait=False)


@pytest.mark.parametrize("dask_input", [False, True])
def test_search_on_a_cluster_without_workers_raises_instead_of_hanging(monkeypatch, dask_input):
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    from dasklearn._runtime import _backend, _cluster

    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.5)
    monkeypatch.setattr(_cluster, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(_backend.DistributedBackend, "POLL_SECONDS", 0.1)
    X, y = make_classification(n_samples=60, random_state=0)
    if dask_input:  # computed on the cluster: the gather used to wait for ever
        X, y = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc, Client(lc):
        search = GridSearchCV(LoggedSGD(), {"alpha": [1e-4, 1e-3]}, cv=2)
        with pytest.raises(_cluster.WorkersLost, match="has had no worker for 0.5 s. Start workers"):
            _fit_in_thread(search, X, y)


def test_search_whose_workers_all_leave_raises_instead_of_hanging(monkeypatch, tmp_path):
    """Every worker leaves mid-search: the search gives up after WORKER_TIMEOUT
    with WorkersLost; the Client stays usable and runs once workers are back."""
    import dask.array as da

    from dasklearn._runtime import _backend, _cluster

    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 1.0)
    monkeypatch.setattr(_backend.DistributedBackend, "POLL_SECONDS", 0.2)
    X, y = make_classification(n_samples=60, random_state=0)
    X, y = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    log = tmp_path / "fits.log"
    search = GridSearchCV(LoggedSGD(log=str(log), delay=0.5), {"alpha": list(np.geomspace(1e-5, 1e-1, 20))}, cv=2)
    from conftest import private_client

    with private_client(n_workers=1) as c:
        def scale_down_after_first_fit():
            deadline = time.time() + 60
            while not (log.exists() and log.read_text()) and time.time() < deadline:
                time.sleep(0.05)
            c.cluster.scale(0)

        threading.Thread(target=scale_down_after_first_fit, daemon=True).start()
        with pytest.raises(_cluster.WorkersLost, match="no worker"):
            _fit_in_thread(search, X, y)
        assert 0 < len(log.read_text().splitlines()) < 40  # it stopped part-way
        c.cluster.scale(1)
        c.wait_for_workers(1, timeout=60)
        assert c.submit(sum, [1, 2]).result(timeout=60) == 3


def test_worker_timeout_comes_from_dask_config():
    import dask

    from dasklearn._runtime import _cluster

    assert _cluster.worker_timeout() == _cluster.WORKER_TIMEOUT
    with dask.config.set({"dasklearn.worker-timeout": "2.5"}):
        assert _cluster.worker_timeout() == 2.5
    with dask.config.set({"dasklearn.worker-timeout": "inf"}):
        assert _cluster.worker_timeout() == float("inf")
    for duration, seconds in (("5 minutes", 300.0), ("90s", 90.0)):  # dask's durations
        with dask.config.set({"dasklearn.worker-timeout": duration}):
            assert _cluster.worker_timeout() == seconds
    for bad in (0, -1, "soon", True):
        with dask.config.set({"dasklearn.worker-timeout": bad}):
            with pytest.raises(ValueError, match="positive number of seconds.*got"):
                _cluster.worker_timeout()


def test_a_configured_worker_timeout_is_the_one_waited(monkeypatch):
    import dask
    from dask.distributed import Client, LocalCluster

    from dasklearn._runtime import _cluster

    monkeypatch.setattr(_cluster, "POLL_SECONDS", 0.05)
    X, y = make_classification(n_samples=60, random_state=0)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc, Client(lc), \
            dask.config.set({"dasklearn.worker-timeout": 0.4}):
        start = time.monotonic()
        with pytest.raises(_cluster.WorkersLost, match="no worker for 0.4 s.*'dasklearn.worker-timeout'"):
            _fit_in_thread(GridSearchCV(LoggedSGD(), {"alpha": [1e-4, 1e-3]}, cv=2), X, y)
        assert time.monotonic() - start < 30


def test_search_on_an_adaptive_cluster_at_zero_workers_scales_it_up():
    """Nothing waits for a worker before submitting: the waiting tasks make an
    adaptive cluster at zero start one, and the search runs."""
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster
    from sklearn.linear_model import SGDClassifier

    X, y = make_classification(n_samples=60, random_state=0)
    X, y = da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), LocalCluster(
        n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
    ) as lc, Client(lc) as c:
        lc.adapt(minimum=0, maximum=1, interval="200ms", wait_count=10**6)  # up, never down
        est = SGDClassifier(max_iter=5, tol=None, random_state=0)
        search = _fit_in_thread(GridSearchCV(est, {"alpha": [1e-4, 1e-3]}, cv=2), X, y)
        assert len(search.cv_results_["params"]) == 2 and len(c.nthreads()) == 1


# ------------------------------------------- nothing left behind, clear errors
def _left_on(client, deadline=15.0):
    """(client futures, scheduler tasks) left, once they settle (a private cluster)."""
    import gc

    end = time.time() + deadline
    while True:
        gc.collect()
        futures = len(client.futures)
        tasks = client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
        if (futures, tasks) == (0, 0) or time.time() > end:
            return futures, tasks
        time.sleep(0.2)


def test_search_whose_workers_all_die_leaves_nothing_behind(client):
    """The batches cancelled with the scattered data were kept by their
    tracebacks (futures on the client, a result in worker memory)."""
    X, y = make_classification(n_samples=1200, n_features=10, random_state=0)
    grid = {"alpha": list(np.logspace(-5, -1, 6))}

    def kill_all():
        time.sleep(1.0)
        for pid in client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)

    reference = GridSearchCV(LoggedSGD(log=os.devnull, delay=0.2), grid, cv=3).fit(X, y)
    killer = threading.Thread(target=kill_all, daemon=True)
    killer.start()
    disturbed = GridSearchCV(LoggedSGD(log=os.devnull, delay=0.2), grid, cv=3).fit(X, y)
    killer.join()
    np.testing.assert_array_equal(disturbed.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    del disturbed
    assert _left_on(client) == (0, 0)


class _KillsItsWorker(LoggedSGD):
    """A fit that kills its worker (a crash in compiled code, a memory limit)."""

    def fit(self, X, y):
        if self.alpha > 1e-3:
            exit_worker()
        return super().fit(X, y)


def exit_worker():
    """End this dask worker's process at once, as a crash would; outside a
    worker (a fit run in the test's own process by mistake), raise instead of
    ending pytest."""
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        raise RuntimeError("this test estimator ends its process: it must run on a dask worker") from None
    os._exit(1)


def test_a_fit_that_kills_its_worker_every_time_says_so(client, monkeypatch):
    """It ended in 'FutureCancelledError ... already forgotten' after eleven
    tries (by default: 10 resubmits), naming nothing. (Three tries here: each
    death costs a worker's restart.)"""
    from dasklearn._runtime import _backend
    from dasklearn._runtime._cluster import WorkersLost

    monkeypatch.setattr(_backend, "MAX_RESUBMITS", 2)
    X, y = make_classification(n_samples=600, n_features=10, random_state=0)
    search = GridSearchCV(_KillsItsWorker(log=os.devnull), {"alpha": [1e-5, 1e-4, 1e-2]}, cv=3)
    with pytest.raises(WorkersLost, match="lost with dying workers 3 times; giving up. It may be killing its worker"):
        search.fit(X, y)
    client.wait_for_workers(2, timeout=60)
    assert _left_on(client) == (0, 0)


def test_a_cluster_emptied_by_a_fit_that_kills_its_worker_says_why():
    """LocalCluster stops restarting a worker still away
    ``distributed.deploy.lost-worker-timeout`` after a death; the search then
    said only 'The cluster has had no worker for 60 s', hiding the fit that
    killed it."""
    import dask

    from conftest import private_client
    from dasklearn.exceptions import WorkersLost

    X, y = make_classification(n_samples=300, n_features=10, random_state=0)
    search = GridSearchCV(_KillsItsWorker(log=os.devnull), {"alpha": [1e-2]}, cv=2)
    with private_client(n_workers=1, lost_worker_timeout="0s") as c, dask.config.set({"dasklearn.worker-timeout": 2}):
        with pytest.raises(WorkersLost, match=r"no worker for 2 s\. .*Before that, a fit_and_score_batch task of "
                                               r"this run was lost with dying workers \d+ times?: a task may be killing"):
            search.fit(X, y)
        assert c.nthreads() == {}  # (the nanny was closed: the message's premise)


class _SlowFit(SGDClassifier):
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        time.sleep(0.1)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


@pytest.mark.parametrize("after", [0.0, 0.5], ids=["at-the-first-task", "mid-fit"])
@pytest.mark.parametrize("kind", ["GridSearchCV", "HyperbandSearchCV", "LogisticRegression"])
def test_closing_the_client_mid_fit_says_so(client, kind, after):
    """The cleanup's own cancel on the closed Client replaced ClientClosed
    with distributed's 'Client is closed. Can't send cancel-keys message';
    closed while a linear model placed its blocks, it said they were lost
    with their workers (or 'CommClosedError')."""
    import dask.array as da

    from dasklearn._runtime._cluster import ClientClosed
    from dasklearn.linear_model import LogisticRegression
    from dasklearn.model_selection import HyperbandSearchCV

    X, y = make_classification(n_samples=3000, n_features=10, random_state=0)
    Xd, yd = da.from_array(X, chunks=300), da.from_array(y, chunks=300)
    grid = {"alpha": list(np.logspace(-5, -1, 6))}
    run = {"GridSearchCV": lambda: GridSearchCV(LoggedSGD(log=os.devnull, delay=0.2), grid, cv=3).fit(X, y),
           "HyperbandSearchCV": lambda: HyperbandSearchCV(_SlowFit(random_state=0), grid, max_iter=9,
                                                          random_state=0).fit(Xd, yd, classes=[0, 1]),
           "LogisticRegression": lambda: LogisticRegression(solver="gradient_descent", max_iter=100_000,
                                                            tol=1e-30).fit(Xd, yd)}[kind]
    from conftest import close_once_working

    closing = close_once_working(client, after=after)
    with pytest.raises(ClientClosed, match="Client was closed"):
        run()
    closing.join()


def test_closing_the_client_while_blocks_are_placed_says_so(client, monkeypatch):
    """Closed between the blocks' computation and the question of where they
    are, the fit raised distributed's CommClosedError (or said the blocks
    were lost with their workers)."""
    import dask.array as da

    from dasklearn._runtime import _reduce
    from dasklearn.exceptions import ClientClosed
    from dasklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=600, n_features=5, random_state=0)
    real = _reduce.DistributedBlocks._locations

    def closed_first(self, futures):
        self.client.close()
        return real(self, futures)

    monkeypatch.setattr(_reduce.DistributedBlocks, "_locations", closed_first)
    with pytest.raises(ClientClosed, match="Client was closed"):
        LogisticRegression().fit(da.from_array(X, chunks=200), da.from_array(y, chunks=200))


def test_one_death_of_a_worker_of_many_threads_is_survived():
    """One death cancels every batch in flight (2 per slot): counted per
    batch, eight slots' worth gave up after a single death."""
    from conftest import private_client

    X, y = make_classification(n_samples=600, n_features=5, random_state=0)
    grid = {"alpha": list(np.logspace(-6, -1, 24))}
    with private_client(n_workers=1, threads_per_worker=8) as client:
        thread, killed = kill_a_worker_when(client, lambda: time.sleep(2.0) or True)  # 2 s in
        search = GridSearchCV(LoggedSGD(log=os.devnull, delay=0.3), grid, cv=3).fit(X, y)
        end = time.monotonic()
        thread.join()
        assert killed and killed["at"] < end and len(search.cv_results_["params"]) == 24
        assert not np.isnan(search.cv_results_["mean_test_score"]).any()


def test_refit_warnings_are_not_recorded_on_a_worker_of_several_threads():
    """Recording swaps the process's warning state (Python < 3.14), under
    the other tasks of the worker: on several threads the refit's warnings
    stay in the worker's log instead."""
    import warnings

    import dask
    from dask.distributed import Client, LocalCluster
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from dasklearn.model_selection import _fit

    X, y = make_classification(n_samples=200, n_features=5, random_state=0)
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0",
            host="127.0.0.1") as cluster, Client(cluster) as client:
        future = client.submit(_fit.fit_final, LogisticRegression(max_iter=2), {}, X, y, {})
        model, _, recorded = future.result()
        assert recorded == [] and model.n_iter_[0] == 2  # (it did not converge: it warned, in the worker)
    with warnings.catch_warnings(record=True):  # on a worker of one thread: recorded
        warnings.simplefilter("always")
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                          host="127.0.0.1") as cluster, Client(cluster) as client:
            _, _, recorded = client.submit(_fit.fit_final, LogisticRegression(max_iter=2), {}, X, y, {}).result()
    assert any(issubclass(category, ConvergenceWarning) for _, category, *_ in recorded)


def test_the_cluster_errors_are_public_and_pickle():
    """Users caught them only by importing a private module."""
    import pickle

    from dasklearn._runtime import _cluster
    from dasklearn.exceptions import ClientClosed, WorkersLost

    assert WorkersLost is _cluster.WorkersLost and ClientClosed is _cluster.ClientClosed
    assert issubclass(WorkersLost, RuntimeError) and issubclass(ClientClosed, RuntimeError)
    error = pickle.loads(pickle.dumps(WorkersLost("gone")))
    assert type(error) is WorkersLost and str(error) == "gone"
    assert f"{type(error).__module__}.{type(error).__name__}" == "dasklearn.exceptions.WorkersLost"


_CRASHING_CLIENT = """
import os, sys
import dasklearn  # forked local workers (the default on Linux)
from dask.distributed import Client, LocalCluster
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
with open(sys.argv[1], "w") as f:
    f.write(" ".join(str(p) for p in sorted(client.run(os.getpid).values())))
os._exit(3)  # a crash: no cleanup, as a kill or an out-of-memory kill
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"  # (a zombie has exited)
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")
def test_forked_workers_exit_when_their_client_process_crashes(tmp_path):
    """Workers forked one after the other inherited each other's end of
    distributed's parent-alive pipe: after a crash of the process that
    started them, each kept the other alive (for ever, holding memory and
    ports). They now exit within a few seconds."""
    import subprocess
    import sys

    script, pid_file, log = tmp_path / "crash.py", tmp_path / "pids", tmp_path / "log"
    script.write_text(_CRASHING_CLIENT)
    with open(log, "w") as out:  # (a file: orphans holding a pipe would block the wait for its end)
        rc = subprocess.run([sys.executable, str(script), str(pid_file)], stdout=out, stderr=out,
                            timeout=120).returncode
    pids = [int(p) for p in pid_file.read_text().split()] if pid_file.exists() else []
    assert rc == 3 and len(pids) == 2, log.read_text()[-2000:]
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [p for p in pids if _alive(p)]
    for p in left:  # (never leave them behind)
        os.kill(p, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"
