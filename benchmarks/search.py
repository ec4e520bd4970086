"""A 16-candidate x 3-fold grid search of SGDClassifier(max_iter=20, tol=None)
on 200,000 x 50 float64 data in 20,000-row chunks: dasklearn vs dask-ml (same
2-worker LocalCluster, same dask arrays) vs scikit-learn GridSearchCV(n_jobs=2)
on the same data in memory.

    python -m pip install -e ".[bench]" && python benchmarks/search.py

Cluster start-up is excluded for both Dask libraries (they share the cluster),
and the dask arrays are persisted on the workers before timing, as
scikit-learn's numpy data are already in memory: the timed part is the search
(including moving the data where each library needs it), not the generation
of the data set. scikit-learn's process pool is started once before the
rounds, untimed, so every round times it warm (it stays alive between calls);
likewise each cluster's workers import scikit-learn and both libraries' task
code before the timing.

This machine's speed drifts by 10-30% within minutes, so the libraries run in
rounds: in each round scikit-learn runs with no cluster alive (as its users
run it), then a fresh cluster runs dasklearn and dask-ml, in an order that
alternates between rounds. Each ratio is the median of the per-round ratios,
printed with their range.

For the two Dask libraries it also prints, from the same runs, the data moved
between the workers during the search (their incoming-transfer logs; median
over the rounds). The workers' memory is not compared: their processes keep
memory they have freed, so it depends on what ran before in the round.

``--profiler-off`` starts the clusters with dask's statistical profiler
turned off (``distributed.worker.profile.enabled: False``, which a user may
set; dasklearn never does): it shows what dask's own periodic work beside the
fits costs on this machine. The default is dask's default configuration.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
from _common import machine_speed, ratio_line, timed

GRID = {"alpha": list(np.logspace(-6, -2, 8)), "penalty": ["l2", "l1"]}


def _import_task_code(dask_ml: bool) -> None:
    import sklearn.linear_model  # noqa: F401

    import dasklearn.model_selection  # noqa: F401
    if dask_ml:
        import dask_ml.model_selection  # noqa: F401


def _measured(client, job):
    """(seconds, result, MB moved between the workers)."""
    client.run(lambda dask_worker: dask_worker.transfer_incoming_log.clear())
    seconds, result = timed(job)
    moved = sum(client.run(lambda dask_worker: sum(e["total"] for e in dask_worker.transfer_incoming_log)).values())
    return seconds, result, moved / 1e6


def _on_cluster(X, y, est, run_dask_ml: bool, dask_ml_first: bool, profiler_off: bool = False):
    """{library: (seconds, search, MB moved between workers) or (None, error)} on a fresh cluster."""
    import contextlib

    import dask
    from dask.distributed import Client, LocalCluster, wait

    import dasklearn.model_selection as dl

    out = {}
    config = (dask.config.set({"distributed.worker.profile.enabled": False}) if profiler_off
              else contextlib.nullcontext())
    with config, LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, \
            Client(lc) as client:
        X, y = client.persist([X, y])
        wait([X, y])
        # the workers import what the searches run (scikit-learn's SGD, each library's
        # task code) before the timing, as scikit-learn's pool is warm before its rounds
        client.run(_import_task_code, run_dask_ml)
        jobs = [("dasklearn", lambda: dl.GridSearchCV(est, GRID, cv=3).fit(X, y))]
        if run_dask_ml:
            def dask_ml():
                import dask_ml.model_selection as dml

                return dml.GridSearchCV(est, GRID, cv=3).fit(X, y)
            jobs.insert(0 if dask_ml_first else 1, ("dask-ml", dask_ml))
        for name, job in jobs:
            try:
                out[name] = _measured(client, job)
            except Exception as exc:  # a peer failing is a result too
                if name == "dasklearn":
                    raise
                out[name] = (None, f"{type(exc).__name__}: {exc}"[:70])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-dask-ml", action="store_true", help="skip the dask-ml peer")
    parser.add_argument("--profiler-off", action="store_true",
                        help="clusters without dask's statistical profiler (a user's setting; see above)")
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from sklearn import model_selection as sk
    from sklearn.linear_model import SGDClassifier

    from dasklearn.datasets import make_classification

    X, y = make_classification(n_samples=args.n_samples, n_features=50, n_informative=10,
                               chunks=20_000, random_state=0)
    X_np, y_np = X.compute(), y.compute()
    est = SGDClassifier(max_iter=20, tol=None, random_state=0)
    n_cand = len(sk.ParameterGrid(GRID))
    print(f"data {X_np.shape} float64 ({X_np.nbytes / 1e6:.0f} MB) in {X.numblocks[0]} chunks; "
          f"{n_cand} candidates x 3 folds; {args.rounds} rounds")

    # scikit-learn's pool of worker processes (loky) starts at its first parallel call (about 1 s
    # here) and then stays alive between calls: started untimed, every round times it warm, as
    # rounds after the first always did (the clusters' start is not timed either)
    sk.GridSearchCV(est, GRID, cv=3, n_jobs=2).fit(X_np[:3000], y_np[:3000])
    times = {"dasklearn": [], "scikit-learn": [], "dask-ml": []}
    moved = {"dasklearn": [], "dask-ml": []}  # MB moved between the workers, per round
    ref = ours = theirs = None
    for r in range(args.rounds):
        sk_first = r % 2 == 0
        def run_sklearn():
            t, res = timed(lambda: sk.GridSearchCV(est, GRID, cv=3, n_jobs=2).fit(X_np, y_np))
            times["scikit-learn"].append(t)
            return res
        if sk_first:
            ref = run_sklearn()
        res = _on_cluster(X, y, est, not args.no_dask_ml, dask_ml_first=r % 2 == 1,
                          profiler_off=args.profiler_off)
        if not sk_first:
            ref = run_sklearn()
        times["dasklearn"].append(res["dasklearn"][0])
        ours = res["dasklearn"][1]
        moved["dasklearn"].append(res["dasklearn"][2])
        if "dask-ml" in res:
            times["dask-ml"].append(res["dask-ml"][0])
            theirs = res["dask-ml"][1]
            if res["dask-ml"][0] is not None:
                moved["dask-ml"].append(res["dask-ml"][2])
        line = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v and v[-1] is not None)
        print(f"  round {r + 1}: {line}", flush=True)

    same = np.abs(ours.cv_results_["mean_test_score"] - ref.cv_results_["mean_test_score"]).max()
    print()
    mode = ", dask's profiler off" if args.profiler_off else ""
    print(f"Grid search, 2 cores, 2-worker LocalCluster{mode} (median over rounds)")
    print(f"{'program':<44} {'seconds':>8}  note")
    print("-" * 92)
    print(f"{'dasklearn GridSearchCV (dask arrays)':<44} {statistics.median(times['dasklearn']):8.2f}  "
          f"best {ours.best_score_:.4f}; max |mean_test_score diff| vs sklearn {same:.1e}")
    print(f"{'scikit-learn GridSearchCV n_jobs=2 (numpy)':<44} "
          f"{statistics.median(times['scikit-learn']):8.2f}  best {ref.best_score_:.4f}")
    dml = [t for t in times["dask-ml"] if t is not None]
    if dml:
        print(f"{'dask-ml GridSearchCV (dask arrays)':<44} {statistics.median(dml):8.2f}  "
              f"best {theirs.best_score_:.4f}")
    elif times["dask-ml"]:
        print(f"{'dask-ml GridSearchCV (dask arrays)':<44} {'failed':>8}  {theirs}")
    for name, runs in moved.items():
        if runs:
            print(f"{name}: {statistics.median(runs):.0f} MB moved between the workers "
                  f"(data set {(X_np.nbytes + y_np.nbytes) / 1e6:.0f} MB, persisted over both)")
    print()
    print(ratio_line("dasklearn / scikit-learn:",
                     [d / s for d, s in zip(times["dasklearn"], times["scikit-learn"])], "<= 1.0x"))
    if dml and len(dml) == len(times["dasklearn"]):
        print(ratio_line("dask-ml / dasklearn:", [m / d for m, d in zip(dml, times["dasklearn"])], "> 1x"))


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
