"""Screenshot uploads: size- and type-checked by content, stored under random names."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

# accepted types, recognised by their first bytes, never by name or declared type
SIGNATURES: tuple[tuple[str, str], ...] = (
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
)


class UploadError(ValueError):
    pass


@dataclass(frozen=True)
class StoredFile:
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


def sniff(data: bytes) -> str | None:
    """The image type of ``data`` from its magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def safe_filename(name: str) -> str:
    """A display name without paths, control characters or quotes."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f\"<>]", "", name).strip(" .")
    return name[:120] or "screenshot"


def store(directory: Path, filename: str, data: bytes, *, max_bytes: int) -> StoredFile:
    """Validate and store an upload. Raises UploadError with a message for the customer."""
    if not data:
        raise UploadError("The file is empty.")
    if len(data) > max_bytes:
        raise UploadError(
            f"The file is {len(data) / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB."
        )
    content_type = sniff(data)
    if content_type is None:
        raise UploadError("Only PNG, JPEG or WebP images can be attached.")
    directory.mkdir(parents=True, exist_ok=True)
    file_id = secrets.token_urlsafe(24)
    tmp = directory / f".{file_id}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, directory / file_id)
    extension = dict(SIGNATURES)[content_type]
    stem = safe_filename(filename).rsplit(".", 1)[0] or "screenshot"
    return StoredFile(
        id=file_id,
        filename=f"{stem}.{extension}",  # the name always says what the bytes are
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def path_of(directory: Path, file_id: str) -> Path | None:
    if not re.fullmatch(r"[A-Za-z0-9_-]{20,64}", file_id):
        return None
    path = directory / file_id
    return path if path.is_file() else None
