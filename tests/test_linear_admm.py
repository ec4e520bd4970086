"""ADMM reports convergence only at an optimum of the whole objective.

Boyd et al.'s primal / dual residual test does not bound the distance to the
optimum: ``solver='admm'`` used to stop on it far from scikit-learn's
coefficients without a ConvergenceWarning.  It now checks, when that test
passes, the proximal-gradient residual of the whole objective (the stopping
rule of ``proximal_grad``) and goes on with tighter residual tolerances until
it holds, or warns.
"""

from __future__ import annotations

import functools
import warnings

import dask.array as da
import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes, load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning

from dasklearn.linear_model import LinearRegression, LogisticRegression, _solvers
from test_linear_model import assert_same_model


# ------------------------------------------------- solver, NumPy callbacks
def _consensus_problem(n_blocks=4, k=1, seed=0, n_params=6):
    """``f = sum_i f_i`` with quadratic block shares ``f_i(x) = (Cx)'H_i(Cx)/2
    - b_i'Cx`` (``C`` centres the rows of a ``(k, m)`` ``x``: the identity
    for ``k=1``, a shift-invariant loss for ``k > 1``); returns the
    ``consensus`` and ``evaluate`` callbacks of ``f + sum(l2 * x**2) / 2``."""
    rng = np.random.default_rng(seed)
    P = n_params
    m = P // k
    C = np.eye(P) - (np.kron(np.ones((k, k)), np.eye(m)) / k if k > 1 else 0)
    Hs, bs = [], []
    for _ in range(n_blocks):
        A = rng.normal(size=(3 * P, P))
        Hs.append(C @ (A.T @ A / (3 * P * n_blocks)) @ C)
        bs.append(C @ rng.normal(size=P) / n_blocks)
    H, b = sum(Hs), sum(bs)
    state = {}

    def consensus(z, rho, rescale):
        sums = [np.zeros(P), 0.0, 0.0, 0.0]
        for i, (Hi, bi) in enumerate(zip(Hs, bs)):
            xi, ui = state.get(i, (z.copy(), np.zeros(P)))
            sums[1] += (xi - z) @ (xi - z)
            sums[2] += xi @ xi
            ui = (ui + xi - z) * rescale
            xi = np.linalg.solve(Hi + rho * np.eye(P), bi + rho * (z - ui))
            state[i] = (xi, ui)
            sums[0] += xi + ui
            sums[3] += ui @ ui
        return tuple(sums)

    def make_evaluate(l2):
        def evaluate(x, order):
            return 0.5 * x @ H @ x - b @ x + 0.5 * l2 @ x ** 2, H @ x - b + l2 * x
        return evaluate

    return consensus, make_evaluate


def _optimality(evaluate, x, l1):
    return np.abs(_solvers._prox_residual(x, evaluate(x, 1)[1], l1)).max()


def _recording(evaluate):
    calls = []

    def recorded(x, order):
        calls.append(np.array(x, copy=True))
        return evaluate(x, order)

    return recorded, calls


@pytest.mark.parametrize("with_l1", [True, False])
def test_admm_goes_on_until_the_whole_objective_is_optimal(with_l1):
    consensus, make_evaluate = _consensus_problem()
    l1 = np.array([0.05] * 5 + [0.0]) if with_l1 else None
    l2 = np.array([0.01] * 5 + [0.0])
    evaluate = make_evaluate(l2)
    recorded, calls = _recording(evaluate)
    tol = 1e-4
    res = _solvers.admm(consensus, np.zeros(6), evaluate=recorded, n_blocks=4, l1=l1, l2=l2, tol=tol,
                        max_iter=1000)
    assert res.converged and res.message == ""
    assert _optimality(evaluate, res.x, l1) <= tol
    # the first check came where Boyd's residual test passed, which is where
    # ADMM used to stop: not optimal there
    assert _optimality(evaluate, calls[0], l1) > 2 * tol
    # one evaluation per check, a few checks in all; the last one is the result
    assert 2 <= len(calls) <= 5
    np.testing.assert_array_equal(calls[-1], res.x)
    ref = _solvers.proximal_grad(evaluate, np.zeros(6), l1=l1, tol=1e-12, max_iter=5000)
    assert ref.converged
    np.testing.assert_allclose(res.x, ref.x, atol=1e-3)


def test_admm_shift_invariant_checks_the_point_it_returns():
    """Multinomial-like: the loss sees only the row-centred parameters, the
    l1 / l2 penalty all of them (no penalty on the last, intercept column)."""
    k, m = 3, 3
    consensus, make_evaluate = _consensus_problem(k=k, n_params=k * m, seed=1)
    l1 = np.tile([0.02, 0.02, 0.0], k)
    l2 = np.tile([0.01, 0.01, 0.0], k)
    evaluate = make_evaluate(l2)
    tol = 1e-5
    res = _solvers.admm(consensus, np.zeros(k * m), evaluate=evaluate, n_blocks=4, l1=l1, l2=l2, tol=tol,
                        max_iter=2000, shift_invariant=k)
    assert res.converged
    assert _optimality(evaluate, res.x, l1) <= tol
    ref = _solvers.proximal_grad(evaluate, np.zeros(k * m), l1=l1, tol=1e-12, max_iter=20000)
    assert ref.converged

    def F(x):
        return evaluate(x, 0)[0] + l1 @ np.abs(x)

    assert F(res.x) <= F(ref.x) + 1e-8
    # the penalised columns are unique; the intercepts up to a shift
    Z, R = res.x.reshape(k, m), ref.x.reshape(k, m)
    np.testing.assert_allclose(Z[:, :2], R[:, :2], atol=1e-3)
    np.testing.assert_allclose(Z[:, 2] - Z[:, 2].mean(), R[:, 2] - R[:, 2].mean(), atol=1e-3)


def test_admm_max_iter_reached_is_not_converged():
    consensus, make_evaluate = _consensus_problem()
    l2 = np.full(6, 0.01)
    evaluate = make_evaluate(l2)
    recorded, calls = _recording(evaluate)
    res = _solvers.admm(consensus, np.zeros(6), evaluate=recorded, n_blocks=4, l2=l2, tol=1e-10, max_iter=5)
    assert not res.converged and res.n_iter == 5
    assert "max_iter reached" in res.message and "optimality residual" in res.message
    assert len(calls) == 1  # the final check only
    assert _optimality(evaluate, res.x, None) > 1e-10


def test_admm_max_iter_zero_returns_x0():
    def never(*args):
        raise AssertionError("no round and no evaluation with max_iter=0")

    x0 = np.array([0.5, -1.0, 2.0])
    res = _solvers.admm(never, x0, evaluate=never, n_blocks=2, l1=np.full(3, 0.1), max_iter=0)
    assert not res.converged and res.n_iter == 0 and res.message
    np.testing.assert_array_equal(res.x, x0)
    assert res.x is not x0


# --------------------------------------- estimators, the reviewer's cases
@functools.lru_cache(maxsize=None)
def _case_data(name):
    if name == "make_classification":
        return make_classification(n_samples=600, n_features=5, n_informative=3, n_classes=3, random_state=0)
    if name == "iris_std":
        X, y = load_iris(return_X_y=True)
        return (X - X.mean(axis=0)) / X.std(axis=0), y
    if name == "iris":
        return load_iris(return_X_y=True)
    X, y = load_diabetes(return_X_y=True)
    return X * 20, y


# name -> data, rows per block, the estimator with the reviewer's parameters
CASES = {
    "make_classification_4_blocks": ("make_classification", 150, lambda **kw: LogisticRegression(solver="admm", **kw)),
    "iris_1_block": ("iris", 150, lambda **kw: LogisticRegression(solver="admm", **{"max_iter": 1000, **kw})),
    "iris_3_blocks": ("iris", 50, lambda **kw: LogisticRegression(solver="admm", **kw)),
    "iris_std_3_blocks": ("iris_std", 50, lambda **kw: LogisticRegression(solver="admm", **kw)),
    "lasso_4_blocks": ("diabetes", 111, lambda **kw: LinearRegression(alpha=0.5, l1_ratio=1.0, solver="admm", **kw)),
}


def _fit(case, **kw):
    data, rows, make = CASES[case]
    X, y = _case_data(data)
    Xd, yd = da.from_array(X, chunks=(rows, -1)), da.from_array(y, chunks=rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make(**kw).fit(Xd, yd)
    warned = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(warned) <= 1
    return model, bool(warned)


@functools.lru_cache(maxsize=None)
def _reference(case):
    data, _, _ = CASES[case]
    X, y = _case_data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if data == "diabetes":
            return sk.Lasso(alpha=0.5, tol=1e-14, max_iter=1_000_000).fit(X, y)
        return sk.LogisticRegression(C=1.0, solver="newton-cg", tol=1e-12, max_iter=1000).fit(X, y)


def _optimality_of_fit(case, model):
    """The proximal-gradient residual of scikit-learn's objective (scaled as
    the solvers see it: divided by ``C * n_samples``, resp. as Lasso's) at the
    fitted coefficients, computed here independently of dasklearn."""
    data, _, _ = CASES[case]
    X, y = _case_data(data)
    n = len(y)
    if data == "diabetes":
        r = X @ model.coef_ + model.intercept_ - y
        g = np.append(X.T @ r / n, r.mean())
        x = np.append(model.coef_, model.intercept_)
        l1 = np.append(np.full(X.shape[1], 0.5), 0.0)
        return np.abs(x - _solvers.soft_threshold(x - g, l1)).max()
    W, b = model.coef_, model.intercept_
    Z = X @ W.T + b
    Z -= Z.max(axis=1, keepdims=True)
    p = np.exp(Z)
    p /= p.sum(axis=1, keepdims=True)
    R = (p - np.eye(W.shape[0])[y]) / n
    return np.abs(np.column_stack([R.T @ X + W / n, R.sum(axis=0)])).max()


@pytest.mark.parametrize("case", ["make_classification_4_blocks", "iris_1_block", "iris_3_blocks",
                                  "lasso_4_blocks"])
def test_admm_with_default_tol_is_optimal_or_warns(case):
    """The reviewer's fits: converged (no warning) exactly when scikit-learn's
    objective is optimal to ``tol`` at the result, the rule of proximal_grad."""
    model, warned = _fit(case)
    assert warned != (_optimality_of_fit(case, model) <= 1e-4)


# a tol at which optimality implies coefficients within 1e-4 of the optimum
# (relative to the largest; the default 1e-4 does not for these data, for
# any solver), and a max_iter enough to get there (None: more than a test
# affords -- raw iris in 3 blocks takes about 5000 rounds)
TIGHT = {
    "make_classification_4_blocks": (1e-6, 3000),
    "iris_1_block": (1e-7, 3000),
    "iris_3_blocks": (1e-7, None),
    "iris_std_3_blocks": (1e-7, 3000),
    "lasso_4_blocks": (1e-6, 3000),
}


SHORT = 60  # rounds: not enough for any of these


@pytest.mark.parametrize("case,max_iter", [(case, max_iter) for case, (_, enough) in TIGHT.items()
                                           for max_iter in (SHORT, enough) if max_iter is not None])
def test_admm_matches_scikit_learn_or_warns(case, max_iter):
    model, warned = _fit(case, tol=TIGHT[case][0], max_iter=max_iter)
    try:
        assert_same_model(model, _reference(case))
        matches = True
    except AssertionError:
        matches = False
    assert warned != matches
    if max_iter != SHORT:  # enough: converges and matches
        assert not warned and model.n_iter_ < max_iter


def test_admm_convergence_warning_names_the_optimality_residual():
    X, y = _case_data("iris")
    with pytest.warns(ConvergenceWarning, match="optimality residual"):
        LogisticRegression(solver="admm").fit(da.from_array(X, chunks=(50, -1)), da.from_array(y, chunks=50))


@pytest.mark.parametrize("make", [
    lambda solver: LogisticRegression(solver=solver, max_iter=0),
    lambda solver: LinearRegression(alpha=0.5, l1_ratio=1.0, solver=solver, max_iter=0),
])
def test_admm_max_iter_zero_returns_the_initial_point_like_the_other_solvers(make):
    X, y = _case_data("make_classification")
    Xd, yd = da.from_array(X, chunks=(150, -1)), da.from_array(y, chunks=150)
    with pytest.warns(ConvergenceWarning):
        admm = make("admm").fit(Xd, yd)
    with pytest.warns(ConvergenceWarning):
        other = make("proximal_grad").fit(Xd, yd)
    np.testing.assert_array_equal(admm.coef_, other.coef_)
    np.testing.assert_array_equal(admm.intercept_, other.intercept_)
    assert not np.any(admm.coef_)
    assert np.all(np.asarray(admm.n_iter_) == 0)


def test_admm_on_cluster_is_optimal_or_warns_and_converges(client):
    case = "make_classification_4_blocks"
    model, warned = _fit(case)
    assert warned != (_optimality_of_fit(case, model) <= 1e-4)
    tol, max_iter = TIGHT[case]
    model, warned = _fit(case, tol=tol, max_iter=max_iter)
    assert not warned
    assert_same_model(model, _reference(case))
