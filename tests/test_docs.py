"""Every ```python block of README.md and docs/*.md runs: the blocks of one file in
order, in one namespace, in a temporary folder (as a reader would paste them).

Signature listings are ```text blocks and shell commands ```sh / plain blocks; the CLI
tests run those commands at smaller sizes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


PAGES_WITH_CODE = [page for page in PAGES if python_blocks(page)]


def test_the_pages_with_code_are_found():
    names = {page.name for page in PAGES_WITH_CODE}
    assert {"README.md", "quickstart.md"} <= names


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda page: page.name)
def test_code_blocks_run_top_to_bottom(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    namespace: dict = {"__name__": "__docs__"}
    try:
        for number, block in enumerate(python_blocks(page), 1):
            try:
                exec(compile(block, f"{page.name} block {number}", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{page.name}, python block {number} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc
    finally:
        torch.set_num_threads(threads)
