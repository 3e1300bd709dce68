"""The four provider packs and their source documents (../shared/seeds), and the
amounts and durations a text states: what a pack may show a customer is checked
against what its source says."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
PACKS = {
    "hsphere": "hsphere-support-policy.txt",
    "itpossible": "itpossible-support-policy.txt",
    "hsphere-reseller": "hsphere-reseller-dedicated-maintenance.txt",
    "kolmisoft": "kolmisoft-support-plans.txt",
}
MONEY = re.compile(r"(?:[$€£]|\bR|\b(?:USD|EUR|ZAR)\s?)(\d[\d,]*(?:\.\d+)?)")
DURATION = re.compile(
    r"(?<![\d:.])(\d+(?:\.\d+)?)(?:\s*[–-]\s*(\d+(?:\.\d+)?))?\s*"
    r"(?:-minute|minutes?\b|h\b|hours?\b|business hours?\b|days?\b|months?\b)"
)


def numbers(text: str) -> set[str]:
    found = set()
    for match in MONEY.finditer(text):
        found.add(match.group(1).replace(",", "").removesuffix(".00"))
    for match in DURATION.finditer(text):
        found.update(n.removesuffix(".0") for n in match.groups() if n)
    return found
