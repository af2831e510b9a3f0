"""The policy-value network shared by every learner, so that a comparison holds
capacity fixed: a residual CNN in the AlphaGo Zero layout, scaled down.

Input: [B, 17, N, N] planes (``GoEngine.observations``). Output: policy logits over the
N*N+1 actions and a value in [-1, 1], the expected result for the player to move; an
auxiliary head predicts each point's final owner (:meth:`PolicyValueNet.forward_ownership`)
for learners that train on it.

BatchNorm and consistency between acting and learning: :meth:`PolicyValueNet.evaluate`
(acting) always uses the running statistics (eval mode). A learner whose loss compares
the network with the policy that acted (a likelihood ratio, PPO) must compute that loss in
eval mode too, and may then refresh the statistics with :meth:`PolicyValueNet.refresh_norm`
(a no-gradient pass in train mode); learners with fixed targets (search distillation) train
in train mode as usual.

Acting in bfloat16: with ``precision = "bfloat16"``, :meth:`PolicyValueNet.evaluate` runs an
acting copy of the network instead of the network itself (a subclass, whose layers the
copy would not know, acts through its own :meth:`forward` under autocast): BatchNorm folded into the
convolutions before it (eval mode's function), weights held in bfloat16, channels-last, so
no cast runs per call. It is rebuilt whenever any parameter or buffer of the network changed
(an optimiser step, ``load_state_dict``, new BatchNorm statistics: torch's in-place version
counters), so acting always uses the current weights. It computes eval mode's function up
to bfloat16 rounding, not bit for bit as :meth:`forward` does under autocast: a learner that
needs the two equal (PPO's ratio) recomputes its behaviour log-probabilities with
:meth:`forward` (:attr:`PolicyValueNet.acts_as_it_learns`). Where the device has no
bfloat16 matrix instructions (:func:`bfloat16_supported`), a bfloat16 network falls back to
float32 throughout, with a warning.

Devices: the network lives on one torch device (``PolicyValueNet.to``); :meth:`evaluate`
takes and returns numpy arrays and moves them as needed, so players and the search never
see a tensor.
"""

from __future__ import annotations

import contextlib
import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlgo.envs.engine import NUM_PLANES
from rlgo.learning.checks import check_config

#: Logit given to illegal actions (finite, so a fully masked row cannot produce NaN).
ILLEGAL_LOGIT = -1e9

#: The arithmetics a network runs in, and the autocast dtype of each (None: no autocast).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}
#: :attr:`NetConfig.precision`'s values: an arithmetic, or "auto" (:func:`effective_precision`).
PRECISION_CHOICES = ("auto", *PRECISIONS)


@dataclass(frozen=True)
class NetConfig:
    """Size of the shared network."""

    blocks: int = 4
    """Residual blocks in the trunk."""
    channels: int = 32
    """Convolution channels in the trunk."""
    value_hidden: int = 64
    """Width of the value head's hidden layer."""
    norm: str = "batch"
    """Normalisation layers: "batch" (BatchNorm, AlphaGo Zero's; acting uses the running
    statistics, training the batch's) or "group" (GroupNorm, 8 groups in the trunk: the
    same function in training and in play, whatever the batch)."""
    precision: str = "auto"
    """Arithmetic of the network: "float32"; "bfloat16" (training passes under torch
    autocast, weights, normalisation statistics and optimiser state float32; acting through
    a bfloat16 copy of the weights with BatchNorm folded in, rebuilt after every update);
    or "auto", the default: bfloat16 where the device multiplies bfloat16 matrices in
    hardware (AVX512-BF16 or AMX, a recent GPU), float32 elsewhere. On this project's CPU
    (AMX) each of the four learners with the default network on 7x7 learned as well in
    bfloat16 in 1.6-1.9x less training time (``studies/precision_7x7.toml``,
    ``studies/precision_learners_7x7.toml``); too small a network (1x8) gains nothing."""

    def __post_init__(self) -> None:
        check_config(self, positive=("blocks", "channels", "value_hidden"),
                     choices={"norm": ("batch", "group"), "precision": PRECISION_CHOICES})


def _norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer over ``channels`` feature maps (:attr:`NetConfig.norm`)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.GroupNorm(math.gcd(8, channels), channels)


class _Block(nn.Module):
    def __init__(self, c: int, norm: str = "batch") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = _norm(norm, c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = _norm(norm, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place ReLUs on tensors nothing else reads (a normalisation's output, a fresh
        # sum): the same function, and the training step on 9x9 ran about 13% faster
        # (one memory pass fewer each, on 32 channels where memory bounds the step).
        y = F.relu_(self.bn1(self.conv1(x)))
        return F.relu_(x + self.bn2(self.conv2(y)))


class PolicyValueNet(nn.Module):
    """Residual policy-value network for one board size.

    ``forward`` is for training (gradients, no counting); :meth:`evaluate` is inference
    on numpy batches and adds the batch size to :attr:`evals`, the harness's ``nn_evals``.
    """

    def __init__(self, board_size: int, config: NetConfig = NetConfig()) -> None:
        super().__init__()
        n, c = board_size, config.channels
        self.board_size = board_size
        self.config = config
        self.num_actions = n * n + 1
        self.stem = nn.Sequential(
            nn.Conv2d(NUM_PLANES, c, 3, padding=1, bias=False), _norm(config.norm, c),
            nn.ReLU(inplace=True)
        )
        self.trunk = nn.Sequential(*[_Block(c, config.norm) for _ in range(config.blocks)])
        self.policy_conv = nn.Sequential(nn.Conv2d(c, 2, 1, bias=False), _norm(config.norm, 2),
                                         nn.ReLU())
        self.policy_fc = nn.Linear(2 * n * n, self.num_actions)
        self.value_conv = nn.Sequential(nn.Conv2d(c, 1, 1, bias=False), _norm(config.norm, 1),
                                        nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(n * n, config.value_hidden), nn.ReLU(),
                                      nn.Linear(config.value_hidden, 1))
        self.ownership_conv = nn.Conv2d(c, 1, 1)
        self.evals = 0
        # NHWC convolutions: on CPU training passes ran ~1.4x faster on 7x7 at batch 512
        # (inference about even); the weights' values and the state dict are unchanged.
        self.to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``obs`` [B, 17, N, N] (any dtype) -> (logits [B, A], value [B] in [-1, 1]),
        float32 whatever :attr:`NetConfig.precision`."""
        with self._autocast():
            x = self.trunk(self.stem(self._input(obs)))
            logits, value = self._policy_value(x)
        return logits.float(), value.float()

    def forward_ownership(self, obs: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward` plus the auxiliary ownership head (KataGo): logits [B, N*N]
        whose tanh is the predicted final owner of each point from the mover's view (+1
        the mover's area, -1 the opponent's). Only learners that train it call this;
        play never does."""
        with self._autocast():
            x = self.trunk(self.stem(self._input(obs)))
            logits, value = self._policy_value(x)
            ownership = self.ownership_conv(x).flatten(1)
        return logits.float(), value.float(), ownership.float()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._weight_dtype() != torch.float32:
            return contextlib.nullcontext()  # held in its precision: it runs in it as it is
        return autocast(self.config.precision, self.device)

    def _weight_dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def _input(self, obs: torch.Tensor) -> torch.Tensor:
        """Planes in the weights' dtype and layout (channels-last)."""
        return obs.to(self._weight_dtype()).contiguous(memory_format=torch.channels_last)

    @property
    def acts_as_it_learns(self) -> bool:
        """Whether :meth:`evaluate` computes exactly eval mode's :meth:`forward` (float32,
        or bfloat16 without the acting copy); False when it runs the acting copy."""
        return self._acting_dtype() is None

    def _acting_dtype(self) -> torch.dtype | None:
        """The acting copy's dtype, or None when the network acts as itself: in float32,
        and for a subclass (its own layers and forward, which the copy would not know:
        it acts through :meth:`forward` under autocast)."""
        if type(self) is not PolicyValueNet:
            return None
        return _acting_dtype(self.config.precision, self.device)

    def _acting(self) -> nn.Module:
        """The module :meth:`evaluate` runs: this network, or its acting copy (module
        docstring), rebuilt when a parameter or buffer changed since it was made."""
        dtype = self._acting_dtype()
        if dtype is None:
            return self
        key = tuple((t.data_ptr(), t._version)  # in-place updates bump _version
                    for t in (*self.parameters(), *self.buffers()))
        cached = self.__dict__.get("_acting_copy")  # not a submodule: not in state_dict
        if cached is None or cached[0] != key:
            self.__dict__["_acting_copy"] = cached = (key, acting_copy(self, dtype))
        return cached[1]

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``nn.Module.load_state_dict``; weights saved before the ownership head existed
        (rlgo 0.1 checkpoints) load with this network's freshly initialised head, which
        play never uses."""
        fresh = {k: v for k, v in self.state_dict().items()
                 if k.startswith("ownership_conv.") and k not in state_dict}
        return super().load_state_dict({**state_dict, **fresh}, strict, assign)

    def _policy_value(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.policy_fc(self.policy_conv(x).flatten(1))
        value = torch.tanh(self.value_fc(self.value_conv(x).flatten(1))).squeeze(1)
        return logits, value

    @property
    def device(self) -> torch.device:
        """The device of its parameters (the first one's: a subclass may replace any
        layer)."""
        return next(self.parameters()).device

    @torch.no_grad()
    def refresh_norm(self, obs: torch.Tensor, minibatch: int = 1024) -> None:
        """Update BatchNorm's running statistics from ``obs`` [B, 17, N, N] without
        changing any weight (train-mode forward passes, no gradient), then return to the
        previous mode."""
        was_training = self.training
        self.train()
        try:
            for start in range(0, len(obs), minibatch):
                self(obs[start:start + minibatch].to(self.device))
        finally:
            self.train(was_training)

    @torch.no_grad()
    def evaluate(self, obs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inference: (masked log-probabilities [B, A] float32, value [B] float32).

        Runs in eval mode (BatchNorm running statistics) and restores the previous mode.
        """
        was_training = self.training
        self.eval()
        try:
            device = self.device
            logits, value = self._acting()(
                torch.from_numpy(np.ascontiguousarray(obs)).to(device))
            logp = masked_log_softmax(
                logits, torch.from_numpy(np.ascontiguousarray(mask)).to(device))
        finally:
            self.train(was_training)
        self.evals += len(obs)
        return logp.float().cpu().numpy(), value.float().cpu().numpy()


def adamw(params, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """The optimiser of every learner: AdamW, with torch's fused kernel where the
    parameters' device has one (CPU and CUDA; about 5% faster per training step on 9x9
    than the default multi-tensor kernel, the same update up to float rounding)."""
    params = list(params)
    fused = True if params[0].device.type in ("cpu", "cuda") else None  # None: the default
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` (:attr:`NetConfig.precision`) on ``device``'s
    kind; for float32 no context at all (a disabled autocast would also switch off one the
    caller opened around the network, nor where ``device`` has no bfloat16 matrix
    instructions: :func:`effective_precision`)."""
    dtype = PRECISIONS[effective_precision(precision, device)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def bfloat16_supported(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware: a CUDA GPU that says
    so, or a CPU with AVX512-BF16 or AMX that oneDNN uses. Elsewhere bfloat16 is emulated,
    slower than float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_bfloat16()


@functools.cache
def _cpu_bfloat16() -> bool:
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def effective_precision(precision: str, device: torch.device) -> str:
    """The arithmetic a network of :attr:`NetConfig.precision` ``precision`` runs in on
    ``device``: "auto" is bfloat16 where :func:`bfloat16_supported`, else float32; an
    explicit "bfloat16" falls back to float32 there too, with a warning (once per
    process)."""
    if precision == "auto":
        return "bfloat16" if bfloat16_supported(device) else "float32"
    if precision == "bfloat16" and not bfloat16_supported(device):
        _warn_no_bfloat16(device.type)
        return "float32"
    return precision


@functools.cache
def _warn_no_bfloat16(device_type: str) -> None:
    warnings.warn(f"net.precision = 'bfloat16' but this {device_type} has no bfloat16 "
                  "matrix instructions: the network runs in float32", stacklevel=3)


def _acting_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype of the acting copy, or None when the network acts as itself."""
    return PRECISIONS[effective_precision(precision, device)]


def fold_norm(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    """One convolution computing ``norm(conv(x))`` with ``norm``'s running statistics
    (eval mode): ``W' = W * g``, ``b' = beta + (b - mean) * g``, ``g = gamma / sqrt(var +
    eps)`` per output channel."""
    g = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    folded = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                       stride=conv.stride, padding=conv.padding, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * g[:, None, None, None])
        folded.bias.copy_(norm.bias + (bias - norm.running_mean) * g)
    return folded.to(conv.weight.device)


@torch.no_grad()
def acting_copy(net: PolicyValueNet, dtype: torch.dtype) -> PolicyValueNet:
    """A copy of ``net`` computing its eval-mode :meth:`~PolicyValueNet.forward` (up to
    ``dtype``'s rounding): BatchNorm folded into the convolutions before it (GroupNorm
    kept), every weight in ``dtype``, channels-last, in eval mode, not counting
    evaluations. The original is left as it is."""
    copy = PolicyValueNet(net.board_size, net.config)
    copy.load_state_dict(net.state_dict())

    def fold(pair_owner: nn.Module, conv: str, norm: str) -> None:
        if isinstance(getattr(pair_owner, norm), nn.BatchNorm2d):
            setattr(pair_owner, conv, fold_norm(getattr(pair_owner, conv),
                                                getattr(pair_owner, norm)))
            setattr(pair_owner, norm, nn.Identity())

    for seq in (copy.stem, copy.policy_conv, copy.value_conv):
        fold(seq, "0", "1")
    for block in copy.trunk:
        fold(block, "conv1", "bn1")
        fold(block, "conv2", "bn2")
    return copy.to(net.device, dtype).to(memory_format=torch.channels_last).eval()


def check_board_size(name: str, net: PolicyValueNet, positions_obs: np.ndarray) -> None:
    """ValueError unless ``positions_obs`` [B, 17, N, N] is on the network's board size."""
    n = positions_obs.shape[-1]
    if n != net.board_size:
        raise ValueError(f"{name} plays {net.board_size}x{net.board_size}, not {n}x{n}")


def resolve_device(device: str) -> torch.device:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:i]"``; asking for
    CUDA on a machine without it is a ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; "
                         "use 'cpu' or 'auto'")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'") from exc


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log-softmax over the legal actions; illegal actions get a very negative value."""
    return F.log_softmax(logits.masked_fill(~mask, ILLEGAL_LOGIT), dim=-1)


def tempered(logp: np.ndarray, temperature: float) -> np.ndarray:
    """Log-probabilities [B, A] of the policy ``pi^(1/T)`` renormalised: the distribution a
    player sampling at temperature T draws from (T = 1 returns ``logp`` unchanged)."""
    if temperature == 1.0:
        return logp
    z = logp.astype(np.float64) / temperature
    z -= z.max(axis=1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=1, keepdims=True))).astype(np.float32)


def sample_actions(logp: np.ndarray, rng: np.random.Generator, temperature: float = 1.0
                   ) -> np.ndarray:
    """One action per row of log-probabilities [B, A]; temperature 0 is argmax."""
    if temperature == 0:
        return logp.argmax(axis=1).astype(np.int64)
    z = logp / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p, axis=1)
    u = rng.random(len(p)) * cdf[:, -1]
    return np.minimum((cdf < u[:, None]).sum(axis=1), p.shape[1] - 1).astype(np.int64)
