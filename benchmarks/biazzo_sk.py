"""Biazzo's nets against MADE at equal size (arXiv:2302.08347, its SK and CW figures).

Sherrington-Kirkpatrick (seed-fixed couplings): SK-RS, SK-1RSB and SK-kRSB (k = 2) nets
and a MADE with at least as many trainable (unmasked) parameters as the 1RSB net;
Curie-Weiss: the learnable CWARNN (random start), the large-N CW net and a MADE of the
CWARNN's size. Every net is trained by `train_variational` with the same two phases
(beta annealed as beta (1 - 0.99^t) at lr, then at lr / 5 without annealing; MADE at
lr 3e-3, the physics nets at 1e-2) and its variational free energy is estimated from
100,000 samples. With n <= 20 (SK) the exact F comes from enumeration, for CW from the
magnetization sum at any n; otherwise the table gives F per site and its distance to
the lowest F of the row.

    python benchmarks/biazzo_sk.py --model sk --n 20 --betas 0.1 0.5 1.0 1.5 2.0
    python benchmarks/biazzo_sk.py --model cw --n 50 --betas 0.5 1.0 1.5 2.0
    python benchmarks/biazzo_sk.py --model sk --n 20 --write docs/figures   # + figure
    python benchmarks/biazzo_sk.py --model sk --n 20 --betas 2.0 --lr 3e-3 --nets SK-RS SK-1RSB
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tnborn import CWARNN, MADE, SKARNN
from tnborn.physics import (CurieWeiss, SherringtonKirkpatrick, curie_weiss_log_z,
                            exact_log_z, free_energy, train_variational)

SK_SEED = 0
ESTIMATE_SAMPLES = 100_000


def trainable_parameters(model) -> int:
    """Parameters a net trains: unmasked entries (MADE's masks and the later-spin masks of
    the SK nets count out) plus biases."""
    if isinstance(model, MADE):
        return sum(int(getattr(model, f"mask{k}").sum()) + b.numel()
                   for k, b in enumerate(model.biases))
    if isinstance(model, SKARNN):
        n, k = model.n_sites, model.k
        return (2 * k + 3) * n * (n - 1) + 2 * n
    if isinstance(model, CWARNN) and not model.large_n:
        n = model.n_sites
        return 2 * n * (n + 1) + 4 * n
    return model.num_parameters


def made_of_size(n: int, target: int, seed: int) -> MADE:
    """The smallest one-hidden-layer MADE with at least ``target`` trainable parameters."""
    hidden = 1
    while trainable_parameters(MADE(n, hidden=hidden, depth=1, seed=seed)) < target:
        hidden += 1
    return MADE(n, hidden=hidden, depth=1, seed=seed)


def nets(model: str, hamiltonian, n: int, beta: float, seed: int) -> dict:
    """The nets of one comparison, by name."""
    if model == "sk":
        build = {name: SKARNN(hamiltonian.couplings, hamiltonian.fields, beta=beta, seed=seed,
                              **options)
                 for name, options in (("SK-RS", dict(structure="rs")),
                                       ("SK-1RSB", dict(structure="1rsb")),
                                       ("SK-2RSB", dict(structure="krsb", k=2)))}
        build["MADE"] = made_of_size(n, trainable_parameters(build["SK-1RSB"]), seed)
        return build
    build = {"CWARNN": CWARNN(n, beta=beta, init="random", seed=seed),
             "CWARNN large-N": CWARNN(n, beta=beta, large_n=True, seed=seed)}
    build["MADE"] = made_of_size(n, trainable_parameters(build["CWARNN"]), seed)
    return build


def train(model, hamiltonian, beta: float, steps: int, batch: int, lr: float,
          made_lr: float) -> float:
    """The two training phases; returns their seconds."""
    lr = made_lr if isinstance(model, MADE) else lr
    start = time.perf_counter()
    train_variational(model, hamiltonian, beta, steps=steps, batch_size=batch, lr=lr,
                      beta_anneal=0.99, progress=False)
    train_variational(model, hamiltonian, beta, steps=steps // 2, batch_size=batch,
                      lr=lr / 5, progress=False)
    return time.perf_counter() - start


def run(model: str, n: int, betas, steps: int, batch: int, seed: int, *, lr: float = 1e-2,
        made_lr: float = 3e-3, only=None) -> list[dict]:
    """Train and measure every net (or the names in ``only``) at every beta."""
    hamiltonian = SherringtonKirkpatrick(n, seed=SK_SEED) if model == "sk" else CurieWeiss(n)
    rows = []
    for beta in betas:
        if model == "cw":
            exact = -curie_weiss_log_z(n, beta) / beta
        else:
            exact = -exact_log_z(hamiltonian, beta) / beta if n <= 20 else None
        for name, net in nets(model, hamiltonian, n, beta, seed).items():
            if only is not None and name not in only:
                continue
            seconds = train(net, hamiltonian, beta, steps, batch, lr, made_lr)
            result = free_energy(net, hamiltonian, beta, num=ESTIMATE_SAMPLES,
                                 generator=torch.Generator().manual_seed(seed))
            row = {"beta": beta, "net": name, "params": trainable_parameters(net),
                   "F": result["F_variational"], "F_err": result["F_variational_err"],
                   "F_exact": exact, "ess": result["ess"], "seconds": seconds}
            row["relative_error"] = None if exact is None else \
                (row["F"] - exact) / abs(exact)
            rows.append(row)
            shown = f"{row['relative_error']:.2e}" if exact is not None else \
                f"F/n {row['F'] / n:.6f}"
            print(f"beta {beta:<4g} {name:<15} params {row['params']:>6}  {shown}  "
                  f"ESS {row['ess']:.3f}  {seconds:.0f} s", flush=True)
    return rows


def markdown(rows: list[dict], model: str, n: int, steps: int, batch: int) -> str:
    names = list(dict.fromkeys(r["net"] for r in rows))
    betas = list(dict.fromkeys(r["beta"] for r in rows))
    exact = rows[0]["F_exact"] is not None
    what = "relative error (F_var - F) / |F|" if exact else "F_var / n minus the row's lowest"
    params = {r["net"]: r["params"] for r in rows}
    lines = ["| beta | " + " | ".join(f"{name} ({params[name]:,})" for name in names) + " |",
             "|---:|" + "---:|" * len(names)]
    for beta in betas:
        cells = {r["net"]: r for r in rows if r["beta"] == beta}
        lowest = min(r["F"] for r in cells.values())
        values = [f"{cells[name]['relative_error']:.2e}" if exact else
                  f"{(cells[name]['F'] - lowest) / n:.2e}" for name in names]
        lines.append(f"| {beta:g} | " + " | ".join(values) + " |")
    title = {"sk": f"SK, N = {n} (couplings seed {SK_SEED})", "cw": f"Curie-Weiss, N = {n}"}
    return "\n".join([f"{title[model]}: {what}; trainable parameters in brackets; "
                      f"{steps} + {steps // 2} steps of batch {batch}.", ""] + lines)


def figure(rows: list[dict], model: str, n: int, path: Path) -> None:
    from tnborn.plotting import line_plot

    names = list(dict.fromkeys(r["net"] for r in rows))
    betas = list(dict.fromkeys(r["beta"] for r in rows))
    series = {name: [max(abs(r["relative_error"]), 1e-9) for r in rows if r["net"] == name]
              for name in names}
    line_plot(betas, series, path, xlabel="beta", ylabel="|relative error of F|",
              title=f"{model.upper()}, N = {n}: variational free energy", logy=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("sk", "cw"), default="sk")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.1, 0.5, 1.0, 1.5, 2.0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam lr of the physics nets")
    parser.add_argument("--made-lr", type=float, default=3e-3, help="Adam lr of MADE")
    parser.add_argument("--nets", nargs="+", help="only these nets (names as in the table)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--write", type=Path, help="folder for the JSON rows and the figure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = run(args.model, args.n, args.betas, args.steps, args.batch, args.seed, lr=args.lr,
               made_lr=args.made_lr, only=args.nets)
    print(markdown(rows, args.model, args.n, args.steps, args.batch))
    if args.write is not None:
        args.write.mkdir(parents=True, exist_ok=True)
        stem = f"biazzo_{args.model}_n{args.n}"
        (args.write / f"{stem}.json").write_text(json.dumps(rows, indent=1))
        if rows[0]["F_exact"] is not None:
            figure(rows, args.model, args.n, args.write / f"{stem}.png")


if __name__ == "__main__":
    main()
