"""Tests for dasklearn.datasets (threaded/synchronous schedulers, plus one cluster test)."""

from __future__ import annotations

import time

import dask
import numpy as np
import pytest

from dasklearn import datasets
from dasklearn.datasets import make_blobs, make_classification, make_counts, make_regression

GENERATORS = {
    "classification": (make_classification, dict(n_features=7, n_informative=3), np.int64),
    "regression": (make_regression, dict(n_features=7, n_informative=3), np.float64),
    "blobs": (make_blobs, dict(n_features=7, centers=4), np.int64),
    "counts": (make_counts, dict(n_features=7, n_informative=3), np.int64),
}


def _xy(name, **kwargs):
    func, defaults, _ = GENERATORS[name]
    out = func(**{**defaults, **kwargs})
    return out[0], out[1]


@pytest.mark.parametrize("name", GENERATORS)
def test_shapes_chunks_dtypes(name):
    X, y = _xy(name, n_samples=1050, chunks=200, random_state=0)
    assert X.shape == (1050, 7) and y.shape == (1050,)
    assert X.chunks == ((200,) * 5 + (50,), (7,))
    assert y.chunks == (X.chunks[0],)
    assert X.dtype == np.float64 and y.dtype == GENERATORS[name][2]
    Xc, yc = dask.compute(X, y)
    assert Xc.shape == (1050, 7) and Xc.dtype == np.float64 and np.all(np.isfinite(Xc))
    assert yc.shape == (1050,) and yc.dtype == GENERATORS[name][2]
    Xt, _ = _xy(name, n_samples=1050, chunks=(500, 50, 500), random_state=0)
    assert Xt.chunks == ((500, 50, 500), (7,))


@pytest.mark.parametrize("name", GENERATORS)
def test_reproducible(name):
    a = dask.compute(*_xy(name, n_samples=600, chunks=150, random_state=3))
    b = dask.compute(*_xy(name, n_samples=600, chunks=150, random_state=3), scheduler="sync")
    c = dask.compute(*_xy(name, n_samples=600, chunks=150, random_state=4))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # chunks given as sizes: same blocks, same numbers; other chunking, other numbers
    d = dask.compute(*_xy(name, n_samples=600, chunks=(150,) * 4, random_state=3))
    np.testing.assert_array_equal(a[0], d[0])
    e = _xy(name, n_samples=600, chunks=200, random_state=3)[0].compute()
    assert not np.array_equal(a[0], e)
    # a RandomState/Generator is drawn from once, on the client
    f = _xy(name, n_samples=600, chunks=150, random_state=np.random.RandomState(1))[0]
    g = _xy(name, n_samples=600, chunks=150, random_state=np.random.RandomState(1))[0]
    h = _xy(name, n_samples=600, chunks=150, random_state=np.random.default_rng(1))[0]
    assert f.name == g.name != h.name
    np.testing.assert_array_equal(f.compute(), g.compute())


@pytest.mark.parametrize("name", GENERATORS)
def test_block_independent_of_other_blocks(name):
    X, y = _xy(name, n_samples=1000, chunks=180, random_state=5)
    Xc, yc = dask.compute(X, y)
    np.testing.assert_array_equal(X.blocks[3].compute(), Xc[540:720])
    np.testing.assert_array_equal(y.blocks[3].compute(), yc[540:720])
    # a slice of the array is the same numbers as the slice of the computed array
    np.testing.assert_array_equal(X[700:900].compute(), Xc[700:900])


def test_x_and_y_are_one_draw_per_block(monkeypatch):
    calls = []

    def counting(rng, start, stop, p, _inner=datasets._classification_block):
        calls.append(start)
        return _inner(rng, start, stop, p)

    monkeypatch.setattr(datasets, "_classification_block", counting)
    X, y = make_classification(1000, 10, chunks=250, random_state=0)
    dask.compute(X, y, scheduler="sync")
    assert sorted(calls) == [0, 250, 500, 750]


def test_graph_build_is_constant_time():
    start = time.perf_counter()
    X, y = make_classification(n_samples=10**9, n_features=20, chunks=100_000, random_state=0)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, elapsed  # loose bound: about graph-construction complexity
    assert X.numblocks == (10_000, 1) and y.numblocks == (10_000,)
    # nothing materialised per block: every array layer is lazy (Blockwise)
    layers = X.__dask_graph__().layers
    assert len(layers) == 3
    assert all(not lay.is_materialized() for name, lay in layers.items() if "params" not in name)


@pytest.mark.parametrize("name", ["regression", "blobs", "counts"])
def test_graph_build_is_constant_time_other_generators(name):
    start = time.perf_counter()
    X, y = _xy(name, n_samples=10**9, chunks=100_000, random_state=0)
    assert time.perf_counter() - start < 2.0
    assert X.numblocks == (10_000, 1) and y.chunks == (X.chunks[0],)


def test_classification_separable():
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(
        4000, 10, n_informative=4, n_classes=3, n_clusters_per_class=1, flip_y=0.0,
        class_sep=4.0, chunks=1000, random_state=0,
    )
    Xc, yc = dask.compute(X, y)
    assert set(np.unique(yc)) == {0, 1, 2}
    assert LogisticRegression(max_iter=500).fit(Xc, yc).score(Xc, yc) > 0.95


@pytest.mark.parametrize(
    "weights, n_classes, expected",
    [
        ([0.8, 0.2], 2, [0.8, 0.2]),
        ([0.5, 0.3], 3, [0.5, 0.3, 0.2]),  # n_classes - 1 weights: the last gets the rest
        ([0.2, 0.4], 2, [0.4, 0.6]),  # not normalised: the rows left over go round robin
    ],
)
def test_classification_weights(weights, n_classes, expected):
    y = make_classification(
        20_000, 6, n_informative=3, n_classes=n_classes, weights=weights, flip_y=0.0,
        chunks=1_700, random_state=0,
    )[1].compute()
    np.testing.assert_allclose(np.bincount(y, minlength=n_classes) / len(y), expected, atol=0.002)


# (n_classes, n_clusters_per_class, weights): None, n_classes - 1 values, summing
# below one (leftover rows round robin), above one (later clusters cut off), zero;
# n_classes - 1 values summing to 1 but for round-off (the last class: no rows)
CLASS_WEIGHTS = [
    (2, 2, None), (2, 1, None), (3, 2, None), (3, 1, [0.5, 0.3]), (2, 2, [0.9]),
    (2, 2, [0.2, 0.4]), (2, 2, [0.7, 0.6]), (3, 2, [0.1, 0.1, 0.1]), (3, 1, [0.6, 0.5, 0.4]),
    (2, 1, [0.0, 0.0]), (5, 1, [0.2, 0.4, 0.3, 0.1]),
]


def _chunkings(n):
    """One block, then several chunkings (even, uneven, one row per block if small)."""
    return [n, max(1, n // 3), 7, (n // 2, n - n // 2) if n > 1 else 1] + ([1] if n <= 40 else [])


@pytest.mark.parametrize("n_samples", [2, 6, 10, 22, 37, 100])
def test_classification_class_counts_are_sklearns(n_samples):
    from sklearn.datasets import make_classification as sk_make_classification

    for n_classes, ncpc, weights in CLASS_WEIGHTS:
        kwargs = dict(n_samples=n_samples, n_features=5, n_informative=3, n_redundant=0,
                      n_classes=n_classes, n_clusters_per_class=ncpc, weights=weights,
                      flip_y=0.0, random_state=0)
        expected = np.bincount(sk_make_classification(**kwargs)[1], minlength=n_classes)
        for chunks in _chunkings(n_samples):
            y = make_classification(**kwargs, chunks=chunks)[1].compute(scheduler="sync")
            got = np.bincount(y, minlength=n_classes)
            np.testing.assert_array_equal(got, expected, err_msg=f"{kwargs} chunks={chunks}")


def test_classification_one_block_small_n_is_balanced():
    """Two rows are one per class (a classifier can be fitted), as scikit-learn."""
    for n in (2, 4, 6, 10):
        y = make_classification(n, flip_y=0.0, random_state=0)[1].compute()
        np.testing.assert_array_equal(np.bincount(y), [n // 2, n // 2])


@pytest.mark.parametrize(
    "n_samples, centers",
    [(2, 3), (7, 3), (100, 3), (601, 4), ([100, 200, 300], None), ([0, 5, 1, 12], None),
     ([30, 1], None)],
)
def test_blobs_center_counts_are_sklearns(n_samples, centers):
    from sklearn.datasets import make_blobs as sk_make_blobs

    expected = np.bincount(sk_make_blobs(n_samples, centers=centers, random_state=0)[1],
                           minlength=3 if centers is None else centers)
    total = int(np.sum(n_samples))
    for chunks in [*_chunkings(total), 70]:
        y = make_blobs(n_samples, centers=centers, chunks=chunks, random_state=0)[1]
        got = np.bincount(y.compute(scheduler="sync"), minlength=len(expected))
        np.testing.assert_array_equal(got, expected, err_msg=f"chunks={chunks}")


def test_blocks_are_a_fair_mix_of_the_clusters():
    """Each block holds its share of every cluster to within about one row, and
    the clusters' totals over the blocks are exact."""
    cases = [(3000, [0.5, 0.3], 3), (1001, [0.9], 2), (5000, None, 4)]
    for n, weights, n_classes in cases:
        y = make_classification(n, 5, n_informative=3, n_classes=n_classes, weights=weights,
                                n_clusters_per_class=2, flip_y=0.0, chunks=97, random_state=1)[1]
        counts = np.array([np.bincount(b, minlength=n_classes) for b in
                           (y.blocks[i].compute() for i in range(y.numblocks[0]))])
        total = counts.sum(axis=0)
        share = np.array(y.chunks[0])[:, None] * total / n
        assert np.abs(counts - share).max() < 2.0
    y = make_blobs([500, 50, 5, 1445], chunks=64, random_state=0)[1]
    counts = np.array([np.bincount(y.blocks[i].compute(), minlength=4)
                       for i in range(y.numblocks[0])])
    np.testing.assert_array_equal(counts.sum(axis=0), [500, 50, 5, 1445])
    np.testing.assert_array_equal(counts.sum(axis=1), y.chunks[0])
    assert np.abs(counts - np.array(y.chunks[0])[:, None] * [500, 50, 5, 1445] / 2000).max() < 2.0


def test_prefix_counts_is_the_merged_order():
    """The rows are the merge of one evenly spaced sequence per cluster (row j of
    cluster k at time (j + 1/2) / C_k, ties to the lower k): brute force."""
    from fractions import Fraction

    for counts in [(3, 3), (1, 4, 0, 7), (5, 5, 5), (2, 9, 4, 13, 1), (1,)]:
        order = sorted((Fraction(2 * j + 1, 2 * c), k)
                       for k, c in enumerate(counts) for j in range(c))
        prefix = np.zeros(len(counts), dtype=np.int64)
        for m in range(sum(counts) + 1):
            np.testing.assert_array_equal(datasets._prefix_counts(m, counts), prefix)
            if m < len(order):
                prefix[order[m][1]] += 1
    # exact for huge data sets (Python ints: no overflow)
    counts = (3 * 10**12 + 1, 10**12, 7)
    n = sum(counts)
    edges = [0, 12345, n // 3, n // 2 + 1, n - 5, n]
    blocks = [datasets._block_counts(a, b, counts) for a, b in zip(edges, edges[1:])]
    np.testing.assert_array_equal(np.sum(blocks, axis=0), counts)
    for (a, b), c in zip(zip(edges, edges[1:]), blocks):
        assert c.sum() == b - a and np.all(c >= 0)
        assert all(abs(int(ck) - (b - a) * k / n) < 2 for ck, k in zip(c, counts))


def test_classification_bunch_has_the_drawn_shift_and_scale():
    kwargs = dict(n_samples=20_000, n_features=6, n_informative=2, n_redundant=0, shuffle=False,
                  chunks=5000, random_state=0, return_X_y=False)
    bunch = make_classification(shift=None, scale=None, class_sep=2.0, **kwargs)
    shift, scale = bunch.parameters["shift"], bunch.parameters["scale"]
    assert shift.shape == (6,) and np.all(np.abs(shift) <= 2.0)
    assert scale.shape == (6,) and np.all((scale >= 1) & (scale <= 101))
    # they are the values used: the noise columns are (N(0, 1) + shift) * scale
    noise = bunch.X[:, 2:].compute() / scale[2:] - shift[2:]
    np.testing.assert_allclose(noise.mean(axis=0), 0, atol=0.05)
    np.testing.assert_allclose(noise.std(axis=0), 1, atol=0.05)
    given = make_classification(shift=0.5, scale=2.0, **kwargs).parameters
    assert given["shift"] == 0.5 and given["scale"] == 2.0


def test_classification_flip_y():
    kwargs = dict(n_samples=20_000, n_features=6, shuffle=False, chunks=5000, random_state=0)
    y_clean = make_classification(flip_y=0.0, **kwargs)[1]
    y_flip = make_classification(flip_y=0.3, **kwargs)[1]
    # half of the flipped labels land on their own class: about 15% change
    changed = (y_clean != y_flip).mean().compute()
    assert 0.12 < changed < 0.18


def test_classification_feature_structure():
    ni, nr, nrep = 3, 2, 2
    X = make_classification(
        3000, 10, n_informative=ni, n_redundant=nr, n_repeated=nrep, shuffle=False,
        chunks=700, random_state=2,
    )[0].compute()
    # redundant columns are exact linear combinations of the informative ones
    assert np.linalg.matrix_rank(X[:, :ni]) == ni
    assert np.linalg.matrix_rank(X[:, : ni + nr], tol=1e-8) == ni
    coef = np.linalg.lstsq(X[:, :ni], X[:, ni : ni + nr], rcond=None)[0]
    np.testing.assert_allclose(X[:, :ni] @ coef, X[:, ni : ni + nr], atol=1e-9)
    # repeated columns copy informative/redundant ones; the rest is independent noise
    for j in range(ni + nr, ni + nr + nrep):
        assert any(np.array_equal(X[:, j], X[:, k]) for k in range(ni + nr))
    assert np.linalg.matrix_rank(X[:, ni + nr + nrep :]) == 10 - ni - nr - nrep


def test_classification_shuffle_permutes_columns_globally():
    bunch = make_classification(
        2000, 8, n_informative=2, n_redundant=0, n_repeated=2, shift=None, scale=None,
        chunks=500, random_state=7, return_X_y=False,
    )
    X = bunch.X.compute()
    repeated = [j for j, kind in enumerate(bunch.feature_info) if kind == "repeated"]
    informative = [j for j, kind in enumerate(bunch.feature_info) if kind == "informative"]
    assert len(repeated) == 2 and len(informative) == 2
    # one global column permutation: a repeated column is, over the whole array, an
    # affine image (random shift and scale) of an informative one
    for j in repeated:
        assert max(np.corrcoef(X[:, j], X[:, k])[0, 1] for k in informative) > 1 - 1e-12
    assert bunch.parameters["random_state"] == 7


def test_regression_exact_linear_model():
    X, y, coef = make_regression(
        2000, 12, n_informative=4, bias=3.5, noise=0.0, coef=True, chunks=600, random_state=0
    )
    Xc, yc = dask.compute(X, y)
    assert coef.shape == (12,) and np.count_nonzero(coef) == 4
    assert np.all((coef == 0) | ((coef > 0) & (coef < 100)))
    np.testing.assert_allclose(yc, Xc @ coef + 3.5, rtol=1e-10, atol=1e-10)
    assert abs(Xc.mean()) < 0.05 and abs(Xc.std() - 1) < 0.05


def test_regression_targets_noise_and_rank():
    X, y, coef = make_regression(
        1500, 6, n_informative=6, n_targets=3, noise=2.0, coef=True, chunks=500, random_state=1
    )
    Xc, yc = dask.compute(X, y)
    assert y.shape == (1500, 3) and y.chunks == (X.chunks[0], (3,)) and coef.shape == (6, 3)
    assert 1.8 < np.std(yc - Xc @ coef) < 2.2
    X = make_regression(2000, 30, effective_rank=3, chunks=500, random_state=1)[0].compute()
    s = np.linalg.svd(X, compute_uv=False)
    assert 0.8 < s[0] < 1.2 and s[10] < 0.5 * s[0]


def test_blobs_near_centers():
    X, y, centers = make_blobs(
        3000, 3, centers=4, cluster_std=[0.5, 1.0, 1.5, 0.2], return_centers=True,
        chunks=700, random_state=0,
    )
    Xc, yc = dask.compute(X, y)
    assert centers.shape == (4, 3) and np.all(np.abs(centers) <= 10)
    np.testing.assert_array_equal(np.bincount(yc), [750] * 4)
    for k in range(4):
        np.testing.assert_allclose(Xc[yc == k].mean(axis=0), centers[k], atol=0.2)
    np.testing.assert_allclose(Xc[yc == 3].std(axis=0), 0.2, rtol=0.15)


def test_blobs_center_box_given_max_first_is_the_same_interval():
    """scikit-learn accepts a box given as (max, min): the same interval."""
    _, _, a = make_blobs(100, 2, centers=5, center_box=(1.0, 0.0), return_centers=True, random_state=0)
    _, _, b = make_blobs(100, 2, centers=5, center_box=(0.0, 1.0), return_centers=True, random_state=0)
    np.testing.assert_array_equal(a, b)
    assert np.all((a >= 0) & (a <= 1))


def test_blobs_given_centers_and_counts():
    centers = np.array([[0.0, 0.0], [10.0, 10.0]])
    X, y, c = make_blobs([300, 100], centers=centers, chunks=400, return_centers=True,
                         random_state=0)
    assert c is centers and X.shape == (400, 2)
    np.testing.assert_array_equal(np.bincount(y.compute()), [300, 100])


def test_counts_poisson_recovers_coef():
    from sklearn.linear_model import PoissonRegressor

    X, y, coef = make_counts(20_000, 6, n_informative=3, scale=1.0, chunks=5000,
                             random_state=0, coef=True)
    Xc, yc = dask.compute(X, y)
    assert yc.dtype == np.int64 and yc.min() >= 0
    assert np.count_nonzero(coef) == 3 and np.isclose(np.linalg.norm(coef), 1.0)
    fit = PoissonRegressor(alpha=0.0, max_iter=300).fit(Xc, yc)
    np.testing.assert_allclose(fit.coef_, coef, atol=0.05)
    assert abs(fit.intercept_) < 0.05


@pytest.mark.parametrize(
    "func, kwargs, match",
    [
        (make_classification, dict(n_features=5, n_informative=3, n_redundant=3),
         r"n_informative \+ n_redundant \+ n_repeated must be <= n_features, got 3 \+ 3 \+ 0"),
        (make_classification, dict(n_informative=2, n_classes=3, n_clusters_per_class=2),
         r"<= 2\*\*n_informative.*got 3 \* 2 = 6 > 2\*\*2.*n_informative >= 3"),
        (make_classification, dict(weights=[0.5, 0.3, 0.2]), r"weights must be 2 .*got \[0\.5"),
        (make_classification, dict(n_classes=3, n_informative=3, weights=[0.9, 0.3]),
         "summing to <= 1"),
        (make_classification, dict(flip_y=1.5), r"flip_y must be a finite number in \[0\.0, 1"),
        (make_classification, dict(shift=[1.0, 2.0]), "shift must be .* 20 finite values"),
        (make_classification, dict(n_samples=0), r"n_samples must be an int >= 1, got 0"),
        (make_classification, dict(n_samples=10, chunks=(5, 4)), "summing to n_samples=10"),
        (make_classification, dict(chunks=0), "chunks must be a positive int"),
        (make_classification, dict(random_state=-1), "random_state must be"),
        (make_classification, dict(random_state="a"), "random_state must be"),
        (make_classification, dict(scale=0.0), r"scale must be a finite number > 0"),
        (make_classification, dict(class_sep=0), r"class_sep must be a finite number > 0"),
        (make_classification, dict(shuffle="no"), r"shuffle must be True or False, got 'no'"),
        (make_classification, dict(weights=[[0.5, 0.5]]), r"weights must be a 1-D list"),
        (make_blobs, dict(shuffle=1), r"shuffle must be True or False, got 1"),
        (make_classification, dict(return_X_y=0), r"return_X_y must be True or False, got 0"),
        (make_blobs, dict(n_samples=[0, 0]), r"per-center counts sum to 0: at least one row"),
        (make_regression, dict(tail_strength=5.0), r"tail_strength must be a finite number in \[0\.0, 1"),
        (make_regression, dict(noise=-1.0), "noise must be a finite number >= 0"),
        (make_regression, dict(n_targets=0), "n_targets must be an int >= 1"),
        (make_blobs, dict(centers=3, cluster_std=[1.0, 2.0]), "cluster_std must be .* 3 of them"),
        (make_blobs, dict(n_samples=[10, 20], centers=np.zeros((3, 2))), "2 per-center counts"),
        (make_blobs, dict(n_samples=[10, 20], centers=2), "centers must be None or an array"),
        (make_counts, dict(n_features=3, n_informative=4), "n_informative must be <= n_feat"),
        (make_counts, dict(scale=float("nan")), "scale must be a finite number"),
        (make_blobs, dict(cluster_std=np.inf), "cluster_std must be a finite non-negative"),
        (make_blobs, dict(return_centers="no"), r"return_centers must be True or False, got 'no'"),
        (make_regression, dict(coef="no"), r"coef must be True or False, got 'no'"),
        (make_counts, dict(coef=1), r"coef must be True or False, got 1"),
    ],
)
def test_bad_arguments(func, kwargs, match):
    with pytest.raises(ValueError, match=match):
        func(**kwargs)


def test_bad_arguments_do_not_consume_random_state():
    rs = np.random.RandomState(0)
    with pytest.raises(ValueError):
        make_classification(n_features=3, n_informative=3, n_redundant=1, random_state=rs)
    assert rs.randint(1000) == np.random.RandomState(0).randint(1000)


def test_cluster_matches_synchronous(client):
    arrays = [
        *make_classification(3000, 8, chunks=700, random_state=11, shift=None, scale=None),
        *make_regression(3000, 8, n_targets=2, noise=1.0, chunks=700, random_state=11),
        *make_blobs(3000, 3, chunks=(1000, 500, 1500), random_state=11),
        *make_counts(3000, 8, chunks=700, random_state=11),
    ]
    assert dask.base.get_scheduler() == client.get  # the cluster is the default scheduler
    on_cluster = dask.compute(*arrays)
    local = dask.compute(*arrays, scheduler="synchronous")
    for a, b in zip(on_cluster, local):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_default_classification_is_learnable_like_sklearns():
    """With all hypercube vertices in use (the defaults), scikit-learn takes
    them in order, so a linear model separates the classes well; an XOR-like
    vertex order (a random permutation) would leave it at chance for some seeds."""
    from sklearn.linear_model import LogisticRegression

    for seed in range(6):
        X, y = make_classification(n_samples=2000, n_features=20, random_state=seed, chunks=500)
        X, y = X.compute(), y.compute()
        assert LogisticRegression().fit(X, y).score(X, y) > 0.75, seed


@pytest.mark.parametrize("chunks", [4, 5, 12])
def test_unshuffled_rows_are_in_scikit_learns_order_whatever_the_chunks(chunks):
    """shuffle=False: cluster after cluster over the whole data set, as
    scikit-learn lays them out (not a fair mix in every block)."""
    from sklearn import datasets as sk

    _, y = make_blobs(12, centers=3, shuffle=False, chunks=chunks, random_state=0)
    np.testing.assert_array_equal(y.compute(), sk.make_blobs(12, centers=3, shuffle=False)[1])
    _, y = make_blobs([2, 7, 3], centers=np.zeros((3, 2)), shuffle=False, chunks=chunks, random_state=0)
    np.testing.assert_array_equal(y.compute(), np.repeat([0, 1, 2], [2, 7, 3]))
    kwargs = dict(n_samples=12, n_features=4, n_informative=2, n_redundant=0, weights=[0.3],
                  flip_y=0.0, shuffle=False)
    _, y = make_classification(**kwargs, chunks=chunks, random_state=0)
    np.testing.assert_array_equal(y.compute(), sk.make_classification(**kwargs, random_state=0)[1])


_BLAS_SCRIPT = """
import sys
import numpy as np
from threadpoolctl import threadpool_limits
from dasklearn.datasets import make_classification, make_regression
X = (make_classification(2000, 52, n_informative=50, chunks=1000, random_state=0)[0] if sys.argv[1] == "c"
     else make_regression(2000, 300, effective_rank=20, chunks=1000, random_state=0)[0])
in_order = X.compute(scheduler="sync")  # BLAS as the process starts: one thread per core
with threadpool_limits(1, user_api="blas"):  # as on a dask worker
    one = X.compute(scheduler="sync")
# then dask's threads (and the main thread again): the limit is set and
# restored from threads other than the first one that set it
again = [X.compute(scheduler=s) for s in ("threads", "sync", "threads", "threads", "sync")]
print(all(np.array_equal(in_order, a) for a in [one] + again))
"""


@pytest.mark.parametrize("which", ["c", "r"])
def test_numbers_do_not_depend_on_blas_threads(which):
    """Large products (50 informative features, a low-rank X) come out of
    BLAS with other last bits when it splits them over threads: the
    synchronous scheduler (BLAS with a thread per core) and the workers (one
    thread each) disagreed. Run in a fresh process: BLAS as a user's starts.
    dask's threads too: threadpoolctl ignores a limit set from one thread
    while another holds it (it did, once the main thread had set one)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _BLAS_SCRIPT, which], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]


@pytest.mark.parametrize("as_list", [False, True])
@pytest.mark.parametrize("n_given", [2, 1])
def test_float32_weights_give_scikit_learns_class_counts(as_list, n_given):
    """scikit-learn computes each cluster's rows in the weights' precision:
    float32 0.7 of 1000 rows over 2 clusters truncates to 349 + 350 there,
    where float64 arithmetic gave 699 rows."""
    import sklearn.datasets as skd

    w = np.array([0.7, 0.3], dtype=np.float32)[:n_given]
    kw = dict(n_samples=1000, n_features=4, n_informative=3, n_redundant=0, n_clusters_per_class=2,
              weights=list(w) if as_list else w, flip_y=0.0, random_state=0)
    theirs = np.bincount(skd.make_classification(**kw)[1])
    ours = np.bincount(make_classification(**kw, chunks=300)[1].compute())
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("make", [make_classification, make_regression, make_blobs, make_counts])
def test_dask_two_axis_chunks_as_dask_ml_takes_them(make):
    """(rows, n_features), (rows, -1) and ((sizes...), (n_features,)): all
    the columns in one block, the same numbers as the row form."""
    n_features = 4 if make is not make_counts else 3
    kw = dict(n_samples=1000, n_features=n_features, random_state=0)
    if make is make_counts:
        kw["n_informative"] = 2
    rows = make(**kw, chunks=100)[0]
    for chunks in [(100, n_features), (100, -1), ((100,) * 10, (n_features,))]:
        X = make(**kw, chunks=chunks)[0]
        assert X.chunks == ((100,) * 10, (n_features,))
        np.testing.assert_array_equal(X.compute(), rows.compute())
    # two block sizes that sum to n_samples stay two block sizes
    assert make(**kw, chunks=(1000 - n_features, n_features))[0].chunks[0] == (1000 - n_features, n_features)
    # ... but -1 is never a block size: (1001, -1) is rows and all the columns, for 1000 rows too
    assert make(**kw, chunks=(1001, -1))[0].chunks == ((1000,), (n_features,))
    with pytest.raises(ValueError, match="chunks must be"):
        make(**kw, chunks=(100, 2))  # columns split: not supported


def test_blobs_two_axis_chunks_name_the_centers_columns():
    centers = np.zeros((3, 5))
    X = make_blobs(400, centers=centers, chunks=(100, 5), random_state=0)[0]
    assert X.chunks == ((100,) * 4, (5,))
    with pytest.raises(ValueError, match="chunks must be"):
        make_blobs(400, centers=centers, chunks=(100, 2), random_state=0)  # n_features's default, not the data's


def test_default_chunks_keep_wide_blocks_to_128_mib():
    """chunks=None: 100_000 rows up to 166 features, fewer for wider data (a
    5000-feature block of 100_000 rows was 4 GB, about 12 GB while drawn)."""
    X, _ = make_classification(300_000, 20, random_state=0)
    assert X.chunks[0] == (100_000,) * 3
    X, _ = make_regression(300_000, 5000, random_state=0)
    assert X.chunks[0][0] == 2**27 // (8 * 5001) == 3354
    assert X.chunks[0][0] * 5001 * 8 <= 2**27
    X, y = make_blobs(200, n_features=200_000, random_state=0)
    assert X.chunks[0] == (83, 83, 34) and y.chunks[0] == (83, 83, 34)
