"""Data-parallel training on torch.distributed: two gloo processes on 127.0.0.1
(`tnborn.launch.run_local`, which ends by itself), against one process on the
concatenated data (float64, the same seeds).

One launch runs every distributed case (process start-up dominates): MPS and TTN
full-batch sweeps with test and validation shards, a minibatch MPS run, MADE maximum
likelihood, variational steps of a MADE on the 4x4 Ising model (checked against one
process that draws both ranks' samples itself), sampling, the importance-sampled free
energy, neural MCMC and the sampled mutual information split over the ranks, and the bad
inputs that must fail on every rank instead of hanging. The CLI's ``tnborn train --nproc
2`` runs its own launch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tnborn import MADE, load
from tnborn.datasets import bars_and_stripes
from tnborn.cli import main
from tnborn.compare import compare
from tnborn.diagnostics import mutual_information, mutual_information_profile
from tnborn.distributed import distributed_sample, rank_rows, rank_stream
from tnborn.enumeration import all_configurations, configuration_codes
from tnborn.launch import run_local
from tnborn.physics import Ising2D, free_energy, ising2d_log_z, neural_mcmc, train_variational
from tnborn.physics.validation import resolve_target
from tnborn.presets import make_model
from tnborn.workflows import ising_run

from .helpers import run_torchrun

SWEEPS = 3
VAN = {"steps": 4, "batch_size": 64, "lr": 1e-2, "beta": 0.44}
MI = {"cuts": [4, 8], "num": 301, "inner": 16}
COMPARE = {"models": ["mps", "independent", "made"], "budget": 2, "image_shape": (4, 4),
           "max_bond": 6, "mi_samples": 40, "mi_inner": 4, "mi_max_inner": 4,
           "timing_samples": 10, "progress": False}


def split_data():
    """(train, test, val): 80, 20 and 10 rows of 16 sites; test and val rows are training
    rows, so that their ln p stay far above rounding (fitted models drive unseen rows
    below e^-100, where ln p is rounding noise)."""
    bas = bars_and_stripes(4, 4)
    noise = (torch.rand(20, 16, generator=torch.Generator().manual_seed(0)) < 0.4).long()
    train = torch.cat([bas, bas, noise])
    held = train[torch.randperm(80, generator=torch.Generator().manual_seed(1))[:30]]
    return train, held[:20], held[20:]


def born(family: str, **sizes):
    return make_model(family, 16, image_shape=(4, 4), max_bond=sizes.get("max_bond", 6),
                      seed=sizes.get("seed", 0))


def shard(x: torch.Tensor) -> torch.Tensor:
    import torch.distributed as dist

    return rank_rows(x, dist.get_rank(), dist.get_world_size())


def fitted(model, train, test, val, **options):
    history = model.fit(train, sweeps=SWEEPS, test_data=test, val_data=val, progress=False,
                        **options)
    with torch.no_grad():
        log_p = model.log_prob(all_configurations(16, 2))
    return {"tensors": [t.detach().clone() for t in model._plain_tensors()],
            "center": model.center, "history": history, "log_p": log_p}


def made_fit(train, test, val, **options):
    model = MADE(16, hidden=16, seed=0)
    history = model.fit(train, epochs=3, lr=0.01, batch_size=1000, test_data=test,
                        val_data=val, progress=False, **options)
    return {"parameters": [p.detach().clone() for p in model.parameters()],
            "history": history}


def van_steps(**options):
    model = MADE(16, hidden=16, seed=0)
    history = train_variational(model, Ising2D(4), VAN["beta"], steps=VAN["steps"],
                                batch_size=VAN["batch_size"], lr=VAN["lr"], progress=False,
                                generator=torch.Generator().manual_seed(7), **options)
    return {"parameters": [p.detach().clone() for p in model.parameters()],
            "history": history}


def split_cases(rank, train, test, val) -> dict:
    """Rank 1's SVD returns the same factorization with flipped signs: every rank's own
    split no longer agrees (a RuntimeError on every rank after the sweep), and
    ``broadcast_split=True`` (rank 0's split) trains as one process does."""
    import tnborn.sweeps as sweeps

    original = sweeps.truncated_factors

    def flipped(matrix, *args):
        left, right, s = original(matrix, *args)
        return -left, -right, s

    if rank == 1:
        sweeps.truncated_factors = flipped
    out = {}
    try:
        try:
            born("mps").fit(shard(train), sweeps=1, distributed=True, progress=False)
        except RuntimeError as exc:
            out["error"] = str(exc)
        out["broadcast"] = fitted(born("mps"), shard(train), shard(test), shard(val),
                                  distributed=True, broadcast_split=True)
    finally:
        sweeps.truncated_factors = original
    return out


def error_of(call) -> str | None:
    try:
        call()
    except ValueError as exc:
        return str(exc)
    return None


def distributed_cases(folder: str) -> dict:
    """Run on every rank: the fits on this rank's shards and the bad inputs; checkpoints
    go to ``folder`` (rank 0 writes, every rank resumes)."""
    import torch.distributed as dist

    rank = dist.get_rank()
    train, test, val = split_data()
    checkpoint = f"{folder}/minibatch.pt"
    born("mps").fit(shard(train), sweeps=2, batch_size=10, distributed=True,
                    checkpoint=checkpoint, progress=False)
    resumed = born("mps")
    resumed.fit(shard(train), sweeps=SWEEPS, batch_size=10, distributed=True,
                resume=checkpoint, progress=False)
    out = {family: fitted(born(family), shard(train), shard(test), shard(val),
                          distributed=True) for family in ("mps", "ttn")}
    out["minibatch"] = fitted(born("mps"), shard(train), shard(test), shard(val),
                              distributed=True, batch_size=10)
    straight = born("mps")
    straight.fit(shard(train), sweeps=SWEEPS, batch_size=10, distributed=True,
                 progress=False)
    out["resumed"] = [t.clone() for t in resumed._plain_tensors()]
    out["straight"] = [t.clone() for t in straight._plain_tensors()]
    out["split"] = split_cases(rank, train, test, val)
    out["made"] = made_fit(shard(train), shard(test), shard(val), distributed=True)
    out["van"] = van_steps(distributed=True)
    made = MADE(16, hidden=16, seed=0)
    out["samples"] = distributed_sample(made, 11, generator=torch.Generator().manual_seed(3))
    out["free_energy"] = free_energy(made, Ising2D(4), 0.44, num=4000, batch_size=500,
                                     generator=torch.Generator().manual_seed(4),
                                     distributed=True)
    out["ising"] = ising_run("made", L=4, steps=20, batch_size=64, samples=256,
                             progress=False, distributed=True)
    out["mcmc"] = neural_mcmc(made, Ising2D(4), 0.44, steps=40, chains=7, burn_in=5,
                              generator=torch.Generator().manual_seed(5), distributed=True)
    out["mi"] = mutual_information_profile(made, **MI, generator=torch.Generator().manual_seed(6),
                                           distributed=True)
    out["mi_born"] = mutual_information(born("mps"), 8, num=MI["num"], distributed=True,
                                        generator=torch.Generator().manual_seed(8))
    out["compare"] = compare(train, test, val_data=val, out=f"{folder}/compare",
                             distributed=True, **COMPARE)
    out["compare_rbm"] = error_of(lambda: compare(train, test, ["rbm"], budget=1,
                                                  val_data=val, progress=False,
                                                  mi_samples=None, distributed=True))
    out["errors"] = {
        "max_bond": error_of(lambda: born("mps", max_bond=4 + rank).fit(
            shard(train), sweeps=1, distributed=True, progress=False)),
        "seed": error_of(lambda: born("ttn", seed=rank).fit(
            shard(train), sweeps=1, distributed=True, progress=False)),
        "empty": error_of(lambda: born("mps").fit(
            shard(train)[:0] if rank == 1 else shard(train), sweeps=1, distributed=True,
            progress=False)),
        "gradient": error_of(lambda: born("mps").fit(
            shard(train), method="gradient", sweeps=1, distributed=True, progress=False)),
        "batch": error_of(lambda: train_variational(
            MADE(16, hidden=8, seed=0), Ising2D(4), 0.44, steps=1, batch_size=63,
            progress=False, distributed=True)),
        "made_seed": error_of(lambda: MADE(16, hidden=8, seed=rank).fit(
            shard(train), epochs=1, distributed=True, progress=False)),
        "mi_num": error_of(lambda: mutual_information(made, 8, num=301 + rank, inner=4,
                                                     distributed=True)),
    }
    return out


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    return run_local(distributed_cases, 2, str(tmp_path_factory.mktemp("ranks")),
                     timeout=240)


def assert_same_distribution(log_p, reference, train):
    """The same p on all 2^16 configurations (to 1e-12) and ln p on the training rows (to
    1e-10). The tensors themselves may differ: the fitted patterns leave degenerate
    Schmidt values, within which the splits of two runs may rotate (sign flips seen)."""
    torch.testing.assert_close(log_p.exp(), reference.exp(), rtol=0, atol=1e-12)
    rows = configuration_codes(train, 2)
    torch.testing.assert_close(log_p[rows], reference[rows], rtol=0, atol=1e-10)


def assert_same_tensors(a, b, atol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape
        assert float((x - y).abs().max()) <= atol


@pytest.mark.parametrize("family", ["mps", "ttn"])
def test_full_batch_sweeps_on_two_ranks_equal_one_process(ranks, family):
    train, test, val = split_data()
    single = fitted(born(family), train, test, val)
    for rank in ranks:
        assert_same_distribution(rank[family]["log_p"], single["log_p"], train)
        assert rank[family]["center"] == single["center"]
        for mine, theirs in zip(rank[family]["history"], single["history"]):
            for key in ("train_nll", "test_nll", "val_nll"):
                assert mine[key] == pytest.approx(theirs[key], abs=1e-10, rel=0), key
    # every rank holds bitwise the same tensors
    assert_same_tensors(ranks[0][family]["tensors"], ranks[1][family]["tensors"], 0.0)


def test_ranks_whose_splits_disagree_stop_or_share_rank_0s(ranks):
    train, test, val = split_data()
    single = fitted(born("mps"), train, test, val)
    for rank in ranks:
        assert "ranks' tensors differ" in rank["split"]["error"]
        assert_same_distribution(rank["split"]["broadcast"]["log_p"], single["log_p"], train)


def test_a_resumed_minibatch_run_ends_where_the_uninterrupted_one_does(ranks):
    for rank in ranks:
        assert_same_tensors(rank["resumed"], rank["straight"], 0.0)


def test_minibatch_sweeps_keep_the_ranks_identical(ranks):
    first, second = (rank["minibatch"] for rank in ranks)
    assert_same_tensors(first["tensors"], second["tensors"], 0.0)
    assert [r["train_nll"] for r in first["history"]] == \
        [r["train_nll"] for r in second["history"]]
    assert first["history"][-1]["train_nll"] < first["history"][0]["train_nll"]


@pytest.mark.parametrize("case, words", [("max_bond", "max_bond"), ("seed", "seed"),
                                         ("empty", "rank 1: data is empty"),
                                         ("gradient", "method='sweep'"),
                                         ("batch", "multiple of the 2 ranks"),
                                         ("made_seed", "seed"),
                                         ("mi_num", "model's num: rank 0: 301, rank 1: 302")])
def test_bad_distributed_input_fails_on_every_rank(ranks, case, words):
    for rank in ranks:
        assert rank["errors"][case] is not None and words in rank["errors"][case]


def test_made_maximum_likelihood_on_two_ranks_equals_one_process(ranks):
    train, test, val = split_data()
    single = made_fit(train, test, val)
    for rank in ranks:
        assert_same_tensors(rank["made"]["parameters"], single["parameters"], 1e-10)
        for mine, theirs in zip(rank["made"]["history"], single["history"]):
            for key in ("train_nll", "test_nll", "val_nll"):
                assert mine[key] == pytest.approx(theirs[key], abs=1e-10, rel=0), key


def test_variational_steps_on_two_ranks_follow_the_whole_batch(ranks):
    """One process draws rank 0's half of each step's batch from the generator and rank
    1's from rank_stream(generator, step, 1), takes the REINFORCE step on all 64 samples
    (baseline over all, clipped, Adam), and ends where both ranks do."""
    model = MADE(16, hidden=16, seed=0)
    beta, energy_of = resolve_target(model, Ising2D(4), VAN["beta"])
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(parameters, lr=VAN["lr"])
    generator = torch.Generator().manual_seed(7)
    half = VAN["batch_size"] // 2
    for step in range(1, VAN["steps"] + 1):
        draws = [model.sample_and_log_prob(half, generator=rank_stream(generator, step, r))
                 for r in range(2)]
        log_q = torch.cat([q for _, q in draws])
        with torch.no_grad():
            local = energy_of(torch.cat([x for x, _ in draws])).to(log_q.dtype) + log_q / beta
        loss = ((local - local.mean()) * log_q).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
    for rank in ranks:
        assert_same_tensors(rank["van"]["parameters"], [p.detach() for p in model.parameters()],
                            1e-12)
    assert ranks[0]["van"]["history"][-1]["free_energy"] == \
        ranks[1]["van"]["history"][-1]["free_energy"]


def test_sampling_and_estimators_split_over_the_ranks(ranks):
    """Rank 0 draws its share from the generator, rank 1 from its own stream; every rank
    returns all of them; the estimators agree on every rank and with the exact F."""
    made = MADE(16, hidden=16, seed=0)
    generator = torch.Generator().manual_seed(3)
    first = made.sample(6, generator=rank_stream(generator, 0, 0))
    second = made.sample(5, generator=rank_stream(generator, 0, 1))
    for rank in ranks:
        assert torch.equal(rank["samples"], torch.cat([first, second]))
    estimates = [rank["free_energy"] for rank in ranks]
    assert estimates[0]["F_importance"] == estimates[1]["F_importance"]
    assert estimates[0]["num"] == 4000
    exact = -ising2d_log_z(4, 0.44) / 0.44
    assert abs(estimates[0]["F_importance"] - exact) < 5 * estimates[0]["F_importance_err"]
    runs = [rank["ising"] for rank in ranks]  # the `tnborn ising --nproc` workflow
    assert runs[0]["F_importance"] == runs[1]["F_importance"]
    # the variational F bounds the exact one from above (within its error)
    assert runs[0]["error_variational"] > -5 * runs[0]["F_variational_err"]
    chains = [rank["mcmc"] for rank in ranks]
    assert chains[0]["chains"] == 7 and chains[0]["energy"] == chains[1]["energy"]
    assert chains[0]["acceptance"] == chains[1]["acceptance"] > 0


def pooled(parts) -> tuple[float, float]:
    """Mean and standard error of the union of samples given as (mean, stderr, count)
    per part (from the parts' sums of squares: an independent route to the same
    numbers)."""
    total = sum(n for _, _, n in parts)
    mean = sum(m * n for m, _, n in parts) / total
    squares = sum((n - 1) * (e * e * n) + n * (m - mean) ** 2 for m, e, n in parts)
    return mean, (squares / (total - 1) / total) ** 0.5


def test_sampled_mutual_information_splits_over_the_ranks(ranks):
    """Each rank estimates on its share (rank 0 from the generator, rank 1 from its own
    stream) and both return the estimate over all 301 samples: the pooled mean and
    error of the two shares run in one process, to rounding; the inner ESS is the
    median over both shares' rows."""
    made = MADE(16, hidden=16, seed=0)
    generator = torch.Generator().manual_seed(6)
    shares = [mutual_information_profile(made, cuts=MI["cuts"], num=n, inner=MI["inner"],
                                         generator=rank_stream(generator, 0, r))
              for r, n in enumerate((151, 150))]
    first, second = (rank["mi"] for rank in ranks)
    assert first == second
    for k in range(len(MI["cuts"])):
        mean, error = pooled([(s["mi"][k], s["stderr"][k], n)
                              for s, n in zip(shares, (151, 150))])
        assert abs(first["mi"][k] - mean) < 1e-12 and abs(first["stderr"][k] - error) < 1e-12
        low, high = sorted(s["inner_ess"][k] for s in shares)
        assert low <= first["inner_ess"][k] <= high
    mps = born("mps")
    generator = torch.Generator().manual_seed(8)
    parts = [mutual_information(mps, 8, num=n, generator=rank_stream(generator, 0, r))
             for r, n in enumerate((151, 150))]
    mean, error = pooled([(p.value, p.stderr, n) for p, n in zip(parts, (151, 150))])
    for rank in ranks:
        estimate = rank["mi_born"]
        assert estimate.num == 301 and estimate.diagnostics["inner_ess"] is None
        assert abs(estimate.value - mean) < 1e-12 and abs(estimate.stderr - error) < 1e-12


def untimed(value):
    """``value`` (nested dicts and lists) without the entries that measure time."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items()
                if "seconds" not in k and "time" not in k}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def test_compare_trains_each_model_on_the_ranks(ranks):
    """`compare` on 2 ranks: the MPS sweeps end where one process ends on all the rows
    (full batch), the closed-form baseline is fitted on all rows alike, MADE trains on
    the global minibatch of both shards; every score agrees on the two ranks, rank 0
    alone writes the report, and a model without a data-parallel fit fails on both."""
    train, test, val = split_data()
    alone = compare(train, test, val_data=val, **COMPARE)
    first, second = (rank["compare"] for rank in ranks)
    assert "files" in first and "files" not in second
    for key in ("rows", "baseline", "floor"):
        assert untimed(first[key]) == untimed(second[key])
    assert first["ranks"] == 2 and alone["ranks"] == 1
    rows = {row["model"]: row for row in first["rows"]}
    single = {row["model"]: row for row in alone["rows"]}
    for key in ("test_nll_mean", "val_nll_mean"):
        assert abs(rows["mps"][key] - single["mps"][key]) < 1e-9
        assert rows["independent"][key] == single["independent"][key]
    assert rows["made"]["test_nll_mean"] < first["baseline"]["test_nll"]
    assert rows["mps"]["mutual_information"]["cuts"] == \
        single["mps"]["mutual_information"]["cuts"]
    for rank in ranks:
        assert "RBM does not train data-parallel" in rank["compare_rbm"]


def test_cli_train_on_two_local_processes(tmp_path, capsys):
    """`tnborn train --nproc 2` and the same command under `torchrun --nproc-per-node 2`
    end where one process does (the shards of the 30 bars-and-stripes patterns against
    all of them); the summary reports the NLL of all."""
    import json
    import os

    command = ["train", "--model", "mps", "--data", "bas", "--budget", "3", "--no-progress"]
    for name, extra in (("one", []), ("two", ["--nproc", "2"])):
        main([*command, "--out", str(tmp_path / name), *extra])
    launched = run_torchrun(2, [*command, "--out", str(tmp_path / "torchrun")], timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert launched.returncode == 0, launched.stderr[-2000:]
    assert launched.stdout.count("trained mps") == 1  # rank 0 alone reports
    names = ("one", "two", "torchrun")
    one, *ranked = (json.loads((tmp_path / name / "history.json").read_text())
                    for name in names)
    assert [run["ranks"] for run in (one, *ranked)] == [1, 2, 2]
    for run in ranked:
        assert run["train_nll"] == pytest.approx(one["train_nll"], abs=1e-10, rel=0)
        assert run["test_nll"] == pytest.approx(one["test_nll"], abs=1e-10, rel=0)
    # the runs fit the 30 patterns to the optimum p = 1/30 (NLL ln 30), where the NLL is
    # flat to second order: its agreement to 1e-10 pins p only to ~1e-5 (2e-7 seen)
    models = [load(tmp_path / name / "model.pt") for name in names]
    with torch.no_grad():
        p = [model.log_prob(all_configurations(16, 2)).exp() for model in models]
    for other in p[1:]:
        torch.testing.assert_close(other, p[0], rtol=0, atol=1e-6)
    assert float(p[0][configuration_codes(bars_and_stripes(4, 4), 2)].sum()) > 1 - 1e-4
    assert "trained mps" in capsys.readouterr().out


def test_cli_compare_on_two_local_processes(tmp_path, capsys):
    """`tnborn compare --nproc 2` prints the table once (rank 0) and writes the report
    with the number of ranks in it."""
    import json

    main(["compare", "--data", "bas", "--models", "mps,independent", "--budget", "2",
          "--mi-samples", "0", "--no-progress", "--nproc", "2", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert printed.count("data: ") == 1 and "| mps" in printed
    assert json.loads((tmp_path / "results.json").read_text())["ranks"] == 2


def test_distributed_fit_needs_a_process_group():
    with pytest.raises(ValueError, match="initialized process group"):
        born("mps").fit(split_data()[0], sweeps=1, distributed=True, progress=False)
    with pytest.raises(TypeError, match="distributed"):
        born("mps").fit(split_data()[0], sweeps=1, distributed="yes", progress=False)


@pytest.mark.parametrize("kind", ["npy", "idx"])
def test_a_rank_reads_only_its_rows_of_a_data_file(tmp_path, kind):
    """Memory-mapped shards of a .npy / raw IDX file: together they are the rows one
    process reads (the same held-out test rows), and each is every second row of the
    seeded order."""
    import numpy as np

    from tnborn.presets import load_user_data

    images = (np.random.default_rng(0).random((40, 4, 4)) < 0.5).astype(np.uint8)
    path = tmp_path / f"data.{kind}"
    if kind == "npy":
        np.save(path, images)
    else:
        header = bytes([0, 0, 0x08, 3]) + b"".join(int(s).to_bytes(4, "big")
                                                   for s in images.shape)
        path.write_bytes(header + images.tobytes())
    whole = load_user_data(path, threshold=0, seed=3)
    shards = [load_user_data(path, threshold=0, seed=3, shard=(r, 2)) for r in range(2)]
    for split in ("train", "test"):
        mine = torch.cat([getattr(s, split) for s in shards])
        ours = getattr(whole, split)
        assert sorted(map(tuple, mine.tolist())) == sorted(map(tuple, ours.tolist()))
    assert len(shards[0].train) == 18 and shards[0].image_shape == (4, 4)
    with pytest.raises(ValueError, match="0 <= rank < ranks"):
        load_user_data(path, shard=(2, 2))


@pytest.mark.slow
def test_van_on_two_ranks_reaches_the_one_process_tolerance(tmp_path):
    """The made-L4 recipe (3,000 steps, batch 1,000 split 500 + 500) on one and on two
    ranks: |F/N - exact| below 1e-4 on both (`benchmarks/distributed.py
    --van-accuracy`)."""
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "distributed.py"
    subprocess.run([sys.executable, str(script), "--van-accuracy", "--ranks", "2",
                    "--out", str(tmp_path)], check=True, timeout=3600)
    result = json.loads((tmp_path / "van_accuracy.json").read_text())
    for count in ("1", "2"):
        assert abs(result[count]["variational_error"]) < 1e-4, count
