"""Shared fixtures: real builds in temp dirs, the ASGI app, a real uvicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from kb.build import build
from kb.policy import Policy, load_policy
from portal.app import create_app
from portal.config import Settings
from portal.kb.building import build_options

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


@pytest.fixture(scope="module")
def policy(request: pytest.FixtureRequest) -> Policy:
    """The policy file named by the test module's PACK, loaded once per module."""
    loaded, problems = load_policy(request.module.PACK)
    assert problems == []
    assert loaded is not None
    return loaded


def write_tree(base: Path, files: dict[str, str]) -> Path:
    """Create files (dedented) under base; returns base."""
    for rel, text in files.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")
    return base


def article(title: str, summary: str, body: str = "Body text.", **extra: str) -> str:
    lines = ["---", f"title: {title}", f"summary: {summary}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    lines += ["---", textwrap.dedent(body).strip(), ""]
    return "\n".join(lines)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tiny valid content tree with two categories."""
    return write_tree(
        tmp_path / "content",
        {
            "articles/help/_category.yaml": "title: Help\norder: 1\ndescription: Help.\n",
            "articles/help/reset-password.md": article(
                "Reset your password",
                "How to reset a forgotten password.",
                "Use the reset link.\n\n## Steps\n\nClick it. See [mail](../mail/mail-setup.md).",
                tags="[password, login]",
                aliases="[old-password]",
            ),
            "articles/mail/_category.yaml": "title: Mail\norder: 2\n",
            "articles/mail/mail-setup.md": article(
                "Set up your mailbox",
                "Configure mail clients.",
                "Use IMAP.\n\n## Outgoing mail\n\nUse port 587.",
                tags="[mail]",
            ),
            "synonyms.txt": "# groups\npassword, pw, passwd\nmail, email, e-mail\n",
        },
    )


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default content built once for the session."""
    out = tmp_path_factory.mktemp("demo-build")
    settings = Settings.from_env(
        content_dir=CONTENT, policy_file=CONTENT / "policy.yaml", build_dir=out
    )
    build(build_options(settings))
    return out


@pytest.fixture(scope="session")
def demo_settings(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var = tmp_path_factory.mktemp("var")
    return Settings.from_env(
        database_url=f"sqlite:///{var}/portal.db",
        upload_dir=var / "uploads",
        content_dir=CONTENT,
        policy_file=CONTENT / "policy.yaml",
        build_dir=demo_build,
        site_name="Test Portal",
        secret_key="test-secret",
        allowed_hosts=("testserver", "127.0.0.1", "localhost"),
    )


@pytest.fixture(scope="session")
def app(demo_settings: Settings) -> Any:
    return create_app(demo_settings)


@pytest.fixture(scope="session")
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def browser_client(app: Any) -> Iterator[TestClient]:
    """A client with its own cookies: a new customer."""
    with TestClient(app) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.process = process


def start_server(
    env_overrides: dict[str, str],
    *,
    timeout: float = 30.0,
    port: int | None = None,
    workers: int = 1,
) -> LiveServer:
    """A real uvicorn on 127.0.0.1 (a free port unless given), ready when /healthz is.
    With ``workers`` > 1 uvicorn runs that many processes on the one port."""
    port = port or free_port()
    env = {**os.environ, **env_overrides, "PORTAL_PORT": str(port)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "portal.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return LiveServer(url, process)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start in time")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)  # reap it either way


@pytest.fixture(scope="session")
def live_server(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    var = tmp_path_factory.mktemp("live-var")
    server = start_server(
        {
            "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "browser-test-secret",
        }
    )
    try:
        yield server
    finally:
        stop_server(server)
