"""A one-line text progress bar on stderr (no dependency)."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, enabled: bool, stream=None, prefix: str = ""):
        self.total = total
        self.tag = f"[dasklearn{prefix}]"  # dask-ml's searches tag their lines [CV{prefix}]
        self.label = label
        self.enabled = enabled and total > 0
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self._start = time.perf_counter()
        self._last = 0.0
        self._bar_open = False  # a bar is drawn on a line not yet ended

    def line(self, text: str, stream=None) -> None:
        """One whole line (on stdout by default), below the bar."""
        if self._bar_open:
            print(file=self.stream, flush=True)
            self._bar_open = False
        print(text, file=stream if stream is not None else sys.stdout, flush=True)

    def note(self, message: str) -> None:
        if self.enabled:
            print(f"{self.tag} {message}", file=self.stream, flush=True)

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.done < self.total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "-" * (width - filled)
        end = "\n" if self.done >= self.total else ""
        self._bar_open = not end
        print(
            f"\r{self.tag} {self.label} |{bar}| {self.done}/{self.total}"
            f" ({now - self._start:.1f}s)",
            end=end,
            file=self.stream,
            flush=True,
        )
