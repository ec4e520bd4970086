"""Pure policy: how many small work items go into the next task.

A task costs a few milliseconds of scheduling and transfer; a fit can take
anything from a millisecond to hours. The policy starts with one item per task
(so the first results arrive quickly and tell us how long an item takes), then
packs items so that each task runs for about ``target_seconds``, but never so
many that the remaining work can no longer be spread over every slot (that
would leave workers idle at the end).

Everything here is plain arithmetic on numbers the runner observed; it is
tested without a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class BatchPolicy:
    n_slots: int
    target_seconds: float = 0.2
    tasks_per_slot: int = 2
    _seconds: float = field(default=0.0, init=False)
    _items: int = field(default=0, init=False)

    def observe(self, n_items: int, seconds: float) -> None:
        """Record that ``n_items`` items took ``seconds`` of compute in total."""
        self._items += n_items
        self._seconds += seconds

    @property
    def seconds_per_item(self) -> float | None:
        return self._seconds / self._items if self._items else None

    def next_size(self, remaining: int) -> int:
        """Number of items for the next task, given ``remaining`` items left."""
        if remaining <= 0:
            return 0
        # keep enough tasks that every slot has work until the end
        fair_share = max(1, remaining // (self.n_slots * self.tasks_per_slot))
        per_item = self.seconds_per_item
        if per_item is None:
            return 1
        wanted = max(1, math.ceil(self.target_seconds / max(per_item, 1e-6)))
        return min(wanted, fair_share)

    @property
    def max_in_flight(self) -> int:
        return self.n_slots * self.tasks_per_slot


def longest_first(queue: list[int], keys: list[tuple], mean_seconds: dict) -> list[int]:
    """Reorder the leading run of ``queue`` that shares its first item's phase.

    ``keys[k]`` is ``(phase, group)`` of ``queue[k]``: items are dispatched
    phase by phase (a search's splits: consecutive items reuse one fold), and
    items of one group (a candidate) take about the same time, estimated by
    ``mean_seconds[group]``. Within the leading phase, the longest expected
    items go first and the shortest last (unknown groups count as longest),
    so that the last tasks of a run are short and no slot waits long for the
    others to finish (longest-processing-time-first scheduling). The order is
    otherwise stable; later phases are untouched.
    """
    if not queue:
        return queue
    phase = keys[0][0]
    end = 0
    while end < len(queue) and keys[end][0] == phase:
        end += 1
    inf = float("inf")
    head = sorted(range(end), key=lambda k: -mean_seconds.get(keys[k][1], inf))
    return [queue[k] for k in head] + queue[end:]
