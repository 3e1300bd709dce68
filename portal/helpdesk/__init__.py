"""Where filed tickets are worked on (#16): one interface (``base``), one module per
helpdesk — ``builtin`` (the portal's own store and console), ``email`` (the support
mailbox), ``webhook`` (a signed JSON POST) and ``rt`` (Request Tracker 5's REST 2) —
and ``portal.tickets.helpdesk_sync``, which brings an external helpdesk's changes back to
the portal's tickets.
``connectors_for(settings)`` is what the portal runs with."""
