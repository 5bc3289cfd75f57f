"""Data sets as integer configurations: binary images and Ising-model samples.

Every loader returns a LongTensor of shape ``(n_samples, n_sites)`` with
images flattened row-major; nothing is downloaded at run time.
"""

from tnborn.datasets.bars_and_stripes import bars_and_stripes
from tnborn.datasets.digits import digits
from tnborn.datasets.ising import ising_samples
from tnborn.datasets.mnist import mnist, read_idx

__all__ = ["bars_and_stripes", "digits", "ising_samples", "mnist", "read_idx"]
