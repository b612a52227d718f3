"""How many threads NumPy's BLAS may start in controltower's processes.

NumPy's BLAS starts one thread per core for a matrix product, and its
threads, like LightGBM's OpenMP threads, wait for work by spinning: a
process training a model beside one running the anomaly detectors (whose
shape fits are matrix products of a few thousand short rows) has the two
take turns on the same cores; on two cores training took ten to forty times
as long (docs/benchmarks.md, "Training threads"). The products here are
small enough for one thread, so controltower's command line keeps BLAS to
one unless the environment already says otherwise; LightGBM's threads are
set per training (``intelligence.models``).
"""

from __future__ import annotations

import os
import sys

# The variables the BLAS libraries NumPy ships with (OpenBLAS) or may be built on (MKL) read
# when they load.
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads(threads: int = 1) -> bool:
    """Keep this process's BLAS, and its children's, to ``threads`` threads; False where the
    environment already names a number (the operator's choice stands).

    The variables take effect when NumPy loads; where it already has,
    ``threadpoolctl`` sets the loaded library too.
    """
    if any(name in os.environ for name in BLAS_VARIABLES):
        return False
    for name in BLAS_VARIABLES:
        os.environ[name] = str(threads)
    if "numpy" in sys.modules:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 (only with NumPy loaded)

        threadpool_limits(limits=threads, user_api="blas")
    return True
