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


def _array_sizes(coll):
    """(total bytes, number of blocks) of a dask array, or None when unknown."""
    shape, itemsize = getattr(coll, "shape", None), getattr(getattr(coll, "dtype", None), "itemsize", None)
    if shape is None or itemsize is None or not hasattr(coll, "chunks"):
        return None
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


class _Graph:
    """Carries collections into a task without dask treating them as inputs."""

    def __init__(self, collections):
        self.collections = collections


def compute_in_task(graph: _Graph):
    import dask

    return dask.compute(*graph.collections, scheduler="sync")


def _holds_futures(collections) -> bool:
    """Persisted collections point at data already on workers: not movable.

    Only materialised (non-Blockwise) layers can hold futures; lazy Blockwise
    layers are skipped, so this never expands a large graph on the client.
    """
    from dask.blockwise import Blockwise

    try:
        from distributed import Future
    except ImportError:  # pragma: no cover
        return False
    for c in collections:
        graph = c.__dask_graph__()
        layers = graph.layers.values() if hasattr(graph, "layers") else [graph]
        for layer in layers:
            if isinstance(layer, Blockwise):
                continue
            mapping = getattr(layer, "mapping", layer)
            if any(isinstance(v, Future) for v in mapping.values()):
                return True
    return False


def materialize_on_cluster(client, collections) -> list:
    """Futures, one per collection, of their computed values (on workers)."""
    if runs_in_one_task(collections) and not _holds_futures(collections):
        import operator

        whole = client.submit(compute_in_task, _Graph(collections), pure=False)
        return [client.submit(operator.getitem, whole, i, pure=False) for i in range(len(collections))]
    return list(client.compute(list(collections)))
