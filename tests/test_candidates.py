"""Candidate generation: distributions expanded into deterministic grids."""

import numpy as np
import pytest
from scipy.stats import loguniform, norm, randint, uniform
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dasklearn.model_selection._candidates import check_param_names, expand_param_grid, quantile_grid


def test_uniform_grid_is_bin_midpoints():
    np.testing.assert_allclose(quantile_grid(uniform(0, 1), 5), [0.1, 0.3, 0.5, 0.7, 0.9], rtol=1e-12)


def test_loguniform_grid_is_log_spaced():
    values = quantile_grid(loguniform(1e-5, 1e-1), 5)
    np.testing.assert_allclose(np.log10(values), [-4.6, -3.8, -3.0, -2.2, -1.4], rtol=1e-12)


def test_unbounded_distribution_stays_finite():
    values = quantile_grid(norm(0, 1), 4)
    assert np.all(np.isfinite(values)) and values == sorted(values)


def test_discrete_distribution_of_given_values_gives_those_values():
    # rv_discrete(values=...) as RandomizedSearchCV users pass it (not frozen), frozen, and
    # shifted: the values it takes, of their type, never integers between them nor duplicates
    from scipy.stats import rv_discrete

    ints = rv_discrete(values=([1, 5, 15], [0.2, 0.5, 0.3]))
    for dist, expected in [(ints, [1, 5, 15]), (ints(), [1, 5, 15]), (ints(loc=1), [2, 6, 16]),
                           (rv_discrete(values=([0.01, 0.1, 1.0], [0.2, 0.5, 0.3])), [0.01, 0.1, 1.0]),
                           (rv_discrete(values=([2, 4, 8, 9], [0.5, 0.5, 0.0, 0.0])), [2, 4]),
                           (rv_discrete(values=([0.1, 0.2, 0.7], [0.2, 0.5, 0.3]))(loc=0.2),
                            [0.1 + 0.2, 0.2 + 0.2, 0.7 + 0.2])]:
        values = quantile_grid(dist, 5)
        assert values == pytest.approx(expected, rel=1e-12)
        assert [type(v) for v in values] == [type(v) for v in expected]
    many = quantile_grid(rv_discrete(values=(np.arange(0, 200, 2), np.full(100, 0.01))), 5)
    assert len(many) == 5 and many == sorted(set(many)) and all(type(v) is int and v % 2 == 0 for v in many)


def test_small_discrete_support_is_enumerated():
    assert quantile_grid(randint(1, 4), 5) == [1, 2, 3]
    big = quantile_grid(randint(0, 10_000), 5)
    assert len(big) == 5 and all(isinstance(v, int) for v in big)


def test_tutorial_grid_has_25_points():
    grid = expand_param_grid({"alpha": loguniform(1e-5, 1e-1), "l1_ratio": uniform(0, 1)})
    assert len(ParameterGrid(grid)) == 25
    assert len(ParameterGrid(expand_param_grid({"alpha": uniform(0, 1)}, n_grid_points=7))) == 7


def test_lists_pass_through_and_list_of_dicts():
    grid = expand_param_grid([{"a": [1, 2]}, {"b": uniform(0, 1)}], n_grid_points=2)
    assert grid == [{"a": [1, 2]}, {"b": [0.25, 0.75]}]


@pytest.mark.parametrize(
    "grid, n, match",
    [
        ({"a": 3}, 5, r"param_grid\['a'\] must be a list"),
        ({"a": "abc"}, 5, r"must be a list of values"),
        ({"a": []}, 5, r"is empty"),
        ({"a": [1]}, 0, r"n_grid_points must be a positive integer"),
        ("nope", 5, r"param_grid must be a dict"),
    ],
)
def test_bad_grids_are_explained(grid, n, match):
    with pytest.raises((TypeError, ValueError), match=match):
        expand_param_grid(grid, n_grid_points=n)


def test_unknown_parameter_rejected_with_suggestion():
    with pytest.raises(ValueError, match=r"Invalid parameter 'alpah'.*SGDClassifier"):
        check_param_names(SGDClassifier(), [{"alpah": 1.0}])
    pipe = make_pipeline(StandardScaler(), SGDClassifier())
    check_param_names(pipe, [{"sgdclassifier__alpha": 1.0}])
    with pytest.raises(ValueError, match=r"Did you mean.*sgdclassifier__alpha"):
        check_param_names(pipe, [{"sgd__alpha": 1.0}])
    with pytest.raises(ValueError, match=r"Did you mean one of \['sgdclassifier__alpha'\]"):
        check_param_names(pipe, [{"alpha": 1.0}])  # a step's parameter without the step's prefix
    # a step replaced by the candidate brings its own parameters
    check_param_names(pipe, [{"standardscaler": StandardScaler(), "standardscaler__with_mean": False}])
