"""Learn the Ising Hamiltonian back from samples: H = -T ln p.

Wolff-cluster samples of the periodic L x L Ising model at inverse temperature beta train
a Z2-symmetric MADE by maximum likelihood (the samples and their lattice translations,
in phases of decreasing learning rate);
a least-squares fit of the model's ln p to pairwise terms then recovers beta J on every
pair (``--graph all``, the default up to L = 11) or on the nearest and next-nearest
pairs of the lattice (``--graph lattice``, for larger L). For comparison the same Wolff
samples are fitted directly, without a model, by maximum pseudo-likelihood
(``fit_couplings``) on the nearest + next-nearest graph. Writes ``couplings.png`` (the
learned beta J_ij as a heat map) into --out::

    python examples/learn_hamiltonian.py --L 4 --beta 0.3 --samples 20000
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tnborn import MADE
from tnborn.datasets import ising_samples
from tnborn.physics import Ising2D, fit_couplings, lattice_pairs, learn_hamiltonian
from tnborn.physics.learn import MAX_LEAST_SQUARES_COLUMNS
from tnborn.plotting import heat_map


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/learn_hamiltonian"))
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[8, 4, 3],
                        help="epochs of each training phase (default: %(default)s)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-4, 1e-4],
                        help="learning rate of each phase (default: %(default)s)")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--graph", choices=["auto", "all", "lattice"], default="auto",
                        help="pairs of the least-squares fit: every pair, the nearest + "
                             "next-nearest lattice pairs, or auto (every pair while the "
                             "dense fit is small enough)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def translations(samples: torch.Tensor, L: int) -> torch.Tensor:
    """Every configuration together with its L*L lattice translations (the data's symmetry)."""
    images = samples.reshape(-1, L, L)
    shifted = [torch.roll(images, (dr, dc), (1, 2)) for dr in range(L) for dc in range(L)]
    return torch.cat(shifted).reshape(-1, L * L)


def main(argv=None) -> dict:
    args = parse_args(argv)
    n = args.L * args.L
    data = ising_samples(args.L, args.beta, args.samples, seed=args.seed)
    model = MADE(n, hidden=args.hidden, seed=args.seed)
    model.z2_symmetric = True
    generator = torch.Generator().manual_seed(args.seed)
    if len(args.epochs) != len(args.lrs):
        raise SystemExit("give as many --lrs as --epochs")
    augmented = translations(data, args.L)
    for epochs, lr in zip(args.epochs, args.lrs):
        model.fit(augmented, epochs=epochs, lr=lr, batch_size=500,
                  progress=not args.no_progress, generator=generator)
    graph = args.graph
    if graph == "auto":
        dense_columns = 1 + n + n * (n - 1) // 2
        graph = "all" if dense_columns <= MAX_LEAST_SQUARES_COLUMNS else "lattice"
    lattice = lattice_pairs(args.L)  # nearest, then next-nearest
    learned = learn_hamiltonian(model, pairs=None if graph == "all" else lattice,
                                num=50_000, generator=generator)
    couplings = learned["couplings"]
    neighbours = Ising2D(args.L).couplings != 0
    others = ~neighbours & ~torch.eye(n, dtype=torch.bool)
    summary = {"graph": graph,
               "nearest_min": float(couplings[neighbours].min()),
               "nearest_max": float(couplings[neighbours].max()),
               "nearest_mean": float(couplings[neighbours].mean()),
               "others_max_abs": float(couplings[others].abs().max()),
               "fields_max_abs": float(learned["fields"].abs().max()),
               "residual_by_order": learned["residual_by_order"]}
    print(f"true beta J = {args.beta}: learned nearest-neighbour couplings "
          f"{summary['nearest_min']:.3f} .. {summary['nearest_max']:.3f} "
          f"(mean {summary['nearest_mean']:.3f}); largest other |coupling| "
          f"{summary['others_max_abs']:.3f}; largest |field| {summary['fields_max_abs']:.3f} "
          f"({graph} pairs; ln p residual {learned['residual_rms']:.3f} nats)")
    # the data alone: maximum pseudo-likelihood on the nearest + next-nearest graph
    direct = fit_couplings(data, lattice)
    nearest = lattice_pairs(args.L, "nearest").shape[0]
    learned_pairs = direct["pair_couplings"]
    summary.update({"data_nearest_min": float(learned_pairs[:nearest].min()),
                    "data_nearest_max": float(learned_pairs[:nearest].max()),
                    "data_next_nearest_max_abs": float(learned_pairs[nearest:].abs().max())})
    print(f"pseudo-likelihood on the samples themselves: nearest-neighbour couplings "
          f"{summary['data_nearest_min']:.3f} .. {summary['data_nearest_max']:.3f}; "
          f"largest next-nearest |coupling| {summary['data_next_nearest_max_abs']:.3f} "
          f"({direct['timing']['fit']:.2f} s)")
    figure = heat_map(couplings, args.out / "couplings.png", label="learned beta J_ij",
                      title=f"{args.L}x{args.L} Ising, beta J = {args.beta}")
    print(f"figure: {figure}")
    return {**summary, "couplings": couplings, "figure": figure}


if __name__ == "__main__":
    main()
