"""A real server process on 127.0.0.1, ready when ``/healthz`` answers 200.

The one way the tests and the benchmarks (bench/load.py, bench/measure.py) start the
portal. Standard library only: bench/measure.py starts servers from a snapshot of the
source, so this module must not import the package it serves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
# never through a proxy, whatever the environment says: the server is on 127.0.0.1
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn_command(
    port: int, *, workers: int = 1, log_level: str = "warning", extra: Sequence[str] = ()
) -> list[str]:
    """``uvicorn portal.asgi:app`` on 127.0.0.1:``port``; with ``workers`` > 1 uvicorn
    runs that many processes on the one port."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "portal.asgi:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        log_level,
        *(["--workers", str(workers)] if workers > 1 else []),
        *extra,
    ]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    ready_seconds: float  # from starting the process to the first 200 from /healthz
    new_session: bool = False

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self, timeout: float = 15.0) -> None:
        """Terminate and reap it; killed (with its process group, when it has one of
        its own) if it does not exit within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, no shutdown of any kind (for fault tests); reaped."""
        if self.process.poll() is None:
            if self.new_session:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
        self.process.wait(timeout=10)

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def start_server(
    env: Mapping[str, str],
    *,
    port: int | None = None,
    workers: int = 1,
    log_level: str = "warning",
    command: Callable[[int], Sequence[str]] | None = None,
    timeout: float = 30.0,
    cwd: Path = ROOT,
    inherit_env: bool = True,
    output: IO[Any] | None = None,
    new_session: bool = False,
) -> LiveServer:
    """Start a server on 127.0.0.1 (a free port unless given) and wait for /healthz.

    ``command(port)`` gives the argv (default: :func:`uvicorn_command` with ``workers``
    and ``log_level``). ``env`` is laid over this process's environment unless
    ``inherit_env`` is false; PORTAL_PORT is set to the port. ``output``: a file for the
    server's stdout and stderr (its tail goes into the error when it does not start).
    Raises RuntimeError, with the process stopped, when it exits or is not ready
    within ``timeout`` seconds."""
    port = port or free_port()
    argv = (
        list(command(port))
        if command
        else uvicorn_command(port, workers=workers, log_level=log_level)
    )
    full_env = {**(os.environ if inherit_env else {}), **env, "PORTAL_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=full_env,
        stdout=output,
        stderr=subprocess.STDOUT if output is not None else None,
        start_new_session=new_session,
    )
    server = LiveServer(url, process, 0.0, new_session)
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"{argv[2:4]} exited during start-up ({process.returncode}){_tail(output)}"
            )
        try:
            with _DIRECT.open(url + "/healthz", timeout=5) as response:
                if response.status == 200:
                    server.ready_seconds = time.perf_counter() - started
                    return server
        except OSError:  # not listening yet, or not healthy yet (HTTPError)
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{argv[2:4]} did not answer /healthz in {timeout} s{_tail(output)}")


def _tail(output: IO[Any] | None) -> str:
    if output is None or not output.seekable():
        return ""
    output.flush()
    output.seek(0)
    text = output.read()
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return ":\n" + text[-2000:]
