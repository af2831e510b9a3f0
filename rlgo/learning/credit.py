"""Plumbing the learners share to show their credit assignment (the optional
:class:`rlgo.protocols.CreditAssigner`): a policy's probabilities and the parameter
gradient of a weighted sum of its log-probabilities, for a network in eval mode."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from rlgo.learning.network import masked_log_softmax

LogPolicy = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(obs [B, 17, N, N], mask [B, A] bool) -> log pi [B, A] (differentiable)."""


def softmax_log_policy(net: torch.nn.Module, temperature: float = 1.0) -> LogPolicy:
    """The masked softmax of a policy network's logits at ``temperature``."""
    def log_policy(obs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits, _ = net(obs)
        return masked_log_softmax(logits / temperature, mask)
    return log_policy


@torch.no_grad()
def probabilities(net: torch.nn.Module, log_policy: LogPolicy, obs: np.ndarray,
                  mask: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """[T, A] float32 policy of ``net`` (eval mode), exactly zero on illegal actions."""
    was = net.training
    net.eval()
    dev = next(net.parameters()).device
    out = []
    for i in range(0, len(obs), chunk):
        m = torch.from_numpy(mask[i:i + chunk]).to(dev)
        p = log_policy(torch.from_numpy(obs[i:i + chunk]).to(dev), m).exp()
        out.append(p.masked_fill(~m, 0.0).cpu().numpy().astype(np.float32))
    net.train(was)
    return np.concatenate(out) if out else np.zeros((0, mask.shape[1]), np.float32)


def policy_gradient(net: torch.nn.Module, log_policy: LogPolicy, obs: np.ndarray,
                    mask: np.ndarray, weights: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Flat gradient over ``net``'s parameters of ``sum_t sum_a weights[t, a] * log
    pi(a | s_t)``, the network in eval mode; NaN weights count as zero."""
    was = net.training
    net.eval()
    dev = next(net.parameters()).device
    params = [p for p in net.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    w_all = np.nan_to_num(np.asarray(weights, np.float32))
    for i in range(0, len(obs), chunk):
        w = torch.from_numpy(w_all[i:i + chunk]).to(dev)
        m = torch.from_numpy(mask[i:i + chunk]).to(dev)
        logp = log_policy(torch.from_numpy(obs[i:i + chunk]).to(dev), m)
        objective = (w * logp.masked_fill(~m, 0.0)).sum()
        grads = torch.autograd.grad(objective, params, allow_unused=True)
        for t, g in zip(total, grads, strict=True):
            if g is not None:
                t += g
    net.train(was)
    return torch.cat([t.flatten() for t in total]).cpu().numpy().astype(np.float64)
