"""Instruction augmentation for training batches (never applied to validation or inference).

A VLA trained from scratch on a handful of phrasings per task learns the exact word sequence
and misreads a paraphrase it never saw: the demo policy ran the open-drawer motion for "shut the
drawer" although the open drawer in its cameras said otherwise. Dropping words at random makes
single words carry the task and leaves the scene to decide when the words do not.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def drop_instruction_words(texts: Sequence[str], p: float, rng: np.random.Generator) -> list[str]:
    """Each word is dropped with probability `p`; at least one word of every instruction stays."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"word dropout must be in [0, 1), got {p}")
    out = []
    for text in texts:
        words = text.split()
        if p == 0.0 or len(words) < 2:
            out.append(text)
            continue
        keep = rng.random(len(words)) >= p
        if not keep.any():
            keep[rng.integers(len(words))] = True
        out.append(" ".join(w for w, k in zip(words, keep) if k))
    return out
