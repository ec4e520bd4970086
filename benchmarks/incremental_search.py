"""IncrementalSearchCV with many cheap models: 100 candidates of
SGDClassifier, each given 10 partial_fit calls (one a round, each scored on
the held-out rows), on 20,000 x 20 float64 rows persisted in 10 blocks on a
2-worker LocalCluster: dasklearn vs dask-ml's IncrementalSearchCV (same
cluster, same dask arrays) vs a plain Python loop doing the same amount of
work in one process (no cluster).

    python -m pip install -e ".[bench]" && python benchmarks/incremental_search.py

Here each partial_fit call (1,800 rows) and each score (2,000 rows) takes
about half a millisecond, so the time is mostly the runtime's: tasks,
scheduling, and bringing 1,000 scores back. The loop is the floor a
single process reaches for the same 1,000 calls and scores (its calls are
not the search's exact ones: a different split and block order, the same
sizes). Cluster start-up and persisting the data are not timed; each
library searches once untimed first (imports on the workers). Rounds
alternate the order of the two libraries; ratios are medians of the
per-round ratios.
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import machine_speed, median_table, paired, ratio_line, timed

N_CANDIDATES, CALLS = 100, 10


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from dask.distributed import Client, LocalCluster, wait
    from scipy.stats import loguniform
    from sklearn.base import clone
    from sklearn.linear_model import SGDClassifier

    from dasklearn.datasets import make_classification
    from dasklearn.model_selection import IncrementalSearchCV

    chunks = args.n_samples // 10
    X, y = make_classification(n_samples=args.n_samples, n_features=20, chunks=chunks, random_state=0)
    X_np, y_np = X.compute(), y.compute()
    params = {"alpha": loguniform(1e-5, 1e-1)}
    est = SGDClassifier(tol=None, random_state=0)
    print(f"{args.n_samples} x 20 float64 in 10 blocks, persisted; {N_CANDIDATES} candidates x {CALLS} "
          f"partial_fit calls, each scored; {args.rounds} rounds")

    train_rows = chunks - chunks // 10  # the default hold-out for 10 blocks: 10% of each block
    held_out = np.concatenate([np.arange(b * chunks + train_rows, (b + 1) * chunks) for b in range(10)])

    def loop():
        rng = np.random.RandomState(0)
        models = [clone(est).set_params(alpha=a) for a in loguniform(1e-5, 1e-1).rvs(N_CANDIDATES, random_state=rng)]
        Xv, yv = X_np[held_out], y_np[held_out]
        for call in range(CALLS):
            lo = (call % 10) * chunks
            scores = []
            for m in models:
                m.partial_fit(X_np[lo:lo + train_rows], y_np[lo:lo + train_rows], classes=[0, 1])
                scores.append(m.score(Xv, yv))
        return max(scores)

    def search(cls):
        return cls(est, params, n_initial_parameters=N_CANDIDATES, max_iter=CALLS, decay_rate=None,
                   random_state=0).fit(Xp, yp, classes=[0, 1])

    peers = [("dasklearn", IncrementalSearchCV)]
    try:
        import dask_ml.model_selection as dml
        peers.append(("dask-ml", dml.IncrementalSearchCV))
    except ImportError:
        pass
    times = {name: [] for name, _ in peers} | {"loop": []}
    notes: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \
            Client(cluster):
        Xp, yp = X.persist(), y.persist()
        wait([Xp, yp])
        for name, cls in peers:  # untimed: imports on the workers
            try:
                search(cls)
            except Exception as exc:  # a peer failing is a result too
                if name == "dasklearn":
                    raise
                notes[name] = f"failed: {type(exc).__name__}: {exc}"[:90]
        for r in range(args.rounds):
            t, best = timed(loop)
            times["loop"].append(t)
            notes["loop"] = f"best held-out score {best:.4f}"
            for name, cls in peers if r % 2 == 0 else peers[::-1]:
                if notes.get(name, "").startswith("failed"):
                    continue
                t, fitted = timed(lambda: search(cls))
                calls = int(np.sum(fitted.cv_results_["partial_fit_calls"]))
                times[name].append(t)
                notes[name] = f"best {fitted.best_score_:.4f}; {calls} partial_fit calls"
            print(f"  round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v),
                  flush=True)

    print()
    labels = {"dasklearn": "dasklearn IncrementalSearchCV", "dask-ml": "dask-ml IncrementalSearchCV",
              "loop": "plain loop, same work, one process"}
    print(median_table("IncrementalSearchCV, 100 cheap models, 2 cores, 2-worker LocalCluster (median over rounds)",
                       [(label, times[name], notes.get(name, "")) for name, label in labels.items() if name in times]))
    print()
    if times.get("dask-ml"):
        print(ratio_line("dask-ml / dasklearn:", paired(times, "dask-ml", "dasklearn"), "> 1x"))
    print(ratio_line("dasklearn / plain loop:", paired(times, "dasklearn", "loop"),
                     "none: the runtime's cost on cheap models"))


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
