"""Worker preload: native thread pools sized as dask intends, and a forked
worker that exits with its parent (:func:`exit_with_parent`).

dask runs one task per worker thread and expects each task to use one core:
before *spawning* a worker it sets ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``
and ``OPENBLAS_NUM_THREADS`` (``distributed.nanny.pre-spawn-environ``,
default 1). A *forked* worker (see :mod:`._start`) inherits BLAS / OpenMP
pools the parent already started, so those variables come too late. This
preload applies the same limits with threadpoolctl when the worker starts.

Finding the loaded BLAS / OpenMP libraries (threadpoolctl scans every shared
library of the process) costs tens of milliseconds, paid by every worker at
start-up. A forked worker has the same libraries as its parent, so the scan
is done once in the parent, just before its first fork (``os.register_at_fork``
in :func:`prepare_before_fork`), and each forked worker only sets the limits
through the controller it inherited.
"""

from __future__ import annotations

import os
import threading
import time

from dasklearn._runtime._threads import controller

_VARS = {"OMP_NUM_THREADS": "openmp", "OPENBLAS_NUM_THREADS": "blas", "MKL_NUM_THREADS": "blas"}

_registered = False


def limits_from_config() -> dict:
    import dask

    environ = dask.config.get("distributed.nanny.pre-spawn-environ", {}) or {}
    out = {}
    for var, api in _VARS.items():
        if var in environ:
            value = int(environ[var])
            out[api] = min(out.get(api, value), value)
    return out


#: the process that forked this one (set in the child at fork; None: not forked)
_forked_by: int | None = None

#: seconds between two checks that the forking process is alive
PARENT_CHECK_SECONDS = 1.0


def prepare_before_fork() -> None:
    """Scan the libraries in the parent before its first fork (see module doc)."""
    global _registered
    if not _registered:
        os.register_at_fork(before=_scan_quietly, after_in_child=_remember_parent)
        _registered = True


def _remember_parent() -> None:
    global _forked_by
    _forked_by = os.getppid()


def exit_with_parent(parent: int, interval: float = PARENT_CHECK_SECONDS) -> threading.Thread:
    """Exit this process (as distributed does when its parent dies) once
    ``parent`` is no longer its parent, checked every ``interval`` seconds.

    A forked worker is meant to exit when the process that started it dies:
    distributed's child watches a pipe whose write end only the parent holds.
    But workers forked one after another inherit each other's write ends
    (the second nanny may make its pipe before the first worker is forked),
    so after a crash of the parent (a kill, an out-of-memory kill) each
    keeps the other alive, for ever, holding its memory and ports. Spawned
    workers inherit no such ends. The parent's pid does not lie: when it
    dies, the worker is given another parent.
    """
    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                os._exit(-1)

    thread = threading.Thread(target=watch, name="dasklearn-exit-with-parent", daemon=True)
    thread.start()
    return thread


def _scan_quietly() -> None:
    try:
        controller()
    except Exception:  # never break a fork; the worker will scan for itself
        pass


def dask_setup(worker=None) -> None:
    if _forked_by is not None:  # a forked worker: it goes when its parent goes (see exit_with_parent)
        exit_with_parent(_forked_by)
    limits = limits_from_config()
    if not limits:
        return
    # A library the parent loads after its first fork (rare: BLAS and OpenMP
    # come with numpy, scipy and scikit-learn at import) is missing from the
    # inherited controller; its pool is then not limited (a speed matter only).
    controller().limit(limits=limits)  # scanned here unless inherited from the parent
