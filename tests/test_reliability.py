"""Worker loss: a worker SIGKILLed mid-run does not change the results."""

import os
import signal
import threading
import time

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import make_classification

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV

from test_checkpoint import LoggedSGD

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



def kill_a_worker_when(client, condition, timeout=60):
    """SIGKILL one worker process (its nanny restarts it) once ``condition()``."""
    killed = {}

    def run():
        deadline = time.time() + timeout
        while not condition() and time.time() < deadline:
            time.sleep(0.02)
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        killed["worker"] = victim

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, killed


SCORES = ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score", "split2_test_score")


@pytest.mark.parametrize("search_cls", ["grid", "randomized"])
def test_search_survives_worker_kill(client, tmp_path, search_cls):
    X, y = make_classification(n_samples=600, n_features=10, random_state=0)
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
    thread.join()
    assert killed, "the worker was not killed during the search"
    for key in SCORES:
        np.testing.assert_array_equal(disturbed.cv_results_[key], reference.cv_results_[key], err_msg=key)
    assert disturbed.best_params_ == reference.best_params_
    client.wait_for_workers(2, timeout=60)
