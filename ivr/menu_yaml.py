"""A menu file's YAML, read so that every fault can name its line: the composed node tree,
the tags a menu file may use, and the words fault messages share (how a value is shown, the
"did you mean" hints).

The file is read with ``yaml.compose`` (the safe loader; no tag is ever constructed) rather
than ``yaml.safe_load``: composed nodes keep their line numbers and their duplicate keys,
which plain loading drops (the last duplicate silently wins). Which fields a menu has, and
what they may hold, is ``ivr/menu_file.py``'s: this module knows YAML, not the menu.

    root, faults = compose(path)  # None and why, or the tree and the faults of its tags
    message = f"unknown field {name!r}{choice_hint(name, allowed)}"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.nodes import Node as YamlNode

__all__ = [
    "FLOAT_TAG",
    "INT_TAG",
    "NULL_TAG",
    "Fault",
    "choice_hint",
    "close_hint",
    "compose",
    "float_value",
    "int_value",
    "line_of",
    "shown",
]


@dataclass(frozen=True)
class Fault:
    """One mistake in a menu file; ``line`` is 1-based, 0 when it concerns the whole file."""

    line: int
    message: str


_YAML = "tag:yaml.org,2002:"
NULL_TAG, INT_TAG, FLOAT_TAG = (_YAML + t for t in ("null", "int", "float"))
# Tags the safe loader resolves plain scalars and collections to; anything else was written
# on purpose (``!!python/object``, ``!custom``) and has no meaning in a menu file.
_PLAIN_TAGS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_PLAIN_TAGS |= {_YAML + "map", _YAML + "seq"}

_UNQUOTED = frozenset(_YAML + t for t in ("int", "float", "bool"))

# Only its scalar converters are used, and they keep no state: one serves every reading.
_NUMBERS = SafeConstructor()


def compose(path: Path) -> tuple[YamlNode | None, list[Fault]]:
    """The YAML node tree of ``path``, or the faults that prevent reading one.

    A tree comes with the faults of its tags, which do not prevent reading the rest.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [Fault(0, "no such file")]
    except IsADirectoryError:
        return None, [Fault(0, "is a directory, not a menu file")]
    except OSError as exc:
        return None, [Fault(0, f"cannot read the file: {exc.strerror or exc}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, [Fault(line, f"not UTF-8 text: byte 0x{data[exc.start]:02x}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = "YAML syntax error"
        if exc.context:  # what the parser was inside, and from where: "while parsing a ..."
            where = f" (line {exc.context_mark.line + 1})" if exc.context_mark else ""
            message += f", {exc.context}{where}"
        message += f": {exc.problem}" if exc.problem else ""
        return None, [Fault(mark.line + 1 if mark else 0, message)]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return None, [Fault(line, f"YAML syntax error: character #x{char:04x}: {exc.reason}")]
    except yaml.YAMLError as exc:
        return None, [Fault(0, f"YAML syntax error: {exc}")]
    if root is None:
        return None, [Fault(0, "the file is empty")]
    return root, [Fault(line_of(n), m) for n, m in _tag_faults(root)]


def _tag_faults(root: YamlNode) -> Iterable[tuple[YamlNode, str]]:
    seen: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if id(node) in seen:  # an alias: the same node again, possibly recursive
            continue
        seen.add(id(node))
        if node.tag == _YAML + "merge":
            yield node, "merge keys ('<<') are not supported: write the fields out"
        elif node.tag not in _PLAIN_TAGS:
            yield node, f"unsupported YAML tag {node.tag.replace(_YAML, '!!')!r}"
        if isinstance(node, MappingNode):
            todo.extend(n for pair in node.value for n in pair)
        elif isinstance(node, SequenceNode):
            todo.extend(node.value)


def line_of(node: YamlNode) -> int:
    """The 1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def int_value(node: ScalarNode) -> int:
    """The whole number a scalar tagged ``INT_TAG`` stands for (``0x1f``, ``1_000`` too)."""
    return _NUMBERS.construct_yaml_int(node)


def float_value(node: ScalarNode) -> float:
    """The number a scalar tagged ``FLOAT_TAG`` stands for (``.inf`` and ``.nan`` too)."""
    return _NUMBERS.construct_yaml_float(node)


def shown(node: YamlNode) -> str:
    """A value as a message names it."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == NULL_TAG:
        return "nothing"
    # Numbers and booleans as written; text quoted, so that "5" and 5 are told apart.
    return str(node.value) if node.tag in _UNQUOTED else repr(node.value)


def _closest(name: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return close[0] if close else None


def choice_hint(name: str, choices: Iterable[str], noun: str = "one of") -> str:
    """A ' (did you mean ...?)' suffix naming the closest choice, else listing them."""
    choices = list(choices)
    close = _closest(name, choices)
    if close is not None:
        return f" (did you mean {close!r}?)"
    return f" ({noun}: {', '.join(choices)})" if choices else ""


def close_hint(name: str, choices: Iterable[str]) -> str:
    """A '; did you mean ...?' to end a '(from ...)' when a choice is close to ``name``."""
    close = _closest(name, choices)
    return f"; did you mean {close!r}?" if close is not None else ""
