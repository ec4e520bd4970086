"""Errors dasklearn raises about the cluster, to catch by name.

``WorkersLost`` (a ``RuntimeError``): the cluster lost its workers, or the
data they held, for good -- it has had no worker for
``dasklearn.worker-timeout`` seconds, or a task was lost with dying workers
too often (it may be killing its worker).

``ClientClosed`` (a ``RuntimeError``): the dask Client was closed while a
dasklearn call was using it.
"""

from dasklearn._runtime._cluster import ClientClosed, WorkersLost

__all__ = ["ClientClosed", "WorkersLost"]
