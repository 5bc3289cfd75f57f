"""Entanglement entropy of a tensor-network Born machine at every bond."""

from __future__ import annotations

import torch


def entanglement_entropy(model, alpha: float = 1.0) -> torch.Tensor:
    """Entanglement entropy (nats) of a Born machine's state across each of its bonds.

    A Tensor aligned with ``model.bonds`` (MPS: bond k cuts sites ``0..k`` from the rest;
    TTN: an edge cuts the sites below it). ``alpha=1`` is von Neumann, otherwise Renyi,
    from the Schmidt spectrum at the cut. TypeError for a model without bonds
    (``has_bonds`` False: no quantum state to cut).
    """
    if not getattr(model, "has_bonds", False):
        raise TypeError("entanglement entropy needs a tensor network with bonds "
                        f"(has_bonds), got {type(model).__name__}")
    with torch.no_grad():
        return model.entanglement_entropy(alpha)
