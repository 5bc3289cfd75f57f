"""Test-wide settings."""

import torch

# One intra-op thread: the suite's tensors are small, and with two threads a second
# process on this 2-core machine slows torch down many times over.
torch.set_num_threads(1)
