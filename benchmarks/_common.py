"""Helpers shared by the benchmark scripts: timing and the ratio table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time


def run_once(path: str, env: dict, timeout: float = 600):
    """Run the script at ``path`` once in a fresh interpreter: (wall seconds, stdout)
    or (None, last line of stderr) if it failed."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, path], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=os.path.dirname(path))
    secs = time.perf_counter() - start
    if proc.returncode != 0:
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
    return secs, proc.stdout


def machine_speed() -> str:
    """A fixed pure-Python loop, timed in a fresh interpreter: how fast this
    machine runs right now. Its speed drifts (here ``sum(range(10**8))``
    has taken 1.0 s on most days and 2-4 s on some), and the ratios of
    programs that wait on dask's periodic work move with it, so each run
    prints this beside its numbers."""
    proc = subprocess.run([sys.executable, "-c",
                           "import time; t = time.perf_counter(); sum(range(10**8)); "
                           "print(time.perf_counter() - t)"], capture_output=True, text=True)
    return f"machine speed: sum(range(10**8)) took {float(proc.stdout):.2f} s in a fresh interpreter"


def persisted_with_copies(client, X, y):
    """``X`` and ``y`` persisted on the workers (waited for) and their NumPy
    copies here: every library then starts from data already in memory."""
    from dask.distributed import wait

    X, y = client.persist([X, y])
    wait([X, y])
    return X, y, X.compute(), y.compute()


def script_env(env_extra: dict | None = None) -> dict:
    """This environment without DASK_* settings, plus ``env_extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env.update(env_extra or {})
    return env


def timed(fn, repeat: int = 1):
    """Median wall time of ``fn()`` and its last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def paired(times: dict, top: str, bottom: str) -> list[float]:
    """Per-round ratios ``times[top][r] / times[bottom][r]`` (rounds timed in pairs)."""
    return [t / b for t, b in zip(times[top], times[bottom])]


def median_table(title: str, rows: list[tuple[str, list[float], str]]) -> str:
    """Rows of (program, per-round seconds, note): the median of each ("failed" when none)."""
    lines = [title, f"{'program':<44} {'seconds':>8}  note", "-" * 92]
    for label, times, note in rows:
        secs = f"{statistics.median(times):8.2f}" if times else f"{'failed':>8}"
        lines.append(f"{label:<44} {secs}  {note}")
    return "\n".join(lines)


def ratio_line(label: str, ratios: list[float], target: str) -> str:
    """The median of per-round ratios, with their range."""
    spread = f"{min(ratios):.3f}-{max(ratios):.3f}" if len(ratios) > 1 else "one round"
    return f"{label:<44} {statistics.median(ratios):6.3f}x  (rounds: {spread}; target {target})"


def table(title: str, rows: list[tuple[str, float | None, str]], baseline: str) -> str:
    """Rows of (name, seconds or None, note); ratios are other / baseline."""
    base = dict((n, s) for n, s, _ in rows)[baseline]
    lines = [title, f"{'program':<42} {'seconds':>9} {'vs ' + baseline:>16}  note",
             "-" * 90]
    for name, secs, note in rows:
        if secs is None:
            lines.append(f"{name:<42} {'failed':>9} {'':>16}  {note}")
        else:
            lines.append(f"{name:<42} {secs:9.2f} {secs / base:15.2f}x  {note}")
    return "\n".join(lines)
