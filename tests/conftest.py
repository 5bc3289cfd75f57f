"""Test-wide settings."""

import os
import sys

# One intra-op thread by default: the suite's tensors are small, and with two threads a
# second process on this 2-core machine slows torch down many times over. The slow
# reproductions run alone and may use more: TNBORN_TEST_THREADS=2 make test-slow.
_threads = os.environ.get("TNBORN_TEST_THREADS", "1")
if not _threads.isdigit() or int(_threads) < 1:
    raise ValueError(f"TNBORN_TEST_THREADS must be a positive integer, got {_threads!r}")

# The same for the BLAS under numpy and scipy (OpenBLAS): with two threads on a busy
# machine one eigvalsh of a 700 x 700 matrix (the Gauss-Legendre nodes of
# tests/test_contract.py) takes seconds instead of 0.05 s, as its threads wait for each
# other. OpenBLAS reads these variables when it is loaded, so they are set before numpy
# and scipy are imported; child processes (the CLI and checkpoint tests) inherit them.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = _threads
if "numpy" in sys.modules:  # already loaded (by a plugin): limit it in place
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(int(_threads), user_api="blas")

import torch  # noqa: E402

torch.set_num_threads(int(_threads))
