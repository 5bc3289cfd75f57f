"""Named models and data sets with the sizes of :mod:`tnborn.catalog`, for the `tnborn`
command and :func:`tnborn.compare.compare`; also user data files (``.npy``, ``.npz``,
IDX) as a :class:`DataSet`.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import NamedTuple

import torch

from .arnn import MADE, PixelCNN
from .base import GenerativeModel
from .catalog import (BOND_MODELS, DATA_NAMES, DEFAULT_IMAGES, IMAGE_SHAPES, ISING_DATA_BETA,
                      MODEL_DEFAULTS, MODEL_NAMES, SMALL_SITES, check_data_name,
                      check_model_name)
from .checks import check_beta, check_int
from .distributed import rank_rows
from .datasets import bars_and_stripes, digits, ising_samples, mnist
from .enumeration import configuration_codes
from .physics import Ising2D, boltzmann_log_table
from .independent import Independent
from .rbm import RBM
from .mps import MPSBornMachine
from .supports import Discrete
from .ttn import TTNBornMachine

__all__ = ["DATA_NAMES", "DataSet", "MODEL_NAMES", "check_image_shape", "load_data",
           "load_user_data", "make_model"]


class DataSet(NamedTuple):
    """Training and test configurations of a data set and its image shape; ``val``:
    validation configurations when the data set has its own (None: split them off the
    training data); ``reference``: ln p of every configuration (lexicographic) when the
    distribution the data come from is known exactly (None otherwise)."""

    name: str
    train: torch.Tensor
    test: torch.Tensor
    image_shape: tuple[int, int] | None
    val: torch.Tensor | None = None
    reference: torch.Tensor | None = None


def make_model(name: str, n_sites: int, *, local_dim: int = 2, image_shape=None,
               max_bond: int | None = None, seed: int = 0, device=None,
               sizes: dict | None = None) -> GenerativeModel:
    """A fresh model of kind ``name`` for ``n_sites`` sites with the preset sizes of
    :data:`tnborn.catalog.MODEL_DEFAULTS`, on ``device``; ``sizes`` overrides some of
    them (constructor keywords of that family, e.g. ``{"hidden": 128}``).

    ``image_shape`` ``(H, W)`` (with ``H * W == n_sites``) gives the TTN a 2D layout
    (a balanced binary tree over the site order otherwise) and is required by the
    PixelCNN. ``max_bond`` overrides the Born machines' preset (an error for the
    others). ValueError on an unknown name or inconsistent sizes.
    """
    check_model_name(name)
    n_sites = check_int(n_sites, "n_sites", 2)
    if image_shape is not None:
        image_shape = check_image_shape(image_shape, n_sites)
    options = dict(MODEL_DEFAULTS[name][0 if n_sites <= SMALL_SITES else 1])
    for key, value in (sizes or {}).items():
        if key not in options or key == "max_bond":
            raise ValueError(f"{name} has no preset size {key!r} to override (its sizes: "
                             f"{', '.join(k for k in options if k != 'max_bond')}; "
                             "max_bond is its own argument)")
        options[key] = check_int(value, key, 1)
    if max_bond is not None:
        if name not in BOND_MODELS:
            raise ValueError(f"max_bond applies to the Born machines "
                             f"({', '.join(BOND_MODELS)}), not to {name}")
        options["max_bond"] = check_int(max_bond, "max_bond", 1)
    options.update(seed=seed, device=device)
    if name == "mps":
        return MPSBornMachine(n_sites, local_dim, **options)
    if name == "ttn":
        layout = image_shape if image_shape is not None else "binary"
        return TTNBornMachine(n_sites, local_dim, layout=layout, **options)
    if name == "made":
        return MADE(n_sites, local_dim, **options)
    if name == "independent":
        return Independent(Discrete(local_dim), n_sites, **options)
    if name == "rbm":
        if local_dim != 2:
            raise ValueError(f"the rbm preset has binary visible units, not {local_dim} "
                             "values per site")
        return RBM(n_sites, **options)
    if image_shape is None:
        raise ValueError("pixelcnn needs an image shape (H, W) with H * W == n_sites")
    if n_sites <= SMALL_SITES:  # a first layer that sees each pixel's whole past
        options["first_kernel"] = 2 * max(image_shape) - 1
    return PixelCNN(image_shape, local_dim, **options)


def check_image_shape(shape, n_sites: int) -> tuple[int, int]:
    """``shape`` as a pair of positive ints ``(H, W)`` with ``H * W == n_sites``."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0
            for s in shape):
        raise ValueError(f"image shape must be two positive integers (H, W), got {shape!r}")
    height, width = int(shape[0]), int(shape[1])
    if height * width != n_sites:
        raise ValueError(f"image shape {height}x{width} does not hold {n_sites} sites")
    return height, width


def load_data(name: str, *, images: int | None = None, test_images: int | None = None,
              seed: int = 0, beta: float | None = None) -> DataSet:
    """Binary training and test configurations of the data set ``name``.

    ``images`` / ``test_images``: how many to keep (a seeded random subset for MNIST, the
    first ones of the seeded split for digits; for bars-and-stripes, whose train and test
    sets are both the 30 patterns, the first ones of a seeded permutation; for the
    Ising data the number of Wolff samples); None: the defaults of
    :data:`DEFAULT_IMAGES`. ``beta``: the inverse temperature of the ``"ising"`` data
    (default :data:`tnborn.catalog.ISING_DATA_BETA`; an error for the others).
    ValueError on an unknown name or a count larger than the split.
    """
    check_data_name(name)
    if beta is not None and name != "ising":
        raise ValueError(f"beta is the temperature of the ising data, not of {name}")
    if name == "ising":
        return _ising_data(images, test_images, seed, beta)
    default_train, default_test = DEFAULT_IMAGES[name]
    images = default_train if images is None else check_int(images, "images", 1)
    test_images = default_test if test_images is None else check_int(test_images,
                                                                      "test_images", 1)
    if name == "mnist":
        train = mnist(limit=images, seed=seed)
        test = mnist(split="test", limit=test_images, seed=seed)
    elif name == "digits":
        train = _first(digits(split="train", seed=seed), images, "images")
        test = _first(digits(split="test", seed=seed), test_images, "test_images")
    else:
        patterns = bars_and_stripes(4, 4)
        if images is not None or test_images is not None:
            order = torch.randperm(len(patterns),
                                   generator=torch.Generator().manual_seed(seed))
            patterns = patterns[order]
        train = _first(patterns, images, "images")
        test = _first(patterns, test_images, "test_images")
        reference = torch.full((2 ** 16,), -math.inf, dtype=torch.float64)
        reference[configuration_codes(bars_and_stripes(4, 4), 2)] = -math.log(30)
        return DataSet(name, train, test, IMAGE_SHAPES[name], val=test, reference=reference)
    return DataSet(name, train, test, IMAGE_SHAPES[name])


def _ising_data(images, test_images, seed: int, beta) -> DataSet:
    """Wolff samples of the periodic 4x4 Ising model (train and test from independent
    chains) and its exact Boltzmann table."""
    default_train, default_test = DEFAULT_IMAGES["ising"]
    images = default_train if images is None else check_int(images, "images", 1)
    test_images = default_test if test_images is None else check_int(test_images,
                                                                      "test_images", 1)
    beta = ISING_DATA_BETA if beta is None else check_beta(beta)
    side = IMAGE_SHAPES["ising"][0]
    train = ising_samples(side, beta, images, seed=seed)
    test = ising_samples(side, beta, test_images, seed=seed + 1_000_003)
    reference = boltzmann_log_table(Ising2D(side), beta)
    return DataSet(f"ising-beta{beta:g}", train, test, IMAGE_SHAPES["ising"],
                   reference=reference)


def _first(data: torch.Tensor, count: int | None, name: str) -> torch.Tensor:
    """The first ``count`` rows of ``data`` (all when None); ValueError if too few."""
    if count is None:
        return data
    if count > len(data):
        raise ValueError(f"{name} must be at most {len(data)} for this data set, got {count}")
    return data[:count]


def load_user_data(path, *, test_path=None, test_fraction: float = 0.1,
                   threshold: float | None = None, seed: int = 0,
                   shard: tuple[int, int] | None = None) -> DataSet:
    """Configurations from the user's own file as a :class:`DataSet`.

    ``path``: a ``.npy`` array, a ``.npz`` archive (its arrays ``train`` and ``test`` if
    present, else its only array) or an IDX file (gzipped or not; MNIST's format). The
    array is ``(N, n_sites)`` or ``(N, H, W)`` images (then ``image_shape`` is ``(H, W)``,
    flattened row-major). Values must be whole numbers >= 0 (the alphabet is 0 ..
    largest value); ``threshold``: binarize at value > threshold instead (IDX files are
    binarized at > 127, as :func:`tnborn.datasets.mnist`, unless a threshold is given).
    The test set is ``test_path`` (same format and shape), the npz's ``test`` array, or
    else a seeded random ``test_fraction`` of the rows held out. ValueError naming the
    problem for a file of another shape, kind or content.

    ``shard=(rank, ranks)`` (a data-parallel run): only every ``ranks``-th row of the
    training and of the test set from row ``rank`` (of the held-out split's seeded order
    when the test rows are held out), read through a memory map from ``.npy`` and
    uncompressed IDX files, so a rank reads only its rows (``.npz`` and gzipped files are
    read whole, then sharded).
    """
    path = Path(path)
    if shard is not None:
        rank, ranks = (check_int(v, name, 0) for v, name in zip(shard, ("rank", "ranks")))
        if not rank < ranks:
            raise ValueError(f"shard must be (rank, ranks) with 0 <= rank < ranks, got {shard}")
    train, test, is_idx = _read_array_file(path, mmap=shard is not None)
    if test_path is not None:
        if test is not None:
            raise ValueError(f"{path} already holds a test array; give no test file")
        test, _, _ = _read_array_file(Path(test_path), mmap=shard is not None)
    if threshold is None and is_idx:
        threshold = 127
    if shard is not None:
        train, test = _shard_rows(train, test, test_fraction, seed, rank, ranks, path)
    train, shape = _as_configurations(train, threshold, f"{path}")
    if test is not None:
        test, test_shape = _as_configurations(test, threshold, "the test data")
        if test.shape[1] != train.shape[1]:
            raise ValueError(f"the test data have {test.shape[1]} sites per row, the "
                             f"training data {train.shape[1]}")
    else:
        kept, held = _held_out(len(train), test_fraction, seed, path)
        train, test = train[kept], train[held]
    return DataSet(path.name, train, test, shape)


def _held_out(rows: int, test_fraction, seed: int, path) -> tuple[torch.Tensor, torch.Tensor]:
    """(training rows, held-out test rows): a seeded permutation of ``rows`` rows with the
    first ``test_fraction`` of it held out."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    held = max(1, round(test_fraction * rows))
    if held >= rows:
        raise ValueError(f"{path} has {rows} rows: too few to hold out a test set")
    order = torch.randperm(rows, generator=torch.Generator().manual_seed(seed))
    return order[held:], order[:held]


def _shard_rows(train, test, test_fraction, seed, rank, ranks, path):
    """This rank's rows of the training and test arrays (:func:`load_user_data`), in the
    native byte order; held-out test rows are those one process would hold out."""
    import numpy as np

    def rows(array, index):
        picked = np.asarray(array[index])
        return picked.astype(picked.dtype.newbyteorder("="))

    if test is not None:
        return rows(train, slice(rank, None, ranks)), rows(test, slice(rank, None, ranks))
    if len(train) == 0:
        return rows(train, slice(None)), None
    kept, held = _held_out(len(train), test_fraction, seed, path)
    return (rows(train, np.sort(rank_rows(kept.numpy(), rank, ranks))),
            rows(train, np.sort(rank_rows(held.numpy(), rank, ranks))))


def _read_array_file(path: Path, mmap: bool = False):
    """(array, test array or None, whether the file is IDX) from .npy / .npz / IDX
    (memory maps of .npy and uncompressed IDX files with ``mmap``)."""
    import numpy as np

    from .datasets import read_idx

    if not path.is_file():
        raise FileNotFoundError(f"no data file at {path} (and {str(path)!r} is not a data set: "
                                f"{', '.join(DATA_NAMES)})")
    suffix = path.suffix.lower()
    if suffix in (".npy", ".npz"):
        try:
            loaded = np.load(path, allow_pickle=False,
                             mmap_mode="r" if mmap and suffix == ".npy" else None)
        except Exception as exc:
            raise ValueError(f"{path} is not a readable {suffix} file "
                             f"({type(exc).__name__}: {exc})") from None
        if suffix == ".npy":
            return loaded, None, False
        with loaded:
            names = list(loaded.files)
            if "train" in names:
                return loaded["train"], loaded["test"] if "test" in names else None, False
            if len(names) != 1:
                raise ValueError(f"{path} holds arrays {names}: name them 'train' (and "
                                 "'test'), or store one array")
            return loaded[names[0]], None, False
    return read_idx(path, mmap=mmap), None, True


def _as_configurations(array, threshold, name: str):
    """LongTensor ``(N, n)`` and the image shape ``(H, W)`` (None for 2-D input)."""
    import numpy as np

    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.shape[0] == 0 or array.size == 0:
        raise ValueError(f"{name} must be an array (N, n_sites) or (N, H, W) images, got "
                         f"shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(f"{name} must hold numbers, got dtype {array.dtype}")
    shape = tuple(int(s) for s in array.shape[1:]) if array.ndim == 3 else None
    flat = torch.from_numpy(np.ascontiguousarray(array.reshape(array.shape[0], -1)))
    if threshold is not None:
        if not torch.isfinite(flat.double()).all():
            raise ValueError(f"{name} has non-finite values")
        flat = (flat.double() > threshold).long()
    elif flat.dtype == torch.bool:
        flat = flat.long()
    n_sites = flat.shape[1]
    if n_sites < 2:
        raise ValueError(f"{name} has {n_sites} site per row; at least 2 are needed")
    if flat.is_floating_point():
        bad = ~torch.isfinite(flat) | (flat != torch.round(flat))
        if bad.any():
            raise ValueError(f"{name} must hold whole numbers >= 0 (first bad value: "
                             f"{flat[bad][0].item()!r}); pass a threshold to binarize")
    if (flat < 0).any():
        raise ValueError(f"{name} has negative values (the smallest: {flat.min().item()!r}); "
                         "values must be whole numbers >= 0")
    return Discrete(2 ** 31).validate(flat, n_sites, name=name), shape
