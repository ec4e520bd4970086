"""The tutorial our users start from, run as a user would run it."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT.parent / "shared" / "seed" / "000_5d850129aaa615b4.txt"


def _run(args, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _check_outputs(stdout):
    best = ast.literal_eval(re.search(r"Best parameters: (\{.*\})", stdout).group(1))
    test_score = float(re.search(r"Test score: ([0-9.]+)", stdout).group(1))
    best_score = float(re.search(r"Best score: ([0-9.]+)", stdout).group(1))
    # the 25-point grid expanded from loguniform(1e-5, 1e-1) x uniform(0, 1)
    alphas = 10 ** np.array([-4.6, -3.8, -3.0, -2.2, -1.4])
    l1_ratios = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    assert np.isclose(alphas, best["alpha"], rtol=1e-9).any(), best
    assert np.isclose(l1_ratios, best["l1_ratio"], rtol=1e-9).any(), best
    assert test_score > 0.6 and best_score > 0.6


def test_example_is_the_seed_with_imports_changed():
    if not SEED.exists():
        pytest.skip("shared/seed is not beside this checkout")
    text = SEED.read_text()
    block = re.split(r"\.\.\s+code-block:: python", text, maxsplit=1)[1].split(".. admonition::", 1)[0]
    seed_code = [line[4:] for line in block.splitlines() if ":linenos:" not in line]
    example = ROOT.joinpath("examples", "tutorial.py").read_text().splitlines()
    expected = [line.replace("dask_ml", "dasklearn") for line in seed_code]
    assert [line for line in example if line.strip()] == [line for line in expected if line.strip()]


@pytest.mark.slow
def test_tutorial_script_runs_as_written():
    _check_outputs(_run([sys.executable, "examples/tutorial.py"]))


@pytest.mark.slow
def test_demo_command_prints_steps_and_results():
    out = _run([sys.executable, "-m", "dasklearn.cli", "demo", "--n-workers", "2"])
    _check_outputs(out)
    assert "Step 7: search.fit (distributed)" in out and "total" in out


@pytest.mark.parametrize("args, message", [
    (["--n-workers", "0"], "expected a whole number >= 1, got '0'"),
    (["--n-workers", "-1"], "expected a whole number >= 1, got '-1'"),
    (["--scheduler", "foo"], "'foo' is not a scheduler address"),
    (["--scheduler", "tcp://127.0.0.1:99999", "--timeout", "30"], "port 99999 is not in 1-65535"),
    (["--scheduler", "tcp://127.0.0.1:9", "--timeout", "0.5"], "No Dask scheduler answered at tcp://127.0.0.1:9"),
    (["--scheduler", "http://127.0.0.1:8787"], "that is a web (dashboard) address"),
    (["--scheduler", "tls://127.0.0.1:9"], "tls:// needs TLS settings"),
    (["--scheduler", "tcp://127.0.0.1:9", "--timeout", "inf"], "expected a finite number of seconds > 0"),
])
def test_demo_command_refuses_bad_arguments_in_one_line(args, message, capsys):
    """A usage error or one line naming the problem, exit status 2: no
    traceback, no minute of waiting for workers that will never come."""
    from dasklearn.cli import main

    try:
        rc = main(["demo", *args])
    except SystemExit as usage_error:  # argparse's
        rc = usage_error.code
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err


def test_python_dash_m_dasklearn_and_version_flag():
    from dasklearn import __version__

    for argv in (["-m", "dasklearn", "--version"], ["-m", "dasklearn", "version"]):
        done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and __version__ in done.stdout, (argv, done.stdout, done.stderr)


def test_no_dashboard_without_bokeh_is_said_so():
    """Without bokeh, dask serves a page saying it is missing: the demo and a
    verbose search (both read this) say so instead of printing a link (with
    bokeh, or for a remote scheduler, the link)."""
    from importlib.util import find_spec

    from dasklearn._runtime._cluster import dashboard

    class Remote:  # only its dashboard_link is read
        dashboard_link = "http://127.0.0.1:8787/status"

    class Local(Remote):  # a cluster started in this process
        cluster = object()

    shown = dashboard(Local())
    if find_spec("bokeh") is None:
        assert "needs bokeh" in shown
    else:
        assert shown == Local.dashboard_link
    assert dashboard(Remote()) == Remote.dashboard_link
