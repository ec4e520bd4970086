"""Train/test splitting and cross-validation splitters that accept Dask input.

In-memory input goes to scikit-learn unchanged. Dask input is split blockwise:
block (or partition) ``i`` picks its rows with ``np.random.default_rng([seed,
i])`` from its row counts only, never from the data, so every input passed
together gets the same selection and stays row-aligned, without any global
shuffle and without gathering data on the client.

The counts per block: with known block sizes (a dask array among the inputs)
the totals are scikit-learn's, spread over the blocks (``shuffle=False``: the
same rows as scikit-learn); DataFrames alone (lengths unknown) round each
partition's share with a low-discrepancy offset, so the totals track the
fractions within a few rows (see ``train_test_split`` Notes).
"""

from __future__ import annotations

import math
import numbers
import reprlib

import dask
import dask.array as da
import numpy as np
from sklearn import model_selection as _sk
from sklearn.utils import check_random_state

from dasklearn._validation import InvalidParameterError, check_random_state_param

__all__ = ["KFold", "ShuffleSplit", "train_test_split"]

_DEFAULT_TEST_SIZE = 0.25


def _is_dask_frame(x):
    """True for a dask DataFrame or Series."""
    if not dask.is_dask_collection(x) or isinstance(x, da.Array):
        return False
    import dask.dataframe as dd

    return isinstance(x, (dd.DataFrame, dd.Series))


def _row_chunks(x, name):
    """Row chunks of a dask array; ValueError if they are unknown."""
    if x.ndim == 0:
        raise ValueError(f"{name} is a 0-d dask array; expected at least one (rows) axis.")
    if any(np.isnan(c) for c in x.chunks[0]):
        raise ValueError(
            f"{name} is a dask array with unknown chunk sizes (nan), so its rows cannot "
            "be counted without computing. Call `x = x.compute_chunk_sizes()` on it "
            "first, or build it with `ddf.to_dask_array(lengths=True)`."
        )
    return tuple(int(c) for c in x.chunks[0])


def _validate_sizes(test_size, train_size, n_samples):
    """Check sizes as scikit-learn does (``n_samples`` None: unknown, no ints)."""
    if test_size is None and train_size is None:
        test_size = _DEFAULT_TEST_SIZE
    fractions = 0.0
    for name, value in (("test_size", test_size), ("train_size", train_size)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidParameterError(
                f"{name} must be a float in (0, 1), a positive int or None; received "
                f"{value!r} of type {type(value).__name__}."
            )
        if not isinstance(value, numbers.Integral):
            if not 0 < value < 1:
                raise InvalidParameterError(
                    f"{name} as a fraction must be in the open interval (0, 1); received "
                    f"{value}. Pass e.g. {name}=0.25, or an int number of rows."
                )
            fractions += value
        elif value < 1:
            raise InvalidParameterError(
                f"{name} as a number of rows must be an int >= 1; received {value}. "
                f"Pass e.g. {name}=0.25, or a positive number of rows."
            )
        elif n_samples is None:
            raise ValueError(
                f"{name}={value} is a number of rows, but the partition lengths of the "
                f"dask DataFrame/Series input are unknown. Pass {name} as a fraction "
                "in (0, 1) instead (e.g. 0.25), or pass a dask array with known chunks."
            )
        elif not 0 < value < n_samples:
            raise ValueError(
                f"{name} as a number of rows must be between 1 and n_samples - 1 = "
                f"{n_samples - 1}; received {value}. Use a smaller count or a fraction."
            )
    if fractions > 1:
        raise ValueError(
            f"test_size + train_size must be <= 1; received {test_size} + {train_size} "
            f"= {fractions}. Reduce test_size and/or train_size."
        )
    return test_size, train_size


def _total_counts(test_size, train_size, n_samples):
    """Global ``(n_train, n_test)`` for ``n_samples`` rows, as scikit-learn
    computes them (fractions: ``ceil`` test, ``floor`` train; a missing size
    is the complement of the other). Sizes already validated.
    """
    def rows(value, rounding):
        if isinstance(value, numbers.Integral):
            return int(value)
        return int(rounding(value * n_samples))

    n_test = None if test_size is None else rows(test_size, math.ceil)
    n_train = None if train_size is None else rows(train_size, math.floor)
    if n_train is not None and n_test is not None and n_train + n_test > n_samples:
        raise ValueError(
            f"test_size={test_size} and train_size={train_size} ask for "
            f"{n_train + n_test} rows but there are only {n_samples}. Reduce "
            "test_size and/or train_size."
        )
    n_train = n_samples - n_test if n_train is None else n_train
    n_test = n_samples - n_train if n_test is None else n_test
    if n_samples < 2:
        raise ValueError(
            f"train_test_split needs at least 2 rows (one for each set); the input has {n_samples}. "
            "Check how the data were made or filtered."
        )
    if n_train == 0:
        raise ValueError(
            f"With n_samples={n_samples}, test_size={test_size} and train_size="
            f"{train_size}, the train set would be empty. Increase train_size or "
            "reduce test_size."
        )
    return n_train, n_test


def _allocate(total, caps):
    """Split int ``total`` over blocks in proportion to ``caps``, never above them.

    Largest-remainder rounding (ties to the earlier block): sums to ``total``,
    and block ``i`` gets ``floor`` or ``ceil`` of ``total * caps[i] / sum(caps)``.
    """
    caps = [int(c) for c in caps]
    cap_sum = sum(caps)
    assert 0 <= total <= cap_sum, (total, cap_sum)
    base = np.array([total * c // max(cap_sum, 1) for c in caps], dtype=np.int64)
    remainder = np.array([total * c % max(cap_sum, 1) for c in caps], dtype=np.int64)
    base[np.argsort(-remainder, kind="stable")[: total - int(base.sum())]] += 1
    return base


def _block_counts(sizes, n_train, n_test, shuffle):
    """Per-block ``(n_train_i, n_test_i)`` arrays summing to ``n_train, n_test``.

    shuffle: the test rows are spread over the blocks in proportion to their
    sizes, then the train rows over what each block has left (:func:`_allocate`).
    No shuffle: scikit-learn's cut, global rows ``[0, n_train)`` are train and
    the next ``n_test`` test; block ``i`` holds the part of each in its rows.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if shuffle:
        test = _allocate(n_test, sizes)
        return _allocate(n_train, sizes - test), test
    starts = np.cumsum(sizes) - sizes
    train = np.clip(n_train - starts, 0, sizes)
    return train, np.clip(n_train + n_test - starts, 0, sizes) - train


_GOLDEN = 0.6180339887498949  # offsets frac(i * golden ratio) spread evenly over [0, 1)


def _partition_counts(n, i, test_size, train_size):
    """``(n_train, n_test)`` of partition ``i`` of ``n`` rows, lengths unknown
    up front (fractions only).

    Rounded with the offset ``v = frac(i * 0.618...)``: ``ceil(test_size * n
    - v)`` test and ``floor(train_size * n + v)`` train rows. Partition 0
    rounds as scikit-learn does on one array; over many partitions the
    roundings up and down balance out, so the totals track the fractions.
    """
    v = (i * _GOLDEN) % 1.0
    if test_size is None:
        n_train = min(math.floor(train_size * n + v), n)
        return n_train, n - n_train
    n_test = min(max(math.ceil(test_size * n - v), 0), n)
    if train_size is None:
        return n - n_test, n_test
    # <= n - n_test when test_size + train_size <= 1; min() guards float error
    return min(math.floor(train_size * n + v), n - n_test), n_test


def _seed_from(random_state):
    """An int seed: ``random_state`` (checked by the caller) itself if int,
    else drawn from it once."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _positions(n, n_train, n_test, seed, block, shuffle, part):
    """Positions of the train (``part=0``) or test (``part=1``) rows of a block,
    laid out as scikit-learn does (shuffle: test = head of a permutation).
    """
    if shuffle:
        perm = np.random.default_rng([seed, block]).permutation(n)
        return perm[n_test : n_test + n_train] if part == 0 else perm[:n_test]
    return np.arange(n_train) if part == 0 else np.arange(n_train, n_train + n_test)


def _take_block(x, table, seed, shuffle, part, block_id=None):
    """Train or test rows of one dask array block; ``table`` row ``i`` holds
    (rows, n_train, n_test) of row block ``i``."""
    block = block_id[0]
    n_train, n_test = int(table[block, 1]), int(table[block, 2])
    return x[_positions(x.shape[0], n_train, n_test, seed, block, shuffle, part)]


def _partition_number(i):
    """One partition of the frame that tells each split task its partition's
    number (see _split_dask)."""
    import pandas as pd

    return pd.DataFrame({"number": [i]})


def _partition_length(df):
    """One partition of the frame that holds the length of the same partition
    of ``df`` (see _take_partition's ``ref``)."""
    import pandas as pd

    return pd.DataFrame({"rows": [len(df)]})


def _take_partition(df, number, ref, table, test_size, train_size, seed, shuffle, part, name, ref_name):
    """Train or test rows of one DataFrame partition (``table``: see _split_dask).

    ``number``: the same partition of a frame holding the partition's number.
    It is passed as data, not read from dask's ``partition_info``: dask moves
    a selection of partitions (``.partitions[i]``, ``.tail()``, ``.loc`` on
    known divisions) inside this call, and ``partition_info`` then numbers
    the selected partitions from 0, which would draw other rows.
    ``ref``: the length of the same partition of the first DataFrame split
    with this one (see _partition_length), when lengths are not known up
    front, to check that their rows align. (Not its index: a column
    selection, the index's included, of a Parquet-backed frame would be
    merged into fewer partitions when computed; see _as_computed.)
    """
    i, n = int(number["number"].iloc[0]), len(df)
    ref_rows = None if ref is None else int(ref["rows"].iloc[0])
    if ref_rows is not None and ref_rows != n:
        raise ValueError(
            f"Partition {i} of {name} has {n} rows but partition {i} of {ref_name} has "
            f"{ref_rows}; inputs split together must have the same rows in each partition. "
            f"Repartition them alike, e.g. `y = y.repartition(divisions=X.divisions)` "
            "(known divisions), or split one DataFrame holding both and select the columns after."
        )
    if table is None:  # lengths unknown up front: fractions applied per partition
        n_train, n_test = _partition_counts(n, i, test_size, train_size)
    elif n != table[i, 0]:
        raise ValueError(
            f"Partition {i} of {name} has {n} rows but the split was made for {table[i, 0]} "
            f"(block {i} of the dask arrays split with it, or the partition's length counted "
            "for shuffle=False); inputs are not aligned. Use `ddf.to_dask_array(lengths=True)` "
            "and rechunk the arrays to its chunks, or persist a source whose rows can change."
        )
    else:
        n_train, n_test = table[i, 1], table[i, 2]
    return df.iloc[_positions(n, int(n_train), int(n_test), seed, i, shuffle, part)]


def _as_computed(frame):
    """``frame`` in the partitions it is computed in, which no later
    optimisation changes.

    dask's partition tuning merges partitions of a column selection of a
    Parquet-backed frame when a graph is optimised, by how few columns are
    kept (dask/dask#12411), and does so again inside any graph built on an
    already optimised frame: X = frame[cols] and y = frame["y"] come out in
    other numbers of partitions at compute time than at split time, while
    the split pairs partition i of every input. When a graph on ``frame``
    would be computed in fewer partitions than it shows, ``frame`` is
    optimised here, with the tuning off where dask has the switch, and its
    partitions are taken as they are (``to_delayed`` / ``from_delayed``: a
    graph of one task per partition, made now). Other frames are kept as
    they are (their graphs stay lazy).
    """
    import dask.dataframe as dd

    if _lengths(frame).optimize().npartitions == frame.npartitions:
        return frame
    with dask.config.set({"optimization.tune.active": False}):
        parts = frame.to_delayed(optimize_graph=True)
    divisions = frame.divisions if len(frame.divisions) == len(parts) + 1 else None
    return dd.from_delayed(parts, meta=frame._meta, divisions=divisions, verify_meta=False)


def _lengths(frame):
    """A frame of one row per partition of ``frame``: its length."""
    return frame.map_partitions(_partition_length, meta=_partition_length(frame._meta).iloc[:0],
                                enforce_metadata=False, clear_divisions=True)


def _check_dask_inputs(arrays, given_partitions=None):
    """Validate the alignment of dask inputs; return rows per block, or None."""
    for a in arrays:
        if not (isinstance(a, da.Array) or _is_dask_frame(a)):
            raise TypeError(f"Expected dask Arrays, DataFrames or Series; got {type(a)}.")
    for k, a in enumerate(arrays):
        if isinstance(a, da.Array) and a.ndim == 0:
            raise ValueError(
                f"arrays[{k}] is a 0-d dask array (a single value); train_test_split splits rows. "
                "Pass arrays with one row per sample."
            )
    lengths = [a.shape[0] for a in arrays if isinstance(a, da.Array) and not math.isnan(a.shape[0])]
    if len(set(lengths)) > 1:  # (as scikit-learn words it)
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}.")
    nblocks = [a.numblocks[0] if isinstance(a, da.Array) else a.npartitions for a in arrays]
    if len(set(nblocks)) > 1 and given_partitions is not None and len(set(given_partitions)) == 1:
        raise ValueError(
            f"The dask inputs have {given_partitions[0]} partitions each, but dask computes "
            f"them in {nblocks}: it merges the partitions of a column selection of a "
            "Parquet-backed frame, by how few columns are kept, and this dask version has no "
            "switch to stop it, so the inputs cannot be split blockwise together. Split the "
            "frame that holds all the columns, then select them: `train, test = "
            "train_test_split(frame, ...)`; `X_train, y_train = train[cols], train['y']`."
        )
    if len(set(nblocks)) > 1:
        raise ValueError(
            "All dask inputs must have the same number of row blocks/partitions so "
            f"that they can be split blockwise; got {nblocks}. Rechunk the arrays with "
            "`y = y.rechunk({0: X.chunks[0]})` or repartition the DataFrames to match."
        )
    sizes = None
    for k, a in enumerate(arrays):
        if isinstance(a, da.Array):
            chunks = _row_chunks(a, f"arrays[{k}]")
            if sizes is not None and chunks != sizes:
                raise ValueError(
                    "All dask arrays must have identical row chunks so that rows stay "
                    f"aligned; got {reprlib.repr(sizes)} and {reprlib.repr(chunks)} "
                    f"(arrays[{k}]). Fix with `y = y.rechunk({{0: X.chunks[0]}})`."
                )
            sizes = chunks
    return sizes


def _split_dask(arrays, test_size, train_size, random_state, shuffle):
    """Blockwise train/test split of aligned dask collections (lazy)."""
    check_random_state_param(random_state)  # as scikit-learn's, shuffled or not, before any work
    given = [a.numblocks[0] if isinstance(a, da.Array) and a.ndim else getattr(a, "npartitions", None)
             for a in arrays]
    arrays = [_as_computed(a) if _is_dask_frame(a) else a for a in arrays]
    sizes = _check_dask_inputs(arrays, given)
    if sizes is None and not shuffle:
        # scikit-learn's cut (train = the first n_train rows, in order) needs each
        # partition's offset: the partitions' lengths, counted with one pass on
        # the cluster (only the lengths come to the client)
        sizes = tuple(int(r) for r in _lengths(arrays[0]).compute()["rows"])
    n_samples = None if sizes is None else sum(sizes)
    test_size, train_size = _validate_sizes(test_size, train_size, n_samples)
    kwargs = {"seed": _seed_from(random_state) if shuffle else None, "shuffle": shuffle}
    table = table_key = None
    if sizes is not None:
        n_train, n_test = _block_counts(
            sizes, *_total_counts(test_size, train_size, n_samples), shuffle)
        table = np.stack([np.asarray(sizes), n_train, n_test], axis=1)
        # the whole (n_blocks, 3) table is one key of the graph, shared by
        # every block task (which reads its own row): the graph stays O(1)
        table_key = dask.delayed(table, name=f"train-test-split-table-{dask.base.tokenize(table)}",
                                 traverse=False)
    # without a dask array, partition lengths are unknown: each partition of
    # the other DataFrames is checked against the first one's (at compute time)
    frames = [k for k, a in enumerate(arrays) if not isinstance(a, da.Array)]
    ref_k = frames[0] if frames and table is None else None
    if frames:
        import dask.dataframe as dd

        first = arrays[frames[0]]
        numbers = dd.from_map(_partition_number, range(first.npartitions), divisions=first.divisions,
                              meta=_partition_number(0).iloc[:0], enforce_metadata=False)
        if ref_k is not None:  # only the first frame's partition lengths are moved
            lengths = _lengths(arrays[ref_k])
    out = []
    for k, a in enumerate(arrays):
        for part in (0, 1):
            if isinstance(a, da.Array):
                new_rows = tuple(int(c) for c in table[:, 1 + part])
                name = f"train-test-split-{('train', 'test')[part]}-" + dask.base.tokenize(
                    a.name, table, part, kwargs)
                out.append(a.map_blocks(
                    _take_block, table=table_key, part=part, **kwargs,
                    chunks=(new_rows, *a.chunks[1:]), dtype=a.dtype,
                    meta=da.utils.meta_from_array(a), name=name,
                ))
            else:
                ref = lengths if ref_k is not None and k != ref_k else None
                # partition i of every input goes with partition i of the others
                # (align_dataframes=False: no repartitioning to common divisions)
                out.append(a.map_partitions(
                    _take_partition, numbers, ref, table=table_key, test_size=test_size,
                    train_size=train_size, part=part, name=f"arrays[{k}]", ref_name=f"arrays[{ref_k}]",
                    **kwargs, meta=a, clear_divisions=bool(shuffle), align_dataframes=False,
                ))
    return out


def train_test_split(
    *arrays,
    test_size=None,
    train_size=None,
    random_state=None,
    shuffle=True,
    stratify=None,
    blockwise=True,
):
    """Split arrays or DataFrames into random train and test subsets.

    In-memory input (numpy, pandas, lists, scipy.sparse) is passed to
    :func:`sklearn.model_selection.train_test_split`. Dask input is split
    blockwise, lazily, with no global shuffle and no data on the client.

    Parameters
    ----------
    *arrays : sequence of indexables with the same number of rows
        Either all in memory, or all dask arrays / DataFrames / Series with the
        same number of row blocks (dask arrays: identical row chunks).
    test_size : float or int, default=None
        Fraction in (0, 1) or number of test rows. Default 0.25 when
        ``train_size`` is also None, else the complement of ``train_size``.
    train_size : float or int, default=None
        Fraction in (0, 1) or number of train rows; default: the complement.
    random_state : int, RandomState instance or None, default=None
        An int is the seed of every block generator; otherwise one int seed is
        drawn from it on the client.
    shuffle : bool, default=True
        Whether to pick rows at random (and permute them) within each block.
        If False, rows keep their order: train is the first ``n_train`` rows
        and test the next ``n_test``, as in scikit-learn (DataFrames without
        a dask array: their partitions' lengths are counted first, see Notes).
    stratify : array-like, default=None
        Class labels for a stratified split; in-memory input only.
    blockwise : bool, default=True
        Must be True for dask input (a global shuffle is not supported);
        ignored for in-memory input.

    Returns
    -------
    splitting : list, length=2 * len(arrays)
        ``[train0, test0, train1, test1, ...]``, of the input types. To
        compute a mix of dask arrays and DataFrames at once, compute each
        kind in its own ``dask.compute`` call: dask 2026.8 can return a
        mixed call's results in another order than its arguments
        (``dask.compute(X, frame, y)`` of two dask arrays and a DataFrame
        gives X's and y's results first).

    Notes
    -----
    With a dask array among the inputs (block sizes known, ``n`` rows in
    all), the train and test totals are exactly scikit-learn's for ``n`` rows
    (float ``test_size``: ``ceil``, float ``train_size``: ``floor``, a missing
    size the complement; same errors). With ``shuffle=True`` the test rows are
    spread over the blocks in proportion to their sizes, and the train rows
    over what each block has left (largest remainder: each block gets the
    floor or ceil of its share); each block then picks its rows at random.
    With ``shuffle=False`` the rows are scikit-learn's: train = rows ``[0,
    n_train)``, test = the next ``n_test`` rows. DataFrames split together
    with a dask array use the same per-block counts.

    DataFrames/Series alone have unknown partition lengths. With
    ``shuffle=False`` they are counted at the call (one pass over the first
    input on the cluster; only the lengths come to the client), and the split
    is scikit-learn's, as with a dask array: a time-ordered frame's test rows
    all come after its train rows. With ``shuffle=True`` nothing is computed
    up front, so only fractions are accepted and each partition
    ``i`` of ``n_i`` rows rounds its own share with the offset ``v_i =
    frac(0.618... * i)``: ``ceil(test_size * n_i - v_i)`` test rows and
    ``floor(train_size * n_i + v_i)`` train rows (else the rest of the
    partition). Partition 0 rounds as scikit-learn does; over many partitions
    the roundings up and down balance out (no bias: small partitions do not
    inflate the test set at the expense of train): with equal-length
    partitions the totals are within a few rows of ``test_size * n`` and
    ``train_size * n``; with uneven lengths the difference grows slowly, by
    about ``0.5 * sqrt(npartitions)`` rows. As nothing is counted up
    front, a fraction so small that its share rounds to zero rows in every
    partition gives an empty side without an error (scikit-learn, and this
    function on arrays, raise): pass a dask array, or compute the lengths
    first (``ddf.to_dask_array(lengths=True)``).

    Dask array outputs have known chunks; DataFrame outputs keep their
    divisions only with ``shuffle=False``.
    """
    if not arrays:
        raise ValueError("At least one array required as input")
    lazy = [dask.is_dask_collection(a) for a in arrays]
    if not any(lazy):
        return _sk.train_test_split(
            *arrays, test_size=test_size, train_size=train_size,
            random_state=random_state, shuffle=shuffle, stratify=stratify,
        )
    if not all(lazy):
        kinds = ", ".join(f"{type(a).__module__}.{type(a).__name__}" for a in arrays)
        raise TypeError(
            f"train_test_split got a mix of dask and in-memory inputs ({kinds}). Pass "
            "all inputs as dask collections with the same row chunks (e.g. "
            "`da.from_array(y, chunks=(X.chunks[0],))`) or all in memory (`.compute()`)."
        )
    if stratify is not None:
        raise ValueError(
            "stratify is supported for in-memory input only; blockwise splitting of "
            "dask input cannot stratify. Pass stratify=None, or compute the inputs."
        )
    if not isinstance(blockwise, (bool, np.bool_)):
        raise InvalidParameterError(
            f"blockwise must be a bool (True or False); received {blockwise!r}. Dask input is "
            "split block by block: pass blockwise=True (the default)."
        )
    if not blockwise:
        raise ValueError(
            "blockwise=False (a global shuffle) is not supported for dask input; use "
            "blockwise=True, or shuffle the rows first (e.g. `ddf.shuffle(on=...)`)."
        )
    if not isinstance(shuffle, (bool, np.bool_)):
        raise InvalidParameterError(
            f"shuffle must be a bool (True or False); received {shuffle!r} of type "
            f"{type(shuffle).__name__}. Pass shuffle=True for random rows, or "
            "shuffle=False to keep the rows in order."
        )
    return _split_dask(arrays, test_size, train_size, random_state, bool(shuffle))


def _placeholders(*objs):
    """Zero-byte ``(n_rows, 0)`` stand-ins for dask inputs; DataFrame lengths
    are computed on the cluster in one pass (only the lengths travel).
    """
    frames = [o for o in objs if _is_dask_frame(o)]
    frame_lengths = iter(dask.compute(*[f.map_partitions(len).sum() for f in frames]))
    out = []
    for name, o in zip(("X", "y", "groups"), objs):
        if isinstance(o, da.Array):
            o = np.empty((sum(_row_chunks(o, name)), 0))
        elif _is_dask_frame(o):
            o = np.empty((int(next(frame_lengths)), 0))
        out.append(o)
    return out


class _DaskSplitMixin:
    """Make ``split`` accept dask collections without materialising them."""

    def split(self, X, y=None, groups=None):
        """Generate indices to split data into training and test set.

        Parameters
        ----------
        X : array-like, dask Array or dask DataFrame of shape (n_samples, n_features)
            Only its number of rows is used. Dask arrays need known chunks.
        y : array-like, dask Array or dask Series of shape (n_samples,), default=None
            Ignored except for a length check.
        groups : array-like of shape (n_samples,), default=None
            Ignored, exists for API compatibility.

        Yields
        ------
        train : ndarray
            The training set indices for that split.
        test : ndarray
            The testing set indices for that split.
        """
        # Not a generator itself: dask inputs are checked when split() is called.
        return super().split(*_placeholders(X, y, groups))


class KFold(_DaskSplitMixin, _sk.KFold):
    """K-fold cross-validator accepting dask arrays and DataFrames.

    Same parameters and splits as :class:`sklearn.model_selection.KFold`; for
    dask input only the number of rows is read (from known chunks, or from
    partition lengths computed on the cluster).

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Whether to shuffle the rows before splitting into folds.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling when ``shuffle=True``.
    """


class ShuffleSplit(_DaskSplitMixin, _sk.ShuffleSplit):
    """Random permutation cross-validator accepting dask arrays and DataFrames.

    Same parameters and splits as :class:`sklearn.model_selection.ShuffleSplit`
    (default ``test_size`` 0.1); for dask input only the number of rows is read.

    Parameters
    ----------
    n_splits : int, default=10
        Number of re-shuffling and splitting iterations.
    test_size : float or int, default=None
        Fraction or number of test rows.
    train_size : float or int, default=None
        Fraction or number of train rows.
    random_state : int, RandomState instance or None, default=None
        Controls the randomness of the splits.
    """
