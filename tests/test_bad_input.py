"""The table of bad inputs: each gets a clear error naming what was expected,
what was received and the fix, raised before work is submitted (where the
data are in memory), never a hang, and the cluster keeps working."""

import socket
import threading

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import KFold

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV

X0, Y0 = make_classification(n_samples=60, n_features=5, random_state=0)
GRID = {"alpha": [1e-4, 1e-3]}


def _with(values, i, j, v):
    X = values.copy()
    X[i, j] = v
    return X


class Unpicklable(SGDClassifier):
    def __init__(self, alpha=1e-4, lock=None):
        super().__init__(alpha=alpha)
        self.lock = lock


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _MiscountingKFold(KFold):
    """Says 5 splits, makes n_splits (scikit-learn's search checks the two agree)."""

    def get_n_splits(self, X=None, y=None, groups=None):
        return 5


# name -> (callable that must raise, exception type, message pattern, submits work first)
CASES = {
    "nan in X": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(_with(X0, 3, 2, np.nan), Y0),
                 ValueError, r"X contains 1 NaN value.*Impute", False),
    "inf in X": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(_with(X0, 3, 2, np.inf), Y0),
                 ValueError, r"X contains 1 infinite value", False),
    "nan in dask X": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(
        da.from_array(_with(X0, 7, 1, np.nan), chunks=20), da.from_array(Y0, chunks=20)),
        ValueError, r"X contains 1 NaN value", True),
    "X and y lengths differ": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(X0, Y0[:50]),
                               ValueError, r"X has 60, y has 50", False),
    "string columns": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(
        pd.DataFrame({"a": X0[:, 0], "city": ["x"] * 60}), Y0),
        TypeError, r"non-numeric columns \['city'\].*OneHotEncoder", False),
    "date column in a dask DataFrame": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(
        dd.from_pandas(pd.DataFrame({"a": X0[:, 0], "day": pd.date_range("2020-01-01", periods=60)}), npartitions=2),
        Y0), TypeError, r"non-numeric columns \['day'\] \(dtypes \['datetime64", False),
    "object array": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(X0.astype(str), Y0),
                     TypeError, r"dtype <U.*needs numbers", False),
    "delayed X": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(dask.delayed(_with)(X0, 0, 0, 1.0), Y0),
                  TypeError, r"X is a dask Delayed, whose rows the search cannot count.*da\.from_delayed", False),
    "refit of another type": (lambda: GridSearchCV(SGDClassifier(), GRID, refit=1).fit(X0, Y0),
                              ValueError, r"refit must be True, False, a metric name \(str\) or a callable; got 1",
                              False),
    "return_train_score not a bool": (lambda: GridSearchCV(SGDClassifier(), GRID, return_train_score="yes").fit(
        X0, Y0), ValueError, r"return_train_score must be True or False; got 'yes'", False),
    "grid key not a str": (lambda: GridSearchCV(SGDClassifier(), {1: [1]}).fit(X0, Y0),
                           TypeError, r"param_grid keys must be parameter names \(str\); got 1", False),
    "distribution key not a str": (lambda: RandomizedSearchCV(SGDClassifier(), {1: [1]}, n_iter=1).fit(X0, Y0),
                                   TypeError, r"Parameter names must be str.*got 1", False),
    "cv whose get_n_splits disagrees": (lambda: GridSearchCV(SGDClassifier(), GRID, cv=_MiscountingKFold(3)).fit(
        X0, Y0), ValueError, r"cv.split and cv.get_n_splits returned inconsistent results: expected 5 splits, got 3",
        True),  # the splits are drawn once the data are placed
    "cv of another type": (lambda: GridSearchCV(SGDClassifier(), GRID, cv="3").fit(X0, Y0),
                           ValueError, r"cv must be None, an int >= 2 \(folds\), a splitter.*got '3'", False),
    "cv=1": (lambda: GridSearchCV(SGDClassifier(), GRID, cv=1).fit(X0, Y0),
             ValueError, r"cv must be None, an int >= 2 .*got 1\.", False),
    "cv a splitter class": (lambda: GridSearchCV(SGDClassifier(), GRID, cv=KFold).fit(X0, Y0),
                            TypeError, r"got the class KFold itself. Pass KFold\(\.\.\.\)", False),
    "empty input": (lambda: GridSearchCV(SGDClassifier(), GRID).fit(X0[:0], Y0[:0]),
                    ValueError, r"X is empty \(0 samples\)", False),
    "n_iter <= 0": (lambda: RandomizedSearchCV(SGDClassifier(), GRID, n_iter=0).fit(X0, Y0),
                    ValueError, r"n_iter must be a positive integer; got 0", False),
    "cv > n_samples": (lambda: GridSearchCV(SGDClassifier(), GRID, cv=100).fit(X0, Y0),
                       ValueError, r"asks for 100 splits but there are only 60 samples", False),
    "unknown scoring": (lambda: GridSearchCV(SGDClassifier(), GRID, scoring="acuracy").fit(X0, Y0),
                        ValueError, r"Invalid scoring='acuracy'.*get_scorer_names", False),
    "unknown parameter": (lambda: GridSearchCV(SGDClassifier(), {"alpah": [1.0]}).fit(X0, Y0),
                          ValueError, r"Invalid parameter 'alpah'.*Did you mean", False),
    "unpicklable estimator": (lambda: GridSearchCV(Unpicklable(lock=threading.Lock()), GRID).fit(X0, Y0),
                              TypeError, r"cannot be pickled.*lock", False),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_explained(client, case):
    action, exc_type, pattern, submits = CASES[case]
    from conftest import settled_transitions

    counter = settled_transitions(client)
    with pytest.raises(exc_type, match=pattern):
        action()
    if not submits:
        after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
        assert after == counter, "work was submitted before the error"
    # the cluster keeps working for the next call
    search = GridSearchCV(SGDClassifier(random_state=0), GRID, cv=3).fit(X0, Y0)
    assert search.best_score_ > 0.5


@pytest.mark.timeout(60)
def test_scheduler_that_does_not_answer():
    from dasklearn._runtime import connect

    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(TimeoutError, match=f"No Dask scheduler answered at {address} within 2 s"):
        connect(address, timeout=2)


def test_failed_connection_leaves_dask_config_alone():
    import dask

    from dasklearn._runtime import connect

    before = dask.config.get("scheduler", None)
    with pytest.raises(TimeoutError):
        connect(f"tcp://127.0.0.1:{_free_port()}", timeout=1)
    assert dask.config.get("scheduler", None) == before
    assert da.ones(4, chunks=2).sum().compute() == 4  # local computing still works


@pytest.mark.timeout(60)
def test_a_connection_refused_for_its_address_or_timeout_leaves_nothing_behind():
    """An http:// address (the dashboard's) left the half-made Client as
    distributed's default: every later compute waited on it for ever."""
    import dask
    from distributed import default_client

    from dasklearn._runtime import connect

    def current():
        try:
            return default_client()
        except ValueError:
            return None

    before, client_before = dask.config.get("scheduler", None), current()
    with pytest.raises(ValueError, match=r"'http://127.0.0.1:8787' is not a scheduler address.*tcp://"):
        connect("http://127.0.0.1:8787", timeout=2)
    assert dask.config.get("scheduler", None) == before
    assert current() is client_before  # (the test session's, or none)
    assert da.ones(4, chunks=2).sum().compute(scheduler=None) == 4
    for bad in (float("inf"), None, "5", 0, True):
        with pytest.raises(ValueError, match="timeout must be a finite number of seconds > 0"):
            connect("tcp://127.0.0.1:9", timeout=bad)
    with pytest.raises(ValueError, match="needs TLS settings: pass security="):
        connect("tls://127.0.0.1:9", timeout=1)
    with pytest.raises(TimeoutError):  # a numpy number is a number of seconds
        connect(f"tcp://127.0.0.1:{_free_port()}", timeout=np.int64(1))
    assert current() is client_before


def test_a_connection_refused_inside_a_current_client_leaves_it_the_default(client):
    """With a current Client (as_current, a with block), the failed one was
    not found to close, and became the default when the block ended."""
    from distributed import default_client

    from dasklearn._runtime import connect

    before = default_client()
    with client.as_current():
        with pytest.raises(ValueError, match="is not a scheduler address"):
            connect("http://127.0.0.1:8787", timeout=2)
    assert default_client() is before


def test_estimator_classes_and_bad_n_jobs_are_refused_up_front():
    from sklearn.linear_model import SGDClassifier

    from dasklearn.model_selection import GridSearchCV
    from dasklearn.wrappers import DataParallel, Incremental, ParallelPostFit

    X = np.random.RandomState(0).rand(40, 3)
    y = (X[:, 0] > 0.5).astype(int)
    for make in (lambda e: GridSearchCV(e, {"alpha": [1e-4]}), Incremental, ParallelPostFit, DataParallel):
        with pytest.raises(TypeError, match=r"got the class SGDClassifier itself. Pass SGDClassifier\(\)"):
            make(SGDClassifier).fit(X, y)
    for n_jobs in ("2", 1.5, 0, True):
        with pytest.raises(ValueError, match="n_jobs must be None or a nonzero int"):
            GridSearchCV(SGDClassifier(), {"alpha": [1e-4]}, n_jobs=n_jobs, cv=2).fit(X, y)


def test_split_of_dask_inputs_of_other_lengths_says_so():
    """Same number of blocks, other lengths: the message blamed the chunks
    and proposed a rechunk that fails."""
    import dask.array as da

    from dasklearn.model_selection import train_test_split

    for y_chunks in (80, 40):  # the same number of blocks, or another
        with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[400, 320\]"):
            train_test_split(da.ones((400, 2), chunks=100), da.ones(320, chunks=y_chunks))


# GridSearchCV arguments, each with one parameter out of its domain
BAD_SEARCH_ARGS = {
    "cv": ((SGDClassifier(), GRID), {"cv": "3"}),
    "refit": ((SGDClassifier(), GRID), {"refit": 1.5}),
    "error_score": ((SGDClassifier(), GRID), {"error_score": "x"}),
    "verbose": ((SGDClassifier(), GRID), {"verbose": "x"}),
    "n_jobs": ((SGDClassifier(), GRID), {"n_jobs": "2"}),
    "param_grid": ((SGDClassifier(), "alpha"), {}),
    "negative verbose": ((SGDClassifier(), GRID), {"verbose": -1}),
    "pre_dispatch": ((SGDClassifier(), GRID), {"pre_dispatch": 1.5}),
}


def _invalid_parameter_calls():
    """One call per public entry point, each with one parameter out of its domain."""
    from dasklearn.datasets import make_blobs as dl_make_blobs
    from dasklearn.datasets import make_classification as dl_make_classification
    from dasklearn.datasets import make_regression as dl_make_regression
    from dasklearn.linear_model import LogisticRegression
    from dasklearn.model_selection import HyperbandSearchCV, IncrementalSearchCV, train_test_split
    from dasklearn.wrappers import DataParallel, Incremental, ParallelPostFit

    Xd, yd = da.from_array(X0, chunks=20), da.from_array(Y0, chunks=20)
    calls = {f"GridSearchCV {name}": (lambda a=args, k=kwargs: GridSearchCV(*a, **k).fit(X0, Y0))
             for name, (args, kwargs) in BAD_SEARCH_ARGS.items()}
    return {
        **calls,
        "RandomizedSearchCV n_iter": lambda: RandomizedSearchCV(SGDClassifier(), GRID, n_iter=0).fit(X0, Y0),
        "LogisticRegression C": lambda: LogisticRegression(C="1").fit(X0, Y0),
        "LogisticRegression max_iter": lambda: LogisticRegression(max_iter=-1).fit(X0, Y0),
        "make_classification n_samples": lambda: dl_make_classification(n_samples=-1),
        "make_classification flip_y": lambda: dl_make_classification(flip_y=2.0),
        "make_classification weights": lambda: dl_make_classification(weights=[0.5, -0.5]),
        "make_classification random_state": lambda: dl_make_classification(random_state="0"),
        "make_blobs center_box": lambda: dl_make_blobs(center_box=(0, 1, 2)),
        "make_regression chunks": lambda: dl_make_regression(n_samples=100, chunks=(50, 0, 50)),
        "make_blobs cluster_std": lambda: dl_make_blobs(cluster_std="x"),
        "make_classification shift": lambda: dl_make_classification(shift="x"),
        "GridSearchCV scoring name": lambda: GridSearchCV(SGDClassifier(), GRID, scoring="acuracy").fit(X0, Y0),
        "GridSearchCV scoring type": lambda: GridSearchCV(SGDClassifier(), GRID, scoring=1.5).fit(X0, Y0),
        "RandomizedSearchCV random_state": lambda: RandomizedSearchCV(
            SGDClassifier(), GRID, n_iter=1, random_state="0").fit(X0, Y0),
        "RandomizedSearchCV param_distributions": lambda: RandomizedSearchCV(SGDClassifier(), "alpha").fit(X0, Y0),
        "train_test_split random_state": lambda: train_test_split(Xd, yd, random_state="0"),
        # as scikit-learn's (and ours on in-memory input): an int in [0, 2**32 - 1] or a RandomState
        "train_test_split random_state Generator": lambda: train_test_split(
            Xd, yd, random_state=np.random.default_rng(0)),
        "train_test_split random_state 2**40": lambda: train_test_split(Xd, yd, random_state=2**40),
        "train_test_split random_state unshuffled": lambda: train_test_split(
            Xd, yd, shuffle=False, random_state=-1),
        "train_test_split blockwise": lambda: train_test_split(Xd, yd, blockwise="no"),
        "train_test_split test_size count": lambda: train_test_split(Xd, yd, test_size=0),
        "ParallelPostFit predict_meta": lambda: ParallelPostFit(SGDClassifier(), predict_meta=[0]).fit(
            X0, Y0).predict(Xd),
        "Incremental scoring": lambda: Incremental(SGDClassifier(), scoring="acuracy").fit(Xd, yd, classes=[0, 1]),
        "DataParallel scoring": lambda: DataParallel(SGDClassifier(), scoring="acuracy").fit(Xd, yd),
        "DataParallel random_state": lambda: DataParallel(SGDClassifier(), random_state=-1).fit(Xd, yd),
        "IncrementalSearchCV random_state": lambda: IncrementalSearchCV(
            SGDClassifier(), GRID, random_state="0").fit(Xd, yd),
        "train_test_split test_size": lambda: train_test_split(Xd, yd, test_size=1.5),
        "train_test_split shuffle": lambda: train_test_split(Xd, yd, shuffle="yes"),
        "Incremental epochs": lambda: Incremental(SGDClassifier(), epochs=0).fit(Xd, yd),
        "DataParallel max_rounds": lambda: DataParallel(SGDClassifier(), max_rounds=0).fit(Xd, yd),
        "IncrementalSearchCV tol": lambda: IncrementalSearchCV(SGDClassifier(), GRID, tol="x").fit(Xd, yd),
        "HyperbandSearchCV max_iter": lambda: HyperbandSearchCV(SGDClassifier(), GRID, max_iter=0).fit(Xd, yd),
    }


@pytest.mark.parametrize("case", list(_invalid_parameter_calls()))
def test_invalid_parameters_raise_value_and_type_errors(case):
    """As scikit-learn's InvalidParameterError: code catching either ValueError
    or TypeError around scikit-learn's estimators catches ours too."""
    from dasklearn.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError) as info:
        _invalid_parameter_calls()[case]()
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)
    assert "must be" in str(info.value)


@pytest.mark.parametrize("name", list(BAD_SEARCH_ARGS))
def test_search_parameter_errors_are_of_scikit_learns_kinds(name):
    """The same bad parameter given to scikit-learn's GridSearchCV fails with
    an exception of the same kinds as ours (ValueError and TypeError)."""
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV

    args, kwargs = BAD_SEARCH_ARGS[name]
    errors = []
    for cls in (GridSearchCV, SkGridSearchCV):
        with pytest.raises(Exception) as info:
            cls(*args, **kwargs).fit(X0, Y0)
        errors.append(info.value)
    ours, theirs = errors
    for kind in (ValueError, TypeError):
        assert isinstance(ours, kind) == isinstance(theirs, kind), (kind, ours, theirs)


def test_parameters_that_only_clash_raise_plain_value_errors():
    """Values valid alone that do not go together are a plain ValueError (not
    a TypeError), as scikit-learn raises them."""
    from dasklearn.datasets import make_blobs, make_classification, make_regression
    from dasklearn.model_selection import IncrementalSearchCV, SuccessiveHalvingSearchCV

    Xd, yd = da.from_array(X0, chunks=20), da.from_array(Y0, chunks=20)
    calls = [
        (lambda: make_classification(n_classes=2, weights=[0.2, 0.3, 0.5]), "weights must be 2"),
        (lambda: make_blobs(centers=3, cluster_std=[1.0, 2.0]), "cluster_std must be .* or 3 of them"),
        (lambda: make_classification(n_features=20, shift=[1.0, 2.0]), "shift must be .*got 2 values"),
        (lambda: make_regression(n_samples=100, chunks=(50, 40)), "block sizes summing to n_samples=100"),
        (lambda: make_classification(n_features=5, n_informative=4, n_redundant=2), "must be <= n_features"),
        (lambda: IncrementalSearchCV(SGDClassifier(), GRID, checkpoint="x.ckpt").fit(Xd, yd),
         "random_state must be an int when checkpoint is given"),
        (lambda: SuccessiveHalvingSearchCV(SGDClassifier(), GRID, resource="n_samples", patience=3).fit(Xd, yd),
         "patience must be False with resource='n_samples'"),
    ]
    for call, pattern in calls:
        with pytest.raises(ValueError, match=pattern) as info:
            call()
        assert not isinstance(info.value, TypeError), info.value
