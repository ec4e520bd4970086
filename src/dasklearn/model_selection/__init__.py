"""Model selection on Dask: splits, distributed and adaptive hyperparameter searches."""

from dasklearn.model_selection._search import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection._split import KFold, ShuffleSplit, train_test_split

# The adaptive searches load on first use: most programs never need them.
_LAZY = {
    "HyperbandSearchCV": "dasklearn.model_selection._hyperband",
    "SuccessiveHalvingSearchCV": "dasklearn.model_selection._hyperband",
    "IncrementalSearchCV": "dasklearn.model_selection._incremental",
    "InverseDecaySearchCV": "dasklearn.model_selection._incremental",
}

__all__ = [
    "GridSearchCV",
    "HyperbandSearchCV",
    "IncrementalSearchCV",
    "InverseDecaySearchCV",
    "KFold",
    "RandomizedSearchCV",
    "ShuffleSplit",
    "SuccessiveHalvingSearchCV",
    "train_test_split",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
