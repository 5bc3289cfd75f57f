"""Learned Hamiltonians at scale: pseudo-likelihood from Wolff samples, sparse least squares.

1. Maximum pseudo-likelihood (``fit_couplings``) on Wolff samples of the periodic
   L x L Ising model (default L = 16, beta = 0.3, 200,000 samples) with the nearest +
   next-nearest graph: the fit time alone (sample generation timed separately), the
   worst and mean relative error of beta J on the nearest-neighbour pairs, the largest
   |beta J| on the next-nearest pairs (true value 0) and the largest |beta h|.
2. The same on L = 32 (default 20,000 samples).
3. Least squares (``learn_hamiltonian``) of the exact ln p = -beta E - ln Z (Kaufman's
   ln Z) of the L x L model on Wolff configurations, nearest + next-nearest graph, with
   and without 3- and 4-spin plaquette terms: time, largest coefficient error, residual.
   The dense all-pairs fit is refused at this size (its message is printed).

beta = 0.3 lies well above the critical beta_c = 0.4407, where the correlation length is
about one lattice spacing and consecutive Wolff samples (about one sweep of flips apart)
are nearly independent, so the figures measure the estimator, not the chain.

    python benchmarks/learn_hamiltonian_scale.py [--L 16] [--beta 0.3] [--samples 200000]
"""

from __future__ import annotations

import argparse
import time

import torch

from tnborn.base import GenerativeModel
from tnborn.datasets import ising_samples
from tnborn.physics import (Ising2D, fit_couplings, ising2d_log_z, learn_hamiltonian,
                            lattice_pairs, lattice_plaquettes, lattice_triples)
from tnborn.supports import Discrete


class IsingBoltzmann(GenerativeModel):
    """The exact ln p = -beta E - ln Z of the periodic L x L Ising model (no sampler:
    the fit is given Wolff configurations)."""

    fit_unit = None

    def __init__(self, L: int, beta: float):
        super().__init__()
        self.n_sites, self.support = L * L, Discrete(2)
        self.hamiltonian, self.beta = Ising2D(L), beta
        self.log_z = ising2d_log_z(L, beta)
        self.register_buffer("anchor", torch.zeros(1, dtype=torch.float64))

    def _log_prob(self, x):
        return -self.beta * self.hamiltonian.energy(x) - self.log_z


def max_abs(values: torch.Tensor) -> float:
    return float(values.abs().max()) if values.numel() else 0.0


def pseudolikelihood_run(L: int, beta: float, num: int, seed: int) -> dict:
    start = time.perf_counter()
    x = ising_samples(L, beta, num, seed=seed)
    sampling = time.perf_counter() - start
    start = time.perf_counter()
    result = fit_couplings(x, lattice_pairs(L))
    fit = time.perf_counter() - start
    nn = 2 * L * L
    couplings = result["pair_couplings"]
    relative = (couplings[:nn] - beta).abs() / beta
    row = {"L": L, "samples": num, "sample_s": sampling, "fit_s": fit,
           "nn_worst_rel": float(relative.max()), "nn_mean_rel": float(relative.mean()),
           "nn_mean": float(couplings[:nn].mean()),
           "nnn_max_abs": float(couplings[nn:].abs().max()),
           "field_max_abs": float(result["fields"].abs().max()),
           "newton_steps": result["iterations"], "converged": result["converged"],
           "objective_by_order": result["objective_by_order"]}
    print(f"pseudo-likelihood L={L} beta={beta} samples={num:,}: sampling {sampling:.1f} s, "
          f"fit {fit:.2f} s ({row['newton_steps']} Newton steps)\n"
          f"  nearest beta J: worst relative error {row['nn_worst_rel']:.2%}, mean "
          f"{row['nn_mean_rel']:.2%} (mean coupling {row['nn_mean']:.4f}); next-nearest "
          f"max |beta J| {row['nnn_max_abs']:.4f}; max |beta h| {row['field_max_abs']:.4f}")
    return {**row, "samples_tensor": x}


def least_squares_run(L: int, beta: float, x: torch.Tensor, higher: bool) -> dict:
    model = IsingBoltzmann(L, beta)
    extra = ({"triples": lattice_triples(L), "plaquettes": lattice_plaquettes(L)}
             if higher else {})
    start = time.perf_counter()
    result = learn_hamiltonian(model, pairs=lattice_pairs(L), configurations=x, **extra)
    seconds = time.perf_counter() - start
    nn = 2 * L * L
    truth = torch.cat([torch.full((nn,), beta, dtype=torch.float64),
                       torch.zeros(nn, dtype=torch.float64)])
    error = max(max_abs(result["pair_couplings"] - truth), max_abs(result["fields"]),
                max_abs(result["triple_couplings"]), max_abs(result["plaquette_couplings"]))
    columns = 1 + L * L + result["pairs"].shape[0] + result["triples"].shape[0] \
        + result["plaquettes"].shape[0]
    row = {"L": L, "configurations": x.shape[0], "columns": columns, "seconds": seconds,
           "fit_s": result["timing"]["fit"], "max_error": error,
           "constant_error": abs(result["constant"] + model.log_z),
           "residual_rms": result["residual_rms"]}
    print(f"least squares L={L}{' + triples + plaquettes' if higher else ''}: "
          f"{columns:,} columns x {x.shape[0]:,} configurations, {seconds:.2f} s "
          f"(fit {row['fit_s']:.2f} s); max coefficient error {error:.1e}, "
          f"|constant + ln Z| {row['constant_error']:.1e}, residual {row['residual_rms']:.1e}")
    return row


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--L", type=int, default=16)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--large-L", type=int, default=32)
    parser.add_argument("--large-samples", type=int, default=20_000)
    parser.add_argument("--lsq-configurations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    main_run = pseudolikelihood_run(args.L, args.beta, args.samples, args.seed)
    large = pseudolikelihood_run(args.large_L, args.beta, args.large_samples, args.seed)
    x = main_run.pop("samples_tensor")[:args.lsq_configurations]
    large.pop("samples_tensor")
    lsq = least_squares_run(args.L, args.beta, x, higher=False)
    lsq_higher = least_squares_run(args.L, args.beta, x, higher=True)
    try:
        learn_hamiltonian(IsingBoltzmann(args.L, args.beta), configurations=x[:10])
    except ValueError as exc:
        print(f"dense all-pairs least squares at L={args.L}: ValueError: {exc}")
    return {"pseudolikelihood": main_run, "pseudolikelihood_large": large,
            "least_squares": lsq, "least_squares_higher": lsq_higher}


if __name__ == "__main__":
    main()
