"""The tutorial our users start from, run step by step with timings.

``dasklearn demo`` calls :func:`run`. The steps are those of
``examples/tutorial.py`` (the seed tutorial with ``dask_ml`` replaced by
``dasklearn``), each timed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager


class SchedulerAddressError(ValueError):
    """``--scheduler`` is not a scheduler address."""


def run(n_workers: int | None = None, verbose: int = 0, out=print, scheduler: str | None = None,
        timeout: float = 10.0) -> dict:
    """Run the tutorial on a new local cluster of ``n_workers`` worker
    processes (dask's choice when None), or on the scheduler at ``scheduler``
    (e.g. ``tcp://127.0.0.1:8786``, waited for ``timeout`` seconds); print
    and return its results."""
    timings: dict[str, float] = {}

    @contextmanager
    def step(name):
        start = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - start
        out(f"  [{timings[name]:7.3f} s] {name}")

    total = time.perf_counter()
    with step("imports"):
        from dask.distributed import Client
        from scipy.stats import loguniform, uniform
        from sklearn.linear_model import SGDClassifier

        from dasklearn.datasets import make_classification
        from dasklearn.model_selection import GridSearchCV, train_test_split

    with step("Step 1: start a Dask client"):
        if scheduler:
            from distributed.comm import parse_address, parse_host_port

            from dasklearn._runtime import connect

            try:  # checked before any Client exists
                scheme, location = parse_address(scheduler)
                if scheme in ("http", "https"):
                    raise ValueError("that is a web (dashboard) address; the scheduler's is tcp://HOST:PORT")
                if scheme in ("tls", "wss"):
                    raise ValueError(f"{scheme}:// needs TLS settings, which the command line does not take; "
                                     "use dasklearn._runtime.connect(address, security=...) from Python")
                _, port = parse_host_port(location)
                if port is not None and not 0 < port < 65536:
                    raise ValueError(f"port {port} is not in 1-65535")
            except ValueError as exc:
                raise SchedulerAddressError(f"{scheduler!r} is not a scheduler address (e.g. "
                                            f"tcp://127.0.0.1:8786): {exc}") from exc
            client = connect(scheduler, timeout=timeout)
        else:
            client = Client(n_workers=n_workers) if n_workers is not None else Client()
    try:
        if not verbose:  # (a verbose search prints it)
            from dasklearn._runtime._cluster import dashboard

            out(f"  dashboard: {dashboard(client)}")
        with step("Step 2: make_classification (5000 x 20, chunks=25)"):
            X, y = make_classification(n_samples=5000, n_features=20, chunks=25, random_state=0)
        with step("Step 3: train_test_split"):
            X_train, X_test, y_train, y_test = train_test_split(X, y)
        with step("Step 4-6: estimator, parameter grid, GridSearchCV"):
            estimator = SGDClassifier(random_state=10, max_iter=100)
            params = {"alpha": loguniform(1e-5, 1e-1), "l1_ratio": uniform(0, 1)}
            search = GridSearchCV(estimator, params, cv=3, verbose=verbose)
        with step("Step 7: search.fit (distributed)"):
            search.fit(X_train, y_train)
        out(f"Best parameters: {search.best_params_}")
        out(f"Best score: {search.best_score_}")
        with step("Step 9: score on the test set"):
            test_score = search.score(X_test, y_test)
        out(f"Test score: {test_score}")
    finally:
        with step("close the client"):
            client.close()
    timings["total"] = time.perf_counter() - total
    out(f"  [{timings['total']:7.3f} s] total")
    return {
        "best_params": search.best_params_,
        "best_score": search.best_score_,
        "test_score": test_score,
        "n_candidates": len(search.cv_results_["params"]),
        "timings": timings,
    }
