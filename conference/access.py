"""Who may see and lead a conference, and in which status a step is allowed.

Shared by the service's reading and starting and by the controls, so apart from both: an
operations center sees its own conferences; a supervisor or administrator sees them all.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from conference.errors import ConferenceConflict, ConferenceNotFound, NotAllowed
from conference.points import Caller
from store.models import Conference, ConferenceStatus, Team, TeamKind

__all__ = ["center_of", "check_status", "visible"]


async def center_of(s: AsyncSession, caller: Caller) -> Team:
    """The operations center a ``team`` user acts for; NotAllowed for any other."""
    team = await s.get(Team, caller.team_id) if caller.team_id is not None else None
    if team is None or team.kind != TeamKind.CENTER:
        raise NotAllowed(
            "Chỉ trung tâm điều hành (hoặc giám sát viên, quản trị viên) được tổ chức hội nghị"
        )
    return team


async def visible(s: AsyncSession, caller: Caller, conference_id: int) -> Conference:
    """The conference, if the caller may see it; else "not found" (ids cannot be probed)."""
    team = None if caller.privileged else await center_of(s, caller)
    conf = await s.get(Conference, conference_id)
    if conf is None or (team is not None and conf.team_id != team.id):
        raise ConferenceNotFound(f"Không có hội nghị số {conference_id}")
    return conf


def check_status(conf: Conference, *allowed: str) -> None:
    """ConferenceConflict, saying why, unless the conference is in one of ``allowed``."""
    if conf.status in allowed:
        return
    if conf.status == ConferenceStatus.ENDED:
        raise ConferenceConflict(f"Hội nghị {conf.id} đã kết thúc")
    if conf.status == ConferenceStatus.SCHEDULED:
        raise ConferenceConflict(f"Hội nghị {conf.id} chưa bắt đầu")
    raise ConferenceConflict(f"Hội nghị {conf.id} đã bắt đầu")
