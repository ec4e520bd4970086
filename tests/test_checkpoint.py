"""Resumable searches: checkpoint=PATH records finished fits durably."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection._checkpoint import Checkpoint


class LoggedSGD(ClassifierMixin, BaseEstimator):
    """SGDClassifier that appends one line per fit to ``log`` (seen across processes)."""

    def __init__(self, alpha=1e-4, log=None, delay=0.0):
        self.alpha = alpha
        self.log = log
        self.delay = delay

    def fit(self, X, y):
        time.sleep(self.delay)
        with open(self.log, "a") as fh:
            fh.write(f"{self.alpha}\n")
        self.model_ = SGDClassifier(alpha=self.alpha, max_iter=20, tol=None, random_state=0).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


@pytest.fixture
def data():
    return make_classification(n_samples=400, n_features=10, random_state=0)


GRID = {"alpha": [1e-5, 1e-4, 1e-3, 1e-2]}


def _n_fits(log):
    return len(log.read_text().split()) if log.exists() else 0


def _search(log, ckpt, **kw):
    return GridSearchCV(LoggedSGD(log=str(log)), GRID, cv=3, checkpoint=ckpt, **kw)


def test_resume_repeats_no_finished_fit(client, data, tmp_path):
    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    full = _search(log, ckpt).fit(X, y)
    assert _n_fits(log) == 12 + 1  # 4 candidates x 3 folds, + the refit
    lines = ckpt.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "dasklearn-search-checkpoint" and len(lines) == 13
    log.unlink()
    again = _search(log, ckpt).fit(X, y)
    assert _n_fits(log) == 1  # only the refit
    for key in ("mean_test_score", "std_test_score", "rank_test_score", "split1_test_score"):
        np.testing.assert_array_equal(again.cv_results_[key], full.cv_results_[key])
    assert again.best_params_ == full.best_params_


def test_torn_checkpoint_resumes_the_rest(client, data, tmp_path):
    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    reference = _search(log, None).fit(X, y)
    log.unlink()
    _search(log, ckpt).fit(X, y)
    lines = ckpt.read_text().splitlines(keepends=True)
    # a crash after 5 records, in the middle of writing the 6th
    ckpt.write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2])
    log.unlink()
    resumed = _search(log, ckpt).fit(X, y)
    assert _n_fits(log) == 12 - 5 + 1
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(resumed.cv_results_["rank_test_score"], reference.cv_results_["rank_test_score"])
    assert len(ckpt.read_text().splitlines()) == 13  # the torn line was replaced, not kept


def test_corrupted_record_is_not_trusted(tmp_path):
    path = tmp_path / "c.ckpt"
    ck = Checkpoint(path, "abc")
    assert ck.load() == []
    ck.append([{"c": 0, "s": 0, "r": {"x": 1.0}}, {"c": 1, "s": 0, "r": {"x": 2.0}}])
    text = path.read_text().replace('"x": 2.0', '"x": 9.0')  # bit rot in the 2nd record
    path.write_text(text)
    assert Checkpoint(path, "abc").load() == [{"c": 0, "s": 0, "r": {"x": 1.0}}]


def test_checkpoint_of_another_search_is_refused(client, data, tmp_path):
    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    _search(log, ckpt).fit(X, y)
    other_grid = GridSearchCV(LoggedSGD(log=str(log)), {"alpha": [0.5]}, cv=3, checkpoint=ckpt)
    with pytest.raises(ValueError, match=r"written by a different search \(other candidates\)"):
        other_grid.fit(X, y)
    with pytest.raises(ValueError, match=r"written by a different search \(other splits, X, y\)"):
        _search(log, ckpt).fit(X[:-10], y[:-10])  # other data (and so other splits)
    (tmp_path / "junk").write_text("hello\n")
    with pytest.raises(ValueError, match="not a dasklearn checkpoint"):
        _search(log, tmp_path / "junk").fit(X, y)


def test_checkpoint_of_another_dasklearn_version_is_refused(client, data, tmp_path):
    """Records of an older format (version 1 scored without the sample
    weights) must not be mixed into this version's results."""
    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    _search(log, ckpt).fit(X, y)
    lines = ckpt.read_bytes().split(b"\n")
    header = json.loads(lines[0])
    assert header["version"] == 2
    header["version"] = 1
    ckpt.write_bytes(b"\n".join([json.dumps(header).encode()] + lines[1:]))
    with pytest.raises(ValueError, match="another version of dasklearn"):
        _search(log, ckpt).fit(X, y)


def test_randomized_search_resumes(client, data, tmp_path):
    from scipy.stats import loguniform

    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "r.ckpt"
    kw = dict(n_iter=5, random_state=0, cv=3, checkpoint=ckpt)
    first = RandomizedSearchCV(LoggedSGD(log=str(log)), {"alpha": loguniform(1e-5, 1e-1)}, **kw).fit(X, y)
    log.unlink()
    second = RandomizedSearchCV(LoggedSGD(log=str(log)), {"alpha": loguniform(1e-5, 1e-1)}, **kw).fit(X, y)
    assert _n_fits(log) == 1
    np.testing.assert_array_equal(first.cv_results_["mean_test_score"], second.cv_results_["mean_test_score"])


@pytest.mark.slow
def test_search_killed_mid_run_resumes(tmp_path, data):
    """A real crash: the search's own process is SIGKILLed mid-run, then resumed."""
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, numpy as np
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_checkpoint import LoggedSGD, GRID
        from dasklearn.model_selection import GridSearchCV
        X, y = np.load({str(tmp_path / "X.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        GridSearchCV(LoggedSGD(log={str(log)!r}, delay=0.3), GRID, cv=3,
                     checkpoint={str(ckpt)!r}, n_jobs=1).fit(X, y)
    """))
    proc = subprocess.Popen([sys.executable, str(script)])
    deadline = time.time() + 60
    while time.time() < deadline and (not ckpt.exists() or len(ckpt.read_text().splitlines()) < 4):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_recorded = len(ckpt.read_text().splitlines()) - 1
    assert 3 <= n_recorded < 12
    log.unlink()
    resumed = GridSearchCV(LoggedSGD(log=str(log), delay=0.3), GRID, cv=3, checkpoint=ckpt, n_jobs=1).fit(X, y)
    assert _n_fits(log) == 12 - n_recorded + 1
    log.unlink()
    reference = GridSearchCV(LoggedSGD(log=str(log), delay=0.3), GRID, cv=3, n_jobs=1).fit(X, y)
    np.testing.assert_array_equal(resumed.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])


def test_a_lambda_scorer_and_a_generator_cv_resume(data, tmp_path):
    """joblib cannot hash a lambda (it is hashed by value instead), and a
    generator given as cv is used up (the splits stand for it)."""
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import KFold

    X, y = data
    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    acc = lambda est, X_, y_: accuracy_score(y_, est.predict(X_))  # noqa: E731

    def search(scoring):
        return GridSearchCV(LoggedSGD(log=str(log)), GRID, cv=(s for s in KFold(3).split(X)),
                            scoring=scoring, checkpoint=ckpt, n_jobs=1)

    full = search({"acc": acc, "plain": "accuracy"}).set_params(refit="acc").fit(X, y)
    assert _n_fits(log) == 12 + 1
    log.unlink()
    again = search({"acc": acc, "plain": "accuracy"}).set_params(refit="acc").fit(X, y)
    assert _n_fits(log) == 1  # only the refit
    np.testing.assert_array_equal(again.cv_results_["mean_test_acc"], full.cv_results_["mean_test_acc"])
    other = lambda est, X_, y_: 1.0 - accuracy_score(y_, est.predict(X_))  # noqa: E731
    with pytest.raises(ValueError, match="written by a different search"):
        search({"acc": other, "plain": "accuracy"}).set_params(refit="acc").fit(X, y)


def _run_script(script, ckpt, seed="1"):
    """Run a user's script (its checkpoint path as argument) in a new process."""
    return subprocess.run([sys.executable, str(script), str(ckpt)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)


def _resume_in_two_processes(script, ckpt):
    for seed in ("1", "2"):  # two processes, two string-hash seeds
        done = _run_script(script, ckpt, seed)
        assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_a_script_s_own_class_and_lambda_resume_in_a_new_process(tmp_path):
    """After a crash the search runs again in a new process: the fingerprint
    of a script-defined estimator class and a lambda scorer must be the same
    there (cloudpickle's was not: it tags a script's classes per process)."""
    script = tmp_path / "user.py"
    script.write_text(textwrap.dedent('''
        import sys
        import numpy as np
        from sklearn.linear_model import SGDClassifier
        from sklearn.metrics import accuracy_score
        from dasklearn.model_selection import GridSearchCV

        class MySGD(SGDClassifier):
            pass

        acc = lambda est, X, y: accuracy_score(y, est.predict(X))
        rng = np.random.RandomState(0)
        X = rng.randn(120, 3)
        y = (X[:, 0] > 0).astype(int)
        GridSearchCV(MySGD(max_iter=5, tol=None, random_state=0), {"alpha": [1e-4, 1e-2]}, cv=2,
                     scoring=acc, checkpoint=sys.argv[1], n_jobs=1).fit(X, y)
        print("ok")
    '''))
    ckpt = tmp_path / "s.ckpt"

    def run(seed="1"):
        return _run_script(script, ckpt, seed)

    _resume_in_two_processes(script, ckpt)
    assert len(ckpt.read_text().splitlines()) == 1 + 4  # the header and 2 x 2 fits, none twice
    # lines added or removed elsewhere in the script: the same search
    script.write_text("# a comment\n\n" + script.read_text().replace("import sys\n", "import sys\n\n\n"))
    done = run()
    assert done.returncode == 0 and len(ckpt.read_text().splitlines()) == 1 + 4, done.stderr[-2000:]
    # the script's class or scorer edited: another search, refused
    original = script.read_text()
    for edited in (original.replace("class MySGD(SGDClassifier):\n    pass",
                                    "class MySGD(SGDClassifier):\n    def fit(self, X, y):\n"
                                    "        return super().fit(X[:, :1], y)"),
                   original.replace("accuracy_score(y, est.predict(X))", "1 - accuracy_score(y, est.predict(X))")):
        assert edited != original
        script.write_text(edited)
        done = run()
        assert done.returncode != 0 and "written by a different search (other parameters)" in done.stderr, \
            done.stderr[-2000:]


_EDITABLE_SCRIPT = """
import sys
import scipy.stats as st
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from dasklearn.datasets import make_classification
from dasklearn.model_selection import RandomizedSearchCV

import time
SCALE = 1.0
START = time.time()
start = time.time()

def helper(p, y):
    _ = time.time() - START, slice(2, None).start
    return (p == y).mean() * SCALE

def my_scorer(est, X, y):
    return helper(est.predict(X), y)

class Base(SGDClassifier):
    SHIFT = 0.0
    _SKIP = frozenset({"alpha", "beta", "gamma", "delta"})

    def fit(self, X, y, **kw):
        return super().fit(X + self.SHIFT, y, **kw)

class MySGD(Base):
    pass

X, y = make_classification(n_samples=120, n_features=3, n_informative=2, n_redundant=0, chunks=60,
                           random_state=0)
X, y = X.compute(), y.compute()
pipe = make_pipeline(FunctionTransformer(lambda x: x), MySGD(max_iter=5, tol=None, random_state=0))
RandomizedSearchCV(pipe, {"mysgd__alpha": st.loguniform(1e-4, 1e-1)}, n_iter=2, cv=2, random_state=0,
                   scoring={"score": lambda est, X, y: my_scorer(est, X, y)}, refit="score", checkpoint=sys.argv[1],
                   n_jobs=1).fit(X, y)
print("ok")
"""


@pytest.mark.slow
def test_a_script_s_distributions_resume_and_its_code_is_followed_past_a_lambda(tmp_path):
    """A scipy distribution holds numpy's global RandomState, whose hash
    differs in every process: the same search was refused after a crash.
    And the code that decides the scores is followed everywhere: past a
    lambda (the walk stopped at the first one), into the helpers a scorer
    calls, the script's base classes and class attributes. Values computed
    at run time do not make another search (a global start time the scorer
    reads; a frozenset class attribute, whose order follows the string
    hashes; a global named as an attribute a method reads)."""
    script, ckpt = tmp_path / "user.py", tmp_path / "s.ckpt"
    script.write_text(_EDITABLE_SCRIPT)

    def run(seed="1"):
        return _run_script(script, ckpt, seed)

    _resume_in_two_processes(script, ckpt)
    assert len(ckpt.read_text().splitlines()) == 1 + 4  # resumed in the second process: no fit twice
    for old, new in [("(p == y).mean() * SCALE", "(p != y).mean() * SCALE"),  # a helper's code
                     ("X + self.SHIFT", "X - self.SHIFT"),  # a base class's method
                     ("SHIFT = 0.0", "SHIFT = 1.0"),  # a class attribute
                     ("return helper(est.predict(X), y)", "return -helper(est.predict(X), y)")]:  # the scorer
        script.write_text(_EDITABLE_SCRIPT.replace(old, new))
        done = run()
        assert done.returncode != 0 and "written by a different search" in done.stderr, (old, done.stderr[-2000:])


def test_a_load_never_cuts_off_the_records_another_run_appends(tmp_path):
    """A load truncates a torn last line. Another run of the same search
    appending meanwhile (its line half written) must not lose its record:
    the load waits for the append."""
    import fcntl
    import threading

    from dasklearn.model_selection._checkpoint import _line

    path = tmp_path / "c.ckpt"
    Checkpoint(path, "abc").load()
    Checkpoint(path, "abc").append([{"c": 0, "s": 0, "r": {"x": 1.0}}])
    line = _line({"c": 0, "s": 1, "r": {"x": 2.0}}) + "\n"
    got = {}
    with open(path, "a") as other:  # the other run, mid-append
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        other.write(line[:10])
        other.flush()
        loading = threading.Thread(target=lambda: got.update(entries=Checkpoint(path, "abc").load()))
        loading.start()
        loading.join(1.0)
        assert loading.is_alive()  # it waits for the append to end
        other.write(line[10:])
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    loading.join(10)
    assert [e["s"] for e in got["entries"]] == [0, 1]
    assert path.read_text().endswith(line)


def _create_at(path, fingerprint, start, queue):
    while time.time() < start:
        pass
    try:
        Checkpoint(path, fingerprint).load()
        Checkpoint(path, fingerprint).append([{"c": 0, "s": 0, "r": {"by": fingerprint}}])
        queue.put("took it")
    except ValueError:
        queue.put("refused")


def test_two_searches_creating_one_checkpoint_at_once_do_not_both_take_it(tmp_path):
    """Two different searches started together with the same path: one
    creates the file, the other reads its header and is refused (both took
    it, and a rerun mixed in the other search's records)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for trial in range(8):
        path = str(tmp_path / f"{trial}.ckpt")
        queue = ctx.Queue()
        start = time.time() + 0.2
        procs = [ctx.Process(target=_create_at, args=(path, fp, start, queue)) for fp in ("A", "B")]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        assert sorted(queue.get(timeout=5) for _ in procs) == ["refused", "took it"]
        header, *records = (json.loads(line) for line in open(path))
        assert [r["e"]["r"]["by"] for r in records] == [header["fingerprint"]]
    assert not [f for f in os.listdir(tmp_path) if ".tmp-" in f]


def test_checkpoint_arguments_are_checked_before_any_work(data, tmp_path, monkeypatch):
    from sklearn.model_selection import KFold, ShuffleSplit

    X, y = data
    monkeypatch.chdir(tmp_path)
    est, grid = SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-2]}
    (tmp_path / "adir").mkdir()
    for bad, match in [("", "file path"), (True, "file path"), (tmp_path / "nope" / "s.ckpt", "does not exist"),
                       (tmp_path / "adir", "is a directory; it must be a file path")]:
        with pytest.raises(ValueError, match=match):
            GridSearchCV(est, grid, checkpoint=bad).fit(X, y)
    (tmp_path / "adir").rmdir()
    with pytest.raises(ValueError, match="random_state must be set when checkpoint is given"):
        RandomizedSearchCV(est, grid, n_iter=2, checkpoint=tmp_path / "r.ckpt").fit(X, y)
    for cv in (KFold(3, shuffle=True), ShuffleSplit(3)):
        with pytest.raises(ValueError, match="shuffles with random_state=None"):
            GridSearchCV(est, grid, cv=cv, checkpoint=tmp_path / "g.ckpt").fit(X, y)
    assert os.listdir(tmp_path) == []  # no file, not even a temporary one
    GridSearchCV(est, grid, cv=KFold(3, shuffle=True, random_state=0), checkpoint=tmp_path / "g.ckpt").fit(X, y)


class _LoggedScaler(BaseEstimator):
    """A first pipeline step that logs the rows of each fit."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y=None):
        with open(self.log, "a") as fh:
            fh.write(f"{len(X)}\n")
        self.mean_ = X.mean(0)
        return self

    def transform(self, X):
        return X - self.mean_


def test_resume_fits_a_pipeline_s_leading_steps_only_on_splits_left(data, tmp_path):
    """The leading steps shared by all candidates are fitted once per split
    with fits left to run (a complete checkpoint: only the refit)."""
    from sklearn.pipeline import Pipeline

    X, y = data
    log, path = tmp_path / "fits.log", tmp_path / "s.ckpt"

    def run():
        est = Pipeline([("scale", _LoggedScaler(str(log))), ("sgd", SGDClassifier(random_state=0))])
        return GridSearchCV(est, {"sgd__alpha": [1e-4, 1e-3, 1e-2]}, cv=5, checkpoint=path, n_jobs=1).fit(X, y)

    def fits():
        rows = open(log).read().split()
        os.remove(log)
        return sorted(int(r) for r in rows)

    first = run()
    assert len(fits()) == 6  # five splits and the refit
    np.testing.assert_array_equal(run().cv_results_["mean_test_score"], first.cv_results_["mean_test_score"])
    assert fits() == [len(X)]  # the refit only
    header, *records = open(path).read().splitlines()
    kept = [r for r in records if json.loads(r)["e"]["s"] != 4]
    open(path, "w").write("\n".join([header, *kept]) + "\n")
    np.testing.assert_array_equal(run().cv_results_["mean_test_score"], first.cv_results_["mean_test_score"])
    assert fits() == [len(X) * 4 // 5, len(X)]  # split 4's, and the refit


class _FailsWhileFlagged(ClassifierMixin, BaseEstimator):
    """SGD whose fits with alpha >= 0.01 fail while the file ``flag`` exists
    (a failure whose cause goes away: memory, a module since fixed)."""

    def __init__(self, alpha=1e-4, flag=None):
        self.alpha = alpha
        self.flag = flag

    def fit(self, X, y):
        if self.alpha >= 0.01 and os.path.exists(self.flag):
            raise RuntimeError("flagged")
        self.model_ = SGDClassifier(alpha=self.alpha, random_state=0).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_a_resumed_search_runs_its_failed_fits_again(data, tmp_path):
    import warnings

    from sklearn.exceptions import FitFailedWarning

    X, y = data
    flag, path = tmp_path / "flag", tmp_path / "s.ckpt"
    flag.write_text("")
    search = GridSearchCV(_FailsWhileFlagged(flag=str(flag)), {"alpha": [1e-4, 1e-2]}, cv=3, checkpoint=path,
                          n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        first = search.fit(X, y).cv_results_["mean_test_score"]
    assert np.isfinite(first[0]) and np.isnan(first[1])
    assert len(path.read_text().splitlines()) == 1 + 3  # the header and the fits that succeeded
    with warnings.catch_warnings():  # failing again: run again, and the file does not grow
        warnings.simplefilter("ignore", FitFailedWarning)
        again = search.fit(X, y).cv_results_["mean_test_score"]
    np.testing.assert_array_equal(again, first)
    assert len(path.read_text().splitlines()) == 1 + 3
    flag.unlink()
    resumed = search.fit(X, y).cv_results_["mean_test_score"]
    fresh = GridSearchCV(_FailsWhileFlagged(flag=str(flag)), {"alpha": [1e-4, 1e-2]}, cv=3).fit(X, y)
    np.testing.assert_array_equal(resumed, fresh.cv_results_["mean_test_score"])
    assert len(path.read_text().splitlines()) == 1 + 3 + 3  # then the fits that failed before


def _two_metrics(est, X, y):
    from sklearn.metrics import accuracy_score, f1_score

    predicted = est.predict(X)
    return {"zeta_f1": f1_score(y, predicted), "acc": accuracy_score(y, predicted)}


def test_a_resumed_search_keeps_the_order_of_a_scorer_s_metrics(data, tmp_path):
    X, y = data
    def run():
        return GridSearchCV(SGDClassifier(random_state=0), {"alpha": [1e-4, 1e-2]}, cv=3, scoring=_two_metrics,
                            refit="acc", checkpoint=tmp_path / "s.ckpt", n_jobs=1).fit(X, y)
    first, resumed = run(), run()
    assert list(resumed.cv_results_) == list(first.cv_results_)
    assert [k for k in first.cv_results_ if "_test_" in k][0] == "split0_test_zeta_f1"


def test_a_refused_checkpoint_of_impure_dask_data_says_why(data, tmp_path):
    """Data from impure graphs (dask.delayed's default) get a new name in each
    run, so the same search's file is refused: the message names that cause
    and its fix, and deterministic names resume."""
    import dask
    import dask.array as da

    X, y = data

    def graph(pure):
        def load(part):
            return X[part * 200:(part + 1) * 200]

        parts = [da.from_delayed(dask.delayed(load, pure=pure)(i), shape=(200, X.shape[1]), dtype=X.dtype)
                 for i in range(2)]
        return da.concatenate(parts), y

    log, ckpt = tmp_path / "fits.log", tmp_path / "search.ckpt"
    _search(log, ckpt, n_jobs=1).fit(*graph(pure=False))
    with pytest.raises(ValueError, match=r"(?s)different search.*impure steps.*pure=True"):
        _search(log, ckpt, n_jobs=1).fit(*graph(pure=False))
    with pytest.raises(ValueError, match="different search") as refused:  # in-memory data: no such note
        _search(log, ckpt, n_jobs=1).fit(X, y)
    assert "impure" not in str(refused.value)
    ckpt2 = tmp_path / "pure.ckpt"
    first = _search(log, ckpt2, n_jobs=1).fit(*graph(pure=True))
    n = _n_fits(log)
    again = _search(log, ckpt2, n_jobs=1).fit(*graph(pure=True))
    assert _n_fits(log) == n + 1  # only the refit ran again
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"], first.cv_results_["mean_test_score"])
