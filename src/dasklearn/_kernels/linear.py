"""Per-block loss, gradient and Hessian of generalised linear models.

A *block* is a pair ``(X, y)`` of rows: ``X`` a C-contiguous float64 array of
shape ``(n, d)`` and ``y`` the encoded targets (float64 values, 0/1 labels
for ``"logistic"``, class indices for ``"multinomial"``; see
:func:`prepare_block`).  Every function returns **sums over the rows of the
block**, never means, so that the results of the blocks of a data set add up
to the result on the whole data set (see :func:`add`).

Losses (``eta`` is the linear predictor ``X @ coef + intercept``):

============= ===================================== ==========================
loss          per-row loss                          matches
============= ===================================== ==========================
squared       ``(eta - y) ** 2 / 2``                 least squares, Ridge, Lasso
logistic      ``log(1 + exp(eta)) - y * eta``        binary LogisticRegression
multinomial   ``logsumexp(eta) - eta[y]``            multinomial (softmax)
poisson       ``exp(eta) - y * eta``                 PoissonRegressor (log link)
============= ===================================== ==========================

Parameter layout: a flat float64 vector, the rows of a ``(n_outputs, d + 1)``
matrix ``[coef | intercept]`` (without the last column when there is no
intercept).  ``n_outputs`` is the number of classes for ``"multinomial"`` and
1 otherwise.  The intercept is a parameter like the others here; that it is
not penalised is the solver's business.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOSSES = ("squared", "logistic", "multinomial", "poisson")


@dataclass(frozen=True)
class LinearSpec:
    """What a parameter vector means: loss, number of features, intercept.

    Parameters
    ----------
    loss : {"squared", "logistic", "multinomial", "poisson"}
        The per-row loss.
    n_features : int
        Number of columns of ``X``.
    fit_intercept : bool
        Whether the last parameter of each output is an intercept.
    n_outputs : int, default=1
        Number of linear predictors: the number of classes for
        ``"multinomial"``, 1 for the other losses.
    """

    loss: str
    n_features: int
    fit_intercept: bool
    n_outputs: int = 1

    def __post_init__(self):
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}.")
        if (self.loss == "multinomial") != (self.n_outputs > 1):
            raise ValueError(
                "n_outputs must be > 1 exactly for the multinomial loss, got "
                f"loss={self.loss!r} with n_outputs={self.n_outputs}."
            )

    @property
    def n_columns(self) -> int:
        """Parameters per output: ``n_features`` (+ 1 with an intercept)."""
        return self.n_features + int(self.fit_intercept)

    @property
    def n_params(self) -> int:
        """Length of the flat parameter vector."""
        return self.n_outputs * self.n_columns

    def unpack(self, params):
        """``(coef, intercept)`` of shapes ``(n_outputs, d)`` and ``(n_outputs,)``."""
        P = np.asarray(params, dtype=np.float64).reshape(self.n_outputs, self.n_columns)
        coef = P[:, : self.n_features]
        intercept = P[:, self.n_features] if self.fit_intercept else np.zeros(self.n_outputs)
        return coef, intercept

    def intercept_mask(self):
        """Boolean vector, True at the intercept parameters."""
        mask = np.zeros((self.n_outputs, self.n_columns), dtype=bool)
        if self.fit_intercept:
            mask[:, -1] = True
        return mask.ravel()


# ------------------------------------------------------------ linear predictor
def linear_predictor(X, params, spec: LinearSpec):
    """``X @ coef.T + intercept``: shape ``(n,)``, or ``(n, n_outputs)`` for multinomial."""
    coef, intercept = spec.unpack(params)
    if spec.n_outputs == 1:
        eta = X @ coef[0]
        if spec.fit_intercept:
            eta += intercept[0]
        return eta
    eta = X @ coef.T
    if spec.fit_intercept:
        eta += intercept
    return eta


def mean_response(eta, loss: str):
    """The mean of y given the linear predictor (inverse link)."""
    if loss == "squared":
        return eta
    if loss == "poisson":
        return np.exp(eta)
    if loss == "logistic":
        return _sigmoid(eta)
    return _softmax(eta)


def _sigmoid(eta):
    e = np.exp(-np.abs(eta))
    return np.where(eta >= 0, 1.0, e) / (1.0 + e)


def _softmax(eta):
    e = np.exp(eta - eta.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


# -------------------------------------------------------- pointwise losses
def _pointwise(loss: str, y, eta, order: int, w=None):
    """(sum of the row losses, first derivative per row, second-order weights).

    The first derivative is w.r.t. ``eta`` (shape of ``eta``).  The second
    item is the per-row second derivative, except for ``"multinomial"`` where
    it is the matrix of probabilities from which the Hessian is assembled.
    Only what ``order`` asks for is computed (0: loss, 1: + derivative,
    2: + second order).

    With row weights ``w``, the first item is the weighted sum
    ``w @ row_losses``; the derivatives are returned unweighted (the callers
    fold ``w`` into the gradient and the Hessian).
    """
    d1 = d2 = None
    if loss == "squared":
        r = eta - y
        value = 0.5 * float(r @ r) if w is None else float(w @ (0.5 * r ** 2))
        d1, d2 = r, (np.ones_like(r) if order >= 2 else None)
    elif loss == "logistic":
        e = np.exp(-np.abs(eta))
        if w is None:
            value = float(np.maximum(eta, 0.0).sum() + np.log1p(e).sum() - y @ eta)
        else:
            value = float(w @ (np.maximum(eta, 0.0) + np.log1p(e) - y * eta))
        if order >= 1:
            p = np.where(eta >= 0, 1.0, e) / (1.0 + e)
            d1 = p - y
            d2 = p * (1.0 - p) if order >= 2 else None
    elif loss == "poisson":
        mu = np.exp(eta)
        value = float(mu.sum() - y @ eta) if w is None else float(w @ (mu - y * eta))
        d1, d2 = mu - y, (mu if order >= 2 else None)
    elif loss == "multinomial":
        rows = np.arange(len(y))
        m = eta.max(axis=1)
        e = np.exp(eta - m[:, None])
        s = e.sum(axis=1)
        if w is None:
            value = float((m + np.log(s)).sum() - eta[rows, y].sum())
        else:
            value = float(w @ (m + np.log(s) - eta[rows, y]))
        if order >= 1:
            e /= s[:, None]  # probabilities
            d2 = e.copy() if order >= 2 else None
            d1 = e
            d1[rows, y] -= 1.0
    else:  # pragma: no cover - LinearSpec validates the loss
        raise ValueError(loss)
    return value, d1, d2


def _gradient(X, d1, spec: LinearSpec):
    """``[X, 1].T @ d1`` in the parameter layout."""
    if spec.n_outputs == 1:
        g = X.T @ d1
        return np.append(g, d1.sum()) if spec.fit_intercept else g
    G = d1.T @ X
    if spec.fit_intercept:
        G = np.hstack([G, d1.sum(axis=0)[:, None]])
    return G.ravel()


def _weighted_gram(X, w, fit_intercept: bool):
    """``[X, 1].T @ diag(w) @ [X, 1]`` (without the ones column if no intercept)."""
    Xw = X * w[:, None]
    A = X.T @ Xw
    if not fit_intercept:
        return A
    d = X.shape[1]
    H = np.empty((d + 1, d + 1))
    H[:d, :d] = A
    c = Xw.sum(axis=0)
    H[:d, d] = c
    H[d, :d] = c
    H[d, d] = w.sum()
    return H


def _hessian(X, d2, spec: LinearSpec, w=None):
    """``[X, 1].T @ diag(d2) @ [X, 1]`` (the softmax blocks for multinomial),
    each row's share times its weight ``w`` when given."""
    if spec.n_outputs == 1:
        return _weighted_gram(X, d2 if w is None else w * d2, spec.fit_intercept)
    K, m = spec.n_outputs, spec.n_columns
    P = d2
    H = np.empty((K * m, K * m))
    for k in range(K):
        for j in range(k, K):
            c = (P[:, k] if w is None else w * P[:, k]) * ((k == j) - P[:, j])
            B = _weighted_gram(X, c, spec.fit_intercept)
            H[k * m:(k + 1) * m, j * m:(j + 1) * m] = B
            if j != k:
                H[j * m:(j + 1) * m, k * m:(k + 1) * m] = B.T
    return H


# ------------------------------------------------------------ block kernels
# Rows evaluated together: X @ w, then X.T @ d1 on the same rows while they are
# still in the CPU cache, so each evaluation reads X from memory once, not twice.
CHUNK_BYTES = 2 << 20


def _chunk_rows(n_columns: int) -> int:
    """Rows per chunk: about ``CHUNK_BYTES`` of ``X`` (at least 256 rows)."""
    return max(256, CHUNK_BYTES // (8 * max(1, n_columns)))


def _evaluate_rows(X, y, params, spec: LinearSpec, order: int, w=None):
    """Loss (and gradient, Hessian) summed over the rows, each row's share
    times its weight ``w`` when given."""
    eta = linear_predictor(X, params, spec)
    # weighted rows: ignore overflow (exp of a large eta; such a row may have weight 0)
    with np.errstate(over=None if w is None else "ignore"):
        value, d1, d2 = _pointwise(spec.loss, y, eta, order, w)
    if order == 0:
        return (value,)
    if w is not None:
        d1 = d1 * (w if d1.ndim == 1 else w[:, None])
    grad = _gradient(X, d1, spec)
    if order == 1:
        return value, grad
    return value, grad, _hessian(X, d2, spec, w)


def _pointwise_into(loss: str, y, eta, t1, t2, order: int):
    """:func:`_pointwise` for one output and ``order <= 1``, written into the
    buffers ``t1`` and ``t2`` (the shape of ``eta``) instead of new arrays.

    Returns ``(sum of the row losses, d1)``, ``d1`` (a view of a buffer, or
    None for ``order=0``) the first derivative w.r.t. ``eta``.  The same
    quantities as :func:`_pointwise` (the logistic probability is computed
    as ``1 / (1 + exp(-eta))``, without a select), each op a single pass
    over the rows.
    """
    if loss == "squared":
        r = np.subtract(eta, y, out=t1)
        return 0.5 * float(r @ r), r
    if loss == "poisson":
        mu = np.exp(eta, out=t1)
        value = float(mu.sum() - y @ eta)
        return value, (np.subtract(mu, y, out=mu) if order else None)
    # logistic: log(1 + exp(eta)) = max(eta, 0) + log1p(exp(-|eta|)), stable for any eta
    e = np.exp(np.negative(np.abs(eta, out=t1), out=t1), out=t1)
    value = float(np.maximum(eta, 0.0, out=t2).sum() + np.log1p(e, out=t2).sum() - y @ eta)
    if not order:
        return value, None
    # p = 1 / (1 + exp(-eta)): relative accuracy of a division for any eta
    # (exp overflows to inf for eta < -709, and p is then exactly 0)
    p = np.exp(np.negative(eta, out=t2), out=t2)
    p += 1.0
    np.divide(1.0, p, out=p)
    return value, np.subtract(p, y, out=p)


def _evaluate_one_output(X, y, params, spec: LinearSpec, order: int):
    """Loss (and gradient) of a one-output model (``order <= 1``), chunk by
    chunk with every per-row array in three buffers reused by the chunks:
    one read of ``X`` from memory, a handful of single passes over the
    rows, no temporaries of the block's size."""
    n, d = X.shape
    coef = params[:d]
    intercept = float(params[d]) if spec.fit_intercept else 0.0
    step = _chunk_rows(d)
    m = min(n, step)
    eta, t1, t2 = np.empty(m), np.empty(m), np.empty(m)
    grad = np.zeros(spec.n_params) if order else None
    part = np.empty(d) if order else None
    value = 0.0
    with np.errstate(over="ignore"):
        for start in range(0, n, step):
            Xc, yc = X[start:start + step], y[start:start + step]
            k = len(yc)
            e = np.matmul(Xc, coef, out=eta[:k])
            if spec.fit_intercept:
                e += intercept
            v, d1 = _pointwise_into(spec.loss, yc, e, t1[:k], t2[:k], order)
            value += v
            if order:
                grad[:d] += np.matmul(d1, Xc, out=part)
                if spec.fit_intercept:
                    grad[d] += d1.sum()
    return (value, grad) if order else (value,)


def evaluate_block(block, params, spec: LinearSpec, order: int = 1, w=None):
    """Loss (and gradient, Hessian) of ``params`` summed over the rows of ``block``.

    Parameters
    ----------
    block : tuple of (ndarray of shape (n, d), ndarray of shape (n,))
        Rows ``X`` and encoded targets ``y`` (see :func:`prepare_block`).
    params : ndarray of shape (spec.n_params,)
        Flat parameters (see the module docstring for the layout).
    spec : LinearSpec
        Loss, number of features and intercept.
    order : {0, 1, 2}, default=1
        0: the loss only; 1: loss and gradient; 2: loss, gradient, Hessian.
    w : ndarray of shape (n,), optional
        Row weights: each row's loss (and derivatives) is multiplied by its
        weight before the sum over the rows.

    Returns
    -------
    tuple
        ``(loss,)``, ``(loss, grad)`` or ``(loss, grad, hess)``: a float,
        an ndarray of shape ``(n_params,)`` and one of shape
        ``(n_params, n_params)``, each summed over the rows.  Tuples of
        blocks combine with :func:`add`.

    Notes
    -----
    The rows are processed in cache-sized chunks of ``CHUNK_BYTES`` (both
    matrix products of a chunk read it from the cache: one pass over ``X``
    in memory per evaluation instead of two).  The common case of the
    iterative solvers (one output, ``order <= 1``: lbfgs, gradient descent)
    also keeps its per-row arrays in buffers reused by every chunk.
    """
    X, y = block
    params = np.asarray(params, dtype=np.float64)
    if w is None and spec.n_outputs == 1 and order <= 1:
        return _evaluate_one_output(X, y, params, spec, order)
    step = _chunk_rows(X.shape[1] * spec.n_outputs)
    if len(y) <= step:
        return _evaluate_rows(X, y, params, spec, order, w)
    total = None
    for start in range(0, len(y), step):
        rows = slice(start, start + step)
        part = _evaluate_rows(X[rows], y[rows], params, spec, order, None if w is None else w[rows])
        total = part if total is None else add(total, part)
    return total


def add(a, b):
    """Combine two partial results: element-wise sum of (nested) tuples."""
    if isinstance(a, tuple):
        return tuple(add(x, y) for x, y in zip(a, b))
    if a is None:
        return b
    return a + b


# ------------------------------------------------- data checks and encoding
def summarize_block(block, classification: bool):
    """Small facts about a raw block, checked on the client before fitting.

    Returns a dict with the number of rows, whether ``X`` (and numeric ``y``)
    are finite, ``y``'s minimum, maximum and sum (numeric ``y``), and the
    sorted distinct labels when ``classification``.  Combine with
    :func:`combine_summaries`.
    """
    X, y = block
    X = np.asarray(X)
    y = np.asarray(y)
    numeric = y.dtype.kind in "biuf"
    out = {
        "n": int(len(y)),
        # a sum is finite iff every value is (barring overflow: then check all)
        "X_finite": X.dtype.kind in "biuf" and bool(np.isfinite(X.sum()) or np.isfinite(X).all()),
        "X_numeric": X.dtype.kind in "biuf",
        "y_numeric": numeric,
        "y_finite": bool(np.isfinite(y).all()) if numeric else True,
        "y_min": float(y.min()) if numeric and len(y) else np.inf,
        "y_max": float(y.max()) if numeric and len(y) else -np.inf,
        "y_sum": float(y.sum(dtype=np.float64)) if numeric else 0.0,
        "classes": None,
        "class_totals": None,
    }
    if classification:  # the labels, and the rows of each (what class_weight='balanced' needs)
        out["classes"], counts = _labels(np.unique, y, return_counts=True)
        out["class_totals"] = counts.astype(np.float64)
    return out


def _labels(order, *args, **kwargs):
    """``order(*args)`` (np.unique, np.union1d on labels), with labels of
    types that cannot be sorted together named as scikit-learn's ValueError."""
    try:
        return order(*args, **kwargs)
    except TypeError as exc:
        raise ValueError(
            f"Unknown label type: the labels mix types that cannot be ordered ({exc}). "
            "Use labels of one type (all numbers or all strings)."
        ) from None


def _merged_totals(a, b):
    """Per-class totals of two summaries, over the union of their classes."""
    classes = _labels(np.union1d, a["classes"], b["classes"])
    totals = np.zeros(len(classes))
    for s in (a, b):
        np.add.at(totals, np.searchsorted(classes, s["classes"]), s["class_totals"])
    return totals


def combine_summaries(a, b):
    """Merge two :func:`summarize_block` results."""
    return {
        "n": a["n"] + b["n"],
        "X_finite": a["X_finite"] and b["X_finite"],
        "X_numeric": a["X_numeric"] and b["X_numeric"],
        "y_numeric": a["y_numeric"] and b["y_numeric"],
        "y_finite": a["y_finite"] and b["y_finite"],
        "y_min": min(a["y_min"], b["y_min"]),
        "y_max": max(a["y_max"], b["y_max"]),
        "y_sum": a["y_sum"] + b["y_sum"],
        "classes": None if a["classes"] is None else _labels(np.union1d, a["classes"], b["classes"]),
        "class_totals": None if a["classes"] is None else _merged_totals(a, b),
    }


def prepare_block(block, loss: str, classes=None):
    """The block as the kernels want it: float64 C-contiguous ``X``, encoded ``y``.

    ``"logistic"``: ``y == classes[1]`` as 0.0/1.0; ``"multinomial"``: index of
    the label in the sorted ``classes``; otherwise ``y`` as float64.  An ``X``
    that is already float64 and C-contiguous is not copied.
    """
    X, y = block
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.asarray(y)
    if loss == "logistic":
        y = (y == classes[1]).astype(np.float64)
    elif loss == "multinomial":
        y = np.searchsorted(classes, y).astype(np.intp)
    else:
        y = y.astype(np.float64)
    return X, y


# ------------------------------------------------------------------ ADMM
LOCAL_NEWTON_MAX_PARAMS = 256  # above this, local problems use L-BFGS (no P x P Hessian)


def _local_newton(block, x, v, rho, spec, scale, tol, max_iter=50):
    """argmin ``loss_sum(x) / scale + rho / 2 * ||x - v||^2`` by damped Newton
    (the rho term makes the Hessian positive definite)."""
    from scipy.linalg import cho_factor, cho_solve

    def value_of(w):
        d = w - v
        return evaluate_block(block, w, spec, 0)[0] / scale + 0.5 * rho * float(d @ d)

    eye = np.eye(len(x))
    for _ in range(max_iter):
        value, g, H = evaluate_block(block, x, spec, 2)
        d = x - v
        f = value / scale + 0.5 * rho * float(d @ d)
        g = g / scale + rho * d
        if np.max(np.abs(g)) <= tol:
            break
        step = -cho_solve(cho_factor(H / scale + rho * eye), g)
        slope, t = float(g @ step), 1.0
        while t > 1e-10:
            fn = value_of(x + t * step)
            if np.isfinite(fn) and fn <= f + 1e-4 * t * slope:
                break
            if np.isfinite(fn) and fn - f <= 64 * np.finfo(float).eps * abs(f):
                break  # at machine precision
            t *= 0.5
        x = x + t * step
    return x


def _local_lbfgs(block, x, v, rho, spec, scale, tol):
    from scipy.optimize import minimize

    def fun(w):
        value, grad = evaluate_block(block, w, spec, 1)
        d = w - v
        return value / scale + 0.5 * rho * float(d @ d), grad / scale + rho * d

    res = minimize(fun, x, jac=True, method="L-BFGS-B",
                   options={"gtol": tol, "ftol": 0.0, "maxiter": 1000, "maxls": 50})
    return res.x


def admm_block_cache(block, spec: LinearSpec, scale):
    """What :func:`admm_block_step` keeps about a block between rounds.

    For the squared loss the local problem is quadratic: the scaled Gram
    matrix ``X~'X~ / scale`` and ``X~'y / scale`` (``X~`` is ``X`` with a
    column of ones when there is an intercept).  None for the other losses.
    A function of the block alone, so it can be recomputed from the block
    (e.g. after the worker holding it was lost) with the same bits.
    """
    if spec.loss != "squared":
        return None
    X, y = block
    b = X.T @ y
    if spec.fit_intercept:
        b = np.append(b, y.sum())
    return _weighted_gram(X, np.ones(len(y)), spec.fit_intercept) / scale, b / scale


def admm_block_step(block, state, z, rho, rescale, spec: LinearSpec, scale, inner_tol):
    """One consensus-ADMM round on one block.

    The block owns a local copy ``x`` of the parameters and a scaled dual
    ``u``.  Given the consensus ``z`` (and ``rho``) from the client it

    1. measures its primal residual ``||x - z||^2``,
    2. updates the dual ``u <- (u + x - z) * rescale`` (``rescale`` is
       ``rho_old / rho`` when the client changed ``rho``),
    3. solves its local problem
       ``x <- argmin_x loss_sum(x) / scale + rho / 2 * ||x - z + u||^2``
       exactly for the squared loss (cached Gram matrix, see
       :func:`admm_block_cache`), by Newton's method for up to
       ``LOCAL_NEWTON_MAX_PARAMS`` parameters, by L-BFGS beyond, each
       warm-started from the previous ``x``.

    Parameters
    ----------
    block : tuple of ndarray
        Prepared rows ``(X, y)``.
    state : tuple or None
        ``(x, u, cache)`` from the previous round (``cache`` may be None: it
        is then computed); None in the first round.
    z : ndarray of shape (n_params,)
        Current consensus parameters.
    rho : float
        Augmented-Lagrangian penalty.
    rescale : float
        Factor applied to the dual after its update.
    spec : LinearSpec
    scale : float
        The loss sum is divided by ``scale`` (the total number of rows).
    inner_tol : float
        Gradient tolerance (max-norm) of the local solve.

    Returns
    -------
    state : tuple
        ``(x, u, cache)`` for the next round.
    partial : tuple
        ``(x + u, ||x_old - z||^2, ||x_old||^2, ||u||^2)``, summed over blocks.
    """
    if state is None:
        x, u, cache = z.copy(), np.zeros_like(z), None
    else:
        x, u, cache = state
    diff = x - z
    r_sq = float(diff @ diff)
    x_sq = float(x @ x)
    u = (u + diff) * rescale
    v = z - u
    if spec.loss == "squared":
        if cache is None:
            cache = admm_block_cache(block, spec, scale)
        A, b = cache
        x = np.linalg.solve(A + rho * np.eye(len(b)), b + rho * v)
    elif len(x) <= LOCAL_NEWTON_MAX_PARAMS:
        x = _local_newton(block, x, v, rho, spec, scale, inner_tol)
    else:
        x = _local_lbfgs(block, x, v, rho, spec, scale, inner_tol)
    return (x, u, cache), (x + u, r_sq, x_sq, float(u @ u))


def admm_block_round(block, cache, state, z, rho, rescale, spec: LinearSpec, scale, inner_tol):
    """:func:`admm_block_step` with the block's cache kept apart from its state.

    ``cache`` is :func:`admm_block_cache` of the block (kept where the block
    is); ``state`` is ``(x, u)`` (or None in the first round), small enough
    to travel with every round, so that whoever drives the rounds holds it.
    Returns ``((x, u), partial)``.
    """
    if state is None:
        state = (z.copy(), np.zeros_like(z))
    (x, u, _), partial = admm_block_step(block, (*state, cache), z, rho, rescale, spec, scale, inner_tol)
    return (x, u), partial
