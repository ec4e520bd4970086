"""Block kernels: pure NumPy functions computing a partial result on ONE block.

A kernel's partial results over the blocks of a data set combine (usually by
plain addition) into the result on the whole data set, so the runtime can
evaluate them where the blocks live and reduce only small partial results.
Nothing here knows about dask; everything is tested with plain arrays.
"""
