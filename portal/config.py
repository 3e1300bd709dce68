"""Settings, read once from ``PORTAL_*`` environment variables.

Each setting is declared once, as a field of :class:`Settings`: its variable, its
default (as text, parsed like the variable), what it means, how the text is parsed and
written back. ``Settings.from_env`` reads the variables (over the lines of the settings
file, ``PORTAL_SETTINGS_FILE``: :func:`read_settings_file`), ``Settings.to_environ``
writes them for another process (``portal serve``'s workers), README.md's table is
:func:`settings_table` (a test compares them) and ``python -m portal.config`` prints it.
Every default is safe on a developer's machine.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

T = TypeVar("T")
S = TypeVar("S")
P = ParamSpec("P")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    """One ``PORTAL_*`` variable as README.md documents it."""

    name: str
    default: str  # the text used when the variable is unset or empty
    help: str
    shown: str = ""  # README's default column when it is not the literal default

    @property
    def documented_default(self) -> str:
        return self.shown or f"`{self.default}`"


@dataclass(frozen=True)
class _Declared:
    setting: Setting
    parse: Callable[[str], Any]
    text: Callable[[Any], str]


class SettingError(ValueError):
    """A variable holds text its setting cannot use; the message names the variable."""


def _declare(
    declared: Setting,
    parse: Callable[[str], T],
    text: Callable[[T], str] = str,
    *,
    secret: bool = False,
) -> T:
    """A ``Settings`` field whose value comes from the variable ``declared.name``."""
    return field(
        default=parse(declared.default),
        repr=not secret,
        metadata={"setting": _Declared(declared, parse, text)},
    )


def setting(
    name: str,
    default: str,
    help: str,
    parse: Callable[[str], T],
    text: Callable[[T], str] = str,
    *,
    shown: str = "",
    secret: bool = False,
) -> T:
    return _declare(Setting(name, default, help, shown), parse, text, secret=secret)


def _flag(text: str) -> bool:
    return text in ("1", "true", "yes")


def _flag_text(value: bool) -> str:
    return "1" if value else "0"


def _engine(text: str) -> str:
    """A search engine name that is installed (kb.search raises with the install hint)."""
    from kb.search import get_engine

    get_engine(text)
    return text


def _hosts(text: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in text.split(",") if h.strip())


def _megabytes(text: str) -> int:
    return int(float(text) * MIB)


def _megabytes_text(value: int) -> str:
    return str(value // MIB) if value % MIB == 0 else repr(value / MIB)


def _helpdesk(text: str) -> str:
    """``builtin`` or a Request Tracker URL its connector can use."""
    if text == "builtin":
        return text
    if not text.startswith("rt+"):
        raise ValueError("use builtin or rt+https://HOST/?queue=QUEUE")
    from portal.helpdesk.rt import RTConfig

    RTConfig.parse(text)  # raises with what is wrong
    return text


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be more than 0")
    return value


def _url(text: str) -> str:
    return text if not text or text.endswith("/") else text + "/"


def served_url(host: str, port: int) -> str:
    """PORTAL_BASE_URL's default: the address being served (``0.0.0.0`` and ``::``,
    every address, as ``127.0.0.1``)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def _rate(text: str, index: int) -> tuple[int, int]:
    """'count/seconds,count/seconds' -> the index-th (count, seconds)."""
    parts = [p.strip() for p in text.split(",")]
    count, _, seconds = parts[min(index, len(parts) - 1)].partition("/")
    return int(count), int(seconds or 3600)


def _rate_text(value: tuple[int, int]) -> str:
    return f"{value[0]}/{value[1]}"


# the file of PORTAL_*=value lines that every process reads under its environment
SETTINGS_FILE = Setting(
    "PORTAL_SETTINGS_FILE",
    "portal.env",
    "A file of `PORTAL_NAME=value` lines (`#` comments, blank lines) read by the server "
    "and every verb; a variable that is set wins over its line. The default is read only "
    "when it exists; an unknown name stops the portal with its line number.",
    shown="`portal.env` in the working directory",
)
# the policy file's default: the content directory's policy.yaml (resolved on creation)
POLICY_BESIDE_CONTENT = Path("<content>/policy.yaml")
# two fields read one variable, "per address,per client"; to_environ joins them with ","
RATE_LIMITS = Setting(
    "PORTAL_RATE_LIMITS",
    "5/3600,20/3600",
    "Filing-link emails per address and per client, as count/seconds.",
)

# the staff console's sign-in limits (#15): attempts per account and per client
STAFF_LOGIN_LIMITS = Setting(
    "PORTAL_STAFF_LOGIN_LIMITS",
    "10/900,30/900",
    "Staff sign-in attempts per account and per client, as count/seconds.",
)


@dataclass(frozen=True, kw_only=True)
class Settings:
    settings_file: Path = _declare(SETTINGS_FILE, Path)  # noqa: RUF009 - a field
    content_dir: Path = setting(  # noqa: RUF009 - a field, like dataclasses.field()
        "PORTAL_CONTENT_DIR", "content", "Content directory (articles, synonyms, policy).", Path
    )
    policy_file: Path = setting(  # noqa: RUF009 - a field, like dataclasses.field()
        "PORTAL_POLICY",
        str(POLICY_BESIDE_CONTENT),
        "The support policy file (plans, coverage, rates, hours, request types).",
        Path,
    )
    build_dir: Path = setting(  # noqa: RUF009 - a field, like dataclasses.field()
        "PORTAL_BUILD_DIR", "build", "Where `portal build` writes the site and index.", Path
    )
    database_url: str = setting(
        "PORTAL_DATABASE_URL",
        "sqlite:///var/portal.db",
        "SQLAlchemy URL; `postgresql+psycopg://user@host/db` works unchanged.",
        str,
    )
    upload_dir: Path = setting(  # noqa: RUF009 - a field, like dataclasses.field()
        "PORTAL_UPLOAD_DIR", "var/uploads", "Where uploaded screenshots are stored.", Path
    )
    max_upload_bytes: int = setting(
        "PORTAL_MAX_UPLOAD_MB",
        "5",
        "Largest accepted upload, in megabytes.",
        _megabytes,
        _megabytes_text,
    )
    base_url: str = setting(
        "PORTAL_BASE_URL",
        "",
        "Public URL of the portal; used for links in the sitemap and emails. Unset, it is "
        "the address served (`portal serve --port 8123`: `http://127.0.0.1:8123/`), which "
        "`portal serve` records in the database: the verbs that work on it (`tickets "
        "set-status`, `notices send`, …) link there too.",
        _url,
        shown="`http://<PORTAL_HOST>:<PORTAL_PORT>/`",
    )
    site_name: str = setting(
        "PORTAL_SITE_NAME",
        "",
        "Name shown in the page header (and the static site's).",
        str,
        shown="the policy's `provider.name` and “Support”",
    )
    secret_key: str = setting(
        "PORTAL_SECRET_KEY",
        "",
        "Key for signed tokens and CSRF; set it in production and keep it secret.",
        str,
        shown="generated once into `var/secret_key`",
        secret=True,
    )
    forwarded_allow_ips: str = setting(
        "PORTAL_FORWARDED_ALLOW_IPS",
        "",
        "Proxies whose `X-Forwarded-For` is trusted (e.g. `127.0.0.1`); rate limits then "
        "see the real client.",
        str,
        shown="none",
    )
    allowed_hosts: tuple[str, ...] = setting(
        "PORTAL_ALLOWED_HOSTS",
        "127.0.0.1,localhost",
        "Comma-separated Host header values the server answers (`*` for any).",
        _hosts,
        ",".join,
    )
    verify_max_age: int = setting(
        "PORTAL_VERIFY_MAX_AGE",
        "3600",
        "Seconds a filing link stays valid (it also works only once).",
        int,
    )
    status_max_age: int = setting(
        "PORTAL_STATUS_MAX_AGE",
        "7776000",
        "Seconds a ticket's status link stays valid (90 days). Each ticket has one link, "
        "issued at filing; a listed contact can have a new one mailed (it replaces the "
        "older ones).",
        int,
    )
    signin_days: int = setting(
        "PORTAL_SIGNIN_DAYS",
        "30",
        "Days a customer stays signed in (sign-in by e-mailed code); signing out ends it "
        "sooner, on one browser or everywhere.",
        int,
    )
    smtp_url: str = setting(
        "PORTAL_SMTP_URL",
        "",
        "`smtp://user:pass@host:587?starttls=1` or `smtps://host:465`; without it mail "
        "goes to the console.",
        str,
        shown="none: mail is printed",
        secret=True,
    )
    mail_from: str = setting(
        "PORTAL_MAIL_FROM", "support@localhost", "Sender address of the portal's mail.", str
    )
    helpdesk_email: str = setting(
        "PORTAL_HELPDESK_EMAIL",
        "",
        "Support mailbox that receives every filed ticket.",
        str,
        shown="none",
    )
    helpdesk_webhook: str = setting(
        "PORTAL_HELPDESK_WEBHOOK",
        "",
        "URL that receives every filed ticket as JSON (HMAC-SHA256 signed body).",
        str,
        shown="none",
    )
    helpdesk: str = setting(
        "PORTAL_HELPDESK",
        "builtin",
        "Where tickets are worked on: `builtin` (the portal's own store and console) or "
        "Request Tracker, `rt+https://rt.example.com/?queue=Support` (`&queue.TYPE=QUEUE` "
        "per request type; docs/helpdesks.md). Mail and webhook copies still go to "
        "`PORTAL_HELPDESK_EMAIL` and `PORTAL_HELPDESK_WEBHOOK`.",
        _helpdesk,
    )
    helpdesk_token: str = setting(
        "PORTAL_HELPDESK_TOKEN",
        "",
        "Credential for `PORTAL_HELPDESK`: an RT auth token, or `user:password` for basic auth.",
        str,
        shown="none",
        secret=True,
    )
    helpdesk_poll: float = setting(
        "PORTAL_HELPDESK_POLL",
        "60",
        "Seconds between polls of the external helpdesk for status changes and replies.",
        _positive,
    )
    helpdesk_secret: str = setting(
        "PORTAL_HELPDESK_SECRET",
        "",
        "Key for the `X-Portal-Signature` HMAC-SHA256 of an RT scrip's POST to "
        "`/api/helpdesk/rt` (poll RT now); without it that endpoint is off.",
        str,
        shown="none: endpoint off",
        secret=True,
    )
    webhook_secret: str = setting(
        "PORTAL_WEBHOOK_SECRET",
        "",
        "Key for the `X-Portal-Signature` HMAC of webhook bodies.",
        str,
        shown="the secret key",
        secret=True,
    )
    upstream_email: str = setting(
        "PORTAL_UPSTREAM_EMAIL",
        "",
        "Upstream provider's address for requests about their servers.",
        str,
        shown="none",
    )
    reply_address: str = setting(
        "PORTAL_REPLY_ADDRESS",
        "",
        "Mailbox for customers' answers to ticket mails, e.g. `support@harbor.example`: "
        "each ticket mail's Reply-To is its signed plus-address "
        "(`support+t-<number>-<signature>@…`). Without it, answers go to "
        "`PORTAL_MAIL_FROM` and are matched by their References.",
        str,
        shown="none",
    )
    imap_url: str = setting(
        "PORTAL_IMAP_URL",
        "",
        "Mailbox the portal reads customers' answers from: "
        "`imap://user:pass@host:143/INBOX` (`imaps://` for TLS; `?move=FOLDER` moves "
        "each processed message there, else it is marked seen).",
        str,
        shown="none: not polled",
        secret=True,
    )
    imap_poll: int = setting(
        "PORTAL_IMAP_POLL",
        "60",
        "Seconds between two reads of `PORTAL_IMAP_URL`.",
        int,
    )
    inbound_secret: str = setting(
        "PORTAL_INBOUND_SECRET",
        "",
        "Key for the `X-Portal-Signature` HMAC-SHA256 of raw mails POSTed to "
        "`/api/inbound`; without it that endpoint is off.",
        str,
        shown="none: endpoint off",
        secret=True,
    )
    staff_due_soon_minutes: int = setting(
        "PORTAL_STAFF_DUE_SOON_MINUTES",
        "30",
        "Staff are mailed this many minutes before a ticket's first response is due "
        "(0: no such mail); overdue tickets are mailed once too.",
        int,
    )
    rate_limit_address: tuple[int, int] = _declare(
        RATE_LIMITS, lambda text: _rate(text, 0), _rate_text
    )
    rate_limit_client: tuple[int, int] = _declare(
        RATE_LIMITS, lambda text: _rate(text, 1), _rate_text
    )
    redis_url: str = setting(
        "PORTAL_REDIS_URL",
        "",
        "Redis for the rate-limit counters, shared by several machines (moving window), "
        "e.g. `redis://127.0.0.1:6379/0`; `?key_prefix=NAME` (default `portal`) separates "
        "portals that share one Redis.",
        str,
        shown="none: counted in the database",
    )
    preview: bool = setting(
        "PORTAL_PREVIEW",
        "0",
        "1: live preview for editors (drafts shown, pages reload on change); "
        "`portal serve --reload` sets it.",
        _flag,
        _flag_text,
    )
    stale_days: int = setting(
        "PORTAL_STALE_DAYS",
        "365",
        "`portal check --stale` lists articles not updated for this many days.",
        int,
    )
    search_engine: str = setting(
        "PORTAL_SEARCH_ENGINE",
        "whoosh",
        "Search engine of the index: `whoosh` (pure Python) or `tantivy` "
        "(`pip install support-portal[tantivy]`); a change rebuilds the index at start.",
        _engine,
    )
    static_search: bool = setting(
        "PORTAL_STATIC_SEARCH",
        "1",
        "1: `portal build` also writes a client-side (Pagefind) index and `search.html`, "
        "so the built site searches on any static host.",
        _flag,
        _flag_text,
    )
    host: str = setting("PORTAL_HOST", "127.0.0.1", "Address `portal serve` listens on.", str)
    port: int = setting("PORTAL_PORT", "8000", "Port `portal serve` listens on.", int)
    https: bool = setting(
        "PORTAL_HTTPS",
        "0",
        "Set to 1 behind HTTPS: adds HSTS and Secure cookies.",
        _flag,
        _flag_text,
    )
    staff_totp: bool = setting(
        "PORTAL_STAFF_TOTP",
        "0",
        "1: staff admins sign in with a one-time code (TOTP) besides their password.",
        _flag,
        _flag_text,
    )
    staff_idle_minutes: int = setting(
        "PORTAL_STAFF_IDLE_MINUTES",
        "30",
        "Minutes without a request after which a staff session ends.",
        int,
    )
    staff_login_account: tuple[int, int] = _declare(
        STAFF_LOGIN_LIMITS, lambda text: _rate(text, 0), _rate_text
    )
    staff_login_client: tuple[int, int] = _declare(
        STAFF_LOGIN_LIMITS, lambda text: _rate(text, 1), _rate_text
    )
    staff_lockout: tuple[int, int] = setting(
        "PORTAL_STAFF_LOCKOUT",
        "5/900",
        "After this many failed staff sign-ins in a row the account is locked for the "
        "seconds given (count/seconds).",
        lambda text: _rate(text, 0),
        _rate_text,
    )
    staff_link_max_age: int = setting(
        "PORTAL_STAFF_LINK_MAX_AGE",
        "86400",
        "Seconds a staff member's set-password link stays valid (it also works only once).",
        int,
    )

    def __post_init__(self) -> None:
        # the defaults that follow other settings: "<content>/policy.yaml", a key kept in
        # var/secret_key, "the secret key"
        if self.policy_file == POLICY_BESIDE_CONTENT:
            object.__setattr__(self, "policy_file", self.content_dir / "policy.yaml")
        if not self.base_url:
            object.__setattr__(self, "base_url", served_url(self.host, self.port))
        if not self.secret_key:
            object.__setattr__(self, "secret_key", _local_secret())
        if not self.webhook_secret:
            object.__setattr__(self, "webhook_secret", self.secret_key)

    @classmethod
    def from_env(
        cls: Callable[P, S],
        environ: Mapping[str, str] | None = None,
        /,
        *args: P.args,
        **overrides: P.kwargs,
    ) -> S:
        """The settings in ``environ`` (default ``os.environ``); an empty variable counts
        as unset. Keyword arguments take the place of single settings, typed like the
        fields (``cls: Callable[P, S]`` gives this method the constructor's parameters,
        so mypy checks each name and type)."""
        given = os.environ if environ is None else environ
        chosen = overrides.get("settings_file")
        merged, lines = _with_settings_file(
            given, chosen if isinstance(chosen, Path) else None, default_file=environ is None
        )
        values = _read(merged, skip=overrides, lines=lines)
        return cast(Callable[..., S], cls)(*args, **{**values, **overrides})

    def serving(self, host: str | None, port: int | None) -> Settings:
        """These settings served on ``host`` and ``port`` (``portal serve --host/--port``;
        None keeps the setting): a base URL that was the served address follows them."""
        host, port = host or self.host, port or self.port
        followed = self.base_url == served_url(self.host, self.port)
        base_url = served_url(host, port) if followed else self.base_url
        return dataclasses.replace(self, host=host, port=port, base_url=base_url)

    def served_at(self, recorded: str | None) -> Settings:
        """These settings linking to ``recorded``, the base URL a running ``portal
        serve`` recorded for this database (``portal/served.py``), unless
        PORTAL_BASE_URL names one: a base URL that is the default follows it."""
        if not recorded or self.base_url != served_url(self.host, self.port):
            return self
        return dataclasses.replace(self, base_url=_url(recorded))

    def to_environ(self) -> dict[str, str]:
        """The ``PORTAL_*`` variables from which ``from_env`` reads these same settings
        (in another process, e.g. a uvicorn worker)."""
        texts: dict[str, list[str]] = {}
        for f in fields(self):
            declared: _Declared = f.metadata["setting"]
            texts.setdefault(declared.setting.name, []).append(declared.text(getattr(self, f.name)))
        return {name: ",".join(parts) for name, parts in texts.items()}


def _read(
    environ: Mapping[str, str],
    *,
    skip: Iterable[str] = (),
    lines: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The fields the variables set; ``lines`` says where in the settings file a
    variable's text came from (``portal.env:3``), for the error."""
    skipped = set(skip)
    values: dict[str, object] = {}
    for f in fields(Settings):
        declared: _Declared = f.metadata["setting"]
        text = environ.get(declared.setting.name, "").strip()
        if f.name in skipped or not text:
            continue
        try:
            values[f.name] = declared.parse(text)
        except ValueError as exc:
            where = (lines or {}).get(declared.setting.name)
            raise SettingError(
                f"{where + ': ' if where else ''}"
                f"{declared.setting.name}={text!r} is not valid ({exc}); "
                f"the default is {declared.setting.default!r}"
            ) from exc
    return values


def read_settings_file(path: Path) -> dict[str, tuple[str, int]]:
    """The ``PORTAL_NAME=value`` lines of a settings file: each name's value and line
    number. Blank lines and lines starting with ``#`` are skipped; a value may be
    quoted ('…' or "…") and is otherwise taken as it stands, ``#`` included. Raises
    SettingError naming the file and line of an unknown name, a line without ``=``, a
    name set twice, and ``PORTAL_SETTINGS_FILE`` itself (a file cannot name another)."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingError(f"{SETTINGS_FILE.name}={str(path)!r} cannot be read ({exc})") from exc
    known = [s.name for s in SETTINGS if s is not SETTINGS_FILE]
    found: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = (part.strip() for part in line.partition("="))
        where = f"{path}:{number}"
        if not equals or not name:
            raise SettingError(f"{where}: expected PORTAL_NAME=value, found {line[:60]!r}")
        if name == SETTINGS_FILE.name:
            raise SettingError(f"{where}: {name} cannot be set in a settings file")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingError(f"{where}: unknown setting {name[:60]!r}{hint}")
        if name in found:
            raise SettingError(f"{where}: {name} is set again (first on line {found[name][1]})")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name] = (value, number)
    return found


def _with_settings_file(
    environ: Mapping[str, str], chosen: Path | None, *, default_file: bool = True
) -> tuple[dict[str, str], dict[str, str]]:
    """``environ`` over the settings file's lines (an empty variable counts as unset,
    so its line applies), and where each variable taken from the file came from. The
    file is ``chosen``, else ``PORTAL_SETTINGS_FILE``, else ``portal.env`` when it
    exists; a file named otherwise must exist. Settings read from a given mapping (not
    the process environment) look for ``portal.env`` only when ``default_file``, so a
    developer's own file never changes what a test builds."""
    named = environ.get(SETTINGS_FILE.name, "").strip()
    if not (chosen or named or default_file):
        return dict(environ), {}
    path = chosen or Path(named or SETTINGS_FILE.default)
    if not path.is_file() and path == Path(SETTINGS_FILE.default):
        return dict(environ), {}
    if not path.exists():
        raise SettingError(f"{SETTINGS_FILE.name}={str(path)!r}: there is no such file")
    lines = read_settings_file(path)
    merged = {name: value for name, (value, _) in lines.items()}
    merged.update({k: v for k, v in environ.items() if v.strip() or k not in merged})
    where = {
        name: f"{path}:{number}"
        for name, (_, number) in lines.items()
        if not environ.get(name, "").strip()
    }
    return merged, where


SETTINGS: tuple[Setting, ...] = tuple(
    dict.fromkeys(cast(_Declared, f.metadata["setting"]).setting for f in fields(Settings))
)


def settings_table() -> str:
    """README.md's configuration table (a test fails when README differs)."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.documented_default} | {s.help} |" for s in SETTINGS]
    return "\n".join(rows) + "\n"


def _local_secret() -> str:
    """Development default: a random key kept in var/secret_key (mode 0600), so signed
    links survive restarts and every worker process uses the same key. Relative to the
    working directory, like the default database and uploads (never inside the
    installed package)."""
    path = Path("var") / "secret_key"
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


if __name__ == "__main__":
    print(settings_table(), end="")
