"""Exact sampling speed: tnborn's batched zipper against quimb's MPS.sample.

Both draw from the same normalized 784-site MPS with bond dimension 32 (random
tensors), one thread each; the figure of merit is the per-sample time ratio. Also
reports tnborn's absolute time for 1,000 samples with the default thread count.
With ``--device cuda`` tnborn's sampler also runs on the GPU (timed with the device
synchronized) and is compared per sample with quimb on one CPU thread.

    python benchmarks/mps_sampling.py [--sites 784] [--bond 32] [--quimb-samples 5]
    python benchmarks/mps_sampling.py --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402

from tnborn import MPSBornMachine  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=784)
    parser.add_argument("--bond", type=int, default=32)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--quimb-samples", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", help="also time tnborn on this device")
    args = parser.parse_args()

    default_threads = torch.get_num_threads()
    model = MPSBornMachine(args.sites, init_bond=args.bond, max_bond=args.bond, seed=0)
    generator = torch.Generator().manual_seed(0)

    def ours():
        model.sample(args.samples, generator=generator)

    ours()  # warm-up
    all_threads = best_time(ours, args.repeats)
    torch.set_num_threads(1)
    one_thread = best_time(ours, args.repeats)

    qmps = model.to_quimb()
    qmps.normalize()

    def theirs():
        for _ in range(args.quimb_samples):
            next(draws)

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        draws = qmps.sample(args.quimb_samples * (args.repeats + 1), seed=0)
        quimb_time = best_time(theirs, min(args.repeats, 3))
    ours_per = one_thread / args.samples
    theirs_per = quimb_time / args.quimb_samples
    print(f"MPS: {args.sites} sites, bond {max(model.bond_dims)}, float64")
    print(f"tnborn  {args.samples} samples: {one_thread:.4f} s (1 thread), "
          f"{all_threads:.4f} s ({default_threads} threads)")
    print(f"quimb   {args.quimb_samples} samples: {quimb_time:.3f} s (1 thread)")
    print(f"per sample: tnborn {ours_per * 1e6:.1f} us, quimb {theirs_per * 1e3:.1f} ms, "
          f"ratio {theirs_per / ours_per:.0f}x")
    if torch.device(args.device).type == "cuda":
        time_on_gpu(model, args, theirs_per)


def time_on_gpu(model, args, quimb_per_sample):
    """tnborn's sampler on the GPU: the same state, timed with the device synchronized."""
    device = torch.device(args.device)
    gpu_model = MPSBornMachine.from_tensors(model.tensors, max_bond=args.bond).to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    for count in (args.samples, 10 * args.samples):
        def ours():
            gpu_model.sample(count, generator=generator)
            torch.cuda.synchronize(device)

        ours()  # warm-up
        seconds = best_time(ours, args.repeats)
        per = seconds / count
        print(f"tnborn on {torch.cuda.get_device_name(device)}: {count} samples in "
              f"{seconds:.4f} s, {per * 1e6:.1f} us per sample, "
              f"{quimb_per_sample / per:.0f}x quimb (1 CPU thread)")

if __name__ == "__main__":
    main()
