"""Incremental(SGDClassifier) on 10,000,000 x 50 float64 rows (about 4 GB),
generated lazily block by block, never all in memory: dasklearn vs a plain
Python loop of partial_fit vs dask-ml's Incremental, with the peak resident
memory of every process.

    python -m pip install -e ".[bench]"
    python benchmarks/incremental.py                        # the issue's size
    python benchmarks/incremental.py --n-samples 200_000    # quick smoke check

* plain loop: this process, no cluster; block i is computed with dask's
  synchronous scheduler (X and y of the block together) and passed to
  ``partial_fit``, one block at a time.
* dasklearn / dask-ml: a 2-worker LocalCluster (1 thread each), started once
  (start-up and a small warm-up fit excluded from the times), same dask arrays,
  ``shuffle_blocks=False`` so every program sees the same blocks in the same
  order: dasklearn's model must equal the loop's bit for bit.
* Peak RSS is sampled every 20 ms (psutil) for this process (client and
  scheduler) and every descendant (nannies, workers); the workers' own
  ``ru_maxrss`` is read at the end as a cross-check.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np
from _common import machine_speed, table

GB = 1 << 30
LOOP = "plain loop (partial_fit, sync blocks)"
LIMIT = 1.5 * GB


class PeakRSS:
    """Peak resident memory of this process and its descendants, by pid."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self._me = psutil.Process()
        self._interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        import psutil

        procs = [self._me]
        try:
            procs += self._me.children(recursive=True)
        except psutil.Error:
            pass
        for p in procs:
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            self.peaks[p.pid] = max(self.peaks.get(p.pid, 0), rss)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self._interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def _ru_maxrss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _describe(peaks: dict[int, int], roles: dict[int, str]) -> str:
    named = sorted(((roles.get(pid, "nanny"), rss) for pid, rss in peaks.items()),
                   key=lambda t: (t[0] != "client", t[0], -t[1]))
    return ", ".join(f"{role} {rss / GB:.2f}" for role, rss in named)


def plain_loop(X, y, classes, est):
    import dask

    for i in range(X.numblocks[0]):
        xb, yb = dask.compute(X.blocks[i], y.blocks[i], scheduler="sync")
        est.partial_fit(xb, yb, classes=classes)
        del xb, yb
    return est


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-samples", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=100_000, help="rows per block (default 100_000: 40 MB)")
    parser.add_argument("--skip-dask-ml", action="store_true")
    args = parser.parse_args()
    print(machine_speed(), flush=True)

    from dask.distributed import Client, LocalCluster
    from sklearn.linear_model import SGDClassifier

    from dasklearn.datasets import make_classification
    from dasklearn.wrappers import Incremental

    X, y = make_classification(n_samples=args.n_samples, n_features=args.n_features,
                               n_informative=10, chunks=args.chunks, random_state=0)
    classes = np.array([0, 1])
    est = SGDClassifier(random_state=0)
    print(f"data {X.shape} float64 = {X.nbytes / GB:.2f} GiB, generated lazily in "
          f"{X.numblocks[0]} blocks of {args.chunks} rows ({X.blocks[0].nbytes / 2**20:.0f} MiB)",
          flush=True)

    rows, memory = [], {}
    # -- plain loop, this process only ----------------------------------------
    with PeakRSS() as mem:
        start = time.perf_counter()
        ref = plain_loop(X, y, classes, SGDClassifier(random_state=0))
        t_loop = time.perf_counter() - start
    memory["plain loop"] = _describe(mem.peaks, {os.getpid(): "client"})
    loop_peak = max(mem.peaks.values())
    rows.append((LOOP, t_loop,
                 f"peak RSS {loop_peak / GB:.2f} GiB"))
    print(f"  plain loop: {t_loop:.2f} s", flush=True)

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as lc, Client(lc) as client:
        roles = {os.getpid(): "client"}
        roles.update({pid: "worker" for pid in client.run(os.getpid).values()})
        # warm-up: workers unpickle scikit-learn and dasklearn once
        Xw, yw = make_classification(n_samples=4 * 50_000, n_features=args.n_features, chunks=50_000,
                                     random_state=1)
        Incremental(est, shuffle_blocks=False).fit(Xw, yw, classes=classes)

        # -- dasklearn ----------------------------------------------------------
        with PeakRSS() as mem:
            start = time.perf_counter()
            ours = Incremental(est, shuffle_blocks=False).fit(X, y, classes=classes)
            t_ours = time.perf_counter() - start
        same = (np.array_equal(ours.estimator_.coef_, ref.coef_)
                and np.array_equal(ours.estimator_.intercept_, ref.intercept_))
        ours_peak = max(mem.peaks.values())
        worker_maxrss = max(client.run(_ru_maxrss).values())
        memory["dasklearn Incremental"] = _describe(mem.peaks, roles)
        rows.append(("dasklearn Incremental (2 workers)", t_ours,
                     f"peak RSS {ours_peak / GB:.2f} GiB; coef_ == loop's: {same}"))
        print(f"  dasklearn: {t_ours:.2f} s", flush=True)

        # -- dask-ml --------------------------------------------------------------
        if not args.skip_dask_ml:
            try:
                from dask_ml.wrappers import Incremental as DaskMLIncremental

                with PeakRSS() as mem:
                    start = time.perf_counter()
                    theirs = DaskMLIncremental(est, shuffle_blocks=False).fit(X, y, classes=classes)
                    t_theirs = time.perf_counter() - start
                memory["dask-ml Incremental"] = _describe(mem.peaks, roles)
                diff = np.abs(theirs.estimator_.coef_ - ref.coef_).max()
                rows.append(("dask-ml Incremental (2 workers)", t_theirs,
                             f"peak RSS {max(mem.peaks.values()) / GB:.2f} GiB; "
                             f"max |coef_ - loop's| {diff:.1e}"))
                print(f"  dask-ml: {t_theirs:.2f} s", flush=True)
            except Exception as exc:  # a peer failing is a result too
                rows.append(("dask-ml Incremental (2 workers)", None,
                             f"{type(exc).__name__}: {exc}"[:80]))

    print()
    print(table(f"Incremental SGDClassifier, {X.shape[0]:,} x {X.shape[1]} float64, 2 cores", rows,
                baseline=LOOP))
    print()
    print("peak RSS per process, GiB (sampled every 20 ms):")
    for name, text in memory.items():
        print(f"  {name:<24} {text}")
    print(f"  workers' own ru_maxrss after dasklearn: {worker_maxrss / GB:.2f} GiB")
    peak = max(ours_peak, worker_maxrss)
    print()
    print(f"dasklearn / plain loop: {t_ours / t_loop:.2f}x  (target <= 1.3x)")
    print(f"dasklearn peak RSS of any process: {peak / GB:.2f} GiB  (target < {LIMIT / GB:.1f} GiB: "
          f"{'ok' if peak < LIMIT else 'EXCEEDED'})")
    print(f"dasklearn coef_ identical to the plain loop's: {same}")


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
