"""``portal check``: every problem in the content, as ``path:line: message``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from kb.content import Article, Content
from kb.problems import Problem
from kb.render import DirectiveResolver, Rendered, render_markdown


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
