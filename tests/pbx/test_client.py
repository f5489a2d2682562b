"""AmiPbx: the typed actions the domain uses, against the fake AMI."""

from __future__ import annotations

import pytest

from pbx.ami import AmiLink
from pbx.client import AmiPbx, once_loaded
from pbx.errors import AmiActionError, AmiNotConnected, PbxError, PbxUnavailable
from pbx.events import AmiEvent, OriginateResponse
from queues import ports
from queues.ports import CallbackPbx, QueuePbx
from tests.pbx.conftest import MakeLink
from tests.pbx.fake_ami import FakeAmi
from tests.pbx.helpers import Recorder, wait_until


async def test_queue_add_resolves_and_is_idempotent(ami: FakeAmi, link: AmiLink) -> None:
    """Defect 2: QueueAdd's "Added interface to queue" reply resolves the call."""
    pbx: QueuePbx = AmiPbx(link)
    await pbx.queue_add("q-medical", "PJSIP/agent101", "Trần Văn Bình", penalty=2)
    assert ami.queues["q-medical"] == {"PJSIP/agent101": "Trần Văn Bình"}
    added = [a for a in ami.received if a.get("Action") == "QueueAdd"]
    assert added[0]["Penalty"] == "2" and added[0]["MemberName"] == "Trần Văn Bình"
    await pbx.queue_add("q-medical", "PJSIP/agent101", "Trần Văn Bình")  # "Already there"
    assert ami.count("QueueAdd") == 2


async def test_queue_remove_is_idempotent(ami: FakeAmi, link: AmiLink) -> None:
    ami.queues["q-medical"]["PJSIP/agent101"] = "A"
    pbx = AmiPbx(link)
    await pbx.queue_remove("q-medical", "PJSIP/agent101")
    assert ami.queues["q-medical"] == {}
    await pbx.queue_remove("q-medical", "PJSIP/agent101")  # "Not there"


async def test_other_queue_errors_are_raised(link: AmiLink) -> None:
    with pytest.raises(AmiActionError, match="No such queue"):
        await AmiPbx(link).queue_add("q-missing", "PJSIP/agent101", "A")
    with pytest.raises(AmiActionError, match="No such queue"):
        await AmiPbx(link).queue_remove("q-missing", "PJSIP/agent101")


async def test_unreachable_pbx_is_the_domain_exception(ami: FakeAmi, make_link: MakeLink) -> None:
    link = make_link(action_timeout=0.2)
    await link.start()
    pbx = AmiPbx(link)
    ami.ignore.add("queueadd")
    # What the domain catches through its port is what pbx raises.
    assert ports.PbxUnavailable is PbxUnavailable
    with pytest.raises(ports.PbxUnavailable) as timed_out:
        await pbx.queue_add("q-medical", "PJSIP/agent101", "A")
    assert isinstance(timed_out.value, PbxError)
    await link.close()
    with pytest.raises(PbxUnavailable) as down:
        await pbx.queue_remove("q-medical", "PJSIP/agent101")
    assert isinstance(down.value, PbxError)
    assert isinstance(down.value.__cause__, AmiNotConnected)


async def test_queue_status_splits_params_members_entries(ami: FakeAmi, link: AmiLink) -> None:
    ami.queues["q-medical"]["PJSIP/agent101"] = "Trần Văn Bình"
    status = await AmiPbx(link).queue_status("q-medical")
    assert [p["Queue"] for p in status.params] == ["q-medical"]
    assert [(m["Location"], m["Name"]) for m in status.members] == [
        ("PJSIP/agent101", "Trần Văn Bình")
    ]
    assert [e["CallerIDName"] for e in status.entries] == ["Nguyễn Thị Hằng"]
    everything = await AmiPbx(link).queue_status()
    assert {p["Queue"] for p in everything.params} == {"q-medical", "q-general"}


async def test_queue_entries_and_channels_for_callbacks(ami: FakeAmi, link: AmiLink) -> None:
    pbx: CallbackPbx = AmiPbx(link)
    entries = await pbx.queue_entries("q-medical")
    assert [(e["Channel"], e["Wait"], e["Priority"]) for e in entries] == [
        ("PJSIP/citizen-00000001", "12", "0")
    ]
    assert [(c["Channel"], c["ChannelStateDesc"]) for c in await pbx.channels()] == [
        ("PJSIP/citizen-00000001", "Up")
    ]


async def test_hangup_counts_a_channel_already_gone_as_done(ami: FakeAmi, link: AmiLink) -> None:
    pbx = AmiPbx(link)
    await pbx.hangup("PJSIP/citizen-00000001")
    assert ami.channels == []
    await pbx.hangup("PJSIP/citizen-00000001")  # "No such channel"
    assert ami.count("Hangup") == 2


async def test_core_status_and_ping(link: AmiLink) -> None:
    pbx = AmiPbx(link)
    assert (await pbx.core_status())["CoreCurrentCalls"] == "1"
    await pbx.ping()


async def test_originate_outcome_reaches_listeners(ami: FakeAmi, link: AmiLink) -> None:
    """The OriginateResponse that follows the reply goes to listeners, matched by ActionID."""
    seen = Recorder()
    link.add_listener(seen)
    reply = await AmiPbx(link).originate(
        "PJSIP/agent101",
        context="hotline-callback",
        exten="0912345678",
        caller_id='"1022" <1022>',
        variables={"HOTLINE_CALLBACK": "42", "HOTLINE_CATEGORY": "medical"},
    )
    assert reply["Message"] == "Originate successfully queued"
    sent = next(a for a in ami.received if a.get("Action") == "Originate")
    assert sent["Variable"] == "HOTLINE_CALLBACK=42\nHOTLINE_CATEGORY=medical"
    assert (sent["Async"], sent["Priority"], sent["Timeout"]) == ("true", "1", "30000")
    await wait_until(lambda: "OriginateResponse" in seen.names(), "the OriginateResponse")
    outcome = next(e for e in seen.items if isinstance(e, AmiEvent) and e.name != "FullyBooted")
    assert isinstance(outcome, OriginateResponse)
    assert outcome.action_id == reply.action_id == reply["ActionID"] != ""


async def test_originate_needs_a_destination(link: AmiLink) -> None:
    with pytest.raises(ValueError, match="either context and exten, or application"):
        await AmiPbx(link).originate("PJSIP/agent101", context="x")


async def test_an_action_asterisk_has_not_loaded_yet_is_tried_again() -> None:
    """Right after a restart Asterisk takes logins before app_queue is loaded."""
    answers: list[Exception | str] = [
        AmiActionError("QueueStatus", "Invalid/unknown command: QueueStatus."),
        AmiActionError("QueueStatus", "Invalid/unknown command: QueueStatus."),
        "status",
    ]

    async def queue_status() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await once_loaded(queue_status, every_s=0.01) == "status"
    assert answers == []
    answers.append(AmiActionError("QueueStatus", "Permission denied"))
    with pytest.raises(AmiActionError, match="Permission denied"):
        await once_loaded(queue_status, every_s=0.01)
    answers.extend([AmiActionError("QueueStatus", "Invalid/unknown command")] * 3)
    with pytest.raises(AmiActionError, match="unknown command"):
        await once_loaded(queue_status, within_s=0.0, every_s=0.01)
