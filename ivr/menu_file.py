"""The IVR menu file's schema: load it into a typed ``Menu``, or list every fault in it with
its line.

A menu file (``ivr/menus/default.yaml`` is the canonical one) is edited by hand and taken
while calls are in progress, so a mistake must be caught before a caller meets it.
``check_menu()`` returns every fault at once, each with the line to fix; ``load_menu()``
returns a ``Menu`` only when there is none, else raises ``MenuError`` listing them all.

    menu = load_menu(DEFAULT_MENU, queues=("medical", "food"), categories=("medical",))
    first = menu.nodes[menu.start]

What a menu file may say is decided here. Reading its YAML with line numbers is
``ivr/menu_yaml.py``'s, and the ``Menu`` built is ``ivr/menu.py``'s, so that the menu's
readers need neither. One concern, the schema; it stays one module because each node kind's
checks and the graph checks (reachable, no loop without exit) read the same nodes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from pathlib import Path

from yaml.nodes import MappingNode, ScalarNode
from yaml.nodes import Node as YamlNode

from ivr.menu import (
    AnnouncementNode,
    District,
    DistrictNode,
    Districts,
    HangupNode,
    Menu,
    MenuNode,
    Node,
    QueueNode,
)
from ivr.menu_yaml import (
    FLOAT_TAG,
    INT_TAG,
    NULL_TAG,
    Fault,
    choice_hint,
    close_hint,
    compose,
    float_value,
    int_value,
    line_of,
    shown,
)

__all__ = ["DEFAULT_MENU", "MenuError", "check_menu", "load_menu"]

DEFAULT_MENU = Path(__file__).resolve().parent / "menus" / "default.yaml"


class MenuError(Exception):
    """A menu file that cannot be used; ``str()`` gives one ``PATH:LINE: message`` per fault."""

    def __init__(self, path: Path, faults: list[Fault]) -> None:
        super().__init__("\n".join(f"{path}:{f.line}: {f.message}" for f in faults))
        self.path = path
        self.faults = faults


def check_menu(
    path: Path,
    *,
    queues: Collection[str] | None = None,
    categories: Collection[str] | None = None,
) -> list[Fault]:
    """Every fault in the menu file at ``path``, in line order; ``[]`` when it is valid.

    ``queues`` and ``categories``, when given, are the only names a queue node may use.
    """
    return _read(path, queues, categories)[1]


def load_menu(
    path: Path,
    *,
    queues: Collection[str] | None = None,
    categories: Collection[str] | None = None,
) -> Menu:
    """The menu in ``path``; raises ``MenuError`` with every fault found."""
    menu, faults = _read(path, queues, categories)
    if faults or menu is None:
        raise MenuError(path, faults)
    return menu


_KINDS = ("menu", "district", "announcement", "queue", "hangup")
_TOP_FIELDS: tuple[str, ...] = (
    "version", "start", "timeout_s", "retries", "default", "prompts", "districts", "nodes"
)  # fmt: skip
_MENU_FIELDS: tuple[str, ...] = (
    "prompt", "keys", "timeout_s", "retries", "on_exhausted", "invalid_prompt", "timeout_prompt"
)  # fmt: skip
_DISTRICTS_FIELDS = ("prompt", "confirm_before", "confirm_after", "remember_days", "units")
_DISTRICTS_REQUIRED = ("prompt", "confirm_before", "confirm_after", "units")
_DIGITS = frozenset("0123456789")
_PROMPT_NAME = re.compile(r"[A-Za-z0-9_-]+")

_Entries = dict[str, tuple[ScalarNode, YamlNode]]


def _read(
    path: Path, queues: Collection[str] | None, categories: Collection[str] | None
) -> tuple[Menu | None, list[Fault]]:
    root, faults = compose(path)
    if root is None:
        return None, faults
    reader = _Reader(queues, categories)
    menu = reader.read(path, root)
    # Sorting is stable: faults on one line keep the order in which they were found.
    faults = sorted([*faults, *reader.faults], key=lambda f: f.line)
    return (menu if not faults else None), faults


class _Reader:
    """Walks the composed file once, building the menu and collecting faults.

    Where a value is faulty a placeholder stands in, so that reading goes on and every
    fault is found; the menu built is then thrown away. Unreadable targets are ``""``.
    """

    def __init__(self, queues: Collection[str] | None, categories: Collection[str] | None) -> None:
        self.queues = queues
        self.categories = categories
        self.faults: list[Fault] = []
        self.prompts: dict[str, str] = {}
        self.ids: dict[str, ScalarNode] = {}
        self.default: str | None = None
        self.has_districts = False
        self.timeout_s = 5.0
        self.retries = 2

    def fault(self, where: YamlNode | int, message: str) -> None:
        line = where if isinstance(where, int) else line_of(where)
        self.faults.append(Fault(line, message))

    # -- the file, top down

    def read(self, path: Path, root: YamlNode) -> Menu | None:
        top = self.fields(
            root, "the file", _TOP_FIELDS, ("version", "start", "prompts", "nodes"), 0
        )
        if top is None:
            return None
        self.has_districts = "districts" in top
        if "version" in top:
            version = top["version"][1]
            if not (version.tag == INT_TAG and self.integer(version, "version") == 1):
                self.fault(version, f"unsupported version {shown(version)} (must be 1)")
        if "timeout_s" in top:
            self.timeout_s = self.seconds(top["timeout_s"][1], "'timeout_s'") or self.timeout_s
        if "retries" in top:
            self.retries = self.count(top["retries"][1], "'retries'", 0) or 0
        if "prompts" in top:
            self.read_prompts(top["prompts"][1])
        districts = None
        if "districts" in top:
            key, value = top["districts"]
            districts = self.read_districts(value, key)
        if "nodes" in top:
            self.read_ids(top["nodes"][1])
        start = self.target(top["start"][1], "'start'") if "start" in top else ""
        if "default" in top:
            self.default = self.target(top["default"][1], "'default'")
        nodes: dict[str, Node] = {}
        for nid, id_node in self.ids.items():
            node = self.read_node(nid, id_node, self.body(top["nodes"][1], id_node))
            if node is not None:
                nodes[nid] = node
        if start:
            self.check_graph(start, nodes)
        return Menu(path, start, nodes, self.prompts, districts)

    def read_prompts(self, node: YamlNode) -> None:
        mapping = self.mapping(node, "'prompts'")
        if mapping is None:
            return
        for name, (key, value) in self.entries(
            mapping, lambda k: f"prompt {k!r} defined twice"
        ).items():
            text = value.value.strip() if isinstance(value, ScalarNode) else ""
            if not isinstance(value, ScalarNode):
                self.fault(value, f"text of prompt {name!r} must be text, not {shown(value)}")
            elif not text or value.tag == NULL_TAG:
                self.fault(key, f"prompt {name!r} has empty text")
            if not _PROMPT_NAME.fullmatch(name):
                # The name is also a sound file's name.
                self.fault(key, f"prompt name {name!r}: use letters, digits, '_' and '-' only")
            self.prompts[name] = text

    def read_districts(self, node: YamlNode, at: YamlNode) -> Districts | None:
        what = "'districts'"
        f = self.fields(node, what, _DISTRICTS_FIELDS, _DISTRICTS_REQUIRED, at)
        if f is None:
            return None
        units = self.read_units(f["units"][1]) if "units" in f else {}
        refs = {name: self.prompt_ref(f, name, "districts", at) for name in _DISTRICTS_FIELDS[:3]}
        days = 30
        if "remember_days" in f:
            days = self.count(f["remember_days"][1], "'remember_days' of 'districts'", 1) or days
        prompt, before, after = (refs[name] or "" for name in _DISTRICTS_FIELDS[:3])
        return Districts(prompt, before, after, days, units)

    def read_units(self, node: YamlNode) -> dict[str, District]:
        mapping = self.mapping(node, "'units' of 'districts'")
        if mapping is None:
            return {}
        units: dict[str, District] = {}
        codes: dict[int, int] = {}  # code -> line of its first use
        entries = self.entries(mapping, lambda k: f"district key {k!r} used twice")
        if not entries:
            self.fault(node, "'units' of 'districts' lists no unit")
        for key, (key_node, value) in entries.items():
            if len(key) != 1 or key not in _DIGITS - {"0"}:
                self.fault(key_node, f"invalid district key {key!r} (one digit, 1-9)")
            what = f"district {key}"
            f = self.fields(value, what, ("code", "name"), ("code", "name"), key_node)
            if f is None:
                continue
            code = self.count(f["code"][1], f"'code' of {what}", 1) if "code" in f else None
            name = self.text(f["name"][1], f"'name' of {what}") if "name" in f else None
            unit = units[key] = District(key, code or 0, name or "")
            if code is None:
                continue
            code_node = f["code"][1]
            if code in codes:
                first = codes[code]
                self.fault(code_node, f"district code {code} used twice (first at line {first})")
            elif unit.prompt in self.prompts:
                self.fault(code_node, f"prompt {unit.prompt!r} is also generated for {what}")
            else:
                codes[code] = line_of(code_node)
                self.prompts[unit.prompt] = unit.name
        return units

    def read_ids(self, node: YamlNode) -> None:
        mapping = self.mapping(node, "'nodes'")
        if mapping is None:
            return
        for nid, (key, _) in self.entries(mapping, lambda k: f"node {k!r} defined twice").items():
            self.ids[nid] = key
        if not self.ids:
            self.fault(node, "'nodes' defines no node")

    @staticmethod
    def body(nodes: YamlNode, id_node: ScalarNode) -> YamlNode:
        """The value under ``id_node`` (the first one when the id is there twice)."""
        body: YamlNode = next(v for k, v in nodes.value if k is id_node)
        return body

    # -- nodes

    def read_node(self, nid: str, id_node: ScalarNode, body: YamlNode) -> Node | None:
        mapping = self.mapping(body, f"node {nid!r}")
        if mapping is None:
            return None
        entries = self.entries(mapping, lambda k: f"kind {k!r} given twice in node {nid!r}")
        kinds = [k for k in entries if k in _KINDS]
        for name, (key, _) in entries.items():
            if name not in _KINDS:
                hint = choice_hint(name, _KINDS, "a node is one of")
                self.fault(key, f"unknown field {name!r} in node {nid!r}{hint}")
        if len(kinds) > 1:
            self.fault(
                entries[kinds[1]][0],
                f"node {nid!r} has {len(kinds)} kinds ({', '.join(kinds)}); a node has one",
            )
            return None
        if not kinds:
            if not entries:
                self.fault(id_node, f"node {nid!r} has no kind (one of: {', '.join(_KINDS)})")
            return None
        key, value = entries[kinds[0]]
        line = line_of(id_node)
        if kinds[0] == "menu":
            return self.read_menu(nid, line, value, key)
        if kinds[0] == "district":
            return self.read_district(nid, line, value, key)
        if kinds[0] == "announcement":
            return self.read_announcement(nid, line, value, key)
        if kinds[0] == "queue":
            return self.read_queue(nid, line, value, key)
        return self.read_hangup(nid, line, value, key)

    def read_menu(self, nid: str, line: int, body: YamlNode, at: ScalarNode) -> MenuNode:
        what = f"menu node {nid!r}"
        f = self.fields(body, what, _MENU_FIELDS, ("prompt", "keys"), at) or {}
        prompt = self.prompt_ref(f, "prompt", f"node {nid!r}", at)
        keys = self.read_keys(nid, f["keys"][1]) if "keys" in f else {}
        timeout_s = self.timeout_s
        if "timeout_s" in f:
            timeout_s = self.seconds(f["timeout_s"][1], f"'timeout_s' of {what}") or timeout_s
        retries = self.retries
        if "retries" in f:
            retries = self.count(f["retries"][1], f"'retries' of {what}", 0) or 0
        if "on_exhausted" in f:
            on_exhausted = self.target(f["on_exhausted"][1], f"node {nid!r}, on_exhausted")
        else:
            if self.default is None:
                self.fault(at, f"{what} has no 'on_exhausted' and the file has no 'default'")
            on_exhausted = self.default or ""
        invalid = self.prompt_ref(f, "invalid_prompt", f"node {nid!r}", at, "invalid")
        no_input = self.prompt_ref(f, "timeout_prompt", f"node {nid!r}", at, "no_input")
        return MenuNode(
            id=nid,
            line=line,
            prompt=prompt or "",
            keys=keys,
            timeout_ms=round(timeout_s * 1000),
            retries=retries,
            on_exhausted=on_exhausted,
            invalid_prompt=invalid or "",
            timeout_prompt=no_input or "",
        )

    def read_keys(self, nid: str, node: YamlNode) -> dict[str, str]:
        mapping = self.mapping(node, f"'keys' of menu node {nid!r}")
        if mapping is None:
            return {}
        entries = self.entries(mapping, lambda k: f"key {k!r} used twice in menu node {nid!r}")
        if not entries:
            self.fault(node, f"menu node {nid!r} has no keys")
        keys: dict[str, str] = {}
        for key, (key_node, value) in entries.items():
            # "*" and "#" are the engine's: back to the previous menu, and end of input.
            if key == "*":
                self.fault(key_node, f"key '*' in menu node {nid!r} is reserved for 'back'")
            elif key == "#":
                self.fault(key_node, f"key '#' in menu node {nid!r} is reserved for end of input")
            elif len(key) != 1 or key not in _DIGITS:
                self.fault(key_node, f"invalid key {key!r} in menu node {nid!r} (one digit, 0-9)")
            keys[key] = self.target(value, f"node {nid!r}, key {key}")
        return keys

    def read_district(self, nid: str, line: int, body: YamlNode, at: ScalarNode) -> DistrictNode:
        f = self.fields(body, f"district node {nid!r}", ("next",), ("next",), at) or {}
        if not self.has_districts:
            self.fault(at, f"district node {nid!r} needs a 'districts' section in the file")
        nxt = self.target(f["next"][1], f"node {nid!r}, next") if "next" in f else ""
        return DistrictNode(nid, line, nxt)

    def read_announcement(
        self, nid: str, line: int, body: YamlNode, at: ScalarNode
    ) -> AnnouncementNode:
        what = f"announcement node {nid!r}"
        f = self.fields(body, what, ("prompt", "next"), ("prompt", "next"), at) or {}
        prompt = self.prompt_ref(f, "prompt", f"node {nid!r}", at)
        nxt = self.target(f["next"][1], f"node {nid!r}, next") if "next" in f else ""
        return AnnouncementNode(nid, line, prompt or "", nxt)

    def read_queue(self, nid: str, line: int, body: YamlNode, at: ScalarNode) -> QueueNode:
        what = f"queue node {nid!r}"
        fields = ("category", "queue", "priority", "prompt")
        f = self.fields(body, what, fields, fields[:3], at) or {}
        names: dict[str, str] = {}
        for field, known in (("category", self.categories), ("queue", self.queues)):
            if field not in f:
                continue
            value = f[field][1]
            names[field] = self.text(value, f"{field!r} of {what}") or ""
            if known is not None and names[field] and names[field] not in known:
                hint = choice_hint(names[field], known, "known")
                self.fault(value, f"unknown {field} {names[field]!r} in {what}{hint}")
        priority = None
        if "priority" in f:
            priority = self.integer(f["priority"][1], f"'priority' of {what}")
        prompt = self.prompt_ref(f, "prompt", f"node {nid!r}", at) if "prompt" in f else None
        return QueueNode(
            nid, line, names.get("category", ""), names.get("queue", ""), priority or 0, prompt
        )

    def read_hangup(self, nid: str, line: int, body: YamlNode, at: ScalarNode) -> HangupNode:
        if isinstance(body, ScalarNode) and body.tag == NULL_TAG:
            return HangupNode(nid, line, None)  # "hangup:" alone: no goodbye prompt
        f = self.fields(body, f"hangup node {nid!r}", ("prompt",), (), at) or {}
        prompt = self.prompt_ref(f, "prompt", f"node {nid!r}", at) if "prompt" in f else None
        return HangupNode(nid, line, prompt)

    # -- the graph

    def check_graph(self, start: str, nodes: dict[str, Node]) -> None:
        """Unreachable nodes, and loops that no caller can leave.

        A node whose targets could not be read (a fault already) may lead anywhere: it
        counts as an exit, and when the start reaches it no node is called unreachable.
        """
        edges = {nid: [t for t in _targets(node) if t in self.ids] for nid, node in nodes.items()}
        blind = {nid for nid in self.ids if nid not in nodes or "" in _targets(nodes[nid])}
        blind |= {n for n, node in nodes.items() if isinstance(node, MenuNode) and not node.keys}
        reached = _reach(start, edges) | {start}
        if start in self.ids and not reached & blind:
            for nid, id_node in self.ids.items():
                if nid not in reached:
                    self.fault(id_node, f"node {nid!r} is unreachable from start {start!r}")
        exits = blind | {n for n, node in nodes.items() if isinstance(node, QueueNode | HangupNode)}
        stuck = [nid for nid in self.ids if not (_reach(nid, edges) | {nid}) & exits]
        reach = {nid: _reach(nid, edges) for nid in stuck}
        reported: set[str] = set()
        for nid in stuck:  # file order, so each loop is reported at its first node
            if nid in reported or nid not in reach[nid]:
                continue  # not on a cycle: it only leads into one, or to an unknown target
            loop = [n for n in stuck if n == nid or (n in reach[nid] and nid in reach[n])]
            reported.update(loop)
            names = ", ".join(repr(n) for n in loop)
            nodes_lead = f"node {names} leads" if len(loop) == 1 else f"nodes {names} lead"
            self.fault(self.ids[nid], f"loop without exit: {nodes_lead} to no queue or hangup node")

    # -- values

    def fields(
        self,
        node: YamlNode,
        what: str,
        allowed: tuple[str, ...],
        required: tuple[str, ...],
        at: YamlNode | int,
    ) -> _Entries | None:
        """The fields of mapping ``node`` (``what``, owned by the key ``at``), checked."""
        mapping = self.mapping(node, what)
        if mapping is None:
            return None
        entries = self.entries(mapping, lambda k: f"field {k!r} given twice in {what}")
        for name, (key, _) in entries.items():
            if name not in allowed:
                self.fault(key, f"unknown field {name!r} in {what}{choice_hint(name, allowed)}")
        for name in required:
            if name not in entries:
                self.fault(at, f"{what} has no {name!r}")
        return entries

    def mapping(self, node: YamlNode, what: str) -> MappingNode | None:
        if isinstance(node, MappingNode):
            return node
        self.fault(node, f"{what} must be a mapping, not {shown(node)}")
        return None

    def entries(self, node: MappingNode, twice: Callable[[str], str]) -> _Entries:
        """The mapping's keys as written (``1`` and ``"1"`` are both "1"), duplicates reported.

        ``twice(key)`` says what a duplicate is; the first occurrence is the one kept.
        """
        entries: _Entries = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                self.fault(key, f"a key must be a name or a digit, not {shown(key)}")
                continue
            name = str(key.value)
            if name in entries:
                first = line_of(entries[name][0])
                self.fault(key, f"{twice(name)} (first at line {first})")
                continue
            entries[name] = (key, value)
        return entries

    def text(self, node: YamlNode, what: str) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag == NULL_TAG or not str(node.value).strip():
            self.fault(node, f"{what} must be text, not {shown(node)}")
            return None
        return str(node.value)

    def target(self, node: YamlNode, source: str) -> str:
        """The node id in ``node`` as written, checked to exist; ``""`` when unreadable."""
        if not isinstance(node, ScalarNode) or node.tag == NULL_TAG:
            self.fault(node, f"target must be a node id, not {shown(node)} (from {source})")
            return ""
        name = str(node.value)
        if name not in self.ids:
            self.fault(node, f"unknown target {name!r} (from {source}{close_hint(name, self.ids)})")
        return name

    def prompt_ref(
        self, f: _Entries, field: str, source: str, at: YamlNode, default: str | None = None
    ) -> str | None:
        """The prompt named by ``f[field]`` (or ``default`` when absent), checked to exist."""
        if field not in f:
            if default is None:
                return None  # a required field's absence is reported with the others
            name, where, how = default, at, f"{field} by default"
        else:
            where, how = f[field][1], field
            if not isinstance(where, ScalarNode) or where.tag == NULL_TAG:
                self.fault(
                    where, f"prompt must be a name, not {shown(where)} (from {source}, {how})"
                )
                return None
            name = str(where.value)
        if name not in self.prompts:
            hint = close_hint(name, self.prompts)
            self.fault(where, f"unknown prompt {name!r} (from {source}, {how}{hint})")
        return name

    def integer(self, node: YamlNode, what: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == INT_TAG:
            return int_value(node)
        self.fault(node, f"{what} must be a whole number, not {shown(node)}")
        return None

    def count(self, node: YamlNode, what: str, minimum: int) -> int | None:
        value = self.integer(node, what)
        if value is not None and value < minimum:
            self.fault(node, f"{what} must be at least {minimum}, not {value}")
            return None
        return value

    def seconds(self, node: YamlNode, what: str) -> float | None:
        value: float | None = None
        if isinstance(node, ScalarNode) and node.tag == INT_TAG:
            value = int_value(node)
        elif isinstance(node, ScalarNode) and node.tag == FLOAT_TAG:
            value = float_value(node)
        if value is None or not math.isfinite(value) or value <= 0:
            self.fault(node, f"{what} must be a number of seconds above 0, not {shown(node)}")
            return None
        return value


def _targets(node: Node) -> list[str]:
    if isinstance(node, MenuNode):
        return [*node.keys.values(), node.on_exhausted]
    if isinstance(node, DistrictNode | AnnouncementNode):
        return [node.next]
    return []


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    """The nodes reachable from ``start`` in one step or more."""
    seen: set[str] = set()
    todo = list(edges.get(start, ()))
    while todo:
        nid = todo.pop()
        if nid not in seen:
            seen.add(nid)
            todo.extend(edges.get(nid, ()))
    return seen
