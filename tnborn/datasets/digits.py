"""The 8 x 8 handwritten digits shipped with scikit-learn, with a fixed split."""

from __future__ import annotations

import functools
import importlib.util
import numbers
from pathlib import Path

import numpy as np
import torch

_BINARIZE_THRESHOLD = 8  # pixel values are 0..16; >= 8 counts as "on"


@functools.lru_cache(maxsize=1)
def _load_digit_images() -> np.ndarray:
    """The 1797 scikit-learn digit images, a read-only float array of shape (1797, 64).

    Read from the table scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``: 64
    pixel values and the label per row) without importing scikit-learn, whose import
    takes seconds; through ``load_digits`` where that file is not found.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("digits() needs scikit-learn, which is not installed; "
                          "install it with `pip install scikit-learn`")
    table = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if table.is_file():
        images = np.loadtxt(table, delimiter=",", ndmin=2)[:, :-1]
    else:
        from sklearn.datasets import load_digits

        images = load_digits().data
    images.setflags(write=False)
    return images


def digits(
    *,
    binarize: bool = True,
    split: str = "train",
    seed: int = 0,
    test_fraction: float = 0.2,
) -> torch.Tensor:
    """Return the scikit-learn 8 x 8 digit images as configurations.

    The 1797 images are shuffled by a permutation drawn from
    ``numpy.random.default_rng(seed)``; the last ``round(test_fraction * 1797)``
    of the permutation form the test split and the rest the train split, so
    the two splits are disjoint and together hold every image.

    Args:
        binarize: if True, a pixel is 1 when its value (0..16) is at least 8,
            else 0 (local dimension 2); if False, the raw values 0..16 are
            returned (local dimension 17).
        split: ``"train"`` or ``"test"``.
        seed: non-negative integer seed of the shuffling permutation.
        test_fraction: fraction of images in the test split, in [0, 1].

    Returns:
        LongTensor of shape ``(N, 64)``, images flattened row-major, with
        ``N = 1797 - round(test_fraction * 1797)`` for ``"train"`` and
        ``N = round(test_fraction * 1797)`` for ``"test"``.

    Raises:
        ValueError: on an unknown ``split``, a bad ``seed`` or a
            ``test_fraction`` outside [0, 1].
        ImportError: if scikit-learn is not installed.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, numbers.Real)
        or not 0.0 <= test_fraction <= 1.0
    ):
        raise ValueError(f"test_fraction must be a number in [0, 1], got {test_fraction!r}")

    images = _load_digit_images()
    n_images = len(images)
    n_test = round(test_fraction * n_images)
    order = np.random.default_rng(seed).permutation(n_images)
    chosen = order[n_images - n_test :] if split == "test" else order[: n_images - n_test]
    images = images[chosen]
    if binarize:
        images = images >= _BINARIZE_THRESHOLD
    return torch.from_numpy(images.astype(np.int64))
