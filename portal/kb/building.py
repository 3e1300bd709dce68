"""Glue between settings and kb: the policy file, the build options."""

from __future__ import annotations

from collections.abc import Callable

from kb.build import BuildOptions, BuildReport, build
from kb.policy import Policy, load_policy
from kb.policy.directives import resolver
from kb.problems import Problem
from portal.config import Settings


def load_settings_policy(settings: Settings) -> tuple[Policy | None, list[Problem]]:
    """The policy named by the settings; (None, []) when there is no policy file."""
    if not settings.policy_file.exists():
        return None, []
    return load_policy(settings.policy_file)


def build_options(
    settings: Settings,
    *,
    clean: bool = False,
    include_drafts: bool = False,
    progress: Callable[[int, int], None] | None = None,
    policy: Policy | None = None,
    preview: bool = False,
) -> BuildOptions:
    if policy is None:
        policy, _ = load_settings_policy(settings)
    return BuildOptions(
        content_dir=settings.content_dir,
        out_dir=settings.build_dir,
        base_url=settings.base_url,
        site_name=settings.site_name,
        clean=clean,
        include_drafts=include_drafts,
        progress=progress,
        directive=resolver(policy) if policy else None,
        directive_digest=policy.digest if policy else "",
        preview=preview,
        search_engine=settings.search_engine,
        static_search=settings.static_search,
    )


def build_from_settings(settings: Settings, *, clean: bool = False) -> BuildReport:
    return build(build_options(settings, clean=clean))
