"""Dispatch by phone: the hotline calls a team's phone, reads the order, and takes a key.

``TeamPhoneCaller`` satisfies ``dispatch.ports.TeamCaller``. ``call(order)`` sends an Async
Originate of ``order.dial`` (caller ID 1022, ringing ``ring_s``) into the dialplan context
``hotline-dispatch`` (extensions.conf), which hands the answered phone to the FastAGI script
``dispatch`` (``handle``). There the member hears the order (``PhoneResults.reading``,
spoken by ``dispatch.reading.OrderAudio``) and presses 1 to accept, 2 to hear it again,
9 to refuse; another key is "không hợp lệ" and the order again. Each call ends in exactly
one ``PhoneResults.phone_result``:

==============================  ============================================================
how the call ended              result
==============================  ============================================================
1 / 9                           ``accepted`` / ``refused`` (reported, then confirmed aloud)
three readings without 1 or 9   ``no_key`` (pressing 2 asks again without using one up,
                                up to ``2 × readings`` in all)
hung up before a key            ``no_key``
not answered / busy             ``no_answer`` / ``busy`` (what the failed ``OriginateResponse``
                                and the call's ``DialEnd`` say: ``pbx.events.dial_failure``)
could not ring it               ``failed`` (anything else; the Originate itself failed)
answered, the script never ran  ``failed`` (FastAGI down: the dialplan hangs up)
the reading could not be had    ``failed`` (the member hears "tổng đài sẽ gọi lại sau")
the incident no longer waits    nothing: "this order is no longer needed", and hang up
no valid ``DISPATCH_SIG``       nothing: logged and closed, no key taken (not our call)
==============================  ============================================================

States of one call (``_State``)::

    placing ──reply──► ringing ──OriginateResponse Success──► answered ──script──► reading
       │                  │ Failure: no_answer/busy/failed       │ Hangup, or no script
       │ error: failed    │ no event by ring_s + grace: failed   │ within agi_grace_s: failed
       ▼                  ▼                                      ▼                    ▼
      done ◄─────────────────────────────────────────────────────────────────── a key, none,
                                                                                 a hang-up

Only a call the service placed may acknowledge an order: the Originate carries
``DISPATCH_SIG``, an HMAC (``secret``, per instance, in ``secrets.json``) over the token and
the order, and the script checks it (constant time) before it reads the order or takes a key.
A session that cannot show it (another process playing Asterisk, a forged channel) is logged
and closed: nothing is reported, so the incident still escalates on time. FastAGI itself only
serves our dialplan (``pbx.agi_auth``); this is the second lock, on the order itself.

The script may start before the ``OriginateResponse`` arrives (they race on two sockets),
so ``placing`` and ``ringing`` may go straight to ``reading``. ``done`` is reached once: the
first outcome wins and later ones are ignored. The outcome of the Originate is matched by
the reply's ``action_id`` (an ``OriginateResponse`` that overtakes the reply waits in a short
buffer); the channel's ``DialEnd`` and ``Hangup`` by its account code (``dispatch-<token>``,
also in the CDR). The script finds its call by the token, passed as the AGI's first
argument, or, after a restart of the service, rebuilds the order from the channel's
variables; either way only once the call's signature checks out.

One concern, one call to a team's phone from the Originate to the key; it stays whole because
the AMI outcome and the FastAGI script race, and both must end the same call in exactly one
result.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dispatch.ports import (
    DispatchPbx,
    PhoneChannel,
    PhoneOrder,
    PhoneResult,
    PhoneResults,
)
from dispatch.reading import ACCEPT_KEY, REFUSE_KEY, REPEAT_KEY, OrderAudio
from pbx.events import (
    AmiEvent,
    DialEnd,
    DialFailure,
    Hangup,
    OriginateResponse,
    dial_failure,
    event_names,
)

__all__ = [
    "AGI_SCRIPT",
    "DIAL_END_GRACE_S",
    "DISPATCH_CONTEXT",
    "ORDER_VARIABLES",
    "PhoneCall",
    "TeamPhoneCaller",
    "originate_result",
    "sign_order",
]

log = logging.getLogger(__name__)

DISPATCH_CONTEXT = "hotline-dispatch"
AGI_SCRIPT = "dispatch"
CALLER_ID = '"1022" <1022>'
ALL_KEYS = "0123456789*#"
# The channel variables a call carries (extensions.conf logs them; a restarted service
# rebuilds the order from them).
ORDER_VARIABLES = {
    "token": "DISPATCH_ORDER",
    "incident_id": "DISPATCH_INCIDENT",
    "team_id": "DISPATCH_TEAM",
    "attempt": "DISPATCH_ATTEMPT",
    "phone": "DISPATCH_PHONE",
    "dial": "DISPATCH_DIAL",
}
SIGNATURE_VARIABLE = "DISPATCH_SIG"
# DialEnd and OriginateResponse reach the AMI by different paths inside Asterisk, either may
# come first: an unclear failure waits this long for the DialEnd.
DIAL_END_GRACE_S = 1.0
ACCOUNT_PREFIX = "dispatch-"
# OriginateResponses whose reply we have not read yet (they can overtake it), by ActionID;
# and the tokens of calls that ended, so a script that starts too late is not taken for a
# call placed before a restart.
_EARLY_MAX = 256
_ENDED_MAX = 1024


def originate_result(event: OriginateResponse, dial_status: str = "") -> PhoneResult | None:
    """What an ``OriginateResponse`` (and the ``DialStatus`` of the call's ``DialEnd``, if
    known) says of a call: None when it was answered (the FastAGI script then has the last
    word), else ``no_answer``, ``busy`` or ``failed``."""
    if event.answered:
        return None
    return _PHONE_RESULTS[dial_failure(event.reason, dial_status)]


def sign_order(secret: str, token: str, order: PhoneOrder) -> str:
    """The signature a call to a team's phone carries: HMAC-SHA256 over the call's token and
    everything of the order an acknowledgment would be recorded against."""
    fields = (token, order.incident_id, order.team_id, order.attempt, order.dial, order.phone)
    message = "\x1f".join(str(f) for f in ("dispatch-order-v1", *fields))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


_PHONE_RESULTS = {
    DialFailure.NO_ANSWER: PhoneResult.NO_ANSWER,
    DialFailure.BUSY: PhoneResult.BUSY,
    DialFailure.FAILED: PhoneResult.FAILED,
}


class _State(enum.Enum):
    PLACING = "placing"  # the Originate is on its way
    RINGING = "ringing"  # Asterisk took it; waiting for the OriginateResponse
    ANSWERED = "answered"  # picked up; waiting for the FastAGI script
    READING = "reading"  # the script runs: it reports the result
    DONE = "done"


_NEXT: dict[_State, frozenset[_State]] = {
    _State.PLACING: frozenset({_State.RINGING, _State.READING, _State.DONE}),
    _State.RINGING: frozenset({_State.ANSWERED, _State.READING, _State.DONE}),
    _State.ANSWERED: frozenset({_State.READING, _State.DONE}),
    _State.READING: frozenset({_State.DONE}),
    _State.DONE: frozenset(),
}


@dataclass
class PhoneCall:
    """One call to a team's phone, for logs, tests and the incident's history."""

    order: PhoneOrder
    token: str
    uniqueid: str = ""
    readings: int = 0  # times the order was read (started)
    keys: list[str] = field(default_factory=list)  # "" for a reading without a key
    result: PhoneResult | None = None  # None: not ended, or the order was no longer needed
    ended: bool = False


@dataclass
class _Call:
    info: PhoneCall
    state: _State = _State.PLACING
    action_id: str = ""
    dial_status: str = ""  # the DialEnd's, once seen
    reason: int = 0  # the failed OriginateResponse's
    failing: bool = False  # the Originate failed; waiting for the DialEnd to say how
    watchdog: asyncio.Task[None] | None = None

    @property
    def account(self) -> str:
        """The account code of the call's channel: how its DialEnd and Hangup are known."""
        return ACCOUNT_PREFIX + self.info.token


class TeamPhoneCaller:
    """Calls teams' phones and reads them their orders (see the module docstring).

    ``on_event`` is an AMI listener, ``handle`` the FastAGI script ``dispatch``; ``start()``
    makes the fixed prompts, ``close()`` stops the timers.
    """

    EVENTS: ClassVar[frozenset[str]] = event_names(OriginateResponse, DialEnd, Hangup)
    """What ``on_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        pbx: DispatchPbx,
        results: PhoneResults,
        audio: OrderAudio,
        *,
        secret: str,
        ring_s: int = 30,
        key_wait_ms: int = 6000,
        readings: int = 3,
        answer_grace_s: float = 15.0,
        agi_grace_s: float = 10.0,
        call_limit_s: float = 600.0,
        context: str = DISPATCH_CONTEXT,
        caller_id: str = CALLER_ID,
        history: int = 100,
    ) -> None:
        """``answer_grace_s``: after ``ring_s``, how long the OriginateResponse may take;
        ``agi_grace_s``: from the answer to the FastAGI script; ``call_limit_s``: the
        longest a script may run before ``no_key`` is reported anyway; ``secret`` signs the
        orders (``sign_order``)."""
        if readings < 1:
            raise ValueError("an order is read at least once")
        if not secret:
            raise ValueError(
                "no dispatch secret: provision Asterisk (hotline1022 asterisk start / make "
                "asterisk) or set HOTLINE_DISPATCH_SECRET"
            )
        self._secret = secret
        self.pbx = pbx
        self.results = results
        self.audio = audio
        self.ring_s = ring_s
        self.key_wait_ms = key_wait_ms
        self.readings = readings
        self.answer_grace_s = answer_grace_s
        self.agi_grace_s = agi_grace_s
        self.call_limit_s = call_limit_s
        self.context = context
        self.caller_id = caller_id
        self.recent: deque[PhoneCall] = deque(maxlen=history)
        self._by_token: dict[str, _Call] = {}
        self._by_action: dict[str, _Call] = {}
        self._by_account: dict[str, _Call] = {}
        self._early: OrderedDict[str, OriginateResponse] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> list[PhoneCall]:
        """The calls not ended yet."""
        return [c.info for c in self._by_token.values()]

    async def start(self) -> None:
        """Make the fixed prompts (confirmations, invalid key...) before the first call."""
        await self.audio.prepare()

    async def close(self) -> None:
        """Stop the timers and wait for results being delivered. Calls still ringing or
        being read are left to the incident service's own timers."""
        for call in list(self._by_token.values()):
            if call.watchdog is not None:
                call.watchdog.cancel()
        # A task that ends may hand over to another (a watchdog delivers a result): wait until
        # none is left, so nothing touches the database after the service disposed of it.
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- placing ---------------------------------------------------------------------------

    async def call(self, order: PhoneOrder) -> None:
        """Ring the team's phone; the result comes later through ``PhoneResults``. A call
        that cannot be placed is reported ``failed`` right after this returns (nothing is
        raised, and the result never arrives before this returns: a caller holding a lock
        that ``phone_result`` needs cannot deadlock)."""
        call = _Call(PhoneCall(order, secrets.token_hex(8)))
        self._by_token[call.info.token] = call
        self._by_account[call.account] = call
        self.recent.append(call.info)
        self._spawn(self._warm(order.incident_id), f"warm order {order.incident_id}")
        variables = {
            ORDER_VARIABLES["token"]: call.info.token,
            ORDER_VARIABLES["incident_id"]: str(order.incident_id),
            ORDER_VARIABLES["team_id"]: str(order.team_id),
            ORDER_VARIABLES["attempt"]: str(order.attempt),
            ORDER_VARIABLES["phone"]: order.phone,
            ORDER_VARIABLES["dial"]: order.dial,
            SIGNATURE_VARIABLE: sign_order(self._secret, call.info.token, order),
        }
        log.info(
            "dispatch: incident %d, team %d, attempt %d: calling %s (%s)",
            order.incident_id,
            order.team_id,
            order.attempt,
            order.phone,
            order.dial,
        )
        try:
            reply = await self.pbx.originate(
                order.dial,
                context=self.context,
                exten="s",
                caller_id=self.caller_id,
                variables=variables,
                ring_timeout_ms=self.ring_s * 1000,
                account=call.account,
            )
        except Exception as exc:
            log.warning("dispatch: could not call %s: %s", order.dial, exc)
            if call.state is _State.PLACING:  # else the phone rang and answered anyway
                self._end_soon(call, PhoneResult.FAILED)
            return
        if call.state is not _State.PLACING:
            return
        call.action_id = reply.action_id
        self._move(call, _State.RINGING, self.ring_s + self.answer_grace_s)
        if call.action_id:
            self._by_action[call.action_id] = call
            early = self._early.pop(call.action_id, None)
            if early is not None:
                self.on_event(early)

    async def _warm(self, incident_id: int) -> None:
        """Speak the order while the phone rings, so the member hears it at once."""
        try:
            reading = await self.results.reading(incident_id)
            if reading is not None:
                await self.audio.warm(reading.text)
        except Exception as exc:  # the call itself tries again and says what failed
            log.warning("dispatch: order %d not prepared ahead: %s", incident_id, exc)

    # -- AMI events ------------------------------------------------------------------------

    def on_event(self, ev: AmiEvent) -> None:
        """AMI listener: the Originate's outcome, how the dial ended, and a hang-up before
        the script ran."""
        if isinstance(ev, OriginateResponse):
            self._originate_response(ev)
        elif isinstance(ev, DialEnd):
            call = self._by_account.get(ev.dest_account_code)
            if call is not None:
                call.dial_status = ev.dial_status
                if call.failing:
                    self._not_answered(call)
        elif isinstance(ev, Hangup):
            call = self._by_account.get(ev.account_code)
            if call is not None and call.state is _State.ANSWERED:
                log.warning(
                    "dispatch: %s answered but the order was never read (FastAGI down?)",
                    call.info.order.dial,
                )
                self._end_soon(call, PhoneResult.FAILED)

    def _originate_response(self, ev: OriginateResponse) -> None:
        call = self._by_action.pop(ev.action_id, None)
        if call is None:
            if ev.action_id and ev.action_id not in self._early:
                self._early[ev.action_id] = ev
                while len(self._early) > _EARLY_MAX:
                    self._early.popitem(last=False)
            return
        call.reason = ev.reason
        result = originate_result(ev, call.dial_status)
        if result is PhoneResult.FAILED and not call.dial_status:
            # Perhaps busy, said only by the DialEnd still on its way (or never coming).
            call.failing = True
            self._spawn(self._wait_dial_end(call), f"dial end {call.info.token}")
        elif result is not None:
            self._not_answered(call)
        else:
            call.info.uniqueid = call.info.uniqueid or ev.uniqueid
            if call.state in (_State.PLACING, _State.RINGING):
                self._move(call, _State.ANSWERED, self.agi_grace_s)

    async def _wait_dial_end(self, call: _Call) -> None:
        await asyncio.sleep(DIAL_END_GRACE_S)
        if call.state is not _State.DONE:
            self._not_answered(call)

    def _not_answered(self, call: _Call) -> None:
        result = _PHONE_RESULTS[dial_failure(call.reason, call.dial_status)]
        log.info(
            "dispatch: %s not answered: %s (reason %s, dial status %s)",
            call.info.order.dial,
            result.value,
            call.reason,
            call.dial_status or "?",
        )
        self._end_soon(call, result)

    # -- the FastAGI script ----------------------------------------------------------------

    async def handle(self, channel: PhoneChannel) -> None:
        """FastAGI script ``dispatch``: read the order, take the member's key, report."""
        token = channel.env.get("agi_arg_1", "")
        call = self._by_token.get(token)
        if call is not None and not await self._signed(channel, token, call.info.order):
            return
        if call is None and token in self._ended:
            # Its time ran out before the script started: reported already, and it will
            # be tried again.
            await channel.stream_file(await self.audio.fixed("unavailable"))
            return
        if call is None:
            order = await self._order_of(channel)
            if order is None:
                await channel.stream_file(await self.audio.fixed("not_needed"))
                return
            if not await self._signed(channel, token, order):
                return
            call = self._adopt(order, token)
        self._move(call, _State.READING, self.call_limit_s)
        call.info.uniqueid = call.info.uniqueid or channel.uniqueid
        try:
            await self._converse(call, channel)
        finally:
            if call.state is not _State.DONE:  # hung up (or failed) before a key we take
                await self._end(call, PhoneResult.NO_KEY)

    async def _order_of(self, channel: PhoneChannel) -> PhoneOrder | None:
        """The order a call carries in its channel variables, or None when they are missing
        (not yet trusted: ``_signed`` says whether the service placed it)."""
        values: dict[str, str] = {}
        for key, name in ORDER_VARIABLES.items():
            values[key] = await channel.get_variable(name) or ""
        try:
            return PhoneOrder(
                incident_id=int(values["incident_id"]),
                team_id=int(values["team_id"]),
                attempt=int(values["attempt"]),
                dial=values["dial"],
                phone=values["phone"],
            )
        except ValueError:
            log.warning("dispatch: FastAGI call %s carries no order", channel.uniqueid)
            return None

    def _adopt(self, order: PhoneOrder, token: str) -> _Call:
        """A call this process did not place (the service restarted while it rang), signed."""
        log.info("dispatch: order of incident %d answered after a restart", order.incident_id)
        call = _Call(PhoneCall(order, token))
        self._by_token[call.info.token] = call
        self.recent.append(call.info)
        return call

    async def _signed(self, channel: PhoneChannel, token: str, order: PhoneOrder) -> bool:
        """True if the channel carries this service's signature of ``order``; else log (no
        secret, no signature) and say False: the session must not touch the order."""
        shown = await channel.get_variable(SIGNATURE_VARIABLE) or ""
        expected = sign_order(self._secret, token, order)
        if token and hmac.compare_digest(expected.encode(), shown.encode()):
            return True
        log.warning(
            "dispatch: FastAGI session %s for incident %d, team %d, attempt %d %s; refused: "
            "only a call the service placed may acknowledge an order",
            channel.uniqueid,
            order.incident_id,
            order.team_id,
            order.attempt,
            "carries a wrong signature" if shown else "carries no signature",
        )
        return False

    async def _converse(self, call: _Call, channel: PhoneChannel) -> None:
        order = call.info.order
        await channel.answer()
        try:
            reading = await self.results.reading(order.incident_id)
        except Exception:
            log.exception("dispatch: no reading for incident %d", order.incident_id)
            await self._end(call, PhoneResult.FAILED)
            await channel.stream_file(await self.audio.fixed("unavailable"))
            return
        if reading is None:
            log.info(
                "dispatch: incident %d no longer waits for team %d",
                order.incident_id,
                order.team_id,
            )
            await self._end(call, None)
            await channel.stream_file(await self.audio.fixed("not_needed"))
            return
        spoken = False
        try:
            async with self.audio.hold(reading.text) as parts:
                spoken = True
                await self._read(call, channel, parts)
        except Exception:
            if spoken:
                raise  # a hang-up or a failed command while reading: handle() says no_key
            log.exception("dispatch: order of incident %d could not be spoken", order.incident_id)
            await self._end(call, PhoneResult.FAILED)
            await channel.stream_file(await self.audio.fixed("unavailable"))

    async def _read(self, call: _Call, channel: PhoneChannel, parts: list[str]) -> None:
        misses = 0
        while misses < self.readings and call.info.readings < 2 * self.readings:
            call.info.readings += 1
            key = await self._read_once(channel, parts)
            call.info.keys.append(key or "")
            if key == ACCEPT_KEY:
                await self._end(call, PhoneResult.ACCEPTED)
                await channel.stream_file(await self.audio.fixed("accepted"))
                return
            if key == REFUSE_KEY:
                await self._end(call, PhoneResult.REFUSED)
                await channel.stream_file(await self.audio.fixed("refused"))
                return
            if key == REPEAT_KEY:
                continue
            misses += 1
            if key is not None:
                await channel.stream_file(await self.audio.fixed("invalid"))
        await self._end(call, PhoneResult.NO_KEY)
        await channel.stream_file(await self.audio.fixed("no_key"))

    async def _read_once(self, channel: PhoneChannel, parts: list[str]) -> str | None:
        """The order once, part by part; a key cuts it short. Then wait for a key."""
        for part in parts:
            key = await channel.stream_file(part, ALL_KEYS)
            if key:
                return key
        return await channel.wait_for_digit(self.key_wait_ms) or None

    # -- states and results ----------------------------------------------------------------

    def _move(self, call: _Call, to: _State, within_s: float) -> bool:
        """Go to state ``to``, which must end within ``within_s``; False if not allowed."""
        if to not in _NEXT[call.state]:
            return False
        call.state = to
        if call.watchdog is not None:
            call.watchdog.cancel()
        call.watchdog = self._spawn(self._watch(call, within_s), f"watch {call.info.token}")
        return True

    async def _watch(self, call: _Call, within_s: float) -> None:
        """End the call when its state outlives its deadline (a lost event, no script)."""
        await asyncio.sleep(within_s)
        if call.state is not _State.DONE:
            result = PhoneResult.NO_KEY if call.state is _State.READING else PhoneResult.FAILED
            log.warning(
                "dispatch: call %s to %s still %s at its deadline: %s",
                call.info.token,
                call.info.order.dial,
                call.state.value,
                result.value,
            )
            await self._end(call, result)

    def _finish(self, call: _Call, result: PhoneResult | None) -> bool:
        """Mark the call done with ``result``; False if it was done already."""
        if call.state is _State.DONE:
            return False
        call.state = _State.DONE
        call.info.result = result
        call.info.ended = True
        self._by_token.pop(call.info.token, None)
        self._ended[call.info.token] = None
        while len(self._ended) > _ENDED_MAX:
            self._ended.popitem(last=False)
        self._by_action.pop(call.action_id, None)
        self._by_account.pop(call.account, None)
        watchdog = call.watchdog
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
        return True

    async def _end(self, call: _Call, result: PhoneResult | None) -> None:
        """Report ``result`` (None: nothing to report) unless the call ended already."""
        if self._finish(call, result) and result is not None:
            await self._deliver(call.info.order, result)

    def _end_soon(self, call: _Call, result: PhoneResult) -> None:
        """``_end`` from a listener, which must not wait for the incident service."""
        if self._finish(call, result):
            self._spawn(self._deliver(call.info.order, result), f"result {call.info.token}")

    async def _deliver(self, order: PhoneOrder, result: PhoneResult) -> None:
        log.info(
            "dispatch: incident %d, team %d, attempt %d: %s",
            order.incident_id,
            order.team_id,
            order.attempt,
            result.value,
        )
        try:
            await self.results.phone_result(order, result)
        except Exception:
            log.exception(
                "dispatch: result %s of incident %d not recorded", result.value, order.incident_id
            )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
