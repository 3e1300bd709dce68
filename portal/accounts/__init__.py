"""Customers known before they file: sign-in by e-mailed code, signed-in sessions,
"my requests" (issue #13)."""
