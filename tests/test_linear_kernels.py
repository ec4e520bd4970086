"""Block kernels of the linear models, on plain NumPy arrays (no cluster)."""

from __future__ import annotations

import numpy as np
import pytest

from dasklearn._kernels.linear import (
    LinearSpec,
    add,
    admm_block_step,
    combine_summaries,
    evaluate_block,
    linear_predictor,
    mean_response,
    prepare_block,
    summarize_block,
)

CASES = [("squared", 1), ("logistic", 1), ("poisson", 1), ("multinomial", 3)]


def _block(loss, n_outputs, n=60, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if loss == "squared":
        y = rng.normal(size=n)
    elif loss == "logistic":
        y = rng.integers(0, 2, size=n).astype(float)
    elif loss == "poisson":
        y = rng.poisson(1.5, size=n).astype(float)
    else:
        y = rng.integers(0, n_outputs, size=n)
    return X, y


def _params(spec, seed=1):
    return 0.3 * np.random.default_rng(seed).normal(size=spec.n_params)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss,n_outputs", CASES)
def test_gradient_and_hessian_match_finite_differences(loss, n_outputs, fit_intercept):
    block = _block(loss, n_outputs)
    spec = LinearSpec(loss, block[0].shape[1], fit_intercept, n_outputs)
    w = _params(spec)
    value, grad, hess = evaluate_block(block, w, spec, order=2)
    eps = 1e-6
    num_grad = np.empty_like(w)
    num_hess = np.empty((len(w), len(w)))
    for j in range(len(w)):
        e = np.zeros_like(w)
        e[j] = eps
        num_grad[j] = (evaluate_block(block, w + e, spec, 0)[0]
                       - evaluate_block(block, w - e, spec, 0)[0]) / (2 * eps)
        num_hess[:, j] = (evaluate_block(block, w + e, spec, 1)[1]
                          - evaluate_block(block, w - e, spec, 1)[1]) / (2 * eps)
    np.testing.assert_allclose(grad, num_grad, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hess, num_hess, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hess, hess.T)
    # lower orders return the same numbers
    assert evaluate_block(block, w, spec, 0)[0] == pytest.approx(value)
    np.testing.assert_allclose(evaluate_block(block, w, spec, 1)[1], grad)


@pytest.mark.parametrize("loss,n_outputs", CASES)
def test_loss_values_are_the_documented_sums(loss, n_outputs):
    X, y = _block(loss, n_outputs)
    spec = LinearSpec(loss, X.shape[1], True, n_outputs)
    w = _params(spec)
    eta = linear_predictor(X, w, spec)
    if loss == "squared":
        expected = 0.5 * np.sum((eta - y) ** 2)
    elif loss == "logistic":
        expected = np.sum(np.log1p(np.exp(eta)) - y * eta)
    elif loss == "poisson":
        expected = np.sum(np.exp(eta) - y * eta)
    else:
        expected = np.sum(np.log(np.exp(eta).sum(axis=1)) - eta[np.arange(len(y)), y])
    assert evaluate_block((X, y), w, spec, 0)[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("loss,n_outputs", CASES)
def test_blocks_add_up_to_the_whole(loss, n_outputs):
    X, y = _block(loss, n_outputs, n=101)
    spec = LinearSpec(loss, X.shape[1], True, n_outputs)
    w = _params(spec)
    whole = evaluate_block((X, y), w, spec, 2)
    edges = [0, 7, 40, 41, 101]
    parts = [evaluate_block((X[a:b], y[a:b]), w, spec, 2) for a, b in zip(edges[:-1], edges[1:])]
    total = parts[0]
    for p in parts[1:]:
        total = add(total, p)
    assert total[0] == pytest.approx(whole[0], rel=1e-12)
    np.testing.assert_allclose(total[1], whole[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(total[2], whole[2], rtol=1e-10, atol=1e-12)


def test_logistic_loss_is_stable_for_large_predictors():
    X = np.array([[1.0], [1.0], [-1.0]])
    y = np.array([1.0, 0.0, 1.0])
    spec = LinearSpec("logistic", 1, False)
    value, grad = evaluate_block((X, y), np.array([800.0]), spec, 1)
    # rows 2 and 3 each cost ~800; row 1 costs ~0
    assert value == pytest.approx(1600.0)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(mean_response(np.array([-800.0, 0.0, 800.0]), "logistic"), [0, 0.5, 1])


def test_spec_layout_and_validation():
    spec = LinearSpec("multinomial", 2, True, 3)
    w = np.arange(9.0)
    coef, intercept = spec.unpack(w)
    np.testing.assert_array_equal(coef, [[0, 1], [3, 4], [6, 7]])
    np.testing.assert_array_equal(intercept, [2, 5, 8])
    np.testing.assert_array_equal(spec.intercept_mask(), [0, 0, 1] * 3)
    assert LinearSpec("squared", 2, False).intercept_mask().sum() == 0
    with pytest.raises(ValueError, match="loss must be one of"):
        LinearSpec("hinge", 2, True)
    with pytest.raises(ValueError, match="n_outputs"):
        LinearSpec("logistic", 2, True, 3)


def test_prepare_block_encodes_targets_without_copying_X():
    X = np.ones((4, 2))
    y = np.array(["b", "a", "c", "b"])
    Xp, yp = prepare_block((X, y), "multinomial", np.array(["a", "b", "c"]))
    assert Xp is X
    np.testing.assert_array_equal(yp, [1, 0, 2, 1])
    _, yb = prepare_block((X, np.array([3, 5, 5, 3])), "logistic", np.array([3, 5]))
    np.testing.assert_array_equal(yb, [0.0, 1.0, 1.0, 0.0])
    Xf, yf = prepare_block((X.astype(np.float32), np.array([1, 2, 3, 4])), "poisson")
    assert Xf.dtype == np.float64 and yf.dtype == np.float64


def test_summaries_combine():
    a = summarize_block((np.ones((3, 2)), np.array([1, 2, 2])), True)
    b = summarize_block((np.array([[np.nan, 1.0]]), np.array([7])), True)
    s = combine_summaries(a, b)
    assert s["n"] == 4 and not s["X_finite"] and s["y_finite"]
    assert (s["y_min"], s["y_max"], s["y_sum"]) == (1.0, 7.0, 12.0)
    np.testing.assert_array_equal(s["classes"], [1, 2, 7])
    r = summarize_block((np.ones((2, 1)), np.array([0.5, np.inf])), False)
    assert r["classes"] is None and not r["y_finite"]


@pytest.mark.parametrize("loss,n_outputs", CASES)
def test_admm_block_step_solves_the_local_problem(loss, n_outputs):
    block = prepare_block(_block(loss, n_outputs), loss, np.arange(n_outputs) if n_outputs > 1 else
                          np.array([0.0, 1.0]))
    spec = LinearSpec(loss, block[0].shape[1], True, n_outputs)
    z = _params(spec, seed=2)
    rho, scale = 0.7, 200.0
    state, partial = admm_block_step(block, None, z, rho, 1.0, spec, scale, 1e-12)
    x, u, _ = state
    np.testing.assert_array_equal(u, 0.0)  # first round: no dual yet
    # x minimises loss_sum / scale + rho / 2 ||x - z + u||^2: its gradient is zero
    g = evaluate_block(block, x, spec, 1)[1] / scale + rho * (x - z + u)
    assert np.abs(g).max() < 1e-9
    np.testing.assert_allclose(partial[0], x + u)
    assert partial[1] == 0.0  # x_old == z in the first round
    # second round: residual of the previous x, dual update, rescaling
    z2 = z + 0.1
    state2, partial2 = admm_block_step(block, state, z2, rho, 0.5, spec, scale, 1e-12)
    assert partial2[1] == pytest.approx(float((x - z2) @ (x - z2)))
    np.testing.assert_allclose(state2[1], 0.5 * (x - z2))


@pytest.mark.parametrize("loss,n_outputs", CASES)
def test_cache_sized_chunks_give_the_same_sums(loss, n_outputs, monkeypatch):
    from dasklearn._kernels import linear

    X, y = _block(loss, n_outputs, n=1000)
    spec = LinearSpec(loss, X.shape[1], True, n_outputs)
    w = _params(spec)
    whole = evaluate_block((X, y), w, spec, 2)
    monkeypatch.setattr(linear, "CHUNK_BYTES", 8 * 4 * 300)  # ~300 rows (at least 256) per chunk
    chunked = evaluate_block((X, y), w, spec, 2)
    assert chunked[0] == pytest.approx(whole[0], rel=1e-12)
    np.testing.assert_allclose(chunked[1], whole[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(chunked[2], whole[2], rtol=1e-10, atol=1e-12)
    # orders 0 and 1 (buffers reused by the chunks; the last one is shorter)
    value, grad = evaluate_block((X, y), w, spec, 1)
    assert value == pytest.approx(whole[0], rel=1e-12)
    assert evaluate_block((X, y), w, spec, 0)[0] == pytest.approx(whole[0], rel=1e-12)
    np.testing.assert_allclose(grad, whole[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("loss", ["squared", "logistic", "poisson"])
def test_one_output_path_equals_the_general_path(loss, fit_intercept):
    """Orders 0 and 1 of one-output losses run in reused buffers; they give
    the numbers of the general (per-row arrays) path, also for predictors
    far in the tails."""
    from dasklearn._kernels.linear import _evaluate_rows

    X, y = _block(loss, 1, n=300, d=3)
    spec = LinearSpec(loss, 3, fit_intercept)
    scales = [0.3, 30.0, 300.0] if loss == "logistic" else [0.3]  # |eta| up to ~2000
    for scale in scales:
        w = scale * _params(spec)
        with np.errstate(over="ignore"):
            expected = _evaluate_rows(X, y, w, spec, 1)
        value, grad = evaluate_block((X, y), w, spec, 1)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        assert value == pytest.approx(expected[0], rel=1e-12)
        np.testing.assert_allclose(grad, expected[1], rtol=1e-10, atol=1e-10 * np.abs(expected[1]).max())
        assert evaluate_block((X, y), w, spec, 0)[0] == value
