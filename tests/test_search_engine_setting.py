"""PORTAL_SEARCH_ENGINE chooses the engine the portal builds and searches with; a
build by another engine is rebuilt at start."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from kb import layout
from kb.search.engines import engine_name as engine_of
from portal.app import create_app
from portal.config import SettingError, Settings


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_the_portal_builds_and_searches_with_the_chosen_engine(
    demo_settings: Settings, tmp_path: Path, engine: str
) -> None:
    settings = dataclasses.replace(
        demo_settings,
        build_dir=tmp_path / "build",
        database_url=f"sqlite:///{tmp_path}/portal.db",
        search_engine=engine,
        static_search=False,
    )
    with TestClient(create_app(settings)) as client:  # the lifespan builds the KB
        generation = layout.current_generation(settings.build_dir)
        assert generation is not None
        assert engine_of(generation / layout.INDEX) == engine
        hits = client.get("/api/search", params={"q": "password reset"}).json()["hits"]
        assert hits and all(hit["url"].startswith("/articles/") for hit in hits)
    # the other engine's index is not valid for this setting: the next start rebuilds
    other = "tantivy" if engine == "whoosh" else "whoosh"
    switched = dataclasses.replace(settings, search_engine=other)
    with TestClient(create_app(switched)):
        generation = layout.current_generation(settings.build_dir)
        assert generation is not None and engine_of(generation / layout.INDEX) == other


def test_an_unknown_engine_is_a_setting_error() -> None:
    with pytest.raises(SettingError, match="PORTAL_SEARCH_ENGINE"):
        Settings.from_env({"PORTAL_SEARCH_ENGINE": "lucene"})
