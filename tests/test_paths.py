"""kb.paths: the one place that finds templates/ and static/."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from kb import paths
from kb.build import DEFAULT_STATIC, DEFAULT_TEMPLATES, BuildOptions
from portal import notify
from portal.config import Settings
from portal.templating import make_templates


def test_the_repository_templates_and_static_are_the_defaults() -> None:
    root = Path(__file__).resolve().parent.parent
    assert root / "templates" == paths.DEFAULT_TEMPLATES
    assert root / "static" == paths.DEFAULT_STATIC
    assert (paths.DEFAULT_TEMPLATES / "site/article.html").is_file()
    assert (paths.DEFAULT_STATIC / "css/site.css").is_file()
    # the builder takes its defaults from here (and still exports them)
    assert (DEFAULT_TEMPLATES, DEFAULT_STATIC) == (paths.DEFAULT_TEMPLATES, paths.DEFAULT_STATIC)
    options = BuildOptions(content_dir=root / "content", out_dir=root / "unused")
    assert (options.templates_dir, options.static_dir) == (DEFAULT_TEMPLATES, DEFAULT_STATIC)


def test_the_first_root_that_has_the_directory_wins(tmp_path: Path) -> None:
    shipped, repo = tmp_path / "shipped", tmp_path / "repo"
    (repo / "templates").mkdir(parents=True)
    (repo / "static").mkdir()
    (shipped / "templates").mkdir(parents=True)
    assert paths.resource_dir("templates", [shipped, repo]) == shipped / "templates"
    assert paths.resource_dir("static", [shipped, repo]) == repo / "static"
    # found nowhere: the last root's, so the error names the repository layout
    assert paths.resource_dir("fonts", [shipped, repo]) == repo / "fonts"
    with pytest.raises(ValueError):
        paths.resource_dir("templates", [])


def test_the_portal_finds_its_templates_and_static_files_through_kb_paths(
    app: Starlette,
) -> None:
    # the Jinja environment of the dynamic pages, the e-mail templates, the /static mount
    loader = make_templates("Portal").env.loader
    assert isinstance(loader, jinja2.FileSystemLoader)
    assert loader.searchpath == [str(paths.DEFAULT_TEMPLATES)]
    assert notify.TEMPLATES == paths.DEFAULT_TEMPLATES / "email"
    assert (notify.TEMPLATES / "verify.subject.txt").is_file()
    (static,) = [r for r in app.routes if isinstance(r, Mount) and r.name == "static"]
    assert isinstance(static.app, StaticFiles)
    assert static.app.directory == str(paths.DEFAULT_STATIC)


def test_the_generated_secret_key_lives_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like the default database (sqlite:///var/portal.db) and uploads (var/uploads):
    relative to where the portal runs, never next to the installed package."""
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text("utf-8") == settings.secret_key
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(settings.secret_key) >= 32
    # kept: the next start (another worker, a restart) signs with the same key
    assert Settings.from_env().secret_key == settings.secret_key
