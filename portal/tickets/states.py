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
