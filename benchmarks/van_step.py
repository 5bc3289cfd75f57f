"""VAN training-step speed on the 2D Ising model, and the free-energy error it reaches.

One step = draw a batch from the model, evaluate ln q with gradients, REINFORCE loss,
backward, Adam. Each network is timed with its own cached sampler and with the plain
sampler of the autoregressive base class (one full forward pass per site, as the
original VAN code samples), in the same process and on the same thread count. Then a
MADE is trained for a fixed number of steps and its variational and importance-sampled
F/N are compared with Kaufman's exact value.

    python benchmarks/van_step.py [--L 8] [--batch 1000] [--train-steps 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402

from tnborn import MADE, PixelCNN  # noqa: E402
from tnborn.arnn.base import AutoregressiveModel  # noqa: E402
from tnborn.physics import Ising2D, free_energy, ising2d_log_z, train_variational  # noqa: E402


def van_step(model, hamiltonian, beta, batch, optimizer, generator, plain_sampler=False):
    with torch.no_grad():
        if plain_sampler:
            start = torch.zeros(batch, dtype=torch.long)
            x = AutoregressiveModel._sample_from(model, torch.zeros(batch, model.n_sites,
                                                                    dtype=torch.long),
                                                 start, generator)
        else:
            x = model._sample(batch, generator)
        energy = hamiltonian.energy(x)
    log_q = model._log_prob(x)
    local = (energy + log_q / beta).detach()
    loss = ((local - local.mean()) * log_q).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=8)
    parser.add_argument("--beta", type=float, default=0.44)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--train-steps", type=int, default=500)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hamiltonian = Ising2D(args.L)
    n = args.L * args.L
    print(f"L={args.L}, batch {args.batch}, beta {args.beta}, threads {torch.get_num_threads()}")
    networks = (("MADE", MADE(n, seed=0)), ("PixelCNN", PixelCNN((args.L, args.L), seed=0)),
                ("PixelCNN, whole-past first layer",
                 PixelCNN((args.L, args.L), first_kernel=2 * args.L - 1, seed=0)))
    for name, model in networks:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(0)
        cached = best_time(lambda: van_step(model, hamiltonian, args.beta, args.batch,
                                            optimizer, generator), 5)
        plain = best_time(lambda: van_step(model, hamiltonian, args.beta, args.batch,
                                           optimizer, generator, plain_sampler=True), 2)
        print(f"{name}: {cached:.4f} s per step; plain sampler {plain:.4f} s "
              f"-> {plain / cached:.1f}x")
    exact = -ising2d_log_z(args.L, args.beta) / (args.beta * n)
    model = MADE(n, hidden=256, seed=0)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    train_variational(model, hamiltonian, args.beta, steps=args.train_steps,
                      batch_size=args.batch, lr=1e-3, beta_anneal=0.99, z2=True,
                      progress=False, generator=generator)
    seconds = time.perf_counter() - start
    result = free_energy(model, hamiltonian, args.beta, num=100_000, generator=generator)
    print(f"MADE (hidden 256, Z2) after {args.train_steps} steps ({seconds:.0f} s): "
          f"F/N variational error {result['F_variational_per_site'] - exact:.2e}, "
          f"importance-sampled {result['F_importance_per_site'] - exact:.2e} "
          f"+- {result['F_importance_err'] / n:.1e}, ESS {result['ess']:.3f}")


if __name__ == "__main__":
    main()
