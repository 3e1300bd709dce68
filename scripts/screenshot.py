"""Take screenshots of a running portal with Playwright + Debian's Chromium.

Usage: python scripts/screenshot.py URL OUT.png [--width 1280] [--height 900] [--type TEXT]
(--type types text into the page's first search box and waits for live results)
"""

from __future__ import annotations

import argparse

from playwright.sync_api import sync_playwright


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    parser.add_argument("--type", dest="text", default=None)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(args.url)
        if args.text:
            page.locator("input[type=search]").last.fill(args.text)
            page.wait_for_timeout(1200)
        page.screenshot(path=args.out, full_page=args.full)
        browser.close()


if __name__ == "__main__":
    main()
