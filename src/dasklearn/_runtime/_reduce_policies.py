"""Pure policies of the blockwise reductions (:mod:`dasklearn._runtime._reduce`):
which worker thread evaluates which blocks, in what order partial results are
added, and how in-memory data is cut into blocks.

Plain functions of their arguments (no cluster, no I/O): the order of every
floating-point sum depends on the block indices alone, which is what makes
the linear models' fits bit-identical on any cluster.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

# Partial results are gathered and added on the client when they weigh at
# most GATHER_BYTES together; otherwise the workers add them first, in runs
# of SPLIT_EVERY consecutive blocks (a tree), which costs one extra hop.
SPLIT_EVERY = 8
GATHER_BYTES = 8 << 20
# In-memory (NumPy) input is cut into blocks of about this many bytes of X:
# a number of blocks that depends on the data only, not on the machine.
LOCAL_BLOCK_BYTES = 4 << 20


def assign_groups(locations: Sequence[Sequence[str]], nthreads: dict[str, int]) -> list[tuple[str, list[int]]]:
    """Split block indices into groups, one per worker thread holding blocks.

    Parameters
    ----------
    locations : sequence of sequence of str
        For each block, the addresses of the workers holding it (empty when
        no worker holds it right now: it then goes to the least loaded
        worker of ``nthreads``).
    nthreads : dict
        Threads of each worker.

    Returns
    -------
    list of (address, block indices)
        A block held by several workers goes to the least loaded of them;
        each worker's blocks are dealt round-robin into at most ``nthreads``
        groups.  Deterministic for given inputs.  (The grouping affects
        where blocks are evaluated, never the value of a sum: see
        :func:`tree_sum`.)
    """
    by_worker: dict[str, list[int]] = {}
    for i, where in enumerate(locations):
        candidates = sorted(where) or sorted(nthreads)
        if not candidates:
            raise ValueError(f"block {i} is held by no worker")
        address = min(candidates, key=lambda a: len(by_worker.get(a, ())))
        by_worker.setdefault(address, []).append(i)
    groups = []
    for address in sorted(by_worker):
        idx = by_worker[address]
        k = max(1, min(int(nthreads.get(address, 1)), len(idx)))
        groups.extend((address, idx[j::k]) for j in range(k))
    return groups


def reduction_levels(n_partials: int, partial_nbytes: int, split_every: int | None = None,
                     gather_bytes: int | None = None) -> int:
    """Number of tree levels of worker-side additions before the gather.

    Each level adds runs of ``split_every`` consecutive partial results on
    the workers.  Levels are added while the remaining partials weigh more
    than ``gather_bytes`` together (a level costs a network hop; many small
    partials are cheap to gather: each task sends its blocks' partials in
    one message).  Defaults: the module's ``SPLIT_EVERY`` and
    ``GATHER_BYTES``.  Depends on its arguments only, so the shape of the
    sum (:func:`tree_sum`) is the same wherever it runs.
    """
    split_every = SPLIT_EVERY if split_every is None else split_every
    gather_bytes = GATHER_BYTES if gather_bytes is None else gather_bytes
    if split_every < 2:
        raise ValueError(f"split_every must be >= 2, got {split_every}")
    levels = 0
    n = n_partials
    while n > 1 and n * partial_nbytes > gather_bytes:
        n = math.ceil(n / split_every)
        levels += 1
    return levels


def tree_sum(values: Sequence, combine: Callable, levels: int = 0, split_every: int | None = None):
    """The sum of ``values`` (in block order) in the shape this module uses.

    ``levels`` times, runs of ``split_every`` consecutive values are each
    folded left to right (``combine(combine(v0, v1), v2)...``); then the
    remaining values are folded left to right.  The shape depends only on
    ``len(values)``, ``levels`` and ``split_every``; the workers' tree and
    :class:`OrderedSum` compute exactly the same additions.
    """
    split_every = SPLIT_EVERY if split_every is None else split_every
    values = list(values)
    for _ in range(levels):
        values = [functools.reduce(combine, values[i:i + split_every])
                  for i in range(0, len(values), split_every)]
    return functools.reduce(combine, values)


class OrderedSum:
    """:func:`tree_sum` fed one value at a time, in block order.

    Holds at most one running sum per level, so a local evaluation need not
    keep every block's (possibly Hessian-sized) partial result.
    """

    def __init__(self, combine: Callable, levels: int = 0, split_every: int | None = None):
        self.combine = combine
        self.levels = int(levels)
        self.split_every = SPLIT_EVERY if split_every is None else split_every
        self._acc = [None] * (self.levels + 1)
        self._count = [0] * (self.levels + 1)

    def push(self, value, level: int = 0) -> None:
        acc = self._acc[level]
        self._acc[level] = value if self._count[level] == 0 else self.combine(acc, value)
        self._count[level] += 1
        if level < self.levels and self._count[level] == self.split_every:
            self._flush(level)

    def _flush(self, level: int) -> None:
        value = self._acc[level]
        self._acc[level], self._count[level] = None, 0
        self.push(value, level + 1)

    def result(self):
        for level in range(self.levels):
            if self._count[level]:
                self._flush(level)
        if not self._count[self.levels]:
            raise ValueError("OrderedSum of no values")
        return self._acc[self.levels]


def row_blocks(n_rows: int, row_nbytes: int, block_bytes: int | None = None) -> list[tuple[int, int]]:
    """``(start, stop)`` of the row blocks of an in-memory array.

    About ``block_bytes`` (default ``LOCAL_BLOCK_BYTES``) per block, sizes
    differing by at most one row: a pure function of the shape, so a fit
    on in-memory data gives the same result on any machine.
    """
    block_bytes = LOCAL_BLOCK_BYTES if block_bytes is None else block_bytes
    k = max(1, min(n_rows, math.ceil(n_rows * max(1, row_nbytes) / block_bytes)))
    edges = [i * n_rows // k for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))
