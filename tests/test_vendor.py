"""Vendored front-end code is exactly the pinned release."""

from __future__ import annotations

import hashlib
from pathlib import Path

HTMX = Path(__file__).resolve().parent.parent / "static" / "vendor" / "htmx-4.0.1"
SHA256 = "a0abb04f2f45a1f89d1d4844023245537e5e6014c87b144553e0607b4cc32130"


def test_htmx_checksum_and_licence() -> None:
    assert hashlib.sha256((HTMX / "htmx.min.js").read_bytes()).hexdigest() == SHA256
    assert "Zero-Clause BSD" in (HTMX / "LICENSE").read_text()
    assert SHA256 in (HTMX / "VENDORED.md").read_text()
