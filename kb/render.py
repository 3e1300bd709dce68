"""Render article Markdown to safe HTML with markdown-it-py.

CommonMark + tables + strikethrough, heading anchors, admonition containers
(``::: note``), Pygments-highlighted fences, links to ``other-slug.md`` resolved to
article URLs, and ``{policy}`ref``` directives that embed facts from the support
policy. Raw HTML is never passed through (markdown-it's ``js-default`` preset):
``<script>`` is escaped and ``javascript:``/``vbscript:``/``file:``/``data:`` links are
refused by markdown-it's link validator.

Rendering also collects what ``portal check`` needs (headings, links, images,
directive references, with line numbers) and the plain text for the search index.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape, unescape
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.anchors.index import slugify
from mdit_py_plugins.container import container_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ADMONITIONS = ("note", "tip", "warning")
DIRECTIVE_ROLE = "policy"
_ROLE = re.compile(r"\{" + DIRECTIVE_ROLE + r"\}`([^`\n]+)`")
_BLOCK_ROLE = re.compile(r"^\{" + DIRECTIVE_ROLE + r"\}`([^`\n]+)`\s*$")

# A directive resolver gets the reference text and returns (html, is_block) or None
# for an unknown reference. The HTML it returns must already be escaped.
DirectiveResolver = Callable[[str], tuple[str, bool] | None]

__all__ = ["ADMONITIONS", "Link", "Rendered", "heading_slug", "render_markdown"]


def heading_slug(text: str) -> str:
    """The anchor id a heading with this text gets (GitHub style)."""
    return slugify(text)


@dataclass(frozen=True)
class Link:
    href: str
    line: int
    slug: str | None = None  # the article it points to, for links to *.md files
    anchor: str = ""


@dataclass
class Rendered:
    html: str
    text: str  # plain text for the search index
    prose: str = ""  # the part of ``text`` outside code blocks and tables (for snippets)
    extra: str = ""  # the code blocks and table cells of ``text``
    headings: list[str] = field(default_factory=list)  # anchor ids
    links: list[Link] = field(default_factory=list)
    images_without_alt: list[int] = field(default_factory=list)  # line numbers
    directives: list[tuple[str, int]] = field(default_factory=list)
    unknown_directives: list[tuple[str, int]] = field(default_factory=list)


def _highlight(code: str, lang: str, _attrs: str) -> str:
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        return ""
    result: str = pygments_highlight(code, lexer, HtmlFormatter(nowrap=True))
    return result


def _render_container(kind: str) -> Callable[..., str]:
    label = kind.capitalize()

    def render(self: Any, tokens: Sequence[Token], idx: int, _options: Any, _env: Any) -> str:
        if tokens[idx].nesting == 1:
            return (
                f'<aside class="admonition {kind}" role="note">'
                f'<p class="admonition-title">{label}</p>\n'
            )
        return "</aside>\n"

    return render


def _policy_inline(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] != "{":
        return False
    match = _ROLE.match(state.src, state.pos)
    if not match:
        return False
    if not silent:
        token = state.push("policy_ref", "", 0)
        token.content = match.group(1).strip()
    state.pos = match.end()
    return True


def _policy_block(state: StateBlock, start: int, _end: int, silent: bool) -> bool:
    begin = state.bMarks[start] + state.tShift[start]
    line = state.src[begin : state.eMarks[start]]
    match = _BLOCK_ROLE.match(line)
    if not match:
        return False
    if not silent:
        token = state.push("policy_block", "", 0)
        token.content = match.group(1).strip()
        token.map = [start, start + 1]
    state.line = start + 1
    return True


def _render_directive(env: dict[str, Any], ref: str, block: bool) -> str:
    resolver: DirectiveResolver | None = env.get("directive")
    result = resolver(ref) if resolver else None
    line = env.get("_line", 0)
    env.setdefault("directives", []).append((ref, line))
    if result is None:
        env.setdefault("unknown_directives", []).append((ref, line))
        return f'<span class="directive-error">[unknown policy reference: {escape(ref)}]</span>'
    html, is_block = result
    if block and not is_block:
        return f"<p>{html}</p>\n"
    return html


def _make_markdown() -> MarkdownIt:
    md = MarkdownIt("js-default", {"highlight": _highlight, "linkify": False, "typographer": False})
    md.disable("linkify")
    anchors_plugin(md, min_level=2, max_level=4)
    for kind in ADMONITIONS:
        container_plugin(md, kind, render=_render_container(kind))
    md.inline.ruler.before("backticks", "policy_ref", _policy_inline)
    md.block.ruler.before("paragraph", "policy_block", _policy_block)

    def inline_rule(self: Any, tokens: Sequence[Token], idx: int, _o: Any, env: Any) -> str:
        env["_line"] = tokens[idx].meta.get("line", env.get("_body_line", 1))
        return _render_directive(env, tokens[idx].content, block=False)

    def block_rule(self: Any, tokens: Sequence[Token], idx: int, _o: Any, env: Any) -> str:
        token = tokens[idx]
        env["_line"] = env.get("_body_line", 1) + (token.map[0] if token.map else 0)
        return _render_directive(env, token.content, block=True)

    md.add_render_rule("policy_ref", inline_rule)
    md.add_render_rule("policy_block", block_rule)
    return md


_MD = _make_markdown()


def _article_target(href: str) -> tuple[str, str] | None:
    """For a relative link to a Markdown file return (slug, anchor)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.endswith(".md"):
        return None
    slug = posixpath.basename(parts.path)[:-3]
    return slug, parts.fragment


_TAG = re.compile(r"<[^>]+>")


def _directive_text(directive: DirectiveResolver | None, ref: str) -> str:
    """What a directive says, as plain text for the search index."""
    result = directive(ref.strip()) if directive else None
    if result is None:
        return ""
    return unescape(_TAG.sub(" ", result[0]))


def render_markdown(
    body: str,
    *,
    body_line: int = 1,
    article_url: Callable[[str], str | None] | None = None,
    directive: DirectiveResolver | None = None,
) -> Rendered:
    """Render ``body``.

    ``article_url(slug)`` returns the URL to use for a link to another article (or
    None when the slug is unknown: the link is kept and reported by the checker).
    """
    env: dict[str, Any] = {"directive": directive, "_body_line": body_line}
    tokens = _MD.parse(body, env)
    rendered = Rendered(html="", text="")
    prose_parts: list[str] = []
    extra_parts: list[str] = []
    text_parts = prose_parts
    block_line = body_line
    tables = 0
    for token in tokens:
        if token.map:
            block_line = body_line + token.map[0]
        if token.type in ("table_open", "table_close"):
            tables += 1 if token.type == "table_open" else -1
            text_parts = extra_parts if tables else prose_parts
            text_parts.append("\n")
        elif token.type == "heading_open":
            anchor = token.attrGet("id")
            if anchor:
                rendered.headings.append(str(anchor))
        elif token.type in ("fence", "code_block"):
            extra_parts.append(token.content)
        elif token.type == "policy_block":
            text_parts.append(_directive_text(directive, token.content) + "\n")
        elif token.type == "inline" and token.children:
            line_in_block = 0
            for child in token.children:
                if child.type in ("softbreak", "hardbreak"):
                    line_in_block += 1
                    text_parts.append(" ")
                elif child.type in ("text", "code_inline"):
                    text_parts.append(child.content)
                elif child.type == "link_open":
                    href = str(child.attrGet("href") or "")
                    target = _article_target(href)
                    line = block_line + line_in_block
                    if target:
                        slug, anchor = target
                        rendered.links.append(Link(href, line, slug, anchor))
                        url = article_url(slug) if article_url else None
                        if url is not None:
                            child.attrSet("href", url + (f"#{anchor}" if anchor else ""))
                    else:
                        rendered.links.append(Link(href, line))
                elif child.type == "image":
                    if not child.content.strip():
                        rendered.images_without_alt.append(block_line + line_in_block)
                    child.attrSet("loading", "lazy")
                elif child.type == "policy_ref":
                    child.meta["line"] = block_line + line_in_block
                    text_parts.append(_directive_text(directive, child.content))
            text_parts.append("\n")
    rendered.html = _MD.renderer.render(tokens, _MD.options, env)
    rendered.prose = re.sub(r"[ \t]+", " ", "".join(prose_parts)).strip()
    rendered.extra = re.sub(r"[ \t]+", " ", "".join(extra_parts)).strip()
    rendered.text = f"{rendered.prose}\n{rendered.extra}" if rendered.extra else rendered.prose
    rendered.directives = list(env.get("directives", []))
    rendered.unknown_directives = list(env.get("unknown_directives", []))
    return rendered
