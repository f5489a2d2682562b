"""Calling a running conference's points and following the PBX's signals into their state.

Each running conference has one dialling task (``Dialler.begin``): it dials the queued points
at the pacer's rate (leaders first, a team's other phones on a retry), takes a call with no
news long after its ring time as lost, and survives Asterisk being away (``PbxUnavailable``:
the point waits and the task tries again). ``Dialler.on_signal`` moves a point at once and
never blocks; when the first leader joins on the root node, the other nodes' bridges are
linked to it. Apart from the controls and the service: this is the part that runs by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from conference.errors import ConferenceConflict, PbxDown
from conference.pacing import next_phone, should_retry
from conference.params import ConferenceParams
from conference.ports import ConferencePbx
from conference.roll import PointState, advance
from conference.running import RINGING, Live, Point, Running
from pbx.conference_signals import PointSignal, SignalKind
from pbx.errors import PbxUnavailable
from store.types import utcnow

__all__ = ["Dialler", "title_prompt", "title_text"]

log = logging.getLogger("conference.service")

# Signals that say the call reached no one (the retry decides).
_FAILURES = (SignalKind.BUSY, SignalKind.NO_ANSWER, SignalKind.FAILED)


def title_text(title: str) -> str:
    """What an answered point hears first."""
    return f"Hội nghị chỉ huy: {title}"


def title_prompt(conference_id: int) -> str:
    return f"conf-title-{conference_id}"


class Dialler:
    """The dialling tasks of the running conferences in ``live``, and the PBX's signals.

    ``record`` starts a conference's recording when its first leader joins (it is a control:
    audited like one), given by whoever composes the dialler with the controls."""

    def __init__(
        self,
        pbx: ConferencePbx,
        params: ConferenceParams,
        live: Live,
        *,
        record: Callable[[Running], Awaitable[object]],
        clock: Callable[[], float],
    ) -> None:
        self.pbx = pbx
        self.params = params
        self.live = live
        self._record = record
        self._clock = clock

    # -- the task ------------------------------------------------------------------------------

    def begin(self, run: Running) -> None:
        """Start the conference's dialling task."""
        run.task = asyncio.create_task(self._dial_loop(run), name=f"conference-{run.id}")

    async def stop(self, run: Running) -> None:
        if run.task is not None:
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task

    async def _dial_loop(self, run: Running) -> None:
        while True:
            now = self._clock()
            self._find_lost(run, now)
            queued = [pid for pid in run.order if run.points[pid].state == PointState.QUEUED]
            in_flight = sum(1 for p in run.points.values() if p.state in RINGING)
            timeout = 1.0
            if queued:
                n = run.pacer.take(now, in_flight)
                try:
                    for pid in queued[:n]:
                        await self._dial(run, run.points[pid])
                except PbxUnavailable:
                    log.warning(
                        "conference %d: Asterisk unreachable, dialling again in %.0f s",
                        run.id,
                        self.params.pbx_retry_s,
                    )
                    await asyncio.sleep(self.params.pbx_retry_s)
                    continue
                if len(queued) > n:
                    if in_flight + n >= self.params.max_in_flight:
                        timeout = 1.0  # a call ending (a signal) wakes the loop sooner
                    else:
                        timeout = max(0.001, run.pacer.next_at(self._clock()) - self._clock())
            run.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(run.wake.wait(), timeout)

    async def _dial(self, run: Running, p: Point) -> None:
        attempt = p.attempts + 1
        phones = (run.phones.get(p.team_id) if p.team_id is not None else None) or [
            (p.endpoint, p.number)
        ]
        phones = [ph for ph in phones if ph[0] or ph[1]]
        if not phones:
            self.live.set(run, p, PointState.FAILED, "no_phone")
            return
        index = next_phone(attempt, len(phones))
        endpoint, number = phones[index]
        p.attempts, p.phone_index, p.channel = attempt, index, None
        p.dialled_at = self._clock()
        self.live.set(run, p, PointState.DIALLING, endpoint or number or "")
        try:
            await self.pbx.dial_point(
                p.node,
                conference_id=run.id,
                point_id=p.id,
                attempt=attempt,
                dial=self.pbx.dial_string(endpoint=endpoint, number=number),
                title_prompt="" if run.id in self.live.untitled else title_prompt(run.id),
                ring_s=self.params.ring_s,
                leader=p.is_leader,
            )
        except PbxUnavailable:
            # Not an attempt: the call was never placed. It waits for Asterisk.
            p.attempts, p.dialled_at = attempt - 1, None
            self.live.set(run, p, PointState.QUEUED, "pbx_unavailable")
            raise
        except Exception as exc:
            log.exception("conference %d: point %d not dialled", run.id, p.id)
            self._call_failed(run, p, SignalKind.FAILED, str(exc) or "failed")

    def _find_lost(self, run: Running, now: float) -> None:
        """A call with no news long after it should have rung out, or been asked twice to
        press 1: its events were lost (or went to a process that is gone). A ringing one
        counts as unanswered (and is retried), an answered one as absent."""
        limit = self.params.ring_s + self.params.lost_after_s
        for p in run.points.values():
            if p.dialled_at is None or now - p.dialled_at <= limit:
                continue
            if p.state in RINGING:
                self._call_failed(run, p, SignalKind.NO_ANSWER, "no_signal")
            elif p.state == PointState.ANSWERED:
                p.dialled_at = None
                self.live.set(run, p, PointState.ABSENT, "no_signal")
                run.wake.set()

    def _call_failed(self, run: Running, p: Point, kind: SignalKind, reason: str) -> None:
        p.dialled_at = None
        if should_retry(p.attempts - p.budget_from, self.params.max_attempts, kind):
            self.live.set(run, p, PointState.QUEUED, f"retry:{reason}")
            run.wake.set()
        else:
            self.live.set(run, p, PointState.FAILED, reason)

    # -- the PBX's signals ---------------------------------------------------------------------

    def on_signal(self, sig: PointSignal) -> None:
        """One signal (never blocks; the changes are written by ``Live.flush``)."""
        live = self.live
        run = live.running.get(sig.conference_id)
        if run is None:
            if (
                sig.conference_id in live.ended
                and sig.channel
                and sig.kind
                in (
                    SignalKind.ANSWERED,
                    SignalKind.PRESENT,
                    SignalKind.JOINED,
                )
            ):
                # A call placed before the end answered after it: it has no bridge to join.
                live.spawn(self._hangup_quietly(sig.node, sig.channel))
            return
        if sig.point_id is None:
            if sig.kind in (SignalKind.LINK_UP, SignalKind.LINK_DOWN):
                live.event(run.id, None, "node", sig.kind.value, sig.node)
            return
        p = run.points.get(sig.point_id)
        if p is None or (sig.attempt and sig.attempt != p.attempts):
            return  # not ours, or an earlier attempt's late news
        kind = sig.kind
        if sig.channel and kind not in _FAILURES and kind != SignalKind.HUNG_UP:
            p.channel = sig.channel
        if kind in (SignalKind.MUTED, SignalKind.UNMUTED):
            p.muted = kind == SignalKind.MUTED
        elif kind in (SignalKind.TALKING, SignalKind.SILENT):
            p.talking = kind == SignalKind.TALKING
        elif kind == SignalKind.HAND:
            p.hand_at = utcnow()
            live.event(run.id, p.id, "hand", p.state)
        else:
            self._advance(run, p, sig)
            return
        live.touch(run.id, p.id)

    def _advance(self, run: Running, p: Point, sig: PointSignal) -> None:
        new = advance(p.state, sig.kind)
        if new is None:
            return
        if new == PointState.FAILED:
            # The point's reason is one word the pages know (busy, no_answer, failed);
            # Asterisk's own (a DialStatus, an Originate's reason) goes to the log.
            log.info(
                "conference %d: point %d attempt %d %s (%s)",
                run.id,
                p.id,
                sig.attempt,
                sig.kind.value,
                sig.reason,
            )
            self._call_failed(run, p, sig.kind, sig.kind.value)
            return
        reason = sig.reason
        if sig.kind == SignalKind.HUNG_UP:
            reason = reason or "hung_up"
        if new == PointState.LEFT and p.reason == "kicked":
            reason = "kicked"  # what the commander did says more than the channel's cause
        # Waiting for news: while it rings, and while it is asked to press 1.
        if new == PointState.ANSWERED:
            p.dialled_at = self._clock()
        elif new not in RINGING:
            p.dialled_at = None
        if new == PointState.JOINED:
            p.joined_at = utcnow()
            p.muted = not p.is_leader
            if p.is_leader and p.node == self.pbx.root and not run.linked:
                run.linked = True
                self.live.spawn(self._leader_joined(run))
        elif new in (PointState.LEFT, PointState.ABSENT):
            if new == PointState.LEFT:
                p.left_at = utcnow()
            p.talking = False
            p.channel = None
            if run.floor == p.id:
                run.floor = None
                self.live.spawn(self.live.save_conference(run.id, floor_point_id=None))
        self.live.set(run, p, new, reason)
        run.wake.set()

    # -- linking the nodes ---------------------------------------------------------------------

    async def _leader_joined(self, run: Running) -> None:
        """The first leader is on the root: join the other nodes' bridges to it (each tried
        until it works or the conference ends), and start recording if asked."""
        if run.record and not run.recording:
            try:
                await self._record(run)
            except (PbxDown, ConferenceConflict) as exc:
                log.warning("conference %d: recording not started: %s", run.id, exc)
        others = [n for n in run.nodes if n != self.pbx.root]
        await asyncio.gather(*(self._link(run, node) for node in others))

    async def _link(self, run: Running, node: str) -> None:
        while run.id in self.live.running:
            try:
                await self.pbx.link_node(node, run.id)
                self.live.event(run.id, None, "node", "link", node)
                return
            except PbxUnavailable:
                log.warning("conference %d: node %s unreachable, linking again soon", run.id, node)
                await asyncio.sleep(self.params.pbx_retry_s)

    async def _hangup_quietly(self, node: str, channel: str) -> None:
        with contextlib.suppress(Exception):
            await self.pbx.hangup(node, channel)
