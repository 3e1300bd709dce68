"""Screenshot uploads: size- and type-checked by content, stored under random names."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from portal.db.engine import Database
from portal.db.models import Draft, PendingRequest, Upload

# accepted types, recognised by their first bytes, never by name or declared type
SIGNATURES: tuple[tuple[str, str], ...] = (
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
)


class UploadError(ValueError):
    pass


class StorageError(OSError):
    """The file could not be written (disk full, read-only, missing volume); nothing of
    it is left behind. The app answers 503 with Retry-After."""


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


# bidi embeddings, overrides, isolates and marks: "invoice\u202efdp.png" would show as
# "invoicegnp.pdf" (Trojan Source-style spoofing of the extension)
_INVISIBLE = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_UNSAFE = re.compile(f'[\\x00-\\x1f\\x7f-\\x9f"<>{_INVISIBLE}]')


def safe_filename(name: str) -> str:
    """A display name without paths, control characters (C0, C1), bidi controls or
    quotes."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("", name).strip(" .")
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
    file_id = secrets.token_urlsafe(24)
    tmp = directory / f".{file_id}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, directory / file_id)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StorageError(exc.errno, f"the upload could not be stored: {exc}") from exc
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


# --- keeping the upload directory to what is referenced --------------------------------

# a stored file gets its row milliseconds later; files without a row younger than this
# may be in the middle of an upload and are left alone
ROWLESS_GRACE = dt.timedelta(minutes=10)
# a request sent for verification keeps its attachments this long after its link expired
PENDING_GRACE = dt.timedelta(minutes=10)
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{20,64}")
_TMP = re.compile(r"\.[A-Za-z0-9_-]{20,64}\.tmp")
_CHUNK = 500


def remove_files(directory: Path, ids: Iterable[str]) -> int:
    """Delete the stored files of ``ids`` (whose rows are gone); returns bytes freed."""
    freed = 0
    for file_id in ids:
        path = path_of(directory, file_id)
        if path is None:
            continue
        with contextlib.suppress(OSError):  # the prune sweeps up what stays
            size = path.stat().st_size
            path.unlink()
            freed += size
    return freed


@dataclass
class PruneReport:
    drafts: int = 0  # stale drafts forgotten
    uploads: int = 0  # upload rows (and their files) no draft, request or ticket holds
    files: int = 0  # files on disk without a row (interrupted uploads, leftovers)
    bytes: int = 0

    def summary(self) -> str:
        return (
            f"{self.drafts} stale drafts, {self.uploads} unreferenced uploads and "
            f"{self.files} stray files removed ({self.bytes / 1048576:.1f} MB freed)"
        )


def _attachment_ids(data: object) -> set[str]:
    attachments = data.get("attachments") if isinstance(data, dict) else None
    if not isinstance(attachments, dict):
        return set()
    return {str(a["id"]) for a in attachments.values() if isinstance(a, dict) and a.get("id")}


def prune(
    db: Database,
    directory: Path,
    *,
    older_than: dt.timedelta,
    verify_max_age: int,
    now: dt.datetime,
) -> PruneReport:
    """Remove what no one can use any more: wizard drafts not touched for
    ``older_than`` (with their uploads); upload rows that no ticket, no draft and no
    request still waiting for its filing link (``verify_max_age`` seconds) references,
    with their files; and files in ``directory`` without a row. Ticket attachments are
    never touched. Safe while the portal runs: rows are deleted only if still without a
    ticket at that moment, and a fresh file is given ``ROWLESS_GRACE`` to get its row."""
    report = PruneReport()
    cutoff = now - older_than
    with db.session() as session:
        stale = session.scalars(
            delete(Draft)
            .where(Draft.updated_at < cutoff)
            .returning(Draft.id)
            .execution_options(synchronize_session=False)
        )
        report.drafts = len(list(stale))
    with db.session() as session:
        rows = session.execute(
            select(Upload.id, Upload.draft_id).where(Upload.ticket_id.is_(None))
        ).all()
        draft_ids = sorted({d for _, d in rows if d})
        referenced: set[str] = set()
        for i in range(0, len(draft_ids), _CHUNK):
            for data in session.scalars(
                select(Draft.data).where(Draft.id.in_(draft_ids[i : i + _CHUNK]))
            ):
                referenced |= _attachment_ids(data)
        waiting = now - dt.timedelta(seconds=verify_max_age) - PENDING_GRACE
        for data in session.scalars(
            select(PendingRequest.data).where(
                PendingRequest.ticket_number.is_(None), PendingRequest.created_at >= waiting
            )
        ):
            referenced |= _attachment_ids(data)
        orphans = [upload_id for upload_id, _ in rows if upload_id not in referenced]
        gone: list[str] = []
        for i in range(0, len(orphans), _CHUNK):
            gone += session.scalars(
                delete(Upload)
                .where(Upload.id.in_(orphans[i : i + _CHUNK]), Upload.ticket_id.is_(None))
                .returning(Upload.id)
                .execution_options(synchronize_session=False)
            )
    report.uploads = len(gone)
    report.bytes += remove_files(directory, gone)
    files, freed = _sweep(db, directory, now=now)
    report.files, report.bytes = files, report.bytes + freed
    return report


def _sweep(db: Database, directory: Path, *, now: dt.datetime) -> tuple[int, int]:
    """Delete files (and interrupted ``.tmp`` files) with no upload row."""
    try:
        entries = list(os.scandir(directory))
    except OSError:  # no directory yet: nothing was ever uploaded
        return 0, 0
    old_enough = (now - ROWLESS_GRACE).timestamp()
    candidates: dict[str, os.DirEntry[str]] = {}
    leftovers: list[os.DirEntry[str]] = []
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False) or entry.stat().st_mtime > old_enough:
                continue
        except OSError:
            continue
        if _FILE_ID.fullmatch(entry.name):
            candidates[entry.name] = entry
        elif _TMP.fullmatch(entry.name):
            leftovers.append(entry)
    names = sorted(candidates)
    for i in range(0, len(names), _CHUNK):
        chunk = names[i : i + _CHUNK]
        with db.session() as session:
            known = set(session.scalars(select(Upload.id).where(Upload.id.in_(chunk))))
        leftovers += [candidates[n] for n in chunk if n not in known]
    count = freed = 0
    for entry in leftovers:
        with contextlib.suppress(OSError):
            size = entry.stat().st_size
            os.unlink(entry.path)
            count, freed = count + 1, freed + size
    return count, freed
