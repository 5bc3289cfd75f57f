"""The comparison-study runner: model selection on validation data, seeds and error
bars, exact references, baselines, size sweeps, the report; training budgets and the
named presets (tiny sizes)."""

from __future__ import annotations

import itertools
import json
import math
import statistics

import numpy as np
import pytest
import torch

from tnborn import MADE, RBM, MPSBornMachine, load
from tnborn.compare import compare, default_cuts
from tnborn.datasets import bars_and_stripes
from tnborn.presets import load_data, make_model
from tnborn.report import _pareto_series, markdown_table, mutual_information_table
from tnborn.training import Budget, parse_budget, train_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = ["mps", "ttn", "made", "pixelcnn", "independent"]
QUIET = {"progress": False, "mi_samples": None, "timing_samples": 10}


def assert_png(path) -> None:
    data = open(path, "rb").read()
    assert len(data) > len(PNG_SIGNATURE) and data.startswith(PNG_SIGNATURE), path


@pytest.fixture(scope="module")
def bas():
    return bars_and_stripes(4, 4)


@pytest.fixture(scope="module")
def ising():
    return load_data("ising", images=300, test_images=200)


def ising_log_p(L: int, beta: float) -> np.ndarray:
    """ln p of every configuration of the periodic L x L Ising model (spins 2x - 1,
    lexicographic order, row-major sites) by enumeration with numpy: no tnborn code."""
    x = np.array(list(itertools.product((0, 1), repeat=L * L))).reshape(-1, L, L)
    s = 2 * x - 1
    energy = -(s * np.roll(s, 1, axis=1) + s * np.roll(s, 1, axis=2)).sum((1, 2))
    log_w = -beta * energy
    top = log_w.max()
    return log_w - (top + np.log(np.exp(log_w - top).sum()))


# ------------------------------------------------------------ model selection
def test_the_reported_test_nll_is_the_best_validation_states(tmp_path):
    """An MPS with bond 16 on 20 digits overfits after its first sweep (validation NLL
    33.9, 50.0, 71.1, ...): the table reports the first sweep's state, not the last."""
    data = load_data("digits", images=40, test_images=100)
    results = compare(data.train[:20], data.test, ["mps"], val_data=data.train[20:],
                      budget=4, image_shape=(8, 8), **QUIET)
    run = results["rows"][0]["per_seed"][0]
    history = run["history"]
    val = [h["val_nll"] for h in history]
    best = min(range(len(val)), key=val.__getitem__)
    assert best == 0 and val[-1] > val[0] + 20  # it did overfit
    assert run["best_step"] == history[best]["step"] == 1
    assert run["test_nll"] == pytest.approx(history[best]["test_nll"], abs=1e-9)
    assert run["val_nll"] == pytest.approx(val[best], abs=1e-9)
    assert history[-1]["test_nll"] > run["test_nll"] + 20
    assert results["rows"][0]["test_nll_mean"] == run["test_nll"]
    assert run["time_to_best"] == history[best]["cpu_seconds"]
    assert run["stopped_by"] == "budget"


def test_patience_stops_a_run_that_no_longer_improves():
    data = load_data("digits", images=40, test_images=50)
    results = compare(data.train[:20], data.test, ["mps"], val_data=data.train[20:],
                      budget=10, patience=2, image_shape=(8, 8), **QUIET)
    run = results["rows"][0]["per_seed"][0]
    assert run["stopped_by"] == "early_stop" and run["steps"] == 3 and run["best_step"] == 1
    assert results["rows"][0]["stopped_by"] == ["early_stop"]


def test_the_validation_split_is_seeded_and_disjoint():
    data = load_data("digits", images=200, test_images=20)
    results = compare(data.train, data.test, ["independent"], budget=1, val_fraction=0.25,
                      **QUIET)
    assert results["data"]["train_size"] == 150 and results["data"]["val_size"] == 50
    assert results["val_fraction"] == 0.25
    # the independent model fits the 150 kept rows: its train NLL is theirs, and the
    # 50 held out are scored as validation
    run = results["rows"][0]["per_seed"][0]
    order = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    model = make_model("independent", 64)
    model.fit(data.train[order[50:]])
    assert run["train_nll"] == pytest.approx(model.nll(data.train[order[50:]]), abs=1e-12)
    assert run["val_nll"] == pytest.approx(model.nll(data.train[order[:50]]), abs=1e-12)


# --------------------------------------------------------- seeds, error bars
def test_three_seeds_give_mean_and_std_of_the_per_seed_values(tmp_path, ising):
    results = compare(ising.train, ising.test, ["mps", "made"], budget=2, seeds=(0, 1, 2),
                      out=tmp_path, image_shape=(4, 4), reference=ising.reference, **QUIET)
    saved = json.loads((tmp_path / "results.json").read_text())
    table = (tmp_path / "results.md").read_text()
    assert [r["test_nll_std"] for r in saved["rows"]] == [r["test_nll_std"]
                                                          for r in results["rows"]]
    for row in saved["rows"]:
        assert row["n"] == 3 and [run["seed"] for run in row["per_seed"]] == [0, 1, 2]
        for key in ("test_nll", "val_nll", "kl_exact", "time_to_best", "inpainting_nll"):
            values = [run[key] for run in row["per_seed"]]
            assert row[f"{key}_mean"] == pytest.approx(statistics.mean(values), abs=1e-12)
            assert row[f"{key}_std"] == pytest.approx(statistics.stdev(values), abs=1e-12)
            assert row[f"{key}_std"] > 0, key  # the seeds differ
        cell = f"{row['test_nll_mean']:.3f} +- {row['test_nll_std']:.3f}"
        assert f"| {row['model']} | {row['params']:,} | 3 | {cell} |" in table
    assert_png(tmp_path / "nll.png") and assert_png(tmp_path / "pareto.png")


# ------------------------------------------------------- exact references
def test_exact_kl_on_ising_data_matches_an_independent_enumeration(ising):
    """Every preset family on 4x4 Ising data at beta 0.44: the reported KL(p || q) and
    floor against numpy sums over all 2^16 states."""
    trained = {}

    def factory(name):
        def build(seed):
            trained[name] = make_model(name, 16, image_shape=(4, 4), seed=seed)
            return trained[name]
        return name, build

    results = compare(ising.train, ising.test, [factory(name) for name in MODELS],
                      budget=1, image_shape=(4, 4), reference=ising.reference, **QUIET)
    log_p = ising_log_p(4, 0.44)
    p = np.exp(log_p)
    states = torch.tensor(list(itertools.product((0, 1), repeat=16)))
    for row in results["rows"]:
        with torch.no_grad():
            log_q = trained[row["model"]].log_prob(states).double().numpy()
        kl = float((p * (log_p - log_q)).sum())
        assert row["kl_exact_mean"] == pytest.approx(kl, abs=1e-10), row["model"]
        assert kl > 0.01  # one pass: no model is exact yet
    codes = (ising.test * 2 ** torch.arange(15, -1, -1)).sum(1).numpy()
    assert results["floor"]["test_nll"] == pytest.approx(-log_p[codes].mean(), abs=1e-10)
    assert results["baseline"]["kl_exact"] == pytest.approx(
        results["rows"][-1]["kl_exact_mean"], abs=1e-12)  # the same independent fit


def test_ising_data_at_another_beta(ising):
    data = load_data("ising", images=50, test_images=20, beta=0.3)
    assert data.name == "ising-beta0.3" and data.image_shape == (4, 4)
    assert np.allclose(data.reference.numpy(), ising_log_p(4, 0.3), atol=1e-12)
    with pytest.raises(ValueError, match="temperature of the ising data"):
        load_data("digits", beta=0.3)


# ----------------------------------------------------------------- baselines
def test_inpainting_scores_the_hidden_half_beside_the_baseline(bas):
    """The independent baseline fitted on the 30 bars-and-stripes patterns pays 8 ln 2 for
    the hidden lower half; a well-trained MPS pays what the uniform distribution over the
    patterns does (the ambiguity of each upper half, by counting)."""
    from tnborn.scores import inpainting_nll

    results = compare(bas, bas, ["independent"], budget=1, val_data=bas, image_shape=(4, 4),
                      **QUIET)
    base = results["baseline"]
    assert base["inpainting_nll"] == pytest.approx(8 * math.log(2), abs=1e-12)
    assert base["test_nll"] == pytest.approx(16 * math.log(2), abs=1e-12)
    assert results["rows"][0]["inpainting_nll_mean"] == pytest.approx(8 * math.log(2))
    # the uniform distribution over the 30 patterns: -ln p(lower | upper) by counting
    known = torch.zeros(16, dtype=torch.bool)
    known[:8] = True
    uppers = [tuple(x[:8].tolist()) for x in bas]
    expected = float(np.mean([math.log(uppers.count(u)) for u in uppers]))
    mps = MPSBornMachine(16, max_bond=16, seed=0)
    mps.fit(bas, sweeps=8)
    assert inpainting_nll(mps, bas, known) == pytest.approx(expected, abs=1e-3)
    line = [s for s in markdown_table(results).splitlines() if s.startswith("Baseline")][0]
    assert "test NLL 11.090" in line and "inpainting NLL 5.55" in line


def test_a_model_without_exact_ln_z_is_scored_after_ais():
    """An RBM with both layers over 24 units: its NLLs subtract an AIS estimate whose
    error the row and the table carry; its inpainting NLL and MI (no exact marginals) are
    left out, while the 16-hidden preset beside it keeps exact scores."""
    gen = torch.Generator().manual_seed(0)
    data = (torch.rand(120, 26, generator=gen) < 0.3).long()
    built = []

    def large(seed):
        built.append(RBM(26, 25, init_scale=0.05, seed=seed))
        return built[-1]

    results = compare(data[:80], data[80:], [("rbm-large", large), "rbm"], budget=2,
                      image_shape=(2, 13), progress=False, mi_samples=50, timing_samples=10,
                      ais_chains=20, ais_steps=100)
    big, small = results["rows"]
    assert big["log_z_err_max"] > 0 and small["log_z_err_max"] == 0.0
    model = built[0]
    assert big["test_nll_mean"] == pytest.approx(model.nll(data[80:]), abs=1e-12)
    assert big["test_nll_mean"] == pytest.approx(
        float(model.free_energy(data[80:]).detach().mean()) + model.log_z_estimate().value)
    assert big["inpainting_nll_mean"] is None and big["mutual_information"] is None
    assert small["inpainting_nll_mean"] is not None and small["mutual_information"]
    # 20 AIS runs can never pass the ESS rule (50 effective runs): flagged
    assert not big["log_z_reliable"] and small["log_z_reliable"]
    table = markdown_table(results)
    assert f"(AIS ln Z +- {big['log_z_err_max']:.3f}, UNRELIABLE: low ESS)" in table
    with pytest.raises(ValueError, match="ais_steps"):
        compare(data[:80], data[80:], ["rbm"], budget=1, ais_steps=0, **QUIET)


# ------------------------------------------------------------ size sweeps
def test_sizes_sweep_one_knob_per_family(tmp_path, bas):
    results = compare(bas, bas, ["mps", "made"], budget=1, image_shape=(4, 4),
                      sizes={"mps": [2, 4], "made": [8]}, out=tmp_path, **QUIET)
    rows = {row["model"]: row for row in results["rows"]}
    assert list(rows) == ["mps max_bond=2", "mps max_bond=4", "made hidden=8"]
    assert rows["mps max_bond=2"]["setting"] == {"max_bond": 2}
    assert rows["mps max_bond=2"]["params"] < rows["mps max_bond=4"]["params"]
    assert rows["made hidden=8"]["params"] == MADE(16, hidden=8).num_parameters
    series = _pareto_series(results["rows"], "test_nll", floor=3.4)
    assert series["mps"][0] == sorted(series["mps"][0]) and series["mps"][3] == "curve"
    assert series["made"][3] == "points"
    assert series["exact p (floor)"][1] == [3.4, 3.4]
    assert_png(tmp_path / "pareto.png")


# ------------------------------------------------------------------- report
def test_compare_writes_the_report(tmp_path, bas):
    """Needs tnborn.diagnostics (entanglement and MI per cut)."""
    results = compare(bas, bas, MODELS, budget=1, out=tmp_path, image_shape=(4, 4),
                      progress=False, mi_samples=40, mi_inner=4, mi_max_inner=4,
                      timing_samples=50, shown_samples=8)
    assert [row["model"] for row in results["rows"]] == MODELS
    assert results["data"] == {"n_sites": 16, "local_dim": 2, "train_size": 27,
                               "val_size": 3, "test_size": 30, "image_shape": [4, 4]}
    assert results["budget"]["per_family"] == {
        "independent": "closed-form fit", "made": "1 epochs", "mps": "1 sweeps",
        "pixelcnn": "1 epochs", "ttn": "1 sweeps"}
    assert results["threads"] == torch.get_num_threads() and results["device"] == "cpu"
    for row in results["rows"]:
        run = row["per_seed"][0]
        assert math.isfinite(run["test_nll"]) and run["test_nll"] >= math.log(30) - 1e-9
        assert row["params"] > 0 and run["steps"] == 1 and len(run["history"]) == 1
        assert run["train_seconds"] > 0 and row["sample_seconds_per_1000"] > 0
        assert row["mutual_information"]["cuts"] == [4, 8, 12]  # between image rows
    rows = {row["model"]: row for row in results["rows"]}
    for name in ("mps", "ttn", "independent"):  # exact marginals: always reliable
        mi = rows[name]["mutual_information"]
        assert mi["inner_ess"] == [None] * 3 and mi["reliable"] == [True] * 3
    made_mi = rows["made"]["mutual_information"]
    assert made_mi["inner"] == 4 and made_mi["reliable"] == [False] * 3
    assert all("inner draws" in w[0] for w in made_mi["warnings"])
    assert rows["mps"]["entanglement"]["bonds"] == [list(range(k + 1)) for k in range(15)]
    assert rows["made"]["entanglement"] is None
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [row["model"] for row in saved["rows"]] == MODELS
    table = (tmp_path / "results.md").read_text()
    assert markdown_table(results) in table
    assert ("| model | params | n | test NLL | val NLL | inpainting NLL | time to best "
            "(s, cpu) | stopped by | sample s/1000 |") in table
    assert "| independent | 32 | 1 | " in table and "| closed_form |" in table
    pngs = ["nll", "pareto", "mutual_information", "entanglement_mps", "entanglement_ttn"]
    pngs += [f"samples_{m}" for m in MODELS]
    assert sorted(results["files"]) == sorted(pngs + ["json", "markdown"])
    for name in pngs:
        assert_png(tmp_path / f"{name}.png")


def test_more_inner_draws_until_the_mi_is_reliable(bas):
    """An autoregressive net's MI: with 4 inner draws the marginal is too thin; the
    runner multiplies them by 4 up to mi_max_inner and records how many it used."""
    made = MADE(16, hidden=8, seed=1)
    thin = compare(bas, bas, [made], budget=1, progress=False, mi_samples=200, mi_inner=4,
                   mi_max_inner=4, mi_cuts=[4, 8], timing_samples=10)
    grown = compare(bas, bas, [made], budget=1, progress=False, mi_samples=200,
                    mi_inner=4, mi_max_inner=256, mi_cuts=[4, 8], timing_samples=10)
    thin, grown = (r["rows"][0]["mutual_information"] for r in (thin, grown))
    assert thin["reliable"] == [False, False] and thin["inner"] == 4
    assert grown["reliable"] == [True, True] and 16 <= grown["inner"] <= 256
    assert min(grown["inner_ess"]) >= 10


def test_compare_under_a_cpu_time_budget(bas):
    made = MADE(16, hidden=8, seed=1)
    results = compare(bas, bas[:10], ["made", made, MPSBornMachine(16, seed=0),
                                      MPSBornMachine(16, seed=1)], budget="0.5s", **QUIET)
    assert [row["model"] for row in results["rows"]] == ["made", "MADE", "MPSBornMachine",
                                                         "MPSBornMachine-2"]
    assert "files" not in results and results["budget"]["clock"] == "cpu"
    assert results["budget"]["per_family"]["MADE"] == "0.5 s (cpu time)"
    for row in results["rows"]:
        run = row["per_seed"][0]
        assert run["stopped_by"] == "budget" and 0.5 <= run["train_seconds"] < 3.0
        assert all("cpu_seconds" in h and "seconds" in h for h in run["history"])
    # the instance is copied per seed: the caller's model is left untouched
    assert made.nll(bas) == pytest.approx(MADE(16, hidden=8, seed=1).nll(bas), abs=1e-12)


def test_unreliable_mi_is_marked_in_the_table():
    record = {"cuts": [2, 4], "mi": [0.5, 3.0], "stderr": [0.01, 0.02], "inner": 128,
              "inner_ess": [40.0, 1.5], "reliable": [True, False],
              "warnings": [[], ["the Monte Carlo marginal rests on 1.5 of its 4 inner draws"]]}
    table = mutual_information_table({"rows": [{"model": "made",
                                                "mutual_information": record}]})
    assert "| made | 128 | 0.500 +- 0.010 | (!) left out |" in table
    assert "+- 0.020" not in table  # no error bar for the unreliable value
    assert ("- made, k=4 (estimate 3.000): the Monte Carlo marginal rests on 1.5 of its 4 "
            "inner draws") in table


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("models, options, error, message", [
    ([], {}, ValueError, "empty"),
    (["mps", "boltzmann"], {}, ValueError, "unknown model"),
    (["pixelcnn"], {}, ValueError, "image shape"),
    ([MPSBornMachine(8, seed=0)], {}, ValueError, "does not fit"),
    (["mps"], {"budget": "abc"}, ValueError, "bad budget"),
    (["mps"], {"budget": 2.5}, ValueError, "budget"),
    (["made"], {"max_bond": 4}, ValueError, "max_bond"),
    (["mps"], {"image_shape": (3, 5)}, ValueError, "does not hold 16 sites"),
    (["mps"], {"mi_cuts": [0, 4]}, ValueError, "cut"),
    (["mps"], {"test": torch.zeros(3, 15, dtype=torch.long)}, ValueError, "16 sites"),
    (["mps"], {"seeds": ()}, ValueError, "at least one"),
    (["mps"], {"seeds": (1, 1)}, ValueError, "distinct"),
    (["mps"], {"seeds": 3}, TypeError, "sequence"),
    (["mps"], {"seeds": ("a",)}, TypeError, "seed"),
    (["mps"], {"val_fraction": 0.0}, ValueError, "val_fraction"),
    (["mps"], {"val_fraction": 1.5}, ValueError, "val_fraction"),
    (["mps"], {"val_fraction": 0.99}, ValueError, "too few"),
    (["mps"], {"val_data": torch.zeros(3, 15, dtype=torch.long)}, ValueError, "16"),
    (["mps"], {"clock": "gpu"}, ValueError, "clock"),
    (["mps"], {"sizes": {"independent": [1]}}, ValueError, "sizes sweeps"),
    (["mps"], {"sizes": {"made": [8]}}, ValueError, "not among the models"),
    (["mps"], {"sizes": {"mps": []}}, ValueError, "non-empty"),
    (["mps"], {"sizes": {"mps": [0]}}, ValueError, "sizes"),
    (["mps"], {"sizes": [2, 4]}, TypeError, "dict"),
    (["mps"], {"patience": 0}, ValueError, "patience"),
    (["mps"], {"reference": torch.zeros(7)}, ValueError, "65536 configurations"),
    (["mps"], {"reference": torch.zeros(2 ** 16)}, ValueError, "not normalized"),
    (["mps"], {"reference": torch.full((2 ** 16,), math.nan)}, ValueError, "NaN"),
    (["mps"], {"reference": "p"}, TypeError, "reference"),
    (["mps"], {"reference": MPSBornMachine(8, seed=0)}, ValueError, "does not describe"),
])
def test_compare_rejects_bad_input_before_training(bas, models, options, error, message):
    options = {"budget": 1, "progress": False, **options}
    test = options.pop("test", bas)
    with pytest.raises(error, match=message):
        compare(bas, test, models, **options)


def test_default_cuts_follow_image_rows():
    assert default_cuts(64, (8, 8)) == [8, 16, 24, 32, 40, 48, 56]
    assert default_cuts(784, (28, 28)) == list(range(84, 784, 84))
    assert default_cuts(16, (4, 4)) == [4, 8, 12]
    assert default_cuts(10) == list(range(1, 10))
    assert default_cuts(100, (1, 100)) == list(range(12, 100, 12))


# ------------------------------------------------------------------- budgets
@pytest.mark.parametrize("text, budget", [
    ("10", Budget(steps=10)), (3, Budget(steps=3)), ("60s", Budget(seconds=60.0)),
    ("2m", Budget(seconds=120.0)), ("1.5h", Budget(seconds=5400.0)),
    (" 0.5s ", Budget(seconds=0.5)), (Budget(steps=2), Budget(steps=2)),
])
def test_parse_budget(text, budget):
    assert parse_budget(text) == budget


@pytest.mark.parametrize("bad", ["0", "0s", "-3", "abc", "10x", "1.5", "s", "", 0, True,
                                 2.5, None])
def test_parse_budget_rejects(bad):
    with pytest.raises(ValueError):
        parse_budget(bad)


def test_train_model_uses_sweeps_or_epochs(bas):
    mps = MPSBornMachine(16, seed=0)
    assert [h["step"] for h in train_model(mps, bas, budget=2, progress=False)] == [1, 2]
    made = MADE(16, hidden=8, seed=0)
    history = train_model(made, bas, budget="0.2s", progress=False, batch_size=5)
    assert history[-1]["seconds"] >= 0.2 and len(history) > 1


def test_train_model_refuses_what_is_not_a_model(bas):
    with pytest.raises(TypeError, match="cannot train"):
        train_model(load, bas, budget=1)


# ------------------------------------------------------------------- presets
def test_presets():
    assert make_model("ttn", 64, image_shape=(8, 8)).layout == (8, 8)
    assert make_model("ttn", 64).layout == "binary"
    assert make_model("mps", 784).max_bond == 32
    assert make_model("mps", 64, max_bond=5).max_bond == 5
    assert make_model("made", 64, sizes={"hidden": 12}).hidden == 12
    pixel = make_model("pixelcnn", 64, image_shape=(8, 8))
    assert pixel.shape == (8, 8) and pixel.first_kernel == 15  # sees the whole past
    assert make_model("pixelcnn", 784, image_shape=(28, 28)).first_kernel == 5
    data = load_data("bas", images=5, test_images=7)
    assert data.train.shape == (5, 16) and data.test.shape == (7, 16)
    assert data.image_shape == (4, 4)
    with pytest.raises(ValueError, match="at most 30"):
        load_data("bas", images=31)
    with pytest.raises(ValueError, match="unknown data set"):
        load_data("cifar")
    with pytest.raises(ValueError, match="no preset size"):
        make_model("mps", 16, sizes={"hidden": 3})
