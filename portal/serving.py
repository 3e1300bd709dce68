"""Running the portal under uvicorn (``portal serve``).

uvicorn imports ``portal.asgi`` in each worker process, and ``portal.asgi`` reads its
settings from the environment: :func:`hand_to_workers` is the one place where the
portal writes ``PORTAL_*`` variables, so every worker reads the settings ``portal
serve`` resolved (its options included, and one secret key for all of them).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from portal.config import Settings


def live_preview(settings: Settings) -> Settings:
    """The editors' live preview: drafts shown, pages reloaded on change, built into
    its own directory (``<build>-preview``) so drafts never reach the public build."""
    return dataclasses.replace(
        settings, preview=True, build_dir=Path(f"{settings.build_dir}-preview")
    )


def hand_to_workers(settings: Settings) -> None:
    """Put ``settings`` into this process's environment, which uvicorn's worker
    processes inherit and ``portal.asgi`` reads."""
    os.environ.update(settings.to_environ())


def run(settings: Settings, *, workers: int = 1) -> None:
    import uvicorn

    hand_to_workers(settings)
    uvicorn.run(
        "portal.asgi:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        # trust X-Forwarded-For only from the proxies named in PORTAL_FORWARDED_ALLOW_IPS
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        log_level="info",
        # open event streams (live preview) must not hold a shutdown for long
        timeout_graceful_shutdown=3,
    )
