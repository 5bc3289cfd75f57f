"""Flows on the dual Ising model (issue 19's acceptance runs): train a Z2-symmetric flow by
the reparametrized variational free energy, then report the variational and
importance-sampled ln Z against the exact one (Kaufman plus the Hubbard-Stratonovich
constant), the ESS, and the Ising energy from the Metropolized independent sampler
(neural MCMC) against the exact energy, with acceptance rate and parameter count.

    python benchmarks/flow_dual_ising_runs.py --L 4 --betas 0.3 0.44 --flows realnvp
    python benchmarks/flow_dual_ising_runs.py --L 8 --betas 0.3 --flows realnvp neuralrg
        [--steps 4000] [--batch 512] [--lr 1e-3] [--seed 0] [--json out.json]
        [--save-model DIR] [--evaluate DIR]

Prints one markdown row per (flow, beta); ``--json`` writes the rows.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from tnborn import load
from tnborn.flows import NeuralRG, RealNVP
from tnborn.physics import (DualIsing, exact_observables, free_energy, ising2d_energy,
                            neural_mcmc, train_variational)

HEADER = ("| L | beta | flow | parameters | train s | ln Z exact | ln Z var (rel. err) | "
          "ln Z IS (err / sigma) | ESS | MCMC acceptance | E exact | E MCMC (err / sigma) |"
          "\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def build(flow: str, L: int, seed: int):
    if flow == "realnvp":
        return RealNVP(L * L, blocks=8, hidden=64, mask="checkerboard", seed=seed)
    if flow == "neuralrg":
        return NeuralRG(L, couplings=4, hidden=16, seed=seed)
    raise ValueError(f"unknown flow {flow!r}")


def exact_energy(dual) -> float:
    if dual.n_sites <= 16:
        return exact_observables(dual.ising, dual.beta)["energy"]
    return ising2d_energy(dual.L, dual.beta)


def model_path(folder, flow: str, L: int, beta: float) -> str:
    return f"{folder}/{flow}_L{L}_beta{beta:g}.pt"


def run_point(L: int, beta: float, flow: str, *, steps: int, batch: int, lr: float,
              seed: int, num: int, mcmc_steps: int, chains: int, save_model=None) -> dict:
    """Train one flow and measure it; returns the row as a dict."""
    dual = DualIsing(L, beta)
    model = build(flow, L, seed)
    start = time.perf_counter()
    train_variational(model, dual, steps=steps, batch_size=batch, lr=lr, z2=True,
                      progress=False, generator=torch.Generator().manual_seed(seed + 1))
    seconds = time.perf_counter() - start
    if save_model:
        model.save(model_path(save_model, flow, L, beta))
    return {"flow": flow, "steps": steps, "batch": batch, "lr": lr, "seed": seed,
            "train_seconds": seconds,
            **measure(model, dual, seed=seed, num=num, mcmc_steps=mcmc_steps, chains=chains)}


def measure(model, dual, *, seed: int, num: int, mcmc_steps: int, chains: int) -> dict:
    """ln Z (variational, importance-sampled), ESS and the neural MCMC Ising energy of a
    trained flow, against the exact values."""
    estimate = free_energy(model, dual, num=num, generator=torch.Generator().manual_seed(seed + 2))
    chain = neural_mcmc(model, dual, steps=mcmc_steps, chains=chains, burn_in=50,
                        generator=torch.Generator().manual_seed(seed + 3))
    log_z, energy = dual.log_z(), exact_energy(dual)
    mcmc_energy = chain["observables"]["ising_energy"]
    return {
        "L": dual.L, "beta": dual.beta, "parameters": model.num_parameters,
        "log_z_exact": log_z,
        "log_z_variational": estimate["log_z_variational"],
        "log_z_variational_rel_err": (estimate["log_z_variational"] - log_z) / log_z,
        "log_z_importance": estimate["log_z_importance"],
        "log_z_importance_err": estimate["log_z_importance_err"],
        "log_z_importance_sigmas": (estimate["log_z_importance"] - log_z)
        / estimate["log_z_importance_err"],
        "ess": estimate["ess"], "is_reliable": estimate["reliable"],
        "acceptance": chain["acceptance"], "mcmc_reliable": chain["reliable"],
        "energy_exact": energy, "energy_mcmc": mcmc_energy["mean"],
        "energy_mcmc_err": mcmc_energy["err"],
        "energy_mcmc_sigmas": (mcmc_energy["mean"] - energy) / mcmc_energy["err"],
        "energy_importance": estimate["observables"]["ising_energy"]["mean"],
        "energy_importance_err": estimate["observables"]["ising_energy"]["err"],
        "abs_magnetization_mcmc": chain["observables"]["ising_abs_magnetization"]["mean"],
        "abs_magnetization_mcmc_err": chain["observables"]["ising_abs_magnetization"]["err"],
        "mcmc_warnings": chain["warnings"],
    }


def table_row(r: dict) -> str:
    return (f"| {r['L']} | {r['beta']:g} | {r['flow']} | {r['parameters']:,} | "
            f"{r['train_seconds']:.0f} | {r['log_z_exact']:.4f} | "
            f"{r['log_z_variational']:.4f} ({100 * r['log_z_variational_rel_err']:+.2f} %) | "
            f"{r['log_z_importance']:.4f} +- {r['log_z_importance_err']:.4f} "
            f"({r['log_z_importance_sigmas']:+.2f}) | {r['ess']:.3f} | "
            f"{r['acceptance']:.3f} | {r['energy_exact']:.4f} | "
            f"{r['energy_mcmc']:.3f} +- {r['energy_mcmc_err']:.3f} "
            f"({r['energy_mcmc_sigmas']:+.2f}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.3, 0.44])
    parser.add_argument("--flows", nargs="+", default=["realnvp"],
                        choices=["realnvp", "neuralrg"])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num", type=int, default=100_000)
    parser.add_argument("--mcmc-steps", type=int, default=4000)
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    parser.add_argument("--save-model", default=None)
    parser.add_argument("--evaluate", default=None,
                        help="measure the models saved in this folder instead of training")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(HEADER, flush=True)
    rows = []
    for flow in args.flows:
        for beta in args.betas:
            options = {"seed": args.seed, "num": args.num, "mcmc_steps": args.mcmc_steps,
                       "chains": args.chains}
            if args.evaluate:
                model = load(model_path(args.evaluate, flow, args.L, beta))
                rows.append({"flow": flow, "train_seconds": float("nan"),
                             **measure(model, DualIsing(args.L, beta), **options)})
            else:
                rows.append(run_point(args.L, beta, flow, steps=args.steps, batch=args.batch,
                                      lr=args.lr, save_model=args.save_model, **options))
            print(table_row(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=1)


if __name__ == "__main__":
    main()
