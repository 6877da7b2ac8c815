"""Replay buffer (a min-heap of the top prompts by accuracy) and DMU's priority queue.

Both hold only text and numbers, so they round-trip through the graph state.
"""

from __future__ import annotations

import heapq
import random
from typing import Any


class ReplayBuffer:
    """Keep the ``capacity`` best prompts by reward-set accuracy (GFlowPO replay).

    Only freshly sampled prompts are added; a text already held is not added twice.
    """

    def __init__(self, capacity: int = 1000) -> None:
        """Start empty."""
        self.capacity = capacity
        self._heap: list[tuple[float, int, str]] = []  # (acc, order, text): min at [0]
        self._texts: set[str] = set()
        self._order = 0

    def __len__(self) -> int:
        """Return the number of prompts held."""
        return len(self._heap)

    def clear(self) -> None:
        """Forget every prompt (their rewards were measured in another context)."""
        self._heap.clear()
        self._texts.clear()

    def add(self, text: str, accuracy: float) -> None:
        """Offer a prompt; the worst one leaves when the buffer is full."""
        if text in self._texts or not text.strip():
            return
        self._order += 1
        item = (accuracy, self._order, text)
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            self._texts.discard(heapq.heapreplace(self._heap, item)[2])
        else:
            return
        self._texts.add(text)

    def sample(self, n: int, rng: random.Random) -> list[tuple[str, float]]:
        """Draw ``n`` prompts uniformly (with replacement when fewer are held)."""
        if not self._heap:
            return []
        pool = [(t, a) for a, _, t in self._heap]
        return rng.sample(pool, n) if n <= len(pool) else [rng.choice(pool) for _ in range(n)]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        items = sorted(self._heap, key=lambda x: x[1])
        return {"capacity": self.capacity, "items": [[t, a] for a, _, t in items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, capacity: int = 1000) -> ReplayBuffer:
        """Rebuild a buffer saved by :meth:`to_dict`."""
        buf = cls(int((data or {}).get("capacity", capacity)))
        for text, acc in (data or {}).get("items", []):
            buf.add(str(text), float(acc))
        return buf


class TopQueue:
    """The DMU priority queue: the ``size`` best prompts by accuracy, no duplicates."""

    def __init__(self, size: int = 5) -> None:
        """Start empty."""
        self.size = size
        self.items: list[tuple[str, float]] = []

    def offer(self, text: str, accuracy: float) -> bool:
        """Insert ``text`` if it is new and good enough; return whether it entered."""
        if not text.strip() or any(t == text for t, _ in self.items):
            return False
        if len(self.items) >= self.size and accuracy <= self.items[-1][1]:
            return False
        self.items.append((text, accuracy))
        self.items.sort(key=lambda x: -x[1])  # stable: earlier ties stay first
        del self.items[self.size :]
        return any(t == text for t, _ in self.items)

    def draw(self, rng: random.Random) -> str | None:
        """Return one queued prompt at random, or None when empty."""
        return rng.choice(self.items)[0] if self.items else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"size": self.size, "items": [[t, a] for t, a in self.items]}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, size: int = 5) -> TopQueue:
        """Rebuild a queue saved by :meth:`to_dict`."""
        q = cls(int((data or {}).get("size", size)))
        q.items = [(str(t), float(a)) for t, a in (data or {}).get("items", [])]
        return q
