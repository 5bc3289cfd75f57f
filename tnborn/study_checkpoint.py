"""The JSON checkpoints of the long studies (`phase_scan`, `ising3d_study`): a file of
plain data with the study's ``settings`` and its finished points, written atomically
after every point and read back only by a study with the same settings."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["read_checkpoint", "write_checkpoint"]


def read_checkpoint(checkpoint, settings: dict, kind: str, required=()) -> dict:
    """The saved payload of ``checkpoint`` (``{}`` when it is None or absent).
    ValueError when the file is not JSON with ``settings`` and the ``required`` keys
    ("... is not a {kind} checkpoint") or holds other settings."""
    if checkpoint is None or not Path(checkpoint).exists():
        return {}
    try:
        saved = json.loads(Path(checkpoint).read_text())
        stored = saved["settings"]
        for key in required:
            saved[key]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{checkpoint} is not a {kind} checkpoint ({exc})") from None
    if stored != json.loads(json.dumps(settings)):
        raise ValueError(f"{checkpoint} holds a {kind} with other settings ({stored}); "
                         "remove it or pass another checkpoint")
    return saved


def write_checkpoint(checkpoint, payload: dict) -> None:
    """Write ``payload`` (plain data) to ``checkpoint`` atomically (None: nothing)."""
    if checkpoint is None:
        return
    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(payload))
    partial.replace(path)
