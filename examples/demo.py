"""`make demo`: short runs of the bars-and-stripes, MNIST MPS and MNIST TTN examples
(well under 3 minutes on 2 CPU cores).

Figures go under ``demo_output/`` (relative to the current folder)::

    python examples/demo.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling example modules

import bars_and_stripes  # noqa: E402
import mnist_mps  # noqa: E402
import mnist_ttn  # noqa: E402

OUT = Path("demo_output")


def main() -> dict[str, dict]:
    """Run both examples in reduced size; returns their results by name."""
    results = {}
    print("== bars and stripes ==")
    results["bas"] = bars_and_stripes.main(["--out", str(OUT / "bas"), "--sweeps", "10"])
    print("\n== MNIST ==")
    results["mnist_mps"] = mnist_mps.main([
        "--out", str(OUT / "mnist_mps"), "--images", "1000", "--test-images", "200",
        "--max-bond", "16", "--sweeps", "4",
    ])
    print("\n== MNIST, 2D tree tensor network ==")
    results["mnist_ttn"] = mnist_ttn.main([
        "--out", str(OUT / "mnist_ttn"), "--images", "1000", "--test-images", "200",
        "--max-bond", "8", "--sweeps", "3",
    ])
    print("\nfigures:")
    for result in results.values():
        paths = list(result["figures"].values())
        print(f"  {paths[0].parent}/  " + ", ".join(path.name for path in paths))
    return results


if __name__ == "__main__":
    main()
