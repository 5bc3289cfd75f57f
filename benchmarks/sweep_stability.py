"""Whether ``fit``'s default two-site/two-node step lowers the training NLL every sweep.

Three data sets of the library, full batch, one thread, fresh models with ``fit`` defaults
other than max_bond (``--lr 0.2`` runs the earlier fixed-step default instead):

- 10,000 Wolff samples of the periodic 4x4 Ising model at beta = 0.44 (MPS, D = 16),
  against the exact entropy of the Boltzmann distribution (enumeration), the exact
  KL(p || q), and the couplings ``learn_hamiltonian`` reads back from the fitted model
  (exactly 1 for the Ising model), fitted on all 2^16 configurations and on model samples;
- bars and stripes 4x4 (MPS and 2D TTN, D = 8, below the bond 15 the patterns need);
- the 8x8 digits (MPS and TTN, D = 8);
- 1,000 MNIST images (MPS, D = 10).

Prints the train NLL per sweep and the largest rise from one sweep to the next.

    python benchmarks/sweep_stability.py [--lr 0.2] [--sweeps 12]
"""

from __future__ import annotations

import argparse

import torch

from tnborn import MPSBornMachine, TTNBornMachine
from tnborn.datasets import bars_and_stripes, digits, ising_samples, mnist
from tnborn.enumeration import all_configurations
from tnborn.physics import Ising2D, learn_hamiltonian
from tnborn.physics.exact import boltzmann_log_table

BETA = 0.44


def largest_rise(history: list[dict]) -> float:
    nll = [record["train_nll"] for record in history]
    return max(b - a for a, b in zip(nll, nll[1:]))


def show(name: str, history: list[dict]) -> None:
    nll = ", ".join(f"{record['train_nll']:.4f}" for record in history)
    print(f"{name}: train NLL {nll}; largest rise {largest_rise(history):+.2e}; "
          f"{history[-1]['seconds']:.1f} s", flush=True)


def ising(lr, sweeps):
    data = ising_samples(4, BETA, 10_000, seed=1)
    model = MPSBornMachine(16, max_bond=16, seed=0)
    show("Ising 4x4, beta 0.44, MPS D=16", model.fit(data, sweeps=sweeps, lr=lr,
                                                    progress=False))
    x = all_configurations(16, 2)
    hamiltonian = Ising2D(4)
    log_p = boltzmann_log_table(hamiltonian, BETA)
    with torch.no_grad():
        log_q = model.log_prob(x)
    entropy = -float((log_p.exp() * log_p).sum())
    kl = float((log_p.exp() * (log_p - log_q)).sum())
    print(f"  exact entropy {entropy:.4f}; KL(p||q) {kl:.4f}", flush=True)
    for where, options in (("all 2^16 configurations", {"configurations": x}),
                           ("20,000 model samples", {"num": 20_000, "generator":
                                                     torch.Generator().manual_seed(2)})):
        j = learn_hamiltonian(model, pairs=hamiltonian, beta=BETA, **options)["pair_couplings"]
        print(f"  learned J on {where}: mean {float(j.mean()):.3f} (min {float(j.min()):.3f}, "
              f"max {float(j.max()):.3f}; exact 1)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--sweeps", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ising(args.lr, args.sweeps)
    bas = bars_and_stripes(4, 4)  # truncated: the patterns need bond 15
    for name, model in (("BAS 4x4, MPS D=8", MPSBornMachine(16, max_bond=8, seed=0)),
                        ("BAS 4x4, TTN 2D D=8", TTNBornMachine(16, max_bond=8, layout=(4, 4),
                                                               seed=0))):
        show(name, model.fit(bas, sweeps=args.sweeps, lr=args.lr, progress=False))
    train = digits()
    for name, model in (("digits, MPS D=8", MPSBornMachine(64, max_bond=8, seed=0)),
                        ("digits, TTN D=8", TTNBornMachine(64, max_bond=8, seed=0))):
        show(name, model.fit(train, sweeps=args.sweeps, lr=args.lr, progress=False))
    model = MPSBornMachine(784, max_bond=10, seed=0)
    show("MNIST 1,000, MPS D=10", model.fit(mnist(limit=1000, seed=0), sweeps=args.sweeps,
                                            lr=args.lr, progress=False))


if __name__ == "__main__":
    main()
