"""DataParallel: data-parallel partial_fit rounds, on worker processes and locally."""

import warnings

import dask
import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.naive_bayes import BernoulliNB, ComplementNB, GaussianNB, MultinomialNB
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.svm import LinearSVC

import dasklearn._runtime._partitions as partitions
from dasklearn._parallel import DataParallel
from dasklearn._runtime._partitions import assign_groups, group_blocks
from dasklearn.datasets import make_classification, make_regression

TOL = dict(rtol=1e-10, atol=1e-10)


def _classification(n=8_000, chunks=1_000, seed=0, **kw):
    return make_classification(n_samples=n, n_features=10, n_informative=6, chunks=chunks,
                               random_state=seed, **kw)


# ----------------------------------------------------------- pure policies
def test_group_blocks_contiguous_balanced_rows():
    assert group_blocks([100] * 10, 3) == [[0, 1, 2], [3, 4, 5, 6], [7, 8, 9]]
    assert group_blocks([100] * 10, 1) == [list(range(10))]
    assert group_blocks([100, 100], 5) == [[0], [1]]  # at most one group per block
    groups = group_blocks([700] * 8 + [400], 2)  # uneven last block
    assert [i for g in groups for i in g] == list(range(9))  # contiguous, in order
    loads = [sum(([700] * 8 + [400])[i] for i in g) for g in groups]
    assert max(loads) - min(loads) <= 700
    assert group_blocks([10_000, 10, 10], 3) == [[0], [1, 2]]  # a huge block: empty range dropped


def test_assign_groups_keeps_groups_and_evens_out_workers():
    # initial placement: round robin over the addresses, sorted
    assert assign_groups({0: None, 1: None, 2: None}, ["w2", "w1"]) == {0: "w1", 1: "w2", 2: "w1"}
    # nothing changed: nothing moves
    assert assign_groups({0: "a", 1: "b"}, ["a", "b", "c"]) == {0: "a", 1: "b"}
    # "b" lost: its group goes to the least loaded worker, the others stay
    assert assign_groups({0: "a", 1: "b", 2: "c"}, ["a", "c"]) == {0: "a", 1: "a", 2: "c"}
    # a worker joins while "a" holds two groups: one moves to it (unless told not to)
    assert assign_groups({0: "a", 1: "a"}, ["a", "d"]) == {0: "a", 1: "d"}
    assert assign_groups({0: "a", 1: "a"}, ["a", "d"], rebalance=False) == {0: "a", 1: "a"}
    assert assign_groups({0: None, 1: "a"}, ["a", "d"], rebalance=False) == {0: "d", 1: "a"}
    with pytest.raises(ValueError, match="at least one worker"):
        assign_groups({0: "a"}, [])


def test_assign_groups_keeps_the_most_rows_where_they_are_within_each_workers_share():
    homeless = {0: None, 1: None}
    rows = {0: {"b": 300}, 1: {"a": 300}}
    assert assign_groups(homeless, ["a", "b"], local_rows=rows) == {0: "b", 1: "a"}
    # the best assignment as a whole, not group by group: group 0 is on both workers,
    # group 1 only on "a" (taking "a" for group 0 first would move group 1)
    rows = {0: {"a": 300, "b": 300}, 1: {"a": 300}}
    assert assign_groups(homeless, ["a", "b"], local_rows=rows) == {0: "b", 1: "a"}
    rows = {0: {"a": 300, "b": 100}, 1: {"a": 400, "b": 300}}  # 300 + 300 > 100 + 400
    assert assign_groups(homeless, ["a", "b"], local_rows=rows) == {0: "a", 1: "b"}
    # every group held by "a": it takes its share (2 of 4), the others go to "b"
    four = {g: None for g in range(4)}
    out = assign_groups(four, ["a", "b"], local_rows={g: {"a": 100} for g in four})
    assert sorted(out.values()) == ["a", "a", "b", "b"]
    # four groups on three workers: 2/1/1 (never 2/2/0), the rows deciding within that
    held = {0: {"a": 9}, 1: {"a": 9}, 2: {"b": 9}, 3: {"b": 9}}
    three = assign_groups(four, ["a", "b", "c"], local_rows=held)
    assert sorted(list(three.values()).count(w) for w in "abc") == [1, 1, 2]
    assert sum(held[g].get(w, 0) for g, w in three.items()) == 27  # 3 of the 4 groups stay
    # rows on a worker that is not there count for nothing; no rows known: round robin
    assert assign_groups(homeless, ["a", "b"], local_rows={0: {"gone": 5}}) == {0: "a", 1: "b"}
    assert assign_groups(homeless, ["a", "b"], local_rows={}) == {0: "a", 1: "b"}
    # a group with a worker keeps it, whatever the rows say
    assert assign_groups({0: "a", 1: None}, ["a", "b"], local_rows={1: {"a": 9}}) == {0: "a", 1: "b"}


def _persisted_on(client, where, rows, name):
    """X and y of ``len(where)`` blocks of ``rows`` rows, block i persisted on
    worker ``where[i]`` only (as persist leaves blocks: Futures in the
    graph); also the numpy data and the blocks' keys. The workers' transfer
    logs are cleared, so a test reads what moved after."""
    from distributed import wait

    n_blocks = len(where)
    X_np, y_np = (a.compute() for a in _classification(n=n_blocks * rows, chunks=rows))
    Xf = [client.submit(np.array, X_np[i * rows:(i + 1) * rows], workers=[w], pure=False) for i, w in enumerate(where)]
    yf = [client.submit(np.array, y_np[i * rows:(i + 1) * rows], workers=[w], pure=False) for i, w in enumerate(where)]
    wait(Xf + yf)
    X = da.Array({(f"X-{name}", i, 0): f for i, f in enumerate(Xf)}, f"X-{name}",
                 chunks=((rows,) * n_blocks, (X_np.shape[1],)), dtype=X_np.dtype)
    y = da.Array({(f"y-{name}", i): f for i, f in enumerate(yf)}, f"y-{name}",
                 chunks=((rows,) * n_blocks,), dtype=y_np.dtype)
    client.run(lambda dask_worker: dask_worker.transfer_incoming_log.clear())
    return X, y, X_np, y_np, {f.key for f in Xf + yf}


def _moved(client, keys) -> list:
    """Which of ``keys`` a worker fetched from another since the logs were cleared."""
    logs = client.run(lambda dask_worker: [k for e in dask_worker.transfer_incoming_log for k in e["keys"]])
    return [k for got in logs.values() for k in got if k in keys]


def test_persisted_blocks_are_placed_where_they_are(client):
    """Each group goes to the worker holding its rows: with X and y
    persisted half on each worker, the other way round from the round robin
    over the addresses, nothing of them moves (before: everything did)."""
    workers = sorted(client.nthreads())
    rows = 1_000
    # blocks 0-3 (group 0) on the second worker by address, blocks 4-7 on the first
    X, y, X_np, y_np, source = _persisted_on(client, [workers[1]] * 4 + [workers[0]] * 4, rows, "persisted")
    model = DataParallel(SGDClassifier(random_state=0), max_rounds=2, tol=None, random_state=0).fit(X, y)
    assert model.partitions_ == {workers[1]: [0, 1, 2, 3], workers[0]: [4, 5, 6, 7]}
    assert _moved(client, source) == []
    reference = DataParallel(SGDClassifier(random_state=0), max_rounds=2, tol=None, random_state=0).fit(
        da.from_array(X_np, chunks=rows), da.from_array(y_np, chunks=rows))
    assert_array_equal(model.estimator_.coef_, reference.estimator_.coef_)  # where the groups are: no matter


def _slow_part(i, X, y):
    import time

    time.sleep(0.3)  # long enough for dask's work stealing to consider the task
    return X, y


def _rows_here(parts):
    return sum(len(X) for X, _ in parts)


def test_a_busy_workers_blocks_are_not_taken_by_the_idle_one(client):
    """A group's tasks are pinned to its worker strictly: while that worker
    is busy (another task holds its thread), the idle one does not steal
    them, which would move their blocks and leave the parts elsewhere than
    the placement says (before: dask's work stealing took loosely pinned
    tasks, and the blocks they read, to the idle worker)."""
    import time

    workers = sorted(client.nthreads())
    rows = 2_000
    where = [workers[0]] * 4 + [workers[1]] * 4
    X, y, _, _, source = _persisted_on(client, where, rows, "busy")
    busy = client.submit(time.sleep, 3, workers=[workers[1]], allow_other_workers=False, pure=False)
    with partitions.place_blocks([X, y], _slow_part, n_groups=2) as parts:
        busy.result()
        assert parts.placement() == {workers[0]: [0, 1, 2, 3], workers[1]: [4, 5, 6, 7]}
        assert {i: w for i, ws in parts.locations().items() for w in ws} == dict(enumerate(where))
        assert parts.run(_rows_here, {0: (), 1: ()}) == {0: 4 * rows, 1: 4 * rows}
    assert _moved(client, source) == []


# --------------------------------------------------- naive Bayes: exact
@pytest.mark.parametrize("make, transform", [
    (GaussianNB, None),
    (lambda: MultinomialNB(alpha=0.5), lambda X: da.floor(abs(X) * 3)),
    (lambda: BernoulliNB(binarize=0.2), None),
])
def test_naive_bayes_merge_equals_fit_on_all_data(client, make, transform):
    X, y = _classification(n=6_000, chunks=700, n_classes=3)  # uneven last block
    if transform is not None:
        X = transform(X)
    model = DataParallel(make(), validation_fraction=0).fit(X, y)
    assert model.n_rounds_ == 1 and len(model.partitions_) == 2 and len(model.groups_) == 2
    Xn, yn = dask.compute(X, y)
    ref = make().fit(Xn, yn)
    for attr in ("class_count_", "theta_", "var_", "epsilon_", "class_prior_",
                 "feature_count_", "feature_log_prob_", "class_log_prior_"):
        if hasattr(ref, attr):
            assert_allclose(getattr(model.estimator_, attr), getattr(ref, attr), **TOL, err_msg=attr)
    assert_allclose(model.predict_proba(Xn), ref.predict_proba(Xn), **TOL)


# ------------------------------------------------------ SGD: approximate
def test_sgd_on_two_workers_matches_in_memory_accuracy(client):
    # log-loss with alpha=1e-3: the in-memory reference itself is stable
    # across seeds after 5 epochs, so the comparison measures the merge
    params = dict(loss="log_loss", alpha=1e-3, random_state=0)
    X, y = make_classification(n_samples=50_000, n_features=20, n_informative=10, class_sep=1.5,
                               chunks=5_000, random_state=1)
    X_train, y_train = X[:40_000], y[:40_000]
    X_test, y_test = dask.compute(X[40_000:], y[40_000:])
    epochs = 5
    model = DataParallel(SGDClassifier(**params), max_rounds=epochs, tol=None, validation_fraction=0)
    model.fit(X_train, y_train, classes=[0, 1])
    assert len(model.partitions_) == 2 and model.n_rounds_ == epochs
    ref = SGDClassifier(max_iter=epochs, tol=None, **params).fit(*dask.compute(X_train, y_train))
    ours, theirs = model.score(X_test, y_test), ref.score(X_test, y_test)
    assert abs(ours - theirs) <= 0.005, (ours, theirs)
    assert model.estimator_.t_ == 1 + epochs * 40_000  # the schedule saw every sample


def test_history_and_early_stopping(client):
    X, y = _classification()
    model = DataParallel(SGDClassifier(random_state=0), max_rounds=30, tol=1.0, n_iter_no_change=2,
                         random_state=0).fit(X, y)
    # with tol=1 no round improves on the first: stops after n_iter_no_change more
    assert model.n_rounds_ == 3 == len(model.history_)
    h = model.history_
    assert [r["round"] for r in h] == [1, 2, 3]
    assert set(h[0]) == {"round", "score", "param_change", "n_samples", "time"}
    assert h[0]["param_change"] is None and all(r["param_change"] > 0 for r in h[1:])
    assert all(0.5 < r["score"] <= 1 for r in h) and model.best_score_ == max(r["score"] for r in h)
    assert all(r["n_samples"] == 8_000 - 8 * 100 for r in h)  # 10% of each block held out
    assert all(r["time"] > 0 for r in h)


def test_mlp_runs_and_improves(client):
    X, y = _classification(n=10_000, chunks=1_250)
    model = DataParallel(MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=3e-3),
                         max_rounds=6, tol=None, random_state=0).fit(X, y)
    scores = [r["score"] for r in model.history_]
    assert model.n_rounds_ == 6 and scores[-1] > scores[0] + 0.02, scores
    assert scores[-1] > 0.85
    Xr, yr = make_regression(n_samples=4_000, n_features=5, chunks=1_000, noise=1.0, random_state=0)
    reg = DataParallel(MLPRegressor(hidden_layer_sizes=(8,), learning_rate_init=1e-2),
                       max_rounds=5, tol=None, random_state=0).fit(Xr, yr / 100)
    assert reg.history_[-1]["score"] > reg.history_[0]["score"]


def test_data_never_moves_after_placement(client, monkeypatch):
    """Training and validation tasks run where the parts are: no part is ever
    transferred between workers, and every part stays where it was placed."""
    seen = {}
    real_place = partitions.place_blocks

    def place_and_watch(*args, **kwargs):
        parts = real_place(*args, **kwargs)
        seen["placed"] = parts.locations()
        client.run(lambda dask_worker: dask_worker.transfer_incoming_log.clear())
        real_close = parts.close

        def close():
            seen["at_end"] = parts.locations()
            real_close()

        parts.close = close
        return parts

    monkeypatch.setattr(partitions, "place_blocks", place_and_watch)
    X, y = _classification()
    model = DataParallel(MLPClassifier(hidden_layer_sizes=(8,)), max_rounds=3, tol=None,
                         random_state=0).fit(X, y)
    assert model.n_rounds_ == 3
    assert seen["at_end"] == seen["placed"]
    assert all(len(w) == 1 for w in seen["placed"].values())  # one copy of each part
    owners = {w: sorted(i for i, (o,) in seen["placed"].items() if o == w) for w in model.partitions_}
    assert owners == model.partitions_
    assert sorted(model.partitions_.values()) == model.groups_  # one group per worker
    assert model.n_recoveries_ == 0
    logs = client.run(lambda dask_worker: [k for e in dask_worker.transfer_incoming_log for k in e["keys"]])
    moved = [k for keys in logs.values() for k in keys if "dasklearn-part-" in str(k)]
    assert moved == []


def test_predict_and_score_are_blockwise(client):
    X, y = _classification(n=4_000)
    model = DataParallel(SGDClassifier(loss="log_loss", random_state=0), max_rounds=2,
                         random_state=0).fit(X, y, classes=[0, 1])
    Xn, yn = dask.compute(X, y)
    pred = model.predict(X)
    assert isinstance(pred, da.Array) and pred.chunks == y.chunks
    assert_array_equal(pred.compute(), model.estimator_.predict(Xn))
    assert_allclose(model.predict_proba(X).compute(), model.estimator_.predict_proba(Xn))
    assert_allclose(model.decision_function(X).compute(), model.estimator_.decision_function(Xn))
    assert model.score(X, y) == pytest.approx(model.estimator_.score(Xn, yn))
    assert_array_equal(model.classes_, [0, 1])
    assert not hasattr(DataParallel(SGDClassifier()), "predict_proba")  # hinge loss


def test_custom_scoring_and_regressor(client):
    X, y = make_regression(n_samples=4_000, n_features=5, chunks=1_000, noise=1.0, random_state=0)
    model = DataParallel(SGDRegressor(random_state=0), max_rounds=3, tol=None,
                         scoring="neg_mean_squared_error", random_state=0).fit(X, y)
    assert all(r["score"] < 0 for r in model.history_)
    Xn, yn = dask.compute(X, y)
    assert model.score(X, y) == pytest.approx(-np.mean((model.estimator_.predict(Xn) - yn) ** 2))


def test_a_scorer_of_ones_own_gets_the_held_out_rows(client):
    """A callable of the user's own may use X itself (est.score(X, y), X.shape):
    it gets the held-out rows, and scores as the scikit-learn scorer does."""
    X, y = _classification(n=4_000)
    kw = dict(max_rounds=3, tol=None, random_state=0)
    by_name = DataParallel(SGDClassifier(random_state=0), scoring="accuracy", **kw).fit(X, y)
    seen = []

    def own(est, X_, y_):
        seen.append(X_.shape)
        return est.score(X_, y_)

    by_own = DataParallel(SGDClassifier(random_state=0), scoring=own, **kw).fit(X, y)
    assert [r["score"] for r in by_own.history_] == pytest.approx([r["score"] for r in by_name.history_],
                                                                   abs=1e-12)
    assert len(seen) == 3 and seen[0][1] == X.shape[1] and 0 < seen[0][0] < X.shape[0]


def test_multilabel_y_classes_are_its_columns(client):
    """A label indicator y: the classes found are its columns (as
    scikit-learn's MLPClassifier counts them), not its values 0 and 1."""
    X, _ = _classification(n=2_000)
    Y = da.stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] > 0], axis=1).astype(int)
    kw = dict(max_rounds=2, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = DataParallel(MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0), **kw).fit(X, Y)
        given = DataParallel(MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0), **kw).fit(
            X, Y, classes=np.arange(3))
    assert_array_equal(found.classes_, [0, 1, 2])
    assert found.predict(X).shape == (2_000, 3)
    assert_array_equal(found.predict(X).compute(), given.predict(X).compute())
    # one column is labels (scikit-learn ravels it), not a one-label indicator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        column = DataParallel(SGDClassifier(random_state=0), **kw).fit(X, Y[:, :1])
    assert_array_equal(column.classes_, [0, 1])


# -------------------------------------------------- errors, before any work
@pytest.fixture
def no_placement(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("work was submitted before the parameters were checked")

    monkeypatch.setattr(partitions, "place_blocks", fail)


@pytest.mark.parametrize("estimator, kwargs, error, match", [
    (LinearSVC(), {}, TypeError, "partial_fit, which LinearSVC does not have"),
    (MLPClassifier(solver="lbfgs"), {}, TypeError, "with these parameters"),
    (ComplementNB(), {}, TypeError, "Cannot merge.*ComplementNB.*supports"),
    (SGDClassifier(average=True), {}, ValueError, "average=True.*private"),
    (SGDClassifier(early_stopping=True), {}, ValueError, "early_stopping=True"),
    (MLPClassifier(early_stopping=True), {}, ValueError, "early_stopping=True"),
    (SGDClassifier(class_weight="balanced"), {}, ValueError, "balanced"),
    (SGDClassifier(), {"max_rounds": 0}, ValueError, "max_rounds must be an int >= 1 or None, got 0"),
    (SGDClassifier(), {"local_epochs": 1.5}, ValueError, "local_epochs"),
    (SGDClassifier(), {"validation_fraction": 1.0}, ValueError, r"validation_fraction.*\[0.0, 1.0\)"),
    (SGDClassifier(), {"tol": -1}, ValueError, "tol"),
    (SGDClassifier(), {"scoring": "not-a-metric"}, ValueError, "not-a-metric"),
    (SGDClassifier(), {"scoring": "neg_log_loss"}, ValueError,
     "asks the model for predict_proba, which SGDClassifier does not have"),  # hinge loss
    (SGDClassifier(), {"n_jobs": 0}, ValueError, "n_jobs"),
    (SGDClassifier(), {"validation_fraction": "some"}, ValueError, "validation_fraction must be 'auto'"),
])
def test_invalid_setups_fail_before_any_work(client, no_placement, estimator, kwargs, error, match):
    X, y = _classification(n=2_000)
    with pytest.raises(error, match=match):
        DataParallel(estimator, **kwargs).fit(X, y)


def test_invalid_data_fails_before_any_work(client, no_placement):
    X, y = _classification(n=2_000)
    with pytest.raises(ValueError, match="classes is for classifiers"):
        DataParallel(SGDRegressor()).fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        DataParallel(SGDClassifier()).fit(X[:, 0], y)
    with pytest.raises(ValueError, match="different numbers of rows"):
        DataParallel(SGDClassifier()).fit(X, y[:100])
    X_np, y_np = X.compute(), y.compute()  # in memory, or an in-memory y with a dask X
    X_nan = X_np.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="X contains 1 NaN value"):
        DataParallel(SGDClassifier()).fit(X_nan, y_np)
    for X_, y_ in [(X_np, y_np[:300]), (X, y_np[:300])]:
        with pytest.raises(ValueError, match="X and y have different numbers of rows: 2000 and 300"):
            DataParallel(SGDClassifier()).fit(X_, y_)
    with pytest.raises(ValueError, match=r"y has shape \(2000, 2\), but SGDClassifier fits one target"):
        DataParallel(SGDClassifier()).fit(X, da.stack([y, y], axis=1))
    keep = X[:, 0] > 0  # a boolean row mask: chunk sizes unknown
    with pytest.raises(ValueError, match=r"X and y have unknown chunk sizes.*compute_chunk_sizes"):
        DataParallel(SGDClassifier()).fit(X[keep], y[keep])


def test_label_outside_classes_raises_from_the_worker(client):
    X, y = _classification(n=2_000)
    with pytest.raises(ValueError, match="classes"):
        DataParallel(SGDClassifier(), max_rounds=1).fit(X, y, classes=[0, 5])


# ------------------------------------------------------ no Client: threads
@pytest.mark.parametrize("make", [
    lambda: SGDClassifier(random_state=0),
    lambda: SGDRegressor(learning_rate="invscaling", random_state=0),
    lambda: MLPClassifier(hidden_layer_sizes=(6,), random_state=0),
])
def test_one_worker_is_exactly_sequential_partial_fit(make):
    """No Client, n_jobs=None: one virtual worker; each round is a sequential
    pass of partial_fit over the blocks, continuing from the last round."""
    X, y = _classification(n=3_000, chunks=500, n_classes=3)
    if isinstance(make(), SGDRegressor):
        y = y.astype(float)
    fit_kw = {} if isinstance(make(), SGDRegressor) else {"classes": [0, 1, 2]}
    model = DataParallel(make(), max_rounds=3, tol=None, validation_fraction=0).fit(X, y, **fit_kw)
    assert list(model.partitions_) == ["local-0"]
    ref = make()
    blocks = list(zip(X.to_delayed().ravel(), y.to_delayed().ravel()))
    for _ in range(3):
        for xb, yb in blocks:
            ref.partial_fit(*dask.compute(xb, yb), **fit_kw)
    ours = model.estimator_
    if hasattr(ref, "coef_"):
        assert_array_equal(ours.coef_, ref.coef_)
        assert_array_equal(ours.intercept_, ref.intercept_)
    else:
        for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
            assert_array_equal(a, b)
    assert ours.t_ == ref.t_
    if hasattr(ref, "loss_curve_"):  # the other fitted attributes are the latest too
        assert ours.loss_curve_ == ref.loss_curve_ and ours.loss_ == ref.loss_
        ours.partial_fit(*dask.compute(*blocks[0]))  # and training continues as the reference's
        ref.partial_fit(*dask.compute(*blocks[0]))
        for a, b in zip(ours.coefs_, ref.coefs_):
            assert_array_equal(a, b)


def test_naive_bayes_by_default_is_fit_on_all_the_rows():
    """validation_fraction='auto': one naive Bayes round holds nothing out
    (a held-out share could not change that round's model, only leave rows out)."""
    X, y = _classification(n=3_000, chunks=500, n_classes=3)
    model = DataParallel(GaussianNB(), n_jobs=2).fit(X, y)
    ref = GaussianNB().fit(*dask.compute(X, y))
    assert_allclose(model.estimator_.var_, ref.var_, **TOL)
    assert model.estimator_.class_count_.sum() == 3_000 and model.best_score_ is None
    sgd = DataParallel(SGDClassifier(random_state=0), max_rounds=2, n_jobs=2).fit(X, y)
    assert sgd.best_score_ is not None  # the iterative families still hold 10% out


def test_a_scorer_without_sample_weight_scores_unweighted_and_says_so():
    X, y = _classification(n=2_000, chunks=500)
    w = da.from_array(np.random.default_rng(0).random(2_000), chunks=500)

    def acc(est, X, y):
        return float((est.predict(X) == y).mean())

    def acc_w(est, X, y, sample_weight=None):
        return float(np.average(est.predict(X) == y, weights=sample_weight))

    kw = dict(max_rounds=2, tol=None, n_jobs=2, random_state=0)
    with pytest.warns(UserWarning, match="takes no sample_weight, so the validation scores are not weighted"):
        plain = DataParallel(SGDClassifier(random_state=0), scoring=acc, **kw).fit(X, y, sample_weight=w)
    weighted = DataParallel(SGDClassifier(random_state=0), scoring=acc_w, **kw).fit(X, y, sample_weight=w)
    assert_array_equal(plain.estimator_.coef_, weighted.estimator_.coef_)  # the same training
    assert plain.best_score_ != weighted.best_score_


def test_mlp_warm_start_trains_on_blocks_missing_a_class():
    """warm_start only makes MLPClassifier.partial_fit demand every class in
    every call: trained without it, given back with it (a block missing a
    class failed the fit after the work)."""
    from sklearn.metrics import make_scorer

    X, y = _classification(n=1_000, chunks=250, n_classes=3)
    y = da.where(da.arange(1_000, chunks=250) < 250, y % 2, y)  # block 0 lacks class 2
    model = DataParallel(MLPClassifier(hidden_layer_sizes=(4,), warm_start=True, random_state=0),
                         max_rounds=2, n_jobs=2).fit(X, y)
    assert model.estimator_.warm_start is True and list(model.classes_) == [0, 1, 2]
    # a single class is fine for an MLP (scikit-learn's fits it), refused for the linear family
    one = DataParallel(MLPClassifier(hidden_layer_sizes=(4,), random_state=0), max_rounds=1).fit(
        X, da.zeros_like(y))
    assert list(one.classes_) == [0]
    # a make_scorer metric without sample_weight: scored unweighted, said so
    def agree(y_true, y_pred):
        return float((y_true == y_pred).mean())

    w = da.ones(1_000, chunks=250)
    with pytest.warns(UserWarning, match="takes no sample_weight.*not weighted"):
        DataParallel(SGDClassifier(random_state=0), scoring=make_scorer(agree), max_rounds=2,
                     n_jobs=2).fit(X, y, sample_weight=w)


def test_one_class_found_is_refused_before_training():
    X, y = _classification(n=1_000, chunks=500)
    with pytest.raises(ValueError, match="y holds one class only.*needs at least 2"):
        DataParallel(SGDClassifier()).fit(X, da.zeros_like(y))


def test_virtual_workers_without_client():
    X, y = _classification(n=4_000, chunks=500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray warnings from the merge
        model = DataParallel(GaussianNB(), n_jobs=2, validation_fraction=0).fit(X, y)
    assert sorted(model.partitions_) == ["local-0", "local-1"]
    assert model.partitions_["local-0"] == [0, 1, 2, 3] and model.groups_ == [[0, 1, 2, 3], [4, 5, 6, 7]]
    Xn, yn = dask.compute(X, y)
    assert_allclose(model.estimator_.theta_, GaussianNB().fit(Xn, yn).theta_, **TOL)
    # in-memory input: one block per virtual worker
    model = DataParallel(SGDClassifier(random_state=0), n_jobs=2, max_rounds=2, random_state=0).fit(Xn, yn)
    assert model.partitions_ == {"local-0": [0], "local-1": [1]}
    assert isinstance(model.predict(Xn), np.ndarray) and model.score(Xn, yn) > 0.6


def test_dataframe_column_names_are_kept_and_checked(client):
    """As scikit-learn: fitted on a DataFrame, other columns (or their order)
    are an error, not silently wrong predictions."""
    import dask.dataframe as dd
    import pandas as pd

    X, y = make_classification(n_samples=400, n_features=4, chunks=100, random_state=0)
    frame = pd.DataFrame(X.compute(), columns=["a", "b", "c", "d"])
    labels = y.compute()
    for X_fit in (frame, dd.from_pandas(frame, npartitions=4)):
        model = DataParallel(GaussianNB()).fit(X_fit, labels if isinstance(X_fit, pd.DataFrame) else
                                               dd.from_pandas(pd.Series(labels), npartitions=4))
        assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
        assert_array_equal(model.predict(frame), model.estimator_.predict(frame.to_numpy()))
        with pytest.raises(ValueError, match="feature names should match"):
            model.predict(frame[["d", "c", "b", "a"]])
        with pytest.raises(ValueError, match="feature names should match"):
            model.predict(dd.from_pandas(frame[["d", "c", "b", "a"]], npartitions=2))
    model.fit(frame.to_numpy(), labels)  # a refit on arrays forgets them
    assert not hasattr(model, "feature_names_in_") and not hasattr(model.estimator_, "feature_names_in_")
