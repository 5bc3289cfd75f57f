"""AIS against the exact ln Z of an RBM with 784 visible and 20 hidden units (issue 22).

A random RBM (weights N(0, 0.1^2), biases N(0, 0.5^2)) and one trained by CD-1 on 1,000
binarized MNIST digits (20 epochs, Adam lr 1e-2, batches of 100); for each, the exact
ln Z by enumerating the 2^20 hidden states and ``log_z(method="ais")`` with
``--chains`` runs of ``--steps`` temperatures. Prints both with the error in reported
standard errors (accept: within 3 and within 0.5 nats) and the seconds. Then a sharper
RBM, PCD-1 on the same digits (100 epochs, lr 1e-2 decayed by 0.99 per epoch, batches of
20), where the uniform base rate fails: AIS from the uniform and from the data's base
rate, with the linear and the dense (Salakhutdinov-Murray) schedules::

    python benchmarks/rbm_ais.py [--chains 100] [--steps 10000]
"""

from __future__ import annotations

import argparse
import time

import torch

from tnborn import RBM
from tnborn.datasets import mnist


def compare(name: str, model: RBM, chains: int, steps: int, **options) -> dict:
    start = time.perf_counter()
    exact = model.log_z("exact").value
    exact_seconds = time.perf_counter() - start
    start = time.perf_counter()
    estimate = model.log_z("ais", chains=chains, steps=steps,
                           generator=torch.Generator().manual_seed(0), **options)
    ais_seconds = time.perf_counter() - start
    gap = estimate.value - exact
    ok = abs(gap) <= 3 * estimate.stderr and abs(gap) <= 0.5
    print(f"{name}: exact ln Z {exact:.4f} ({exact_seconds:.1f} s), AIS {estimate.value:.4f} "
          f"+- {estimate.stderr:.4f} ({ais_seconds:.1f} s, ESS / N "
          f"{estimate.diagnostics['ess']:.3f}): {gap:+.4f} nats, "
          f"{gap / estimate.stderr:+.2f} sigma: {'ok' if ok else 'FAILS'}"
          f"{'' if estimate.reliable else ' (marked unreliable: low ESS)'}", flush=True)
    return {"exact": exact, "ais": estimate.value, "stderr": estimate.stderr, "ok": ok}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chains", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    random = RBM(784, 20, init_scale=0.1, seed=0)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        random.visible_bias.normal_(0, 0.5, generator=gen)
        random.hidden_bias.normal_(0, 0.5, generator=gen)
    trained = RBM(784, 20, init_scale=0.01, seed=0)
    trained.fit(mnist(limit=1000), method="cd", epochs=20, lr=1e-2, batch_size=100,
                record_every=20, progress=False)
    out = [compare("random", random, args.chains, args.steps),
           compare("trained (CD-1, MNIST)", trained, args.chains, args.steps)]
    digits = mnist(limit=1000)
    sharp = RBM(784, 20, init_scale=0.01, seed=0)
    sharp.fit(digits, method="pcd", epochs=100, lr=1e-2, lr_decay=0.99, batch_size=20,
              record_every=100, progress=False)
    for schedule in ("linear", "dense"):
        for base, base_data in (("uniform", None), ("data", digits)):
            out.append(compare(f"PCD-1, {schedule} schedule, {base} base rate", sharp,
                               args.chains, args.steps, schedule=schedule,
                               base_data=base_data))
    return out


if __name__ == "__main__":
    main()
