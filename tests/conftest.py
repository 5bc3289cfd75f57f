"""Test-wide settings."""

import os

import torch

# One intra-op thread by default: the suite's tensors are small, and with two threads a
# second process on this 2-core machine slows torch down many times over. The slow
# reproductions run alone and may use more: TNBORN_TEST_THREADS=2 make test-slow.
_threads = os.environ.get("TNBORN_TEST_THREADS", "1")
if not _threads.isdigit() or int(_threads) < 1:
    raise ValueError(f"TNBORN_TEST_THREADS must be a positive integer, got {_threads!r}")
torch.set_num_threads(int(_threads))
