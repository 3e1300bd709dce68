"""The staff console (#15): staff accounts and passwords (``accounts``,
``passwords``), sign-in with throttling, lockout, TOTP and server-side sessions
(``auth``), the audit log (``audit``), the queue's filters and order (``queue``,
pure), every ticket action as one function (``actions``), the ticket page's facts
(``ticket``) and the HTTP views (``views``)."""
