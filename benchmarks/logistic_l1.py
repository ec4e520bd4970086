"""Multinomial logistic regression with an l1 penalty on collinear columns:
200,000 x 50 float64 data, 4 classes, 20 informative columns and 10 that are
exact combinations of them (dasklearn.datasets.make_classification), in
50,000-row chunks. dasklearn (solver='auto': proximal Newton) vs dask-ml
(same 2-worker LocalCluster, same persisted dask arrays) vs scikit-learn's
saga (its only solver for a multinomial l1 model) on the same data as one
NumPy array in this process. dask-ml's LogisticRegression is binary only
(dask-glm's logistic loss, linear in y, is a log-likelihood for labels 0 and
1 only): given the 4 classes it returns one binary model without an error,
so its row gives what it returns and its time, not a ratio or an objective.

    python -m pip install -e ".[bench]" && python benchmarks/logistic_l1.py

The data is generated and persisted on the workers (and gathered here for
scikit-learn) before any timing; cluster start-up is excluded. All fit
C=1, l1_ratio=1 (the l1 penalty), an intercept, tol=1e-4 and max_iter=100,
each with its own stopping rule. As the columns are collinear, the loss is
flat along some directions and only the l1 term picks the optimum there:
the optimum's objective is unique, its coefficients need not be. So each
result is scored by its objective, scikit-learn's (mean log-loss +
sum |coef| / (C n_samples)), computed here the same way for all, with its
gap to the lowest of them.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import machine_speed, persisted_with_copies, table, timed


def objective(X, y, coef, intercept, C):
    """scikit-learn's l1 multinomial objective, per sample."""
    from scipy.special import log_softmax

    Z = X @ coef.T + intercept
    return float(-np.mean(log_softmax(Z, axis=1)[np.arange(len(y)), y]) + np.abs(coef).sum() / (C * len(y)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--chunks", type=int, default=50_000)
    parser.add_argument("--skip-dask-ml", action="store_true", help="omit the dask-ml peer")
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from dask.distributed import Client, LocalCluster
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    import dasklearn.linear_model as dl
    from dasklearn.datasets import make_classification

    C = 1.0
    results = {}  # name: (seconds, coef, intercept, note)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as client:
        X, y = make_classification(n_samples=args.n_samples, n_features=50, n_informative=20, n_redundant=10,
                                   n_classes=4, chunks=args.chunks, random_state=0)
        X, y, X_np, y_np = persisted_with_copies(client, X, y)
        print(f"data {X_np.shape} float64 ({X_np.nbytes / 1e6:.0f} MB) in {X.numblocks[0]} chunks, 4 classes, "
              "persisted on 2 workers (1 thread each)", flush=True)

        def fit(name, make, data):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                seconds, model = timed(lambda: make().fit(*data))
            warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            coef = np.asarray(model.coef_)
            if coef.ndim == 1:  # dask-ml: one binary model, whatever the classes
                note = f"a binary model (coef_ of shape {coef.shape}) for 4 classes, in {seconds:.2f} s"
                results[name] = (None, None, None, note)
            else:
                note = f"{int(np.max(model.n_iter_))} it"
                if warned:
                    note += "; did not converge (ConvergenceWarning)"
                results[name] = (seconds, coef, np.asarray(model.intercept_), note)
            print(f"  {name}: {seconds:.2f} s, {note}", flush=True)

        fit("dasklearn LogisticRegression auto (dask)",
            lambda: dl.LogisticRegression(C=C, l1_ratio=1.0, solver="auto"), (X, y))
        fit("scikit-learn LogisticRegression saga (numpy)",
            lambda: SkLogisticRegression(C=C, l1_ratio=1.0, solver="saga", **_sklearn_l1()), (X_np, y_np))
        if not args.skip_dask_ml:
            name = "dask-ml LogisticRegression proximal_grad (dask)"
            try:
                import dask_ml.linear_model as dml

                fit(name, lambda: dml.LogisticRegression(penalty="l1", C=C, solver="proximal_grad"), (X, y))
            except Exception as exc:  # a peer failing is a result too
                results[name] = (None, None, None, f"{type(exc).__name__}: {exc}"[:70])

    objectives = {k: objective(X_np, y_np, c, b, C) for k, (_, c, b, _) in results.items() if c is not None}
    best = min(objectives.values())
    rows = []
    for name, (seconds, coef, _, note) in results.items():
        if coef is not None:
            note = (f"objective {objectives[name]:.10f} (+{objectives[name] - best:.1e}); "
                    f"{np.count_nonzero(coef)} nonzero; {note}")
        rows.append((name, seconds, note))
    print()
    print(table("Multinomial l1 logistic regression, collinear columns, 2 cores, 2-worker LocalCluster", rows,
                baseline="dasklearn LogisticRegression auto (dask)"))


def _sklearn_l1() -> dict:
    """scikit-learn before 1.8 reads l1_ratio only with penalty='elasticnet'
    (1.8 deprecates penalty: l1_ratio alone says it)."""
    import sklearn

    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    return {} if (major, minor) >= (1, 8) else {"penalty": "elasticnet"}


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
