"""The wizard's rules, as pure functions of the policy and the draft.

The server is the authority: every step's values pass through these validators when
they are submitted, and ``check_all`` runs them all again on the stored draft
before any later step is shown or accepted (``check_all``). Skipping steps, replaying old posts or a
policy change in between cannot get a request past coverage, the acceptance of
charges, required details or the allowed priorities.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS, DetailField, missing_details, number_problem
from kb.policy.engine import (
    Coverage,
    Facts,
    PlanPrice,
    coverage,
    ordinary_priorities,
    plan_price,
)
from kb.policy.model import NO_PLAN
from portal import inputs
from portal.directory.normalise import looks_like_account

STEPS = ("describe", "choose", "coverage", "details", "review")
# the detail whose number prices a plan (``plan_price_for``)
SERVER_COUNT = "server_count"
LIMITS = {"text": 300, "textarea": 10_000, "email": 254, "datetime": 16, "date": 10}
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")
TIMEZONES = frozenset(zoneinfo.available_timezones())

Form = Mapping[str, str]


@dataclass(frozen=True)
class Attachment:
    """An upload held by a draft (its bytes are on disk, its row in ``uploads``)."""

    id: str
    filename: str
    size: int


@dataclass
class Draft:
    """A request being prepared in the wizard. Every step reads and writes these
    fields; the draft is stored as JSON (``to_json``) with the browser session, and a
    reviewed draft is what the filing link files."""

    id: str | None = None  # the stored draft's id (None until first saved)
    text: str = ""
    request_type: str = ""
    account: str = ""
    email: str = ""
    plan: str = ""
    role: str | None = None
    version: str | None = None
    tz: str = ""
    accepted: str | None = None  # the estimate the customer accepted (acceptance_key)
    # the waivers (ids) the customer believes apply to paid work: a claim, not a
    # decision; staff confirm it after filing (portal.tickets.waivers)
    waivers: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)
    priority: str = ""
    emergency: bool = False  # claimed on a type that can be an emergency
    emergency_claimed: bool = False  # the box was ticked
    attachments: dict[str, Attachment] = field(default_factory=dict)
    done: frozenset[str] = frozenset()  # the steps the customer completed
    suggested: tuple[str, ...] = ()  # request types an article that did not help named

    def finish(self, step: str) -> None:
        self.done = self.done | {step}

    def reopen(self, step: str) -> None:
        self.done = self.done - {step}

    def to_json(self) -> dict[str, Any]:
        """The stored form (the draft's id is the row's, not part of it)."""
        data: dict[str, Any] = {
            "text": self.text,
            "request_type": self.request_type,
            "account": self.account,
            "email": self.email,
            "plan": self.plan,
            "role": self.role,
            "version": self.version,
            "tz": self.tz,
            "accepted": self.accepted,
            "waivers": list(self.waivers),
            "details": dict(self.details),
            "priority": self.priority,
            "emergency": self.emergency,
            "emergency_claimed": self.emergency_claimed,
            "done": sorted(self.done),
            "suggested": list(self.suggested),
        }
        if self.attachments:
            data["attachments"] = {
                slot: {"id": a.id, "filename": a.filename, "size": a.size}
                for slot, a in self.attachments.items()
            }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, draft_id: str | None = None) -> Draft:
        """A stored draft; values of the wrong type (an old or tampered row) read as
        empty, so the steps ask for them again."""

        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        def optional(key: str) -> str | None:
            return text(key) or None

        details = data.get("details")
        attachments: dict[str, Attachment] = {}
        raw = data.get("attachments")
        for slot, item in raw.items() if isinstance(raw, dict) else ():
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                size = item.get("size")
                attachments[str(slot)] = Attachment(
                    id=item["id"],
                    filename=str(item.get("filename") or ""),
                    size=size if isinstance(size, int) else 0,
                )
        done = data.get("done")
        suggested = data.get("suggested")
        waivers = data.get("waivers")  # absent in drafts stored before claims existed
        return cls(
            id=draft_id,
            text=text("text"),
            request_type=text("request_type"),
            account=text("account"),
            email=text("email"),
            plan=text("plan"),
            role=optional("role"),
            version=optional("version"),
            tz=text("tz"),
            accepted=optional("accepted"),
            waivers=tuple(w for w in waivers if isinstance(w, str))
            if isinstance(waivers, list)
            else (),
            details={
                str(k): v
                for k, v in (details.items() if isinstance(details, dict) else ())
                if isinstance(v, str)
            },
            priority=text("priority"),
            emergency=data.get("emergency") is True,
            emergency_claimed=data.get("emergency_claimed") is True,
            attachments=attachments,
            done=frozenset(s for s in done if isinstance(s, str))
            if isinstance(done, list)
            else frozenset(),
            suggested=tuple(t for t in suggested if isinstance(t, str))
            if isinstance(suggested, list)
            else (),
        )


@dataclass
class Checked:
    """A step's answer: the draft with the step's values applied (also when there are
    errors, so nothing typed is lost) and what the customer must fix."""

    draft: Draft
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(form: Form, name: str) -> str:
    return str(form.get(name, "") or "").strip()


def multiline_field(name: str) -> bool:
    """Whether tab and newline belong in a field: the description and the textarea
    details, by form name (``text``, ``detail_doing``) or JSON path (``details.doing``)."""
    if name == "text":
        return True
    for prefix in ("detail_", "details."):
        if name.startswith(prefix):
            spec = DETAIL_FIELDS.get(name.removeprefix(prefix))
            return spec is not None and spec.kind == "textarea"
    return False


def _refuse_characters(result: Checked, form: Form, names: dict[str, str]) -> None:
    """A field error for every field (form name -> error key) whose characters the
    portal does not accept (``portal.inputs``); it replaces any other error there."""
    for name, key in names.items():
        found = inputs.problem(str(form.get(name, "") or ""), multiline=multiline_field(name))
        if found:
            result.errors[key] = found


def check_describe(draft: Draft, form: Form) -> Checked:
    result = Checked(replace(draft))
    text = _text(form, "text")
    if len(text) < 3:
        result.errors["text"] = "Describe what you need help with in a few words."
    elif len(text) > 2000:
        result.errors["text"] = "Keep the description under 2,000 characters; details come later."
    _refuse_characters(result, form, {"text": "text"})
    result.draft.text = text
    return result


@dataclass(frozen=True)
class Known:
    """What the account directory says about a signed-in contact: the choose step
    takes these instead of asking (``portal.wizard.signed_in`` gathers them)."""

    account: str
    email: str
    name: str
    plan: str  # the plan in force today; NO_PLAN once it ended into "no plan"
    plan_ends: dt.date | None
    role: str
    version: str | None
    # the account's contacts (name, role id), to say who may ask for a restricted type
    contacts: tuple[tuple[str, str], ...] = ()
    # the account's servers (name, id, owner), for the details step's picker
    servers: tuple[tuple[str, str, str], ...] = ()
    # the directory's plan when it has ended (``plan`` is what the policy's when_ended
    # made of it, NO_PLAN included); None while it holds
    ended_plan: str | None = None


def _role_name(policy: Policy, role: str) -> str:
    found = policy.contacts.role(role)
    return (found.name if found else role).lower()


def who_may_ask(policy: Policy, request_type: str, known: Known) -> str:
    """Why a signed-in contact cannot ask for a role-restricted type, and who can: the
    roles the policy names and the account's contacts in them ("" when allowed)."""
    rt = policy.request_types[request_type]
    if not rt.roles or known.role in rt.roles:
        return ""
    roles = " or ".join(_role_name(policy, r) for r in rt.roles)
    people = [
        f"{name} ({_role_name(policy, role)})" for name, role in known.contacts if role in rt.roles
    ]
    text = f"Only the account's {roles} may ask for “{rt.title}”."
    if people:
        text += " On your account that is " + ", ".join(people) + ": ask them to file it."
    else:
        text += " Your account has no such contact listed; its primary contact can add one."
    return text


def check_choose(
    policy: Policy, draft: Draft, form: Form, *, known: Known | None = None
) -> Checked:
    """The choose step: the request type and, when not signed in, who is asking
    (account, address, plan, role, version) and the time zone. Signed in (``known``),
    who is asking comes from the directory, and a type the contact's role may not ask
    for is refused here, saying who may."""
    if known is not None:
        form = {
            **form,
            "account": known.account,
            "email": known.email,
            "plan": known.plan,
            "role": known.role,
            "version": known.version or "",
        }
    result = Checked(replace(draft))
    rt = _text(form, "request_type")
    if rt not in policy.request_types:
        result.errors["request_type"] = "Choose the kind of request that fits best."
    elif known is not None and who_may_ask(policy, rt, known):
        result.errors["request_type"] = who_may_ask(policy, rt, known)
    account = _text(form, "account")  # kept as typed; matched by its key
    if len(account) > 40 or not looks_like_account(account):
        result.errors["account"] = "Enter your account id, for example HH-10234."
    email = _text(form, "email").lower()
    if len(email) > 254 or not _EMAIL.match(email):
        result.errors["email"] = "Enter the email address listed as a contact on your account."
    plan = _text(form, "plan")
    # signed in, the directory may say the account's plan ended into "no plan"
    no_plan = known is not None and known.plan == NO_PLAN == plan
    if plan not in policy.plans and not no_plan:
        result.errors["plan"] = "Choose your support plan."
    role = _text(form, "role")
    if policy.contacts.roles and policy.contacts.role(role) is None:
        result.errors["role"] = "Choose your role on the account."
    version = _text(form, "version")
    if version and len(version) > 20:
        result.errors["version"] = "Enter a version number such as 5.4."
    tz = _text(form, "tz") or policy.provider.timezone
    if tz not in TIMEZONES:
        result.errors["tz"] = "Choose your time zone."
        tz = policy.provider.timezone
    names = ("request_type", "account", "email", "plan", "role", "version", "tz")
    _refuse_characters(result, form, {n: n for n in names})
    d = result.draft
    d.request_type, d.account, d.email, d.plan = rt, account, email, plan
    d.role, d.version, d.tz = role or None, version or None, tz
    return result


def choose_form(draft: Draft) -> dict[str, str]:
    """The choose step's fields as stored in the draft (to re-check or show them)."""
    return {
        "request_type": draft.request_type,
        "account": draft.account,
        "email": draft.email,
        "plan": draft.plan,
        "role": draft.role or "",
        "version": draft.version or "",
        "tz": draft.tz,
    }


def facts(draft: Draft) -> Facts:
    """The engine's facts of a draft: ``plan`` None when the account has no plan (a
    signed-in contact whose plan ended into "no plan")."""
    plan = None if draft.plan == NO_PLAN else draft.plan
    return Facts(plan=plan, version=draft.version, role=draft.role)


def current_coverage(policy: Policy, draft: Draft) -> Coverage:
    return coverage(policy, draft.request_type, facts(draft))


def acceptance_key(cov: Coverage) -> str:
    """What the customer agreed to pay; a changed estimate needs a new agreement."""
    return cov.estimate.text if cov.estimate else cov.reason


WAIVER_FIELD = "waiver_"  # one checkbox per waiver: ``waiver_<id>``


def claimed_waivers(cov: Coverage, form: Form) -> tuple[str, ...]:
    """The waivers of paid work whose box is ticked (``waiver_<id>``), in the policy's
    order; nothing else can be claimed (an unknown id is ignored)."""
    if cov.status != "paid":
        return ()
    ticked = ("yes", "on", "true", "1")
    return tuple(w.id for w in cov.waivers if form.get(WAIVER_FIELD + w.id) in ticked)


def check_coverage(policy: Policy, draft: Draft, form: Form) -> Checked:
    """The coverage step: paid work needs its acceptance (of the charges, or of a quote);
    the customer may also claim the type's waivers, which leaves it paid until staff
    confirm one."""
    result = Checked(replace(draft))
    cov = current_coverage(policy, draft)
    result.draft.waivers = claimed_waivers(cov, form)
    if not cov.can_continue:
        result.errors["coverage"] = cov.reason
    elif cov.needs_acceptance:
        if form.get("accept_charges") not in ("yes", "on", "true", "1"):
            result.errors["accept_charges"] = (
                f"Tick “{cov.acceptance_text}” to continue, or go back."
            )
        else:
            result.draft.accepted = acceptance_key(cov)
    if cov.can_continue and not cov.needs_acceptance:
        result.draft.accepted = None
    return result


def _parse_local(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        return None


def _check_detail(spec: DetailField, value: str, tz: zoneinfo.ZoneInfo, now: dt.datetime) -> str:
    """What is wrong with a filled-in detail, or ""."""
    if spec.kind == "number":
        return number_problem(spec, value)
    if len(value) > LIMITS.get(spec.kind, 300):
        return f"Keep “{spec.label}” under {LIMITS[spec.kind]:,} characters."
    if spec.kind == "email" and not _EMAIL.match(value):
        return "Enter a full email address, like name@example.com."
    if spec.kind == "datetime":
        moment = _parse_local(value)
        if moment is None:
            return "Enter a date and time, like 2026-11-24 14:30."
        if moment.replace(tzinfo=tz) > now + dt.timedelta(hours=1):
            return "That time is in the future; enter when it happened."
    if spec.kind == "date":
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return "Enter a date, like 2026-11-24."
        if day < now.astimezone(tz).date():
            return "Choose today or a later date."
    return ""


def check_details(policy: Policy, draft: Draft, form: Form, *, now: dt.datetime) -> Checked:
    """The details step: the type's details (attachments as held by the draft), the
    priority and the emergency mark. What must be given is kb's rule
    (``missing_details``: required details, optional ones, "one of these" groups); an
    incomplete group's error is keyed ``group-N``, and every typed value is kept."""
    result = Checked(replace(draft))
    rt = policy.request_types[draft.request_type]
    details: dict[str, str] = {}
    filled: set[str] = set()
    tz = zoneinfo.ZoneInfo(draft.tz or policy.provider.timezone)
    for detail_id in rt.details:
        spec = DETAIL_FIELDS[detail_id]
        if spec.kind == "file":
            if detail_id in draft.attachments:
                filled.add(detail_id)
            continue
        value = _text(form, f"detail_{detail_id}")
        details[detail_id] = value
        if not value:
            continue
        filled.add(detail_id)
        problem = _check_detail(spec, value, tz, now)
        if problem:
            result.errors[detail_id] = problem
    for key, message in missing_details(rt, filled).items():
        result.errors.setdefault(key, message)
    priority = _text(form, "priority")
    emergency = form.get("emergency") in ("yes", "on", "true", "1")
    if priority not in rt.priorities:
        result.errors["priority"] = "Choose one of the priorities listed."
    elif priority not in ordinary_priorities(policy, rt.id) and not (emergency and rt.emergency):
        # the emergency priority comes only with the emergency mark (and its acceptance)
        name = policy.priorities[priority].name
        result.errors["priority"] = (
            f"{name} is for emergencies: tick “This is an emergency” if this is one, "
            "or choose another priority."
            if rt.emergency
            else f"{name} is kept for emergencies, and “{rt.title}” is not one: "
            "choose another priority."
        )
    _refuse_characters(
        result,
        form,
        {"priority": "priority"}
        | {f"detail_{d}": d for d in rt.details if DETAIL_FIELDS[d].kind != "file"},
    )
    d = result.draft
    d.details, d.priority = details, priority
    d.emergency, d.emergency_claimed = emergency and rt.emergency, emergency
    return result


def details_form(draft: Draft) -> dict[str, str]:
    """The details step's fields as stored in the draft."""
    form = {f"detail_{k}": v for k, v in draft.details.items()}
    # the version given on the choose step (or known from the directory) is not asked
    # twice: it fills the "Product version" detail until the customer changes it
    if draft.version and not form.get("detail_product_version"):
        form["detail_product_version"] = draft.version
    form["priority"] = draft.priority
    form["emergency"] = "yes" if draft.emergency_claimed else ""
    return form


@dataclass(frozen=True)
class PlanQuote:
    """A plan's price for the number of servers the customer gave, computed from the
    policy's structured price (``plans[].price``) by kb's ``plan_price``."""

    plan: str  # plan id
    name: str  # the plan's name
    price: PlanPrice
    terms: str  # the policy's own words for the price (``price.text``)

    @property
    def text(self) -> str:
        """One line for pages and mails, e.g. "Priority: $400.00 per month for 6
        servers (…); at least 3 months, $1,200.00 in all." """
        return f"{self.name}: {self.price.text}."


def _names_plan(title: str, type_id: str, plan_id: str, plan_name: str) -> bool:
    words = set(re.findall(r"[a-z0-9]+", f"{title} {type_id}".lower()))
    return plan_id.lower() in words or plan_name.lower() in words


def plan_prices(policy: Policy, request_type: str, servers: str) -> tuple[PlanQuote, ...]:
    """The price of each plan with a structured price per month or year, for
    ``servers`` as typed, when the request type asks the number of servers; only the
    plans the type names (e.g. "Order priority support") when it names any. Empty when
    the type does not ask it, the number is not valid, or no plan has such a price."""
    rt = policy.request_types.get(request_type)
    if rt is None or SERVER_COUNT not in rt.details:
        return ()
    text = servers.strip()
    if not text or number_problem(DETAIL_FIELDS[SERVER_COUNT], text):
        return ()
    quotes = []
    for plan in policy.plans.values():
        price = plan_price(policy, plan.id, int(text))
        if price is not None:
            quotes.append(PlanQuote(plan.id, plan.name, price, plan.price.text))
    named = [q for q in quotes if _names_plan(rt.title, rt.id, q.plan, q.name)]
    return tuple(named or quotes)


def plan_price_for(policy: Policy, draft: Draft) -> tuple[PlanQuote, ...]:
    """The computed plan prices for a draft (its request type and its stored number of
    servers): what the details step, the review page and the mails show."""
    return plan_prices(policy, draft.request_type, draft.details.get(SERVER_COUNT, ""))


def plan_price_text(policy: Policy, draft: Draft) -> str:
    """``plan_price_for`` as plain text for a mail, "" when there is no price."""
    return " ".join(q.text for q in plan_price_for(policy, draft))


def check_step(
    policy: Policy, step: str, draft: Draft, *, now: dt.datetime, known: Known | None = None
) -> Checked:
    """Re-check a stored step against the current policy (and, signed in, against the
    directory: a draft that names someone else or other facts goes back to choose)."""
    if step == "describe":
        return check_describe(draft, {"text": draft.text})
    if step == "choose":
        checked = check_choose(policy, draft, choose_form(draft), known=known)
        if known is not None and facts_of(checked.draft) != facts_of(draft):
            checked.errors.setdefault("account", "You are signed in: choose the request again.")
        return checked
    if step == "coverage":
        checked = check_coverage(policy, draft, {"accept_charges": "yes"})
        cov = current_coverage(policy, draft)
        if checked.ok and cov.needs_acceptance and draft.accepted != acceptance_key(cov):
            checked.errors["accept_charges"] = "The estimate changed; please review and accept it."
        return checked
    if step == "details":
        return check_details(policy, draft, details_form(draft), now=now)
    return Checked(draft)


def facts_of(draft: Draft) -> tuple[str, str, str, str | None, str | None]:
    """Who is asking, as a draft holds it."""
    return (draft.account, draft.email, draft.plan, draft.role, draft.version)


def check_all(policy: Policy, draft: Draft, *, now: dt.datetime, known: Known | None = None) -> str:
    """The first step whose stored values do not pass (``review`` when all do): every
    step is checked again against the current policy (and the directory, signed in)
    before a later one is shown, accepted or filed."""
    for step in STEPS[:-1]:
        if step not in draft.done or not check_step(policy, step, draft, now=now, known=known).ok:
            return step
    return "review"
