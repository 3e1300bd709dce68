"""A small valid policy for the loader tests, and edits of it that mark the line
where the loader must report a problem with ``MARK``."""

from __future__ import annotations

MARK = "# <-- here"

BASE = """\
provider:
  name: Example Hosting
  timezone: Europe/Berlin
  currency: EUR
calendars:
  office:
    hours:
      mon-fri: "08:00-18:00"
    holidays:
      country: DE
priorities:
  - id: high
    name: High
    definition: Something is down.
  - id: low
    name: Low
    definition: A question.
plans:
  - id: basic
    name: Basic
    price: {kind: included, text: Included}
    calendar: office
    reaction: {high: 4, low: 16}
rates:
  - id: hourly
    amount: 100
    unit_minutes: 15
fees:
  - id: cleanup
    name: Clean-up
    amount: 25
request_types:
  - id: question
    title: A question
    description: Ask us anything.
    category: general
    coverage: {default: included}
    details: [description]
  - id: outage
    title: Server down
    description: The server does not answer.
    category: general
    coverage: {default: included}
    emergency: true
  - id: scripting
    title: Script help
    description: Help with your code.
    category: general
    coverage: {default: paid}
    rate: hourly
emergency:
  definition: A server that does not answer.
  request_types: [outage]
"""


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def marked_line(text: str) -> int:
    (line,) = [i for i, row in enumerate(text.splitlines(), start=1) if MARK in row]
    return line
