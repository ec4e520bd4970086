"""Input checks shared by the estimators, with errors that say what was
expected, what was received and how to fix it.

Checks run on the client before anything is submitted when the data are in
memory. For dask input, the finiteness check runs on the worker that holds
the materialised data (``finite_report`` is the kernel), so X never comes
back to the client.
"""

from __future__ import annotations

import numbers

import numpy as np


class InvalidParameterError(ValueError, TypeError):
    """A parameter of the wrong type or outside its range.

    Both a ValueError and a TypeError, as scikit-learn's own
    ``InvalidParameterError``: code that catches either of them for
    scikit-learn's estimators catches it for dasklearn's too. Raised before
    any work is sent to the cluster. Combinations of valid parameters that
    do not go together stay plain ``ValueError``, as in scikit-learn.
    """


def is_real(x) -> bool:
    """A real number, but not a bool."""
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` made by the caller of this
    function, pointing at the first frame outside dasklearn (the user's line)."""
    import inspect
    import os

    import dasklearn

    root = os.path.dirname(os.path.abspath(dasklearn.__file__)) + os.sep
    frame, level = inspect.currentframe().f_back, 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(root):
        frame, level = frame.f_back, level + 1
    return level


def score_number(value, name) -> float:
    """A scorer's result as a float; anything else is the scorer's bug,
    raised as scikit-learn's search raises it (whatever ``error_score``)."""
    if hasattr(value, "item"):
        try:
            value = value.item()
        except ValueError:
            pass
    if not isinstance(value, numbers.Number):
        raise ValueError(f"scoring must return a number, got {value!r} ({type(value)}) instead. (scorer={name})")
    return float(value)


def feature_view(X):
    """What scikit-learn's feature checks (``validate_data``) read of ``X``:
    a dask DataFrame's columns as an empty pandas DataFrame (its data stay
    where they are); any other ``X`` as it is."""
    from dask import is_dask_collection

    if is_dask_collection(X) and hasattr(X, "columns"):
        import pandas as pd

        return pd.DataFrame(columns=X.columns)
    return X


def _holds_estimators(estimator) -> bool:
    """Does ``estimator`` wrap others (an ``estimator=`` parameter, a list of
    ``(name, estimator)``, ...)? Then its own tags say little about its input."""
    try:
        values = estimator.get_params(deep=False).values()
    except Exception:
        return False
    for v in values:
        items = v if isinstance(v, (list, tuple)) else [v]
        for item in items:
            if isinstance(item, tuple) and len(item) >= 2:  # (name, estimator[, columns])
                item = item[1]
            if hasattr(item, "fit") and hasattr(item, "get_params") and not isinstance(item, type):
                return True
    return False


def _tags_are_scikit_learns(estimator) -> bool:
    """Is ``estimator`` a scikit-learn estimator (or a subclass of one), whose
    tags say what it takes? Others' default tags (no NaN, no strings) are
    often just defaults: their fits judge their input."""
    own = ("sklearn.base", "sklearn.utils")  # BaseEstimator and the mixins any estimator has
    return any(c.__module__.startswith("sklearn.") and not c.__module__.startswith(own)
               for c in type(estimator).__mro__)


def _first_consumer(estimator):
    """The estimator that first sees X (a Pipeline's first step), or None
    when we can't tell its needs from its tags: a column-wise
    meta-transformer, a meta-estimator around others (TransformedTargetRegressor,
    CalibratedClassifierCV, OneVsRestClassifier, ...; their tags rarely pass
    on their inner estimator's) or an estimator from outside scikit-learn."""
    from sklearn.pipeline import Pipeline

    while isinstance(estimator, Pipeline):
        steps = [s for _, s in estimator.steps if s not in (None, "passthrough")]
        if not steps:
            return None
        estimator = steps[0]
    if hasattr(estimator, "transformers") or hasattr(estimator, "transformer_list"):
        return None
    if _holds_estimators(estimator) or not _tags_are_scikit_learns(estimator):
        return None
    return estimator


def _input_tags(estimator):
    """Input tags of the first consumer of X; None (no opinion) when that
    does not validate its input (e.g. a FunctionTransformer that may clean
    it) or has no tags."""
    from sklearn.utils import get_tags

    consumer = _first_consumer(estimator)
    if consumer is None:
        return None
    try:
        tags = get_tags(consumer)
    except Exception:  # a non-sklearn estimator without tags: no opinion
        return None
    return None if tags.no_validation else tags.input_tags


def _declares_categories(estimator) -> bool:
    """Told which columns are categorical (HistGradientBoosting's
    ``categorical_features`` as names, indices or a mask): such an estimator
    encodes those columns itself, text included, whatever its tags say."""
    value = getattr(estimator, "categorical_features", None)
    return value is not None and not (isinstance(value, str) and value == "from_dtype")


def users_callable(obj) -> bool:
    """A callable of the user's own, not a scikit-learn scorer (nor a class
    derived from one): scikit-learn reads such a scorer's signature, and it
    may use X itself, not only the model's responses."""
    return callable(obj) and not any(cls.__module__.startswith("sklearn.") for cls in type(obj).__mro__)


def column_names_selected(estimator) -> bool:
    """Does a ColumnTransformer in ``estimator`` (itself, or a step of it)
    select columns by name (strings, or a callable such as
    ``make_column_selector``), which needs a DataFrame to select from?"""
    from sklearn.compose import ColumnTransformer

    inside = estimator.get_params(deep=True).values() if hasattr(estimator, "get_params") else ()
    for obj in (estimator, *inside):
        if not isinstance(obj, ColumnTransformer):
            continue
        for _, _, columns in obj.transformers:
            if callable(columns) or isinstance(columns, str):
                return True
            if not isinstance(columns, slice) and any(isinstance(c, str) for c in np.ravel(np.asarray(columns, dtype=object))):
                return True
    return False


def finite_report(X) -> tuple[int, int]:
    """(number of NaN, number of +-inf) in the numeric part of X (pure kernel)."""
    import scipy.sparse as sp

    if sp.issparse(X):  # the stored values (csr, csc, coo, bsr keep them flat)
        values = X.data if X.format in ("csr", "csc", "coo", "bsr") else X.tocoo().data
    elif hasattr(X, "select_dtypes"):
        values = X.select_dtypes("number").to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(X)
    if values.dtype.kind not in "fc":
        return 0, 0
    nan = int(np.isnan(values).sum())
    return nan, int(np.isinf(values).sum())


def raise_for_nonfinite(estimator, report: tuple[int, int], name: str = "X") -> None:
    n_nan, n_inf = report
    tags = _input_tags(estimator)
    if tags is None or tags.allow_nan:
        # no opinion, or NaN taken: such estimators may take +-inf too (the
        # HistGradientBoosting* do), which the tags cannot tell
        return
    if n_inf:
        raise ValueError(
            f"{name} contains {n_inf} infinite value(s); {type(estimator).__name__} needs "
            f"finite input. Replace them (e.g. X[~np.isfinite(X)] = np.nan, then impute) "
            f"before fitting."
        )
    if n_nan:
        raise ValueError(
            f"{name} contains {n_nan} NaN value(s), which {type(estimator).__name__} does not "
            f"accept. Impute them (e.g. a Pipeline starting with sklearn.impute.SimpleImputer) "
            f"or use an estimator that handles missing values (HistGradientBoosting*)."
        )


def check_numeric(estimator, X, name: str = "X"):
    """``X``, after rejecting string / object columns when the estimator
    that first sees them has no ``transform`` (a classifier or regressor,
    say) and its tags do not take strings; then an in-memory object array of
    numbers comes back as float64 (converted once here, as each fit would
    convert it). Text or object columns of a pandas DataFrame that hold
    numbers only pass, as scikit-learn converts them; text or object columns
    of a dask DataFrame and dask arrays of objects (whose values are on the
    cluster), and other libraries' frames, are left to the estimator.

    A first step with ``transform`` (an imputer or encoder, whose tags seldom
    say that it takes strings; also KMeans), category columns (which some
    predictors take, e.g. HistGradientBoosting) and an estimator told which
    columns are categorical (HistGradientBoosting's ``categorical_features``,
    whose columns may be text) are left to the estimator, as scikit-learn
    leaves them: its fits fail with its own message if it cannot."""
    tags = _input_tags(estimator)
    consumer = _first_consumer(estimator)
    if (tags is None or tags.string or tags.categorical or hasattr(consumer, "transform")
            or _declares_categories(consumer)):
        return X
    if hasattr(X, "dtypes") and hasattr(X, "columns"):
        from dask import is_dask_collection

        if not hasattr(X.dtypes, "items"):  # a frame of another library (polars): the estimator judges it
            return X
        import pandas as pd
        from pandas.api.types import is_bool_dtype, is_numeric_dtype, is_object_dtype, is_string_dtype

        def numbers_as_text(column, dtype) -> bool:
            """Text or objects that may hold numbers only (scikit-learn converts
            them): tried here in memory; on the cluster, left to the estimator."""
            if not (is_object_dtype(dtype) or is_string_dtype(dtype)):
                return False
            return is_dask_collection(X) or _converts_to_float(X[column])

        bad = [c for c, t in X.dtypes.items()
               if not (is_numeric_dtype(t) or is_bool_dtype(t) or isinstance(t, pd.CategoricalDtype))
               and not numbers_as_text(c, t)]
        if bad:
            raise TypeError(
                f"{name} has non-numeric columns {bad[:5]} (dtypes "
                f"{[str(X.dtypes[c]) for c in bad[:5]]}), but {type(estimator).__name__} needs "
                f"numbers. Encode them first, e.g. a Pipeline starting with a ColumnTransformer "
                f"with OneHotEncoder for those columns."
            )
    elif hasattr(X, "dtype") and X.dtype.kind in "OUSM":
        reason = ""
        if X.dtype.kind == "O":
            from dask import is_dask_collection

            if is_dask_collection(X):
                return X  # its values are on the cluster: the estimator judges them there
            try:
                return np.asarray(X, dtype=np.float64)  # numbers held as Python objects are numbers
            except (TypeError, ValueError) as exc:
                reason = f" ({exc})"
        raise TypeError(
            f"{name} has dtype {X.dtype}{reason}, but {type(estimator).__name__} needs numbers. "
            f"Convert it (X.astype(float)) or encode the text/categorical columns first."
        )
    return X


def _converts_to_float(column) -> bool:
    """Does this text or object column hold numbers only (as scikit-learn's
    ``check_array`` converts it: ``'1.5'``, ``Decimal``, ``NaN``)?"""
    try:
        column.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def reject_sparse(owner: str, X, name: str = "X") -> None:
    """A TypeError for scipy.sparse input, for estimators that split X into dense blocks."""
    import scipy.sparse as sp

    if sp.issparse(X):
        raise TypeError(
            f"{owner} does not support sparse input: {name} is a scipy.sparse {X.format} matrix, "
            f"but it is split into dense blocks. Pass {name}.toarray() if it fits in memory, or a "
            "dense dask array."
        )
    from dasklearn._blockwise import is_dask_array

    if is_dask_array(X):  # a dask array: the type of its blocks
        from dask.array.utils import meta_from_array

        block = meta_from_array(X)
        if sp.issparse(block):
            raise TypeError(
                f"{owner} does not support sparse input: {name} is a dask array of scipy.sparse "
                f"{block.format} blocks, but it needs dense blocks. Densify them lazily with "
                f"{name}.map_blocks(lambda b: b.toarray(), dtype={name}.dtype) if they fit in memory "
                "once dense."
            )


def check_2d(shape, owner: str, name: str = "X") -> None:
    """``name`` (of ``shape``) must be a 2-D (n_samples, n_features) table."""
    if len(shape) != 2:
        raise ValueError(
            f"{owner}: {name} must be 2-dimensional (n_samples, n_features), got shape {tuple(shape)}. "
            f"Reshape your data either using array.reshape(-1, 1) if your data has a single feature "
            f"or array.reshape(1, -1) if it contains a single sample."
        )


def check_n_features(X, name: str = "X") -> None:
    if len(X.shape) == 2 and X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 is "
            f"required. Pass {name} with at least one column."
        )


def check_n_samples(n_samples: int, name: str = "X") -> None:
    if n_samples == 0:
        raise ValueError(
            f"{name} is empty (0 samples); there is nothing to fit. Pass at least one row "
            f"per fold."
        )


def check_targets(estimator, y) -> None:
    """Classification targets need two classes; all targets must be finite.

    The adaptive searches' up-front check (their partial_fit estimators all
    need it). GridSearchCV / RandomizedSearchCV leave y to the estimator, as
    scikit-learn's searches do: a DummyClassifier takes one class."""
    from sklearn.base import is_classifier

    if y is None:
        return
    values = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if values.size == 0:
        return  # no samples: check_n_samples says so
    if values.dtype.kind in "fc" and not np.all(np.isfinite(values)):
        raise ValueError(
            f"y contains {int((~np.isfinite(values)).sum())} NaN or infinite value(s); targets "
            f"must be finite. Drop those rows or fill the targets."
        )
    if is_classifier(estimator):
        classes = np.unique(values)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[0]!r} for all {len(values)} samples), but "
                f"{type(estimator).__name__} is a classifier and needs at least 2 classes. "
                f"Check the labels, or the split that produced this y."
            )


def check_instance(owner: str, estimator) -> None:
    """TypeError for an estimator class given where an instance is expected."""
    if isinstance(estimator, type):
        raise TypeError(
            f"{owner}: estimator must be an estimator instance, got the class "
            f"{estimator.__name__} itself. Pass {estimator.__name__}() (with its parameters)."
        )


def check_picklable(obj, what: str = "estimator") -> None:
    """Objects sent to workers must pickle; say so before anything is sent."""
    import cloudpickle

    try:
        cloudpickle.dumps(obj)
    except Exception as exc:
        raise TypeError(
            f"The {what} ({type(obj).__name__}) cannot be pickled, so it cannot be sent to "
            f"the Dask workers: {type(exc).__name__}: {exc}. Remove unpicklable attributes "
            f"(open files, locks, connections) or create them inside fit."
        ) from exc


def check_random_state_param(value, owner: str = "", generator: bool = False) -> None:
    """``random_state`` as scikit-learn takes it: None, an int in [0, 2**32 - 1]
    or a numpy RandomState (and a numpy Generator where ``generator``)."""
    if value is None or isinstance(value, np.random.RandomState):
        return
    if generator and isinstance(value, np.random.Generator):
        return
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= value <= 2**32 - 1:
        return
    kinds = ("None, an int in [0, 2**32 - 1], a numpy RandomState or a numpy Generator" if generator
             else "None, an int in [0, 2**32 - 1] or a numpy RandomState")
    raise InvalidParameterError(
        f"{owner + ': ' if owner else ''}random_state must be {kinds}; got {value!r}. Pass e.g. random_state=0."
    )


def check_positive_int(value, name: str, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise InvalidParameterError(f"{name} must be a positive integer; got {value!r}. {hint}".rstrip())
    return int(value)
