"""Binary logistic regression, solver lbfgs, on 1,000,000 x 50 float64 data
(dasklearn.datasets.make_classification) in 100,000-row chunks: dasklearn vs
dask-ml (same 2-worker LocalCluster, same persisted dask arrays) vs
scikit-learn on the same data as one NumPy array in this process.

    python -m pip install -e ".[bench]" && python benchmarks/logistic.py
    python benchmarks/logistic.py --n-samples 200000     # quick run

The data is generated and persisted on the workers (and gathered here for
scikit-learn) before any timing: every library starts from data already in
memory.  Cluster start-up is excluded.  All three fit the same model
(C=1, l2 penalty, intercept, tol=1e-4, max_iter=100); accuracy is measured
on the training data.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_speed, persisted_with_copies, table, timed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--skip-dask-ml", action="store_true", help="omit the dask-ml peer")
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from dask.distributed import Client, LocalCluster
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    import dasklearn.linear_model as dl
    from dasklearn.datasets import make_classification

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as client:
        X, y = make_classification(n_samples=args.n_samples, n_features=args.n_features,
                                   n_informative=10, chunks=args.chunks, random_state=0)
        X, y, X_np, y_np = persisted_with_copies(client, X, y)
        print(f"data {X_np.shape} float64 ({X_np.nbytes / 1e6:.0f} MB) in {X.numblocks[0]} chunks, "
              "persisted on 2 workers (1 thread each)", flush=True)

        t_sk, ref = timed(lambda: SkLogisticRegression().fit(X_np, y_np), args.repeat)
        acc_sk = ref.score(X_np, y_np)
        print(f"  scikit-learn: {t_sk:.2f} s, {int(ref.n_iter_[0])} iterations", flush=True)

        t_dl, ours = timed(lambda: dl.LogisticRegression().fit(X, y), args.repeat)
        acc_dl = ours.score(X, y)
        diff = np.abs(ours.coef_ - ref.coef_).max() / np.abs(ref.coef_).max()
        print(f"  dasklearn: {t_dl:.2f} s, {int(ours.n_iter_[0])} iterations", flush=True)

        rows = [
            ("dasklearn LogisticRegression (dask)", t_dl,
             f"acc {acc_dl:.4f}; {int(ours.n_iter_[0])} it; coef rel diff vs sklearn {diff:.1e}"),
            ("scikit-learn LogisticRegression (numpy)", t_sk,
             f"acc {acc_sk:.4f}; {int(ref.n_iter_[0])} it"),
        ]
        t_dml = None
        if not args.skip_dask_ml:
            try:
                import dask_ml.linear_model as dml

                t_dml, theirs = timed(lambda: dml.LogisticRegression(solver="lbfgs").fit(X, y), args.repeat)
                acc_dml = float((theirs.predict(X) == y).mean().compute())
                rows.append(("dask-ml LogisticRegression lbfgs (dask)", t_dml, f"acc {acc_dml:.4f}"))
            except Exception as exc:  # a peer failing is a result too
                rows.append(("dask-ml LogisticRegression lbfgs (dask)", None,
                             f"{type(exc).__name__}: {exc}"[:70]))
    print()
    print(table("Logistic regression (lbfgs), 2 cores, 2-worker LocalCluster", rows,
                baseline="dasklearn LogisticRegression (dask)"))
    print()
    print(f"dasklearn / scikit-learn: {t_dl / t_sk:.2f}x  (target <= 1.5x)")
    if t_dml:
        print(f"dask-ml / dasklearn:      {t_dml / t_dl:.2f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
