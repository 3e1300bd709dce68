"""Settings, read once from ``PORTAL_*`` environment variables.

Every setting has a safe default for a developer's machine; README.md lists them
(a test fails when one is missing there).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("PORTAL_CONTENT_DIR", "content", "Content directory (articles, synonyms, policy)."),
    Setting(
        "PORTAL_POLICY",
        "<content>/policy.yaml",
        "The support policy file (plans, coverage, rates, hours, request types).",
    ),
    Setting("PORTAL_BUILD_DIR", "build", "Where `portal build` writes the site and index."),
    Setting(
        "PORTAL_DATABASE_URL",
        "sqlite:///var/portal.db",
        "SQLAlchemy URL; `postgresql+psycopg://user@host/db` works unchanged.",
    ),
    Setting("PORTAL_UPLOAD_DIR", "var/uploads", "Where uploaded screenshots are stored."),
    Setting("PORTAL_MAX_UPLOAD_MB", "5", "Largest accepted upload, in megabytes."),
    Setting(
        "PORTAL_BASE_URL",
        "http://127.0.0.1:8000/",
        "Public URL of the portal; used for links in the sitemap and emails.",
    ),
    Setting("PORTAL_SITE_NAME", "Harbor Hosting Support", "Name shown in the page header."),
    Setting(
        "PORTAL_SECRET_KEY",
        "(random per process)",
        "Key for signed tokens and CSRF; set it in production and keep it secret.",
    ),
    Setting(
        "PORTAL_ALLOWED_HOSTS",
        "127.0.0.1,localhost",
        "Comma-separated Host header values the server answers (`*` for any).",
    ),
    Setting("PORTAL_HOST", "127.0.0.1", "Address `portal serve` listens on."),
    Setting("PORTAL_PORT", "8000", "Port `portal serve` listens on."),
    Setting("PORTAL_HTTPS", "0", "Set to 1 behind HTTPS: adds HSTS and Secure cookies."),
)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    content_dir: Path
    policy_file: Path
    build_dir: Path
    database_url: str
    upload_dir: Path
    max_upload_bytes: int
    base_url: str
    site_name: str
    secret_key: str = field(repr=False)
    allowed_hosts: tuple[str, ...]
    host: str
    port: int
    https: bool

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        base_url = _env("PORTAL_BASE_URL", "http://127.0.0.1:8000/")
        if not base_url.endswith("/"):
            base_url += "/"
        content_dir = Path(
            str(overrides.get("content_dir") or _env("PORTAL_CONTENT_DIR", "content"))
        )
        values: dict[str, object] = {
            "content_dir": content_dir,
            "policy_file": Path(_env("PORTAL_POLICY", str(content_dir / "policy.yaml"))),
            "build_dir": Path(_env("PORTAL_BUILD_DIR", "build")),
            "database_url": _env("PORTAL_DATABASE_URL", "sqlite:///var/portal.db"),
            "upload_dir": Path(_env("PORTAL_UPLOAD_DIR", "var/uploads")),
            "max_upload_bytes": int(float(_env("PORTAL_MAX_UPLOAD_MB", "5")) * 1024 * 1024),
            "base_url": base_url,
            "site_name": _env("PORTAL_SITE_NAME", "Harbor Hosting Support"),
            "secret_key": _env("PORTAL_SECRET_KEY", "") or secrets.token_urlsafe(32),
            "allowed_hosts": tuple(
                h.strip()
                for h in _env("PORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
                if h.strip()
            ),
            "host": _env("PORTAL_HOST", "127.0.0.1"),
            "port": int(_env("PORTAL_PORT", "8000")),
            "https": _env("PORTAL_HTTPS", "0") in ("1", "true", "yes"),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
