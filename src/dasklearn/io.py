"""Saving and loading fitted models without executing code on load.

``pickle`` (and joblib) files run arbitrary code when loaded, so a model file
from an untrusted source is a security hole. dasklearn saves models in the
skops format (a zip of JSON describing the objects, plus numpy arrays), and
:func:`load` rebuilds only types it trusts: skops's defaults (scikit-learn's
estimators, numpy, builtins), dasklearn's estimators, and what a fitted
search holds (scikit-learn's scorers and public metric functions, and
scipy.stats distributions), plus any type you name in ``trusted``. Loading
may call those (skops rebuilds objects by calling their type with arguments
from the file), so trust goes to constructors and functions that are
harmless whatever their arguments, never to a whole package: a name such as
``dasklearn.io.save`` is refused. A file that asks for anything else (a
tampered or malicious file) is refused with :class:`UntrustedModelError`
before any object is built.

Requires the ``skops`` package (``pip install skops``).
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
            "Saving and loading models needs the skops package: pip install skops"
        ) from exc
    return sio


def _resolve(type_name: str):
    """The object ``type_name`` names, for the packages whose types may be
    trusted here (None otherwise: no other module is imported)."""
    import importlib

    module, _, name = type_name.rpartition(".")
    if not module.startswith(("dasklearn.", "sklearn.metrics.", "scipy.stats.")):
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except Exception:
        return None


def _trusted_by_default(type_name: str) -> bool:
    """Types a file of dasklearn's models may hold, beyond skops's defaults:
    dasklearn's estimator classes (constructors only store parameters) and
    data classes; scikit-learn's scorer classes and public metric functions;
    scipy.stats distributions (a search's ``param_distributions``)."""
    from sklearn.base import BaseEstimator

    obj = _resolve(type_name)
    if obj is None:
        return False
    if type_name.startswith("dasklearn."):
        from dasklearn.model_selection._policies import Bracket

        return isinstance(obj, type) and (issubclass(obj, BaseEstimator) or obj is Bracket)
    if type_name.startswith("sklearn.metrics."):
        import sklearn.metrics

        if isinstance(obj, type):
            return obj.__module__ == "sklearn.metrics._scorer" and obj.__name__.endswith("Scorer")
        return callable(obj) and getattr(sklearn.metrics, getattr(obj, "__name__", ""), None) is obj
    import scipy.stats as st

    frozen = (type(st.uniform()), type(st.randint(0, 2)))
    return isinstance(obj, type) and (issubclass(obj, (st.rv_continuous, st.rv_discrete)) or obj in frozen)


def save(estimator, path) -> None:
    """Save a fitted estimator to ``path`` in the skops format."""
    _skops().dump(estimator, os.fspath(path))


def load(path, trusted=()):
    """Load an estimator saved with :func:`save`, refusing untrusted types.

    Parameters
    ----------
    path : str or path-like
        The model file.
    trusted : str or sequence of str, default=()
        Extra fully qualified type names to trust (e.g. a custom estimator
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
    refused = [t for t in untrusted if t not in trusted and not _trusted_by_default(t)]
    if refused:
        raise UntrustedModelError(
            f"{path} asks for types that are not trusted: {refused}. Nothing was loaded. If "
            f"you wrote this file and trust these types, pass them as load(path, "
            f"trusted=[...]); otherwise do not use the file."
        )
    return sio.load(path, trusted=list(untrusted))
