"""The comparison studies of docs/results_compare.md, as `tnborn compare` commands.

1. digits: MPS, TTN, MADE, PixelCNN and independent sites on the sklearn 8x8 digits,
   30 s of CPU time each, 3 seeds (the acceptance run of the comparison issue).
2. ising-0.44: the same families on 2,000 Wolff samples of the periodic 4x4 Ising model
   at beta 0.44, with a size sweep per family (exact KL from the Boltzmann table).
3. ising-0.3: the preset sizes at beta 0.3.

Each study writes its report into runs/compare_<study>/ and prints its wall time; with
--figures the figures docs/results_compare.md shows are copied into docs/figures.

    python benchmarks/compare_studies.py [--studies digits ising-0.44 ising-0.3] [--figures]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = "mps,ttn,made,pixelcnn,independent"
STUDIES = {
    "digits": ["--data", "digits", "--budget", "30s", "--seeds", "3"],
    "ising-0.44": ["--data", "ising", "--beta", "0.44", "--budget", "10s", "--seeds", "3",
                   "--sizes", "mps=2,4,8", "--sizes", "ttn=2,4,8", "--sizes",
                   "made=16,64,256", "--sizes", "pixelcnn=4,16", "--mi-samples", "0"],
    "ising-0.3": ["--data", "ising", "--beta", "0.3", "--budget", "10s", "--seeds", "3",
                  "--mi-samples", "0"],
}
# the report files shown in docs/results_compare.md, per study
FIGURES = {"digits": ["nll", "pareto", "mutual_information", "entanglement_mps",
                      "entanglement_ttn", "samples_mps", "samples_ttn", "samples_made",
                      "samples_pixelcnn"],
           "ising-0.44": ["pareto", "nll"], "ising-0.3": ["pareto", "nll"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", nargs="+", choices=list(STUDIES), default=list(STUDIES))
    parser.add_argument("--figures", action="store_true",
                        help="copy the shown figures into docs/figures")
    args = parser.parse_args()
    for study in args.studies:
        out = ROOT / "runs" / f"compare_{study}"
        command = [sys.executable, "-m", "tnborn", "compare", "--models", MODELS,
                   *STUDIES[study], "--out", str(out), "--no-progress"]
        print("$", " ".join(command[2:]), flush=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"{study}: {time.perf_counter() - start:.0f} s wall time\n", flush=True)
        if args.figures:
            for name in FIGURES[study]:
                target = ROOT / "docs" / "figures" / f"compare_{study}_{name}.png"
                shutil.copyfile(out / f"{name}.png", target)


if __name__ == "__main__":
    main()
