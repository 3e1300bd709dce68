"""Live preview for content editors: ``portal serve --reload``.

Watches the content directory, rebuilds incrementally (drafts included, marked with a
banner) and tells open browser tabs over Server-Sent Events which pages changed; the
small script ``static/js/preview.js`` reloads the tab when its page is among them.
An article with problems shows them on top of its page (or instead of it when it
cannot be built at all); every other page keeps serving the last good build.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from kb import content as content_mod
from kb.build import build
from kb.check import check_content
from kb.policy.directives import resolver
from kb.problems import Problem
from portal.config import Settings
from portal.kb.building import build_options, load_settings_policy, provider_today

log = logging.getLogger("portal.kb.preview")
HEARTBEAT_SECONDS = 15.0


def slug_of(path: str) -> str | None:
    parts = Path(path).parts
    if len(parts) >= 2 and parts[-1].endswith(".md") and "articles" in parts:
        return parts[-1][:-3]
    return None


class Preview:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.problems: dict[str, list[Problem]] = {}
        self.other_problems: list[Problem] = []
        self.subscribers: set[asyncio.Queue[str]] = set()
        self.builds = 0

    def rebuild(self) -> float:
        """Incremental build with drafts, then the checker's verdict per article."""
        started = time.perf_counter()
        policy, policy_problems = load_settings_policy(self.settings)
        report = build(
            build_options(self.settings, include_drafts=True, preview=True, policy=policy)
        )
        loaded = content_mod.load(self.settings.content_dir)
        found = check_content(
            loaded,
            request_types=set(policy.request_types) if policy else None,
            directive=resolver(policy, provider_today(policy)) if policy else None,
        )
        problems: dict[str, list[Problem]] = {}
        other: list[Problem] = list(policy_problems)
        for problem in found:
            slug = slug_of(problem.path)
            if slug:
                problems.setdefault(slug, []).append(problem)
            else:
                other.append(problem)
        self.problems, self.other_problems = problems, other
        self.builds += 1
        log.warning("preview: %s; %d problem(s)", report.summary(), len(found) + len(other))
        return time.perf_counter() - started

    def publish(self, message: dict[str, Any]) -> None:
        data = json.dumps(message)
        for queue in list(self.subscribers):
            queue.put_nowait(data)

    async def watch(self) -> None:
        import watchfiles

        targets = [str(self.settings.content_dir)]
        policy_file = self.settings.policy_file
        if policy_file.exists() and not policy_file.resolve().is_relative_to(
            self.settings.content_dir.resolve()
        ):
            targets.append(str(policy_file))
        async for changes in watchfiles.awatch(*targets, debounce=150, step=50):
            paths = [p for _, p in changes]
            slugs = sorted({s for s in map(slug_of, paths) if s})
            everything = any(slug_of(p) is None for p in paths)
            try:
                seconds = await asyncio.to_thread(self.rebuild)
            except Exception as exc:  # a broken template or policy: keep serving the last build
                log.exception("preview rebuild failed")
                self.publish({"error": f"{type(exc).__name__}: {exc}"})
                continue
            self.publish({"changed": slugs, "all": everything, "seconds": round(seconds, 3)})

    async def events(self, request: Request) -> StreamingResponse:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.subscribers.add(queue)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                while not await request.is_disconnected():
                    try:
                        data = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"data: {data}\n\n"
            finally:
                self.subscribers.discard(queue)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
