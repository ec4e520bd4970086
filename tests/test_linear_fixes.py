"""Regression tests for review findings on the linear models and the
runtimes they share (``_reduce``, ``_models``, ``_cluster``)."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from sklearn import linear_model as sk

from dasklearn._runtime import _cluster, _reduce, _threads
from dasklearn._runtime._model_kernels import SplitSpec, validation_rows
from dasklearn._runtime._models import DistributedModels, LocalModels, _Handle
from dasklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegression


def _ill_conditioned(collinear=False):
    """2000 x 5: column 1 is column 0 plus 1e-3 noise (or exactly column 0),
    column 2 is scaled by 1e-3."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    X[:, 1] = X[:, 0] + (0.0 if collinear else 1e-3) * rng.normal(size=2000)
    X[:, 2] *= 1e-3
    y = X @ rng.normal(size=5) + 0.5 + rng.normal(size=2000)
    return X, y


def _assert_close_params(ours, ref, rtol):
    a = np.append(ours.coef_, ours.intercept_)
    b = np.append(ref.coef_, ref.intercept_)
    assert np.abs(a - b).max() <= rtol * np.abs(b).max(), (a, b)


# ------------------------------------------------------ 1. exact least squares
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_linear_regression_is_least_squares_on_ill_conditioned_x(fit_intercept):
    X, y = _ill_conditioned()
    ref = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    assert np.abs(ref.coef_).max() > 10  # far from the well-conditioned answer
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning
        ours = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    _assert_close_params(ours, ref, rtol=1e-10)


def test_default_linear_regression_is_least_squares_on_the_cluster(client):
    X, y = _ill_conditioned()
    ref = sk.LinearRegression().fit(X, y)
    ours = LinearRegression().fit(da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500))
    _assert_close_params(ours, ref, rtol=1e-10)
    ridge = LinearRegression(alpha=1e-4).fit(da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500))
    _assert_close_params(ridge, sk.Ridge(alpha=1e-4 * len(y)).fit(X, y), rtol=1e-10)


def test_collinear_columns_give_the_least_norm_solution_as_scikit_learn():
    X, y = _ill_conditioned(collinear=True)
    ours = LinearRegression().fit(X, y)
    _assert_close_params(ours, sk.LinearRegression().fit(X, y), rtol=1e-10)
    assert ours.coef_[0] == pytest.approx(ours.coef_[1], rel=1e-10)


@pytest.mark.parametrize("offset", [10.0, 1000.0])
@pytest.mark.parametrize("shape", ["wide", "duplicated"])
def test_least_norm_solution_of_uncentred_columns_as_scikit_learn(offset, shape):
    # with an intercept, the coefficients' normal equations are a difference of
    # the uncentred entries; its rounding error (eps * n * mean**2) must count as
    # zero, not as data in the directions the centred columns do not span
    rng = np.random.default_rng(0)
    n, p = (20, 50) if shape == "wide" else (200, 7)
    X = rng.normal(size=(n, p)) + offset
    if shape == "duplicated":
        X[:, 5], X[:, 6] = X[:, 0], 2 * X[:, 1]
    y = rng.normal(size=n)
    ref = sk.LinearRegression().fit(X, y)
    for Xin, yin in [(X, y), (da.from_array(X, chunks=7), da.from_array(y, chunks=7))]:
        ours = LinearRegression().fit(Xin, yin)
        err = np.linalg.norm(ours.coef_ - ref.coef_) / np.linalg.norm(ref.coef_)
        assert err < 1e-7, err  # it was 0.25 (wide, offset 10) to 11 (offset 1000)


def test_small_columns_beside_a_large_mean_one_are_kept():
    """The rounding of a large-mean column (a year) is judged along each
    direction: judged for all of them, the small columns beside it were cut
    off (R² 0.87 where scikit-learn's fit has 0.999997)."""
    rng = np.random.RandomState(0)
    X = np.column_stack([2000 + 10 * rng.randn(2000), 1e-4 * rng.randn(2000, 9)])
    y = X @ np.r_[0.5, np.full(9, 1e4)] + 0.01 * rng.randn(2000)
    ref = sk.LinearRegression().fit(X, y)
    ours = LinearRegression().fit(da.from_array(X, chunks=500), da.from_array(y, chunks=500))
    assert np.linalg.norm(ours.coef_ - ref.coef_) / np.linalg.norm(ref.coef_) < 1e-10


@pytest.mark.parametrize("make_y", [list, tuple, lambda y: pd.Series(y).astype("Int64")],
                         ids=["list", "tuple", "Int64"])
def test_in_memory_y_of_any_array_like_next_to_dask_x(make_y):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = rng.poisson(np.exp(X @ [0.5, 0.1, 0.0]))
    Xd = da.from_array(X, chunks=50)
    for est in (LinearRegression(), PoissonRegression()):
        ours = est.fit(Xd, make_y(y))
        ref = type(est)(**est.get_params()).fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-8, atol=1e-12)
    assert list(LogisticRegression().fit(Xd, make_y((y > 1).astype(int))).classes_) == [0, 1]
    with pytest.raises(ValueError, match="y must be numeric, got dtype"):
        LinearRegression().fit(Xd, ["a"] * 100)


@pytest.mark.parametrize("est", [LinearRegression(penalty="l1"),
                                 LinearRegression(penalty="elasticnet", l1_ratio=0.5),
                                 PoissonRegression(penalty="l2", alpha=0.0),
                                 LogisticRegression(penalty="l1", C=np.inf)], ids=repr)
def test_named_penalty_with_a_strength_of_none_warns(est):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0) if isinstance(est, LogisticRegression) else np.abs(X[:, 0]) + 0.1
    strength = "C=inf" if isinstance(est, LogisticRegression) else "alpha=0.0"
    with pytest.warns(UserWarning, match=f"penalty='{est.penalty}' with {strength} fits without a penalty"):
        est.fit(X, y)


def test_auto_solver_resolves_by_penalty_and_explicit_solvers_still_work():
    X, y = _ill_conditioned()
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)  # well conditioned, for the iterative solvers
    lasso = LinearRegression(alpha=0.05, l1_ratio=1.0, tol=1e-10, max_iter=5000).fit(Xs, y)  # proximal_grad
    _assert_close_params(lasso, sk.Lasso(alpha=0.05, tol=1e-14, max_iter=100_000).fit(Xs, y), rtol=1e-6)
    lbfgs = LinearRegression(solver="lbfgs", tol=1e-10, max_iter=1000).fit(Xs, y)
    _assert_close_params(lbfgs, sk.LinearRegression().fit(Xs, y), rtol=1e-6)
    assert LinearRegression().get_params()["solver"] == "auto"
    clf = LogisticRegression(solver="auto").fit(Xs, y > 0.5)
    _assert_close_params(clf, LogisticRegression(solver="lbfgs").fit(Xs, y > 0.5), rtol=0)


# ------------------------------------------------------------ 2. feature names
@pytest.mark.parametrize("make", [
    lambda: LinearRegression(), lambda: LogisticRegression(), lambda: PoissonRegression()])
def test_feature_names_are_recorded_and_checked_like_scikit_learn(make):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = (rng.poisson(1.0, size=120) + (frame["a"] > 0)).astype(float)
    est = make().fit(frame, y)
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    assert est.n_features_in_ == 3
    with pytest.raises(ValueError, match="feature names should match"):
        est.predict(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="feature names should match"):
        est.score(frame.rename(columns={"a": "z"}), y)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.predict(frame.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est.predict(frame)
    plain = make().fit(frame.to_numpy(), y)
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        plain.predict(frame)


def test_dask_dataframe_feature_names(client):
    import dask.dataframe as dd

    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    target = pd.Series(frame["a"] - frame["b"] + rng.normal(size=200))
    X, y = dd.from_pandas(frame, npartitions=2), dd.from_pandas(target, npartitions=2)
    reg = LinearRegression().fit(X, y)
    np.testing.assert_array_equal(reg.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names should match"):
        reg.predict(X.rename(columns={"a": "z"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same names, block by block: no warning
        np.testing.assert_allclose(reg.predict(X).compute(), reg.predict(frame), rtol=1e-12)
        assert reg.score(X, y) == pytest.approx(reg.score(frame, target), rel=1e-12)


# ------------------------------------------------------- 3. BLAS thread limit
class _FakeBlas:
    """A process-wide BLAS thread count behind threadpoolctl's interface
    (``select(...).lib_controllers[i].num_threads``, ``limit()`` returning a
    limiter that restores the counts it found).  Real OpenBLAS builds may
    ignore ``set_num_threads`` from threads other than the one that set it
    last, which would make a test with real BLAS depend on what ran before."""

    def __init__(self, num_threads):
        self.num_threads = num_threads
        self.lib_controllers = [self]

    def select(self, **kwargs):
        return self

    def limit(self, limits, **kwargs):
        blas = self

        class Limiter:
            def __init__(self):
                self.saved = blas.num_threads
                blas.num_threads = limits

            def restore_original_limits(self):
                blas.num_threads = self.saved

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.restore_original_limits()

        return Limiter()


def test_one_blas_thread_holds_while_any_thread_is_inside(monkeypatch):
    """Two fits in threads: the limit set by the first one in holds until the
    last one is out, then the original count comes back."""
    blas = _FakeBlas(4)
    monkeypatch.setattr(_threads, "controller", lambda: blas)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with _threads.one_blas_thread():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second():
        a_in.wait(10)
        with _threads.one_blas_thread():
            b_in.set()
            a_out.wait(10)  # the first one has left
            seen["inside"] = blas.num_threads

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen["inside"] == 1
    assert blas.num_threads == 4  # the last one out restored the count


# --------------------------------------------------------- 4. hold-out split
@pytest.mark.parametrize("block_rows,n_val", [(2, 6), (1, 6)])
def test_holdout_validation_share_does_not_depend_on_block_size(block_rows, n_val):
    """ceil(0.15 * 40) = 6 validation rows in all, as train_test_split, not
    ceil(0.15 * rows) per block (20 or 40 with blocks of 2 or 1 rows)."""
    X = da.from_array(np.arange(80.0).reshape(40, 2), chunks=(block_rows, -1))
    y = da.from_array(np.arange(40.0), chunks=block_rows)
    runtime = LocalModels(1)
    try:
        layout = runtime.place(X, y, SplitSpec("holdout", test_size=0.15), seed=0, labels=False)
    finally:
        runtime.close()
    assert layout.sizes[:, 1].sum() == n_val
    assert layout.sizes.sum() == 40


def test_holdout_split_on_the_cluster_allocates_the_global_total(client):
    X = da.from_array(np.arange(60.0).reshape(30, 2), chunks=(2, -1))
    y = da.from_array(np.arange(30.0), chunks=2)
    runtime = DistributedModels(client)
    try:
        layout = runtime.place(X, y, SplitSpec("holdout", test_size=0.2), seed=0, labels=False)
    finally:
        runtime.close()
    assert layout.sizes[:, 1].tolist() == validation_rows(SplitSpec("holdout", test_size=0.2), [2] * 15)
    assert layout.sizes[:, 1].sum() == 6


def test_validation_rows_proportional_to_block_rows():
    spec = SplitSpec("holdout", test_size=0.25)
    assert validation_rows(spec, [40, 40, 20]) == [10, 10, 5]
    assert sum(validation_rows(spec, [3, 1, 1, 2])) == 2  # ceil(0.25 * 7)
    assert validation_rows(SplitSpec("kfold", n_folds=3), [4, 4]) == [None, None]


# ------------------------------------------------------ 5. scatter with retry
def test_models_scatter_again_when_a_worker_leaves_during_it(client, monkeypatch):
    real = client.scatter
    failures = []

    def flaky(*args, **kwargs):
        if len(failures) < 1:
            failures.append(1)
            raise OSError("worker left during the scatter")
        return real(*args, **kwargs)

    runtime = DistributedModels(client)
    try:
        monkeypatch.setattr(client, "scatter", flaky)
        runtime.share("scorer", {"a": 1})
        assert runtime._shared["scorer"].result() == {"a": 1}
        failures.clear()
        layout = runtime.place(np.zeros((20, 2)), np.zeros(20), SplitSpec(), seed=0, labels=False)
        assert layout.sizes.sum() == 20
        assert failures == [1]
    finally:
        runtime.close()


# ----------------------------------------------- 6. waits without any worker
def test_models_waits_give_up_when_the_cluster_has_no_worker(monkeypatch):
    from dask.distributed import Client, LocalCluster

    monkeypatch.setattr(_cluster, "POLL_SECONDS", 0.1)
    monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.5)
    X = da.from_array(np.zeros((20, 2)), chunks=(10, -1))
    y = da.from_array(np.zeros(20), chunks=10)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc, Client(lc) as c, \
            cf.ThreadPoolExecutor(1) as pool:
        runtime = DistributedModels(c)
        placing = pool.submit(runtime.place, X, y, SplitSpec(), 0, False)
        with pytest.raises(RuntimeError, match="no worker") as raised:  # not a hang (TimeoutError)
            placing.result(timeout=30)
        assert isinstance(raised.value, _cluster.WorkersLost)
        handle = _Handle(("m", 0), 0)
        handle.future = c.submit(sum, [1, 2])
        waiting = pool.submit(runtime.wait_any, [handle])
        with pytest.raises(RuntimeError, match="no worker"):
            waiting.result(timeout=30)
        runtime.close()


# ------------------------------------------------- 7. _reduce placement fixes
def _dask_xy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 3))
    return da.from_array(X, chunks=(100, -1)), da.from_array(X @ [1.0, 2.0, 3.0], chunks=100)


def _sum_xy(block):
    return float(block[0].sum() + block[1].sum())


def test_regroup_waits_for_a_worker_instead_of_failing(client, monkeypatch):
    X, y = _dask_xy()
    expected = float(X.sum().compute() + y.sum().compute())
    with _reduce.place_blocks(X, y) as blocks:
        assert isinstance(blocks, _reduce.DistributedBlocks)
        real = client.nthreads
        calls = []

        def nthreads_after_a_while():  # the cluster has no worker for two checks
            calls.append(1)
            return {} if len(calls) <= 2 else real()

        monkeypatch.setattr(_reduce, "POLL_SECONDS", 0.05)
        monkeypatch.setattr(blocks, "_locations", lambda futures: [[] for _ in futures])  # held nowhere
        monkeypatch.setattr(client, "nthreads", nthreads_after_a_while)
        blocks._regroup()
        assert len(calls) >= 3
        assert blocks.map_reduce(_sum_xy, combine=lambda a, b: a + b) == pytest.approx(expected)

        monkeypatch.setattr(client, "nthreads", lambda: {})
        monkeypatch.setattr(_cluster, "WORKER_TIMEOUT", 0.2)
        with pytest.raises(_reduce.WorkersLost, match="no worker"):
            blocks._regroup()


def test_distributed_blocks_wait_on_their_own_client(cluster):
    from dask.distributed import Client, default_client

    X, y = _dask_xy()
    expected = float(X.sum().compute() + y.sum().compute())
    with Client(cluster, set_as_default=False) as c:
        with pytest.raises(ValueError):
            default_client()  # not the default: waits must use c itself
        with _reduce.DistributedBlocks(c, X, y) as blocks:
            assert blocks.map_reduce(_sum_xy, combine=lambda a, b: a + b) == pytest.approx(expected)
            states, total = blocks.map_reduce_state(lambda b, s: ((s or 0) + 1, _sum_xy(b)), None,
                                                    combine=lambda a, b: a + b)
            assert states == [1] * blocks.n_blocks and total == pytest.approx(expected)


# ---------------------------------------------------------- 8. sample weights
def _weighted_problem():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 4))
    w = rng.uniform(0.1, 3.0, size=600)
    y = X @ [1.0, -2.0, 0.5, 0.0] + 1.0 + rng.normal(size=600)
    counts = rng.poisson(np.exp(0.3 + X @ [0.3, -0.2, 0.0, 0.1])).astype(float)
    return X, y, w, counts


def _weighted_cases():
    X, y, w, counts = _weighted_problem()
    labels = (y > 1).astype(int)
    tight = dict(tol=1e-12, max_iter=10_000)
    return [
        (LinearRegression(), sk.LinearRegression(), y, 1e-10),
        (LinearRegression(alpha=0.1), sk.Ridge(alpha=0.1 * w.sum()), y, 1e-10),
        (LinearRegression(alpha=0.05, l1_ratio=1.0, **tight), sk.Lasso(alpha=0.05, tol=1e-14, max_iter=100_000),
         y, 1e-8),
        (LogisticRegression(C=0.1, tol=1e-10, max_iter=1000), sk.LogisticRegression(C=0.1, **tight), labels, 1e-6),
        (PoissonRegression(alpha=0.05, tol=1e-10, max_iter=1000), sk.PoissonRegressor(alpha=0.05, **tight),
         counts, 1e-6),
    ]


@pytest.mark.parametrize("case", range(5))
def test_sample_weight_equals_scikit_learn(case):
    X, _, w, _ = _weighted_problem()
    ours, ref, target, rtol = _weighted_cases()[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, target, sample_weight=w)
    _assert_close_params(ours.fit(X, target, sample_weight=w), ref, rtol=rtol)
    unweighted = type(ours)(**ours.get_params()).fit(X, target)
    params = [np.append(m.coef_, m.intercept_) for m in (ours, unweighted)]
    assert not np.allclose(*params)  # the weights matter


def test_sample_weight_as_dask_blocks_on_the_cluster(client):
    X, y, w, _ = _weighted_problem()
    in_memory = LinearRegression(alpha=0.1).fit(X, y, sample_weight=w)
    Xd, yd = da.from_array(X, chunks=(150, -1)), da.from_array(y, chunks=150)
    wd = da.from_array(w, chunks=200)  # other chunks than X: cut like X where it lives
    on_cluster = LinearRegression(alpha=0.1).fit(Xd, yd, sample_weight=wd)
    _assert_close_params(on_cluster, in_memory, rtol=1e-12)
    repeated = np.repeat(np.arange(600), 2)
    doubled = LinearRegression(alpha=0.1).fit(X[repeated], y[repeated])  # weight 2 = each row twice
    twice = LinearRegression(alpha=0.1).fit(Xd, yd, sample_weight=da.full(600, 2.0, chunks=150))
    _assert_close_params(twice, doubled, rtol=1e-12)
    with pytest.raises(ValueError, match="non-negative"):
        LinearRegression().fit(Xd, yd, sample_weight=-wd)


def test_sample_weight_errors():
    X, y, w, _ = _weighted_problem()
    with pytest.raises(ValueError, match="does not support sample_weight"):
        LinearRegression(alpha=0.1, l1_ratio=1.0, solver="admm").fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="non-negative"):
        LinearRegression().fit(X, y, sample_weight=-w)
    with pytest.raises(ValueError, match="shape"):
        LinearRegression().fit(X, y, sample_weight=w[:10])
    with pytest.raises(ValueError, match="NaN|infinity"):
        LinearRegression().fit(X, y, sample_weight=np.full(600, np.nan))
    _assert_close_params(LinearRegression().fit(X, y, sample_weight=3.0), LinearRegression().fit(X, y), rtol=0)


def test_penalty_none_says_which_set_parameters_it_ignores():
    """As scikit-learn warns ("Setting penalty=None will ignore the C and
    l1_ratio parameters"); defaults are not reported."""
    import warnings

    from sklearn.datasets import make_classification

    from dasklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegression

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    with pytest.warns(UserWarning, match=r"C=0\.01 and l1_ratio=0\.5 are ignored"):
        LogisticRegression(penalty=None, C=0.01, l1_ratio=0.5, solver="newton").fit(X, y)
    with pytest.warns(UserWarning, match=r"alpha=5\.0 is ignored"):
        LinearRegression(penalty=None, alpha=5.0).fit(X, y)
    plain = LogisticRegression(penalty=None).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for est in (LogisticRegression(penalty=None), PoissonRegression(penalty=None),
                    LogisticRegression(C=0.01, l1_ratio=0.5, solver="newton")):
            est.fit(X, y + (isinstance(est, PoissonRegression)))
    ignored = LogisticRegression(penalty=None, C=0.01)
    with pytest.warns(UserWarning):
        ignored.fit(X, y)
    np.testing.assert_array_equal(ignored.coef_, plain.coef_)  # ignored indeed


# ------------------------------------- review of 2026-11-28 (a user of scikit-learn)
def _collinear_problem(seed):
    """1000 x 5 whose columns 3 and 4 are combinations of columns 0-2."""
    rng = np.random.RandomState(seed)
    X = rng.randn(1000, 3)
    X = np.c_[X, X[:, 0], 2 * X[:, 1] - X[:, 2]]
    return X, rng


@pytest.mark.parametrize("seed", [0, 1])
def test_newton_without_a_penalty_on_collinear_columns_gives_scikit_learns_least_norm_optimum(seed):
    """Newton's Cholesky step on a singular Hessian had an arbitrary part where
    the loss is flat: coefficients 0.92 (relative) from scikit-learn's, and
    changing with tol, without a word. scikit-learn's lbfgs, started at 0,
    stays in the row space and ends at the least-norm optimum."""
    X, rng = _collinear_problem(seed)
    Xd = da.from_array(X, chunks=250)
    y = (X[:, 0] + rng.randn(1000) > 0).astype(int)
    y3 = rng.randint(0, 3, 1000) + (X[:, 0] > 0)
    counts = rng.poisson(np.exp(0.3 * X[:, 0]))
    cases = [
        (LogisticRegression(C=np.inf, solver="newton", tol=1e-8), sk.LogisticRegression(C=np.inf), y),
        (LogisticRegression(C=np.inf, solver="newton", tol=1e-8), sk.LogisticRegression(C=np.inf), y3),
        (PoissonRegression(alpha=0, solver="newton", tol=1e-8), sk.PoissonRegressor(alpha=0), counts),
    ]
    for ours, ref, target in cases:
        ours.fit(Xd, target)
        ref.set_params(tol=1e-10, max_iter=10_000).fit(X, target)
        _assert_close_params(ours, ref, rtol=1e-6)


def test_class_weight_values_are_checked_as_sample_weight_is():
    """A negative weight gave coefficients of 1e159, NaN or inf all zeros
    with a misleading ConvergenceWarning, all-zero weights a bare
    ZeroDivisionError, a string weight was taken."""
    from dasklearn.exceptions import InvalidParameterError

    X, rng = _collinear_problem(0)
    Xd, y = da.from_array(X[:, :3], chunks=250), (X[:, 0] > 0).astype(int)
    for bad in ({0: -1.0}, {0: np.nan}, {0: np.inf}, {0: "2"}):
        with pytest.raises(InvalidParameterError, match="class_weight must be a dict of finite, non-negative"):
            LogisticRegression(class_weight=bad).fit(Xd, y)
    for nothing in ({0: 0.0, 1: 0.0}, {0: 0.0, 1: 0.0, 2: 1.0}):
        with pytest.raises(ValueError, match=r"gives every row of y .* the weight 0"):
            LogisticRegression(class_weight=nothing).fit(Xd, y)
    # as scikit-learn: an empty dict weighs nothing, a class left out weighs 1
    np.testing.assert_allclose(LogisticRegression(class_weight={}).fit(Xd, y).coef_,
                               LogisticRegression().fit(Xd, y).coef_, rtol=1e-10)
    LogisticRegression(class_weight={0: 0.0}).fit(Xd, y)
    w = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"class\(es\) \[1\] of y have total weight 0"):
        LogisticRegression(class_weight="balanced").fit(Xd, y, sample_weight=w)
    zero_for_one = LogisticRegression(class_weight={0: 0.0, 1: 1.0}).fit(Xd, y)  # still a fit
    assert np.isfinite(zero_for_one.coef_).all()


def test_feature_names_are_checked_before_the_fit_and_a_failed_refit_keeps_the_model():
    """Mixed-type column names were refused only after the whole solve, with
    the new coefficients already set: coef_ had 4 features, n_features_in_ 3,
    and predict then failed in a matrix product."""
    import dask.dataframe as dd

    X, rng = _collinear_problem(0)
    y = (X[:, 0] > 0).astype(int)
    three = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    model = LogisticRegression().fit(three, y)
    before = model.coef_.copy()
    mixed = pd.DataFrame(X[:, :4], columns=["a", 1, "c", "d"])
    for frame in (mixed, dd.from_pandas(mixed, npartitions=2)):
        with pytest.raises(TypeError, match="Feature names are only supported if all input features"):
            model.fit(frame, y)
        np.testing.assert_array_equal(model.coef_, before)
        assert model.n_features_in_ == 3
        np.testing.assert_array_equal(model.predict(three), LogisticRegression().fit(three, y).predict(three))


def test_multinomial_l1_on_collinear_columns_converges_in_a_few_iterations():
    """Proximal Newton (solver='auto' with l1) crawled along the directions
    the collinear columns leave flat: coordinate descent moved 4e-4 an
    iteration there, and the fit ran all its max_iter iterations (100: 220 s)
    and warned that it had not converged. Later it took 10 iterations, each
    model still crawled to coordinate descent's sweep cap; with steps on the
    support, 5. The result is checked against the optimality conditions of
    its objective (mean log-loss + |W| / (C n))."""
    from scipy.special import softmax
    from sklearn.datasets import make_classification

    X, y = make_classification(2000, 50, n_informative=20, n_redundant=10, n_classes=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning
        model = LogisticRegression(C=1.0, l1_ratio=1.0, solver="auto", max_iter=15).fit(
            da.from_array(X, chunks=500), da.from_array(y, chunks=500))
    assert model.n_iter_[0] <= 6
    P = softmax(X @ model.coef_.T + model.intercept_, axis=1)
    R = P - np.eye(4)[y]
    grad, l1 = R.T @ X / len(y), 1.0 / len(y)
    W = model.coef_
    prox = np.sign(W - grad) * np.maximum(np.abs(W - grad) - l1, 0.0)
    # (the solver stops at 1e-4 in these units: twice that for rounding)
    assert np.abs(W - prox).max() <= 2e-4 and np.abs(R.mean(axis=0)).max() <= 2e-4


def test_newton_step_is_cholesky_on_a_badly_scaled_hessian_and_least_norm_on_a_singular_one():
    """The singularity test compared the smallest pivot with the largest
    diagonal entry: a column of years beside one in thousandths was taken
    for collinear, and its direction dropped from every step."""
    from scipy.linalg import cho_solve, cho_factor

    from dasklearn.linear_model._solvers import _newton_direction

    rng = np.random.default_rng(0)
    A = np.c_[rng.normal(2000, 10, 500), 1e-3 * rng.normal(size=500), np.ones(500)]
    H, g = A.T @ A, A.T @ rng.normal(size=500)
    np.testing.assert_allclose(_newton_direction(H, g, None), -cho_solve(cho_factor(H), g), rtol=1e-8)
    A = np.c_[rng.normal(size=(500, 2)), np.ones(500)]
    B = np.c_[A, A[:, 1]]  # column 3 repeats column 1: singular
    H, g = B.T @ B, B.T @ rng.normal(size=500)
    d = _newton_direction(H, g, None)
    # the least-norm step splits the repeated column's share evenly
    reduced = -cho_solve(cho_factor(A.T @ A), g[:3])
    np.testing.assert_allclose(d, [reduced[0], reduced[1] / 2, reduced[2], reduced[1] / 2], rtol=1e-8)


@pytest.mark.parametrize("size", [1.0, 1e-8])
def test_least_l1_along_flat_directions_is_the_median_shift_of_a_multinomial_model(size):
    """Adding one number to a feature's coefficient in every class leaves a
    multinomial loss unchanged: the l1 term is least at the shift by the
    median of that feature's coefficients. At any scale of the coefficients
    (HiGHS's tolerances are absolute)."""
    from dasklearn.linear_model._solvers import _least_l1_along_flat_directions

    rng = np.random.default_rng(0)
    K, p = 5, 3
    W = size * rng.normal(size=(K, p))  # classes x features, then the intercepts
    x = np.concatenate([W.ravel(), np.zeros(K)])
    X = np.c_[rng.normal(size=(200, p)), np.ones(200)]
    # the multinomial Hessian's flat directions: each column's common shift over the classes
    P = np.full((200, K), 1.0 / K)
    H = np.zeros((K * (p + 1), K * (p + 1)))
    for a in range(K):
        for b in range(K):
            weight = P[:, a] * ((a == b) - P[:, b])
            block = (X * weight[:, None]).T @ X / 200
            ia = [a * p + j for j in range(p)] + [K * p + a]
            ib = [b * p + j for j in range(p)] + [K * p + b]
            H[np.ix_(ia, ib)] = block
    l1 = np.concatenate([np.full(K * p, 0.01), np.zeros(K)])
    intercept_shift = np.concatenate([np.zeros(K * p), np.ones(K) / np.sqrt(K)])[:, None]
    moved, flat = _least_l1_along_flat_directions(x, H, l1, intercept_shift)
    assert flat
    expected = W - np.median(W, axis=0)
    np.testing.assert_allclose(moved[:K * p].reshape(K, p), expected, atol=1e-9 * size)
    np.testing.assert_allclose(moved[K * p:], 0.0, atol=1e-9 * size)
