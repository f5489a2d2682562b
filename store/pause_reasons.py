"""Pause reasons as data: listed, added, renamed, retired (and restored) by supervisors.

A reason's ``position`` is the N of the phone code ``*2N``: given when the reason is added
(the next free number), never reused nor changed, so retiring one reason leaves the other
agents' codes as they learnt them. The first time the table is read empty it is filled with
the configured reasons (``HOTLINE_PAUSE_REASONS``) in their order.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from store.db import Database
from store.models import PauseReason

__all__ = [
    "MAX_POSITION",
    "PauseReasonConflict",
    "add_pause_reason",
    "ensure_pause_reasons",
    "list_pause_reasons",
    "update_pause_reason",
]

# *2N with N up to two digits: the phone takes codes of at most a few characters.
MAX_POSITION = 99


class PauseReasonConflict(ValueError):
    """The code is taken, or no phone code is left."""


async def ensure_pause_reasons(db: Database, initial: Mapping[str, str]) -> list[PauseReason]:
    """Every reason by position; an empty table is first filled with ``initial`` (code ->
    label, in order: positions 1, 2, …)."""
    async with db.session() as session:
        if await session.scalar(select(func.count()).select_from(PauseReason)) == 0:
            session.add_all(
                PauseReason(code=code, label=label, position=i, updated_by="settings")
                for i, (code, label) in enumerate(initial.items(), start=1)
            )
            try:
                await session.commit()
            except IntegrityError:  # another process filled it meanwhile
                await session.rollback()
    return await list_pause_reasons(db)


async def list_pause_reasons(db: Database) -> list[PauseReason]:
    async with db.session() as session:
        return list(await session.scalars(select(PauseReason).order_by(PauseReason.position)))


async def add_pause_reason(db: Database, code: str, label: str, by: str) -> PauseReason:
    """A new reason at the next free position; ``PauseReasonConflict`` if the code is taken
    (retired reasons included: restore it instead) or no position is left."""
    async with db.session() as session:
        if await session.get(PauseReason, code) is not None:
            raise PauseReasonConflict(f"pause reason {code!r} exists (it may be retired)")
        last = await session.scalar(select(func.max(PauseReason.position)))
        position = (last or 0) + 1
        if position > MAX_POSITION:
            raise PauseReasonConflict(f"no phone code left: *21 to *2{MAX_POSITION} are used")
        row = PauseReason(code=code, label=label, position=position, updated_by=by)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:
            raise PauseReasonConflict(f"pause reason {code!r} was added meanwhile") from None
        return row


async def update_pause_reason(
    db: Database, code: str, *, label: str | None, retired: bool | None, by: str
) -> PauseReason | None:
    """Rename, retire or restore a reason; None if there is no such reason."""
    async with db.session() as session:
        row = await session.get(PauseReason, code)
        if row is None:
            return None
        if label is not None:
            row.label = label
        if retired is not None:
            row.retired = retired
        row.updated_by = by
        await session.commit()
        return row
