"""The menu compiled to plain dialplan (``ivr/dialplan.py``): its structure on the default
menu, and on a real Asterisk the same routes as the FastAGI engine for the same keys."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.dialplan import ENTRY, compile_menu, extension_names
from ivr.engine import MAX_STEPS
from ivr.menu import AnnouncementNode, DistrictNode, HangupNode, MenuNode, QueueNode
from ivr.menu_file import DEFAULT_MENU, load_menu
from pbx.events import AmiEvent, UserEvent
from provision.asterisk import AsteriskError
from provision.secrets import ensure_secrets
from queues.routing import RoutingPolicy
from simulation.citizens import citizen_scenario, run_citizens
from simulation.sipp import remove_run
from simulation.stack import Stack, free_udp_tcp_port
from tests.asterisk_unit import unit_asterisk, unit_config

MENU = load_menu(DEFAULT_MENU)
PROMPTS = "/var/lib/hotline1022/unit/prompts"
TEXT = compile_menu(MENU, PROMPTS)

Priorities = list[tuple[str | None, str]]  # (label, application) in order


def contexts(text: str) -> dict[str, dict[str, Priorities]]:
    """context -> extension -> its priorities, parsed back from extensions.conf text."""
    parsed: dict[str, dict[str, Priorities]] = {}
    ctx: dict[str, Priorities] = {}
    current: Priorities = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        if m := re.fullmatch(r"\[([^\]]+)\]", line):
            ctx = parsed.setdefault(m.group(1), {})
        elif m := re.fullmatch(r"exten => ([^,]+),1(?:\((\w+)\))?,(.*)", line):
            current = ctx.setdefault(m.group(1), [])
            assert not current, f"extension {m.group(1)} defined twice"
            current.append((m.group(2), m.group(3)))
        elif m := re.fullmatch(r" same => n(?:\((\w+)\))?,(.*)", line):
            current.append((m.group(1), m.group(2)))
        elif not line.startswith("include => "):
            raise AssertionError(f"unexpected line: {line!r}")
    return parsed


PLAN = contexts(TEXT)
MAIN = PLAN["ivr-dialplan"]


def apps(prios: Priorities) -> list[str]:
    return [app for _, app in prios]


def after(prios: Priorities, label: str) -> list[str]:
    """The applications from ``label`` on, up to the first Goto."""
    index = next(i for i, (lab, _) in enumerate(prios) if lab == label)
    apps: list[str] = []
    for _, app in prios[index:]:
        apps.append(app)
        if app.startswith("Goto("):
            break
    return apps


def test_every_node_has_its_extension_and_the_call_enters_at_the_start() -> None:
    assert set(MAIN) == {ENTRY, "steps_exceeded", *MENU.nodes}
    assert MAIN[ENTRY][-1][1] == f"Goto(ivr-dialplan,{MENU.start},1)"
    for nid in MENU.nodes:
        assert MAIN[nid][0][1].startswith("NoOp("), nid
        labels = [label for label, _ in MAIN[nid] if label]
        assert len(labels) == len(set(labels)), f"{nid}: a label twice"
        # Asterisk refuses a Goto to a label the extension does not have.
        for _, app in MAIN[nid]:
            for target in re.findall(r"\?(\w+)\)$", app):
                assert target in labels or target == "steps_exceeded", (nid, app)


def test_every_key_leads_where_the_menu_says() -> None:
    for nid, node in MENU.nodes.items():
        if not isinstance(node, MenuNode):
            continue
        prios = MAIN[nid]
        reads = [app for _, app in prios if app.startswith("Read(")]
        assert reads == [f"Read(IVR_KEY,${{IVR_PLAY}},1,,1,{node.timeout_ms / 1000:g})"]
        dispatch = next(app for label, app in prios if label == "got")
        assert f'"[{"".join(sorted(node.keys))}]$"' in dispatch
        for key, target in node.keys.items():
            assert after(prios, f"k{key}") == [
                f"Set(IVR_KEYS=${{IVR_KEYS}}{key})",
                f"Set(PUSH(IVR_HISTORY,/)={nid})",
                f"Goto(ivr-dialplan,{target},1)",
            ]
        assert f"GotoIf($[${{IVR_TRY}} > {node.retries}]?exhausted)" in apps(prios)
        assert after(prios, "exhausted")[-1] == f"Goto(ivr-dialplan,{node.on_exhausted},1)"
        assert after(prios, "back")[-1] == "Goto(ivr-dialplan,${POP(IVR_HISTORY,/)},1)"
        played = " ".join(app for _, app in prios)
        for prompt in (node.prompt, node.invalid_prompt, node.timeout_prompt, "back_unavailable"):
            assert f"{PROMPTS}/{prompt}" in played


def test_district_nodes_are_a_nine_key_menu_without_the_returning_caller_history() -> None:
    assert MENU.districts is not None
    for nid, node in MENU.nodes.items():
        if not isinstance(node, DistrictNode):
            continue
        prios = MAIN[nid]
        assert f"Set(IVR_PLAY={PROMPTS}/{MENU.districts.prompt})" in apps(prios)
        for key, unit in MENU.districts.units.items():
            assert after(prios, f"k{key}") == [
                f"Set(IVR_KEYS=${{IVR_KEYS}}{key})",
                f"Set(IVR_DISTRICT={unit.code})",
                f"Goto(ivr-dialplan,{node.next},1)",
            ]
        # No district after the retries: the call goes on, its route "default".
        assert after(prios, "exhausted")[0] == "Set(IVR_EXHAUSTED=1)"
        assert after(prios, "exhausted")[-1] == f"Goto(ivr-dialplan,{node.next},1)"
    assert MENU.districts.confirm_before not in TEXT


def test_queue_nodes_set_the_hotline_variables_queue_last_then_enqueue() -> None:
    for nid, node in MENU.nodes.items():
        if not isinstance(node, QueueNode):
            continue
        apps = [app for _, app in MAIN[nid]]
        sets = [a for a in apps if a.startswith("Set(HOTLINE_")]
        assert sets == [
            f"Set(HOTLINE_CATEGORY={node.category})",
            f"Set(HOTLINE_PRIO={node.priority})",
            "Set(HOTLINE_CHOICE=${IVR_KEYS})",
            'Set(HOTLINE_ROUTE=${IF($["${IVR_EXHAUSTED}" = "1"]?default:ivr)})',
            "Set(HOTLINE_DISTRICT=${IVR_DISTRICT})",
            "Set(HOTLINE_QUEUE=${IVR_QUEUE})",
        ]
        assert f"Set(IVR_QUEUE={node.queue})" in apps
        assert apps[-2:] == ["Set(HOTLINE_QUEUE=${IVR_QUEUE})", "Goto(citizens,1022,enqueue)"]
        if node.prompt:  # played whole, before the variables
            assert apps.index(f"Playback({PROMPTS}/{node.prompt})") < apps.index(sets[0])


def test_queue_nodes_route_by_district_and_priority_as_the_engine_does() -> None:
    policy = RoutingPolicy(districts=(718, 724))
    plan = contexts(compile_menu(MENU, PROMPTS, route=policy.queue_for))["ivr-dialplan"]
    food = [app for _, app in plan["food"]]
    assert "Set(IVR_QUEUE=food)" in food  # no district, or one the layout lacks
    assert 'ExecIf($["${IVR_DISTRICT}" = "724"]?Set(IVR_QUEUE=food-724))' in food
    assert not any("719" in app for app in food)
    critical = [app for _, app in plan["medical_critical"]]
    assert "Set(IVR_QUEUE=emergency)" in critical
    assert not any(app.startswith("ExecIf") for app in critical)


def test_announcements_can_be_interrupted_and_hangups_hang_up() -> None:
    for nid, node in MENU.nodes.items():
        apps = [app for _, app in MAIN[nid]]
        if isinstance(node, AnnouncementNode):
            assert f"Background({PROMPTS}/{node.prompt},,,ivr-dialplan-announce)" in apps
            assert apps[-1] == f"Goto(ivr-dialplan,{node.next},1)"
        elif isinstance(node, HangupNode):
            assert apps[-2:] == ["Set(HOTLINE_DONE=hangup)", "Hangup()"]
    # A key during a message waits for the next menu; "*" during an announcement goes back.
    assert PLAN["ivr-dialplan-ahead"]["_[0-9*#]"][0][1] == "Set(IVR_PENDING=${EXTEN})"
    assert "include => ivr-dialplan-ahead" in TEXT
    assert PLAN["ivr-dialplan-announce"]["*"][-1][1].endswith("${POP(IVR_HISTORY,/)},1)")


def test_a_caller_wandering_too_long_goes_to_the_default() -> None:
    start = MENU.nodes[MENU.start]
    assert isinstance(start, MenuNode)
    assert MAIN["steps_exceeded"][-1][1] == f"Goto(ivr-dialplan,{start.on_exhausted},1)"
    guard = f"GotoIf($[${{IVR_STEPS}} > {MAX_STEPS}]?steps_exceeded,1)"
    for nid in MENU.nodes:
        assert (guard in apps(MAIN[nid])) == (nid != start.on_exhausted), nid


def test_node_ids_asterisk_would_misread_get_another_extension(tmp_path: Path) -> None:
    text = DEFAULT_MENU.read_text(encoding="utf-8")
    # "s" is the entry, dashes are ignored in extension names, "h" is the hangup handler.
    text = text.replace("info_cases", "s").replace("info_testing", "info-testing")
    text = text.replace("goodbye:\n    hangup", "h:\n    hangup")
    text = text.replace("on_exhausted: goodbye", "on_exhausted: h")
    path = tmp_path / "menu.yaml"
    path.write_text(text, encoding="utf-8")
    menu = load_menu(path)
    names = extension_names(menu)
    assert names["info"] == "info"
    assert re.fullmatch(r"node\d+_s", names["s"])
    assert re.fullmatch(r"node\d+_info_testing", names["info-testing"])
    assert re.fullmatch(r"node\d+_h", names["h"])
    assert len(set(names.values())) == len(names)
    main = contexts(compile_menu(menu, PROMPTS))["ivr-dialplan"]
    assert set(main) == {ENTRY, "steps_exceeded", *names.values()}
    info = main["info"]
    assert after(info, "k1")[-1] == f"Goto(ivr-dialplan,{names['s']},1)"


def test_what_cannot_be_written_in_dialplan_is_refused() -> None:
    with pytest.raises(ValueError, match="prompts directory"):
        compile_menu(MENU, "/var/lib/hot line/prompts")
    with pytest.raises(ValueError, match="context"):
        compile_menu(MENU, PROMPTS, context="a,b")


def test_provisioned_config_loads_the_compiled_menu_for_1023(tmp_path: Path) -> None:
    root = tmp_path / "root"
    ast = unit_asterisk(tmp_path)
    secrets = ensure_secrets(tmp_path / "state", 2)
    cfg = unit_config(
        secrets,
        extra_files={"extensions_menu.conf": compile_menu(MENU, ast.prompts_dir)},
    )
    ast.render(cfg)
    etc = root / "var/lib/hotline1022/unit/etc"
    assert (etc / "extensions_menu.conf").read_text().count("[ivr-dialplan]") == 1
    conf = (etc / "extensions.conf").read_text()
    assert "#tryinclude extensions_menu.conf" in conf
    assert "exten => 1023,1," in conf and "Goto(ivr-dialplan,s,1)" in conf
    # 1022 still runs the FastAGI menu first.
    assert re.search(r"exten => 1022,1,.*\n(?: same => .*\n)*? same => n,AGI\(", conf)
    cfg.extra_files = {"extensions.conf": ""}
    with pytest.raises(AsteriskError):
        ast.render(cfg)
    cfg.extra_files = {"../x.conf": ""}
    with pytest.raises(AsteriskError):
        ast.render(cfg)


# -- on a real Asterisk ---------------------------------------------------------------------

# keys -> what HotlineRoute must say on 1023; each also dialled on 1022 and compared.
PATHS: dict[str, dict[str, str]] = {
    "27": {"Hotline-Queue": "food-724", "Hotline-District": "724", "Hotline-Choice": "27"},
    "3": {"Hotline-Queue": "violation", "Hotline-District": "", "Hotline-Choice": "3"},
    "4*25": {"Hotline-Queue": "food-722", "Hotline-District": "722", "Hotline-Choice": "4*25"},
    "83": {"Hotline-Queue": "violation", "Hotline-Choice": "3"},  # invalid, then 3
    "*3": {"Hotline-Queue": "violation", "Hotline-Choice": "3"},  # no menu to go back to
    "410": {"Hotline-Queue": "operator", "Hotline-Choice": "410"},  # 0 during the announcement
    "41**3": {"Hotline-Queue": "violation", "Hotline-Choice": "41**3"},  # back from it, twice
    # three invalid keys: the medical district with route "default", 7 after the last message
    "18887": {"Hotline-Queue": "medical-724", "Hotline-Choice": "17", "Hotline-Route": "default"},
}
COMPARED = ("Hotline-Category", "Hotline-Queue", "Hotline-Priority", "Hotline-Choice")
COMPARED += ("Hotline-Route", "Hotline-District")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with Stack(
        state_dir=tmp_path_factory.mktemp("hotline"),
        agent_count=2,
        # The compiled menu (1023) offers no callback: for a like comparison, 1022 neither.
        settings={"callback_threshold_s": -1},
    ) as stack:
        yield stack


async def dial(stack: Stack, exten: str, number: str, keys: str) -> int:
    """A SIPp citizen dials ``exten``, presses ``keys`` and hangs up 8 s after the last."""
    scenario = citizen_scenario(keys, hangup_after_ms=8000).replace("sip:1022@", f"sip:{exten}@")
    proc = run_citizens(
        scenario,
        [number],
        server_port=stack.settings.sip_port,
        local_port=free_udp_tcp_port(),
        media_port=stack.next_media_port(),
    )
    try:
        return await asyncio.wait_for(asyncio.to_thread(proc.wait), 90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        remove_run(proc)


@pytest.mark.asterisk
@pytest.mark.asyncio(loop_scope="module")
async def test_1023_routes_as_the_fastagi_menu_does(stack: Stack) -> None:
    routes: dict[str, UserEvent] = {}

    def on_event(ev: AmiEvent) -> None:
        if isinstance(ev, UserEvent) and ev.user_event == "HotlineRoute":
            routes[ev.caller_id_num] = ev

    stack.running.link.add_listener(on_event)
    # Each path from two new numbers (no returning-caller history on 1022): 09031… on 1023
    # (the compiled dialplan), 09032… on 1022 (the service's engine over FastAGI).
    calls = {
        (exten, keys): f"0903{1 if exten == '1023' else 2}{i:05d}"
        for i, keys in enumerate(PATHS)
        for exten in ("1023", "1022")
    }
    codes = await asyncio.gather(*(dial(stack, e, n, k) for (e, k), n in calls.items()))
    assert codes == [0] * len(calls), dict(zip(calls, codes, strict=True))
    await stack.wait_for(lambda: all(n in routes for n in calls.values()), 10, "every route")

    for keys, expected in PATHS.items():
        compiled = routes[calls["1023", keys]]
        engine = routes[calls["1022", keys]]
        got = {h: compiled.get(h) for h in expected}
        assert got == expected, f"{keys!r} on 1023: {got}"
        assert {h: compiled.get(h) for h in COMPARED} == {h: engine.get(h) for h in COMPARED}, (
            f"{keys!r}: 1023 and 1022 differ"
        )
        if "Hotline-Route" not in expected:
            assert compiled.get("Hotline-Route") == "ivr", keys
    food = routes[calls["1023", "27"]]
    assert (food.get("Hotline-Queue"), food.get("Hotline-District")) == ("food-724", "724")
    violation = routes[calls["1023", "3"]]
    assert (violation.get("Hotline-Queue"), violation.get("Hotline-Category")) == (
        "violation",
        "violation",
    )
