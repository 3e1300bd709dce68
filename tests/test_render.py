"""Markdown rendering: safety first, then features."""

from __future__ import annotations

import pytest

from kb.render import render_markdown

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](%6Aavascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<a href='javascript:alert(1)'>x</a>",
    '<div hx-get="/x" hx-trigger="load">x</div>',
    '<svg onload="alert(1)"></svg>',
    "<iframe src=//evil></iframe>",
    "[x](file:///etc/passwd)",
    '<p onmouseover="alert(1)">hi</p>',
]


@pytest.mark.parametrize("vector", XSS)
def test_untrusted_markup_never_reaches_the_page(vector: str) -> None:
    html = render_markdown(f"Text {vector} end\n\n{vector}\n").html.lower()
    assert "<script" not in html
    assert "<img src=x" not in html
    assert "<iframe" not in html and "<svg" not in html and "<div hx-" not in html
    assert 'href="javascript:' not in html and 'src="javascript:' not in html
    assert 'href="vbscript:' not in html and 'href="data:' not in html
    assert 'href="file:' not in html
    assert " onerror=" not in html.replace("&quot;", "") or "&lt;" in html
    assert "<p onmouseover" not in html


def test_commonmark_tables_strikethrough_and_code() -> None:
    html = render_markdown(
        "| a | b |\n|---|---|\n| 1 | ~~2~~ |\n\n```python\nprint('<x>')\n```\n"
    ).html
    assert "<table>" in html and "<s>2</s>" in html
    assert '<code class="language-python">' in html
    assert '<span class="nb">print</span>' in html
    assert "&lt;x&gt;" in html


def test_heading_anchors_and_admonitions() -> None:
    r = render_markdown("## Before you start!\n\n::: warning\nCareful.\n:::\n")
    assert '<h2 id="before-you-start">' in r.html
    assert r.headings == ["before-you-start"]
    assert '<aside class="admonition warning"' in r.html
    assert "<p>Careful.</p>" in r.html


def test_links_to_markdown_files_become_article_urls() -> None:
    r = render_markdown(
        "See [a](../other/target-slug.md#steps) and [b](missing.md).",
        article_url=lambda slug: f"{slug}.html" if slug == "target-slug" else None,
        body_line=7,
    )
    assert 'href="target-slug.html#steps"' in r.html
    assert 'href="missing.md"' in r.html
    assert [(link.slug, link.anchor, link.line) for link in r.links] == [
        ("target-slug", "steps", 7),
        ("missing", "", 7),
    ]


def test_images_without_alt_are_reported_with_line() -> None:
    r = render_markdown("ok ![fine](a.png)\n\n![](b.png)\n", body_line=10)
    assert r.images_without_alt == [12]


def test_policy_directives_inline_block_and_unknown() -> None:
    def resolve(ref: str) -> tuple[str, bool] | None:
        return {"rate": ("EUR&nbsp;100", False), "plans": ("<table></table>", True)}.get(ref)

    r = render_markdown(
        "Costs {policy}`rate` per hour.\n\n{policy}`plans`\n\nAnd {policy}`nope`.\n",
        directive=resolve,
        body_line=3,
    )
    assert "Costs EUR&nbsp;100 per hour." in r.html
    assert "<table></table>" in r.html
    assert r.unknown_directives == [("nope", 7)]
    assert [ref for ref, _ in r.directives] == ["rate", "plans", "nope"]


def test_plain_text_for_the_index() -> None:
    r = render_markdown("## Title\n\nSome *bold* text with `code`.\n\n- item\n")
    assert "Title" in r.text and "Some bold text with code." in r.text and "item" in r.text
