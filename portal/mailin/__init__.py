"""Mail in: customers' answers to ticket mails land in the ticket's thread.

``parse`` reads a raw mail (text, quoted part and signature trimmed, attachments),
``match`` finds its ticket (signed reply address, then the References chain),
``intake`` applies it once (only from listed contacts of the ticket's account),
``imap`` polls ``PORTAL_IMAP_URL`` and ``views`` takes raw mails POSTed to
``/api/inbound``.
"""
