"""``portal check``: every problem in the content and the policy, as
``path:line: message``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from kb import content as content_mod
from kb.content import Article, Content
from kb.gitdates import last_commit_dates
from kb.policy.directives import resolver
from kb.policy.load import check_article_references, load_policy
from kb.problems import Problem
from kb.render import DirectiveResolver, Rendered, render_markdown


@dataclass
class CheckReport:
    """What ``portal check`` found: the problems and, for the summary, what was read."""

    problems: list[Problem] = field(default_factory=list)
    articles: int = 0
    categories: int = 0
    plans: int | None = None  # None: no policy file
    request_types: int = 0

    def summary(self) -> str:
        text = f"ok: {self.articles} articles, {self.categories} categories"
        if self.plans is not None:
            text += f"; policy: {self.plans} plans, {self.request_types} request types"
        return text


def check_all(
    content_dir: Path,
    policy_file: Path,
    *,
    stale_days: int | None = None,
    today: dt.date | None = None,
) -> CheckReport:
    """Every problem in the content directory and the policy file (which may be
    missing: then the policy's checks are skipped). Paths in problems start with
    ``content_dir``. With ``stale_days``, articles whose ``updated`` date (else their
    last git commit) is older than that many days are problems too."""
    git_dates = last_commit_dates(content_dir) if stale_days is not None else None
    content = content_mod.load(content_dir, git_dates=git_dates)
    policy, policy_problems = load_policy(policy_file) if policy_file.exists() else (None, [])
    problems = [
        Problem(str(content_dir / p.path), p.line, p.message)
        for p in check_content(
            content,
            request_types=set(policy.request_types) if policy else None,
            directive=resolver(policy) if policy else None,
        )
    ]
    problems += policy_problems
    if policy is not None:
        slugs = {a.slug for a in content.articles if not a.draft}
        problems += check_article_references(policy, slugs, str(policy_file))
    if stale_days is not None:
        problems += _stale(content, content_dir, stale_days, today or dt.date.today())
    return CheckReport(
        problems,
        articles=len(content.articles),
        categories=len(content.categories),
        plans=len(policy.plans) if policy else None,
        request_types=len(policy.request_types) if policy else 0,
    )


def _stale(content: Content, content_dir: Path, days: int, today: dt.date) -> list[Problem]:
    return [
        Problem(
            str(content_dir / a.path),
            a.line_of("updated"),
            f"stale: last updated {a.updated.isoformat()} "
            f"({(today - a.updated).days} days ago); review it and bump 'updated'",
        )
        for a in content.articles
        if a.updated is not None and (today - a.updated).days > days
    ]


def check_content(
    content: Content,
    *,
    request_types: Collection[str] | None = None,
    directive: DirectiveResolver | None = None,
) -> list[Problem]:
    """All problems: front matter, slugs, aliases, links, anchors, images, drafts,
    request types (when the policy's ids are given) and policy directives."""
    problems = list(content.problems)
    by_slug: dict[str, list[Article]] = defaultdict(list)
    for a in content.articles:
        by_slug[a.slug].append(a)
    for slug, same in by_slug.items():
        for dup in same[1:]:
            problems.append(Problem(dup.path, 1, f"duplicate slug '{slug}' (also {same[0].path})"))
    alias_owner: dict[str, Article] = {}
    for a in content.articles:
        for alias in a.aliases:
            line = a.line_of("aliases")
            if alias in by_slug:
                problems.append(
                    Problem(a.path, line, f"alias '{alias}' is the slug of an existing article")
                )
            elif alias in alias_owner:
                problems.append(
                    Problem(
                        a.path, line, f"duplicate alias '{alias}' (also {alias_owner[alias].path})"
                    )
                )
            else:
                alias_owner[alias] = a
        if a.category and a.category not in content.categories:
            problems.append(Problem(a.path, 1, f"unknown category folder '{a.category}'"))
        if request_types is not None:
            for rt in a.request_types:
                if rt not in request_types:
                    problems.append(
                        Problem(a.path, a.line_of("request_types"), f"unknown request type '{rt}'")
                    )

    slugs = {slug: same[0] for slug, same in by_slug.items()}
    rendered: dict[str, Rendered] = {}
    for a in content.articles:
        rendered[a.slug if a.slug not in rendered else a.path] = render_markdown(
            a.body,
            body_line=a.body_line,
            article_url=lambda s: f"{s}.html" if s in slugs else None,
            directive=directive,
        )
    for a in content.articles:
        result = rendered.get(a.slug) if slugs.get(a.slug) is a else rendered.get(a.path)
        if result is None:
            continue
        for link in result.links:
            if link.slug is not None:
                target = slugs.get(link.slug)
                if target is None:
                    problems.append(
                        Problem(a.path, link.line, f"broken link: no article '{link.slug}'")
                    )
                    continue
                if target.draft and not a.draft:
                    problems.append(
                        Problem(a.path, link.line, f"links to draft article '{link.slug}'")
                    )
                if link.anchor and link.anchor not in rendered[target.slug].headings:
                    problems.append(
                        Problem(
                            a.path,
                            link.line,
                            f"broken anchor: '{link.slug}' has no heading '#{link.anchor}'",
                        )
                    )
            elif link.href.startswith("#") and link.href[1:] not in result.headings:
                problems.append(
                    Problem(a.path, link.line, f"broken anchor: no heading '{link.href}'")
                )
            elif link.href.startswith("/"):
                problems.append(
                    Problem(
                        a.path,
                        link.line,
                        f"site-absolute link '{link.href}': link to the article's .md file",
                    )
                )
        for line in result.images_without_alt:
            problems.append(Problem(a.path, line, "image without alt text"))
        for ref, line in result.unknown_directives:
            problems.append(Problem(a.path, line, f"unknown policy reference '{ref}'"))
    return sorted(set(problems))
