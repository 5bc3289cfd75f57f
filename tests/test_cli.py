"""The `tnborn` command, run in-process through ``main`` (tiny sizes) and once as a
subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tnborn
from tnborn.cli import main
from tnborn.datasets import bars_and_stripes
from tnborn.physics import ising2d_log_z
from tnborn.workflows import sample_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path) -> None:
    data = path.read_bytes()
    assert len(data) > len(PNG_SIGNATURE) and data.startswith(PNG_SIGNATURE), path


def run(argv, capsys) -> tuple[int, str, str]:
    """``main(argv)``: its exit code (0 when it returns), stdout and stderr."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, out, err, expected_code) -> None:
    assert code == expected_code
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("tnborn: error: "), err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def trained_mps(tmp_path_factory):
    """An MPS trained for 3 sweeps on bars-and-stripes by `tnborn train`: its folder."""
    folder = tmp_path_factory.mktemp("mps")
    main(["train", "--model", "mps", "--data", "bas", "--sweeps", "3", "--out",
          str(folder), "--no-progress"])
    return folder


@pytest.fixture(scope="module")
def trained_made(tmp_path_factory):
    """A MADE trained for 2 epochs on bars-and-stripes: its folder."""
    folder = tmp_path_factory.mktemp("made")
    main(["train", "--model", "made", "--data", "bas", "--epochs", "2", "--out",
          str(folder), "--no-progress"])
    return folder


# -------------------------------------------------------------------- train
def test_train_writes_a_loadable_model_and_its_history(trained_mps):
    model = tnborn.load(trained_mps / "model.pt")
    assert isinstance(model, tnborn.MPSBornMachine)
    history = json.loads((trained_mps / "history.json").read_text())
    assert history["model"] == "mps" and history["steps"] == 3
    assert [h["step"] for h in history["history"]] == [1, 2, 3]
    data = bars_and_stripes(4, 4)
    assert model.nll(data) == pytest.approx(history["train_nll"], abs=1e-10)
    assert history["history"][-1]["train_nll"] == pytest.approx(history["train_nll"],
                                                                abs=1e-10)
    assert history["parameters"] == model.num_parameters
    assert_png(trained_mps / "nll.png")
    assert_png(trained_mps / "entanglement.png")


def test_train_prints_a_summary_and_honours_a_time_budget(tmp_path, capsys):
    code, out, _ = run(["train", "--model", "made", "--data", "bas", "--budget", "0.5s",
                        "--batch-size", "10", "--out", tmp_path, "--no-progress"], capsys)
    assert code == 0
    assert out.startswith("trained made (MADE) on bas (30 train / 30 test images): ")
    assert "NLL train" in out and str(tmp_path / "model.pt") in out
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["budget"] == "0.5 s" and history["train_seconds"] >= 0.5
    model = tnborn.load(tmp_path / "model.pt")
    assert model.nll(bars_and_stripes(4, 4)) == pytest.approx(history["train_nll"],
                                                              abs=1e-10)
    assert not (tmp_path / "entanglement.png").exists()  # networks have none


# ------------------------------------------------------------- sample, inpaint
def test_sample_writes_a_grid(trained_mps, tmp_path, capsys):
    png = tmp_path / "grid.png"
    code, out, _ = run(["sample", trained_mps / "model.pt", "-n", "12", "--png", png,
                        "--seed", "3"], capsys)
    assert code == 0 and "12 samples of MPSBornMachine (4x4)" in out
    assert_png(png)
    code, _, _ = run(["sample", trained_mps / "model.pt", "-n", "4", "--png", png,
                      "--shape", "2x8"], capsys)
    assert code == 0


def test_sample_run_is_reproducible(trained_mps, tmp_path):
    first = sample_run(trained_mps / "model.pt", tmp_path / "a.png", num=20, seed=5)
    again = sample_run(trained_mps / "model.pt", tmp_path / "b.png", num=20, seed=5)
    assert torch.equal(first["samples"], again["samples"])
    assert first["shape"] == [4, 4]


@pytest.mark.parametrize("hide", ["lower", "upper", "left", "right"])
def test_born_machine_inpaints_any_half(trained_mps, tmp_path, capsys, hide):
    png = tmp_path / "inpaint.png"
    code, out, _ = run(["inpaint", trained_mps / "model.pt", "--data", "bas", "--png", png,
                        "--rows", "4", "--hide", hide], capsys)
    assert code == 0 and f"the {hide} half restored" in out
    assert_png(png)


def test_network_inpaints_only_the_lower_half(trained_made, tmp_path, capsys):
    png = tmp_path / "inpaint.png"
    code, _, _ = run(["inpaint", trained_made / "model.pt", "--data", "bas", "--png", png],
                     capsys)
    assert code == 0
    assert_png(png)
    code, out, err = run(["inpaint", trained_made / "model.pt", "--data", "bas",
                          "--hide", "upper"], capsys)
    assert_one_line_error(code, out, err, 1)
    assert "hide the lower half" in err


# ---------------------------------------------------------- compare, ising
def test_compare_prints_the_table(tmp_path, capsys):
    """Needs tnborn.diagnostics (MI per cut, entanglement)."""
    code, out, _ = run(["compare", "--data", "bas", "--models", "mps,made", "--budget", "1",
                        "--mi-samples", "20", "--mi-inner", "2", "--out", tmp_path,
                        "--no-progress"], capsys)
    assert code == 0
    assert ("| model | params | train NLL | test NLL | best test NLL (at s) | train s | "
            "sample s/1000 |") in out
    assert "| mps |" in out and "| made |" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results["models"]) == ["mps", "made"]
    assert_png(tmp_path / "nll.png")
    assert_png(tmp_path / "mutual_information.png")


def test_ising_prints_the_exact_free_energy(capsys):
    code, out, _ = run(["ising", "--L", "4", "--beta", "0.44", "--model", "made",
                        "--steps", "3", "--batch-size", "50", "--samples", "500", "--z2",
                        "--no-progress"], capsys)
    assert code == 0
    exact = -ising2d_log_z(4, 0.44) / (0.44 * 16)
    assert f"exact:       {exact:.6f}" in out
    assert "F per site, variational" in out and "Z2-symmetric" in out


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("command", ["train", "sample", "inpaint", "compare", "ising", "demo"])
def test_every_command_has_help(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: tnborn {command}")


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--model", "rbm", "--data", "bas"], "invalid choice: 'rbm'"),
    (["train", "--model", "mps", "--data", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--model", "mps", "--data", "bas", "--max-bond", "0"], "--max-bond"),
    (["train", "--model", "mps", "--data", "bas", "--max-bond", "abc"], "'abc'"),
    (["train", "--model", "mps", "--data", "bas", "--budget", "10x"], "bad budget"),
    (["train", "--model", "mps", "--data", "bas", "--budget", "0s"], "bad budget"),
    (["train", "--model", "mps", "--data", "bas", "--sweeps", "2", "--budget", "3"],
     "not allowed with"),
    (["compare", "--data", "bas", "--models", "mps,rbm"], "unknown model 'rbm'"),
    (["sample", "model.pt", "--shape", "4by4"], "HxW"),
])
def test_command_line_errors_exit_2_with_one_line(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert_one_line_error(code, out, err, 2)
    assert message in err


def test_user_errors_exit_1_with_one_line(trained_mps, tmp_path, capsys):
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model file")
    cases = [
        (["sample", tmp_path / "missing.pt"], "no model file"),
        (["sample", corrupt], "not a readable tnborn model file"),
        (["sample", trained_mps / "model.pt", "--shape", "3x5"], "does not hold 16 sites"),
        (["inpaint", trained_mps / "model.pt", "--data", "digits"], "has 16 sites"),
        (["inpaint", trained_mps / "model.pt", "--data", "bas", "--rows", "31"],
         "at most 30"),
        (["train", "--model", "made", "--data", "bas", "--max-bond", "4", "--out",
          tmp_path / "x"], "max_bond applies to the Born machines"),
        (["train", "--model", "mps", "--data", "bas", "--images", "40", "--out",
          tmp_path / "x"], "at most 30"),
        (["ising", "--L", "6", "--model", "han", "--steps", "1"], "power of two"),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert_one_line_error(code, out, err, 1)
        assert message in err, (argv, err)


def test_python_dash_m_reports_errors_without_a_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "tnborn", "sample", str(tmp_path / "no.pt")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"tnborn: error: no model file at {tmp_path / 'no.pt'}"]


def test_console_script_is_declared():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    scripts = pyproject.split("[project.scripts]\n", 1)[1].split("\n\n", 1)[0]
    assert scripts.splitlines() == ['tnborn = "tnborn.cli:main"']
