"""HAN: hierarchical autoregressive network (Bialas, Korcyl, Stebel, CPC 281, 108502 (2022)).

An autoregressive model of the periodic L x L Ising lattice (L a power of two >= 4, sites
row-major ``r * L + c``) whose sites are generated level by level (``dim=3``: the same on
a periodic 3D box, with cubes split by their middle planes, see
:mod:`tnborn.arnn.han_geometry`):

* level 0: row 0 and column 0 (2L - 1 spins, the boundary of the whole torus), by a
  context-free MADE;
* levels 1 ..: side s = L, L/2, ..., 4. The lattice is a grid of (L/s)^2 squares of side s
  with corners at multiples of s; their boundaries (4s spins each, wrapping around) are
  known. Each square's cross, its middle row and middle column inside the square (2s - 3
  spins), is generated autoregressively given the square's boundary by one conditional
  MADE per level, shared by every square of the level (the squares are a batch axis);
* last level (s = 2): each remaining spin (odd row, odd column) has its 4 neighbours known.
  By default it is drawn from a learned linear layer on the 4 neighbour spins (weights and
  bias start at zero). With ``exact_last_level=True`` it is the heat bath
  p(s = +1) = sigmoid(2 beta (J * sum of the 4 neighbours + h)) of the periodic Ising
  model at ``beta``: exact for that Boltzmann distribution and parameter free, so a
  quarter of the spins are given their true conditional (and the model refuses any other
  Hamiltonian, see :meth:`HAN.check_hamiltonian`).

Sites per level, L = 8: 15 + 13 + 4 * 5 + 16 = 64. The site order of the model is level
by level, within a level cross position by cross position, then square by square, so a
whole level's squares can be drawn at once: sampling costs O(L) sequential steps, and each
conditional MADE caches its hidden units as in :mod:`tnborn.arnn.made`, so a full draw costs
about one forward pass of arithmetic.

Conditional MADE of a level (context c = 4s boundary spins, n = 2s - 3 cross spins):
input degrees 0 (context) and j + 1 (cross spin j); hidden degrees 0 .. n-1 spread evenly
and sorted (1 .. n-1 at level 0, which has no context); masks as in MADE
(hidden >= input, hidden' >= hidden, output i sees hidden units of degree <= i), plus
direct input -> output connections of degree <= i. Activation tanh. Every network emits
one logit l per spin, p(x = 1) = sigmoid(l).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backend import resolve_real
from ..checks import check_beta, check_bool, check_int, check_real
from ..pairwise import target_couplings
from .base import AutoregressiveModel
from .han_geometry import box_geometry, check_box_sides, check_plane_side, plane_geometry

__all__ = ["HAN"]


# --------------------------------------------------------------- conditional MADE
class _ConditionalMADE(torch.nn.Module):
    """MADE over ``n`` ordered spins whose every unit also sees ``context`` spins.

    ``forward(inputs)``: spins ``(..., context + n)`` -> logits ``(..., n)`` where logit i
    depends on the context and on ordered spins ``< i`` only.
    """

    def __init__(self, context: int, n: int, hidden: int, depth: int, dtype, generator):
        super().__init__()
        self.context, self.n, self.hidden, self.depth = context, n, hidden, depth
        lowest = 0 if context > 0 else 1  # without context a degree-0 unit is a constant
        in_degree = torch.cat([torch.zeros(context, dtype=torch.long), torch.arange(1, n + 1)])
        hidden_degree = lowest + torch.arange(hidden) * max(n - lowest, 1) // hidden
        out_degree = torch.arange(n)
        masks = [hidden_degree[:, None] >= in_degree[None, :]]
        masks += [hidden_degree[:, None] >= hidden_degree[None, :]] * (depth - 1)
        masks.append(out_degree[:, None] >= hidden_degree[None, :])
        masks.append(out_degree[:, None] >= in_degree[None, :])  # direct connections
        # hidden units of degree <= i: a prefix of the sorted degrees
        self._prefix = torch.searchsorted(hidden_degree, out_degree, right=True).tolist()
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for k, mask in enumerate(masks):
            mask = mask.to(dtype)
            bound = 1.0 / mask.sum(1, keepdim=True).clamp_min(1).sqrt()
            weight = (torch.rand(mask.shape, generator=generator, dtype=dtype) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(weight * mask))
            if k < len(masks) - 1:  # the direct connections share the output bias
                bias = (torch.rand(mask.shape[0], generator=generator, dtype=dtype) * 2 - 1)
                self.biases.append(torch.nn.Parameter(bias * bound[:, 0]))
            self.register_buffer(f"mask{k}", mask, persistent=False)

    def _masked(self) -> list[torch.Tensor]:
        return [w * getattr(self, f"mask{k}") for k, w in enumerate(self.weights)]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        weights = self._masked()
        h = inputs
        for w, b in zip(weights[:-2], self.biases[:-1]):
            h = torch.tanh(F.linear(h, w, b))
        return F.linear(h, weights[-2], self.biases[-1]) + F.linear(inputs, weights[-1])

    def sample(self, inputs: torch.Tensor, decide) -> torch.Tensor:
        """Draw the ordered spins one by one; returns their 0/1 values ``(rows, n)``.

        ``inputs``: spins ``(rows, context + n)`` (only the context is used).
        ``decide(i, logit)`` gets the logits ``(rows,)`` of ordered spin i (given the
        context and the spins < i already decided) and returns its 0/1 values
        ``(rows,)``. Hidden units of degree i are final once spin i-1 is set, so each is
        computed once; activations are kept as (units, rows) so that every slice
        written or read is contiguous.
        """
        rows, c = inputs.shape[0], self.context
        weights = self._masked()
        state = inputs.T.contiguous()  # (context + n, rows)
        cache = [inputs.new_empty(self.hidden, rows) for _ in range(self.depth)]
        done = 0
        for i in range(self.n):
            target = self._prefix[i]
            known = c + i
            if target > done:
                new = slice(done, target)
                below, width = state, known
                for layer in range(self.depth):
                    out = cache[layer][new]
                    torch.addmm(self.biases[layer][new, None], weights[layer][new, :width],
                                below[:width], out=out)
                    out.tanh_()
                    below, width = cache[layer], target
                done = target
            logit = self.biases[-1][i].expand(rows)
            if target > 0:
                logit = logit + weights[-2][i, :target] @ cache[-1][:target]
            if known > 0:
                logit = logit + weights[-1][i, :known] @ state[:known]
            values = decide(i, logit)
            state[known] = (2 * values - 1).to(state.dtype)
        return state[c:].T.gt(0).long()


# --------------------------------------------------------------------------- HAN
class HAN(AutoregressiveModel):
    """Hierarchical autoregressive network on the periodic L x L lattice (``dim=3``: on a
    periodic 3D box, the hierarchy of :mod:`tnborn.arnn.han_geometry`).

    Parameters
    ----------
    L : lattice side, a power of two >= 4; with ``dim=3`` the side of a cube or three
        sides ``(L1, L2, L3)``, powers of two >= 2.
    dim : 2 (the square lattice) or 3.
    exact_last_level : make the last level (a quarter of the spins in 2D, an eighth in 3D)
        the exact heat bath of the periodic Ising model E = -J sum_<ij> s_i s_j -
        h sum_i s_i at inverse temperature ``beta`` (which it then requires); by default
        (False) the last level is learned like the others, and ``beta``, ``J``, ``h``
        must not be given.
    beta, J, h : the Ising model of the exact last level (J 1.0 and h 0.0 when omitted).
    hidden : hidden units per layer of every level's network.
    depth : masked hidden layers per network (>= 1).
    dtype, device : float32/float64, torch device.
    seed : seed of the initial parameters and of the model's own random stream
        (minibatch order, samples); None: drawn from torch's global RNG.

    ``z2_symmetric`` (see :class:`AutoregressiveModel`) symmetrizes it under the global flip.
    """

    def __init__(self, L, *, dim: int = 2, exact_last_level: bool = False,
                 beta: float | None = None, J: float | None = None, h: float | None = None,
                 hidden: int = 64, depth: int = 2, dtype=torch.float64, device=None,
                 seed: int | None = None):
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        if dim == 2:
            L = check_plane_side(L)
            shape, geometry = (L, L), plane_geometry(L)
        else:
            shape = L = check_box_sides(L)
            geometry = box_geometry(shape)
        check_bool(exact_last_level, "exact_last_level")
        if exact_last_level:
            if beta is None:
                raise ValueError("the exact last level is the heat bath at some beta: give "
                                 "beta (and J, h of the Ising model if not 1 and 0)")
            beta = check_beta(beta)
            J = 1.0 if J is None else check_real(J, "J")
            h = 0.0 if h is None else check_real(h, "h")
        elif beta is not None or J is not None or h is not None:
            raise ValueError("beta, J and h describe the exact last level of a HAN: pass "
                             "exact_last_level=True with them (by default the last level "
                             "is learned)")
        hidden = check_int(hidden, "hidden", 1)
        depth = check_int(depth, "depth", 1)
        dtype, device = resolve_real(dtype, device)
        levels, contexts, last, neighbours, order = geometry
        super().__init__(order.numel(), 2, order=order)
        self.L, self.dim, self.shape, self.hidden, self.depth = L, dim, shape, hidden, depth
        self.exact_last_level = exact_last_level
        self.beta, self.J, self.h = beta, J, h
        generator = self._start_rng(seed)
        self._contexts = contexts
        self.nets = torch.nn.ModuleList(
            _ConditionalMADE(c, lv.shape[1] - c, hidden, depth, dtype, generator)
            for lv, c in zip(levels, contexts))
        for k, lv in enumerate(levels):
            self.register_buffer(f"level{k}", lv, persistent=False)
        self.register_buffer("last_sites", last, persistent=False)
        self.register_buffer("last_neighbours", neighbours, persistent=False)
        if not exact_last_level:
            self.last_weight = torch.nn.Parameter(torch.zeros(2 * dim, dtype=dtype))
            self.last_bias = torch.nn.Parameter(torch.zeros(1, dtype=dtype))
        self.to(device)

    # ------------------------------------------------------------------ network
    def _config(self) -> dict:
        return {"L": self.L, "dim": self.dim, "exact_last_level": self.exact_last_level,
                "beta": self.beta, "J": self.J, "h": self.h, "hidden": self.hidden,
                "depth": self.depth,
                "dtype": str(self.nets[0].weights[0].dtype).replace("torch.", ""),
                "seed": self.seed}

    def _levels(self):
        return [getattr(self, f"level{k}") for k in range(len(self.nets))]

    def _last_logits(self, neighbour_spins: torch.Tensor) -> torch.Tensor:
        """Logit of x = 1 of the last level's spins from their neighbours (..., 2 dim)."""
        if self.exact_last_level:
            return (2 * self.beta) * (self.J * neighbour_spins.sum(-1) + self.h)
        return neighbour_spins @ self.last_weight + self.last_bias

    def init_from_smaller_(self, smaller: "HAN") -> int:
        """Pretraining from a smaller lattice: copy the networks of ``smaller`` (a HAN of
        the same dim, hidden width and depth) that generate cells of the sizes both
        hierarchies share (every level below this one's top cell) and its learned last
        level; the level-0 net and the top cell's net keep their values. Returns the
        number of level networks copied."""
        if not isinstance(smaller, HAN) or smaller.dim != self.dim:
            raise TypeError(f"need a {self.dim}D HAN to copy from, got {smaller!r}")
        if (smaller.hidden, smaller.depth) != (self.hidden, self.depth):
            raise ValueError(f"the HANs differ in hidden width or depth: {smaller.hidden}, "
                             f"{smaller.depth} against {self.hidden}, {self.depth}")
        if smaller.exact_last_level != self.exact_last_level:
            raise ValueError("one HAN has an exact last level and the other does not")
        shared = [(mine, theirs) for mine, theirs in zip(self.nets[:0:-1], smaller.nets[:0:-1])
                  if (mine.context, mine.n) == (theirs.context, theirs.n)]
        if len(shared) == len(self.nets) - 1 or not shared and len(smaller.nets) > 1:
            raise ValueError(f"{smaller!r} is not a smaller lattice of this hierarchy")
        with torch.no_grad():
            for mine, theirs in shared:
                mine.load_state_dict(theirs.state_dict())
            if not self.exact_last_level:
                self.last_weight.copy_(smaller.last_weight)
                self.last_bias.copy_(smaller.last_bias)
        return len(shared)

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        """With the exact last level: ValueError unless ``hamiltonian`` is the periodic
        lattice (box) Ising model with this HAN's J and h (compared by its dense
        couplings and fields) and ``beta`` is its beta. A learned last level fits any target."""
        if not self.exact_last_level:
            return
        described = (f"this HAN's exact last level is the heat bath of the periodic "
                     f"{'x'.join(map(str, self.shape))} Ising model with J={self.J:g}, "
                     f"h={self.h:g} at "
                     f"beta={self.beta:g}")
        if beta is not None and abs(float(beta) - self.beta) > 1e-12 * self.beta:
            raise ValueError(f"{described}, not at beta={float(beta):g}")
        couplings, fields = target_couplings(hamiltonian, described)
        from ..physics import Ising2D, Ising3D
        lattice = Ising2D(self.L) if self.dim == 2 else Ising3D(self.shape)
        expected = self.J * lattice.couplings
        if couplings.shape != expected.shape or \
                float((couplings - expected).abs().max()) > 1e-12:
            raise ValueError(f"{described}; {hamiltonian!r} has other couplings (another "
                             "lattice, boundary or J)")
        if float((fields - self.h).abs().max()) > 1e-12:
            raise ValueError(f"{described}; {hamiltonian!r} has other fields (h)")

    def _all_logits(self, x: torch.Tensor):
        """Pairs (logits, target spins) of every level, each ``(B, ...)``; the levels'
        logits, flattened square-fastest, are in the model's ``order``."""
        spins = (2 * x - 1).to(self._float_dtype())
        out = []
        for net, index, c in zip(self.nets, self._levels(), self._contexts):
            inputs = spins[:, index]  # (B, squares, context + cross)
            out.append((net(inputs), inputs[..., c:]))
        out.append((self._last_logits(spins[:, self.last_neighbours]),
                    spins[:, self.last_sites]))
        return out

    def _plain_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return sum(F.logsigmoid(logits * target).flatten(1).sum(1)
                   for logits, target in self._all_logits(x))

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        parts = [logits.transpose(1, 2).flatten(1) if logits.ndim == 3 else logits
                 for logits, _ in self._all_logits(x)]
        logit_one = parts[0].new_empty(x.shape[0], self.n_sites)
        logit_one[:, self.order] = torch.cat(parts, 1)
        return torch.stack([torch.zeros_like(logit_one), logit_one], -1)

    # ----------------------------------------------------------------- sampling
    def _sample_from(self, x: torch.Tensor, start: torch.Tensor, generator) -> torch.Tensor:
        """Exact sampling of order positions ``>= start[b]`` (earlier ones kept).

        Draws the same uniforms as the base class's loop (one ``(B, n_sites)`` float64
        draw, column t for order position t), so it reproduces its samples; each level
        is one pass over its cross positions with all squares at once.
        """
        batch = x.shape[0]
        dtype = self._float_dtype()
        uniform = torch.rand(batch, self.n_sites, generator=generator, device=x.device,
                             dtype=torch.float64).to(dtype)
        first = int(start.min())
        positions = torch.arange(self.n_sites, device=x.device)
        offset = 0
        with torch.no_grad():
            for net, index, c in zip(self.nets, self._levels(), self._contexts):
                squares, n = index.shape[0], index.shape[1] - c
                size = squares * n
                if offset + size > first:
                    inputs = (2 * x[:, index] - 1).to(dtype)  # (B, squares, c + n)
                    kept = x[:, index[:, c:]]

                    def decide(i, logit, kept=kept, base=offset, squares=squares):
                        span = slice(base + i * squares, base + (i + 1) * squares)
                        drawn = (torch.sigmoid(-logit.view(batch, squares))
                                 < uniform[:, span]).long()
                        free = start[:, None] <= positions[span]
                        return torch.where(free, drawn, kept[..., i]).view(-1)

                    values = net.sample(inputs.view(batch * squares, c + n), decide)
                    x[:, index[:, c:]] = values.view(batch, squares, n)
                offset += size
            span = slice(offset, self.n_sites)
            logit = self._last_logits((2 * x[:, self.last_neighbours] - 1).to(dtype))
            drawn = (torch.sigmoid(-logit) < uniform[:, span]).long()
            free = start[:, None] <= positions[span]
            x[:, self.last_sites] = torch.where(free, drawn, x[:, self.last_sites])
        return x

    @classmethod
    def _from_version_1(cls, config: dict, state: dict) -> "HAN":
        """tnborn 0.1 made the last level exact whenever beta was given."""
        config = dict(config)
        config["exact_last_level"] = config.get("beta") is not None
        if not config["exact_last_level"]:
            config.pop("beta", None), config.pop("J", None), config.pop("h", None)
        return super()._from_version_1(config, state)

    def _repr_fields(self) -> dict:
        last = f"exact heat bath at beta={self.beta}" if self.exact_last_level else "learned"
        return {"L": self.L, "dim": self.dim, "hidden": self.hidden, "depth": self.depth,
                "levels": len(self.nets) + 1, "last_level": last}
