"""The runtime: the only layer of dasklearn that talks to dask.distributed."""

from dasklearn._runtime._backend import (
    DistributedBackend,
    LocalBackend,
    call,
    connect,
    get_backend,
    in_callers_config,
    run_batched,
)
from dasklearn._runtime._batching import BatchPolicy
from dasklearn._runtime._cluster import active_client
from dasklearn._runtime._compute import runs_in_one_task
from dasklearn._runtime._progress import Progress

__all__ = [
    "BatchPolicy",
    "DistributedBackend",
    "LocalBackend",
    "Progress",
    "active_client",
    "call",
    "connect",
    "get_backend",
    "in_callers_config",
    "run_batched",
    "runs_in_one_task",
]
