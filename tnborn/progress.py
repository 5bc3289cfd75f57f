"""Progress bars of the training loops: over updates, or over a time budget's seconds."""

from __future__ import annotations

from tqdm.auto import tqdm


class TrainingBar:
    """A tqdm bar that counts ``updates`` or, with ``max_seconds``, training seconds (so
    a time budget with an effectively unlimited sweep count still shows real progress).

    Call :meth:`advance` after every update with the training time so far; it says
    whether the time budget is spent.
    """

    def __init__(self, *, updates: int, max_seconds: float | None, unit: str, desc: str,
                 enabled: bool):
        self.max_seconds = max_seconds
        if max_seconds is None:
            self.bar = tqdm(total=updates, unit=unit, desc=desc, disable=not enabled,
                            leave=False)
        else:
            self.bar = tqdm(total=max_seconds, unit="s", desc=desc, disable=not enabled,
                            leave=False,
                            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s{postfix}")

    def advance(self, seconds: float) -> bool:
        """One more update; ``seconds`` of training so far. True once they reach the
        time budget (never without one)."""
        if self.max_seconds is None:
            self.bar.update(1)
            return False
        self.bar.update(min(seconds, self.max_seconds) - self.bar.n)
        return seconds >= self.max_seconds

    def set_postfix(self, **values) -> None:
        self.bar.set_postfix(**values)

    def close(self) -> None:
        self.bar.close()
