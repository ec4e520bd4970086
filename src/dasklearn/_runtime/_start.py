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
"""

from __future__ import annotations

import os
import sys

_ENV = "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD"
_KEY = "distributed.worker.multiprocessing-method"
_PRELOAD = "dasklearn._runtime._preload"


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
    if not sys.platform.startswith("linux") or _user_chose_a_method():
        return
    import dask

    # dask.config.set without a context manager changes the global config,
    # which is what we want: it applies to every LocalCluster started later.
    # Forked workers also get a preload that sizes the BLAS / OpenMP pools
    # they inherit the way dask sizes them for spawned workers (_preload).
    preload = list(dask.config.get("distributed.worker.preload", None) or [])
    if _PRELOAD not in preload:
        preload.append(_PRELOAD)
    dask.config.set({"distributed.worker.multiprocessing-method": "fork",
                     "distributed.worker.preload": preload})
    from dasklearn._runtime._preload import prepare_before_fork

    prepare_before_fork()
    _register_offload_reset()


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
