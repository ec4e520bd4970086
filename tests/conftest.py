"""Shared fixtures: one real LocalCluster with worker *processes* per session."""

from __future__ import annotations

import contextlib

import pytest


def scheduler_keys(client) -> set:
    """Keys of the tasks the scheduler currently holds."""
    return set(client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks]))


@pytest.fixture(autouse=True)
def _dask_scheduler_config_restored():
    """A Client that fails to connect may leave dask's global 'scheduler'
    setting pointing at it; each test starts and ends with the same setting."""
    import dask

    before = {"scheduler": dask.config.get("scheduler", None)}
    yield
    dask.config.set(before)


@pytest.fixture(scope="session")
def cluster():
    import dask
    from dask.distributed import LocalCluster

    import dasklearn  # noqa: F401

    # A nanny restarts a worker that dies (tests that kill workers on purpose
    # use private_client). A restart by fork copies this multi-threaded
    # process and can deadlock if another thread holds a lock at that
    # instant, so this cluster uses dask's own default, spawn. (The tutorial and demo tests run dasklearn's fork
    # default for scripts.)
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}), LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        host="127.0.0.1",
    ) as c:
        yield c


@pytest.fixture
def client(cluster):
    """A Client connected to the shared cluster, set as the default client."""
    from dask.distributed import Client

    with Client(cluster, set_as_default=True) as c:
        yield c


@pytest.fixture(scope="session")
def cli_cluster(tmp_path_factory):
    """A scheduler and two workers started with the `dask` command line, as
    separate processes on 127.0.0.1; yields the scheduler address."""
    from dask.distributed import Client

    from _clusters import cli_cluster as start

    folder = tmp_path_factory.mktemp("cli-cluster")
    with start(folder) as (address, workers):
        with Client(address, timeout="60s") as c:
            try:
                c.wait_for_workers(2, timeout=180)
            except TimeoutError:
                logs = "\n".join(p.read_text()[-1500:] for p in sorted(folder.glob("worker*.log")))
                dead = [w.returncode for w in workers if w.poll() is not None]
                raise RuntimeError(f"CLI workers did not join (exited: {dead}):\n{logs}") from None
        yield address


@contextlib.contextmanager
def private_client(n_workers: int = 2, lost_worker_timeout: str = "1 hour", threads_per_worker: int = 1):
    """A Client on a new LocalCluster of its own, for tests that SIGKILL
    workers: a nanny restart can occasionally stall after quick successive
    kills (seen with distributed 2026.8), and that must not leave the shared
    session cluster short of a worker for the tests that follow.

    LocalCluster closes a worker's nanny for good when, ``lost_worker_timeout``
    after one of its deaths (dask's default: 15 s), that worker is away again:
    on a loaded machine, tests that kill a worker again and again then saw
    the cluster empty (dask's policy, not dasklearn's, so it is switched off
    here unless a test asks for it)."""
    import dask
    from dask.distributed import Client, LocalCluster

    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn",
                          "distributed.deploy.lost-worker-timeout": lost_worker_timeout}), LocalCluster(
        n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, dashboard_address=":0", host="127.0.0.1"
    ) as cluster, Client(cluster, set_as_default=True) as c:
        yield c


def close_once_working(client, after: float = 0.5, timeout: float = 60.0):
    """Close ``client`` from a thread ``after`` seconds once a task is running
    on its cluster: mid-fit, also on a slow machine (a fixed delay could fire
    before the fit had chosen the cluster, which then runs on local threads)."""
    import threading
    import time

    def working(dask_scheduler):
        return any(ts.state == "processing" for ts in dask_scheduler.tasks.values())

    def run():
        deadline = time.monotonic() + timeout
        while not client.run_on_scheduler(working) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after)
        client.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def settled_transitions(client, quiet: float = 0.3, timeout: float = 15.0) -> int:
    """The scheduler's transition counter once it has not moved for ``quiet``
    seconds: the previous test's clean-up (a closed Client's releases) may
    still be reaching a busy scheduler, and is not this test's work."""
    import time

    def count(dask_scheduler):
        return dask_scheduler.transition_counter

    deadline = time.monotonic() + timeout
    last = client.run_on_scheduler(count)
    while True:
        time.sleep(quiet)
        now = client.run_on_scheduler(count)
        if now == last or time.monotonic() > deadline:
            return now
        last = now
