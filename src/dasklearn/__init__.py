"""dasklearn: distributed machine learning on Dask with scikit-learn's habits."""

from dasklearn._runtime._start import prefer_fork_for_local_workers

__version__ = "0.1.0"
__all__ = ["datasets", "model_selection", "__version__"]

prefer_fork_for_local_workers()


def __getattr__(name):  # lazy submodules: `dasklearn.datasets` without an import
    if name in {"datasets", "model_selection", "wrappers", "linear_model", "io", "exceptions"}:
        import importlib

        return importlib.import_module(f"dasklearn.{name}")
    raise AttributeError(f"module 'dasklearn' has no attribute {name!r}")
