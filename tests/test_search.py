"""Distributed GridSearchCV / RandomizedSearchCV against scikit-learn's."""

import os
import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform, uniform
from sklearn import model_selection as sk
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification, make_regression
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV

SCORE_KEYS = ("mean_test_score", "std_test_score", "split0_test_score", "split2_test_score")


@pytest.fixture(scope="module")
def clf_data():
    return make_classification(n_samples=600, n_features=12, n_informative=6, random_state=0)


def _assert_same_results(ours, ref, keys=SCORE_KEYS, rank="rank_test_score"):
    for key in keys:
        np.testing.assert_allclose(ours.cv_results_[key], ref.cv_results_[key], rtol=0, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(ours.cv_results_[rank], ref.cv_results_[rank])
    assert list(ours.cv_results_) == list(ref.cv_results_)
    assert ours.best_params_ == ref.best_params_
    assert ours.best_index_ == ref.best_index_


def test_parity_with_sklearn_on_cluster(client, clf_data):
    X, y = clf_data
    splits = list(sk.StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "fit_intercept": [True, False]}
    est = LogisticRegression(max_iter=500)
    ours = GridSearchCV(est, grid, cv=splits).fit(X, y)
    ref = sk.GridSearchCV(est, grid, cv=splits).fit(X, y)
    _assert_same_results(ours, ref)
    assert ours.best_score_ == pytest.approx(ref.best_score_, abs=1e-12)
    np.testing.assert_allclose(ours.best_estimator_.coef_, ref.best_estimator_.coef_, atol=1e-12)
    assert ours.n_splits_ == 3 and ours.multimetric_ is False
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X, y) == ref.score(X, y)
    assert ours.refit_time_ > 0 and ours.n_features_in_ == 12


def test_parity_randomized_multimetric_train_scores(client, clf_data):
    X, y = clf_data
    dists = {"alpha": loguniform(1e-5, 1e-1), "l1_ratio": uniform(0, 1)}
    kw = dict(n_iter=7, random_state=3, cv=4, scoring=["accuracy", "f1", "roc_auc"],
              refit="roc_auc", return_train_score=True)
    est = SGDClassifier(penalty="elasticnet", random_state=0, max_iter=50, tol=None)
    ours = RandomizedSearchCV(est, dists, **kw).fit(X, y)
    ref = sk.RandomizedSearchCV(est, dists, **kw).fit(X, y)
    keys = [k for k in ref.cv_results_ if k.startswith(("split", "mean_t", "std_t"))]
    _assert_same_results(ours, ref, keys=keys, rank="rank_test_roc_auc")
    np.testing.assert_array_equal(ours.cv_results_["rank_test_f1"], ref.cv_results_["rank_test_f1"])
    assert ours.multimetric_ is True
    assert ours.score(X, y) == pytest.approx(ref.score(X, y), abs=1e-12)


def test_parity_regression_callable_scorer_and_kfold(client):
    X, y = make_regression(n_samples=300, n_features=8, noise=5.0, random_state=0)

    def neg_max_abs(est, X, y):
        return -float(np.max(np.abs(est.predict(X) - y)))

    kw = dict(cv=sk.KFold(5, shuffle=True, random_state=0), scoring=neg_max_abs)
    grid = {"alpha": [0.01, 1.0, 100.0]}
    ours = GridSearchCV(Ridge(), grid, **kw).fit(X, y)
    ref = sk.GridSearchCV(Ridge(), grid, **kw).fit(X, y)
    _assert_same_results(ours, ref)


def test_parity_on_local_threads_without_client(clf_data):
    from dasklearn._runtime import active_client

    assert active_client() is None
    X, y = clf_data
    grid = {"C": [0.1, 1.0], "kernel": ["linear", "rbf"]}
    ours = GridSearchCV(SVC(), grid, cv=3, n_jobs=2).fit(X, y)
    ref = sk.GridSearchCV(SVC(), grid, cv=3).fit(X, y)
    _assert_same_results(ours, ref)


def test_same_results_whatever_the_number_of_workers(cluster, clf_data):
    from dask.distributed import Client

    X, y = clf_data
    kw = dict(n_iter=6, random_state=0, cv=3)
    dists = {"alpha": loguniform(1e-4, 1e-1)}
    est = SGDClassifier(random_state=0, max_iter=30, tol=None)
    alone = RandomizedSearchCV(est, dists, n_jobs=1, **kw).fit(X, y).cv_results_  # one thread
    with Client(cluster):
        on_cluster = RandomizedSearchCV(est, dists, **kw).fit(X, y).cv_results_
    np.testing.assert_array_equal(on_cluster["mean_test_score"], alone["mean_test_score"])
    assert on_cluster["params"] == alone["params"]


def test_tutorial_grid_from_distributions(client, clf_data):
    X, y = clf_data
    params = {"alpha": loguniform(1e-5, 1e-1), "l1_ratio": uniform(0, 1)}
    search = GridSearchCV(SGDClassifier(random_state=10, max_iter=100), params, cv=3).fit(X, y)
    assert len(search.cv_results_["params"]) == 25
    alphas = sorted(set(search.cv_results_["param_alpha"]))
    np.testing.assert_allclose(np.log10(alphas), [-4.6, -3.8, -3.0, -2.2, -1.4])
    assert search.cv_results_["param_alpha"].dtype == np.float64


def test_dask_input_predicts_blockwise(client, clf_data):
    X, y = clf_data
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    splits = list(sk.KFold(3).split(X))
    grid = {"C": [0.1, 1.0]}
    ours = GridSearchCV(LogisticRegression(), grid, cv=splits).fit(Xd, yd)
    ref = sk.GridSearchCV(LogisticRegression(), grid, cv=splits).fit(X, y)
    _assert_same_results(ours, ref)
    pred = ours.predict(Xd)
    assert isinstance(pred, da.Array) and pred.chunks == (Xd.chunks[0],)
    np.testing.assert_array_equal(pred.compute(), ref.predict(X))
    proba = ours.predict_proba(Xd)
    assert proba.shape == (600, 2) and proba.chunks[0] == Xd.chunks[0]
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X), atol=1e-12)
    assert ours.score(Xd, yd) == ref.score(X, y)
    assert isinstance(ours.decision_function(Xd), da.Array)


def test_pandas_input_and_feature_names(client, clf_data):
    X, y = clf_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ours = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(df, pd.Series(y))
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(df, pd.Series(y))
    _assert_same_results(ours, ref)
    assert list(ours.feature_names_in_) == list(df.columns)


class _LoggingScaler(TransformerMixin, BaseEstimator):
    """A scaler that appends a line to a file on each fit (visible across processes)."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y=None):
        with open(self.log, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        self.mean_ = X.mean(axis=0)
        return self

    def transform(self, X):
        return X - self.mean_


def test_pipeline_fixed_prefix_fitted_once_per_split(client, clf_data, tmp_path):
    X, y = clf_data
    log = tmp_path / "fits.log"
    pipe = Pipeline([("scale", _LoggingScaler(str(log))), ("pca", PCA(5)), ("clf", SGDClassifier(random_state=0))])
    grid = {"clf__alpha": [1e-4, 1e-3, 1e-2], "clf__penalty": ["l1", "l2"]}
    ours = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    n_fits = len(log.read_text().split())
    assert n_fits == 3 + 1  # once per split + the refit, not 6 candidates x 3 splits
    log.write_text("")
    ref = sk.GridSearchCV(pipe, grid, cv=3).fit(X, y)
    _assert_same_results(ours, ref)


def test_pipeline_touching_early_step_refits_everything(client, clf_data, tmp_path):
    X, y = clf_data
    log = tmp_path / "fits.log"
    pipe = Pipeline([("scale", _LoggingScaler(str(log))), ("pca", PCA()), ("clf", SGDClassifier(random_state=0))])
    grid = {"pca__n_components": [3, 6], "clf__alpha": [1e-4, 1e-2]}
    ours = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    # the scaler is still fixed: once per split; PCA varies, so it is fitted per candidate
    assert len(log.read_text().split()) == 3 + 1
    ref = sk.GridSearchCV(pipe, grid, cv=3).fit(X, y)
    _assert_same_results(ours, ref)



class _SlowLogged(BaseEstimator):
    """Takes ``delay`` seconds to fit and logs the rows it saw; C=3 scores best."""

    def __init__(self, C=1.0, log=None, delay=0.3):
        self.C = C
        self.log = log
        self.delay = delay

    def fit(self, X, y):
        import time

        with open(self.log, "a") as fh:
            fh.write(f"start {len(X)}\n")
        time.sleep(self.delay)
        with open(self.log, "a") as fh:
            fh.write(f"end {len(X)}\n")
        self.fitted_rows_ = len(X)
        return self

    def score(self, X, y):
        return -abs(self.C - 3.0)


def test_refit_of_the_leader_overlaps_the_last_split(client, clf_data, tmp_path):
    """Once every candidate has all splits but one done, the leader is refitted
    at once (before the waiting fits): its refit is logged before the last
    cross-validation fit, nothing is fitted twice, and the result is the one
    a refit after the search gives."""
    X, y = clf_data
    log = tmp_path / "fits.log"
    search = GridSearchCV(_SlowLogged(log=str(log)), {"C": [1.0, 2.0, 3.0, 4.0]}, cv=3).fit(X, y)
    lines = [tuple(line.split()) for line in log.read_text().splitlines()]
    ends = [int(rows) for what, rows in lines if what == "end"]
    assert len(ends) == 4 * 3 + 1  # the early refit was the right one: no second refit
    assert ends.count(len(X)) == 1
    # the refit started before the last cross-validation fit ended (by the order of their
    # starts and ends, not by which ended last: they may run side by side on a slow machine)
    refit_start = lines.index(("start", str(len(X))))
    last_cv_end = max(i for i, (what, rows) in enumerate(lines) if what == "end" and int(rows) != len(X))
    assert refit_start < last_cv_end
    assert search.best_params_ == {"C": 3.0}
    assert search.best_estimator_.C == 3.0 and search.best_estimator_.fitted_rows_ == len(X)
    assert search.refit_time_ >= 0.3

class _FailsOnC(BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        if self.C == 13:
            raise ArithmeticError("unlucky C")
        self.classes_ = np.unique(y)
        return self

    def score(self, X, y):
        return 1.0 / self.C


def test_error_score_nan_keeps_message_and_warns(client, clf_data):
    X, y = clf_data
    search = GridSearchCV(_FailsOnC(), {"C": [1, 13, 2]}, cv=3)
    with pytest.warns(FitFailedWarning, match=r"candidate 1 \{'C': 13\}.*unlucky C"):
        search.fit(X, y)
    res = search.cv_results_
    assert np.isnan(res["mean_test_score"][1]) and res["rank_test_score"][1] == 3
    assert "ArithmeticError: unlucky C" in res["fit_error"][1]
    assert res["fit_error"][0] == "" and search.best_params_ == {"C": 1}


def test_error_score_raise_propagates_original_exception(client, clf_data):
    X, y = clf_data
    with pytest.raises(ArithmeticError, match="unlucky C"):
        GridSearchCV(_FailsOnC(), {"C": [1, 13]}, cv=3, error_score="raise").fit(X, y)
    assert client.submit(sum, [1, 2]).result() == 3  # cluster still fine


def test_bad_parameters_rejected_before_any_task(client, clf_data):
    from conftest import settled_transitions

    X, y = clf_data
    before = settled_transitions(client)
    with pytest.raises(ValueError, match=r"Invalid parameter 'alpah'"):
        GridSearchCV(SGDClassifier(), {"alpah": [1.0]}).fit(X, y)
    with pytest.raises(ValueError, match=r"n_iter must be a positive integer"):
        RandomizedSearchCV(SGDClassifier(), {"alpha": [1.0]}, n_iter=0).fit(X, y)
    with pytest.raises(ValueError, match=r"Invalid scoring='no_such_metric'"):
        GridSearchCV(SGDClassifier(), {"alpha": [1.0]}, scoring="no_such_metric").fit(X, y)
    with pytest.raises(ValueError, match=r"refit must be one of those names"):
        GridSearchCV(SGDClassifier(), {"alpha": [1.0]}, scoring=["accuracy", "f1"]).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 600, y has 599"):
        GridSearchCV(SGDClassifier(), {"alpha": [1.0]}).fit(X, y[:-1])
    after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    assert after == before


def test_refit_false_and_callable(client, clf_data):
    X, y = clf_data
    grid = {"C": [0.1, 1.0, 10.0]}
    s = GridSearchCV(LogisticRegression(), grid, cv=3, refit=False).fit(X, y)
    assert not hasattr(s, "best_estimator_") and s.best_index_ == s.cv_results_["rank_test_score"].argmin()
    # as in scikit-learn: no delegated method nor n_features_in_ without a refit
    assert not hasattr(s, "predict") and not hasattr(s, "n_features_in_")
    with pytest.raises(AttributeError, match="has no attribute 'predict'") as info:
        s.predict(X)
    assert "refit=False" in str(info.value.__cause__)
    ref = sk.GridSearchCV(LogisticRegression(), grid, cv=3, refit=False).fit(X, y)
    assert hasattr(ref, "predict") is hasattr(s, "predict") and hasattr(ref, "n_features_in_") is False
    s = GridSearchCV(LogisticRegression(), grid, cv=3, refit=lambda r: 2).fit(X, y)
    assert s.n_features_in_ == s.best_estimator_.n_features_in_ == X.shape[1]
    assert s.best_params_ == {"C": 10.0} and not hasattr(s, "best_score_")


def test_verbose_shows_progress_and_dashboard(client, clf_data, capsys):
    X, y = clf_data
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3, verbose=1).fit(X, y)
    err = capsys.readouterr().err
    from importlib.util import find_spec

    # the link, or (this process started the cluster, without bokeh) why there is none
    assert ("dashboard: http://" if find_spec("bokeh") else "dashboard: none (the dashboard needs bokeh") in err
    assert "6/6" in err and "Fitting 3 folds for each of 2 candidates" in err


def test_many_tiny_fits_are_batched(client, clf_data):
    X, y = clf_data
    before = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    GridSearchCV(Ridge(), {"alpha": list(np.logspace(-3, 3, 100))}, cv=5).fit(X, y)
    after = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)
    n_tasks = (after - before) / 4  # released -> waiting -> processing -> memory -> ...
    assert n_tasks < 500 / 3  # far fewer tasks than the 500 fits


def _incoming_transfers(client):
    return client.run(
        lambda dask_worker: [(tuple(map(str, d["keys"])), d["total"]) for d in dask_worker.transfer_incoming_log]
    )


@pytest.mark.parametrize("kind", ["numpy", "dask", "dask row blocks"])
def test_training_data_reach_each_worker_at_most_once(client, kind):
    """(A dask array of 1 MiB blocks and more is placed as its row blocks:
    each worker fetches from its peers the blocks it lacks, each once.)"""
    X, y = make_classification(n_samples=20_000, n_features=25, random_state=0)  # 4 MB
    if kind == "dask":
        X, y = da.from_array(X, chunks=5_000), da.from_array(y, chunks=5_000)  # 1.0 MB blocks: whole
    if kind == "dask row blocks":
        X, y = make_classification(n_samples=20_000, n_features=64, random_state=0)  # 10 MB
        X, y = client.persist([da.from_array(X, chunks=5_000), da.from_array(y, chunks=5_000)])
    before = _incoming_transfers(client)
    client.amm.stop()  # dask's memory manager may drop an idle worker's copy, which it then fetches again
    try:
        search = GridSearchCV(SGDClassifier(max_iter=5, tol=None, random_state=0),
                              {"alpha": list(np.logspace(-5, -1, 12))}, cv=3).fit(X, y)
    finally:
        client.amm.start()
    assert len(search.cv_results_["params"]) == 12  # 36 fits in many tasks
    after = _incoming_transfers(client)
    moved = []
    for worker, log in after.items():
        new = log[len(before[worker]):]
        big = [keys for keys, nbytes in new if nbytes >= X.nbytes / 2]
        # X is placed on one worker; the other fetches it once, however many tasks it runs
        assert len(big) <= 1, (worker, big)
        keys = [k for keys, _ in new for k in keys]
        assert len(keys) == len(set(keys)), (worker, keys)  # nothing fetched twice (row blocks: each block once)
        moved += [k for k in keys if kind == "dask row blocks" and X.name in k]
    assert kind != "dask row blocks" or len(moved) >= 2, moved  # blocks did move between the workers


def test_dask_dataframe_input(client, clf_data):
    import dask.dataframe as dd

    X, y = clf_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ddf, dy = dd.from_pandas(df, npartitions=4), dd.from_pandas(pd.Series(y, name="y"), npartitions=4)
    splits = list(sk.KFold(3).split(X))
    ours = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=splits).fit(ddf, dy)
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=splits).fit(df, y)
    _assert_same_results(ours, ref)
    pred = ours.predict(ddf)
    np.testing.assert_array_equal(np.asarray(pred.compute()), ref.predict(df))
    assert ours.score(ddf, dy) == pytest.approx(ref.score(df, y), abs=1e-12)


def _logged_partition(part, log):
    with open(log, "a") as f:
        f.write(f"{int(part.index[0])}\n")
    return part


def test_a_dask_dataframe_is_computed_once_by_fit(client, clf_data, tmp_path):
    """Counting X's rows, counting y's and placing them each ran the graph X
    and y share: three times (39x slower than an array on the tutorial's
    data as DataFrames of 25-row partitions)."""
    import dask.dataframe as dd

    X, y = clf_data
    log = str(tmp_path / "partitions.log")
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(target=y)
    frame = dd.from_pandas(df, npartitions=4).map_partitions(_logged_partition, log, meta=df.iloc[:0])
    ours = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(frame.drop(columns="target"),
                                                                          frame["target"])
    with open(log) as f:
        computed = sorted(map(int, f.read().split()))
    assert computed == sorted(int(i) for i in frame.divisions[:-1]), computed  # each partition once
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("scoring", [None, "roc_auc", "neg_log_loss", ["accuracy", "f1"]])
def test_score_on_a_dask_dataframe_reads_each_partition_once(client, clf_data, tmp_path, scoring):
    """score computed y, then the responses from X: the graph X and y share
    ran twice. The response scikit-learn's scorers ask for is now known up
    front and computed together with y."""
    import dask.dataframe as dd

    X, y = clf_data
    refit = "f1" if isinstance(scoring, list) else True
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]).assign(target=y)
    # fitted with the frame's column names: no warning, the outputs' shape is
    # learnt from a row of zeros, not from X's first partition
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3, scoring=scoring,
                          refit=refit).fit(df.drop(columns="target"), y)
    log = str(tmp_path / "partitions.log")
    frame = dd.from_pandas(df, npartitions=4).map_partitions(_logged_partition, log, meta=df.iloc[:0])
    ours = search.score(frame.drop(columns="target"), frame["target"])
    with open(log) as f:
        computed = sorted(map(int, f.read().split()))
    assert computed == sorted(int(i) for i in frame.divisions[:-1]), computed  # each partition once
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3, scoring=scoring, refit=refit).fit(X, y)
    assert ours == pytest.approx(ref.score(X, y), abs=1e-12)


def test_a_users_scorer_is_called_once_by_score(client, clf_data):
    """Only scikit-learn's own scorers are probed for their response: a
    user's scorer may count or log its calls."""
    import dask.dataframe as dd
    from sklearn.metrics import accuracy_score

    X, y = clf_data
    calls = []

    def scorer(est, X_, y_):
        calls.append(1)
        return accuracy_score(y_, est.predict(X_))

    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3, scoring=scorer).fit(X, y)
    calls.clear()
    X_dask, y_dask = dd.from_pandas(pd.DataFrame(X), npartitions=4), dd.from_pandas(pd.Series(y), npartitions=4)
    got = search.score(X_dask, y_dask)
    assert calls == [1]
    assert got == pytest.approx(accuracy_score(y, search.best_estimator_.predict(X)), abs=1e-12)
    # beside one of scikit-learn's, in its multi-metric scorer: still called once
    from dasklearn.wrappers import ParallelPostFit

    model = ParallelPostFit(LogisticRegression(), scoring={"mine": scorer, "acc": "accuracy"}).fit(X, y)
    calls.clear()
    got = model.score(X_dask, y_dask)
    assert calls == [1]
    assert got["mine"] == pytest.approx(accuracy_score(y, model.estimator_.predict(X)), abs=1e-12)


def test_a_frame_with_a_dask_array_y_gives_no_mixed_collections_warning(client, clf_data):
    """dask warns when one compute mixes DataFrames and arrays (and runs them
    apart anyway): the runtime computes each kind apart (see _compute.by_kind),
    in fit as in score."""
    import dask.array as da
    import dask.dataframe as dd

    from dasklearn._runtime._compute import by_kind

    X, y = clf_data
    frame, labels = dd.from_pandas(pd.DataFrame(X), npartitions=4), da.from_array(y, chunks=150)
    assert by_kind([labels, frame, None, frame[0]]) == [[1, 3], [0, 2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(frame, labels)
    _assert_same_results(search, sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = search.score(dd.from_pandas(pd.DataFrame(X), npartitions=4), da.from_array(y, chunks=150))
    assert got == pytest.approx(search.best_estimator_.score(X, y), abs=1e-12)


def test_the_rows_of_x_and_y_frames_are_counted_in_one_computation(client, clf_data):
    """Counting a frame's rows runs a task per partition (and, for a
    persisted frame, an alias task per partition): X's and y's were counted
    one after the other, two passes of the scheduler."""
    import dask.dataframe as dd
    from distributed import wait
    from distributed.diagnostics.plugin import SchedulerPlugin

    from dasklearn.model_selection._search import _count_rows

    class Graphs(SchedulerPlugin):
        name = "dasklearn-test-graphs"

        def start(self, scheduler):
            self.n = 0

        def update_graph(self, scheduler, **kwargs):
            self.n += 1

    X, y = clf_data
    frame, labels = client.persist([dd.from_pandas(pd.DataFrame(X), npartitions=6),
                                    dd.from_pandas(pd.Series(y), npartitions=6)])
    wait([frame, labels])
    client.register_plugin(Graphs())
    try:
        assert _count_rows(frame, labels, None, X) == [len(X), len(y), None, len(X)]
        graphs = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.plugins["dasklearn-test-graphs"].n)
    finally:
        client.unregister_scheduler_plugin("dasklearn-test-graphs")
    assert graphs == 1


def test_a_frame_with_a_column_named_chunks(client, clf_data):
    """Columns are attributes of a DataFrame: one named ``chunks`` made the
    search take the frame for a dask array (a TypeError)."""
    import dask.dataframe as dd

    X, y = clf_data
    df = pd.DataFrame(X[:, :4], columns=["chunks", "dtype", "shape", "numblocks"])
    ours = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(
        dd.from_pandas(df, npartitions=3), dd.from_pandas(pd.Series(y), npartitions=3))
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(df, y)
    _assert_same_results(ours, ref)
    # and the wrappers, which tell a frame from an array the same way
    from sklearn.linear_model import SGDClassifier as SGD

    from dasklearn.wrappers import Incremental

    frame = dd.from_pandas(df, npartitions=3)
    inc = Incremental(SGD(random_state=0), shuffle_blocks=False).fit(
        frame, dd.from_pandas(pd.Series(y), npartitions=3), classes=[0, 1])
    loop = SGD(random_state=0)
    for part in range(3):
        rows = slice(*frame.divisions[part:part + 2]) if part < 2 else slice(frame.divisions[2], None)
        loop.partial_fit(df.iloc[rows], y[rows], classes=[0, 1])
    np.testing.assert_array_equal(inc.estimator_.coef_, loop.coef_)


def test_a_persisted_dask_dataframe_is_not_persisted_again(client, clf_data):
    """Persisting a persisted frame again is not free (dask aliases each of
    its partitions in a task: 0.25 s more on a search over 198 partitions);
    an unpersisted one beside it still is persisted, with it."""
    import dask.dataframe as dd
    from dask.distributed import wait

    from dasklearn.model_selection._search import _with_known_rows

    X, y = clf_data
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3).persist()
    labels = dd.from_pandas(pd.Series(y), npartitions=3).persist()
    wait([frame, labels])
    X_out, y_out = _with_known_rows(frame, labels)
    assert X_out is frame and y_out is labels
    lazy_labels = dd.from_pandas(pd.Series(y), npartitions=3)
    X_out, y_out = _with_known_rows(frame, lazy_labels)
    assert X_out is frame and y_out is not lazy_labels


@pytest.mark.parametrize("scoring", [None, "roc_auc", "neg_log_loss", ["accuracy", "f1"]])
def test_score_on_large_dask_input_uses_blockwise_responses(client, scoring):
    """Blocks above the one-task threshold: score from blockwise responses,
    equal to scikit-learn's score on the same data in memory."""
    from dasklearn._runtime import runs_in_one_task

    X, y = make_classification(n_samples=40_000, n_features=30, random_state=0)
    Xd, yd = da.from_array(X, chunks=20_000), da.from_array(y, chunks=20_000)  # 4.8 MB X blocks
    assert not runs_in_one_task([Xd, yd])
    refit = "f1" if isinstance(scoring, list) else True
    kw = dict(cv=3, scoring=scoring, refit=refit)
    ours = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, **kw).fit(X, y)
    ref = sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, **kw).fit(X, y)
    assert ours.score(Xd, yd) == pytest.approx(ref.score(X, y), abs=1e-12)


def test_fold_cache_reuses_slices_and_never_serves_other_data():
    from dasklearn.model_selection import _fit

    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20) % 2
    splits = list(sk.KFold(2).split(X))
    params = {}  # placed once per search: the same object in every task
    _fit.FOLDS.clear()
    first = _fit.FOLDS.get(X, y, splits, params, 0)
    assert _fit.FOLDS.get(X, y, splits, params, 0) is first  # same split: the same slices
    assert _fit.FOLDS.get(X, y, splits, params, 1).X_train is not first.X_train  # another split: new slices
    weighted = {"sample_weight": np.arange(20.0)}  # other fit parameters: their own slices
    fold = _fit.FOLDS.get(X, y, splits, weighted, 1)
    np.testing.assert_array_equal(fold.fit_params["sample_weight"], weighted["sample_weight"][splits[1][0]])
    np.testing.assert_array_equal(fold.weights[1], weighted["sample_weight"][splits[1][1]])
    assert not fold.X_train.flags.writeable and not fold.X_test.flags.writeable  # shared by the fits
    assert _fit.FOLDS.get(X, y, splits, weighted, 1) is fold
    X2 = X + 100  # other data, possibly at a reused address: never a stale hit
    np.testing.assert_array_equal(_fit.FOLDS.get(X2, y, splits, params, 1).X_train, X2[splits[1][0]])
    del X2  # freeing X drops its fold
    import gc

    gc.collect()
    assert _fit.FOLDS._entry is None


# ----------------------------------------------------------- early refit
class _SlowRidge(Ridge):
    """Ridge whose fits take long enough for the early refit to start."""

    def __init__(self, alpha=1.0, delay=0.0):
        super().__init__(alpha=alpha)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        import time

        time.sleep(self.delay)
        return super().fit(X, y, sample_weight=sample_weight)


def test_early_refit_is_used_and_equals_the_plain_refit(client, monkeypatch):
    """With fits long enough, the leader is refitted while the last split
    runs; its model is the one a refit after the search gives (scikit-learn's)."""
    from dasklearn.model_selection import _search

    X, y = make_regression(n_samples=300, n_features=5, noise=1.0, random_state=0)
    grid = {"alpha": [1e-3, 1e3, 1e4]}  # the smallest alpha leads on every split
    taken = []
    real = _search._EarlyRefit.result_for

    def spy(self, best):
        out = real(self, best)
        taken.append((self._started[0] if self._started else None, best, out is not None))
        return out

    monkeypatch.setattr(_search._EarlyRefit, "result_for", spy)
    ours = GridSearchCV(_SlowRidge(delay=0.25), grid, cv=3).fit(X, y)
    assert taken == [(0, 0, True)]  # started for candidate 0, the best, and used
    ref = sk.GridSearchCV(Ridge(), grid, cv=3).fit(X, y)
    assert ours.best_index_ == ref.best_index_ == 0
    np.testing.assert_array_equal(ours.best_estimator_.coef_, ref.best_estimator_.coef_)


def test_early_refit_of_a_candidate_that_is_not_the_best_is_cancelled(client):
    """The leader on the splits done can lose on the last one: its refit is
    cancelled and the best is refitted as usual (result_for gives None)."""
    from dasklearn._runtime import get_backend
    from dasklearn.model_selection._search import _EarlyRefit

    X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    candidates = [{"alpha": 1.0, "delay": 5.0}, {"alpha": 2.0, "delay": 0.0}]
    backend = get_backend()
    placed = []
    try:
        X_h, y_h = placed = backend.materialize(X, y)
        search = GridSearchCV(_SlowRidge(), {"alpha": [1.0, 2.0]})
        early = _EarlyRefit(search, backend, candidates, 3, ["score"], False, (X_h, y_h, {}))

        def record(score):
            return {"fit_time": 1.0, "test": {"score": score}}

        # two of three splits each: candidate 0 leads, so its refit starts
        early.observe([(0, 0, record(0.9)), (1, 0, record(0.5)), (0, 1, record(0.9)), (1, 1, record(0.5))])
        assert early._started is not None and early._started[0] == 0
        future = early._started[1]
        assert early.result_for(1) is None  # candidate 1 won on the last split
        import time

        deadline = time.monotonic() + 10
        while future.status != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert future.status == "cancelled"
        # and the leader's own refit is the one a plain refit gives
        again = _EarlyRefit(search, backend, [{"alpha": 1.0}, {"alpha": 2.0}], 3, ["score"], False,
                            (X_h, y_h, {}))
        again.observe([(c, s, record(0.9 - 0.4 * c)) for s in range(2) for c in range(2)])
        model, seconds, _ = again.result_for(0)
        np.testing.assert_array_equal(model.coef_, Ridge(alpha=1.0).fit(X, y).coef_)
        assert seconds > 0  # the refit's own time, measured on the worker
    finally:
        backend.release(placed)
        backend.close()


def test_persisted_fine_grained_input_is_used_where_it_is(client):
    """Small-block dask input is normally generated inside one task; once
    persisted, its blocks live on the workers and are gathered, not rebuilt."""
    from dask.distributed import get_task_stream

    from dasklearn._runtime._compute import _holds_futures, runs_in_one_task
    from dasklearn.datasets import make_classification

    X, y = make_classification(n_samples=600, n_features=5, chunks=50, random_state=0)
    assert runs_in_one_task([X, y]) and not _holds_futures([X, y])
    Xp, yp = client.persist([X, y])
    assert _holds_futures([Xp, yp])
    grid = {"alpha": [1e-4, 1e-2]}
    est = SGDClassifier(max_iter=5, tol=None, random_state=0)
    with get_task_stream() as lazy_tasks:
        lazy = GridSearchCV(est, grid, cv=3).fit(X, y)
    with get_task_stream() as persisted_tasks:
        persisted = GridSearchCV(est, grid, cv=3).fit(Xp, yp)
    np.testing.assert_array_equal(lazy.cv_results_["mean_test_score"], persisted.cv_results_["mean_test_score"])

    def ran(stream, name):
        return any(name in str(t["key"]) for t in stream.data)

    assert ran(lazy_tasks, "compute_in_task")  # generated in one task
    assert not ran(persisted_tasks, "compute_in_task") and not ran(persisted_tasks, "make_classification")


@pytest.mark.timeout(120)
def test_search_nested_in_a_search_on_a_cluster_of_threads_finishes(clf_data):
    """The inner search runs inside the outer search's task; sending its fits
    to the same cluster and waiting held every worker thread (a threaded
    cluster hung forever): nested work runs in the task's thread, and the
    result is scikit-learn's."""
    from dask.distributed import Client, LocalCluster

    X, y = clf_data
    X, y = X[:90], y[:90]
    inner = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3)
    ref = sk.GridSearchCV(sk.GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3), {"cv": [2, 3]}, cv=3)
    ref.fit(X, y)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as lc, \
            Client(lc):
        outer = GridSearchCV(inner, {"cv": [2, 3]}, cv=3).fit(X, y)
    np.testing.assert_allclose(outer.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-12)


class _AnyParams(LogisticRegression):
    """Takes any parameter through set_params and lists it in get_params only
    once set, as LightGBM's and XGBoost's scikit-learn estimators do."""

    def __init__(self, C=1.0, **kwargs):
        super().__init__(C=C)
        self._other = {}
        self.set_params(**kwargs)

    def get_params(self, deep=True):
        return {**super().get_params(deep=deep), **self._other}

    def set_params(self, **params):
        known = super().get_params(deep=False)
        for key, value in params.items():
            if key in known:
                super().set_params(**{key: value})
            else:
                setattr(self, key, value)
                self._other[key] = value
        return self

    def fit(self, X, y):
        self.C = self._other.get("reg_C", self.C)
        return super().fit(X, y)


def test_parameters_only_set_params_knows_are_searched(client, clf_data):
    """scikit-learn's searches only need set_params to take a name; get_params
    lists it only once set. In a pipeline too; a name set_params refuses is
    still refused before any work."""
    X, y = clf_data
    for est, grid in [(_AnyParams(), {"reg_C": [0.001, 1.0]}),
                      (Pipeline([("clf", _AnyParams())]), {"clf__reg_C": [0.001, 1.0]})]:
        ours = GridSearchCV(est, grid, cv=3).fit(X, y)
        ref = sk.GridSearchCV(est, grid, cv=3).fit(X, y)
        _assert_same_results(ours, ref)
        assert ours.best_params_ == ref.best_params_
    with pytest.raises(ValueError, match=r"Invalid parameter 'clf__alpah'"):
        GridSearchCV(Pipeline([("clf", LogisticRegression())]), {"clf__alpah": [1.0]}).fit(X, y)
