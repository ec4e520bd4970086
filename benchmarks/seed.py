"""The tutorial end to end: dasklearn vs dask-ml vs plain scikit-learn, each
run as a fresh program, interleaved round by round.

    python -m pip install -e ".[bench]" && python benchmarks/seed.py

- dasklearn: examples/tutorial.py as shipped (GridSearchCV over the 25-point
  grid its scipy distributions expand to).
- dask-ml: the same program on dask_ml; its GridSearchCV rejects the
  distributions, so it runs RandomizedSearchCV(n_iter=25) as the issue asks.
- scikit-learn: the same steps in memory, RandomizedSearchCV(n_iter=25,
  n_jobs=2), no Client.

Two times per program:
- **whole program**: wall time of the process, from interpreter start to exit
  (imports, ~2 s here, and module teardown, ~0.5 s, included);
- **steps**: the tutorial's numbered steps, from ``client = Client()`` to
  ``client.close()`` (for scikit-learn, from making the data to the test
  score), timed inside the program.

This machine's speed drifts by 10-30% within minutes, so the programs run in
rounds (one of each per round, in rotating order) and each ratio is the
median of the per-round ratios, with their range.

dasklearn's modules are compiled to bytecode before the rounds, as the
peers' installed modules are: pip compiles a regular install, but this
machine sets PYTHONDONTWRITEBYTECODE, so an editable install would otherwise
be compiled from source in every program (about 0.1 s here).

Both Dask programs start their workers with the same method (fork; dasklearn
sets it by default on Linux, and dask-ml's program gets it through the
environment, since with dask's default 'spawn' the unguarded script fails).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import tempfile
from pathlib import Path

from _common import machine_speed, ratio_line, run_once, script_env

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = (ROOT / "examples" / "tutorial.py").read_text()
DASK_ML = (
    TUTORIAL.replace("dasklearn", "dask_ml")
    .replace("from dask_ml.model_selection import GridSearchCV",
             "from dask_ml.model_selection import RandomizedSearchCV")
    .replace("GridSearchCV(estimator, params, cv=3)",
             "RandomizedSearchCV(estimator, params, n_iter=25, cv=3, random_state=0)")
)
DASK_ML_GRID = TUTORIAL.replace("dasklearn", "dask_ml")
SKLEARN = '''from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split, RandomizedSearchCV
from sklearn.linear_model import SGDClassifier
from scipy.stats import uniform, loguniform
X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y)
estimator = SGDClassifier(random_state=10, max_iter=100)
params = {'alpha': loguniform(1e-5, 1e-1), 'l1_ratio': uniform(0, 1)}
search = RandomizedSearchCV(estimator, params, n_iter=25, cv=3, n_jobs=2, random_state=0)
search.fit(X_train, y_train)
print("Best parameters:", search.best_params_)
print("Best score:", search.best_score_)
print("Test score:", search.score(X_test, y_test))
'''
_START = "import time as _bench_time; _bench_t0 = _bench_time.perf_counter()\n"
_STOP = "\nprint('STEPS', _bench_time.perf_counter() - _bench_t0)\n"


def with_step_timer(code: str, first_step: str, last_step: str | None) -> str:
    """``code`` with a timer started before the line ``first_step`` and printed
    after the line ``last_step`` (None: at the end)."""
    assert first_step in code and (last_step is None or last_step in code)
    code = code.replace(first_step, _START + first_step, 1)
    if last_step is None:
        return code + _STOP
    return code.replace(last_step, last_step + _STOP, 1)


def _scores(out: str) -> str:
    best = re.search(r"Best score: ([0-9.]+)", out)
    test = re.search(r"Test score: ([0-9.]+)", out)
    return f"best {float(best.group(1)):.3f}, test {float(test.group(1)):.3f}" if best and test else out


def _steps(out: str) -> float:
    return float(re.search(r"^STEPS ([0-9.eE+-]+)$", out, re.M).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine_speed(), flush=True)
    import compileall

    import dasklearn

    # as the peers' installed modules (see above): each program reads the bytecode
    compileall.compile_dir(os.path.dirname(dasklearn.__file__), quiet=1)
    fork = script_env({"DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD": "fork"})
    programs = {
        "dasklearn": (with_step_timer(TUTORIAL, "client = Client()", "client.close()"), script_env()),
        "scikit-learn": (with_step_timer(SKLEARN, "X, y = make_classification", None), script_env()),
        "dask-ml": (with_step_timer(DASK_ML, "client = Client()", "client.close()"), fork),
    }
    labels = {"dasklearn": "dasklearn GridSearchCV (25-point grid)",
              "scikit-learn": "scikit-learn RandomizedSearchCV n_jobs=2",
              "dask-ml": "dask-ml RandomizedSearchCV n_iter=25"}
    whole = {k: [] for k in programs}
    steps = {k: [] for k in programs}
    notes = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, (code, _) in programs.items():
            paths[name] = os.path.join(tmp, f"program_{name.replace('-', '_')}.py")
            Path(paths[name]).write_text(code)
        grid_path = os.path.join(tmp, "program_dask_ml_grid.py")
        Path(grid_path).write_text(DASK_ML_GRID)
        secs, out = run_once(grid_path, fork)
        print(f"  dask-ml GridSearchCV as written: {'ran' if secs else 'failed: ' + out[:100]}", flush=True)
        order = list(programs)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                secs, out = run_once(paths[name], programs[name][1])
                if secs is None:
                    raise SystemExit(f"{name} failed: {out}")
                whole[name].append(secs)
                steps[name].append(_steps(out))
                notes[name] = _scores(out)
                print(f"  round {r + 1}: {name:<13} whole {secs:6.2f} s, steps {steps[name][-1]:6.2f} s",
                      flush=True)
    print()
    print("Tutorial, 2 cores (median over rounds)")
    print(f"{'program':<42} {'whole program':>14} {'steps':>8}  scores")
    print("-" * 92)
    for name in programs:
        print(f"{labels[name]:<42} {statistics.median(whole[name]):12.2f} s "
              f"{statistics.median(steps[name]):6.2f} s  {notes[name]}")
    print()
    for kind, data in (("whole program", whole), ("steps", steps)):
        ours = data["dasklearn"]
        print(ratio_line(f"dask-ml / dasklearn, {kind}:", [d / o for d, o in zip(data["dask-ml"], ours)],
                          ">= 10x"))
        print(ratio_line(f"dasklearn / scikit-learn, {kind}:",
                          [o / s for o, s in zip(ours, data["scikit-learn"])], "<= 3x"))


if __name__ == "__main__":
    main()
    print(machine_speed(), "(after the run)")
