"""The recordings' service: the PBX's signals become rows (made at STARTED, sealed with their
digest and chain link at CLOSED), search and read them, play one (audited), verify the chain,
pause and resume a call's recording, legal holds, the purge of what has expired, the disk's
usage.

    service = RecordingService(db, pbx, RecordingParams(root=Path("/var/…/recordings")),
                               publish=bus.publish)
    await service.start()      # listen to the PBX, reconcile what is open, the purge loop
    page = await service.search(day_from=date(2026, 12, 5), category="medical")
    audio = await service.open_audio(page.items[0].id, user_id=3, user_name="giamsat1")
    ...
    await service.close()

Every method raises a ``recordings.errors.RecordingError`` for a refusal (the API maps each
to its status); ``message`` is the Vietnamese sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import shutil
import time as time_
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from live.hub import Audience
from pbx.errors import PbxError
from pbx.paths import AsteriskPaths
from pbx.recording_signals import RecordingKind, RecordingSignal, SignalKind
from recordings import chain, retention
from recordings import store as rstore
from recordings.chain import Problem, SealedFacts, VerifyReport
from recordings.errors import (
    HoldNotFound,
    InvalidRequest,
    PbxDown,
    RecordingConflict,
    RecordingError,
    RecordingNotFound,
    RecordingNotReady,
    RecordingPurged,
)
from recordings.ports import RecordingPbx
from recordings.shapes import (
    AudioFile,
    HoldOut,
    ListenOut,
    PauseInfo,
    PauseOut,
    PurgeReport,
    RecordingOut,
    RecordingPage,
    Usage,
)
from store import audit
from store.db import Database
from store.models import (
    AuditEntry,
    Call,
    Callback,
    Conference,
    Incident,
    LegalHold,
    Recording,
    RecordingPause,
)
from store.types import utcnow

__all__ = [
    "AudioFile",
    "HoldNotFound",
    "HoldOut",
    "InvalidRequest",
    "PauseInfo",
    "PauseOut",
    "PbxDown",
    "Problem",
    "Publish",
    "PurgeReport",
    "RecordingConflict",
    "RecordingError",
    "RecordingNotFound",
    "RecordingNotReady",
    "RecordingOut",
    "RecordingPage",
    "RecordingParams",
    "RecordingPurged",
    "RecordingService",
    "RecordingSettings",
    "Usage",
    "VerifyReport",
]

log = logging.getLogger(__name__)

# Days are Vietnam's: a search "from 5/12" starts at 00:00 in Hanoi.
VIETNAM = timezone(timedelta(hours=7))
# Most rows one page may ask for.
MAX_LIMIT = 500
# A sealing that lost the race for the next seq to another node tries again this often.
SEAL_ATTEMPTS = 20
# A signal whose writing failed (the database away) is tried again this often, then dropped
# with an error in the log (the restart's reconcile seals what is left open).
SIGNAL_ATTEMPTS = 5
# Recordings sealed this recently are classified again at each purge: the agent's outcome
# (wrong number, an incident) is recorded during wrap-up, after the file was closed.
RECLASSIFY_WINDOW = timedelta(days=2)
PURGE_BATCH = 500
VERIFY_BATCH = 1000
# The audit log's entries that hold the chain's head (``_anchor``).
ANCHOR_ACTION = "chain_head"
# A ``.part.wav`` untouched this long, of a leg Asterisk no longer records, is finished.
STALE_PART_S = 600.0
READ_CHUNK = 1 << 20

Publish = Callable[[str, Mapping[str, Any], Audience], None]


@dataclass(frozen=True)
class RecordingParams:
    """The settings the service runs with (``HOTLINE_RECORDING*``).

    ``root``: the recordings directory (a signal's ``name`` is relative to it).
    ``retention_days``: days per retention class (``recordings.retention``; by default its
    defaults, as the settings'), others keep ``retention_default_days``. ``instance``: this
    service's Asterisk instance.
    """

    root: Path
    retention_days: Mapping[str, int] = field(
        default_factory=lambda: dict(retention.DEFAULT_RETENTION_DAYS)
    )
    retention_default_days: int = 365
    purge_interval_s: float = 3600.0
    instance: str = "main"

    @classmethod
    def from_settings(cls, settings: RecordingSettings) -> RecordingParams:
        """From the service's settings (``hotline1022.settings.Settings``).
        ``recordings_dir`` is as Asterisk sees it (``pbx.paths``: inside its root when it runs
        in one; empty: the instance's ``spool/recordings``); ``root`` is that directory as
        this machine sees it."""
        paths = AsteriskPaths.find(settings.asterisk_instance)
        inner = settings.recordings_dir.rstrip("/") or f"{paths.inst}/spool/recordings"
        return cls(
            root=paths.host_path(inner),
            retention_days=dict(settings.recording_retention_days),
            retention_default_days=settings.recording_retention_default_days,
            purge_interval_s=settings.recording_purge_interval_s,
            instance=settings.asterisk_instance,
        )


class RecordingSettings(Protocol):
    """What ``RecordingParams.from_settings`` reads of the settings."""

    recordings_dir: str
    recording_retention_days: dict[str, int]
    recording_retention_default_days: int
    recording_purge_interval_s: float
    asterisk_instance: str


class RecordingService:
    """See the module's doc."""

    def __init__(
        self,
        db: Database,
        pbx: RecordingPbx,
        params: RecordingParams,
        *,
        publish: Publish | None = None,
    ) -> None:
        self.db = db
        self.pbx = pbx
        self.params = params
        self._publish = publish
        self._signals: asyncio.Queue[RecordingSignal] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self._reconciled = False
        # One pause or resume at a time (two clicks must not pause twice), one sealing at a
        # time in this process (the unique seq settles it between nodes).
        self._pausing = asyncio.Lock()
        self._sealing = asyncio.Lock()

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the PBX's signals, reconcile ``open_recordings()`` (a restart: rows still
        open are matched, missing ones made), and run the purge every ``purge_interval_s``."""
        if not self._listening:
            self.pbx.listen(self._signals.put_nowait)
            self._listening = True
        try:
            await self.reconcile()
        except PbxError as exc:
            # The service starts this before its AMI link: the link's (re)connect runs
            # ``reconcile`` again (hotline1022/service.py), the purge loop too meanwhile.
            log.info("open recordings reconciled once Asterisk answers (%s)", exc)
        self._tasks = [
            asyncio.create_task(self._writer(), name="recordings-signals"),
            asyncio.create_task(self._purger(), name="recordings-purge"),
        ]

    async def close(self) -> None:
        """Stop the purge loop and wait for the signals being written."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._signals.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drain(self) -> None:
        """Wait until every signal received so far is written (tests, shutdown)."""
        await self._signals.join()

    async def _writer(self) -> None:
        while True:
            signal = await self._signals.get()
            try:
                await self._write_signal(signal)
            finally:
                self._signals.task_done()

    async def _write_signal(self, signal: RecordingSignal) -> None:
        for attempt in range(1, SIGNAL_ATTEMPTS + 1):
            try:
                await self.on_signal(signal)
                return
            except Exception:
                if attempt == SIGNAL_ATTEMPTS:
                    log.exception("recording signal %s of %s not written", signal.kind, signal.name)
                    return
                log.warning("recording signal %s of %s: retrying", signal.kind, signal.name)
                await asyncio.sleep(0.2 * attempt)

    async def _purger(self) -> None:
        while True:
            try:
                if not self._reconciled:
                    await self._reconcile_if_reachable()
                await self.purge()
            except Exception:
                log.exception("recordings purge failed (tried again at the next interval)")
            interval = self.params.purge_interval_s
            await asyncio.sleep(interval if self._reconciled else min(interval, 60.0))

    async def _reconcile_if_reachable(self) -> None:
        """The purge does not need Asterisk: at start the AMI link is often not up yet, and
        the service reconciles the recordings itself once it connects."""
        try:
            await self.reconcile()
        except PbxError as exc:
            log.info("recordings not reconciled yet (%s): purging anyway", exc)

    async def reconcile(self) -> None:
        """After a restart or a reconnect: make the rows of legs recording now, and seal from
        their files the open rows of this instance whose legs ended while the service was
        away. Raises ``PbxError`` when Asterisk cannot be reached (nothing changed)."""
        current = await self.pbx.open_recordings()
        for signal in current:
            await self._started(signal)
        names = {s.name for s in current}
        async with self.db.session() as s:
            stale = list(
                await s.scalars(
                    select(Recording).where(
                        Recording.instance == self.params.instance,
                        Recording.seq.is_(None),
                        Recording.purged_at.is_(None),
                    )
                )
            )
        unsettled = False
        for rec in stale:
            if rec.name in names:
                continue
            path = self._path(rec.name)
            part = path.with_suffix(".part.wav")
            age = _age_s(part) if not path.exists() else None
            if age is not None:
                # The final name appears when Asterisk has closed the file (pbx.recording).
                # Not yet: it may be closing it now, seal at the next reconcile. Untouched for
                # long while Asterisk records nothing of it: Asterisk stopped before renaming
                # it (a crash), its bytes are all there will be.
                if age < STALE_PART_S:
                    unsettled = True
                    continue
                try:
                    part.rename(path)
                except OSError:
                    unsettled = True
                    continue
                log.warning("recording %s: left unfinished by Asterisk, sealed as is", rec.name)
            try:
                ended = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except OSError:
                ended = utcnow()
            await self._closed(
                RecordingSignal(
                    kind=SignalKind.CLOSED,
                    recording=RecordingKind(rec.kind),
                    ref=rec.ref,
                    uniqueid=rec.uniqueid,
                    channel=rec.channel,
                    path=str(path),
                    name=rec.name,
                    at=max(ended, rec.started_at),
                    instance=rec.instance,
                )
            )
            log.info("recording %s sealed after a restart", rec.name)
        self._reconciled = not unsettled

    # -- the PBX's signals -------------------------------------------------------------------

    async def on_signal(self, signal: RecordingSignal) -> None:
        """Write one signal: a row at STARTED, its seal at CLOSED (both idempotent)."""
        if signal.kind is SignalKind.STARTED:
            await self._started(signal)
        else:
            await self._closed(signal)

    async def _started(self, signal: RecordingSignal) -> Recording:
        async with self.db.session() as s:
            existing = await s.scalar(select(Recording).where(Recording.name == signal.name))
            if existing is not None:
                return existing
            call_uniqueid, conference_id = await self._belongs_to(s, signal)
            incident_id = None
            if signal.incident_id is not None:
                incident_id = await s.scalar(
                    select(Incident.id).where(Incident.id == signal.incident_id)
                )
            rec = Recording(
                incident_id=incident_id,
                kind=signal.recording.value,
                ref=signal.ref,
                call_uniqueid=call_uniqueid,
                conference_id=conference_id,
                uniqueid=signal.uniqueid,
                channel=signal.channel,
                name=signal.name,
                instance=signal.instance,
                started_at=signal.at,
                parties=json.dumps({"channel": signal.channel}, ensure_ascii=False),
            )
            s.add(rec)
            try:
                await s.commit()
            except IntegrityError:
                # The same STARTED twice at once (a restart's reconcile and the live signal).
                await s.rollback()
                found = await s.scalar(select(Recording).where(Recording.name == signal.name))
                if found is None:
                    raise
                return found
        self._announce(rec, None)
        return rec

    async def _belongs_to(
        self, s: AsyncSession, signal: RecordingSignal
    ) -> tuple[str | None, int | None]:
        """The citizen's call (uniqueid) and the conference a leg belongs to."""
        if signal.recording is RecordingKind.CALL:
            return signal.ref, None
        if signal.recording is RecordingKind.CALLBACK and signal.ref.isdigit():
            original = await s.scalar(
                select(Callback.call_uniqueid).where(Callback.id == int(signal.ref))
            )
            return original, None
        if signal.recording is RecordingKind.CONFERENCE and signal.ref.isdigit():
            found = await s.scalar(select(Conference.id).where(Conference.id == int(signal.ref)))
            return None, found
        return None, None

    async def _closed(self, signal: RecordingSignal) -> None:
        rec = await self._started(signal)  # a CLOSED whose STARTED was lost still gets a row
        if rec.seq is not None or rec.purged_at is not None:
            return
        path = Path(signal.path) if signal.path else self._path(signal.name)
        measured = await asyncio.to_thread(_digest, path)
        async with self._sealing:
            for _ in range(SEAL_ATTEMPTS):
                try:
                    sealed = await self._seal(rec.id, signal.at, measured)
                except IntegrityError:
                    continue  # another node took this seq: take the next one
                if sealed is not None:
                    self._announce(sealed, None)
                return
            raise RuntimeError(f"recording {signal.name}: no free seq after {SEAL_ATTEMPTS} tries")

    async def _seal(
        self, recording_id: int, ended_at: datetime, measured: tuple[str, int] | None
    ) -> Recording | None:
        async with self.db.session() as s:
            rec = await s.get(Recording, recording_id)
            if rec is None or rec.seq is not None or rec.purged_at is not None:
                return None
            rec.ended_at = max(ended_at, rec.started_at)
            rec.duration_s = (rec.ended_at - rec.started_at).total_seconds()
            open_pause = await s.scalar(
                select(RecordingPause).where(
                    RecordingPause.recording_id == rec.id, RecordingPause.resumed_at.is_(None)
                )
            )
            if open_pause is not None:
                open_pause.resumed_at = rec.ended_at
                rec.paused_s += max(0.0, (rec.ended_at - open_pause.paused_at).total_seconds())
            facts = await rstore.call_facts(s, [rec.call_uniqueid])
            fact = facts.get(rec.call_uniqueid or "")
            if fact is not None and fact.call is not None:
                call = fact.call
                rec.parties = json.dumps(
                    {
                        "channel": rec.channel,
                        "caller_number": call.caller_number,
                        "caller_name": call.caller_name,
                        "agent_endpoint": call.agent_endpoint,
                    },
                    ensure_ascii=False,
                )
            self._classify(rec, fact)
            if measured is None:
                # Nothing to digest: the file never was, or went before it was closed. The
                # row says so and stays out of the chain (there is nothing to vouch for).
                rec.purged_at = utcnow()
                rec.purge_reason = "file missing at close"
                log.error("recording %s: no file at close (%s)", rec.name, self._path(rec.name))
                await s.commit()
                return rec
            rec.sha256, rec.size_bytes = measured
            last = (
                await s.execute(
                    select(Recording.seq, Recording.chain)
                    .where(Recording.seq.is_not(None))
                    .order_by(Recording.seq.desc())
                    .limit(1)
                )
            ).first()
            rec.seq = 1 if last is None else (last[0] or 0) + 1
            rec.prev_chain = chain.GENESIS if last is None else (last[1] or chain.GENESIS)
            rec.chain = chain.link(rec.prev_chain, _facts(rec))
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                raise
            return rec

    def _classify(self, rec: Recording, fact: rstore.CallFacts | None) -> None:
        """Set ``rec``'s class and expiry from what is known now (and its incident)."""
        if rec.incident_id is None and fact is not None and fact.incident_id is not None:
            rec.incident_id = fact.incident_id
        call = fact.call if fact else None
        kept = retention.classify(
            kind=rec.kind,
            category=call.category if call else None,
            disposition=fact.disposition if fact else None,
            has_incident=rec.incident_id is not None,
            days=self.params.retention_days,
            default_days=self.params.retention_default_days,
        )
        rec.retention_class = kept.retention_class
        rec.expires_at = retention.expires_at(rec.ended_at or rec.started_at, kept.days)

    def _announce(self, rec: Recording, paused: bool | None, agent_id: int | None = None) -> None:
        """Publish a ``recording`` event to supervisors and admins, and to the call's agent
        when given (their console shows the pause)."""
        if self._publish is None:
            return
        data: dict[str, Any] = {
            "id": rec.id,
            "kind": rec.kind,
            "call_uniqueid": rec.call_uniqueid,
            "status": rstore.status_of(rec),
        }
        if paused is not None:
            data["paused"] = paused
        try:
            audience = Audience() if agent_id is None else Audience(agent_ids=frozenset({agent_id}))
            self._publish("recording", data, audience)
        except Exception:
            log.exception("recording event not published")

    def _path(self, name: str) -> Path:
        """The file of a stored name, refused if the name leads out of the directory."""
        root = self.params.root.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise RecordingNotFound("Tên tệp ghi âm không hợp lệ.")
        return path

    # -- reading -----------------------------------------------------------------------------

    async def search(
        self,
        *,
        day_from: date | None = None,
        day_to: date | None = None,
        category: str | None = None,
        number: str | None = None,
        agent_endpoint: str | None = None,
        call_id: int | None = None,
        kind: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> RecordingPage:
        """Recordings newest first. Days are Vietnam's (UTC+7), both inclusive, on
        ``started_at``; ``category``/``number``/``agent_endpoint`` are the call's (number:
        the caller's, exact or a part of it). Raises ``InvalidRequest`` for a bad range."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidRequest(f"limit phải từ 1 đến {MAX_LIMIT}.")
        if offset < 0:
            raise InvalidRequest("offset không được âm.")
        if day_from is not None and day_to is not None and day_from > day_to:
            raise InvalidRequest("Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.")
        if kind is not None and kind not in {k.value for k in RecordingKind}:
            raise InvalidRequest(f"Loại ghi âm không hợp lệ: {kind}.")
        stmt = select(Recording).outerjoin(Call, Call.uniqueid == Recording.call_uniqueid)
        if day_from is not None:
            stmt = stmt.where(Recording.started_at >= _day_start(day_from))
        if day_to is not None:
            stmt = stmt.where(Recording.started_at < _day_start(day_to + timedelta(days=1)))
        if category:
            stmt = stmt.where(Call.category == category)
        if number:
            stmt = stmt.where(Call.caller_number.contains(number.strip(), autoescape=True))
        if agent_endpoint:
            stmt = stmt.where(Call.agent_endpoint == agent_endpoint)
        if call_id is not None:
            stmt = stmt.where(Call.id == call_id)
        if kind:
            stmt = stmt.where(Recording.kind == kind)
        async with self.db.session() as s:
            total = await s.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = list(
                await s.scalars(
                    stmt.order_by(Recording.started_at.desc(), Recording.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
            return RecordingPage(items=await rstore.outs(s, rows), total=int(total or 0))

    async def get(self, recording_id: int) -> RecordingOut:
        """One recording; raises ``RecordingNotFound``."""
        async with self.db.session() as s:
            rec = await s.get(Recording, recording_id)
            if rec is None:
                raise RecordingNotFound()
            return (await rstore.outs(s, [rec]))[0]

    async def for_call(self, call_id: int) -> list[RecordingOut]:
        """The recordings of a call (its own legs and its callbacks'), oldest first; empty
        when it has none (or the call does not exist)."""
        async with self.db.session() as s:
            rows = list(
                await s.scalars(
                    select(Recording)
                    .join(Call, Call.uniqueid == Recording.call_uniqueid)
                    .where(Call.id == call_id)
                    .order_by(Recording.started_at, Recording.id)
                )
            )
            return await rstore.outs(s, rows)

    async def open_audio(
        self, recording_id: int, *, user_id: int | None, user_name: str
    ) -> AudioFile:
        """The sealed file to play; audits ``listen`` (target ``recording:<id>``). Raises
        ``RecordingNotFound``, ``RecordingPurged``, ``RecordingNotReady`` (still recording),
        ``RecordingNotFound`` also when the file has vanished (verify names it)."""
        async with self.db.session() as s:
            rec = await s.get(Recording, recording_id)
            if rec is None:
                raise RecordingNotFound()
            if rec.purged_at is not None:
                raise RecordingPurged()
            if rec.seq is None:
                raise RecordingNotReady()
            path = self._path(rec.name)
            try:
                size = path.stat().st_size
            except OSError:
                log.error("recording %d: its file %s is missing", rec.id, path)
                raise RecordingNotFound(
                    "Tệp ghi âm không còn trên đĩa; hãy kiểm tra chuỗi ghi âm (verify)."
                ) from None
            await audit.record(
                s,
                action="listen",
                target=audit.target_of("recording", rec.id),
                user_id=user_id,
                user_name=user_name,
                detail={"call_uniqueid": rec.call_uniqueid, "name": rec.name, "seq": rec.seq},
            )
            await s.commit()
        return AudioFile(path=path, size=size)

    async def listens(self, recording_id: int, *, limit: int = 200) -> list[ListenOut]:
        """Who listened to a recording and when (its ``listen`` entries in the audit log),
        newest first, at most ``limit``. Raises ``RecordingNotFound``."""
        async with self.db.session() as s:
            if await s.get(Recording, recording_id) is None:
                raise RecordingNotFound()
            rows = await s.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.target == audit.target_of("recording", recording_id),
                    AuditEntry.action == "listen",
                )
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
            return [ListenOut(at=e.at, user_id=e.user_id, user_name=e.user_name) for e in rows]

    # -- the chain ---------------------------------------------------------------------------

    async def verify(self, recording_id: int | None = None) -> VerifyReport:
        """The whole chain (every sealed recording, in seq order), or one recording: its
        file's digest and its link to the previous one. Raises ``RecordingNotFound``."""
        if recording_id is None:
            return await self._verify_all()
        start_prev = chain.GENESIS
        async with self.db.session() as s:
            rec = await s.get(Recording, recording_id)
            if rec is None:
                raise RecordingNotFound()
            if rec.seq is None:
                if rec.purged_at is not None:
                    return VerifyReport(
                        ok=False,
                        checked=1,
                        purged=1,
                        problems=[Problem(None, rec.id, "không có tệp khi kết thúc ghi âm")],
                    )
                raise RecordingNotReady()
            rows = [rec]
            if rec.seq > 1:
                prev = await s.scalar(select(Recording.chain).where(Recording.seq == rec.seq - 1))
                if prev is None:
                    return _with_problem(
                        await self._verify_rows(rows, None),
                        Problem(rec.seq, rec.id, f"thiếu bản ghi: số thứ tự {rec.seq - 1}"),
                    )
                start_prev = prev
        return await self._verify_rows(rows, start_prev)

    async def _verify_all(self) -> VerifyReport:
        """The whole chain, ``VERIFY_BATCH`` rows at a time (years of recordings need not
        fit in memory), each part from where the one before ended."""
        checked = purged = 0
        problems: list[Problem] = []
        prev, last_seq = chain.GENESIS, 0
        while True:
            async with self.db.session() as s:
                rows = list(
                    await s.scalars(
                        select(Recording)
                        .where(Recording.seq > last_seq)
                        .order_by(Recording.seq)
                        .limit(VERIFY_BATCH)
                    )
                )
            if not rows:
                break
            part = await self._verify_rows(rows, prev, first_seq=last_seq + 1)
            checked += part.checked
            purged += part.purged
            problems.extend(part.problems)
            prev, last_seq = rows[-1].chain or prev, rows[-1].seq or last_seq
        async with self.db.session() as s:
            anchored = await _last_anchor(s)
            if anchored is not None:
                seq, want = anchored.get("seq"), anchored.get("chain")
                found = None
                if isinstance(seq, int):
                    found = await s.scalar(select(Recording.chain).where(Recording.seq == seq))
                if found is None or found != want:
                    problems.append(
                        Problem(
                            seq if isinstance(seq, int) else None,
                            None,
                            f"đầu chuỗi đã ghi nhận (số thứ tự {seq}) không còn khớp: "
                            "các bản ghi cuối chuỗi đã bị xoá hoặc sửa",
                        )
                    )
        return VerifyReport(ok=not problems, checked=checked, purged=purged, problems=problems)

    async def _verify_rows(
        self, rows: Sequence[Recording], start_prev: str | None, first_seq: int | None = None
    ) -> VerifyReport:
        facts = [_facts(r) for r in rows]
        paths = {r.id: self._path(r.name) for r in rows}

        def digest(f: SealedFacts) -> str | None:
            got = _digest(paths[f.recording_id])
            return None if got is None else got[0]

        if start_prev is None:
            # The previous link is gone: check the file and the row's own link from its stored
            # prev_chain, the gap is reported by the caller.
            start_prev = facts[0].prev_chain or chain.GENESIS
        return await asyncio.to_thread(
            chain.verify, facts, digest, start_prev=start_prev, first_seq=first_seq
        )

    # -- pausing a call's recording ----------------------------------------------------------

    async def pause(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        """Pause the open recording of the call (silence until resume), stored in
        ``recording_pauses`` and audited. Raises ``RecordingNotFound`` (no open recording),
        ``RecordingConflict`` (already paused), ``PbxDown``."""
        return await self._pause_or_resume(call_uniqueid, True, user_id, user_name)

    async def resume(self, call_uniqueid: str, *, user_id: int | None, user_name: str) -> PauseOut:
        """Resume it. Raises ``RecordingNotFound``, ``RecordingConflict`` (not paused),
        ``PbxDown``."""
        return await self._pause_or_resume(call_uniqueid, False, user_id, user_name)

    async def paused_since(self, call_uniqueids: Iterable[str]) -> dict[str, datetime]:
        """Of these calls, those whose open recording is paused now, and since when (an
        agent's console after a reload)."""
        uids = set(call_uniqueids)
        if not uids:
            return {}
        async with self.db.session() as s:
            rows = await s.execute(
                select(Recording.call_uniqueid, RecordingPause.paused_at)
                .join(RecordingPause, RecordingPause.recording_id == Recording.id)
                .where(
                    Recording.call_uniqueid.in_(uids),
                    Recording.seq.is_(None),
                    RecordingPause.resumed_at.is_(None),
                )
            )
            return {uid: at for uid, at in rows.all() if uid is not None}

    async def _pause_or_resume(
        self, call_uniqueid: str, pause: bool, user_id: int | None, user_name: str
    ) -> PauseOut:
        action = "recording_pause" if pause else "recording_resume"
        async with self._pausing, self.db.session() as s:
            rec = await s.scalar(
                select(Recording)
                .where(
                    Recording.call_uniqueid == call_uniqueid,
                    Recording.seq.is_(None),
                    Recording.purged_at.is_(None),
                    Recording.kind.in_([RecordingKind.CALL.value, RecordingKind.CALLBACK.value]),
                )
                .order_by(Recording.started_at.desc(), Recording.id.desc())
                .limit(1)
            )
            if rec is None:
                raise RecordingNotFound("Cuộc gọi này không có bản ghi âm đang ghi.")
            open_pause = await s.scalar(
                select(RecordingPause).where(
                    RecordingPause.recording_id == rec.id, RecordingPause.resumed_at.is_(None)
                )
            )
            if pause and open_pause is not None:
                raise RecordingConflict("Ghi âm đã đang tạm dừng.")
            if not pause and open_pause is None:
                raise RecordingConflict("Ghi âm không ở trạng thái tạm dừng.")
            started = asyncio.get_running_loop().time()
            try:
                if pause:
                    await self.pbx.pause(rec.channel)
                else:
                    await self.pbx.resume(rec.channel)
            except LookupError:
                raise RecordingNotFound("Cuộc gọi này không còn được ghi âm.") from None
            except PbxError as exc:
                log.warning("recording %d: %s failed: %s", rec.id, action, exc)
                raise PbxDown() from exc
            latency_ms = (asyncio.get_running_loop().time() - started) * 1000
            at = utcnow()
            if pause:
                s.add(
                    RecordingPause(
                        recording_id=rec.id, paused_at=at, by_user_id=user_id, by_name=user_name
                    )
                )
            else:
                assert open_pause is not None
                open_pause.resumed_at = at
                rec.paused_s += max(0.0, (at - open_pause.paused_at).total_seconds())
            await audit.record(
                s,
                action=action,
                target=audit.target_of("recording", rec.id),
                user_id=user_id,
                user_name=user_name,
                detail={"call_uniqueid": call_uniqueid, "channel": rec.channel},
                latency_ms=latency_ms,
                at=at,
            )
            agent_id = await s.scalar(select(Call.agent_id).where(Call.uniqueid == call_uniqueid))
            await s.commit()
        self._announce(rec, pause, agent_id)
        return PauseOut(recording_id=rec.id, paused=pause, at=at)

    # -- legal holds -------------------------------------------------------------------------

    async def hold(
        self,
        *,
        call_id: int | None,
        incident_id: int | None,
        reason: str,
        user_id: int | None,
        user_name: str,
    ) -> HoldOut:
        """Keep the recordings of a call, or of an incident (its calls), whatever their
        retention, until released. Exactly one of ``call_id``/``incident_id``; audited.
        Raises ``InvalidRequest`` (neither or both, empty reason, no such call/incident)."""
        if (call_id is None) == (incident_id is None):
            raise InvalidRequest("Cần chỉ rõ đúng một trong hai: cuộc gọi hoặc sự vụ.")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidRequest("Cần ghi lý do giữ lưu trữ.")
        if len(reason) > 1000:
            raise InvalidRequest("Lý do quá dài (tối đa 1000 ký tự).")
        async with self.db.session() as s:
            if call_id is not None and await s.get(Call, call_id) is None:
                raise InvalidRequest(f"Không có cuộc gọi số {call_id}.")
            if incident_id is not None and await s.get(Incident, incident_id) is None:
                raise InvalidRequest(f"Không có sự vụ số {incident_id}.")
            hold = LegalHold(
                call_id=call_id,
                incident_id=incident_id,
                reason=reason,
                created_by=user_name,
                created_at=utcnow(),
            )
            s.add(hold)
            await s.flush()
            await audit.record(
                s,
                action="legal_hold",
                target=audit.target_of("legal_hold", hold.id),
                user_id=user_id,
                user_name=user_name,
                detail={"call_id": call_id, "incident_id": incident_id, "reason": reason},
            )
            await s.commit()
            return rstore.hold_out(hold)

    async def release(self, hold_id: int, *, user_id: int | None, user_name: str) -> HoldOut:
        """End a hold (the row stays, with who and when); audited. Raises ``HoldNotFound``,
        ``RecordingConflict`` (already released)."""
        async with self.db.session() as s:
            hold = await s.get(LegalHold, hold_id)
            if hold is None:
                raise HoldNotFound()
            if hold.released_at is not None:
                raise RecordingConflict("Lệnh giữ lưu trữ này đã được gỡ.")
            hold.released_at = utcnow()
            hold.released_by = user_name
            await audit.record(
                s,
                action="legal_hold_release",
                target=audit.target_of("legal_hold", hold.id),
                user_id=user_id,
                user_name=user_name,
                detail={"call_id": hold.call_id, "incident_id": hold.incident_id},
            )
            await s.commit()
            return rstore.hold_out(hold)

    async def holds(self, *, active_only: bool = True) -> list[HoldOut]:
        """The holds, newest first."""
        stmt = select(LegalHold).order_by(LegalHold.created_at.desc(), LegalHold.id.desc())
        if active_only:
            stmt = stmt.where(LegalHold.released_at.is_(None))
        async with self.db.session() as s:
            return [rstore.hold_out(h) for h in await s.scalars(stmt)]

    # -- retention ---------------------------------------------------------------------------

    async def purge(self, now: datetime | None = None, *, dry_run: bool = False) -> PurgeReport:
        """Delete the files expired at ``now`` that no hold keeps (a hold on the call, or on
        an incident that came of the call or recording), mark their rows purged ("expired
        <class>"), audit one ``purge`` entry. The chain still verifies after.

        ``dry_run``: change nothing, say what would be removed (``freed_bytes`` from the
        stored sizes)."""
        now = now or utcnow()
        removed: list[int] = []
        kept: list[int] = []
        freed = 0
        classes: dict[str, int] = {}
        if not dry_run:
            await self._reclassify_recent(utcnow())
        after_id = 0
        while True:
            async with self.db.session() as s:
                batch = list(
                    await s.scalars(
                        select(Recording)
                        .where(
                            Recording.seq.is_not(None),
                            Recording.purged_at.is_(None),
                            Recording.expires_at <= now,
                            Recording.id > after_id,
                        )
                        .order_by(Recording.id)
                        .limit(PURGE_BATCH)
                    )
                )
                if not batch:
                    break
                after_id = batch[-1].id
                facts = await rstore.call_facts(s, (r.call_uniqueid for r in batch))
                due = []
                for rec in batch:
                    # The outcome may have come after the seal: classify with what is known now.
                    self._classify(rec, facts.get(rec.call_uniqueid or ""))
                    if rec.expires_at is not None and rec.expires_at <= now:
                        due.append(rec)
                held = await rstore.held_ids(s, due)
                gone = []
                for rec in due:
                    if rec.id in held:
                        kept.append(rec.id)
                        continue
                    if dry_run:
                        removed.append(rec.id)
                        freed += rec.size_bytes or 0
                        continue
                    rec.purged_at = now
                    rec.purge_reason = f"expired {rec.retention_class}"
                    classes[rec.retention_class or ""] = (
                        classes.get(rec.retention_class or "", 0) + 1
                    )
                    gone.append(rec)
                if dry_run:
                    continue  # the session's end rolls the new classes back
                await s.commit()
            # The rows say purged before the files go: a failure in between leaves a file too
            # many (logged), never a kept row without its file.
            for rec in gone:
                freed += await asyncio.to_thread(_unlink, self._path(rec.name))
                removed.append(rec.id)
        if (removed or kept) and not dry_run:
            async with self.db.session() as s:
                await audit.record(
                    s,
                    action="purge",
                    target="recordings",
                    user_name="system",
                    detail={
                        "removed": removed,
                        "kept_on_hold": kept,
                        "freed_bytes": freed,
                        "classes": classes,
                        "now": now.isoformat(),
                    },
                )
                await s.commit()
            log.info(
                "recordings purge: %d removed (%d bytes), %d kept on hold",
                len(removed),
                freed,
                len(kept),
            )
        if not dry_run:
            await self._anchor()
        return PurgeReport(removed=removed, kept_on_hold=kept, freed_bytes=freed)

    async def _anchor(self) -> None:
        """Write the chain's head (last seq and chain) to the audit log when it moved: the
        chain alone cannot show that its last rows were deleted, the head written here can
        (``verify``)."""
        async with self.db.session() as s:
            head = (
                await s.execute(
                    select(Recording.seq, Recording.chain)
                    .where(Recording.seq.is_not(None))
                    .order_by(Recording.seq.desc())
                    .limit(1)
                )
            ).first()
            if head is None:
                return
            last = await _last_anchor(s)
            if last is not None and last.get("seq") == head[0] and last.get("chain") == head[1]:
                return
            await audit.record(
                s,
                action=ANCHOR_ACTION,
                target="recordings",
                user_name="system",
                detail={"seq": head[0], "chain": head[1]},
            )
            await s.commit()

    async def _reclassify_recent(self, now: datetime) -> None:
        async with self.db.session() as s:
            recent = list(
                await s.scalars(
                    select(Recording).where(
                        Recording.seq.is_not(None),
                        Recording.purged_at.is_(None),
                        Recording.ended_at >= now - RECLASSIFY_WINDOW,
                    )
                )
            )
            if not recent:
                return
            facts = await rstore.call_facts(s, (r.call_uniqueid for r in recent))
            for rec in recent:
                self._classify(rec, facts.get(rec.call_uniqueid or ""))
            await s.commit()

    async def usage(self) -> Usage:
        """The files kept (not purged), their bytes, the oldest, and the disk's room."""
        kept = Recording.purged_at.is_(None)
        async with self.db.session() as s:
            files = await s.scalar(select(func.count(Recording.id)).where(kept))
            size = await s.scalar(
                select(func.coalesce(func.sum(Recording.size_bytes), 0)).where(kept)
            )
            oldest = await s.scalar(select(func.min(Recording.started_at)).where(kept))
        disk = await asyncio.to_thread(_disk_usage, self.params.root)
        return Usage(
            files=int(files or 0),
            bytes=int(size or 0),
            oldest_started_at=oldest,
            disk_free_bytes=disk.free,
            disk_total_bytes=disk.total,
        )


async def _last_anchor(s: AsyncSession) -> dict[str, Any] | None:
    entry = await s.scalar(
        select(AuditEntry)
        .where(AuditEntry.target == "recordings", AuditEntry.action == ANCHOR_ACTION)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if entry is None:
        return None
    try:
        detail = json.loads(entry.detail)
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), VIETNAM).astimezone(UTC)


def _facts(rec: Recording) -> SealedFacts:
    assert rec.seq is not None and rec.sha256 is not None and rec.size_bytes is not None
    return SealedFacts(
        recording_id=rec.id,
        seq=rec.seq,
        kind=rec.kind,
        ref=rec.ref,
        name=rec.name,
        started_at=rec.started_at,
        ended_at=rec.ended_at or rec.started_at,
        size_bytes=rec.size_bytes,
        sha256=rec.sha256,
        prev_chain=rec.prev_chain,
        chain=rec.chain,
        purged=rec.purged_at is not None,
    )


def _with_problem(report: VerifyReport, problem: Problem) -> VerifyReport:
    return VerifyReport(
        ok=False,
        checked=report.checked,
        purged=report.purged,
        problems=[problem, *report.problems],
    )


def _digest(path: Path) -> tuple[str, int] | None:
    """SHA-256 (hex) and size of a file, or None when it is not there."""
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(READ_CHUNK):
                h.update(chunk)
                size += len(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    return h.hexdigest(), size


def _age_s(path: Path) -> float | None:
    """Seconds since the file was last written, or None when it is not there."""
    try:
        return time_.time() - path.stat().st_mtime
    except OSError:
        return None


def _unlink(path: Path) -> int:
    """Remove a file; the bytes freed (0 when it was already gone)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    except OSError:
        log.exception("recording file %s not removed", path)
        return 0
    return size


def _disk_usage(root: Path) -> Any:
    where = root
    while not where.exists() and where != where.parent:
        where = where.parent
    return shutil.disk_usage(where)
