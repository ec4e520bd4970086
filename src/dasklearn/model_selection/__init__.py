"""Model selection on Dask: splits and distributed hyperparameter searches."""

from dasklearn.model_selection._search import GridSearchCV, RandomizedSearchCV
from dasklearn.model_selection._split import KFold, ShuffleSplit, train_test_split

__all__ = [
    "GridSearchCV",
    "KFold",
    "RandomizedSearchCV",
    "ShuffleSplit",
    "train_test_split",
]
