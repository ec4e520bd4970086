"""Apply a fitted estimator's methods block by block to dask collections.

``apply_method(est, "predict", X)`` returns a dask array (for a dask array)
or a dask Series / DataFrame (for a dask DataFrame) whose blocks are computed
where X's blocks live; the estimator enters the graph once, as one key.
``score(scorer, est, X, y)`` computes only the responses the scorer asks for
(predictions, probabilities, decision values) blockwise and brings those and
y to the client, never X.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid

import numpy as np

from dasklearn._validation import InvalidParameterError


def is_dask(obj) -> bool:
    from dask import is_dask_collection

    return is_dask_collection(obj)


def check_dask_kind(obj, name: str, owner: str) -> None:
    """A dask collection given where blocks of rows are read is a dask array
    or DataFrame / Series, or a TypeError that says so (before: errors about
    the attributes a Bag or a Delayed lacks)."""
    if not is_dask(obj) or is_dask_array(obj):
        return
    import dask.dataframe as dd

    if isinstance(obj, (dd.DataFrame, dd.Series)):
        return
    raise TypeError(
        f"{owner}: {name} must be a dask array or a dask DataFrame / Series (or in-memory data); got a "
        f"{type(obj).__name__}. Convert it first, e.g. a dask.delayed array with "
        f"dask.array.from_delayed(value, shape, dtype), a Bag with bag.to_dataframe(), or compute it."
    )


def is_dask_array(obj) -> bool:
    """Is ``obj`` a dask array? Told by its type: a DataFrame's columns are
    attributes, so ``hasattr(X, "chunks")`` is true of a frame with a column
    named ``chunks``."""
    from dask.array import Array

    return isinstance(obj, Array)


def _compute(coll):
    """One collection's value here, computed where the runtime decides."""
    from dasklearn._runtime import get_backend

    backend = get_backend()
    try:
        return backend.compute(coll)[0]
    finally:
        backend.close()


def _numeric(dtypes) -> bool:
    """Are these numpy numbers (or bools)? Pandas' extension dtypes
    (category, string, nullable integers) are not numpy dtypes."""
    return all(isinstance(t, np.dtype) and (np.issubdtype(t, np.number) or t == bool) for t in dtypes)


def _zero_row(X):
    """One row of zeros shaped like X's rows, or None when zeros are no
    valid value of some column (strings, categories, objects)."""
    import dask.array as da

    if isinstance(X, da.Array):
        if not _numeric([X.dtype]):
            return None
        return np.zeros((1, X.shape[1]), dtype=X.dtype) if X.ndim == 2 else np.zeros(1, X.dtype)
    import pandas as pd

    dtypes = dict(X.dtypes.items()) if hasattr(X.dtypes, "items") else None
    if dtypes is None or not _numeric(list(dtypes.values())):
        return None
    return pd.DataFrame({c: np.zeros(1, dtype=t) for c, t in dtypes.items()})


def _first_row(X):
    """X's first row, computed (only when no zero row will do)."""
    import dask.array as da

    if isinstance(X, da.Array):
        if not np.isnan(X.shape[0]):
            return _compute(X[:1])
        for i in range(X.numblocks[0]):  # unknown chunk sizes: the first non-empty block
            block = _compute(X.blocks[i])
            if len(block):
                return block[:1]
        return _compute(X.blocks[0])
    part = None
    for i in range(X.npartitions):  # one partition at a time: usually only the first is read
        part = _compute(X.partitions[i])
        if len(part):
            return part.iloc[:1]
    return part  # no rows at all: the estimator says what it makes of that


def _sample_output(est, method, X):
    """``est.method`` on one row like X's, to learn its output's shape and
    dtype: a row of zeros when the estimator takes it silently (nothing
    computed), else X's own first row (a fitted encoder may refuse the
    zeros, a text pipeline needs text). Warnings about the made-up zeros
    (``log(0)``) are not the user's: the zeros are dropped for X's first
    row, whose warnings are (a model fitted with column names warns on a
    dask array, as scikit-learn does in memory)."""
    import warnings

    row = _zero_row(X)
    out = None
    if row is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = getattr(est, method)(row)
            except Exception:
                pass
        if caught:
            out = None
    if out is None:
        out = getattr(est, method)(_first_row(X))
    import scipy.sparse as sp

    if sp.issparse(out):
        raise TypeError(
            f"{type(est).__name__}.{method} returns a sparse matrix ({type(out).__name__}), but on "
            f"dask input dasklearn builds dense dask arrays block by block. Add a step that "
            f"makes it dense, or call {method} on the computed input."
        )
    if isinstance(out, (list, tuple)):
        raise TypeError(
            f"{type(est).__name__}.{method} returns a {type(out).__name__} of {len(out)} items, not an "
            f"array (a multi-output model gives one array per output), but on dask input dasklearn "
            f"builds one dask collection per call. Call {method} on the computed input, or wrap each "
            f"output's model separately."
        )
    return out


def _call(block, est, method, empty, declared=None):
    # a block with no rows (a filtered array) gives no rows: estimators refuse 0 samples;
    # a pandas output (set_output(transform="pandas")) becomes the array dask expects
    if block.shape[0] == 0:
        return empty
    out = np.asarray(getattr(est, method)(block))
    if declared is None:
        return out
    if out.shape[1:] != empty.shape[1:]:
        _shape_differs(est, method, declared, empty.shape[1:], out)
    return _as_declared(out, empty, declared)


def _shape_differs(est, method, name, declared_tail, out):
    """A block's output is not of the shape a declared meta said."""
    def form(tail):
        return f"(n_rows, {tail[0]})" if len(tail) == 1 else "(n_rows,)" if not tail else str(("n_rows",) + tail)

    got = out.shape[1:]
    fix = (f"np.empty((0, {got[0]}), dtype=...)" if len(got) == 1 else "np.empty(0, dtype=...)" if not got
           else "a meta of that shape")
    raise ValueError(
        f"{name} declares an output of shape {form(tuple(declared_tail))}, but {type(est).__name__}.{method} "
        f"gives shape {form(tuple(got))} on a block. Declare {name}={fix}, or leave {name}=None to learn "
        "the output from one row."
    )


def _call_frame(part, est, method, meta, declared=None):
    import pandas as pd

    if len(part) == 0:
        return meta.set_axis(part.index[:0])
    out = getattr(est, method)(part)
    if declared is not None:
        width = () if meta.ndim == 1 else (len(meta.columns),)
        if np.shape(out)[1:] != width:
            _shape_differs(est, method, declared, width, np.asarray(out))
    if isinstance(meta, pd.DataFrame) and isinstance(out, pd.DataFrame):
        out = out.set_axis(part.index)  # a pandas output keeps its columns and their dtypes
        if declared is not None and len(out.columns) == len(meta.columns):
            out.columns = meta.columns  # the declared names
    else:
        if isinstance(out, (pd.DataFrame, pd.Series)):
            out = out.to_numpy()
        out = np.asarray(out)
        out = (pd.Series(out, index=part.index, name=getattr(meta, "name", None)) if out.ndim == 1
               else pd.DataFrame(out, index=part.index, columns=meta.columns))
    return out if declared is None else _as_declared(out, meta, declared)


def _as_declared(out, meta, name):
    """A block's output with the numeric dtypes of the meta the user declared
    (``name``: ``predict_meta`` & co), so that the dask collection's dtype is
    true of its blocks. A cast that would change values (floats to
    integers, integers that do not fit, text to numbers) raises instead,
    naming the meta; non-numeric declared dtypes (strings, objects,
    categories) are left to the output."""
    import pandas as pd

    if isinstance(meta, pd.DataFrame) and isinstance(out, pd.DataFrame):
        for c, t in meta.dtypes.items():
            if c in out.columns and out[c].dtype != t and _numeric([t]):
                out[c] = _cast_values(out[c].to_numpy(), t, name)
        return out
    if isinstance(out, pd.Series) and (meta.dtype == object or isinstance(meta.dtype, pd.StringDtype)):
        return out.astype(meta.dtype)  # text as declared (no value changes)
    if not _numeric([meta.dtype]) or out.dtype == meta.dtype:
        return out
    if isinstance(out, pd.Series):
        return pd.Series(_cast_values(out.to_numpy(), meta.dtype, name), index=out.index, name=out.name)
    return _cast_values(out, meta.dtype, name)


def _cast_values(values, dtype, name):
    """``values`` as ``dtype``: exactly for integer and bool dtypes (0/1 as
    bool, 2.0 as an int), rounded to a float dtype's precision (a float32
    meta declares float32 output) but not past its range; otherwise a
    ValueError naming the values that would change."""
    values = np.asarray(values)
    changed = np.ones(values.shape, dtype=bool)
    cast = None
    if _numeric([values.dtype]):
        with np.errstate(invalid="ignore", over="ignore"):
            cast = values.astype(dtype)
            if np.dtype(dtype).kind in "fc":  # rounded, but a finite value stays finite
                changed = np.isfinite(values) & ~np.isfinite(cast)
            else:
                changed = cast.astype(values.dtype) != values
    if changed.any():
        raise ValueError(
            f"{name} declares dtype {np.dtype(dtype)}, but the output has dtype {values.dtype} with values "
            f"that {np.dtype(dtype)} cannot hold (e.g. {values[changed].ravel()[:3].tolist()}). Declare "
            f"the output's dtype ({values.dtype}), or leave {name}=None to learn it from one row."
        )
    return cast


_WIDTH_FROM_CLASSES = ("predict_proba", "predict_log_proba")
_WIDE = ("transform", "fit_transform")  # outputs of one column per output feature


def _sample_from_meta(est, method, X, meta):
    """What :func:`_sample_output` learns by calling the estimator, read from
    a meta the user declared instead (dask-ml's ``predict_meta`` & co): an
    empty numpy array, pandas Series or DataFrame like the output (rows it
    has are ignored). As in dask-ml, probabilities take one column per class
    whatever the meta's shape (only its dtype counts). A numpy meta without
    a width for ``transform`` takes the estimator's output feature names' count,
    or the width of the output on one row when it has none."""
    if method in _WIDTH_FROM_CLASSES and hasattr(est, "classes_") and np.ndim(est.classes_) == 1:
        n = len(est.classes_)
        if hasattr(meta, "iloc"):
            if meta.ndim == 2 and meta.shape[1] == n:
                return meta.iloc[:0]  # one column per class, named as declared
            if meta.ndim == 1:  # a Series: its dtype
                dtype = meta.dtype
            else:  # a DataFrame: its first column's (float64 without columns)
                dtype = meta.dtypes.iloc[0] if meta.shape[1] else np.dtype(np.float64)
            if hasattr(X, "iloc"):  # a frame's output: columns named after the classes
                import pandas as pd

                return pd.DataFrame({c: np.empty(0, dtype=dtype) for c in _output_columns(est, method, n)})
            return np.empty((0, n), dtype=dtype)
        return np.empty((0, n), dtype=np.asarray(meta).dtype)
    if hasattr(meta, "iloc"):
        return meta.iloc[:0]
    meta = np.asarray(meta)
    if (meta.ndim == 2 and meta.shape[1] == 0) or (meta.ndim == 1 and method in _WIDE):
        # the shape not declared (dask's ``meta=np.array([])`` idiom names a type and dtype):
        # the output feature names' count, else one row's output
        try:
            tail = (len(est.get_feature_names_out()),) if method in _WIDE else None
        except Exception:  # no names to count
            tail = None
        if tail is None:
            tail = np.shape(_sample_output(est, method, X))[1:]
        return np.empty((0,) + tuple(tail), dtype=meta.dtype)
    return np.empty((0,) + meta.shape[1:], dtype=meta.dtype)


def _output_columns(est, method: str, n: int) -> list:
    """Column names of a 2-D output on a DataFrame: the classes for
    probabilities, the estimator's output feature names for ``transform``
    (as ``set_output(transform="pandas")`` names them), the fitted input's
    columns for ``inverse_transform`` (the space it maps back to), else
    ``method0``..."""
    if method.startswith("predict_") and len(getattr(est, "classes_", ())) == n:
        return list(est.classes_)
    if method == "inverse_transform" and len(getattr(est, "feature_names_in_", ())) == n:
        return list(est.feature_names_in_)
    if method == "transform" and hasattr(est, "get_feature_names_out"):
        try:
            names = [str(c) for c in est.get_feature_names_out()]
        except Exception:  # some transformers cannot name their output
            names = []
        if len(names) == n:
            return names
    return [f"{method}{i}" for i in range(n)]


def apply_method(est, method: str, X, meta=None, meta_name: str | None = None):
    """``est.method(X)`` computed blockwise on a dask array or DataFrame.

    The output's kind, dtype and width are learned by calling the method on
    one row, unless ``meta`` (the parameter ``meta_name``, checked by
    :func:`check_meta`) declares them: then nothing is called or computed
    before the blocks run (see :func:`_sample_from_meta`), and each block's
    numeric output is cast to the declared dtype (see :func:`_cast_values`)."""
    import dask
    import dask.array as da

    from dasklearn._runtime import in_callers_config

    est_key = dask.delayed(est, name=f"estimator-{uuid.uuid4().hex}", traverse=False)
    # the blocks run as the sample below ran: under this thread's scikit-learn
    # config (transform_output="pandas", say), which other threads do not see
    call, call_frame = in_callers_config(_call), in_callers_config(_call_frame)
    declared = None if meta is None else (meta_name or "meta")  # blocks are cast to a declared meta's dtype
    if isinstance(X, da.Array):
        if X.ndim == 2 and len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        out = np.asarray(_sample_output(est, method, X) if meta is None else _sample_from_meta(est, method, X, meta))
        meta = np.empty((0,) * out.ndim, dtype=out.dtype)
        empty = np.empty((0,) + out.shape[1:], dtype=out.dtype)
        if out.ndim == 1:
            return X.map_blocks(call, est_key, method, empty, declared, drop_axis=1 if X.ndim == 2 else None,
                                dtype=out.dtype, meta=meta)
        return X.map_blocks(call, est_key, method, empty, declared, chunks=(X.chunks[0], (out.shape[1],)),
                            new_axis=1 if X.ndim == 1 else None, dtype=out.dtype, meta=meta)
    # dask DataFrame or Series
    import pandas as pd

    sample = _sample_output(est, method, X) if meta is None else _sample_from_meta(est, method, X, meta)
    out = np.asarray(sample)
    if isinstance(sample, (pd.DataFrame, pd.Series)) and (declared is not None or sample.ndim == 2):
        # its own columns and dtypes (set_output(transform="pandas")), or the declared dtype and name
        meta = sample.iloc[:0]
    elif out.ndim == 1:  # the dtype pandas gives the blocks' Series (text: str in pandas 3)
        meta = pd.Series(out).iloc[:0]
    else:
        columns = _output_columns(est, method, out.shape[1])
        meta = pd.DataFrame({c: np.empty(0, dtype=out.dtype) for c in columns})
    meta = meta.set_axis(X._meta.index[:0])  # X's index kind (dates, say), as the blocks keep it
    return X.map_partitions(call_frame, est_key, method, meta, declared, meta=meta)


def check_meta(name: str, meta) -> None:
    """A declared output meta (``predict_meta`` & co) is usable, or a TypeError
    that says what is expected, before any work."""
    if meta is None:
        return
    import pandas as pd

    if isinstance(meta, (pd.Series, pd.DataFrame)):
        return
    if isinstance(meta, np.ndarray) and meta.ndim in (1, 2):
        return
    got = (f"a {meta.ndim}-d numpy array" if isinstance(meta, np.ndarray)
           else f"{type(meta).__name__} {meta!r}"[:120])
    raise InvalidParameterError(
        f"{name} must be an empty numpy array (1-d, or 2-d with one column per output), a pandas "
        f"Series or a pandas DataFrame like the method's output: only its type, dtype and columns "
        f"are used. Got {got}. For example: {name}=np.empty(0, dtype=np.int64)."
    )


_LABEL_TYPES = (str, int, float, bool, type(None))
_SAVING = contextvars.ContextVar("dasklearn_saving_metas", default=False)


@contextlib.contextmanager
def saving_metas():
    """While a model file is written (:func:`dasklearn.io.save`), the
    meta-estimators give their pandas metas as :func:`meta_state` (skops
    cannot rebuild pandas objects); pickles and copies keep them as they are."""
    token = _SAVING.set(True)
    try:
        yield
    finally:
        _SAVING.reset(token)


def is_saving_metas() -> bool:
    return _SAVING.get()


def _plain(label):
    """A label as a builtin (numpy scalars too), or raise TypeError."""
    if isinstance(label, np.generic):
        label = label.item()
    if not isinstance(label, _LABEL_TYPES):
        raise TypeError(f"the label {label!r} is not a str, int, float, bool or None")
    return label


def _dtype_state(dtype):
    """A pandas / numpy dtype as builtins."""
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.categories is None:
            return {"categories": None, "ordered": bool(dtype.ordered)}
        return {"categories": [_plain(c) for c in dtype.categories], "ordered": bool(dtype.ordered),
                "categories_dtype": _dtype_state(dtype.categories.dtype)}
    if isinstance(dtype, pd.StringDtype):
        return {"string": dtype.storage, "na_value": "NA" if getattr(dtype, "na_value", pd.NA) is pd.NA else "nan"}
    return str(dtype)


def _dtype_from_state(state):
    import pandas as pd

    if isinstance(state, dict) and "string" in state:
        if state["na_value"] == "NA":
            return pd.StringDtype(state["string"])
        return pd.StringDtype(state["string"], na_value=np.nan)
    if isinstance(state, dict):
        cats = state["categories"]
        if cats is not None:
            cats = pd.Index(cats, dtype=_dtype_from_state(state["categories_dtype"]))
        return pd.CategoricalDtype(cats, ordered=state["ordered"])
    return pd.api.types.pandas_dtype(state)


def _same_meta(a, b) -> bool:
    """Same type, dtypes (with a categorical's categories and their dtype),
    and name or columns (with their dtype and name)."""
    import pandas as pd

    if type(a) is not type(b):
        return False
    if isinstance(a, pd.Series):
        return repr(a.dtype) == repr(b.dtype) and a.dtype == b.dtype and a.name == b.name
    return (list(map(repr, a.dtypes)) == list(map(repr, b.dtypes)) and list(a.columns) == list(b.columns)
            and a.columns.dtype == b.columns.dtype and list(a.columns.names) == list(b.columns.names))


def meta_state(meta, name: str = "meta"):
    """A pandas output meta (``predict_meta`` & co, parameter ``name``) as
    builtins: its type, name or columns and dtypes, the parts a meta
    declares (its rows never count), rebuilt by :func:`meta_from_state`.
    Anything else is returned as it is. A TypeError says what cannot be
    described exactly (tuple column labels, say)."""
    import pandas as pd

    if not isinstance(meta, (pd.Series, pd.DataFrame)):
        return meta
    try:
        if isinstance(meta, pd.Series):
            state = {"pandas_meta": "Series", "name": _plain(meta.name), "dtypes": [_dtype_state(meta.dtype)]}
        else:
            state = {"pandas_meta": "DataFrame", "columns": [_plain(c) for c in meta.columns],
                     "columns_dtype": _dtype_state(meta.columns.dtype),
                     "columns_name": _plain(meta.columns.name), "dtypes": [_dtype_state(t) for t in meta.dtypes]}
        same = _same_meta(meta_from_state(state), meta)
        why = "it does not come back the same from its description"
    except (TypeError, ValueError) as exc:
        same, why = False, str(exc)
    if not same:
        raise TypeError(
            f"{name}={type(meta).__name__} cannot be stored in a model file ({why}): skops cannot rebuild "
            f"pandas objects, so a meta is stored as its dtypes and labels, which must be plain (str, int, "
            f"float, bool or None). Declare {name} with plain labels or a numpy array, or set it to None "
            f"(set_params({name}=None)) before saving."
        )
    return state


def meta_from_state(state):
    """The empty pandas meta :func:`meta_state` described (anything else as it is)."""
    import pandas as pd

    if not (isinstance(state, dict) and state.get("pandas_meta") in ("Series", "DataFrame")):
        return state
    dtypes = [_dtype_from_state(d) for d in state["dtypes"]]
    if state["pandas_meta"] == "Series":
        return pd.Series([], dtype=dtypes[0], name=state["name"])
    columns = pd.Index(state["columns"], dtype=_dtype_from_state(state["columns_dtype"]),
                       name=state["columns_name"])
    frame = pd.DataFrame({i: pd.Series([], dtype=t) for i, t in enumerate(dtypes)})
    return frame.set_axis(columns if len(columns) else pd.RangeIndex(0, name=state["columns_name"]), axis=1)


RESPONSES = ("predict", "predict_proba", "predict_log_proba", "decision_function")


class Responses:
    """Stand-in for an estimator inside a scorer: its response methods
    return ``respond(name, X)`` (computed elsewhere: blockwise on dask X, on
    the workers...); every other attribute is the estimator's. ``missing``
    lists the response methods asked for that the estimator lacks."""

    def __init__(self, est, respond):
        self._est = est
        self._respond = respond
        self.missing = []

    def __getattr__(self, name):
        if name in RESPONSES:
            if not hasattr(self._est, name):
                self.missing.append(name)
                raise AttributeError(name)

            def method(X, **kwargs):
                return self._respond(name, X)

            method.__name__ = name  # scikit-learn's scorers look the response up by name
            return method
        return getattr(self._est, name)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        return get_tags(self._est)


class Asked(Exception):
    """Raised by :func:`ask`: ``method`` is the response a scorer asked for,
    None for an estimator's own ``score`` (which needs X itself)."""

    def __init__(self, method):
        super().__init__(method)
        self.method = method


def ask(name, X=None):
    """The response methods of a probe (``Responses(est, ask)``): a scorer
    calling one stops there, before reading any data."""
    raise Asked(name)


class _BlockwiseResponses(Responses):
    """Responses computed blockwise on the dask X the scorer passes in, then
    gathered (one value or one row of probabilities per sample). ``known``
    is a response already computed for that X, ``(X, method, value)``."""

    def __init__(self, est, known=None):
        super().__init__(est, self._blockwise)
        self._known = known

    def _blockwise(self, name, X):
        if self._known is not None and self._known[0] is X and self._known[1] == name:
            return _as_numpy(self._known[2])
        return _as_numpy(_compute(apply_method(self._est, name, X)))

    def score(self, X, y, sample_weight=None):
        from sklearn.base import is_classifier
        from sklearn.metrics import accuracy_score, r2_score

        if _mixin_score(self._est):
            metric = accuracy_score if is_classifier(self._est) else r2_score
            return metric(y, self.predict(X), sample_weight=sample_weight)
        # an estimator with its own score needs the data itself
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self._est.score(X.compute(), y, **kw)


class _ResponseProbe(Responses):
    """A probe: stops a scorer at its first request for a response (raising
    :class:`Asked`), before any data is read; ``score`` stands for ``predict``
    when it is scikit-learn's accuracy or R^2."""

    def __init__(self, est):
        super().__init__(est, ask)

    def score(self, X, y, sample_weight=None):
        raise Asked("predict" if _mixin_score(self._est) else None)


def _mixin_score(est) -> bool:
    """Is ``est.score`` scikit-learn's accuracy or R^2 of ``predict``?"""
    from sklearn.base import ClassifierMixin, RegressorMixin

    return type(est).score in (ClassifierMixin.score, RegressorMixin.score)


# scikit-learn's scorers of one metric (check_scoring, get_scorer, make_scorer); its
# multi-metric scorer is left out: it may hold a user's callable
_PROBED_SCORERS = frozenset({"_Scorer", "_PassthroughScorer"})


def _response_asked(scorer, est, X, y, kwargs):
    """The response method ``scorer`` computes first, found by calling it on
    a probe that stops it there; None when that cannot be known safely.

    Only scikit-learn's own scorers of one metric are probed: they read
    nothing before asking for the response, and calling them has no side
    effect (their warnings are the real call's to give). A user's scorer
    is never called more than once."""
    import warnings

    if not (type(scorer).__module__.startswith("sklearn.") and type(scorer).__name__ in _PROBED_SCORERS):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scorer(_ResponseProbe(est), X, y, **kwargs)
    except Asked as asked:
        return asked.method
    except Exception:
        return None
    return None


def compute_here(*objs) -> list:
    """In-memory values of ``objs`` (dask collections computed by the runtime,
    on the cluster when there is one; other objects as they are)."""
    if not any(is_dask(o) for o in objs):
        return list(objs)
    from dasklearn._runtime import get_backend

    backend = get_backend()
    try:
        return backend.compute(*objs)
    finally:
        backend.close()


def _score_task(scorer, est, X, y, kwargs):
    return scorer(est, X, y, **kwargs)


def score(scorer, est, X, y, **kwargs):
    """``scorer(est, X, y)`` where X may be a dask collection.

    Small dask input (see the runtime's one-task policy) is brought together
    on one worker and scored there: one number comes back. Larger input is
    scored from responses computed blockwise; only those, y and dask-valued
    scorer arguments (sample weights) come here. When the response the
    scorer asks for is known up front (scikit-learn's scorers of one
    metric, found by a probe), it is computed together with y and those
    arguments (each kind of collection together, see the runtime's
    ``materialize_on_cluster``), so a graph they share (X and y columns of
    one DataFrame) runs once.
    """
    if not is_dask(X):
        return scorer(est, X, y, **kwargs)
    from dasklearn._runtime import get_backend, runs_in_one_task

    backend = get_backend()
    placed = []
    try:
        if runs_in_one_task([X, y] if is_dask(y) else [X]):
            placed = backend.materialize(X, y)
            return backend.result(backend.submit(_score_task, scorer, est, *placed, kwargs))
        lazy = [k for k, v in kwargs.items() if is_dask(v)]
        method = _response_asked(scorer, est, X, y, kwargs) if is_dask(y) or lazy else None
        wanted = [apply_method(est, method, X)] if method is not None else []
        values = backend.compute(*wanted, y, *(kwargs[k] for k in lazy))
        known = (X, method, values.pop(0)) if method is not None else None
        y_local = values.pop(0)
        kwargs = {**kwargs, **{k: _as_numpy(v) for k, v in zip(lazy, values)}}
        return scorer(_BlockwiseResponses(est, known), X, _as_numpy(y_local), **kwargs)
    finally:
        backend.release(placed)
        backend.close()


def _as_numpy(values):
    return values.to_numpy() if hasattr(values, "to_numpy") else values
