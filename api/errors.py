"""One shape for every error the API answers: ``{"detail": "…"}``, plus ``errors`` (each
field at fault) when the request did not fit the document.

FastAPI's own 422 for a malformed request is ``{"detail": [{loc, msg, type}, …]}`` while the
routes' 422s are ``{"detail": "…"}``: two shapes under one status, and a document that
declared only one. Here both are ``ErrorOut``; ``detail`` is always a sentence a person can
act on.

A database that is down or hangs answers 503 with ``Retry-After`` (never a 500 and never a
401: a token cannot be checked then, which says nothing of the token).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc

from coaching import errors as coaching_errors
from conference import errors as conference_errors
from recordings import errors as recording_errors

__all__ = [
    "ERROR_RESPONSES",
    "ErrorOut",
    "FieldErrorOut",
    "explained_pattern",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

# What a database that is down, restarting or hanging raises: SQLAlchemy's wrappers of the
# drivers' errors, and what a connection attempt raises before any driver wraps it.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)
DATABASE_RETRY_AFTER_S = 5

# A pattern's meaning in words, for the message when a value does not match it.
_PATTERN_WORDS: dict[str, str] = {}


def explained_pattern(pattern: str, words: str) -> str:
    """``pattern``, remembered with what it means: a value that does not match it is told
    ``"<words>, got '<value>'"`` rather than the regular expression."""
    _PATTERN_WORDS[pattern] = words
    return pattern


class FieldErrorOut(BaseModel):
    loc: list[str | int] = Field(description='Where: ["query", "limit"], ["body", "name"]…')
    msg: str
    type: str


class ErrorOut(BaseModel):
    detail: str
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="With a request that does not fit the API: each field at fault"
    )


# Every operation may answer these (the body's size is checked before any route runs).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status.HTTP_400_BAD_REQUEST: {"model": ErrorOut, "description": "A body that is not JSON"},
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": ErrorOut,
        "description": "The body is larger than HOTLINE_API_MAX_BODY_BYTES",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ErrorOut,
        "description": "Invalid input: `detail` says what to change",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "The database is unavailable; try again after `Retry-After` seconds",
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        },
    },
}


def _message(error: dict[str, Any]) -> str:
    pattern = (error.get("ctx") or {}).get("pattern")
    if error.get("type") == "string_pattern_mismatch" and pattern in _PATTERN_WORDS:
        return f"{_PATTERN_WORDS[pattern]}, got {error.get('input')!r}"
    return str(error.get("msg", ""))


def _field_errors(exc: RequestValidationError) -> list[FieldErrorOut]:
    return [
        FieldErrorOut(
            loc=[part if isinstance(part, int) else str(part) for part in error.get("loc", ())],
            msg=_message(error),
            type=str(error.get("type", "")),
        )
        for error in exc.errors()
    ]


def _sentence(errors: list[FieldErrorOut]) -> str:
    """``"targets: expected …; limit: …"``: the field (without query/body/path) and why."""
    parts = []
    for e in errors[:5]:
        where = e.loc[1:] if len(e.loc) > 1 and e.loc[0] in ("query", "body", "path") else e.loc
        parts.append(f"{'.'.join(str(p) for p in where) or 'request'}: {e.msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    body = ErrorOut(detail=_sentence(errors), errors=errors)
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    body = ErrorOut(
        detail="Cơ sở dữ liệu tạm thời không truy cập được; xin thử lại sau. "
        "The database is unavailable; try again shortly."
    )
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


# The domain's refusals and the status each answers, most specific first. The routes let them
# rise; one handler per family answers ``{"detail": <its Vietnamese sentence>}``. Within a
# family an error the table does not name answers 400.
DOMAIN_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (conference_errors.ConferenceNotFound, status.HTTP_404_NOT_FOUND),
    (conference_errors.NotAllowed, status.HTTP_403_FORBIDDEN),
    (conference_errors.InvalidConference, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (conference_errors.ConferenceConflict, status.HTTP_409_CONFLICT),
    (conference_errors.PbxDown, status.HTTP_503_SERVICE_UNAVAILABLE),
    (recording_errors.RecordingNotFound, status.HTTP_404_NOT_FOUND),
    (recording_errors.HoldNotFound, status.HTTP_404_NOT_FOUND),
    (recording_errors.RecordingPurged, status.HTTP_410_GONE),
    (recording_errors.RecordingNotReady, status.HTTP_409_CONFLICT),
    (recording_errors.RecordingConflict, status.HTTP_409_CONFLICT),
    (recording_errors.InvalidRequest, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (recording_errors.PbxDown, status.HTTP_503_SERVICE_UNAVAILABLE),
    (coaching_errors.SessionNotFound, status.HTTP_404_NOT_FOUND),
    (coaching_errors.NotOnCall, status.HTTP_409_CONFLICT),
    (coaching_errors.CoachingConflict, status.HTTP_409_CONFLICT),
    (coaching_errors.InvalidCoaching, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (coaching_errors.PbxDown, status.HTTP_503_SERVICE_UNAVAILABLE),
)
DOMAIN_FAMILIES: tuple[type[Exception], ...] = (
    conference_errors.ConferenceError,
    recording_errors.RecordingError,
    coaching_errors.CoachingError,
)


def domain_status(exc: Exception) -> int:
    """The status a domain refusal answers (400 for one the table does not name)."""
    return next(
        (code for kind, code in DOMAIN_STATUS if isinstance(exc, kind)),
        status.HTTP_400_BAD_REQUEST,
    )


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    detail = getattr(exc, "message", None) or str(exc)
    return JSONResponse({"detail": detail}, status_code=domain_status(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, _database_down)
    for family in DOMAIN_FAMILIES:
        app.add_exception_handler(family, _domain_error)
