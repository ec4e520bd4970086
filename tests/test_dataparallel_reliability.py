"""DataParallel: deterministic groups, and worker loss changes nothing.

The fitted model is a function of the data, the parameters and the number of
workers only: two undisturbed fits, fits with the groups on other workers, a
fit disturbed by a SIGKILLed worker (its nanny restarts it under a new
address) or by a worker that leaves for good, and a fit on a cluster started
with the ``dask`` command line all give the same model, bit for bit.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score
from sklearn.naive_bayes import GaussianNB

import dasklearn._runtime._partitions as partitions
from dasklearn._parallel import DataParallel
from dasklearn.datasets import make_classification

from test_reliability import kill_a_worker_when

DELAY = 0.12  # seconds per partial_fit call: a round lasts long enough to be hit

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



class SlowSGD(SGDClassifier):
    """SGDClassifier whose partial_fit takes a while (same numbers)."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        time.sleep(DELAY)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


class SlowGaussianNB(GaussianNB):
    """GaussianNB whose partial_fit takes a while (same numbers)."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        time.sleep(DELAY)
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


class CountingAccuracy:
    """Accuracy scorer that counts its calls: one per finished round."""

    def __init__(self):
        self.calls = 0

    def __call__(self, estimator, X, y):
        score = accuracy_score(y, estimator.predict(X))
        self.calls += 1  # after the (remote) predictions: the round is over
        return score


def _data(n=8_000, chunks=1_000, seed=0):
    return make_classification(n_samples=n, n_features=10, n_informative=6, chunks=chunks, random_state=seed)


def _sgd_model(est=None, **kw):
    params = dict(max_rounds=4, tol=None, random_state=0)
    params.update(kw)
    return DataParallel(est if est is not None else SGDClassifier(random_state=0), **params)


def _assert_same_fit(a, b):
    ea, eb = a.estimator_, b.estimator_
    for attr in ("coef_", "intercept_", "t_", "theta_", "var_", "class_count_", "epsilon_"):
        if hasattr(ea, attr):
            assert_array_equal(getattr(ea, attr), getattr(eb, attr), err_msg=attr)
    assert a.groups_ == b.groups_
    assert a.n_rounds_ == b.n_rounds_
    for ha, hb in zip(a.history_, b.history_):
        assert (ha["score"], ha["param_change"], ha["n_samples"]) == (hb["score"], hb["param_change"],
                                                                       hb["n_samples"])


# ------------------------------------------------------------ determinism
def test_two_undisturbed_fits_are_identical(client):
    client.wait_for_workers(2, timeout=60)
    X, y = _data()
    first = _sgd_model().fit(X, y)
    second = _sgd_model().fit(X, y)
    assert len(first.groups_) == 2 and first.n_recoveries_ == 0
    _assert_same_fit(first, second)


def test_model_does_not_depend_on_which_worker_holds_which_group(client, monkeypatch):
    client.wait_for_workers(2, timeout=60)
    X, y = _data()
    reference = _sgd_model().fit(X, y)
    real = partitions.assign_groups

    def reversed_addresses(current, workers, **kwargs):
        if all(w is None for w in current.values()):  # initial placement: the other way round
            order = sorted(workers, reverse=True)
            return {g: order[g % len(order)] for g in current}
        return real(current, workers, **kwargs)

    monkeypatch.setattr(partitions, "assign_groups", reversed_addresses)
    swapped = _sgd_model().fit(X, y)
    assert swapped.partitions_ != reference.partitions_  # the groups really were elsewhere
    assert sorted(swapped.partitions_.values()) == sorted(reference.partitions_.values())
    _assert_same_fit(swapped, reference)


# ------------------------------------------------------------ worker loss
@pytest.mark.parametrize("make, rounds", [
    (lambda: SlowSGD(random_state=0), 4),
    (lambda: SlowGaussianNB(), 3),
], ids=["SGDClassifier", "GaussianNB"])
def test_worker_killed_mid_fit_changes_nothing(client, make, rounds):
    """SIGKILL a worker while round 2 runs (after round 1 was scored): the fit
    neither fails nor hangs and returns the undisturbed model exactly."""
    client.wait_for_workers(2, timeout=60)
    X, y = _data()
    reference = DataParallel(make(), max_rounds=rounds, tol=None, scoring=CountingAccuracy(),
                             random_state=0).fit(X, y)
    assert reference.n_recoveries_ == 0

    scorer = CountingAccuracy()
    thread, killed = kill_a_worker_when(client, lambda: scorer.calls >= 1)
    start = time.perf_counter()
    disturbed = DataParallel(make(), max_rounds=rounds, tol=None, scoring=scorer, random_state=0).fit(X, y)
    elapsed = time.perf_counter() - start
    thread.join()
    assert killed, "the worker was not killed during the fit"
    assert disturbed.n_recoveries_ >= 1  # the loss was seen and the lost group placed again
    assert disturbed.n_rounds_ == rounds and elapsed < 60
    _assert_same_fit(disturbed, reference)
    client.wait_for_workers(2, timeout=60)


@pytest.mark.slow
def test_every_worker_killed_at_once_changes_nothing(client):
    """Both workers SIGKILLed together in round 2: every block, the broadcast
    model and the running tasks are gone at once. The fit waits for the
    restarted workers, places everything again and returns the same model."""
    client.wait_for_workers(2, timeout=60)
    X, y = _data()
    make = lambda scorer: _sgd_model(SlowSGD(random_state=0), scoring=scorer)  # noqa: E731
    reference = make(CountingAccuracy()).fit(X, y)
    scorer = CountingAccuracy()
    killed = {}

    def kill_both():
        deadline = time.time() + 60
        while scorer.calls < 1 and time.time() < deadline:
            time.sleep(0.02)
        killed["at"] = scorer.calls  # (read before the kills: a slow kill may land a round later)
        for pid in client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=kill_both, daemon=True)
    thread.start()
    disturbed = make(scorer).fit(X, y)
    thread.join()
    assert killed == {"at": 1} and disturbed.n_recoveries_ >= 1
    _assert_same_fit(disturbed, reference)
    client.wait_for_workers(2, timeout=60)


def test_fewer_workers_after_a_loss_share_the_groups():
    """A worker that leaves for good (no nanny): its group moves to the
    survivor, which then trains two groups; the model is unchanged."""
    from dask.distributed import Client, LocalCluster

    X, y = _data(n=6_000)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        reference = _sgd_model(SlowSGD(random_state=0), scoring=CountingAccuracy()).fit(X, y)
        scorer = CountingAccuracy()
        victim = sorted(cluster.workers)[0]

        def close_one():
            deadline = time.time() + 60
            while scorer.calls < 1 and time.time() < deadline:
                time.sleep(0.02)
            cluster.sync(cluster.workers[victim].close)

        thread = threading.Thread(target=close_one, daemon=True)
        thread.start()
        disturbed = _sgd_model(SlowSGD(random_state=0), scoring=scorer).fit(X, y)
        thread.join()
        assert len(c.nthreads()) == 1
        assert disturbed.n_recoveries_ >= 1
        assert list(disturbed.partitions_.values()) == [list(range(6))]  # both groups on the survivor
        _assert_same_fit(disturbed, reference)


# ------------------------------------------------------- a real cluster
@pytest.mark.slow
def test_cli_cluster_by_address_gives_the_local_cluster_model(client, cli_cluster):
    """Scheduler and workers started with the ``dask`` CLI, reached by
    address: same number of workers, same groups, same model."""
    from dask.distributed import Client

    client.wait_for_workers(2, timeout=60)
    X, y = _data()
    local = _sgd_model().fit(X, y)
    with Client(cli_cluster) as remote:
        assert len(remote.nthreads()) == 2
        fitted = _sgd_model().fit(X, y)
        assert set(fitted.partitions_) == set(remote.nthreads())  # it ran there
    _assert_same_fit(fitted, local)
    assert np.isfinite(fitted.estimator_.coef_).all()


def _pair(i, X, y):
    return X, y


def _rows_plus(parts, extra=0):
    return sum(len(X) for X, _ in parts) + extra


def test_a_kept_result_whose_worker_left_is_sent_from_here(client):
    """A result kept on its worker (``run(keep=True)``, as an MLP's group
    model between rounds) is read by its group after the group moved to a
    worker that joined (which so gets a copy), then its own worker retires:
    the next task reading it gets it from the copy here (before: every
    attempt was judged lost with the retired worker, and the call raised
    WorkersLost)."""
    client.wait_for_workers(2, timeout=60)
    first = sorted(client.nthreads())[0]
    client.retire_workers([a for a in client.nthreads() if a != first])
    X, y = _data(n=4_000)
    with partitions.place_blocks([X, y], _pair, n_groups=2) as parts:
        assert parts.placement() == {first: [0, 1, 2, 3]}
        kept = parts.run(_rows_plus, {0: (), 1: ()}, keep=True)
        client.cluster.scale(len(client.cluster.worker_spec) + 1)  # (the retired one is still in the spec)
        client.wait_for_workers(2, timeout=60)
        assert parts.run(_rows_plus, {g: (h,) for g, h in kept.items()}) == {0: 4_000, 1: 4_000}
        moved = [g for g, w in parts.worker_of.items() if w != first]
        assert len(moved) == 1  # one group went to the new worker, with a copy of its kept result
        client.retire_workers([first])
        assert parts.run(_rows_plus, {g: (h,) for g, h in kept.items()}) == {0: 4_000, 1: 4_000}
        assert parts.n_recoveries >= 1
