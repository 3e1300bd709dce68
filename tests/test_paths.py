"""kb.paths: the one place that finds templates/ and static/."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb import paths
from kb.build import DEFAULT_STATIC, DEFAULT_TEMPLATES, BuildOptions


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
