"""Errors dasklearn raises about the cluster, to catch by name.

``WorkersLost`` (a ``RuntimeError``): the cluster lost its workers, or the
data they held, for good -- it has had no worker for
``dasklearn.worker-timeout`` seconds, or work was lost with dying workers
too often in one call (a task may be killing its worker). Every estimator
raises it: the searches, Incremental, DataParallel and the linear models.

``ClientClosed`` (a ``RuntimeError``): the dask Client was closed while a
dasklearn call was using it.

``InvalidParameterError`` (a ``ValueError`` and a ``TypeError``, as
scikit-learn's): a parameter of an estimator or function has the wrong type
or is out of its range. It is raised before anything is sent to the cluster.
"""

from dasklearn._runtime._cluster import ClientClosed, WorkersLost
from dasklearn._validation import InvalidParameterError

__all__ = ["ClientClosed", "InvalidParameterError", "WorkersLost"]
