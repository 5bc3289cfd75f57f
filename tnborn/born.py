"""Common base of the tensor-network Born machines (MPS and TTN).

p(x) = |psi(x)|^2 / Z, where psi is a network of tensors kept in ``self.tensors`` (a plain
list, since learning changes their shapes); this class moves them with the module
(``.to``, ``.double``), counts them, saves them and documents the shared ``fit``.
"""

from __future__ import annotations

import torch

from .base import GenerativeModel

TENSOR_DTYPES = {str(d): d for d in (torch.float32, torch.float64, torch.complex64,
                                     torch.complex128)}


def check_network_tensor(t, k: int, first, legs: str) -> None:
    """Tensor ``k`` of a network: a finite 3-leg torch tensor (legs named in ``legs``) of a
    supported dtype, on the dtype/device of tensor 0 (``first``). TypeError/ValueError."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor {k} is a {type(t).__name__}, not a torch.Tensor")
    if t.ndim != 3:
        raise ValueError(f"tensor {k} must have shape {legs}, got {tuple(t.shape)}")
    if str(t.dtype) not in TENSOR_DTYPES:
        raise ValueError(f"tensor {k} has unsupported dtype {t.dtype}")
    if isinstance(first, torch.Tensor) and (t.dtype != first.dtype or t.device != first.device):
        raise ValueError(f"tensor {k} has dtype/device {t.dtype}/{t.device}, "
                         f"tensor 0 has {first.dtype}/{first.device}")
    if not torch.isfinite(t).all():
        raise ValueError(f"tensor {k} has non-finite entries")


class TensorNetworkBornMachine(GenerativeModel):
    """Born machine on a tensor network, learned by local two-tensor updates."""

    tensors: list[torch.Tensor]
    #: learning rate of ``fit`` when none is given (set per network)
    default_lr: float

    def _reference_tensor(self) -> torch.Tensor:
        return self.tensors[0]

    def _apply(self, fn, recurse=True):
        self.tensors = [fn(t) for t in self.tensors]
        return super()._apply(fn, recurse)

    @property
    def num_parameters(self) -> int:
        """Number of scalar entries in all tensors (complex counts once)."""
        return sum(t.numel() for t in self.tensors)

    def _state(self) -> dict:
        return {"tensors": list(self.tensors)}

    def fit(self, data, *, sweeps: int = 10, lr: float | None = None,
            batch_size: int | None = None,
            test_data=None, progress: bool = True, max_step: float | None = 0.5,
            steps_per_bond: int = 1, normalized_steps: bool = False,
            generator: torch.Generator | None = None,
            max_seconds: float | None = None) -> list[dict]:
        """Learn ``data`` ``(N, n_sites)`` by sweeps of two-tensor updates (two neighbouring
        sites of an MPS, two adjacent nodes of a TTN): merge, gradient step on the NLL,
        truncated SVD split.

        Parameters
        ----------
        sweeps : number of sweeps (each visits every bond; the MPS goes left to right and
            back, the TTN along an Euler tour of its edges).
        lr : gradient step size on the merged tensor (normalized, ||M|| = 1); None: the
            network's ``default_lr`` (MPS 0.2, TTN 0.05).
        batch_size : None for full-batch updates; otherwise each update uses the next
            minibatch of a fresh random permutation per sweep (``generator``).
        test_data : configurations whose NLL is recorded after every sweep.
        progress : show a tqdm progress bar over the updates.
        max_step : cap ``|dM| <= max_step * |M|`` on each step (None: no cap); it keeps
            one badly fitted sample (tiny psi, huge 1/psi) from replacing the tensor.
        steps_per_bond : gradient steps on each merged tensor before it is split.
        normalized_steps : lengthen every shorter step to 2 lr numel(M)^(1/4) along the
            gradient: the update of the original code of Han et al. (its "norm0.25"
            mode), with a small lr (their 5e-3, lowered to 1e-3). Near convergence these
            fixed-length steps still move where plain steps have shrunk; pass
            ``max_step=None`` to leave them uncapped.
        max_seconds : training-time budget: stop after the update that reaches it (the
            unfinished sweep is recorded with ``"partial": True``). None: no limit.

        Returns one dict per sweep: ``step``, ``train_nll``, ``test_nll`` (if test data),
        ``seconds`` (cumulative training time, evaluation excluded), ``max_bond``.
        """
        lr = self.default_lr if lr is None else lr
        return super().fit(data, sweeps=sweeps, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, max_step=max_step,
                           steps_per_bond=steps_per_bond,
                           normalized_steps=normalized_steps, generator=generator,
                           max_seconds=max_seconds)
