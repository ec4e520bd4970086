"""Adaptive searches under failure: a worker SIGKILLed mid-run, a search resumed
from its checkpoint (complete, torn, foreign, or after its process was killed),
and the same search on a cluster started with the `dask` command line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier

from dasklearn.model_selection import GridSearchCV
from dasklearn.model_selection._hyperband import HyperbandSearchCV, SuccessiveHalvingSearchCV
from dasklearn.model_selection._incremental import IncrementalSearchCV

from test_adaptive import _dasklearn_keys
from test_checkpoint import LoggedSGD

PARAMS = {"alpha": loguniform(1e-4, 1e1), "loss": ["hinge", "log_loss"]}

@pytest.fixture
def client():
    """Worker-kill tests get a cluster of their own (see conftest.private_client)."""
    from conftest import private_client

    with private_client() as c:
        yield c



class LoggedPartialSGD(ClassifierMixin, BaseEstimator):
    """SGDClassifier that appends one line per partial_fit call to ``log``
    (seen across worker processes)."""

    def __init__(self, alpha=1e-4, loss="hinge", log=None, delay=0.0, gate=None):
        self.alpha = alpha
        self.loss = loss
        self.log = log
        self.delay = delay
        self.gate = gate

    def partial_fit(self, X, y, classes=None):
        _wait_at_gate(self.gate, self.log)
        time.sleep(self.delay)
        if self.log is not None:
            with open(self.log, "a") as fh:
                fh.write(f"{self.alpha}\n")
        if not hasattr(self, "model_"):
            self.model_ = SGDClassifier(alpha=self.alpha, loss=self.loss, tol=None, random_state=0)
        self.model_.partial_fit(X, y, classes=classes)
        self.classes_ = self.model_.classes_
        return self

    def fit(self, X, y):  # scikit-learn's scorers want a fit method; the searches do not call it
        self.__dict__.pop("model_", None)
        return self.partial_fit(X, y, classes=np.unique(y))

    def predict(self, X):
        return self.model_.predict(X)


def _n_calls(log) -> int:
    return len(log.read_text().split()) if log.exists() else 0


def _wait_at_gate(gate, log, timeout: float = 120.0) -> None:
    """Hold a call while the calls logged reach the number in the file
    ``gate``: the search is then still running when a test's killer, which
    moves or removes the gate after each kill, gets to it (a worker's restart
    is slow on a loaded machine; the search's sleeps are not). Not longer
    than ``timeout`` (a killer that failed leaves the gate shut; the test
    then fails on its kills, not on pytest's timeout)."""
    deadline = time.monotonic() + timeout
    while gate is not None and time.monotonic() < deadline:
        try:
            with open(gate) as fh:
                limit = int(fh.read())
        except (OSError, ValueError):
            return  # no gate (or none any more)
        if _n_calls(Path(log)) < limit:
            return
        time.sleep(0.01)


def _set_gate(gate, limit) -> None:
    if limit is None:
        gate.unlink(missing_ok=True)
    else:  # replaced whole: a call never reads half a number
        gate.with_suffix(".tmp").write_text(str(limit))
        os.replace(gate.with_suffix(".tmp"), gate)


@pytest.fixture(scope="module")
def memory_data():
    return make_classification(n_samples=1000, n_features=10, n_informative=4, random_state=0)


@pytest.fixture(scope="module")
def dask_data():
    from dasklearn.datasets import make_classification as dask_make

    return dask_make(n_samples=2000, n_features=10, n_informative=4, chunks=250, random_state=0)


def assert_same_search(a, b):
    """Same models, candidates, work, scores and winner (timings aside)."""
    ra, rb = a.cv_results_, b.cv_results_
    assert list(ra["model_id"]) == list(rb["model_id"])
    assert ra["params"] == rb["params"]
    for key in sorted(ra):
        if key.endswith("test_score") or key in ("partial_fit_calls", "n_samples", "bracket"):
            np.testing.assert_array_equal(ra[key], rb[key], err_msg=key)
    assert a.best_params_ == b.best_params_ and a.best_index_ == b.best_index_
    ea, eb = a.best_estimator_, b.best_estimator_
    ea, eb = getattr(ea, "model_", ea), getattr(eb, "model_", eb)
    if hasattr(ea, "coef_"):
        np.testing.assert_array_equal(ea.coef_, eb.coef_)


# ------------------------------------------------------------------ worker loss
def kill_busiest_worker_when(client, *conditions, everyone=False, timeout=60, after_kill=None):
    """For each condition in turn: once ``condition()`` and both workers are
    up, SIGKILL (its nanny restarts it) the worker holding the most of the
    search's data and models (``everyone``: both workers at once), then call
    ``after_kill(i)`` (i: the kill's index). A second kill, after the first
    worker came back empty, takes the last copies."""
    killed = []

    def holdings(dask_scheduler):
        counts = {}
        for key, ts in dask_scheduler.tasks.items():
            if "dasklearn-" in str(key):
                for ws in ts.who_has or ():
                    counts[ws.address] = counts.get(ws.address, 0) + 1
        return counts

    def run():
        for condition in conditions:
            deadline = time.time() + timeout
            while not (condition() and len(client.nthreads()) == 2) and time.time() < deadline:
                time.sleep(0.02)
            held = client.run_on_scheduler(holdings)
            pids = client.run(os.getpid)
            victims = sorted(pids) if everyone else [max(sorted(pids), key=lambda w: held.get(w, 0))]
            for victim in victims:
                os.kill(pids[victim], signal.SIGKILL)
            killed.append((victims, sum(held.get(v, 0) for v in victims)))
            if after_kill is not None:
                after_kill(len(killed) - 1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, killed


def _survives_kill(client, tmp_path, make, X, y, kill_after, everyone=False, delay=0.08):
    """``make(log, delay, gate)``: the search; slowed down (which changes no
    result) while workers are killed, and held at each kill's number of calls
    until that kill is done (:func:`_wait_at_gate`), so that it is still
    running when they are."""
    log, gate = tmp_path / "calls.log", tmp_path / "gate"
    reference = make(log, 0.0, None).fit(X, y)
    n_reference = _n_calls(log)
    log.unlink()
    _set_gate(gate, kill_after[0])
    thread, killed = kill_busiest_worker_when(
        client, *[lambda n=n: _n_calls(log) >= n for n in kill_after], everyone=everyone,
        after_kill=lambda i: _set_gate(gate, kill_after[i + 1] if i + 1 < len(kill_after) else None))
    disturbed = make(log, delay, str(gate)).fit(X, y)
    thread.join()
    assert len(killed) == len(kill_after) and all(held for _, held in killed), (
        f"not every kill hit a worker holding the search's data during the search: {killed}")
    assert_same_search(disturbed, reference)
    assert _n_calls(log) >= n_reference  # lost calls were replayed, none skipped
    assert not _dasklearn_keys(client)  # recovery leaves nothing behind
    client.wait_for_workers(2, timeout=60)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, kill_after, everyone",
    [("memory", [20], False), ("memory", [15, 35], False), ("memory", [25], True), ("dask", [25], False)],
    ids=["memory-one-kill", "memory-two-kills", "memory-all-workers", "dask-one-kill"])
def test_hyperband_survives_worker_kill(client, tmp_path, memory_data, dask_data, kind, kill_after, everyone):
    # memory: the one block was scattered from the client; after the second kill
    # (or killing both workers) no copy of it, of the shared estimator and scorer,
    # or of any model is left on the cluster: all placed again / rebuilt.
    # dask: blocks are recomputed from their graph (two folds, then a refit on all rows)
    X, y = memory_data if kind == "memory" else dask_data
    extra = {} if kind == "memory" else {"cv": 2}

    def make(log, delay, gate):
        return HyperbandSearchCV(LoggedPartialSGD(log=str(log), delay=delay, gate=gate), PARAMS, max_iter=9,
                                 random_state=0, **extra)

    # two folds make twice the calls: half the delay keeps the same duration
    _survives_kill(client, tmp_path, make, X, y, kill_after, everyone, delay=0.08 if kind == "memory" else 0.04)


@pytest.mark.slow
def test_incremental_search_survives_worker_kill(client, tmp_path, memory_data):
    X, y = memory_data

    def make(log, delay, gate):
        return IncrementalSearchCV(LoggedPartialSGD(log=str(log), delay=delay, gate=gate), PARAMS,
                                   n_initial_parameters=6, max_iter=8, fits_per_score=2, random_state=0)

    _survives_kill(client, tmp_path, make, X, y, kill_after=[10, 25])


# ----------------------------------------------------------------- checkpoints
def _hyperband(log, ckpt, **kw):
    return HyperbandSearchCV(LoggedPartialSGD(log=str(log)), PARAMS, max_iter=9, random_state=0,
                             checkpoint=ckpt, **kw)


def _records(path) -> list:
    """The checkpoint's records up to the first torn or unreadable line."""
    out = []
    for line in path.read_text().splitlines(keepends=True)[1:]:
        try:
            out.append(json.loads(line)["e"])
        except ValueError:
            break
    return out


def test_complete_checkpoint_repeats_no_call(client, tmp_path, memory_data):
    X, y = memory_data
    log, ckpt = tmp_path / "calls.log", tmp_path / "hb.ckpt"
    full = _hyperband(log, ckpt, cv=2).fit(X, y)
    # 69 calls per fold, then the best candidate again on all the rows
    assert _n_calls(log) == 2 * 69 + full.cv_results_["partial_fit_calls"][full.best_index_]
    header = json.loads(ckpt.read_text().splitlines()[0])
    assert header["kind"] == "adaptive" and header["format"] == "dasklearn-search-checkpoint"
    records = _records(ckpt)
    assert len(records) == 2 * len(full.history_) + 1  # every score of every fold, and the refit
    assert {"m", "f", "t", "p", "v", "s"} <= set(records[0])
    log.unlink()
    again = _hyperband(log, ckpt, cv=2).fit(X, y)
    assert _n_calls(log) == 0
    assert_same_search(again, full)
    assert len(_records(ckpt)) == len(records)  # nothing new to record
    # the adaptive records did not change with checkpoint format 2: a file
    # written as format 1 resumes too (a search's format-1 file is refused)
    lines = ckpt.read_text().splitlines(keepends=True)
    ckpt.write_text(json.dumps({**header, "version": 1}) + "\n" + "".join(lines[1:]))
    assert_same_search(_hyperband(log, ckpt, cv=2).fit(X, y), full)
    assert _n_calls(log) == 0


@pytest.mark.parametrize("where", ["client", "local"])
def test_torn_checkpoint_resumes_only_the_missing_calls(request, tmp_path, memory_data, where):
    if where == "client":
        request.getfixturevalue("client")
    X, y = memory_data
    log, ckpt = tmp_path / "calls.log", tmp_path / "hb.ckpt"
    reference = _hyperband(log, None).fit(X, y)
    log.unlink()
    _hyperband(log, ckpt).fit(X, y)
    lines = ckpt.read_text().splitlines(keepends=True)
    kept = 12
    # a crash after 12 records, in the middle of writing the 13th
    ckpt.write_text("".join(lines[: 1 + kept]) + lines[1 + kept][: len(lines[1 + kept]) // 2])
    done = {}
    for rec in _records(ckpt):
        done[rec["m"]] = max(done.get(rec["m"], 0), rec["t"])
    final = dict(zip(reference.cv_results_["model_id"], reference.cv_results_["partial_fit_calls"]))
    missing = sum(int(calls) - done.get(m, 0) for m, calls in final.items())
    log.unlink()
    resumed = _hyperband(log, ckpt).fit(X, y)
    assert _n_calls(log) == missing < 69
    assert_same_search(resumed, reference)
    assert len(ckpt.read_text().splitlines()) == len(lines)  # the torn line was replaced, not kept


class _SecondCallFails(SGDClassifier):
    """partial_fit fails, late, at the second call of the model with alpha=1e-2."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.n_calls_ = getattr(self, "n_calls_", 0) + 1
        if self.alpha == 1e-2 and self.n_calls_ == 2:
            time.sleep(0.3)  # the other models' second calls finish first (within HOLD_SECONDS)
            raise RuntimeError("second call fails")
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_a_failing_fit_ends_the_search_after_what_finished_is_checkpointed(tmp_path, memory_data):
    """Scores are brought back a round at a time; a fit that fails ends the
    search, but not before the round's finished scores are in the checkpoint
    (as when each score was saved on arrival). Local threads, one a model:
    the others' calls surely finish before the failure (on a cluster, one
    may wait behind the failing task on its worker)."""
    X, y = memory_data
    ckpt = tmp_path / "inc.ckpt"
    grid = {"alpha": [1e-4, 1e-3, 1e-2, 1e-1]}
    search = IncrementalSearchCV(_SecondCallFails(tol=None, random_state=0), grid, n_initial_parameters="grid",
                                 max_iter=3, decay_rate=None, random_state=0, checkpoint=ckpt, n_jobs=4)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="second call fails"):
        search.fit(X, y)
    assert time.monotonic() - start < 30
    second = sorted(r["p"]["alpha"] for r in _records(ckpt) if r["t"] == 2)
    assert second == [1e-4, 1e-3, 1e-1]  # every second call but the failing one


def test_samples_resource_resumes_without_refitting(tmp_path, memory_data):
    X, y = memory_data
    log, ckpt = tmp_path / "fits.log", tmp_path / "sha.ckpt"

    def make():
        return SuccessiveHalvingSearchCV(LoggedSGD(log=str(log)), {"alpha": loguniform(1e-5, 1e-1)},
                                         n_initial_parameters=6, random_state=0, n_jobs=2, checkpoint=ckpt)

    full = make().fit(X, y)
    assert _n_calls(log) == full.metadata_["n_fits"]
    log.unlink()
    again = make().fit(X, y)
    assert _n_calls(log) == 0
    assert_same_search(again, full)


def test_foreign_checkpoint_is_refused(tmp_path, memory_data):
    X, y = memory_data
    log, ckpt = tmp_path / "calls.log", tmp_path / "hb.ckpt"

    def make(cls=HyperbandSearchCV, **kw):
        kw = {"max_iter": 3, "random_state": 0, "checkpoint": ckpt, "n_jobs": 2, **kw}
        return cls(LoggedPartialSGD(log=str(log)), PARAMS, **kw)

    make().fit(X, y)
    log.unlink()
    for other in [make(max_iter=4), make(random_state=1), make(test_size=0.3), make(scoring="accuracy"),
                  make(IncrementalSearchCV)]:
        with pytest.raises(ValueError, match="written by a different search"):
            other.fit(X, y)
    with pytest.raises(ValueError, match=r"written by a different search \(other .*X, y"):  # other data
        make().fit(X[:-10], y[:-10])
    grid_ckpt = tmp_path / "grid.ckpt"  # a GridSearchCV checkpoint is another kind
    GridSearchCV(LoggedSGD(log=str(tmp_path / "fits.log")), {"alpha": [1e-3]}, cv=2, checkpoint=grid_ckpt,
                 n_jobs=1).fit(X, y)
    with pytest.raises(ValueError, match="written by a different search"):
        _hyperband(log, grid_ckpt).fit(X, y)
    (tmp_path / "junk").write_text("hello\n")
    with pytest.raises(ValueError, match="not a dasklearn checkpoint"):
        _hyperband(log, tmp_path / "junk").fit(X, y)
    with pytest.raises(ValueError, match="random_state must be an int when checkpoint is given"):
        HyperbandSearchCV(LoggedPartialSGD(), PARAMS, checkpoint=tmp_path / "new.ckpt").fit(X, y)
    assert _n_calls(log) == 0  # every refusal came before any work
    assert not (tmp_path / "new.ckpt").exists()


@pytest.mark.slow
def test_search_process_killed_mid_run_resumes(tmp_path, memory_data):
    """A real crash: the search's own process is SIGKILLed mid-run, then resumed."""
    X, y = memory_data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    log, ckpt = tmp_path / "calls.log", tmp_path / "inc.ckpt"
    kw = "n_initial_parameters=4, max_iter=10, fits_per_score=2, random_state=0, n_jobs=1"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_adaptive_reliability import LoggedPartialSGD, PARAMS
        from dasklearn.model_selection._incremental import IncrementalSearchCV
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        IncrementalSearchCV(LoggedPartialSGD(log={str(log)!r}, delay=0.1), PARAMS, {kw},
                            checkpoint={str(ckpt)!r}).fit(X, y)
    """))
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 120
    while time.time() < deadline and (not ckpt.exists() or len(ckpt.read_text().splitlines()) < 7):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    recorded = _records(ckpt)
    assert 6 <= len(recorded) < 20  # 4 models x 5 scores when complete
    log.unlink()

    def make(log):
        # the same arguments as the killed run (the estimator's delay included)
        return IncrementalSearchCV(LoggedPartialSGD(log=str(log), delay=0.1), PARAMS, n_initial_parameters=4,
                                   max_iter=10, fits_per_score=2, random_state=0, n_jobs=1, checkpoint=ckpt)

    resumed = make(log).fit(X, y)
    # each record covers fits_per_score=2 calls of its model: only the rest run
    assert _n_calls(log) == 4 * 10 - 2 * len(recorded)
    reference = IncrementalSearchCV(LoggedPartialSGD(), PARAMS, n_initial_parameters=4, max_iter=10,
                                    fits_per_score=2, random_state=0, n_jobs=1).fit(X, y)
    assert_same_search(resumed, reference)


# ----------------------------------------------------------- a real cluster
@pytest.mark.slow
def test_hyperband_against_cli_cluster_by_address(cluster, cli_cluster, dask_data):
    from dask.distributed import Client

    X, y = dask_data

    def run():
        return HyperbandSearchCV(SGDClassifier(tol=None, random_state=0), PARAMS, max_iter=9, cv=2,
                                 random_state=3).fit(X, y)

    with Client(cluster, set_as_default=True):
        local_cluster = run()
    with Client(cli_cluster, set_as_default=True) as c:
        assert len(c.nthreads()) == 2
        cli = run()
        assert not _dasklearn_keys(c)
    assert_same_search(cli, local_cluster)


def _raise_on_block_3(b, block_info=None):
    if block_info[0]["chunk-location"][0] == 3:
        raise KeyError("block 3 is bad")
    return b


@pytest.mark.parametrize("search", [IncrementalSearchCV, HyperbandSearchCV])
def test_a_failing_input_block_leaves_nothing_on_the_cluster(client, dask_data, search):
    """The user's error comes back, and the search's placement futures go
    (the error, kept by the client, has a traceback through the runtime's
    frames, which held them until the Client closed)."""
    import gc

    from conftest import scheduler_keys

    X, y = dask_data
    before = scheduler_keys(client)
    with pytest.raises(KeyError, match="block 3 is bad"):
        search(SGDClassifier(tol=None), {"alpha": loguniform(1e-4, 1e-1)}, max_iter=3,
               random_state=0).fit(X.map_blocks(_raise_on_block_3, dtype=X.dtype), y)
    gc.collect()
    deadline = time.time() + 10
    while scheduler_keys(client) - before and time.time() < deadline:
        time.sleep(0.1)
    assert not scheduler_keys(client) - before
    assert not client.futures


def test_a_scatter_that_does_not_finish_is_given_up_and_tried_again():
    """A scatter to a worker that died can wait for minutes in distributed;
    the runtime's small scatters give up after a bound and try again. (A
    stand-in client whose first scatter never returns: the bound is ours.)"""
    from dasklearn._runtime import _cluster

    class FirstScatterHangs:
        calls = 0
        status = "running"

        def nthreads(self):
            return {"tcp://127.0.0.1:1": 1}

        def scatter(self, values, hash=True):
            FirstScatterHangs.calls += 1
            if FirstScatterHangs.calls == 1:
                threading.Event().wait(30)  # as a scatter stuck on a dead worker
            return ["future"]

    start = time.monotonic()
    assert _cluster.scatter(FirstScatterHangs(), ["value"], timeout=0.5) == ["future"]
    assert FirstScatterHangs.calls == 2 and time.monotonic() - start < 5


class _PartialFitKills(SGDClassifier):
    """A partial_fit that kills its worker (a crash in compiled code, a memory limit)."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        from test_reliability import exit_worker

        exit_worker()


def test_a_cluster_emptied_by_a_model_that_kills_its_worker_says_why(memory_data):
    """As test_reliability's search: the adaptive searches said only 'The
    cluster has had no worker for 60 s' once LocalCluster stopped restarting
    the worker a partial_fit kept killing."""
    import dask

    from conftest import private_client
    from dasklearn._runtime._cluster import WorkersLost

    X, y = memory_data
    search = IncrementalSearchCV(_PartialFitKills(), {"alpha": [1e-4, 1e-3]}, n_initial_parameters=2,
                                 max_iter=3, random_state=0)
    with private_client(n_workers=1, lost_worker_timeout="0s") as c, dask.config.set({"dasklearn.worker-timeout": 2}):
        with pytest.raises(WorkersLost, match=r"no worker for 2 s\. .*Before that, a model task of this run was "
                                               r"lost with dying workers \d+ times?: a task may be killing"):
            search.fit(X, y)
        assert c.nthreads() == {}
