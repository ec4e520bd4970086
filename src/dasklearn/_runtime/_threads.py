"""The native thread pools (BLAS, OpenMP) of this process.

One threadpoolctl controller per process: finding the pools means scanning
every shared library the process has loaded (tens of milliseconds), so it
is done once and shared by the worker preload (:mod:`._preload`), by the
one-BLAS-thread limit of the linear models' kernels
(:mod:`._reduce`) and, through ``fork``, by forked workers, which inherit
the controller their parent built before forking.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import threading

_controller = None
_controller_lock = threading.Lock()
_worker_limited = False
_blas_lock = threading.Lock()
_blas_users = 0  # threads inside one_blas_thread
_blas_limiter = None  # the limit the first of them set (restored by the last): an ExitStack
_blas_control = None  # the one thread that sets and restores it (see one_blas_thread)
_per_thread = False  # not looked for yet (see _per_thread_blas)


def _fresh_in_child() -> None:
    """A forked child starts with free locks and no user of the BLAS limit.

    Locks are copied by fork in whatever state they were: nannies fork
    workers from several threads at once, so one thread's fork can copy a
    lock another thread holds at that instant, and the child would then
    wait for it forever (the controller itself is kept: see module doc)."""
    global _controller_lock, _blas_lock, _blas_users, _blas_limiter, _blas_control
    _controller_lock = threading.Lock()
    _blas_lock = threading.Lock()
    _blas_users, _blas_limiter = 0, None
    _blas_control = None  # its thread is not in the child


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


def _in_control_thread(fn):
    """``fn()`` on the thread that owns the process-wide BLAS limit.

    threadpoolctl (3.8 and later) lets one thread at a time change a
    process-wide pool (OpenBLAS's): the first to set a limit, until it leaves
    a ``with`` block of its limits.  Limits set from other threads meanwhile
    are silently ignored.  The limit here is shared by threads that come and
    go (the first one in sets it, the last one out restores it), so one
    thread of its own does both, inside a ``with`` (an ExitStack) that it
    leaves on restoring, giving the control back.  Called with ``_blas_lock``
    held.  Once the interpreter is exiting (no new thread's work is taken),
    ``fn`` runs in the calling thread, as a limit set there would."""
    global _blas_control
    if _blas_control is None:
        _blas_control = cf.ThreadPoolExecutor(1, thread_name_prefix="dasklearn-blas")
    try:
        future = _blas_control.submit(fn)
    except RuntimeError:  # cannot schedule new futures after (interpreter) shutdown
        return fn()
    return future.result()


def _per_thread_blas():
    """The BLAS libraries whose limits are per thread (OpenMP's threading
    layer), as a controller, or None (found once)."""
    global _per_thread
    if _per_thread is False:
        found = controller().select(user_api="blas", threading_layer="openmp")
        _per_thread = found if found.lib_controllers else None
    return _per_thread


def _limit_blas():
    stack = contextlib.ExitStack()
    stack.enter_context(controller().limit(limits=1, user_api="blas"))
    return stack


@contextlib.contextmanager
def one_blas_thread():
    """Kernels in this process run with one BLAS thread (restored after).

    The limit is process-wide, so concurrent users (fits in several threads)
    share it: the first one in sets it, the last one out restores the
    previous thread counts, both from one thread (:func:`_in_control_thread`).
    A BLAS whose limits are per thread (OpenMP's threading layer) is also
    limited in each thread that enters, for as long as it is inside.
    """
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0 and _blas_threads_above_one():
            _blas_limiter = _in_control_thread(_limit_blas)
        _blas_users += 1
    try:
        per_thread = _per_thread_blas()
        with per_thread.limit(limits=1) if per_thread is not None else contextlib.nullcontext():
            yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0 and _blas_limiter is not None:
                _in_control_thread(_blas_limiter.close)
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
