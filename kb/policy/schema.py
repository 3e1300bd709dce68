"""The policy file's schema, declared once.

Every section of ``policy.yaml`` is a :class:`~kb.policy.fields.Section` of keys; each
key names its kind of value (which validates itself), whether it is required or its
default, and what it means. From these declarations:

- :mod:`kb.policy.load` reads and checks the file (and so ``portal check`` reports its
  problems);
- :mod:`kb.policy.reference` writes the key tables of ``docs/policy.md`` from them.
  Regenerate the page after a change here::

      python -m kb.policy.reference --write docs/policy.md

  (``tests/test_docs.py`` fails while the page differs.)

Sections are read in the order they are declared, so a key may refer (``Ref``,
``RefList``, ``KeyedBy``) only to ids of sections declared before it, or to items of
its own list.

To add a key: declare it here with its doc, add the attribute to the model in
:mod:`kb.policy.model`, regenerate the reference. A rule that spans several keys goes
in :mod:`kb.policy.load` (``check_*``).
"""

from __future__ import annotations

from kb.policy.details import DETAIL_FIELDS
from kb.policy.fields import (
    Bool,
    ById,
    Conditions,
    Country,
    Coverage,
    Dates,
    Derived,
    DetailGroups,
    Hours,
    HoursRange,
    Int,
    Items,
    Key,
    KeyedBy,
    LocaleCode,
    Money,
    Nested,
    RawText,
    Ref,
    RefList,
    Section,
    Strings,
    Target,
    Text,
    TimeZone,
    Version,
    VersionList,
    WeeklyHours,
    When,
    Windows,
)
from kb.policy.model import (
    COVERAGE_STATUSES,
    ROUTINGS,
    SCHEDULES,
    Channel,
    ContactRole,
    Contacts,
    Fee,
    Notices,
    Plan,
    Price,
    Priority,
    Provider,
    Rate,
    Versions,
    WhenEnded,
)

PRICE_KINDS = (
    "included",
    "per_year",
    "per_month",
    "licence_share",
    "hourly",
    "quote",
    "unpublished",
    "none",
)
_PRICED = ("per_year", "per_month", "hourly")

# --- what keys can refer to ----------------------------------------------------------

CALENDAR = Target("calendars", "calendar")
CHANNEL = Target("channels", "channel")
PRIORITY = Target("priorities", "priority")
PLAN = Target("plans", "plan")
RATE = Target("rates", "rate")
FEE = Target("fees", "fee")
WAIVER = Target("waivers", "waiver condition", advice="define it under waivers")
ROLE = Target("roles", "contact role")
CATEGORY = Target("categories", "request type category", when_defined=True)
REQUEST_TYPE = Target("request_types", "request type")
DETAIL = Target("details", "detail", choices=tuple(DETAIL_FIELDS))
STATUS = Target("statuses", "coverage", choices=COVERAGE_STATUSES)
PRICE_KIND = Target("price_kinds", "price kind", choices=PRICE_KINDS)
ROUTING = Target("routings", "routing", choices=ROUTINGS)
SCHEDULE = Target("schedules", "schedule", choices=SCHEDULES)


def _from_id(values: dict[str, object]) -> str:
    return str(values["id"]).replace("-", " ").capitalize()


def _title(id: str, title: str) -> str:  # a category is kept as its title
    return title


# --- the sections ----------------------------------------------------------------------

CHANNEL_ITEM = Section(
    "provider.channels",
    (
        Key("id", Text("id"), "What plans use in their `channels` list.", required=True),
        Key(
            "name",
            Text(),
            'Shown in the plan tables, for example "Emergency phone line".',
            required=True,
        ),
        Key(
            "description",
            Text(),
            "What the channel is for, in the provider's terms (who may use it, its hours), "
            "shown with the channel on `/plans`.",
        ),
        Key(
            "address",
            Text(),
            "The phone number, address or URL, shown with the channel. Leave it empty when "
            "the provider does not publish one.",
        ),
    ),
    model=Channel,
    doc="Each channel:",
)

PROVIDER = Section(
    "provider",
    (
        Key("name", Text(), "The provider's name, shown on `/plans`.", required=True),
        Key(
            "timezone",
            TimeZone(),
            "An IANA time-zone name such as `Europe/Berlin` or `America/New_York`. It is the "
            "default time zone of every calendar. An unknown name is reported, and UTC is "
            "used instead.",
            required=True,
            default="UTC",
        ),
        Key(
            "currency",
            Text("currency code"),
            "A three-letter code such as `EUR`, `USD` or `GBP`. It is the default currency "
            "of prices, rates and fees.",
            required=True,
            default="EUR",
        ),
        Key(
            "locale",
            LocaleCode(),
            "How amounts are written: `en_IE` gives €100.00 and `de_DE` gives 100,00 €. An "
            "unknown locale is reported, and `en_US` is used instead.",
            default="en_US",
        ),
        Key(
            "support_email",
            Text(),
            "The support address. Articles can quote it as `provider.support_email`.",
        ),
        Key(
            "supervisor_email",
            Text(),
            "The address for complaints about a support answer. Articles can quote it as "
            "`provider.supervisor_email`.",
        ),
        Key(
            "website",
            Text(),
            "The provider's website. Articles can quote it as `provider.website`.",
        ),
        Key(
            "channels",
            Items(CHANNEL_ITEM, CHANNEL.name, as_tuple=True),
            "The ways customers reach support. Each plan lists the channels it offers.",
        ),
    ),
    model=Provider,
)

HOLIDAYS = Section(
    "calendars.holidays",
    (
        Key(
            "country",
            Country(),
            "Public holidays of this country, from the Python "
            "[`holidays`](https://pypi.org/project/holidays/) package. Use its codes: `DE`, "
            "`GB`, `US`, `FR`, `UA`, `ZA`, …. An unknown code is reported.",
            default=None,
        ),
        Key(
            "subdivision",
            Text("subdivision code"),
            "Adds the regional holidays of a state, province or nation of `country`. "
            "Examples: `BY` (Bavaria) for `DE`, `ENG` or `SCT` for `GB`, `CA` for `US`. An "
            "unknown code is reported.",
            default=None,
        ),
        Key(
            "extra",
            Dates(),
            'More holidays of the provider\'s own, such as office closing days. `"12-24"` '
            '(`MM-DD`) means every year and `"2026-12-28"` (`YYYY-MM-DD`) means that date '
            "only. Quote them, and use real dates.",
        ),
        Key(
            "hours",
            Windows(),
            "The hours on holidays, written like a day's hours above, for example "
            '`"07:00-22:00"` or `"24h"`. They apply on every holiday, even one that falls on '
            "a day that is normally closed.",
            default_doc="closed",
        ),
    ),
)

CALENDAR_ITEM = Section(
    "calendars",
    (
        Key(
            "name",
            Text(),
            "A name for people; the pages show the hours themselves.",
            default=Derived(
                "the id, with `-` as spaces and a capital first letter", lambda v, r: _from_id(v)
            ),
        ),
        Key(
            "timezone",
            TimeZone(),
            "The zone the hours below are in.",
            default=Derived("`provider.timezone`", lambda v, r: r.context["provider.timezone"]),
        ),
        Key(
            "hours",
            WeeklyHours(),
            "When support is open in an ordinary week. `not published` when the provider "
            "states no hours: the pages say so, and no due time is counted on this calendar.",
            required=True,
            default=((),) * 7,
        ),
        Key(
            "holidays",
            Nested(HOLIDAYS),
            "Days on which other hours apply; see below.",
            default_doc="none (no holidays)",
        ),
        Key(
            "note",
            Text(),
            'Shown with the hours: how an ambiguous source was read ("EST" taken as US '
            "Eastern time), or why the hours are not published.",
        ),
    ),
)

PRIORITY_ITEM = Section(
    "priorities",
    (
        Key(
            "id",
            Text("id"),
            "Used by plans (`reaction`), request types and `emergency.priority`.",
            required=True,
        ),
        Key("name", Text(), 'Shown to customers, for example "Blocker".', required=True),
        Key(
            "definition",
            Text(),
            "When to choose this priority, shown on `/plans` and in `` {policy}`priorities` ``.",
            required=True,
        ),
    ),
    model=Priority,
)

PRICE = Section(
    "plans.price",
    (
        Key(
            "kind",
            Ref(PRICE_KIND),
            "How the plan is charged.",
            required=True,
            default="none",
        ),
        Key(
            "text",
            Text(),
            "The price as customers read it on `/plans` and in `` {policy}`plan.ID.price` ``.",
            required=True,
        ),
        Key(
            "amount",
            Money(),
            "The price per year, month or hour.",
            required=When(
                "required for " + ", ".join(f"`{k}`" for k in _PRICED),
                lambda v: v["kind"] in _PRICED,
            ),
        ),
        Key(
            "currency",
            Text("currency code"),
            "The currency of `amount`.",
            default=Derived("`provider.currency`", lambda v, r: r.context["provider.currency"]),
        ),
        Key("included_servers", Int(), "The number of servers the amount covers."),
        Key("per_extra_server", Money(), "The price for each further server."),
        Key("minimum_months", Int(), "The shortest term."),
        Key(
            "licence_share_percent",
            Money("number"),
            "The percentage of the licence fee.",
            required=When("required for `licence_share`", lambda v: v["kind"] == "licence_share"),
        ),
        Key("first_year_free", Bool(), "Whether the first year costs nothing."),
    ),
    model=Price,
    doc="`price` describes the price. Customers read `text`; the other keys hold the same "
    "price in a structured form, from which the portal computes a price for a number of "
    "servers (`included_servers`, `per_extra_server`, `minimum_months`). Use `unpublished` "
    "when the provider states no price, and say so in `text`.",
)

WHEN_ENDED = Section(
    "plans.when_ended",
    (
        Key(
            "plan",
            Ref(PLAN, "plan id or `none`", also=("none",)),
            "The plan the account has from the day after this plan ends. `none`: the "
            "account has no plan then, and every request it can still make is paid work, "
            "priced on request unless the request type has a published price.",
            default="none",
        ),
        Key(
            "tickets_keep_plan",
            Bool(),
            "Tickets filed while the plan ran keep its treatment (priority, hours, "
            'first-response targets) after it ends (Kolmisoft: "priority does not '
            'expire"). Otherwise an open ticket is treated under the plan of the moment.',
        ),
        Key(
            "text",
            Text(),
            "The provider's words about it, shown with the plan.",
        ),
    ),
    model=WhenEnded,
    doc="`when_ended`:",
)

PLAN_ITEM = Section(
    "plans",
    (
        Key(
            "id",
            Text("id"),
            "Used in request types' `coverage` and in `emergency.plans`.",
            required=True,
        ),
        Key("name", Text(), 'Shown to customers, for example "Priority".', required=True),
        Key(
            "description",
            Text(),
            "One or two sentences about the plan, shown on `/plans`.",
        ),
        Key("price", Nested(PRICE), "See the price table below.", required=True),
        Key(
            "calendar",
            Ref(CALENDAR),
            "The support hours in which the plan's first-response times are counted.",
            required=True,
            default="",
        ),
        Key(
            "emergency_calendar",
            Ref(CALENDAR),
            "The hours used for accepted emergencies, for example a `24x7` calendar. Without "
            "one, emergencies are timed on `calendar`.",
        ),
        Key(
            "reaction",
            KeyedBy(PRIORITY, Hours(), "mapping of priority id to hours"),
            "The first-response target per priority, in hours of `calendar`. Fractions are "
            'allowed: `0.5` is 30 minutes. `0` means "as soon as support is open". A '
            "priority left out, or set to `null`, has no guaranteed time.",
            default_doc="no targets",
        ),
        Key(
            "reaction_text",
            KeyedBy(PRIORITY, RawText(), "mapping of priority id to text"),
            "Replaces the shown target, for example `0–1 h` or `as soon as possible; our "
            "target is 4 support hours`. It changes only what `/plans` and the policy "
            "references show; due times are still computed from `reaction`.",
            default_doc="none",
        ),
        Key(
            "channels",
            RefList(CHANNEL),
            "The `provider.channels` this plan offers.",
        ),
        Key(
            "first_response_text",
            Text(),
            "What customers read about the first response when the plan has no target for "
            "a priority, in the provider's words (\"No response time is promised; Priority "
            'customers come first"). The pages and mails show it instead of a due time, '
            "with when support is next open.",
            default_doc="No response time is promised on this plan.",
        ),
        Key(
            "precedence",
            Int(1, "must be 1 or more (1 is served first)", "whole number, 1 or more"),
            "The plan's place in the queue when the provider ranks plans: `1` is served "
            "first. Plans may share a place. Leave it out when the provider states no order.",
            default_doc="none (no order stated)",
        ),
        Key(
            "precedence_text",
            Text(),
            "How customers read the plan's place in the queue, for example `Highest`.",
            default_doc='"Served first", or "Served after" the plans ranked before it',
        ),
        Key(
            "emergency_text",
            Text(),
            "What the plan does with emergencies, in the provider's words (\"As soon as "
            'possible within support hours; Priority customers still come first"). '
            "Without it, `/plans` states only what the file says: the emergency hours, or "
            "that the plan has no emergency handling.",
        ),
        Key(
            "when_ended",
            Nested(WHEN_ENDED, optional=True),
            "What happens when the plan ends; see below. Left out, the policy says nothing: "
            "after its last day the account has no plan, and its tickets do not keep the plan.",
            default_doc="not stated",
        ),
    ),
    model=Plan,
)

RATE_ITEM = Section(
    "rates",
    (
        Key("id", Text("id"), "Used in request types' `rate`.", required=True),
        Key(
            "name",
            Text(),
            'Shown on `/plans`, for example "Paid support".',
            default=Derived("the id", lambda v, r: v["id"]),
        ),
        Key(
            "amount",
            Money(),
            "The price of **one hour**. Leave it out when the provider publishes no price: "
            "the work is then *priced on request*, and customers are told they get a quote "
            "before any work.",
            default_doc="none (priced on request)",
        ),
        Key(
            "currency",
            Text("currency code"),
            "The currency of `amount`.",
            default=Derived("`provider.currency`", lambda v, r: r.context["provider.currency"]),
        ),
        Key(
            "unit_minutes",
            Int(1, "must be a positive number of minutes", "whole number, above 0"),
            "The billing unit, when the provider states one. Work time is rounded up to "
            "whole units.",
            default=None,
            default_doc="none (no unit stated: time is not rounded)",
        ),
        Key(
            "minimum_minutes",
            Int(0),
            "The least time charged for a request, when the provider states one.",
            default=0,
            default_doc="`0` (no minimum stated)",
        ),
        Key(
            "in_advance",
            Bool(),
            'Whether payment is due before the work. Customers read "paid in advance".',
        ),
        Key(
            "waived_when",
            RefList(WAIVER, "list of waiver ids"),
            "The `waivers` under which nothing is charged.",
        ),
        Key(
            "description",
            Text(),
            "Shown with the rate: what the provider says about it, or which figure was "
            "kept when the source gives two.",
        ),
    ),
    model=Rate,
)

FEE_ITEM = Section(
    "fees",
    (
        Key("id", Text("id"), "Used in request types' `fee`.", required=True),
        Key(
            "name",
            Text(),
            'Shown on `/plans`, for example "Account clean-up or re-creation".',
            required=True,
        ),
        Key("amount", Money(), "The fee.", required=True, default=Money.ZERO),
        Key(
            "currency",
            Text("currency code"),
            "The currency of `amount`.",
            default=Derived("`provider.currency`", lambda v, r: r.context["provider.currency"]),
        ),
        Key("description", Text(), "What the fee pays for, shown on `/plans`."),
    ),
    model=Fee,
)

VERSIONS = Section(
    "versions",
    (
        Key(
            "product",
            Text(),
            'The product\'s name, for example "HarborPanel".',
            required=True,
        ),
        Key(
            "minimum",
            Version(),
            'The oldest supported version, like `"5.2"`.',
            default_doc="none (every version supported)",
        ),
        Key("releases", VersionList(), "The known releases, **oldest first**."),
        Key(
            "free_bugfix_latest",
            Int(),
            "The last this-many `releases` get bug fixes free of charge. It may not be larger "
            "than the number of releases.",
            default=0,
        ),
        Key(
            "upgrade_advice",
            Text(),
            "Added to the message for customers on an unsupported version.",
        ),
    ),
    model=Versions,
)

ROLE_ITEM = Section(
    "contacts.roles",
    (
        Key(
            "id",
            Text("id"),
            "Used in `restricted_roles` and request types' `roles`.",
            required=True,
        ),
        Key(
            "name",
            Text(),
            'A singular noun, shown to customers: "Primary contact". Counts add an "s": '
            '"3 authorised contacts".',
            required=True,
        ),
        Key(
            "max",
            Int(),
            "How many contacts of this role an account may list.",
            default_doc="no limit",
        ),
        Key(
            "description",
            Text(),
            "What the role may do, shown with the roles.",
        ),
    ),
    model=ContactRole,
    doc="Each role:",
)

CONTACTS = Section(
    "contacts",
    (
        Key(
            "max_total",
            Int(),
            "The most contacts an account may list, shown in `` {policy}`contacts` ``.",
        ),
        Key(
            "roles",
            Items(ROLE_ITEM, ROLE.name, as_tuple=True),
            "The contact roles; see below.",
        ),
        Key(
            "restricted_roles",
            RefList(ROLE, "list of role ids"),
            "The roles that may make restricted requests. A request type with `restricted: "
            "true` and no `roles` of its own is limited to these roles. They also see every "
            'request of the account when signed in ("my requests"), and may have a new '
            "status link to any of its tickets mailed; other contacts see their own.",
        ),
        Key(
            "unlisted",
            Text(),
            "What happens to requests from people who are not listed contacts, shown where "
            "customers give their address.",
            field="unlisted_text",
        ),
    ),
    model=Contacts,
)

CATEGORY_ITEM = Section(
    "request_type_categories",
    (
        Key("id", Text("id"), "Used in request types' `category`.", required=True),
        Key(
            "title",
            Text(),
            'The group\'s heading, for example "Something is down".',
            required=True,
        ),
    ),
    model=_title,
)

REQUEST_TYPE_ITEM = Section(
    "request_types",
    (
        Key(
            "id",
            Text("id"),
            "Used in `emergency`, in articles' `request_types` front matter, and in the API.",
            required=True,
        ),
        Key(
            "title",
            Text(),
            'What the customer picks, worded as the customer would say it: "A mailbox is '
            'not working".',
            required=True,
        ),
        Key(
            "description",
            Text(),
            "One sentence that tells this kind apart from similar ones. It is shown under "
            "the title on `/coverage` and is used for suggestions.",
            required=True,
        ),
        Key(
            "category",
            Ref(CATEGORY, "category id"),
            "Its group in `request_type_categories` (checked when categories are defined).",
            required=True,
            default="",
        ),
        Key(
            "keywords",
            Strings(),
            'Phrases customers type, like "mail bounces" or "cannot send email". '
            "Suggestions match the title, these phrases and the description, in that order "
            "of weight. A keyword of several words counts more when the customer's text "
            "contains the whole phrase.",
        ),
        Key(
            "coverage",
            Coverage(PLAN, STATUS),
            "What each plan does with this request, with a status per plan id, a `default` "
            "for the plans not named, or both. The statuses are "
            + ", ".join(f"`{s}`" for s in COVERAGE_STATUSES)
            + " (see [Coverage](#coverage-what-a-customer-is-told)). Without `default`, every "
            "plan must be named.",
            required=True,
        ),
        Key(
            "rate",
            Ref(RATE),
            "Required, with no `fee`, when any coverage is `paid`. The request is charged by "
            "time at this rate.",
        ),
        Key(
            "fee",
            Ref(FEE),
            "Required, with no `rate`, when any coverage is `paid`. The request is charged "
            "this fixed fee. If you give both, the fee is charged and the rate's waivers are "
            "still mentioned.",
        ),
        Key(
            "effort_hours",
            HoursRange(),
            "The time the **provider says** the work usually takes, in hours: `[0.5, 2]`. "
            "Customers read the estimate as the provider's, so leave it out when the "
            "provider publishes none; the estimate then states the rate only. Both numbers "
            "must be above 0, with low no larger than high.",
        ),
        Key(
            "details",
            RefList(DETAIL),
            "What the customer must tell us. See [Detail ids](#detail-ids).",
        ),
        Key(
            "optional_details",
            RefList(DETAIL),
            "Details of `details` the customer may leave empty (`screenshot` and "
            "`preferred_date` always may).",
        ),
        Key(
            "detail_groups",
            DetailGroups(DETAIL),
            "Details of which one option suffices, for example the exact error message "
            "**or** a description with the time it happened: `[{options: [[error_message], "
            "[description, occurred_at]], text: …}]`. Every id must also be in `details`; "
            "`text` is what the customer reads when no option is complete.",
        ),
        Key(
            "priorities",
            RefList(PRIORITY),
            "The priorities a customer may choose for this request.",
            default=Derived("all priorities", lambda v, r: r.ids[PRIORITY.name]),
        ),
        Key(
            "default_priority",
            Text("priority id"),  # checked against the type's own priorities
            "Preselected. It is used when a chosen priority is not allowed and for the "
            "first-response time in `portal triage`. It must be one of `priorities`.",
            default=Derived(
                "the last (least urgent) of `priorities`",
                lambda v, r: v["priorities"][-1] if v["priorities"] else None,
            ),
        ),
        Key(
            "emergency",
            Bool(),
            "Whether this request can be an emergency. It must match `emergency.request_types`.",
        ),
        Key(
            "restricted",
            Bool(),
            "A restricted action, such as a password reset, a cancellation or a change of "
            "contacts. Without `roles`, only `contacts.restricted_roles` may ask for it "
            "(anyone, if that list is empty).",
            field="restricted_action",
        ),
        Key(
            "roles",
            RefList(ROLE, "list of role ids"),
            "The contact roles that may ask for this request.",
            default=Derived(
                "anyone (or `restricted_roles` when `restricted`)",
                lambda v, r: r.context["contacts.restricted_roles"] if v["restricted"] else (),
            ),
        ),
        Key(
            "routing",
            Ref(ROUTING),
            "`upstream` marks a type as one that is often about the upstream provider's "
            "servers; it decides nothing by itself. Every request that names a server (the "
            "`server` detail), whatever its type and routing, is routed by the account "
            "directory's owner of that exact server, found by id and then by exact name: "
            "the upstream provider's servers are forwarded to them (`PORTAL_UPSTREAM_EMAIL`, "
            "with the server's name and id), the provider's own stay here, and when the "
            "server is unknown or ambiguous the customer picks one of the account's servers. "
            "`supervisor`: the request goes to `provider.supervisor_email`, not to the "
            "helpdesk (complaints).",
            default="own",
        ),
        Key(
            "schedules",
            Ref(SCHEDULE),
            "What filing this request does by itself. `cancellation`: the server the request "
            "names (the `server` detail, found in the account directory) is scheduled to be "
            "cancelled at the end of its billing period (the directory's `billing_ends`), with "
            "the warning of [notices](#notices) when that gives a number of days; the "
            "ticket's history and the confirmation mail say on which day. When the server is "
            "unknown, has no billing period end or already has a cancellation scheduled, "
            "nothing is scheduled, the customer is told so and staff see it. It needs "
            "`server` in `details`.",
        ),
        Key(
            "articles",
            Strings("list of article slugs"),
            "Articles that help with this request. They are shown with it, and the first one "
            "is linked from `/coverage`. They must exist and must not be drafts.",
        ),
        Key(
            "alternative",
            Text("article slug"),
            "The article to read instead when the request is `unsupported` or "
            "`not_in_plan`. The verdict carries it, but the current pages do not display it. "
            "It must exist and must not be a draft.",
            default=None,
        ),
        Key(
            "note",
            Text(),
            "What the customer should know about this request, in the provider's terms "
            '("does not include customising the application"). It is shown with every '
            "verdict: included, paid, not offered or not in the plan.",
        ),
        Key(
            "waivers",
            RefList(WAIVER, "list of waiver ids"),
            "`waivers` that apply to this request, besides those of its rate. The customer "
            "may claim one when filing; staff confirm it.",
        ),
        Key(
            "bugfix",
            Bool(),
            "The request is a bug report. With [versions](#versions), it is free on the "
            "releases that get free bug fixes.",
        ),
        Key(
            "any_version",
            Bool(),
            "Accept the request even on a version older than `versions.minimum`, for example "
            "an upgrade service.",
        ),
    ),
)

ABUSE = Section(
    "emergency.abuse",
    (
        Key(
            "max_rejected",
            Int(),
            "How many refused emergency claims …",
            default=0,
            default_doc="`0` (off)",
        ),
        Key("window_days", Int(), "… within how many days …", default=0, default_doc="`0` (off)"),
        Key(
            "ignore_days",
            Int(),
            "… make the account's emergency mark ignored for this many days.",
            default=0,
            default_doc="`window_days`",
        ),
        Key(
            "text",
            Text(),
            "The provider's own words about misuse. With no numbers above, this is all the "
            "customer reads and nothing is ignored automatically.",
        ),
    ),
    doc="`abuse`:",
)

EMERGENCY = Section(
    "emergency",
    (
        Key(
            "definition",
            Text(),
            "What counts as an emergency. It is shown when a claim is refused and quoted by "
            "`` {policy}`emergency.definition` ``.",
            required=True,
        ),
        Key(
            "request_types",
            RefList(REQUEST_TYPE, "list of request-type ids"),
            "The request types that can be emergencies. Each of them must set `emergency: "
            "true`, and every request type with `emergency: true` must be listed here.",
        ),
        Key(
            "highest",
            RefList(REQUEST_TYPE, "list of request-type ids"),
            "The most serious emergencies, for example mail or web server down. Each must "
            'also be in `request_types`. When one is accepted, the customer is told "It '
            'ranks among the highest emergencies."',
        ),
        Key(
            "priority",
            Ref(PRIORITY),
            "The priority an accepted emergency is filed at.",
            default_doc="the first (most urgent) priority",
        ),
        Key(
            "plans",
            RefList(PLAN),
            "The plans that include emergency handling.",
            default_doc="all plans",
        ),
        Key(
            "abuse",
            Nested(ABUSE),
            "What happens after repeated false claims; see below.",
            default_doc="off",
        ),
        Key(
            "instructions",
            Text(),
            "How to report an emergency, shown with the emergency definition.",
        ),
    ),
)

NOTICES = Section(
    "notices",
    (
        Key(
            "cancellation_warning_days",
            Int(),
            "How many days before a server's scheduled cancellation the account's primary "
            "contact is warned by e-mail.",
            default_doc="none (no warning is sent)",
        ),
        Key(
            "cancellation_warnings",
            Text(),
            "The provider's own words about those warnings, shown with cancellation "
            "requests and in the warning. With no number above, this is all customers read.",
        ),
        Key(
            "plan_ending_days",
            Int(),
            "How many days before a plan's last day (`plan_ends` in the account directory) "
            "the primary contact is told that it ends.",
            default_doc="none (no notice)",
        ),
        Key(
            "waiting_reminder_days",
            Int(),
            "A ticket waiting for the customer this many days gets a reminder mailed to "
            "the contact who filed it.",
            default_doc="none (no reminder)",
        ),
    ),
    model=Notices,
)

POLICY = Section(
    "top-level",
    (
        Key(
            "provider",
            Nested(PROVIDER),
            "Who the provider is, and the defaults for the rest of the file: "
            "[provider](#provider).",
            required=True,
        ),
        Key(
            "calendars",
            ById(
                CALENDAR_ITEM,
                CALENDAR.name,
                "calendar",
                at_least_one="define at least one calendar of support hours",
            ),
            "The support hours, by calendar id: [calendars](#calendars).",
            required=True,
        ),
        Key(
            "priorities",
            Items(PRIORITY_ITEM, PRIORITY.name, at_least_one="define at least one priority"),
            "How urgent a request is, most urgent first: [priorities](#priorities).",
            required=True,
        ),
        Key(
            "plans",
            Items(PLAN_ITEM, PLAN.name, at_least_one="define at least one plan"),
            "The support plans: [plans](#plans).",
            required=True,
        ),
        Key(
            "waivers",
            Conditions(WAIVER.name, "mapping of condition id to text"),
            "When a rate is not charged: [waivers](#waivers).",
            default_doc="none",
        ),
        Key(
            "rates",
            Items(RATE_ITEM, RATE.name),
            "Hourly prices: [rates](#rates).",
            default_doc="none",
        ),
        Key("fees", Items(FEE_ITEM, FEE.name), "Fixed prices: [fees](#fees).", default_doc="none"),
        Key(
            "versions",
            Nested(VERSIONS, optional=True),
            "Supported product versions: [versions](#versions).",
            default_doc="none (no version checks)",
        ),
        Key(
            "contacts",
            Nested(CONTACTS),
            "Who may ask for support on an account: [contacts](#contacts).",
            default_doc="none (any listed contact)",
        ),
        Key(
            "request_type_categories",
            Items(CATEGORY_ITEM, CATEGORY.name),
            "The groups of request types: [request_type_categories](#request_type_categories).",
            default_doc="none",
        ),
        Key(
            "request_types",
            Items(REQUEST_TYPE_ITEM, REQUEST_TYPE.name),
            "The kinds of request customers can make: [request_types](#request_types).",
            default_doc="none",
        ),
        Key(
            "emergency",
            Nested(EMERGENCY, optional=True),
            "Emergency handling: [emergency](#emergency).",
            default_doc="none (no emergency service)",
        ),
        Key(
            "notices",
            Nested(NOTICES),
            "Scheduled notices to customers: [notices](#notices).",
            default_doc="none (no warnings or reminders)",
        ),
    ),
)
