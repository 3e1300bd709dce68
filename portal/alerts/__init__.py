"""Staff notifications: a new ticket, a customer's addition, a first response due soon
or overdue, mailed through the outbox to ``PORTAL_HELPDESK_EMAIL`` and to the staff
(the ticket's assignee, else every active staff member), each exactly once.

``due`` decides (pure), ``scan`` finds what is due in the database and queues it.
"""
