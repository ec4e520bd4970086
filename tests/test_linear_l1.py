"""l1 and elastic-net fits where the loss is flat in some directions
(collinear columns): only the l1 term picks the optimum there. solver='auto'
(proximal Newton; LinearRegression's default, while lbfgs, the others',
refuses l1) reaches it at the default tol; the
first-order solvers never claim convergence away from it."""

import warnings

import dask.array as da
import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

from dasklearn.linear_model import LinearRegression, LogisticRegression
from dasklearn.linear_model import _solvers


def _collinear(n=2000, n_classes=2):
    X, y = make_classification(n_samples=n, n_features=10, n_informative=3, n_redundant=2,
                               n_classes=n_classes, random_state=0)
    return X, y


def _optimum(X, y, C, l1_ratio):
    import sklearn

    # scikit-learn before 1.8 reads l1_ratio only with penalty="elasticnet"
    # (1.8 deprecates penalty: l1_ratio alone says it)
    old = tuple(int(v) for v in sklearn.__version__.split(".")[:2]) < (1, 8)
    kw = {"penalty": "elasticnet"} if old else {}
    return sk.LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=200_000,
                                 **kw).fit(X, y)


def _relerr(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def test_proximal_newton_solves_a_lasso_with_a_duplicated_column():
    """Plain NumPy callbacks: the quadratic of a Lasso whose column 3 is
    column 0 + column 1 (the Hessian is singular) against scikit-learn's Lasso."""
    X, y = make_regression(n_samples=500, n_features=6, n_informative=4, random_state=0)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    n, alpha = len(y), 2.0

    def evaluate(x, order):
        r = X @ x - y
        out = (0.5 * float(r @ r) / n, X.T @ r / n, X.T @ X / n)
        return out[:order + 1]

    res = _solvers.proximal_newton(evaluate, np.zeros(X.shape[1]), l1=np.full(X.shape[1], alpha), tol=1e-10)
    ref = sk.Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y)
    assert res.converged
    np.testing.assert_allclose(res.x, ref.coef_, rtol=0, atol=1e-8 * np.abs(ref.coef_).max())
    assert res.n_iter <= 10  # a quadratic: each model step is exact up to its inner tolerance


def test_coordinate_descent_meets_the_optimality_conditions_of_its_quadratic():
    """The inner solver alone, on a Lasso quadratic (H given column-major, as
    a transpose is) with an unpenalised coordinate and one whose column is
    zero (left out of ``active``: it keeps its value). Its gradient is
    updated in place coordinate by coordinate; here it is computed afresh
    from the result, and the conditions of the l1 optimum checked on it."""
    X, y = make_regression(n_samples=300, n_features=8, n_informative=5, random_state=1)
    X[:, 5] = 0.0
    n = len(y)
    H, b = np.asfortranarray(X.T @ X / n), -X.T @ y / n
    l1 = np.full(8, 3.0)
    l1[2] = 0.0
    z = np.zeros(8)
    z[5] = 0.7
    out = _solvers._coordinate_descent(H, b, l1, z, np.flatnonzero(np.diag(H) > 0), tol=1e-12,
                                       max_sweeps=10_000)
    assert out is z and z[5] == 0.7
    g, scale = H @ z + b, np.abs(b).max()
    on, off = (z != 0) & (np.diag(H) > 0), z == 0
    assert off.sum() >= 2  # the penalty zeroes some coordinates: the test checks both conditions
    np.testing.assert_allclose(g[on] + l1[on] * np.sign(z[on]), 0.0, atol=1e-10 * scale)
    assert np.all(np.abs(g[off]) <= l1[off] + 1e-10 * scale)


def test_coordinate_descent_on_a_nearly_collinear_pair_steps_to_the_optimum():
    """Two columns equal up to 1e-3 noise: coordinate descent moves the
    weight from one to the other by a sliver a sweep (after 200 sweeps its
    residual was 2e-3, the weight still on the wrong column). The step on
    its support reaches scikit-learn's Lasso optimum within those sweeps."""
    X, y = make_regression(n_samples=300, n_features=6, n_informative=6, random_state=2)
    X[:, 1] = X[:, 0] + 1e-3 * np.random.default_rng(0).normal(size=300)
    n, alpha = len(y), 0.5
    H, b, z = X.T @ X / n, -X.T @ y / n, np.zeros(6)
    _solvers._coordinate_descent(H, b, np.full(6, alpha), z, np.arange(6), tol=1e-10, max_sweeps=200)
    ref = sk.Lasso(alpha=alpha, fit_intercept=False, tol=1e-15, max_iter=10**6).fit(X, y).coef_
    assert ref[0] == 0.0 and ref[1] > 50  # the optimum puts the pair's weight on column 1
    np.testing.assert_allclose(z, ref, rtol=0, atol=1e-8 * np.abs(ref).max())


def test_support_step_slides_along_a_flat_direction_to_the_l1_optimum():
    """Column 5 is column 0 + column 1: the loss does not change along
    v = (1, 1, 0, 0, 0, -1, 0), and 3 v from the Lasso optimum only the l1
    term is higher (by 3 alpha). One step slides back along v, to where
    column 1's coefficient reaches 0: the optimum."""
    X, y = make_regression(n_samples=300, n_features=5, n_informative=5, random_state=3)
    X = np.column_stack([X, X[:, 0] + X[:, 1], X[:, 2] - X[:, 3]])
    n, alpha = len(y), 1.0
    H, b, l1 = X.T @ X / n, -X.T @ y / n, np.full(7, alpha)
    ref = sk.Lasso(alpha=alpha, fit_intercept=False, tol=1e-15, max_iter=10**6).fit(X, y).coef_
    v = np.array([1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0])
    assert ref[1] == 0.0 and ref[0] > 3 and ref[5] > 3  # 3 v keeps every sign but column 1's
    z = ref + 3 * v
    assert _solvers._support_step(H, b, l1, z, np.arange(7))
    np.testing.assert_allclose(z, ref, rtol=0, atol=1e-9 * np.abs(ref).max())


def test_coordinate_descent_reaches_the_optimum_of_random_collinear_quadratics():
    """100 random quadratics (fewer rows than columns for some, a column that
    is a sum of two others for half, a duplicated column for some, columns
    scaled by 1e-3 to 1e3, many coordinates unpenalised) within 300 sweeps,
    against an independent solver: L-BFGS-B on the split variables
    z = p - n, p, n >= 0. Before the support steps, 54 of them ended over
    1e-7 (relative) above it; with steps that took any decrease within the
    rounding of a gradient far from the origin, 3 ran off (to 6e8, 6e16 and
    5e17)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(8)
    for _ in range(100):
        p = int(rng.integers(2, 25))
        A = rng.normal(size=(int(rng.integers(1, p + 3)), p)) * rng.choice([1.0, 0.1, 10.0, 1e-3, 1e3], size=p)
        if rng.random() < 0.5:
            A[:, -1] = A[:, 0] + A[:, 1] if p > 2 else A[:, 0]
        if rng.random() < 0.3 and p > 3:
            A[:, -2] = A[:, 2]
        H = A.T @ A / len(A) + (1e-3 * np.eye(p) if rng.random() < 0.3 else 0.0)
        l1 = rng.choice([0.0, 0.1, 1.0], size=p, p=[0.4, 0.3, 0.3])
        b = H @ rng.normal(size=p)  # in H's range: bounded below, whichever coordinates are free
        z0 = rng.normal(size=p) * (rng.random(size=p) < 0.5)
        z = _solvers._coordinate_descent(H, b, l1, z0.copy(), np.flatnonzero(np.diag(H) > 0), tol=1e-10,
                                         max_sweeps=300)

        def objective(x):
            return 0.5 * x @ H @ x + b @ x + l1 @ np.abs(x)

        def split(v):
            x = v[:p] - v[p:]
            g = H @ x + b
            return 0.5 * x @ H @ x + b @ x + l1 @ (v[:p] + v[p:]), np.concatenate([g + l1, l1 - g])

        ref = minimize(split, np.concatenate([np.maximum(z0, 0), np.maximum(-z0, 0)]), jac=True,
                       method="L-BFGS-B", bounds=[(0, None)] * (2 * p),
                       options={"maxiter": 20_000, "ftol": 1e-15, "gtol": 1e-12}).x
        assert np.abs(z).max() < 1e8  # (the optimum here is within 1e6; far beyond, objective() is rounding)
        # (below it is fine: L-BFGS-B itself stops short on some, by up to 1e-6)
        assert objective(z) - objective(ref[:p] - ref[p:]) <= 1e-7 * max(1.0, abs(objective(z)))


@pytest.mark.parametrize("n_classes, l1_ratio, C", [(2, 1.0, 1.0), (2, 0.5, 0.1), (3, 1.0, 1.0)])
def test_default_solver_finds_the_l1_optimum_at_the_default_tol(n_classes, l1_ratio, C):
    X, y = _collinear(n_classes=n_classes)
    ref = _optimum(X, y, C, l1_ratio)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="auto").fit(
            da.from_array(X, chunks=500), da.from_array(y, chunks=500))
    assert _relerr(ours.coef_, ref.coef_) < 1e-3
    np.testing.assert_array_equal(ours.coef_ != 0, ref.coef_ != 0)  # the same features kept
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_newton_with_l1_equals_scikit_learn_at_a_tight_tol(n_classes):
    X, y = _collinear(n_classes=n_classes)
    ref = _optimum(X, y, 1.0, 1.0)
    ours = LogisticRegression(C=1.0, l1_ratio=1.0, solver="newton", tol=1e-10, max_iter=200).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)


def test_elastic_net_regression_with_a_collinear_column_equals_scikit_learn():
    X, y = make_regression(n_samples=3000, n_features=10, n_informative=4, random_state=0)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])
    ref = sk.ElasticNet(alpha=0.5, l1_ratio=0.7, tol=1e-14, max_iter=100_000).fit(X, y)
    ours = LinearRegression(alpha=0.5, l1_ratio=0.7, tol=1e-10).fit(da.from_array(X, chunks=1000),
                                                                    da.from_array(y, chunks=1000))
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


@pytest.mark.parametrize("solver", ["proximal_grad", "admm"])
def test_first_order_solvers_do_not_claim_convergence_away_from_the_optimum(solver):
    """They stopped at 30% off the optimum, converged, before the residual's
    bound became relative to the (small) l1 weight: now they warn or are close."""
    X, y = _collinear()
    ref = _optimum(X, y, 1.0, 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = LogisticRegression(C=1.0, l1_ratio=1.0, solver=solver).fit(X, y)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned or _relerr(ours.coef_, ref.coef_) < 1e-2
    converged = LogisticRegression(C=1.0, l1_ratio=1.0, solver=solver, max_iter=3000).fit(X, y)
    assert _relerr(converged.coef_, ref.coef_) < 1e-2


def test_auto_without_l1_is_lbfgs_or_least_squares():
    est = LogisticRegression(l1_ratio=1.0, solver="auto")
    assert est._resolved_solver(0.0, 10) == "lbfgs"
    assert LinearRegression()._resolved_solver(0.0, 10) == "newton"


def test_proximal_newton_converges_with_a_column_on_a_large_scale():
    """The inner solve stopped on its coordinates' changes, tiny for a column
    of scale 1e3 (change = gradient / H_jj): the model was left unsolved and
    the fit ran to max_iter. It now stops on the model's own residual."""
    rng = np.random.RandomState(1)
    X0 = rng.randn(600, 4)
    y = (X0[:, 0] > 0.5).astype(int) + (X0[:, 0] > -0.5)
    X = np.column_stack([X0, 1e3 * rng.randn(600)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LogisticRegression(l1_ratio=1.0, solver="auto").fit(da.from_array(X, chunks=150),
                                                                     da.from_array(y, chunks=150))
    assert model.n_iter_[0] <= 20


def test_auto_counts_parameters_not_features():
    """A multinomial model's Hessian has a side of classes x (features + 1)."""
    est = LogisticRegression(l1_ratio=1.0, solver="auto")
    assert est._resolved_solver(1.0, 256) == "newton"
    assert est._resolved_solver(1.0, 257) == "proximal_grad"
    X, y = make_classification(n_samples=400, n_features=30, n_informative=10, n_classes=10,
                               n_clusters_per_class=1, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogisticRegression(C=0.1, l1_ratio=1.0, solver="auto", max_iter=1).fit(X, y)
    # 10 x 31 = 310 parameters: proximal_grad (named in the convergence warning)
    assert any("solver='proximal_grad'" in str(w.message) for w in caught)


def test_penalty_none_warning_copes_with_subclasses_that_fix_the_strength():
    class FixedC(LogisticRegression):
        def __init__(self, penalty=None, *, max_iter=100):
            super().__init__(penalty=penalty, max_iter=max_iter)

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FixedC().fit(X, y)
        LogisticRegression(penalty=None, C=np.inf).fit(X, y)  # C=inf is no penalty too: nothing ignored


def _year_column(offset, n=2_000, seed=0):
    """Standard features, then the first one moved to ``offset`` (a column of
    years, of amounts: a mean large against its spread)."""
    rng = np.random.RandomState(seed)
    Z = rng.normal(size=(n, 3))
    X = Z.copy()
    X[:, 0] = offset + 5 * Z[:, 0]
    return X, Z @ [1.0, -2.0, 0.5], rng


@pytest.mark.parametrize("offset", [2010.0, 1e5])
def test_l1_on_uncentred_features_is_exact_and_quick(offset):
    """The intercept is unpenalised, so a column's offset must not matter:
    proximal Newton solves its model with the intercept eliminated (it
    crawled, ~11 s and max_iter, and ended 19% off scikit-learn's Lasso)."""
    from dasklearn.linear_model import PoissonRegression

    X, eta, rng = _year_column(offset)
    Xc = X - X.mean(axis=0)
    y_lin = eta + 3 + 0.1 * rng.normal(size=len(X))
    cases = [
        (LinearRegression(alpha=0.01, l1_ratio=1.0), y_lin),
        (LogisticRegression(C=0.05, l1_ratio=1.0, solver="auto"), (eta + rng.normal(size=len(X)) > 0).astype(int)),
        (PoissonRegression(alpha=0.01, l1_ratio=1.0, solver="auto"), rng.poisson(np.exp(0.3 * eta))),
    ]
    # multinomial: several intercepts, whose shifts are flat (a singular block)
    classes = np.digitize(eta + 0.5 * rng.normal(size=len(X)), [-1.0, 1.0])
    cases.append((LogisticRegression(C=0.05, l1_ratio=1.0, solver="auto"), classes))
    for est, y in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            raw = est.fit(X, y)
            coef, n_iter = raw.coef_.ravel().copy(), np.max(raw.n_iter_)
            centred = est.fit(Xc, y).coef_.ravel()
        assert n_iter <= 20, type(est).__name__  # (it crawled to max_iter=100)
        np.testing.assert_allclose(coef, centred, rtol=0, atol=1e-4 * np.abs(centred).max(),
                                   err_msg=type(est).__name__)
    lasso = sk.Lasso(alpha=0.01, tol=1e-12, max_iter=100_000).fit(X, y_lin)
    ours = LinearRegression(alpha=0.01, l1_ratio=1.0, tol=1e-8).fit(X, y_lin)
    np.testing.assert_allclose(ours.coef_, lasso.coef_, rtol=0, atol=1e-6 * np.abs(lasso.coef_).max())


def test_lbfgs_stalled_by_an_overflow_warns():
    """A Poisson model on a column of years: lbfgs's first step overflows,
    its line search falls back to the start and scipy reports success at
    an intercept-only model. That is not converged: a ConvergenceWarning
    says so (as the same fit with newton finds the optimum)."""
    from dasklearn.linear_model import PoissonRegression

    X, eta, rng = _year_column(2010.0)
    y = rng.poisson(np.exp(0.3 * eta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow itself
        with pytest.warns(ConvergenceWarning, match="gradient's max-norm"):
            PoissonRegression(alpha=0.01).fit(X, y)
    newton = PoissonRegression(alpha=0.01, solver="newton").fit(X, y)
    assert np.abs(newton.coef_).max() > 0.1  # the optimum is not intercept-only
