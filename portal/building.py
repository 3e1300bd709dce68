"""Glue between settings and kb.build (the policy joins here in a later step)."""

from __future__ import annotations

from collections.abc import Callable

from kb.build import BuildOptions, BuildReport, build
from portal.config import Settings


def build_options(
    settings: Settings,
    *,
    clean: bool = False,
    include_drafts: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildOptions:
    return BuildOptions(
        content_dir=settings.content_dir,
        out_dir=settings.build_dir,
        base_url=settings.base_url,
        site_name=settings.site_name,
        clean=clean,
        include_drafts=include_drafts,
        progress=progress,
    )


def build_from_settings(settings: Settings, *, clean: bool = False) -> BuildReport:
    return build(build_options(settings, clean=clean))
