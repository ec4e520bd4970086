"""Synthetic data sets as chunked dask arrays.

``make_classification``, ``make_regression`` and ``make_blobs`` follow the
scikit-learn functions of the same name (parameters, defaults, return order);
``make_counts`` draws Poisson counts from a log-linear model.  Every generator
also takes ``chunks`` and returns lazy dask arrays whose feature axis is one
chunk and whose ``y`` has the same row chunks as ``X``.

Design
------
* The small global model (centroids, covariance transforms, coefficients,
  centers, feature permutation...) is drawn once, on the client, from
  ``SeedSequence(seed)`` and stored in the graph under one key (shipped once
  to each worker, not embedded in every task).
* Rows are drawn block by block on the workers; block ``i`` uses
  ``default_rng(SeedSequence(seed, spawn_key=(i,)))``, i.e. the ``i``-th child
  of ``SeedSequence(seed).spawn``.  The numbers depend only on
  ``(random_state, chunks)``, not on the scheduler or the number of workers,
  and a block can be computed without the others.
* The graph is one Blockwise layer (``dask.array.map_blocks`` with no input
  array, each task told its ``block_id``; the block offsets travel with the
  model under its one key): no per-block Python objects, built in
  milliseconds even for ``n_samples=10**9``.
* Labelled generators (``make_classification``, ``make_blobs``) first fix, on
  the client, how many rows each cluster has in the whole data set (exactly
  scikit-learn's counts).  The rows of the data set are, in order, the merge
  of one evenly spaced sequence per cluster (:func:`_prefix_counts`), and a
  block takes the rows of its range: every block is a fair mix of the
  clusters, and the clusters' totals over the blocks are exact.  With
  ``shuffle=False`` the rows are in scikit-learn's order instead, cluster
  after cluster over the whole data set (a block may then hold one class).
* A block's ``X`` and ``y`` are drawn by one task into a packed float64 array
  ``[X | y]``, of which ``X`` and ``y`` are blockwise slices: computing both
  generates each block once (computing one alone generates the whole block).
* ``chunks`` defaults to a fixed 100_000 rows, fewer for wide data (a block
  of at most about 128 MiB), not ``"auto"``: the numbers depend on the
  chunking, so it must not follow dask's configuration.
"""

from __future__ import annotations

import numbers
import reprlib
from fractions import Fraction
from heapq import heapify, heappop, heappush

import dask
import numpy as np
import dask.array as da
from dask.base import tokenize

from dasklearn._validation import InvalidParameterError

__all__ = ["make_blobs", "make_classification", "make_counts", "make_regression"]

DEFAULT_CHUNKS = 100_000  # rows per block, for up to BLOCK_BYTES // 8 - 1 features
BLOCK_BYTES = 2**27  # the default block's size at most (a packed float64 [X | y])


def default_chunks(n_features: int) -> int:
    """Rows per block when ``chunks`` is not given: DEFAULT_CHUNKS, or as
    many as fit a block of BLOCK_BYTES with ``n_features`` columns and y."""
    return max(1, min(DEFAULT_CHUNKS, BLOCK_BYTES // (8 * (n_features + 1))))


# ----------------------------------------------------------------- validation
def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(name, value, low, hint):
    if not _is_int(value) or value < low:
        raise InvalidParameterError(f"{name} must be an int >= {low}, got {value!r}. {hint}")
    return int(value)


def _check_real(name, value, low=None, high=None, hint="", positive=False):
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or (low is not None and value < low) or (high is not None and value > high) \
            or (positive and value <= 0):
        bounds = (" > 0" if positive else "" if low is None else f" >= {low}" if high is None
                  else f" in [{low}, {high}]")
        raise InvalidParameterError(f"{name} must be a finite number{bounds}, got {value!r}. {hint}")
    return float(value)


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterError(f"{name} must be True or False, got {value!r}. Pass {name}=True or {name}=False.")
    return bool(value)


def _floats(name, value, expected, fix):
    """``value`` as a float64 array; InvalidParameterError if it holds no numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be {expected}, got {reprlib.repr(value)}. {fix}") from None


def _check_vector(name, value, n):
    """A finite scalar or ``n`` finite values (one per feature), as an array."""
    expected = f"None, a finite scalar or {n} finite values (one per feature)"
    fix = f"Pass a scalar or an array of length {n}."
    arr = _floats(name, value, expected, fix)
    if arr.ndim > 1 or not np.all(np.isfinite(arr)):
        raise InvalidParameterError(f"{name} must be {expected}, got {reprlib.repr(value)}. {fix}")
    if arr.size not in (1, n):  # a valid vector, of another length than n_features
        raise ValueError(f"{name} must be {expected}, got {arr.size} values. {fix}")
    return np.broadcast_to(arr.ravel(), (n,)).copy()


def _row_chunks(chunks, n_samples, n_features=None):
    """Normalise ``chunks`` (int rows per block, or a tuple of block sizes)
    to the row block sizes. dask's two-axis forms (as dask-ml takes them) are
    read too, with all the columns in one block: ``(rows, n_features)`` (or
    ``(rows, -1)``) when it is not also two block sizes summing to
    ``n_samples``, and ``((sizes...), (n_features,))``."""
    if isinstance(chunks, (tuple, list)) and len(chunks) == 2 and n_features is not None:
        rows, cols = chunks
        whole_columns = cols in (-1, n_features, (n_features,))
        if whole_columns and isinstance(rows, (tuple, list)):
            chunks = rows
        elif whole_columns and _is_int(rows) and not (_is_int(cols) and cols >= 1 and rows + cols == n_samples):
            chunks = rows
    if _is_int(chunks) and chunks >= 1:
        q, r = divmod(n_samples, int(chunks))
        return (int(chunks),) * q + ((r,) if r else ())
    sizes = tuple(chunks) if isinstance(chunks, (tuple, list)) else ()
    valid = sizes and all(_is_int(s) and s >= 1 for s in sizes)
    if not valid or sum(sizes) != n_samples:  # (block sizes of another total: a plain ValueError)
        raise (ValueError if valid else InvalidParameterError)(
            "chunks must be a positive int (rows per block), a tuple of positive "
            f"block sizes summing to n_samples={n_samples}, or dask's (rows, n_features) with all "
            f"the columns in one block; got {reprlib.repr(chunks)}. "
            f"Pass e.g. chunks={min(n_samples, DEFAULT_CHUNKS)}."
        )
    return tuple(int(s) for s in sizes)


def _sizes(n_samples, n_features, chunks):
    """Validated ``n_samples``, ``n_features`` and row chunks."""
    n_samples = _check_int("n_samples", n_samples, 1, "Pass a positive number of rows.")
    n_features = _check_int("n_features", n_features, 1, "Pass a positive number of columns.")
    if chunks is None:
        chunks = default_chunks(n_features)
    return n_samples, n_features, _row_chunks(chunks, n_samples, n_features)


def _seed(random_state):
    """One non-negative int seed; a RandomState/Generator is drawn from on the client."""
    if random_state is None:
        random_state = np.random.mtrand._rand  # numpy's global RandomState, as sklearn
    if _is_int(random_state) and random_state >= 0:
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise InvalidParameterError(
        "random_state must be None, a non-negative int, a numpy RandomState or a "
        f"numpy Generator, got {random_state!r}. Pass e.g. random_state=0."
    )


# -------------------------------------------------------- block machinery
def _run_block(gen, seed, model, block_id=None):
    """Task body: draw row block ``i = block_id[0]`` with its own rng.

    ``model`` is ``(params, offsets)``: the generator's global parameters and
    the first row of every block (plus ``n_samples``), held under one key of
    the graph.  Block ``i`` is rows ``[offsets[i], offsets[i + 1])``.
    """
    from dasklearn._runtime._threads import one_blas_thread

    params, offsets = model
    index = block_id[0]
    start, stop = int(offsets[index]), int(offsets[index + 1])
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
    # one BLAS thread, as on a dask worker: a product's last bits depend on
    # how many threads BLAS splits it over, so the numbers would otherwise
    # differ between the workers and a local scheduler
    with one_blas_thread():
        out = gen(rng, start, stop, params)
    assert out.shape[0] == stop - start, (out.shape, start, stop)
    return out


def _take_x(block, n_features):
    return np.ascontiguousarray(block[:, :n_features])


def _take_y(block, n_features, squeeze, dtype):
    y = block[:, n_features:]
    return (y[:, 0] if squeeze else y).astype(dtype)


def _generate(fname, gen, params, rows, n_features, n_y, seed, y_dtype):
    """Build ``X, y`` whose row block ``i`` is ``gen(rng_i, start_i, stop_i, params)``.

    ``gen`` returns the packed float64 block ``[X | y]`` (``n_features + n_y``
    columns) of the data set's rows ``[start_i, stop_i)``.  The graph is one
    Blockwise layer of ``_run_block`` tasks (O(1) in the number of blocks:
    each task is told its ``block_id``), one key holding ``params`` and the
    block offsets, and two Blockwise slices for ``X`` and ``y``.
    """
    offsets = np.concatenate([[0], np.cumsum(np.asarray(rows, dtype=np.int64))])
    model = (params, offsets)
    mtoken = tokenize(model)
    mkey = dask.delayed(model, name=f"{fname}-params-{mtoken}", traverse=False)
    token = tokenize(fname, seed, mtoken)
    packed = da.map_blocks(
        _run_block, gen, seed, mkey, chunks=(rows, (n_features + n_y,)),
        name=f"{fname}-{token}", dtype=np.float64, meta=np.empty((0, 0)),
    )
    X = packed.map_blocks(
        _take_x, n_features, chunks=(rows, (n_features,)), dtype=np.float64,
        meta=np.empty((0, 0)), name=f"{fname}-X-{token}",
    )
    squeeze = n_y == 1
    y = packed.map_blocks(
        _take_y, n_features, squeeze, y_dtype, chunks=(rows,) if squeeze else (rows, (n_y,)),
        drop_axis=1 if squeeze else [], dtype=y_dtype, name=f"{fname}-y-{token}",
        meta=np.empty((0,) if squeeze else (0, 0), dtype=y_dtype),
    )
    return X, y


def _prefix_counts(m, counts):
    """How many of the first ``m`` rows of the data set each cluster has.

    The rows of the data set are, in order, the merge of one evenly spaced
    sequence per cluster: row ``j`` of cluster ``k`` (of ``C_k = counts[k]``)
    comes at time ``(j + 1/2) / C_k``, ties going to the lower ``k``.  The
    first ``m`` rows are those before time ``m / n`` -- cluster ``k`` has
    ``round(m * C_k / n)`` of them (up to the rounding of a half), so
    ``m +- K/2`` in all -- corrected by taking the next rows (or giving back
    the last ones) in merge order.  Exact integer arithmetic (Python ints:
    no overflow), ``O(K log K)`` for ``K`` clusters.

    The result sums to ``m``, is ``counts`` at ``m = n`` and never decreases
    as ``m`` grows, so the rows of block ``[a, b)`` are
    ``_prefix_counts(b) - _prefix_counts(a)`` (non-negative, each cluster's
    total over the blocks is exactly ``C_k``).  Each is within about one row
    of ``(b - a) * C_k / n``: this is Webster's (Sainte-Lague) apportionment
    of ``m`` rows in proportion to ``counts``.
    """
    n = sum(counts)
    # rows before time m / n: j with (2j + 1) * n < 2 * m * C_k
    taken = [min(c, ((2 * m * c - 1) // n + 1) // 2) for c in counts]
    extra = m - sum(taken)
    if extra > 0:  # take the next rows, earliest first
        heap = [(Fraction(2 * t + 1, 2 * c), k)
                for k, (t, c) in enumerate(zip(taken, counts)) if t < c]
        heapify(heap)
        for _ in range(extra):
            _, k = heappop(heap)
            taken[k] += 1
            if taken[k] < counts[k]:
                heappush(heap, (Fraction(2 * taken[k] + 1, 2 * counts[k]), k))
    elif extra < 0:  # give back the last rows, latest first
        heap = [(-Fraction(2 * t - 1, 2 * c), -k)
                for k, (t, c) in enumerate(zip(taken, counts)) if t > 0]
        heapify(heap)
        for _ in range(-extra):
            _, k = heappop(heap)
            k = -k
            taken[k] -= 1
            if taken[k] > 0:
                heappush(heap, (-Fraction(2 * taken[k] - 1, 2 * counts[k]), -k))
    return np.array(taken, dtype=np.int64)


def _block_counts(start, stop, counts, shuffle=True):
    """Rows of each cluster in the data set's rows ``[start, stop)``: a fair
    mix (:func:`_prefix_counts`) when the rows are shuffled, else the part of
    scikit-learn's layout in that range (cluster after cluster over the whole
    data set)."""
    if not shuffle:
        ends = np.cumsum(np.asarray(counts, dtype=np.int64))
        return np.clip(ends, start, stop) - np.clip(ends - counts, start, stop)
    return _prefix_counts(stop, counts) - _prefix_counts(start, counts)


def _classification_counts(n_samples, weights, n_clusters_per_class):
    """Rows per cluster in the whole data set, as scikit-learn computes them.

    Cluster ``k`` (class ``k % n_classes``) gets
    ``int(n_samples * weights[k % n_classes] / n_clusters_per_class)`` rows;
    the rows left over go one by one to clusters 0, 1, 2, ... (round robin)
    and, when the weights sum above one, the later clusters are cut off at
    ``n_samples``.
    """
    n_classes = len(weights)
    k = np.arange(n_classes * n_clusters_per_class)
    # one scalar at a time, as scikit-learn: numpy's promotion of a Python int
    # with a float32 scalar differs between versions, and must match its own
    counts = np.array([int(n_samples * weights[c % n_classes] / n_clusters_per_class) for c in range(len(k))],
                      dtype=np.int64)
    q, r = divmod(max(n_samples - int(counts.sum()), 0), len(k))
    counts += q + (k < r)
    ends = np.minimum(np.cumsum(counts), n_samples)
    return tuple(int(c) for c in np.diff(ends, prepend=0))


_RANDOM_STATE_DOC = """random_state : int, RandomState, Generator or None, default=None
        Seed.  A RandomState or Generator (None: numpy's global RandomState) is
        used once, on the client, to draw an int seed.  The same int seed and
        ``chunks`` give the same numbers on any cluster and on dask's local
        schedulers: each block is drawn with one BLAS thread, as on a dask
        worker (a BLAS splitting large products over threads would change
        their last bits).  A thread limit the user holds meanwhile
        (``threadpoolctl``) is respected and may then change them."""
_CHUNKS_DOC = """chunks : int or tuple, default=None
        Rows per block, or the size of each block (summing to the number of
        rows).  None: 100_000 rows, or fewer with more than 166 features, as
        many as make a block of 128 MiB (``2**27 // (8 * (n_features + 1))``).
        dask's two-axis forms, with all the columns in one block, are
        read too: ``(rows, n_features)`` or ``(rows, -1)`` (unless those two
        numbers sum to ``n_samples``: then they are two block sizes) and
        ``((sizes...), (n_features,))``.  Block ``i`` is drawn from its own
        stream, so the numbers depend on the chunking -- hence a fixed default
        rather than dask's "auto"."""


def _fill_doc(func):
    if func.__doc__:  # None under python -OO
        func.__doc__ = func.__doc__.replace("%(random_state)s", _RANDOM_STATE_DOC).replace(
            "%(chunks)s", _CHUNKS_DOC)
    return func


def _init_rng(seed):
    """The client-side generator of the global model parameters."""
    return np.random.default_rng(np.random.SeedSequence(seed))


# --------------------------------------------------------- classification
def _hypercube(n_vertices, dims, rng):
    """``n_vertices`` distinct vertices of the unit hypercube in ``dims`` dims."""
    k = min(dims, 30)
    if n_vertices == 2**k:
        # every vertex is used: in order, as scikit-learn's sampler returns a
        # whole population (the classes ``k % n_classes`` then differ in the
        # last bit instead of forming an XOR a linear model cannot separate)
        codes = np.arange(n_vertices)
    else:
        codes = rng.choice(2**k, size=n_vertices, replace=False)
    bits = (codes[:, None] >> np.arange(k - 1, -1, -1)) & 1
    if dims > k:
        bits = np.hstack([rng.integers(2, size=(n_vertices, dims - k)), bits])
    return bits.astype(np.float64)


def _classification_block(rng, start, stop, p):
    nf, ni, nr, nrep = p["n_features"], p["n_informative"], p["n_redundant"], p["n_repeated"]
    n = stop - start
    counts = _block_counts(start, stop, p["cluster_counts"], p["shuffle"])
    y = np.repeat(np.arange(len(counts)) % p["n_classes"], counts)
    X = np.empty((n, nf))
    Xi = X[:, :ni]
    Xi[...] = rng.standard_normal((n, ni))
    stop = 0
    for k, c in enumerate(counts):  # random covariance per cluster, moved to its vertex
        start, stop = stop, stop + c
        Xi[start:stop] = Xi[start:stop] @ p["A"][k] + p["centroids"][k]
    X[:, ni:ni + nr] = Xi @ p["B"]
    X[:, ni + nr:ni + nr + nrep] = X[:, p["repeat_idx"]]
    X[:, ni + nr + nrep:] = rng.standard_normal((n, nf - ni - nr - nrep))
    flip = rng.random(n) < p["flip_y"]
    y[flip] = rng.integers(p["n_classes"], size=int(flip.sum()))
    X += p["shift"]
    X *= p["scale"]
    if p["shuffle"]:
        rows = rng.permutation(n)
        X, y = X[np.ix_(rows, p["perm"])], y[rows]
    return np.column_stack([X, y])


@_fill_doc
def make_classification(
    n_samples=100, n_features=20, *, n_informative=2, n_redundant=2, n_repeated=0,
    n_classes=2, n_clusters_per_class=2, weights=None, flip_y=0.01, class_sep=1.0,
    hypercube=True, shift=0.0, scale=1.0, shuffle=True, random_state=None,
    return_X_y=True, chunks=None,
):
    """Generate a random n-class classification problem, as dask arrays.

    The model of :func:`sklearn.datasets.make_classification`: each class is
    made of ``n_clusters_per_class`` Gaussian clusters, each with a random
    covariance, centred on the vertices of a hypercube of side ``2 * class_sep``.

    Parameters
    ----------
    n_samples : int, default=100
        Number of rows.
    n_features : int, default=20
        Number of features; those neither informative, redundant nor repeated
        are N(0, 1) noise.
    n_informative : int, default=2
        Number of informative features.
    n_redundant : int, default=2
        Number of random linear combinations of the informative features.
    n_repeated : int, default=0
        Number of copies of random informative or redundant features.
    n_classes : int, default=2
        Number of classes.
    n_clusters_per_class : int, default=2
        Clusters per class (``n_classes * n_clusters_per_class <= 2**n_informative``).
    weights : array-like of shape (n_classes,) or (n_classes - 1,), default=None
        Class proportions (with ``n_classes - 1`` values the last class gets
        ``1 - sum(weights)``); None: balanced.  The rows per cluster are
        exactly scikit-learn's: ``int(n_samples * weights[c] /
        n_clusters_per_class)`` for each cluster of class ``c``, the rows left
        over given one by one to clusters 0, 1, 2, ... and, if the weights sum
        above one, the last clusters cut off at ``n_samples`` (weights are not
        normalised).  Each block is a fair mix of the clusters (within about
        one row of its share of each); without ``flip_y`` the class counts of
        ``y`` are scikit-learn's for any chunking.
    flip_y : float, default=0.01
        Fraction of labels replaced by a uniformly random class.
    class_sep : float, default=1.0
        Half the side of the hypercube: larger values make the task easier.
    hypercube : bool, default=True
        Put the centroids on hypercube vertices; if False, on a random polytope.
    shift : float, array of shape (n_features,) or None, default=0.0
        Added to the features; None: drawn uniformly in [-class_sep, class_sep]
        (the drawn values are in the Bunch's ``parameters["shift"]``).
    scale : float, array of shape (n_features,) or None, default=1.0
        Multiplies the features after the shift; None: drawn uniformly in
        [1, 101] (the drawn values are in ``parameters["scale"]``).
    shuffle : bool, default=True
        Shuffle the rows (each block is a fair mix of the clusters, its rows
        shuffled) and permute the columns (one permutation). If False, the rows
        are in scikit-learn's order: cluster after cluster over the whole data
        set, so a block may hold a single class.
    %(random_state)s
    return_X_y : bool, default=True
        If False, return a :class:`~sklearn.utils.Bunch` with ``X``, ``y``,
        ``feature_info`` and ``parameters`` (the arguments, with the drawn
        ``shift`` and ``scale`` when they were None).
    %(chunks)s

    Returns
    -------
    X : dask array of shape (n_samples, n_features), float64
    y : dask array of shape (n_samples,), int64
    """
    arguments = dict(locals())
    n_samples, nf, rows = _sizes(n_samples, n_features, chunks)
    ni = _check_int("n_informative", n_informative, 1, "At least one feature must be informative.")
    nr = _check_int("n_redundant", n_redundant, 0, "Pass 0 for no redundant features.")
    nrep = _check_int("n_repeated", n_repeated, 0, "Pass 0 for no repeated features.")
    n_classes = _check_int("n_classes", n_classes, 1, "Pass e.g. n_classes=2.")
    ncpc = _check_int("n_clusters_per_class", n_clusters_per_class, 1, "Pass e.g. 1.")
    if ni + nr + nrep > nf:
        raise ValueError(
            "n_informative + n_redundant + n_repeated must be <= n_features, got "
            f"{ni} + {nr} + {nrep} = {ni + nr + nrep} > n_features={nf}. "
            "Increase n_features or decrease those counts."
        )
    n_clusters = n_classes * ncpc
    if ni < np.log2(n_clusters):
        raise ValueError(
            "n_classes * n_clusters_per_class must be <= 2**n_informative (each "
            f"cluster needs its own hypercube vertex), got {n_classes} * {ncpc} = "
            f"{n_clusters} > 2**{ni}. Use n_informative >= "
            f"{int(np.ceil(np.log2(n_clusters)))} or fewer classes or clusters per class."
        )
    # float32 weights stay float32: scikit-learn's row counts are computed in
    # the weights' own precision
    w = np.full(n_classes, 1.0 / n_classes) if weights is None else np.asarray(weights)
    if w.dtype not in (np.float32, np.float64):
        w = _floats("weights", weights, "a 1-D list of proportions, one per class",
                    "Pass e.g. weights=[0.9, 0.1] for two classes.")
    if w.ndim != 1:
        raise InvalidParameterError(
            f"weights must be a 1-D list of proportions, one per class, got {reprlib.repr(weights)}. "
            "Pass e.g. weights=[0.9, 0.1] for two classes."
        )
    if len(w) == n_classes - 1:  # summed in order and precision, as scikit-learn's sum(weights)
        last = w.dtype.type(1.0 - sum(list(w)))
        if -len(w) * np.finfo(w.dtype).eps <= last < 0:  # weights summing to 1 but for round-off
            last = w.dtype.type(0.0)  # (scikit-learn's row count of it is 0 too)
        w = np.append(w, last)
    if len(w) != n_classes or not np.all(np.isfinite(w) & (w >= 0)):  # (a wrong count: a plain ValueError)
        raise (InvalidParameterError if len(w) == n_classes else ValueError)(
            f"weights must be {n_classes} (or {n_classes - 1}, summing to <= 1) "
            f"non-negative proportions, one per class, got {reprlib.repr(weights)}. "
            "Pass e.g. weights=[0.9, 0.1] for two classes."
        )
    flip_y = _check_real("flip_y", flip_y, 0.0, 1.0, "It is a fraction of labels.")
    class_sep = _check_real("class_sep", class_sep, hint="Pass e.g. class_sep=1.0.", positive=True)
    shift = None if shift is None else _check_vector("shift", shift, nf)
    if isinstance(scale, numbers.Real):
        _check_real("scale", scale, hint="It multiplies the features: pass e.g. scale=1.0.", positive=True)
    scale = None if scale is None else _check_vector("scale", scale, nf)
    shuffle = _check_bool("shuffle", shuffle)
    hypercube = _check_bool("hypercube", hypercube)
    return_X_y = _check_bool("return_X_y", return_X_y)
    seed = _seed(random_state)
    rng = _init_rng(seed)  # global model, drawn in scikit-learn's order
    centroids = _hypercube(n_clusters, ni, rng) * (2 * class_sep) - class_sep
    if not hypercube:
        centroids *= rng.uniform(size=(n_clusters, 1))
        centroids *= rng.uniform(size=(1, ni))
    A = 2 * rng.uniform(size=(n_clusters, ni, ni)) - 1
    B = 2 * rng.uniform(size=(ni, nr)) - 1
    repeat_idx = ((ni + nr - 1) * rng.uniform(size=nrep) + 0.5).astype(np.intp)
    if shift is None:
        shift = arguments["shift"] = (2 * rng.uniform(size=nf) - 1) * class_sep
    if scale is None:
        scale = arguments["scale"] = 1 + 100 * rng.uniform(size=nf)
    perm = rng.permutation(nf) if shuffle else np.arange(nf)
    params = dict(
        n_features=nf, n_informative=ni, n_redundant=nr, n_repeated=nrep, n_classes=n_classes,
        cluster_counts=_classification_counts(n_samples, w, ncpc), centroids=centroids,
        A=A, B=B, repeat_idx=repeat_idx, flip_y=flip_y, shift=shift, scale=scale,
        shuffle=shuffle, perm=perm,
    )
    X, y = _generate("make_classification", _classification_block, params, rows, nf, 1,
                     seed, np.int64)
    if return_X_y:
        return X, y
    from sklearn.utils import Bunch

    kinds = np.repeat(["informative", "redundant", "repeated", "random"],
                      [ni, nr, nrep, nf - ni - nr - nrep])
    return Bunch(X=X, y=y, feature_info=kinds[perm].tolist(), parameters=arguments,
                 DESCR=make_classification.__doc__)


# ------------------------------------------------------------- regression
def _regression_block(rng, start, stop, p):
    n = stop - start
    if p["V"] is None:
        X = rng.standard_normal((n, len(p["coef"])))
    else:  # rows of U @ diag(s) @ V.T, U's rows drawn as N(0, I / n_samples)
        X = (rng.standard_normal((n, len(p["s"]))) * p["s"]) @ p["V"].T
    y = X @ p["coef"] + p["bias"]
    if p["noise"] > 0:
        y += rng.normal(scale=p["noise"], size=y.shape)
    return np.hstack([X, y])


@_fill_doc
def make_regression(
    n_samples=100, n_features=100, *, n_informative=10, n_targets=1, bias=0.0,
    effective_rank=None, tail_strength=0.5, noise=0.0, shuffle=True, coef=False,
    random_state=None, chunks=None,
):
    """Generate a random linear regression problem, as dask arrays.

    As :func:`sklearn.datasets.make_regression`: ``y = X @ coef + bias + noise``
    with ``n_informative`` non-zero coefficients drawn uniformly in [0, 100].

    Parameters
    ----------
    n_samples : int, default=100
        Number of rows.
    n_features : int, default=100
        Number of features.
    n_informative : int, default=10
        Number of non-zero coefficients (capped at ``n_features``).
    n_targets : int, default=1
        Number of targets; ``y`` is 2-d when it is more than 1.
    bias : float, default=0.0
        Intercept.
    effective_rank : int or None, default=None
        None: ``X`` is N(0, 1).  Otherwise ``X`` gets the singular profile of
        :func:`sklearn.datasets.make_low_rank_matrix` (bell of width
        ``effective_rank`` plus a tail): ``V`` is drawn once on the client and
        each row is ``(z * s) @ V.T`` with ``z ~ N(0, I / n_samples)``.
    tail_strength : float, default=0.5
        Relative weight of the tail of the singular profile.
    noise : float, default=0.0
        Standard deviation of the Gaussian noise added to ``y``.
    shuffle : bool, default=True
        Permute the features, so the informative ones are not the first.  Rows
        are i.i.d., so shuffling them would not change the distribution.
    coef : bool, default=False
        Also return the coefficients.
    %(random_state)s
    %(chunks)s

    Returns
    -------
    X : dask array of shape (n_samples, n_features), float64
    y : dask array of shape (n_samples,) or (n_samples, n_targets), float64
    coef : ndarray of shape (n_features,) or (n_features, n_targets)
        Only if ``coef=True``.  With ``noise=0``, ``y == X @ coef + bias``.
    """
    n_samples, nf, rows = _sizes(n_samples, n_features, chunks)
    ni = min(nf, _check_int("n_informative", n_informative, 0, "Pass e.g. n_informative=10."))
    nt = _check_int("n_targets", n_targets, 1, "Pass e.g. n_targets=1.")
    bias = _check_real("bias", bias, hint="Pass e.g. bias=0.0.")
    noise = _check_real("noise", noise, 0.0, hint="It is a standard deviation.")
    tail_strength = _check_real("tail_strength", tail_strength, 0.0, 1.0, "Pass e.g. 0.5.")
    shuffle = _check_bool("shuffle", shuffle)
    coef = _check_bool("coef", coef)
    if effective_rank is not None:
        effective_rank = _check_int("effective_rank", effective_rank, 1,
                                    "Pass None for well-conditioned N(0, 1) features.")
    seed = _seed(random_state)
    rng = _init_rng(seed)
    s = V = None
    if effective_rank is not None:
        k = min(n_samples, nf)
        V = np.linalg.qr(rng.standard_normal((nf, k)))[0]
        i = np.arange(k, dtype=np.float64)
        s = ((1 - tail_strength) * np.exp(-((i / effective_rank) ** 2))
             + tail_strength * np.exp(-0.1 * i / effective_rank)) / np.sqrt(n_samples)
    ground_truth = np.zeros((nf, nt))
    ground_truth[:ni] = 100 * rng.uniform(size=(ni, nt))
    if shuffle:  # X's columns are i.i.d.: permuting the coefficients is enough
        ground_truth = ground_truth[rng.permutation(nf)]
    params = dict(coef=ground_truth, bias=bias, noise=noise, s=s, V=V)
    X, y = _generate("make_regression", _regression_block, params, rows, nf, nt, seed,
                     np.float64)
    if coef:
        return X, y, ground_truth[:, 0] if nt == 1 else ground_truth
    return X, y


# ------------------------------------------------------------------ blobs
def _blobs_block(rng, start, stop, p):
    n = stop - start
    labels = np.repeat(np.arange(len(p["std"])), _block_counts(start, stop, p["counts"], p["shuffle"]))
    if p["shuffle"]:  # rows are independent given their label
        labels = rng.permutation(labels)
    X = rng.standard_normal((n, p["centers"].shape[1]))
    X *= p["std"][labels, None]
    X += p["centers"][labels]
    return np.column_stack([X, labels])


@_fill_doc
def make_blobs(
    n_samples=100, n_features=2, *, centers=None, cluster_std=1.0,
    center_box=(-10.0, 10.0), shuffle=True, random_state=None, return_centers=False,
    chunks=None,
):
    """Generate isotropic Gaussian blobs, as dask arrays.

    As :func:`sklearn.datasets.make_blobs`, with exactly its rows per center
    (``n_samples // n_centers``, one more for the first ``n_samples %
    n_centers`` centers) for any chunking; each block is a fair mix of the
    centers (within about one row of its share of each).

    Parameters
    ----------
    n_samples : int or array-like of int, default=100
        Number of rows, or the number of rows of each center.
    n_features : int, default=2
        Number of features (ignored when ``centers`` is an array).
    centers : int or array-like of shape (n_centers, n_features), default=None
        Number of centers, drawn uniformly in ``center_box``, or their
        coordinates.  None: 3, or ``len(n_samples)`` if it is an array.
    cluster_std : float or array-like of shape (n_centers,), default=1.0
        Standard deviation of each blob.
    center_box : tuple of float (min, max), default=(-10.0, 10.0)
        Bounding box of the random centers.
    shuffle : bool, default=True
        Shuffle the rows (each block is a fair mix of the centers, its rows
        shuffled). If False, the rows are in scikit-learn's order: grouped by
        center over the whole data set.
    %(random_state)s
    return_centers : bool, default=False
        Also return the centers.
    %(chunks)s

    Returns
    -------
    X : dask array of shape (n_samples, n_features), float64
    y : dask array of shape (n_samples,), int64
        The center of each row.
    centers : ndarray of shape (n_centers, n_features)
        Only if ``return_centers=True``.
    """
    per_center = None
    if not _is_int(n_samples):
        per_center = np.asarray(n_samples)
        if per_center.ndim != 1 or per_center.dtype.kind not in "iu" or np.any(per_center < 0):
            raise InvalidParameterError(
                "n_samples must be a positive int or a list of per-center counts, got "
                f"{reprlib.repr(n_samples)}. Pass e.g. n_samples=1000 or [500, 300, 200]."
            )
        if _is_int(centers):
            raise ValueError(
                "With per-center n_samples, centers must be None or an array of "
                f"{len(per_center)} coordinates, got centers={centers!r}. Pass centers=None."
            )
        n_samples = int(per_center.sum())
        if n_samples < 1:
            raise ValueError(
                f"n_samples's per-center counts sum to {n_samples}: at least one row is needed. Pass e.g. "
                "n_samples=[500, 300, 200]."
            )
    if centers is None:
        n_centers = 3 if per_center is None else len(per_center)
    elif _is_int(centers):
        n_centers = _check_int("centers", centers, 1, "Pass a number of centers or coordinates.")
    else:
        centers = _floats("centers", centers, "an int or a finite array of shape (n_centers, n_features)",
                          "Pass e.g. centers=[[0, 0], [5, 5]].")
        if centers.ndim != 2 or len(centers) < 1 or not np.all(np.isfinite(centers)):
            raise InvalidParameterError(
                "centers must be an int or a finite array of shape (n_centers, "
                f"n_features), got shape {centers.shape}. Pass e.g. centers=[[0, 0], [5, 5]]."
            )
        n_centers, n_features = centers.shape
    # (after the centers: they give the number of columns that chunks may name)
    n_samples, n_features, rows = _sizes(n_samples, n_features, chunks)
    if per_center is not None and len(per_center) != n_centers:
        raise ValueError(
            f"n_samples has {len(per_center)} per-center counts but there are "
            f"{n_centers} centers. Pass one count per center."
        )
    std = _floats("cluster_std", cluster_std, "a finite non-negative float or one per center",
                  "Pass e.g. cluster_std=1.0.")
    valid = std.ndim <= 1 and np.all((std >= 0) & np.isfinite(std))
    if not valid or std.size not in (1, n_centers):  # (valid, but not one per center: a plain ValueError)
        raise (ValueError if valid else InvalidParameterError)(
            f"cluster_std must be a finite non-negative float or {n_centers} of them (one per "
            f"center), got {reprlib.repr(cluster_std)}. Pass e.g. cluster_std=1.0."
        )
    box = _floats("center_box", center_box, "(min, max)", "Pass (-10, 10).")
    if box.shape != (2,) or not np.all(np.isfinite(box)):
        raise InvalidParameterError(f"center_box must be (min, max), got {center_box!r}. Pass (-10, 10).")
    shuffle = _check_bool("shuffle", shuffle)
    return_centers = _check_bool("return_centers", return_centers)
    seed = _seed(random_state)
    if not isinstance(centers, np.ndarray):
        # a box given as (max, min) is the same interval, as scikit-learn draws it
        centers = _init_rng(seed).uniform(box.min(), box.max(), size=(n_centers, n_features))
    if per_center is None:  # scikit-learn's split: the first n_samples % n_centers get one more
        per_center = n_samples // n_centers + (np.arange(n_centers) < n_samples % n_centers)
    params = dict(
        centers=centers, std=np.broadcast_to(std.ravel(), (n_centers,)).copy(), shuffle=shuffle,
        counts=tuple(int(c) for c in per_center),
    )
    X, y = _generate("make_blobs", _blobs_block, params, rows, n_features, 1, seed, np.int64)
    return (X, y, centers) if return_centers else (X, y)


# ----------------------------------------------------------------- counts
_MAX_LOG_RATE = 40.0  # exp(40) ~ 2e17: numpy's Poisson sampler never overflows


def _counts_block(rng, start, stop, p):
    n = stop - start
    X = rng.standard_normal((n, len(p["coef"])))
    y = rng.poisson(np.exp(np.minimum(X @ p["coef"], _MAX_LOG_RATE)))
    return np.column_stack([X, y])


@_fill_doc
def make_counts(
    n_samples=1000, n_features=100, n_informative=2, scale=1.0, chunks=None,
    random_state=None, *, coef=False,
):
    """Generate Poisson counts from a log-linear model, as dask arrays.

    ``X ~ N(0, 1)`` and ``y ~ Poisson(exp(X @ coef))``, with ``n_informative``
    non-zero coefficients at random positions, drawn uniformly in [-1, 1] and
    rescaled so that ``||coef||_2 == scale``.  The log-rate ``X @ coef`` is then
    N(0, scale**2): the rate has median 1 and mean ``exp(scale**2 / 2)`` and
    stays bounded (about ``exp(6 * scale)`` at most over 10**9 rows; the
    log-rate is also clipped at 40).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.
    n_features : int, default=100
        Number of features.
    n_informative : int, default=2
        Number of non-zero coefficients (at most ``n_features``).
    scale : float, default=1.0
        Euclidean norm of the coefficients (standard deviation of the log-rate).
    %(chunks)s
    %(random_state)s
    coef : bool, default=False
        Also return the coefficients.

    Returns
    -------
    X : dask array of shape (n_samples, n_features), float64
    y : dask array of shape (n_samples,), int64
    coef : ndarray of shape (n_features,)
        Only if ``coef=True``: ``log E[y | X] = X @ coef``.
    """
    n_samples, nf, rows = _sizes(n_samples, n_features, chunks)
    ni = _check_int("n_informative", n_informative, 0, "Pass e.g. n_informative=2.")
    if ni > nf:
        raise ValueError(
            f"n_informative must be <= n_features={nf}, got {ni}. "
            "Increase n_features or decrease n_informative."
        )
    scale = _check_real("scale", scale, 0.0, hint="It is the norm of the coefficients.")
    coef = _check_bool("coef", coef)
    seed = _seed(random_state)
    rng = _init_rng(seed)
    beta = np.zeros(nf)
    if ni:
        values = rng.uniform(-1.0, 1.0, size=ni)
        beta[rng.choice(nf, size=ni, replace=False)] = values * (scale / np.linalg.norm(values))
    X, y = _generate("make_counts", _counts_block, dict(coef=beta), rows, nf, 1, seed, np.int64)
    return (X, y, beta) if coef else (X, y)
