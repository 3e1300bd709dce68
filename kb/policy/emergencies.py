"""Emergencies explained, only in the policy's words: what the emergency claim is, how
it differs from choosing a priority, and the channels for emergencies with the numbers
or addresses the policy gives (and, where it gives none, that it gives none).

A pure function of the policy (no I/O, no clock); shown on ``/plans`` and in the
wizard's choose and coverage steps (templates/_emergencies.html), tested per pack
(tests/test_emergencies.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.policy.model import Channel, Policy


@dataclass(frozen=True)
class EmergencyChannel:
    name: str
    address: str  # "" when the policy gives none
    description: str
    missing: str  # what the page says when there is no address: "number" or "address"


@dataclass(frozen=True)
class EmergencyExplanation:
    claim: str  # the claim in one sentence, ending with the policy's definition
    definition: str
    priority_name: str  # the priority emergencies are filed at ("" if the policy names none)
    difference: str  # how a priority and the emergency claim differ
    request_types: tuple[str, ...]  # titles of the request types that may be emergencies
    plans: tuple[str, ...]  # names of the plans with emergency handling (empty: every plan)
    instructions: str
    abuse: str
    channels: tuple[EmergencyChannel, ...]


def _is_emergency_channel(channel: Channel) -> bool:
    text = f"{channel.id} {channel.name} {channel.description}".lower()
    return "emergenc" in text


def _channel(channel: Channel) -> EmergencyChannel:
    words = f"{channel.id} {channel.name}".lower()
    missing = "number" if "phone" in words or "voicemail" in words else "address"
    return EmergencyChannel(channel.name, channel.address, channel.description, missing)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _abuse(policy: Policy) -> str:
    e = policy.emergency
    assert e is not None
    if e.max_rejected and e.window_days:
        return _sentence(
            f"After {e.max_rejected} requests marked as emergencies within {e.window_days} "
            "days turn out not to be emergencies, the emergency mark is ignored for "
            f"{e.ignore_days or e.window_days} days"
        )
    return _sentence(e.abuse_text) if e.abuse_text else ""


def explain_emergencies(policy: Policy) -> EmergencyExplanation | None:
    """The explanation, or None when the policy has no emergency service."""
    e = policy.emergency
    if e is None:
        return None
    definition = _sentence(e.definition)
    prio = policy.priorities.get(e.priority) if e.priority else None
    priority_name = prio.name if prio else ""
    claim = (
        "Marking a request as an emergency claims that it is one as our policy defines "
        f"it: {definition}"
    )
    difference = (
        "The priority you choose says how urgent the request is for you (and which "
        "first-response target applies, where your plan states one); the emergency mark "
        "is a claim that the policy's definition applies, which we check"
        + (
            f". Only an accepted emergency is filed at the {priority_name} priority"
            if priority_name
            else ""
        )
        + (
            "; choosing another priority does not make a request an emergency"
            if len(policy.priorities) > 1 and priority_name
            else ""
        )
        + "."
    )
    titles = tuple(
        policy.request_types[t].title for t in e.request_types if t in policy.request_types
    )
    plans = tuple(policy.plans[p].name for p in e.plans if p in policy.plans)
    channels = tuple(_channel(c) for c in policy.provider.channels if _is_emergency_channel(c))
    return EmergencyExplanation(
        claim=claim,
        definition=definition,
        priority_name=priority_name,
        difference=difference,
        request_types=titles,
        plans=plans,
        instructions=_sentence(e.instructions) if e.instructions else "",
        abuse=_abuse(policy),
        channels=channels,
    )
