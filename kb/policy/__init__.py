"""The support policy as content: model, loader/validator and pure decision functions.

``load_policy(path)`` reads ``content/policy.yaml`` (or any pack) into an immutable
:class:`Policy` and reports problems with file and line. What the file may hold is
declared once, in :mod:`kb.policy.schema` (built from :mod:`kb.policy.fields`); the
loader, ``portal check`` and the key tables of docs/policy.md
(:mod:`kb.policy.reference`) all come from it. Everything in
:mod:`kb.policy.engine` and :mod:`kb.policy.calendar` is a pure function of a Policy
and its arguments: no I/O, no clock, easy to test with tables of cases.
"""

from kb.policy.load import load_policy, parse_policy
from kb.policy.model import Policy

__all__ = ["Policy", "load_policy", "parse_policy"]
