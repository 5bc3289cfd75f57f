"""Data sets: binary images and Ising-model samples as integer configurations, XY-model
samples as angles, double-well paths as reals.

Every loader returns a tensor of shape ``(n_samples, n_sites)`` (LongTensor, or float64
angles in [0, 2 pi) for :func:`xy_samples`, float64 paths for
:func:`double_well_paths`) with images flattened row-major; nothing is
downloaded at run time.
"""

from tnborn.datasets.bars_and_stripes import bars_and_stripes
from tnborn.datasets.digits import digits
from tnborn.datasets.ising import ising_samples, lattice_translation_copies
from tnborn.datasets.mnist import mnist, read_idx
from tnborn.datasets.paths import double_well_paths, path_symmetry_copies
from tnborn.datasets.xy import xy_samples

__all__ = ["bars_and_stripes", "digits", "double_well_paths", "ising_samples",
           "lattice_translation_copies", "mnist", "path_symmetry_copies", "read_idx",
           "xy_samples"]
