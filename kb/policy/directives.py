"""Policy facts embedded in articles: ``{policy}`rate.hourly``` and friends.

Articles quote the policy instead of restating it, so the two never disagree. An
unknown reference is an error in ``portal check`` and is shown as such in the page.
Every value is escaped here; the renderer inserts the HTML as is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from html import escape

from kb.policy.calendar import describe_holidays, describe_holidays_ahead, holiday_hours_text
from kb.policy.engine import describe_rate, emergency_handling, money, precedence_text
from kb.policy.model import Policy
from kb.policy.pages import (
    STATUS_LABELS,
    coverage_cell,
    plan_views,
    response_text,
    when_ended_text,
)

__all__ = ["REFERENCE_HELP", "STATUS_LABELS", "resolver"]

# reference -> one-line description, for the editor's guide
REFERENCE_HELP: dict[str, str] = {
    "plans": "table of all plans: price, hours, emergencies, queue, channels, first response",
    "coverage": "table of every request type and its coverage per plan, with notes",
    "priorities": "table of priorities and their definitions",
    "unsupported": "list of services that are never offered",
    "paid": "list of request types that are billable",
    "contacts": "how many contacts of each role an account may list",
    "contacts.restricted": "the roles allowed to make restricted requests",
    "contacts.unlisted": "what happens to requests from unlisted addresses",
    "emergency.definition": "what counts as an emergency",
    "emergency.abuse": "what happens after repeated false emergency claims",
    "emergency.instructions": "how to report an emergency",
    "waivers": "when the fee is waived",
    "provider.name / provider.timezone / provider.supervisor_email": "provider facts",
    "plan.ID.name / plan.ID.price / plan.ID.hours / plan.ID.description": "one plan's facts",
    "plan.ID.reaction.PRIORITY": "one plan's first-response target for a priority",
    "plan.ID.response": "one plan's first response in the policy's words",
    "plan.ID.precedence / plan.ID.emergency / plan.ID.when_ended": "queue, emergencies, end",
    "rate.ID / rate.ID.amount": "a rate with its billing terms, or just the amount",
    "fee.ID": "a fixed fee",
    "channel.ID / channel.ID.address": "a channel with its address, or the address",
    "hours.CALENDAR / holidays.CALENDAR / holidays.CALENDAR.hours": "hours and holidays",
    "versions.minimum / versions.free_bugfix": "supported and free-bug-fix versions",
}


def _inline(text: str) -> tuple[str, bool]:
    return escape(text), False


def _plans_table(policy: Policy, today: dt.date | None) -> str:
    views = plan_views(policy, today)
    queue = any(v.precedence for v in views)
    rows = []
    for v in views:
        hours = escape(v.hours)
        if v.holidays:
            hours += f'<br><span class="meta">{escape(v.holidays)}</span>'
        if v.hours_note:
            hours += f'<br><span class="meta">{escape(v.hours_note)}</span>'
        channels = (
            "<br>".join(
                escape(c.name) + (f" ({escape(c.address)})" if c.address else "")
                for c in v.channels
            )
            or "—"
        )
        if v.responses:
            response = "<br>".join(f"{escape(n)}: {escape(t)}" for n, t in v.responses)
            if v.response and v.response != v.hours_note:
                response += f'<br><span class="meta">{escape(v.response)}</span>'
        else:
            response = escape(v.response)
        if v.when_ended:
            response += f'<br><span class="meta">{escape(v.when_ended)}</span>'
        queue_cell = f"<td>{escape(v.precedence) or '—'}</td>" if queue else ""
        rows.append(
            f'<tr><th scope="row">{escape(v.name)}</th><td>{escape(v.price)}</td>'
            f"<td>{hours}</td><td>{escape(v.emergencies)}</td>{queue_cell}"
            f"<td>{channels}</td><td>{response}</td></tr>"
        )
    queue_head = '<th scope="col">Queue</th>' if queue else ""
    return (
        '<div class="table-scroll" tabindex="0" role="region" aria-label="Support plans">'
        '<table class="policy-table"><caption>Support plans</caption><thead><tr>'
        '<th scope="col">Plan</th><th scope="col">Price</th><th scope="col">Support hours</th>'
        f'<th scope="col">Emergencies</th>{queue_head}<th scope="col">Channels</th>'
        f'<th scope="col">First response</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></div>\n"
    )


def _coverage_table(policy: Policy) -> str:
    plans = list(policy.plans.values())
    head = "".join(f'<th scope="col">{escape(p.name)}</th>' for p in plans)
    body = []
    for category_title, types in policy.request_type_groups():
        if category_title:
            body.append(
                f'<tr class="group"><th scope="rowgroup" colspan="{len(plans) + 1}">'
                f"{escape(category_title)}</th></tr>"
            )
        for t in types:
            cells = []
            waivers: tuple[str, ...] = ()
            for p in plans:
                cell = coverage_cell(policy, t.id, p.id)
                waivers = waivers or cell.waivers
                meta = f'<br><span class="meta">{escape(cell.price)}</span>' if cell.price else ""
                cells.append(
                    f'<td class="status-{escape(cell.status or "none")}">'
                    f"{escape(cell.label)}{meta}</td>"
                )
            notes = [t.note] if t.note else []
            if waivers:
                notes.append("No charge if " + " or if ".join(waivers) + ".")
            note = "".join(f'<br><span class="meta">{escape(n)}</span>' for n in notes)
            body.append(f'<tr><th scope="row">{escape(t.title)}{note}</th>{"".join(cells)}</tr>')
    return (
        '<div class="table-scroll" tabindex="0" role="region" aria-label="Coverage per plan">'
        '<table class="policy-table"><caption>What each plan covers'
        f'</caption><thead><tr><th scope="col">Request</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>\n"
    )


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>\n"


def _join(items: list[str], last: str = "and") -> str:
    return (
        ", ".join(items[:-1])
        + (f" {last} " if len(items) > 1 else "")
        + (items[-1] if items else "")
    )


def resolver(
    policy: Policy, today: dt.date | None = None
) -> Callable[[str], tuple[str, bool] | None]:
    """A directive resolver for kb.render.render_markdown. With ``today`` (the build's
    date), holidays are shown as the actual dates of the next 12 months; without it, as
    the rule."""

    def resolve(ref: str) -> tuple[str, bool] | None:
        try:
            return _resolve(policy, ref.strip(), today)
        except (KeyError, IndexError, ValueError):
            return None

    return resolve


def _resolve(policy: Policy, ref: str, today: dt.date | None = None) -> tuple[str, bool] | None:
    parts = ref.split(".")
    head = parts[0]
    if ref == "plans":
        return _plans_table(policy, today), True
    if ref == "coverage":
        return _coverage_table(policy), True
    if ref == "priorities":
        rows = "".join(
            f'<tr><th scope="row">{escape(p.name)}</th><td>{escape(p.definition)}</td></tr>'
            for p in policy.priorities.values()
        )
        return (
            '<table class="policy-table"><thead><tr><th scope="col">Priority</th>'
            f'<th scope="col">Meaning</th></tr></thead><tbody>{rows}</tbody></table>\n',
            True,
        )
    if ref == "unsupported":
        items = [
            t.title for t in policy.request_types.values() if t.default_coverage == "unsupported"
        ]
        return _list(items), True
    if ref == "paid":
        items = [
            t.title
            for t in policy.request_types.values()
            if "paid" in (*t.coverage.values(), t.default_coverage)
        ]
        return _list(items), True
    if ref == "contacts":
        roles = [
            f"{r.max} {r.name.lower()}{'' if r.max == 1 else 's'}"
            for r in policy.contacts.roles
            if r.max
        ]
        total = policy.contacts.max_total
        text = (f"up to {total} contacts: " if total else "") + _join(roles)
        return _inline(text)
    if ref == "contacts.restricted":
        names = [policy.contacts.role(r).name.lower() for r in policy.contacts.restricted_roles]  # type: ignore[union-attr]
        return _inline(_join(names, "or")) if names else None
    if ref == "contacts.unlisted" and policy.contacts.unlisted_text:
        return _inline(policy.contacts.unlisted_text)
    if ref == "emergency.definition" and policy.emergency:
        return _inline(policy.emergency.definition)
    if ref == "emergency.instructions" and policy.emergency and policy.emergency.instructions:
        return _inline(policy.emergency.instructions)
    if ref == "emergency.abuse" and policy.emergency and policy.emergency.max_rejected:
        e = policy.emergency
        return _inline(
            f"after {e.max_rejected} requests marked as emergencies within {e.window_days} days "
            f"turn out not to be emergencies, the emergency mark is ignored for "
            f"{e.ignore_days or e.window_days} days"
        )
    if ref == "emergency.abuse" and policy.emergency and policy.emergency.abuse_text:
        return _inline(policy.emergency.abuse_text)
    if ref == "waivers" and policy.waivers:
        return _inline(_join(list(policy.waivers.values()), "or"))
    if head == "provider" and len(parts) == 2:
        value = getattr(policy.provider, parts[1])
        return _inline(str(value)) if isinstance(value, str) and value else None
    if head == "plan" and len(parts) >= 3:
        return _plan_fact(policy, parts[1], parts[2:])
    if head == "channel" and len(parts) in (2, 3):
        channel = next(c for c in policy.provider.channels if c.id == parts[1])
        if len(parts) == 2:
            return _inline(channel.name + (f" ({channel.address})" if channel.address else ""))
        if parts[2] == "address" and channel.address:
            return _inline(channel.address)
        return None
    if head == "rate" and len(parts) in (2, 3):
        rate = policy.rates[parts[1]]
        if len(parts) == 2:
            return _inline(describe_rate(policy, rate))
        if parts[2] == "amount" and rate.amount is not None:
            return _inline(money(policy, rate.amount, rate.currency))
        if parts[2] == "unit" and rate.unit_minutes:
            return _inline(f"{rate.unit_minutes} minutes")
        return None
    if head == "fee" and len(parts) == 2:
        fee = policy.fees[parts[1]]
        return _inline(money(policy, fee.amount, fee.currency))
    if head == "hours" and len(parts) == 2:
        return _inline(_calendar_hours(policy, parts[1]))
    if head == "holidays" and len(parts) == 2:
        cal = policy.calendars[parts[1]]
        if today is not None and cal.has_holidays:
            return _inline(describe_holidays_ahead(cal, today))
        return _inline(describe_holidays(cal) or "no holiday closures")
    if head == "holidays" and len(parts) == 3 and parts[2] == "hours":
        cal = policy.calendars[parts[1]]
        return _inline(holiday_hours_text(cal)) if cal.has_holidays else None
    if head == "versions" and policy.versions and len(parts) == 2:
        v = policy.versions
        if parts[1] == "minimum" and v.minimum:
            return _inline(f"{v.product} {v.minimum}")
        if parts[1] == "free_bugfix" and v.free_bugfix_releases:
            return _inline(_join(list(v.free_bugfix_releases)))
        if parts[1] == "product":
            return _inline(v.product)
    return None


def _calendar_hours(policy: Policy, calendar_id: str) -> str:
    cal = policy.calendars[calendar_id]
    if not cal.published:
        return "not published"
    return f"{cal.describe()} ({cal.timezone} time)"


def _plan_fact(policy: Policy, plan_id: str, rest: list[str]) -> tuple[str, bool] | None:
    plan = policy.plans[plan_id]
    key = rest[0]
    if len(rest) == 1:
        if key == "name":
            return _inline(plan.name)
        if key == "description" and plan.description:
            return _inline(plan.description)
        if key == "price":
            return _inline(plan.price.text)
        if key == "hours":
            return _inline(_calendar_hours(policy, plan.calendar))
        if key == "response":
            view = plan_view_response(policy, plan_id)
            return _inline(view) if view else None
        if key == "precedence":
            text = precedence_text(policy, plan_id)
            return _inline(text) if text else None
        if key == "emergency":
            return _inline(emergency_handling(policy, plan_id))
        if key == "when_ended":
            text = when_ended_text(policy, plan)
            return _inline(text) if text else None
        return None
    if key == "reaction" and len(rest) == 2:
        prio = policy.priorities[rest[1]]
        return _inline(response_text(policy, plan, prio.id))
    return None


def plan_view_response(policy: Policy, plan_id: str) -> str:
    """A plan's first response in one sentence: its words when it promises none."""
    plan = policy.plans[plan_id]
    if plan.first_response_text:
        return plan.first_response_text
    texts = {response_text(policy, plan, p) for p in policy.priorities}
    if len(texts) == 1:
        return texts.pop()
    return "; ".join(
        f"{p.name}: {response_text(policy, plan, p.id)}" for p in policy.priorities.values()
    )
