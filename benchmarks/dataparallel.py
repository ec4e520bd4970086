"""Data-parallel vs sequential partial_fit: SGDClassifier(loss="log_loss") for
a few epochs over 2,000,000 x 50 float64 rows in 100,000-row chunks.

* DataParallel: every worker runs partial_fit over the blocks it holds, the
  models are averaged once per epoch (validation off, ``tol=None``).
* Incremental (sequential): one partial_fit after another, the model
  travelling to each block (dasklearn.wrappers.Incremental); if it is not
  importable, "Incremental not available" is printed.
* Plain loop (sequential): the blocks computed one by one here, partial_fit
  here (the baseline without any wrapper).
* In memory: the same estimator fitted on the numpy arrays for the same
  number of epochs (timed too, for reference).

    python benchmarks/dataparallel.py                       # full run
    python benchmarks/dataparallel.py --n-samples 200000    # quick run

All Dask runs share one 2-worker LocalCluster (1 thread each) and the same
persisted data; generating the data is not timed, moving it is (DataParallel
places its blocks once per fit, inside its time). Times are per epoch; the
target is Incremental / DataParallel >= 1.6x. Accuracy is on held-out rows.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import machine_speed, table, timed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=2_000_000, help="training rows")
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=100_000, help="rows per block")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    import dask
    from dask.distributed import Client, LocalCluster, wait
    from sklearn.base import clone
    from sklearn.linear_model import SGDClassifier

    from dasklearn._parallel import DataParallel  # re-exported by dasklearn.wrappers
    from dasklearn.datasets import make_classification

    n, E = args.n_samples, args.epochs
    chunks = min(args.chunks, n)
    n_test = max(chunks, n // 10 // chunks * chunks)  # whole blocks after the training rows
    est = SGDClassifier(loss="log_loss", random_state=0)
    classes = np.array([0, 1])

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as client:
        X, y = make_classification(n_samples=n + n_test, n_features=args.n_features, n_informative=10,
                                   chunks=chunks, random_state=0)
        X, y = client.persist([X, y])
        wait([X, y])
        X_train, y_train, X_test, y_test = X[:n], y[:n], X[n:], y[n:]
        X_te, y_te = dask.compute(X_test, y_test)
        print(f"data {n:,} x {args.n_features} float64 ({n * args.n_features * 8 / 1e6:.0f} MB) in "
              f"{X_train.numblocks[0]} blocks, {n_test:,} test rows; {E} epochs; 2 workers x 1 thread",
              flush=True)
        rows = []

        t_dp, dp = timed(lambda: DataParallel(clone(est), max_rounds=E, tol=None, validation_fraction=0)
                         .fit(X_train, y_train, classes=classes))
        per_round = np.median([h["time"] for h in dp.history_])
        rows.append(("DataParallel (2 workers)", t_dp / E,
                     f"acc {dp.estimator_.score(X_te, y_te):.4f}; median round {per_round:.2f} s"))
        print(f"  DataParallel: {t_dp:.1f} s", flush=True)

        t_inc = None
        try:
            from dasklearn.wrappers import Incremental
        except ImportError:
            Incremental = None
            print("Incremental not available")
            rows.append(("Incremental (sequential)", None, "Incremental not available"))
        if Incremental is not None:
            def run_incremental():
                inc = Incremental(clone(est))
                if "epochs" in inc.get_params(deep=False):
                    return inc.set_params(epochs=E).fit(X_train, y_train, classes=classes)
                inc.fit(X_train, y_train, classes=classes)
                for _ in range(E - 1):
                    inc.partial_fit(X_train, y_train, classes=classes)
                return inc

            try:
                t_inc, inc = timed(run_incremental)
                t_inc /= E
                rows.append(("Incremental (sequential)", t_inc, f"acc {inc.estimator_.score(X_te, y_te):.4f}"))
                print(f"  Incremental: {t_inc * E:.1f} s", flush=True)
            except Exception as exc:  # a failing peer is a result too
                rows.append(("Incremental (sequential)", None, f"{type(exc).__name__}: {exc}"[:60]))

        def plain_loop():
            model = clone(est)
            blocks = list(zip(X_train.to_delayed().ravel(), y_train.to_delayed().ravel()))
            for _ in range(E):
                for xb, yb in blocks:
                    model.partial_fit(*dask.compute(xb, yb), classes=classes)
            return model

        t_loop, loop = timed(plain_loop)
        rows.append(("plain partial_fit loop (sequential)", t_loop / E,
                     f"acc {loop.score(X_te, y_te):.4f}; blocks fetched here"))
        print(f"  plain loop: {t_loop:.1f} s", flush=True)

        X_np, y_np = dask.compute(X_train, y_train)
        start = time.perf_counter()
        mem = clone(est).set_params(max_iter=E, tol=None).fit(X_np, y_np)
        t_mem = time.perf_counter() - start
        rows.append(("scikit-learn in memory (1 core)", t_mem / E,
                     f"acc {mem.score(X_te, y_te):.4f}; data already here"))
        del X_np, y_np

    print()
    print(table(f"SGDClassifier, seconds per epoch ({E} epochs)", rows, baseline="DataParallel (2 workers)"))
    print()
    base = t_inc if t_inc is not None else t_loop / E
    name = "Incremental" if t_inc is not None else "plain loop"
    print(f"{name} / DataParallel per epoch: {base / (t_dp / E):.2f}x  (target >= 1.6x)")


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
