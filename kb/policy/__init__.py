"""The support policy as content: model, loader/validator and pure decision functions.

``load_policy(path)`` reads ``content/policy.yaml`` (or any pack) into an immutable
:class:`Policy` and reports problems with file and line. Everything in
:mod:`kb.policy.engine` and :mod:`kb.policy.calendar` is a pure function of a Policy
and its arguments: no I/O, no clock, easy to test with tables of cases.
"""

from kb.policy.load import load_policy, parse_policy
from kb.policy.model import Policy

__all__ = ["Policy", "load_policy", "parse_policy"]
