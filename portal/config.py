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
        "(generated once into var/secret_key)",
        "Key for signed tokens and CSRF; set it in production and keep it secret.",
    ),
    Setting(
        "PORTAL_FORWARDED_ALLOW_IPS",
        "(none)",
        "Proxies whose X-Forwarded-For is trusted (e.g. `127.0.0.1`); rate limits then see "
        "the real client.",
    ),
    Setting(
        "PORTAL_ALLOWED_HOSTS",
        "127.0.0.1,localhost",
        "Comma-separated Host header values the server answers (`*` for any).",
    ),
    Setting(
        "PORTAL_VERIFY_MAX_AGE",
        "3600",
        "Seconds a filing link stays valid (it also works only once).",
    ),
    Setting(
        "PORTAL_STATUS_MAX_AGE",
        "7776000",
        "Seconds a ticket's status link stays valid (90 days); a new one is mailed to a "
        "listed contact on request.",
    ),
    Setting(
        "PORTAL_SMTP_URL",
        "(none: mail is printed)",
        "`smtp://user:pass@host:587?starttls=1` or `smtps://host:465`; "
        "without it mail goes to the console.",
    ),
    Setting("PORTAL_MAIL_FROM", "support@localhost", "Sender address of the portal's mail."),
    Setting(
        "PORTAL_HELPDESK_EMAIL",
        "(none)",
        "Support mailbox that receives every filed ticket.",
    ),
    Setting(
        "PORTAL_HELPDESK_WEBHOOK",
        "(none)",
        "URL that receives every filed ticket as JSON (HMAC-SHA256 signed body).",
    ),
    Setting(
        "PORTAL_WEBHOOK_SECRET",
        "(the secret key)",
        "Key for the `X-Portal-Signature` HMAC of webhook bodies.",
    ),
    Setting(
        "PORTAL_UPSTREAM_EMAIL",
        "(none)",
        "Upstream provider's address for requests about their servers.",
    ),
    Setting(
        "PORTAL_RATE_LIMITS",
        "5/3600,20/3600",
        "Filing-link emails per address and per client, as count/seconds.",
    ),
    Setting(
        "PORTAL_REDIS_URL",
        "(none: counted in the database)",
        "Redis for the rate-limit counters, shared by several machines (moving window), "
        "e.g. `redis://127.0.0.1:6379/0`; `?key_prefix=NAME` (default `portal`) separates "
        "portals that share one Redis.",
    ),
    Setting(
        "PORTAL_PREVIEW",
        "0",
        "1: live preview for editors (drafts shown, pages reload on change); "
        "`portal serve --reload` sets it.",
    ),
    Setting(
        "PORTAL_STALE_DAYS",
        "365",
        "`portal check --stale` lists articles not updated for this many days.",
    ),
    Setting("PORTAL_HOST", "127.0.0.1", "Address `portal serve` listens on."),
    Setting("PORTAL_PORT", "8000", "Port `portal serve` listens on."),
    Setting("PORTAL_HTTPS", "0", "Set to 1 behind HTTPS: adds HSTS and Secure cookies."),
)


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _local_secret() -> str:
    """Development default: a random key kept in var/secret_key (mode 0600), so signed
    links survive restarts and every worker process uses the same key."""
    path = PROJECT_ROOT / "var" / "secret_key"
    try:
        return path.read_text("utf-8").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)
    except OSError:
        return secrets.token_urlsafe(32)


def _new_secret(path: Path) -> str:
    key = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
    except FileExistsError:
        return path.read_text("utf-8").strip()
    except OSError:
        pass
    return key


def _rate(text: str, index: int) -> tuple[int, int]:
    """'count/seconds,count/seconds' -> the index-th (count, seconds)."""
    parts = [p.strip() for p in text.split(",")]
    count, _, seconds = parts[min(index, len(parts) - 1)].partition("/")
    return int(count), int(seconds or 3600)


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
    verify_max_age: int
    smtp_url: str
    mail_from: str
    helpdesk_email: str
    helpdesk_webhook: str
    webhook_secret: str = field(repr=False)
    upstream_email: str
    rate_limit_address: tuple[int, int]
    rate_limit_client: tuple[int, int]
    host: str
    port: int
    https: bool
    forwarded_allow_ips: str = ""
    preview: bool = False
    stale_days: int = 365
    redis_url: str = ""
    status_max_age: int = 90 * 24 * 3600

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
            "secret_key": _env("PORTAL_SECRET_KEY", "") or _local_secret(),
            "forwarded_allow_ips": _env("PORTAL_FORWARDED_ALLOW_IPS", ""),
            "allowed_hosts": tuple(
                h.strip()
                for h in _env("PORTAL_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
                if h.strip()
            ),
            "verify_max_age": int(_env("PORTAL_VERIFY_MAX_AGE", "3600")),
            "smtp_url": _env("PORTAL_SMTP_URL", ""),
            "mail_from": _env("PORTAL_MAIL_FROM", "support@localhost"),
            "helpdesk_email": _env("PORTAL_HELPDESK_EMAIL", ""),
            "helpdesk_webhook": _env("PORTAL_HELPDESK_WEBHOOK", ""),
            "webhook_secret": _env("PORTAL_WEBHOOK_SECRET", ""),
            "upstream_email": _env("PORTAL_UPSTREAM_EMAIL", ""),
            "rate_limit_address": _rate(_env("PORTAL_RATE_LIMITS", "5/3600,20/3600"), 0),
            "rate_limit_client": _rate(_env("PORTAL_RATE_LIMITS", "5/3600,20/3600"), 1),
            "host": _env("PORTAL_HOST", "127.0.0.1"),
            "port": int(_env("PORTAL_PORT", "8000")),
            "https": _env("PORTAL_HTTPS", "0") in ("1", "true", "yes"),
            "preview": _env("PORTAL_PREVIEW", "0") in ("1", "true", "yes"),
            "stale_days": int(_env("PORTAL_STALE_DAYS", "365")),
            "redis_url": _env("PORTAL_REDIS_URL", ""),
            "status_max_age": int(_env("PORTAL_STATUS_MAX_AGE", str(90 * 24 * 3600))),
        }
        values.update(overrides)
        if not values["webhook_secret"]:
            values["webhook_secret"] = values["secret_key"]
        return cls(**values)  # type: ignore[arg-type]
