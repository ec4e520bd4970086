"""Model selection on Dask: splits, distributed and adaptive hyperparameter searches."""

from dasklearn.model_selection._hyperband import HyperbandSearchCV, SuccessiveHalvingSearchCV
from dasklearn.model_selection._incremental import IncrementalSearchCV, InverseDecaySearchCV
from dasklearn.model_selection._search import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection._split import KFold, ShuffleSplit, train_test_split

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
