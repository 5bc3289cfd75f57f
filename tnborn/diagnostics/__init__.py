"""Diagnostics: entanglement, classical mutual information (and its Gaussian estimate for
continuous samples), KL divergence.

Exact values come from enumeration (small systems) or from exact contraction of the
marginals (MPS and TTN Born machines); sampled estimates carry a standard error.
"""

from .entanglement import entanglement_entropy
from .gaussian_mi import gaussian_mutual_information
from .mutual_information import mutual_information, mutual_information_profile
from .renyi import renyi_mutual_information
from .tables import kl_divergence, log_prob_table

__all__ = ["entanglement_entropy", "gaussian_mutual_information", "kl_divergence",
           "log_prob_table", "mutual_information", "mutual_information_profile",
           "renyi_mutual_information"]
