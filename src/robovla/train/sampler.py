"""A resumable, deterministic batch order (optionally mixing two sources at a fixed ratio).

Why: resuming after a kill must replay exactly the batches an uninterrupted run would have
seen. The order is a pure function of (seed, batch number), so a resumed run starts at batch
`start` without iterating through the skipped ones, and DDP ranks take interleaved batches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


def _epoch_perm(n: int, seed: int, source: int, epoch: int) -> torch.Tensor:
    digest = hashlib.sha256(f"{seed}:{source}:{epoch}".encode()).digest()
    g = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return torch.randperm(n, generator=g)


class MixedBatchSampler(Sampler[list[int]]):
    """Infinite batches; each takes counts[s] samples from source s (sources concatenated).

    Within a source, samples follow a fresh permutation per epoch of that source.
    """

    def __init__(self, sizes: list[int], counts: list[int], seed: int = 0, start: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        if len(sizes) != len(counts) or not sizes:
            raise ValueError("sizes and counts must be non-empty and of equal length")
        if any(n < 1 for n in sizes):
            raise ValueError(f"every source needs at least one sample, got sizes {sizes}")
        self.sizes, self.counts = list(sizes), list(counts)
        self.offsets = [sum(sizes[:i]) for i in range(len(sizes))]
        self.seed, self.start, self.rank, self.world = seed, start, rank, world
        self._perm_cache: dict[tuple[int, int], torch.Tensor] = {}

    def _item(self, source: int, pos: int) -> int:
        n = self.sizes[source]
        epoch, off = divmod(pos, n)
        key = (source, epoch)
        if key not in self._perm_cache:
            if len(self._perm_cache) > 8:
                self._perm_cache.clear()
            self._perm_cache[key] = _epoch_perm(n, self.seed, source, epoch)
        return self.offsets[source] + int(self._perm_cache[key][off])

    def batch(self, b: int) -> list[int]:
        """Global batch number b (all ranks together)."""
        out: list[int] = []
        for s, c in enumerate(self.counts):
            out += [self._item(s, b * c + j) for j in range(c)]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        b = self.start + self.rank
        while True:
            yield self.batch(b)
            b += self.world

    def epoch_of(self, b: int) -> int:
        """Epoch of the first source (the target data) at global batch b."""
        return (b * self.counts[0]) // self.sizes[0]
