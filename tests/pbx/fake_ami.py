"""A loopback Asterisk Manager Interface that speaks real AMI framing, for the pbx tests.

It answers the handful of actions the service uses the way Asterisk 22 does (texts taken from
``manager.c`` / ``app_queue.c``), and can be told to misbehave: go silent on the current
connections (a half-open peer), leave chosen actions unanswered, drop every connection, stop
listening, or send frames split at chosen byte offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["FakeAmi", "frame"]

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def frame(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    """One AMI frame: ``Key: value`` lines, CRLF, and a blank line."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in items) + b"\r\n"


class FakeAmi:
    def __init__(self, *, username: str = "hotline", secret: str = "s3cret-Ami") -> None:
        self.username = username
        self.secret = secret
        self.port = 0
        self.ignore: set[str] = set()  # action names (lower case) left unanswered
        self.received: list[dict[str, str]] = []  # every action, across connections
        self.login_attempts = 0
        self.closed_by_client = 0  # connections the client hung up on
        self.queues: dict[str, dict[str, str]] = {"q-medical": {}, "q-general": {}}
        self.entries: dict[str, list[str]] = {"q-medical": ["PJSIP/citizen-00000001"]}
        self.channels: list[str] = ["PJSIP/citizen-00000001"]
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._silent: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # control -------------------------------------------------------------------------------

    async def start(self, port: int | None = None) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port if port is None else port
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def drop(self) -> None:
        """Close every client connection from the server side."""
        writers = list(self._writers)
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def stop(self) -> None:
        await self.stop_listening()
        await self.drop()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    def go_silent(self) -> None:
        """Current connections stay open but are never answered again (new ones are)."""
        self._silent |= self._writers

    def count(self, action: str) -> int:
        return sum(1 for a in self.received if a.get("Action", "").lower() == action.lower())

    async def send(self, data: bytes, splits: Sequence[int] = ()) -> None:
        """Send raw bytes to every client, as separate writes cut at the ``splits`` offsets."""
        cuts = [0, *splits, len(data)]
        for i, (start, end) in enumerate(itertools.pairwise(cuts)):
            for writer in list(self._writers):
                writer.write(data[start:end])
                await writer.drain()
            if i < len(cuts) - 2:
                await asyncio.sleep(0.05)  # let the client read this piece on its own

    # protocol ------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        authenticated = False
        buffer = b""
        try:
            writer.write(BANNER)
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    if not writer.is_closing():  # EOF we did not cause
                        self.closed_by_client += 1
                    return
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    raw, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = _parse(raw)
                    self.received.append(action)
                    if writer in self._silent or action.get("Action", "").lower() in self.ignore:
                        continue
                    reply, authenticated = self._answer(action, authenticated)
                    writer.write(reply)
                    if action.get("Action", "").lower() == "login" and not authenticated:
                        await writer.drain()
                        return  # Asterisk hangs up after a failed login
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            self._silent.discard(writer)
            writer.close()

    def _answer(self, action: dict[str, str], authenticated: bool) -> tuple[bytes, bool]:
        name = action.get("Action", "").lower()
        aid = [("ActionID", action.get("ActionID", ""))]
        if name == "login":
            self.login_attempts += 1
            if (action.get("Username"), action.get("Secret")) != (self.username, self.secret):
                return frame(
                    [("Response", "Error"), *aid, ("Message", "Authentication failed")]
                ), False
            ok = frame([("Response", "Success"), *aid, ("Message", "Authentication accepted")])
            booted = frame(
                {
                    "Event": "FullyBooted",
                    "Privilege": "system,all",
                    "Uptime": "120",
                    "LastReload": "60",
                    "Status": "Fully Booted",
                }
            )
            return ok + booted, True
        if not authenticated:
            return frame([("Response", "Error"), *aid, ("Message", "Permission denied")]), False
        handler = getattr(self, f"_action_{name}", None)
        if handler is None:
            return frame(
                [("Response", "Error"), *aid, ("Message", "Invalid/unknown command")]
            ), True
        return handler(action, aid), True

    def _action_ping(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        return frame(
            [("Response", "Success"), *aid, ("Ping", "Pong"), ("Timestamp", "1700000000.000000")]
        )

    def _action_queueadd(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        members = self.queues.get(action.get("Queue", ""))
        if members is None:
            message = "Unable to add interface to queue: No such queue"
        elif action["Interface"] in members:
            message = "Unable to add interface: Already there"
        else:
            members[action["Interface"]] = action.get("MemberName", action["Interface"])
            return frame([("Response", "Success"), *aid, ("Message", "Added interface to queue")])
        return frame([("Response", "Error"), *aid, ("Message", message)])

    def _action_queueremove(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        members = self.queues.get(action.get("Queue", ""))
        if members is None:
            message = "Unable to remove interface from queue: No such queue"
        elif action["Interface"] not in members:
            message = "Unable to remove interface: Not there"
        else:
            del members[action["Interface"]]
            return frame(
                [("Response", "Success"), *aid, ("Message", "Removed interface from queue")]
            )
        return frame([("Response", "Error"), *aid, ("Message", message)])

    def _action_queuestatus(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        wanted = action.get("Queue")
        out = [
            frame(
                [
                    ("Response", "Success"),
                    *aid,
                    ("EventList", "start"),
                    ("Message", "Queue status will follow"),
                ]
            )
        ]
        items = 0
        for queue, members in self.queues.items():
            if wanted and queue != wanted:
                continue
            callers = self.entries.get(queue, [])
            out.append(
                frame(
                    [
                        ("Event", "QueueParams"),
                        ("Queue", queue),
                        ("Max", "0"),
                        ("Strategy", "rrmemory"),
                        ("Calls", str(len(callers))),
                        ("Holdtime", "0"),
                        ("TalkTime", "0"),
                        ("Completed", "0"),
                        ("Abandoned", "0"),
                        ("ServiceLevel", "60"),
                        ("ServicelevelPerf", "0.0"),
                        ("ServicelevelPerf2", "0.0"),
                        ("Weight", "0"),
                        *aid,
                    ]
                )
            )
            for interface, name in members.items():
                out.append(
                    frame(
                        [
                            ("Event", "QueueMember"),
                            ("Queue", queue),
                            ("Name", name),
                            ("Location", interface),
                            ("StateInterface", interface),
                            ("Membership", "dynamic"),
                            ("Penalty", "0"),
                            ("CallsTaken", "0"),
                            ("LastCall", "0"),
                            ("LastPause", "0"),
                            ("LoginTime", "1700000000"),
                            ("InCall", "0"),
                            ("Status", "1"),
                            ("Paused", "0"),
                            ("PausedReason", ""),
                            ("Wrapuptime", "0"),
                            *aid,
                        ]
                    )
                )
            for position, channel in enumerate(callers, start=1):
                out.append(
                    frame(
                        [
                            ("Event", "QueueEntry"),
                            ("Queue", queue),
                            ("Position", str(position)),
                            ("Channel", channel),
                            ("Uniqueid", f"1700000000.{position}"),
                            ("CallerIDNum", "0912345678"),
                            ("CallerIDName", "Nguyễn Thị Hằng"),
                            ("Wait", "12"),
                            ("Priority", "0"),
                            *aid,
                        ]
                    )
                )
            items += 1 + len(members) + len(callers)
        out.append(
            frame(
                [
                    ("Event", "QueueStatusComplete"),
                    *aid,
                    ("EventList", "Complete"),
                    ("ListItems", str(items)),
                ]
            )
        )
        return b"".join(out)

    def _action_corestatus(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        return frame(
            [
                ("Response", "Success"),
                *aid,
                ("CoreStartupDate", "2024-01-01"),
                ("CoreStartupTime", "08:00:00"),
                ("CoreReloadDate", "2024-01-01"),
                ("CoreReloadTime", "08:00:00"),
                ("CoreCurrentCalls", "1"),
            ]
        )

    def _action_coreshowchannels(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        start = frame(
            [
                ("Response", "Success"),
                *aid,
                ("EventList", "start"),
                ("Message", "Channels will follow"),
            ]
        )
        rows = [
            frame(
                [
                    ("Event", "CoreShowChannel"),
                    *aid,
                    ("Channel", channel),
                    ("ChannelState", "6"),
                    ("ChannelStateDesc", "Up"),
                    ("Uniqueid", f"1700000000.{i}"),
                ]
            )
            for i, channel in enumerate(self.channels)
        ]
        done = frame(
            [
                ("Event", "CoreShowChannelsComplete"),
                *aid,
                ("EventList", "Complete"),
                ("ListItems", str(len(rows))),
            ]
        )
        return start + b"".join(rows) + done

    def _action_hangup(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        channel = action.get("Channel", "")
        if channel not in self.channels:
            return frame([("Response", "Error"), *aid, ("Message", "No such channel")])
        self.channels.remove(channel)
        return frame([("Response", "Success"), *aid, ("Message", "Channel Hungup")])

    def _action_originate(self, action: dict[str, str], aid: list[tuple[str, str]]) -> bytes:
        queued = frame(
            [("Response", "Success"), *aid, ("Message", "Originate successfully queued")]
        )
        outcome = frame(
            [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                *aid,
                ("Response", "Success"),
                ("Channel", action.get("Channel", "")),
                ("Context", action.get("Context", "")),
                ("Exten", action.get("Exten", "")),
                ("Reason", "4"),
                ("Uniqueid", "1700000000.9"),
                ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ]
        )
        return queued + outcome


def _parse(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = f"{out[key]}\n{value}" if key in out else value
    return out
