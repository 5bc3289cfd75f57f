"""The same models on a CUDA GPU: exact normalization, exact sampling, learning, saving,
diagnostics, each against enumeration or against the same model on the CPU.

Skipped where torch sees no CUDA device (the CPU suite covers everything else).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

import tnborn
from tnborn import HAN, MADE, CurieWeissARNN, MPSBornMachine, PixelCNN, TTNBornMachine
from tnborn.datasets import bars_and_stripes
from tnborn.diagnostics import entanglement_entropy, mutual_information
from tnborn.physics import CurieWeiss, curie_weiss_log_z, free_energy, train_variational

from .helpers import all_configurations, chi_square_pvalue, codes, run_torchrun

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

CUDA = torch.device("cuda")


def cuda_generator(seed: int) -> torch.Generator:
    return torch.Generator(device=CUDA).manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("d", [2, 3])
def test_mps_normalized_on_gpu_and_equal_to_cpu(dtype, d):
    n = 9 if d == 2 else 7
    cpu = MPSBornMachine(n, d, init_bond=5, max_bond=5, dtype=dtype, seed=3)
    gpu = MPSBornMachine(n, d, init_bond=5, max_bond=5, dtype=dtype, seed=3, device=CUDA)
    configs = all_configurations(n, d)
    log_p = gpu.log_prob(configs.to(CUDA)).detach()
    assert log_p.device.type == "cuda"
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    np.testing.assert_allclose(log_p.cpu().numpy(), cpu.log_prob(configs).detach().numpy(),
                               rtol=0, atol=1e-12)


def test_mps_fit_on_gpu_learns_bars_and_stripes():
    data = bars_and_stripes(4, 4).to(CUDA)
    model = MPSBornMachine(16, max_bond=16, seed=0, device=CUDA)
    history = model.fit(data, sweeps=10, progress=False)
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3
    samples = model.sample(2000, generator=cuda_generator(0))
    assert samples.device.type == "cuda"
    patterns = {tuple(row) for row in data.cpu().tolist()}
    assert all(tuple(row) in patterns for row in samples.cpu().tolist())


@pytest.mark.parametrize("make", [
    lambda: MPSBornMachine(16, max_bond=16, seed=0, dtype=torch.float32, device=CUDA),
    lambda: TTNBornMachine(16, layout=(4, 4), max_bond=16, seed=0, dtype=torch.float32,
                           device=CUDA),
], ids=["mps", "ttn"])
def test_float32_on_gpu_learns_bars_and_stripes(make):
    """float32 (allowed on the GPU): normalized to 1e-5 and the 30 patterns learned."""
    model = make()
    data = bars_and_stripes(4, 4).to(CUDA)
    history = model.fit(data, sweeps=10, progress=False)
    assert history[-1]["train_nll"] <= math.log(30) + 1e-3
    log_p = model.log_prob(all_configurations(16, 2).to(CUDA)).detach()
    assert log_p.dtype == torch.float32
    assert abs(float(torch.logsumexp(log_p.double(), 0))) < 1e-5


def test_mps_sampling_on_gpu_is_exact_and_reproducible():
    n, d = 10, 2
    model = MPSBornMachine(n, d, init_bond=4, max_bond=4, seed=5, device=CUDA)
    probs = model.log_prob(all_configurations(n, d).to(CUDA)).detach().exp().cpu().numpy()
    samples = model.sample(200_000, generator=cuda_generator(1)).cpu()
    assert chi_square_pvalue(np.bincount(codes(samples, d).numpy(), minlength=d ** n),
                             probs) > 1e-3
    first = model.sample(1000, generator=cuda_generator(7))
    assert torch.equal(model.sample(1000, generator=cuda_generator(7)), first)
    assert not torch.equal(model.sample(1000, generator=cuda_generator(8)), first)


def test_mps_conditional_sample_on_gpu_is_exact():
    n, d = 8, 2
    model = MPSBornMachine(n, d, init_bond=4, max_bond=4, seed=6, device=CUDA)
    configs = all_configurations(n, d)
    p = model.log_prob(configs.to(CUDA)).detach().exp().cpu()
    known = torch.tensor([0, 1, 0, 0, 1, 0, 0, 1], dtype=torch.bool)
    given = torch.tensor([0, 1, 0, 0, 0, 0, 0, 1])
    x = given.repeat(100_000, 1).to(CUDA)
    samples = model.conditional_sample(x, known.to(CUDA), generator=cuda_generator(2)).cpu()
    match = (configs[:, known] == given[known]).all(1)
    counts = np.bincount(codes(samples, d).numpy(), minlength=d ** n)
    assert counts[~match.numpy()].sum() == 0
    assert chi_square_pvalue(counts[match.numpy()], p[match].numpy()) > 1e-3


def test_mps_training_on_gpu_follows_the_cpu():
    data = bars_and_stripes(3, 3)
    cpu = MPSBornMachine(9, max_bond=6, seed=1)
    gpu = MPSBornMachine(9, max_bond=6, seed=1, device=CUDA)
    a = cpu.fit(data, sweeps=2, progress=False)
    b = gpu.fit(data.to(CUDA), sweeps=2, progress=False)
    for ra, rb in zip(a, b):
        assert abs(ra["train_nll"] - rb["train_nll"]) < 1e-8
    assert torch.allclose(gpu.entanglement_entropy().cpu(), cpu.entanglement_entropy(),
                          atol=1e-8)


def test_ttn_on_gpu_normalized_sampled_and_trained():
    n = 9
    tree = TTNBornMachine(n, init_bond=3, max_bond=6, seed=2, device=CUDA)
    configs = all_configurations(n, 2)
    log_p = tree.log_prob(configs.to(CUDA)).detach()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    samples = tree.sample(100_000, generator=cuda_generator(3)).cpu()
    assert chi_square_pvalue(np.bincount(codes(samples, 2).numpy(), minlength=2 ** n),
                             log_p.exp().cpu().numpy()) > 1e-3
    data = bars_and_stripes(3, 3)
    cpu = TTNBornMachine(9, layout=(3, 3), max_bond=8, seed=4)
    gpu = TTNBornMachine(9, layout=(3, 3), max_bond=8, seed=4, device=CUDA)
    a = cpu.fit(data, sweeps=3, progress=False)
    b = gpu.fit(data.to(CUDA), sweeps=3, progress=False)
    assert abs(a[-1]["train_nll"] - b[-1]["train_nll"]) < 1e-8


@pytest.mark.parametrize("make", [
    lambda: MADE(8, 3, hidden=16, seed=0, device=CUDA),
    lambda: PixelCNN((2, 4), 2, channels=8, seed=0, device=CUDA),
    lambda: HAN(4, hidden=8, seed=0, device=CUDA),
], ids=["made", "pixelcnn", "han"])
def test_autoregressive_nets_on_gpu_normalized_and_sampled(make):
    model = make()
    n, d = model.n_sites, model.local_dim
    with torch.no_grad():
        log_p = torch.cat([model.log_prob(chunk.to(CUDA))
                           for chunk in all_configurations(n, d).split(8192)])
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    samples = model.sample(64, generator=cuda_generator(4))
    assert samples.device.type == "cuda" and samples.shape == (64, n)
    history = model.fit(samples, epochs=2, batch_size=32, progress=False)
    assert all(math.isfinite(h["train_nll"]) for h in history)


def test_variational_training_on_gpu_reaches_curie_weiss_free_energy():
    """The exact Curie-Weiss ARNN starts at the Boltzmann distribution; training on the
    GPU keeps it there and the importance-sampled F matches the exact one."""
    n, beta = 16, 0.8
    model = CurieWeissARNN(n, beta=beta, device=CUDA)
    hamiltonian = CurieWeiss(n)
    train_variational(model, hamiltonian, beta, steps=5, batch_size=500, progress=False,
                      generator=cuda_generator(5))
    result = free_energy(model, hamiltonian, beta, num=20_000, generator=cuda_generator(6))
    exact = -curie_weiss_log_z(n, beta, J=1.0, h=0.0) / beta
    assert abs(result["F_importance"] - exact) < 5 * result["F_importance_err"] + 1e-9


def test_saved_on_gpu_loads_on_cpu(tmp_path):
    model = MPSBornMachine(12, init_bond=6, seed=7, device=CUDA)
    path = tmp_path / "mps.pt"
    model.save(path)
    back = tnborn.load(path)
    assert back.device.type == "cpu"
    x = torch.randint(0, 2, (50, 12), generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(back.log_prob(x).detach().numpy(),
                               model.log_prob(x.to(CUDA)).detach().cpu().numpy(),
                               rtol=0, atol=1e-12)
    on_gpu = tnborn.load(path, device="cuda")
    assert on_gpu.device.type == "cuda"


@pytest.mark.parametrize("make", [
    lambda: MPSBornMachine(9, init_bond=4, max_bond=4, seed=9),
    lambda: TTNBornMachine(9, layout=(3, 3), init_bond=3, max_bond=3, seed=9),
], ids=["mps", "ttn"])
def test_module_to_gpu_and_gradient_fit_follow_the_cpu(make):
    """A CPU model moved with .to(CUDA) (the tensors are registered parameters) gives the
    same probabilities; Adam on the GPU (fit(method="gradient")) follows the CPU; its
    state_dict loads back into a CPU model."""
    data = bars_and_stripes(3, 3)
    configs = all_configurations(9, 2)
    cpu = make()
    gpu = copy.deepcopy(cpu).to(CUDA)
    assert gpu.device.type == "cuda" and all(p.is_cuda for p in gpu.parameters())
    np.testing.assert_allclose(gpu.log_prob(configs.to(CUDA)).detach().cpu().numpy(),
                               cpu.log_prob(configs).detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    a = cpu.fit(data, method="gradient", sweeps=5, progress=False)
    b = gpu.fit(data.to(CUDA), method="gradient", sweeps=5, progress=False)
    for ra, rb in zip(a, b):
        assert abs(ra["train_nll"] - rb["train_nll"]) < 1e-8
    assert gpu.bond_dims == cpu.bond_dims
    log_p = gpu.log_prob(configs.to(CUDA)).detach()
    assert abs(float(torch.logsumexp(log_p, 0))) < 1e-10
    back = make()
    back.load_state_dict(gpu.state_dict())
    assert back.device.type == "cpu" and back.center == gpu.center
    np.testing.assert_allclose(back.log_prob(configs).detach().numpy(), log_p.cpu().numpy(),
                               rtol=1e-12, atol=1e-12)


def test_diagnostics_on_gpu_equal_cpu():
    cpu = MPSBornMachine(10, init_bond=4, max_bond=4, seed=8)
    gpu = MPSBornMachine(10, init_bond=4, max_bond=4, seed=8, device=CUDA)
    assert torch.allclose(entanglement_entropy(gpu).cpu(), entanglement_entropy(cpu),
                          atol=1e-12)
    on_gpu, on_cpu = mutual_information(gpu, 5), mutual_information(cpu, 5)
    assert on_gpu.method == on_cpu.method == "exact"
    assert abs(float(on_gpu) - float(on_cpu)) < 1e-12


def gpu_runs(**options) -> dict:
    """MPS and TTN sweeps, MADE maximum likelihood and variational steps of a MADE on the
    Curie-Weiss model, all on the GPU; ``options`` go to every fit (``distributed=True``
    inside a process group, which adds an MPS run with rank 0's split broadcast,
    ``"mps_broadcast"``, to be compared with the plain ``"mps"``)."""
    data = bars_and_stripes(4, 4).to(CUDA)
    out = {}
    cases = [("mps", lambda: MPSBornMachine(16, max_bond=6, seed=0, device=CUDA), {}),
             ("ttn", lambda: TTNBornMachine(16, layout=(4, 4), max_bond=6, seed=0,
                                            device=CUDA), {})]
    if options:
        cases.append(("mps_broadcast", cases[0][1], {"broadcast_split": True}))
    for name, make, extra in cases:
        model = make()
        history = model.fit(data, sweeps=3, progress=False, **options, **extra)
        out[name] = ([p.detach().cpu() for p in model.parameters()],
                     [r["train_nll"] for r in history])
    made = MADE(16, hidden=16, seed=0, device=CUDA)
    history = made.fit(data, epochs=3, lr=0.01, batch_size=1000, progress=False, **options)
    out["made"] = ([p.detach().cpu() for p in made.parameters()],
                   [r["train_nll"] for r in history])
    van = MADE(16, hidden=16, seed=0, device=CUDA)
    history = train_variational(van, CurieWeiss(16), 0.8, steps=4, batch_size=64, lr=1e-2,
                                progress=False, generator=cuda_generator(7), **options)
    out["van"] = ([p.detach().cpu() for p in van.parameters()],
                  [r["free_energy"] for r in history])
    return out


def one_nccl_rank() -> dict:
    """:func:`gpu_runs` data-parallel on a group of one NCCL rank (run_local's)."""
    return gpu_runs(distributed=True)


def test_one_nccl_rank_trains_as_one_process():
    """The data-parallel code path on NCCL (the launch path of torchrun on one GPU):
    every collective runs on the GPU, and the fits end where the plain ones do."""
    from tnborn.launch import run_local

    ranked, = run_local(one_nccl_rank, 1, backend="nccl", timeout=240)
    plain = gpu_runs()
    assert ranked.keys() == {*plain, "mps_broadcast"}
    for name, (theirs, their_records) in ranked.items():
        tensors, records = plain[name.removesuffix("_broadcast")]
        assert len(theirs) == len(tensors), name
        for a, b in zip(theirs, tensors):
            assert a.shape == b.shape and float((a - b).abs().max()) <= 1e-10, name
        np.testing.assert_allclose(their_records, records, rtol=0, atol=1e-10)


def test_torchrun_on_one_gpu_trains_as_one_process(tmp_path):
    """`torchrun --nproc-per-node 1 -m tnborn train --device cuda`: an NCCL group of one,
    the same NLLs as the plain command."""
    import json

    from tnborn.cli import main

    command = ["train", "--model", "mps", "--data", "bas", "--budget", "3", "--no-progress",
               "--device", "cuda"]
    main([*command, "--out", str(tmp_path / "plain")])
    launched = run_torchrun(1, [*command, "--out", str(tmp_path / "torchrun")], timeout=240)
    assert launched.returncode == 0, launched.stderr[-3000:]
    plain, ranked = (json.loads((tmp_path / name / "history.json").read_text())
                     for name in ("plain", "torchrun"))
    assert ranked["device"] == "cuda:0" and ranked["ranks"] == 1
    for key in ("train_nll", "test_nll"):
        assert ranked[key] == pytest.approx(plain[key], abs=1e-10, rel=0), key
