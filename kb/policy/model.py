"""Immutable model of a support policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

COVERAGE_STATUSES = ("included", "paid", "unsupported", "not_in_plan")
NO_PLAN = "none"  # ``when_ended.plan: none``: after the plan ends the account has no plan
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ROUTINGS = ("own", "upstream", "supervisor")
# what filing a request of a type schedules by itself (``schedules``)
SCHEDULES = ("cancellation",)


@dataclass(frozen=True)
class Window:
    """Open from ``start`` to ``end`` minutes after local midnight (end <= 1440)."""

    start: int
    end: int

    def describe(self) -> str:
        def hhmm(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return f"{hhmm(self.start)}–{hhmm(self.end)}"


@dataclass(frozen=True)
class Calendar:
    id: str
    name: str
    timezone: str
    weekly: tuple[tuple[Window, ...], ...]  # Monday..Sunday
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    extra_closed: tuple[str, ...] = ()  # "MM-DD" every year or "YYYY-MM-DD"
    holiday_hours: tuple[Window, ...] = ()  # open windows on holidays; () = closed
    published: bool = True  # False: the provider publishes no hours (``hours: not published``)
    note: str = ""  # what customers read with the hours, e.g. how "EST" was read

    @property
    def always_open(self) -> bool:
        full = (Window(0, 1440),)
        return (
            self.published
            and all(day == full for day in self.weekly)
            and (self.holiday_hours == full or not self.has_holidays)
        )

    @property
    def has_holidays(self) -> bool:
        return bool(self.holiday_country or self.extra_closed)

    def describe(self) -> str:
        """Weekly hours like 'Mon–Fri 08:00–18:00'."""
        if not self.published:
            return "not published"
        if self.always_open:
            return "24 hours a day, 7 days a week"
        groups: list[tuple[int, int, tuple[Window, ...]]] = []
        for i, windows in enumerate(self.weekly):
            if groups and groups[-1][2] == windows and groups[-1][1] == i - 1:
                groups[-1] = (groups[-1][0], i, windows)
            else:
                groups.append((i, i, windows))
        parts = []
        for first, last, windows in groups:
            if not windows:
                continue
            days = (
                WEEKDAY_NAMES[first]
                if first == last
                else (f"{WEEKDAY_NAMES[first]}–{WEEKDAY_NAMES[last]}")
            )
            hours = ", ".join("24 hours" if w == Window(0, 1440) else w.describe() for w in windows)
            parts.append(f"{days} {hours}")
        return "; ".join(parts) or "closed"


@dataclass(frozen=True)
class Price:
    kind: str  # included, per_year, per_month, licence_share, hourly, quote, unpublished, none
    text: str
    amount: Decimal | None = None
    currency: str | None = None
    included_servers: int | None = None
    per_extra_server: Decimal | None = None
    minimum_months: int | None = None
    licence_share_percent: Decimal | None = None
    first_year_free: bool = False


@dataclass(frozen=True)
class WhenEnded:
    """What happens when a plan ends (``plans.when_ended``)."""

    plan: str = NO_PLAN  # the plan from the day after; NO_PLAN: paid work, priced on request
    tickets_keep_plan: bool = False  # tickets filed during the plan keep its treatment
    text: str = ""  # the provider's words, shown with the plan


@dataclass(frozen=True)
class Plan:
    id: str
    name: str
    description: str
    price: Price
    calendar: str
    reaction: dict[str, float | None]  # priority id -> business hours (None: no target)
    channels: tuple[str, ...] = ()
    emergency_calendar: str | None = None
    reaction_text: dict[str, str] = field(default_factory=dict)  # e.g. "0–1 h"
    first_response_text: str = ""  # the policy's words when no response time is promised
    precedence: int | None = None  # queue order: 1 is served first; None: not stated
    precedence_text: str = ""  # how customers read the queue place, e.g. "Highest"
    emergency_text: str = ""  # what the plan does with emergencies, in the provider's words
    when_ended: WhenEnded | None = None  # None: the policy does not say


@dataclass(frozen=True)
class Priority:
    id: str
    name: str
    definition: str


@dataclass(frozen=True)
class Rate:
    id: str
    name: str
    amount: Decimal | None  # None: no published amount, the work is priced on request
    currency: str
    unit_minutes: int | None = None  # None: no billing unit stated (time is not rounded)
    minimum_minutes: int = 0  # 0: no minimum stated
    in_advance: bool = False
    waived_when: tuple[str, ...] = ()
    description: str = ""  # shown with the rate, e.g. which of two published figures is used

    @property
    def priced_on_request(self) -> bool:
        return self.amount is None


@dataclass(frozen=True)
class Fee:
    id: str
    name: str
    amount: Decimal
    currency: str
    description: str = ""


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    description: str = ""
    address: str = ""


@dataclass(frozen=True)
class DetailGroup:
    """Details of which one option suffices: each option is a set of detail ids that
    together stand in for the others (an error message, or a description and a time)."""

    options: tuple[tuple[str, ...], ...]
    text: str = ""  # what the customer reads when no option is complete

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for option in self.options for d in option))


@dataclass(frozen=True)
class RequestType:
    id: str
    title: str
    description: str
    category: str
    coverage: dict[str, str]  # plan id -> status
    default_coverage: str | None = None  # for plans not named in coverage
    keywords: tuple[str, ...] = ()
    rate: str | None = None
    fee: str | None = None
    effort_hours: tuple[float, float] | None = None
    details: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    default_priority: str | None = None
    emergency: bool = False
    roles: tuple[str, ...] = ()  # empty: any listed contact
    routing: str = "own"
    schedules: str | None = None  # one of SCHEDULES: what filing it schedules
    articles: tuple[str, ...] = ()
    alternative: str | None = None  # article explaining what to do instead
    note: str = ""
    restricted_action: bool = False
    bugfix: bool = False  # free on the releases that get free bug fixes
    any_version: bool = False  # allowed on unsupported versions (e.g. upgrades)
    waivers: tuple[str, ...] = ()  # waiver ids for this type, besides its rate's
    optional_details: tuple[str, ...] = ()  # details the customer may leave empty
    detail_groups: tuple[DetailGroup, ...] = ()  # "one of these" details

    def status_for(self, plan: str) -> str | None:
        return self.coverage.get(plan, self.default_coverage)


@dataclass(frozen=True)
class Versions:
    product: str
    minimum: str | None = None
    releases: tuple[str, ...] = ()  # known releases, oldest first
    free_bugfix_latest: int = 0  # the latest N releases get free bug fixes
    upgrade_advice: str = ""

    @property
    def free_bugfix_releases(self) -> tuple[str, ...]:
        if not self.free_bugfix_latest:
            return ()
        return self.releases[-self.free_bugfix_latest :]


@dataclass(frozen=True)
class ContactRole:
    id: str
    name: str
    max: int | None
    description: str = ""


@dataclass(frozen=True)
class Contacts:
    roles: tuple[ContactRole, ...]
    max_total: int | None = None
    restricted_roles: tuple[str, ...] = ()  # roles allowed to ask for restricted actions
    unlisted_text: str = ""

    def role(self, role_id: str) -> ContactRole | None:
        return next((r for r in self.roles if r.id == role_id), None)


@dataclass(frozen=True)
class Emergency:
    definition: str
    request_types: tuple[str, ...]
    highest: tuple[str, ...] = ()
    priority: str | None = None  # priority id emergencies are filed at
    plans: tuple[str, ...] = ()  # plans with emergency handling; empty = all
    max_rejected: int = 0  # after this many rejected claims ...
    window_days: int = 0  # ... within this many days ...
    ignore_days: int = 0  # ... the emergency flag is ignored this long
    abuse_text: str = ""  # the provider's own words about misuse, with or without numbers
    instructions: str = ""


@dataclass(frozen=True)
class Notices:
    """Scheduled notices to customers (``notices:``); a number left out means the
    provider has not said, and no such notice is sent."""

    cancellation_warning_days: int | None = None  # warn this many days before
    cancellation_warnings: str = ""  # the provider's own words about the warnings
    plan_ending_days: int | None = None
    waiting_reminder_days: int | None = None


@dataclass(frozen=True)
class Provider:
    name: str
    timezone: str
    currency: str
    locale: str = "en_US"
    channels: tuple[Channel, ...] = ()
    support_email: str = ""
    supervisor_email: str = ""
    website: str = ""


@dataclass(frozen=True, eq=False)  # hashed by identity: derived indexes are cached per policy
class Policy:
    provider: Provider
    calendars: dict[str, Calendar]
    plans: dict[str, Plan]
    priorities: dict[str, Priority]  # most urgent first
    rates: dict[str, Rate]
    fees: dict[str, Fee]
    request_types: dict[str, RequestType]
    categories: dict[str, str]  # request-type category id -> title
    versions: Versions | None
    contacts: Contacts
    emergency: Emergency | None
    waivers: dict[str, str]  # condition id -> description
    source: str = ""
    digest: str = ""
    notices: Notices = Notices()

    def priority_rank(self, priority_id: str) -> int:
        return list(self.priorities).index(priority_id)

    def request_type_groups(self) -> list[tuple[str, list[RequestType]]]:
        """Request types grouped by category, in the policy's order; types whose category
        is not listed under request_type_categories come last, grouped by their id."""
        groups: dict[str, list[RequestType]] = {c: [] for c in self.categories}
        for rt in self.request_types.values():
            groups.setdefault(rt.category, []).append(rt)
        return [
            (self.categories.get(cid) or cid.replace("-", " ").capitalize() or "Requests", types)
            for cid, types in groups.items()
            if types
        ]
