"""Runs a menu (``ivr/menu.py``, loaded from its file by ``ivr/menu_file.py``) for one call
over FastAGI.

What each key does, in every menu:

- a key the node lists: go where it leads;
- ``*``: back to the previous menu (at the first menu: "you are at the main menu", retry);
- any other key, or ``#`` alone: invalid — the invalid prompt, then the menu again;
- nothing within the timeout: the no-input prompt, then the menu again;
- after ``1 + retries`` attempts without a valid key: the node's ``on_exhausted`` target
  (the file's ``default``: the operator queue), and the call's route becomes ``default``.

A key pressed while an announcement or a confirmation plays interrupts it and counts as the
answer to the next menu (type-ahead), so a caller who knows the tree need not wait. Digits
pressed faster than the menus ask for them are taken one per menu, in order; whatever is
left when the call reaches a queue is ignored.

Asterisk drops the keys a caller presses while no AGI command runs, so a key typed ahead
while the service decides what follows the previous one would be lost (and the busier the
machine, the longer that gap). So a menu is read with the menus its keys lead straight to
(``IvrChannel.read_menus``: one AGI command plays the next menu as soon as a key leads to
it, and reads its key); the engine then takes those keys one menu at a time as if each had
been read on its own, so the path, the journal and the outcome are the same.

The outcome goes back to the dialplan as channel variables; ``HOTLINE_QUEUE`` is set last,
so a session that fails part-way leaves it empty and the dialplan's fallback (the operator
queue) takes the caller: never silence. A ``hangup`` node sets ``HOTLINE_DONE=hangup``.

Callbacks (``queues/callbacks.py``), when the engine is given a ``CallbackDesk``:

- at a queue node, if the queue's estimated wait is past the threshold, the caller hears
  "more than N minutes; press 1 to be called back keeping your place, any other key or
  nothing to hold". On 1 the callback is recorded, ``HOTLINE_DONE=callback`` (with the
  queue's variables as usual) and the dialplan confirms and hangs up; a caller whose
  number may not be called back (outside the numbering plan, or past the caps) hears why
  instead, and holds;
- a caller who has a callback pending is told so before the first menu, and 1 keeps it
  and ends the call the same way (with the pending callback's queue variables); any other
  key or nothing goes on to the menu, where they are not offered a second callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from ivr.menu import (
    AnnouncementNode,
    DistrictNode,
    HangupNode,
    Menu,
    MenuNode,
    QueueNode,
)
from ivr.ports import (
    CallbackDesk,
    CallbackRefusal,
    CallbackRequest,
    CallerHistory,
    IvrChannel,
    IvrRecorder,
    IvrStep,
)
from ivr.prompts import callback_offer_prompt

__all__ = ["BACK_KEY", "MAX_STEPS", "MenuEngine"]

log = logging.getLogger(__name__)

# What a caller who may not be called back hears instead of the offer (then they hold).
REFUSAL_PROMPTS = {
    CallbackRefusal.NUMBER: "callback_refused_number",
    CallbackRefusal.LIMIT: "callback_refused_limit",
}

BACK_KEY = "*"
# A caller wandering the tree this long is sent to the default queue rather than kept.
MAX_STEPS = 60
ALL_KEYS = "0123456789*#"
# At most this many menus read in one AGI command.
MAX_READS = 16
# How long a menu's read waits for the caller's history before it goes without it.
HISTORY_WAIT_S = 0.1


@dataclass
class _Call:
    channel: IvrChannel
    menu: Menu
    keys: list[str] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # menus visited, for "*"
    pending: str | None = None  # a key pressed during the last prompt (type-ahead)
    exhausted: bool = False
    district: int | None = None
    steps: int = 0
    # The caller's last district: known from memory at once (``CallerHistory.recall``), or
    # looked up while the first prompt plays: Asterisk drops the keys a caller presses
    # between two AGI commands, so no lookup may sit there.
    last_district: asyncio.Future[int | None] | None = None
    # Menus already read in the command that read the previous one: (prompt, answer).
    read_ahead: deque[tuple[str, tuple[str, bool]]] = field(default_factory=deque)

    @property
    def caller(self) -> str:
        number = self.channel.env.get("agi_callerid", "")
        return "" if number in ("", "unknown") else number


class MenuEngine:
    def __init__(
        self,
        menu: Callable[[], Menu],
        prompts_dir: str,
        recorder: IvrRecorder,
        history: CallerHistory,
        route: Callable[[str, int | None, int], str] | None = None,
        callbacks: CallbackDesk | None = None,
        prompt_seconds: Callable[[str], float] | None = None,
    ) -> None:
        self._menu = menu
        self.prompts_dir = prompts_dir
        self.recorder = recorder
        self.history = history
        # The menu names a category's queue; routing picks the one the caller waits in
        # (by district and priority, queues/routing.py). Without it, the menu's queue.
        self._route = route or (lambda queue, _district, _priority: queue)
        self.callbacks = callbacks
        # How long each prompt plays (``IvrService.prompt_seconds``): Asterisk answers a
        # STREAM FILE or GET DATA only when the prompt ends, however long it is.
        self._seconds = prompt_seconds or (lambda _name: 0.0)

    def _prompt(self, name: str) -> str:
        return f"{self.prompts_dir}/{name}"

    async def _stream(self, call: _Call, prompt: str, escape_digits: str) -> str | None:
        return await call.channel.stream_file(
            self._prompt(prompt), escape_digits, playing_s=self._seconds(prompt)
        )

    async def _get_data(self, call: _Call, prompt: str, timeout_ms: int) -> tuple[str, bool]:
        return await call.channel.get_data(
            self._prompt(prompt), timeout_ms, 1, playing_s=self._seconds(prompt)
        )

    def _record(self, call: _Call, node: str, kind: str, key: str | None = None) -> None:
        self.recorder.ivr_step(call.channel.uniqueid, IvrStep(node, kind, key, datetime.now(UTC)))

    async def handle(self, channel: IvrChannel) -> None:
        """FastAGI entry point. The menu is read once per call: a reload mid-call leaves
        this caller on the menu they started with."""
        call = _Call(channel, self._menu())
        districts = call.menu.districts
        if districts is not None and call.caller:
            known, last = self.history.recall(call.caller, districts.remember_days)
            if known:  # the first menu is read at once, with the menus it leads to
                call.last_district = asyncio.get_running_loop().create_future()
                call.last_district.set_result(last)
            else:
                call.last_district = asyncio.create_task(
                    self.history.last_district(call.caller, districts.remember_days)
                )
        try:
            await self._walk(call)
        finally:
            if call.last_district is not None and not call.last_district.done():
                call.last_district.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await call.last_district

    async def _walk(self, call: _Call) -> None:
        channel = call.channel
        node_id = call.menu.start
        if await self._keeps_pending_callback(call):
            return
        while True:
            call.steps += 1
            if call.steps > MAX_STEPS:
                log.warning("call %s: %d steps in the menu; default", channel.uniqueid, MAX_STEPS)
                node_id = self._default(call)
                call.exhausted = True
            node = call.menu.nodes[node_id]
            self._record(call, node_id, "enter")
            if isinstance(node, MenuNode):
                node_id = await self._run_menu(call, node)
            elif isinstance(node, DistrictNode):
                node_id = await self._run_district(call, node)
            elif isinstance(node, AnnouncementNode):
                node_id = await self._run_announcement(call, node)
            elif isinstance(node, QueueNode):
                await self._enqueue(call, node)
                return
            else:
                assert isinstance(node, HangupNode)
                await self._hangup(call, node)
                return

    def _default(self, call: _Call) -> str:
        start = call.menu.nodes[call.menu.start]
        return start.on_exhausted if isinstance(start, MenuNode) else call.menu.start

    async def _ask(
        self,
        call: _Call,
        prompt: str,
        timeout_ms: int,
        node_id: str | None = None,
        leads_to: dict[str, str] | None = None,
    ) -> tuple[str, bool]:
        """The answer to ``prompt``: a key typed ahead, one read with the previous menu, or
        read now (with the menus that ``leads_to``, node ``node_id``'s keys, lead to)."""
        if call.pending is not None:
            key, call.pending = call.pending, None
            return key, False
        if call.read_ahead:
            read_prompt, answer = call.read_ahead.popleft()
            if read_prompt == prompt:
                return answer
            # Not the menu read ahead (cannot happen: the same rules chose it): ask again.
            log.error(
                "call %s: read %s ahead, asked %s", call.channel.uniqueid, read_prompt, prompt
            )
            call.read_ahead.clear()
        if node_id is None or leads_to is None:
            return await self._get_data(call, prompt, timeout_ms)
        task = call.last_district
        if task is not None and not task.done() and self._reaches_district(call, leads_to):
            # Whether a district node asks at once or first confirms last time's district
            # depends on the lookup: known first, so that the district menu can be read
            # with this one; but not for long, for the caller may already be pressing a
            # key (a slower lookup leaves the district menu to a command of its own).
            await asyncio.wait({task}, timeout=HISTORY_WAIT_S)
        asks, prompts = self._asks_ahead(call, node_id, prompt, timeout_ms, leads_to)
        if not asks[0][2]:
            return await self._get_data(call, prompt, timeout_ms)
        reads = await call.channel.read_menus(
            [(self._prompt(p), t, then) for p, t, then in asks],
            max_reads=max(1, min(MAX_READS, MAX_STEPS - call.steps + 1)),
            playing_s=sum(self._seconds(p) or 0.0 for p in prompts),
        )
        at = 0
        for (key, _), answer in pairwise(reads):
            following = asks[at][2].get(key)
            if following is None:  # Asterisk read on after a key that leads nowhere
                log.error("call %s: menus read past %r: %r", call.channel.uniqueid, key, reads)
                break
            at = following
            call.read_ahead.append((asks[at][0], answer))
        return reads[0]

    def _ask_point(self, call: _Call, node_id: str) -> tuple[str, int, dict[str, str]] | None:
        """What entering ``node_id`` asks first, if that is surely a key, with no prompt or
        lookup before it: (prompt, timeout_ms, key -> node it leads to)."""
        node = call.menu.nodes.get(node_id)
        if isinstance(node, MenuNode):
            return node.prompt, node.timeout_ms, dict(node.keys)
        if isinstance(node, DistrictNode) and self._asks_district(call):
            districts = call.menu.districts
            assert districts is not None
            return (
                districts.prompt,
                self._timeout_ms(call),
                dict.fromkeys(districts.units, node.next),
            )
        return None

    def _reaches_district(self, call: _Call, leads_to: dict[str, str]) -> bool:
        """True if a district node is among the nodes read ahead from ``leads_to``."""
        seen: set[str] = set()
        todo = list(leads_to.values())
        while todo:
            node_id = todo.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            node = call.menu.nodes.get(node_id)
            if isinstance(node, DistrictNode):
                return True
            if isinstance(node, MenuNode):
                todo.extend(node.keys.values())
        return False

    def _asks_district(self, call: _Call) -> bool:
        """True when a district node asks for the district at once: no last district to
        confirm (known now: the lookup is done)."""
        districts = call.menu.districts
        if districts is None:
            return False
        task = call.last_district
        if task is None:
            return True
        if not task.done():
            return False
        if task.cancelled() or task.exception() is not None:
            return True
        last = task.result()
        return last is None or districts.by_code(last) is None

    def _asks_ahead(
        self, call: _Call, node_id: str, prompt: str, timeout_ms: int, leads_to: dict[str, str]
    ) -> tuple[list[tuple[str, int, dict[str, int]]], list[str]]:
        """The menus a read may go through from ``node_id``'s: (prompt, timeout_ms, key ->
        index of the menu it leads to), the first being ``node_id``'s own."""
        asks: list[tuple[str, int, dict[str, int]]] = [(prompt, timeout_ms, {})]
        index = {node_id: 0}
        todo: deque[tuple[int, dict[str, str]]] = deque([(0, leads_to)])
        while todo:
            i, keys = todo.popleft()
            for key, target in keys.items():
                j = index.get(target)
                if j is None:
                    point = self._ask_point(call, target)
                    if point is None:
                        continue
                    j = index[target] = len(asks)
                    asks.append((point[0], point[1], {}))
                    todo.append((j, point[2]))
                asks[i][2][key] = j
        return asks, [a[0] for a in asks]

    async def _play(self, call: _Call, prompt: str) -> str | None:
        """Play a prompt; a key pressed during it interrupts it and is kept for next."""
        if call.pending is not None:
            return call.pending
        key = await self._stream(call, prompt, ALL_KEYS)
        if key:
            call.pending = key
        return key

    async def _choose(
        self,
        call: _Call,
        node_id: str,
        prompt: str,
        keys: dict[str, str],
        *,
        timeout_ms: int,
        retries: int,
        invalid_prompt: str,
        timeout_prompt: str,
        read_from: str | None = None,
        leads_to: dict[str, str] | None = None,
    ) -> str | None:
        """Ask until a listed key; return its target, None for "*" (back) or exhaustion.
        ``read_from``/``leads_to``: the node asking and the nodes its keys lead to, to read
        the next menus' keys along with this one's (``_ask``)."""
        for _ in range(1 + retries):
            digits, timed_out = await self._ask(call, prompt, timeout_ms, read_from, leads_to)
            if digits in keys:
                call.keys.append(digits)
                self._record(call, node_id, "key", digits)
                return keys[digits]
            if digits == BACK_KEY and call.history:
                call.keys.append(digits)
                self._record(call, node_id, "back", digits)
                return None
            if timed_out and not digits:
                self._record(call, node_id, "timeout")
                await self._play(call, timeout_prompt)
            elif digits == BACK_KEY:
                self._record(call, node_id, "invalid", digits)
                await self._play(call, "back_unavailable")
            else:
                self._record(call, node_id, "invalid", digits or "#")
                await self._play(call, invalid_prompt)
        self._record(call, node_id, "exhausted")
        call.exhausted = True
        raise _Exhausted

    async def _run_menu(self, call: _Call, node: MenuNode) -> str:
        try:
            target = await self._choose(
                call,
                node.id,
                node.prompt,
                node.keys,
                timeout_ms=node.timeout_ms,
                retries=node.retries,
                invalid_prompt=node.invalid_prompt,
                timeout_prompt=node.timeout_prompt,
                read_from=node.id,
                leads_to=node.keys,
            )
        except _Exhausted:
            return node.on_exhausted
        if target is None:
            return call.history.pop()
        call.history.append(node.id)
        return target

    async def _run_district(self, call: _Call, node: DistrictNode) -> str:
        districts = call.menu.districts
        assert districts is not None, "validated: a district node needs a districts section"
        start = call.menu.nodes[call.menu.start]
        timeout_ms = self._timeout_ms(call)
        retries = start.retries if isinstance(start, MenuNode) else 2
        if call.last_district is not None:
            try:
                last = await call.last_district
            except Exception:
                log.exception("call %s: caller history failed", call.channel.uniqueid)
                last = None
            unit = districts.by_code(last) if last is not None else None
            if unit is not None:
                await self._play(call, districts.confirm_before)
                await self._play(call, unit.prompt)
                try:
                    answer = await self._choose(
                        call,
                        node.id,
                        districts.confirm_after,
                        {"1": "confirm", "2": "other"},
                        timeout_ms=timeout_ms,
                        retries=retries,
                        invalid_prompt="invalid",
                        timeout_prompt="no_input",
                    )
                except _Exhausted:
                    answer = "confirm"  # silence: keep last time's district, don't block help
                    call.exhausted = False
                if answer is None:
                    return call.history.pop()
                if answer == "confirm":
                    call.district = unit.code
                    self._record(call, node.id, "confirm", str(unit.code))
                    return node.next
        keys = {k: str(u.code) for k, u in districts.units.items()}
        try:
            code = await self._choose(
                call,
                node.id,
                districts.prompt,
                keys,
                timeout_ms=timeout_ms,
                retries=retries,
                invalid_prompt="invalid",
                timeout_prompt="no_input",
                read_from=node.id,
                leads_to=dict.fromkeys(keys, node.next),
            )
        except _Exhausted:
            return node.next  # no district: the call still goes where it was going
        if code is None:
            return call.history.pop()
        call.district = int(code)
        self._record(call, node.id, "district", code)
        return node.next

    async def _run_announcement(self, call: _Call, node: AnnouncementNode) -> str:
        key = await self._play(call, node.prompt)
        if key is None:
            self._record(call, node.id, "heard")
        elif key == BACK_KEY and call.history:
            call.pending = None
            call.keys.append(key)
            self._record(call, node.id, "back", key)
            return call.history.pop()
        return node.next

    def _timeout_ms(self, call: _Call) -> int:
        start = call.menu.nodes[call.menu.start]
        return start.timeout_ms if isinstance(start, MenuNode) else 5000

    async def _keeps_pending_callback(self, call: _Call) -> bool:
        """A caller with a callback pending hears so; True if they keep it and leave."""
        if self.callbacks is None or not call.caller:
            return False
        pending = self.callbacks.pending(call.caller)
        if pending is None:
            return False
        start = call.menu.start
        self._record(call, start, "repeat")
        digits, _ = await self._get_data(call, "callback_repeat", self._timeout_ms(call))
        if digits != "1":
            return False  # any other key means "go on": it is not an answer to the menu
        self._record(call, start, "callback", digits)
        await self._route_to(
            call,
            pending.category or "",
            pending.priority,
            pending.queue,
            pending.district,
            done="callback",
        )
        return True

    async def _enqueue(self, call: _Call, node: QueueNode) -> None:
        if node.prompt:
            call.pending = None  # leftover type-ahead means nothing now
            await self._stream(call, node.prompt, "")
        self._record(call, node.id, "queue")
        queue = self._route(node.queue, call.district, node.priority)
        done = "callback" if await self._takes_callback(call, node, queue) else None
        await self._route_to(call, node.category, node.priority, queue, call.district, done=done)

    async def _takes_callback(self, call: _Call, node: QueueNode, queue: str) -> bool:
        """Offer a callback if the wait is long; True if the caller took it."""
        if self.callbacks is None or not call.caller:
            return False
        offer = self.callbacks.offer(queue, call.caller)
        if offer is None:
            return False
        if offer.refused is not None:
            call.pending = None
            await call.channel.stream_file(self._prompt(REFUSAL_PROMPTS[offer.refused]), "")
            return False
        since = datetime.now(UTC)  # where the caller would have joined the queue
        self._record(call, node.id, "offer")
        call.pending = None
        digits, _ = await self._get_data(
            call, callback_offer_prompt(offer.estimated_wait_s), self._timeout_ms(call)
        )
        if digits != "1":
            return False
        request = CallbackRequest(
            call_uniqueid=call.channel.uniqueid,
            caller_number=call.caller,
            category=node.category,
            queue=queue,
            priority=node.priority,
            district=call.district,
            since=since,
        )
        try:
            recorded = await self.callbacks.request(request)
        except Exception:
            log.exception("call %s: callback not recorded; the caller holds", request.call_uniqueid)
            recorded = False
        if recorded:
            self._record(call, node.id, "callback", digits)
        return recorded

    async def _route_to(
        self,
        call: _Call,
        category: str,
        priority: int,
        queue: str,
        district: int | None,
        *,
        done: str | None = None,
    ) -> None:
        pairs = [
            ("HOTLINE_CATEGORY", category),
            ("HOTLINE_PRIO", str(priority)),
            ("HOTLINE_CHOICE", "".join(call.keys)),
            ("HOTLINE_ROUTE", "default" if call.exhausted else "ivr"),
            ("HOTLINE_DISTRICT", str(district or "")),
        ]
        if done is not None:
            pairs.append(("HOTLINE_DONE", done))
        # In one command (the caller waits on each round trip); the queue last all the same.
        await call.channel.set_variables([*pairs, ("HOTLINE_QUEUE", queue)])

    async def _hangup(self, call: _Call, node: HangupNode) -> None:
        if node.prompt:
            await self._stream(call, node.prompt, "")
        self._record(call, node.id, "hangup")
        await call.channel.set_variable("HOTLINE_DONE", "hangup")


class _Exhausted(Exception):
    """No valid key after every attempt."""
