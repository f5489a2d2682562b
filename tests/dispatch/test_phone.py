"""Calling a team's phone, with a fake PBX, a scripted member and fake incident results; the
OriginateResponse events are shaped as Asterisk 22 sends them. The same paths run on a real
Asterisk with SIPp in tests/integration/test_dispatch_phone.py."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dispatch import phone as phone_module
from dispatch.phone import (
    ALL_KEYS,
    DISPATCH_CONTEXT,
    ORDER_VARIABLES,
    TeamPhoneCaller,
    originate_result,
    sign_order,
)
from dispatch.ports import IncidentReading, PhoneOrder, PhoneResult
from dispatch.reading import FIXED_PROMPTS, OrderAudio, OrderFacts, order_text, split_reading
from pbx.client import OriginateReply
from pbx.events import AmiEvent, OriginateResponse, parse_event
from provision.secrets import ensure_secrets
from tests.asterisk_unit import unit_asterisk, unit_config

ORDER = PhoneOrder(incident_id=12, team_id=3, attempt=1, dial="PJSIP/t25741", phone="t25741")
SECRET = "dispatch-secret-for-tests"
TEXT = order_text(OrderFacts(12, "medical", "critical", ("Phường Hiệp Thành",), "15 Yersin", "09"))


class Hangup(Exception):
    """The member hung up (``pbx.errors.AgiHangup`` on the real link)."""


@dataclass
class FakePbx:
    originated: list[dict[str, object]] = field(default_factory=list)
    error: Exception | None = None
    action_ids: int = 0

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30000,
        account: str | None = None,
    ) -> OriginateReply:
        if self.error is not None:
            raise self.error
        self.action_ids += 1
        self.originated.append(
            {
                "channel": channel,
                "context": context,
                "exten": exten,
                "caller_id": caller_id,
                "variables": dict(variables or {}),
                "ring_timeout_ms": ring_timeout_ms,
                "account": account,
            }
        )
        return OriginateReply({"Response": "Success", "ActionID": f"a{self.action_ids}"})

    @property
    def token(self) -> str:
        variables = self.originated[-1]["variables"]
        assert isinstance(variables, dict)
        return str(variables["DISPATCH_ORDER"])

    @property
    def account(self) -> str:
        return str(self.originated[-1]["account"])


@dataclass
class FakeResults:
    text: str | None = TEXT
    error: Exception | None = None
    results: list[tuple[PhoneOrder, PhoneResult]] = field(default_factory=list)
    asked: int = 0

    async def phone_result(self, order: PhoneOrder, result: PhoneResult) -> None:
        self.results.append((order, result))

    async def reading(self, incident_id: int) -> IncidentReading | None:
        self.asked += 1
        if self.error is not None:
            raise self.error
        return None if self.text is None else IncidentReading(incident_id, self.text)

    @property
    def only(self) -> PhoneResult:
        assert len(self.results) == 1, self.results
        return self.results[0][1]


class Member:
    """The team member on the answered phone. ``script``, one entry a reading: a key
    pressed while it is read ("1"), one pressed after it ("+1"), none (""), or a hang-up
    (None). Out of script: hangs up. ``hangs_up_at``: a fixed prompt during which they
    hang up."""

    def __init__(
        self,
        token: str,
        script: Sequence[str | None],
        *,
        names: Mapping[str, str],
        hangs_up_at: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        self.env = {"agi_uniqueid": "1700000000.7", "agi_arg_1": token}
        self.script = list(script)
        self.names = names
        self.hangs_up_at = hangs_up_at
        self.variables = dict(variables or {})
        self.heard: list[str] = []  # "order" for each part, else the fixed prompt's name
        self.answered = False
        self.readings = 0
        self._now: str | None = None
        self._reading = False

    @property
    def uniqueid(self) -> str:
        return self.env["agi_uniqueid"]

    async def answer(self) -> None:
        self.answered = True

    async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
        if escape_digits:  # a part of the order
            assert escape_digits == ALL_KEYS
            self.heard.append("order")
            if not self._reading:
                if not self.script:
                    raise Hangup()
                self._now, self._reading = self.script.pop(0), True
                self.readings += 1
            if self._now is None:
                raise Hangup()
            if self._now and not self._now.startswith("+"):
                key, self._now, self._reading = self._now, "", False
                return key
            return None
        name = self.names[path]
        self.heard.append(name)
        if name == self.hangs_up_at:
            raise Hangup()
        return None

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        assert self._reading, "waits for a key only after the order"
        key = self._now[1:] if self._now and self._now.startswith("+") else None
        self._now, self._reading = None, False
        return key

    async def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)


def voice(text: str, dest: Path) -> None:
    dest.write_text(text)


@dataclass
class Rig:
    caller: TeamPhoneCaller
    pbx: FakePbx
    results: FakeResults
    names: dict[str, str]  # fixed prompt path -> name

    def member(self, script: Sequence[str | None], **kw: object) -> Member:
        """The member on the phone the service called: the channel holds the Originate's
        variables (the signature among them) unless ``variables`` says otherwise."""
        kw.setdefault("variables", self.pbx.originated[-1]["variables"])
        return Member(self.pbx.token, script, names=self.names, **kw)  # type: ignore[arg-type]

    def answered(self, n: int = 1, uniqueid: str = "1700000000.7") -> AmiEvent:
        return response(f"a{n}", "Success", "4", uniqueid)

    def hangup(self) -> AmiEvent:
        """The Hangup of the call's channel."""
        return channel_event("Hangup", AccountCode=self.pbx.account, Cause="16")

    def dial_end(self, status: str) -> AmiEvent:
        return channel_event("DialEnd", DestAccountCode=self.pbx.account, DialStatus=status)


def response(action_id: str, outcome: str, reason: str, uniqueid: str = "") -> AmiEvent:
    """An OriginateResponse as Asterisk 22 sends it."""
    return parse_event(
        {
            "Event": "OriginateResponse",
            "ActionID": action_id,
            "Response": outcome,
            "Channel": "PJSIP/t25741-00000003",
            "Context": DISPATCH_CONTEXT,
            "Exten": "s",
            "Application": "",
            "Data": "",
            "Reason": reason,
            "Uniqueid": uniqueid or "<null>",
            "CallerIDNum": "1022",
            "CallerIDName": "1022",
        },
        0.0,
    )


def channel_event(name: str, **headers: str) -> AmiEvent:
    """A channel's event, as Asterisk 22 sends it (only the headers read here)."""
    return parse_event(
        {"Event": name, "Channel": "PJSIP/pstn-out-00000003", "Uniqueid": "17.3", **headers},
        0.0,
    )


@pytest.fixture(autouse=True)
def quick_dial_end(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unclear failure waits 0.05 s, not a second, for its DialEnd."""
    monkeypatch.setattr(phone_module, "DIAL_END_GRACE_S", 0.05)


async def rig(tmp_path: Path, **kw: object) -> Rig:
    pbx = FakePbx()
    results = FakeResults()
    audio = OrderAudio(tmp_path, "/ast/dispatch", speak=voice)
    kw.setdefault("secret", SECRET)
    caller = TeamPhoneCaller(pbx, results, audio, **kw)  # type: ignore[arg-type]
    await caller.start()
    names = {await audio.fixed(name): name for name in FIXED_PROMPTS}
    return Rig(caller, pbx, results, names)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# -- placing the call ----------------------------------------------------------------------


async def test_the_call_goes_to_the_dispatch_context_from_1022(tmp_path: Path) -> None:
    r = await rig(tmp_path, ring_s=25)
    await r.caller.call(ORDER)
    [sent] = r.pbx.originated
    assert sent["channel"] == "PJSIP/t25741"
    assert (sent["context"], sent["exten"]) == ("hotline-dispatch", "s")
    assert sent["caller_id"] == '"1022" <1022>'
    assert sent["ring_timeout_ms"] == 25000
    assert sent["account"] == f"dispatch-{r.pbx.token}"  # its DialEnd and Hangup say it
    variables = sent["variables"]
    assert isinstance(variables, dict)
    assert {k: variables[v] for k, v in ORDER_VARIABLES.items() if k != "token"} == {
        "incident_id": "12",
        "team_id": "3",
        "attempt": "1",
        "phone": "t25741",
        "dial": "PJSIP/t25741",
    }
    assert r.results.results == []
    assert [c.order for c in r.caller.active] == [ORDER]
    await r.caller.close()


async def test_the_order_is_spoken_while_the_phone_rings(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    await r.caller.close()  # waits for the warm-up
    assert r.results.asked == 1
    files = await asyncio.to_thread(lambda: {f.read_text() for f in tmp_path.glob("*.wav")})
    assert set(split_reading(TEXT)) <= files


async def test_an_originate_that_fails_is_reported_failed_at_once(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    r.pbx.error = ConnectionError("AMI link is down")
    await r.caller.call(ORDER)  # does not raise, nor report before it returns
    assert r.results.results == []
    await settle()
    assert r.results.results == [(ORDER, PhoneResult.FAILED)]
    assert r.caller.active == []
    await r.caller.close()


@pytest.mark.parametrize(
    ("reason", "result"),
    [
        ("3", PhoneResult.NO_ANSWER),
        ("5", PhoneResult.BUSY),
        ("0", PhoneResult.FAILED),
        ("1", PhoneResult.FAILED),
        ("8", PhoneResult.FAILED),
        ("", PhoneResult.FAILED),
    ],
)
async def test_a_phone_not_answered_is_reported_by_its_reason(
    tmp_path: Path, reason: str, result: PhoneResult
) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(response("a1", "Failure", reason))
    r.caller.on_event(response("a1", "Failure", reason))  # never twice
    await asyncio.sleep(0.1)
    assert r.results.results == [(ORDER, result)]
    await r.caller.close()


@pytest.mark.parametrize("dial_end_first", [True, False])
@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("BUSY", PhoneResult.BUSY),  # Asterisk 22: Reason 0 for a 486
        ("NOANSWER", PhoneResult.NO_ANSWER),
        ("CHANUNAVAIL", PhoneResult.FAILED),
        ("CONGESTION", PhoneResult.FAILED),
    ],
)
async def test_an_unclear_failure_is_told_by_the_dial_end(
    tmp_path: Path, status: str, result: PhoneResult, dial_end_first: bool
) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    assert r.pbx.account.startswith("dispatch-")
    events = [r.dial_end(status), response("a1", "Failure", "0"), r.hangup()]
    if not dial_end_first:
        events = events[1:] + events[:1]
    for ev in events:
        r.caller.on_event(ev)
    await settle()
    assert r.results.results == [(ORDER, result)]  # at once, without waiting
    await asyncio.sleep(0.1)
    assert len(r.results.results) == 1
    await r.caller.close()


def test_originate_results() -> None:
    def result(outcome: str, reason: str, dial_status: str = "") -> PhoneResult | None:
        event = response("a1", outcome, reason)
        assert isinstance(event, OriginateResponse)
        return originate_result(event, dial_status)

    assert result("Success", "4") is None
    assert result("Failure", " 5 ") is PhoneResult.BUSY
    assert result("Failure", "junk") is PhoneResult.FAILED
    assert result("Failure", "0", "BUSY") is PhoneResult.BUSY
    assert result("Failure", "3", "CANCEL") is PhoneResult.NO_ANSWER


async def test_someone_elses_originate_response_is_ignored(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(response("callbacks-7", "Failure", "3"))
    r.caller.on_event(channel_event("DialEnd", DestAccountCode="", DialStatus="BUSY"))
    r.caller.on_event(channel_event("Hangup", AccountCode="", Cause="17"))
    await settle()
    assert r.results.results == []
    await r.caller.close()


async def test_a_response_that_overtakes_the_reply_still_counts(tmp_path: Path) -> None:
    r = await rig(tmp_path)

    class Racing(FakePbx):
        async def originate(self, channel: str, **kw: object) -> OriginateReply:
            reply = await super().originate(channel, **kw)  # type: ignore[arg-type]
            r.caller.on_event(response(reply.action_id, "Failure", "5"))
            return reply

    r.caller.pbx = Racing()
    await r.caller.call(ORDER)
    await settle()
    assert r.results.only is PhoneResult.BUSY
    await r.caller.close()


# -- the member's keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "result", "readings", "last"),
    [
        (["1"], PhoneResult.ACCEPTED, 1, "accepted"),
        (["+1"], PhoneResult.ACCEPTED, 1, "accepted"),
        (["9"], PhoneResult.REFUSED, 1, "refused"),
        (["2", "1"], PhoneResult.ACCEPTED, 2, "accepted"),
        (["2", "+2", "9"], PhoneResult.REFUSED, 3, "refused"),
        (["5", "1"], PhoneResult.ACCEPTED, 2, "accepted"),
        (["", "", ""], PhoneResult.NO_KEY, 3, "no_key"),
        (["#", "+*", ""], PhoneResult.NO_KEY, 3, "no_key"),
        # Hearing it again uses up no reading, but has its limit.
        (["2", "2", "", "2", "", ""], PhoneResult.NO_KEY, 6, "no_key"),
        (["2"] * 10, PhoneResult.NO_KEY, 6, "no_key"),
    ],
)
async def test_each_key(
    tmp_path: Path,
    script: list[str | None],
    result: PhoneResult,
    readings: int,
    last: str,
) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    member = r.member(script)
    await r.caller.handle(member)
    assert member.answered
    assert r.results.results == [(ORDER, result)]
    assert member.readings == readings
    assert member.heard[-1] == last
    invalid = sum(1 for k in script[:readings] if k and k.lstrip("+") not in "129")
    assert member.heard.count("invalid") == invalid
    [call] = r.caller.recent
    assert (call.result, call.readings, call.ended) == (result, readings, True)
    assert call.uniqueid == "1700000000.7"
    r.caller.on_event(r.hangup())  # the dialplan hangs up: nothing more
    await settle()
    assert len(r.results.results) == 1
    await r.caller.close()


async def test_a_hang_up_while_the_order_is_read_is_no_key(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    member = r.member(["2", None])
    with pytest.raises(Hangup):
        await r.caller.handle(member)
    r.caller.on_event(r.hangup())
    await settle()
    assert r.results.results == [(ORDER, PhoneResult.NO_KEY)]
    await r.caller.close()


async def test_a_hang_up_during_the_confirmation_keeps_the_acceptance(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    member = r.member(["1"], hangs_up_at="accepted")
    with pytest.raises(Hangup):
        await r.caller.handle(member)
    assert r.results.only is PhoneResult.ACCEPTED
    await r.caller.close()


async def test_a_hang_up_after_an_invalid_key_is_no_key(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    member = r.member(["7"], hangs_up_at="invalid")
    with pytest.raises(Hangup):
        await r.caller.handle(member)
    assert r.results.only is PhoneResult.NO_KEY
    await r.caller.close()


async def test_the_script_may_start_before_the_originate_response(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    await r.caller.handle(r.member(["1"]))
    r.caller.on_event(r.answered())
    r.caller.on_event(r.hangup())
    await settle()
    assert r.results.only is PhoneResult.ACCEPTED
    await r.caller.close()


async def test_an_order_no_longer_needed_is_said_so_and_not_reported(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    r.results.text = None
    member = r.member(["1"])
    await r.caller.handle(member)
    assert member.heard == ["not_needed"]
    r.caller.on_event(r.hangup())
    await settle()
    assert r.results.results == []
    assert r.caller.active == [] and r.caller.recent[-1].ended
    await r.caller.close()


async def test_an_order_that_cannot_be_read_fails(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.results.error = RuntimeError("database down")
    member = r.member(["1"])
    await r.caller.handle(member)
    assert member.heard == ["unavailable"]
    assert r.results.only is PhoneResult.FAILED
    await r.caller.close()


async def test_an_order_that_cannot_be_spoken_fails(tmp_path: Path) -> None:
    r = await rig(tmp_path)

    def mute(text: str, dest: Path) -> None:
        raise OSError("espeak-ng crashed")

    r.caller.audio._speak = mute
    r.results.text = "Một lệnh khác."
    await r.caller.call(ORDER)
    member = r.member(["1"])
    await r.caller.handle(member)
    assert member.heard == ["unavailable"]
    assert r.results.only is PhoneResult.FAILED
    await r.caller.close()


# -- when the script never comes -----------------------------------------------------------


async def test_answered_and_hung_up_without_the_script_fails(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    r.caller.on_event(r.hangup())  # FastAGI down: the dialplan hangs up
    await settle()
    assert r.results.only is PhoneResult.FAILED
    await r.caller.close()


async def test_no_originate_response_in_time_fails(tmp_path: Path) -> None:
    r = await rig(tmp_path, ring_s=0, answer_grace_s=0.05)
    await r.caller.call(ORDER)
    await asyncio.sleep(0.2)
    assert r.results.only is PhoneResult.FAILED
    r.caller.on_event(response("a1", "Failure", "3"))  # too late
    await settle()
    assert len(r.results.results) == 1
    await r.caller.close()


async def test_no_script_in_time_fails_and_a_late_one_reports_nothing(tmp_path: Path) -> None:
    r = await rig(tmp_path, agi_grace_s=0.05)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    await asyncio.sleep(0.2)
    assert r.results.only is PhoneResult.FAILED
    member = r.member(["1"])
    await r.caller.handle(member)
    assert member.heard == ["unavailable"]
    assert len(r.results.results) == 1
    await r.caller.close()


async def test_a_script_that_runs_too_long_is_no_key(tmp_path: Path) -> None:
    r = await rig(tmp_path, call_limit_s=0.05)
    await r.caller.call(ORDER)

    class Stuck(Member):
        async def stream_file(self, path: str, escape_digits: str = "") -> str | None:
            if escape_digits:
                await asyncio.sleep(3600)  # Asterisk never answers the command
            return await super().stream_file(path, escape_digits)

    member = Stuck(r.pbx.token, ["1"], names=r.names, variables=r.pbx.originated[-1]["variables"])  # type: ignore[arg-type]
    task = asyncio.create_task(r.caller.handle(member))
    await asyncio.sleep(0.2)
    assert r.results.only is PhoneResult.NO_KEY
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(r.results.results) == 1
    await r.caller.close()


# -- after a restart of the service -------------------------------------------------------


async def test_a_call_placed_before_a_restart_is_read_from_its_variables(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    variables = {
        "DISPATCH_ORDER": "feedbeef",
        "DISPATCH_INCIDENT": "12",
        "DISPATCH_TEAM": "3",
        "DISPATCH_ATTEMPT": "1",
        "DISPATCH_PHONE": "t25741",
        "DISPATCH_DIAL": "PJSIP/t25741",
        "DISPATCH_SIG": sign_order(SECRET, "feedbeef", ORDER),
    }
    member = Member("feedbeef", ["1"], names=r.names, variables=variables)
    await r.caller.handle(member)
    assert r.results.results == [(ORDER, PhoneResult.ACCEPTED)]
    await r.caller.close()


# -- forged sessions: only a call the service placed acknowledges --------------------------

UNSIGNED = {
    "DISPATCH_ORDER": "feedbeef",
    "DISPATCH_INCIDENT": "12",
    "DISPATCH_TEAM": "3",
    "DISPATCH_ATTEMPT": "1",
    "DISPATCH_PHONE": "t25741",
    "DISPATCH_DIAL": "PJSIP/t25741",
}


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "0" * 64,
        sign_order("another instance's secret", "feedbeef", ORDER),
        sign_order(SECRET, "feedbeef", PhoneOrder(12, 3, 2, "PJSIP/t25741", "t25741")),
        sign_order(SECRET, "0123abcd", ORDER),
    ],
    ids=["unsigned", "garbage", "other secret", "other attempt", "other token"],
)
async def test_a_forged_order_pressing_1_acknowledges_nothing(
    tmp_path: Path, signature: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """A process playing Asterisk answers the variables with a dispatched incident and its
    team and presses 1: nothing is reported, so the incident still escalates."""
    r = await rig(tmp_path)
    variables = dict(UNSIGNED)
    if signature is not None:
        variables["DISPATCH_SIG"] = signature
    member = Member("feedbeef", ["1"], names=r.names, variables=variables)
    await r.caller.handle(member)
    assert r.results.results == []
    assert not member.answered and member.heard == []
    assert r.caller.recent == type(r.caller.recent)() and r.caller.active == []
    assert "refused" in caplog.text
    await r.caller.close()


async def test_a_forged_session_for_a_placed_call_acknowledges_nothing(tmp_path: Path) -> None:
    """The token of a call being placed (it is in Asterisk's logs) without the signature:
    refused, and the real phone's answer still counts afterwards."""
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    r.caller.on_event(r.answered())
    forged = r.member(
        ["1"],
        variables={
            k: v for k, v in r.pbx.originated[-1]["variables"].items() if k != "DISPATCH_SIG"
        },
    )  # type: ignore[union-attr]
    await r.caller.handle(forged)
    assert r.results.results == [] and not forged.answered
    assert [c.order for c in r.caller.active] == [ORDER]
    member = r.member(["1"])
    await r.caller.handle(member)
    assert r.results.results == [(ORDER, PhoneResult.ACCEPTED)]
    await r.caller.close()


async def test_the_originate_carries_the_orders_signature(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    await r.caller.call(ORDER)
    variables = r.pbx.originated[-1]["variables"]
    assert isinstance(variables, dict)
    assert variables["DISPATCH_SIG"] == sign_order(SECRET, r.pbx.token, ORDER)
    await r.caller.close()


def test_no_dispatch_secret_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="HOTLINE_DISPATCH_SECRET"):
        TeamPhoneCaller(FakePbx(), FakeResults(), OrderAudio(tmp_path, "/a"), secret="")


async def test_a_call_without_an_order_is_told_so(tmp_path: Path) -> None:
    r = await rig(tmp_path)
    member = Member("", ["1"], names=r.names)
    await r.caller.handle(member)
    assert member.heard == ["not_needed"]
    assert r.results.results == []
    await r.caller.close()


def test_an_order_is_read_at_least_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least once"):
        TeamPhoneCaller(
            FakePbx(), FakeResults(), OrderAudio(tmp_path, "/a"), secret=SECRET, readings=0
        )


# -- the dialplan --------------------------------------------------------------------------


def test_the_dialplan_hands_the_answered_phone_to_the_dispatch_script(tmp_path: Path) -> None:
    root = tmp_path / "root"
    secrets = ensure_secrets(tmp_path / "state", 1)
    unit_asterisk(tmp_path).render(unit_config(secrets))
    etc = root / "var/lib/hotline1022/unit/etc"
    dialplan = (etc / "extensions.conf").read_text()
    assert "HOTLINE_DISPATCH_AGI = agi://127.0.0.1:14573/dispatch" in dialplan
    context = dialplan.split(f"[{DISPATCH_CONTEXT}]", 1)[1].split("\n[", 1)[0]
    assert "exten => s,1," in context
    assert (
        "AGI(${HOTLINE_DISPATCH_AGI}?t=${HOTLINE_AGI_T}&p=${SHA1(${HOTLINE_AGI_KEY_OUT}"
        "${SHA1(${HOTLINE_AGI_KEY_IN}:dispatch:${UNIQUEID}:${HOTLINE_AGI_T})})},${DISPATCH_ORDER})"
    ) in context
    assert context.split("\n\n", 1)[0].endswith("Hangup()")
    modules = (etc / "modules.conf").read_text()
    assert {"load = res_agi.so", "load = func_channel.so"} <= set(modules.splitlines())
