"""The native thread pools (BLAS, OpenMP) of this process.

One threadpoolctl controller per process: finding the pools means scanning
every shared library the process has loaded (tens of milliseconds), so it
is done once and shared by the worker preload (:mod:`._preload`), by the
one-BLAS-thread limit of the linear models' kernels
(:mod:`._reduce`) and, through ``fork``, by forked workers, which inherit
the controller their parent built before forking.
"""

from __future__ import annotations

import contextlib
import os
import threading

_controller = None
_controller_lock = threading.Lock()
_worker_limited = False
_blas_lock = threading.Lock()
_blas_users = 0  # threads inside one_blas_thread
_blas_limiter = None  # the limit the first of them set (restored by the last)


def _fresh_in_child() -> None:
    """A forked child starts with free locks and no user of the BLAS limit.

    Locks are copied by fork in whatever state they were: nannies fork
    workers from several threads at once, so one thread's fork can copy a
    lock another thread holds at that instant, and the child would then
    wait for it forever (the controller itself is kept: see module doc)."""
    global _controller_lock, _blas_lock, _blas_users, _blas_limiter
    _controller_lock = threading.Lock()
    _blas_lock = threading.Lock()
    _blas_users, _blas_limiter = 0, None


os.register_at_fork(after_in_child=_fresh_in_child)


def controller():
    """This process's ``threadpoolctl.ThreadpoolController`` (scanned once)."""
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


def _blas_threads_above_one() -> bool:
    return any(lc.num_threads != 1 for lc in controller().select(user_api="blas").lib_controllers)


@contextlib.contextmanager
def one_blas_thread():
    """Kernels in this process run with one BLAS thread (restored after).

    The limit is process-wide, so concurrent users (fits in several threads)
    share it: the first one in sets it, the last one out restores the
    previous thread counts.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0 and _blas_threads_above_one():
            _blas_limiter = controller().limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def limit_worker_blas() -> None:
    """On a worker: BLAS limited to one thread per worker thread, as dask
    configures spawned workers (``distributed.nanny.pre-spawn-environ``);
    applied once, and kept, when a worker was started otherwise."""
    global _worker_limited
    if not _worker_limited:
        if _blas_threads_above_one():
            controller().limit(limits=1, user_api="blas")
        _worker_limited = True
