"""Glue between settings and kb: the policy file, the build options."""

from __future__ import annotations

import datetime as dt
import zoneinfo
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


FALLBACK_SITE_NAME = "Support Portal"  # no PORTAL_SITE_NAME and no policy to name one


def site_name(settings: Settings, policy: Policy | None) -> str:
    """The name in the page header: ``PORTAL_SITE_NAME``, else the policy's provider
    ("Kolmisoft Support" for examples/kolmisoft), else a neutral name."""
    if settings.site_name:
        return settings.site_name
    if policy is not None and policy.provider.name:
        return f"{policy.provider.name} Support"
    return FALLBACK_SITE_NAME


def provider_today(policy: Policy, now: dt.datetime | None = None) -> dt.date:
    """Today's date in the provider's time zone: the day ``{policy}`` directives that
    depend on dates (holidays of the next 12 months, plan ends) are computed for."""
    moment = now or dt.datetime.now(dt.UTC)
    try:
        zone = zoneinfo.ZoneInfo(policy.provider.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def build_options(
    settings: Settings,
    *,
    clean: bool = False,
    include_drafts: bool = False,
    progress: Callable[[int, int], None] | None = None,
    policy: Policy | None = None,
    preview: bool = False,
    today: dt.date | None = None,
) -> BuildOptions:
    """The build's options from the settings. Directives are resolved for ``today``
    (default: today in the provider's time zone), and pages with directives are built
    again when that day changes."""
    if policy is None:
        policy, _ = load_settings_policy(settings)
    day = today or (provider_today(policy) if policy else None)
    return BuildOptions(
        content_dir=settings.content_dir,
        out_dir=settings.build_dir,
        base_url=settings.base_url,
        site_name=site_name(settings, policy),
        clean=clean,
        include_drafts=include_drafts,
        progress=progress,
        directive=resolver(policy, day) if policy else None,
        directive_digest=f"{policy.digest}:{day.isoformat()}" if policy and day else "",
        preview=preview,
        search_engine=settings.search_engine,
        static_search=settings.static_search,
    )


def build_from_settings(settings: Settings, *, clean: bool = False) -> BuildReport:
    return build(build_options(settings, clean=clean))
