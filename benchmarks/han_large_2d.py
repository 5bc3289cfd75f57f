"""A 2D HAN at L = 32 or 64, pretrained on a smaller lattice (issue 21; docs/results_ising3d.md).

A Z2-symmetric HAN (every level learned) is trained variationally on the periodic
``--pretrain`` lattice at beta with beta annealed, copied into the L lattice
(`HAN.init_from_smaller_`: the networks of the cells both share) and trained there;
then its variational and importance-sampled F / N against Kaufman's exact value, the
ESS, neural MCMC (acceptance, tau_int of E and |m| in steps) and, for comparison,
Wolff's tau_int of |m| in sweeps with the seconds per sweep and per network step, so
both chains can be compared per second of wall clock. One thread, float64::

    python benchmarks/han_large_2d.py --L 32 --beta 0.44 --pretrain 16
    python benchmarks/han_large_2d.py --L 32 --pretrain 16 --pretrain-steps 1500 \
        --steps 4500 --finetune-steps 3000 --finetune-lr 2e-4

``--finetune-steps`` adds a second stage at ``--finetune-lr`` with its own checkpoint
(the first stage's resumes as it was). ``--init-from`` starts the smaller lattice from a
checkpoint of an earlier run (L = 64 from the trained L = 32)::

    python benchmarks/han_large_2d.py --L 64 --pretrain 32 \
        --init-from runs/han_large/finetune_L32.pt --steps 300 --out runs/han_large64
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tnborn.arnn import HAN
from tnborn.physics import (Ising2D, free_energy, ising2d_log_z, ising_monte_carlo,
                            neural_mcmc, train_variational)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--L", type=int, default=32)
    parser.add_argument("--beta", type=float, default=0.44)
    parser.add_argument("--pretrain", type=int, default=16, help="side of the first lattice")
    parser.add_argument("--pretrain-steps", type=int, default=3000,
                        help="annealed steps on the first lattice (3,000: beta_t ends 0.25 %% "
                             "short of beta; see docs/results_ising3d.md, beta = 0.46)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--init-from", type=Path, default=None,
                        help="a training checkpoint of the --pretrain lattice's HAN to "
                             "start from instead of pretraining")
    parser.add_argument("--finetune-steps", type=int, default=0,
                        help="further steps at --finetune-lr after --steps (0: none)")
    parser.add_argument("--finetune-lr", type=float, default=2e-4)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--mcmc-steps", type=int, default=1000)
    parser.add_argument("--wolff-sweeps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/han_large"))
    return parser.parse_args(argv)


def train(model, L: int, beta: float, steps: int, args, anneal, checkpoint: Path,
          lr: float | None = None) -> tuple[float, float]:
    """Seconds of training and the beta_t of its last step."""
    start = time.perf_counter()
    history = train_variational(
        model, Ising2D(L), beta, steps=steps, batch_size=args.batch_size,
        lr=args.lr if lr is None else lr, beta_anneal=anneal, progress=True,
        generator=torch.Generator().manual_seed(args.seed), checkpoint=checkpoint,
        resume=checkpoint if checkpoint.exists() else None)
    return time.perf_counter() - start, history[-1]["beta"]


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    small = HAN(args.pretrain, hidden=args.hidden, seed=args.seed)
    small.z2_symmetric = True
    if args.init_from is not None:  # a trained smaller lattice: no pretraining here
        small.load_state_dict(torch.load(args.init_from, weights_only=True)["state"])
        pretrain_seconds, pretrain_beta = 0.0, None
    else:
        pretrain_seconds, pretrain_beta = train(
            small, args.pretrain, args.beta, args.pretrain_steps, args, 0.998,
            args.out / f"pretrain_L{args.pretrain}.pt")
    model = HAN(args.L, hidden=args.hidden, seed=args.seed)
    model.z2_symmetric = True
    copied = model.init_from_smaller_(small)
    seconds = train(model, args.L, args.beta, args.steps, args, None,
                    args.out / f"train_L{args.L}.pt")[0]
    if args.finetune_steps:
        seconds += train(model, args.L, args.beta, args.finetune_steps, args, None,
                         args.out / f"finetune_L{args.L}.pt", lr=args.finetune_lr)[0]
    n, hamiltonian = args.L ** 2, Ising2D(args.L)
    exact = -ising2d_log_z(args.L, args.beta) / args.beta / n
    fe = free_energy(model, hamiltonian, args.beta, num=args.samples,
                     generator=torch.Generator().manual_seed(args.seed + 1))
    start = time.perf_counter()
    chain = neural_mcmc(model, hamiltonian, args.beta, steps=args.mcmc_steps, chains=100,
                        generator=torch.Generator().manual_seed(args.seed + 2))
    mcmc_seconds = time.perf_counter() - start
    start = time.perf_counter()
    wolff = ising_monte_carlo(args.L, args.beta, dim=2, sweeps=args.wolff_sweeps, chains=1,
                              seed=args.seed + 3)
    wolff_seconds = time.perf_counter() - start
    result = {
        "L": args.L, "beta": args.beta, "pretrain": args.pretrain, "copied_levels": copied,
        "params": model.num_parameters, "steps": args.steps,
        "finetune_steps": args.finetune_steps, "finetune_lr": args.finetune_lr,
        "pretrain_seconds": pretrain_seconds, "pretrain_final_beta": pretrain_beta,
        "train_seconds": seconds,
        "f_exact": exact, "f_variational": fe["F_variational_per_site"],
        "f_importance": fe["F_importance_per_site"],
        "f_importance_err": fe["F_importance_err"] / n, "ess": fe["ess"],
        "importance_reliable": fe["reliable"], "acceptance": chain["acceptance"],
        "tau_int_energy": chain["tau_int"], "tau_int_abs_m": chain["tau_int_magnetization"],
        "mcmc_seconds_per_step": mcmc_seconds / (args.mcmc_steps + 100),
        "mcmc_chains": 100, "mcmc_reliable": chain["reliable"],
        "wolff_tau_int_abs_m": wolff["tau_int"]["abs_m"],
        "wolff_seconds_per_sweep": wolff_seconds / args.wolff_sweeps,
    }
    print(json.dumps(result, indent=1))
    if pretrain_beta is not None and pretrain_beta < 0.99 * args.beta:
        print(f"warning: the pretraining's annealed beta ended at {pretrain_beta:.4f}, "
              f"{1 - pretrain_beta / args.beta:.1%} short of {args.beta} (more "
              "--pretrain-steps): on the ordered side the large lattice then stalls")
    print(f"F/N variational - exact: {result['f_variational'] - exact:+.2e} "
          f"(accept <= 2e-4); importance - exact: {result['f_importance'] - exact:+.2e} "
          f"+- {result['f_importance_err']:.1e}; ESS / N {result['ess']:.3f}")
    # independent |m| measurements per second: chains / (tau * seconds per step)
    network_rate = 100 / (max(result["tau_int_abs_m"], 1.0) * result["mcmc_seconds_per_step"])
    wolff_rate = 1 / (max(result["wolff_tau_int_abs_m"], 1.0) * result["wolff_seconds_per_sweep"])
    print(f"independent |m| samples per second: neural MCMC {network_rate:.1f}, "
          f"Wolff {wolff_rate:.1f}")
    (args.out / f"han_L{args.L}.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
