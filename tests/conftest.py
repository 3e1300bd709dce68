"""Shared fixtures: real builds in temp dirs, the ASGI app, a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from kb.build import build
from kb.policy import Policy, load_policy
from portal.app import create_app
from portal.config import Settings
from portal.kb.building import build_options
from tests.support.content import article, write_tree
from tests.support.paths import CONTENT, ROOT
from tests.support.servers import LiveServer, free_port, start_server

# Kept importable from here for modules not yet moved to tests.support:
__all__ = ["CONTENT", "ROOT", "article", "free_port", "write_tree"]


@pytest.fixture(scope="module")
def policy(request: pytest.FixtureRequest) -> Policy:
    """The policy file named by the test module's PACK, loaded once per module."""
    loaded, problems = load_policy(request.module.PACK)
    assert problems == []
    assert loaded is not None
    return loaded


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
def app(demo_settings: Settings) -> Starlette:
    return create_app(demo_settings)


@pytest.fixture(scope="session")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def browser_client(app: Starlette) -> Iterator[TestClient]:
    """A client with its own cookies: a new customer."""
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    var = tmp_path_factory.mktemp("live-var")
    with start_server(
        {
            "PORTAL_DATABASE_URL": f"sqlite:///{var}/portal.db",
            "PORTAL_UPLOAD_DIR": str(var / "uploads"),
            "PORTAL_BUILD_DIR": str(demo_build),
            "PORTAL_CONTENT_DIR": str(CONTENT),
            "PORTAL_SECRET_KEY": "browser-test-secret",
        }
    ) as server:
        yield server
