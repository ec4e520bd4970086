"""Incremental(SGDClassifier) on persisted data in many small blocks:
200,000 x 20 float64 rows in 1,000 blocks of 200 rows (34 kB each, X and y),
persisted on a 2-worker LocalCluster: dasklearn vs dask-ml's Incremental
(same cluster, same dask arrays) vs a plain Python loop of partial_fit over
the same blocks in memory (no cluster).

    python -m pip install -e ".[bench]" && python benchmarks/incremental_small_blocks.py

Persisted input is what users fit on after ``X, y = client.persist([X, y])``;
its blocks are already on the workers, so the time is the fit: computing
nothing, moving the model (and, for dasklearn's groups of small blocks, the
blocks of a group to one worker) and calling partial_fit 1,000 times.
``shuffle_blocks=False`` on both Dask libraries, so all three programs make
the same calls in the same order: the coefficients must be equal, bit for
bit. Cluster start-up and persisting the data are not timed; each library
fits once untimed first (imports on the workers). Rounds alternate the order
of the two libraries; ratios are medians of the per-round ratios.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_speed, median_table, paired, ratio_line, timed


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--chunks", type=int, default=200, help="rows per block")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    import dask_ml.wrappers as dmw
    from dask.distributed import Client, LocalCluster, wait
    from sklearn.linear_model import SGDClassifier

    from dasklearn.datasets import make_classification
    from dasklearn.wrappers import Incremental

    classes = np.array([0, 1])
    X, y = make_classification(n_samples=args.n_samples, n_features=20, chunks=args.chunks, random_state=0)
    n_blocks = X.numblocks[0]
    block_kb = (X.blocks[0].nbytes + y.blocks[0].nbytes) / 1e3
    print(f"{args.n_samples} x 20 float64 in {n_blocks} blocks of {args.chunks} rows ({block_kb:.0f} kB "
          f"each, X and y), persisted; {args.rounds} rounds")
    X_np, y_np = X.compute(), y.compute()
    bounds = np.cumsum((0,) + X.chunks[0])

    def loop():
        est = SGDClassifier(random_state=0)
        for b in range(n_blocks):
            est.partial_fit(X_np[bounds[b]:bounds[b + 1]], y_np[bounds[b]:bounds[b + 1]], classes=classes)
        return est

    def fit(wrapper, X, y):
        return wrapper(SGDClassifier(random_state=0), shuffle_blocks=False).fit(X, y, classes=classes).estimator_

    times = {"dasklearn": [], "dask-ml": [], "loop": []}
    same = {"dasklearn": True, "dask-ml": True}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster):
        Xp, yp = X.persist(), y.persist()
        wait([Xp, yp])
        fit(Incremental, Xp, yp)  # untimed: imports on the workers
        fit(dmw.Incremental, Xp, yp)
        for r in range(args.rounds):
            t, ref = timed(loop)
            times["loop"].append(t)
            order = [("dasklearn", Incremental), ("dask-ml", dmw.Incremental)]
            for name, wrapper in order if r % 2 == 0 else order[::-1]:
                t, est = timed(lambda: fit(wrapper, Xp, yp))
                times[name].append(t)
                same[name] &= bool(np.array_equal(est.coef_, ref.coef_) and np.array_equal(
                    est.intercept_, ref.intercept_))
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)

    print()
    def note(name):
        return "" if name == "loop" else f"coef_ {'equal to' if same[name] else 'DIFFERENT from'} the loop's, bit for bit"

    labels = {"dasklearn": "dasklearn Incremental (persisted dask arrays)",
              "dask-ml": "dask-ml Incremental (persisted dask arrays)",
              "loop": "plain partial_fit loop (numpy, no cluster)"}
    print(median_table("Incremental on small persisted blocks, 2 cores, 2-worker LocalCluster (median over rounds)",
                       [(label, times[name], note(name)) for name, label in labels.items()]))
    print()
    print(ratio_line("dask-ml / dasklearn:", paired(times, "dask-ml", "dasklearn"), "> 1x"))
    print(ratio_line("dasklearn / plain loop:", paired(times, "dasklearn", "loop"),
                     "none: the cluster's cost on tiny blocks"))


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
