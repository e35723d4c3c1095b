"""Named random streams, so adding draws in one component never shifts another.

Every component asks for its own generator by name; the same seed and name always
give the same stream, which is what makes generation byte-reproducible.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *names: str | int) -> np.random.Generator:
    """Independent generator for (seed, names...)."""
    key = [int(seed) & 0xFFFFFFFF]
    for name in names:
        key.append(zlib.crc32(str(name).encode("utf-8")))
    return np.random.default_rng(key)


def pick(rng: np.random.Generator, options, weights, size=None):
    """Weighted choice from a sequence of options (weights need not sum to 1)."""
    w = np.asarray(weights, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=w / w.sum())
