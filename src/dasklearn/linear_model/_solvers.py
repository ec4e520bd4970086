"""Solver loops as pure functions of an ``evaluate`` callback.

Every solver minimises ``F(x) = f(x) + sum(l1 * |x|)`` where ``f`` is smooth
(the mean loss plus any l2 term) and ``l1`` holds one non-negative weight per
parameter (zero at the intercepts; absent for the smooth-only solvers).  The
data never appears here: ``f`` is reached through

``evaluate(x, order)``
    returns ``(f(x),)`` for ``order=0``, ``(f(x), grad)`` for ``order=1`` and
    ``(f(x), grad, hess)`` for ``order=2``.  Each call is one distributed pass
    over the blocks (one synchronisation point), so the solvers are written
    to need as few calls as possible: candidates of a line search are
    evaluated with the derivatives the next iteration needs, so an accepted
    step costs no extra call.

ADMM instead drives a ``consensus(z, rho, rescale)`` callback (see
:func:`admm`), and calls ``evaluate(z, 1)`` to check its result.  All
solvers are tested with plain NumPy callbacks.

Stopping rules (``tol``) are stated on the scaled objective (mean loss):

* lbfgs: scipy's L-BFGS-B ``gtol=tol`` (max-norm of the projected gradient)
  with ``ftol = 64 * eps``, as scikit-learn's lbfgs;
* newton, gradient_descent: ``max|grad| <= tol``;
* least_squares (quadratic ``f``): none, the normal equations are solved
  (and the solution refined) exactly;
* proximal_grad: ``max|x - prox(x - grad)| <= tol * min(1, max(l1))`` (the
  proximal-gradient residual, equal to ``max|grad|`` without l1; relative to
  the l1 weight when that is small, see :func:`_residual_tol`);
* proximal_newton (``newton`` with l1): ``max|x - prox(x - grad)| <= tol``
  and the model's Newton step at most ``tol`` relative to the parameters;
* admm: as proximal_grad, ``max|z - prox(z - grad)|`` at the
  consensus ``z``.  Boyd et al.'s (2011, section 3.3.1) primal and dual
  residual test only decides when to check it (one ``evaluate(z, 1)`` call):
  the residuals do not bound the distance to the optimum, so when the check
  fails their tolerances are tightened and the rounds go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

_EPS = np.finfo(np.float64).eps


@dataclass
class SolverResult:
    """Outcome of a solver: the parameters, iterations used, and whether the
    stopping rule was met (``message`` says why not)."""

    x: np.ndarray
    n_iter: int
    converged: bool
    message: str = ""


def soft_threshold(v, t):
    """``sign(v) * max(|v| - t, 0)`` element-wise (the prox of ``t * |.|``)."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


# ----------------------------------------------------------------- L-BFGS
def lbfgs(evaluate: Callable, x0, *, max_iter: int = 100, tol: float = 1e-4) -> SolverResult:
    """L-BFGS-B (scipy) with one ``evaluate(x, 1)`` call per function evaluation.

    Converged when scipy's gradient test (``tol``) is met, or when the
    objective stopped decreasing at machine precision (``ftol``, as
    scikit-learn); but not when that stall follows an overflow (a step
    giving ``exp`` of a Poisson model on features in the thousands an
    infinite objective): the line search then falls back to where it
    started, far from the optimum, and scipy still reports success. The
    result is then unconverged unless its gradient's max-norm is at most ``tol``."""
    from scipy.optimize import minimize

    x0 = np.asarray(x0, dtype=np.float64)
    if max_iter == 0:
        return SolverResult(x0.copy(), 0, False, "max_iter=0")
    overflowed = []

    def fun(x):
        f, g = evaluate(x, 1)
        if not np.isfinite(f):
            overflowed.append(True)
        return f, g

    res = minimize(
        fun, x0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": 64 * _EPS},
    )
    message = res.message if isinstance(res.message, str) else res.message.decode()
    residual = float(np.max(np.abs(res.jac), initial=0.0))
    converged = res.status == 0 and (residual <= tol or not overflowed)  # (after an overflow, a NaN residual: not)
    if res.status == 0 and not converged:
        message = f"the gradient's max-norm is {residual:.3g} > tol={tol:g} where scipy stopped: {message}"
    return SolverResult(res.x, int(min(res.nit, max_iter)), converged, message)


# ----------------------------------------------------------------- Newton
_FLAT = 1e-10  # relative curvature below which a direction counts as flat (see _flat_directions)


def _flat_directions(H):
    """Orthonormal columns spanning the directions in which ``H`` (positive
    semi-definite) is numerically singular: columns that are combinations of
    others, a multinomial model's shifts. Found on the Jacobi-scaled ``H``
    (unit diagonal), so that a column merely small or large beside the others
    (years next to a feature in thousandths) is not taken for one."""
    from scipy.linalg import eigh, orth

    diag = np.diag(H)
    s = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
    w, U = eigh(s[:, None] * H * s[None, :])
    flat = U[:, w <= _FLAT * max(float(w.max()), 0.0)]
    if flat.shape[1] == 0:
        return flat
    return orth(s[:, None] * flat)  # null vectors of H (s u for each null vector u of s H s)


def _newton_direction(H, g, null_space):
    """``-H^+ g``; ``null_space`` (orthonormal columns) are directions in
    which the objective is flat (H is singular there), excluded from the step."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    if null_space is not None:
        H = H + null_space @ null_space.T  # positive definite, same step off the null space
    diag = np.diag(H)
    try:
        factor = cho_factor(H)
        # L_jj**2 / H_jj is 1 - R**2 of column j on the ones before it: a singular H
        # (collinear columns without a penalty) passes the factorisation with pivots at
        # rounding level there, and the step would have an arbitrary part along the
        # directions where f is flat (scale-free test: years beside thousandths pass)
        singular = bool((np.diag(factor[0]) ** 2 <= _FLAT * diag).any())
    except LinAlgError:
        singular = True
    if singular:
        # the least-norm step: off the flat directions (g has no part along them, for
        # these losses), so the iterates stay in the row space and end at scikit-learn's
        # least-norm optimum
        flat = _flat_directions(H)
        try:
            d = -cho_solve(cho_factor(H + max(float(diag.max()), 1.0) * (flat @ flat.T)), g)
        except LinAlgError:  # (flat directions missed: the pseudo-inverse)
            from scipy.linalg import pinvh

            d = -pinvh(H) @ g
        d -= flat @ (flat.T @ d)
    else:
        d = -cho_solve(factor, g)
    if null_space is not None:
        d -= null_space @ (null_space.T @ d)
    return d


def newton(evaluate: Callable, x0, *, max_iter: int = 100, tol: float = 1e-4,
           null_space=None) -> SolverResult:
    """Newton's method with a backtracking (Armijo) line search.

    Each iteration needs the gradient and Hessian, which the previous
    accepted line-search candidate already computed: one ``evaluate(x, 2)``
    call per iteration when the full Newton step is accepted.

    Parameters
    ----------
    null_space : ndarray of shape (n_params, r), default=None
        Orthonormal directions along which ``f`` is constant (e.g. adding the
        same constant to every class's intercept in a multinomial model).
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    f, g, H = evaluate(x, 2)
    for it in range(max_iter):
        if np.max(np.abs(g), initial=0.0) <= tol:
            return SolverResult(x, it, True)
        d = _newton_direction(H, g, null_space)
        slope = float(g @ d)
        if not np.isfinite(slope) or slope >= 0:  # not a descent direction
            d, slope = -g, -float(g @ g)
        t = 1.0
        while True:
            xn = x + t * d
            fn, gn, Hn = evaluate(xn, 2)
            if np.isfinite(fn) and fn <= f + 1e-4 * t * slope:
                break
            # at machine precision: accept a step that doesn't raise f
            # measurably and reduces the gradient
            if np.isfinite(fn) and fn - f <= 64 * _EPS * abs(f) and np.abs(gn).max() < np.abs(g).max():
                break
            t *= 0.5
            if t < 1e-10:
                return SolverResult(x, it + 1, False, "line search failed")
        x, f, g, H = xn, fn, gn, Hn
    converged = np.max(np.abs(g), initial=0.0) <= tol
    return SolverResult(x, max_iter, bool(converged), "" if converged else "max_iter reached")


# --------------------------------------------------------- proximal Newton
FIRST_SUPPORT_STEP = 16  # sweeps before coordinate descent first tries steps on its support
#: the modelled cost of one coordinate's update in a sweep (Python's own work, in flops),
#: against which the support steps' eigendecompositions (10 k**3 flops on k coordinates)
#: are budgeted: on this project's machine a sweep of 200 coordinates took 0.45 ms, an
#: eigendecomposition of their block 7.5 ms
_COORDINATE_FLOPS = 20_000


def _support_step(H, b, l1, z, active) -> bool:
    """One step of ``z @ H @ z / 2 + b @ z + l1 @ |z|`` on the current
    support of ``z`` (its nonzero and its unpenalised ``active``
    coordinates), with the signs of ``z`` fixed there, so that the l1 term
    is linear. From one eigendecomposition of the support's block of ``H``
    (Jacobi-scaled, as :func:`_flat_directions`: a column merely small
    beside the others is not flat), two candidates:

    * the Newton step: the model's least-norm minimiser on the support,
      from its curved directions;
    * the slide along its flat directions (exactly collinear columns),
      where only the l1 term changes, linearly: the objective goes down
      until a coordinate reaches 0 (or, for a direction only nearly flat,
      until its curvature stops it).

    Each stops where a penalised coordinate would change sign (it becomes
    0). ``z`` takes (in place) the one that lowers the objective more, if
    either does by more than the rounding of that change; returns whether
    it moved.

    Coordinate descent crawls in both cases: by a constant factor a sweep,
    close to 1 on nearly collinear columns; along flat directions, by a
    sliver a sweep, as each coordinate's move is held back by the others'.
    """
    from scipy.linalg import LinAlgError, eigh

    on = active[(z[active] != 0) | (l1[active] == 0)]
    if on.size == 0:
        return False
    r = H @ z + b
    signs = np.sign(z[on])
    scale = 1.0 / np.sqrt(np.diag(H)[on])  # (active coordinates have a positive diagonal)
    block, g = scale[:, None] * H[np.ix_(on, on)] * scale[None, :], scale * (r[on] + l1[on] * signs)
    if not (np.isfinite(block).all() and np.isfinite(g).all()):
        return False  # (eigh refuses them; the sweeps' own arithmetic goes on as before)
    try:
        w, V = eigh(block)
    except LinAlgError:
        return False
    flat = w <= _FLAT * max(float(w.max()), 0.0)
    coeff = V.T @ g
    newton = -scale * (V[:, ~flat] @ (coeff[~flat] / w[~flat]))
    slide = -scale * (V[:, flat] @ coeff[flat])
    # along a flat direction the gradient is the l1 weights' alone; a part of it at the
    # level of its terms' rounding (a direction of unpenalised coordinates, say) is no
    # descent, and its slide, unbounded, would go off by 1e14
    if np.linalg.norm(coeff[flat]) <= np.sqrt(_EPS) * (np.linalg.norm(scale * r[on]) + np.linalg.norm(scale * l1[on])):
        slide = np.zeros_like(slide)
    abs_H = np.abs(H)
    r_size = abs_H @ np.abs(z) + np.abs(b)  # r's terms: its rounding is a few eps of this
    best, best_change = None, 0.0
    for step, longest in ((newton, 1.0), (slide, np.inf)):
        if not step.any():
            continue
        full = np.zeros_like(z)
        full[on] = step
        curvature = float(full @ H @ full)
        if curvature > 0 and longest == np.inf:  # a nearly flat slide: to its minimum at most
            longest = -float(r @ full + l1[on] @ (signs * step)) / curvature
        crossing = (l1[on] > 0) & (signs * step < 0)
        t, first = longest, None
        if crossing.any():
            reach = -z[on][crossing] / step[crossing]
            if reach.min() < longest:
                t, first = float(reach.min()), on[np.flatnonzero(crossing)[np.argmin(reach)]]
        if not (np.isfinite(t) and t > 0):
            continue  # a slide no coordinate ends: none (the l1 term is bounded below)
        delta = t * full
        if first is not None:
            delta[first] = -z[first]
        moved = z + delta
        # the change of the objective, from the gradient at z (no cancellation of its large terms);
        # a decrease within its own rounding is no decrease (it would move weight between
        # duplicated columns, say, for nothing, and cost the outer loop an iteration)
        linear, quadratic = float(r @ delta), 0.5 * float(delta @ H @ delta)
        change = linear + quadratic + float(l1 @ (np.abs(moved) - np.abs(z)))
        size = np.abs(delta)
        rounding = 16 * len(z) * _EPS * float(size @ (r_size + 0.5 * (abs_H @ size) + l1))
        if change < min(best_change, -rounding):
            best, best_change = moved, change
    if best is None:
        return False
    z[:] = best
    return True


def _coordinate_descent(H, b, l1, z, active, *, tol: float, max_sweeps: int) -> np.ndarray:
    """Cyclic coordinate descent on ``z @ H @ z / 2 + b @ z + l1 @ |z|`` over
    the ``active`` coordinates (each with ``H[j, j] > 0``), from ``z``
    (changed in place and returned).

    After ``FIRST_SUPPORT_STEP`` sweeps, and again after twice as many
    each time, it takes steps on its current support (:func:`_support_step`)
    while they lower the objective: on collinear columns the sweeps crawl,
    by the thousand, where those steps go straight to the optimum. Their
    eigendecompositions, on many coordinates, cost far more than a sweep:
    their modelled cost is kept within that of ``max_sweeps`` sweeps, so
    that they at most double the cost of a call that runs all its sweeps
    (with thousands of coordinates, not one step fits: coordinate descent
    alone, as before).

    A sweep costs a few Python float operations and one BLAS ``daxpy`` (the
    gradient's update) per coordinate: with numpy's scalars and a numpy
    update in their place it took three times as long.
    """
    import math

    from scipy.linalg.blas import daxpy

    columns = np.ascontiguousarray(H.T, dtype=np.float64)  # row j: column j of H, contiguous for daxpy

    def gradient():  # of the smooth part at z
        return np.ascontiguousarray(H @ z + b, dtype=np.float64)

    def solved():
        return np.max(np.abs(_prox_residual(z[active], r[active], l1[active])), initial=0.0) <= tol

    r = gradient()
    diag, weights, values, coords = np.diag(H).tolist(), l1.tolist(), z.tolist(), active.tolist()
    sweep_flops = len(coords) * (_COORDINATE_FLOPS + 2 * len(z))
    step_flops = 0.0  # the support steps' so far
    support_step_at = FIRST_SUPPORT_STEP
    for sweep in range(1, max_sweeps + 1):
        for j in coords:
            old, d, w = values[j], diag[j], weights[j]
            c = r.item(j) - d * old
            new = -c / d if w == 0 else -math.copysign(max(abs(c) - w, 0.0), c) / d
            if new != old:
                r = daxpy(columns[j], r, a=new - old)  # r += H[:, j] * (new - old), in place
                values[j] = new
        z[:] = values
        if solved():
            break
        if sweep == support_step_at and sweep < max_sweeps:
            support_step_at *= 2
            # no step adds a coordinate to the support, and each but a full Newton step takes
            # one out (a full one is followed by one that does): 2 k + 1 steps at most
            for _ in range(2 * len(coords) + 1):
                k = np.count_nonzero((z[active] != 0) | (l1[active] == 0))
                if step_flops + 10.0 * k**3 > max_sweeps * sweep_flops:
                    break  # the steps' budget: the cost of max_sweeps sweeps
                step_flops += 10.0 * k**3
                if not _support_step(H, b, l1, z, active):
                    break
                r, values = gradient(), z.tolist()
                if solved():
                    return z
    return z


def _quadratic_l1(H, b, l1, z0, *, tol: float, max_sweeps: int) -> np.ndarray:
    """Minimise ``z @ H @ z / 2 + b @ z + l1 @ |z|`` (H positive semi-definite)
    by cyclic coordinate descent from ``z0``: local work on parameter-sized
    arrays, no data. Stops when the model's own proximal-gradient residual
    (in the units of the outer one, whatever the columns' scales) is at most
    ``tol``. Coordinates with ``H[j, j] == 0`` (a feature that is zero on
    every row) keep their value.

    The unpenalised coordinates (the intercepts) are solved for exactly
    given the others (a Schur complement of H, which amounts to centring
    the features): coordinate descent then runs on the penalised ones only.
    With the intercept as one of its coordinates, it would crawl wherever a
    feature's mean is large against its spread (a column of years), as that
    feature and the intercept are then nearly collinear.
    """
    z = np.array(z0, dtype=np.float64)
    raw_diag = np.diag(H)
    free, pen = np.flatnonzero(l1 == 0), np.flatnonzero(l1 != 0)
    if free.size == 0 or pen.size == 0:
        return _coordinate_descent((H + H.T) / 2, b, l1, z, np.flatnonzero(raw_diag > 0), tol=tol,
                                   max_sweeps=max_sweeps)
    # z_free = -pinv(H_ff) (b_f + H_fp z_pen) minimises the model for given z_pen
    # (pinv: the multinomial intercepts' shifts are flat, H_ff is singular)
    inv_ff = np.linalg.pinv(H[np.ix_(free, free)])
    follow = inv_ff @ H[np.ix_(free, pen)]
    base = inv_ff @ b[free]
    H_red = H[np.ix_(pen, pen)] - H[np.ix_(pen, free)] @ follow
    H_red = (H_red + H_red.T) / 2
    b_red = b[pen] - H[np.ix_(pen, free)] @ base
    z_pen, raw_pen, red_diag = z[pen], raw_diag[pen], np.diag(H_red)
    # a feature constant on every row is flat once the intercept moves with it: l1 puts it at 0
    flat = (raw_pen > 0) & (red_diag <= 1e3 * _EPS * raw_pen)  # (rounding of the complement)
    z_pen[flat] = 0.0
    active = np.flatnonzero((raw_pen > 0) & ~flat)
    z[pen] = _coordinate_descent(H_red, b_red, l1[pen], z_pen, active, tol=tol, max_sweeps=max_sweeps)
    z[free] = -(base + follow @ z[pen])
    return z


def _least_l1_along_flat_directions(x, H, l1, null_space):
    """``x`` moved along the directions in which ``f`` is flat (H's null
    space: columns that are combinations of others, the shift of every
    class's coefficients in a multinomial model) to where the l1 term is
    least (None when that gains nothing), and whether f has such directions.
    ``f`` and its derivatives do not change along them, so this is a linear
    program in the directions' weights (scipy's HiGHS): no data pass.
    Coordinate descent crawls there, as each coordinate's move is held back
    by the curvature the others' would cancel.
    """
    import scipy.sparse as sp
    from scipy.optimize import linprog

    if null_space is not None:  # (directions f *and* l1 ignore: no gain there)
        H = H + null_space @ null_space.T
    flat = _flat_directions(H)
    pen = np.flatnonzero(l1 > 0)
    if flat.shape[1] == 0 or pen.size == 0:
        return None, False
    scale = float(np.abs(x[pen]).max())
    if scale == 0.0:  # already at the l1 term's least
        return None, True
    k, m = flat.shape[1], pen.size
    # min l1 @ t over (c, t), with -t <= x + flat @ c <= t on the penalised coordinates,
    # in units of x's and the weights' largest (HiGHS's tolerances are absolute)
    eye = sp.eye(m, format="csr")
    A = sp.bmat([[sp.csr_matrix(flat[pen]), -eye], [sp.csr_matrix(-flat[pen]), -eye]], format="csr")
    b = np.concatenate([-x[pen], x[pen]]) / scale
    cost = np.concatenate([np.zeros(k), l1[pen] / l1[pen].max()])
    res = linprog(cost, A_ub=A, b_ub=b, bounds=[(None, None)] * k + [(0, None)] * m, method="highs")
    if res.status != 0:
        return None, True
    moved = x + scale * (flat @ res.x[:k])
    gain = float(l1 @ np.abs(x)) - float(l1 @ np.abs(moved))
    return (moved if gain > 64 * _EPS * max(1.0, float(l1 @ np.abs(x))) else None), True


def proximal_newton(evaluate: Callable, x0, *, l1, max_iter: int = 100, tol: float = 1e-4,
                    null_space=None) -> SolverResult:
    """Proximal Newton for ``f(x) + l1 @ |x|`` (as glmnet / newGLMNET).

    Each iteration evaluates the gradient and Hessian of ``f`` (one
    ``evaluate(x, 2)`` call, as :func:`newton`), then minimises the
    quadratic model of ``f`` plus the l1 term exactly, on the client, by
    coordinate descent with steps on its support (:func:`_coordinate_descent`),
    and searches along the step (Armijo on the whole
    objective). Unlike first-order methods it is not slowed down where only
    the l1 term decides (collinear columns: ``f`` is flat there, the model
    step goes straight to the l1-best point).

    Converged when the proximal-gradient residual is at most ``tol`` *and*
    the model's step is at most ``tol`` relative to the parameters: the
    residual alone can be tiny far from the optimum when the l1 weights are
    small and ``f`` is flat in some directions.

    Where coordinate descent stops before solving the model near the optimum
    (the residual below a hundredth of the l1 weights), the iterate is
    first moved, if that lowers the objective, along the directions in
    which ``f`` is flat, to where the l1 term is least
    (:func:`_least_l1_along_flat_directions`): coordinate descent crawls
    along them (a multinomial model on collinear columns took every one of
    its ``max_iter`` iterations).

    Parameters
    ----------
    l1 : ndarray of shape (n_params,)
        Per-parameter l1 weights (zero at the intercepts).
    null_space : ndarray of shape (n_params, r), default=None
        Orthonormal directions along which ``f`` *and* the l1 term are flat
        (shifts of unpenalised multinomial intercepts); steps leave them out.
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    l1 = np.asarray(l1, dtype=np.float64)
    f, g, H = evaluate(x, 2)
    F = f + float(l1 @ np.abs(x))
    max_sweeps = int(max(100, min(10_000, 10**8 // max(1, x.size) ** 2)))
    may_be_flat = True  # until H is seen to have no flat direction (see below)
    l1_least = float(l1[l1 > 0].min(initial=np.inf))
    for it in range(max_iter + 1):
        residual = np.max(np.abs(_prox_residual(x, g, l1)), initial=0.0)
        # the model is solved as precisely as the iterate is close (inexact Newton)
        inner_tol = max(1e-13, 1e-3 * residual)
        z = _quadratic_l1(H, g - H @ x, l1, x, tol=inner_tol, max_sweeps=max_sweeps)
        d = z - x
        if null_space is not None:
            d -= null_space @ (null_space.T @ d)
        step_tol = tol * max(1.0, float(np.max(np.abs(x), initial=0.0)))
        if residual <= tol and np.max(np.abs(d), initial=0.0) <= step_tol:
            return SolverResult(x, it, True)
        if it == max_iter:
            break
        if (may_be_flat and residual <= 1e-2 * l1_least
                and np.max(np.abs(_prox_residual(x + d, g + H @ d, l1)), initial=0.0) > inner_tol):
            # near the optimum (the residual far below the l1 weights), coordinate descent
            # stopped before solving the model: along directions where f is flat (collinear
            # columns) the l1 term alone decides, and it crawls there; the linear program
            # goes straight to the l1-best point
            moved, may_be_flat = _least_l1_along_flat_directions(x, H, l1, null_space)
            if moved is not None:
                fn, gn, Hn = evaluate(moved, 2)  # f is unchanged there: checked, not assumed
                Fn = fn + float(l1 @ np.abs(moved))
                if np.isfinite(Fn) and Fn < F:
                    x, f, g, H, F = moved, fn, gn, Hn, Fn
                    continue
                may_be_flat = False  # f was not flat there after all: no more data passes on it
        # the model's decrease: a descent measure for the whole objective
        slope = float(g @ d) + float(l1 @ (np.abs(x + d) - np.abs(x)))
        if not np.isfinite(slope) or slope >= 0:
            if residual <= tol:  # no model decrease left: as converged as this precision allows
                return SolverResult(x, it, True)
            return SolverResult(x, it, False, "no descent direction")
        t = 1.0
        while True:
            xn = x + t * d
            fn, gn, Hn = evaluate(xn, 2)
            Fn = fn + float(l1 @ np.abs(xn))
            if np.isfinite(Fn) and Fn <= F + 1e-4 * t * slope:
                break
            if np.isfinite(Fn) and Fn - F <= 64 * _EPS * abs(F):  # at machine precision
                break
            t *= 0.5
            if t < 1e-10:
                return SolverResult(x, it + 1, False, "line search failed")
        x, f, g, H, F = xn, fn, gn, Hn, Fn
    return SolverResult(x, max_iter, False, "max_iter reached")


# ----------------------------------------------------------- least squares
MAX_REFINEMENTS = 3  # passes of iterative refinement after the normal-equations solve


def _lstsq(A, b, cond):
    """:func:`scipy.linalg.lstsq` of ``A x = b``, singular values below
    ``cond`` times the largest counting as zero.

    A nonsingular ``A`` is solved by scipy's default driver (gelsd); a
    singular one again by a full SVD (gelss, as :func:`numpy.linalg.lstsq`):
    gelsd's small singular values of a singular Gram matrix are not accurate
    enough for the cutoff (it may keep a direction that is zero up to
    rounding), which gives a solution far from the least-norm one -- e.g.
    different for repeated rows and for the equivalent integer sample weights.
    """
    from scipy.linalg import lstsq

    x, _, rank, _ = lstsq(A, b, cond=cond)
    if rank < len(A):
        x = lstsq(A, b, cond=cond, lapack_driver="gelss")[0]
    return x


def _normal_solve(H, r, intercept):
    """Minimum-norm solution ``d`` of the normal equations ``H d = r``.

    ``intercept`` (a parameter index, or None) is eliminated first: its
    Schur complement is the Gram matrix of the centred columns, as
    scikit-learn centres ``X`` before its least-squares solve, so with
    collinear columns the norm minimised is that of the coefficients, as
    there.  Singular values of the matrix below ``len(H) * eps`` times the
    largest count as zero (:func:`_lstsq`).

    The complement, though, is a difference of the uncentred entries, and
    its rounding error along a direction ``u`` is about ``eps`` times
    ``(sum_i |u_i| sqrt(H_ii)) ** 2`` (``n * mean**2`` for a column with a
    large mean), which may be far above ``eps`` times its largest
    eigenvalue: each of its eigenvectors (symmetric) counts when its
    eigenvalue is above ``len(H) * eps`` times the larger of the two, and
    when that drops a direction the usual cutoff keeps, the complement is
    solved in the eigenvectors that count (else as usual).
    Judged against the largest eigenvalue alone, rounding noise in the
    directions the centred columns do not span counted as data (far from the
    least-norm solution); judged against the largest column's rounding for
    every direction, small columns beside a large-mean one were cut off.
    """
    cond = len(H) * _EPS
    if intercept is None:
        return _lstsq(H, r, cond)
    rest = np.arange(len(H)) != intercept
    h, c = H[intercept, intercept], H[rest, intercept]
    H_rest = H[np.ix_(rest, rest)]
    S = H_rest - np.outer(c, c / h)
    b = r[rest] - c * (r[intercept] / h)
    w, U = np.linalg.eigh(S)
    rounding = (np.abs(U) * np.sqrt(np.abs(np.diag(H_rest)))[:, None]).sum(axis=0) ** 2
    keep = w > cond * np.maximum(rounding, w.max(initial=0.0))
    d = np.empty_like(r)
    if keep.all() or not (w[~keep] > cond * w.max(initial=0.0)).any():
        # no direction is rounding beyond what the usual cutoff drops: the SVD
        # solve (:func:`_lstsq`), which splits collinear columns evenly to the
        # last bits (the eigenvectors do so only to about eps * condition)
        d[rest] = _lstsq(S, b, cond)
    else:
        d[rest] = U[:, keep] @ ((U[:, keep].T @ b) / w[keep])
    d[intercept] = (r[intercept] - c @ d[rest]) / h
    return d


def least_squares(evaluate: Callable, x0, *, intercept: int | None = None,
                  max_refinements: int = MAX_REFINEMENTS) -> SolverResult:
    """The exact minimiser of a quadratic ``f`` (least squares, ridge).

    One ``evaluate(x0, 2)`` call gives the gradient and the (constant)
    Hessian, whose Newton step from ``x0`` is the minimiser (the normal
    equations).  The normal equations square the condition number of the
    data, so the step is then refined: the gradient at the new point,
    computed from the residuals (one ``evaluate(x, 1)`` call), gives a
    correction, applied while the corrections shrink, at most
    ``max_refinements`` times.  There is no tolerance: the result is the
    minimiser up to rounding.

    Parameters
    ----------
    intercept : int, default=None
        Index of an unpenalised intercept, eliminated first (see
        :func:`_normal_solve`): with collinear columns (a singular Hessian)
        the result is the solution of least coefficient norm, as
        scikit-learn's ``LinearRegression``.
    max_refinements : int, default=MAX_REFINEMENTS

    Returns
    -------
    SolverResult
        ``n_iter`` is 1: one Newton step (its refinements are part of the solve).
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    _, g, H = evaluate(x, 2)
    step = _normal_solve(H, -g, intercept)
    x += step
    size = np.abs(step).max(initial=0.0)
    for _ in range(max_refinements):
        if size <= 4 * _EPS * np.abs(x).max(initial=0.0):  # at rounding level
            break
        _, g = evaluate(x, 1)
        step = _normal_solve(H, -g, intercept)
        new_size = np.abs(step).max(initial=0.0)
        if not new_size < size / 2:  # no longer converging: rounding noise
            break
        x += step
        size = new_size
    return SolverResult(x, 1, True)


# ------------------------------------------- (proximal) gradient descent
def _residual_tol(tol: float, l1) -> float:
    """The bound on the proximal-gradient residual: ``tol``, relative to the
    largest l1 weight when that is below 1. Where the loss is flat (collinear
    columns) only the l1 term separates the optimum from its neighbours, and
    the residual there is of the order of the l1 weight: an absolute ``tol``
    above it would stop anywhere along the flat directions."""
    if l1 is None or not np.any(l1 > 0):
        return tol
    return tol * min(1.0, float(np.max(l1)))


def _prox_residual(x, g, l1):
    """``x - prox(x - g)`` with unit step: zero exactly at a minimiser."""
    if l1 is None:
        return g
    return x - soft_threshold(x - g, l1)


def proximal_grad(evaluate: Callable, x0, *, l1=None, max_iter: int = 100, tol: float = 1e-4,
                  memory: int = 10) -> SolverResult:
    """Proximal gradient descent with Barzilai-Borwein steps and a
    non-monotone backtracking line search (SpaRSA, Wright et al. 2009).

    Each candidate ``prox(x - t * grad, t * l1)`` is evaluated with its
    gradient (``evaluate(x, 1)``), so an accepted step costs one call.
    Without ``l1`` this is gradient descent with BB steps.

    Parameters
    ----------
    l1 : ndarray of shape (n_params,) or None
        Per-parameter l1 weights (soft-thresholding); None for smooth problems.
    memory : int, default=10
        A candidate is accepted if it decreases the largest objective of the
        last ``memory`` iterates enough (1 makes the search monotone).
    """
    x = np.asarray(x0, dtype=np.float64).copy()
    if l1 is not None:
        l1 = np.asarray(l1, dtype=np.float64)

    def penalty(v):
        return 0.0 if l1 is None else float(l1 @ np.abs(v))

    tol = _residual_tol(tol, l1)
    f, g = evaluate(x, 1)
    F = f + penalty(x)
    history = [F]
    gnorm = float(np.linalg.norm(g))
    t = 1.0 / gnorm if gnorm > 0 else 1.0
    for it in range(max_iter):
        if np.max(np.abs(_prox_residual(x, g, l1)), initial=0.0) <= tol:
            return SolverResult(x, it, True)
        ref = max(history[-memory:])
        while True:
            step = x - t * g
            xn = step if l1 is None else soft_threshold(step, t * l1)
            fn, gn = evaluate(xn, 1)
            Fn = fn + penalty(xn)
            s = xn - x
            if np.isfinite(Fn) and Fn <= ref - 1e-4 / (2 * t) * float(s @ s):
                break
            t *= 0.25
            if t < 1e-20:
                return SolverResult(x, it + 1, False, "line search failed")
        yv = gn - g
        sy = float(s @ yv)
        # Barzilai-Borwein step for the next iteration, kept within bounds
        t = float(s @ s) / sy if sy > 0 else 2 * t
        t = min(max(t, 1e-12), 1e12)
        x, f, g, F = xn, fn, gn, Fn
        history.append(F)
    converged = np.max(np.abs(_prox_residual(x, g, l1)), initial=0.0) <= tol
    return SolverResult(x, max_iter, bool(converged), "" if converged else "max_iter reached")


def gradient_descent(evaluate: Callable, x0, *, max_iter: int = 100, tol: float = 1e-4) -> SolverResult:
    """Gradient descent: :func:`proximal_grad` without the l1 term (BB steps,
    backtracking line search, one ``evaluate(x, 1)`` per accepted step)."""
    return proximal_grad(evaluate, x0, l1=None, max_iter=max_iter, tol=tol)


# -------------------------------------------------------------------- ADMM
def _center_rows(z, k):
    Z = z.reshape(k, -1)
    return (Z - Z.mean(axis=0)).ravel()


def shift_invariant_prox(v, l1, l2, kappa, k, n_bisect: int = 100):
    """``argmin_z g(z) + kappa / 2 * ||C z - v||^2`` for a ``(k, m)`` matrix ``z``
    whose rows may all be shifted by the same vector without changing the
    loss (``C`` subtracts the row mean; ``v`` is row-centred).

    ``g(z) = sum(l1 * |z|) + sum(l2 * z**2) / 2`` with weights constant down
    each column.  Column by column, for a shift ``s`` the minimiser is the
    usual prox ``z(s) = soft(v + s, l1 / kappa) / (1 + l2 / kappa)``, and the
    optimal shift solves ``mean(z(s)) == s`` (a monotone equation, solved by
    bisection).  Columns without l1 get ``s = 0``: the centred solution.
    """
    V = v.reshape(k, -1)
    V = V - V.mean(axis=0)
    t = (l1.reshape(k, -1)[0] / kappa)[None, :]
    a = (l2.reshape(k, -1)[0] / kappa)[None, :]

    def z_of(s):
        return soft_threshold(V + s, t) / (1.0 + a)

    lo = (-V.max(axis=0) - t[0])[None, :]
    hi = (-V.min(axis=0) + t[0])[None, :]
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        h = z_of(mid).mean(axis=0, keepdims=True) - mid
        lo, hi = np.where(h > 0, mid, lo), np.where(h > 0, hi, mid)
    s = np.where(t > 0, 0.5 * (lo + hi), 0.0)
    return z_of(s).ravel()


def admm(consensus: Callable, x0, *, evaluate: Callable, n_blocks: int, l1=None, l2=None,
         max_iter: int = 100, tol: float = 1e-4, rho: float = 1.0, mu: float = 10.0,
         tau: float = 2.0, shift_invariant: int = 1, tighten: float = 0.1) -> SolverResult:
    """Consensus ADMM (Boyd et al. 2011, section 7.1) with residual balancing.

    Minimises ``sum_i f_i(x) + g(x)`` where ``f_i`` is block ``i``'s share of
    the smooth loss and ``g(x) = sum(l1 * |x|) + sum(l2 * x**2) / 2``.  The
    blocks keep local copies ``x_i`` and scaled duals ``u_i`` (on the workers);
    the client keeps the consensus ``z``.

    ``consensus(z, rho, rescale)``
        runs one round on every block: measure ``||x_i - z||^2``, update
        ``u_i <- (u_i + x_i - z) * rescale``, then solve
        ``x_i <- argmin f_i(x) + rho / 2 ||x - z + u_i||^2``; returns the sums
        over blocks of ``(x_i + u_i, ||x_i_old - z||^2, ||x_i_old||^2, ||u_i||^2)``.
    ``evaluate(x, 1)``
        ``(f(x), grad)`` of the whole smooth part ``f = sum_i f_i + l2 term``,
        as for the other solvers.

    The z-update is the prox of ``g`` at the average of ``x_i + u_i``
    (soft-thresholding, then l2 shrinkage) and runs here.  ``rho`` is
    multiplied or divided by ``tau`` when one residual exceeds ``mu`` times
    the other; ``rescale`` tells the blocks to rescale their duals.

    Stopping: when the primal and dual residuals pass Boyd et al.'s test
    (absolute and relative tolerances ``tol``, section 3.3.1), and after the
    last round, ``z`` is checked with one ``evaluate(z, 1)`` call: it has
    converged when ``max|z - prox(z - grad)|`` is within the bound of
    :func:`proximal_grad`.  Otherwise the residual tolerances are multiplied
    by ``tighten`` and the rounds go on.  ``n_iter`` counts rounds (the
    z-updates); ``max_iter=0`` returns ``x0``.

    ``shift_invariant=k > 1`` declares ``x`` a ``(k, m)`` matrix whose loss
    is unchanged by adding one vector to every row (the multinomial model).
    The blocks then agree on the row-centred ``z`` only, and the z-update
    picks the shift with :func:`shift_invariant_prox`: plain ADMM would
    otherwise take ``O(N rho / l2)`` iterations to settle a direction the
    loss does not see.  The check evaluates ``z`` itself: the loss sees its
    row-centred part (its gradient is the same), the penalty all of it.
    """
    z = np.asarray(x0, dtype=np.float64).copy()
    if max_iter == 0:
        return SolverResult(z, 0, False, "max_iter=0")
    P, N, k = len(z), int(n_blocks), int(shift_invariant)
    l1 = np.zeros(P) if l1 is None else np.asarray(l1, dtype=np.float64)
    l2 = np.zeros(P) if l2 is None else np.asarray(l2, dtype=np.float64)
    shared = (lambda w: _center_rows(w, k)) if k > 1 else (lambda w: w)
    zc_prev, rho_prev, rescale = None, rho, 1.0
    r = s = optimality = np.inf
    scale = 1.0  # of the residual tolerances, tightened by each failed check
    for it in range(max_iter + 1):
        zc = shared(z)  # what the blocks agree on
        xu_sum, r_sq, x_sq, u_sq = consensus(zc, rho, rescale)
        if it > 0:
            r = np.sqrt(max(r_sq, 0.0))
            s = rho_prev * np.sqrt(N) * float(np.linalg.norm(zc - zc_prev))
            eps_pri = np.sqrt(N * P) * tol + tol * max(np.sqrt(x_sq), np.sqrt(N) * np.linalg.norm(zc))
            eps_dual = np.sqrt(N * P) * tol + tol * rho * np.sqrt(u_sq)
            if (r <= scale * eps_pri and s <= scale * eps_dual) or it == max_iter:
                _, g = evaluate(z, 1)
                optimality = float(np.max(np.abs(_prox_residual(z, g, l1)), initial=0.0))
                if optimality <= _residual_tol(tol, l1):
                    return SolverResult(z, it, True)
                if it == max_iter:
                    break
                scale *= tighten
        v = xu_sum / N
        zc_prev, rho_prev = zc, rho
        if k > 1:
            z = shift_invariant_prox(v, l1, l2, N * rho, k)
        else:
            z = soft_threshold(v, l1 / (N * rho)) / (1.0 + l2 / (N * rho))
        rescale = 1.0
        if it > 0 and r > mu * s:
            rho, rescale = rho * tau, 1.0 / tau
        elif it > 0 and s > mu * r:
            rho, rescale = rho / tau, tau
    return SolverResult(z, max_iter, False, f"max_iter reached (optimality residual {optimality:.2e}, "
                                            f"primal residual {r:.2e}, dual {s:.2e})")
