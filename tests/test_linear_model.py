"""dasklearn.linear_model: parity with scikit-learn on a real cluster, the
pure solvers and runtime policies, prediction, errors, data locality."""

from __future__ import annotations

import functools
import warnings

import dask.array as da
import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from dasklearn._runtime._reduce import assign_groups, reduction_levels
from dasklearn.linear_model import LinearRegression, LogisticRegression, PoissonRegression
from dasklearn.linear_model import _solvers

ALL_SOLVERS = ["lbfgs", "newton", "gradient_descent", "proximal_grad", "admm"]
NONSMOOTH_SOLVERS = ["proximal_grad", "admm"]
TIGHT = dict(tol=1e-8, max_iter=2000)
CHUNKS = 100  # 4 blocks on the 2 workers
C_TEST = 0.1  # LogisticRegression's C in the parity tests


# ------------------------------------------------------------------- data
def _standardise(X):
    return (X - X.mean(axis=0)) / X.std(axis=0)


@functools.lru_cache(maxsize=None)
def _data(problem):
    if problem == "binary":
        X, y = make_classification(400, 5, n_informative=3, n_redundant=0, random_state=0)
    elif problem == "multinomial":
        X, y = make_classification(400, 5, n_informative=4, n_redundant=0, n_classes=3,
                                   n_clusters_per_class=1, flip_y=0.1, random_state=1)
    elif problem == "linear":
        X, y = make_regression(400, 5, n_informative=4, noise=5.0, bias=3.0, random_state=2)
        y = y / y.std()
    else:  # poisson
        rng = np.random.default_rng(3)
        X = rng.normal(size=(400, 5))
        y = rng.poisson(np.exp(0.3 + X @ np.array([0.4, -0.3, 0.0, 0.2, 0.1]))).astype(float)
    return _standardise(X), y


def _dask(problem):
    X, y = _data(problem)
    return da.from_array(X, chunks=(CHUNKS, -1)), da.from_array(y, chunks=CHUNKS)


def _params_of(m):
    return np.column_stack([np.atleast_2d(m.coef_), np.atleast_1d(m.intercept_)]).ravel()


def assert_same_model(ours, ref, rtol=1e-4):
    """Coefficients and intercepts equal to ``rtol`` relative to their largest magnitude."""
    a, b = _params_of(ours), _params_of(ref)
    assert np.abs(a - b).max() <= rtol * np.abs(b).max(), (a, b)


def _split_l1_reference(problem, l1, l2):
    """Independent reference for l1 / elastic-net objectives scikit-learn has
    no estimator for (Poisson): L-BFGS-B on the split ``w = p - q, p, q >= 0``."""
    from scipy.optimize import minimize

    X, y = _data(problem)
    n, d = X.shape

    def fun(v):
        p, q, b = v[:d], v[d:2 * d], v[-1]
        w = p - q
        eta = X @ w + b
        mu = np.exp(eta)
        r = mu - y
        f = np.mean(mu - y * eta) + l1 * (p.sum() + q.sum()) + 0.5 * l2 * w @ w
        gw = X.T @ r / n + l2 * w
        return f, np.concatenate([gw + l1, -gw + l1, [r.mean()]])

    v0 = np.zeros(2 * d + 1)
    res = minimize(fun, v0, jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * d) + [(None, None)],
                   options={"gtol": 1e-13, "ftol": 0, "maxiter": 20000, "maxcor": 30})

    class Ref:
        coef_ = res.x[:d] - res.x[d:2 * d]
        intercept_ = res.x[-1]

    return Ref


@functools.lru_cache(maxsize=None)
def _reference(problem, penalty):
    X, y = _data(problem)
    n = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if problem in ("binary", "multinomial"):
            l1_ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5, None: 0.0}[penalty]
            C = np.inf if penalty is None else C_TEST
            solver = "saga" if l1_ratio > 0 else "lbfgs"
            # before 1.8, scikit-learn reads l1_ratio only with penalty="elasticnet"
            old_api = sk.LogisticRegression().penalty != "deprecated"
            kw = {"penalty": "elasticnet"} if old_api and l1_ratio > 0 else {}
            return sk.LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-12,
                                         max_iter=100_000, **kw).fit(X, y)
        if problem == "linear":
            alpha = 0.05
            if penalty is None:
                return sk.LinearRegression().fit(X, y)
            if penalty == "l2":
                return sk.Ridge(alpha=alpha * n).fit(X, y)
            if penalty == "l1":
                return sk.Lasso(alpha=alpha, tol=1e-14, max_iter=100_000).fit(X, y)
            return sk.ElasticNet(alpha=alpha, l1_ratio=0.5, tol=1e-14, max_iter=100_000).fit(X, y)
        alpha = 0.05
        if penalty in (None, "l2"):
            return sk.PoissonRegressor(alpha=0.0 if penalty is None else alpha, tol=1e-12,
                                       max_iter=10_000).fit(X, y)
        l1_ratio = 1.0 if penalty == "l1" else 0.5
        return _split_l1_reference(problem, alpha * l1_ratio, alpha * (1 - l1_ratio))


def _ours(problem, penalty, solver):
    # ADMM converges linearly, slowly at the end: its tol=1e-7 gives ~1e-5
    kw = dict(solver=solver, **TIGHT) if solver != "admm" else dict(solver=solver, tol=1e-7, max_iter=2000)
    l1_ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": 0.5, None: 0.0}[penalty]
    if problem in ("binary", "multinomial"):
        return LogisticRegression(C=np.inf if penalty is None else C_TEST, l1_ratio=l1_ratio, **kw)
    if problem == "linear":
        return LinearRegression(alpha=0.0 if penalty is None else 0.05, l1_ratio=l1_ratio, **kw)
    return PoissonRegression(alpha=0.0 if penalty is None else 0.05, l1_ratio=l1_ratio, **kw)


PARITY = [
    (problem, penalty, solver)
    for problem in ["binary", "multinomial", "linear", "poisson"]
    for penalty, solvers in [("l2", ALL_SOLVERS), ("l1", NONSMOOTH_SOLVERS), ("elasticnet", NONSMOOTH_SOLVERS)]
    for solver in solvers
]


# ------------------------------------------------------ parity on the cluster
@pytest.mark.parametrize("problem,penalty,solver", PARITY)
def test_coefficients_equal_scikit_learn_on_cluster(client, problem, penalty, solver):
    X, y = _dask(problem)
    ours = _ours(problem, penalty, solver).fit(X, y)
    ref = _reference(problem, penalty)
    assert_same_model(ours, ref)
    if problem in ("binary", "multinomial"):
        np.testing.assert_array_equal(ours.classes_, ref.classes_)
        assert ours.coef_.shape == ref.coef_.shape and ours.intercept_.shape == ref.intercept_.shape
    else:
        assert ours.coef_.shape == (5,) and isinstance(ours.intercept_, float)


@pytest.mark.parametrize("problem,solver", [("linear", "lbfgs"), ("linear", "newton"), ("linear", "admm"),
                                            ("binary", "lbfgs"), ("multinomial", "newton"),
                                            ("poisson", "lbfgs")])
def test_unpenalised_equals_scikit_learn_on_cluster(client, problem, solver):
    X, y = _dask(problem)
    ours = _ours(problem, None, solver).fit(X, y)
    assert_same_model(ours, _reference(problem, None))


def test_default_tolerance_matches_scikit_learn_lbfgs():
    """Same objective scaling and stopping rule as scikit-learn's lbfgs: with
    default tol and max_iter the iterates (and so the result) agree too."""
    X, y = _data("binary")
    ours = LogisticRegression().fit(X, y)
    ref = sk.LogisticRegression().fit(X, y)
    assert_same_model(ours, ref, rtol=1e-6)
    assert abs(int(ours.n_iter_[0]) - int(ref.n_iter_[0])) <= 1


def test_fit_without_client_and_on_numpy_equals_cluster_fit():
    X, y = _dask("multinomial")
    local = LogisticRegression(C=C_TEST, **TIGHT).fit(X, y)  # dask input, local threads
    in_memory = LogisticRegression(C=C_TEST, **TIGHT).fit(*_data("multinomial"))
    assert_same_model(local, _reference("multinomial", "l2"))
    assert_same_model(in_memory, _reference("multinomial", "l2"))


# ---------------------------------------------------------- prediction
def test_predictions_are_blockwise_dask_arrays(client):
    X, y = _dask("multinomial")
    Xn, yn = _data("multinomial")
    clf = LogisticRegression(C=C_TEST, **TIGHT).fit(X, y)
    ref = _reference("multinomial", "l2")
    for method in ["predict", "predict_proba", "predict_log_proba", "decision_function"]:
        out = getattr(clf, method)(X)
        assert isinstance(out, da.Array)
        assert out.chunks[0] == X.chunks[0]
        np.testing.assert_allclose(out.compute(), getattr(ref, method)(Xn), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(getattr(clf, method)(Xn), out.compute())  # numpy in, numpy out
    assert clf.score(X, y) == pytest.approx(ref.score(Xn, yn))

    Xb, yb = _dask("binary")
    binary = LogisticRegression(**TIGHT).fit(Xb, yb)
    assert binary.decision_function(Xb).compute().shape == (400,)
    assert binary.predict_proba(Xb).compute().shape == (400, 2)

    Xp, yp = _dask("poisson")
    pois = PoissonRegression(alpha=0.05, **TIGHT).fit(Xp, yp)
    pref = _reference("poisson", "l2")
    np.testing.assert_allclose(pois.predict(Xp).compute(), pref.predict(_data("poisson")[0]), rtol=1e-4)
    assert pois.score(Xp, yp) == pytest.approx(pref.score(*_data("poisson")), rel=1e-6)

    Xl, yl = _dask("linear")
    lin = LinearRegression(**TIGHT).fit(Xl, yl)
    assert isinstance(lin.predict(Xl), da.Array)
    assert lin.score(Xl, yl) == pytest.approx(_reference("linear", None).score(*_data("linear")), rel=1e-6)


def test_fitted_attributes_like_scikit_learn():
    X, y = _data("binary")
    clf = LogisticRegression(fit_intercept=False).fit(X, y)
    assert clf.coef_.shape == (1, 5)
    np.testing.assert_array_equal(clf.intercept_, [0.0])
    assert clf.n_iter_.shape == (1,) and clf.n_features_in_ == 5
    reg = LinearRegression(solver="newton").fit(*_data("linear"))
    assert isinstance(reg.n_iter_, int) and reg.n_iter_ <= 2  # least squares: one Newton step
    labels = np.array(["cat", "dog", "emu"])[_data("multinomial")[1]]
    clf = LogisticRegression().fit(_data("multinomial")[0], labels)
    assert set(clf.predict(_data("multinomial")[0])) <= set(labels)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("est,match", [
    (LogisticRegression(l1_ratio=1.0), "supports penalties None and 'l2' only"),
    (LinearRegression(alpha=1.0, l1_ratio=0.5, solver="lbfgs"), "solver='auto' .*'newton', 'proximal_grad' or 'admm'"),
    (PoissonRegression(penalty="l1", solver="gradient_descent"), "supports penalties None"),
    (LogisticRegression(solver="sag"), "solver must be one of"),
    (LogisticRegression(C=0), "C must be a float > 0"),
    (LinearRegression(alpha=-1), "alpha must be a finite float >= 0"),
    (LogisticRegression(l1_ratio=2), r"l1_ratio must be a float in \[0, 1\]"),
    (LogisticRegression(penalty="l2", l1_ratio=0.5), "disagree"),
    (LogisticRegression(max_iter=-1), "max_iter must be an int >= 0"),
    (LogisticRegression(tol="small"), "tol must be a finite float >= 0"),
    (LogisticRegression(penalty="ridge"), "penalty must be one of"),
])
def test_invalid_parameters_raise_before_any_work(est, match):
    class Exploding:
        """Any attempt to use the data would fail differently."""

    with pytest.raises(ValueError, match=match):
        est.fit(Exploding(), Exploding())


def test_invalid_data_raises_clear_errors():
    X, y = _dask("poisson")
    with pytest.raises(ValueError, match="same number of rows"):
        LinearRegression().fit(X, y[:-1])
    with pytest.raises(ValueError, match="2-dimensional"):
        LinearRegression().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="1-dimensional"):
        LinearRegression().fit(X, X)
    with pytest.raises(ValueError, match="non-negative"):
        PoissonRegression().fit(X, y - 10)
    with pytest.raises(ValueError, match="NaN or infinity"):
        LinearRegression().fit(da.where(X > 2, np.nan, X), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, da.zeros_like(y))
    with pytest.raises(ValueError, match="class labels"):
        LogisticRegression().fit(X, y + 0.5)
    with pytest.raises(ValueError, match="unknown"):
        LinearRegression().fit(X[X[:, 0] > 0], y[X[:, 0] > 0])
    fitted = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="expecting 5 features"):
        fitted.predict(np.ones((2, 3)))


def test_not_converged_warns():
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        LogisticRegression(solver="gradient_descent", max_iter=2, tol=1e-12).fit(*_data("binary"))


# ------------------------------------------------------------- locality
def test_per_iteration_work_runs_where_the_blocks_live(client):
    """Blocks never move: after placement only parameter-sized messages are
    exchanged between workers, whatever the number of iterations."""
    from dasklearn.datasets import make_classification as dl_make_classification

    X, y = dl_make_classification(n_samples=20_000, n_features=20, n_informative=5,
                                  chunks=2_500, random_state=0)
    X, y = client.persist([X, y])
    client.wait_for_workers(2)
    from distributed import wait

    wait([X, y])

    def transfer_log(dask_worker):
        return [(sorted(map(str, t["keys"])), t["total"]) for t in dask_worker.transfer_incoming_log]

    before = client.run(transfer_log)
    clf = LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    clf2 = LogisticRegression(solver="admm", tol=1e-6).fit(X, y)
    after = client.run(transfer_log)
    moved = [t for w in after for t in after[w][len(before[w]):]]
    assert clf.n_iter_[0] >= 3 and clf2.n_iter_[0] >= 3
    block_bytes = 2_500 * 20 * 8
    assert all(total < block_bytes / 10 for _, total in moved), moved
    # per iteration, at most a few parameter-sized messages
    assert sum(total for _, total in moved) < X.nbytes / 20


def test_evaluations_call_the_workers_directly_with_the_task_results(client):
    """Once a placement's evaluators (one dask actor per group, holding its
    blocks) are ready, maps call them instead of submitting tasks: the same
    numbers, bit for bit.  A failed call falls back to tasks."""
    from distributed import wait

    from dasklearn._kernels.linear import LinearSpec, evaluate_block, prepare_block
    from dasklearn._runtime import _reduce

    X, y = _dask("binary")
    spec = LinearSpec("logistic", 5, True)
    w = np.linspace(-0.5, 0.5, spec.n_params)
    with _reduce.place_blocks(X, y) as blocks:
        blocks.transform(prepare_block, "logistic", np.array([0, 1]))
        by_tasks = blocks._map_tasks(evaluate_block, (w, spec, 1), None, None)
        wait(blocks._evaluators)
        direct = blocks._map_direct(evaluate_block, (w, spec, 1), None, None)
        assert direct is not None and blocks._actors is not None
        for (a_on, a), (b_on, b) in zip(by_tasks, direct):
            assert a_on == b_on
            for (va, ga), (vb, gb) in zip(a, b):
                assert va == vb
                np.testing.assert_array_equal(ga, gb)
        # a call that fails (here: the kernel raises) drops the evaluators and
        # returns None; the task path then raises the kernel's own error
        assert blocks._map_direct(evaluate_block, ("not params", spec, 1), None, None) is None
        assert blocks._evaluators is None
        with pytest.raises(ValueError):
            blocks.map_blocks(evaluate_block, "not params", spec, 1)


def test_worker_with_two_threads_runs_its_groups_in_parallel_with_the_same_bits():
    """A worker with two threads holds two groups: its one evaluator (dask
    runs all actor calls of a worker on one thread) runs them on two
    threads; the fit equals the fit without a Client, bit for bit."""
    from dask.distributed import Client, LocalCluster

    from dasklearn._runtime import _reduce

    X, y = _dask("multinomial")
    local = LogisticRegression(C=C_TEST, **TIGHT).fit(X, y)
    seen = {"direct": 0}
    direct = _reduce.DistributedBlocks._map_direct

    def counted(self, *args):
        out = direct(self, *args)
        if out is not None:
            assert len(self._evaluators) == 1 and len(self._evaluator_groups[0][1]) == 2
            seen["direct"] += 1
        return out

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as lc, \
            Client(lc), pytest.MonkeyPatch.context() as mp:
        mp.setattr(_reduce.DistributedBlocks, "_map_direct", counted)
        remote = LogisticRegression(C=C_TEST, **TIGHT).fit(X, y)
    assert seen["direct"] > 3
    np.testing.assert_array_equal(remote.coef_, local.coef_)
    np.testing.assert_array_equal(remote.intercept_, local.intercept_)


def test_tree_reduction_and_scattered_parameters_on_cluster(client, monkeypatch):
    """Force the paths the small test data never needs: partial results added
    on the workers before the gather, and parameters scattered, not inlined."""
    from dasklearn._runtime import _reduce, _reduce_policies

    monkeypatch.setattr(_reduce_policies, "GATHER_BYTES", 0)  # always one level of worker-side additions
    monkeypatch.setattr(_reduce, "INLINE_BYTES", 0)  # every array argument is scattered
    X, y = _dask("multinomial")
    assert_same_model(LogisticRegression(C=C_TEST, solver="newton", **TIGHT).fit(X, y),
                      _reference("multinomial", "l2"))
    Xb, yb = _dask("binary")
    assert_same_model(LogisticRegression(C=C_TEST, l1_ratio=1.0, solver="admm", tol=1e-7, max_iter=2000).fit(Xb, yb),
                      _reference("binary", "l1"))


def test_dask_dataframe_input():
    import dask.dataframe as dd

    X, y = _dask("linear")
    frame = dd.from_dask_array(X, columns=[f"f{i}" for i in range(5)])
    target = dd.from_dask_array(y)
    reg = LinearRegression(alpha=0.05, l1_ratio=1.0, solver="proximal_grad", **TIGHT).fit(frame, target)
    assert_same_model(reg, _reference("linear", "l1"))
    assert reg.predict(frame).compute().shape == (400,)


# ------------------------------------------------------ runtime policies
def test_assign_groups_one_group_per_thread_holding_blocks():
    locations = [["a"], ["b"], ["a"], ["a", "b"], ["a"]]
    groups = assign_groups(locations, {"a": 2, "b": 1})
    assert sorted(i for _, idx in groups for i in idx) == [0, 1, 2, 3, 4]
    by_worker = {}
    for address, idx in groups:
        by_worker.setdefault(address, []).append(idx)
        assert all(address in locations[i] for i in idx)
    assert len(by_worker["a"]) == 2 and len(by_worker["b"]) == 1
    assert [3] in by_worker["b"] or 3 in by_worker["b"][0]  # the shared block balances b
    with pytest.raises(ValueError, match="held by no worker"):
        assign_groups([[]], {})


def test_reduction_levels():
    assert reduction_levels(1, 10**9) == 0
    assert reduction_levels(8, 400) == 0  # few, small partials: gather them
    assert reduction_levels(1000, 400) == 0  # many small ones too (one message per task)
    assert reduction_levels(4, 10 << 20) == 1  # big (Hessian) partials: add on workers first
    assert reduction_levels(100, 1 << 20) == 2  # 100 MB -> 13 x 1 MB -> 2 x 1 MB
    assert reduction_levels(64, 1 << 20, split_every=2) == 3  # 64 -> 32 -> 16 -> 8 MB
    with pytest.raises(ValueError):
        reduction_levels(4, 8, split_every=1)


# ----------------------------------------------------- solvers, no cluster
def _quadratic(n=6, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, n))
    H = A @ A.T / n + np.eye(n)
    b = rng.normal(size=n)

    def evaluate(x, order):
        out = [0.5 * x @ H @ x - b @ x]
        if order >= 1:
            out.append(H @ x - b)
        if order >= 2:
            out.append(H)
        return tuple(out)

    return evaluate, np.linalg.solve(H, b), H, b


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "gradient_descent", "proximal_grad"])
def test_smooth_solvers_on_a_quadratic(solver):
    evaluate, x_star, _, _ = _quadratic()
    res = getattr(_solvers, solver)(evaluate, np.zeros(6), tol=1e-10, max_iter=500)
    assert res.converged
    # L-BFGS-B also stops when f stalls (ftol = 64 eps, as scikit-learn)
    np.testing.assert_allclose(res.x, x_star, rtol=1e-6 if solver == "lbfgs" else 1e-8, atol=1e-9)


def test_proximal_grad_and_admm_solve_a_lasso():
    evaluate, _, H, b = _quadratic()
    l1 = np.full(6, 0.3)
    res = _solvers.proximal_grad(evaluate, np.zeros(6), l1=l1, tol=1e-12, max_iter=2000)
    x = res.x
    g = H @ x - b
    # optimality: g = -l1 * sign(x) where x != 0, |g| <= l1 where x == 0
    nz = x != 0
    np.testing.assert_allclose(g[nz], -l1[nz] * np.sign(x[nz]), atol=1e-9)
    assert np.all(np.abs(g[~nz]) <= l1[~nz] + 1e-9)

    # ADMM with two "blocks" each holding half of the quadratic
    state = {}

    def consensus(z, rho, rescale):
        sums = [np.zeros(6), 0.0, 0.0, 0.0]
        for i in range(2):
            xi, ui = state.get(i, (z.copy(), np.zeros(6)))
            sums[1] += (xi - z) @ (xi - z)
            sums[2] += xi @ xi
            ui = (ui + xi - z) * rescale
            xi = np.linalg.solve(H / 2 + rho * np.eye(6), b / 2 + rho * (z - ui))
            state[i] = (xi, ui)
            sums[0] += xi + ui
            sums[3] += ui @ ui
        return tuple(sums)

    admm = _solvers.admm(consensus, np.zeros(6), evaluate=evaluate, n_blocks=2, l1=l1, tol=1e-10,
                         max_iter=2000)
    assert admm.converged
    np.testing.assert_allclose(admm.x, x, atol=1e-7)


def test_shift_invariant_prox_minimises_its_objective():
    from scipy.optimize import minimize

    rng = np.random.default_rng(0)
    k, m = 3, 4
    v = rng.normal(size=(k, m))
    v = (v - v.mean(axis=0)).ravel()
    l1, l2, kappa = np.tile([0.3, 0.5, 0.0, 0.2], k), np.tile([0.1, 0.0, 0.0, 0.3], k), 1.3

    def objective(z):
        Z = z.reshape(k, m)
        return l1 @ np.abs(z) + 0.5 * l2 @ z ** 2 + kappa / 2 * np.sum(((Z - Z.mean(0)).ravel() - v) ** 2)

    z = _solvers.shift_invariant_prox(v, l1, l2, kappa, k)
    best = minimize(objective, z + 0.01, method="Powell", options=dict(xtol=1e-12, ftol=1e-14))
    assert objective(z) <= best.fun + 1e-10


def test_poisson_get_deviance_is_the_summed_deviance_on_numpy_and_dask_input(client):
    """dask-ml's PoissonRegression has get_deviance (its docstring's example
    calls it): ours is the Poisson deviance summed over the rows, i.e. the
    rows' total weight times scikit-learn's mean_poisson_deviance, the same
    on numpy and (blockwise, on the cluster) dask input; negative counts are
    refused as scikit-learn refuses them."""
    from sklearn.metrics import mean_poisson_deviance

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1, 0.0] + 0.5)).astype(float)
    w = rng.uniform(0.5, 2.0, 300)
    model = PoissonRegression(alpha=0.01).fit(X, y)
    mu = model.predict(X)
    expected = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - y + mu)
    assert model.get_deviance(X, y) == pytest.approx(expected, rel=1e-12)
    assert model.get_deviance(X, y) == pytest.approx(300 * mean_poisson_deviance(y, mu), rel=1e-12)
    weighted = model.get_deviance(X, y, sample_weight=w)
    assert weighted == pytest.approx(w.sum() * mean_poisson_deviance(y, mu, sample_weight=w), rel=1e-12)
    Xd, yd, wd = (da.from_array(a, chunks=CHUNKS) for a in (X, y, w))
    on_dask = model.get_deviance(Xd, yd)
    assert isinstance(on_dask, float)
    assert on_dask == pytest.approx(expected, rel=1e-12)
    assert model.get_deviance(Xd, yd, sample_weight=wd) == pytest.approx(weighted, rel=1e-12)
    with pytest.raises(ValueError, match="non-negative y"):
        model.get_deviance(X, y - 5)
