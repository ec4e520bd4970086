"""Saving and loading fitted models without executing code on load.

``pickle`` (and joblib) files run arbitrary code when loaded, so a model file
from an untrusted source is a security hole. dasklearn saves models in the
skops format (a zip of JSON describing the objects, plus numpy arrays), and
:func:`load` rebuilds only types it trusts: skops's defaults (scikit-learn's
estimators, numpy, builtins), dasklearn's estimators and splitters, and
scikit-learn's scorers and metric functions (what a fitted search holds),
plus any type you name in ``trusted``. Loading may call those (skops
rebuilds objects by calling their type, or their ``__setstate__``, with
arguments from the file), so trust goes to a fixed list of constructors and
functions that are harmless whatever their arguments, never to a whole
package: a name such as ``dasklearn.io.save`` is refused, and no module a
file names is imported to judge it. A file that asks for anything else (a
tampered or malicious file) is refused with :class:`UntrustedModelError`
before any object is built.

scipy.stats distributions (a search's ``param_distributions``, or the grid
a distribution was expanded from) are *not* trusted by default: unpickling
one runs a code template that the file itself holds (scipy's
``rv_generic.__setstate__``). Name them in ``trusted`` only for files you
made, or save ``search.best_estimator_`` rather than the search.

Requires the ``skops`` package (the ``io`` extra: ``pip install ".[io]"`` from a checkout).
"""

from __future__ import annotations

import os

__all__ = ["UntrustedModelError", "load", "save"]


class UntrustedModelError(ValueError):
    """The model file asks for types that are not trusted."""


def _skops():
    try:
        import skops.io as sio
    except ImportError as exc:  # pragma: no cover - skops is installed with [test]
        raise ImportError(
            "Saving and loading models needs the skops package: pip install skops (or the io extra of dasklearn)"
        ) from exc
    return sio


def _qualified(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _default_trusted() -> frozenset:
    """Names a file of dasklearn's models may hold, beyond skops's defaults,
    listed from modules dasklearn imports itself (never from names in the
    file): dasklearn's estimators, splitters and Hyperband's brackets (their
    constructors only store their arguments); scikit-learn's scorer classes
    and the public metric functions scorers use (``*_score``, ``*_error``,
    ``*_loss``, ``*_deviance``, and those scikit-learn's scorers call);
    ``numpy.dtype``; scikit-learn's metadata request records; the optimizers
    a fitted MLP holds."""
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression as _Probe
    from sklearn.metrics import check_scoring, get_scorer, get_scorer_names

    import dasklearn.linear_model as lm
    import dasklearn.model_selection as ms
    import dasklearn.wrappers as wr
    from dasklearn.model_selection._policies import Bracket

    names = {_qualified(getattr(mod, n)) for mod in (lm, ms, wr) for n in mod.__all__
             if isinstance(getattr(mod, n), type)}
    names.add(_qualified(Bracket))
    names |= {_qualified(type(get_scorer(n))) for n in get_scorer_names()}
    names.add(_qualified(type(check_scoring(_Probe()))))
    names |= {_qualified(getattr(sklearn.metrics, n)) for n in sklearn.metrics.__all__
              if n.endswith(("_score", "_error", "_loss", "_deviance")) and callable(getattr(sklearn.metrics, n))}
    # the metric functions scikit-learn's own scorers call (matthews_corrcoef,
    # the likelihood ratios), read from the scorer objects themselves
    for n in get_scorer_names():
        names |= {_qualified(v) for v in vars(get_scorer(n)).values()
                  if callable(v) and not isinstance(v, type) and hasattr(v, "__qualname__")
                  and getattr(v, "__module__", "").startswith("sklearn.metrics")}
    names.add("numpy.dtype")  # a dtype from its name: what fitted imputers & co hold
    # a fitted MLP (which DataParallel trains) holds its optimizer: plain
    # records of arrays and numbers, rebuilt without running any of their code.
    # Named as skops names them (their module is scikit-learn's private one:
    # nothing is imported from it; should it move, such files ask for trusted=)
    names |= {f"sklearn.neural_network._stochastic_optimizers.{n}" for n in ("AdamOptimizer", "SGDOptimizer")}
    # the metadata requests some scikit-learn versions keep on scorers (plain records)
    from sklearn.utils.metadata_routing import MetadataRequest

    request = MetadataRequest(owner="dasklearn")
    names |= {_qualified(MetadataRequest), _qualified(type(request.fit))}
    return frozenset(names)


def save(estimator, path) -> None:
    """Save a fitted estimator to ``path`` in the skops format.

    A wrapper's pandas ``predict_meta`` & co are stored as their dtypes and
    labels (skops cannot rebuild pandas objects); a TypeError names one
    that cannot be (labels that are not str, int, float, bool or None)."""
    from dasklearn._blockwise import saving_metas

    sio = _skops()
    with saving_metas():
        sio.dump(estimator, os.fspath(path))


def load(path, trusted=()):
    """Load an estimator saved with :func:`save`, refusing untrusted types.

    Parameters
    ----------
    path : str or path-like
        The model file.
    trusted : str, sequence of str or None, default=()
        Extra fully qualified type names to trust (None: none) (e.g. a custom estimator
        ``"mypackage.models.MyEstimator"``). Review a file's types first with
        ``skops.io.get_untrusted_types(file=path)``.

    Raises
    ------
    UntrustedModelError
        If the file asks for any type that is not trusted; nothing is built.
    FileNotFoundError, IsADirectoryError
        If there is no file at ``path``.
    """
    sio = _skops()
    path = os.fspath(path)
    if trusted is None:
        trusted = ()
    if isinstance(trusted, bool) or not isinstance(trusted, (str, list, tuple, set, frozenset)):
        raise TypeError(
            f"trusted must be a type name or a list of type names, as skops.io.get_untrusted_types("
            f"file=path) gives them; got {trusted!r}. dasklearn does not trust every type at once: a "
            "file's types may run code when built, so name the ones you checked."
        )
    trusted = {trusted} if isinstance(trusted, str) else set(trusted)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory, not a model file.")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise UntrustedModelError(
            f"{path} is not a readable skops model file ({type(exc).__name__}: {exc}). It may be "
            f"corrupted or tampered with; save the model again with dasklearn.io.save."
        ) from exc
    allowed = trusted | _default_trusted()
    refused = [t for t in untrusted if t not in allowed]
    if refused:
        raise UntrustedModelError(
            f"{path} asks for types that are not trusted: {refused}. Nothing was loaded. If "
            f"you wrote this file and trust these types, pass them as load(path, "
            f"trusted=[...]); otherwise do not use the file."
        )
    try:
        return sio.load(path, trusted=list(untrusted))
    except (ImportError, AttributeError):  # a trusted type whose module is not installed here
        raise
    except Exception as exc:  # a damaged member: its arrays, say (the cause is chained)
        raise UntrustedModelError(
            f"{path} is not a readable skops model file: a part of it could not be read "
            f"({type(exc).__name__}). It may be corrupted or tampered with; save the model again "
            f"with dasklearn.io.save."
        ) from exc
