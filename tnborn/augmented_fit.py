"""Training on symmetry images of the data: every epoch a fresh set of random images of
the training rows under exact symmetries of the target (lattice translations of the
periodic Ising model, time shifts / reversal / x -> -x of periodic paths), with the
learning rate stepped down to 0.3 x after 60 % and 0.1 x after 85 % of the epochs."""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from .checks import check_count, check_positive, check_seed

__all__ = ["fit_on_images", "stepped_lr"]


def stepped_lr(lr: float, epoch: int, epochs: int) -> float:
    """``lr``, 0.3 ``lr`` from 60 % and 0.1 ``lr`` from 85 % of ``epochs`` (0-based)."""
    return lr if epoch < 0.6 * epochs else 0.3 * lr if epoch < 0.85 * epochs else 0.1 * lr


def fit_on_images(model, train: torch.Tensor, images, *, epochs: int, lr: float = 1e-3,
                  batch_size: int = 256, test: torch.Tensor | None = None, seed: int = 0,
                  progress: bool = False, desc: str = "fit") -> list[dict]:
    """Fit ``model`` by maximum likelihood on ``images(train, generator)`` (a fresh draw
    each epoch, seeded by ``seed``), one ``model.fit`` epoch at a time with the stepped
    learning rate. A model not trained in epochs (``fit_unit`` "sweeps" or None) gets
    one call on one draw of images (``epochs`` sweeps, or its closed form). Returns one
    record per epoch: ``epoch``, ``lr``, ``train_nll``, ``test_nll`` (None without
    ``test``), ``seconds``."""
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    lr = check_positive(lr, "lr")
    generator = torch.Generator().manual_seed(check_seed(seed))
    start = time.perf_counter()
    if model.fit_unit != "epochs":
        options = {} if model.fit_unit is None else {model.fit_unit: epochs}
        model.fit(images(train, generator), **options)
        return [{"epoch": epochs, "lr": None, "train_nll": model.nll(train),
                 "test_nll": None if test is None else model.nll(test),
                 "seconds": time.perf_counter() - start}]
    history = []
    for epoch in tqdm(range(epochs), desc=desc, unit="epochs", disable=not progress,
                      leave=False):
        rate = stepped_lr(lr, epoch, epochs)
        record = model.fit(images(train, generator), epochs=1, lr=rate,
                           batch_size=batch_size, test_data=test, progress=False,
                           generator=generator)[-1]
        history.append({"epoch": epoch + 1, "lr": rate, "train_nll": record["train_nll"],
                        "test_nll": record.get("test_nll"),
                        "seconds": time.perf_counter() - start})
    return history
