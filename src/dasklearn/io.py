"""Saving and loading fitted models without executing code on load.

``pickle`` (and joblib) files run arbitrary code when loaded, so a model file
from an untrusted source is a security hole. dasklearn saves models in the
skops format (a zip of JSON describing the objects, plus numpy arrays), and
:func:`load` rebuilds only types it trusts: scikit-learn, numpy, scipy and
dasklearn's own estimators, plus any type you name in ``trusted``. A file
that asks for anything else (a tampered or malicious file) is refused with
:class:`UntrustedModelError` before any object is built.

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


def _ours(type_name: str) -> bool:
    return type_name.startswith("dasklearn.")


def save(estimator, path) -> None:
    """Save a fitted estimator to ``path`` in the skops format."""
    _skops().dump(estimator, os.fspath(path))


def load(path, trusted=()):
    """Load an estimator saved with :func:`save`, refusing untrusted types.

    Parameters
    ----------
    path : str or path-like
        The model file.
    trusted : sequence of str, default=()
        Extra fully qualified type names to trust (e.g. a custom estimator
        ``"mypackage.models.MyEstimator"``). Review a file's types first with
        ``skops.io.get_untrusted_types(file=path)``.

    Raises
    ------
    UntrustedModelError
        If the file asks for any type that is not trusted; nothing is built.
    """
    sio = _skops()
    path = os.fspath(path)
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise UntrustedModelError(
            f"{path} is not a readable skops model file ({type(exc).__name__}: {exc}). It may be "
            f"corrupted or tampered with; save the model again with dasklearn.io.save."
        ) from exc
    refused = [t for t in untrusted if t not in set(trusted) and not _ours(t)]
    if refused:
        raise UntrustedModelError(
            f"{path} asks for types that are not trusted: {refused}. Nothing was loaded. If "
            f"you wrote this file and trust these types, pass them as load(path, "
            f"trusted=[...]); otherwise do not use the file."
        )
    return sio.load(path, trusted=list(untrusted))
