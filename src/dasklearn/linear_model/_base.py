"""The machinery shared by the linear models of :mod:`dasklearn.linear_model._glm`:
parameter checks, data checks, the fit driver (placing the blocks, building
the objective, running the solver) and the blockwise prediction helpers."""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y, validate_data

from dasklearn import _blockwise, _validation
from dasklearn._validation import is_real as _is_real
from dasklearn._kernels.linear import (
    LinearSpec,
    combine_summaries,
    prepare_block,
    summarize_block,
)
from dasklearn._runtime._reduce import as_dask_array
from dasklearn.linear_model import _solvers
from dasklearn.linear_model._objective import Objective
from dasklearn.linear_model._weighted import (
    apply_class_weights,
    combine_weighted_summaries,
    prepare_weighted_block,
    summarize_weighted_block,
)

SOLVERS = ("auto", "lbfgs", "newton", "gradient_descent", "proximal_grad", "admm")
SMOOTH_SOLVERS = ("lbfgs", "gradient_descent")
PENALTIES = ("auto", "l2", "l1", "elasticnet", None)


_is_dask = _blockwise.is_dask


def _is_dask_frame(obj) -> bool:
    """A dask DataFrame (a dask Series has ``columns`` too, but one dimension)."""
    return _is_dask(obj) and hasattr(obj, "columns") and getattr(obj, "ndim", None) == 2


def _float_frame(X, owner: str):
    """A dask DataFrame's columns as float64, converted lazily partition by
    partition (nothing is computed here), as scikit-learn's ``check_array``
    converts a pandas DataFrame: bool, integer and pandas' nullable
    (Int64, Float64, boolean) columns are numbers. A missing value of a
    nullable column (``pd.NA``) becomes NaN, refused as NaN is. Converting
    such mixed columns to a dask array directly would give dtype object.
    Columns that hold no numbers (strings, objects, categories, dates) are
    refused here, by name."""
    from pandas.api.types import is_bool_dtype, is_complex_dtype, is_numeric_dtype

    bad = {c: str(t) for c, t in X.dtypes.items()
           if not (is_numeric_dtype(t) or is_bool_dtype(t)) or is_complex_dtype(t)}
    if bad:
        shown = ", ".join(f"{c!r} ({t})" for c, t in list(bad.items())[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise ValueError(
            f"{owner}: X must hold numbers (numeric or bool columns, nullable Int64/Float64/"
            f"boolean included), but these columns of the dask DataFrame do not: {shown}{more}. "
            f"Encode them as numbers first (e.g. dd.get_dummies on categorized columns) or "
            f"drop them (X.drop(columns=[...]))."
        )
    if all(isinstance(t, np.dtype) and t == np.float64 for t in X.dtypes):
        return X
    if all(isinstance(t, np.dtype) and t == np.float32 for t in X.dtypes):
        return X  # kept: the blocks are made float64 where they are, and predictions stay float32
    return X.astype(np.float64)


def _all_float32(X) -> bool:
    """Is X float32 throughout (an array, or a DataFrame whose every column is)?
    The solvers run in float64; the fitted coefficients then come back in
    X's precision, as scikit-learn's do."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "__iter__") and not _blockwise.is_dask_array(X):
        dtypes = list(dtypes)
        return bool(dtypes) and all(d == np.float32 for d in dtypes)
    return getattr(X, "dtype", None) == np.float32


def _to_numpy_part(part, dtype, owner: str, name: str):
    """One partition of a nullable-dtype Series as its numpy dtype; ``pd.NA``
    is NaN in a float column, else an error naming it (as NaN would be)."""
    import pandas as pd

    if dtype.kind == "f":
        values = part.to_numpy(dtype=dtype, na_value=np.nan)
    elif part.isna().any():
        raise ValueError(f"{owner}: {name} contains NaN (missing values, pd.NA). Drop those rows.")
    else:
        values = part.to_numpy(dtype=dtype)
    return pd.Series(values, index=part.index, name=part.name)


def _numpy_series(s, owner: str, name: str):
    """A dask Series of a pandas nullable dtype (Int64, Float64, boolean, ...)
    as its numpy dtype, converted lazily partition by partition, as
    scikit-learn converts such a pandas Series (a dask array of it would
    have dtype object); a categorical one as its labels (its categories
    found first, with one pass over it, when unknown); other Series as they
    are."""
    import pandas as pd
    from pandas.api.extensions import ExtensionDtype

    dtype = getattr(s, "dtype", None)
    if isinstance(dtype, pd.CategoricalDtype):  # the labels themselves, as scikit-learn reads them
        if not s.cat.known:  # found with one pass over this column (the labels' type depends on them)
            s = s.cat.as_known()
        values = s.dtype.categories.dtype
        return s.astype(values if isinstance(values, np.dtype) and values.kind in "biufU" else object)
    if not (isinstance(dtype, ExtensionDtype) and isinstance(getattr(dtype, "numpy_dtype", None), np.dtype)):
        return s
    if dtype.numpy_dtype.kind not in "biuf":
        return s
    meta = pd.Series(np.empty(0, dtype=dtype.numpy_dtype), name=s.name)
    return s.map_partitions(_to_numpy_part, dtype.numpy_dtype, owner, name, meta=meta)


def _one_column_as_1d(y):
    """A y of one column (an (n, 1) array, a one-column DataFrame; dask or
    in memory) as 1-d, with scikit-learn's DataConversionWarning
    (``column_or_1d``)."""
    from sklearn.exceptions import DataConversionWarning

    if getattr(y, "ndim", 1) != 2:
        return y
    if hasattr(y, "columns"):  # a (dask) DataFrame
        if len(y.columns) != 1:
            return y
        y = y[y.columns[0]]
    elif y.shape[1] == 1:
        y = y[:, 0]
    else:
        return y
    warnings.warn(
        "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
        "(n_samples, ), for example using ravel().", DataConversionWarning,
        stacklevel=_validation.user_stacklevel(),
    )
    return y


class _LinearModel(BaseEstimator):
    """Shared fit machinery; subclasses define the loss and the penalty scale.

    Each public subclass spells out its full constructor signature (as
    scikit-learn's ``get_params`` requires), stores its strength (``C`` or
    ``alpha``) and passes the parameters common to all to this one.
    """

    _classifier = False
    _loss = None  # the loss, when it does not depend on the targets

    def __init__(self, penalty, *, l1_ratio, fit_intercept, solver, max_iter, tol):
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    # ------------------------------------------------------------ validation
    def _fail(self, name, expected, fix):
        value = getattr(self, name)
        raise _validation.InvalidParameterError(
            f"{type(self).__name__}: {name} must be {expected}, got {value!r}. {fix}"
        )

    def _check_common_params(self):
        if not isinstance(self.solver, str) or self.solver not in SOLVERS:
            self._fail("solver", f"one of {SOLVERS}", "Pass e.g. solver='auto'.")
        if not (self.penalty is None or (isinstance(self.penalty, str) and self.penalty in PENALTIES)):
            self._fail("penalty", f"one of {PENALTIES}",
                       "Leave penalty='auto' to derive it from l1_ratio and the strength.")
        if not _is_real(self.l1_ratio) or not 0 <= self.l1_ratio <= 1:
            self._fail("l1_ratio", "a float in [0, 1]", "Use 0 for l2, 1 for l1, in between for elastic net.")
        if not isinstance(self.fit_intercept, (bool, np.bool_)):
            self._fail("fit_intercept", "a bool", "Pass True or False.")
        if not isinstance(self.max_iter, numbers.Integral) or isinstance(self.max_iter, bool) \
                or self.max_iter < 0:
            self._fail("max_iter", "an int >= 0", "Pass e.g. max_iter=100.")
        if not _is_real(self.tol) or not math.isfinite(self.tol) or self.tol < 0:
            self._fail("tol", "a finite float >= 0", "Pass e.g. tol=1e-4.")
        if self.penalty in ("l1", "l2") and self.l1_ratio not in (0, 1 if self.penalty == "l1" else 0):
            raise ValueError(
                f"{type(self).__name__}: penalty={self.penalty!r} and "
                f"l1_ratio={self.l1_ratio!r} disagree. Leave penalty='auto' and set l1_ratio, "
                "or pass penalty='elasticnet' to use l1_ratio."
            )

    def _penalty_mix(self):
        """``(penalty name or None, effective l1_ratio)``."""
        if self.penalty is None or self._no_penalty():
            return None, 0.0
        if self.penalty == "l1":
            return "l1", 1.0
        if self.penalty == "l2":
            return "l2", 0.0
        r = float(self.l1_ratio)
        if self.penalty == "elasticnet":
            return "elasticnet", r
        return ("l2" if r == 0 else "l1" if r == 1 else "elasticnet"), r

    def _check_params(self):
        """Validate every parameter and the solver/penalty combination."""
        self._check_strength()
        self._check_common_params()
        self._warn_ignored_by_no_penalty()
        penalty, l1_ratio = self._penalty_mix()
        if l1_ratio > 0 and self.solver in SMOOTH_SOLVERS:
            raise ValueError(
                f"{type(self).__name__}: solver={self.solver!r} supports penalties None and "
                f"'l2' only, got penalty {penalty!r} (l1_ratio={l1_ratio}). Use "
                "solver='auto' (it picks the solver for l1 and elastic-net penalties: proximal "
                "Newton for up to 256 parameters), or 'newton', 'proximal_grad' or 'admm'; "
                "or l1_ratio=0."
            )
        return penalty, l1_ratio

    def _warn_ignored_by_no_penalty(self):
        """penalty=None fits without a penalty: a strength or l1_ratio the user
        set is ignored, and said so (as scikit-learn warns); so is a penalty
        named with a strength that means none (``alpha=0``, ``C=inf``)."""
        strength = self._STRENGTH
        if self.penalty in ("l1", "l2", "elasticnet") and self._no_penalty():
            warnings.warn(
                f"{type(self).__name__}: penalty={self.penalty!r} with {strength}="
                f"{getattr(self, strength)!r} fits without a penalty. Set {strength} to "
                f"{'a number > 0' if strength == 'alpha' else 'a finite number'} for the "
                f"{self.penalty} penalty, or penalty=None to fit without one.",
                UserWarning, stacklevel=4,
            )
        if self.penalty is not None:
            return
        ignored = []
        default = inspect.signature(type(self).__init__).parameters.get(strength)
        value = getattr(self, strength, None)
        # a subclass may fix the strength (no such parameter): nothing the user set
        if default is not None and value != default.default and not self._no_penalty():
            ignored.append(f"{strength}={value!r}")
        if self.l1_ratio != 0:
            ignored.append(f"l1_ratio={self.l1_ratio!r}")
        if ignored:
            warnings.warn(
                f"{type(self).__name__}: penalty=None fits without a penalty, so {' and '.join(ignored)} "
                f"{'is' if len(ignored) == 1 else 'are'} ignored. Leave penalty='auto' to use "
                f"{'it' if len(ignored) == 1 else 'them'}.",
                UserWarning, stacklevel=4,
            )

    #: with l1, solver='auto' is proximal Newton up to this many parameters:
    #: its Hessian (n_params ** 2) is summed over the blocks each iteration
    AUTO_NEWTON_MAX_PARAMS = 256

    def _resolved_solver(self, l1_ratio, n_params):
        """The solver ``solver='auto'`` stands for (see the module docstring)."""
        if self.solver != "auto":
            return self.solver
        if l1_ratio > 0:
            return "newton" if n_params <= self.AUTO_NEWTON_MAX_PARAMS else "proximal_grad"
        return "newton" if self._loss == "squared" else "lbfgs"

    def _check_features(self, X, reset):
        """Record (``reset``) or check X's number and names of features, as
        scikit-learn does (an error for other names, a warning for names
        given only at fit or only here)."""
        validate_data(self, _validation.feature_view(X), reset=reset, skip_check_array=True)

    def _check_data(self, X, y):
        name = type(self).__name__
        _validation.reject_sparse(name, X)
        if _is_dask(X) or _is_dask(y):
            if _is_dask_frame(X):
                X = _float_frame(X, name)
            elif not _is_dask(X):  # in memory (a pandas DataFrame, say) next to a dask y
                X = check_array(X, dtype=np.float64, ensure_all_finite=False, estimator=self)
            if not _is_dask(y):  # in memory next to a dask X: a list, a Series of a nullable dtype
                if not self._classifier:
                    y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False,
                                    input_name="y", estimator=self)
                elif isinstance(y, (list, tuple)):
                    y = np.asarray(y)
            y = _one_column_as_1d(y)
            if _is_dask(y) and not _blockwise.is_dask_array(y):  # a dask Series of a nullable dtype, say
                y = _numpy_series(y, name, "y")
            X, y = as_dask_array(X), as_dask_array(y)
            X_shape, y_shape = np.shape(X), np.shape(y)
            _validation.check_2d(X_shape, name)
            if len(y_shape) != 1:
                raise ValueError(
                    f"{name}: y must be 1-dimensional (n_samples,) or one column, got shape "
                    f"{y_shape}. These models fit one target."
                )
            if any(isinstance(s, float) and math.isnan(s) for s in (X_shape[0], y_shape[0])):
                raise ValueError(
                    f"{name}: the number of rows of X or y is unknown (dask chunks of unknown "
                    "size). Call X.compute_chunk_sizes() (and y's) or pass a dask DataFrame."
                )
            if X_shape[0] != y_shape[0]:
                raise ValueError(
                    f"{name}: X and y must have the same number of rows, got {X_shape[0]} and "
                    f"{y_shape[0]}. Pass matching X and y."
                )
            if X_shape[0] == 0 or X_shape[1] == 0:
                raise ValueError(f"{name}: X must be non-empty, got shape {X_shape}.")
            if np.dtype(X.dtype).kind not in "biuf":
                raise ValueError(
                    f"{name}: X must be numeric, got dtype {X.dtype}. Encode the features "
                    "as numbers first."
                )
            if not self._classifier and np.dtype(y.dtype).kind not in "biuf":
                raise ValueError(
                    f"{name}: y must be numeric, got dtype {y.dtype}. Pass numeric targets."
                )
            return X, y, int(X_shape[1])
        X, y = check_X_y(X, y, dtype=np.float64, order="C", y_numeric=not self._classifier,
                         estimator=self)
        return X, y, X.shape[1]

    def _check_summary(self, s):
        name = type(self).__name__
        if not s["X_numeric"] or not s["X_finite"]:
            raise ValueError(f"{name}: X contains NaN or infinity. Impute or drop those values.")
        if not s["y_finite"]:
            raise ValueError(f"{name}: y contains NaN or infinity. Drop those rows.")
        if "w_finite" in s:
            self._check_weight_values(s["w_finite"], s["w_min"], s["n"])

    def _check_weight_values(self, finite, w_min, total):
        name = type(self).__name__
        if not finite:
            raise ValueError(f"{name}: sample_weight contains NaN, missing (pd.NA) or infinite values. "
                             "Give every row a finite, non-negative weight (drop or fill those rows).")
        if not (w_min >= 0 and total > 0):
            zero = w_min >= 0  # all weights zero
            raise ValueError(f"{name}: sample_weight must be non-negative with a positive sum, got "
                             f"min={w_min}, sum={total}{' (every weight is zero)' if zero else ''}. "
                             f"{'Give some rows a non-zero weight.' if zero else 'Check the weights.'}")

    def _check_weights(self, sample_weight, n_rows, solver):
        """None (no weights), a float (one weight for every row), or the
        weights as a 1-D array (dask weights are checked where they live:
        :meth:`_check_summary`)."""
        if sample_weight is None:
            return None
        name = type(self).__name__
        if solver == "admm":
            raise ValueError(f"{name}: solver='admm' does not support sample_weight. Use another solver, "
                             "e.g. solver='auto'.")
        if not _is_dask(sample_weight):
            # as an ndarray first: array-likes may implement __array__ but refuse
            # NumPy functions (__array_function__)
            sample_weight = np.asarray(sample_weight)
            if sample_weight.ndim == 0:
                value = sample_weight.item()
                if not _is_real(value):
                    raise ValueError(f"{name}: sample_weight must be a number or one number per row, got "
                                     f"{value!r}. Pass e.g. sample_weight=1.0 or an array of weights.")
                self._check_weight_values(math.isfinite(value), value, value)
                # equal weights: the blocks go unweighted (the loss is divided by the
                # weights' sum); the value scales the data term against the penalty
                return float(value)
        if _is_dask(sample_weight) and not _blockwise.is_dask_array(sample_weight):
            sample_weight = _numpy_series(sample_weight, name, "sample_weight")
        w = as_dask_array(sample_weight)
        if not _is_dask(w):
            w = check_array(w, ensure_2d=False, dtype=np.float64, input_name="sample_weight")
            self._check_weight_values(True, float(w.min(initial=np.inf)), float(w.sum()))
        elif np.dtype(w.dtype).kind not in "biuf":
            raise ValueError(f"{name}: sample_weight must be numeric, got dtype {w.dtype}.")
        if np.shape(w) != (n_rows,):
            raise ValueError(f"{name}: sample_weight must have shape ({n_rows},) like y, got {np.shape(w)}.")
        return w

    def _check_class_weight(self, solver):
        """The ``class_weight`` parameter (classifiers only; None elsewhere),
        checked before any work."""
        class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return None
        name = type(self).__name__
        if not (isinstance(class_weight, dict) or (isinstance(class_weight, str) and class_weight == "balanced")):
            self._fail("class_weight", "None, 'balanced' or a dict {class label: weight}",
                       "Pass e.g. class_weight='balanced'.")
        if isinstance(class_weight, dict):  # weights of rows: as sample_weight, finite and non-negative
            bad = {k: v for k, v in class_weight.items() if not (_is_real(v) and math.isfinite(v) and v >= 0)}
            if bad:  # (every class of y weighted 0 is refused once y's classes are known)
                self._fail("class_weight", "a dict of finite, non-negative weights",
                           f"These are not: {bad!r}. "
                           "Pass e.g. class_weight={0: 1.0, 1: 5.0}.")
        if solver == "admm":
            raise ValueError(f"{name}: solver='admm' does not support class_weight (it weights the rows). "
                             "Use another solver, e.g. solver='auto'.")
        return class_weight

    def _class_weight_factors(self, class_weight, classes, totals):
        """Each class's weight, as scikit-learn's ``compute_class_weight``
        gives it from y and sample_weight: 'balanced' is the total weight
        over (number of classes x the class's total weight), computed here
        from each class's total, which the summary of the blocks carries; a
        dict names classes of y (others weigh 1)."""
        from sklearn.utils.class_weight import compute_class_weight

        if isinstance(class_weight, str):  # 'balanced'
            if not (totals > 0).all():
                raise ValueError(
                    f"{type(self).__name__}: class_weight='balanced' weighs each class by the inverse of "
                    f"its total sample_weight, and class(es) {classes[totals <= 0].tolist()} of y have total "
                    "weight 0. Give their rows a positive weight, or drop those rows."
                )
            return totals.sum() / (len(classes) * totals)
        # as scikit-learn: labels y lacks are fine (a fold may miss a class), unless the
        # dict also leaves out a class of y (then its keys are likely mistyped)
        labels = set(classes.tolist())
        unknown = [c for c in class_weight if c not in labels]
        left_out = [c for c in classes.tolist() if c not in class_weight]
        if unknown and left_out:
            raise ValueError(
                f"{type(self).__name__}: class_weight names {unknown}, which are not classes of y, and "
                f"leaves out {left_out}, which are. The classes of y are {classes.tolist()}; name those "
                "(a class left out weighs 1)."
            )
        return np.asarray(compute_class_weight(class_weight, classes=classes, y=classes), dtype=np.float64)

    # ------------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Fit the model on ``(X, y)``.

        Parameters
        ----------
        X : dask array or dask DataFrame of shape (n_samples, n_features), or array-like
            Training data.  Dask input is fitted where its blocks live (with
            an active Client) or on local threads; in-memory input on local
            threads.
        y : dask array or dask Series of shape (n_samples,), or array-like
            Targets.
        sample_weight : dask array or dask Series of shape (n_samples,), array-like or float, default=None
            Non-negative weights of the rows: the loss is
            ``sum(w_i * loss_i) / sum(w_i)``, as scikit-learn weights it
            (for every solver but 'admm').  Dask weights are cut into the
            blocks of X and live with them.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        from dasklearn._runtime._reduce import one_blas_thread, place_blocks

        penalty, l1_ratio = self._check_params()
        X_in = X
        # X's feature names checked before any work, on a copy: this model keeps its
        # fitted state until the new fit succeeds (then they are recorded, below)
        copy.copy(self)._check_features(X_in, reset=True)
        X, y, n_features = self._check_data(X, y)
        solver = self.solver  # 'auto' is resolved once the number of parameters is known
        w = self._check_weights(sample_weight, X.shape[0], solver)
        scale, w = (w, None) if isinstance(w, float) else (1.0, w)  # one weight for all: see _strengths
        class_weight = self._check_class_weight(solver)
        if w is None:
            summarize, combine = summarize_block, combine_summaries
        else:  # blocks (X, y, w)
            summarize, combine = summarize_weighted_block, combine_weighted_summaries
        # class weights make every block (X, y, w) before it is prepared
        weighted = w is not None or class_weight is not None
        prepare = prepare_weighted_block if weighted else prepare_block
        # one BLAS thread here too: the solver's small products gain nothing
        # from threads, and an idle BLAS thread spins for milliseconds after
        # each of them, on a core the workers need
        with place_blocks(X, y, sample_weight=w) as blocks, one_blas_thread():
            summary = blocks.map_reduce(summarize, self._classifier, combine=combine)
            self._check_summary(summary)
            n = summary["n"]  # rows, or the sum of the weights
            loss, n_outputs, classes = self._loss_of(summary)
            if class_weight is not None:
                factors = self._class_weight_factors(class_weight, classes, summary["class_totals"])
                blocks.transform(apply_class_weights, classes, factors)
                n = float(factors @ summary["class_totals"])  # the sum of the new weights
                if not n > 0:
                    raise ValueError(
                        f"{type(self).__name__}: class_weight={class_weight!r} gives every row of y (classes "
                        f"{classes.tolist()}) the weight 0. Give a class of y a positive weight."
                    )
            spec = LinearSpec(loss, n_features, bool(self.fit_intercept), n_outputs)
            solver = self._resolved_solver(l1_ratio, spec.n_params)
            blocks.transform(prepare, loss, classes)
            # the penalty's scale counts the weights' sum: n times a weight given for every row
            l1, l2 = self._strengths(l1_ratio, n * scale)
            objective = Objective(blocks, spec, n, l1, l2, weighted=weighted)
            result = self._solve(solver, objective, self._initial_params(spec, summary), blocks.n_blocks)
            objective.release_state()
        if not result.converged:
            if result.n_iter >= self.max_iter:
                within, fix = f"within max_iter={self.max_iter} iterations", "Increase max_iter, loosen tol, or"
            else:  # it stopped early: more iterations would not help
                within = f"(it stopped after {result.n_iter} iterations)"
                fix = "Use solver='newton', or" if solver != "newton" else "Use another solver, or"
            warnings.warn(
                f"{type(self).__name__}: solver={solver!r} did not converge {within} "
                f"({result.message}). {fix} standardise the features.",
                ConvergenceWarning,
                stacklevel=2,
            )
        x = result.x
        if n_outputs > 1:
            x = _center_classes(x, spec, center_coef=l1 == 0)
        self._set_fitted(spec, x, classes)
        if _all_float32(X_in):  # as scikit-learn: float32 data, float32 coefficients
            self.coef_ = self.coef_.astype(np.float32)
            self.intercept_ = (self.intercept_.astype(np.float32) if isinstance(self.intercept_, np.ndarray)
                               else np.float32(self.intercept_))
        self.n_iter_ = self._format_n_iter(result.n_iter)
        self._check_features(X_in, reset=True)
        return self

    def _initial_params(self, spec, summary):
        return np.zeros(spec.n_params)

    def _solve(self, solver, objective, x0, n_blocks):
        kw = dict(max_iter=int(self.max_iter), tol=float(self.tol))
        spec = objective.spec
        if solver == "lbfgs":
            return _solvers.lbfgs(objective, x0, **kw)
        if solver == "newton" and objective.l1.any():
            return _solvers.proximal_newton(objective, x0, l1=objective.l1, null_space=_null_space(objective),
                                            **kw)
        if solver == "newton" and spec.loss == "squared":  # a quadratic: solved exactly
            intercept = spec.n_features if spec.fit_intercept else None
            return _solvers.least_squares(objective, x0, intercept=intercept)
        if solver == "newton":
            return _solvers.newton(objective, x0, null_space=_null_space(objective), **kw)
        if solver == "gradient_descent":
            return _solvers.gradient_descent(objective, x0, **kw)
        if solver == "proximal_grad":
            l1 = objective.l1 if objective.l1.any() else None
            return _solvers.proximal_grad(objective, x0, l1=l1, **kw)
        inner_tol = max(min(float(self.tol), 1e-4) * 1e-2 / n_blocks, 1e-14)
        return _solvers.admm(
            lambda z, rho, rescale: objective.consensus(z, rho, rescale, inner_tol),
            x0, evaluate=objective, n_blocks=n_blocks, l1=objective.l1, l2=objective.l2,
            shift_invariant=objective.spec.n_outputs, rho=_initial_rho(objective, x0, n_blocks), **kw,
        )

    # ----------------------------------------------------------- prediction
    def _respond(self, method, X):
        """``method`` (one of the private response methods, which take
        arrays) of ``X``, once X's features are checked against fit's: in
        memory, or block by block for dask input, lazily: a dask array for
        a dask array; for a dask DataFrame, what :func:`apply_method` gives
        for DataFrames (a dask Series with X's index for 1-D responses, a
        dask DataFrame with the public method's column names for 2-D ones)."""
        check_is_fitted(self)
        _validation.check_2d(X.shape if hasattr(X, "shape") else np.asarray(X).shape, type(self).__name__)
        self._check_features(X, reset=False)
        if not _is_dask(X):
            return getattr(self, method)(X)
        from dasklearn._blockwise import _output_columns, apply_method

        if not _is_dask_frame(X):
            return apply_method(self, method, X)
        out = apply_method(self, method, _float_frame(X, type(self).__name__))
        if out.ndim == 2:  # named after the public method, e.g. the classes for predict_proba
            out.columns = _output_columns(self, method.lstrip("_"), len(out.columns))
        return out

    def _linear_predictor(self, X):
        """``X @ coef_.T + intercept_`` of in-memory X (checked by :meth:`_respond`; a
        block of dask input on its worker)."""
        X = check_array(X, dtype=[np.float64, np.float32], estimator=self)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        return X @ self.coef_.T + self.intercept_

    def _score_with(self, metric, X, y, sample_weight=None):
        """``metric(y, predict(X))``; on dask input the predictions are
        computed blockwise where X lives and only they and y come here."""
        if not (_is_dask(X) or _is_dask(y) or _is_dask(sample_weight)):
            kw = {} if sample_weight is None else {"sample_weight": sample_weight}
            return float(metric(y, self.predict(X), **kw))
        from dasklearn._runtime import get_backend

        pred = self.predict(X)  # lazy on dask X
        backend = get_backend()
        try:  # together: X (and y, the weights, when they share its source) read once
            pred, y, sample_weight = backend.compute(pred, y, sample_weight)
        finally:
            backend.close()
        kw = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)}
        return float(metric(np.asarray(y), np.asarray(pred), **kw))


def _initial_rho(objective, x0, n_blocks):
    """ADMM's starting penalty: a fraction of the curvature of one block's
    loss share, measured along the gradient by a secant (two evaluations).
    Residual balancing adapts it later; a good start saves many rounds."""
    _, g0 = objective(x0, 1)
    g0 = g0 - objective.l2 * x0  # the loss alone: l2 belongs to the z-update
    norm = float(np.linalg.norm(g0))
    if norm == 0 or not np.isfinite(norm):
        return 1.0
    x1 = x0 - g0 / norm
    _, g1 = objective(x1, 1)
    g1 = g1 - objective.l2 * x1
    s = x1 - x0
    curvature = float((g1 - g0) @ s) / float(s @ s)
    if not np.isfinite(curvature) or curvature <= 0:
        return 1.0
    return 0.3 * curvature / n_blocks


def _center_classes(x, spec, center_coef):
    """Multinomial parameters are defined up to a constant added to every
    class (for the intercepts; for the coefficients too when there is no l2
    term).  Pick the representative whose class-mean is zero, as
    scikit-learn's solvers started at zero do."""
    P = x.reshape(spec.n_outputs, spec.n_columns).copy()
    if spec.fit_intercept:
        P[:, -1] -= P[:, -1].mean()
    if center_coef:
        P[:, :spec.n_features] -= P[:, :spec.n_features].mean(axis=0)
    return P.ravel()


def _null_space(objective):
    """Orthonormal directions along which the multinomial objective is flat
    (shifting every class's parameter of an unpenalised column alike)."""
    spec = objective.spec
    if spec.n_outputs == 1:
        return None
    K, m = spec.n_outputs, spec.n_columns
    cols = []
    penalised = (objective.l2 > 0) | (objective.l1 > 0)
    unpenalised = ~penalised.reshape(K, m).any(axis=0)  # per column index
    for j in range(m):
        if unpenalised[j]:
            v = np.zeros((K, m))
            v[:, j] = 1.0 / np.sqrt(K)
            cols.append(v.ravel())
    return np.column_stack(cols) if cols else None
