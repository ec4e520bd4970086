"""HyperbandSearchCV against a random search that trains every candidate to
max_iter, on 100,000 x 20 classification (dasklearn.datasets) in 20 blocks,
SGDClassifier, max_iter=27, on a 2-worker LocalCluster.

    python benchmarks/hyperband.py                      # the issue's size
    python benchmarks/hyperband.py --n-samples 20000    # quick run

- HyperbandSearchCV(max_iter=27, aggressiveness=3): 4 brackets, 49 candidates.
- The random search: the same 49 candidates, each trained with 27
  partial_fit calls (IncrementalSearchCV with every candidate kept to
  max_iter and scored at the end: RandomizedSearchCV done with partial_fit).
  Both use the same hold-out rows and block order (same random_state), so
  the only difference is Hyperband's early stopping.
- dask-ml's HyperbandSearchCV on the same dask arrays, as a peer (optional).

Targets: Hyperband's best validation score within 0.01 of the random
search's, with at most a third of its partial_fit calls. One call is one
partial_fit on the training rows of one block (here 4,250 of 5,000 rows).
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_speed, table, timed

PARAMS_NOTE = "alpha ~ loguniform(1e-4, 10), loss in {hinge, log_loss, modified_huber}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=int, default=100_000, help="rows (default: 100,000)")
    parser.add_argument("--max-iter", type=int, default=27, help="partial_fit calls of the longest-trained model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-peer", action="store_true", help="skip dask-ml")
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from dask.distributed import Client, LocalCluster
    from scipy.stats import loguniform
    from sklearn.linear_model import SGDClassifier

    from dasklearn.datasets import make_classification
    from dasklearn.model_selection._hyperband import HyperbandSearchCV
    from dasklearn.model_selection._incremental import IncrementalSearchCV

    params = {"alpha": loguniform(1e-4, 1e1), "loss": ["hinge", "log_loss", "modified_huber"]}
    est = SGDClassifier(tol=None, random_state=0)
    chunks = max(args.n_samples // 20, 1)
    X, y = make_classification(n_samples=args.n_samples, n_features=20, n_informative=10,
                               chunks=chunks, random_state=args.seed)
    print(f"data {X.shape} float64 in {X.numblocks[0]} blocks of {chunks} rows; {PARAMS_NOTE}")

    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc):
        X, y = X.persist(), y.persist()  # generation is not part of either search
        hb_search = HyperbandSearchCV(est, params, max_iter=args.max_iter, random_state=args.seed)
        t_hb, hb = timed(lambda: hb_search.fit(X, y))
        hb_calls = hb.metadata_["partial_fit_calls"]
        n_models = hb.metadata_["n_models"]
        print(f"  Hyperband: {t_hb:.2f} s, best {hb.best_score_:.4f}, {hb_calls} calls", flush=True)

        # the same candidates, every one trained to max_iter
        same = [{k: [v] for k, v in c.items()} for c in hb.cv_results_["params"]]
        rs_search = IncrementalSearchCV(est, same, n_initial_parameters="grid", max_iter=args.max_iter,
                                        fits_per_score=args.max_iter, random_state=args.seed)
        t_rs, rs = timed(lambda: rs_search.fit(X, y))
        rs_calls = int(np.sum(rs.cv_results_["partial_fit_calls"]))
        print(f"  random search: {t_rs:.2f} s, best {rs.best_score_:.4f}, {rs_calls} calls", flush=True)

        rows.append(("dasklearn HyperbandSearchCV", t_hb,
                     f"best {hb.best_score_:.4f}; {hb_calls} partial_fit calls, {n_models} models"))
        rows.append((f"random search, {len(same)} candidates to max_iter", t_rs,
                     f"best {rs.best_score_:.4f}; {rs_calls} partial_fit calls"))
        if not args.no_peer:
            try:
                import dask_ml.model_selection as dml

                peer = dml.HyperbandSearchCV(est, params, max_iter=args.max_iter, random_state=args.seed)
                t_p, peer = timed(lambda: peer.fit(X, y, classes=[0, 1]))
                rows.append(("dask-ml HyperbandSearchCV", t_p,
                             f"best {peer.best_score_:.4f}; {peer.metadata_['partial_fit_calls']} calls"))
            except Exception as exc:  # a peer failing is a result too
                rows.append(("dask-ml HyperbandSearchCV", None, f"{type(exc).__name__}: {exc}"[:70]))

    print()
    print(table(f"Hyperband vs random search, max_iter={args.max_iter}, 2-worker LocalCluster", rows,
                baseline="dasklearn HyperbandSearchCV"))
    print()
    gap = rs.best_score_ - hb.best_score_
    print(f"best score: Hyperband {hb.best_score_:.4f}, random search {rs.best_score_:.4f}, "
          f"gap {gap:+.4f}  (target <= 0.01)")
    print(f"partial_fit calls: Hyperband {hb_calls}, random search {rs_calls}, "
          f"ratio {hb_calls / rs_calls:.3f}  (target <= 0.333)")


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
