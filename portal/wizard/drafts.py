"""Wizard drafts: one per browser session, stored server-side.

A draft's attachments (``data["attachments"]``: detail id -> upload) change only
through ``attach``, ``detach`` and ``clear_attachments``: each locks the draft, records
or deletes the upload rows and updates the draft in one transaction, so no upload row
is ever left unreferenced by a live draft, even when two uploads race for one slot.
``save`` keeps the attachments that are stored. The functions that drop uploads return
their ids: the caller deletes the files (``uploads.remove_files``) after the commit.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from portal import http, sessions
from portal.db.engine import Database
from portal.db.models import Draft, Upload
from portal.wizard import flow
from portal.wizard.uploads import StoredFile


def load(db: Database, session_id: str) -> flow.Draft:
    """The session's draft, or a new empty one."""
    with db.session() as session:
        draft = session.scalars(
            select(Draft).where(Draft.session_id == session_id).order_by(Draft.updated_at.desc())
        ).first()
        if draft is None:
            return flow.Draft()
        return flow.Draft.from_json(draft.data or {}, draft_id=draft.id)


def save(db: Database, session_id: str, wizard_draft: flow.Draft) -> str:
    """Store the draft's values (its attachments are kept as stored: they change only
    through ``attach``, ``detach`` and ``clear_attachments``); returns its id."""
    clean = {k: v for k, v in wizard_draft.to_json().items() if k != "attachments"}
    with db.session() as session:
        draft_id = wizard_draft.id
        draft = _locked(session, session_id, draft_id)
        if draft is None:  # a new draft owns no uploads yet
            draft = Draft(id=secrets.token_urlsafe(32), session_id=session_id, data=clean)
            session.add(draft)
        else:
            stored = (draft.data or {}).get("attachments")
            draft.data = {**clean, "attachments": stored} if stored else clean
        session.flush()
        return draft.id


def _locked(session: Session, session_id: str, draft_id: Any) -> Draft | None:
    """The session's draft, locked for update (SQLite: the transaction holds the
    database's write lock already)."""
    if not isinstance(draft_id, str) or not draft_id:
        return None
    draft = session.get(Draft, draft_id, with_for_update=True)
    return draft if draft is not None and draft.session_id == session_id else None


def _ids(attachments: Any) -> list[str]:
    values = attachments.values() if isinstance(attachments, dict) else []
    return [str(a["id"]) for a in values if isinstance(a, dict) and a.get("id")]


def _forget_rows(session: Session, ids: list[str]) -> list[str]:
    """Delete the upload rows among ``ids`` that no ticket holds; returns those ids."""
    if not ids:
        return []
    gone = session.scalars(
        delete(Upload)
        .where(Upload.id.in_(ids), Upload.ticket_id.is_(None))
        .returning(Upload.id)
        .execution_options(synchronize_session=False)
    )
    return list(gone)


def _typed(attachments: dict[str, Any]) -> dict[str, flow.Attachment]:
    return flow.Draft.from_json({"attachments": attachments}).attachments


def _set_attachments(draft: Draft, attachments: dict[str, Any]) -> None:
    data = {k: v for k, v in (draft.data or {}).items() if k != "attachments"}
    draft.data = {**data, "attachments": attachments} if attachments else data


def attach(
    db: Database, session_id: str, draft_id: Any, slot: str, stored: StoredFile
) -> tuple[dict[str, flow.Attachment], list[str]]:
    """Record ``stored`` as the upload in ``slot`` of the session's draft, replacing
    what was there. Returns the draft's attachments and the ids to delete from disk:
    the replaced upload, or ``stored`` itself when there is no such draft."""
    with db.session() as session:
        draft = _locked(session, session_id, draft_id)
        if draft is None:
            return {}, [stored.id]
        attachments = dict((draft.data or {}).get("attachments") or {})
        replaced = _ids({slot: attachments.get(slot)})
        session.add(
            Upload(
                id=stored.id,
                draft_id=draft.id,
                filename=stored.filename,
                content_type=stored.content_type,
                size=stored.size,
                sha256=stored.sha256,
            )
        )
        attachments[slot] = {"id": stored.id, "filename": stored.filename, "size": stored.size}
        _set_attachments(draft, attachments)
        session.flush()
        return _typed(attachments), _forget_rows(session, replaced)


def detach(
    db: Database, session_id: str, draft_id: Any, slot: str
) -> tuple[dict[str, flow.Attachment], list[str]]:
    """Remove the upload in ``slot``; returns the attachments and the ids to delete."""
    with db.session() as session:
        draft = _locked(session, session_id, draft_id)
        if draft is None:
            return {}, []
        attachments = dict((draft.data or {}).get("attachments") or {})
        removed = _ids({slot: attachments.pop(slot, None)})
        _set_attachments(draft, attachments)
        return _typed(attachments), _forget_rows(session, removed)


def clear_attachments(db: Database, session_id: str, draft_id: Any) -> list[str]:
    """Drop every upload of the draft (its request type or problem changed); returns
    the ids to delete."""
    with db.session() as session:
        draft = _locked(session, session_id, draft_id)
        if draft is None:
            return []
        ids = _ids((draft.data or {}).get("attachments"))
        _set_attachments(draft, {})
        return _forget_rows(session, ids)


def move(db: Database, old_session_id: str, new_session_id: str) -> None:
    """Hand the drafts of one session id to another (the id was rotated)."""
    with db.session() as session:
        session.execute(
            update(Draft)
            .where(Draft.session_id == old_session_id)
            .values(session_id=new_session_id)
            .execution_options(synchronize_session=False)
        )


def discard(db: Database, session_id: str, *, forget_uploads: bool = False) -> list[str]:
    """Forget the session's drafts. With ``forget_uploads`` their uploads go too and
    their ids are returned for deletion from disk; without it (the request was sent
    for verification and now holds them) the uploads stay for the ticket."""
    with db.session() as session:
        drafts = list(session.scalars(select(Draft).where(Draft.session_id == session_id)))
        ids = [i for draft in drafts for i in _ids((draft.data or {}).get("attachments"))]
        gone = _forget_rows(session, ids) if forget_uploads else []
        session.execute(delete(Draft).where(Draft.session_id == session_id))
        return gone


async def rotate_session(request: Request) -> None:
    """A new session id for this browser, taking its draft along: a cookie planted
    before (session fixation) no longer shows what is entered from now on."""
    old, new = sessions.rotate(request)
    await run_in_threadpool(move, http.database(request), old, new)
