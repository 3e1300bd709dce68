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
