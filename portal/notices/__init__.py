"""Scheduled notices (#15): a ``notices`` table of mails due at a moment, drained by
the outbox loop, each sent exactly once across restarts and several workers.

- ``store``: schedule (idempotent: a notice's key is unique), list, cancel,
  reschedule; a server's cancellation at the end of its billing period with its warning.
- ``scan``: the notices owed by the directory and the tickets (plan ending, reminders on
  tickets waiting for the customer), scheduled once each.
- ``drain``: claim due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the single
  writer of ``BEGIN IMMEDIATE`` on SQLite) and queue their mail in the same transaction
  that marks them sent.
- ``mail``: what each kind of notice says.

When each is due comes from the policy (``kb.policy.notices``).
"""
