"""Entanglement entropy of a Born machine at every bond (MPS) or edge (TTN)."""

from __future__ import annotations

import torch

from ..born import TensorNetworkBornMachine


def entanglement_entropy(model, alpha: float = 1.0):
    """Entanglement entropy (nats) of a Born machine's state across each of its cuts.

    MPS: Tensor ``(n_sites - 1,)``, entry k for sites ``0..k`` against the rest.
    TTN: dict ``{edge: entropy}``, an edge named by the sorted tuple of the sites below it.
    ``alpha=1`` is von Neumann, otherwise Renyi, from the Schmidt spectrum at the cut.
    TypeError for a model without a quantum state (an autoregressive net).
    """
    if not isinstance(model, TensorNetworkBornMachine):
        raise TypeError("entanglement entropy needs a Born machine (MPSBornMachine or "
                        f"TTNBornMachine), got {type(model).__name__}")
    with torch.no_grad():
        return model.entanglement_entropy(alpha)
