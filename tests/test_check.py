"""portal check: every kind of problem, with file and line."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from click.testing import CliRunner

from kb import content
from kb.check import check_content
from kb.policy import load_policy
from kb.policy.directives import resolver
from kb.render import DirectiveResolver
from portal.cli import main
from tests.support.content import article, write_tree
from tests.support.paths import CONTENT


def problems_of(
    root: Path,
    *,
    request_types: Collection[str] | None = None,
    directive: DirectiveResolver | None = None,
) -> list[str]:
    found = check_content(content.load(root), request_types=request_types, directive=directive)
    return [str(p) for p in found]


def test_valid_tree_has_no_problems(tree: Path) -> None:
    assert problems_of(tree) == []


def test_default_content_is_valid() -> None:
    policy, policy_problems = load_policy(CONTENT / "policy.yaml")
    assert policy is not None and policy_problems == []
    found = problems_of(
        CONTENT, request_types=set(policy.request_types), directive=resolver(policy)
    )
    assert found == []


def test_duplicate_slugs_and_aliases(tree: Path) -> None:
    write_tree(
        tree,
        {
            "articles/mail/reset-password.md": article("Dup", "Dup."),
            "articles/mail/other.md": article("O", "O.", aliases="[old-password, mail-setup]"),
        },
    )
    found = problems_of(tree)
    assert any(
        "articles/mail/reset-password.md:1: duplicate slug 'reset-password'" in p for p in found
    )
    assert "articles/mail/other.md:4: duplicate alias 'old-password' (also " in "\n".join(found)
    assert any("alias 'mail-setup' is the slug of an existing article" in p for p in found)


def test_broken_links_anchors_images_and_drafts(tree: Path) -> None:
    body = (
        "Intro.\n\n"
        "[gone](../help/nothing.md)\n\n"
        "[bad anchor](../mail/mail-setup.md#nowhere)\n"
        "[good anchor](../mail/mail-setup.md#outgoing-mail)\n\n"
        "[self](#missing)\n\n"
        "![](diagram.png)\n\n"
        "[draft](secret.md)\n"
    )
    write_tree(
        tree,
        {
            "articles/help/links.md": article("Links", "Links.", body),
            "articles/help/secret.md": article("Secret", "Secret.", draft="true"),
        },
    )
    found = problems_of(tree)
    path = "articles/help/links.md"
    assert f"{path}:7: broken link: no article 'nothing'" in found
    assert f"{path}:9: broken anchor: 'mail-setup' has no heading '#nowhere'" in found
    assert not any("outgoing-mail" in p for p in found)
    assert f"{path}:12: broken anchor: no heading '#missing'" in found
    assert f"{path}:14: image without alt text" in found
    assert f"{path}:16: links to draft article 'secret'" in found


def test_unknown_request_types_when_policy_known(tree: Path) -> None:
    write_tree(tree, {"articles/help/rt.md": article("RT", "RT.", request_types="[refund, dns]")})
    found = problems_of(tree, request_types={"dns"})
    assert found == ["articles/help/rt.md:4: unknown request type 'refund'"]


def test_cli_check_exit_codes_and_formats(tree: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["check", "--content", str(tree)])
    assert ok.exit_code == 0, ok.output
    assert "ok: 2 articles" in ok.output
    write_tree(tree, {"articles/help/bad.md": "---\ntitle: x\nsummary: y\ncolour: red\n---\n"})
    bad = runner.invoke(main, ["check", "--content", str(tree)])
    assert bad.exit_code == 1
    assert f"{tree}/articles/help/bad.md:4: unknown key 'colour'" in bad.output
    gh = runner.invoke(main, ["check", "--content", str(tree), "--format", "github"])
    assert gh.exit_code == 1
    assert f"::error file={tree}/articles/help/bad.md,line=4::unknown key 'colour'" in gh.output
