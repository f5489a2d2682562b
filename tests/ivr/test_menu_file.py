"""The menu file loader: the canonical menu loads, and each broken file in ``menus/`` gives
exactly its faults, at their lines."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from cli import ivr as ivr_cli
from ivr.menu import AnnouncementNode, DistrictNode, HangupNode, MenuNode, QueueNode
from ivr.menu_file import DEFAULT_MENU, MenuError, check_menu, load_menu
from ivr.menu_yaml import Fault

MENUS = Path(__file__).parent / "menus"
QUEUES = ("medical", "food", "violation", "operator")
CATEGORIES = ("medical", "food", "violation", "general")

BROKEN: dict[str, list[tuple[int, str]]] = {
    "unknown_target.yaml": [
        (14, "unknown target 'violation' (from node 'welcome', key 3)"),
        (
            15,
            "unknown target 'operater' (from node 'welcome', on_exhausted; "
            "did you mean 'operator'?)",
        ),
    ],
    "unreachable.yaml": [
        (16, "node 'info' is unreachable from start 'welcome'"),
        (18, "node 'goodbye' is unreachable from start 'welcome'"),
    ],
    "key_twice.yaml": [
        (8, "prompt 'welcome' defined twice (first at line 5)"),
        (16, "key '1' used twice in menu node 'welcome' (first at line 14)"),
        (19, "node 'operator' defined twice (first at line 17)"),
    ],
    "prompt_field_missing.yaml": [
        (9, "menu node 'welcome' has no 'prompt'"),
        (12, "announcement node 'info' has no 'prompt'"),
    ],
    "prompt_undefined.yaml": [
        (7, "prompt 'chosen' has empty text"),
        (10, "unknown prompt 'no_input' (from node 'welcome', timeout_prompt by default)"),
        (14, "unknown prompt 'info_cases' (from node 'info', prompt)"),
    ],
    "loop.yaml": [
        (15, "loop without exit: nodes 'info', 'more' lead to no queue or hangup node"),
        (25, "loop without exit: node 'repeat' leads to no queue or hangup node"),
    ],
    "typo.yaml": [
        (4, "unknown field 'retires' in the file (did you mean 'retries'?)"),
        (11, "menu node 'welcome' has no 'prompt'"),
        (12, "unknown field 'promt' in menu node 'welcome' (did you mean 'prompt'?)"),
        (
            15,
            "unknown field 'colour' in queue node 'operator' "
            "(one of: category, queue, priority, prompt)",
        ),
    ],
    "reserved_key.yaml": [
        (13, "key '*' in menu node 'welcome' is reserved for 'back'"),
        (14, "key '#' in menu node 'welcome' is reserved for end of input"),
        (15, "invalid key '10' in menu node 'welcome' (one digit, 0-9)"),
        (16, "invalid key 'a' in menu node 'welcome' (one digit, 0-9)"),
    ],
    "bad_types.yaml": [
        (4, "'timeout_s' must be a number of seconds above 0, not 'five'"),
        (14, "'timeout_s' of menu node 'welcome' must be a number of seconds above 0, not '5'"),
        (15, "'retries' of menu node 'welcome' must be at least 0, not -1"),
        (17, "'priority' of queue node 'operator' must be a whole number, not 'high'"),
    ],
    "syntax.yaml": [
        (
            9,
            "YAML syntax error, while parsing a flow mapping (line 8): "
            "expected ',' or '}', but got '<scalar>'",
        ),
    ],
    "wrong_version.yaml": [(1, "unsupported version 2 (must be 1)")],
    "district_without_section.yaml": [
        (14, "district node 'where' needs a 'districts' section in the file"),
    ],
    "unknown_queue.yaml": [
        (14, "unknown category 'medicine' in queue node 'operator' (did you mean 'medical'?)"),
        (14, "unknown queue 'operators' in queue node 'operator' (did you mean 'operator'?)"),
    ],
    "structure.yaml": [
        (9, "menu node 'welcome' has no 'on_exhausted' and the file has no 'default'"),
        (11, "'keys' of menu node 'welcome' must be a mapping, not a list"),
        (14, "node 'operator' has 2 kinds (queue, hangup); a node has one"),
        (15, "node 'empty' has no kind (one of: menu, district, announcement, queue, hangup)"),
        (16, "unsupported YAML tag '!!python/object/apply:os.system'"),
        (16, "node 'odd' must be a mapping, not a list"),
    ],
    "districts.yaml": [
        (
            11,
            "unknown prompt 'confirm_after' (from districts, confirm_after; "
            "did you mean 'confirm_before'?)",
        ),
        (12, "'remember_days' of 'districts' must be at least 1, not 0"),
        (15, "invalid district key '0' (one digit, 1-9)"),
        (16, "district code 718 used twice (first at line 14)"),
        (17, "prompt 'district_720' is also generated for district 4"),
        (18, "district 5 has no 'name'"),
    ],
    "keys_not_a_mapping.yaml": [
        (12, "'keys' of menu node 'welcome' must be a mapping, not a list")
    ],
    "not_a_mapping.yaml": [(1, "the file must be a mapping, not a list")],
    "only_version.yaml": [
        (0, "the file has no 'start'"),
        (0, "the file has no 'prompts'"),
        (0, "the file has no 'nodes'"),
    ],
    "empty.yaml": [(0, "the file is empty")],
}

# A small valid menu, for the details the canonical one does not show.
SMALL = """\
version: 1
start: welcome
timeout_s: 2.5
retries: 0
default: bye
prompts:
  welcome: Xin chào.
  invalid: Sai.
  no_input: Chưa bấm.
nodes:
  welcome:
    menu:
      prompt: welcome
      keys: {1: operator, "9": welcome}
      retries: 3
  operator:
    queue: {category: general, queue: operator, priority: 0}
  bye:
    hangup:
"""


def check(path: Path) -> list[tuple[int, str]]:
    faults = check_menu(path, queues=QUEUES, categories=CATEGORIES)
    return [(f.line, f.message) for f in faults]


def test_every_broken_file_is_tested() -> None:
    assert sorted(p.name for p in MENUS.glob("*.yaml")) == sorted(BROKEN)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_file_faults(name: str) -> None:
    assert check(MENUS / name) == BROKEN[name]


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_load_raises_with_every_fault(name: str) -> None:
    path = MENUS / name
    with pytest.raises(MenuError) as caught:
        load_menu(path, queues=QUEUES, categories=CATEGORIES)
    assert caught.value.path == path
    assert [(f.line, f.message) for f in caught.value.faults] == BROKEN[name]
    assert str(caught.value).splitlines() == [f"{path}:{n}: {m}" for n, m in BROKEN[name]]


def test_default_menu_is_valid() -> None:
    assert check(DEFAULT_MENU) == []


def test_default_menu_shape() -> None:
    menu = load_menu(DEFAULT_MENU, queues=QUEUES, categories=CATEGORIES)
    assert menu.source == DEFAULT_MENU
    assert menu.start == "welcome"
    assert len(menu.nodes) == 16
    welcome = menu.nodes["welcome"]
    assert isinstance(welcome, MenuNode)
    assert welcome.keys == {
        "1": "medical_severity",
        "2": "aid_district",
        "3": "violation",
        "4": "info",
        "0": "operator",
    }
    assert (welcome.timeout_ms, welcome.retries) == (5000, 2)
    assert (welcome.invalid_prompt, welcome.timeout_prompt) == ("invalid", "no_input")
    assert welcome.on_exhausted == "operator"  # the file's default
    severity = menu.nodes["medical_severity"]
    assert isinstance(severity, MenuNode) and severity.on_exhausted == "medical_district"
    assert menu.nodes["critical_district"] == DistrictNode(
        "critical_district", menu.nodes["critical_district"].line, "medical_critical"
    )
    critical = menu.nodes["medical_critical"]
    assert isinstance(critical, QueueNode)
    assert (critical.category, critical.queue, critical.priority) == ("medical", "medical", 20)
    assert critical.prompt == "chosen_medical_critical"
    cases = menu.nodes["info_cases"]
    assert isinstance(cases, AnnouncementNode) and cases.next == "info_after"
    assert isinstance(menu.nodes["goodbye"], HangupNode)

    districts = menu.districts
    assert districts is not None
    assert len(districts.units) == 9
    assert sorted(districts.units) == [str(k) for k in range(1, 10)]
    assert districts.remember_days == 30
    assert districts.confirm_before == "district_confirm_before"
    unit = districts.by_code(724)
    assert unit is not None and (unit.key, unit.name) == ("7", "Dĩ An")
    assert districts.by_code(999) is None
    for unit in districts.units.values():
        assert menu.prompts[unit.prompt] == unit.name
    assert menu.prompts["district_718"] == "Thủ Dầu Một"
    assert {"welcome", "district_726", "back_unavailable"} <= menu.prompt_names()
    assert len(menu.prompt_names()) == 19 + 9


def test_node_lines_are_the_lines_of_their_ids() -> None:
    menu = load_menu(DEFAULT_MENU)
    lines = DEFAULT_MENU.read_text(encoding="utf-8").splitlines()
    for node in menu.nodes.values():
        assert lines[node.line - 1].strip() == f"{node.id}:"


def test_small_menu_details(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    menu = load_menu(path)
    welcome = menu.nodes["welcome"]
    assert isinstance(welcome, MenuNode)
    assert welcome.keys == {"1": "operator", "9": "welcome"}  # unquoted keys become str
    assert (welcome.timeout_ms, welcome.retries, welcome.on_exhausted) == (2500, 3, "bye")
    assert menu.nodes["bye"] == HangupNode("bye", 18, None)
    assert menu.districts is None
    assert menu.prompt_names() == {"welcome", "invalid", "no_input"}


def test_queues_and_categories_are_only_checked_when_given() -> None:
    assert check_menu(MENUS / "unknown_queue.yaml") == []


def test_missing_file(tmp_path: Path) -> None:
    assert check_menu(tmp_path / "nope.yaml") == [Fault(0, "no such file")]


def test_control_character(tmp_path: Path) -> None:
    path = tmp_path / "bell.yaml"
    path.write_bytes(b"version: 1\nstart: \x07\n")
    assert check_menu(path) == [
        Fault(2, "YAML syntax error: character #x0007: special characters are not allowed")
    ]


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"version: 1\nprompts:\n  welcome: Xin ch\xe0o\n")
    assert check_menu(path) == [Fault(3, "not UTF-8 text: byte 0xe0")]


# -- the command


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="hotline1022")
    ivr_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("ivr", "check", str(DEFAULT_MENU)) == 0
    assert capsys.readouterr().out == f"{DEFAULT_MENU}: ok (16 nodes, 28 prompts)\n"


def test_check_several_files(capsys: pytest.CaptureFixture[str]) -> None:
    loop, version = MENUS / "loop.yaml", MENUS / "wrong_version.yaml"
    assert run_cli("ivr", "check", str(loop), str(DEFAULT_MENU), str(version)) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{loop}:15: loop without exit: nodes 'info', 'more' lead to no queue or hangup node",
        f"{loop}:25: loop without exit: node 'repeat' leads to no queue or hangup node",
        f"{loop}: 2 fault(s)",
        f"{DEFAULT_MENU}: ok (16 nodes, 28 prompts)",
        f"{version}:1: unsupported version 2 (must be 1)",
        f"{version}: 1 fault(s)",
    ]


def test_check_checks_the_hotline_queues(capsys: pytest.CaptureFixture[str]) -> None:
    path = MENUS / "unknown_queue.yaml"
    assert run_cli("ivr", "check", str(path)) == 1
    assert capsys.readouterr().out.splitlines()[-1] == f"{path}: 2 fault(s)"


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli("ivr", "check")
    assert caught.value.code == 2
    assert run_cli("ivr") == 2
    assert "check" in capsys.readouterr().err
