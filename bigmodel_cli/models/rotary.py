"""Rotary positions (RoPE, RoFormer): queries and keys rotated by an angle that grows with the
position, so that a query at m meets a key at n through a rotation by m - n only.

Feature i of each head is paired with feature i + dim/2 (the "rotate half" layout of
GPT-NeoX, LLaMA and keras-hub's RotaryEmbedding), and the pair turns by position x
BASE^(-2i/dim): fast turns for the first pairs, slow ones for the last. No weights, so saving,
loading and the FLOPs count (element-wise, not counted) are those of the model without it.
Our own ops, not keras-hub's layer: keras-hub is an optional extra (pretrained), and this is
the same arithmetic in a dozen lines, with the angles in float32 under any compute dtype.
"""

from __future__ import annotations

import numpy as np
from keras import ops

BASE = 10_000.0  # RoFormer's wavelength base, as GPT-NeoX and LLaMA use


def inverse_frequencies(dim: int) -> np.ndarray:
    """(dim / 2,) float32: the turn per position of each feature pair."""
    half = dim // 2
    return (BASE ** (-np.arange(half, dtype=np.float64) / half)).astype(np.float32)


def rotate(x, positions):
    """x (batch, length, heads, dim) with the rotation of each position applied; `positions`
    (length,) integers, a tensor so that one compiled program serves every offset."""
    dim = x.shape[-1]
    half = dim // 2
    angles = ops.cast(positions, "float32")[:, None] * inverse_frequencies(dim)[None, :]
    cos = ops.cast(ops.cos(angles), x.dtype)[None, :, None, :]  # (1, length, 1, dim / 2)
    sin = ops.cast(ops.sin(angles), x.dtype)[None, :, None, :]
    first, second = x[..., :half], x[..., half:]
    return ops.concatenate([first * cos - second * sin, second * cos + first * sin], axis=-1)
