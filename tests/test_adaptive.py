"""Adaptive searches (IncrementalSearchCV, InverseDecaySearchCV,
SuccessiveHalvingSearchCV, HyperbandSearchCV) on a LocalCluster with worker
processes, and without a Client."""

import re
import time

import numpy as np
import pandas as pd
import pytest
from scipy.stats import loguniform
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.model_selection import ParameterSampler
from sklearn.tree import DecisionTreeClassifier

from dasklearn.datasets import make_classification
from dasklearn.model_selection import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection._hyperband import HyperbandSearchCV, SuccessiveHalvingSearchCV
from dasklearn.model_selection._incremental import IncrementalSearchCV, InverseDecaySearchCV

PARAMS = {"alpha": loguniform(1e-4, 1e1), "loss": ["hinge", "log_loss"]}  # early scores are informative
SGD = SGDClassifier(tol=None, random_state=0)
ROWS_PER_BLOCK, TRAIN_PER_BLOCK = 500, 450  # 10 blocks: test_size min(0.2, 1/10), 50 validation rows


@pytest.fixture(scope="module")
def data():
    # 5,000 x 20 in 10 blocks of 500 rows
    return make_classification(n_samples=5000, n_features=20, n_informative=5, class_sep=1.5,
                               chunks=ROWS_PER_BLOCK, random_state=1)


def _reference(candidates, X, y):
    """RandomizedSearchCV (fit, 3-fold CV) over exactly ``candidates``."""
    grid = [{k: [v] for k, v in c.items()} for c in candidates]
    ref_est = SGDClassifier(tol=None, max_iter=3, random_state=0)
    return RandomizedSearchCV(ref_est, grid, n_iter=len(grid), cv=3, random_state=0).fit(X, y)


def _held_model_ids(client):
    keys = client.run_on_scheduler(lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks])
    return {k.split("/")[1] for k in keys if k.startswith("dasklearn-model-")}


def _dasklearn_keys(client, timeout=15.0):  # (returns as soon as none are left)
    deadline = time.monotonic() + timeout
    while True:
        keys = client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks if "dasklearn-" in str(k)])
        if not keys or time.monotonic() > deadline:
            return keys
        time.sleep(0.05)


# ------------------------------------------------------------- acceptance
def test_hyperband_close_to_randomized_search(client, data):
    X, y = data
    search = HyperbandSearchCV(SGD, PARAMS, max_iter=9, random_state=0).fit(X, y)
    # brackets of max_iter=9, eta=3: 9 @ 1 call, 5 @ 3, 3 @ 9 -> 17 models, 21 + 21 + 27 calls
    assert search.metadata_["n_models"] == search.metadata["n_models"] == 17
    assert search.metadata_["partial_fit_calls"] == search.metadata["partial_fit_calls"] == 69
    assert [b["decisions"] for b in search.metadata_["brackets"]] == [[9], [3, 9], [1, 3, 9]]
    assert sorted(set(search.cv_results_["bracket"])) == [0, 1, 2]
    assert len(search.history_) == sum(len(h) for h in search.model_history_.values())
    best_id = search.cv_results_["model_id"][search.best_index_]
    assert search.model_history_[best_id][-1]["partial_fit_calls"] == 9
    # the best model was trained by 9 calls on 425-row blocks (SGD's t_ counts samples)
    assert search.best_estimator_.t_ - 1 == 9 * TRAIN_PER_BLOCK
    ref = _reference(search.cv_results_["params"], X, y)
    assert abs(search.best_score_ - ref.best_score_) <= 0.02
    assert search.score(X, y) > 0.85 and search.predict(X).shape == (5000,)
    assert not _dasklearn_keys(client)


def test_successive_halving_and_incremental_close_to_randomized_search(client, data):
    X, y = data
    sha = SuccessiveHalvingSearchCV(SGD, PARAMS, n_initial_parameters=9, max_iter=9, random_state=2).fit(X, y)
    inc = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=9, max_iter=9, fits_per_score=3,
                              random_state=2).fit(X, y)
    # same candidates as RandomizedSearchCV(n_iter=9, random_state=2)
    candidates = list(ParameterSampler(PARAMS, 9, random_state=2))
    assert sha.cv_results_["params"] == candidates == inc.cv_results_["params"]
    ref = RandomizedSearchCV(SGDClassifier(tol=None, max_iter=3, random_state=0), PARAMS, n_iter=9,
                             cv=3, random_state=2).fit(X, y)
    # each pick, judged by the reference's 3-fold CV (a 15% hold-out score alone is +-0.01
    # noisy, and it depends on the split), is nearly as good as the reference's best
    ref_score = {str(p): s for p, s in zip(ref.cv_results_["params"], ref.cv_results_["mean_test_score"])}
    assert ref.best_score_ - ref_score[str(sha.best_params_)] <= 0.02
    assert ref.best_score_ - ref_score[str(inc.best_params_)] <= 0.02
    assert abs(sha.best_score_ - ref.best_score_) <= 0.03 and abs(inc.best_score_ - ref.best_score_) <= 0.03
    # rungs 9 @ 1 (exhaust: 9 / 3**2), 3 @ 3, 1 @ 9
    assert sorted(sha.cv_results_["partial_fit_calls"]) == [1] * 6 + [3] * 2 + [9]
    assert sha.metadata_ == {"n_models": 9, "max_iter": 9, "partial_fit_calls": 21}
    assert sha.metadata["rungs"] == [{"n_models": 9, "partial_fit_calls": 1},
                                     {"n_models": 3, "partial_fit_calls": 3},
                                     {"n_models": 1, "partial_fit_calls": 9}]
    assert list(inc.cv_results_["partial_fit_calls"]) == [9] * 9
    assert [r["partial_fit_calls"] for r in inc.model_history_[0]] == [3, 6, 9]


def test_dropped_models_are_released_promptly(client, data, monkeypatch):
    """(Each model in its own tasks: a batch of cheap models' rounds is held
    while any of its models lives, see the batching test below.)"""
    import dasklearn._runtime._models as models

    monkeypatch.setattr(models, "BATCH_SECONDS", -1.0)
    X, y = data
    seen = []

    class Watched(SuccessiveHalvingSearchCV):
        def _additional_calls(self, history, done=frozenset()):
            out = super()._additional_calls(history, done=done)
            seen.append((_held_model_ids(client), set(history), set(out)))
            return out

    Watched(SGD, PARAMS, n_initial_parameters=9, n_initial_iter=1, max_iter=9, random_state=0).fit(X, y)
    assert len(seen) == 4  # start, after rungs 0 (9 -> 3), 1 (3 -> 1) and 2 (finished)
    assert [len(kept) for _, _, kept in seen] == [9, 3, 1, 1]
    for (_, alive, kept), (held_next, _, _) in zip(seen[1:-1], seen[2:]):
        dropped = {str(m) for m in alive - kept}
        assert dropped and not dropped & held_next  # gone before the next decision
    assert seen[-1][0] == {str(m) for m in seen[-1][1]}  # only survivors are held
    assert not _dasklearn_keys(client)


def test_cv_option_scores_on_folds_and_refits_on_all_rows(client, data):
    X, y = data
    search = HyperbandSearchCV(SGD, PARAMS, max_iter=3, cv=3, random_state=0).fit(X, y)
    res = search.cv_results_
    folds = np.stack([res[f"split{k}_test_score"] for k in range(3)], axis=1)
    np.testing.assert_allclose(res["test_score"], folds.mean(axis=1))
    np.testing.assert_allclose(res["std_test_score"], folds.std(axis=1))
    assert search.n_splits_ == 3 and {"split0_score", "bracket"} <= set(search.history_[0])
    # best_estimator_: the best candidate retrained with its calls on whole blocks
    calls = res["partial_fit_calls"][search.best_index_]
    assert search.best_estimator_.t_ - 1 == calls * ROWS_PER_BLOCK
    assert search.best_estimator_.get_params()["alpha"] == search.best_params_["alpha"]
    assert not _dasklearn_keys(client)


def test_halving_on_samples_for_estimators_without_partial_fit(client, data):
    X, y = data
    params = {"max_depth": list(range(1, 12)), "min_samples_leaf": [1, 5, 20, 50]}
    tree = DecisionTreeClassifier(random_state=0)
    search = SuccessiveHalvingSearchCV(tree, params, n_initial_parameters=9, random_state=0).fit(X, y)
    n_train = 10 * TRAIN_PER_BLOCK
    # 9 candidates, 2 halvings: 9 @ 4500 // 9 = 500 rows, 3 @ 1500, 1 @ 4500 (all)
    first, second = n_train // 9, n_train // 3
    assert sorted(search.cv_results_["n_samples"]) == [first] * 6 + [second] * 2 + [n_train]
    assert search.metadata_ == {"n_models": 9, "max_iter": n_train, "n_fits": 13,
                                "n_samples": 9 * first + 3 * second + n_train}
    assert search.best_estimator_.tree_.n_node_samples[0] == n_train
    assert {"mean_fit_time", "n_samples"} <= set(search.cv_results_)
    grid = [{k: [v] for k, v in c.items()} for c in search.cv_results_["params"]]
    ref = GridSearchCV(tree, grid, cv=3).fit(X, y)
    assert abs(search.best_score_ - ref.best_score_) <= 0.02


def test_same_results_with_and_without_a_client(cluster, data):
    from dask.distributed import Client

    X, y = data
    kw = dict(max_iter=9, cv=2, random_state=5)
    local = HyperbandSearchCV(SGD, PARAMS, n_jobs=2, **kw).fit(X, y)
    with Client(cluster, set_as_default=True):
        dist = HyperbandSearchCV(SGD, PARAMS, **kw).fit(X, y)
    assert list(local.cv_results_["model_id"]) == list(dist.cv_results_["model_id"])
    np.testing.assert_array_equal(local.cv_results_["test_score"], dist.cv_results_["test_score"])
    np.testing.assert_array_equal(local.best_estimator_.coef_, dist.best_estimator_.coef_)


# ------------------------------------------------------- local (no Client)
@pytest.fixture(scope="module")
def small():
    from sklearn.datasets import make_classification as sk_make

    return sk_make(n_samples=600, n_features=8, random_state=0)


def test_inverse_decay_keeps_a_shrinking_fraction(small):
    X, y = small
    search = InverseDecaySearchCV(SGD, PARAMS, n_initial_parameters=6, max_iter=4, random_state=0).fit(X, y)
    # t=0: 6 models, 1 call; t=1: best 3; t=2: best 2; t=3: best 1 trains to max_iter=4
    assert sorted(search.cv_results_["partial_fit_calls"]) == [1, 1, 1, 2, 3, 4]
    assert search.cv_results_["partial_fit_calls"][search.best_index_] == 4


def test_patience_stops_plateaued_models(small):
    X, y = small
    search = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=3, max_iter=10, patience=2, tol=1.0,
                                 random_state=0).fit(X, y)
    # any change is below tol=1: every model stops 2 calls after its first score
    assert list(search.cv_results_["partial_fit_calls"]) == [3, 3, 3]
    no_tol = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=2, max_iter=5, patience=2, tol=None,
                                 random_state=0).fit(X, y)
    assert list(no_tol.cv_results_["partial_fit_calls"]) == [5, 5]


def test_verbose_reports_brackets_models_left_and_best_score(small, capsys):
    X, y = small
    HyperbandSearchCV(SGD, PARAMS, max_iter=3, verbose=1, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "bracket=1: round 1: 1 of 3 models left" in err
    assert "best score so far" in err and "finished" in err


def test_scorer_returning_no_number_is_an_error(small):
    """As in GridSearchCV (and scikit-learn's searches): a scorer that forgets
    to return its score is the user's bug, said plainly."""
    def forgot_return(est, X_, y_):
        est.score(X_, y_)

    X, y = small
    with pytest.raises(ValueError, match="scoring must return a number, got None"):
        IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=2, max_iter=2, scoring=forgot_return,
                            random_state=0).fit(X, y)


def test_reproducible_and_accepts_pandas_and_regressors(small):
    X, y = small
    a = SuccessiveHalvingSearchCV(SGD, PARAMS, n_initial_parameters=4, max_iter=4, random_state=3).fit(X, y)
    b = SuccessiveHalvingSearchCV(SGD, PARAMS, n_initial_parameters=4, max_iter=4, random_state=3).fit(
        pd.DataFrame(X), pd.Series(y))
    np.testing.assert_array_equal(a.cv_results_["test_score"], b.cv_results_["test_score"])
    assert a.best_params_ == b.best_params_ and a.classes_.tolist() == [0, 1]
    reg = IncrementalSearchCV(SGDRegressor(tol=None, random_state=0), {"alpha": [1e-4, 1e-2]},
                              n_initial_parameters="grid", max_iter=2, scoring="r2").fit(X, y.astype(float))
    assert len(reg.cv_results_["params"]) == 2 and np.isfinite(reg.best_score_)
    # the same search object refitted with a regressor has no classes left from the classifier
    a.set_params(estimator=SGDRegressor(tol=None, random_state=0), parameters={"alpha": loguniform(1e-4, 1e-1)},
                 scoring="r2").fit(X, y.astype(float))
    assert not hasattr(a, "classes_")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: HyperbandSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2]}), "no partial_fit method"),
        (lambda: HyperbandSearchCV(SGD, PARAMS, aggressiveness=1), "aggressiveness must be a number > 1"),
        (lambda: HyperbandSearchCV(SGD, PARAMS, max_iter=0), "max_iter must be a positive int"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, patience=1), "patience must be False or an int >= 2"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, patience=True), "HyperbandSearchCV only"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, cv=3, test_size=0.2), "Pass one of them"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, cv=1), "cv must be None"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, test_size=1.5), r"test_size must be None or a fraction"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, scoring=["accuracy", "f1"]), "compares models by one number"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=0), "n_initial_parameters must be"),
        (lambda: IncrementalSearchCV(SGD, {"alpah": [1.0]}, n_initial_parameters="grid"), "Invalid parameter 'alpah'"),
        (lambda: IncrementalSearchCV(SGD, "alpha"), "parameters must be a dict"),
        (lambda: InverseDecaySearchCV(SGD, PARAMS, decay_rate=-1), "decay_rate must be a finite float >= 0"),
        (lambda: SuccessiveHalvingSearchCV(SGD, PARAMS, resource="time"), "resource must be one of"),
        (lambda: SuccessiveHalvingSearchCV(SGD, PARAMS, n_initial_iter=9, max_iter=3), "n_initial_iter=9 is larger"),
        (lambda: SuccessiveHalvingSearchCV(DecisionTreeClassifier(), {"max_depth": [1]}, patience=3),
         "patience must be False with resource='n_samples'"),
        (lambda: IncrementalSearchCV(SGD, PARAMS, checkpoint=3, random_state=0),
         "checkpoint must be None or a file path"),
        (lambda: HyperbandSearchCV(SGD, PARAMS, checkpoint="search.ckpt"),
         "random_state must be an int when checkpoint is given"),
    ],
)
def test_invalid_parameters_fail_before_any_work(small, monkeypatch, make, match):
    import dasklearn.model_selection._incremental as inc

    def no_runtime(*args, **kwargs):
        raise AssertionError("work was started before the parameters were checked")

    monkeypatch.setattr(inc, "model_runtime", no_runtime)
    X, y = small
    with pytest.raises(ValueError, match=match):
        make().fit(X, y)


def test_invalid_data_and_sizes(small):
    X, y = small
    with pytest.raises(ValueError, match="X and y have different numbers of samples"):
        IncrementalSearchCV(SGD, PARAMS).fit(X, y[:-1])
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        IncrementalSearchCV(SGD, PARAMS).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="per-sample parameters"):
        IncrementalSearchCV(SGD, PARAMS).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="max_iter=10000 samples, but a fold has only 480"):
        SuccessiveHalvingSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2]}, n_initial_parameters="grid",
                                  max_iter=10_000).fit(X, y)


def test_shared_input_checks_for_memory_and_dask_input(small):
    import dask.array as da

    X, y = small
    bad = X.copy()
    bad[3, 2] = np.nan
    search = IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=2, max_iter=2)
    with pytest.raises(ValueError, match="contains 1 NaN value"):
        search.fit(bad, y)
    with pytest.raises(ValueError, match="contains 1 NaN value"):  # counted where the blocks are
        search.fit(da.from_array(bad, chunks=200), da.from_array(y, chunks=200))
    with pytest.raises(ValueError, match="single class"):
        search.fit(da.from_array(X, chunks=200), da.zeros(len(y), chunks=200, dtype=int))
    with pytest.raises(ValueError, match="single class"):
        search.fit(X, np.zeros(len(y), dtype=int))


# ------------------------------------------------- a cheap model's round is one task
def _keys_run(client, fit):
    """(what ``fit()`` returns, keys of the tasks it ran on the cluster)."""
    from distributed import get_task_stream

    with get_task_stream(client) as stream:
        out = fit()
    return out, [str(t["key"]) for t in stream.data]


def test_a_models_round_and_its_score_are_one_task_when_validation_is_small(client, data, monkeypatch):
    """Each round's partial_fit call and the score after it run as one task
    (a cheap model pays one task's scheduling a round, not two); with large
    validation rows (here: any), the score is its own task, next to them.
    Either way the search is the same."""
    import dasklearn._runtime._models as models

    X, y = data

    def fit():
        return IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=6, max_iter=4, decay_rate=None,
                                   random_state=0).fit(X, y)

    monkeypatch.setattr(models, "BATCH_SECONDS", -1.0)  # (one model a task: see the next test)
    fused, keys = _keys_run(client, fit)
    n_scores = sum(len(h) for h in fused.model_history_.values())
    assert n_scores >= 12
    assert not [k for k in keys if k.startswith("dasklearn-score-")]
    assert len([k for k in keys if k.startswith("dasklearn-model-")]) == n_scores  # one call a round: one task

    monkeypatch.setattr(models, "FUSE_BYTES", 0)
    apart, keys = _keys_run(client, fit)
    assert len([k for k in keys if k.startswith("dasklearn-score-")]) == n_scores
    assert _same_history(fused, apart)
    np.testing.assert_array_equal(fused.cv_results_["test_score"], apart.cv_results_["test_score"])
    assert fused.best_params_ == apart.best_params_


def test_cheap_models_rounds_share_tasks(client, data, monkeypatch):
    """Once their first round has shown them cheap (here: any), the rounds of models on
    the same blocks run several to a task (at least two tasks a slot), in
    the order one task a model would run them: the same search, and nothing
    left on the cluster."""
    import dasklearn._runtime._models as models

    X, y = data

    def fit():
        return IncrementalSearchCV(SGD, PARAMS, n_initial_parameters=24, max_iter=4, decay_rate=None,
                                   random_state=0).fit(X, y)

    # every round counts as cheap, and a task takes as many as it may (at least two tasks
    # a slot, BATCH_MOST at most): how many tasks run then does not depend on how fast
    # this machine is (at dask's pace a loaded machine's rounds took over 20 ms)
    monkeypatch.setattr(models, "BATCH_SECONDS", 10.0)
    monkeypatch.setattr(models, "BATCH_TASK_SECONDS", 10.0)
    batched, keys = _keys_run(client, fit)
    n_scores = sum(len(h) for h in batched.model_history_.values())
    batches = [k for k in keys if k.startswith("dasklearn-batch-")]
    single = [k for k in keys if k.startswith("dasklearn-model-")]
    assert batches and len(batches) + len(single) <= n_scores / 2, (len(batches), len(single), n_scores)
    assert not _dasklearn_keys(client)

    monkeypatch.setattr(models, "BATCH_SECONDS", -1.0)
    apart, keys = _keys_run(client, fit)
    assert not [k for k in keys if k.startswith("dasklearn-batch-")]
    assert _same_history(batched, apart)
    np.testing.assert_array_equal(batched.cv_results_["test_score"], apart.cv_results_["test_score"])
    np.testing.assert_array_equal(batched.best_estimator_.coef_, apart.best_estimator_.coef_)


class _FailsOnItsThirdCall(SGDClassifier):
    """Raises on the third partial_fit call when alpha > 1."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        self.calls_ = getattr(self, "calls_", 0) + 1
        if self.alpha > 1 and self.calls_ == 3:
            raise ArithmeticError("diverged")
        return super().partial_fit(X, y, classes=classes, sample_weight=sample_weight)


def test_a_model_failing_in_a_batch_is_named_by_its_error(client, data, monkeypatch):
    """The batch's task key names no model: the error raised says which."""
    import dasklearn._runtime._models as models

    # cheap models share tasks whatever the machine's load (a loaded machine's
    # rounds could take longer than BATCH_SECONDS: then no batch, no note)
    monkeypatch.setattr(models, "BATCH_SECONDS", 10.0)
    monkeypatch.setattr(models, "BATCH_TASK_SECONDS", 1.0)
    X, y = data
    search = IncrementalSearchCV(_FailsOnItsThirdCall(tol=None, random_state=0), PARAMS, n_initial_parameters=24,
                                 max_iter=4, decay_rate=None, random_state=0)
    with pytest.raises(ArithmeticError, match="diverged") as raised:
        search.fit(X, y)
    notes = " ".join(getattr(raised.value, "__notes__", []))
    assert re.search(r"raised by model \d+ \(fold 0\), trained in one task with \d+ other model", notes), notes
    assert not _dasklearn_keys(client)


def test_models_left_without_work_hold_no_batch_on_the_workers(client, data):
    """A model alive with no more calls (patience, max_iter, a finished
    bracket) kept its batch's results, with its siblings' (dropped ones
    too), on the workers until the search ended: such models are parked."""
    X, y = data
    held = []

    def state_keys():  # models' states held in the workers' memory (not their lineage)
        return {k for k in client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k, ts in dask_scheduler.tasks.items() if ts.state == "memory"])
            if k.startswith(("dasklearn-batch-", "dasklearn-model-"))}

    class OneTrainsOn(IncrementalSearchCV):
        def _additional_calls(self, history, done=frozenset()):
            out = super()._additional_calls(history, done=done)
            if history and min(len(h) for h in history.values()) >= 2:
                first = min(out)
                out = {m: (n if m == first else 0) for m, n in out.items()}
                deadline = time.monotonic() + 10
                while len(state_keys()) > 1 and time.monotonic() < deadline:  # (releases reach it soon)
                    time.sleep(0.05)
                held.append(state_keys())
            return out

    search = OneTrainsOn(SGD, PARAMS, n_initial_parameters=24, max_iter=5, decay_rate=None,
                         random_state=0).fit(X, y)
    assert len(held) >= 2
    assert all(len(keys) <= 1 for keys in held[1:]), [sorted(k)[:6] for k in held]  # the one model training on
    assert len(held[0]) > 1  # (before the first parking: the others' batches)
    assert max(len(h) for h in search.model_history_.values()) == 5
    assert not _dasklearn_keys(client)


def _same_history(a, b) -> bool:
    """model_history_ equal but for the timings."""
    def strip(h):
        return {m: [{k: v for k, v in r.items() if "time" not in k} for r in rs] for m, rs in h.items()}
    return strip(a.model_history_) == strip(b.model_history_)


def test_scores_are_brought_back_a_round_at_a_time():
    """Scores done are held until their track's round is complete (then
    brought back in one batch) or they are HOLD_SECONDS old."""
    from dasklearn.model_selection._incremental import HOLD_SECONDS, _to_gather

    a, b = object(), object()  # two tracks
    pending = {"a1": (a,), "a2": (a,), "b1": (b,), "b2": (b,)}
    now = time.monotonic()
    assert _to_gather(pending, {"a1": now}) == []  # a2 and b still running
    assert sorted(_to_gather(pending, {"a1": now, "a2": now, "b1": now})) == ["a1", "a2"]
    assert _to_gather(pending, {"b1": now - HOLD_SECONDS - 0.01}) == ["b1"]  # held long enough
