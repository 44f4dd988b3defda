"""A real `logstore serve` for the compatibility tests: a temporary data directory, a free port
on 127.0.0.1, ready once /health answers; stopped (SIGTERM, then SIGKILL) and removed after."""

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    """The logstore binary under test (LOGSTORE_BIN), or a skip when there is none."""
    path = os.environ.get("LOGSTORE_BIN", ".build/debug/logstore")
    if not os.path.exists(path):
        pytest.skip(f"no logstore binary at {path} (set LOGSTORE_BIN)")
    return path


@contextlib.contextmanager
def running_server(prefix="logstore-compat-", extra_args=()):
    """Yields (port, process) of a server listening on 127.0.0.1 with its own data directory."""
    data_dir = tempfile.mkdtemp(prefix=prefix)
    port = free_port()
    proc = subprocess.Popen(
        [binary(), "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}", "--log-level", "warning",
         "--min-free-disk", "0", *extra_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"logstore exited: {proc.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                raise RuntimeError("logstore did not answer /health within 30 s")
            time.sleep(0.1)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(data_dir, ignore_errors=True)
