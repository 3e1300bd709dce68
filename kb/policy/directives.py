"""Policy facts embedded in articles: ``{policy}`rate.hourly``` and friends.

Articles quote the policy instead of restating it, so the two never disagree. An
unknown reference is an error in ``portal check`` and is shown as such in the page.
Every value is escaped here; the renderer inserts the HTML as is.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from kb.policy.calendar import describe_holidays
from kb.policy.engine import describe_rate, money
from kb.policy.model import Policy

STATUS_LABELS = {
    "included": "Included",
    "paid": "Paid",
    "unsupported": "Not offered",
    "not_in_plan": "Not in this plan",
}

# reference -> one-line description, for the editor's guide
REFERENCE_HELP: dict[str, str] = {
    "plans": "table of all plans: price, support hours, channels, first-response targets",
    "coverage": "table of every request type and its coverage per plan",
    "priorities": "table of priorities and their definitions",
    "unsupported": "list of services that are never offered",
    "paid": "list of request types that are billable",
    "contacts": "how many contacts of each role an account may list",
    "contacts.restricted": "the roles allowed to make restricted requests",
    "emergency.definition": "what counts as an emergency",
    "emergency.abuse": "what happens after repeated false emergency claims",
    "waivers": "when the fee is waived",
    "provider.name / provider.timezone / provider.supervisor_email": "provider facts",
    "plan.ID.name / plan.ID.price / plan.ID.hours": "one plan's name, price or hours",
    "plan.ID.reaction.PRIORITY": "one plan's first-response target for a priority",
    "rate.ID / rate.ID.amount": "a rate with its billing terms, or just the amount",
    "fee.ID": "a fixed fee",
    "hours.CALENDAR / holidays.CALENDAR": "a calendar's weekly hours or its holidays",
    "versions.minimum / versions.free_bugfix": "supported and free-bug-fix versions",
}


def _inline(text: str) -> tuple[str, bool]:
    return escape(text), False


def _hours(value: float | None) -> str:
    if value is None:
        return "no guaranteed time"
    if value < 1:
        return f"{round(value * 60)} minutes"
    return f"{value:g} hour" + ("" if value == 1 else "s")


def _plans_table(policy: Policy) -> str:
    prios = list(policy.priorities.values())
    head = "".join(f'<th scope="col">{escape(p.name)}</th>' for p in prios)
    rows = []
    for plan in policy.plans.values():
        calendar = policy.calendars[plan.calendar]
        hours = calendar.describe()
        if plan.emergency_calendar:
            hours += f"; emergencies: {policy.calendars[plan.emergency_calendar].describe()}"
        channels = (
            ", ".join(c.name for c in policy.provider.channels if c.id in plan.channels) or "—"
        )
        reactions = "".join(
            f"<td>{escape(plan.reaction_text.get(p.id) or _hours(plan.reaction.get(p.id)))}</td>"
            for p in prios
        )
        rows.append(
            f'<tr><th scope="row">{escape(plan.name)}</th><td>{escape(plan.price.text)}</td>'
            f"<td>{escape(hours)}</td><td>{escape(channels)}</td>{reactions}</tr>"
        )
    return (
        '<div class="table-scroll" tabindex="0" role="region" aria-label="Support plans">'
        '<table class="policy-table"><caption>Support plans and '
        'first-response targets (support hours only)</caption><thead><tr><th scope="col">Plan'
        '</th><th scope="col">Price</th><th scope="col">Support hours</th>'
        f'<th scope="col">Channels</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody>'
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
            cells = "".join(
                f'<td class="status-{escape(t.status_for(p.id) or "none")}">'
                f"{escape(STATUS_LABELS.get(t.status_for(p.id) or '', '—'))}</td>"
                for p in plans
            )
            body.append(f'<tr><th scope="row">{escape(t.title)}</th>{cells}</tr>')
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


def resolver(policy: Policy) -> Callable[[str], tuple[str, bool] | None]:
    """A directive resolver for kb.render.render_markdown."""

    def resolve(ref: str) -> tuple[str, bool] | None:
        try:
            return _resolve(policy, ref.strip())
        except (KeyError, IndexError, ValueError):
            return None

    return resolve


def _resolve(policy: Policy, ref: str) -> tuple[str, bool] | None:
    parts = ref.split(".")
    head = parts[0]
    if ref == "plans":
        return _plans_table(policy), True
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
        return _inline(_join(names, "or"))
    if ref == "emergency.definition" and policy.emergency:
        return _inline(policy.emergency.definition)
    if ref == "emergency.abuse" and policy.emergency and policy.emergency.max_rejected:
        e = policy.emergency
        return _inline(
            f"after {e.max_rejected} requests marked as emergencies within {e.window_days} days "
            f"turn out not to be emergencies, the emergency mark is ignored for "
            f"{e.ignore_days or e.window_days} days"
        )
    if ref == "waivers":
        return _inline(_join(list(policy.waivers.values()), "or"))
    if head == "provider" and len(parts) == 2:
        value = getattr(policy.provider, parts[1])
        return _inline(str(value)) if isinstance(value, str) and value else None
    if head == "plan" and len(parts) >= 3:
        plan = policy.plans[parts[1]]
        if parts[2] == "name" and len(parts) == 3:
            return _inline(plan.name)
        if parts[2] == "price" and len(parts) == 3:
            return _inline(plan.price.text)
        if parts[2] == "hours" and len(parts) == 3:
            cal = policy.calendars[plan.calendar]
            return _inline(f"{cal.describe()} ({cal.timezone} time)")
        if parts[2] == "reaction" and len(parts) == 4:
            prio = policy.priorities[parts[3]]
            return _inline(plan.reaction_text.get(prio.id) or _hours(plan.reaction.get(prio.id)))
        return None
    if head == "rate" and len(parts) in (2, 3):
        rate = policy.rates[parts[1]]
        if len(parts) == 2:
            return _inline(describe_rate(policy, rate))
        if parts[2] == "amount":
            return _inline(money(policy, rate.amount, rate.currency))
        if parts[2] == "unit":
            return _inline(f"{rate.unit_minutes} minutes")
        return None
    if head == "fee" and len(parts) == 2:
        fee = policy.fees[parts[1]]
        return _inline(money(policy, fee.amount, fee.currency))
    if head == "hours" and len(parts) == 2:
        cal = policy.calendars[parts[1]]
        return _inline(f"{cal.describe()} ({cal.timezone} time)")
    if head == "holidays" and len(parts) == 2:
        cal = policy.calendars[parts[1]]
        return _inline(describe_holidays(cal) or "no holiday closures")
    if head == "versions" and policy.versions and len(parts) == 2:
        v = policy.versions
        if parts[1] == "minimum" and v.minimum:
            return _inline(f"{v.product} {v.minimum}")
        if parts[1] == "free_bugfix" and v.free_bugfix_releases:
            return _inline(_join(list(v.free_bugfix_releases)))
        if parts[1] == "product":
            return _inline(v.product)
    return None
