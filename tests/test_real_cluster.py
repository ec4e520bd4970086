"""Runs against a real cluster: `dask scheduler` and `dask worker` started as
separate processes on 127.0.0.1, reached by address (plain TCP, then TLS)."""

import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn import model_selection as sk
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from dasklearn.model_selection import GridSearchCV
from test_tutorial import _check_outputs

pytestmark = pytest.mark.slow


def test_tutorial_against_cluster_by_address(cli_cluster):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    proc = subprocess.run([sys.executable, "-m", "dasklearn.cli", "demo", "--scheduler", cli_cluster],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"the cluster at {cli_cluster}" in proc.stdout
    _check_outputs(proc.stdout)


def test_grid_search_against_cluster_by_address(cli_cluster):
    from dask.distributed import Client

    X, y = make_classification(n_samples=500, n_features=8, random_state=0)
    splits = list(sk.KFold(3, shuffle=True, random_state=0).split(X))
    grid = {"C": [0.01, 0.1, 1.0]}
    with Client(cli_cluster) as client:
        assert len(client.nthreads()) == 2
        ours = GridSearchCV(LogisticRegression(), grid, cv=splits).fit(X, y)
    ref = sk.GridSearchCV(LogisticRegression(), grid, cv=splits).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], atol=1e-12)
    assert ours.best_params_ == ref.best_params_


def test_tls_cluster_requires_certificates(tmp_path):
    from dask.distributed import Client
    from distributed.security import Security

    from _clusters import cli_cluster, make_tls_files

    tls = make_tls_files(tmp_path / "certs")
    rogue = make_tls_files(tmp_path / "rogue")  # valid TLS files from another CA
    X, y = make_classification(n_samples=300, n_features=6, random_state=0)
    with cli_cluster(tmp_path / "cluster", tls=tls) as (address, _):
        assert address.startswith("tls://127.0.0.1:")
        security = Security(tls_ca_file=str(tls["ca"]), tls_client_cert=str(tls["cert"]),
                            tls_client_key=str(tls["key"]), require_encryption=True)
        with Client(address, security=security, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
            assert search.best_score_ > 0.7
        # Refused clients connect from a process of their own: a Client whose
        # constructor failed is cleaned up by its __del__, which in distributed
        # 2026.8 can block this process's event-loop runner for minutes.
        trusted = _connect_in_subprocess(address, tls, timeout="60s")  # the same helper, the right files
        assert trusted.returncode == 0 and "CONNECTED" in trusted.stdout, trusted.stdout + trusted.stderr
        refused = _connect_in_subprocess(address, None)  # no certificates at all
        assert refused.returncode != 0 and "REFUSED" in refused.stdout, refused.stdout + refused.stderr
        refused = _connect_in_subprocess(address, rogue)  # certificates the cluster does not trust
        assert refused.returncode != 0 and "REFUSED OSError" in refused.stdout, refused.stdout + refused.stderr


_CONNECT = """
import sys
from dask.distributed import Client
from distributed.security import Security

address, timeout, files = sys.argv[1], sys.argv[2], sys.argv[3:]
security = None
if files:
    ca, cert, key = files
    security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
try:
    client = Client(address, security=security, timeout=timeout)
except Exception as exc:
    print("REFUSED", "OSError" if isinstance(exc, OSError) else type(exc).__name__, flush=True)
    import os
    os._exit(1)  # skip the half-made Client's cleanup: the refusal is what is tested
print("CONNECTED", flush=True)
client.close()
"""


def _connect_in_subprocess(address, tls_files, timeout="5s"):
    """Try to connect a Client to ``address`` from a fresh process (with the
    given TLS files, or none) within ``timeout``; its stdout says REFUSED
    <error> or CONNECTED."""
    args = [] if tls_files is None else [str(tls_files["ca"]), str(tls_files["cert"]), str(tls_files["key"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    return subprocess.run([sys.executable, "-c", _CONNECT, address, timeout, *args], capture_output=True,
                          text=True, timeout=120, env=env)
