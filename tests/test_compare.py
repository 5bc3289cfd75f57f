"""The comparison-study runner, training budgets and the named presets (tiny sizes)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tnborn import MADE, MPSBornMachine, load
from tnborn.compare import compare, default_cuts, markdown_table, mutual_information_table
from tnborn.datasets import bars_and_stripes
from tnborn.presets import load_data, make_model
from tnborn.training import Budget, parse_budget, train_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MODELS = ["mps", "ttn", "made", "pixelcnn"]


def assert_png(path) -> None:
    data = open(path, "rb").read()
    assert len(data) > len(PNG_SIGNATURE) and data.startswith(PNG_SIGNATURE), path


@pytest.fixture(scope="module")
def bas():
    return bars_and_stripes(4, 4)


# ------------------------------------------------------------------ compare
def test_compare_trains_all_models_and_writes_the_report(tmp_path, bas):
    """Needs tnborn.diagnostics (entanglement and MI per cut)."""
    results = compare(bas, bas, MODELS, budget=1, out=tmp_path, image_shape=(4, 4),
                      progress=False, mi_samples=40, mi_inner=4, timing_samples=50,
                      shown_samples=8)
    assert list(results["models"]) == MODELS
    assert results["data"] == {"n_sites": 16, "local_dim": 2, "train_size": 30,
                               "test_size": 30, "image_shape": [4, 4]}
    for name, r in results["models"].items():
        assert math.isfinite(r["train_nll"]) and math.isfinite(r["test_nll"]), name
        assert r["train_nll"] >= math.log(30) - 1e-9  # no model beats the uniform one on BAS
        assert r["parameters"] > 0 and r["steps"] == 1 and len(r["history"]) == 1
        assert r["train_seconds"] > 0 and r["sample_seconds_per_1000"] > 0
        mi = r["mutual_information"]
        assert mi["cuts"] == [4, 8, 12]  # between whole image rows
        assert all(math.isfinite(v) for v in mi["mi"]) and min(mi["stderr"]) >= 0
    for name in ("mps", "ttn"):  # exact marginals: nothing to be unreliable about
        mi = results["models"][name]["mutual_information"]
        assert mi["inner_ess"] == [None] * 3 and mi["reliable"] == [True] * 3
    made_mi = results["models"]["made"]["mutual_information"]
    assert made_mi["reliable"] == [False] * 3  # 4 inner draws: an ESS below 10
    assert all("inner draws" in w[0] for w in made_mi["warnings"])
    mps = results["models"]["mps"]["entanglement"]
    assert sorted(mps) == ["bonds", "entropy"]
    assert mps["bonds"] == [list(range(k + 1)) for k in range(15)]  # bond k: sites 0..k
    assert len(mps["entropy"]) == 15
    ttn = results["models"]["ttn"]["entanglement"]
    assert sorted(ttn) == ["bonds", "entropy"]
    assert all(isinstance(sites, list) and sites == sorted(sites) for sites in ttn["bonds"])
    assert len(ttn["bonds"]) == len(ttn["entropy"])
    assert results["models"]["made"]["entanglement"] is None

    saved = json.loads((tmp_path / "results.json").read_text())
    assert list(saved["models"]) == MODELS
    assert all(math.isfinite(saved["models"][m]["test_nll"]) for m in MODELS)
    table = (tmp_path / "results.md").read_text()
    assert markdown_table(results) in table
    assert ("| model | params | train NLL | test NLL | best test NLL (at s) | train s | "
            "sample s/1000 |") in table
    pngs = ["nll", "mutual_information", "entanglement_mps", "entanglement_ttn"]
    pngs += [f"samples_{m}" for m in MODELS]
    assert sorted(results["files"]) == sorted(pngs + ["json", "markdown"])
    for name in pngs:
        assert_png(tmp_path / f"{name}.png")


def median_inner_ess_reference(log_p, cut, num, inner, replicates=100, seed=0):
    """Mean and spread of the median over ``num`` outer samples of the inner ESS
    (sum w)^2 / sum w^2, w_i = p(x_B | a_i), a_1..a_inner ~ p(x_A), x_B ~ p(x_B), from
    the table ``log_p`` of all configurations (lexicographic, site 0 most significant) of
    a binary model, with numpy."""
    table = np.exp(log_p).reshape(2 ** cut, -1)
    p_a, p_b = table.sum(1), table.sum(0)
    conditional = table / p_a[:, None]
    rng = np.random.default_rng(seed)
    medians = []
    for _ in range(replicates):
        b = rng.choice(len(p_b), size=num, p=p_b / p_b.sum())
        a = rng.choice(len(p_a), size=(num, inner), p=p_a / p_a.sum())
        w = conditional[a, b[:, None]]
        medians.append(np.median(w.sum(1) ** 2 / (w ** 2).sum(1)))
    return float(np.mean(medians)), float(np.std(medians))


def test_compare_reports_the_inner_ess_of_the_monte_carlo_marginal(bas):
    """The MI record of an autoregressive net: its median inner ESS per cut against the
    distribution of that median computed from the trained net's enumerated table
    (measured 3.836 against 3.845 +- 0.014 at k = 4)."""
    from .helpers import all_configurations

    made = MADE(16, hidden=8, seed=1)
    results = compare(bas, bas, [made], budget=1, progress=False, mi_samples=400,
                      mi_inner=4, mi_cuts=[4, 8, 12], timing_samples=20)
    mi = results["models"]["MADE"]["mutual_information"]
    log_p = made.log_prob(all_configurations(16, 2)).detach().numpy()
    for k, ess in zip(mi["cuts"], mi["inner_ess"]):
        mean, spread = median_inner_ess_reference(log_p, k, 400, 4)
        assert abs(ess - mean) <= 4 * spread + 1e-9, (k, ess, mean, spread)
    assert mi["reliable"] == [e >= 10 for e in mi["inner_ess"]] == [False] * 3


def test_compare_under_a_time_budget_trains_instances_in_place(bas):
    made = MADE(16, hidden=8, seed=1)
    results = compare(bas, bas[:10], ["made", made, MPSBornMachine(16, seed=0),
                                      MPSBornMachine(16, seed=1)],
                      budget="0.5s", progress=False, mi_samples=None, timing_samples=20)
    assert list(results["models"]) == ["made", "MADE", "MPSBornMachine", "MPSBornMachine-2"]
    assert "files" not in results and results["budget"] == "0.5 s"
    for r in results["models"].values():
        assert 0.5 <= r["train_seconds"] < 2.0
        assert r["mutual_information"] is None
    record = results["models"]["MADE"]
    assert record["train_nll"] == pytest.approx(made.nll(bas), abs=1e-12)
    assert record["test_nll"] == pytest.approx(made.nll(bas[:10]), abs=1e-12)
    assert record["parameters"] == sum(p.numel() for p in made.parameters())


@pytest.mark.parametrize("models, options, message", [
    ([], {}, "empty"),
    (["mps", "boltzmann"], {}, "unknown model"),
    (["pixelcnn"], {}, "image shape"),
    ([MPSBornMachine(8, seed=0)], {}, "does not fit"),
    (["mps"], {"budget": "abc"}, "bad budget"),
    (["mps"], {"budget": 2.5}, "budget"),
    (["made"], {"max_bond": 4}, "max_bond"),
    (["mps"], {"image_shape": (3, 5)}, "does not hold 16 sites"),
    (["mps"], {"mi_cuts": [0, 4]}, "cut"),
    (["mps"], {"test": torch.zeros(3, 15, dtype=torch.long)}, "16 sites"),
])
def test_compare_rejects_bad_input_before_training(bas, models, options, message):
    options = {"budget": 1, "progress": False, **options}
    test = options.pop("test", bas)
    with pytest.raises(ValueError, match=message):
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


def test_unreliable_mi_is_marked_in_the_table():
    record = {"cuts": [2, 4], "mi": [0.5, 3.0], "stderr": [0.01, 0.02],
              "inner_ess": [40.0, 1.5], "reliable": [True, False],
              "warnings": [[], ["the Monte Carlo marginal rests on 1.5 of its 4 inner draws"]]}
    table = mutual_information_table({"models": {"made": {"mutual_information": record}}})
    assert "| made | 0.500 +- 0.010 | 3.000 (!) unreliable |" in table
    assert "+- 0.020" not in table  # no bare error bar for the unreliable value
    assert "- made, k=4: the Monte Carlo marginal rests on 1.5 of its 4 inner draws" in table
