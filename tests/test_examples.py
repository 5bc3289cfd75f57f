"""Smoke tests of the example scripts, run in reduced size into a temporary folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_example(name: str, monkeypatch):
    """Import ``examples/<name>.py`` with the examples folder on sys.path (for its siblings)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_pngs(folder: Path, names: list[str]) -> None:
    """Each named file exists in ``folder``, is non-empty and starts with the PNG signature."""
    for name in names:
        data = (folder / name).read_bytes()
        assert len(data) > len(PNG_SIGNATURE), name
        assert data.startswith(PNG_SIGNATURE), name


@pytest.fixture(autouse=True)
def one_thread():
    """Keep torch on one thread, as the examples run beside other work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_bars_and_stripes(tmp_path, monkeypatch):
    example = load_example("bars_and_stripes", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--sweeps", "10", "--no-progress"])
    images = result["samples"].reshape(-1, 4, 4)
    stripes = (images == images[:, :, :1]).all(-1).all(-1)  # every row constant
    bars = (images == images[:, :1, :]).all(-1).all(-1)  # every column constant
    assert bool((stripes | bars).all())
    assert result["valid_fraction"] == 1.0
    assert_pngs(tmp_path, ["samples.png", "entanglement.png"])


def test_mnist_mps(tmp_path, monkeypatch):
    example = load_example("mnist_mps", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--images", "60", "--test-images", "20",
                           "--max-bond", "4", "--sweeps", "1", "--no-progress"])
    assert len(result["history"]) == 1
    assert result["train_nll"] > 0 and result["test_nll"] > 0
    assert_pngs(tmp_path, ["samples.png", "inpainting.png", "nll.png", "entanglement.png"])


def test_ising_van(tmp_path, monkeypatch):
    example = load_example("ising_van", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--L", "4", "--betas", "0.3", "--steps",
                           "20", "--batch", "200", "--hidden", "16", "--samples", "2000",
                           "--no-progress"])
    assert len(result["rows"]) == 1 and result["rows"][0]["ess"] > 0
    assert_pngs(tmp_path, ["ising_van.png"])


def test_learn_hamiltonian(tmp_path, monkeypatch):
    example = load_example("learn_hamiltonian", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--samples", "1000", "--epochs", "1",
                           "--lrs", "1e-3", "--hidden", "16", "--no-progress"])
    assert result["couplings"].shape == (16, 16)
    assert result["fields_max_abs"] < 0.01  # ln p of the Z2-symmetric model is even
    assert_pngs(tmp_path, ["couplings.png"])


def test_mnist_ttn(tmp_path, monkeypatch):
    example = load_example("mnist_ttn", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--images", "60", "--test-images", "20",
                           "--max-bond", "4", "--sweeps", "1", "--no-progress"])
    assert len(result["history"]) == 1 and result["train_nll"] > 0
    assert_pngs(tmp_path, ["samples.png", "inpainting.png", "nll.png", "entanglement.png"])


def test_flow_toy_2d(tmp_path, monkeypatch):
    example = load_example("flow_toy_2d", monkeypatch)
    results = example.main(["--out", str(tmp_path), "--steps", "100", "--samples", "5000",
                            "--blocks", "4", "--no-progress"])
    for result in results.values():
        # a lower bound, and the importance-sampled value within 4 errors of the exact one
        assert result["log_z_variational"] < result["log_z_exact"] + 3 * result[
            "log_z_variational_err"]
        assert abs(result["log_z_importance"] - result["log_z_exact"]) < 4 * result[
            "log_z_importance_err"] + 1e-3
    assert_pngs(tmp_path, ["flow_toy_2d.png"])


def test_ising_phases(tmp_path, monkeypatch):
    example = load_example("ising_phases", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--sizes", "3", "4", "--temperatures",
                           "1.8", "2.4", "3.0", "--samples", "500", "--epochs", "1",
                           "--no-progress"])
    assert result["sizes"] == [3, 4] and len(result["points"][1]) == 3
    assert_pngs(tmp_path, ["phases.png"])


def test_double_well_action(tmp_path, monkeypatch):
    example = load_example("double_well_action", monkeypatch)
    result = example.main(["--out", str(tmp_path), "--n-tau", "8", "--paths", "200",
                           "--test-paths", "50", "--data-thin", "2", "--epochs", "1",
                           "--hidden", "8", "--mc-sweeps", "20", "--mc-burn-in", "10",
                           "--no-progress"])
    assert [r["beta"] for r in result["learned"]] == [10.0, 20.0]
    assert result["prediction"]["mc_predicted"]["x2"]["num"] == 20 * 64
    assert_pngs(tmp_path, ["actions.png"])
