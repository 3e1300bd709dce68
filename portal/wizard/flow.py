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
from kb.policy.details import DETAIL_FIELDS, DetailField
from kb.policy.engine import Coverage, Facts, coverage, ordinary_priorities
from portal import inputs

STEPS = ("describe", "choose", "coverage", "details", "review")
OPTIONAL_DETAILS = frozenset({"preferred_date", "screenshot"})
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


def check_choose(policy: Policy, draft: Draft, form: Form) -> Checked:
    result = Checked(replace(draft))
    rt = _text(form, "request_type")
    if rt not in policy.request_types:
        result.errors["request_type"] = "Choose the kind of request that fits best."
    account = _text(form, "account")
    if not _ACCOUNT.match(account):
        result.errors["account"] = "Enter your account id, for example HH-10234."
    email = _text(form, "email").lower()
    if len(email) > 254 or not _EMAIL.match(email):
        result.errors["email"] = "Enter the email address listed as a contact on your account."
    plan = _text(form, "plan")
    if plan not in policy.plans:
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
    return Facts(plan=draft.plan, version=draft.version, role=draft.role)


def current_coverage(policy: Policy, draft: Draft) -> Coverage:
    return coverage(policy, draft.request_type, facts(draft))


def acceptance_key(cov: Coverage) -> str:
    """What the customer agreed to pay; a changed estimate needs a new agreement."""
    return cov.estimate.text if cov.estimate else cov.reason


def check_coverage(policy: Policy, draft: Draft, form: Form) -> Checked:
    result = Checked(replace(draft))
    cov = current_coverage(policy, draft)
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
    priority and the emergency mark."""
    result = Checked(replace(draft))
    rt = policy.request_types[draft.request_type]
    details: dict[str, str] = {}
    tz = zoneinfo.ZoneInfo(draft.tz or policy.provider.timezone)
    for detail_id in rt.details:
        spec = DETAIL_FIELDS[detail_id]
        if spec.kind == "file":
            if detail_id not in OPTIONAL_DETAILS and detail_id not in draft.attachments:
                result.errors[detail_id] = f"Attach the {spec.label.lower()}."
            continue
        value = _text(form, f"detail_{detail_id}")
        details[detail_id] = value
        if not value:
            if detail_id not in OPTIONAL_DETAILS:
                result.errors[detail_id] = f"Fill in “{spec.label}”."
            continue
        problem = _check_detail(spec, value, tz, now)
        if problem:
            result.errors[detail_id] = problem
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
    form["priority"] = draft.priority
    form["emergency"] = "yes" if draft.emergency_claimed else ""
    return form


def check_step(policy: Policy, step: str, draft: Draft, *, now: dt.datetime) -> Checked:
    """Re-check a stored step against the current policy."""
    if step == "describe":
        return check_describe(draft, {"text": draft.text})
    if step == "choose":
        return check_choose(policy, draft, choose_form(draft))
    if step == "coverage":
        checked = check_coverage(policy, draft, {"accept_charges": "yes"})
        cov = current_coverage(policy, draft)
        if checked.ok and cov.needs_acceptance and draft.accepted != acceptance_key(cov):
            checked.errors["accept_charges"] = "The estimate changed; please review and accept it."
        return checked
    if step == "details":
        return check_details(policy, draft, details_form(draft), now=now)
    return Checked(draft)


def check_all(policy: Policy, draft: Draft, *, now: dt.datetime) -> str:
    """The first step whose stored values do not pass (``review`` when all do): every
    step is checked again against the current policy before a later one is shown,
    accepted or filed."""
    for step in STEPS[:-1]:
        if step not in draft.done or not check_step(policy, step, draft, now=now).ok:
            return step
    return "review"
