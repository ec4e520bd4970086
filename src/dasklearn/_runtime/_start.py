"""How local worker processes are started.

dask.distributed starts LocalCluster workers with ``spawn`` by default. A
spawned worker re-imports the user's main script, so a script that creates a
``Client()`` at top level without an ``if __name__ == "__main__":`` guard (the
tutorial our users start from, and most notebooks turned into scripts) fails
with "An attempt has been made to start a new process before the current
process has finished its bootstrapping phase".

On Linux we therefore default the start method to ``fork``: workers start in a
fraction of a second and inherit modules the parent already imported
(scikit-learn alone takes ~2 s to import). The user's explicit choice always
wins: ``DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD=spawn`` (or
``forkserver``) in the environment, ``distributed.worker.multiprocessing-method``
in a dask config file, or a method other than dask's default (spawn) set
with ``dask.config.set`` before dasklearn is imported.

A forked child inherits the parent's memory but none of its threads. Some
libraries run their work on a pool of threads they start once and never
expect to lose: polars (its ``polars-N`` threads) is the one met in practice
(scikit-learn's OpenMP and BLAS pools are handled, see :mod:`._preload`).
Once such a pool runs in the parent, a forked worker that uses the library
waits forever for threads it does not have. So a nanny preload (this
module's :func:`dask_setup`, run in the process that starts the workers, just
before it starts them) looks at the parent's threads: if such a pool runs and
fork is only dasklearn's default, the workers start with ``spawn`` instead,
with a warning (a script must then create its cluster under
``if __name__ == "__main__":``, as dask requires for spawn).
"""

from __future__ import annotations

import os
import re
import sys
import warnings

_ENV = "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD"
_KEY = "distributed.worker.multiprocessing-method"
_PRELOAD = "dasklearn._runtime._preload"
_NANNY_PRELOAD = __name__

#: thread names of pools that do not survive fork (the threads' "comm" names)
_FORK_UNSAFE = {"polars": re.compile(r"polars-\d+$")}


def fork_unsafe_pools(thread_names) -> list[str]:
    """Pure policy: the libraries whose fork-unsafe thread pool runs, given the
    names of a process's threads (``polars-0``, ... for polars), sorted."""
    names = list(thread_names)
    return sorted(lib for lib, pattern in _FORK_UNSAFE.items() if any(pattern.match(n) for n in names))


def _thread_names() -> list[str]:
    """Names of this process's threads (Linux: /proc/self/task/*/comm)."""
    out = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                out.append(f.read().strip())
        except OSError:  # the thread ended meanwhile
            continue
    return out


def dask_setup(nanny=None) -> None:
    """Nanny preload (registered only where fork is dasklearn's default):
    spawn instead of fork when a fork-unsafe pool runs here (see the module doc)."""
    import dask

    if dask.config.get(_KEY, default=None) != "fork":
        return
    unsafe = fork_unsafe_pools(_thread_names())
    if not unsafe:
        return
    libs = " and ".join(unsafe)
    dask.config.set({_KEY: "spawn"})
    warnings.warn(
        f"{libs} has started its thread pool in this process, and that pool does not survive fork: "
        "forked dask workers would hang in it. dasklearn therefore starts local workers with 'spawn' "
        "(dask's default) instead of 'fork' from now on: a script must create its cluster under "
        "`if __name__ == \"__main__\":`. To keep fork, create the cluster before using "
        f"{libs}.", RuntimeWarning)


def _user_chose_a_method() -> bool:
    """Did the user choose the start method (environment, config file, or a
    dask.config.set of a method other than dask's default)?"""
    import dask

    if _ENV in os.environ:
        return True
    if dask.config.get(_KEY, default=None, config=dask.config.collect()) is not None:
        return True  # in a config file (collect reads the files and DASK_* variables)
    return dask.config.get(_KEY, default="spawn") != "spawn"


def prefer_fork_for_local_workers() -> None:
    if not sys.platform.startswith("linux"):
        return
    # every forked child gets a working offload pool, whoever chose fork (a fork the
    # user chose hung the same way on a second cluster's first large message)
    _register_offload_reset()
    if _user_chose_a_method():
        return
    import dask

    # dask.config.set without a context manager changes the global config,
    # which is what we want: it applies to every LocalCluster started later.
    # Forked workers also get a preload that sizes the BLAS / OpenMP pools
    # they inherit the way dask sizes them for spawned workers (_preload).
    # The nannies get this module as a preload, which turns to spawn when fork
    # would hang (see the module doc).
    preload = list(dask.config.get("distributed.worker.preload", None) or [])
    if _PRELOAD not in preload:
        preload.append(_PRELOAD)
    nanny_preload = list(dask.config.get("distributed.nanny.preload", None) or [])
    if _NANNY_PRELOAD not in nanny_preload:
        nanny_preload.append(_NANNY_PRELOAD)
    dask.config.set({"distributed.worker.multiprocessing-method": "fork",
                     "distributed.worker.preload": preload, "distributed.nanny.preload": nanny_preload})
    from dasklearn._runtime._preload import prepare_before_fork

    prepare_before_fork()


_registered = False


def _fresh_offload_executor_in_child() -> None:
    """Give a forked child a working copy of distributed's offload pool.

    distributed (de)serialises messages over 10 MiB on a module-level
    one-thread pool (``distributed.utils._offload_executor``). A forked child
    inherits that pool object but not its thread: if the parent had already
    used it (any large scatter or gather before the fork), the child's pool
    believes its thread exists and never runs the work, so the first large
    message to that worker hangs forever (seen with a second LocalCluster in
    one process). There is no public switch for this, so the child gets a
    new, idle pool; its thread starts on first use.
    """
    utils = sys.modules.get("distributed.utils")
    if utils is None or not hasattr(utils, "_offload_executor"):
        return
    from concurrent.futures import ThreadPoolExecutor

    utils._offload_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="Dask-Offload")


def _register_offload_reset() -> None:
    global _registered
    if not _registered:
        os.register_at_fork(after_in_child=_fresh_offload_executor_in_child)
        _registered = True
