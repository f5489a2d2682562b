"""Call recordings and listening in over AMI: ``AmiRecordingPbx`` and ``AmiSpyPbx``.

``AmiRecordingPbx`` satisfies ``recordings.ports.RecordingPbx``. The dialplan records every
answered leg (``asterisk-conf/extensions.conf.j2``, context ``hotline-record``): MixMonitor
writes ``<recordings dir>/<calls|callbacks|dispatch>/YYYY/MM/DD/<uniqueid>.part.wav`` and
announces it with ``UserEvent(HotlineRecording, Kind, Ref, File)``, ``File`` being the final
name relative to the recordings directory.

When is the file closed? MixMonitor's ``MixMonitorStop`` event is raised only by
``StopMixMonitor`` (``stop_mixmonitor_full`` in apps/app_mixmonitor.c), not when the channel
hangs up. On a hangup the mixmonitor thread leaves its loop, ``mixmonitor_ds_close_fs``
closes the stream (``ast_closestream``: format_wav writes the header's sizes and closes the
file) and only then runs the post-process command. Ours renames ``X.part.wav`` to ``X.wav``
(one ``rename(2)``, atomic), so the final name exists only once the bytes are final. After the
channel's ``Hangup`` (or a ``MixMonitorStop``) this class waits for that name, and reports
``CLOSED`` with the file's modification time (the close). A digest taken then is of the
complete file.

A command conference's recording (``pbx.conference``: a listener leg that ``Record()``s the
root bridge into ``conferences/<name>.wav``) is announced the same way, Kind ``conference``
and Ref the conference id. ``Record()`` closes its file before it returns (apps/app_record.c),
hence before its channel's ``Hangup``: there is no part file, the Hangup alone means final.

=============================================  =============================================
AMI                                            signal / action
=============================================  =============================================
UserEvent HotlineRecording                     STARTED (``path`` on this machine, ``name``)
Hangup / MixMonitorStop of a recorded channel  … then the renamed file: CLOSED
``pause`` / ``resume``                         MixMonitorMute Direction both, State 1 / 0
``open_recordings``                            CoreShowChannels, then Getvar HOTLINE_REC
=============================================  =============================================

``AmiSpyPbx`` satisfies ``coaching.ports.SpyPbx``: it rings a supervisor's phone (``sup01``…)
into the context ``hotline-spy`` at the mode's extension (``listen``, ``whisper``,
``barge``) where ``ChanSpy(<agent's channel>,qEX…)`` runs; keys 4/5/6 on the phone, or
``change_mode`` (an AMI ``Redirect`` to the other extension), change the mode. Because each
mode is its own ``ChanSpy`` call, ``CoreShowChannels`` always shows the mode in force in its
ApplicationData: ``sessions()`` reads it there.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from pbx.ami import AmiLink
from pbx.errors import AmiActionError, AmiActionTimeout, AmiNotConnected, PbxError, PbxUnavailable
from pbx.events import (
    AmiEvent,
    Hangup,
    MixMonitorStop,
    Newchannel,
    OriginateResponse,
    UserEvent,
    event_names,
)
from pbx.paths import AsteriskPaths
from pbx.recording_signals import (
    RecordingKind,
    RecordingSignal,
    SignalKind,
    SpyMode,
    SpySession,
)

__all__ = [
    "CLOSE_WAIT_S",
    "SPY_CONTEXT",
    "AmiRecordingPbx",
    "AmiSpyPbx",
    "SpyPhoneUnreachable",
    "finish_abandoned_wav",
    "spy_mode_of",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")

# How long after a recorded channel's end its file may take to be renamed. MixMonitor's
# thread closes it once the channel is destroyed, normally within a second; a loaded
# Asterisk may take longer. After this the recording is reported in the log, still open.
CLOSE_WAIT_S = 600.0
_POLL_FIRST_S = 0.05
_POLL_MAX_S = 1.0
_KIND_DIRS = {
    RecordingKind.CALL: "calls",
    RecordingKind.CALLBACK: "callbacks",
    RecordingKind.DISPATCH: "dispatch",
    RecordingKind.CONFERENCE: "conferences",
}
# What the dialplan writes: <dir>/YYYY/MM/DD/<uniqueid>.wav (uniqueid: digits and dots), and
# for a conference conferences/<name>.wav (pbx/conference.py start_record names it).
_INCIDENT = re.compile(r"[0-9]{1,12}")  # a dispatch order's incident id (ASCII digits)
_NAME = re.compile(
    r"((calls|callbacks|dispatch)/\d{4}/\d{2}/\d{2}|conferences)/[0-9A-Za-z_][0-9A-Za-z_.-]*\.wav"
)
# AMI field values go on one line each.
_FIELD = re.compile(r"[^\r\n]{1,200}")
_PHONE = re.compile(r"[A-Za-z0-9_-]{1,40}")
SPY_CONTEXT = "hotline-spy"
SPY_CALLER_ID = '"Hotline 1022" <1022>'
# Asterisk's answers for a channel that is not there (or records nothing).
_GONE = (
    "no such channel",
    "does not exist",
    "cannot set mute flag",
    "channel not specified",
)


class SpyPhoneUnreachable(PbxError):
    """The supervisor's phone could not be called (not registered, unknown endpoint)."""


def spy_mode_of(options: str) -> SpyMode:
    """The mode of ChanSpy's options: ``B`` barge, ``w`` whisper, else listen."""
    if "B" in options:
        return SpyMode.BARGE
    if "w" in options:
        return SpyMode.WHISPER
    return SpyMode.LISTEN


def _event_time(ev: AmiEvent) -> float:
    """Asterisk's own time of the event (``Timestamp``, manager.conf timestampevents), else
    when the link received it."""
    try:
        return float(ev.get("Timestamp"))
    except ValueError:
        return ev.received_at


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _field(value: str, what: str) -> str:
    if not _FIELD.fullmatch(value):
        raise ValueError(f"bad {what} {value!r}")
    return value


async def _unavailable(call: Awaitable[_T]) -> _T:
    """Await ``call``, reporting a down or silent Asterisk as ``PbxUnavailable``."""
    try:
        return await call
    except (AmiNotConnected, AmiActionTimeout) as exc:
        raise PbxUnavailable(str(exc)) from exc


def _gone(exc: AmiActionError) -> bool:
    message = exc.message.lower()
    return any(text in message for text in _GONE)


def _event_name(reply: dict[str, str]) -> str:
    for key, value in reply.items():
        if key.lower() == "event":
            return value.lower()
    return ""


def _get(reply: dict[str, str], key: str) -> str:
    for k, value in reply.items():
        if k.lower() == key.lower():
            return value
    return ""


async def _channels(link: AmiLink) -> list[dict[str, str]]:
    replies = await _unavailable(link.action("CoreShowChannels", {}, as_list=True))
    return [r for r in replies[1:] if _event_name(r) == "coreshowchannel"]


@dataclass
class _Open:
    """A recording in progress: its STARTED signal, and whether its end is awaited."""

    started: RecordingSignal
    waiting: bool = False


class AmiRecordingPbx:
    """``recordings.ports.RecordingPbx`` over one ``AmiLink`` (see the module docstring).

    ``paths`` is the Asterisk instance's (its ``recordings_dir`` as Asterisk sees it, and
    where that lies on this machine). The link is started and closed by whoever made it;
    ``close()`` stops this class's waits.
    """

    def __init__(
        self,
        link: AmiLink,
        paths: AsteriskPaths,
        *,
        instance: str | None = None,
        close_wait_s: float = CLOSE_WAIT_S,
    ) -> None:
        self._link = link
        self._paths = paths
        self._instance = instance or paths.name
        self._close_wait_s = close_wait_s
        self._callbacks: list[Callable[[RecordingSignal], None]] = []
        self._open: dict[str, _Open] = {}  # name -> recording in progress
        self._by_uniqueid: dict[str, set[str]] = {}  # uniqueid -> names
        self._tasks: set[asyncio.Task[None]] = set()
        link.add_listener(self._on_event, events=event_names(UserEvent, Hangup, MixMonitorStop))
        link.add_connect_callback(self._reconnected)

    # -- the port ------------------------------------------------------------------------------

    def listen(self, callback: Callable[[RecordingSignal], None]) -> None:
        self._callbacks.append(callback)

    async def pause(self, channel: str) -> None:
        await self._mute(channel, True)

    async def resume(self, channel: str) -> None:
        await self._mute(channel, False)

    async def open_recordings(self) -> list[RecordingSignal]:
        """The legs recording now: every channel whose ``HOTLINE_REC`` (set by the dialplan
        with its MixMonitor) is set. Each is followed from then on: its ``CLOSED`` comes as
        for any other (a channel that ended between the two AMI calls is found by its
        renamed file)."""
        channels = await _channels(self._link)
        gate = asyncio.Semaphore(16)

        async def rec_of(row: dict[str, str]) -> RecordingSignal | None:
            channel = _get(row, "Channel")
            async with gate:
                try:
                    replies = await _unavailable(
                        self._link.action("Getvar", {"Channel": channel, "Variable": "HOTLINE_REC"})
                    )
                except AmiActionError:
                    return None  # gone meanwhile
            value = _get(replies[0], "Value") if replies else ""
            kind, _, rest = value.partition(":")
            ref, _, name = rest.rpartition(":")
            if not value or not ref:
                return None
            return self._make(
                SignalKind.STARTED,
                recording=kind,
                ref=ref,
                name=name,
                uniqueid=_get(row, "Uniqueid"),
                channel=channel,
                at=time.time() - _duration_s(_get(row, "Duration")),
            )

        found = [s for s in await asyncio.gather(*(rec_of(r) for r in channels)) if s]
        for signal in found:
            if signal.name not in self._open:
                self._track(signal)
            rec = self._open[signal.name]
            if not rec.waiting:
                rec.waiting = True
                self._spawn(self._await_close(signal.name))
        return [self._open[s.name].started for s in found]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals -------------------------------------------------------------------------

    async def _reconnected(self) -> None:
        """After the link came back (or Asterisk restarted), the Hangups sent meanwhile were
        lost: follow the end of every recording whose channel is no longer there."""
        waiting = [n for n, r in self._open.items() if not r.waiting]
        if not waiting:
            return
        try:
            alive = {_get(r, "Uniqueid") for r in await _channels(self._link)}
        except (PbxError, AmiActionError) as exc:
            log.warning("recordings: channels unknown after reconnecting (%s)", exc)
            return
        for name in waiting:
            rec = self._open.get(name)
            if rec is not None and not rec.waiting and rec.started.uniqueid not in alive:
                rec.waiting = True
                self._spawn(self._await_close(name))

    async def _mute(self, channel: str, on: bool) -> None:
        fields = {
            "Channel": _field(channel, "channel"),
            "Direction": "both",
            "State": "1" if on else "0",
        }
        try:
            await _unavailable(self._link.action("MixMonitorMute", fields))
        except AmiActionError as exc:
            if _gone(exc):
                raise LookupError(f"{channel} is gone or records nothing ({exc.message})") from None
            raise

    def _on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, UserEvent) and ev.user_event.lower() == "hotlinerecording":
            signal = self._make(
                SignalKind.STARTED,
                recording=ev.get("Kind"),
                ref=ev.get("Ref"),
                name=ev.get("File"),
                uniqueid=ev.uniqueid,
                channel=ev.channel,
                at=_event_time(ev),
                incident=ev.get("Incident"),
            )
            if signal is None:
                log.warning("recording: odd HotlineRecording event %r", dict(ev.headers))
                return
            self._track(signal)
            self._emit(signal)
        elif isinstance(ev, Hangup | MixMonitorStop):
            for name in sorted(self._by_uniqueid.get(ev.uniqueid, ())):
                rec = self._open.get(name)
                if rec is not None and not rec.waiting:
                    rec.waiting = True
                    self._spawn(self._await_close(name))

    def _make(
        self,
        kind: SignalKind,
        *,
        recording: str,
        ref: str,
        name: str,
        uniqueid: str,
        channel: str,
        at: float,
        incident: str = "",
    ) -> RecordingSignal | None:
        """The signal of a recording the dialplan announced; None when its fields are not
        what the dialplan writes (a name outside the recordings directory, above all)."""
        try:
            rec_kind = RecordingKind(recording.strip().lower())
        except ValueError:
            return None
        name = name.strip()
        if (
            rec_kind not in _KIND_DIRS
            or not _NAME.fullmatch(name)
            or not name.startswith(_KIND_DIRS[rec_kind] + "/")
            or ".." in PurePosixPath(name).parts
            or not ref.strip()
        ):
            return None
        return RecordingSignal(
            kind=kind,
            recording=rec_kind,
            ref=ref.strip(),
            uniqueid=uniqueid,
            channel=channel,
            path=str(self._host(name)),
            name=name,
            at=_utc(at),
            instance=self._instance,
            incident_id=int(incident) if _INCIDENT.fullmatch(incident.strip()) else None,
        )

    def _host(self, name: str) -> Path:
        return self._paths.host_path(f"{self._paths.recordings_dir}/{name}")

    def _track(self, signal: RecordingSignal) -> None:
        self._open[signal.name] = _Open(signal)
        self._by_uniqueid.setdefault(signal.uniqueid, set()).add(signal.name)

    def _untrack(self, name: str) -> _Open | None:
        rec = self._open.pop(name, None)
        if rec is not None:
            names = self._by_uniqueid.get(rec.started.uniqueid)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._by_uniqueid[rec.started.uniqueid]
        return rec

    async def _await_close(self, name: str) -> None:
        """Wait for the post-process command's rename (module docstring), then CLOSED."""
        final = self._host(name)
        part = final.with_name(final.name.removesuffix(".wav") + ".part.wav")
        deadline = time.monotonic() + self._close_wait_s
        delay = _POLL_FIRST_S
        while True:
            mtime = await asyncio.to_thread(_final_mtime, final, part)
            if mtime is not None:
                break
            if time.monotonic() > deadline:
                # Long after its channel ended: Asterisk died before MixMonitor closed it
                # (the header's sizes were never written) or the rename failed. Keep what
                # was recorded: fix the header and give the file its final name.
                mtime = await asyncio.to_thread(finish_abandoned_wav, part, final)
                if mtime is not None:
                    log.warning("recording %s: closed by the service (Asterisk did not)", name)
                    break
                log.error(
                    "recording %s: not closed %.0f s after its channel ended (%s unreadable?)",
                    name,
                    self._close_wait_s,
                    part,
                )
                rec = self._open.get(name)
                if rec is not None:
                    rec.waiting = False
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)
        rec = self._untrack(name)
        if rec is None:
            return
        started = rec.started
        self._emit(
            RecordingSignal(
                kind=SignalKind.CLOSED,
                recording=started.recording,
                ref=started.ref,
                uniqueid=started.uniqueid,
                channel=started.channel,
                path=started.path,
                name=started.name,
                at=_utc(mtime),
                instance=started.instance,
            )
        )

    def _emit(self, signal: RecordingSignal) -> None:
        for callback in list(self._callbacks):
            try:
                callback(signal)
            except Exception:
                log.exception("recording signal listener %r failed on %s", callback, signal)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _final_mtime(final: Path, part: Path) -> float | None:
    """The final file's modification time once it is there and the part file is not."""
    try:
        mtime = final.stat().st_mtime
    except FileNotFoundError:
        return None
    return None if part.exists() else mtime


def finish_abandoned_wav(part: Path, final: Path) -> float | None:
    """Finish a WAV file Asterisk left open (RIFF and data sizes from the file's length) and
    rename it to ``final``; its modification time, or None when it is no WAV file (or cannot
    be written). Asterisk writes the sizes only when it closes the file: one it died with
    says 0 bytes of audio, which players believe."""
    try:
        with part.open("r+b") as f:
            head = f.read(4096)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = f.seek(0, 2)
            pos = 12
            while pos + 8 <= len(head) and head[pos : pos + 4] != b"data":
                pos += 8 + int.from_bytes(head[pos + 4 : pos + 8], "little")
            if pos + 8 > len(head):
                return None
            f.seek(4)
            f.write((size - 8).to_bytes(4, "little"))
            f.seek(pos + 4)
            f.write((size - pos - 8).to_bytes(4, "little"))
            f.flush()
            os.fsync(f.fileno())
        part.replace(final)
        return final.stat().st_mtime
    except OSError:
        return None


def _duration_s(text: str) -> float:
    """CoreShowChannel's ``Duration`` (``HH:MM:SS``) in seconds; 0 when odd."""
    try:
        h, m, sec = (int(x) for x in text.split(":"))
    except ValueError:
        return 0.0
    return float(h * 3600 + m * 60 + sec)


class AmiSpyPbx:
    """``coaching.ports.SpyPbx`` over one ``AmiLink`` (see the module docstring)."""

    def __init__(
        self,
        link: AmiLink,
        *,
        caller_id: str = SPY_CALLER_ID,
        create_timeout_s: float = 10.0,
    ) -> None:
        self._link = link
        self._caller_id = caller_id
        self._create_timeout_s = create_timeout_s
        # ChannelId given to an Originate -> what became of it: the channel's name, or the
        # failed OriginateResponse's reason.
        self._created: dict[str, asyncio.Future[str]] = {}
        link.add_listener(self._on_event, events=event_names(Newchannel, OriginateResponse))

    async def spy(self, *, phone: str, target_channel: str, mode: SpyMode, ring_s: int) -> str:
        if not _PHONE.fullmatch(phone):
            raise ValueError(f"bad phone {phone!r}")
        target = _field(target_channel, "channel")
        if "," in target:
            raise ValueError(f"bad channel {target!r}")
        if not any(_get(r, "Channel") == target for r in await _channels(self._link)):
            raise LookupError(f"{target} is gone")
        channel_id = f"spy-{int(time.time())}-{secrets.token_hex(6)}"
        created: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._created[channel_id] = created
        try:
            await _unavailable(
                self._link.action(
                    "Originate",
                    {
                        "Channel": f"PJSIP/{phone}",
                        "Context": SPY_CONTEXT,
                        "Exten": SpyMode(mode).value,
                        "Priority": "1",
                        "CallerID": self._caller_id,
                        "Timeout": str(ring_s * 1000),
                        "ChannelId": channel_id,
                        "Variable": [f"SPY_TARGET={target}"],
                        "Async": "true",
                    },
                )
            )
            try:
                return await asyncio.wait_for(created, self._create_timeout_s)
            except TimeoutError:
                raise PbxUnavailable(
                    f"Asterisk made no channel for {phone} in {self._create_timeout_s:.0f} s"
                ) from None
        finally:
            self._created.pop(channel_id, None)

    async def change_mode(self, spy_channel: str, mode: SpyMode) -> None:
        fields = {
            "Channel": _field(spy_channel, "channel"),
            "Context": SPY_CONTEXT,
            "Exten": SpyMode(mode).value,
            "Priority": "1",
        }
        try:
            await _unavailable(self._link.action("Redirect", fields))
        except AmiActionError as exc:
            if _gone(exc):
                raise LookupError(f"{spy_channel} is gone") from None
            raise

    async def stop(self, spy_channel: str) -> None:
        try:
            await _unavailable(
                self._link.action("Hangup", {"Channel": _field(spy_channel, "channel")})
            )
        except AmiActionError as exc:
            if not _gone(exc):
                raise

    async def sessions(self) -> list[SpySession]:
        found: list[SpySession] = []
        for row in await _channels(self._link):
            if _get(row, "Application").lower() != "chanspy":
                continue
            target, _, options = _get(row, "ApplicationData").partition(",")
            found.append(
                SpySession(
                    spy_channel=_get(row, "Channel"),
                    target_channel=target,
                    mode=spy_mode_of(options),
                )
            )
        return found

    def _on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, Newchannel):
            created = self._created.get(ev.uniqueid)
            if created is not None and not created.done():
                created.set_result(ev.channel)
        elif isinstance(ev, OriginateResponse) and not ev.answered:
            created = self._created.get(ev.uniqueid)
            if created is not None and not created.done():
                created.set_exception(
                    SpyPhoneUnreachable(
                        f"{ev.channel or 'the phone'} could not be called "
                        f"(reason {ev.reason}): is it registered?"
                    )
                )
