"""Independent references for the tests: enumeration, dense contraction, chi-square."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import scipy.stats
import torch

from tnborn.base import GenerativeModel
from tnborn.supports import Discrete


def all_configurations(n_sites: int, local_dim: int) -> torch.Tensor:
    """Every configuration in lexicographic order, LongTensor (local_dim**n_sites, n_sites)."""
    return torch.tensor(list(itertools.product(range(local_dim), repeat=n_sites)))


def codes(x: torch.Tensor, local_dim: int) -> torch.Tensor:
    """Lexicographic index of each configuration (matches all_configurations)."""
    n = x.shape[-1]
    weights = local_dim ** torch.arange(n - 1, -1, -1)
    return (x * weights).sum(-1)


def dense_state(tensors) -> np.ndarray:
    """psi as a flat numpy vector, contracted site by site with numpy (no tnborn code)."""
    arrays = [t.detach().cpu().resolve_conj().numpy() for t in tensors]
    psi = arrays[0][0]  # (d, D)
    for a in arrays[1:]:
        psi = np.tensordot(psi, a, axes=([-1], [0]))
    return psi.reshape(-1)


def chi_square_pvalue(counts, probabilities, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of observed counts against exact probabilities.

    Bins with expected count below ``min_expected`` are pooled into one bin (left out
    when its expected count is zero, and then any count there gives p = 0).
    """
    counts = np.asarray(counts, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    total = counts.sum()
    expected = probabilities / probabilities.sum() * total
    big = expected >= min_expected
    obs = list(counts[big])
    exp = list(expected[big])
    if (~big).any():
        if expected[~big].sum() == 0:
            if counts[~big].sum() > 0:
                return 0.0
        else:
            obs.append(counts[~big].sum())
            exp.append(expected[~big].sum())
    return float(scipy.stats.chisquare(obs, exp).pvalue)


def assert_conditional_samples_exact(model, given, known, num: int, seed: int) -> None:
    """``num`` conditional samples of ``model`` for each row of ``given`` ``(n,)`` or
    ``(R, n)`` with ``known`` (one mask ``(n,)`` for every row, or a mask per row
    ``(R, n)``) against the exact conditional by enumeration: the known sites kept, no
    sample outside the evidence, chi-square p-value above 1e-3."""
    n, d = model.n_sites, model.local_dim
    rows, masks = torch.atleast_2d(given), torch.atleast_2d(known)
    masks = masks.expand(len(rows), n)
    x = rows.repeat_interleave(num, 0)
    mask_argument = known if known.ndim == 1 else known.repeat_interleave(num, 0)
    samples = model.conditional_sample(x, mask_argument,
                                       generator=torch.Generator().manual_seed(seed))
    configs = all_configurations(n, d)
    p = model.log_prob(configs).detach().exp()
    for row, part in enumerate(samples.split(num)):
        mask, evidence = masks[row], rows[row, masks[row]]
        assert (part[:, mask] == evidence).all()
        match = (configs[:, mask] == evidence).all(1)
        counts = np.bincount(codes(part, d).numpy(), minlength=d ** n)
        assert counts[~match.numpy()].sum() == 0
        assert chi_square_pvalue(counts[match.numpy()], p[match].numpy()) > 1e-3


def run_torchrun(nproc: int, arguments: list[str], timeout: float,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run`` of ``nproc`` ranks on 127.0.0.1 (a free port)
    running ``python -m tnborn *arguments``; its output captured as text."""
    from tnborn.launch import free_port

    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node",
         str(nproc), "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
         "-m", "tnborn", *arguments],
        capture_output=True, text=True, timeout=timeout, env=env)


class TableModel(GenerativeModel):
    """An exact distribution given by ln-weights of all 2^n configurations."""

    fit_unit = None

    def __init__(self, log_weights: torch.Tensor, n: int):
        super().__init__()
        self.n_sites, self.support = n, Discrete(2)
        self.register_buffer("table", torch.log_softmax(log_weights.double(), 0))
        self.configurations = all_configurations(n, 2)
        self._start_rng(0)

    def _log_prob(self, x):
        return self.table[codes(x, 2)]

    def _sample(self, num, generator):
        index = torch.multinomial(self.table.exp(), num, replacement=True,
                                  generator=generator)
        return self.configurations[index]
