"""Argument checks shared by the physics functions."""

from __future__ import annotations


def check_hamiltonian_matches(model, hamiltonian) -> None:
    """The model must describe binary configurations of the Hamiltonian's sites."""
    if not hasattr(hamiltonian, "energy") or not hasattr(hamiltonian, "n_sites"):
        raise TypeError(f"{type(hamiltonian).__name__} is not a Hamiltonian "
                        "(needs .energy(x) and .n_sites)")
    if model.local_dim != 2:
        raise ValueError(f"spin models need local_dim 2, the model has {model.local_dim}")
    if model.n_sites != hamiltonian.n_sites:
        raise ValueError(f"the model has {model.n_sites} sites but the Hamiltonian has "
                         f"{hamiltonian.n_sites}")
