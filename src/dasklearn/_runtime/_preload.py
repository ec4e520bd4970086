"""Worker preload: native thread pools sized as dask intends.

dask runs one task per worker thread and expects each task to use one core:
before *spawning* a worker it sets ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``
and ``OPENBLAS_NUM_THREADS`` (``distributed.nanny.pre-spawn-environ``,
default 1). A *forked* worker (see :mod:`._start`) inherits BLAS / OpenMP
pools the parent already started, so those variables come too late. This
preload applies the same limits with threadpoolctl when the worker starts.
"""

from __future__ import annotations

_VARS = {"OMP_NUM_THREADS": "openmp", "OPENBLAS_NUM_THREADS": "blas", "MKL_NUM_THREADS": "blas"}


def limits_from_config() -> dict:
    import dask

    environ = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    out = {}
    for var, api in _VARS.items():
        if var in environ:
            value = int(environ[var])
            out[api] = min(out.get(api, value), value)
    return out


def dask_setup(worker=None) -> None:
    limits = limits_from_config()
    if limits:
        from threadpoolctl import threadpool_limits

        # one call: threadpoolctl scans the loaded libraries once per call
        threadpool_limits(limits=limits)
