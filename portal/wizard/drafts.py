"""Wizard drafts: one per browser session, stored server-side."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select

from portal.db.engine import Database
from portal.db.models import Draft


def load(db: Database, session_id: str) -> dict[str, Any] | None:
    with db.session() as session:
        draft = session.scalars(
            select(Draft).where(Draft.session_id == session_id).order_by(Draft.updated_at.desc())
        ).first()
        if draft is None:
            return None
        return {**draft.data, "_id": draft.id}


def save(db: Database, session_id: str, data: dict[str, Any]) -> str:
    clean = {k: v for k, v in data.items() if not k.startswith("_")}
    with db.session() as session:
        draft_id = data.get("_id")
        draft = session.get(Draft, draft_id) if draft_id else None
        if draft is None or draft.session_id != session_id:
            draft = Draft(id=secrets.token_urlsafe(32), session_id=session_id, data=clean)
            session.add(draft)
        else:
            draft.data = clean
        session.flush()
        return draft.id


def discard(db: Database, session_id: str) -> None:
    with db.session() as session:
        session.execute(delete(Draft).where(Draft.session_id == session_id))
