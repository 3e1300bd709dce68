"""Front matter and content loading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kb import content, frontmatter
from tests.support.content import article, write_tree


def test_split_keeps_body_line_and_key_lines() -> None:
    doc = frontmatter.split("---\ntitle: T\nsummary: S\n---\nHello\n")
    assert doc.meta == {"title": "T", "summary": "S"}
    assert doc.body == "Hello\n"
    assert doc.body_line == 5
    assert doc.line_of("summary") == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("no front matter", 1, "missing front matter"),
        ("---\ntitle: x\n", 1, "unterminated"),
        ("---\ntitle: [x\n---\n", 3, "not valid YAML"),
        ("---\n- a\n- b\n---\n", 2, "must be a mapping"),
    ],
)
def test_split_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(frontmatter.FrontMatterError) as info:
        frontmatter.split(text)
    assert info.value.line == line
    assert message in info.value.message


def test_parse_article_fields() -> None:
    data = article(
        "Title", "One sentence.", tags="[Mail, DNS]", updated="2026-01-02", draft="true"
    ).encode()
    a, problems = content.parse_article("articles/cat/my-slug.md", data)
    assert problems == []
    assert a is not None
    assert (a.slug, a.category, a.title, a.summary) == ("my-slug", "cat", "Title", "One sentence.")
    assert a.tags == ["mail", "dns"]
    assert a.updated == dt.date(2026, 1, 2)
    assert a.draft is True
    assert a.url == "articles/my-slug.html"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"tags": "mail"}, "'tags' must be a list"),
        ({"updated": "yesterday"}, "'updated' must be a date"),
        ({"draft": "'yes'"}, "'draft' must be true or false"),
        ({"aliases": "[1, 2]"}, "'aliases' must be a list of non-empty strings"),
    ],
)
def test_parse_article_reports_bad_keys_with_their_line(
    extra: dict[str, str], expected: str
) -> None:
    data = article("T", "S.", **extra).encode()
    _, problems = content.parse_article("articles/c/x.md", data)
    assert [p.message for p in problems if expected in p.message]
    assert all(p.line == 4 for p in problems)


def test_missing_required_keys() -> None:
    a, problems = content.parse_article("articles/c/x.md", b"---\ntags: [a]\n---\nbody")
    assert a is None
    assert {p.message for p in problems} == {
        "missing required key 'title'",
        "missing required key 'summary'",
    }


def test_load_tree_categories_and_synonyms(tree: Path) -> None:
    loaded = content.load(tree)
    assert loaded.problems == []
    assert [a.slug for a in loaded.articles] == ["reset-password", "mail-setup"]
    assert loaded.categories["help"].title == "Help"
    assert loaded.categories["mail"].order == 2
    assert ["password", "pw", "passwd"] in loaded.synonyms


def test_category_without_metadata_is_reported(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"articles/misc/a.md": article("A", "B.")})
    loaded = content.load(root)
    assert any("has no _category.yaml" in p.message for p in loaded.problems)


def test_synonym_lines() -> None:
    groups = content.parse_synonyms("# c\nname server,  nameserver ,dns # x\n\nsolo\n")
    assert groups == [["name server", "nameserver", "dns"]]
