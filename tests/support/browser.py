"""Accessibility checks (axe-core) on a Playwright page."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_AXE = Axe()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page, with up to five nodes each."""
    results = _AXE.run(page)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
