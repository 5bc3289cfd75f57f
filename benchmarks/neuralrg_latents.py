"""The renormalized collective variables of a trained NeuralRG on the dual Ising model
(Li and Wang 2018): a figure of z = f^{-1}(x) split by scale for a few configurations, the
top-scale latent against the Ising magnetization, and the mutual information between the
scales.

The MI is the Gaussian (second-moment) estimate of tnborn.diagnostics, weighted by the
importance weights pi / q so that it is taken under the target, for each scale against
all other latents, and for the same split of the physical variables x. KL(pi || q),
computed with the exact ln Z, bounds the true (not only Gaussian) MI between any split of
the latents from above, since q factorizes over them.

    python benchmarks/neuralrg_latents.py --model neuralrg_L8_beta0.3.pt --beta 0.3 \
        [--samples 50000] [--out docs/figures/neuralrg_latents.png]
"""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from tnborn import load  # noqa: E402
from tnborn.diagnostics import gaussian_mutual_information  # noqa: E402
from tnborn.physics import DualIsing  # noqa: E402


def scale_information(model, dual, num: int, seed: int) -> dict:
    """Per scale k: the Gaussian MI of its latents with the others, and of the same
    sites of x with the other sites, under pi (importance weights); and KL(pi || q)."""
    with torch.no_grad():
        x, log_q = model.sample_and_log_prob(num, generator=torch.Generator().manual_seed(seed))
        log_w = dual.log_density(x) - log_q
        weights = torch.softmax(log_w, 0)
        z = model.inverse(x)[0]
    kl = float((weights * (log_w - dual.log_z())).sum())
    rows = []
    for k in range(model.depth):
        part = model.scales == k
        latent = gaussian_mutual_information(z, part, weights=weights * num)
        physical = gaussian_mutual_information(x, part, weights=weights * num)
        rows.append({"scale": k, "variables": int(part.sum()), "latent": latent,
                     "physical": physical})
    ess = float(1.0 / (num * (weights ** 2).sum()))
    return {"rows": rows, "kl_upper_bound": kl, "ess": ess, "x": x, "z": z}


def draw(model, dual, info: dict, path: str, count: int = 3) -> None:
    """Rows: configurations; columns: x, then z at each scale (other sites blank); last
    column: the top latent against the mean of tanh(x) (the magnetization given x)."""
    L, depth = model.L, model.depth
    fig, axes = plt.subplots(count, depth + 3, figsize=(2.1 * (depth + 3), 2.1 * count))
    x, z = info["x"][:count].numpy(), info["z"][:count].numpy()
    scales = model.scales.numpy()
    for r in range(count):
        axes[r, 0].imshow(x[r].reshape(L, L), cmap="RdBu_r", vmin=-4, vmax=4)
        for k in range(depth + 1):
            field = np.where(scales == k, z[r], np.nan).reshape(L, L)
            axes[r, k + 1].imshow(field, cmap="RdBu_r", vmin=-3, vmax=3)
        for ax in axes[r, :-1]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("x", fontsize=9)
    for k in range(depth + 1):
        axes[0, k + 1].set_title(f"z, scale {k}", fontsize=9)
    top = info["z"][:2000, model.scales == depth][:, 0].numpy()
    magnetization = torch.tanh(info["x"][:2000]).mean(1).numpy()
    for r in range(count):
        axes[r, -1].axis("off")
    axes[0, -1].axis("on")
    axes[0, -1].scatter(top, magnetization, s=2)
    correlation = np.corrcoef(top, magnetization)[0, 1]
    axes[0, -1].set_xlabel(f"top latent (correlation {correlation:+.2f})", fontsize=8)
    axes[0, -1].set_ylabel("mean tanh x", fontsize=8)
    fig.suptitle(f"NeuralRG on the dual Ising model, L = {L}, beta = {dual.beta:g}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--beta", type=float, required=True)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/figures/neuralrg_latents.png")
    args = parser.parse_args()
    model = load(args.model)
    dual = DualIsing(model.L, args.beta)
    info = scale_information(model, dual, args.samples, args.seed)
    print(f"ESS {info['ess']:.3f}; KL(pi || q) = {info['kl_upper_bound']:.4f} nats bounds "
          "the MI between any split of the latents\n")
    print("| scale | variables | Gaussian MI, latents z (nats) | Gaussian MI, same sites of x "
          "(nats) |\n|---:|---:|---:|---:|")
    for row in info["rows"]:
        print(f"| {row['scale']} | {row['variables']} | {row['latent'].value:.4f} +- "
              f"{row['latent'].stderr:.4f} | {row['physical'].value:.4f} +- "
              f"{row['physical'].stderr:.4f} |")
    draw(model, dual, info, args.out)


if __name__ == "__main__":
    main()
