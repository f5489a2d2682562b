"""``/pause-reasons``: the reasons an agent may give for a pause, as supervisors manage
them (list, add, rename, retire, restore). Agents read the ones in use at
``GET /agents/pause-reasons``.

A reason's ``phone_code`` (``*2N``) is given when it is added and never changes; a retired
reason's code stays unused, so the others' codes stay as agents learnt them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.errors import explained_pattern
from api.schemas import ErrorOut
from queues.feature_codes import PAUSE_PREFIX
from store import pause_reasons as store_reasons
from store.models import PauseReason, Role, User

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/pause-reasons", tags=["agents"], responses=AUTH_RESPONSES)

Supervisor = Annotated[
    User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="manage pause reasons"))
]
CODE_PATTERN = explained_pattern(
    r"^[a-z][a-z0-9_-]{1,29}$",
    "a code must be 2 to 30 of a-z, 0-9, '_' or '-', starting with a letter",
)
Code = Annotated[str, Path(max_length=30, description="The reason's code, e.g. meal")]
# Something to show once trimmed, nothing unprintable.
Label = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$",
        description="What the supervisor and the agent read, e.g. Nghỉ ăn",
    ),
]
NOT_FOUND: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such reason"},
}


class PauseReasonOut(BaseModel):
    code: str
    label: str
    phone_code: str = Field(description="What an agent dials on their phone, e.g. *22")
    retired: bool = Field(description="True: no longer offered; agents paused with it stay")
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, row: PauseReason) -> PauseReasonOut:
        return cls(
            code=row.code,
            label=row.label,
            phone_code=f"{PAUSE_PREFIX}{row.position}",
            retired=row.retired,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )


class PauseReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE_PATTERN, description="2-30 of a-z, 0-9, '_', '-'")
    label: Label


class PauseReasonPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    retired: bool | None = Field(None, description="True: retire; false: offer it again")


async def _reload(services: ServicesDep) -> None:
    # The agents' service refuses a retired reason at once; the phone's prompts follow.
    await services.agents.load_pause_reasons()


@router.get("", summary="Every pause reason, retired ones included, by phone code")
async def list_reasons(_user: Supervisor, services: ServicesDep) -> list[PauseReasonOut]:
    rows = await store_reasons.ensure_pause_reasons(services.db, services.agents.pause_reasons)
    return [PauseReasonOut.of(r) for r in rows]


@router.post(
    "",
    summary="Add a pause reason (it gets the next phone code)",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "The code exists (perhaps retired: restore it), or no phone code"
            " is left",
        }
    },
)
async def add_reason(
    body: PauseReasonIn, user: Supervisor, services: ServicesDep
) -> PauseReasonOut:
    await store_reasons.ensure_pause_reasons(services.db, services.agents.pause_reasons)
    try:
        row = await store_reasons.add_pause_reason(
            services.db, body.code, body.label.strip(), f"user {user.name}"
        )
    except store_reasons.PauseReasonConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    log.info("pause reason %s (%s) added by %s", row.code, row.label, user.name)
    await _reload(services)
    return PauseReasonOut.of(row)


@router.patch("/{code}", summary="Rename, retire or restore a pause reason", responses=NOT_FOUND)
async def edit_reason(
    code: Code, body: PauseReasonPatch, user: Supervisor, services: ServicesDep
) -> PauseReasonOut:
    await store_reasons.ensure_pause_reasons(services.db, services.agents.pause_reasons)
    row = await store_reasons.update_pause_reason(
        services.db,
        code,
        label=body.label.strip() if body.label is not None else None,
        retired=body.retired,
        by=f"user {user.name}",
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No pause reason {code!r}")
    log.info(
        "pause reason %s edited by %s: label %r, retired %s",
        code,
        user.name,
        row.label,
        row.retired,
    )
    await _reload(services)
    return PauseReasonOut.of(row)
