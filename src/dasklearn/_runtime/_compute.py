"""Computing dask collections: where, and in how many tasks.

A graph of many tiny blocks (the tutorial's 5000 rows in ``chunks=25`` give
~800 tasks to generate, split and concatenate) costs far more in scheduling
(about a millisecond per task) than in arithmetic. Such a graph is run whole
inside ONE task on a worker with dask's synchronous scheduler: same numbers,
no per-block scheduling, and still nothing computed on the client. Graphs of
real-sized blocks go through the distributed scheduler as usual.
"""

from __future__ import annotations

import math

SMALL_BLOCK_BYTES = 1 << 20  # below this, per-task overhead dominates the work
SMALL_TOTAL_BYTES = 256 << 20  # one worker computes it all: keep that modest
MAX_ROW_BLOCKS = 256  # per array placed as row blocks (each task of a search depends on them all)


def _array_sizes(coll):
    """(total bytes, number of blocks) of a dask array, or None when unknown."""
    from dasklearn._blockwise import is_dask_array

    if not is_dask_array(coll):
        return None
    shape, itemsize = coll.shape, coll.dtype.itemsize
    if any(math.isnan(s) for s in shape):
        return None
    return math.prod(shape) * itemsize, coll.npartitions


def runs_in_one_task(collections) -> bool:
    """Pure policy: is the graph of ``collections`` too fine-grained to schedule?"""
    sizes = [_array_sizes(c) for c in collections]
    if not sizes or any(s is None for s in sizes):
        return False  # DataFrames and unknown shapes: the scheduler decides
    total = sum(b for b, _ in sizes)
    blocks = sum(n for _, n in sizes)
    return blocks > 1 and total <= SMALL_TOTAL_BYTES and total / blocks < SMALL_BLOCK_BYTES


def flat_keys(keys) -> list:
    """The keys of a collection's (nested lists of) ``__dask_keys__``, flat."""
    if isinstance(keys, list):
        return [k for sub in keys for k in flat_keys(sub)]
    return [keys]


class _Graph:
    """Carries collections into a task without dask treating them as inputs."""

    def __init__(self, collections):
        self.collections = collections


def compute_in_task(graph: _Graph):
    """The collections' values, computed here with the synchronous scheduler.

    The collections' high-level graph is culled to their keys, materialised
    once and run by ``dask.get``, then each collection's own finaliser
    (``__dask_postcompute__``) assembles its value: what ``dask.compute``
    does, without its optimisation. For these graphs of tiny blocks, dask's
    low-level fusion makes each fused task order its own subgraph, which
    costs more than it saves (about half the time of the whole computation
    for the tutorial's 5000 x 20 data set in 25-row chunks), and skipping
    the collection-to-expression wrapping of ``dask.compute`` saves a fifth
    more. The numbers are the same.
    """
    import dask
    from dask.highlevelgraph import HighLevelGraph

    collections = graph.collections
    keys = [c.__dask_keys__() for c in collections]
    merged = HighLevelGraph.merge(*(c.__dask_graph__() for c in collections))
    values = dask.get(dict(merged.cull(set(flat_keys(keys)))), keys)
    return tuple(finalize(value, *args) for value, (finalize, args)
                 in zip(values, (c.__dask_postcompute__() for c in collections)))


def _holds_futures(collections) -> bool:
    """Persisted collections point at data already on workers: not movable.

    Only materialised layers (``persist`` makes one) can hold futures; lazy
    layers (Blockwise) are skipped, so this never expands a large graph on
    the client. A graph also counts when its materialised part reads keys
    that no layer of it defines: a dask DataFrame made from a persisted
    array (``dd.from_dask_array``), and arrays made from such a frame, read
    the array's keys on the workers without holding their futures.
    """
    try:
        from distributed import Future
    except ImportError:  # pragma: no cover
        return False
    for c in collections:
        graph = c.__dask_graph__()
        layers = list(graph.layers.values()) if hasattr(graph, "layers") else [graph]
        materialized = [getattr(layer, "mapping", layer) for layer in layers
                        if not (hasattr(layer, "is_materialized") and not layer.is_materialized())]
        if any(isinstance(v, Future) for mapping in materialized for v in mapping.values()):
            return True
        if _refers_outside(materialized, set(getattr(graph, "layers", ()))):
            return True
    return False


def _refers_outside(mappings, layer_names: set) -> bool:
    """Do these materialised tasks read a key that neither they nor a layer of
    their graph (named as its keys are) define?"""
    defined = set().union(*(m.keys() for m in mappings)) if mappings else set()

    def outside(key) -> bool:
        return key not in defined and (key[0] if isinstance(key, tuple) else key) not in layer_names

    return any(outside(dep) for m in mappings for node in m.values() for dep in getattr(node, "dependencies", ()))


def _row_parts(collections, n_parts: int):
    """Split aligned dask arrays into ``n_parts`` row ranges on block
    boundaries: [[c0[a:b], c1[a:b], ...], ...], or None if rows don't align."""
    chunks = collections[0].chunks[0]
    if any(c.chunks[0] != chunks for c in collections) or len(chunks) < 2 or n_parts < 2:
        return None
    n_parts = min(n_parts, len(chunks))
    edges = [0]
    for size in chunks:
        edges.append(edges[-1] + size)
    cut = [edges[round(i * len(chunks) / n_parts)] for i in range(n_parts + 1)]
    return [[c[a:b] for c in collections] for a, b in zip(cut[:-1], cut[1:])]


def _concat_all(parts):
    """The row parts of each collection, stacked (scipy.sparse blocks too)."""
    import numpy as np
    import scipy.sparse as sp

    def stack(pieces):
        if any(sp.issparse(p) for p in pieces):
            return sp.vstack(pieces, format=next(p for p in pieces if sp.issparse(p)).format)
        return np.concatenate(pieces, axis=0)

    return tuple(stack([p[i] for p in parts]) for i in range(len(parts[0])))


def materialize_on_cluster(client, collections, n_slots: int = 1) -> list:
    """Futures, one per collection, of their computed values (on workers).

    Fine-grained array graphs run as ``n_slots`` one-task parts (row ranges
    computed with the synchronous scheduler, in parallel), then concatenated
    on a worker; other graphs go through the distributed scheduler.
    """
    import operator

    if runs_in_one_task(collections) and not _holds_futures(collections):
        parts = _row_parts(collections, n_slots)
        if parts is None:
            whole = client.submit(compute_in_task, _Graph(collections), pure=False)
        else:  # all collections concatenated together: on one worker
            futures = [client.submit(compute_in_task, _Graph(p), pure=False) for p in parts]
            whole = client.submit(_concat_all, futures, pure=False)
        return [client.submit(operator.getitem, whole, i, pure=False) for i in range(len(collections))]
    out: list = [None] * len(collections)
    for idx in by_kind(collections):
        for i, f in zip(idx, client.compute([collections[i] for i in idx])):
            out[i] = f
    return out


def by_kind(collections) -> list[list[int]]:
    """Pure policy: the indices of ``collections`` to compute together, dask
    DataFrames / Series apart from other collections (dask computes the two
    kinds apart anyway, warning about "mixed collections"); within a kind,
    together, so that a graph they share runs once. No empty list."""
    from dasklearn._blockwise import is_dask, is_dask_array

    frames = [i for i, c in enumerate(collections) if is_dask(c) and not is_dask_array(c)]
    others = [i for i in range(len(collections)) if i not in frames]
    return [idx for idx in (frames, others) if idx]


def row_blocks_on_cluster(client, collections) -> list | None:
    """Futures of each dask array's row blocks (every column in each block),
    computed together on the workers and left there unconcatenated (see
    :mod:`dasklearn._runtime._rows`); None when the collections are better
    computed whole by :func:`materialize_on_cluster`: not all numpy-backed
    dask arrays of known shape, or the largest of them (X, not y) in a
    single row block, in blocks under ``SMALL_BLOCK_BYTES`` on average, or
    in more than ``MAX_ROW_BLOCKS`` (an X of tiny blocks beside a y of one
    large chunk is concatenated, as its blocks would be many tasks)."""
    import dask
    import numpy as np
    from dask.array import Array
    from dask.array.utils import meta_from_array

    if not collections or not all(isinstance(c, Array) and c.ndim >= 1 for c in collections):
        return None
    if not all(isinstance(meta_from_array(c), np.ndarray) for c in collections):
        return None  # sparse or GPU blocks: computed whole, as before
    if any(math.isnan(s) for c in collections for s in c.shape):
        return None
    largest = max(collections, key=lambda c: math.prod(c.shape) * c.dtype.itemsize)
    n_blocks = len(largest.chunks[0])
    if n_blocks < 2 or any(len(c.chunks[0]) > MAX_ROW_BLOCKS for c in collections):
        return None  # nothing to gain, or every task would wait on too many keys
    if math.prod(largest.shape) * largest.dtype.itemsize / n_blocks < SMALL_BLOCK_BYTES:
        return None  # tiny blocks: one array, concatenated once, is cheaper to cut
    rows = [c.rechunk({i: -1 for i in range(1, c.ndim)}) if c.ndim > 1 else c for c in collections]
    optimized = dask.optimize(*rows)  # together: work the arrays share runs once
    blocks = [c.to_delayed(optimize_graph=False).ravel().tolist() for c in optimized]
    futures = client.compute([b for bs in blocks for b in bs], optimize_graph=False)
    out, start = [], 0
    for bs in blocks:
        out.append(futures[start:start + len(bs)])
        start += len(bs)
    return out
