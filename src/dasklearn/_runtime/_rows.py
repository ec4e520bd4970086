"""Data placed as row blocks: each worker gathers them and cuts its own rows.

A search computes a large dask array (blocks of a megabyte and more) into
its row blocks on the workers, not into one concatenated array on one worker:
each worker then fetches the blocks it lacks from whichever peers hold them,
all at once, and slices its folds straight from the blocks. Concatenating on
one worker first would make every other worker wait for that worker's
concatenation and then copy the whole array from that one peer (on a large
cluster, all of them from the same worker), and keep that whole copy beside
the folds for the whole search (here, only the refit concatenates one).

A task is given such data as one list, ``[RowsToken, block, block, ...]``
(dask hands a task the blocks themselves), which :func:`rows_of` turns into
a :class:`RowBlocks`. The token is a small object placed with the blocks and
released with them when the search ends: a worker's caches of what it cut
from the blocks are keyed by it (a weak reference), so they go when it goes,
even when the blocks are the user's persisted array, which stays.
"""

from __future__ import annotations

import numpy as np


class RowsToken:
    """Stands for one placement of row blocks (see the module docstring)."""


class RowBlocks:
    """Row blocks of one array (numpy blocks, in order), as a task sees them."""

    def __init__(self, token: RowsToken, blocks: list):
        self.token = token
        self.blocks = blocks
        self.offsets = np.cumsum([0] + [b.shape[0] for b in blocks])
        self.shape = (int(self.offsets[-1]), *blocks[0].shape[1:])
        # as whole() concatenates them, should blocks differ from the dtype dask declared
        self.dtype = np.result_type(*blocks)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, idx) -> np.ndarray:
        """``whole[idx]`` (``idx`` integer positions or a boolean mask), cut
        from the blocks without assembling the whole: one copy of the rows."""
        idx = np.asarray(idx)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise IndexError(f"boolean index of shape {idx.shape} does not match {len(self)} rows")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.intp, copy=False).ravel()
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        out = np.empty((idx.size, *self.shape[1:]), dtype=self.dtype)
        if idx.size == 0:
            return out
        block_of = np.searchsorted(self.offsets, idx, side="right") - 1
        if np.all(block_of[1:] >= block_of[:-1]):  # block by block (sorted splits: KFold's): one copy
            starts = np.searchsorted(block_of, np.arange(len(self.blocks) + 1))
            for j, block in enumerate(self.blocks):
                a, b = starts[j], starts[j + 1]
                if a < b and block.dtype == out.dtype:
                    np.take(block, idx[a:b] - self.offsets[j], axis=0, out=out[a:b])
                elif a < b:  # (a block of another dtype than declared: cast as whole() casts)
                    out[a:b] = block[idx[a:b] - self.offsets[j]]
            return out
        for j, block in enumerate(self.blocks):  # rows in any order (ShuffleSplit's)
            where = np.flatnonzero(block_of == j)
            if where.size:
                out[where] = block[idx[where] - self.offsets[j]]
        return out

    def whole(self) -> np.ndarray:
        """All rows, concatenated (a copy)."""
        return np.concatenate(self.blocks, axis=0)


def rows_of(arg):
    """A task's data argument: placed row blocks as a :class:`RowBlocks`,
    anything else as it is (a user's list of rows never starts with a
    RowsToken)."""
    if isinstance(arg, list) and arg and isinstance(arg[0], RowsToken):
        return RowBlocks(arg[0], arg[1:])
    return arg


def whole(arg):
    """A task's data argument, whole: placed row blocks concatenated."""
    arg = rows_of(arg)
    return arg.whole() if isinstance(arg, RowBlocks) else arg
