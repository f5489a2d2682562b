"""The menu file compiled to plain Asterisk dialplan: the same menu, without FastAGI.

``compile_menu()`` renders a loaded ``Menu`` (``ivr/menu.py``) as an extensions.conf
context, one extension per node, named after the node id::

    text = compile_menu(load_menu(DEFAULT_MENU), ast.prompts_dir)

Provisioning writes it to the instance's ``extensions_menu.conf``; ``exten => 1023`` in the
``[citizens]`` context enters it at ``s``. It exists so that the benchmark
``bench/ivr_agi_vs_dialplan.py`` can compare the service's engine (``ivr/engine.py``, over
FastAGI on 1022) with the same menu run by Asterisk alone. 1022 stays the hotline's number.

What each node becomes, with the engine's key semantics:

- menu: ``Read()`` of one key with the node's timeout, ``1 + retries`` attempts. A listed
  key goes where it leads; ``*`` goes back to the menu the caller came from (a ``/``-separated
  stack in ``IVR_HISTORY``, ``PUSH``/``POP``), or says "you are at the main menu" when there
  is none; any other key or ``#`` alone is invalid; nothing is no-input. The invalid /
  no-input / back-unavailable prompt is played before the menu prompt of the next attempt
  (``Read(...,invalid&menu,...)``), so a key pressed during it answers that attempt. After
  the last attempt the prompt is played once more and the caller goes to ``on_exhausted``;
  the call's route becomes ``default``.
- district: a 9-key menu (the file's ``districts`` prompt, the start menu's timeout and
  retries, ``invalid`` / ``no_input``); the key's unit code becomes ``HOTLINE_DISTRICT``.
  There is NO returning-caller confirmation ("last time you were in ..."): that needs the
  caller's history from the database, which plain dialplan does not have.
- announcement: ``Background()`` so a key interrupts it; the key is kept (``IVR_PENDING``)
  and answers the next menu (type-ahead), except ``*``, which goes back.
- queue: its prompt (not interruptible), then ``HOTLINE_CATEGORY``, ``HOTLINE_PRIO``,
  ``HOTLINE_CHOICE`` (the keys that chose, ``*`` included), ``HOTLINE_ROUTE`` (``ivr`` or
  ``default``), ``HOTLINE_DISTRICT`` and ``HOTLINE_QUEUE`` last, then
  ``Goto(citizens,1022,enqueue)``: the same ``UserEvent(HotlineRoute)`` and ``Queue()`` as a
  call the engine routed.
- hangup: its prompt, ``HOTLINE_DONE=hangup``, ``Hangup()``.

As in the engine, a caller who wanders through more than ``MAX_STEPS`` nodes is sent to the
start menu's ``on_exhausted`` node (route ``default``).

What it does not do, unlike the engine: no IVR steps are recorded (calls have no
``ivr_path``), and a menu reloaded with ``hotline1022 ivr reload`` reaches this dialplan only
when Asterisk is provisioned again (``make asterisk``). Announcements a supervisor changes are
heard at once: both play the same sound files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ivr.engine import MAX_STEPS
from ivr.menu import (
    AnnouncementNode,
    DistrictNode,
    HangupNode,
    Menu,
    MenuNode,
    QueueNode,
)

__all__ = ["ENTRY", "compile_menu", "extension_names"]

ENTRY = "s"
"""The extension of the compiled context a call enters at: ``Goto(ivr-dialplan,s,1)``."""

ENQUEUE = "citizens,1022,enqueue"
"""Where a call goes once the queue variables are set: the hotline's own UserEvent + Queue."""

# Extension names Asterisk gives a meaning to, plus the compiled context's own helper.
_STEPS_EXCEEDED = "steps_exceeded"
_RESERVED = frozenset({ENTRY, "i", "t", "h", "e", "o", "a", "T", "fax", "talk", _STEPS_EXCEEDED})
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Characters a name may carry into the dialplan unquoted (no , ; & $ [ ] ( ) " \ or spaces).
_SAFE_VALUE = re.compile(r"[A-Za-z0-9_.@+-]+")
_SAFE_PATH = re.compile(r"[A-Za-z0-9_./@+-]+")


def extension_names(menu: Menu) -> dict[str, str]:
    """The extension of each node: its id when Asterisk takes it as a plain name, else
    ``node<N>_<id with other characters as _>`` (dashes, for one, are ignored when Asterisk
    matches an extension, so ``a-b`` and ``ab`` would be the same)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for index, nid in enumerate(menu.nodes, 1):
        if _PLAIN_NAME.fullmatch(nid) and nid not in _RESERVED and nid.lower() not in taken:
            name = nid
        else:
            name = f"node{index}_{re.sub(r'[^A-Za-z0-9]', '_', nid)}".rstrip("_")
        names[nid] = name
        taken.add(name.lower())
    return names


def compile_menu(
    menu: Menu,
    prompts_dir: str,
    *,
    context: str = "ivr-dialplan",
    enqueue: str = ENQUEUE,
    route: Route | None = None,
) -> str:
    """``menu`` as extensions.conf text: ``[context]`` and its two helper contexts.

    ``prompts_dir`` is where Asterisk finds the prompts (``Asterisk.prompts_dir``, as the
    engine plays them); ``enqueue`` is the ``context,exten,label`` that queues the caller;
    ``route`` picks the queue from the menu's queue, the district and the priority, as the
    engine's does (``RoutingPolicy.queue_for``).
    """
    if not _SAFE_PATH.fullmatch(prompts_dir):
        raise ValueError(f"prompts directory {prompts_dir!r} cannot be written in dialplan")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", context):
        raise ValueError(f"bad context name {context!r}")
    return _Compiler(
        menu, prompts_dir.rstrip("/"), context, enqueue, route or _menu_queue
    ).compile()


Route = Callable[[str, int | None, int], str]


def _menu_queue(queue: str, _district: int | None, _priority: int) -> str:
    return queue


class _Extension:
    """One extension's priorities: ``exten => name,1,...`` then ``same => n,...``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[tuple[str | None, str]] = []

    def add(self, app: str, label: str | None = None) -> None:
        self.lines.append((label, app))

    def render(self) -> list[str]:
        out = []
        for i, (label, app) in enumerate(self.lines):
            prio = ("1" if i == 0 else "n") + (f"({label})" if label else "")
            head = f"exten => {self.name}," if i == 0 else " same => "
            out.append(f"{head}{prio},{app}")
        return out


def _safe(value: str, what: str) -> str:
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"{what} {value!r} cannot be written in dialplan")
    return value


def _seconds(ms: int) -> str:
    return f"{ms / 1000:g}"


class _Compiler:
    def __init__(
        self, menu: Menu, prompts_dir: str, context: str, enqueue: str, route: Route
    ) -> None:
        self.menu = menu
        self.route = route
        self.prompts_dir = prompts_dir
        self.ctx = context
        self.ahead = f"{context}-ahead"  # a key during a message: kept for the next menu
        self.announce = f"{context}-announce"  # the same, but "*" goes back
        self.enqueue = enqueue
        self.ext = extension_names(menu)
        start = menu.nodes[menu.start]
        self.default = start.on_exhausted if isinstance(start, MenuNode) else menu.start
        # District nodes ask with the start menu's timing, as the engine does.
        self.district_timeout_ms = start.timeout_ms if isinstance(start, MenuNode) else 5000
        self.district_retries = start.retries if isinstance(start, MenuNode) else 2

    def prompt(self, name: str) -> str:
        return f"{self.prompts_dir}/{_safe(name, 'prompt name')}"

    def goto(self, nid: str) -> str:
        return f"Goto({self.ctx},{self.ext[nid]},1)"

    def compile(self) -> str:
        menu = self.menu
        out = [
            f"; The menu {menu.source.name} compiled to dialplan by ivr/dialplan.py at",
            "; provisioning. Do not edit: edit the menu file and provision again.",
            "; A call enters at 's' (exten 1022 runs the same menu over FastAGI instead).",
            f"[{self.ctx}]",
        ]
        entry = _Extension(ENTRY)
        entry.add("NoOp(IVR as dialplan: ${CALLERID(num)} ${UNIQUEID})")
        entry.add("Set(IVR_STEPS=0)")
        entry.add(self.goto(menu.start))
        out += entry.render()
        too_long = _Extension(_STEPS_EXCEEDED)
        too_long.add(f"NoOp(more than {MAX_STEPS} steps in the menu: the default)")
        too_long.add("Set(IVR_EXHAUSTED=1)")
        too_long.add(self.goto(self.default))
        out += too_long.render()
        for nid, node in menu.nodes.items():
            ext = _Extension(self.ext[nid])
            kind = type(node).__name__.removesuffix("Node").lower()
            shown = re.sub(r"[^A-Za-z0-9_.-]", "?", nid)
            ext.add(f"NoOp({kind} {shown} at line {node.line})")
            if nid != self.default:
                ext.add("Set(IVR_STEPS=$[${IVR_STEPS} + 1])")
                ext.add(f"GotoIf($[${{IVR_STEPS}} > {MAX_STEPS}]?{_STEPS_EXCEEDED},1)")
            if isinstance(node, MenuNode):
                self.menu_node(ext, node)
            elif isinstance(node, DistrictNode):
                self.district_node(ext, node)
            elif isinstance(node, AnnouncementNode):
                self.announcement_node(ext, node)
            elif isinstance(node, QueueNode):
                self.queue_node(ext, node)
            else:
                assert isinstance(node, HangupNode)
                self.hangup_node(ext, node)
            out += ["", *ext.render()]
        out += ["", *self.helpers()]
        return "\n".join(out) + "\n"

    def choose(
        self,
        ext: _Extension,
        prompt: str,
        keys: dict[str, list[str]],
        *,
        timeout_ms: int,
        retries: int,
        invalid_prompt: str,
        timeout_prompt: str,
        on_exhausted: str,
    ) -> None:
        """Ask for one of ``keys`` (key -> the priorities it runs), as ``_choose`` does."""
        for key in keys:
            if len(key) != 1 or not key.isdigit():
                raise ValueError(f"key {key!r}: a menu key is one digit")
        menu_prompt = self.prompt(prompt)
        ext.add("Set(IVR_TRY=1)")
        ext.add(f"Set(IVR_PLAY={menu_prompt})")
        # A key pressed during the previous message answers at once.
        ext.add('GotoIf($["${IVR_PENDING}" = ""]?read)', "ask")
        ext.add("Set(IVR_KEY=${IVR_PENDING})")
        ext.add("Set(IVR_PENDING=)")
        ext.add("Goto(got)")
        ext.add(f"Read(IVR_KEY,${{IVR_PLAY}},1,,1,{_seconds(timeout_ms)})", "read")
        ext.add(f'GotoIf($["${{IVR_KEY}}" : "[{"".join(sorted(keys))}]$"]?k${{IVR_KEY}})', "got")
        ext.add('GotoIf($["${IVR_KEY}" = "*"]?back)')
        ext.add('GotoIf($["${IVR_KEY}${READSTATUS}" = "TIMEOUT"]?silent)')
        ext.add(f"Set(IVR_FAIL={self.prompt(invalid_prompt)})")
        ext.add(f"GotoIf($[${{IVR_TRY}} > {retries}]?exhausted)", "retry")
        ext.add("Set(IVR_TRY=$[${IVR_TRY} + 1])")
        ext.add(f"Set(IVR_PLAY=${{IVR_FAIL}}&{menu_prompt})")
        ext.add("Goto(ask)")
        ext.add(f"Set(IVR_FAIL={self.prompt(timeout_prompt)})", "silent")
        ext.add("Goto(retry)")
        ext.add('GotoIf($["${IVR_HISTORY}" = ""]?first)', "back")
        ext.add("Set(IVR_KEYS=${IVR_KEYS}*)")
        ext.add(f"Goto({self.ctx},${{POP(IVR_HISTORY,/)}},1)")
        ext.add(f"Set(IVR_FAIL={self.prompt('back_unavailable')})", "first")
        ext.add("Goto(retry)")
        # No valid key after every attempt: the message once more, then on_exhausted (a key
        # pressed during it is kept for that node, as the engine keeps it).
        ext.add("Set(IVR_EXHAUSTED=1)", "exhausted")
        ext.add(f"Set(IVR_NEXT={self.ext[on_exhausted]})")
        ext.add(f"Background(${{IVR_FAIL}},,,{self.ahead})")
        ext.add(self.goto(on_exhausted))
        for key, actions in sorted(keys.items()):
            ext.add(f"Set(IVR_KEYS=${{IVR_KEYS}}{key})", f"k{key}")
            for action in actions:
                ext.add(action)

    def menu_node(self, ext: _Extension, node: MenuNode) -> None:
        keys = {
            key: [f"Set(PUSH(IVR_HISTORY,/)={self.ext[node.id]})", self.goto(target)]
            for key, target in node.keys.items()
        }
        self.choose(
            ext,
            node.prompt,
            keys,
            timeout_ms=node.timeout_ms,
            retries=node.retries,
            invalid_prompt=node.invalid_prompt,
            timeout_prompt=node.timeout_prompt,
            on_exhausted=node.on_exhausted,
        )

    def district_node(self, ext: _Extension, node: DistrictNode) -> None:
        districts = self.menu.districts
        assert districts is not None, "validated: a district node needs a districts section"
        keys = {
            key: [f"Set(IVR_DISTRICT={unit.code})", self.goto(node.next)]
            for key, unit in districts.units.items()
        }
        self.choose(
            ext,
            districts.prompt,
            keys,
            timeout_ms=self.district_timeout_ms,
            retries=self.district_retries,
            invalid_prompt="invalid",
            timeout_prompt="no_input",
            on_exhausted=node.next,  # no district: the call still goes where it was going
        )

    def announcement_node(self, ext: _Extension, node: AnnouncementNode) -> None:
        ext.add(f"Set(IVR_NEXT={self.ext[node.next]})")
        # A key already waiting: the announcement is skipped and the key handled as if
        # pressed during it.
        ext.add(f'GotoIf($["${{IVR_PENDING}}" != ""]?{self.announce},${{IVR_PENDING}},1)')
        ext.add(f"Background({self.prompt(node.prompt)},,,{self.announce})")
        ext.add(self.goto(node.next))

    def queue_node(self, ext: _Extension, node: QueueNode) -> None:
        if node.prompt:
            ext.add(f"Playback({self.prompt(node.prompt)})")
        ext.add(f"Set(HOTLINE_CATEGORY={_safe(node.category, 'category')})")
        ext.add(f"Set(HOTLINE_PRIO={node.priority:d})")
        ext.add("Set(HOTLINE_CHOICE=${IVR_KEYS})")
        ext.add('Set(HOTLINE_ROUTE=${IF($["${IVR_EXHAUSTED}" = "1"]?default:ivr)})')
        ext.add("Set(HOTLINE_DISTRICT=${IVR_DISTRICT})")
        plain = self.route(node.queue, None, node.priority)
        ext.add(f"Set(IVR_QUEUE={_safe(plain, 'queue')})")
        codes = [u.code for u in self.menu.districts.units.values()] if self.menu.districts else []
        for code in sorted(codes):
            queue = self.route(node.queue, code, node.priority)
            if queue != plain:
                test = f'$["${{IVR_DISTRICT}}" = "{code:d}"]'
                ext.add(f"ExecIf({test}?Set(IVR_QUEUE={_safe(queue, 'queue')}))")
        ext.add("Set(HOTLINE_QUEUE=${IVR_QUEUE})")  # last, as the engine
        ext.add(f"Goto({self.enqueue})")

    def hangup_node(self, ext: _Extension, node: HangupNode) -> None:
        if node.prompt:
            ext.add(f"Playback({self.prompt(node.prompt)})")
        ext.add("Set(HOTLINE_DONE=hangup)")
        ext.add("Hangup()")

    def helpers(self) -> Iterable[str]:
        yield "; A key pressed while a message plays (Background): kept for the next menu."
        yield f"[{self.ahead}]"
        yield "exten => _[0-9*#],1,Set(IVR_PENDING=${EXTEN})"
        yield f" same => n,Goto({self.ctx},${{IVR_NEXT}},1)"
        yield ""
        yield "; A key pressed during an announcement: the same, but '*' goes back."
        yield f"[{self.announce}]"
        yield f"include => {self.ahead}"
        yield f'exten => *,1,GotoIf($["${{IVR_HISTORY}}" = ""]?{self.ahead},*,1)'
        yield " same => n,Set(IVR_PENDING=)"
        yield " same => n,Set(IVR_KEYS=${IVR_KEYS}*)"
        yield f" same => n,Goto({self.ctx},${{POP(IVR_HISTORY,/)}},1)"
