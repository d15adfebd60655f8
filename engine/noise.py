"""Reproducible Gaussian gradient noise, keyed by (seed, step, coordinate).

A counter-based generator: each value is a hash of its key, so a run's noise does not depend on
which other runs share its batch, on the chunking of the loop, or on the device. That is what
makes "batched equals one-by-one" hold with noise, and CPU equal CUDA.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_U64 = 1 << 64


def _signed(c: int) -> int:
    """A 64-bit constant as the int64 with the same bits (torch has no uint64 arithmetic)."""
    return c - _U64 if c >= 1 << 63 else c


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shift_right(z: Tensor, k: int) -> Tensor:
    """Logical shift of int64 bits (>> is arithmetic on signed ints)."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def _mix64(z: Tensor) -> Tensor:
    """SplitMix64's finaliser (Steele, Lea & Flood 2014): int64 products wrap modulo 2⁶⁴."""
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def _mix64_(z: Tensor, scratch: Tensor) -> Tensor:
    """_mix64 in place (z is overwritten, scratch is a buffer of z's shape): the same bits, with no
    new tensor per operation."""
    for shift, factor in ((30, _MIX1), (27, _MIX2), (31, None)):
        torch.bitwise_right_shift(z, shift, out=scratch)
        scratch &= (1 << (64 - shift)) - 1
        z ^= scratch
        if factor is not None:
            z *= factor
    return z


# Elements per block of gaussian(): a block's int64 temporaries (a few MB) stay in the CPU's caches;
# over a whole (steps, 2, B) array at once, every one of ~40 operations streamed it through memory
# (a 16 × 64 × 8-run noisy race spent 3 of its 4 s per optimizer here).
_BLOCK = 1 << 17


def gaussian(seeds: Tensor, t0: int, count: int, dtype: torch.dtype) -> Tensor:
    """Standard normal draws for steps t0 .. t0+count-1: shape (count, 2, B).

    seeds: int64 tensor (B,). Box–Muller on two 53-bit uniforms from two hashed counters. Computed in
    blocks of steps; each value is a function of (seed, step, coordinate) alone, so the blocks change
    no bit.
    """
    device = seeds.device
    batch = seeds.numel()
    key = _mix64(seeds.view(1, 1, -1) * _GOLDEN + 1)
    coord = torch.arange(2, device=device, dtype=torch.int64).view(1, 2, 1)
    out = torch.empty((count, 2, batch), dtype=torch.float64, device=device)
    rows = max(1, _BLOCK // max(2 * batch, 1))
    for i in range(0, count, rows):
        n = min(rows, count - i)
        steps = torch.arange(t0 + i, t0 + i + n, device=device, dtype=torch.int64).view(n, 1, 1)
        base = key + (steps * 4 + coord * 2) * _GOLDEN
        scratch = torch.empty_like(base)
        h1 = _mix64_(base.clone(), scratch)
        h2 = _mix64_(base.add_(1), scratch)
        torch.bitwise_right_shift(h1, 11, out=scratch)
        scratch &= (1 << 53) - 1
        u1 = (scratch + 1).to(torch.float64).mul_(2.0**-53)  # (0, 1]: log is finite
        torch.bitwise_right_shift(h2, 11, out=scratch)
        scratch &= (1 << 53) - 1
        u2 = scratch.to(torch.float64).mul_(2.0**-53)
        torch.mul(torch.log(u1).mul_(-2.0).sqrt_(), torch.cos(u2.mul_(2.0 * math.pi)), out=out[i : i + n])
    return out.to(dtype)


def _permutation(seeds: Tensor, n_examples: int, epoch: int) -> Tensor:
    """(B, N): each run's order of the N examples in this epoch, a hash of (seed, epoch, example) sorted."""
    device = seeds.device
    examples = torch.arange(n_examples, device=device, dtype=torch.int64).view(1, -1)
    base = _mix64(seeds.view(-1, 1) * _GOLDEN + 3) + (epoch * n_examples + examples) * _GOLDEN
    return torch.argsort(_mix64(base), dim=1)


def minibatches(seeds: Tensor, n_examples: int, size: int, t0: int, count: int) -> Tensor:
    """The example indices of steps t0 .. t0+count-1: shape (count, B, size).

    Each run (by its seed) goes through the data set in epochs of N // size steps, each epoch in a
    new order: within an epoch no example is drawn twice. The N % size examples left at the end of an
    epoch's order are skipped (PyTorch's DataLoader with drop_last=True). Keyed by (seed, epoch) like
    the Gaussian noise, so a run's batches do not depend on the other runs in its batch.
    """
    per_epoch = n_examples // size
    orders: dict[int, Tensor] = {}
    rows = []
    for t in range(t0, t0 + count):
        epoch, position = divmod(t, per_epoch)
        if epoch not in orders:
            orders[epoch] = _permutation(seeds, n_examples, epoch)
        rows.append(orders[epoch][:, position * size : (position + 1) * size])
    return torch.stack(rows)
