"""A ticket's statuses and what an emergency claim came to, with their labels."""

from __future__ import annotations

STATUSES = ("open", "in_progress", "waiting_for_customer", "completed", "cancelled")

STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "waiting_for_customer": "Waiting for you",
    "completed": "Completed",
    "cancelled": "Cancelled",
}

CLOSED = ("completed", "cancelled")

EMERGENCY_LABELS = {
    "none": "Not marked as an emergency",
    "accepted": "Accepted as an emergency",
    "rejected_not_emergency": "Not an emergency: this kind of request never is one",
    "ignored_abuse": "Not considered: the account's emergency mark was being ignored",
    "not_on_plan": "Not considered: the plan has no emergency handling",
    "rejected_by_staff": "Not an emergency, as our staff found",
    "known_incident": "Attached to a known incident: not counted as a false emergency",
}

# What a ticket's history (ticket_events.kind) can hold. Customers see only PUBLIC_EVENTS;
# internal notes and staff bookkeeping never leave the staff side.
EVENT_KINDS = (
    "filed",  # the request as filed (system)
    "status",  # a status change (note: the reason, shown to the customer)
    "comment",  # the customer added information (portal, "my requests" or mail)
    "feedback",  # the customer's feedback or complaint about a reply
    "reply",  # a staff answer to the customer (mailed, shown on the status page)
    "note",  # an internal staff note: never shown to customers
    "priority",  # staff changed the priority (note: the reason)
    "assigned",  # staff assigned the ticket (note: to whom); internal
    "emergency_rejected",  # staff found the claim is not an emergency
    "waiver_claimed",  # the customer claimed a waiver when filing
    "waiver_confirmed",  # staff confirmed a claimed waiver
    "forwarded",  # sent to the upstream provider (internal)
    "merged",  # merged into / from another ticket of the account
    "link_sent",  # a fresh status link was mailed (internal)
    "helpdesk",  # delivery to / sync from an external helpdesk (internal)
)
PUBLIC_EVENTS = frozenset(
    {
        "filed",
        "status",
        "comment",
        "feedback",
        "reply",
        "priority",
        "emergency_rejected",
        "waiver_claimed",
        "waiver_confirmed",
        "merged",
    }
)

# Request Tracker's statuses (its default lifecycle) as the portal's: "new" is not yet
# touched, "open" is being worked on, "stalled" waits for someone (in practice the
# customer), "resolved" is done and "rejected" or "deleted" will not be done. A status
# of a custom RT lifecycle that is not listed here changes nothing in the portal.
RT_STATUSES = {
    "new": "open",
    "open": "in_progress",
    "stalled": "waiting_for_customer",
    "resolved": "completed",
    "rejected": "cancelled",
    "deleted": "cancelled",
}


def from_rt_status(status: str) -> str | None:
    """The portal status of an RT status (None: not one the portal knows)."""
    return RT_STATUSES.get(status.strip().lower())


def helpdesk_status(helpdesk: str, status: str) -> str | None:
    """The portal status of a status name in the helpdesk called ``helpdesk``."""
    return from_rt_status(status) if helpdesk == "rt" else None
