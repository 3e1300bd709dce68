"""Known incidents and planned maintenance (#15): staff post them (``portal incidents``,
/staff/incidents); customers see them on /status, the home page and in the wizard,
which shows a matching open incident first and offers "Tell me when it's fixed".

- ``matching``: pure decisions (which open incidents match a customer's words,
  server and request type; what is open, planned, past), tested with tables.
- ``store``: the incidents, their public updates and subscriptions in the database.
- ``mail``: the messages (resolved, planned maintenance), queued as scheduled notices
  (``portal.notices``), so each is mailed once.
- ``views``: /status, the subscribe form, the staff pages.
"""
