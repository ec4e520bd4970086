"""Exact generalised linear models on data that stays distributed.

See :mod:`dasklearn.linear_model._glm` for the objectives and the table of
which solver supports which penalty.
"""

from dasklearn.linear_model._glm import LinearRegression, LogisticRegression, PoissonRegression

__all__ = ["LinearRegression", "LogisticRegression", "PoissonRegression"]
