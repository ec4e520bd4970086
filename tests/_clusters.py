"""Real clusters for tests: `dask scheduler` and `dask worker` started as
separate processes on 127.0.0.1 (optionally requiring TLS), shut down cleanly."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent


# `python -m dask ...` that first asks Linux to SIGTERM it when the test
# process dies (PR_SET_PDEATHSIG), so that a killed or timed-out test run
# leaves no scheduler or worker behind to load the machine.
_LAUNCH = """
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
except (OSError, AttributeError):  # not Linux
    pass
if os.getppid() != int(os.environ["DASKLEARN_TEST_PARENT"]):
    sys.exit("the test process is gone")
sys.argv = ["dask", *sys.argv[1:]]
runpy.run_module("dask", run_name="__main__", alter_sys=True)
"""


def _dask_cli():
    # the `dask` command of this very interpreter (not whichever is first on PATH)
    return [sys.executable, "-c", _LAUNCH]


def make_tls_files(folder: Path) -> dict:
    """A CA and one certificate for 127.0.0.1 signed by it (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = key()
    ca = (x509.CertificateBuilder().subject_name(name("dasklearn test CA")).issuer_name(name("dasklearn test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf_key = key()
    import ipaddress

    leaf = (x509.CertificateBuilder().subject_name(name("127.0.0.1")).issuer_name(ca.subject)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                    serialization.PrivateFormat.TraditionalOpenSSL,
                                                    serialization.NoEncryption()))
    return files


def _read_address(scheduler_file: Path, proc, log: Path, timeout: float) -> str:
    """The scheduler's address, once its file is complete (it may be read
    while being written); a clear error if the scheduler died or took too long."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise TimeoutError(f"dask scheduler did not start within {timeout} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def cli_cluster(folder: Path, n_workers: int = 2, tls: dict | None = None, timeout: float = 60):
    """Yield (address, worker processes) of a scheduler and ``n_workers``
    single-threaded workers, each a separate OS process."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env["DASKLEARN_TEST_PARENT"] = str(os.getpid())
    tls_args = [] if tls is None else ["--tls-ca-file", str(tls["ca"]), "--tls-cert", str(tls["cert"]),
                                       "--tls-key", str(tls["key"])]
    protocol = ["--protocol", "tls"] if tls else []
    logs = []

    def start(args, log_name):
        log = open(folder / log_name, "w")
        logs.append(log)
        return subprocess.Popen(_dask_cli() + args, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)

    procs = [start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(scheduler_file), *protocol, *tls_args], "scheduler.log")]
    try:
        address = _read_address(scheduler_file, procs[0], folder / "scheduler.log", timeout)
        workers = [start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                          "--host", "127.0.0.1", "--memory-limit", "4GiB", *tls_args], f"worker{i}.log")
                   for i in range(n_workers)]
        procs += workers
        yield address, workers
    finally:
        for p in reversed(procs):  # workers first, then the scheduler
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()
