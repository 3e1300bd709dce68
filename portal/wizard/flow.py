"""The wizard's rules, as pure functions of the policy and the draft.

The server is the authority: every step's values pass through these validators when
they are submitted, and ``first_incomplete`` runs them all again on the stored draft
before any later step is shown or accepted. Skipping steps, replaying old posts or a
policy change in between cannot get a request past coverage, the acceptance of
charges, required details or the allowed priorities.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kb.policy import Policy
from kb.policy.details import DETAIL_FIELDS
from kb.policy.engine import Coverage, Facts, coverage, ordinary_priorities
from portal import inputs

STEPS = ("describe", "choose", "coverage", "details", "review")
OPTIONAL_DETAILS = frozenset({"preferred_date", "screenshot"})
LIMITS = {"text": 300, "textarea": 10_000, "email": 254, "datetime": 16, "date": 10}
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")
TIMEZONES = frozenset(zoneinfo.available_timezones())

Form = Mapping[str, str]


@dataclass
class Checked:
    values: dict[str, Any] = field(default_factory=dict)
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


def check_describe(form: Form) -> Checked:
    result = Checked()
    text = _text(form, "text")
    if len(text) < 3:
        result.errors["text"] = "Describe what you need help with in a few words."
    elif len(text) > 2000:
        result.errors["text"] = "Keep the description under 2,000 characters; details come later."
    _refuse_characters(result, form, {"text": "text"})
    result.values["text"] = text
    return result


def check_choose(policy: Policy, form: Form) -> Checked:
    result = Checked()
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
    result.values.update(
        request_type=rt,
        account=account,
        email=email,
        plan=plan,
        role=role or None,
        version=version or None,
        tz=tz,
    )
    return result


def facts(data: Mapping[str, Any]) -> Facts:
    return Facts(plan=data["plan"], version=data.get("version"), role=data.get("role"))


def current_coverage(policy: Policy, data: Mapping[str, Any]) -> Coverage:
    return coverage(policy, data["request_type"], facts(data))


def acceptance_key(cov: Coverage) -> str:
    """What the customer agreed to pay; a changed estimate needs a new agreement."""
    return cov.estimate.text if cov.estimate else cov.reason


def check_coverage(policy: Policy, data: Mapping[str, Any], form: Form) -> Checked:
    result = Checked()
    cov = current_coverage(policy, data)
    if not cov.can_continue:
        result.errors["coverage"] = cov.reason
    elif cov.needs_acceptance:
        if form.get("accept_charges") not in ("yes", "on", "true", "1"):
            result.errors["accept_charges"] = "Tick “I accept the charges” to continue, or go back."
        else:
            result.values["accepted"] = acceptance_key(cov)
    if cov.can_continue and not cov.needs_acceptance:
        result.values["accepted"] = None
    return result


def _parse_local(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M")
    except ValueError:
        return None


def check_details(
    policy: Policy,
    data: Mapping[str, Any],
    form: Form,
    *,
    attachments: Mapping[str, Any] | None = None,
    now: dt.datetime,
) -> Checked:
    result = Checked()
    rt = policy.request_types[data["request_type"]]
    details: dict[str, str] = {}
    tz = zoneinfo.ZoneInfo(data.get("tz") or policy.provider.timezone)
    for detail_id in rt.details:
        spec = DETAIL_FIELDS[detail_id]
        if spec.kind == "file":
            if detail_id not in OPTIONAL_DETAILS and not (attachments or {}).get(detail_id):
                result.errors[detail_id] = f"Attach the {spec.label.lower()}."
            continue
        value = _text(form, f"detail_{detail_id}")
        details[detail_id] = value
        if not value:
            if detail_id not in OPTIONAL_DETAILS:
                result.errors[detail_id] = f"Fill in “{spec.label}”."
            continue
        if len(value) > LIMITS.get(spec.kind, 300):
            result.errors[detail_id] = (
                f"Keep “{spec.label}” under {LIMITS[spec.kind]:,} characters."
            )
        elif spec.kind == "email" and not _EMAIL.match(value):
            result.errors[detail_id] = "Enter a full email address, like name@example.com."
        elif spec.kind == "datetime":
            moment = _parse_local(value)
            if moment is None:
                result.errors[detail_id] = "Enter a date and time, like 2026-11-24 14:30."
            elif moment.replace(tzinfo=tz) > now + dt.timedelta(hours=1):
                result.errors[detail_id] = "That time is in the future; enter when it happened."
        elif spec.kind == "date":
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                result.errors[detail_id] = "Enter a date, like 2026-11-24."
            else:
                if day < now.astimezone(tz).date():
                    result.errors[detail_id] = "Choose today or a later date."
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
    result.values.update(details=details, priority=priority, emergency=emergency and rt.emergency)
    result.values["emergency_claimed"] = emergency
    return result


def check_step(policy: Policy, step: str, data: Mapping[str, Any], *, now: dt.datetime) -> Checked:
    """Re-check a stored step against the current policy."""
    if step == "describe":
        return check_describe(data)
    if step == "choose":
        return check_choose(policy, {k: str(v or "") for k, v in data.items()})
    if step == "coverage":
        checked = check_coverage(policy, data, {"accept_charges": "yes"})
        cov = current_coverage(policy, data)
        if checked.ok and cov.needs_acceptance and data.get("accepted") != acceptance_key(cov):
            checked.errors["accept_charges"] = "The estimate changed; please review and accept it."
        return checked
    if step == "details":
        form = {f"detail_{k}": v for k, v in (data.get("details") or {}).items()}
        form["priority"] = data.get("priority") or ""
        form["emergency"] = "yes" if data.get("emergency_claimed") else ""
        return check_details(policy, data, form, attachments=data.get("attachments"), now=now)
    return Checked()


def first_incomplete(policy: Policy, data: Mapping[str, Any], *, now: dt.datetime) -> str:
    """The first step whose stored values do not pass (``review`` when all do)."""
    done = set(data.get("done") or ())
    for step in STEPS[:-1]:
        if step not in done or not check_step(policy, step, data, now=now).ok:
            return step
    return "review"
