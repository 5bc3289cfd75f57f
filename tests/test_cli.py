"""The `tnborn` command, run in-process through ``main`` (tiny sizes) and once as a
subprocess."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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
    assert out.startswith("trained made (MADE) on bas (30 train / 30 test rows): ")
    history = json.loads((tmp_path / "history.json").read_text())
    assert f": {history['steps']} epochs in {history['train_seconds']:.1f} s on cpu\n" in out
    assert "NLL train" in out and str(tmp_path / "model.pt") in out
    assert history["device"] == "cpu"
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
    # the independent baseline of the 30 patterns pays ln 2 per hidden pixel
    assert ("nats per image over 30 test images (independent-sites baseline: 5.55)"
            in out)
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
                        "--seeds", "2", "--mi-samples", "20", "--mi-inner", "2",
                        "--mi-max-inner", "2", "--out", tmp_path, "--no-progress"], capsys)
    assert code == 0
    assert ("| model | params | n | test NLL | val NLL | KL(p\\|\\|q) | inpainting NLL | "
            "time to best (s, cpu) | stopped by | sample s/1000 |") in out
    assert "| mps | " in out and "| made | " in out and " +- " in out
    assert "Floor: the exact distribution's own test NLL is 3.4012 nats" in out
    assert "Baseline: independent sites fitted on the training rows" in out
    # the MI table is printed; the net's 2 inner draws make its values unreliable: no
    # error bar, and the note says why
    made_row = next(line for line in out.splitlines() if line.startswith("| made | 2 | "))
    assert "+-" not in made_row and "(!) left out" in made_row
    assert "- made, k=4 (estimate " in out and "the Monte Carlo marginal rests on" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert [row["model"] for row in results["rows"]] == ["mps", "made"]
    assert results["seeds"] == [0, 1] and results["rows"][0]["n"] == 2
    for name in ("nll", "pareto", "mutual_information"):
        assert_png(tmp_path / f"{name}.png")


def test_compare_on_ising_data_with_a_size_sweep(tmp_path, capsys):
    code, out, err = run(["compare", "--data", "ising", "--beta", "0.3", "--images", "60",
                          "--test-images", "40", "--models", "mps,independent", "--sizes",
                          "mps=2,3", "--budget", "1", "--seed", "4", "--val-fraction",
                          "0.25", "--clock", "wall", "--mi-samples", "0", "--out", tmp_path,
                          "--no-progress"], capsys)
    assert code == 0, err
    assert out.startswith("data: ising-beta0.3\n")
    assert "| mps max_bond=2 | " in out and "| mps max_bond=3 | " in out
    assert "time to best (s, wall)" in out and "Mutual information" not in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seeds"] == [4] and results["budget"]["clock"] == "wall"
    assert results["data"]["train_size"] == 45 and results["data"]["val_size"] == 15
    assert all(row["kl_exact_mean"] > 0 for row in results["rows"])
    assert results["floor"]["test_nll"] > 0


@pytest.mark.parametrize("options, message", [
    (["--seeds", "0"], "--seeds"),
    (["--val-fraction", "1"], "fraction in (0, 1)"),
    (["--sizes", "mps=two"], "--sizes"),
    (["--sizes", "independent=2"], "NAME one of"),
    (["--clock", "gpu"], "invalid choice: 'gpu'"),
])
def test_compare_option_errors(options, message, capsys):
    code, out, err = run(["compare", "--data", "bas", *options], capsys)
    assert_one_line_error(code, out, err, 2)
    assert message in err


def test_compare_user_errors(tmp_path, capsys):
    for options, message in [(["--data", "digits", "--beta", "0.3"], "temperature"),
                             (["--data", "bas", "--models", "made", "--sizes", "mps=2"],
                              "not among the models")]:
        code, out, err = run(["compare", *options, "--budget", "1", "--out", tmp_path],
                             capsys)
        assert_one_line_error(code, out, err, 1)
        assert message in err, err


def test_xy_prints_the_table_and_writes_the_figures(tmp_path, capsys):
    code, out, err = run(["xy", "--L", "4", "--temperatures", "0.9,1.3", "--steps", "5",
                          "--batch-size", "50", "--samples", "5000", "--mc-sweeps", "40",
                          "--out", tmp_path, "--no-progress", "--threads", "1"], capsys)
    assert code == 0, err
    assert out.startswith("| T | E var | E IS | E MC |")
    assert "| 0.9 | " in out and "| 1.3 | " in out
    points = json.loads((tmp_path / "results.json").read_text())
    assert [p["T"] for p in points] == [0.9, 1.3] and points[0]["L"] == 4
    assert (points[0]["settle_steps"], points[0]["first_kernel"]) == (2, 7)  # the preset
    assert points[0]["energy_mc"] < points[1]["energy_mc"] < 0  # colder, lower energy
    assert not points[0]["reliable"] and "unreliable importance sampling" in out  # 5 steps
    for name in ("xy", "fields"):
        assert_png(tmp_path / f"{name}.png")


def test_phases_prints_the_table_and_resumes(tmp_path, capsys):
    argv = ["phases", "--sizes", "3,4", "--temperatures", "1.8,2.4,3.0", "--samples", "400",
            "--model-samples", "400", "--epochs", "1", "--copies", "1", "--out", tmp_path,
            "--no-progress", "--threads", "1"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert out.startswith("| L | T | beta J learned | beta J true |")
    assert "| 4 | 2.4 | " in out and "Onsager T_c = 2.2692" in out
    result = json.loads((tmp_path / "results.json").read_text())
    assert [p["T"] for p in result["points"][1]] == [1.8, 2.4, 3.0]
    assert_png(tmp_path / "phases.png")
    code, again, err = run(argv, capsys)  # from the checkpoint: the same numbers
    assert code == 0 and again == out


@pytest.mark.parametrize("argv, message", [
    (["phases", "--temperatures", "2,1.8,2.4"], "strictly increasing"),
    (["action", "--betas", "20,20"], "two different betas"),
    (["action", "--betas", "20"], "--betas takes two values"),
])
def test_study_commands_refuse_bad_settings(argv, message, tmp_path, capsys):
    code, out, err = run([*argv, "--out", tmp_path, "--no-progress"], capsys)
    assert_one_line_error(code, out, err, 1)
    assert message in err


def test_ising_prints_the_exact_free_energy(capsys):
    """The issue's run at a smaller size: 3 annealed steps end far from beta 0.44, so the
    final beta is printed, the variational F (and any number flagged) carries the
    warning and no bare error bar, and the warnings say why."""
    code, out, _ = run(["ising", "--L", "4", "--beta", "0.44", "--model", "made",
                        "--steps", "3", "--batch-size", "50", "--samples", "500", "--z2",
                        "--no-progress"], capsys)
    assert code == 0
    exact = -ising2d_log_z(4, 0.44) / (0.44 * 16)
    assert f"exact:       {exact:.6f}" in out
    assert "F per site, variational" in out and "Z2-symmetric" in out
    final_beta = 0.44 * (1 - 0.99 ** 3)  # beta (1 - a^t), a = 0.99 (ISING_BETA_ANNEAL)
    assert f"final training beta {final_beta:.4g}," in out
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert "[UNRELIABLE, see the warnings; no error bar]" in lines["F per site, variational"]
    for name in ("F per site, variational", "F per site, importance"):
        assert ("UNRELIABLE" in lines[name]) != ("+-" in lines[name]), lines[name]
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert any(f"beta_t = {final_beta:.4g}" in w and "688 steps" in w for w in warnings)
    if "UNRELIABLE" in lines["F per site, importance"]:
        assert any("importance-sampled F" in w for w in warnings)


def test_ising_prints_error_bars_only_for_reliable_numbers(monkeypatch, capsys):
    """The printing of `tnborn ising` for a reliable run and for one whose weights are
    not (a result as ising_run returns it)."""
    import tnborn.workflows

    result = {"model": "made", "L": 16, "beta": 0.44, "steps": 1000, "z2": True,
              "exact_last_level": False, "seconds": 12.0, "beta_final": 0.43996,
              "F_variational": -2.1101, "F_variational_err": 2e-4, "F_importance": -2.11635,
              "F_importance_err": 3e-5, "F_importance_bias": 4e-7, "F_exact": -2.116364,
              "error_variational": 6.3e-3, "error_importance": 1.4e-5, "ess": 0.3,
              "ess_count": 30000.0, "warnings_variational": [], "warnings_importance": [],
              "warnings": [], "reliable": True}
    monkeypatch.setattr(tnborn.workflows, "ising_run", lambda *a, **k: dict(result))
    code, out, _ = run(["ising", "--no-progress"], capsys)
    assert code == 0 and "warning" not in out and "UNRELIABLE" not in out
    assert "final training beta 0.44, ESS 0.300 (30000.0 samples)" in out
    assert "importance:  -2.116350 +- 3.0e-05 (bias +4.0e-07)   error +1.40e-05" in out
    warning = "ESS fraction 3.0e-04 < 0.01: a few heavy importance weights carry F"
    result.update(warnings_importance=[warning], warnings=[warning], reliable=False)
    code, out, _ = run(["ising", "--no-progress"], capsys)
    line = next(x for x in out.splitlines() if x.startswith("F per site, importance"))
    assert "UNRELIABLE" in line and "+-" not in line and "bias" not in line
    assert f"warning: unreliable estimate: {warning}" in out
    assert "variational: -2.110100 +- 2.0e-04" in out


# -------------------------------------------------------------------- errors
@pytest.mark.parametrize("command", ["train", "sample", "inpaint", "compare", "ising", "xy",
                                     "phases", "action", "demo"])
def test_every_command_has_help(command, capsys):
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0 and out.startswith(f"usage: tnborn {command}")


@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--model", "vae", "--data", "bas"], "invalid choice: 'vae'"),
    (["train", "--model", "mps", "--data", "bas", "--max-bond", "0"], "--max-bond"),
    (["train", "--model", "mps", "--data", "bas", "--max-bond", "abc"], "'abc'"),
    (["train", "--model", "mps", "--data", "bas", "--budget", "10x"], "bad budget"),
    (["train", "--model", "mps", "--data", "bas", "--budget", "0s"], "bad budget"),
    (["train", "--model", "mps", "--data", "bas", "--sweeps", "2", "--budget", "3"],
     "not allowed with"),
    (["compare", "--data", "bas", "--models", "mps,vae"], "unknown model 'vae'"),
    (["sample", "model.pt", "--shape", "4by4"], "HxW"),
    (["xy", "--temperatures", "0.5,0"], "--temperatures"),
    (["xy", "--model", "made"], "invalid choice: 'made'"),
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
        (["train", "--model", "mps", "--data", "cifar", "--out", tmp_path / "x"],
         "no data file at cifar"),  # --data: a data-set name or a file path
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


# ------------------------------------------------------------ start-up time
def _best_wall_seconds(argv, repeats=3) -> tuple[float, subprocess.CompletedProcess]:
    """The shortest wall time of ``repeats`` runs of ``argv`` and the last result."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        best = min(best, time.perf_counter() - start)
    return best, result


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"]])
def test_help_answers_within_a_second(args):
    seconds, result = _best_wall_seconds([sys.executable, "-m", "tnborn", *args])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: tnborn") and result.stderr == ""
    assert seconds < 1.0, f"tnborn {' '.join(args)} took {seconds:.2f} s"


def test_cli_module_imports_neither_torch_nor_matplotlib():
    code = "import tnborn.cli, sys; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False False\n"


# ------------------------------------------------------------------- device
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unavailable_device_is_a_one_line_error(trained_mps, tmp_path, capsys):
    for argv in (["train", "--model", "mps", "--data", "bas", "--sweeps", "1", "--out",
                  tmp_path / "train", "--no-progress", "--device", "cuda"],
                 ["sample", trained_mps / "model.pt", "--png", tmp_path / "s.png",
                  "--device", "cuda"],
                 ["compare", "--data", "bas", "--models", "mps", "--budget", "1", "--out",
                  tmp_path / "compare", "--no-progress", "--device", "cuda"]):
        code, out, err = run(argv, capsys)
        assert_one_line_error(code, out, err, 1)
        assert "'cuda'" in err and "not available" in err, (argv[0], err)
    assert not (tmp_path / "train").exists() and not (tmp_path / "s.png").exists()
    assert not (tmp_path / "compare").exists()


# ------------------------------------------------------------ data files
def _write_idx(path: Path, images: np.ndarray) -> Path:
    """An uncompressed IDX file of uint8 ``images`` (N, H, W), header written by hand."""
    header = bytes([0, 0, 0x08, images.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in images.shape)
    path.write_bytes(header + images.astype(np.uint8).tobytes())
    return path


def _summary(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text())


def test_train_on_an_npy_file_of_images(tmp_path, capsys):
    images = bars_and_stripes(4, 4).reshape(30, 4, 4).numpy().astype(np.int64)
    np.save(tmp_path / "patterns.npy", images)
    out = tmp_path / "run"
    code, stdout, err = run(["train", "--model", "mps", "--data", tmp_path / "patterns.npy",
                             "--sweeps", "2", "--out", out, "--no-progress"], capsys)
    assert code == 0, err
    assert stdout.startswith("trained mps (MPSBornMachine) on patterns.npy (27 train / 3 test "
                             "rows): 2 sweeps in ")
    summary = _summary(out)
    assert summary["data"] == "patterns.npy" and summary["image_shape"] == [4, 4]
    assert (summary["train_images"], summary["test_images"]) == (27, 3)  # 10% held out
    assert [h["step"] for h in summary["history"]] == [1, 2]
    model = tnborn.load(out / "model.pt")
    assert (model.n_sites, model.local_dim) == (16, 2)
    # every row of the file is in the train or the test part
    total = 27 * summary["train_nll"] + 3 * summary["test_nll"]
    assert model.nll(bars_and_stripes(4, 4)) * 30 == pytest.approx(total, abs=1e-8)
    assert_png(out / "entanglement.png")


def test_train_on_an_npz_file_uses_its_train_and_test_arrays(tmp_path, capsys):
    data = bars_and_stripes(4, 4)
    np.savez(tmp_path / "split.npz", train=data[:20].numpy(), test=data[20:].numpy())
    out = tmp_path / "run"
    code, _, err = run(["train", "--model", "mps", "--data", tmp_path / "split.npz",
                        "--sweeps", "1", "--out", out, "--no-progress"], capsys)
    assert code == 0, err
    summary = _summary(out)
    assert (summary["train_images"], summary["test_images"]) == (20, 10)
    assert summary["image_shape"] is None  # rows of sites, not images
    model = tnborn.load(out / "model.pt")
    assert model.nll(data[:20]) == pytest.approx(summary["train_nll"], abs=1e-10)
    assert model.nll(data[20:]) == pytest.approx(summary["test_nll"], abs=1e-10)
    assert summary["history"][-1]["test_nll"] == pytest.approx(summary["test_nll"], abs=1e-10)


def test_train_uses_the_test_data_file(tmp_path, capsys):
    data = bars_and_stripes(4, 4)
    np.save(tmp_path / "train.npy", data[:25].numpy())
    np.save(tmp_path / "test.npy", data[25:].numpy())
    out = tmp_path / "run"
    code, _, err = run(["train", "--model", "mps", "--data", tmp_path / "train.npy",
                        "--test-data", tmp_path / "test.npy", "--sweeps", "1", "--out", out,
                        "--no-progress"], capsys)
    assert code == 0, err
    summary = _summary(out)
    assert (summary["train_images"], summary["test_images"]) == (25, 5)  # none held out
    model = tnborn.load(out / "model.pt")
    assert model.nll(data[:25]) == pytest.approx(summary["train_nll"], abs=1e-10)
    assert model.nll(data[25:]) == pytest.approx(summary["test_nll"], abs=1e-10)
    code, stdout, err = run(["train", "--model", "mps", "--data", "bas", "--test-data",
                             tmp_path / "test.npy", "--out", tmp_path / "x"], capsys)
    assert_one_line_error(code, stdout, err, 1)
    assert "own test split" in err


def test_train_on_an_idx_file_binarizes_at_127(tmp_path, capsys):
    generator = np.random.default_rng(0)
    images = generator.integers(0, 256, size=(40, 4, 4))
    images[0, 0, :2] = [127, 128]  # the threshold: 127 -> 0, 128 -> 1
    images[1, 0, :2] = [0, 255]
    idx = _write_idx(tmp_path / "images-idx3-ubyte", images)
    out = tmp_path / "run"
    code, _, err = run(["train", "--model", "mps", "--data", idx, "--test-data", idx,
                        "--sweeps", "1", "--out", out, "--no-progress"], capsys)
    assert code == 0, err
    summary = _summary(out)
    assert summary["image_shape"] == [4, 4]
    assert (summary["train_images"], summary["test_images"]) == (40, 40)
    model = tnborn.load(out / "model.pt")
    assert (model.n_sites, model.local_dim) == (16, 2)
    binary = torch.from_numpy(images.reshape(40, 16) > 127).long()
    assert binary[0, :2].tolist() == [0, 1] and binary[1, :2].tolist() == [0, 1]
    assert model.nll(binary) == pytest.approx(summary["train_nll"], abs=1e-10)
    assert model.nll(binary) == pytest.approx(summary["test_nll"], abs=1e-10)


@pytest.mark.parametrize("name, array, message", [
    ("flat", np.zeros(5, dtype=np.int64), "got shape (5,)"),
    ("empty", np.zeros((0, 16), dtype=np.int64), "got shape (0, 16)"),
    ("negative", -np.ones((10, 16), dtype=np.int64), "negative values"),
    ("fraction", np.full((10, 16), 0.5), "whole numbers"),
    ("four_d", np.zeros((3, 2, 2, 2), dtype=np.int64), "got shape (3, 2, 2, 2)"),
])
def test_bad_data_files_are_one_line_errors(tmp_path, capsys, name, array, message):
    path = tmp_path / f"{name}.npy"
    np.save(path, array)
    code, out, err = run(["train", "--model", "mps", "--data", path, "--sweeps", "1",
                          "--out", tmp_path / "run", "--no-progress"], capsys)
    assert_one_line_error(code, out, err, 1)
    assert f"{name}.npy" in err and message in err, err
    assert not (tmp_path / "run" / "model.pt").exists()


# -------------------------------------------------------- the independent baseline
def test_independent_is_fitted_in_closed_form(tmp_path, capsys):
    code, out, err = run(["train", "--model", "independent", "--data", "bas", "--out",
                          tmp_path, "--no-progress"], capsys)
    assert code == 0, err
    assert out.startswith("trained independent (Independent) on bas (30 train / 30 test "
                          "rows): closed-form fit in ")
    summary = _summary(tmp_path)
    assert summary["budget"] == "closed form" and summary["steps"] == 1
    assert summary["parameters"] == 16 * 2
    # every pixel is on in 15 of the 30 patterns: p = (15 + 1/2) / (30 + 1) = 1/2
    assert summary["train_nll"] == pytest.approx(16 * math.log(2), abs=1e-12)
    model = tnborn.load(tmp_path / "model.pt")
    assert isinstance(model, tnborn.Independent)
    assert model.nll(bars_and_stripes(4, 4)) == pytest.approx(16 * math.log(2), abs=1e-12)
    assert "checkpoint" not in summary["files"] and not (tmp_path / "checkpoint.pt").exists()
    assert not (tmp_path / "entanglement.png").exists()
    code, out, err = run(["train", "--model", "independent", "--data", "bas", "--out",
                          tmp_path / "again", "--resume", tmp_path / "checkpoint.pt"], capsys)
    assert_one_line_error(code, out, err, 1)
    assert "nothing to resume" in err


def test_compare_with_the_independent_baseline(tmp_path, capsys):
    code, out, err = run(["compare", "--data", "bas", "--models", "independent,mps",
                          "--budget", "1", "--mi-samples", "20", "--mi-inner", "2", "--out",
                          tmp_path, "--no-progress"], capsys)
    assert code == 0, err
    assert "| independent | 32 | 1 | 11.090 | 11.090 | 7.6892 | 5.55 | " in out
    row = json.loads((tmp_path / "results.json").read_text())["rows"][0]
    assert row["model"] == "independent" and row["params"] == 32
    assert row["per_seed"][0]["train_nll"] == pytest.approx(16 * math.log(2), abs=1e-12)
    assert row["per_seed"][0]["stopped_by"] == "closed_form" and row["entanglement"] is None
    mi = row["mutual_information"]  # a product distribution: no mutual information
    assert max(abs(v) for v in mi["mi"]) < 1e-12 and mi["reliable"] == [True] * 3


# ------------------------------------------------------------ Ctrl-C, --resume
def _wait_for_checkpoint(path: Path, steps: int, process, timeout: float = 120) -> None:
    """Poll until the checkpoint at ``path`` records at least ``steps`` passes (read
    again only when the file was replaced, to leave the CPU to the training process)."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no checkpoint of {steps} passes in {timeout} s"
        try:
            stat = path.stat()
        except FileNotFoundError:
            stat = None
        if stat is not None and (stat.st_ino, stat.st_mtime_ns) != seen:
            seen = (stat.st_ino, stat.st_mtime_ns)
            try:
                if torch.load(path, weights_only=True)["step"] >= steps:
                    return
            except (OSError, EOFError, RuntimeError):  # replaced while read
                seen = None
        time.sleep(0.05)


def test_ctrl_c_keeps_a_checkpoint_that_resume_continues(tmp_path, capsys):
    folder = tmp_path / "interrupted"
    checkpoint = folder / "checkpoint.pt"

    def command(out, epochs):
        return ["train", "--model", "made", "--data", "digits", "--epochs", str(epochs),
                "--out", str(out), "--no-progress", "--checkpoint-every", "1",
                "--threads", "1"]

    total = 5000  # far more than can finish while the test waits, even on a busy machine
    process = subprocess.Popen(
        [sys.executable, "-m", "tnborn", *command(folder, total)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_checkpoint(checkpoint, 2, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert str(checkpoint) in err and "--resume" in err, err
    saved = torch.load(checkpoint, weights_only=True)
    step = saved["step"]
    assert 2 <= step < total and len(saved["history"]) == step
    epochs = step + 2

    code, _, err = run([*command(folder, epochs), "--resume", checkpoint], capsys)
    assert code == 0, err
    resumed = _summary(folder)["history"]
    assert [h["step"] for h in resumed] == list(range(1, epochs + 1))
    assert resumed[:step] == saved["history"]

    straight = tmp_path / "uninterrupted"
    code, _, err = run(command(straight, epochs), capsys)
    assert code == 0, err
    uninterrupted = _summary(straight)["history"]

    def without_seconds(history):
        return [{k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds")} for h in history]

    assert without_seconds(resumed) == without_seconds(uninterrupted)
    first = tnborn.load(folder / "model.pt").state_dict()
    second = tnborn.load(straight / "model.pt").state_dict()
    assert first.keys() == second.keys()
    for name, value in first.items():
        if isinstance(value, torch.Tensor):
            assert (value - second[name]).abs().max() <= 1e-12, name
        else:
            assert value == second[name], name
