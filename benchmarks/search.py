"""A 16-candidate x 3-fold grid search of SGDClassifier(max_iter=20, tol=None)
on 200,000 x 50 float64 data in 20,000-row chunks: dasklearn vs dask-ml (same
2-worker LocalCluster, same dask arrays) vs scikit-learn GridSearchCV(n_jobs=2)
on the same data in memory.

    python -m pip install -e ".[bench]" && python benchmarks/search.py

Cluster start-up is excluded for both Dask libraries (they share the cluster),
and the dask arrays are persisted on the workers before timing, as
scikit-learn's numpy data are already in memory: the timed part is the search
(including moving the data where each library needs it), not the generation
of the data set.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import table, timed

GRID = {"alpha": list(np.logspace(-6, -2, 8)), "penalty": ["l2", "l1"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    from dask.distributed import Client, LocalCluster
    from sklearn import model_selection as sk
    from sklearn.linear_model import SGDClassifier

    import dasklearn.model_selection as dl
    from dasklearn.datasets import make_classification

    X, y = make_classification(n_samples=args.n_samples, n_features=50, n_informative=10,
                               chunks=20_000, random_state=0)
    X_np, y_np = X.compute(), y.compute()
    est = SGDClassifier(max_iter=20, tol=None, random_state=0)
    n_cand = len(sk.ParameterGrid(GRID))
    print(f"data {X_np.shape} float64 ({X_np.nbytes / 1e6:.0f} MB) in {X.numblocks[0]} chunks; "
          f"{n_cand} candidates x 3 folds")

    t_sk, ref = timed(lambda: sk.GridSearchCV(est, GRID, cv=3, n_jobs=2).fit(X_np, y_np), args.repeat)
    print(f"  scikit-learn: {t_sk:.2f} s", flush=True)
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as client:
        from distributed import wait

        X, y = client.persist([X, y])
        wait([X, y])
        t_dl, ours = timed(lambda: dl.GridSearchCV(est, GRID, cv=3).fit(X, y), args.repeat)
        print(f"  dasklearn: {t_dl:.2f} s", flush=True)
        same = np.abs(ours.cv_results_["mean_test_score"] - ref.cv_results_["mean_test_score"]).max()
        rows.append(("dasklearn GridSearchCV (dask arrays)", t_dl,
                     f"best {ours.best_score_:.4f}; max |score diff| vs sklearn {same:.1e}"))
        rows.append(("scikit-learn GridSearchCV n_jobs=2 (numpy)", t_sk, f"best {ref.best_score_:.4f}"))
        try:
            import dask_ml.model_selection as dml

            t_dml, theirs = timed(lambda: dml.GridSearchCV(est, GRID, cv=3).fit(X, y), args.repeat)
            rows.append(("dask-ml GridSearchCV (dask arrays)", t_dml, f"best {theirs.best_score_:.4f}"))
        except Exception as exc:  # a peer failing is a result too
            rows.append(("dask-ml GridSearchCV (dask arrays)", None, f"{type(exc).__name__}: {exc}"[:70]))
    print()
    print(table("Grid search, 2 cores, 2-worker LocalCluster", rows,
                baseline="dasklearn GridSearchCV (dask arrays)"))
    print()
    print(f"dasklearn / scikit-learn: {t_dl / t_sk:.2f}x  (target <= 1.0x)")
    if rows[2][1]:
        print(f"dask-ml / dasklearn:      {rows[2][1] / t_dl:.2f}x  (target > 1x)")


if __name__ == "__main__":
    main()
