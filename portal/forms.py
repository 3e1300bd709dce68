"""Reading submitted forms: CSRF-checked, size-limited, every text field checked for
characters no field accepts (``portal.inputs``)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from portal import http, inputs
from portal.sessions import check_csrf

MAX_FORM_FIELDS = 60
MAX_FORM_FILES = 2


async def read_form(
    request: Request,
    *,
    files: bool = False,
    inline: frozenset[str] = frozenset(),
    multiline: Callable[[str], bool] = lambda _name: False,
) -> FormData:
    """The submitted form, CSRF-checked. Forms that take no files refuse them; the
    caller of a form with files must ``await form.close()``.

    A field with characters no field accepts is refused with 422 naming it, except the
    ``inline`` ones: their step shows the problem next to the field, with what was
    typed. ``multiline`` says which fields may hold tabs and newlines."""
    settings = http.settings(request)
    try:
        form = await request.form(
            max_files=MAX_FORM_FILES if files else 0,
            max_fields=MAX_FORM_FIELDS,
            max_part_size=settings.max_upload_bytes + 1024,
        )
    except HTTPException as exc:
        if exc.status_code == 413:
            raise
        if "exceeded maximum size" in str(exc.detail) or "Part exceeded" in str(exc.detail):
            limit = settings.max_upload_bytes // (1024 * 1024)
            raise HTTPException(413, f"The upload is too large; the limit is {limit} MB.") from exc
        raise HTTPException(400, f"The form could not be read: {exc.detail}") from exc
    except Exception as exc:  # malformed multipart or urlencoded bodies
        raise HTTPException(400, "The form could not be read; please submit it again.") from exc
    token = form.get("csrf_token")
    refused = inputs.check_fields(
        ((k, v) for k, v in form.multi_items() if isinstance(v, str) and k not in inline),
        multiline=multiline,
    )
    try:
        check_csrf(request, token if isinstance(token, str) else None)
        if refused:
            name, problem = next(iter(refused.items()))
            what = "Your text" if name == "text" else f"The form field “{name}”"
            raise HTTPException(
                422,
                f"{what} was refused, so nothing was sent. {problem} "
                "Go back to change it: what you typed is still there.",
            )
    except HTTPException:
        await form.close()
        raise
    return form


def plain(form: FormData) -> dict[str, str]:
    """The text fields of a form (uploads left out)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}
