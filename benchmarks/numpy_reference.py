"""A plain numpy two-site learner in the style of the original code of Han et al.

Used only as the in-process baseline of ``mps_sweep.py``: per-sample left/right vectors
("cumulants") are cached, each bond takes ``steps`` gradient steps on the merged tensor,
samples are grouped by their value pair (x_k, x_k+1) with boolean masks, and every
contraction is a numpy einsum. Written for this benchmark; not used by the library.
"""

from __future__ import annotations

import numpy as np


class NumpyTwoSite:
    """Two-site learner on real numpy tensors ``(D_left, 2, D_right)``, canonical with the
    centre at site ``center``; environments are built for the pair (center, center+1)."""

    def __init__(self, tensors, data, *, max_bond, cutoff=0.0, lr=0.05, steps=10, center=0):
        self.tensors = [np.array(t) for t in tensors]
        self.data = np.asarray(data)
        self.max_bond, self.cutoff, self.lr, self.steps = max_bond, cutoff, lr, steps
        n, count = len(self.tensors), self.data.shape[0]
        self.left = [np.ones((count, 1))] + [None] * n
        self.right = [None] * n + [np.ones((count, 1))]
        for k in range(center):
            self._extend_left(k)
        for k in range(n - 1, center + 1, -1):
            self._extend_right(k)

    def _extend_left(self, k):
        v = np.einsum("bi,bij->bj", self.left[k], self.tensors[k][:, self.data[:, k], :]
                      .transpose(1, 0, 2))
        self.left[k + 1] = v / np.linalg.norm(v, axis=1, keepdims=True)

    def _extend_right(self, k):
        v = np.einsum("bij,bj->bi", self.tensors[k][:, self.data[:, k], :].transpose(1, 0, 2),
                      self.right[k + 1])
        self.right[k] = v / np.linalg.norm(v, axis=1, keepdims=True)

    def update(self, k, moving_right):
        a, b = self.tensors[k], self.tensors[k + 1]
        merged = np.einsum("ipj,jqk->ipqk", a, b)
        left, right = self.left[k], self.right[k + 2]
        count = self.data.shape[0]
        masks = [[(self.data[:, k] == p) & (self.data[:, k + 1] == q) for q in range(2)]
                 for p in range(2)]
        for _ in range(self.steps):
            grad = np.zeros_like(merged)
            for p in range(2):
                for q in range(2):
                    lm, rm = left[masks[p][q]], right[masks[p][q]]
                    psi = np.einsum("bi,ij,bj->b", lm, merged[:, p, q, :], rm)
                    grad[:, p, q, :] = np.einsum("bi,bj->ij", lm / psi[:, None], rm) / count
            merged = merged + self.lr * 2 * (grad - merged)
            merged /= np.linalg.norm(merged)
        dl, dr = merged.shape[0], merged.shape[3]
        u, s, vh = np.linalg.svd(merged.reshape(dl * 2, 2 * dr), full_matrices=False)
        keep = max(1, min(int(np.sum(s >= self.cutoff * s[0])), self.max_bond))
        u, s, vh = u[:, :keep], s[:keep] / np.linalg.norm(s[:keep]), vh[:keep]
        if moving_right:
            self.tensors[k] = u.reshape(dl, 2, keep)
            self.tensors[k + 1] = (s[:, None] * vh).reshape(keep, 2, dr)
            self._extend_left(k)
        else:
            self.tensors[k] = (u * s).reshape(dl, 2, keep)
            self.tensors[k + 1] = vh.reshape(keep, 2, dr)
            self._extend_right(k + 1)
