"""The bars-and-stripes toy data set of binary images."""

from __future__ import annotations

import numbers

import torch


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _constant_lines(n_lines: int) -> torch.Tensor:
    """All 2**n_lines binary words of length ``n_lines``, shape (2**n_lines, n_lines)."""
    words = torch.arange(2**n_lines).unsqueeze(1)
    shifts = torch.arange(n_lines - 1, -1, -1)
    return (words >> shifts) & 1


def bars_and_stripes(rows: int, cols: int) -> torch.Tensor:
    """Return every distinct bars-and-stripes pattern on a ``rows`` x ``cols`` grid.

    A stripe pattern has every row constant (``2**rows`` of them) and a bar
    pattern has every column constant (``2**cols`` of them).  The all-0 and
    all-1 images are both a stripe and a bar pattern and are kept once, so
    there are ``2**rows + 2**cols - 2`` patterns in total (30 for 4 x 4).

    Args:
        rows: number of image rows, a positive integer.
        cols: number of image columns, a positive integer.

    Returns:
        LongTensor of shape ``(2**rows + 2**cols - 2, rows * cols)`` with
        values in {0, 1}: each image flattened row-major, rows sorted
        lexicographically.

    Raises:
        ValueError: if ``rows`` or ``cols`` is not a positive integer.
    """
    rows = _check_positive_int("rows", rows)
    cols = _check_positive_int("cols", cols)
    row_values = _constant_lines(rows)  # (2**rows, rows)
    col_values = _constant_lines(cols)  # (2**cols, cols)
    stripes = row_values.unsqueeze(2).expand(-1, rows, cols)
    bars = col_values.unsqueeze(1).expand(-1, rows, cols)
    patterns = torch.cat([stripes, bars]).reshape(-1, rows * cols)
    return torch.unique(patterns, dim=0).to(torch.int64)
