"""Parameters of the searches: storing them in ``__init__``, checking them in ``fit``.

scikit-learn's convention is that ``__init__`` stores each argument of its
signature, unchanged, as an attribute of the same name, and does nothing
else (no validation: that happens in ``fit``), so that ``get_params``,
``set_params`` and ``clone`` work. The signature itself stays explicit in
every public class, because scikit-learn reads the parameters from it.
"""

from __future__ import annotations

import numbers

from dasklearn._validation import InvalidParameterError


def store_init_args(estimator, args: dict) -> None:
    """Store a constructor's arguments on ``estimator`` under their own names.

    Parameters
    ----------
    estimator : object
        The instance being constructed (``self``).
    args : dict
        ``locals()`` taken as the first statement of ``__init__``: exactly
        the arguments of its signature (and ``self``, which is skipped).
    """
    for name, value in args.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def is_int(x) -> bool:
    """An integer, but not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)




def fail(owner, name, value, expected, fix="", error=InvalidParameterError):
    """Raise the InvalidParameterError of a parameter, naming the estimator
    (``error=ValueError`` for a value valid alone that clashes with another
    parameter, as scikit-learn raises those)."""
    raise error(
        f"{type(owner).__name__}: {name} must be {expected}; got {value!r}."
        + (f" {fix}" if fix else "")
    )
