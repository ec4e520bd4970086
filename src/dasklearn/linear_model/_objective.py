"""The penalised objective of a linear model, evaluated over placed blocks.

Links the three layers: the solvers call :class:`Objective` as their
``evaluate`` / ``consensus`` callback; it asks the runtime to map a block
kernel over the blocks where they live and to sum the partial results, then
scales the sums and adds the penalty here on the client.

The objective is, with ``n`` the number of rows (with sample weights: the
sum of the weights, the row losses being weighted) and ``m`` a mask that is
zero at the intercepts::

    f(w) = sum_rows(loss) / n + sum(l2 * m * w**2) / 2      (smooth part)
    F(w) = f(w) + sum(l1 * m * |w|)

Each estimator maps its own parameters (``C``, ``alpha``, ``l1_ratio``) to
the scalar strengths ``l1`` and ``l2``.
"""

from __future__ import annotations

import numpy as np

from dasklearn._kernels.linear import LinearSpec, add, admm_block_cache, admm_block_round, evaluate_block
from dasklearn.linear_model._weighted import evaluate_weighted_block


class Objective:
    """Callable ``objective(params, order)`` for the solvers.

    Parameters
    ----------
    blocks : LocalBlocks or DistributedBlocks
        Prepared blocks (see ``dasklearn._runtime._reduce``).
    spec : LinearSpec
    n_samples : int or float
        Total number of rows, or of sample weights (the loss sum is divided
        by it).
    l1, l2 : float
        Penalty strengths; neither applies to the intercepts.
    weighted : bool, default=False
        The blocks are ``(X, y, w)``: each row's loss is multiplied by its
        weight (:mod:`dasklearn.linear_model._weighted`; not for ADMM).
    """

    def __init__(self, blocks, spec: LinearSpec, n_samples, l1: float = 0.0, l2: float = 0.0,
                 weighted: bool = False):
        self.blocks = blocks
        self.spec = spec
        self.n_samples = float(n_samples) if weighted else int(n_samples)
        self._kernel = evaluate_weighted_block if weighted else evaluate_block
        penalised = ~spec.intercept_mask()
        self.l1 = float(l1) * penalised
        self.l2 = float(l2) * penalised
        self.n_evaluations = 0
        self._admm_states = None  # per-block (x, u), held here between rounds
        self._admm_cache = None  # handle of the per-block caches, kept with the blocks

    def __call__(self, params, order: int = 1):
        params = np.asarray(params, dtype=np.float64)
        P = self.spec.n_params
        nbytes = 8 * (1 + (P if order >= 1 else 0) + (P * P if order >= 2 else 0))
        sums = self.blocks.map_reduce(self._kernel, params, self.spec, order, combine=add, nbytes=nbytes)
        self.n_evaluations += 1
        n = self.n_samples
        out = [sums[0] / n + 0.5 * float(self.l2 @ (params * params))]
        if order >= 1:
            out.append(sums[1] / n + self.l2 * params)
        if order >= 2:
            out.append(sums[2] / n + np.diag(self.l2))
        return tuple(out)

    def consensus(self, z, rho: float, rescale: float, inner_tol: float):
        """One ADMM round over the blocks (see ``solvers.admm``).

        Each block's ``(x, u)`` comes back with its partial result and is
        held here until the next round (2 parameter vectors per block), so
        a lost worker loses none of the solver's state; what the blocks keep
        between rounds (the squared loss's Gram matrices) is derived from
        the blocks alone and recomputed with them.
        """
        if self._admm_cache is None:
            self._admm_cache = self.blocks.derive(admm_block_cache, self.spec, float(self.n_samples))
        self._admm_states, sums = self.blocks.map_reduce_state(
            admm_block_round, self._admm_states, np.asarray(z, dtype=np.float64), float(rho),
            float(rescale), self.spec, float(self.n_samples), float(inner_tol), combine=add,
            derived=self._admm_cache,
        )
        self.n_evaluations += 1
        return sums

    def release_state(self) -> None:
        self._admm_states = None
